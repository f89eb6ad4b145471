import RxrayDecode

/// A timer the kernel fires on its own, reported between frames (not as any frame's result):
/// the request socket's SYN-ACK timer. A `FrameResult` whose `timer` is set is such an event:
/// its replies, counters and stage records are the timer's, and it has no frame (`frame` 0)
/// and no fate.
public struct TimerEvent: Sendable, Equatable {
    public enum Action: UInt8, Sendable {
        /// The SYN-ACK went out again (`inet_rtx_syn_ack`) and the timer was re-armed.
        case synAckRetransmit
        /// The request was dropped: its retransmissions ran out, or a retransmission failed
        /// (a rule at OUTPUT dropped it) on a request whose ACK never came.
        case requestDropped

        /// The name JSON and the text output use.
        public var name: String {
            switch self {
            case .synAckRetransmit: return "synack_retransmit"
            case .requestDropped: return "request_dropped"
            }
        }
    }

    /// The kernel function the event mirrors.
    public static let timerName = "reqsk_timer_handler"

    /// When the timer fired (ns since the epoch, capture time).
    public var time: Int64
    public var action: Action
    /// The request socket: local (listening) address and port, the peer's address and port.
    public var local: IPAddress
    public var localPort: UInt16
    public var remote: IPAddress
    public var remotePort: UInt16
    /// The request's `num_timeout` after this firing (how often its timer has fired).
    public var timeouts: Int
    /// SYN-ACK retransmissions so far (`num_retrans`: by the timer and for retransmitted SYNs).
    public var retransmits: Int
    /// The limit this firing used (`tcp_synack_retries`, lowered for old requests when the
    /// listener's SYN queue is more than half full).
    public var maxRetries: Int
    /// Fired after the last frame of the input, as if the capture were followed by enough quiet
    /// time (`Analyzer.finish`), not between two frames.
    public var endOfInput: Bool

    /// How late the kernel may run this firing: timers sit in a wheel whose slots get coarser
    /// with the timeout (at HZ=250: 32 ms for the 1 s and 2 s timeouts, 256 ms up to 16 s,
    /// 2 s beyond), a timer fires at the end of its slot, and each firing arms the next from
    /// when it ran, so the lateness adds up over the request's firings (plus a few jiffies for
    /// the softirq and the SYN's own way in). rxray fires at the exact times; `rxray verify`
    /// accepts the kernel's SYN-ACK up to this much later.
    public var wheelSlackNs: Int64 {
        let jiffy: Int64 = 4_000_000
        var total: Int64 = 3
        for n in 0..<max(1, timeouts) {
            let j = Kernel.synAckTimeout(afterTimeouts: UInt8(clamping: n)) / jiffy
            total += j < 63 ? 1 : j < 504 ? 8 : j < 4032 ? 64 : j < 32256 ? 512 : 4096
        }
        return total * jiffy
    }

    public init(time: Int64, action: Action, local: IPAddress, localPort: UInt16, remote: IPAddress, remotePort: UInt16,
                timeouts: Int, retransmits: Int, maxRetries: Int, endOfInput: Bool) {
        self.time = time; self.action = action; self.local = local; self.localPort = localPort
        self.remote = remote; self.remotePort = remotePort; self.timeouts = timeouts
        self.retransmits = retransmits; self.maxRetries = maxRetries; self.endOfInput = endOfInput
    }
}

extension Kernel {
    /// TCP_TIMEOUT_INIT: the request's first SYN-ACK timeout (1 s).
    static let synAckTimeoutInit: Int64 = 1_000_000_000
    /// TCP_RTO_MAX: the longest a request's timeout grows (120 s).
    static let synAckTimeoutMax: Int64 = 120_000_000_000

    /// The timeout after `n` firings: the initial one doubled `n` times, at most TCP_RTO_MAX.
    /// Mirrors `reqsk_timeout()` in include/net/inet_connection_sock.h.
    static func synAckTimeout(afterTimeouts n: UInt8) -> Int64 {
        n >= 7 ? synAckTimeoutMax : min(synAckTimeoutInit << Int64(n), synAckTimeoutMax)
    }

    /// Which of SACK-permitted (1), window scale (2) and timestamps (4) a SYN offers (what its
    /// SYN-ACK answers; kept for the retransmissions).
    func synOfferBits(_ skb: SKB, _ tcp: TCPSegment) -> UInt8 {
        var bits: UInt8 = tcp.tsval != nil ? 4 : 0
        let t = skb.thoff
        guard skb.captured(t + 20) else { return bits }
        let doff = Int(skb.buf.u8(t + 12) >> 4) * 4
        var i = t + 20
        let end = min(t + doff, skb.buf.count)
        while i < end {
            let kind = skb.buf.u8(i)
            if kind == 0 { break }
            if kind == 1 { i += 1; continue }
            guard i + 1 < end else { break }
            let len = Int(skb.buf.u8(i + 1))
            guard len >= 2 else { break }
            if kind == 4 { bits |= 1 }
            if kind == 3 { bits |= 2 }
            i += len
        }
        return bits
    }

