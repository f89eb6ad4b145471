import RxrayDecode

/// The route an IPv6 input lookup attached.
struct InputRoute6 {
    enum Input { case local, forward, multicast, reject(RouteError) }
    var input: Input
    var route: Int?
    var outDev: Int?
    var gateway: IPv6Address?
    var mtu = 1500
}

extension Kernel {
    /// `ipv6_rcv`: header validation, PRE_ROUTING, then `ip6_rcv_finish`.
    func ipv6Rcv(_ skb: inout SKB, _ r: inout FrameResult) {
        guard ip6RcvCore(&skb, &r) else { return }
        // Conntrack's defragmentation (PRE_ROUTING -400) gathers fragments first (NFDefrag6.swift).
        if nfDefragsIPv6 && skb.v6NextHeader != 6 && skb.v6NextHeader != 17 {
            guard nfCtFrag6Gather(&skb, &r) else { return }
        }
        guard nfHook(.prerouting, ipv6: true, &skb, &r) else { return }
        ip6RouteInput(&skb, &r)
    }

    /// IPv6 header checks in the kernel's order.
    ///
    /// Mirrors `ip6_rcv_core()` in net/ipv6/ip6_input.c.
    func ip6RcvCore(_ skb: inout SKB, _ r: inout FrameResult) -> Bool {
        if skb.pktType == .otherhost {
            r.drop(.otherhost, at: .ip6RcvCore, "destination MAC is not this host's (pkt_type OTHERHOST)")
            return false
        }
        r.count(.ip6InReceives)
        r.count(.ip6InOctets, skb.len)
        let dev = ns.devices[skb.dev]
        if dev.conf6.disableIPv6 {
            r.count(.ip6InDiscards)
            r.drop(.ipv6Disabled, at: .ip6RcvCore, "disable_ipv6 on \(dev.name)")
            return false
        }
        func err(_ why: String, _ r: inout FrameResult, _ reason: DropReason = .ipInhdr) -> Bool {
            r.count(.ip6InHdrErrors)
            r.drop(reason, at: .ip6RcvCore, why)
            return false
        }
        if skb.len < 40 { return err("only \(skb.len) bytes, less than an IPv6 header", &r) }
        guard skb.captured(40) else { return snapped(&r, .ip6RcvCore) }
        if skb.buf.u8(0) >> 4 != 6 { return err("version \(skb.buf.u8(0) >> 4) in an IPv6 frame", &r, .unhandledProto) }
        let s = skb.v6Saddr, d = skb.v6Daddr
        let loop = dev.kind == .loopback
        if !loop && (s.isLoopback || d.isLoopback) { return err("::1 on a non-loopback device", &r) }
        if !loop && d.isMulticast && d.multicastScope == 1 { return err("interface-local multicast \(d) from the wire", &r) }
        if !d.isMulticast && (skb.pktType == .broadcast || skb.pktType == .multicast) && dev.conf6.dropUnicastInL2Multicast {
            return err("unicast IPv6 in a link-layer \(skb.pktType) frame", &r, .unicastInL2Multicast)
        }
        if d.isMulticast && d.multicastScope == 0 { return err("multicast destination with reserved scope 0", &r) }
        if s.isMulticast { return err("multicast source \(s)", &r) }
        let plen = skb.v6PayloadLen
        if plen != 0 || skb.v6NextHeader != 0 {
            if plen + 40 > skb.len {
                r.count(.ip6InTruncatedPkts)
                r.drop(.pktTooSmall, at: .ip6RcvCore, "payload length \(plen) exceeds the \(skb.len - 40) bytes received")
                return false
            }
            skb.len = plen + 40
            if skb.buf.count > skb.len { skb.buf = skb.buf.first(skb.len) }
        }
        skb.thoff = 40
        if r.wantsDetail {
            let next = skb.v6NextHeader, hops = skb.v6HopLimit
            r.record(.ip6RcvCore, .pass) { w in
                s.write(to: &w); w.ascii(" → "); d.write(to: &w)
                w.ascii(" next header "); w.decimal(next); w.ascii(" hop limit "); w.decimal(hops)
            }
        } else {
            r.record(.ip6RcvCore, .pass)
        }
        if skb.v6NextHeader == 0 {
            // Hop-by-hop options are parsed here, before routing.
            guard skb.captured(42) else { return snapped(&r, .ip6RcvCore) }
            let hlen = (Int(skb.buf.u8(41)) + 1) * 8
            if 40 + hlen > skb.len {
                r.count(.ip6InHdrErrors)
                r.drop(.ipv6BadExthdr, at: .ip6RcvCore, "hop-by-hop header runs past the packet")
                return false
            }
            guard skb.captured(40 + hlen) else { return snapped(&r, .ip6RcvCore) }
            if !parseTLV(&skb, start: 42, end: 40 + hlen, hopByHop: true, &r) {
                r.count(.ip6InHdrErrors)
                return false
            }
        }
        return true
    }

