/// An IPv4 header over frame bytes. The init checks that the fixed 20 bytes, and the whole
/// IHL-sized header, are captured; field checks (version, IHL, lengths) are the decoder's.
public struct IPv4Header {
    public static let minimumLength = 20
    /// The header and every captured byte after it.
    public let bytes: UnsafeRawBufferPointer

    /// Nil when fewer than 20 bytes, or fewer than IHL × 4 bytes, are captured from `offset`.
    @inlinable public init?(_ frame: UnsafeRawBufferPointer, at offset: Int) {
        guard offset >= 0, frame.count - offset >= Self.minimumLength else { return nil }
        let b = UnsafeRawBufferPointer(rebasing: frame[offset...])
        let ihl = Int(b.load(fromByteOffset: 0, as: UInt8.self) & 0x0F) * 4
        guard b.count >= ihl else { return nil }
        bytes = b
    }

    public var version: UInt8 { bytes.be8(0) >> 4 }
    /// Header length in bytes (IHL × 4).
    public var headerLength: Int { Int(bytes.be8(0) & 0x0F) * 4 }
    public var dscp: UInt8 { bytes.be8(1) >> 2 }
    public var ecn: UInt8 { bytes.be8(1) & 0x03 }
    public var tos: UInt8 { bytes.be8(1) }
    public var totalLength: UInt16 { bytes.be16(2) }
    public var identification: UInt16 { bytes.be16(4) }
    /// The reserved ("evil") bit.
    public var reservedFlag: Bool { bytes.be8(6) & 0x80 != 0 }
    public var dontFragment: Bool { bytes.be8(6) & 0x40 != 0 }
    public var moreFragments: Bool { bytes.be8(6) & 0x20 != 0 }
    /// Fragment offset in 8-byte units.
    public var fragmentOffset: UInt16 { bytes.be16(6) & 0x1FFF }
    /// Whether this is any fragment (MF set or a non-zero offset).
    public var isFragment: Bool { bytes.be16(6) & 0x3FFF != 0 }
    public var ttl: UInt8 { bytes.be8(8) }
    public var protocolNumber: UInt8 { bytes.be8(9) }
    public var checksum: UInt16 { bytes.be16(10) }
    public var source: IPv4Address { bytes.ipv4(12) }
    public var destination: IPv4Address { bytes.ipv4(16) }
    /// The option bytes (empty for IHL 5; IHL below 5 gives empty too).
    public var options: UnsafeRawBufferPointer {
        let hl = headerLength
        return hl > 20 ? bytes.slice(20, hl) : bytes.slice(20, 20)
    }
    /// Whether the header checksum verifies (sum of the header words is 0xffff).
    public var checksumIsValid: Bool {
        let hl = max(headerLength, 20)
        return InternetChecksum.sum(bytes.slice(0, hl)).folded == 0xFFFF
    }
}

/// IPv4 option kinds.
public enum IPv4OptionKind {
    public static let endOfList: UInt8 = 0
    public static let noOperation: UInt8 = 1
    public static let recordRoute: UInt8 = 7
    public static let timestamp: UInt8 = 68
    public static let security: UInt8 = 130
    public static let looseSourceRoute: UInt8 = 131
    public static let cipso: UInt8 = 134
    public static let strictSourceRoute: UInt8 = 137
    public static let routerAlert: UInt8 = 148
}

/// Where one option sits inside an option area: kind, total length, offset from the area start.
public struct OptionRecord: Hashable, Sendable {
    public var kind: UInt8
    /// Total option length in bytes (1 for EOL/NOP).
    public var length: UInt8
    /// Offset of the kind byte from the start of the option area.
    public var offset: UInt8
    @usableFromInline var reserved: UInt8 = 0
    public init(kind: UInt8, length: UInt8, offset: UInt8) {
        self.kind = kind; self.length = length; self.offset = offset
    }
}

/// Up to 40 option records (an IPv4 or TCP option area is at most 40 bytes), stored inline,
/// plus the frame offset of the area they index.
public struct OptionList: RandomAccessCollection, Sendable {
    public static let capacity = 40
    typealias Eight = (OptionRecord, OptionRecord, OptionRecord, OptionRecord,
                       OptionRecord, OptionRecord, OptionRecord, OptionRecord)
    var storage: (Eight, Eight, Eight, Eight, Eight)
    public private(set) var count: Int = 0
    /// Frame offset of the option area.
    public internal(set) var areaOffset: Int = 0
    /// Length of the option area in bytes.
    public internal(set) var areaLength: Int = 0

    public init() {
        let z = OptionRecord(kind: 0, length: 0, offset: 0)
        let e: Eight = (z, z, z, z, z, z, z, z)
        storage = (e, e, e, e, e)
    }
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(index: Int) -> OptionRecord {
        precondition(index >= 0 && index < count, "OptionList index out of range")
        return slotLoad(storage, index, as: OptionRecord.self)
    }
    mutating func append(_ r: OptionRecord) {
        guard count < Self.capacity else { return }
        slotStore(&storage, count, r)
        count += 1
    }
    /// The option's bytes after kind and length (empty for EOL/NOP), within `frame`.
    public func data(of record: OptionRecord, in frame: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        let start = areaOffset + Int(record.offset)
        guard record.length >= 2 else { return frame.slice(start, start) }
        return frame.slice(start + 2, start + Int(record.length))
    }
    /// The first record of `kind`, if any.
    public func first(kind: UInt8) -> OptionRecord? { first { $0.kind == kind } }
}

/// Parses an IPv4 option area into `list`. Returns the problem, if any; parsing stops there.
func parseIPv4Options(_ area: UnsafeRawBufferPointer, into list: inout OptionList) -> DecodeProblem? {
    walkOptions(area, into: &list) { kind, i, len in
        switch kind {
        case IPv4OptionKind.recordRoute, IPv4OptionKind.looseSourceRoute, IPv4OptionKind.strictSourceRoute:
            guard len >= 3, area.be8(i + 2) >= 4 else { return .badOptionContent }
        case IPv4OptionKind.timestamp:
            guard len >= 4, area.be8(i + 2) >= 5 else { return .badOptionContent }
        case IPv4OptionKind.routerAlert:
            guard len == 4 else { return .badOptionContent }
        default:
            break
        }
        return nil
    }
}

/// Walks a kind/length option area (IPv4 options and TCP options share the grammar: kind 0
/// ends the list, kind 1 is a one-byte pad, every other kind has a length byte of at least 2
/// covering itself). Each option is recorded in `list`; `check` may reject an option's
/// content. Returns `.badOptionLength` for a missing or impossible length byte, or the first
/// problem `check` reports; parsing stops there.
@inline(__always)
func walkOptions(_ area: UnsafeRawBufferPointer, into list: inout OptionList,
                 check: (_ kind: UInt8, _ offset: Int, _ length: Int) -> DecodeProblem? = { _, _, _ in nil }) -> DecodeProblem? {
    var i = 0
    let n = area.count
    while i < n {
        let kind = area.be8(i)
        if kind == 0 {
            list.append(OptionRecord(kind: kind, length: 1, offset: UInt8(i)))
            return nil
        }
        if kind == 1 {
            list.append(OptionRecord(kind: kind, length: 1, offset: UInt8(i)))
            i += 1
            continue
        }
        guard i + 1 < n else { return .badOptionLength }
        let len = Int(area.be8(i + 1))
        guard len >= 2, i + len <= n else { return .badOptionLength }
        if let problem = check(kind, i, len) { return problem }
        list.append(OptionRecord(kind: kind, length: UInt8(len), offset: UInt8(i)))
        i += len
    }
    return nil
}
