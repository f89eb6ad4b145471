import RxrayDecode

extension Kernel {
    /// ARP input: sanity checks, the ARP_IN hook, then `arp_process`.
    ///
    /// Mirrors `arp_rcv()` and `arp_process()` in net/ipv4/arp.c: requests for a local address
    /// are answered as arp_ignore / arp_filter allow; everything that passes is consumed.
    func arpRcv(_ skb: inout SKB, _ r: inout FrameResult) {
        let dev = ns.devices[skb.dev]
        if skb.pktType == .otherhost || skb.pktType == .loopback {
            r.fate = .delivered
            r.record(.arpRcv, .consume, "pkt_type \(skb.pktType): ignored")
            return
        }
        guard skb.len >= 28 else {
            r.drop(.notSpecified, at: .arpRcv, "ARP message of \(skb.len) bytes is too short")
            return
        }
        guard skb.captured(28) else { _ = snapped(&r, .arpRcv); return }
        let b = skb.buf
        let hrd = b.u16(0), pro = b.u16(2), hln = b.u8(4), pln = b.u8(5), op = b.u16(6)
        if hln != 6 || pln != 4 {
            r.drop(.notSpecified, at: .arpRcv, "hardware/protocol address lengths \(hln)/\(pln)")
            return
        }
        guard nfHook(.arpIn, ipv6: false, &skb, &r) else { return }
        if (hrd != 1 && hrd != 6) || pro != 0x0800 {
            r.drop(.notSpecified, at: .arpRcv, "hardware type \(hrd) / protocol 0x\(String(pro, radix: 16)) not Ethernet/IPv4")
            return
        }
        if op != 1 && op != 2 {
            r.drop(.notSpecified, at: .arpRcv, "ARP opcode \(op) is neither request nor reply")
            return
        }
        let sha = b.macAt(8)
        let sip = b.v4At(14)
        let tip = b.v4At(24)
        let conf = dev.conf4
        if tip.isMulticast || (!conf.routeLocalnet && tip.isLoopback) {
            r.drop(.notSpecified, at: .arpRcv, "target \(tip) is multicast or loopback")
            return
        }
        r.fate = .delivered
        let gratuitous = sip == tip
        // Duplicate address detection probe (sender 0.0.0.0).
        if sip.value == 0 {
            if op == 1 && ns.isLocalAddress(tip) && arpIgnoreAllows(skb.dev, sip: sip, tip: tip) {
                arpReply(skb, sha: sha, sip: sip, tip: tip, &r)
                r.record(.arpRcv, .deliver, "DAD probe for our \(tip): answered")
            } else {
                r.record(.arpRcv, .consume, "DAD probe for \(tip)")
            }
            return
        }
        if op == 1 {
            // The request is routed like a packet from sip to tip.
            var probe = skb
            let routed = arpRouteInput(&probe, sip: sip, tip: tip)
            if routed == .local {
                var dontSend = !arpIgnoreAllows(skb.dev, sip: sip, tip: tip)
                var why = dontSend ? "arp_ignore \(conf.arpIgnore)" : ""
                if !dontSend && conf.arpFilter {
                    if let (out, _) = outputRoute(to: sip, preferredSource: tip, inbound: skb.dev), out != skb.dev {
                        dontSend = true
                        why = "arp_filter: the route to \(sip) leaves via \(devName(out))"
                    }
                }
                if dontSend {
                    r.record(.arpRcv, .consume, "request for local \(tip) from \(sip): not answered (\(why))")
                } else {
                    // neigh_event_ns: the asker's entry becomes STALE with its address.
                    neighUpdate(NeighKey(address: .v4(sip), dev: skb.dev), lladdr: sha, new: .stale, override: true,
                                create: true, &r)
                    arpReply(skb, sha: sha, sip: sip, tip: tip, &r)
                    r.recordJSONSafe(.arpRcv, .deliver) { w in
                        w.ascii("request for local "); tip.write(to: &w); w.ascii(" from "); sip.write(to: &w)
                        w.ascii(" ("); sha.write(to: &w); w.ascii("): answered")
                        return true
                    }
                }
                return
            }
            if routed == .forward && conf.proxyARP {
                r.record(.arpRcv, .consume, "request for \(tip): proxy ARP is on (proxy decision not modelled)")
                return
            }
        }
        let tha = b.macAt(18)
        let learned = arpUpdateNeighbours(skb, op: op, sip: sip, tip: tip, sha: sha, tha: tha, &r)
        r.record(.arpRcv, .consume) { w in
            if op == 1 {
                if gratuitous {
                    w.ascii("gratuitous ARP request for "); sip.write(to: &w)
                } else {
                    w.ascii("request for "); tip.write(to: &w); w.ascii(", not a local address: consumed")
                }
            } else if gratuitous {
                w.ascii("gratuitous ARP reply for "); sip.write(to: &w)
            } else {
                w.ascii("ARP reply "); sip.write(to: &w); w.ascii(" is-at "); sha.write(to: &w)
            }
            w.string(learned)
        }
    }

