import RxrayDecode

extension Kernel {
    /// IPv6 forwarding in the kernel's order.
    ///
    /// Mirrors `ip6_forward()` in net/ipv6/ip6_output.c (6.18: global `conf.all.forwarding` or
    /// the device's `force_forwarding`).
    func ip6Forward(_ skb: inout SKB, _ r: inout FrameResult) {
        guard let rt = skb.route6, let out = rt.outDev else {
            r.drop(.notSpecified, at: .ip6Forward, "no output device")
            return
        }
        let conf = ns.devices[skb.dev].conf6
        if !conf.forwarding && !conf.forceForwarding {
            r.count(.ip6InAddrErrors)
            r.drop(.ipInaddrerrors, at: .ip6Forward, "not a local address and IPv6 forwarding is off")
            return
        }
        if skb.pktType != .host {
            r.drop(.notSpecified, at: .ip6Forward, "pkt_type \(skb.pktType): not forwarded")
            return
        }
        if skb.v6HopLimit <= 1 {
            r.count(.ip6InHdrErrors)
            icmpv6Send(skb, type: 3, code: 0, info: 0, &r)
            r.drop(.ipInhdr, at: .ip6Forward, "hop limit \(skb.v6HopLimit) expires here: time exceeded")
            return
        }
        if out == skb.dev {
            let target = rt.gateway ?? skb.v6Daddr
            if peerAllow(.v6(skb.v6Saddr), cost: 1_000_000_000, burst: 6_000_000_000) {
                r.replies.append(Reply(kind: .icmpv6(type: 137, code: 0), interface: devName(out), source: nil,
                                       destination: .v6(skb.v6Saddr), summary: r.wantsDetail ? "redirect to \(target)" : ""))
                r.count(.icmp6OutMsgs)
            }
        } else {
            let s = skb.v6Saddr
            if s.isUnspecified || s.isMulticast || s.isLoopback {
                r.count(.ip6InAddrErrors)
                r.drop(.ipInaddrerrors, at: .ip6Forward, "source \(s) may not be forwarded")
                return
            }
            if s.isLinkLocal {
                icmpv6Send(skb, type: 1, code: 2, info: 0, &r)
                r.count(.ip6InAddrErrors)
                r.drop(.ipInaddrerrors, at: .ip6Forward, "link-local source \(s) beyond its scope")
                return
            }
        }
        // 6.18 counts the datagram as forwarded before the MTU check and the FORWARD hook.
        r.count(.ip6OutForwDatagrams)
        let mtu = max(1280, rt.mtu)
        // `ip6_pkt_too_big`: a datagram conntrack defrag rebuilt (ignore_df, frag_max_size) is
        // too big only when its largest fragment was; it leaves in its fragments.
        if skb.len > mtu && (!skb.reassembled || skb.fragMaxSize > mtu) {
            icmpv6Send(skb, type: 2, code: 0, info: UInt32(mtu), &r)
            r.count(.ip6InTooBigErrors)
            let what = skb.reassembled ? "its largest fragment (frag_max_size \(skb.fragMaxSize)) exceeds" : "\(skb.len) bytes exceed"
            r.drop(.pktTooBig, at: .ip6Forward, "\(what) the MTU \(mtu) of \(devName(out)): packet too big")
            return
        }
        guard nfHook(.forward, ipv6: true, &skb, &r) else { return }
        guard nfHook(.postrouting, ipv6: true, &skb, &r) else { return }
        ip6RefragmentNote(skb, mtu: mtu, &r)
        neighForward(to: .v6(rt.gateway ?? skb.v6Daddr), dev: out, source: .v6(skb.v6Saddr), len: skb.len, inDev: skb.dev,
                     stage: .ip6Forward, &r)
    }

    /// `ip6_finish_output` → `ip6_fragment` for a datagram conntrack defrag rebuilt: longer than
    /// the MTU or than its largest fragment, it is sent in fragments again. The fragment list
    /// fits (every fragment is at most `frag_max_size`, raised to 1280), so ip6_fragment's fast
    /// path sends the original fragments: one per fragment received (Ip6FragOKs,
    /// Ip6FragCreates; the host model has no counters for them yet).
    func ip6RefragmentNote(_ skb: SKB, mtu: Int, _ r: inout FrameResult) {
        guard skb.reassembled, skb.fragMaxSize > 0, skb.len > mtu || skb.len > skb.fragMaxSize else { return }
        if r.wantsDetail {
            r.record(.ip6Forward, .note, "ip6_fragment: sent again in the \(skb.groSegs) fragments it came in (frag_max_size \(skb.fragMaxSize), MTU \(mtu))")
        }
    }

    /// The device a locally generated IPv6 packet to `dst` leaves through.
    func outputRoute6(to dst: IPv6Address, inbound: Int) -> Int? {
        if dst.isLinkLocal || dst.isMulticast { return inbound }
        let lk = ns.fib6Lookup(Flow6(daddr: dst, saddr: .any, iif: ns.loopback))
        guard let rt = lk.route, lk.error == nil else { return nil }
        return ns.routes6[rt].dev ?? inbound
    }
}
