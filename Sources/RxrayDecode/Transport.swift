/// A TCP header over frame bytes. The init checks that 20 bytes are captured; the data offset
/// is checked by the decoder.
public struct TCPHeader {
    public static let minimumLength = 20
    public let bytes: UnsafeRawBufferPointer

    @inlinable public init?(_ frame: UnsafeRawBufferPointer, at offset: Int) {
        guard offset >= 0, frame.count - offset >= Self.minimumLength else { return nil }
        bytes = UnsafeRawBufferPointer(rebasing: frame[offset...])
    }

    public var sourcePort: UInt16 { bytes.be16(0) }
    public var destinationPort: UInt16 { bytes.be16(2) }
    public var sequenceNumber: UInt32 { bytes.be32(4) }
    public var acknowledgmentNumber: UInt32 { bytes.be32(8) }
    /// Header length in bytes (data offset × 4).
    public var headerLength: Int { Int(bytes.be8(12) >> 4) * 4 }
    /// The nine flag bits: AE (was NS) 0x100, CWR 0x80, ECE 0x40, URG 0x20, ACK 0x10,
    /// PSH 0x08, RST 0x04, SYN 0x02, FIN 0x01.
    public var flags: TCPFlags { TCPFlags(rawValue: bytes.be16(12) & 0x01FF) }
    public var window: UInt16 { bytes.be16(14) }
    public var checksum: UInt16 { bytes.be16(16) }
    public var urgentPointer: UInt16 { bytes.be16(18) }
}

/// TCP flag bits.
public struct TCPFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let fin = TCPFlags(rawValue: 0x001)
    public static let syn = TCPFlags(rawValue: 0x002)
    public static let rst = TCPFlags(rawValue: 0x004)
    public static let psh = TCPFlags(rawValue: 0x008)
    public static let ack = TCPFlags(rawValue: 0x010)
    public static let urg = TCPFlags(rawValue: 0x020)
    public static let ece = TCPFlags(rawValue: 0x040)
    public static let cwr = TCPFlags(rawValue: 0x080)
    /// Accurate ECN (formerly the ECN nonce sum, NS).
    public static let ae = TCPFlags(rawValue: 0x100)

    /// tcpdump's flag letters in its order: F S R P . U E W e; `none` when empty.
    public var tcpdumpString: String {
        if rawValue == 0 { return "none" }
        var s = ""
        if contains(.fin) { s += "F" }
        if contains(.syn) { s += "S" }
        if contains(.rst) { s += "R" }
        if contains(.psh) { s += "P" }
        if contains(.ack) { s += "." }
        if contains(.urg) { s += "U" }
        if contains(.ece) { s += "E" }
        if contains(.cwr) { s += "W" }
        if contains(.ae) { s += "e" }
        return s
    }
}

/// TCP option kinds.
public enum TCPOptionKind {
    public static let endOfList: UInt8 = 0
    public static let noOperation: UInt8 = 1
    public static let maximumSegmentSize: UInt8 = 2
    public static let windowScale: UInt8 = 3
    public static let sackPermitted: UInt8 = 4
    public static let sack: UInt8 = 5
    public static let timestamp: UInt8 = 8
    public static let md5Signature: UInt8 = 19
    public static let userTimeout: UInt8 = 28
    public static let authentication: UInt8 = 29
    public static let multipath: UInt8 = 30
    public static let fastOpen: UInt8 = 34
}

/// A TCP option as read from its record.
public enum TCPOption: Hashable, Sendable {
    case endOfList
    case noOperation
    case maximumSegmentSize(UInt16)
    case windowScale(UInt8)
    case sackPermitted
    /// SACK blocks (left, right edge), up to 4, inline.
    case sack(SACKBlocks)
    case timestamp(value: UInt32, echoReply: UInt32)
    /// Any other kind, or a known kind with a length its definition does not allow.
    case unknown(kind: UInt8, length: UInt8)