    /// When the earliest request socket's timer is due (`.max`: none); a plain heap peek.
    var nextRequestTimer: Int64 { tcpState.conns.nextRequestTimer }

    /// Fires the earliest request-socket timer due at or before `t` (all of them in turn, for
    /// `t == .max`) and writes what it did into `r` (reset by the caller): returns false when
    /// none is due.
    ///
    /// Mirrors `reqsk_timer_handler()` in net/ipv4/inet_connection_sock.c: the retry limit is
    /// `tcp_synack_retries` (no per-listener TCP_SYNCNT in a snapshot), lowered towards 2 for
    /// this firing while the listener's SYN queue is more than half of max(8, backlog) and
    /// not mostly young requests; `syn_ack_recalc` without TCP_DEFER_ACCEPT (expire once the
    /// timer has fired that many times, else resend); `tcp_syn_ack_timeout` counts
    /// TCPTimeouts on every firing; `inet_rtx_syn_ack` → `tcp_rtx_synack` sends the SYN-ACK
    /// again (TcpOutSegs when built; TcpRetransSegs and TCPSynRetrans when it left), through
    /// LOCAL_OUT and POST_ROUTING like every reply; the timer is re-armed at
    /// `reqsk_timeout` (1 s doubled per firing, at most TCP_RTO_MAX) when the SYN-ACK left or
    /// the ACK already came (`acked`), else the request is dropped (`inet_csk_reqsk_queue_drop`).
    func reqskTimerFire(notAfter t: Int64, endOfInput: Bool, _ r: inout FrameResult) -> Bool {
        guard let (due, key) = tcpState.conns.popDueRequest(notAfter: t), var c = tcpState.conns[key] else { return false }
        let saved = now
        now = due
        defer { now = saved }
        let li = c.listener
        var q = listenerState(li)
        let l = ns.sockets[li]
        var maxRetries = ns.sysctl.tcpSynackRetries
        let qlen = q.synQueue
        if qlen << 1 > max(8, min(l.backlog, ns.sysctl.somaxconn)) {
            // Old requests clogging a half-full queue get fewer retransmissions.
            var young = q.synYoung << 1
            while maxRetries > 2 {
                if qlen < young { break }
                maxRetries -= 1
                young <<= 1
            }
        }
        r.count(.tcpExtTCPTimeouts)
        let expire = Int(c.numTimeout) >= maxRetries
        var sent = false
        if !expire {
            sent = retransmitSynAck(key, c, &r)
            if sent {
                r.count(.tcpRetransSegs)
                r.count(.tcpExtTCPSynRetrans)
                c.numRetrans &+= 1
            }
        }
        let v6: Bool
        if case .v6 = key.laddr { v6 = true } else { v6 = false }
        let flow = { (w: inout ByteWriter) in
            w.ascii("request ")
            w.string(v6 ? "[\(key.laddr)]" : "\(key.laddr)"); w.byte(58); w.decimal(Int(key.lport))
            w.ascii(" <- ")
            w.string(v6 ? "[\(key.raddr)]" : "\(key.raddr)"); w.byte(58); w.decimal(Int(key.rport))
        }
        if !expire && (sent || c.acked) {
            if c.numTimeout == 0 { q.synYoung = max(0, q.synYoung - 1) }
            c.numTimeout &+= 1
            c.timerDue = due &+ Kernel.synAckTimeout(afterTimeouts: c.numTimeout)
            tcpState.listeners[li] = q
            tcpState.conns[key] = c
            r.timer = TimerEvent(time: due, action: .synAckRetransmit, local: key.laddr, localPort: key.lport,
                                 remote: key.raddr, remotePort: key.rport, timeouts: Int(c.numTimeout),
                                 retransmits: Int(c.numRetrans), maxRetries: maxRetries, endOfInput: endOfInput)
            let next = c.timerDue &- due
            r.record(.reqskTimerHandler, .note) { w in
                flow(&w)
                w.ascii(": no ACK, timeout "); w.decimal(Int(c.numTimeout)); w.ascii(" of ")
                w.decimal(maxRetries)
                w.ascii(sent ? ": SYN-ACK retransmitted" : ": the SYN-ACK did not leave, the ACK already came (acked)")
                w.ascii(", next in "); w.decimal(Int(next / 1_000_000_000)); w.ascii(" s")
            }
        } else {
            tcpRemove(key)
            r.timer = TimerEvent(time: due, action: .requestDropped, local: key.laddr, localPort: key.lport,
                                 remote: key.raddr, remotePort: key.rport, timeouts: Int(c.numTimeout),
                                 retransmits: Int(c.numRetrans), maxRetries: maxRetries, endOfInput: endOfInput)
            r.record(.reqskTimerHandler, .drop) { w in
                flow(&w)
                if expire {
                    w.ascii(": no ACK after "); w.decimal(Int(c.numTimeout))
                    w.ascii(" SYN-ACK timeouts (limit "); w.decimal(maxRetries)
                    w.ascii(maxRetries == ns.sysctl.tcpSynackRetries ? ", tcp_synack_retries" : ", lowered: SYN queue more than half full")
                    w.ascii("): request dropped")
                } else {
                    w.ascii(": the retransmitted SYN-ACK did not leave: request dropped")
                }
            }
        }
        return true
    }

