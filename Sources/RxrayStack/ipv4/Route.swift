import RxrayDecode

extension Kernel {
    /// Input route lookup: multicast first, then the slow path. Returns the drop reason when
    /// the route lookup itself fails (martians, reverse-path filter), nil when a route (which may
    /// be an error route handled by `ip_error`) is attached.
    ///
    /// Mirrors `ip_route_input_noref()` → `ip_route_input_rcu()` in net/ipv4/route.c (6.18,
    /// where the routing code returns drop reasons).
    func ipRouteInputNoref(_ skb: inout SKB, _ r: inout FrameResult) -> DropReason? {
        let daddr = skb.v4Daddr
        let saddr = skb.v4Saddr
        if daddr.isMulticast {
            // ip_check_mc_rcu: the device's joined groups (`ip maddr`; 224.0.0.1 is joined by
            // every IPv4 device); IGMP is accepted whether joined or not. Per-socket source
            // filters (IGMPv3 INCLUDE/EXCLUDE lists) are not in the host model.
            let ours = ns.hasJoined(daddr, dev: skb.dev) || skb.v4Proto == 2
            if !ours {
                // Not joined and not multicast-forwarded: the routing code gives no reason, so
                // ip_rcv_finish_core frees it as NOT_SPECIFIED.
                r.record(.ipRouteInput, .drop, "multicast \(daddr): group not joined on \(devName(skb.dev))")
                return .notSpecified
            }
            if saddr.isMulticast || saddr.isLimitedBroadcast || (saddr.value == 0 && skb.v4Proto != 2) {
                r.record(.ipRouteInput, .drop, "martian source \(saddr) for multicast")
                return .ipInvalidSource
            }
            if saddr.value != 0 {
                let (reason, _) = fibValidateSource(dev: skb.dev, mark: skb.mark, tos: skb.v4TOS, saddr: saddr, daddr: IPv4Address(0), oif: nil, &r)
                if let reason = reason { return reason }
            }
            skb.route4 = InputRoute4(input: .multicastLocal, type: .multicast)
            r.record(.ipRouteInput, .pass, "multicast \(daddr): local group → ip_local_deliver")
            return nil
        }
        return ipRouteInputSlow(&skb, &r)
    }

