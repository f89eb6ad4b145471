import RxrayDecode
import RxrayHost
import RxrayNetfilter

// Glue between the receive-path stages and the netfilter engine (RxrayNetfilter).
//
// The engine is attached to an analyzer (`Analyzer.attachNetfilter`); stages call
// `nfHook(_:ipv6:_:_:)` with the packet at each hook point. Without an engine every hook
// passes, as on a host with no netfilter modules loaded.

/// The engine and the current packet's netfilter state (`skb->_nfct`), per kernel.
final class NFAttachment {
    /// The kernel this attachment belongs to (nil once it is gone). Not `weak`: a weak
    /// reference gives the kernel a side table, which slows every retain of it.
    let kernelHandle: KernelHandle
    var kernel: Kernel? { kernelHandle.kernel }
    let engine: NetfilterEngine
    /// Frame number `state` belongs to.
    var frame = -1
    var state = NFPacketState()
    /// The packet as the last hook of `frame` left it: what the stack's replies answer. Its
    /// `buf` is a copy of the first `lastCapacity` bytes in `lastBytes` (a reassembled
    /// datagram's bytes do not outlive the call that built it). Rebuilt from the few fields
    /// replies read (`keep` stores only those: copying the whole SKB cost every hook).
    var last: SKB? {
        guard hasLast else { return nil }
        return SKB(buf: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(lastBytes)[0..<lastCount]), len: lastLen,
                   dev: lastDev, origDev: lastDev, pktType: .host, proto: 0, frame: lastFrame, time: lastTime)
    }
    private var lastCount = 0, lastLen = 0, lastDev = 0
    private var lastTime: Int64 = 0
    private var hasLast = false
    let lastBytes: UnsafeMutableRawBufferPointer
    /// Enough for the IP and TCP headers with options, or an ICMP error's quote that rules and
    /// conntrack read (the quote's length is kept, its bytes beyond this are not).
    static let lastCapacity = 256
    /// The packet as the engine left it at the last hook of `packetFrame`: the next hook of the
    /// same frame on the same bytes starts from it instead of parsing them again.
    var packet = NFPacket(family: .bridge, hook: .prerouting, bytes: UnsafeRawBufferPointer(start: nil, count: 0))
    var packetFrame = -1
    /// Replies of `frame` already run through LOCAL_OUT (a REJECT's, at its hook).
    var repliesDone = 0
    /// The packet a reply is built in (IP header, transport header, quoted packet).
    let replyBuf: UnsafeMutableRawBufferPointer
    /// A copy of the answered packet's first bytes (the engine's NAT buffer is reused by replies).
    let answeredBuf: UnsafeMutableRawBufferPointer
    init(kernel: Kernel, engine: NetfilterEngine) {
        self.kernelHandle = kernel.handle; self.engine = engine
        replyBuf = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.replyCapacity, alignment: 8)
        answeredBuf = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.replyCapacity, alignment: 8)
        lastBytes = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.lastCapacity, alignment: 8)
    }
    deinit { replyBuf.deallocate(); answeredBuf.deallocate(); lastBytes.deallocate() }

    /// Keeps `skb` (its first bytes copied) as the packet replies answer: what `nfLocalOut`
    /// reads of it (bytes, length, device, time).
    ///
    /// The bytes are not copied again when the previous hook of the same frame kept the same
    /// buffer and nothing rewrote it since (`rewritten`: NAT wrote the engine's buffer at this
    /// hook). The stack never writes a packet's bytes in place; a frame's packet moves to
    /// new bytes only when reassembled (a fresh buffer, always copied) or rewritten by NAT.
    @inline(__always)
    func keep(_ skb: borrowing SKB, rewritten: Bool) {
        let n = min(skb.buf.count, Self.lastCapacity)
        let src = skb.buf.baseAddress
        let frame = skb.frame, fresh = skb.reassembled
        if rewritten || fresh || !hasLast || lastFrame != frame || lastSource != src || lastCount != n {
            if n > 0, let b = src { lastBytes.baseAddress!.copyMemory(from: b, byteCount: n) }
        }
        lastSource = src; lastFrame = frame
        lastCount = n; lastLen = skb.len; lastDev = skb.dev; lastTime = skb.time
        hasLast = true
    }
    /// Where `keep` last copied from, and for which frame.
    private var lastSource: UnsafeRawPointer? = nil
    private var lastFrame = -1
    /// Enough for an IPv6 error quoting a minimum-MTU packet.
    static let replyCapacity = 1280
}

extension Analyzer {
    /// Builds the analyzer for `host` with its netfilter rulesets compiled and its conntrack
    /// table loaded.
    ///
    /// - Throws: `InputError` when a ruleset source does not parse.
    public convenience init(host: Host, options: Options = Options(), netfilter: Bool) throws {
        self.init(host: host, options: options)
        if netfilter { attachNetfilter(try NetfilterEngine(host: host)) }
    }