    /// Sends the request's SYN-ACK again, built as the first one was: from the SYN, here
    /// rebuilt from what the request kept (addresses, ports, ISN, MSS and offered options) in
    /// a buffer on the stack. It passes LOCAL_OUT / POST_ROUTING; returns whether it left.
    private func retransmitSynAck(_ key: TCPConnKey, _ c: TCPConn, _ r: inout FrameResult) -> Bool {
        let v6: Bool
        if case .v6 = key.laddr { v6 = true } else { v6 = false }
        return withUnsafeTemporaryAllocation(byteCount: 96, alignment: 8) { raw -> Bool in
            for k in 0..<96 { raw[k] = 0 }
            func put16(_ o: Int, _ v: UInt16) { raw[o] = UInt8(v >> 8); raw[o + 1] = UInt8(truncatingIfNeeded: v) }
            func put32(_ o: Int, _ v: UInt32) { put16(o, UInt16(v >> 16)); put16(o + 2, UInt16(truncatingIfNeeded: v)) }
            func putAddr(_ o: Int, _ a: IPAddress) {
                switch a {
                case .v4(let x): put32(o, x.value)
                case .v6(let x):
                    put32(o, UInt32(x.high >> 32)); put32(o + 4, UInt32(truncatingIfNeeded: x.high))
                    put32(o + 8, UInt32(x.low >> 32)); put32(o + 12, UInt32(truncatingIfNeeded: x.low))
                }
            }
            let ip = v6 ? 40 : 20
            // TCP options: MSS, SACK-permitted, window scale, timestamps (NOP-padded).
            var o = ip + 20
            if c.synMSS != 0 { raw[o] = 2; raw[o + 1] = 4; put16(o + 2, c.synMSS); o += 4 }
            if c.synOffers & 1 != 0 { raw[o] = 1; raw[o + 1] = 1; raw[o + 2] = 4; raw[o + 3] = 2; o += 4 }
            if c.synOffers & 2 != 0 { raw[o] = 1; raw[o + 1] = 3; raw[o + 2] = 3; raw[o + 3] = 7; o += 4 }
            if c.synOffers & 4 != 0 {
                raw[o] = 1; raw[o + 1] = 1; raw[o + 2] = 8; raw[o + 3] = 10
                put32(o + 4, c.tsRecent ?? 0)
                o += 12
            }
            let doff = o - ip
            let total = o
            if v6 {
                raw[0] = 0x60
                put16(4, UInt16(doff))
                raw[6] = 6; raw[7] = 64
                putAddr(8, key.raddr); putAddr(24, key.laddr)
            } else {
                raw[0] = 0x45
                put16(2, UInt16(total))
                raw[8] = 64; raw[9] = 6
                putAddr(12, key.raddr); putAddr(16, key.laddr)
            }
            put16(ip, key.rport); put16(ip + 2, key.lport)
            put32(ip + 4, c.irs)
            raw[ip + 12] = UInt8(doff / 4) << 4
            raw[ip + 13] = 0x02
            put16(ip + 14, 64240)
            let buf = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(raw)[0..<total])
            let dev = Int(c.synDev) < ns.devices.count ? Int(c.synDev) : 0
            var skb = SKB(buf: buf, len: total, dev: dev, origDev: dev, pktType: .host, proto: v6 ? 0x86DD : 0x0800,
                          frame: 0, time: now)
            skb.thoff = ip
            let tcp = TCPSegment(buf, off: ip, doff: doff, payload: 0)
            tcpSynAck(skb, tcp, ack: c.irs &+ 1, cookie: false, v6: v6, &r)
            nfLocalOutTimerReplies(answering: skb, ipv6: v6, &r)
            return !r.replies.isEmpty
        }
    }
}
