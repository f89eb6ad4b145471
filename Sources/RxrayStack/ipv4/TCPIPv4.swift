import RxrayDecode

extension Kernel {
    /// TCP input up to the socket lookup: pkt_type, header length, checksum, then listener
    /// handling for SYNs and RST for segments no socket takes.
    ///
    /// Mirrors `tcp_v4_rcv()` in net/ipv4/tcp_ipv4.c (listener: `tcp_v4_do_rcv` →
    /// `tcp_rcv_state_process` in LISTEN; no socket: `tcp_v4_send_reset`). Established
    /// connections are not in the host model: every segment meets a listener or nothing.
    func tcpV4Rcv(_ skb: inout SKB, _ r: inout FrameResult) {
        if skb.pktType != .host {
            r.drop(.notSpecified, at: .tcpV4Rcv, "pkt_type \(skb.pktType), not HOST")
            return
        }
        r.count(.tcpInSegs)
        let off = skb.thoff
        let seglen = skb.len - off
        if seglen < 20 {
            r.drop(.notSpecified, at: .tcpV4Rcv, "TCP header truncated (\(seglen) bytes)")
            return
        }
        guard skb.captured(off + 20) else { _ = snapped(&r, .tcpV4Rcv); return }
        let doff = Int(skb.buf.u8(off + 12) >> 4) * 4
        if doff < 20 {
            r.count(.tcpInErrs)
            r.drop(.pktTooSmall, at: .tcpV4Rcv, "data offset \(doff / 4) below 5")
            return
        }
        if doff > seglen {
            r.drop(.notSpecified, at: .tcpV4Rcv, "data offset \(doff) beyond the \(seglen)-byte segment")
            return
        }
        let csumOK: Bool? = skb.captured(skb.len)
            ? skb.buf.checksumOK(off, seglen, pseudo: Pseudo.v4(skb.v4Saddr, skb.v4Daddr, proto: 6, length: seglen)) : nil
        let flags = skb.buf.u8(off + 13)
        let seq = skb.buf.u32(off + 4), ack = skb.buf.u32(off + 8)
        let dport = skb.buf.u16(off + 2)
        let tcp = TCPSegment(flags: flags, seq: seq, ack: ack, payload: seglen - doff, dport: dport)
        tcpCommon(skb, tcp, csumOK: csumOK, v6: false, &r)
    }

    /// The part of `tcp_v4_rcv` / `tcp_v6_rcv` shared by both families.
    func tcpCommon(_ skb: SKB, _ tcp: TCPSegment, csumOK: Bool?, v6: Bool, _ r: inout FrameResult) {
        let stage: Stage = v6 ? .tcpV6Rcv : .tcpV4Rcv
        let daddr: IPAddress = v6 ? .v6(skb.v6Daddr) : .v4(skb.v4Daddr)
        if csumOK == false {
            r.count(.tcpInCsumErrors)
            r.count(.tcpInErrs)
            r.drop(.tcpCsum, at: stage, "TCP checksum does not verify")
            return
        }
        guard let l = findListener(daddr, port: tcp.dport, dev: skb.dev) else {
            if tcp.rst {
                r.drop(.noSocket, at: stage, "RST to port \(tcp.dport) with no socket: nothing sent")
                return
            }
            sendReset(skb, tcp, v6: v6, &r)
            r.drop(.noSocket, at: stage, "no socket on port \(tcp.dport): RST")
            return
        }
        // LISTEN state processing (tcp_rcv_state_process → tcp_conn_request).
        if tcp.hasACK {
            sendReset(skb, tcp, v6: v6, &r)
            r.drop(.tcpFlags, at: stage, "ACK to listener \(socketText(l)) with no request socket: RST")
            return
        }
        if tcp.rst {
            r.drop(.tcpReset, at: stage, "RST to listener \(socketText(l))")
            return
        }
        if !tcp.syn || tcp.fin {
            r.drop(.tcpFlags, at: stage, "flags 0x\(String(tcp.flags, radix: 16)) to listener \(socketText(l))")
            return
        }
        if l.queued > l.backlog {
            r.count(.tcpExtListenOverflows)
            r.count(.tcpExtListenDrops)
            r.fate = .dropped
            r.record(stage, .consume, "accept queue of \(socketText(l)) is full (\(l.queued)/\(l.backlog)): SYN refused silently")
            return
        }
        r.count(.tcpPassiveOpens)
        r.count(.tcpOutSegs)
        let cookie = ns.sysctl.tcpSyncookies == 2
        if cookie {
            r.count(.tcpExtSyncookiesSent)
            r.count(.tcpExtTCPReqQFullDoCookies)
        }
        r.replies.append(Reply(kind: .tcpSynAck(cookie: cookie), interface: replyInterface(skb, v6: v6),
                               source: daddr, destination: v6 ? .v6(skb.v6Saddr) : .v4(skb.v4Saddr),
                               summary: r.wantsDetail ? "SYN-ACK ack \(tcp.seq &+ 1)" : ""))
        r.fate = .delivered
        r.record(stage, .deliver, "SYN to listener \(socketText(l)): SYN-ACK")
    }

