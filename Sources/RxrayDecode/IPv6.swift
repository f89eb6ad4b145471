/// The fixed 40-byte IPv6 header over frame bytes.
public struct IPv6Header {
    public static let length = 40
    /// The header and every captured byte after it.
    public let bytes: UnsafeRawBufferPointer

    @inlinable public init?(_ frame: UnsafeRawBufferPointer, at offset: Int) {
        guard offset >= 0, frame.count - offset >= Self.length else { return nil }
        bytes = UnsafeRawBufferPointer(rebasing: frame[offset...])
    }

    public var version: UInt8 { bytes.be8(0) >> 4 }
    public var trafficClass: UInt8 { UInt8(truncatingIfNeeded: bytes.be32(0) >> 20) }
    public var flowLabel: UInt32 { bytes.be32(0) & 0x000F_FFFF }
    public var payloadLength: UInt16 { bytes.be16(4) }
    public var nextHeader: UInt8 { bytes.be8(6) }
    public var hopLimit: UInt8 { bytes.be8(7) }
    public var source: IPv6Address { bytes.ipv6(8) }
    public var destination: IPv6Address { bytes.ipv6(24) }
}

/// IP protocol numbers (IPv4 protocol / IPv6 next header).
public enum IPProtocol {
    public static let hopByHop: UInt8 = 0
    public static let icmp: UInt8 = 1
    public static let igmp: UInt8 = 2
    public static let ipip: UInt8 = 4
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let ipv6: UInt8 = 41
    public static let routing: UInt8 = 43
    public static let fragment: UInt8 = 44
    public static let gre: UInt8 = 47
    public static let esp: UInt8 = 50
    public static let ah: UInt8 = 51
    public static let icmpv6: UInt8 = 58
    public static let noNextHeader: UInt8 = 59
    public static let destinationOptions: UInt8 = 60
    public static let sctp: UInt8 = 132
    public static let mobility: UInt8 = 135

    /// Whether the IPv6 extension-header walk continues through `p`.
    @inlinable public static func isIPv6Extension(_ p: UInt8) -> Bool {
        p == hopByHop || p == routing || p == fragment || p == destinationOptions || p == ah
    }

    /// tcpdump's lower-case name, when it has one.
    public static func name(_ p: UInt8) -> String? {
        switch p {
        case hopByHop: return "hbh"
        case icmp: return "icmp"
        case igmp: return "igmp"
        case ipip: return "ipip"
        case tcp: return "tcp"
        case udp: return "udp"
        case ipv6: return "ip6"
        case routing: return "routing"
        case fragment: return "frag"
        case gre: return "gre"
        case esp: return "esp"
        case ah: return "ah"
        case icmpv6: return "icmp6"
        case noNextHeader: return "none"
        case destinationOptions: return "dstopts"
        case sctp: return "sctp"
        default: return nil
        }
    }
}

/// One header of an IPv6 extension chain: its type (the protocol number that announced it),
/// the next header it announces, and where it sits in the frame.
public struct IPv6ExtensionRecord: Hashable, Sendable {
    /// 0 hop-by-hop, 43 routing, 44 fragment, 60 destination options, 51 AH, 50 ESP.
    public var type: UInt8
    /// The next header this one announces (0 for ESP, whose next header is encrypted).
    public var nextHeader: UInt8
    /// Header length in bytes (ESP: 0, its extent is opaque).
    public var length: UInt16
    /// Frame offset of the header.
    public var offset: UInt32
    public init(type: UInt8, nextHeader: UInt8, length: UInt16, offset: UInt32) {
        self.type = type; self.nextHeader = nextHeader; self.length = length; self.offset = offset
    }
}

/// The IPv6 extension headers of a packet, in order, stored inline (up to 12).
public struct IPv6ExtensionChain: RandomAccessCollection, Sendable {
    public static let capacity = 12
    typealias Four = (IPv6ExtensionRecord, IPv6ExtensionRecord, IPv6ExtensionRecord, IPv6ExtensionRecord)
    var storage: (Four, Four, Four)
    public private(set) var count: Int = 0