    /// Walks TLV options; unknown options act by their top two bits. Hop-by-hop and
    /// destination options know different option types (router alert, jumbo, CALIPSO and IOAM
    /// exist only hop by hop; a destination-options header knows only padding here, Home
    /// Address needing Mobile IPv6).
    /// Mirrors `ip6_parse_tlv()` / `ip6_tlvopt_unknown()` in net/ipv6/exthdrs.c.
    func parseTLV(_ skb: inout SKB, start: Int, end: Int, hopByHop: Bool, _ r: inout FrameResult) -> Bool {
        let stage: Stage = hopByHop ? .ip6RcvCore : .ip6Input
        var i = start
        var count = 0
        while i < end {
            let t = skb.buf.u8(i)
            if t == 0 { i += 1; continue }
            guard i + 1 < end else {
                r.drop(.ipv6BadExthdr, at: stage, "option at \(i) truncated")
                return false
            }
            let l = Int(skb.buf.u8(i + 1))
            if i + 2 + l > end {
                r.drop(.ipv6BadExthdr, at: stage, "option at \(i) runs past its header")
                return false
            }
            count += 1
            if t != 1 && count > 8 {
                r.drop(.ipv6BadExthdr, at: stage, "more than 8 options")
                return false
            }
            // PadN; router alert, jumbo, RPL, IOAM, CALIPSO are hop-by-hop options the kernel knows.
            let known = t == 1 || (hopByHop && (t == 5 || t == 0xC2 || t == 0x63 || t == 0x31 || t == 0x07))
            if !known {
                switch t >> 6 {
                case 0: break
                case 1:
                    r.drop(.unhandledProto, at: stage, "unknown option 0x\(String(t, radix: 16)): discard silently")
                    return false
                case 2, 3:
                    if t >> 6 == 2 || !skb.v6Daddr.isMulticast {
                        icmpv6Send(skb, type: 4, code: 2, info: UInt32(i), &r)
                    }
                    r.drop(.unhandledProto, at: stage, "unknown option 0x\(String(t, radix: 16)): discard, parameter problem")
                    return false
                default: break
                }
            }
            i += 2 + l
        }
        return true
    }

    /// Route lookup and dispatch to `ip6_input`, `ip6_forward`, `ip6_mc_input` or a reject.
    ///
    /// Mirrors `ip6_rcv_finish()` → `ip6_route_input()` in net/ipv6/route.c.
    func ip6RouteInput(_ skb: inout SKB, _ r: inout FrameResult) {
        let d = skb.v6Daddr
        if d.isMulticast {
            skb.route6 = InputRoute6(input: .multicast)
            ip6McInput(&skb, &r)
            return
        }
        // Link-local destinations are looked up on the ingress device.
        if d.isLinkLocal {
            if ns.devices[skb.dev].v6.contains(where: { $0.address == d }) {
                skb.route6 = InputRoute6(input: .local, outDev: skb.dev)
                r.record(.ip6RouteInput, .pass, "link-local \(d) on \(devName(skb.dev)) → ip6_input")
                ip6Input(&skb, &r)
                return
            }
        }
        let lk = ns.fib6Lookup(Flow6(daddr: d, saddr: skb.v6Saddr, iif: skb.dev, mark: skb.mark, proto: skb.v6NextHeader))
        guard let rt = lk.route, lk.error == nil else {
            let e = lk.error ?? .netUnreach
            skb.route6 = InputRoute6(input: .reject(e), route: lk.route)
            r.record(.ip6RouteInput, .note, lk.route.map { "route \(ns.routes6[$0].text(ns)) → \(e)" } ?? "no route → \(e)")
            ip6PktDrop(&skb, e, &r)
            return
        }
        let route = ns.routes6[rt]
        if route.type == .local {
            skb.route6 = InputRoute6(input: .local, route: rt, outDev: route.dev)
            r.record(.ip6RouteInput, .pass) { w in w.ascii("route "); route.write(ns, to: &w); w.ascii(" → ip6_input") }
            ip6Input(&skb, &r)
            return
        }
        var ir = InputRoute6(input: .forward, route: rt, outDev: route.dev, gateway: route.gateway)
        ir.mtu = route.mtu ?? route.dev.map { ns.devices[$0].mtu } ?? 1500
        skb.route6 = ir
        r.record(.ip6RouteInput, .pass) { w in w.ascii("route "); route.write(ns, to: &w); w.ascii(" → ip6_forward") }
        ip6Forward(&skb, &r)
    }

