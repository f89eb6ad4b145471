import RxrayDecode
@testable import RxrayStack

/// Small hand-built hosts and frames for stage tests.
enum T {
    static let hostMAC0 = MACAddress(0x0200_0000_0010)
    static let hostMAC1 = MACAddress(0x0200_0000_0011)
    static let peerMAC = MACAddress(0x0200_0000_0020)

    /// lo, eth0 192.0.2.1/24 (2001:db8::1/64), eth1 198.51.100.1/24; default via 192.0.2.254.
    static func netns(forwarding: Bool = false, rpFilter: Int = 0) -> Netns {
        var ns = Netns()
        var lo = NetDevice(ifindex: 1, name: "lo", kind: .loopback, mac: .zero, mtu: 65536)
        lo.v4 = [IfAddr4(IPv4Address(127, 0, 0, 1), 8)]
        lo.v6 = [IfAddr6(.loopback, 128)]
        var e0 = NetDevice(ifindex: 2, name: "eth0", kind: .ethernet, mac: hostMAC0)
        e0.v4 = [IfAddr4(IPv4Address(192, 0, 2, 1), 24)]
        e0.v6 = [IfAddr6(IPv6Address("2001:db8::1")!, 64), IfAddr6(IPv6Address("fe80::1")!, 64)]
        var e1 = NetDevice(ifindex: 3, name: "eth1", kind: .ethernet, mac: hostMAC1, mtu: 1280)
        e1.v4 = [IfAddr4(IPv4Address(198, 51, 100, 1), 24)]
        e1.v6 = [IfAddr6(IPv6Address("2001:db8:1::1")!, 64)]
        for i in [1, 2] {
            _ = i
        }
        e0.conf4.forwarding = forwarding
        e1.conf4.forwarding = forwarding
        e0.conf4.rpFilter = rpFilter
        e1.conf4.rpFilter = rpFilter
        e0.conf6.forwarding = forwarding
        e1.conf6.forwarding = forwarding
        ns.devices = [lo, e0, e1]
        ns.addAddressRoutesIfMissing()
        ns.routes4.append(Route4(prefix: IPv4Address(0), length: 0, dev: 1, gateway: IPv4Address(192, 0, 2, 254)))
        ns.routes6.append(Route6(prefix: .any, length: 0, dev: 1, gateway: IPv6Address("2001:db8::fe")!))
        return ns
    }

    static func checksum(_ b: [UInt8], _ range: Range<Int>, pseudo: UInt32 = 0) -> UInt16 {
        var sum = UInt64(pseudo)
        var i = range.lowerBound
        while i + 1 < range.upperBound { sum += UInt64(b[i]) << 8 | UInt64(b[i + 1]); i += 2 }
        if i < range.upperBound { sum += UInt64(b[i]) << 8 }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    static func eth(_ dst: MACAddress = hostMAC0, type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        var b: [UInt8] = []
        for m in [dst, peerMAC] { for i in (0..<6).reversed() { b.append(UInt8(truncatingIfNeeded: m.value >> UInt64(i * 8))) } }
        b += [UInt8(type >> 8), UInt8(type & 0xFF)]
        return b + payload
    }

    static func ipv4(src: IPv4Address = IPv4Address(192, 0, 2, 2), dst: IPv4Address = IPv4Address(192, 0, 2, 1),
                     proto: UInt8, ttl: UInt8 = 64, id: UInt16 = 1, flags: UInt16 = 0, _ payload: [UInt8]) -> [UInt8] {
        var h: [UInt8] = [0x45, 0, 0, 0, UInt8(id >> 8), UInt8(id & 0xFF), UInt8(flags >> 8), UInt8(flags & 0xFF), ttl, proto, 0, 0]
        for a in [src, dst] { h += [UInt8(a.value >> 24), UInt8(a.value >> 16 & 0xFF), UInt8(a.value >> 8 & 0xFF), UInt8(a.value & 0xFF)] }
        let tot = 20 + payload.count
        h[2] = UInt8(tot >> 8); h[3] = UInt8(tot & 0xFF)
        let c = checksum(h, 0..<20)
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xFF)
        return h + payload
    }

    static func icmpEcho(type: UInt8 = 8) -> [UInt8] {
        var m: [UInt8] = [type, 0, 0, 0, 0x42, 0x42, 0, 1] + Array("rxrayrxrayrx".utf8)
        let c = checksum(m, 0..<m.count)
        m[2] = UInt8(c >> 8); m[3] = UInt8(c & 0xFF)
        return m
    }