    public init() {
        let z = IPv6ExtensionRecord(type: 0, nextHeader: 0, length: 0, offset: 0)
        let f: Four = (z, z, z, z)
        storage = (f, f, f)
    }
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(index: Int) -> IPv6ExtensionRecord {
        precondition(index >= 0 && index < count, "IPv6ExtensionChain index out of range")
        return slotLoad(storage, index, as: IPv6ExtensionRecord.self)
    }
    mutating func append(_ r: IPv6ExtensionRecord) -> Bool {
        guard count < Self.capacity else { return false }
        slotStore(&storage, count, r)
        count += 1
        return true
    }
    /// The first header of `type`, if present.
    public func first(type: UInt8) -> IPv6ExtensionRecord? { first { $0.type == type } }
}

/// A routing header view (type 43): routing type and segments left.
public struct IPv6RoutingHeader {
    public let bytes: UnsafeRawBufferPointer
    public init?(_ frame: UnsafeRawBufferPointer, record: IPv6ExtensionRecord) {
        let o = Int(record.offset)
        guard record.type == IPProtocol.routing, record.length >= 8, frame.count - o >= Int(record.length) else { return nil }
        bytes = frame.slice(o, o + Int(record.length))
    }
    public var routingType: UInt8 { bytes.be8(2) }
    public var segmentsLeft: UInt8 { bytes.be8(3) }
    /// The final destination for checksum pseudo-headers while segments are left: the last
    /// address of a type 0/2 header, segment 0 of a segment routing header (type 4).
    public var finalDestination: IPv6Address? {
        guard segmentsLeft > 0 else { return nil }
        switch routingType {
        case 0, 2:
            let n = (bytes.count - 8) / 16
            guard n >= 1 else { return nil }
            return bytes.ipv6(8 + (n - 1) * 16)
        case 4:
            guard bytes.count >= 24 else { return nil }
            return bytes.ipv6(8)
        default:
            return nil
        }
    }
}

/// A fragment header view (type 44, 8 bytes).
public struct IPv6FragmentHeader {
    public let bytes: UnsafeRawBufferPointer
    public init?(_ frame: UnsafeRawBufferPointer, record: IPv6ExtensionRecord) {
        let o = Int(record.offset)
        guard record.type == IPProtocol.fragment, frame.count - o >= 8 else { return nil }
        bytes = frame.slice(o, o + 8)
    }
    /// Fragment offset in 8-byte units.
    public var fragmentOffset: UInt16 { bytes.be16(2) >> 3 }
    public var moreFragments: Bool { bytes.be16(2) & 1 != 0 }
    public var identification: UInt32 { bytes.be32(4) }
}

/// An IPv6 hop-by-hop or destination option, as the iterator returns it.
public enum IPv6Option: Hashable, Sendable {
    case pad1
    case padN(length: Int)
    /// Router alert (type 5) with its 16-bit value (0 MLD, 1 RSVP, 2 active networks).
    case routerAlert(UInt16)
    /// Jumbo payload (type 0xc2) with the 32-bit payload length.
    case jumboPayload(UInt32)
    /// Any other option: type and data length.
    case unknown(type: UInt8, dataLength: Int)
}

/// Iterates the options of a hop-by-hop or destination-options header without allocating.
/// Stops at the first malformed option (see `isMalformed`).
public struct IPv6OptionIterator: IteratorProtocol, Sequence {
    let area: UnsafeRawBufferPointer
    var index = 0
    public private(set) var isMalformed = false

    /// `header` is the whole extension header (next header, length, options).
    public init(header: UnsafeRawBufferPointer) {
        area = header.count >= 2 ? header.tail(2) : header.tail(header.count)
    }

    public mutating func next() -> IPv6Option? {
        guard index < area.count, !isMalformed else { return nil }
        let type = area.be8(index)
        if type == 0 { index += 1; return .pad1 }
        guard index + 1 < area.count else { isMalformed = true; return nil }
        let len = Int(area.be8(index + 1))
        guard index + 2 + len <= area.count else { isMalformed = true; return nil }
        let data = index + 2
        index += 2 + len
        switch type {
        case 1: return .padN(length: len + 2)
        case 5:
            guard len == 2 else { return .unknown(type: type, dataLength: len) }
            return .routerAlert(area.be16(data))
        case 0xC2:
            guard len == 4 else { return .unknown(type: type, dataLength: len) }
            return .jumboPayload(area.be32(data))
        default:
            return .unknown(type: type, dataLength: len)
        }
    }
}