    /// Unicast and broadcast input routing in the kernel's order: martian checks, policy
    /// routing, local/broadcast/forward decision.
    ///
    /// Mirrors `ip_route_input_slow()` in net/ipv4/route.c. Called through the memo
    /// (`ipRouteInputSlow`, ipv4/RouteMemo.swift); reads nothing of `skb.route4`.
    func ipRouteInputSlowFull(_ skb: inout SKB, _ r: inout FrameResult) -> DropReason? {
        let daddr = skb.v4Daddr
        let saddr = skb.v4Saddr
        let dev = skb.dev
        let conf = ns.devices[dev].conf4
        if saddr.isMulticast || saddr.isLimitedBroadcast {
            r.record(.ipRouteInput, .drop, "martian source \(saddr) (multicast or limited broadcast)")
            return .ipInvalidSource
        }
        if daddr.isLimitedBroadcast || (saddr.value == 0 && daddr.value == 0) {
            return brdInput(&skb, &r, route: nil, rule: nil)
        }
        if saddr.value == 0 {
            r.record(.ipRouteInput, .drop, "martian source 0.0.0.0")
            return .ipInvalidSource
        }
        if daddr.value == 0 {
            r.record(.ipRouteInput, .drop, "martian destination 0.0.0.0")
            return .ipInvalidDest
        }
        if daddr.isLoopback && !conf.routeLocalnet {
            r.record(.ipRouteInput, .drop, "martian destination \(daddr) (127/8 without route_localnet)")
            return .ipLocalnet
        }
        if saddr.isLoopback && !conf.routeLocalnet {
            r.record(.ipRouteInput, .drop, "martian source \(saddr) (127/8 without route_localnet)")
            return .ipLocalnet
        }
        var fl = Flow4(daddr: daddr, saddr: saddr, iif: dev, oif: nil, mark: skb.mark, tos: skb.v4TOS & 0x1C,
                       proto: skb.v4Proto)
        if skb.captured(skb.ihl + 4) && (fl.proto == 6 || fl.proto == 17) && !skb.v4IsFragment {
            fl.sport = skb.buf.u16(skb.ihl)
            fl.dport = skb.buf.u16(skb.ihl + 2)
        }
        let lk = fibLookupCached(fl)
        guard let res = lk.result else {
            var err = lk.error ?? .netUnreach
            if !conf.forwarding { err = .hostUnreach }
            if r.wantsDetail {
                var s = "fib_lookup \(daddr): " + lookupFailureText(lk)
                if !conf.forwarding { s += "; forwarding off on \(devName(dev)) → EHOSTUNREACH" }
                r.record(.ipRouteInput, .note, s + " → ip_error")
            }
            skb.route4 = InputRoute4(input: .error(err), type: .unreachable, route: lk.route, rule: lk.rule)
            return nil
        }
        if res.type == .broadcast {
            if conf.bcForwarding {
                return mkrouteInput(&skb, res, fl, &r)
            }
            return brdInput(&skb, &r, route: res.route, rule: res.rule)
        }
        if res.type == .local {
            let (reason, _) = fibValidateSource(dev: skb.dev, mark: skb.mark, tos: skb.v4TOS, saddr: saddr, daddr: daddr, oif: nil, &r)
            if let reason = reason { return reason }
            skb.route4 = InputRoute4(input: .localDeliver, type: .local, route: res.route, rule: res.rule,
                                     outDev: ns.loopback)
            if r.wantsDetail {
                r.record(.ipRouteInput, .pass) { w in writeRoute(res, to: &w); w.ascii(" → ip_local_deliver") }
            } else {
                r.record(.ipRouteInput, .pass)
            }
            return nil
        }
        if !conf.forwarding {
            if r.wantsDetail {
                r.record(.ipRouteInput, .note, "\(routeText(res)), but forwarding is off on \(devName(dev)) → EHOSTUNREACH → ip_error")
            }
            skb.route4 = InputRoute4(input: .error(.hostUnreach), type: .unreachable, route: res.route, rule: res.rule)
            return nil
        }
        let routeType = ns.routes4[res.route].type
        if routeType != .unicast {
            r.record(.ipRouteInput, .drop, "martian destination: route type \(routeType)")
            return .ipInvalidDest
        }
        return mkrouteInput(&skb, res, fl, &r)
    }

    /// Broadcast input: validate a non-zero source, deliver locally.
    private func brdInput(_ skb: inout SKB, _ r: inout FrameResult, route: Int?, rule: Int?) -> DropReason? {
        let saddr = skb.v4Saddr
        if saddr.value != 0 {
            let (reason, _) = fibValidateSource(dev: skb.dev, mark: skb.mark, tos: skb.v4TOS, saddr: saddr, daddr: IPv4Address(0), oif: nil, &r)
            if let reason = reason { return reason }
        }
        skb.route4 = InputRoute4(input: .localDeliver, type: .broadcast, route: route, rule: rule)
        r.record(.ipRouteInput, .pass, "broadcast \(skb.v4Daddr) → ip_local_deliver")
        return nil
    }