    /// `tcp_v4_send_reset` / `tcp_v6_send_reset`: RST (seq = their ack) or RST+ACK.
    func sendReset(_ skb: SKB, _ tcp: TCPSegment, v6: Bool, _ r: inout FrameResult) {
        if !v6, let rt = skb.route4, rt.type != .local { return }
        r.count(.tcpOutRsts)
        r.count(.tcpOutSegs)
        let ackNo = tcp.seq &+ UInt32(tcp.payload) &+ (tcp.syn ? 1 : 0) &+ (tcp.fin ? 1 : 0)
        let summary = tcp.hasACK ? "RST seq \(tcp.ack)" : "RST+ACK seq 0 ack \(ackNo)"
        r.replies.append(Reply(kind: .tcpRst, interface: replyInterface(skb, v6: v6),
                               source: v6 ? .v6(skb.v6Daddr) : .v4(skb.v4Daddr),
                               destination: v6 ? .v6(skb.v6Saddr) : .v4(skb.v4Saddr),
                               summary: r.wantsDetail ? summary : ""))
    }

    func replyInterface(_ skb: SKB, v6: Bool) -> String {
        if !v6, let (out, _) = outputRoute(to: skb.v4Saddr, preferredSource: skb.v4Daddr, inbound: skb.dev) {
            return devName(out)
        }
        if v6, let out = outputRoute6(to: skb.v6Saddr, inbound: skb.dev) { return devName(out) }
        return devName(skb.dev)
    }

    /// The listener a segment to `addr:port` reaches (bound address first, then wildcard).
    func findListener(_ addr: IPAddress, port: UInt16, dev: Int) -> ListeningSocket? {
        var best: ListeningSocket? = nil
        var bestScore = -1
        let master = ns.devices[dev].master
        for s in ns.sockets where s.proto == .tcp && s.port == port {
            if let d = s.dev, d != dev && d != master { continue }
            var score: Int
            switch (s.address, addr) {
            case (nil, .v4): if s.isIPv6 && !s.dualStack { continue }; score = s.isIPv6 ? 1 : 2
            case (nil, .v6): if !s.isIPv6 { continue }; score = 2
            case (.some(let a), _): if a != addr { continue }; score = 4
            }
            if s.dev != nil { score += 1 }
            if score > bestScore { best = s; bestScore = score }
        }
        return best
    }
}

/// The TCP header fields the receive decisions read.
struct TCPSegment {
    var flags: UInt8
    var seq: UInt32
    var ack: UInt32
    var payload: Int
    var dport: UInt16
    var fin: Bool { flags & 0x01 != 0 }
    var syn: Bool { flags & 0x02 != 0 }
    var rst: Bool { flags & 0x04 != 0 }
    var hasACK: Bool { flags & 0x10 != 0 }
}