    /// Runs every hook of this analyzer through `engine` from now on.
    public func attachNetfilter(_ engine: NetfilterEngine) {
        kernel.netfilter = NFAttachment(kernel: kernel, engine: engine)
        // Through the kernel's handle, not `[weak kernel]` (a weak reference gives the kernel a
        // side table, which slows every retain of it): nil once the kernel is gone.
        engine.fibOif = { [handle = kernel.handle] addr, v6, iif, _ in
            guard let k = handle.kernel else { return 0 }
            let inbound = k.ns.devices.firstIndex { $0.ifindex == iif } ?? 0
            if v6 {
                guard let out = k.outputRoute6(to: IPv6Address(high: addr.high, low: addr.low), inbound: inbound) else { return 0 }
                return k.ns.devices[out].ifindex
            }
            guard let (out, _) = k.outputRoute(to: IPv4Address(UInt32(truncatingIfNeeded: addr.low)), preferredSource: nil, inbound: inbound) else { return 0 }
            return k.ns.devices[out].ifindex
        }
    }

    /// The attached netfilter engine (rule hit counts, conntrack table), if any.
    public var netfilter: NetfilterEngine? { kernel.netfilter?.engine }
}

extension Kernel {

    /// A netfilter hook point with no packet context (kept for callers that have none):
    /// passes, leaving a trace entry only when details are wanted.
    @inline(__always)
    func nfHook(_ hook: NFHook, ipv6: Bool, _ r: inout FrameResult) -> Bool {
        if r.wantsDetail && netfilter == nil {
            r.record(.nfHook(hook, table: 0), .pass, "no netfilter rules loaded")
        }
        return true
    }

    /// Runs the hook functions at `hook` for the packet: conntrack, NAT and every base chain in
    /// priority order. Records one stage per base chain; on DROP records the drop
    /// (`NETFILTER_DROP`) and any REJECT reply and returns false. NAT may rewrite `skb.buf`
    /// (DNAT before routing re-routes on the new destination); MARK rewrites `skb.mark`.
    ///
    /// Mirrors `NF_HOOK()` / `nf_hook_slow()` in net/netfilter/core.c.
    func nfHook(_ hook: NFHook, ipv6: Bool, _ skb: inout SKB, _ r: inout FrameResult) -> Bool {
        guard netfilter != nil else { return nfHook(hook, ipv6: ipv6, &r) }
        // The attachment and its engine live as long as the kernel, which outlives this call:
        // borrowed for the call, with no reference counting (a retain and release of each per
        // hook otherwise, around every call made on them).
        return Unmanaged.passUnretained(netfilter.unsafelyUnwrapped)._withUnsafeGuaranteedRef { a in
            Unmanaged.passUnretained(a.engine)._withUnsafeGuaranteedRef { engine in
                nfHook(hook, ipv6: ipv6, a, engine, &skb, &r)
            }
        }
    }

