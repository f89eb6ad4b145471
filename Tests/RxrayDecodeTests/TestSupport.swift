import XCTest
import RxrayDecode

/// Bytes from a hex string (whitespace ignored).
func hexBytes(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    var hi: UInt8?
    for c in text.utf8 {
        let v: UInt8
        switch c {
        case 48...57: v = c - 48
        case 97...102: v = c - 87
        case 65...70: v = c - 55
        default: continue
        }
        if let h = hi { out.append(h << 4 | v); hi = nil } else { hi = v }
    }
    return out
}

func decode(_ b: [UInt8], _ linkType: LinkType = .ethernet, wire: Int? = nil) -> DecodedFrame {
    b.withUnsafeBytes { FrameDecoder.decode($0, linkType: linkType, wireLength: wire ?? b.count) }
}

func summary(_ b: [UInt8], _ linkType: LinkType = .ethernet, wire: Int? = nil) -> String {
    b.withUnsafeBytes { FrameDecoder.decode($0, linkType: linkType, wireLength: wire ?? b.count).summaryLine($0) }
}

/// Runs `body` with the frame decoded and its bytes.
func withFrame<T>(_ b: [UInt8], _ linkType: LinkType = .ethernet, wire: Int? = nil,
                  _ body: (DecodedFrame, UnsafeRawBufferPointer) throws -> T) rethrows -> T {
    try b.withUnsafeBytes { raw in
        try body(FrameDecoder.decode(raw, linkType: linkType, wireLength: wire ?? b.count), raw)
    }
}

/// A plain byte-pair one's-complement checksum, written independently of the library's.
func referenceChecksum(_ data: [UInt8]) -> UInt16 {
    var sum: UInt32 = 0
    var i = 0
    while i + 1 < data.count { sum += UInt32(data[i]) << 8 | UInt32(data[i + 1]); i += 2 }
    if i < data.count { sum += UInt32(data[i]) << 8 }
    while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
    return ~UInt16(sum)
}

func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
func v4(_ s: String) -> [UInt8] { be32(IPv4Address(s)!.value) }
func v6(_ s: String) -> [UInt8] {
    let a = IPv6Address(s)!
    return be32(UInt32(a.high >> 32)) + be32(UInt32(a.high & 0xFFFF_FFFF)) + be32(UInt32(a.low >> 32)) + be32(UInt32(a.low & 0xFFFF_FFFF))
}

/// Hand-built frames with correct checksums unless told otherwise.
enum Build {
    static let srcMAC: [UInt8] = [0x02, 0, 0, 0, 0, 1]
    static let dstMAC: [UInt8] = [0x02, 0, 0, 0, 0, 2]

    static func ether(_ type: UInt16, _ payload: [UInt8], tags: [(UInt16, UInt16)] = []) -> [UInt8] {
        var f = dstMAC + srcMAC
        for (tpid, tci) in tags { f += be16(tpid) + be16(tci) }
        return f + be16(type) + payload
    }

