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
        // GRO already verified the checksum (CHECKSUM_UNNECESSARY): not summed a second time.
        let csumOK: Bool? = skb.csumVerified ? true : skb.captured(skb.len)
            ? skb.buf.checksumOK(off, seglen, pseudo: Pseudo.v4(skb.v4Saddr, skb.v4Daddr, proto: 6, length: seglen)) : nil
        let tcp = TCPSegment(skb.buf, off: off, doff: doff, payload: seglen - doff)
        tcpCommon(skb, tcp, csumOK: csumOK, v6: false, &r)
    }

    /// The part of `tcp_v4_rcv` / `tcp_v6_rcv` shared by both families: checksum, socket
    /// lookup in the kernel's order (established hash with request and TIME_WAIT sockets,
    /// then listeners), then the state machine.
    func tcpCommon(_ skb: SKB, _ tcp: TCPSegment, csumOK: Bool?, v6: Bool, _ r: inout FrameResult) {
        let stage: Stage = v6 ? .tcpV6Rcv : .tcpV4Rcv
        let daddr: IPAddress = v6 ? .v6(skb.v6Daddr) : .v4(skb.v4Daddr)
        let saddr: IPAddress = v6 ? .v6(skb.v6Saddr) : .v4(skb.v4Saddr)
        if csumOK == false {
            r.count(.tcpInCsumErrors)
            r.count(.tcpInErrs)
            r.drop(.tcpCsum, at: stage, "TCP checksum does not verify")
            return
        }
        tcpExpire()
        let key = TCPConnKey(laddr: daddr, lport: tcp.dport, raddr: saddr, rport: tcp.sport)
        if let c = tcpState.conns[key] {
            switch c.state {
            case .synRecv:
                tcpCheckReq(skb, tcp, key, c, v6: v6, &r)
            case .timeWait, .finWait2:
                tcpTimewait(skb, tcp, key, c, v6: v6, &r)
            default:
                tcpRcvState(skb, tcp, key, c, v6: v6, &r)
            }
            return
        }
        guard let li = findListenerIndex(daddr, port: tcp.dport, dev: skb.dev) else {
            if tcp.rst {
                r.drop(.noSocket, at: stage) { w in w.ascii("RST to port "); w.decimal(tcp.dport); w.ascii(" with no socket: nothing sent") }
                return
            }
            sendReset(skb, tcp, v6: v6, &r)
            r.drop(.noSocket, at: stage) { w in w.ascii("no socket on port "); w.decimal(tcp.dport); w.ascii(": RST") }
            return
        }
        if !tcp.syn && tcpOptions.pickUpMidStream && !tcp.rst && tcp.hasACK {
            // A connection the capture joined mid-stream: the kernel holds a socket the snapshot
            // (listeners only) cannot show. Track it from here on.
            var c = TCPConn(state: .established, listener: li, irs: tcp.seq &- 1, rcvNxt: tcp.seq, iss: tcp.ack &- 1, created: now)
            c.midStream = true
            c.tsRecent = tcp.tsval
            tcpState.conns[key] = c
            r.record(stage, .note, "4-tuple unknown: picked up mid-stream (an established socket is assumed)")
            tcpRcvState(skb, tcp, key, c, v6: v6, &r)
            return
        }
        tcpListen(skb, tcp, key, li, v6: v6, &r)
    }

    /// LISTEN: `tcp_v4_do_rcv` → (`tcp_v4_cookie_check`) → `tcp_rcv_state_process` case
    /// TCP_LISTEN → `tcp_conn_request` (net/ipv4/tcp_input.c).
    func tcpListen(_ skb: SKB, _ tcp: TCPSegment, _ key: TCPConnKey, _ li: Int, v6: Bool, _ r: inout FrameResult) {
        let l = ns.sockets[li]
        var q = listenerState(li)
        // Made only when a detail text reads it.
        var name: String { socketText(l) }
        let backlog = min(l.backlog, ns.sysctl.somaxconn)
        if tcp.hasACK {
            // tcp_v4_cookie_check: an ACK after a recent SYN-queue overflow may carry a cookie.
            if !tcp.syn && !tcp.rst, ns.sysctl.tcpSyncookies != 0, q.lastCookie != .min, now &- q.lastCookie < 120_000_000_000 {
                if let c = tcpState.cookies[key], c.isn &+ 1 == tcp.seq, now &- c.issued < SynCookie.maxAge {
                    r.count(.tcpExtSyncookiesRecv)
                    tcpState.cookies[key] = nil
                    tcpCreateChild(skb, tcp, key, li, irs: c.isn, iss: tcp.ack &- 1, v6: v6, via: "syncookie ACK", &r)
                    return
                }
                r.count(.tcpExtSyncookiesFailed)
            }
            sendReset(skb, tcp, v6: v6, &r)
            r.drop(.tcpFlags, at: .tcpV4DoRcv, "ACK to listener \(name) with no request socket: RST")
            return
        }
        if tcp.rst {
            r.drop(.tcpReset, at: .tcpRcvStateProcess, "RST to listener \(name)")
            return
        }
        if !tcp.syn || tcp.fin || tcp.hasACK {
            r.drop(.tcpFlags, at: .tcpRcvStateProcess, "flags 0x\(String(tcp.flags, radix: 16)) to listener \(name)")
            return
        }
        if !v6, let rt = skb.route4, rt.type == .broadcast || rt.type == .multicast {
            r.count(.tcpExtListenDrops)
            r.fate = .dropped
            r.record(.tcpRcvStateProcess, .consume, "SYN to a \(rt.type) address: refused")
            return
        }
        // tcp_conn_request: SYN queue, then accept queue.
        let sc = ns.sysctl.tcpSyncookies
        var wantCookie = false
        if sc == 2 || q.synQueue > backlog {
            if sc != 0 {
                wantCookie = true
                r.count(.tcpExtTCPReqQFullDoCookies)
            } else {
                r.count(.tcpExtTCPReqQFullDrop)
                r.count(.tcpExtListenDrops)
                r.fate = .dropped
                r.record(.tcpRcvStateProcess, .consume, "SYN queue of \(name) is full (\(q.synQueue) > \(backlog)) and tcp_syncookies is 0: SYN refused silently")
                return
            }
        }
        if q.acceptQueue > backlog {
            r.count(.tcpExtListenOverflows)
            r.count(.tcpExtListenDrops)
            r.fate = .dropped
            r.record(.tcpRcvStateProcess, .consume, "accept queue of \(name) is full (\(q.acceptQueue) > \(backlog)): SYN refused silently")
            return
        }
        if !wantCookie && sc == 0 && ns.sysctl.tcpMaxSynBacklog - q.synQueue < ns.sysctl.tcpMaxSynBacklog >> 2 {
            r.count(.tcpExtListenDrops)
            r.fate = .dropped
            r.record(.tcpRcvStateProcess, .consume, "fewer than a quarter of tcp_max_syn_backlog left: SYN dropped")
            return
        }
        let fo = ns.sysctl.tcpFastopen
        if !wantCookie && tcp.payload > 0 && fo & 0x2 != 0 && fo & 0x200 != 0 {
            // TCP Fast Open without a cookie: the child is created at once, the data queued and
            // acknowledged by the SYN-ACK.
            r.count(.tcpExtTCPFastOpenPassive)
            tcpSynAck(skb, tcp, ack: tcp.seq &+ 1 &+ UInt32(truncatingIfNeeded: tcp.payload), cookie: false, v6: v6, &r)
            tcpCreateChild(skb, tcp, key, li, irs: tcp.seq, iss: nil, v6: v6, via: "TCP Fast Open SYN", fastOpen: true, &r)
            return
        }
        tcpSynAck(skb, tcp, ack: tcp.seq &+ 1, cookie: wantCookie, v6: v6, &r)
        r.fate = .delivered
        if wantCookie {
            r.count(.tcpExtSyncookiesSent)
            q.lastCookie = now
            tcpState.cookies[key] = SynCookie(isn: tcp.seq, issued: now)
            if tcpState.cookies.count >= tcpState.cookiesSweepAt { sweepCookies() }
            tcpState.listeners[li] = q
            r.record(.tcpRcvStateProcess, .deliver,
                     "SYN to \(name): syncookie SYN-ACK (\(sc == 2 ? "tcp_syncookies 2" : "SYN queue full: \(q.synQueue) > \(backlog)"), no request kept)")
            return
        }
        q.synQueue += 1
        q.synYoung += 1
        tcpState.listeners[li] = q
        var c = TCPConn(state: .synRecv, listener: li, irs: tcp.seq, rcvNxt: tcp.seq &+ 1, iss: nil, created: now)
        c.tsRecent = tcp.tsval
        // inet_csk_reqsk_queue_hash_add: the SYN-ACK timer starts at TCP_TIMEOUT_INIT.
        c.timerDue = now &+ Kernel.synAckTimeoutInit
        c.synDev = Int32(truncatingIfNeeded: skb.dev)
        c.synMSS = tcp.mss ?? 0
        c.synOffers = synOfferBits(skb, tcp)
        tcpState.conns[key] = c
        r.recordJSONSafe(.tcpRcvStateProcess, .deliver) { w in
            w.ascii("SYN to "); let safe = writeSocket(l, to: &w)
            w.ascii(": request socket (SYN queue "); w.decimal(q.synQueue); w.ascii("), SYN-ACK")
            return safe
        }
    }

    /// The SYN-ACK `tcp_v4_send_synack` sends: options answer the SYN's (MSS, SACK, window
    /// scale and timestamps when offered and enabled; a cookie without timestamps loses
    /// SACK and window scaling).
    func tcpSynAck(_ skb: SKB, _ tcp: TCPSegment, ack: UInt32, cookie: Bool, v6: Bool, _ r: inout FrameResult) {
        r.count(.tcpOutSegs)
        let timestamps = tcp.tsval != nil && ns.sysctl.tcpTimestamps != 0
        let text = r.replyText { w in
            w.ascii("SYN-ACK ack "); w.decimal(ack)
            if let mss = tcp.mss { w.ascii(", mss "); w.decimal(min(Int(mss), 65495)) }
            if timestamps { w.ascii(", timestamps") }
            if cookie { w.ascii(" (syncookie ISN)") }
        }
        r.replies.append(Reply(kind: .tcpSynAck(cookie: cookie), interface: replyInterface(skb, v6: v6),
                               source: v6 ? .v6(skb.v6Daddr) : .v4(skb.v4Daddr), destination: v6 ? .v6(skb.v6Saddr) : .v4(skb.v4Saddr),
                               summaryText: text))
    }

    /// A child socket for an accepted handshake: accept-queue check, then ESTABLISHED.
    /// Mirrors `tcp_v4_syn_recv_sock` / `inet_csk_complete_hashdance` (accept queue full:
    /// `ListenOverflows` + `ListenDrops`; with `tcp_abort_on_overflow` a RST).
    func tcpCreateChild(_ skb: SKB, _ tcp: TCPSegment, _ key: TCPConnKey, _ li: Int, irs: UInt32, iss: UInt32?, v6: Bool,
                        via: StaticString, fastOpen: Bool = false, _ r: inout FrameResult) {
        var q = listenerState(li)
        let l = ns.sockets[li]
        let backlog = min(l.backlog, ns.sysctl.somaxconn)
        let stage: Stage = fastOpen ? .tcpRcvStateProcess : .tcpCheckReq
        if !fastOpen && q.acceptQueue > backlog {
            r.count(.tcpExtListenOverflows)
            r.count(.tcpExtListenDrops)
            if ns.sysctl.tcpAbortOnOverflow {
                sendReset(skb, tcp, v6: v6, &r)
            }
            r.drop(.tcpListenOverflow, at: stage, "accept queue of \(socketText(l)) is full (\(q.acceptQueue) > \(backlog)): \(via) dropped, request kept" + (ns.sysctl.tcpAbortOnOverflow ? ", RST (tcp_abort_on_overflow)" : ""))
            return
        }
        r.count(.tcpPassiveOpens)
        var c = TCPConn(state: .established, listener: li, irs: irs, rcvNxt: irs &+ 1 &+ UInt32(truncatingIfNeeded: fastOpen ? tcp.payload : 0),
                        iss: iss, created: now)
        c.tsRecent = tcp.tsval
        let accepts = tcpOptions.acceptingPorts[l.port] ?? tcpOptions.acceptsConnections
        if !accepts {
            q.acceptQueue += 1
            c.inAcceptQueue = true
        }
        tcpState.listeners[li] = q
        tcpState.conns[key] = c
        r.fate = .delivered
        r.recordJSONSafe(stage, .deliver) { w in
            w.ascii(via); w.ascii(": child socket ESTABLISHED")
            if accepts {
                w.ascii(" (accepted by the application)")
                return true
            }
            w.ascii(" in the accept queue of "); let safe = writeSocket(l, to: &w)
            w.ascii(" ("); w.decimal(q.acceptQueue); w.byte(47); w.decimal(backlog)
            w.ascii("; the application does not accept)")
            return safe
        }
        if !fastOpen && tcp.payload > 0 {
            // tcp_child_process: data on the third ACK is queued on the child.
            var child = tcpState.conns[key]!
            child.rcvNxt = child.rcvNxt &+ UInt32(truncatingIfNeeded: tcp.payload)
            tcpState.conns[key] = child
            tcpAck(skb, tcp, v6: v6, challenge: false, &r)
        }
        if tcpOptions.closingPorts.contains(l.port), var child = tcpState.conns[key] {
            // The application accepts and closes at once (tcp_close): unread data makes it a
            // RST (TCPAbortOnClose), else our FIN goes out and the orphan is in FIN_WAIT1.
            if tcp.payload > 0 {
                r.count(.tcpExtTCPAbortOnClose)
                r.count(.tcpOutRsts)
                r.count(.tcpOutSegs)
                tcpState.conns[key] = nil
                r.replies.append(Reply(kind: .tcpRst, interface: replyInterface(skb, v6: v6),
                                       source: v6 ? .v6(skb.v6Daddr) : .v4(skb.v4Daddr), destination: v6 ? .v6(skb.v6Saddr) : .v4(skb.v4Saddr),
                                       summary: r.wantsDetail ? "RST (the application closed with unread data)" : ""))
                r.record(stage, .note, "the application accepts and closes with unread data: RST, connection gone")
                return
            }
            child.state = .finWait1
            child.finSent = true
            tcpState.conns[key] = child
            r.count(.tcpOutSegs)
            r.replies.append(Reply(kind: .tcpAck(challenge: false), interface: replyInterface(skb, v6: v6),
                                   source: v6 ? .v6(skb.v6Daddr) : .v4(skb.v4Daddr), destination: v6 ? .v6(skb.v6Saddr) : .v4(skb.v4Saddr),
                                   summary: r.wantsDetail ? "FIN+ACK (the application closed)" : ""))
            r.record(stage, .note, "the application accepts and closes at once: FIN sent, FIN_WAIT1")
        } else {
            r.count(.tcpCurrEstab)
        }
    }

    /// A segment for a request socket (NEW_SYN_RECV). Mirrors `tcp_check_req()` in
    /// net/ipv4/tcp_minisocks.c. The SYN-ACK's ISN is not in a receive capture: the third
    /// ACK's acknowledgement number is taken as right when it was not learnt.
    func tcpCheckReq(_ skb: SKB, _ tcp: TCPSegment, _ key: TCPConnKey, _ c: TCPConn, v6: Bool, _ r: inout FrameResult) {
        let li = c.listener
        if tcp.syn && !tcp.rst && tcp.seq == c.irs {
            // inet_rtx_syn_ack: the SYN-ACK again (TcpRetransSegs, TCPSynRetrans), and the
            // timer restarts from now with the current timeout (mod_timer_pending).
            tcpSynAck(skb, tcp, ack: c.irs &+ 1, cookie: false, v6: v6, &r)
            r.count(.tcpRetransSegs)
            r.count(.tcpExtTCPSynRetrans)
            var req = c
            req.numRetrans &+= 1
            req.timerDue = now &+ Kernel.synAckTimeout(afterTimeouts: req.numTimeout)
            tcpState.conns[key] = req
            r.fate = .delivered
            r.record(.tcpCheckReq, .deliver, "retransmitted SYN: SYN-ACK sent again")
            return
        }
        let inWindow = seqBetween(tcp.seq, c.rcvNxt, c.rcvNxt &+ 65535) || tcp.endSeq == c.rcvNxt
        if !inWindow {
            if !tcp.rst { tcpAck(skb, tcp, v6: v6, challenge: false, &r) }
            r.drop(.notSpecified, at: .tcpCheckReq, "sequence \(tcp.seq) outside the request's window" + (tcp.rst ? "" : ": ACK sent"))
            return
        }
        if tcp.rst || tcp.syn {
            r.count(.tcpAttemptFails)
            r.count(.tcpExtEmbryonicRsts)
            tcpRemove(key)
            if tcp.syn { sendReset(skb, tcp, v6: v6, &r) }
            r.drop(tcp.rst ? .tcpReset : .tcpInvalidSyn, at: .tcpCheckReq, tcp.rst ? "RST: request removed" : "SYN in the window: RST, request removed")
            return
        }
        if !tcp.hasACK {
            r.drop(.tcpFlags, at: .tcpCheckReq, "no ACK flag on a request socket")
            return
        }
        if let iss = c.iss, tcp.ack != iss &+ 1 {
            sendReset(skb, tcp, v6: v6, &r)
            r.drop(.tcpInvalidAckSequence, at: .tcpCheckReq, "ACK \(tcp.ack) is not our ISN + 1: RST")
            return
        }
        // The handshake completes: the request leaves the SYN queue.
        var q = listenerState(li)
        let backlog = min(ns.sockets[li].backlog, ns.sysctl.somaxconn)
        if q.acceptQueue > backlog {
            r.count(.tcpExtListenOverflows)
            r.count(.tcpExtListenDrops)
            if ns.sysctl.tcpAbortOnOverflow {
                sendReset(skb, tcp, v6: v6, &r)
                tcpRemove(key)
            } else {
                // inet_rsk(req)->acked: the timer keeps retransmitting even if a SYN-ACK fails.
                var req = c
                req.acked = true
                tcpState.conns[key] = req
            }
            r.drop(.tcpListenOverflow, at: .tcpCheckReq, "accept queue full (\(q.acceptQueue) > \(backlog)): third ACK dropped, request kept for the SYN-ACK retransmit")
            return
        }
        requestLeft(c, &q)
        tcpState.listeners[li] = q
        tcpState.conns[key] = nil
        tcpCreateChild(skb, tcp, key, li, irs: c.irs, iss: c.iss ?? tcp.ack &- 1, v6: v6, via: "third ACK", &r)
    }

    /// Segments for a connection socket. Mirrors `tcp_rcv_state_process()` /
    /// `tcp_rcv_established()` with `tcp_validate_incoming()`, `tcp_ack()` and
    /// `tcp_data_queue()` (net/ipv4/tcp_input.c), for a peer whose application never sends.
    func tcpRcvState(_ skb: SKB, _ tcp: TCPSegment, _ key: TCPConnKey, _ c0: TCPConn, v6: Bool, _ r: inout FrameResult) {
        var c = c0
        let st: Stage = .tcpRcvStateProcess
        let what = c.midStream ? "\(c.state.rawValue) (picked up mid-stream)" : c.state.rawValue
        if c.state == .close {
            r.drop(.tcpClose, at: st, "socket is closed")
            return
        }
        if !tcp.hasACK && !tcp.rst && !tcp.syn {
            r.drop(.tcpFlags, at: st, "\(what): none of ACK, RST, SYN")
            return
        }
        let wnd: UInt32 = 64240
        // PAWS (RFC 7323), never for a RST.
        if !tcp.rst, let ts = tcp.tsval, let recent = c.tsRecent, Int32(bitPattern: ts &- recent) < -1 {
            r.count(.tcpExtPAWSEstab)
            tcpAck(skb, tcp, v6: v6, challenge: false, &r)
            r.drop(.tcpRfc7323Paws, at: st, "\(what): TSval \(ts) older than ts_recent \(recent): duplicate ACK")
            return
        }
        // Sequence acceptability (tcp_sequence).
        let end = tcp.endSeq
        let old = seqBefore(end, c.rcvNxt)
        let beyond = seqAfter(tcp.seq, c.rcvNxt &+ wnd)
        if old || beyond {
            if tcp.syn {
                tcpChallenge(skb, tcp, v6: v6, syn: true, what: what, &r)
                return
            }
            if tcp.rst {
                r.drop(old ? .tcpOldSequence : .tcpInvalidSequence, at: st, "\(what): RST outside the window: ignored")
                return
            }
            if beyond { r.count(.tcpExtBeyondWindow) }
            tcpAck(skb, tcp, v6: v6, challenge: false, &r)
            r.drop(old ? .tcpOldSequence : .tcpInvalidSequence, at: st,
                   "\(what): sequence \(tcp.seq)..\(end) outside rcv_nxt \(c.rcvNxt) + window \(wnd): duplicate ACK")
            return
        }
        if tcp.rst {
            if tcp.seq == c.rcvNxt {
                if c.state == .established || c.state == .closeWait {
                    r.count(.tcpEstabResets)
                    r.count(.tcpCurrEstab, -1)
                }
                c.state = .close
                tcpState.conns[key] = nil
                r.fate = .delivered
                r.record(st, .consume, "\(what): RST at rcv_nxt: connection reset")
                return
            }
            tcpChallenge(skb, tcp, v6: v6, syn: false, what: what, &r)
            return
        }
        if tcp.syn {
            tcpChallenge(skb, tcp, v6: v6, syn: true, what: what, &r)
            return
        }
        // tcp_ack: the peer can only acknowledge our SYN and our FIN (the application sends
        // no data).
        if c.iss == nil { c.iss = tcp.ack &- 1 }
        let sndNxt = c.iss! &+ 1 &+ (c.finSent ? 1 : 0)
        if seqAfter(tcp.ack, sndNxt) {
            r.count(.tcpExtTCPChallengeACK)
            tcpAck(skb, tcp, v6: v6, challenge: true, &r)
            tcpState.conns[key] = c
            r.drop(.tcpAckUnsentData, at: st, "\(what): ACK \(tcp.ack) beyond snd_nxt \(sndNxt): challenge ACK")
            return
        }
        if let ts = tcp.tsval, tcp.seq == c.rcvNxt || seqBefore(tcp.seq, c.rcvNxt) { c.tsRecent = ts }
        // Step 5 of tcp_rcv_state_process: our FIN acknowledged.
        let finAcked = c.finSent && tcp.ack == sndNxt
        let end_ = end &- (tcp.fin ? 1 : 0)
        let dataBeyond = end != tcp.seq && seqAfter(end_, c.rcvNxt)
        if c.state == .finWait1 && finAcked {
            if dataBeyond {
                tcpAbortOnData(skb, tcp, key, what: what, v6: v6, &r)
                return
            }
            if !tcp.fin {
                // An orphan (the application closed) with tcp_fin_timeout within TIME_WAIT's
                // 60 s becomes a TIME_WAIT socket in substate FIN_WAIT2.
                c.state = .finWait2
                c.timeWaitSince = now
                tcpState.conns[key] = c
                r.fate = .delivered
                r.record(st, .consume, "\(what): our FIN acknowledged: FIN_WAIT2 (orphan, kept as a TIME_WAIT socket)")
                return
            }
            c.state = .finWait2
        }
        if c.state == .closing && finAcked {
            c.state = .timeWait
            c.timeWaitSince = now
            tcpState.conns[key] = c
            r.fate = .delivered
            r.record(st, .consume, "\(what): our FIN acknowledged: TIME_WAIT")
            return
        }
        // Step 7: the segment text.
        switch c.state {
        case .closeWait, .closing:
            if !seqBefore(tcp.seq, c.rcvNxt) {
                // After the peer's FIN nothing new is queued: freed without a reason.
                tcpState.conns[key] = c
                r.drop(.notSpecified, at: st, "\(what): segment after the peer's FIN (seq \(tcp.seq), rcv_nxt \(c.rcvNxt)) freed")
                return
            }
            if dataBeyond {
                tcpAbortOnData(skb, tcp, key, what: what, v6: v6, &r)
                return
            }
        case .finWait1, .finWait2:
            // The application closed (receive side shut down): new data aborts.
            if dataBeyond {
                tcpAbortOnData(skb, tcp, key, what: what, v6: v6, &r)
                return
            }
        default:
            break
        }
        // tcp_data_queue.
        if tcp.payload == 0 && !tcp.fin {
            tcpState.conns[key] = c
            r.fate = .delivered
            r.record(st, .consume, "\(what): pure ACK")
            return
        }
        if seqBefore(tcp.seq &+ UInt32(truncatingIfNeeded: tcp.payload), c.rcvNxt) || (tcp.payload > 0 && tcp.seq &+ UInt32(truncatingIfNeeded: tcp.payload) == c.rcvNxt && !tcp.fin) {
            r.count(.tcpExtDelayedACKLost)
            tcpAck(skb, tcp, v6: v6, challenge: false, &r)
            tcpState.conns[key] = c
            r.drop(.tcpOldData, at: st, "\(what): duplicate data (end \(end) ≤ rcv_nxt \(c.rcvNxt)): D-SACK ACK")
            return
        }
        if seqAfter(tcp.seq, c.rcvNxt) {
            r.count(.tcpExtTCPOFOQueue)
            tcpAck(skb, tcp, v6: v6, challenge: false, &r)
            tcpState.conns[key] = c
            r.fate = .delivered
            r.record(st, .deliver, "\(what): out of order (seq \(tcp.seq), rcv_nxt \(c.rcvNxt)): out-of-order queue, duplicate ACK")
            return
        }
        let newData = Int(end &- c.rcvNxt) - (tcp.fin ? 1 : 0)
        c.rcvNxt = end
        c.segsSinceAck += 1
        // The trace text (written only when details are wanted) ends with what happened to the ACK.
        let queued = max(0, newData), rcvNxt = c.rcvNxt
        var tail: StaticString = ""
        func add(_ s: StaticString) { tail = s }
        if tcp.fin {
            // tcp_fin.
            switch c.state {
            case .established: c.state = .closeWait; add("; FIN: CLOSE_WAIT, ACK")
            case .finWait1: c.state = .closing; add("; FIN: CLOSING, ACK")
            case .finWait2: c.state = .timeWait; c.timeWaitSince = now; add("; FIN: TIME_WAIT, ACK")
            default: add("; FIN: ACK")
            }
            tcpAck(skb, tcp, v6: v6, challenge: false, &r)
            c.segsSinceAck = 0
        } else if c.quickAcks > 0 || c.segsSinceAck >= 2 || tcp.psh && c.quickAcks > 0 {
            // Quick-ACK mode at the start of a connection, then every second segment.
            if c.quickAcks > 0 { c.quickAcks -= 1 }
            c.segsSinceAck = 0
            tcpAck(skb, tcp, v6: v6, challenge: false, &r)
            add("; ACK")
        } else {
            add("; ACK delayed")
        }
        tcpState.conns[key] = c
        r.fate = .delivered
        r.recordJSONSafe(st, .deliver) { w in
            w.string(what); w.ascii(": "); w.decimal(queued); w.ascii(" bytes queued (rcv_nxt "); w.decimal(rcvNxt); w.byte(41)
            w.ascii(tail)
            // `what` is a state's name (TCPTests checks they are clean), perhaps with a literal.
            return true
        }
    }

    /// RFC 5961 challenge ACK for an in-window RST that is not exact or for a SYN on a
    /// synchronized connection (`tcp_send_challenge_ack`; the limit is INT_MAX since 6.0).
    func tcpChallenge(_ skb: SKB, _ tcp: TCPSegment, v6: Bool, syn: Bool, what: String, _ r: inout FrameResult) {
        if syn {
            r.count(.tcpInErrs)
            r.count(.tcpExtTCPSYNChallenge)
        }
        r.count(.tcpExtTCPChallengeACK)
        tcpAck(skb, tcp, v6: v6, challenge: true, &r)
        r.drop(syn ? .tcpInvalidSyn : .tcpReset, at: .tcpRcvStateProcess,
               "\(what): \(syn ? "SYN on a synchronized connection" : "RST not at rcv_nxt"): challenge ACK")
    }

    /// New data on a socket whose receive side is shut down (the peer's FIN came, or the
    /// application closed): `tcp_reset`, then the caller's RST (TCPAbortOnData).
    func tcpAbortOnData(_ skb: SKB, _ tcp: TCPSegment, _ key: TCPConnKey, what: String, v6: Bool, _ r: inout FrameResult) {
        if tcpState.conns[key]?.state == .closeWait { r.count(.tcpCurrEstab, -1) }
        r.count(.tcpExtTCPAbortOnData)
        tcpState.conns[key] = nil
        sendReset(skb, tcp, v6: v6, &r)
        r.drop(.tcpAbortOnData, at: .tcpRcvStateProcess, "\(what): new data after the receive side was shut down: RST, connection aborted")
    }

    /// A TIME_WAIT socket, in substate FIN_WAIT2 (`.finWait2`: our FIN acknowledged on an
    /// orphan, waiting for the peer's FIN) or TIME_WAIT. Mirrors
    /// `tcp_timewait_state_process()` (net/ipv4/tcp_minisocks.c) and what `tcp_v4_rcv` /
    /// `tcp_v6_rcv` do with its answer: every segment is then freed without a reason
    /// (NOT_SPECIFIED), except a new SYN that a listener takes over. The
    /// `tcp_invalid_ratelimit` limit on the out-of-window ACKs is not modelled.
    func tcpTimewait(_ skb: SKB, _ tcp: TCPSegment, _ key: TCPConnKey, _ c0: TCPConn, v6: Bool, _ r: inout FrameResult) {
        var c = c0
        let st: Stage = .tcpTimewaitStateProcess
        let freeStage: Stage = v6 ? .tcpV6Rcv : .tcpV4Rcv
        let end = tcp.endSeq
        var pawsReject = false
        if let ts = tcp.tsval, let recent = c.tsRecent, Int32(bitPattern: recent &- ts) > 1 { pawsReject = !tcp.rst }
        if c.state == .finWait2 {
            let wnd: UInt32 = 64240
            let winEnd = c.rcvNxt &+ wnd
            let inWindow = tcp.seq == c.rcvNxt || (seqAfter(end, c.rcvNxt) && seqBefore(tcp.seq, winEnd)) || (tcp.seq == winEnd && tcp.seq == end)
            if pawsReject || !inWindow {
                tcpAck(skb, tcp, v6: v6, challenge: false, &r)
                r.record(st, .note, pawsReject ? "FIN_WAIT2: TSval older than ts_recent: ACK" : "FIN_WAIT2: sequence \(tcp.seq) outside the window: ACK")
            } else if tcp.rst {
                tcpRemove(key)
                r.record(st, .note, "FIN_WAIT2: RST: TIME_WAIT socket killed")
            } else if tcp.syn && !seqBefore(tcp.seq, c.rcvNxt) {
                sendReset(skb, tcp, v6: v6, &r)
                tcpRemove(key)
                r.record(st, .note, "FIN_WAIT2: SYN in the window: RST")
            } else if !tcp.hasACK || !seqAfter(end, c.rcvNxt) || end == tcp.seq {
                r.record(st, .note, "FIN_WAIT2: nothing new: ignored")
            } else if !tcp.fin || end != c.rcvNxt &+ 1 {
                sendReset(skb, tcp, v6: v6, &r)
                tcpRemove(key)
                r.record(st, .note, "FIN_WAIT2: data after the application closed: RST")
            } else {
                c.state = .timeWait
                c.timeWaitSince = now
                c.rcvNxt = end
                if let ts = tcp.tsval { c.tsRecent = ts }
                tcpState.conns[key] = c
                tcpAck(skb, tcp, v6: v6, challenge: false, &r)
                r.record(st, .note, "FIN_WAIT2: the peer's FIN: TIME_WAIT, ACK")
            }
            r.drop(.notSpecified, at: freeStage, "segment for a TIME_WAIT socket freed")
            return
        }
        if !pawsReject && tcp.seq == c.rcvNxt && (tcp.seq == end || tcp.rst) {
            if tcp.rst {
                if !ns.sysctl.tcpRfc1337 { tcpRemove(key) }
                r.record(st, .note, "RST at rcv_nxt in TIME_WAIT" + (ns.sysctl.tcpRfc1337 ? ": ignored (tcp_rfc1337)" : ": TIME_WAIT socket killed"))
            } else {
                if let ts = tcp.tsval { c.tsRecent = ts }
                c.timeWaitSince = now
                tcpState.conns[key] = c
                r.record(st, .note, "in-sequence segment without data in TIME_WAIT: timer restarted")
            }
            r.drop(.notSpecified, at: freeStage, "segment for a TIME_WAIT socket freed")
            return
        }
        let newerTS: Bool = { if let ts = tcp.tsval, let recent = c.tsRecent { return Int32(bitPattern: recent &- ts) < 0 }; return false }()
        if tcp.syn && !tcp.rst && !tcp.hasACK && !pawsReject && (seqAfter(tcp.seq, c.rcvNxt) || newerTS),
           let li = findListenerIndex(key.laddr, port: key.lport, dev: skb.dev) {
            tcpRemove(key)
            r.record(st, .pass, "new SYN in TIME_WAIT: the socket is recycled for the listener")
            tcpListen(skb, tcp, key, li, v6: v6, &r)
            return
        }
        if pawsReject { r.count(.tcpExtPAWSEstab) }
        if !tcp.rst {
            if pawsReject || tcp.hasACK {
                c.timeWaitSince = now
                tcpState.conns[key] = c
            }
            tcpAck(skb, tcp, v6: v6, challenge: false, &r)
            r.record(st, .note, "segment in TIME_WAIT: ACK")
        } else {
            r.record(st, .note, "RST not at rcv_nxt in TIME_WAIT: ignored")
        }
        r.drop(.notSpecified, at: freeStage, "segment for a TIME_WAIT socket freed")
    }

    /// An ACK from a connection (`tcp_send_ack` / dupack / challenge).
    func tcpAck(_ skb: SKB, _ tcp: TCPSegment, v6: Bool, challenge: Bool, _ r: inout FrameResult) {
        r.count(.tcpOutSegs)
        r.replies.append(Reply(kind: .tcpAck(challenge: challenge), interface: replyInterface(skb, v6: v6),
                               source: v6 ? .v6(skb.v6Daddr) : .v4(skb.v4Daddr), destination: v6 ? .v6(skb.v6Saddr) : .v4(skb.v4Saddr),
                               summary: r.wantsDetail ? (challenge ? "challenge ACK" : "ACK") : ""))
    }

    func listenerState(_ li: Int) -> TCPListenerState {
        if let q = tcpState.listeners[li] { return q }
        return TCPListenerState(acceptQueue: ns.sockets[li].queued)
    }

    func tcpRemove(_ key: TCPConnKey) {
        guard let c = tcpState.conns.removeValue(forKey: key) else { return }
        if c.state == .synRecv, var q = tcpState.listeners[c.listener] {
            requestLeft(c, &q)
            tcpState.listeners[c.listener] = q
        }
    }

    /// A request leaves the SYN queue (`reqsk_queue_removed`): one fewer, and one fewer young
    /// one if its timer never fired.
    func requestLeft(_ c: TCPConn, _ q: inout TCPListenerState) {
        q.synQueue = max(0, q.synQueue - 1)
        if c.numTimeout == 0 { q.synYoung = max(0, q.synYoung - 1) }
    }

    /// TIME_WAIT and orphaned FIN_WAIT2 sockets whose 60 s are over leave the table. (Request
    /// sockets leave by their own timer: TCPReqskTimer.swift.)
    func tcpExpire() {
        guard !tcpState.conns.isEmpty else { return }
        tcpExpireScratch.removeAll(keepingCapacity: true)
        tcpState.conns.dueTimeWaits(now: now, timeWaitLife: 60_000_000_000, into: &tcpExpireScratch)
        if tcpExpireScratch.isEmpty { return }
        for k in tcpExpireScratch { tcpRemove(k) }
    }

    /// The listener a segment to `addr:port` reaches, as an index into `ns.sockets`:
    /// exact address before wildcard, a bound device scores higher, IPv4 sockets before
    /// dual-stack IPv6 ones. Mirrors `__inet_lookup_listener` / `compute_score`.
    func findListenerIndex(_ addr: IPAddress, port: UInt16, dev: Int) -> Int? {
        var best: Int? = nil
        var bestScore = -1
        let master = ns.devices[dev].master
        for (i, s) in ns.sockets.enumerated() where s.proto == .tcp && s.port == port {
            if let d = s.dev, d != dev && d != master { continue }
            var score: Int
            switch (s.address, addr) {
            case (nil, .v4): if s.isIPv6 && !s.dualStack { continue }; score = s.isIPv6 ? 1 : 2
            case (nil, .v6): if !s.isIPv6 { continue }; score = 2
            case (.some(let a), _): if a != addr { continue }; score = 4
            }
            if s.dev != nil { score += 1 }
            if score > bestScore { best = i; bestScore = score }
        }
        return best
    }

    /// The listener a segment to `addr:port` reaches.
    func findListener(_ addr: IPAddress, port: UInt16, dev: Int) -> ListeningSocket? {
        findListenerIndex(addr, port: port, dev: dev).map { ns.sockets[$0] }
    }

    /// `tcp_v4_send_reset` / `tcp_v6_send_reset`: RST (seq = their ack) or RST+ACK.
    func sendReset(_ skb: SKB, _ tcp: TCPSegment, v6: Bool, _ r: inout FrameResult) {
        if tcp.rst { return }
        if !v6, let rt = skb.route4, rt.type != .local { return }
        r.count(.tcpOutRsts)
        r.count(.tcpOutSegs)
        let ackNo = tcp.seq &+ UInt32(tcp.payload) &+ (tcp.syn ? 1 : 0) &+ (tcp.fin ? 1 : 0)
        let text = r.replyText { w in
            if tcp.hasACK { w.ascii("RST seq "); w.decimal(tcp.ack) } else { w.ascii("RST+ACK seq 0 ack "); w.decimal(ackNo) }
        }
        r.replies.append(Reply(kind: .tcpRst, interface: replyInterface(skb, v6: v6),
                               source: v6 ? .v6(skb.v6Daddr) : .v4(skb.v4Daddr),
                               destination: v6 ? .v6(skb.v6Saddr) : .v4(skb.v4Saddr),
                               summaryText: text))
    }

    func replyInterface(_ skb: SKB, v6: Bool) -> String {
        if !v6, let (out, _) = outputRoute(to: skb.v4Saddr, preferredSource: skb.v4Daddr, inbound: skb.dev) {
            return devName(out)
        }
        if v6, let out = outputRoute6(to: skb.v6Saddr, inbound: skb.dev) { return devName(out) }
        return devName(skb.dev)
    }

}

