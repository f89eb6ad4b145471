import RxrayDecode

extension Kernel {
    /// Forwarding checks in the kernel's order: pkt_type, TTL, MTU with DF, redirect, the
    /// FORWARD hook, then output.
    ///
    /// Mirrors `ip_forward()` in net/ipv4/ip_forward.c as of 6.18 (IpForwDatagrams is counted
    /// before the FORWARD hook and before the MTU check).
    func ipForward(_ skb: inout SKB, _ r: inout FrameResult) {
        guard let rt = skb.route4, let out = rt.outDev else {
            r.drop(.notSpecified, at: .ipForward, "no forwarding route")
            return
        }
        if skb.pktType != .host {
            r.drop(.notSpecified, at: .ipForward, "pkt_type \(skb.pktType): only frames addressed to this host's MAC are forwarded")
            return
        }
        if skb.v4TTL <= 1 {
            r.count(.ipInHdrErrors)
            icmpSend(skb, type: 11, code: 0, info: 0, &r)
            r.drop(.ipInhdr, at: .ipForward, "TTL \(skb.v4TTL) expires here: time exceeded")
            return
        }
        r.count(.ipForwDatagrams)
        let mtu = rt.mtu
        // `ip_exceeds_mtu`: only with DF; a datagram conntrack defrag rebuilt (ignore_df) only
        // when its largest fragment (frag_max_size) exceeds the MTU.
        if skb.len > mtu && skb.v4DF && (skb.fragMaxSize > mtu || !skb.reassembled) {
            r.count(.ipFragFails)
            icmpSend(skb, type: 3, code: 4, info: UInt32(mtu), &r)
            r.drop(.pktTooBig, at: .ipForward, "\(skb.len) bytes with DF exceed the MTU \(mtu) of \(devName(out)): fragmentation needed")
            return
        }
        if rt.doRedirect {
            if let gw = rt.gateway ?? Optional(skb.v4Daddr) {
                r.record(.ipForward, .note, "leaves through the interface it came in on: ICMP redirect to \(gw)")
                icmpSendRedirect(skb, gateway: gw, &r)
            }
        }
        guard nfHook(.forward, ipv6: false, &skb, &r) else { return }
        ipOutput(&skb, out: out, gateway: rt.gateway, mtu: mtu, &r)
    }

    /// Redirect with its own back-off (`ip_rt_send_redirect`, net/ipv4/route.c): the first 9
    /// to a peer are sent, each at least 20 ms << (redirects sent so far) after the previous
    /// one; after 9 nothing more is sent while redirected packets keep coming, and a peer
    /// with no redirected packet for `RedirectState.silence` starts over.
    func icmpSendRedirect(_ skb: SKB, gateway: IPv4Address, _ r: inout FrameResult) {
        let key = IPAddress.v4(skb.v4Saddr)
        var st = redirects[key] ?? RedirectState()
        if st.count > 0 && now &- st.last > RedirectState.silence { st.count = 0 }
        if st.count >= RedirectState.number {
            // The host ignores redirects: each redirected packet moves the silence forward.
            st.last = now
            redirects[key] = st
            r.record(.ipForward, .note, "redirect suppressed (ip_rt_redirect back-off)")
            return
        }
        let gap = RedirectState.load << Int64(st.count)
        let send = st.count == 0 || now > st.last &+ gap
        if send {
            st.count += 1
            st.last = now
            redirects[key] = st
            if redirects.count >= redirectsSweepAt { sweepRedirects() }
            guard let (out, src) = outputRoute(to: skb.v4Saddr, preferredSource: nil, inbound: skb.dev) else { return }
            r.count(.icmpOutMsgs)
            r.count(.ipOutRequests)  // icmp_send → ip_local_out, like every ICMP message
            r.replies.append(Reply(kind: .icmp(type: 5, code: 1), interface: devName(out), source: .v4(src),
                                   destination: .v4(skb.v4Saddr), summary: r.wantsDetail ? "redirect host to \(gateway)" : ""))
        } else {
            redirects[key] = st
            r.record(.ipForward, .note, "redirect suppressed (ip_rt_redirect back-off)")
        }
    }