    static func ipv4(_ proto: UInt8, _ payload: [UInt8], src: String = "10.0.0.1", dst: String = "10.0.0.2",
                     options: [UInt8] = [], ttl: UInt8 = 64, id: UInt16 = 1, fragWord: UInt16 = 0,
                     totalLength: Int? = nil, badChecksum: Bool = false) -> [UInt8] {
        precondition(options.count % 4 == 0)
        let hl = 20 + options.count
        var h: [UInt8] = [0x40 | UInt8(hl / 4), 0]
        h += be16(UInt16(totalLength ?? hl + payload.count)) + be16(id) + be16(fragWord) + [ttl, proto, 0, 0]
        h += v4(src) + v4(dst) + options
        var c = referenceChecksum(h)
        if badChecksum { c ^= 0x5A5A }
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xFF)
        return h + payload
    }

    static func ipv6(_ nh: UInt8, _ payload: [UInt8], src: String = "2001:db8::1", dst: String = "2001:db8::2",
                     hlim: UInt8 = 64, payloadLength: Int? = nil) -> [UInt8] {
        [0x60, 0, 0, 0] + be16(UInt16(payloadLength ?? payload.count)) + [nh, hlim] + v6(src) + v6(dst) + payload
    }

    /// A transport segment with its checksum filled for the given pseudo-header.
    /// `checksumAt` is the checksum's offset in `segment`.
    static func withChecksum(_ segment: [UInt8], checksumAt: Int, proto: UInt8, src: [UInt8]?, dst: [UInt8]?) -> [UInt8] {
        var s = segment
        s[checksumAt] = 0; s[checksumAt + 1] = 0
        var pseudo: [UInt8] = []
        if let src = src, let dst = dst {
            if src.count == 4 {
                pseudo = src + dst + [0, proto] + be16(UInt16(s.count))
            } else {
                pseudo = src + dst + be32(UInt32(s.count)) + [0, 0, 0, proto]
            }
        }
        var c = referenceChecksum(pseudo + s)
        if proto == 17 && c == 0 { c = 0xFFFF }
        s[checksumAt] = UInt8(c >> 8); s[checksumAt + 1] = UInt8(c & 0xFF)
        return s
    }

    static func tcp(sport: UInt16 = 12345, dport: UInt16 = 80, seq: UInt32 = 1, ack: UInt32 = 0, flags: UInt16 = 0x02,
                    window: UInt16 = 64240, options: [UInt8] = [], payload: [UInt8] = [],
                    src: [UInt8] = v4("10.0.0.1"), dst: [UInt8] = v4("10.0.0.2"), dataOffset: Int? = nil) -> [UInt8] {
        precondition(options.count % 4 == 0)
        let doff = dataOffset ?? (20 + options.count) / 4
        var t = be16(sport) + be16(dport) + be32(seq) + be32(ack)
        t += be16(UInt16(doff) << 12 | flags) + be16(window) + [0, 0, 0, 0] + options + payload
        return withChecksum(t, checksumAt: 16, proto: 6, src: src, dst: dst)
    }

    static func udp(sport: UInt16 = 5000, dport: UInt16 = 53, payload: [UInt8] = [], length: Int? = nil,
                    src: [UInt8] = v4("10.0.0.1"), dst: [UInt8] = v4("10.0.0.2"), zeroChecksum: Bool = false) -> [UInt8] {
        let u = be16(sport) + be16(dport) + be16(UInt16(length ?? 8 + payload.count)) + [0, 0] + payload
        if zeroChecksum { return u }
        return withChecksum(u, checksumAt: 6, proto: 17, src: src, dst: dst)
    }

    static func icmp(type: UInt8, code: UInt8 = 0, rest: [UInt8] = [0, 0, 0, 0], payload: [UInt8] = []) -> [UInt8] {
        withChecksum([type, code, 0, 0] + rest + payload, checksumAt: 2, proto: 1, src: nil, dst: nil)
    }

    static func icmpv6(type: UInt8, code: UInt8 = 0, body: [UInt8], src: String = "fe80::1", dst: String = "ff02::1") -> [UInt8] {
        withChecksum([type, code, 0, 0] + body, checksumAt: 2, proto: 58, src: v6(src), dst: v6(dst))
    }

    /// Ethernet + IPv4 + TCP SYN with the common option set.
    static func tcpSYN() -> [UInt8] {
        let opts: [UInt8] = [2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]
        return ether(0x0800, ipv4(6, tcp(options: opts)))
    }
}

