import RxrayDecode

// Stage detail text written straight into the result's detail bytes (FrameResult.record(_:_:writing:)):
// the records every forwarded or delivered frame makes. Routes have one spelling:
// `Route4.text`, `Route6.text` and `Kernel.routeText` are made from these writers;
// `writeNeighDescription` falls back to `neighDescription` for its rare cases.

extension Route4 {
    /// Appends the route as `ip route` prints it (`text(ns)` is made from this).
    func write(_ ns: Netns, to w: inout ByteWriter) {
        if type != .unicast { w.string(type.description); w.byte(32) }
        if length == 0 {
            w.ascii("default")
        } else {
            prefix.write(to: &w)
            if length != 32 { w.byte(47); w.decimal(length) }
        }
        if let nh = nexthops.first {
            if let g = nh.gateway { w.ascii(" via "); g.write(to: &w) }
            if let d = nh.dev { w.ascii(" dev "); w.string(ns.devices[d].name) }
        }
        if metric != 0 { w.ascii(" metric "); w.decimal(metric) }
        if table != FibTableID.main { w.ascii(" table "); w.string(FibTableID.name(table)) }
    }
}

extension Route6 {
    /// Appends the route as `ip -6 route` prints it (`text(ns)` is made from this).
    func write(_ ns: Netns, to w: inout ByteWriter) {
        if type != .unicast { w.string(type.description); w.byte(32) }
        if length == 0 {
            w.ascii("default")
        } else {
            prefix.write(to: &w); w.byte(47); w.decimal(length)
        }
        if let g = gateway { w.ascii(" via "); g.write(to: &w) }
        if let d = dev { w.ascii(" dev "); w.string(ns.devices[d].name) }
        if table != FibTableID.main { w.ascii(" table "); w.string(FibTableID.name(table)) }
    }
}

extension Kernel {
    /// Appends the note a NAT rewrite leaves (`NAT: packet now SRC > DST`).
    func writeNat(_ skb: SKB, ipv6: Bool, to w: inout ByteWriter) {
        w.ascii("NAT: packet now ")
        if ipv6 {
            skb.v6Saddr.write(to: &w); w.ascii(" > "); skb.v6Daddr.write(to: &w)
        } else {
            skb.v4Saddr.write(to: &w); w.ascii(" > "); skb.v4Daddr.write(to: &w)
        }
    }

    /// Appends the route a lookup chose, and its policy rule when the host has custom rules.
    func writeRoute(_ res: FibResult4, to w: inout ByteWriter) {
        w.ascii("route ")
        ns.routes4[res.route].write(ns, to: &w)
        if let ru = res.rule, customRules4 { w.ascii(" (rule "); w.string(ns.rules4[ru].text(ns)); w.byte(41) }
    }

    /// Appends `neighDescription(addr, dev:)`; the common case (a known entry) without a String.
    /// Returns whether the text needs no JSON escape (known for the common case: an address,
    /// a MAC and a state name).
    @discardableResult
    func writeNeighDescription(_ addr: IPAddress, dev: Int, to w: inout ByteWriter) -> Bool {
        if ns.neighboursKnown && neighNeedsResolution(dev), let e = neigh.entries[NeighKey(address: addr, dev: dev)] {
            w.ascii("neighbour "); addr.write(to: &w); w.ascii(" is ")
            if let l = e.lladdr { l.write(to: &w) } else { w.ascii("unresolved") }
            w.ascii(" ("); w.string(e.state.name); w.byte(41)
            return true
        }
        w.string(neighDescription(addr, dev: dev))
        return false
    }
}
