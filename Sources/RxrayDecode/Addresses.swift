/// An IPv4 address as a host-order 32-bit value.
public struct IPv4Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The address in host byte order (`10.0.0.1` is `0x0A000001`).
    public var value: UInt32
    @inlinable public init(_ value: UInt32) { self.value = value }
    @inlinable public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses dotted-quad text (`192.0.2.1`); returns nil for anything else.
    public init?(_ text: Substring) {
        var parts: UInt32 = 0
        var acc: UInt32 = 0
        var digits = 0
        var result: UInt32 = 0
        for ch in text.utf8 {
            if ch == UInt8(ascii: ".") {
                guard digits > 0, parts < 3 else { return nil }
                result = result << 8 | acc
                acc = 0; digits = 0; parts += 1
            } else if ch >= 48 && ch <= 57 {
                acc = acc * 10 + UInt32(ch - 48)
                digits += 1
                guard acc <= 255, digits <= 3 else { return nil }
            } else {
                return nil
            }
        }
        guard parts == 3, digits > 0 else { return nil }
        value = result << 8 | acc
    }
    public init?(_ text: String) { self.init(Substring(text)) }

    public static let any = IPv4Address(0)
    public static let broadcast = IPv4Address(0xFFFF_FFFF)

    @inlinable public var isLoopback: Bool { value >> 24 == 127 }
    @inlinable public var isZeronet: Bool { value >> 24 == 0 }
    @inlinable public var isMulticast: Bool { value >> 28 == 0xE }
    @inlinable public var isLimitedBroadcast: Bool { value == 0xFFFF_FFFF }
    @inlinable public var isLinkLocal: Bool { value >> 16 == 0xA9FE }

    public var description: String {
        // At most 15 bytes: a small String, made without allocating.
        String(unsafeUninitializedCapacity: 15) { b in
            let start = b.baseAddress!
            return ByteWriter.putIPv4(value, start) - start
        }
    }
    @inlinable public static func < (l: Self, r: Self) -> Bool { l.value < r.value }
}

/// An IPv6 address as two host-order 64-bit halves.
public struct IPv6Address: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64
    @inlinable public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }

    /// Parses RFC 4291 text, with `::` compression and an embedded dotted-quad tail.
    /// A `%zone` suffix is ignored.
    public init?(_ input: Substring) {
        var text = input
        if let pct = text.firstIndex(of: "%") { text = text[..<pct] }
        guard !text.isEmpty else { return nil }
        var groups: [UInt16] = []
        var tail: [UInt16] = []
        var seenDouble = false
        let pieces = text.split(separator: ":", omittingEmptySubsequences: false)
        guard pieces.count >= 3 || (pieces.count >= 2 && text.contains("::")) || pieces.count == 8 else {
            if pieces.count < 3 { return nil }
            return nil
        }
        var i = 0
        while i < pieces.count {
            let p = pieces[i]
            if p.isEmpty {
                // "::" at start, middle or end.
                if i == 0 { guard pieces.count > 1, pieces[1].isEmpty else { return nil }; i += 1 }
                guard !seenDouble else {
                    // the trailing empty piece of a "::" at the very end
                    if i == pieces.count - 1 && pieces[i - 1].isEmpty { i += 1; continue }
                    return nil
                }
                seenDouble = true
                i += 1
                continue
            }
            var words: [UInt16] = []
            if p.contains(".") {
                guard i == pieces.count - 1, let v4 = IPv4Address(p) else { return nil }
                words = [UInt16(v4.value >> 16), UInt16(v4.value & 0xFFFF)]
            } else {
                guard p.utf8.count <= 4, let w = UInt16(p, radix: 16) else { return nil }
                words = [w]
            }
            if seenDouble { tail += words } else { groups += words }
            i += 1
        }
        let total = groups.count + tail.count
        if seenDouble {
            guard total <= 7 else { return nil }
            groups += Array(repeating: 0, count: 8 - total) + tail
        } else {
            guard total == 8 else { return nil }
        }
        var h: UInt64 = 0, l: UInt64 = 0
        for k in 0..<4 { h = h << 16 | UInt64(groups[k]) }
        for k in 4..<8 { l = l << 16 | UInt64(groups[k]) }
        high = h; low = l
    }
    public init?(_ text: String) { self.init(Substring(text)) }

    public static let any = IPv6Address(high: 0, low: 0)
    public static let loopback = IPv6Address(high: 0, low: 1)

    /// The 16-bit group at `index` (0...7).
    @inlinable public func group(_ index: Int) -> UInt16 {
        index < 4 ? UInt16(truncatingIfNeeded: high >> UInt64((3 - index) * 16))
                  : UInt16(truncatingIfNeeded: low >> UInt64((7 - index) * 16))
    }
    @inlinable public var isMulticast: Bool { high >> 56 == 0xFF }
    @inlinable public var isLoopback: Bool { high == 0 && low == 1 }
    @inlinable public var isUnspecified: Bool { high == 0 && low == 0 }
    @inlinable public var isLinkLocal: Bool { high >> 54 == 0x3FA }  // fe80::/10
    @inlinable public var isV4Mapped: Bool { high == 0 && low >> 32 == 0xFFFF }

    /// The run of zero groups RFC 5952 compresses to "::": the first longest run of two or
    /// more groups (start -1 when there is none).
    @usableFromInline var compressedZeroRun: (start: Int, length: Int) {
        var bestStart = -1, bestLen = 0, curStart = -1, curLen = 0
        for i in 0..<8 {
            if group(i) == 0 {
                if curStart < 0 { curStart = i; curLen = 0 }
                curLen += 1
                if curLen > bestLen { bestStart = curStart; bestLen = curLen }
            } else {
                curStart = -1
            }
        }
        return bestLen < 2 ? (-1, 0) : (bestStart, bestLen)
    }

    /// RFC 5952 text: lower case, longest zero run (of two or more groups) compressed.
    public var description: String {
        let (bestStart, bestLen) = compressedZeroRun
        if isV4Mapped {
            let v4 = IPv4Address(UInt32(truncatingIfNeeded: low))
            return "::ffff:\(v4)"
        }
        var out = ""
        var i = 0
        while i < 8 {
            if i == bestStart {
                out += "::"
                i += bestLen
                continue
            }
            if !out.isEmpty && !out.hasSuffix(":") { out += ":" }
            out += String(group(i), radix: 16)
            i += 1
        }
        return out
    }
    @inlinable public static func < (l: Self, r: Self) -> Bool {
        l.high != r.high ? l.high < r.high : l.low < r.low
    }
}

