import RxrayDecode

/// The netfilter hook points (`enum nf_inet_hooks` in include/uapi/linux/netfilter.h; the ARP
/// family's `NF_ARP_IN/OUT/FORWARD` reuse the first three numbers).
public enum NFHookPoint: UInt8, Sendable, Hashable, CaseIterable {
    case prerouting = 0, input = 1, forward = 2, output = 3, postrouting = 4

    public var name: String {
        switch self {
        case .prerouting: return "PREROUTING"
        case .input: return "INPUT"
        case .forward: return "FORWARD"
        case .output: return "OUTPUT"
        case .postrouting: return "POSTROUTING"
        }
    }

    /// nft's lower-case hook name.
    public var nftName: String { name.lowercased() }
}

/// The protocol family a hook runs for (`NFPROTO_*`).
public enum NFFamily: UInt8, Sendable, Hashable {
    case ipv4 = 2, ipv6 = 10, arp = 3, bridge = 7

    public var name: String {
        switch self {
        case .ipv4: return "ip"
        case .ipv6: return "ip6"
        case .arp: return "arp"
        case .bridge: return "bridge"
        }
    }
}

/// An interface name packed into 16 bytes (IFNAMSIZ), so names compare, mask and hash as
/// plain integers without touching the heap.
public struct IfName: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64
    public init(high: UInt64 = 0, low: UInt64 = 0) { self.high = high; self.low = low }

    /// Packs the first 16 UTF-8 bytes of `name`.
    public init(_ name: String) {
        var h: UInt64 = 0, l: UInt64 = 0, i = 0
        for b in name.utf8 {
            if i >= 16 { break }
            if i < 8 { h |= UInt64(b) << UInt64(56 - 8 * i) } else { l |= UInt64(b) << UInt64(56 - 8 * (i - 8)) }
            i += 1
        }
        high = h; low = l
    }

    public static let none = IfName()
    public var isEmpty: Bool { high == 0 && low == 0 }

    public var description: String {
        var bytes: [UInt8] = []
        for i in 0..<16 {
            let b = i < 8 ? UInt8(truncatingIfNeeded: high >> UInt64(56 - 8 * i)) : UInt8(truncatingIfNeeded: low >> UInt64(56 - 8 * (i - 8)))
            if b == 0 { break }
            bytes.append(b)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The mask covering the first `n` bytes (for `eth+` / `"eth*"` prefix matches).
    static func prefixMask(_ n: Int) -> IfName {
        let a = min(n, 8), b = max(0, min(n - 8, 8))
        let h: UInt64 = a == 0 ? 0 : (a == 8 ? .max : ~(UInt64.max >> UInt64(8 * a)))
        let l: UInt64 = b == 0 ? 0 : (b == 8 ? .max : ~(UInt64.max >> UInt64(8 * b)))
        return IfName(high: h, low: l)
    }
}

/// What the stack hands the engine at a hook: a small value, no heap.
///
/// `bytes` starts at the network header (IPv4/IPv6/ARP) and is what was captured; `length` is
/// `skb->len`. The engine reads transport fields only after checking the capture holds them.
public struct NFPacket {
    public var family: NFFamily
    public var hook: NFHookPoint
    public var bytes: UnsafeRawBufferPointer
    public var length: Int
    public var iif: Int
    public var oif: Int
    public var iifName: IfName
    public var oifName: IfName
    /// `skb->pkt_type` (PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3).
    public var pktType: UInt8
    public var mark: UInt32
    /// Capture timestamp, nanoseconds.
    public var timeNs: Int64
    public var sourceMAC: MACAddress?
    /// Whether the packet arrived through a bridge port (physdev).
    public var bridged: Bool = false
    /// A TCP segment the host itself sends whose sequence number the capture cannot show (its
    /// SYN-ACK's ISN): conntrack learns it from the peer's acknowledgment.
    public var localSeqUnknown: Bool = false
    /// The transport checksum was already verified over exactly these bytes (a packet GRO held
    /// alone and completed: `CHECKSUM_UNNECESSARY`), so conntrack does not sum it again
    /// (`nf_ip_checksum` returns at once when `skb_csum_unnecessary`).
    public var l4ChecksumVerified: Bool = false

    // Derived by `parse()`.
    public internal(set) var l4proto: UInt8 = 0
    /// Offset of the transport header in `bytes` (-1: none).
    public internal(set) var thoff: Int = -1
    /// Non-first fragment (`-f`, no transport header).
    public internal(set) var laterFragment = false
    /// Any fragment (MF set or offset non-zero).
    public internal(set) var isFragment = false

    public init(family: NFFamily, hook: NFHookPoint, bytes: UnsafeRawBufferPointer, length: Int? = nil,
                iif: Int = 0, oif: Int = 0, iifName: IfName = .none, oifName: IfName = .none,
                pktType: UInt8 = 0, mark: UInt32 = 0, timeNs: Int64 = 0, sourceMAC: MACAddress? = nil) {
        self.family = family; self.hook = hook; self.bytes = bytes; self.length = length ?? bytes.count
        self.iif = iif; self.oif = oif; self.iifName = iifName; self.oifName = oifName
        self.pktType = pktType; self.mark = mark; self.timeNs = timeNs; self.sourceMAC = sourceMAC
        parse()
    }

    /// Makes this the packet `init(family:hook:bytes:...)` would make, in place (assigning a
    /// new packet to a stored one built it in a temporary and copied it over).
    public mutating func reset(family: NFFamily, hook: NFHookPoint, bytes: UnsafeRawBufferPointer, length: Int,
                               iif: Int, oif: Int, iifName: IfName, oifName: IfName,
                               pktType: UInt8, mark: UInt32, timeNs: Int64, sourceMAC: MACAddress?) {
        self.family = family; self.hook = hook; self.bytes = bytes; self.length = length
        self.iif = iif; self.oif = oif; self.iifName = iifName; self.oifName = oifName
        self.pktType = pktType; self.mark = mark; self.timeNs = timeNs; self.sourceMAC = sourceMAC
        bridged = false; localSeqUnknown = false; l4ChecksumVerified = false
        parse()
    }

    /// Finds the transport header (walking IPv6 extension headers) and fragment status.
    public mutating func parse() {
        l4proto = 0; thoff = -1; laterFragment = false; isFragment = false
        switch family {
        case .ipv4:
            guard bytes.count >= 20 else { return }
            let ihl = Int(bytes.u8(0) & 0x0F) * 4
            l4proto = bytes.u8(9)
            let frag = bytes.u16(6)
            isFragment = frag & 0x3FFF != 0
            laterFragment = frag & 0x1FFF != 0
            if !laterFragment && ihl >= 20 { thoff = ihl }
        case .ipv6:
            guard bytes.count >= 40 else { return }
            var nh = bytes.u8(6), off = 40
            walk: while true {
                switch nh {
                case 0, 43, 60:
                    guard bytes.count >= off + 2 else { l4proto = nh; return }
                    let next = bytes.u8(off)
                    off += (Int(bytes.u8(off + 1)) + 1) * 8
                    nh = next
                case 44:
                    guard bytes.count >= off + 8 else { l4proto = nh; return }
                    isFragment = true
                    let fo = bytes.u16(off + 2)
                    if fo & 0xFFF8 != 0 { laterFragment = true }
                    nh = bytes.u8(off)
                    off += 8
                case 51:
                    guard bytes.count >= off + 2 else { l4proto = nh; return }
                    let next = bytes.u8(off)
                    off += (Int(bytes.u8(off + 1)) + 2) * 4
                    nh = next
                default: break walk
                }
            }
            l4proto = nh
            if !laterFragment && nh != 59 { thoff = off }
        case .arp, .bridge:
            return
        }
    }

    // Field accessors (valid after the stack's header checks).
    var v4Saddr: UInt32 { bytes.u32(12) }
    var v4Daddr: UInt32 { bytes.u32(16) }
    @inline(__always) public func has(_ off: Int, _ n: Int) -> Bool { off >= 0 && off + n <= bytes.count }
    /// Transport source/destination port (TCP, UDP, UDP-Lite, SCTP, DCCP), nil when absent.
    var sport: UInt16? { isPortProto && has(thoff, 4) ? bytes.u16(thoff) : nil }
    var dport: UInt16? { isPortProto && has(thoff, 4) ? bytes.u16(thoff + 2) : nil }
    var isPortProto: Bool { l4proto == 6 || l4proto == 17 || l4proto == 136 || l4proto == 132 || l4proto == 33 }
    /// An ICMP or ICMPv6 error message (it quotes the packet it is about).
    var isICMPError: Bool {
        guard has(thoff, 1) else { return false }
        let t = bytes.u8(thoff)
        if l4proto == 1 { return t == 3 || t == 4 || t == 5 || t == 11 || t == 12 }
        if l4proto == 58 { return t < 128 }
        return false
    }
    var tcpFlags: UInt8? { l4proto == 6 && has(thoff, 14) ? bytes.u8(thoff + 13) : nil }

    /// Source and destination as 16-byte values (IPv4 in the low word).
    public var saddr: NFValue {
        family == .ipv6 ? NFValue(high: bytes.u64(8), low: bytes.u64(16)) : NFValue(UInt64(bytes.u32(12)))
    }
    public var daddr: NFValue {
        family == .ipv6 ? NFValue(high: bytes.u64(24), low: bytes.u64(32)) : NFValue(UInt64(bytes.u32(16)))
    }
}

/// A value of up to 128 bits, compared as a big-endian number (addresses, ports, marks,
/// packed interface names).
public struct NFValue: Hashable, Sendable, Comparable {
    public var high: UInt64
    public var low: UInt64
    @inline(__always) public init(high: UInt64, low: UInt64) { self.high = high; self.low = low }
    @inline(__always) public init(_ v: UInt64) { high = 0; low = v }
    public static let zero = NFValue(0)
    @inline(__always) public static func < (a: NFValue, b: NFValue) -> Bool { a.high != b.high ? a.high < b.high : a.low < b.low }
    @inline(__always) func and(_ m: NFValue) -> NFValue { NFValue(high: high & m.high, low: low & m.low) }
    @inline(__always) func or(_ m: NFValue) -> NFValue { NFValue(high: high | m.high, low: low | m.low) }
    @inline(__always) func xor(_ m: NFValue) -> NFValue { NFValue(high: high ^ m.high, low: low ^ m.low) }
    var isZero: Bool { high == 0 && low == 0 }

    public init(_ a: IPAddress) {
        switch a {
        case .v4(let x): self.init(UInt64(x.value))
        case .v6(let x): self.init(high: x.high, low: x.low)
        }
    }
    init(_ n: IfName) { self.init(high: n.high, low: n.low) }

    /// A mask with the top `bits` of a `width`-bit value set.
    static func prefixMask(_ bits: Int, width: Int) -> NFValue {
        if width <= 64 {
            let w = UInt64(width)
            let all: UInt64 = width == 64 ? .max : (1 << w) - 1
            if bits <= 0 { return .zero }
            if bits >= width { return NFValue(all) }
            return NFValue(all & ~(all >> UInt64(bits)))
        }
        let h: UInt64 = bits <= 0 ? 0 : (bits >= 64 ? .max : ~(UInt64.max >> UInt64(bits)))
        let b2 = bits - 64
        let l: UInt64 = b2 <= 0 ? 0 : (b2 >= 64 ? .max : ~(UInt64.max >> UInt64(b2)))
        return NFValue(high: h, low: l)
    }

    public func address(v6: Bool) -> IPAddress {
        v6 ? .v6(IPv6Address(high: high, low: low)) : .v4(IPv4Address(UInt32(truncatingIfNeeded: low)))
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always) func u8(_ o: Int) -> UInt8 { self[o] }
    // One unaligned load each (as `be16`...): the byte-by-byte forms computed `o + 1`, `o + 2`
    // with overflow checks between the loads, which kept them from being merged.
    @inline(__always) func u16(_ o: Int) -> UInt16 { be16(o) }
    @inline(__always) func u32(_ o: Int) -> UInt32 { be32(o) }
    @inline(__always) func u64(_ o: Int) -> UInt64 { be64(o) }
    /// Big-endian loads in one unaligned read each; the caller has checked the bytes are there.
    @inline(__always) func be16(_ o: Int) -> UInt16 { UInt16(bigEndian: loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
    @inline(__always) func be32(_ o: Int) -> UInt32 { UInt32(bigEndian: loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
    @inline(__always) func be64(_ o: Int) -> UInt64 { UInt64(bigEndian: loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
    /// Reads `bits` bits (≤ 64) starting `bitOffset` bits into the buffer from `base`; nil when not captured.
    func bits(base: Int, bitOffset: Int, bits: Int) -> UInt64? {
        let first = base + bitOffset / 8
        let lastBit = bitOffset + bits
        let last = base + (lastBit + 7) / 8
        guard base >= 0, first >= 0, last <= count, bits > 0, bits <= 64, last - first <= 9 else { return nil }
        var acc: UInt64 = 0
        var hi: UInt64 = 0
        for i in first..<last {
            hi = (hi << 8) | (acc >> 56)
            acc = (acc << 8) | UInt64(self[i])
        }
        let trailing = (last - base) * 8 - lastBit
        let shifted = trailing == 0 ? acc : (acc >> UInt64(trailing)) | (trailing > 0 ? hi << UInt64(64 - trailing) : 0)
        return bits == 64 ? shifted : shifted & ((1 << UInt64(bits)) - 1)
    }
}