    /// Reads the option `record` of `list` from `frame`.
    public init(_ record: OptionRecord, in list: OptionList, frame: UnsafeRawBufferPointer) {
        let d = list.data(of: record, in: frame)
        switch (record.kind, record.length) {
        case (TCPOptionKind.endOfList, _): self = .endOfList
        case (TCPOptionKind.noOperation, _): self = .noOperation
        case (TCPOptionKind.maximumSegmentSize, 4): self = .maximumSegmentSize(d.be16(0))
        case (TCPOptionKind.windowScale, 3): self = .windowScale(d.be8(0))
        case (TCPOptionKind.sackPermitted, 2): self = .sackPermitted
        case (TCPOptionKind.timestamp, 10): self = .timestamp(value: d.be32(0), echoReply: d.be32(4))
        case (TCPOptionKind.sack, let l) where l >= 10 && (l - 2) % 8 == 0:
            var blocks = SACKBlocks()
            var i = 0
            while i + 8 <= d.count { blocks.append(left: d.be32(i), right: d.be32(i + 4)); i += 8 }
            self = .sack(blocks)
        default: self = .unknown(kind: record.kind, length: record.length)
        }
    }
}

/// Up to four SACK blocks, inline.
public struct SACKBlocks: Hashable, Sendable {
    public static let capacity = 4
    var edges: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0, 0, 0, 0)
    public private(set) var count = 0
    public init() {}
    public static func == (a: SACKBlocks, b: SACKBlocks) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a[i] != b[i] { return false }
        return true
    }
    public func hash(into h: inout Hasher) {
        h.combine(count)
        for i in 0..<count { h.combine(self[i].left); h.combine(self[i].right) }
    }
    public subscript(index: Int) -> (left: UInt32, right: UInt32) {
        precondition(index >= 0 && index < count, "SACKBlocks index out of range")
        return (slotLoad(edges, index * 2, as: UInt32.self), slotLoad(edges, index * 2 + 1, as: UInt32.self))
    }
    mutating func append(left: UInt32, right: UInt32) {
        guard count < Self.capacity else { return }
        slotStore(&edges, count * 2, left)
        slotStore(&edges, count * 2 + 1, right)
        count += 1
    }
}

/// Parses a TCP option area into `list`. Returns `.badOptionLength` for a length byte below 2,
/// a missing length byte, or an option running past the area; parsing stops there.
func parseTCPOptions(_ area: UnsafeRawBufferPointer, into list: inout OptionList) -> DecodeProblem? {
    walkOptions(area, into: &list)
}

/// A UDP header (8 bytes) over frame bytes.
public struct UDPHeader {
    public static let length = 8
    public let bytes: UnsafeRawBufferPointer
    @inlinable public init?(_ frame: UnsafeRawBufferPointer, at offset: Int) {
        guard offset >= 0, frame.count - offset >= Self.length else { return nil }
        bytes = UnsafeRawBufferPointer(rebasing: frame[offset...])
    }
    public var sourcePort: UInt16 { bytes.be16(0) }
    public var destinationPort: UInt16 { bytes.be16(2) }
    /// The length field: header plus data.
    public var length: UInt16 { bytes.be16(4) }
    public var checksum: UInt16 { bytes.be16(6) }
}

/// An ICMP (v4) header over frame bytes: type, code, checksum and the 4-byte rest of header.
public struct ICMPHeader {
    public static let length = 8
    public let bytes: UnsafeRawBufferPointer
    @inlinable public init?(_ frame: UnsafeRawBufferPointer, at offset: Int) {
        guard offset >= 0, frame.count - offset >= Self.length else { return nil }
        bytes = UnsafeRawBufferPointer(rebasing: frame[offset...])
    }
    public var type: UInt8 { bytes.be8(0) }
    public var code: UInt8 { bytes.be8(1) }
    public var checksum: UInt16 { bytes.be16(2) }
    /// Echo / timestamp / information identifier.
    public var identifier: UInt16 { bytes.be16(4) }
    public var sequenceNumber: UInt16 { bytes.be16(6) }
    /// Next-hop MTU of a fragmentation-needed message (type 3 code 4).
    public var nextHopMTU: UInt16 { bytes.be16(6) }
    /// Gateway of a redirect (type 5).
    public var gateway: IPv4Address { bytes.ipv4(4) }
    /// Pointer of a parameter problem (type 12).
    public var pointer: UInt8 { bytes.be8(4) }
    /// Whether the type carries an embedded IP header (unreachable, source quench, redirect,
    /// time exceeded, parameter problem).
    public var isError: Bool { ICMPType.isError(type) }
}