    static func udp(src: IPv4Address = IPv4Address(192, 0, 2, 2), dst: IPv4Address = IPv4Address(192, 0, 2, 1), dport: UInt16) -> [UInt8] {
        var u: [UInt8] = [0x30, 0x39, UInt8(dport >> 8), UInt8(dport & 0xFF), 0, 12, 0, 0, 1, 2, 3, 4]
        let p = Pseudo.v4(src, dst, proto: 17, length: 12)
        let c = checksum(u, 0..<12, pseudo: p)
        u[6] = UInt8(c >> 8); u[7] = UInt8(c & 0xFF)
        return u
    }

    static func tcp(src: IPv4Address = IPv4Address(192, 0, 2, 2), dst: IPv4Address = IPv4Address(192, 0, 2, 1),
                    dport: UInt16, flags: UInt8) -> [UInt8] {
        var t: [UInt8] = [0x30, 0x39, UInt8(dport >> 8), UInt8(dport & 0xFF), 0, 0, 0, 100, 0, 0, 0, 0, 0x50, flags, 0xFF, 0xFF, 0, 0, 0, 0]
        let c = checksum(t, 0..<20, pseudo: Pseudo.v4(src, dst, proto: 6, length: 20))
        t[16] = UInt8(c >> 8); t[17] = UInt8(c & 0xFF)
        return t
    }

    static func arpRequest(sip: IPv4Address, tip: IPv4Address) -> [UInt8] {
        var a: [UInt8] = [0, 1, 8, 0, 6, 4, 0, 1]
        for i in (0..<6).reversed() { a.append(UInt8(truncatingIfNeeded: peerMAC.value >> UInt64(i * 8))) }
        a += [UInt8(sip.value >> 24), UInt8(sip.value >> 16 & 0xFF), UInt8(sip.value >> 8 & 0xFF), UInt8(sip.value & 0xFF)]
        a += [0, 0, 0, 0, 0, 0]
        a += [UInt8(tip.value >> 24), UInt8(tip.value >> 16 & 0xFF), UInt8(tip.value >> 8 & 0xFF), UInt8(tip.value & 0xFF)]
        return a
    }

    static func v6bytes(_ a: IPv6Address) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: a.high >> UInt64(56 - $0 * 8)) } + (0..<8).map { UInt8(truncatingIfNeeded: a.low >> UInt64(56 - $0 * 8)) }
    }

    static func ipv6(src: IPv6Address = IPv6Address("2001:db8::2")!, dst: IPv6Address = IPv6Address("2001:db8::1")!,
                     nh: UInt8, hop: UInt8 = 64, _ payload: [UInt8]) -> [UInt8] {
        [0x60, 0, 0, 0, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF), nh, hop] + v6bytes(src) + v6bytes(dst) + payload
    }

    static func icmpv6(src: IPv6Address, dst: IPv6Address, _ body: [UInt8]) -> [UInt8] {
        var m = body
        let c = checksum(m, 0..<m.count, pseudo: Pseudo.v6(src, dst, proto: 58, length: m.count))
        m[2] = UInt8(c >> 8); m[3] = UInt8(c & 0xFF)
        return m
    }

    /// Runs frames (1 ms apart unless `spacingNs` says otherwise) and returns the results.
    static func run(_ ns: Netns, _ frames: [[UInt8]], spacingNs: Int64 = 1_000_000, interface: String? = "eth0",
                    finish: Bool = true) -> [FrameResult] {
        let a = Analyzer(netns: ns)
        var out: [FrameResult] = []
        for (i, f) in frames.enumerated() {
            f.withUnsafeBytes { buf in
                let input = FrameInput(index: i + 1, timestampNs: 1_700_000_000_000_000_000 + Int64(i) * spacingNs, bytes: buf,
                                       linkType: .ethernet, interfaceName: interface)
                a.process(input) { out.append($0) }
            }
        }
        if finish { a.finish { out.append($0) } }
        return out
    }

    static func one(_ ns: Netns, _ frame: [UInt8], interface: String = "eth0") -> FrameResult {
        run(ns, [frame], interface: interface)[0]
    }
}

extension FrameResult {
    func moved(_ m: MIB) -> Int { counters.first { $0.0 == m }?.1 ?? 0 }
}