/// The TCP header fields the receive decisions read.
struct TCPSegment {
    var flags: UInt8
    var seq: UInt32
    var ack: UInt32
    var payload: Int
    var sport: UInt16
    var dport: UInt16
    var window: UInt16
    /// Timestamp option (TSval, TSecr), when present and captured.
    var tsval: UInt32?
    var tsecr: UInt32?
    var mss: UInt16?
    var fin: Bool { flags & 0x01 != 0 }
    var syn: Bool { flags & 0x02 != 0 }
    var rst: Bool { flags & 0x04 != 0 }
    var psh: Bool { flags & 0x08 != 0 }
    var hasACK: Bool { flags & 0x10 != 0 }
    /// Sequence space the segment occupies (`end_seq`).
    var endSeq: UInt32 { seq &+ UInt32(truncatingIfNeeded: payload) &+ (syn ? 1 : 0) &+ (fin ? 1 : 0) }

    init(flags: UInt8, seq: UInt32, ack: UInt32, payload: Int, sport: UInt16 = 0, dport: UInt16, window: UInt16 = 0) {
        self.flags = flags; self.seq = seq; self.ack = ack; self.payload = payload
        self.sport = sport; self.dport = dport; self.window = window
    }

    /// Reads the header at `off` (20 bytes captured) and the options the capture holds.
    /// Mirrors `tcp_parse_options()` for MSS and timestamps.
    init(_ b: UnsafeRawBufferPointer, off: Int, doff: Int, payload: Int) {
        self.init(flags: b.u8(off + 13), seq: b.u32(off + 4), ack: b.u32(off + 8), payload: payload,
                  sport: b.u16(off), dport: b.u16(off + 2), window: b.u16(off + 14))
        var i = off + 20
        let end = min(off + doff, b.count)
        while i < end {
            let kind = b.u8(i)
            if kind == 0 { break }
            if kind == 1 { i += 1; continue }
            guard i + 1 < end else { break }
            let len = Int(b.u8(i + 1))
            if len < 2 || i + len > end { break }
            if kind == 2 && len == 4 { mss = b.u16(i + 2) }
            if kind == 8 && len == 10 { tsval = b.u32(i + 2); tsecr = b.u32(i + 6) }
            i += len
        }
    }
}