/// An IPv4 or IPv6 address.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public init?(_ text: Substring) {
        if let a = IPv4Address(text) { self = .v4(a) } else if let a = IPv6Address(text) { self = .v6(a) } else { return nil }
    }
    public init?(_ text: String) { self.init(Substring(text)) }
    public var description: String {
        switch self { case .v4(let a): return a.description; case .v6(let a): return a.description }
    }
    public var isV4: Bool { if case .v4 = self { return true } else { return false } }
}

/// A prefix (`10.0.0.0/8`, `2001:db8::/32`). The address is kept as given; `contains` masks.
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var length: Int
    public init(address: IPAddress, length: Int) { self.address = address; self.length = length }

    /// Parses `addr/len` or a bare address (full length).
    public init?(_ text: Substring) {
        if let slash = text.firstIndex(of: "/") {
            guard let a = IPAddress(text[..<slash]), let l = Int(text[text.index(after: slash)...]) else { return nil }
            let maxLen = a.isV4 ? 32 : 128
            guard l >= 0, l <= maxLen else { return nil }
            address = a; length = l
        } else {
            guard let a = IPAddress(text) else { return nil }
            address = a; length = a.isV4 ? 32 : 128
        }
    }
    public init?(_ text: String) { self.init(Substring(text)) }

    /// Whether `other` lies inside this prefix (same family only).
    @inlinable public func contains(_ other: IPAddress) -> Bool {
        switch (address, other) {
        case let (.v4(p), .v4(a)):
            if length == 0 { return true }
            let mask: UInt32 = length >= 32 ? .max : ~(UInt32.max >> UInt32(length))
            return p.value & mask == a.value & mask
        case let (.v6(p), .v6(a)):
            if length == 0 { return true }
            if length <= 64 {
                let mask: UInt64 = length == 64 ? .max : ~(UInt64.max >> UInt64(length))
                return p.high & mask == a.high & mask
            }
            let l = length - 64
            let mask: UInt64 = l >= 64 ? .max : ~(UInt64.max >> UInt64(l))
            return p.high == a.high && p.low & mask == a.low & mask
        default:
            return false
        }
    }
    public var description: String { "\(address)/\(length)" }
}

/// A 48-bit MAC address.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    /// The six bytes in the low 48 bits, first byte most significant.
    public var value: UInt64
    @inlinable public init(_ value: UInt64) { self.value = value & 0xFFFF_FFFF_FFFF }

    /// Parses `aa:bb:cc:dd:ee:ff` (also `-` separated).
    public init?(_ text: Substring) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var v: UInt64 = 0
        for p in parts {
            guard p.utf8.count <= 2, let b = UInt8(p, radix: 16) else { return nil }
            v = v << 8 | UInt64(b)
        }
        value = v
    }
    public init?(_ text: String) { self.init(Substring(text)) }

    public static let broadcast = MACAddress(0xFFFF_FFFF_FFFF)
    public static let zero = MACAddress(0)
    @inlinable public var isBroadcast: Bool { value == 0xFFFF_FFFF_FFFF }
    /// The group bit (least significant bit of the first byte).
    @inlinable public var isMulticast: Bool { (value >> 40) & 1 == 1 }

    public var description: String {
        String(unsafeUninitializedCapacity: 17) { b in
            let p = b.baseAddress!
            for i in 0..<6 {
                let v = UInt8(truncatingIfNeeded: value >> UInt64(40 - i * 8))
                p[i * 3] = ByteWriter.hexDigit(v >> 4)
                p[i * 3 + 1] = ByteWriter.hexDigit(v & 15)
                if i < 5 { p[i * 3 + 2] = 58 }
            }
            return 17
        }
    }
}

// MARK: Rendering into bytes (same text as `description`, without building a String)

extension IPv4Address {
    /// Appends the dotted-quad text (`192.0.2.1`).
    @inlinable public func write(to w: inout ByteWriter) {
        w.ipv4(value)
    }
}

extension IPv6Address {
    /// Appends the RFC 5952 text, as `description` spells it.
    public func write(to w: inout ByteWriter) {
        if isV4Mapped {
            w.ascii("::ffff:")
            IPv4Address(UInt32(truncatingIfNeeded: low)).write(to: &w)
            return
        }
        // The same text as `description` (OutputByteWriterTests compares the two).
        w.ipv6(high: high, low: low)
    }
}

extension IPAddress {
    /// Appends the address text, as `description` spells it.
    @inlinable public func write(to w: inout ByteWriter) {
        switch self {
        case .v4(let a): a.write(to: &w)
        case .v6(let a): a.write(to: &w)
        }
    }
}

extension MACAddress {
    /// Appends `aa:bb:cc:dd:ee:ff` (lower case).
    @inlinable public func write(to w: inout ByteWriter) {
        w.mac(value)
    }
}