    private func nfHook(_ hook: NFHook, ipv6: Bool, _ a: NFAttachment, _ engine: NetfilterEngine,
                        _ skb: inout SKB, _ r: inout FrameResult) -> Bool {
        let family: NFFamily
        let point: NFHookPoint
        switch hook {
        case .prerouting: point = .prerouting; family = ipv6 ? .ipv6 : .ipv4
        case .input: point = .input; family = ipv6 ? .ipv6 : .ipv4
        case .forward: point = .forward; family = ipv6 ? .ipv6 : .ipv4
        case .output: point = .output; family = ipv6 ? .ipv6 : .ipv4
        case .postrouting: point = .postrouting; family = ipv6 ? .ipv6 : .ipv4
        case .arpIn: point = .input; family = .arp
        case .arpOut: point = .output; family = .arp
        case .arpForward: point = .forward; family = .arp
        }
        if a.frame != skb.frame {
            // `packetDone` acts only on a connection the packet created (and not confirmed).
            if a.frame >= 0 && a.state.ct.created { engine.packetDone(&a.state) }
            a.frame = skb.frame
            a.state = NFPacketState()
            a.repliesDone = r.replies.count
        }
        // A hook none of whose functions would read the packet (its chains accepting without a
        // walk for the connection's state, conntrack done, no NAT to apply): accepted without
        // building the packet.
        if engine.packetFreeHooks & (1 << NetfilterEngine.hookIndex(family, point)) != 0
            && engine.hookWithoutPacket(family: family, hook: point, &a.state, trace: r.wantsDetail) {
            a.keep(skb, rewritten: false)
            if r.wantsDetail { recordVisits(hook, engine, &r) }
            return true
        }
        var oif = 0
        var oifName = IfName()
        if point == .forward || point == .postrouting {
            let out = ipv6 ? skb.route6?.outDev : skb.route4?.outDev
            if let o = out { oif = nfIfindex[o]; oifName = nfIfName[o] }
        }
        // The packet is built in the attachment and run there in place (a copy in and out of a
        // local cost two 130-byte copies per hook).
        if a.packetFrame == skb.frame && a.packet.family == family && a.packet.bytes.baseAddress == skb.buf.baseAddress
            && a.packet.bytes.count == skb.buf.count && !skb.reassembled {
            // The bytes the frame's previous hook saw (NAT rewrites addresses and ports, never
            // the headers' layout): their parse still holds, only the hook's metadata changes.
            a.packet.hook = point; a.packet.length = skb.len
            a.packet.iif = nfIfindex[skb.dev]; a.packet.oif = oif; a.packet.iifName = nfIfName[skb.dev]; a.packet.oifName = oifName
            a.packet.pktType = skb.pktType.rawValue; a.packet.mark = skb.mark; a.packet.timeNs = skb.time; a.packet.sourceMAC = skb.srcMAC
        } else {
            a.packet.reset(family: family, hook: point, bytes: skb.buf, length: skb.len, iif: nfIfindex[skb.dev], oif: oif,
                           iifName: nfIfName[skb.dev], oifName: oifName, pktType: skb.pktType.rawValue, mark: skb.mark,
                           timeNs: skb.time, sourceMAC: skb.srcMAC)
        }
        a.packetFrame = skb.frame
        // GRO verified the checksum of a packet it completed alone, over these very bytes (its
        // header rewrite keeps them); a merged packet's payloads are summed again.
        a.packet.l4ChecksumVerified = skb.csumVerified && skb.groSegs == 1
        let ctBefore = a.state.ctDone
        let out = engine.hook(&a.packet, &a.state, trace: r.wantsDetail)
        skb.mark = a.packet.mark
        if out.rewritten { skb.buf = a.packet.bytes }
        a.keep(skb, rewritten: out.rewritten)
        if r.wantsDetail {
            if !ctBefore && a.state.ctDone {
                let st = a.state
                r.recordJSONSafe(.nfConntrackIn, .note, writing: { writeConntrack(engine, st, to: &$0) })
            }
            recordVisits(hook, engine, &r)
            if out.rewritten {
                let packet = skb
                r.recordJSONSafe(.nfNat, .note) { writeNat(packet, ipv6: ipv6, to: &$0); return true }
            }
        }
        if out.verdict == .accept { return true }
        // The per-chain record above already says which rule; the drop record that replaces it
        // names the hook (taken out before a REJECT's reply is recorded, so it is not doubled).
        if r.wantsDetail, !r.stages.isEmpty, case .nfHook = r.stages[r.stages.count - 1].stage, out.cause != .conntrackTableFull {
            r.stages.removeLast()
        }
        // Taken before a REJECT's reply runs its own hooks (the engine's visits are reused).
        let table = engine.lastVisitChain >= 0 ? UInt16(truncatingIfNeeded: engine.lastVisitChain) : 0
        var why = ""
        // The last visit's text, written before a REJECT's reply records its own stages and
        // repeated by the drop record after them (a plain DROP writes it in its record).
        var visitAhead: Range<Int>? = nil
        var lastVisit: NFChainVisit? = nil
        switch out.cause {
        case .conntrackTableFull: why = "nf_conntrack: table full, dropping packet"
        case .queueNoListener: why = "queued to userspace with no listener"
        default:
            if r.wantsDetail {
                if let v = engine.visits.last {
                    if out.reject != nil { visitAhead = r.detailAhead { engine.writeVisit(v, to: &$0) } } else { lastVisit = v }
                } else {
                    why = "dropped"
                }
            }
        }
        if let k = out.reject {
            let before = r.replies.count
            sendReject(k, skb, ipv6: ipv6, &r)
            // The reset or unreachable leaves through LOCAL_OUT carrying the rejected packet's
            // connection (`nf_ct_attach`: RELATED in the other direction), never a new one.
            let rst = Self.attached(to: a.state)
            var i = before
            while i < r.replies.count {
                if nfLocalOut(at: i, answering: skb, ipv6: ipv6, state: rst, &r) { i += 1 }
            }
            a.repliesDone = r.replies.count
        }
        engine.packetDone(&a.state)
        if let v = lastVisit {
            r.drop(.netfilterDrop, at: .nfHook(hook, table: table), writing: { engine.writeVisit(v, to: &$0) })
        } else if let d = visitAhead {
            r.drop(.netfilterDrop, at: .nfHook(hook, table: table), writing: { $0.repeatBytes(from: d.lowerBound, count: d.count) })
        } else {
            r.drop(.netfilterDrop, at: .nfHook(hook, table: table), why)
        }
        return false
    }