/// TCP behaviour a capture cannot show: what the local applications do with their sockets.
public struct TCPOptions: Sendable, Equatable {
    /// Whether listening applications call accept(). rxray's default is that they do not
    /// (connections stay in the accept queue until it overflows), as in the recorded
    /// scenarios; a server that keeps up with its clients is `acceptsConnections = true`.
    public var acceptsConnections: Bool
    /// Per-listener override, by local port.
    public var acceptingPorts: [UInt16: Bool]
    /// Whether a non-SYN segment for an unknown 4-tuple on a listening port belongs to a
    /// connection established before the capture began (the snapshot lists listeners only).
    /// Off by default: the snapshot is taken as complete, so such a segment meets the listener
    /// (RST), as the kernel does when no such socket exists.
    public var pickUpMidStream: Bool
    /// Listening ports whose application accepts each connection and closes it at once
    /// without reading (`close()`): the DUT sends its FIN as soon as the handshake completes
    /// (FIN_WAIT1), or a RST when the third ACK carried data nobody read.
    public var closingPorts: Set<UInt16>
    public init(acceptsConnections: Bool = false, acceptingPorts: [UInt16: Bool] = [:], pickUpMidStream: Bool = false,
                closingPorts: Set<UInt16> = []) {
        self.acceptsConnections = acceptsConnections
        self.acceptingPorts = acceptingPorts
        self.pickUpMidStream = pickUpMidStream
        self.closingPorts = closingPorts
    }
}

