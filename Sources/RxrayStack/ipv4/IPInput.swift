import RxrayDecode

extension Kernel {
    /// `ip_rcv`: header validation, PRE_ROUTING, then `ip_rcv_finish`.
    func ipRcv(_ skb: inout SKB, _ r: inout FrameResult) {
        guard ipRcvCore(&skb, &r) else { return }
        // Conntrack's defragmentation (PRE_ROUTING -400) gathers fragments first (netfilter/Core.swift).
        if skb.v4IsFragment && nfDefragsIPv4 { ipDefrag(&skb, &r, user: 1); return }
        guard nfHook(.prerouting, ipv6: false, &skb, &r) else { return }
        ipRcvFinish(&skb, &r)
    }

    /// Validates the IPv4 header in the kernel's order and trims Ethernet padding.
    ///
    /// Mirrors `ip_rcv_core()` in net/ipv4/ip_input.c. Returns false when the packet was
    /// dropped (the result says why).
    func ipRcvCore(_ skb: inout SKB, _ r: inout FrameResult) -> Bool {
        if skb.pktType == .otherhost {
            r.drop(.otherhost, at: .ipRcvCore, "destination MAC is not this host's (pkt_type OTHERHOST)")
            return false
        }
        r.count(.ipInReceives)
        r.count(.ipExtInOctets, skb.len)
        if skb.len < 20 {
            r.count(.ipInHdrErrors)
            r.drop(.ipInhdr, at: .ipRcvCore, "only \(skb.len) bytes, less than an IPv4 header")
            return false
        }
        guard skb.captured(20) else { return snapped(&r, .ipRcvCore) }
        let vihl = skb.buf.u8(0)
        let ihl = Int(vihl & 0x0F) * 4
        if vihl >> 4 != 4 || ihl < 20 {
            r.count(.ipInHdrErrors)
            r.drop(.ipInhdr, at: .ipRcvCore, vihl >> 4 != 4 ? "version \(vihl >> 4) in an IPv4 frame" : "IHL \(ihl / 4) below 5")
            return false
        }
        // The ECN counters add gso_segs: a GRO super-packet counts every segment.
        switch skb.buf.u8(1) & 3 {
        case 0: r.count(.ipExtInNoECTPkts, skb.groSegs)
        case 1: r.count(.ipExtInECT1Pkts, skb.groSegs)
        case 2: r.count(.ipExtInECT0Pkts, skb.groSegs)
        default: r.count(.ipExtInCEPkts, skb.groSegs)
        }
        if skb.len < ihl {
            r.count(.ipInHdrErrors)
            r.drop(.ipInhdr, at: .ipRcvCore, "header length \(ihl) exceeds the \(skb.len) bytes present")
            return false
        }
        guard skb.captured(ihl) else { return snapped(&r, .ipRcvCore) }
        // A 20-byte header (nearly all) is summed with the length known when compiled.
        if !(ihl == 20 ? skb.buf.checksumOK(0, 20) : skb.buf.checksumOK(0, ihl)) {
            r.count(.ipExtInCsumErrors)
            r.count(.ipInHdrErrors)
            r.drop(.ipCsum, at: .ipRcvCore, "header checksum 0x\(String(skb.buf.u16(10), radix: 16)) does not verify")
            return false
        }
        let tot = skb.v4TotLen
        if skb.len < tot {
            r.count(.ipExtInTruncatedPkts)
            r.drop(.pktTooSmall, at: .ipRcvCore, "total length \(tot) exceeds the \(skb.len) bytes received")
            return false
        }
        if tot < ihl {
            r.count(.ipInHdrErrors)
            r.drop(.ipInhdr, at: .ipRcvCore, "total length \(tot) below header length \(ihl)")
            return false
        }
        let padding = skb.len - tot
        skb.len = tot
        if skb.buf.count > tot { skb.buf = skb.buf.first(tot) }
        skb.thoff = ihl
        if r.wantsDetail {
            let sa = skb.v4Saddr, da = skb.v4Daddr, proto = skb.v4Proto, ttl = skb.v4TTL
            r.recordJSONSafe(.ipRcvCore, .pass, writing: { w in
                sa.write(to: &w); w.ascii(" → "); da.write(to: &w)
                w.ascii(" proto "); w.decimal(proto); w.ascii(" len "); w.decimal(tot); w.ascii(" ttl "); w.decimal(ttl)
                if padding > 0 { w.ascii(", "); w.decimal(padding); w.ascii(" bytes of padding trimmed") }
                return true
            })
        } else {
            r.record(.ipRcvCore, .pass)
        }
        return true
    }

    /// A header byte the kernel had is missing from the capture (snap length).
    func snapped(_ r: inout FrameResult, _ stage: Stage) -> Bool {
        r.drop(.notSpecified, at: stage, "the capture's snap length cut the header: the kernel's decision cannot be known")
        return false
    }