public enum ICMPType {
    public static let echoReply: UInt8 = 0
    public static let destinationUnreachable: UInt8 = 3
    public static let sourceQuench: UInt8 = 4
    public static let redirect: UInt8 = 5
    public static let echoRequest: UInt8 = 8
    public static let timeExceeded: UInt8 = 11
    public static let parameterProblem: UInt8 = 12
    public static let timestampRequest: UInt8 = 13
    public static let timestampReply: UInt8 = 14
    @inlinable public static func isError(_ t: UInt8) -> Bool { t == 3 || t == 4 || t == 5 || t == 11 || t == 12 }
}

/// An ICMPv6 header over frame bytes (type, code, checksum, 4 more bytes).
public struct ICMPv6Header {
    public static let length = 8
    public let bytes: UnsafeRawBufferPointer
    @inlinable public init?(_ frame: UnsafeRawBufferPointer, at offset: Int) {
        guard offset >= 0, frame.count - offset >= Self.length else { return nil }
        bytes = UnsafeRawBufferPointer(rebasing: frame[offset...])
    }
    public var type: UInt8 { bytes.be8(0) }
    public var code: UInt8 { bytes.be8(1) }
    public var checksum: UInt16 { bytes.be16(2) }
    public var identifier: UInt16 { bytes.be16(4) }
    public var sequenceNumber: UInt16 { bytes.be16(6) }
    /// MTU of a packet-too-big message, pointer of a parameter problem.
    public var mtuOrPointer: UInt32 { bytes.be32(4) }
    public var isError: Bool { type < 128 }
    /// Router advertisement: current hop limit, M/O flags, router lifetime (need 16 bytes).
    public var raHopLimit: UInt8? { type == ICMPv6Type.routerAdvertisement && bytes.count >= 16 ? bytes.be8(4) : nil }
    public var raFlags: UInt8? { type == ICMPv6Type.routerAdvertisement && bytes.count >= 16 ? bytes.be8(5) : nil }
    public var raRouterLifetime: UInt16? { type == ICMPv6Type.routerAdvertisement && bytes.count >= 16 ? bytes.be16(6) : nil }
    /// NA flags: router 0x80, solicited 0x40, override 0x20.
    public var naFlags: UInt8? { type == ICMPv6Type.neighborAdvertisement ? bytes.be8(4) : nil }
    /// Target address of NS, NA and redirect messages (need 24 bytes).
    public var targetAddress: IPv6Address? {
        switch type {
        case ICMPv6Type.neighborSolicitation, ICMPv6Type.neighborAdvertisement, ICMPv6Type.redirect:
            return bytes.count >= 24 ? bytes.ipv6(8) : nil
        default: return nil
        }
    }
    /// Destination address of a redirect (need 40 bytes).
    public var redirectDestination: IPv6Address? {
        type == ICMPv6Type.redirect && bytes.count >= 40 ? bytes.ipv6(24) : nil
    }
}

public enum ICMPv6Type {
    public static let destinationUnreachable: UInt8 = 1
    public static let packetTooBig: UInt8 = 2
    public static let timeExceeded: UInt8 = 3
    public static let parameterProblem: UInt8 = 4
    public static let echoRequest: UInt8 = 128
    public static let echoReply: UInt8 = 129
    public static let mldQuery: UInt8 = 130
    public static let mldReport: UInt8 = 131
    public static let mldDone: UInt8 = 132
    public static let routerSolicitation: UInt8 = 133
    public static let routerAdvertisement: UInt8 = 134
    public static let neighborSolicitation: UInt8 = 135
    public static let neighborAdvertisement: UInt8 = 136
    public static let redirect: UInt8 = 137
    public static let mldv2Report: UInt8 = 143