/// Listener queues and connections the capture built up.
struct TCPState {
    var conns = TCPConnTable()
    /// Per listener (index into `Netns.sockets`): SYN and accept queue lengths.
    var listeners: [Int: TCPListenerState] = [:]
    /// Syncookie SYN-ACKs sent: the SYN's sequence number and when, to validate the returning
    /// ACK (the cookie's secret is per boot; rxray accepts an ACK for a cookie it saw sent, while
    /// the cookie is young enough). Swept of cookies too old to be accepted (ipv4/InetPeer.swift).
    var cookies: [TCPConnKey: SynCookie] = [:]
    var cookiesSweepAt = Kernel.defaultSweepFloor
    var pendingRequests: Int { listeners.values.reduce(0) { $0 + $1.synQueue } }
}

struct TCPListenerState {
    var synQueue = 0
    /// Requests in the SYN queue whose timer has not fired yet (`young`).
    var synYoung = 0
    var acceptQueue: Int
    /// When the last syncookie was sent (`tcp_synq_overflow`), or `.min`.
    var lastCookie: Int64 = .min
    init(acceptQueue: Int) { self.acceptQueue = acceptQueue }
}

struct TCPConnKey: Hashable, FastHashable {
    var laddr: IPAddress
    var lport: UInt16
    var raddr: IPAddress
    var rport: UInt16