    /// Input routing, IP options, and hand-off to the route's input function.
    ///
    /// Mirrors `ip_rcv_finish()` / `ip_rcv_finish_core()` in net/ipv4/ip_input.c.
    func ipRcvFinish(_ skb: inout SKB, _ r: inout FrameResult) {
        let reason = ipRouteInputNoref(&skb, &r)
        if let reason = reason {
            if reason == .ipRpfilter { r.count(.tcpExtIPReversePathFilter) }
            r.fate = .dropped
            r.dropReason = reason
            r.dropStage = .ipRouteInput
            return
        }
        guard let rt = skb.route4 else { return }
        // IP options.
        if skb.ihl > 20 {
            guard ipRcvOptions(&skb, &r) else { return }
        }
        if rt.type == .multicast {
            r.count(.ipExtInMcastPkts)
        } else if rt.type == .broadcast {
            r.count(.ipExtInBcastPkts)
        } else if skb.pktType == .broadcast || skb.pktType == .multicast {
            if ns.devices[skb.dev].conf4.dropUnicastInL2Multicast {
                r.drop(.unicastInL2Multicast, at: .ipRcvFinish, "unicast IP in a link-layer \(skb.pktType) frame")
                return
            }
        }
        switch rt.input {
        case .localDeliver, .multicastLocal: ipLocalDeliver(&skb, &r)
        case .forward: ipForward(&skb, &r)
        case .error(let e): ipError(&skb, e, &r)
        }
    }

    /// Source-route options are refused unless `accept_source_route`; malformed options are
    /// header errors. Mirrors `ip_rcv_options()` / `ip_options_compile()`.
    func ipRcvOptions(_ skb: inout SKB, _ r: inout FrameResult) -> Bool {
        let ihl = skb.ihl
        guard skb.captured(ihl) else { return snapped(&r, .ipRcvFinish) }
        var i = 20
        var sourceRoute = false
        while i < ihl {
            let t = skb.buf.u8(i)
            if t == 0 { break }
            if t == 1 { i += 1; continue }
            guard i + 1 < ihl else { return badOption(&skb, i, &r) }
            let l = Int(skb.buf.u8(i + 1))
            if l < 2 || i + l > ihl { return badOption(&skb, i + 1, &r) }
            if t == 0x83 || t == 0x89 { sourceRoute = true }
            if t == 0x83 || t == 0x89 || t == 7 {
                if l < 3 { return badOption(&skb, i + 1, &r) }
                let p = Int(skb.buf.u8(i + 2))
                if p < 4 { return badOption(&skb, i + 2, &r) }
            }
            i += l
        }
        if sourceRoute && !ns.devices[skb.dev].conf4.acceptSourceRoute {
            r.drop(.notSpecified, at: .ipRcvFinish, "source-route option refused (accept_source_route off)")
            return false
        }
        r.record(.ipRcvFinish, .pass, "IP options accepted")
        return true
    }

    private func badOption(_ skb: inout SKB, _ pointer: Int, _ r: inout FrameResult) -> Bool {
        r.count(.ipInHdrErrors)
        icmpSend(skb, type: 12, code: 0, info: UInt32(pointer) << 24, &r)
        r.drop(.ipInhdr, at: .ipRcvFinish, "malformed IP option at byte \(pointer)")
        return false
    }

    /// Reassembles fragments, runs LOCAL_IN, then delivers to the protocol.
    ///
    /// Mirrors `ip_local_deliver()` in net/ipv4/ip_input.c.
    func ipLocalDeliver(_ skb: inout SKB, _ r: inout FrameResult) {
        if skb.v4IsFragment && !skb.reassembled {
            ipDefrag(&skb, &r)
            return
        }
        ipLocalDeliverContinue(&skb, &r)
    }

    /// Everything after reassembly: the LOCAL_IN hook and `ip_local_deliver_finish`.
    func ipLocalDeliverContinue(_ skb: inout SKB, _ r: inout FrameResult) {
        guard nfHook(.input, ipv6: false, &skb, &r) else { return }
        ipProtocolDeliver(&skb, &r)
    }

    /// Raw sockets, then the protocol handler, or protocol unreachable.
    ///
    /// Mirrors `ip_local_deliver_finish()` → `ip_protocol_deliver_rcu()` in net/ipv4/ip_input.c.
    func ipProtocolDeliver(_ skb: inout SKB, _ r: inout FrameResult) {
        let proto = skb.v4Proto
        switch proto {
        case 1:
            r.count(.ipInDelivers)
            icmpRcv(&skb, &r)
        case 6:
            r.count(.ipInDelivers)
            tcpV4Rcv(&skb, &r)
        case 17, 136:
            r.count(.ipInDelivers)
            udpRcv(&skb, &r)
        case 2, 4, 41, 47, 50, 51, 103, 112, 115, 132:
            // IGMP, IPIP, 6in4, GRE, ESP, AH, PIM, VRRP, L2TP, SCTP: handlers the kernel may have
            // (modules); their internals are not modelled.
            r.count(.ipInDelivers)
            r.fate = .delivered
            r.record(.ipLocalDeliverFinish, .deliver, "protocol \(proto) handler (not modelled further)")
        default:
            r.count(.ipInUnknownProtos)
            icmpSend(skb, type: 3, code: 2, info: 0, &r)
            r.drop(.ipNoproto, at: .ipLocalDeliverFinish, "no handler and no raw socket for protocol \(proto): protocol unreachable")
        }
    }
}
