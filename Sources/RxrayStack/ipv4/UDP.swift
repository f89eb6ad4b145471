import RxrayDecode

extension Kernel {
    /// UDP input: length and checksum checks, socket lookup, port unreachable.
    ///
    /// Mirrors `udp_rcv()` → `__udp4_lib_rcv()` in net/ipv4/udp.c. Socket-level queueing
    /// (receive buffers, filters) is not modelled: a matching socket ends the path.
    func udpRcv(_ skb: inout SKB, _ r: inout FrameResult) {
        let off = skb.thoff
        let avail = skb.len - off
        if avail < 8 {
            r.count(.udpInErrors)
            r.drop(.notSpecified, at: .udpRcv, "UDP header truncated")
            return
        }
        guard skb.captured(off + 8) else { _ = snapped(&r, .udpRcv); return }
        let ulen = Int(skb.buf.u16(off + 4))
        if ulen > avail || ulen < 8 {
            r.count(.udpInErrors)
            r.drop(.pktTooSmall, at: .udpRcv, "UDP length \(ulen) vs \(avail) bytes of payload")
            return
        }
        let sport = skb.buf.u16(off), dport = skb.buf.u16(off + 2)
        let check = skb.buf.u16(off + 6)
        let csumOK: Bool? = check == 0 ? true :
            (skb.captured(off + ulen) ? skb.buf.checksumOK(off, ulen, pseudo: Pseudo.v4(skb.v4Saddr, skb.v4Daddr, proto: 17, length: ulen)) : nil)
        let daddr = skb.v4Daddr, saddr = IPAddress.v4(skb.v4Saddr)
        if let rt = skb.route4, rt.type == .broadcast || rt.type == .multicast {
            if findUDPSocket(.v4(daddr), port: dport, dev: skb.dev, multicast: true, saddr: saddr, sport: sport) != nil {
                r.count(.udpInDatagrams)
                r.fate = .delivered
                r.record(.udpRcv, .deliver, "\(rt.type) to port \(dport): delivered to the bound socket(s)")
            } else {
                r.count(.udpIgnoredMulti)
                r.drop(.notSpecified, at: .udpRcv, "\(rt.type) to port \(dport) and no socket (UdpIgnoredMulti)")
            }
            return
        }
        if let s = findUDPSocket(.v4(daddr), port: dport, dev: skb.dev, multicast: false, saddr: saddr, sport: sport) {
            if csumOK == false {
                r.count(.udpInCsumErrors)
                r.count(.udpInErrors)
                r.drop(.udpCsum, at: .udpRcv, "UDP checksum does not verify")
                return
            }
            // UdpInDatagrams moves at recvmsg(): the application is assumed to read.
            r.count(.udpInDatagrams)
            r.fate = .delivered
            r.recordJSONSafe(.udpRcv, .deliver) { w in
                w.decimal(sport); w.ascii(" → "); w.decimal(dport); w.ascii(": socket ")
                return writeSocket(s, to: &w)
            }
            return
        }
        if csumOK == false {
            r.count(.udpInCsumErrors)
            r.count(.udpInErrors)
            r.drop(.udpCsum, at: .udpRcv, "UDP checksum does not verify")
            return
        }
        r.count(.udpNoPorts)
        icmpSend(skb, type: 3, code: 3, info: 0, &r)
        r.drop(.noSocket, at: .udpRcv, "no socket on port \(dport): port unreachable")
    }