    /// POST_ROUTING, fragmentation of non-DF packets over the MTU, and the neighbour.
    ///
    /// Mirrors `ip_output()` → `ip_finish_output()` → `ip_finish_output2()` in
    /// net/ipv4/ip_output.c.
    func ipOutput(_ skb: inout SKB, out: Int, gateway: IPv4Address?, mtu: Int, _ r: inout FrameResult) {
        guard nfHook(.postrouting, ipv6: false, &skb, &r) else { return }
        var n = 1
        if skb.len > mtu || skb.fragMaxSize > 0 {
            guard let k = ipFragment(skb, mtu: mtu, &r) else { return }
            n = k
        }
        r.count(.ipOutTransmits, n)
        neighForward(to: .v4(gateway ?? skb.v4Daddr), dev: out, source: .v4(skb.v4Saddr), len: skb.len, inDev: skb.dev,
                     stage: .ipOutput, &r)
    }

    /// How many fragments a packet longer than the MTU, or rebuilt from fragments, leaves in;
    /// nil when it cannot be fragmented (dropped, with ICMP fragmentation needed).
    ///
    /// Mirrors `ip_fragment()` → `ip_do_fragment()` in net/ipv4/ip_output.c: DF refuses unless
    /// the packet may ignore it (a datagram conntrack defrag rebuilt, whose largest fragment fits);
    /// the size is the MTU or `frag_max_size` when smaller; a rebuilt datagram whose fragments
    /// all fit goes out in them again (the fast path over its fragment list, DF cleared),
    /// anything else is cut into MTU-sized pieces on 8-byte boundaries (the slow path).
    func ipFragment(_ skb: SKB, mtu: Int, _ r: inout FrameResult) -> Int? {
        let hlen = skb.ihl
        if skb.v4DF && (!skb.reassembled || skb.fragMaxSize > mtu) {
            r.count(.ipFragFails)
            icmpSend(skb, type: 3, code: 4, info: UInt32(mtu), &r)
            r.drop(.notSpecified, at: .ipOutput, "ip_fragment: \(skb.len) bytes with DF (frag_max_size \(skb.fragMaxSize)) do not fit the MTU \(mtu): fragmentation needed")
            return nil
        }
        let size = skb.fragMaxSize > 0 && skb.fragMaxSize < mtu ? skb.fragMaxSize : mtu
        if size < hlen + 8 {
            r.count(.ipFragFails)
            r.drop(.notSpecified, at: .ipOutput, "ip_do_fragment: MTU \(size) leaves no room for data after a \(hlen)-byte header")
            return nil
        }
        var n = 0
        let fast = skb.reassembled && skb.groSegs > 1 && skb.fragMaxSize <= size
        if fast {
            n = skb.groSegs
        } else {
            let room = size - hlen
            var left = skb.len - hlen
            while left > 0 {
                var l = min(left, room)
                if l < left { l &= ~7 }
                left -= l
                n += 1
            }
        }
        r.count(.ipFragOKs)
        r.count(.ipFragCreates, n)
        if r.wantsDetail {
            r.record(.ipOutput, .note, fast ? "ip_do_fragment: sent again in the \(n) fragments it came in (frag_max_size \(skb.fragMaxSize), MTU \(mtu))"
                                            : "ip_do_fragment: cut into \(n) fragments of at most \(size) bytes (MTU \(mtu)\(skb.fragMaxSize > 0 ? ", frag_max_size \(skb.fragMaxSize)" : ""))")
        }
        return n
    }
}

/// Redirect back-off per source host.
struct RedirectState {
    var count = 0
    var last: Int64 = 0
    /// `ip_rt_redirect_number`: redirects sent before the back-off stops sending.
    static let number = 9
    /// `ip_rt_redirect_load` (HZ / 50): the first gap, doubled per redirect sent.
    static let load: Int64 = 20_000_000
    /// `ip_rt_redirect_silence` (load << 10, 20.48 s): quiet time after which a peer starts over.
    static let silence: Int64 = load << 10
}