    @inline(__always) static func addressWords(_ a: IPAddress) -> (UInt64, UInt64) {
        switch a {
        case .v4(let x): return (UInt64(x.value), 1)
        case .v6(let x): return (x.high, x.low)
        }
    }

    var fastHash: UInt64 {
        let (lh, ll) = Self.addressWords(laddr), (rh, rl) = Self.addressWords(raddr)
        var h = (lh &* 0x9E37_79B9_7F4A_7C15) ^ (ll &* 0xC2B2_AE3D_27D4_EB4F)
        h ^= (rh &* 0xFF51_AFD7_ED55_8CCD) ^ (rl &* 0xC4CE_B9FE_1A85_EC53)
        return h ^ (UInt64(lport) << 16 | UInt64(rport)) &* 0x1656_67B1_9E37_79F9
    }
}

enum TCPConnState: String, CaseIterable {
    case synRecv = "NEW_SYN_RECV"
    case established = "ESTABLISHED"
    case closeWait = "CLOSE_WAIT"
    /// Our FIN sent (the application closed), not yet acknowledged.
    case finWait1 = "FIN_WAIT1"
    /// Both FINs sent, ours not yet acknowledged.
    case closing = "CLOSING"
    /// Our FIN acknowledged on an orphaned socket: a TIME_WAIT socket in substate FIN_WAIT2
    /// (`tcp_time_wait(sk, TCP_FIN_WAIT2, ...)`), waiting for the peer's FIN.
    case finWait2 = "FIN_WAIT2"
    case timeWait = "TIME_WAIT"
    case close = "CLOSE"
}