    /// The "update our ARP tables" step of `arp_process`: an existing entry for the sender is
    /// updated (REACHABLE for a unicast reply, else STALE); a new one is created only as
    /// `arp_accept` allows (gratuitous ARP, or any reply from a unicast address).
    /// - Returns: text for the trace.
    private func arpUpdateNeighbours(_ skb: SKB, op: UInt16, sip: IPv4Address, tip: IPv4Address, sha: MACAddress,
                                     tha: MACAddress, _ r: inout FrameResult) -> String {
        guard ns.neighboursKnown else { return "" }
        neighLoad()
        let dev = ns.devices[skb.dev]
        let key = NeighKey(address: .v4(sip), dev: skb.dev)
        let existing = neigh.entries[key]
        let accept: Bool
        switch dev.conf4.arpAccept {
        case 1: accept = true
        case 2: accept = dev.v4.contains { $0.contains(sip) }
        default: accept = false
        }
        let sipUnicast = !ns.isLocalAddress(sip) && !sip.isMulticast && !sip.isLimitedBroadcast && sip.value != 0
            && !dev.v4.contains { $0.broadcast == sip }
        var garp = false
        if existing != nil || accept {
            garp = sip == tip && (op == 1 || tha == sha) && sipUnicast
        }
        let create = accept && existing == nil && (garp || (op == 2 && sipUnicast))
        guard existing != nil || create else {
            return sip == tip ? " (arp_accept \(dev.conf4.arpAccept): no new neighbour entry)" : ": no entry for \(sip), none created"
        }
        let p = neighParms(skb.dev, v6: false)
        let state: NUDState = op == 2 && skb.pktType == .host ? .reachable : .stale
        let override = existing.map { now > $0.updated &+ p.locktime } ?? true || garp
        let changed = neighUpdate(key, lladdr: sha, new: state, override: override, create: create, &r)
        return changed ? (create ? ": neighbour entry created" : ": neighbour updated") : ": neighbour entry kept"
    }

    private enum ArpRoute { case local, forward, none }

    /// `ip_route_input_noref(skb, tip, sip, 0, dev)` as `arp_process` calls it.
    private func arpRouteInput(_ skb: inout SKB, sip: IPv4Address, tip: IPv4Address) -> ArpRoute {
        if sip.isMulticast || sip.isLimitedBroadcast || tip.value == 0 { return .none }
        let conf = ns.devices[skb.dev].conf4
        if (sip.isLoopback || tip.isLoopback) && !conf.routeLocalnet { return .none }
        let lk = ns.fibLookup(Flow4(daddr: tip, saddr: sip, iif: skb.dev, oif: nil, mark: skb.mark))
        guard let res = lk.result else { return .none }
        if res.type == .local {
            // fib_validate_source without the packet headers.
            if !conf.acceptLocal && conf.rpFilter == 0 && !customRules4 && ns.isLocalAddress(sip) { return .none }
            if conf.rpFilter != 0 || customRules4 {
                let rl = ns.fibLookup(Flow4(daddr: sip, saddr: tip, iif: ns.loopback, oif: nil))
                guard let rr = rl.result, rr.type == .unicast else { return conf.rpFilter != 0 || rl.result != nil ? .none : .local }
                if conf.rpFilter == 1 && !ns.routes4[rr.route].nexthops.contains(where: { $0.dev == skb.dev }) { return .none }
            }
            return .local
        }
        return conf.forwarding && res.type == .unicast ? .forward : .none
    }

    /// `arp_ignore()`: whether a request for `tip` may be answered on `dev`.
    func arpIgnoreAllows(_ dev: Int, sip: IPv4Address, tip: IPv4Address) -> Bool {
        let d = ns.devices[dev]
        switch d.conf4.arpIgnore {
        case 0: return true
        case 1: return d.v4.contains { $0.address == tip }
        case 2: return d.v4.contains { $0.address == tip && $0.contains(sip) }
        case 3: return true
        case 8: return false
        default: return true
        }
    }

    private func arpReply(_ skb: SKB, sha: MACAddress, sip: IPv4Address, tip: IPv4Address, _ r: inout FrameResult) {
        let mac = ns.devices[skb.dev].mac
        let text = r.replyText { w in tip.write(to: &w); w.ascii(" is-at "); w.mac(mac.value) }
        r.replies.append(Reply(kind: .arpReply, interface: devName(skb.dev), source: .v4(tip), destination: .v4(sip), summaryText: text))
    }
}