    /// Reject routes: ICMPv6 unreachable and the no-route counter, or a silent blackhole.
    /// Mirrors `ip6_pkt_discard()` / `ip6_pkt_prohibit()` / `dst_discard()`.
    func ip6PktDrop(_ skb: inout SKB, _ e: RouteError, _ r: inout FrameResult) {
        switch e {
        case .inval:
            r.drop(.notSpecified, at: .ip6RouteInput, "blackhole route")
        case .acces:
            r.count(.ip6InNoRoutes)
            icmpv6Send(skb, type: 1, code: 1, info: 0, &r)
            r.drop(.ipInnoroutes, at: .ip6RouteInput, "prohibit route: administratively prohibited")
        default:
            if skb.v6Daddr.isUnspecified {
                r.count(.ip6InAddrErrors)
                r.drop(.ipInaddrerrors, at: .ip6RouteInput, "destination ::")
                return
            }
            r.count(.ip6InNoRoutes)
            icmpv6Send(skb, type: 1, code: 0, info: 0, &r)
            r.drop(.ipInnoroutes, at: .ip6RouteInput, "no route to \(skb.v6Daddr)")
        }
    }

    /// Multicast input: groups this host is in (all-nodes, solicited-node of its addresses,
    /// all-routers when forwarding). Mirrors `ip6_mc_input()`.
    func ip6McInput(_ skb: inout SKB, _ r: inout FrameResult) {
        let d = skb.v6Daddr
        let dev = ns.devices[skb.dev]
        var joined = d == IPv6Address(high: 0xFF02_0000_0000_0000, low: 1) || d == IPv6Address(high: 0xFF01_0000_0000_0000, low: 1)
        if !joined { joined = dev.v6.contains { $0.address.solicitedNode == d } }
        if !joined && (dev.conf6.forwarding || dev.conf6.forceForwarding) {
            joined = d == IPv6Address(high: 0xFF02_0000_0000_0000, low: 2)
        }
        if !joined {
            r.count(.ip6InDiscards)
            r.drop(.notSpecified, at: .ip6Input, "multicast \(d) not joined on \(dev.name)")
            return
        }
        r.record(.ip6RouteInput, .pass, "multicast \(d) joined on \(dev.name) → ip6_input")
        ip6Input(&skb, &r)
    }

    /// LOCAL_IN, then extension headers and the upper protocol.
    ///
    /// Mirrors `ip6_input()` → `ip6_protocol_deliver_rcu()` in net/ipv6/ip6_input.c.
    func ip6Input(_ skb: inout SKB, _ r: inout FrameResult) {
        guard nfHook(.input, ipv6: true, &skb, &r) else { return }
        ip6ProtocolDeliver(&skb, &r)
    }

    /// A routing header at `off` (fully captured) for a packet to this host: true when the
    /// packet goes on to the next header. Mirrors `ipv6_rthdr_rcv()` in net/ipv6/exthdrs.c:
    /// multicast or not-for-us packets are counted as address errors and freed; segment
    /// routing (type 4) and RPL (type 3) headers are freed silently unless `seg6_enabled` /
    /// `rpl_seg_enabled` is on for both `all` and the device; with segments left 0 any other
    /// type is skipped; otherwise an unknown type is a parameter problem pointing at the type.
    func ipv6RthdrRcv(_ skb: SKB, off: Int, _ r: inout FrameResult) -> Bool {
        let type = skb.buf.u8(off + 2), left = skb.buf.u8(off + 3)
        let hdrlen = Int(skb.buf.u8(off + 1))
        let conf = ns.devices[skb.dev].conf6
        if skb.v6Daddr.isMulticast || skb.pktType != .host {
            r.count(.ip6InAddrErrors)
            r.drop(.notSpecified, at: .ip6Input, "routing header on a packet to a multicast address or not for this host")
            return false
        }
        switch type {
        case 4, 3:
            let name = type == 4 ? "segment routing header" : "RPL source route header"
            let enabled = type == 4 ? conf.seg6Enabled : conf.rplSegEnabled
            if !enabled {
                r.drop(.notSpecified, at: .ip6Input,
                       "\(name) (\(left) segments left) freed: \(type == 4 ? "seg6_enabled" : "rpl_seg_enabled") is off for \(devName(skb.dev))")
                return false
            }
            if left == 0 {
                let next = skb.buf.u8(off)
                if type == 4 && (next == 41 || next == 4) || type == 3 && next == 41 {
                    r.fate = .delivered
                    r.record(.ip6Input, .consume, "\(name) with segments left 0 and an inner IPv\(next == 4 ? 4 : 6) packet: decapsulated and received again (netif_rx); rxray does not follow the inner packet")
                    return false
                }
                return true
            }
            if type == 4 && Int(left) >= hdrlen >> 1 {
                r.count(.ip6InHdrErrors)
                icmpv6Send(skb, type: 4, code: 0, info: UInt32(off + 3), &r)
                r.drop(.notSpecified, at: .ip6Input, "\(name): \(left) segments left but room for \(hdrlen >> 1): parameter problem")
                return false
            }
            // The next segment becomes the destination and the packet is routed again; rxray
            // does not rewrite captured packets, so the source route is not followed.
            r.drop(.notSpecified, at: .ip6Input, "\(name) with \(left) segments left: the kernel routes it to the next segment, which rxray does not follow")
            return false
        default:
            if left == 0 { return true }
            r.count(.ip6InHdrErrors)
            icmpv6Send(skb, type: 4, code: 0, info: UInt32(off + 2), &r)
            r.drop(.notSpecified, at: .ip6Input, "routing header type \(type) with \(left) segments left: unknown type, parameter problem")
            return false
        }
    }