/// The connection hash table, with the timers of its request sockets (by when the SYN-ACK
/// timer fires next, `TCPConn.timerDue`) and TIME_WAIT / FIN_WAIT2 sockets (by the time they
/// entered the state) in two min-heaps, so timers touch only sockets that are due. Heap
/// entries are checked against the table when they come due (a socket may have left the
/// state, entered it again or had its timer moved since).
struct TCPConnTable: Sequence {
    private(set) var storage = OpenTable<TCPConnKey, TCPConn>()
    private(set) var requests = TimerHeap()
    private(set) var timeWaits = TimerHeap()

    var isEmpty: Bool { storage.isEmpty }
    var count: Int { storage.count }

    subscript(key: TCPConnKey) -> TCPConn? {
        get { storage[key] }
        set {
            guard let c = newValue else { storage[key] = nil; return }
            switch c.state {
            case .synRecv:
                let old = storage.updateValue(c, forKey: key)
                if old?.state != .synRecv || old?.timerDue != c.timerDue { requests.push(c.timerDue, key) }
            case .timeWait, .finWait2:
                let old = storage.updateValue(c, forKey: key)
                if !(old?.state == .timeWait || old?.state == .finWait2) || old?.timeWaitSince != c.timeWaitSince {
                    timeWaits.push(c.timeWaitSince, key)
                }
            default:
                storage.setValue(c, forKey: key)
            }
        }
    }

