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
        let daddr = skb.v4Daddr
        if let rt = skb.route4, rt.type == .broadcast || rt.type == .multicast {
            if findUDPSocket(.v4(daddr), port: dport, dev: skb.dev, multicast: true) != nil {
                r.fate = .delivered
                r.record(.udpRcv, .deliver, "\(rt.type) to port \(dport): delivered to the bound socket(s)")
            } else {
                r.count(.udpIgnoredMulti)
                r.drop(.notSpecified, at: .udpRcv, "\(rt.type) to port \(dport) and no socket (UdpIgnoredMulti)")
            }
            return
        }
        if let s = findUDPSocket(.v4(daddr), port: dport, dev: skb.dev, multicast: false) {
            if csumOK == false {
                r.count(.udpInCsumErrors)
                r.count(.udpInErrors)
                r.drop(.udpCsum, at: .udpRcv, "UDP checksum does not verify")
                return
            }
            // UdpInDatagrams moves at recvmsg(): the application is assumed to read.
            r.count(.udpInDatagrams)
            r.fate = .delivered
            r.record(.udpRcv, .deliver, "\(sport) → \(dport): socket \(socketText(s))")
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

    /// The socket a datagram to `addr:port` reaches: specific binding first, then wildcard.
    func findUDPSocket(_ addr: IPAddress, port: UInt16, dev: Int, multicast: Bool) -> ListeningSocket? {
        var best: ListeningSocket? = nil
        var bestScore = -1
        let master = ns.devices[dev].master
        for s in ns.sockets where s.proto == .udp && s.port == port {
            if let d = s.dev, d != dev && d != master { continue }
            var score = 0
            switch (s.address, addr) {
            case (nil, .v4): if s.isIPv6 && !s.dualStack { continue }; score = s.isIPv6 ? 1 : 2
            case (nil, .v6): if !s.isIPv6 { continue }; score = 2
            case (.some(let a), _):
                if a != addr && !multicast { continue }
                if multicast && a != addr { continue }
                score = 4
            }
            if s.dev != nil { score += 1 }
            if score > bestScore { best = s; bestScore = score }
        }
        return best
    }

    func socketText(_ s: ListeningSocket) -> String {
        let a = s.address.map { $0.isV4 ? "\($0)" : "[\($0)]" } ?? (s.isIPv6 ? "[::]" : "0.0.0.0")
        return "\(s.proto == .tcp ? "tcp" : "udp") \(a):\(s.port)" + (s.dev.map { "%\(devName($0))" } ?? "")
    }
}