    /// Records a stage per base chain the engine's last hook went through.
    private func recordVisits(_ hook: NFHook, _ engine: NetfilterEngine, _ r: inout FrameResult) {
        // The visits are read in place and the detail buffer is fetched once for all of them.
        engine.withVisits { visits in
            guard r.wantsDetail else {
                for v in visits {
                    r.stages.append(StageRecord(stage: .nfHook(hook, table: UInt16(truncatingIfNeeded: v.chain)),
                                                verdict: v.verdict == .drop ? .drop : .pass))
                }
                return
            }
            let b = r.detailBuffer()
            for v in visits {
                r.appendWithJSONForm(.nfHook(hook, table: UInt16(truncatingIfNeeded: v.chain)), v.verdict == .drop ? .drop : .pass,
                                     to: b, writing: { engine.writeVisit(v, to: &$0, jsonForm: $1) })
            }
        }
    }

    /// The reply a REJECT sends (`nf_send_reset` / `nf_send_unreach`).
    func sendReject(_ k: NFRejectKind, _ skb: SKB, ipv6: Bool, _ r: inout FrameResult) {
        switch k {
        case .tcpReset:
            let thoff = skb.ihlOrV6
            guard thoff > 0, skb.captured(thoff + 20) else { return }
            let flags = skb.buf.u8(thoff + 13)
            if flags & 0x04 != 0 { return }  // never answer a RST
            if !ipv6 && skb.v4Offset != 0 { return }
            let seq = skb.buf.u32(thoff + 4), ack = skb.buf.u32(thoff + 8)
            let doff = Int(skb.buf.u8(thoff + 12) >> 4) * 4
            let payload = max(0, (ipv6 ? 40 + skb.v6PayloadLen : skb.v4TotLen) - thoff - doff)
            let hasACK = flags & 0x10 != 0
            let ackNo = seq &+ UInt32(payload) &+ (flags & 0x02 != 0 ? 1 : 0) &+ (flags & 0x01 != 0 ? 1 : 0)
            let text = r.replyText { w in
                if hasACK { w.ascii("RST seq "); w.decimal(ack) } else { w.ascii("RST+ACK seq 0 ack "); w.decimal(ackNo) }
                w.ascii(" (REJECT)")
            }
            r.replies.append(Reply(kind: .tcpRst, interface: replyInterface(skb, v6: ipv6),
                                   source: ipv6 ? .v6(skb.v6Daddr) : .v4(skb.v4Daddr),
                                   destination: ipv6 ? .v6(skb.v6Saddr) : .v4(skb.v4Saddr), summaryText: text))
        case .icmp(let t, let c):
            if ipv6 { icmpv6Send(skb, type: 1, code: c, info: 0, &r) } else { icmpSend(skb, type: t, code: c, info: 0, &r) }
        case .icmpv6(let t, let c):
            if ipv6 { icmpv6Send(skb, type: t, code: c, info: 0, &r) } else { icmpSend(skb, type: 3, code: 3, info: 0, &r) }
        case .icmpx(let c):
            if ipv6 { icmpv6Send(skb, type: 1, code: [0, 4, 3, 1][Int(min(c, 3))], info: 0, &r) }
            else { icmpSend(skb, type: 3, code: [0, 3, 1, 13][Int(min(c, 3))], info: 0, &r) }
        case .defaultPortUnreachable:
            if ipv6 { icmpv6Send(skb, type: 1, code: 4, info: 0, &r) } else { icmpSend(skb, type: 3, code: 3, info: 0, &r) }
        }
    }

    /// Whether IPv4 fragments are gathered at PRE_ROUTING before conntrack (`nf_defrag_ipv4`,
    /// priority -400): on in a namespace whose rulesets use conntrack.
    var nfDefragsIPv4: Bool { netfilter?.engine.usesConntrack ?? false }

    /// The reassembled datagram of a conntrack defrag queue (`IP_DEFRAG_CONNTRACK_IN`) goes on
    /// through PRE_ROUTING's later hook functions and `ip_rcv_finish` as one packet.
    ///
    /// Mirrors `ipv4_conntrack_defrag()` in net/ipv4/netfilter/nf_defrag_ipv4.c returning
    /// NF_ACCEPT for the completed datagram.
    func nfDefragContinue(_ skb: inout SKB, _ r: inout FrameResult) {
        guard nfHook(.prerouting, ipv6: false, &skb, &r) else { return }
        ipRcvFinish(&skb, &r)
    }

    /// Whether an expired conntrack defrag queue whose first fragment `skb` holds is answered
    /// with ICMP time exceeded: only when the datagram was for this host (`ip_expire` routes it
    /// again and skips the error otherwise).
    func nfDefragExpiryAnswers(_ skb: inout SKB) -> Bool {
        var scratch = FrameResult()
        scratch.wantsDetail = false
        guard ipRouteInputNoref(&skb, &scratch) == nil, let rt = skb.route4 else { return false }
        return rt.type == .local
    }