    @discardableResult
    mutating func removeValue(forKey key: TCPConnKey) -> TCPConn? { storage.removeValue(forKey: key) }

    /// Keys of TIME_WAIT / FIN_WAIT2 sockets with `now - timeWaitSince >= timeWaitLife`,
    /// taken off their heap (the table keeps them).
    mutating func dueTimeWaits(now: Int64, timeWaitLife: Int64, into gone: inout [TCPConnKey]) {
        while let (t, key) = timeWaits.min, now &- t >= timeWaitLife {
            timeWaits.pop()
            if let c = storage[key], c.state == .timeWait || c.state == .finWait2, c.timeWaitSince == t { gone.append(key) }
        }
    }

    /// When the earliest request socket's SYN-ACK timer is due (`.max`: none). An entry may
    /// be stale (the request completed or its timer moved): `popDueRequest` skips those.
    var nextRequestTimer: Int64 { requests.min?.0 ?? .max }

    /// The request socket whose timer is due first, if it is due at or before `t`, taken off
    /// the heap (stale entries are dropped on the way).
    mutating func popDueRequest(notAfter t: Int64) -> (due: Int64, key: TCPConnKey)? {
        while let (due, key) = requests.min, due <= t {
            requests.pop()
            if let c = storage[key], c.state == .synRecv, c.timerDue == due { return (due, key) }
        }
        return nil
    }