    /// The socket a datagram from `saddr:sport` to `addr:port` reaches.
    ///
    /// Unicast mirrors `__udp4_lib_lookup()` / `__udp6_lib_lookup()` (net/ipv4/udp.c,
    /// net/ipv6/udp.c): sockets bound to `addr` are searched first and the best-scoring one wins;
    /// only when none matches are wildcard-bound sockets searched. A socket connected to a peer
    /// matches only datagrams from that address (and port, when connected to one) and scores
    /// above an unconnected one, as does a device-bound socket (`compute_score()`). For IPv4,
    /// an AF_INET socket scores above a dual-stack AF_INET6 one.
    ///
    /// Multicast and broadcast (`multicast: true`) mirror `__udp_is_mcast_sock()`: the first
    /// socket on the port whose binding, connected peer and device all allow the datagram.
    /// Callers that pass no `saddr` never match connected sockets.
    func findUDPSocket(_ addr: IPAddress, port: UInt16, dev: Int, multicast: Bool,
                       saddr: IPAddress? = nil, sport: UInt16 = 0) -> ListeningSocket? {
        let master = ns.devices[dev].master
        let v4 = addr.isV4
        if multicast {
            for s in ns.sockets where s.proto == .udp && s.port == port {
                if let d = s.dev, d != dev && d != master { continue }
                if !udpPeerAllows(s, saddr: saddr, sport: sport) { continue }
                if let a = s.address {
                    if Self.v4View(a) != addr { continue }
                } else if v4 ? (s.isIPv6 && !s.dualStack) : !s.isIPv6 {
                    continue
                }
                return s
            }
            return nil
        }
        return bestUDPSocket(addr, port: port, dev: dev, master: master, wildcard: false, saddr: saddr, sport: sport)
            ?? bestUDPSocket(addr, port: port, dev: dev, master: master, wildcard: true, saddr: saddr, sport: sport)
    }

    /// One pass of the unicast lookup: sockets bound to `addr` (`wildcard` false) or to the
    /// wildcard address, best `compute_score()` first (the earliest socket wins a tie).
    func bestUDPSocket(_ addr: IPAddress, port: UInt16, dev: Int, master: Int?, wildcard: Bool,
                       saddr: IPAddress?, sport: UInt16) -> ListeningSocket? {
        let v4 = addr.isV4
        // Connected and device-bound sockets score 4 apiece over IPv4 (1 over IPv6); the
        // socket family breaks ties over IPv4.
        let step = v4 ? 4 : 1
        var best: ListeningSocket? = nil
        var bestScore = -1
        for s in ns.sockets where s.proto == .udp && s.port == port {
            if wildcard {
                guard s.address == nil else { continue }
                if v4 ? (s.isIPv6 && !s.dualStack) : !s.isIPv6 { continue }
            } else {
                guard let a = s.address, Self.v4View(a) == addr else { continue }
            }
            if let d = s.dev, d != dev && d != master { continue }
            if !udpPeerAllows(s, saddr: saddr, sport: sport) { continue }
            var score = v4 ? (s.isIPv6 ? 1 : 2) : 0
            if s.peer != nil { score += step }
            if s.peerPort != 0 { score += step }
            if s.dev != nil { score += step }
            if score > bestScore { best = s; bestScore = score }
        }
        return best
    }

    /// Whether a socket's connected peer (if any) is `saddr:sport`.
    @inline(__always)
    func udpPeerAllows(_ s: ListeningSocket, saddr: IPAddress?, sport: UInt16) -> Bool {
        guard let p = s.peer else { return true }
        guard let saddr, Self.v4View(p) == saddr else { return false }
        return s.peerPort == 0 || s.peerPort == sport
    }

    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, how an AF_INET6 socket shows an IPv4
    /// binding or peer) as the IPv4 address the lookup compares; any other address unchanged.
    @inline(__always)
    static func v4View(_ a: IPAddress) -> IPAddress {
        if case .v6(let v) = a, v.isV4Mapped { return .v4(IPv4Address(UInt32(truncatingIfNeeded: v.low))) }
        return a
    }

    func socketText(_ s: ListeningSocket) -> String {
        ByteWriter.string { writeSocket(s, to: &$0) }
    }

    /// Appends `socketText(s)`: `udp 0.0.0.0:53`, `tcp [2001:db8::1]:443%eth0`.
    /// Returns whether the text needs no JSON escape (it names a device only for a socket bound
    /// to one, `SO_BINDTODEVICE`).
    @discardableResult
    func writeSocket(_ s: ListeningSocket, to w: inout ByteWriter) -> Bool {
        w.ascii(s.proto == .tcp ? "tcp " : "udp ")
        if let a = s.address {
            if a.isV4 { a.write(to: &w) } else { w.byte(91); a.write(to: &w); w.byte(93) }
        } else {
            w.ascii(s.isIPv6 ? "[::]" : "0.0.0.0")
        }
        w.byte(58)
        w.decimal(s.port)
        if let d = s.dev {
            w.byte(37); w.string(ns.devices[d].name)
            return ns.devices[d].nameJSONSafe
        }
        return true
    }
}