    /// Runs the replies this frame made (from the stack: SYN-ACKs, resets, ACKs, ICMP errors
    /// and echo replies) through LOCAL_OUT and POST_ROUTING, as `ip_local_out` does for every
    /// packet the host builds. Call once the frame's receive path is done; replies a hook drops
    /// are taken out of `r.replies` (the frame's trace says so).
    ///
    /// Allocates nothing when the frame made no reply or no netfilter engine is attached.
    func nfLocalOutReplies(_ r: inout FrameResult, packetFrame: Int? = nil) {
        // The attachment is keyed by the packet's frame: a GRO packet's is its first segment's,
        // its result's the last segment's (`packetFrame`).
        guard let a = netfilter, a.frame == (packetFrame ?? r.frame), a.repliesDone < r.replies.count, let skb = a.last else { return }
        let v6 = skb.captured(1) && skb.buf.u8(0) >> 4 == 6
        let tracked = a.state.ctDone && (a.state.ct.slot >= 0 || a.state.ct.untracked)
        var i = a.repliesDone
        while i < r.replies.count {
            // An ICMP error carries the connection of the packet it quotes (`nf_ct_attach` in
            // icmp_glue_bits / icmpv6_getfrag); other replies are looked up at LOCAL_OUT.
            let st = tracked && Self.isError(r.replies[i].kind) ? Self.attached(to: a.state) : NFPacketState()
            if nfLocalOut(at: i, answering: skb, ipv6: v6, state: st, &r) { i += 1 }
        }
        a.repliesDone = r.replies.count
    }

    /// The state of a packet the kernel builds about another one (`nf_conntrack_attach`): the
    /// same connection, RELATED in the other direction, conntrack not run again.
    static func attached(to s: NFPacketState) -> NFPacketState {
        var st = NFPacketState()
        st.ctDone = true
        st.ct.slot = s.ct.slot
        st.ct.info = s.ct.info.isReply ? .related : .relatedReply
        st.ct.untracked = s.ct.untracked
        if s.ct.untracked { st.ct.info = .untracked }
        return st
    }

    static func isError(_ k: Reply.Kind) -> Bool {
        switch k {
        case .icmp(let t, _): return t == 3 || t == 4 || t == 5 || t == 11 || t == 12
        case .icmpv6(let t, _): return t < 128
        default: return false
        }
    }