    /// Every connection, in the table's bucket order (reloads only; nothing per frame).
    func makeIterator() -> IndexingIterator<[(key: TCPConnKey, value: TCPConn)]> { storage.entries.makeIterator() }
}

/// A binary min-heap of (time, connection) timer entries.
struct TimerHeap {
    private var items: [(Int64, TCPConnKey)] = []

    var min: (Int64, TCPConnKey)? { items.first }
    var count: Int { items.count }

    mutating func push(_ t: Int64, _ key: TCPConnKey) {
        items.append((t, key))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent].0 <= items[i].0 { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() {
        guard !items.isEmpty else { return }
        let last = items.removeLast()
        guard !items.isEmpty else { return }
        items[0] = last
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && items[l].0 < items[m].0 { m = l }
            if r < n && items[r].0 < items[m].0 { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
    }
}

/// A request or connection socket (`struct request_sock` / `struct tcp_sock`).
struct TCPConn {
    var state: TCPConnState
    var listener: Int
    /// The peer's initial sequence number.
    var irs: UInt32
    var rcvNxt: UInt32
    /// Our ISN, when known (learnt from the ACK of our SYN-ACK otherwise).
    var iss: UInt32?
    var created: Int64
    var tsRecent: UInt32? = nil
    var inAcceptQueue = false
    var midStream = false
    /// Immediate ACKs left (`icsk_ack.quick`, TCP_MAX_QUICKACKS).
    var quickAcks = 16
    var segsSinceAck = 0
    /// Whether our FIN was sent (it takes one sequence number after the ISN: the application
    /// sends no data).
    var finSent = false
    /// When the socket entered FIN_WAIT2 (orphan) or TIME_WAIT: both last 60 s
    /// (TCP_TIMEWAIT_LEN; `tcp_fin_timeout` is 60 s by default).
    var timeWaitSince: Int64 = 0
    /// Request sockets (`.synRecv`): when the SYN-ACK timer fires next (`rsk_timer`), how
    /// often it has fired (`num_timeout`) and how many SYN-ACKs went out again (`num_retrans`),
    /// and whether the handshake's ACK came while the accept queue was full (`acked`).
    var timerDue: Int64 = 0
    var numTimeout: UInt8 = 0
    var numRetrans: UInt8 = 0
    var acked = false
    /// What a retransmitted SYN-ACK is built from: the device the SYN came in on, its MSS
    /// option (0: none) and which of SACK-permitted (1), window scale (2) and timestamps (4)
    /// it offered.
    var synDev: Int32 = 0
    var synMSS: UInt16 = 0
    var synOffers: UInt8 = 0
    init(state: TCPConnState, listener: Int, irs: UInt32, rcvNxt: UInt32, iss: UInt32?, created: Int64) {
        self.state = state; self.listener = listener; self.irs = irs; self.rcvNxt = rcvNxt; self.iss = iss; self.created = created
    }
}

@inline(__always) func seqBefore(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }
@inline(__always) func seqAfter(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: b &- a) < 0 }
@inline(__always) func seqBetween(_ x: UInt32, _ lo: UInt32, _ hi: UInt32) -> Bool { x &- lo <= hi &- lo }
