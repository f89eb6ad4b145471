import RxrayDecode

extension Kernel {
    /// Source validation: local-source check, reverse-path filter strict/loose, accept_local.
    /// Returns the drop reason (nil = valid) and whether the source is on-link (the hint that
    /// drives redirects).
    ///
    /// Mirrors `fib_validate_source()` / `__fib_validate_source()` in net/ipv4/fib_frontend.c
    /// and 6.18's `fib_validate_source_reason()` (-EXDEV → IP_RPFILTER, other errors →
    /// IP_LOCAL_SOURCE).
    ///
    /// Takes the packet's device, mark and TOS, not the `SKB` (a by-value `SKB`, 280 bytes,
    /// was copied at every call).
    func fibValidateSource(dev: Int, mark: UInt32, tos: UInt8, saddr: IPv4Address, daddr: IPv4Address, oif: Int?,
                           _ r: inout FrameResult) -> (DropReason?, Bool) {
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
                       mark: conf.srcValidMark ? mark : 0, tos: tos & 0x1C)
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
        // The route's fields are read in place (a copy of the route retained its next hops).
        if res.type != .unicast && !(res.type == .local && conf.acceptLocal) {
            r.record(.fibValidateSource, .drop, "martian source \(saddr): reverse route is \(res.type)")
            return (.ipLocalSource, false)
        }
        var devMatch = false
        let hopCount = ns.routes4[res.route].nexthops.count
        for k in 0..<hopCount where ns.routes4[res.route].nexthops[k].dev == dev {
            devMatch = true
            break
        }
        if !devMatch { devMatch = res.type == .local && ns.devices[dev].kind == .loopback }
        if devMatch {
            let onLink = hopCount == 0 || ns.routes4[res.route].nexthops[res.nexthop].gateway == nil
            r.recordJSONSafe(.fibValidateSource, .pass) { w in
                if rpf != 0 {
                    w.ascii("rp_filter "); w.ascii(rpf == 1 ? "strict" : "loose"); w.ascii(": "); saddr.write(to: &w)
                    w.ascii(" routed back via "); w.string(ns.devices[dev].name)
                    return ns.devices[dev].nameJSONSafe
                }
                w.ascii("source "); saddr.write(to: &w); w.ascii(" valid")
                return true
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
            let via = ns.routes4[res.route].nexthops.first?.dev.map { devName($0) } ?? "?"
            r.record(.fibValidateSource, .drop, "rp_filter strict: route back to \(saddr) leaves via \(via), not \(devName(dev))")
            return (.ipRpfilter, false)
        }
        r.record(.fibValidateSource, .pass, rpf == 2 ? "rp_filter loose: \(saddr) routable" : "source \(saddr) valid")
        return (nil, false)
    }
}