    func ip6ProtocolDeliver(_ skb: inout SKB, _ r: inout FrameResult) {
        var nh = skb.v6NextHeader
        var off = 40
        var nhoff = 6
        // Hop-by-hop was handled in ip6_rcv_core.
        if nh == 0 {
            guard skb.captured(42) else { _ = snapped(&r, .ip6Input); return }
            nhoff = 40
            nh = skb.buf.u8(40)
            off = 40 + (Int(skb.buf.u8(41)) + 1) * 8
        }
        while true {
            switch nh {
            case 43, 60:
                guard off + 2 <= skb.len, skb.captured(off + 2) else {
                    r.count(.ip6InHdrErrors)
                    r.drop(.ipv6BadExthdr, at: .ip6Input, "extension header truncated")
                    return
                }
                let hlen = (Int(skb.buf.u8(off + 1)) + 1) * 8
                guard off + hlen <= skb.len, skb.captured(off + hlen) else {
                    r.count(.ip6InHdrErrors)
                    r.drop(.ipv6BadExthdr, at: .ip6Input, "extension header runs past the packet")
                    return
                }
                if nh == 60 {
                    guard parseTLV(&skb, start: off + 2, end: off + hlen, hopByHop: false, &r) else {
                        r.count(.ip6InHdrErrors)
                        return
                    }
                } else {
                    guard ipv6RthdrRcv(skb, off: off, &r) else { return }
                }
                nhoff = off
                nh = skb.buf.u8(off)
                off += hlen
                continue
            case 44:
                // An atomic fragment (offset 0, no more fragments) is processed as if it were
                // unfragmented (RFC 6946): counted as one reassembly, then the next header.
                if off + 8 <= skb.len, skb.captured(off + 8), skb.buf.u16(off + 2) & 0xFFF9 == 0 {
                    r.count(.ip6ReasmReqds)
                    r.count(.ip6ReasmOKs)
                    r.record(.ipv6Defrag, .pass, "atomic fragment (offset 0, M=0): processed as unfragmented")
                    nhoff = off
                    nh = skb.buf.u8(off)
                    off += 8
                    continue
                }
                ipv6FragRcv(&skb, fragOffset: off, nhoff: nhoff, &r)
                return
            default:
                break
            }
            break
        }
        skb.thoff = off
        switch nh {
        case 58:
            r.count(.ip6InDelivers)
            icmpv6Rcv(&skb, &r)
        case 6:
            r.count(.ip6InDelivers)
            tcpV6Rcv(&skb, &r)
        case 17, 136:
            r.count(.ip6InDelivers)
            udpv6Rcv(&skb, &r)
        case 59:
            r.count(.ip6InDelivers)
            r.drop(.notSpecified, at: .ip6Input, "no next header")
        case 47, 50, 51, 132, 41, 4, 103, 115:
            r.count(.ip6InDelivers)
            r.fate = .delivered
            r.record(.ip6Input, .deliver, "protocol \(nh) handler (not modelled further)")
        default:
            r.count(.ip6InUnknownProtos)
            icmpv6Send(skb, type: 4, code: 1, info: UInt32(nhoff), &r)
            r.drop(.ipNoproto, at: .ip6Input, "no handler for next header \(nh): parameter problem")
        }
    }
}