    /// Builds the forwarding route: source validation against the egress device, redirect
    /// marking, MTU. Mirrors `__mkroute_input()` in net/ipv4/route.c.
    private func mkrouteInput(_ skb: inout SKB, _ res: FibResult4, _ fl: Flow4, _ r: inout FrameResult) -> DropReason? {
        // Fields read in place: a copy of the route retained its next hops.
        let nh = ns.routes4[res.route].nexthops.isEmpty ? NextHop4(dev: nil, gateway: nil) : ns.routes4[res.route].nexthops[res.nexthop]
        guard let out = nh.dev else {
            r.record(.ipRouteInput, .drop, "\(routeText(res)) has no output device")
            return .ipInvalidDest
        }
        let (reason, onLink) = fibValidateSource(dev: skb.dev, mark: skb.mark, tos: skb.v4TOS, saddr: skb.v4Saddr, daddr: skb.v4Daddr, oif: out, &r)
        if let reason = reason { return reason }
        var rt = InputRoute4(input: .forward, type: ns.routes4[res.route].type, route: res.route, rule: res.rule, outDev: out,
                             gateway: nh.gateway)
        rt.mtu = ns.routes4[res.route].mtu ?? ns.devices[out].mtu
        let conf = ns.devices[skb.dev].conf4
        if out == skb.dev && onLink && conf.sendRedirects {
            if conf.sharedMedia || (nh.gateway.map { g in ns.devices[out].v4.contains { $0.contains(g) && $0.contains(skb.v4Saddr) } } ?? false) {
                rt.doRedirect = true
            }
        }
        skb.route4 = rt
        if r.wantsDetail {
            let gw = nh.gateway, outName = devName(out)
            r.record(.ipRouteInput, .pass) { w in
                writeRoute(res, to: &w); w.ascii(" → ip_forward via "); w.string(outName)
                if let g = gw { w.ascii(" gw "); g.write(to: &w) }
            }
        } else {
            r.record(.ipRouteInput, .pass)
        }
        return nil
    }

    func routeText(_ res: FibResult4) -> String {
        ByteWriter.string { writeRoute(res, to: &$0) }
    }

    func lookupFailureText(_ lk: FibLookup4) -> String {
        var s: String
        if let rt = lk.route {
            s = "route \(ns.routes4[rt].text(ns)) → \(lk.error ?? .netUnreach)"
        } else if let e = lk.error, e != .netUnreach || lk.rule != nil, let ru = lk.rule,
                  case .table = ns.rules4[ru].action {
            s = "no route → \(e)"
        } else if let ru = lk.rule, let e = lk.error {
            switch ns.rules4[ru].action {
            case .table, .goto, .nop: s = "no route → \(e)"
            default: s = "rule \(ns.rules4[ru].text(ns)) → \(e)"
            }
        } else {
            s = "no route → ENETUNREACH"
        }
        return s
    }

    /// Packets whose route is an error route: counters, ICMP unreachable (rate limited per
    /// source), drop. Mirrors `ip_error()` in net/ipv4/route.c.
    func ipError(_ skb: inout SKB, _ err: RouteError, _ r: inout FrameResult) {
        let conf = ns.devices[skb.dev].conf4
        if !conf.forwarding {
            switch err {
            case .hostUnreach:
                r.count(.ipInAddrErrors)
                r.drop(.ipInaddrerrors, at: .ipError, "not a local address and forwarding is off on \(devName(skb.dev))")
            case .netUnreach:
                r.count(.ipExtInNoRoutes)
                r.drop(.ipInnoroutes, at: .ipError, "no route")
            default:
                r.drop(.notSpecified, at: .ipError, "route error \(err)")
            }
            return
        }
        var code: UInt8
        var reason = DropReason.notSpecified
        switch err {
        case .hostUnreach: code = 1
        case .netUnreach:
            code = 0
            reason = .ipInnoroutes
            r.count(.ipExtInNoRoutes)
        case .acces: code = 13
        default:
            r.drop(.notSpecified, at: .ipError, "blackhole: discarded silently")
            return
        }
        if peerAllow(.v4(skb.v4Saddr), cost: 1_000_000_000, burst: 5_000_000_000) {
            icmpSend(skb, type: 3, code: code, info: 0, &r)
        } else {
            r.record(.ipError, .note, "ip_error rate limit (ip_rt_error_cost) suppressed the ICMP")
        }
        let what = code == 0 ? "network unreachable" : code == 1 ? "host unreachable" : "administratively prohibited"
        r.drop(reason, at: .ipError, "\(what) (\(err))")
    }
}
