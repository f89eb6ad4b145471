import RxrayDecode

/// The direction a frame travelled, as recorded by pcapng's `epb_flags` (or a live capture's
/// direction filter). Classic pcap does not record it.
public enum FrameDirection: UInt8, Sendable, CustomStringConvertible {
    case unknown = 0
    case inbound = 1
    case outbound = 2

    public var description: String {
        switch self {
        case .unknown: return "unknown"
        case .inbound: return "inbound"
        case .outbound: return "outbound"
        }
    }
}

/// The container format of a capture file.
public enum CaptureFormat: Sendable, Equatable, CustomStringConvertible {
    /// Classic pcap. `nanosecond` for the a1b23c4d magic, `swapped` when written on a host of
    /// the other byte order.
    case pcap(nanosecond: Bool, swapped: Bool)
    /// pcapng (any number of sections, any byte order).
    case pcapng
    /// A live interface.
    case live

    public var description: String {
        switch self {
        case .pcap(let ns, let swapped):
            return "pcap (\(ns ? "nanosecond" : "microsecond")\(swapped ? ", byte-swapped" : ""))"
        case .pcapng: return "pcapng"
        case .live: return "live"
        }
    }
}

/// An interface of a capture: one per pcapng Interface Description Block; classic pcap and
/// live captures have exactly one (id 0).
public struct CaptureInterface: Sendable, Equatable {
    /// Index of the interface in the file (pcapng: counted across sections, in file order).
    public var id: Int
    /// `if_name`, or the live interface's name.
    public var name: String?
    /// `if_description`.
    public var description: String?
    public var linkType: LinkType
    public var snaplen: UInt32

    public init(id: Int, name: String?, description: String?, linkType: LinkType, snaplen: UInt32) {
        self.id = id
        self.name = name
        self.description = description
        self.linkType = linkType
        self.snaplen = snaplen
    }
}

/// The texts a frame may carry beside its values: the name of its interface and its
/// comment. Held by one reference (`CapturedFrame.labels`) so that copying a frame retains at
/// most one object, and a classic pcap frame, which has neither, holds nil. Readers share one
/// instance among the frames of an interface that carry no comment.
public final class FrameLabels: Sendable {
    /// `if_name` of the frame's interface, or the live interface's name.
    public let interfaceName: String?
    /// The frame's `opt_comment` (pcapng only). Several comments are joined with a newline.
    public let comment: String?

    public init(interfaceName: String?, comment: String?) {
        self.interfaceName = interfaceName
        self.comment = comment
    }

    /// Labels for the two texts, or nil when both are nil.
    @inlinable public static func make(interfaceName: String?, comment: String?) -> FrameLabels? {
        interfaceName == nil && comment == nil ? nil : FrameLabels(interfaceName: interfaceName, comment: comment)
    }
}

/// One frame of a capture.
///
/// `bytes` points into the reader's buffer and is valid only until the next call to the
/// reader (or, for live capture, until the handler returns): copy it to keep it.
public struct CapturedFrame {
    /// 1-based number of the frame in the capture, as Wireshark counts (frames skipped by a
    /// filter still count).
    public var index: Int
    /// Capture time, nanoseconds since the Unix epoch.
    public var timestampNanoseconds: Int64
    /// Bytes captured (`bytes.count`).
    public var captureLength: Int
    /// Length of the frame on the wire.
    public var wireLength: Int
    public var linkType: LinkType
    public var interfaceID: Int
    /// The interface name and comment, nil when the frame has neither.
    public var labels: FrameLabels?
    public var direction: FrameDirection
    public var bytes: UnsafeRawBufferPointer

    /// The interface's name (`if_name`, or the live interface), when known.
    @inlinable public var interfaceName: String? {
        get { labels?.interfaceName }
        set { labels = FrameLabels.make(interfaceName: newValue, comment: comment) }
    }

    /// The frame's `opt_comment` (pcapng only). Several comments are joined with a newline.
    @inlinable public var comment: String? {
        get { labels?.comment }
        set { labels = FrameLabels.make(interfaceName: interfaceName, comment: newValue) }
    }

    public init(
        index: Int, timestampNanoseconds: Int64, captureLength: Int, wireLength: Int,
        linkType: LinkType, interfaceID: Int, interfaceName: String?, comment: String?,
        direction: FrameDirection, bytes: UnsafeRawBufferPointer
    ) {
        self.init(index: index, timestampNanoseconds: timestampNanoseconds, captureLength: captureLength,
                  wireLength: wireLength, linkType: linkType, interfaceID: interfaceID,
                  labels: FrameLabels.make(interfaceName: interfaceName, comment: comment),
                  direction: direction, bytes: bytes)
    }

    /// A frame whose interface name and comment are `labels` (shared, not copied).
    public init(
        index: Int, timestampNanoseconds: Int64, captureLength: Int, wireLength: Int,
        linkType: LinkType, interfaceID: Int, labels: FrameLabels?,
        direction: FrameDirection, bytes: UnsafeRawBufferPointer
    ) {
        self.index = index
        self.timestampNanoseconds = timestampNanoseconds
        self.captureLength = captureLength
        self.wireLength = wireLength
        self.linkType = linkType
        self.interfaceID = interfaceID
        self.labels = labels
        self.direction = direction
        self.bytes = bytes
    }

    /// Whether the capture holds fewer bytes than were on the wire (snap length).
    public var isTruncatedBySnaplen: Bool { captureLength < wireLength }
}
