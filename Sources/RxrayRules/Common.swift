import RxrayDecode

/// A match value that may be inverted with `!` (iptables) or `!=` (nft).
public struct Negatable<Value: Hashable & Sendable>: Hashable, Sendable {
    public var value: Value
    public var negated: Bool
    public init(_ value: Value, negated: Bool = false) { self.value = value; self.negated = negated }
}

/// An address with a mask, as iptables holds `-s`/`-d`: the mask may be any bit pattern
/// (`10.0.0.0/255.0.255.0` is legal), though it usually is a prefix.
public struct MaskedAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address, already masked (iptables stores `addr & mask`).
    public var address: IPAddress
    public var mask: IPAddress

    public init(address: IPAddress, mask: IPAddress) {
        self.mask = mask
        self.address = MaskedAddress.and(address, mask)
    }

    /// A prefix `addr/len` as address and mask.
    public init(prefix: IPPrefix) {
        self.init(address: prefix.address, mask: MaskedAddress.maskFor(length: prefix.length, v4: prefix.address.isV4))
    }

    /// The prefix length when the mask is contiguous, otherwise nil.
    public var prefixLength: Int? {
        switch mask {
        case .v4(let m):
            let l = m.value.leadingZeroBitCount == 32 ? 0 : (~m.value).leadingZeroBitCount
            return MaskedAddress.maskFor(length: l, v4: true) == mask ? l : nil
        case .v6(let m):
            let l = m.high == .max ? 64 + (~m.low).leadingZeroBitCount : (~m.high).leadingZeroBitCount
            return MaskedAddress.maskFor(length: l, v4: false) == mask ? l : nil
        }
    }

    public func contains(_ a: IPAddress) -> Bool { MaskedAddress.and(a, mask) == address }

    public var description: String {
        if let l = prefixLength { return "\(address)/\(l)" }
        return "\(address)/\(mask)"
    }

    static func maskFor(length: Int, v4: Bool) -> IPAddress {
        if v4 {
            return .v4(IPv4Address(length == 0 ? 0 : ~(UInt32.max >> UInt32(min(length, 32))) | (length >= 32 ? .max : 0)))
        }
        let h: UInt64 = length <= 0 ? 0 : (length >= 64 ? .max : ~(UInt64.max >> UInt64(length)))
        let l2 = length - 64
        let lo: UInt64 = l2 <= 0 ? 0 : (l2 >= 64 ? .max : ~(UInt64.max >> UInt64(l2)))
        return .v6(IPv6Address(high: h, low: lo))
    }

    static func and(_ a: IPAddress, _ m: IPAddress) -> IPAddress {
        switch (a, m) {
        case let (.v4(x), .v4(y)): return .v4(IPv4Address(x.value & y.value))
        case let (.v6(x), .v6(y)): return .v6(IPv6Address(high: x.high & y.high, low: x.low & y.low))
        default: return a
        }
    }

    /// Parses `addr`, `addr/len` or `addr/mask` (iptables forms). Nil when not an address.
    public init?(text: Substring) {
        if let slash = text.firstIndex(of: "/") {
            guard let a = IPAddress(text[..<slash]) else { return nil }
            let rest = text[text.index(after: slash)...]
            if let l = Int(rest) {
                guard l >= 0, l <= (a.isV4 ? 32 : 128) else { return nil }
                self.init(address: a, mask: MaskedAddress.maskFor(length: l, v4: a.isV4))
            } else if let m = IPAddress(rest), m.isV4 == a.isV4 {
                self.init(address: a, mask: m)
            } else {
                return nil
            }
        } else {
            guard let a = IPAddress(text) else { return nil }
            self.init(address: a, mask: MaskedAddress.maskFor(length: a.isV4 ? 32 : 128, v4: a.isV4))
        }
    }
}

/// An inclusive range of 16-bit values (ports, lengths, MSS). A single value has `low == high`.
public struct UInt16Range: Hashable, Sendable, CustomStringConvertible {
    public var low: UInt16
    public var high: UInt16
    public init(_ low: UInt16, _ high: UInt16) { self.low = low; self.high = high }
    public init(single v: UInt16) { low = v; high = v }
    @inlinable public func contains(_ v: UInt16) -> Bool { v >= low && v <= high }
    public var description: String { low == high ? "\(low)" : "\(low):\(high)" }
}

/// An interface name as iptables matches it: exact, or a prefix when written with a trailing `+`.
public struct InterfaceName: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    /// True for `eth+`: any interface whose name starts with `name`.
    public var isPrefix: Bool
    public init(name: String, isPrefix: Bool) { self.name = name; self.isPrefix = isPrefix }
    /// Parses iptables' form (`eth0`, `veth+`).
    public init(iptables text: Substring) {
        if text.hasSuffix("+") { name = String(text.dropLast()); isPrefix = true } else { name = String(text); isPrefix = false }
    }
    public func matches(_ interface: String) -> Bool { isPrefix ? interface.hasPrefix(name) : interface == name }
    public var description: String { isPrefix ? name + "+" : name }
}

/// A packet/byte counter pair as printed by the tools.
public struct Counters: Hashable, Sendable {
    public var packets: UInt64
    public var bytes: UInt64
    public init(packets: UInt64, bytes: UInt64) { self.packets = packets; self.bytes = bytes }
}

/// Which address family a ruleset or table is for.
public enum RuleFamily: String, Hashable, Sendable {
    case ipv4, ipv6
}

/// Counts over one parsed source, for logs and `rxray` summaries.
public struct RulesetSummary: Hashable, Sendable, CustomStringConvertible {
    public var tables = 0
    public var chains = 0
    public var rules = 0
    public var sets = 0
    public var elements = 0
    public var unsupported = 0
    public init() {}
    public init(tables: Int, chains: Int, rules: Int, sets: Int, elements: Int, unsupported: Int) {
        self.tables = tables; self.chains = chains; self.rules = rules
        self.sets = sets; self.elements = elements; self.unsupported = unsupported
    }
    public static func + (a: Self, b: Self) -> Self {
        RulesetSummary(tables: a.tables + b.tables, chains: a.chains + b.chains, rules: a.rules + b.rules,
                       sets: a.sets + b.sets, elements: a.elements + b.elements, unsupported: a.unsupported + b.unsupported)
    }
    public var description: String {
        "\(tables) tables, \(chains) chains, \(rules) rules, \(sets) sets, \(elements) elements, \(unsupported) unsupported"
    }
}

/// Small number parsing helpers shared by the parsers (decimal and 0x hex, as the tools accept).
enum Num {
    static func parse(_ s: Substring) -> UInt64? {
        if s.hasPrefix("0x") || s.hasPrefix("0X") { return UInt64(s.dropFirst(2), radix: 16) }
        return UInt64(s)
    }
    static func u32(_ s: Substring) -> UInt32? { parse(s).flatMap { $0 <= UInt32.max ? UInt32($0) : nil } }
    static func u16(_ s: Substring) -> UInt16? { parse(s).flatMap { $0 <= UInt16.max ? UInt16($0) : nil } }
    static func u8(_ s: Substring) -> UInt8? { parse(s).flatMap { $0 <= UInt8.max ? UInt8($0) : nil } }
}