    /// One reply through LOCAL_OUT then POST_ROUTING. Returns false when a hook dropped it (it
    /// is removed from `r.replies`); NAT updates its addresses and, when the destination
    /// changed, its interface (`ip_route_me_harder`).
    ///
    /// Mirrors `__ip_local_out()` / `ip_output()` (and their IPv6 twins) for a reply, with
    /// conntrack at LOCAL_OUT (`nf_conntrack_in`) and its confirmation at POST_ROUTING.
    func nfLocalOut(at index: Int, answering skb: SKB, ipv6: Bool, state: NFPacketState, _ r: inout FrameResult) -> Bool {
        guard let a = netfilter else { return true }
        let engine = a.engine
        var rep = r.replies[index]
        // The answered packet's bytes may sit in the engine's NAT buffer, which a reply's own
        // NAT reuses: keep a copy of what the reply quotes.
        let n = min(skb.buf.count, NFAttachment.replyCapacity)
        if n > 0, let b = skb.buf.baseAddress { a.answeredBuf.baseAddress!.copyMemory(from: b, byteCount: n) }
        let answered = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(a.answeredBuf)[0..<n])
        guard let built = buildReplyPacket(rep, answering: answered, length: skb.len, ipv6: ipv6, into: a.replyBuf) else { return true }
        let outDev = ns.devices.firstIndex { $0.name == rep.interface }
        var p = NFPacket(family: ipv6 ? .ipv6 : .ipv4, hook: .output,
                         bytes: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(a.replyBuf)[0..<built.captured]),
                         length: built.length, oif: outDev.map { ns.devices[$0].ifindex } ?? 0,
                         oifName: IfName(rep.interface), timeNs: skb.time)
        p.localSeqUnknown = built.seqUnknown
        var st = state
        let dstBefore = p.daddr
        for step in 0..<2 {
            let hook: NFHook = step == 0 ? .output : .postrouting
            p.hook = step == 0 ? .output : .postrouting
            if hook == .postrouting && p.daddr != dstBefore {
                // NAT at LOCAL_OUT changed the destination: routed again.
                let d = p.daddr
                let o: Int?
                if ipv6 { o = outputRoute6(to: IPv6Address(high: d.high, low: d.low), inbound: skb.dev) }
                else { o = outputRoute(to: IPv4Address(UInt32(truncatingIfNeeded: d.low)), preferredSource: nil, inbound: skb.dev)?.0 }
                if let o { rep.interface = devName(o); p.oif = ns.devices[o].ifindex; p.oifName = IfName(ns.devices[o].name) }
            }
            let ctBefore = st.ctDone
            let out = engine.hook(&p, &st, trace: r.wantsDetail)
            if r.wantsDetail {
                // Recorded under ip_output (`__ip_local_out` / `ip_output` run these hooks), not as
                // the frame's own nf_hook stages: the reply is another packet, which the kernel's
                // nft trace of the frame does not follow either.
                let kind = rep.kindName
                if !ctBefore && st.ctDone {
                    let state = st
                    r.record(.ipOutput, .note) { w in
                        w.string(kind); w.ascii(" reply: nf_conntrack_in: "); writeConntrack(engine, state, to: &w)
                    }
                }
                for v in engine.visits {
                    r.record(.ipOutput, v.verdict == .drop ? .drop : .pass) { w in
                        w.string(kind); w.ascii(" reply: nf_hook "); w.string(hook.name); w.ascii(": "); engine.writeVisit(v, to: &w)
                    }
                }
            }
            if out.verdict == .drop {
                engine.packetDone(&st)
                r.replies.remove(at: index)
                let table = engine.lastVisitChain >= 0 ? UInt16(truncatingIfNeeded: engine.lastVisitChain) : 0
                let why = out.cause == .conntrackTableFull ? "nf_conntrack: table full, dropping packet" : "dropped by a rule"
                let frameFate = !r.wantsDetail ? "" : r.fate == .forwarded ? "forwarded" : (r.fate == .delivered ? "delivered" : "dropped, \(r.dropReason?.name ?? "")")
                if r.fate != .forwarded {
                    // The kernel frees the reply (NETFILTER_DROP) while handling this frame, before
                    // it frees the frame itself (when it does): the frame's first drop.
                    r.fate = .dropped
                    r.dropReason = .netfilterDrop
                    r.dropStage = .nfHook(hook, table: table)
                }
                // ip_send_skb counts the failure (ICMP, and TCP resets and ACKs sent with
                // ip_send_unicast_reply); a SYN-ACK (ip_build_and_send_pkt) and a REJECT's
                // reset (nf_send_reset) leave through ip_local_out alone and count nothing.
                let viaSendSkb: Bool
                switch rep.kind {
                case .icmp: viaSendSkb = true
                case .tcpRst, .tcpAck: viaSendSkb = !state.ctDone  // not a REJECT's (attached) reset
                default: viaSendSkb = false
                }
                if viaSendSkb && !ipv6 { r.count(.ipOutDiscards) }
                // A TCP segment counted IpOutRequests entering ip_local_out (countReplyOutput
                // counts the ones that leave).
                if rep.kind.isTCP && !ipv6 { r.count(.ipOutRequests) }
                r.record(.ipOutput, .drop, "\(rep.kindName) reply to \(rep.destination.map { "\($0)" } ?? "?") not sent: \(why) at \(hook.name) (the frame itself: \(frameFate))")
                return false
            }
            if out.rewritten {
                let w = UnsafeRawBufferPointer(rebasing: p.bytes[0..<min(p.bytes.count, built.captured)])
                if r.wantsDetail { r.record(.ipOutput, .note, "\(rep.kindName) reply: nf_nat: packet now \(p.saddr.address(v6: ipv6)) > \(p.daddr.address(v6: ipv6))") }
                p.bytes = w
            }
        }
        engine.packetDone(&st)
        rep.source = ipv6 ? .v6(IPv6Address(high: p.saddr.high, low: p.saddr.low)) : .v4(IPv4Address(UInt32(truncatingIfNeeded: p.saddr.low)))
        rep.destination = ipv6 ? .v6(IPv6Address(high: p.daddr.high, low: p.daddr.low)) : .v4(IPv4Address(UInt32(truncatingIfNeeded: p.daddr.low)))
        r.replies[index] = rep
        return true
    }

    /// Builds the IP packet of a reply in `buf` from what it answers: addresses from the reply,
    /// the transport fields rules and conntrack read (ports, TCP flags and sequence numbers, ICMP
    /// type/code/id, the quoted header of an error). Nil for replies that are not IP packets.
    func buildReplyPacket(_ rep: Reply, answering q: UnsafeRawBufferPointer, length qlen: Int, ipv6: Bool,
                          into buf: UnsafeMutableRawBufferPointer) -> (captured: Int, length: Int, seqUnknown: Bool)? {
        let qp = NFPacket(family: ipv6 ? .ipv6 : .ipv4, hook: .input, bytes: q, length: qlen)
        let ip = ipv6 ? 40 : 20
        guard q.count >= ip else { return nil }
        let qsrc = qp.saddr, qdst = qp.daddr
        let src = rep.source.map(NFValue.init) ?? qdst
        let dst = rep.destination.map(NFValue.init) ?? qsrc
        var proto: UInt8 = 0
        var l4 = 0, total = 0
        var seqUnknown = false
        let cap = buf.count
        for k in 0..<min(cap, 64) { buf[k] = 0 }
        switch rep.kind {
        case .tcpRst, .tcpSynAck, .tcpAck:
            guard qp.l4proto == 6, qp.has(qp.thoff, 20) else { return nil }
            proto = 6
            let t = qp.thoff
            let qflags = q.u8(t + 13)
            let qseq = q.u32(t + 4), qack = q.u32(t + 8)
            let doff = Int(q.u8(t + 12) >> 4) * 4
            let qpayload = max(0, (ipv6 ? 40 + Int(q.u16(4)) : Int(q.u16(2))) - t - doff)
            let qend = qseq &+ UInt32(qpayload) &+ (qflags & 0x02 != 0 ? 1 : 0) &+ (qflags & 0x01 != 0 ? 1 : 0)
            var seq: UInt32 = 0, ack: UInt32 = 0, flags: UInt8 = 0x10
            var offerWS = false, offerSACK = false
            switch rep.kind {
            case .tcpSynAck:
                flags = 0x12; ack = qend; seqUnknown = true
                // The options the SYN offered come back (MSS always; window scale, SACK).
                (offerWS, offerSACK) = synOptions(q, thoff: t, doff: doff)
            case .tcpRst:
                if qflags & 0x10 != 0 { flags = 0x04; seq = qack } else { flags = 0x14; ack = qend }
            default:
                seq = qack; ack = qend
            }
            l4 = 20 + (flags == 0x12 ? 4 + (offerWS || offerSACK ? 8 : 0) : 0)
            guard ip + l4 <= cap else { return nil }
            let o = ip
            put16(buf, o, q.u16(t + 2)); put16(buf, o + 2, q.u16(t))
            put32(buf, o + 4, seq); put32(buf, o + 8, ack)
            buf[o + 12] = UInt8(l4 / 4) << 4; buf[o + 13] = flags
            put16(buf, o + 14, flags & 0x04 != 0 ? 0 : 64240)
            if l4 > 20 {
                // MSS 1460, then NOP padding, window scale and SACK-permitted when offered. The
                // scale is the kernel's for its default 32 MB tcp_rmem maximum (6.18): 10.
                buf[o + 20] = 2; buf[o + 21] = 4; put16(buf, o + 22, ipv6 ? 1440 : 1460)
                var k = o + 24
                for _ in 0..<8 { buf[k] = 1; k += 1 }
                k = o + 24
                if offerSACK { buf[k] = 1; buf[k + 1] = 1; buf[k + 2] = 4; buf[k + 3] = 2 }
                k = o + 28
                if offerWS { buf[k] = 1; buf[k + 1] = 3; buf[k + 2] = 3; buf[k + 3] = 10 }
            }
            total = ip + l4
        case .icmp(let type, let code), .icmpv6(let type, let code):
            let v6msg: Bool
            if case .icmpv6 = rep.kind { v6msg = true } else { v6msg = false }
            guard v6msg == ipv6 else { return nil }
            proto = ipv6 ? 58 : 1
            let o = ip
            let isEcho = ipv6 ? (type == 129) : (type == 0 || type == 14)
            if isEcho {
                guard qp.has(qp.thoff, 8) else { return nil }
                let qn = min(q.count - qp.thoff, cap - o)
                buf.baseAddress!.advanced(by: o).copyMemory(from: q.baseAddress!.advanced(by: qp.thoff), byteCount: qn)
                buf[o] = type; buf[o + 1] = code
                l4 = max(8, (ipv6 ? 40 + Int(q.u16(4)) : Int(q.u16(2))) - qp.thoff)
                total = o + qn
            } else {
                buf[o] = type; buf[o + 1] = code
                for k in 2..<8 { buf[o + k] = 0 }
                let isError = ipv6 ? type < 128 : (type == 3 || type == 4 || type == 5 || type == 11 || type == 12)
                if isError {
                    // As much of the packet as fits in 576 bytes (IPv4) or the minimum MTU (IPv6).
                    let room = (ipv6 ? 1280 : 576) - o - 8
                    let quoted = min(qlen, room)
                    let qn = min(quoted, q.count, cap - o - 8)
                    buf.baseAddress!.advanced(by: o + 8).copyMemory(from: q.baseAddress!, byteCount: qn)
                    l4 = 8 + quoted
                    total = o + 8 + qn
                } else {
                    l4 = ipv6 && (type == 136 || type == 137) ? 24 : 8
                    total = o + min(l4, 8)
                }
            }
        default:
            return nil
        }
        // IP header.
        if ipv6 {
            buf[0] = 0x60; buf[1] = 0; buf[2] = 0; buf[3] = 0
            put16(buf, 4, UInt16(truncatingIfNeeded: l4)); buf[6] = proto; buf[7] = 64
            put128(buf, 8, src); put128(buf, 24, dst)
        } else {
            buf[0] = 0x45; buf[1] = 0
            put16(buf, 2, UInt16(truncatingIfNeeded: 20 + l4)); put16(buf, 4, 0)
            put16(buf, 6, proto == 6 ? 0x4000 : 0); buf[8] = 64; buf[9] = proto
            put16(buf, 10, 0)
            put32(buf, 12, UInt32(truncatingIfNeeded: src.low)); put32(buf, 16, UInt32(truncatingIfNeeded: dst.low))
            var c = InternetChecksum(); c.add(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buf)[0..<20]))
            put16(buf, 10, c.checksum)
        }
        return (total, ip + l4, seqUnknown)
    }

    /// Appends the conntrack note (`ct state … orig … reply …`); a packet with no connection
    /// to show gets `writeConntrackAbsent`'s. Returns whether the
    /// text needs no JSON escape (the tracked packet's text: literals, names and numbers).
    @discardableResult
    func writeConntrack(_ e: NetfilterEngine, _ st: NFPacketState, to w: inout ByteWriter) -> Bool {
        guard !st.ct.untracked, e.conntrackHoldsEntry(st.ct.slot) else {
            writeConntrackAbsent(st, to: &w)
            return false
        }
        switch st.ct.info {
        case .established: w.ascii("ct state established (ESTABLISHED)")
        case .related: w.ascii("ct state related (RELATED)")
        case .new: w.ascii("ct state new (NEW)")
        case .establishedReply: w.ascii("ct state established_reply (ESTABLISHED_REPLY)")
        case .relatedReply: w.ascii("ct state related_reply (RELATED_REPLY)")
        case .untracked: w.ascii("ct state untracked (UNTRACKED)")
        }
        e.writeConntrackTuples(st.ct.slot, to: &w)
        return true
    }

    /// The conntrack note of a packet with no connection to show: untracked, invalid, or one
    /// whose connection is gone (each closed-port RST's reply: a reset removes it).
    private func writeConntrackAbsent(_ st: NFPacketState, to w: inout ByteWriter) {
        if st.ct.untracked { w.ascii("ct state untracked"); return }
        if let why = st.ct.invalidReason { w.ascii("ct state invalid: "); w.ascii(why); return }
        guard st.ct.slot >= 0 else { w.ascii("ct state invalid"); return }
        let name = st.ct.info.name
        w.ascii("ct state ")
        for b in name.utf8 { w.byte(b >= 65 && b <= 90 ? b | 0x20 : b) }  // lower case (the names are ASCII)
        w.ascii(" (")
        w.string(name)
        w.ascii("); the connection is gone (a reset was the only reply, or it timed out)")
    }
}

