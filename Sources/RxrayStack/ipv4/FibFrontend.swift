import RxrayDecode

extension Kernel {
    /// Source validation: local-source check, reverse-path filter strict/loose, accept_local.
    /// Returns the drop reason (nil = valid) and whether the source is on-link (the hint that
    /// drives redirects).
    ///
    /// Mirrors `fib_validate_source()` / `__fib_validate_source()` in net/ipv4/fib_frontend.c
    /// and 6.18's `fib_validate_source_reason()` (-EXDEV → IP_RPFILTER, other errors →
    /// IP_LOCAL_SOURCE).
    func fibValidateSource(_ skb: SKB, saddr: IPv4Address, daddr: IPv4Address, oif: Int?,
                           _ r: inout FrameResult) -> (DropReason?, Bool) {
        let dev = skb.dev
        let conf = ns.devices[dev].conf4
        let rpf = conf.rpFilter
        let customRules = customRules4
        if rpf == 0 && (oif != dev || !conf.sendRedirects) {
            if conf.acceptLocal { return (nil, false) }
            if !customRules {
                if ns.isLocalAddress(saddr) {
                    r.record(.fibValidateSource, .drop, "martian source \(saddr): a local address of this host")
                    return (.ipLocalSource, false)
                }
                return (nil, false)
            }
        }
        // Full check: reverse lookup toward the source.
        let fl = Flow4(daddr: saddr, saddr: daddr, iif: oif ?? ns.loopback, oif: nil,
                       mark: conf.srcValidMark ? skb.mark : 0, tos: skb.v4TOS & 0x1C)
        let lk = fibLookupCached(fl)
        let noAddr = ns.devices[dev].v4.isEmpty
        let rpfName = rpf == 1 ? "strict" : "loose"
        guard let res = lk.result else {
            if rpf != 0 {
                r.record(.fibValidateSource, .drop, "rp_filter \(rpfName): no route back to \(saddr)")
                return (.ipRpfilter, false)
            }
            return (nil, false)
        }
        let route = ns.routes4[res.route]
        if res.type != .unicast && !(res.type == .local && conf.acceptLocal) {
            r.record(.fibValidateSource, .drop, "martian source \(saddr): reverse route is \(res.type)")
            return (.ipLocalSource, false)
        }
        let devMatch = route.nexthops.contains { $0.dev == dev } || (res.type == .local && ns.devices[dev].kind == .loopback)
        if devMatch {
            let nh = route.nexthops.isEmpty ? nil : route.nexthops[res.nexthop]
            let onLink = nh?.gateway == nil
            let name = devName(dev)
            r.record(.fibValidateSource, .pass) { w in
                if rpf != 0 {
                    w.ascii("rp_filter "); w.string(rpfName); w.ascii(": "); saddr.write(to: &w)
                    w.ascii(" routed back via "); w.string(name)
                } else {
                    w.ascii("source "); saddr.write(to: &w); w.ascii(" valid")
                }
            }
            return (nil, onLink)
        }
        if noAddr {
            if rpf != 0 {
                r.record(.fibValidateSource, .drop, "rp_filter \(rpfName): \(devName(dev)) has no IPv4 address")
                return (.ipRpfilter, false)
            }
            return (nil, false)
        }
        if rpf == 1 {
            let via = route.nexthops.first?.dev.map { devName($0) } ?? "?"
            r.record(.fibValidateSource, .drop, "rp_filter strict: route back to \(saddr) leaves via \(via), not \(devName(dev))")
            return (.ipRpfilter, false)
        }
        r.record(.fibValidateSource, .pass, rpf == 2 ? "rp_filter loose: \(saddr) routable" : "source \(saddr) valid")
        return (nil, false)
    }
}