/// Frames written by scapy; tcpdump 4.99 (`-n -t -S`) printed the `expected` lines.
enum Recorded {
    static let frames: [(hex: String, expected: String)] = [
        ("0200000000020200000000018100006408004500003c00010000400666b90a0000010a000002303900500000000100000000a002faf008820000020405b40402080a000000010000000001030307",
         "vlan 100, p 0, IP 10.0.0.1.12345 > 10.0.0.2.80: Flags [S], seq 1, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"),
        ("02fc0000000502fc0000000108004500003200010000400666c30a0000010a0000023039005000000064000000c8501801f60dbb000078787878787878787878",
         "IP 10.0.0.1.12345 > 10.0.0.2.80: Flags [P.], seq 100:110, ack 200, win 502, length 10"),
        ("02fc0000000502fc0000000108004500005400010000400166a60a0000010a0000020800cad0000100017878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878",
         "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 1, seq 1, length 64"),
        ("02fc0000000502fc0000000108004500003800010000400166c20a0000020a00000103031119000000004500001c00010000401166ce0a0000010a00000204d200350008e6d4",
         "IP 10.0.0.2 > 10.0.0.1: ICMP 10.0.0.2 udp port 53 unreachable, length 36"),
        ("02fc0000000502fc000000010806000108000604000102fc000000010a0000010000000000000a000002",
         "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 28"),
        ("02fc0000000502fc00000001080600010800060400020200000000020a0000020000000000000a000001",
         "ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:02, length 28"),
        ("33330000000102fc0000000186dd6000000000103a40fe800000000000000000000000000001ff02000000000000000000000000000180009c46000100027979797979797979",
         "IP6 fe80::1 > ff02::1: ICMP6, echo request, id 1, seq 2, length 16"),
        ("ffffffffffff02fc0000000186dd600000000014114020010db800000000000000000000000120010db80000000000000000000000021388177000149a7a7a7a7a7a7a7a7a7a7a7a7a7a",
         "IP6 2001:db8::1.5000 > 2001:db8::2.6000: UDP, length 12"),
        ("3333ff00000202fc0000000186dd6000000000203afffe800000000000000000000000000001ff0200000000000000000001ff00000287007a9700000000fe8000000000000000000000000000020101020000000001",
         "IP6 fe80::1 > ff02::1:ff00:2: ICMP6, neighbor solicitation, who has fe80::2, length 32"),
        ("ffffffffffff02fc0000000186dd6000000000203afffe800000000000000000000000000002fe8000000000000000000000000000018800181a60000000fe8000000000000000000000000000020201020000000002",
         "IP6 fe80::2 > fe80::1: ICMP6, neighbor advertisement, tgt is fe80::2, length 32"),
        ("33330000000202fc0000000186dd6000000000083afffe800000000000000000000000000001ff02000000000000000000000000000285007d3600000000",
         "IP6 fe80::1 > ff02::2: ICMP6, router solicitation, length 8"),
        ("33330000000102fc0000000186dd6000000000303afffe800000000000000000000000000001ff02000000000000000000000000000186000382000807080000000000000000030440c0ffffffffffffffff0000000020010db8000000000000000000000000",
         "IP6 fe80::1 > ff02::1: ICMP6, router advertisement, length 48"),
        ("02fc0000000502fc0000000108004500004400072000401146a00a0000010a0000020001000200304fed61616161616161616161616161616161616161616161616161616161616161616161616161616161",
         "IP 10.0.0.1.1 > 10.0.0.2.2: UDP, length 40"),
        ("02fc0000000502fc0000000108004500003c00070005401166a30a0000010a00000261616161616161616161616161616161616161616161616161616161616161616161616161616161",
         "IP 10.0.0.1 > 10.0.0.2: ip-proto-17"),
        ("02fc0000000502fc0000000108004500001c00010000401112340a0000010a000002000100020008ebd8",
         "IP 10.0.0.1.1 > 10.0.0.2.2: UDP, length 0 [bad ip cksum]"),
        ("ffffffffffff02fc0000000188a800c8810067d108004500001c00010000401166ce0a0000010a000002000700090008ebcb",
         "vlan 200, p 0, vlan 2001, p 3, IP 10.0.0.1.7 > 10.0.0.2.9: UDP, length 0"),
        ("02fc0000000502fc0000000108004500002800010000400666cd0a0000010a000002000100020000000500000006501120007bc30000",
         "IP 10.0.0.1.1 > 10.0.0.2.2: Flags [F.], seq 5, ack 6, win 8192, length 0"),
        ("02fc0000000502fc0000000108004500002800010000400666cd0a0000010a000002000100020000000500000000500420007bd60000",
         "IP 10.0.0.1.1 > 10.0.0.2.2: Flags [R], seq 5, win 8192, length 0"),
        ("ffffffffffff02fc0000000186dd600000000020064020010db800000000000000000000000120010db800000000000000000000000200010002000000050000000680122000ff360000050a00000001000000020000",
         "IP6 2001:db8::1.1 > 2001:db8::2.2: Flags [S.], seq 5, ack 6, win 8192, options [sack 1 {1:2},eol], length 0"),
        ("02fc0000000502fc00000001080045000038000100000101a5c20a0000010a0000020b000924000000004500001c00010000401166c60a0000020a00000904d2829a00086467",
         "IP 10.0.0.1 > 10.0.0.2: ICMP time exceeded in-transit, length 36"),
        ("ffffffffffff02fc0000000188cc000000000000000000000000000000000000000000000000000000000000",
         "LLDP, length 30"),
        ("02fc0000000502fc0000000108004500008c00010000400666690a0000010a00000200010002000000050000000050022000f3ec000078787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878787878",
         "IP 10.0.0.1.1 > 10.0.0.2.2: Flags [S], seq 5:105, win 8192, length 100"),
        ("ffffffffffff02fc0000000186dd600000000010004020010db800000000000000000000000120010db80000000000000000000000023a000502000001008100234100030004",
         "IP6 2001:db8::1 > 2001:db8::2: HBH ICMP6, echo reply, id 3, seq 4, length 8"),
        ("ffffffffffff02fc0000000186dd6000000000202c4020010db800000000000000000000000120010db80000000000000000000000021100000100000063000100020018e08278787878787878787878787878787878",
         "IP6 2001:db8::1 > 2001:db8::2: frag (0|24) 1 > 2: UDP, length 16"),
    ]
}