/// The SYN's offer of window scaling and SACK (the SYN-ACK answers them).
private func synOptions(_ q: UnsafeRawBufferPointer, thoff t: Int, doff: Int) -> (Bool, Bool) {
    var ws = false, sack = false
    var i = t + 20
    let end = min(t + doff, q.count)
    while i < end {
        let kind = q.u8(i)
        if kind == 0 { break }
        if kind == 1 { i += 1; continue }
        guard i + 1 < end else { break }
        let len = Int(q.u8(i + 1))
        guard len >= 2 else { break }
        if kind == 3 { ws = true }
        if kind == 4 { sack = true }
        i += len
    }
    return (ws, sack)
}

private func put16(_ b: UnsafeMutableRawBufferPointer, _ o: Int, _ v: UInt16) { b[o] = UInt8(v >> 8); b[o + 1] = UInt8(v & 0xFF) }
private func put32(_ b: UnsafeMutableRawBufferPointer, _ o: Int, _ v: UInt32) { put16(b, o, UInt16(v >> 16)); put16(b, o + 2, UInt16(v & 0xFFFF)) }
private func put128(_ b: UnsafeMutableRawBufferPointer, _ o: Int, _ v: NFValue) {
    put32(b, o, UInt32(v.high >> 32)); put32(b, o + 4, UInt32(v.high & 0xFFFF_FFFF))
    put32(b, o + 8, UInt32(v.low >> 32)); put32(b, o + 12, UInt32(v.low & 0xFFFF_FFFF))
}

extension SKB {
    /// Transport header offset for the reject path (IPv4 IHL or the fixed IPv6 header).
    var ihlOrV6: Int {
        guard captured(1) else { return 0 }
        return buf.u8(0) >> 4 == 6 ? 40 : ihl
    }
}