    /// Length of the fixed part before options, for neighbour-discovery types; nil otherwise.
    @inlinable public static func ndFixedLength(_ t: UInt8) -> Int? {
        switch t {
        case routerSolicitation: return 8
        case routerAdvertisement: return 16
        case neighborSolicitation, neighborAdvertisement: return 24
        case redirect: return 40
        default: return nil
        }
    }
}

/// Neighbour-discovery option types.
public enum NDOptionType {
    public static let sourceLinkLayerAddress: UInt8 = 1
    public static let targetLinkLayerAddress: UInt8 = 2
    public static let prefixInformation: UInt8 = 3
    public static let redirectedHeader: UInt8 = 4
    public static let mtu: UInt8 = 5
}

/// A neighbour-discovery option as read from its record.
public enum NDOption: Hashable, Sendable {
    case sourceLinkLayerAddress(MACAddress)
    case targetLinkLayerAddress(MACAddress)
    case prefixInformation(prefix: IPv6Address, length: UInt8, onLink: Bool, autonomous: Bool,
                           validLifetime: UInt32, preferredLifetime: UInt32)
    case mtu(UInt32)
    /// Anything else (or a known type with an unexpected length): type and length in bytes.
    case other(type: UInt8, length: Int)

    /// Reads the option `record` of `list` from `frame`.
    public init(_ record: NDOptionRecord, frame: UnsafeRawBufferPointer) {
        let o = Int(record.offset)
        let len = Int(record.units) * 8
        let d = frame.slice(o, o + len)
        switch (record.type, len) {
        case (NDOptionType.sourceLinkLayerAddress, 8): self = .sourceLinkLayerAddress(d.mac(2))
        case (NDOptionType.targetLinkLayerAddress, 8): self = .targetLinkLayerAddress(d.mac(2))
        case (NDOptionType.prefixInformation, 32):
            let f = d.be8(3)
            self = .prefixInformation(prefix: d.ipv6(16), length: d.be8(2), onLink: f & 0x80 != 0,
                                      autonomous: f & 0x40 != 0, validLifetime: d.be32(4), preferredLifetime: d.be32(8))
        case (NDOptionType.mtu, 8): self = .mtu(d.be32(4))
        default: self = .other(type: record.type, length: len)
        }
    }
}

/// Where one neighbour-discovery option sits: type, length in 8-byte units, frame offset.
public struct NDOptionRecord: Hashable, Sendable {
    public var type: UInt8
    public var units: UInt8
    @usableFromInline var reserved: UInt16 = 0
    public var offset: UInt32
    public init(type: UInt8, units: UInt8, offset: UInt32) { self.type = type; self.units = units; self.offset = offset }
}

/// Up to 16 neighbour-discovery options, inline; `total` counts all that were valid.
public struct NDOptionList: RandomAccessCollection, Sendable {
    public static let capacity = 16
    typealias Four = (NDOptionRecord, NDOptionRecord, NDOptionRecord, NDOptionRecord)
    var storage: (Four, Four, Four, Four)
    public private(set) var count: Int = 0
    /// How many options the message carried (may exceed `capacity`).
    public private(set) var total: Int = 0
    public init() {
        let z = NDOptionRecord(type: 0, units: 0, offset: 0)
        let f: Four = (z, z, z, z)
        storage = (f, f, f, f)
    }
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(index: Int) -> NDOptionRecord {
        precondition(index >= 0 && index < count, "NDOptionList index out of range")
        return slotLoad(storage, index, as: NDOptionRecord.self)
    }
    mutating func append(_ r: NDOptionRecord) {
        total += 1
        guard count < Self.capacity else { return }
        slotStore(&storage, count, r)
        count += 1
    }
}
