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
    weak var kernel: Kernel?
    let engine: NetfilterEngine
    /// Frame number `state` belongs to.
    var frame = -1
    var state = NFPacketState()
    init(kernel: Kernel, engine: NetfilterEngine) { self.kernel = kernel; self.engine = engine }
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
        engine.fibOif = { [weak kernel] addr, v6, iif, _ in
            guard let k = kernel else { return 0 }
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
        guard let a = netfilter else { return nfHook(hook, ipv6: ipv6, &r) }
        let engine = a.engine
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
            if a.frame >= 0 { engine.packetDone(&a.state) }
            a.frame = skb.frame
            a.state = NFPacketState()
        }
        var oif = 0
        var oifName = IfName.none
        if point == .forward || point == .postrouting {
            let out = ipv6 ? skb.route6?.outDev : skb.route4?.outDev
            if let o = out { oif = ns.devices[o].ifindex; oifName = IfName(ns.devices[o].name) }
        }
        let dev = ns.devices[skb.dev]
        var p = NFPacket(family: family, hook: point, bytes: skb.buf, length: skb.len, iif: dev.ifindex, oif: oif,
                         iifName: IfName(dev.name), oifName: oifName, pktType: skb.pktType.rawValue, mark: skb.mark,
                         timeNs: skb.time, sourceMAC: skb.srcMAC)
        let ctBefore = a.state.ctDone
        let out = engine.hook(&p, &a.state, trace: r.wantsDetail)
        skb.mark = p.mark
        if out.rewritten { skb.buf = p.bytes }
        if r.wantsDetail {
            if !ctBefore && a.state.ctDone { r.record(.nfConntrackIn, .note, conntrackText(engine, a.state)) }
            for v in engine.visits { r.record(.nfHook(hook, table: UInt16(truncatingIfNeeded: v.chain)), v.verdict == .drop ? .drop : .pass, visitText(engine, v)) }
            if out.rewritten { r.record(.nfNat, .note, natText(skb, ipv6: ipv6)) }
        }
        if out.verdict == .accept { return true }
        // The per-chain record above already says which rule; the drop record that replaces it
        // names the hook (taken out before a REJECT's reply is recorded, so it is not doubled).
        if r.wantsDetail, !r.stages.isEmpty, case .nfHook = r.stages[r.stages.count - 1].stage, out.cause != .conntrackTableFull {
            r.stages.removeLast()
        }
        if let k = out.reject { sendReject(k, skb, ipv6: ipv6, &r) }
        let table = engine.visits.last.map { UInt16(truncatingIfNeeded: $0.chain) } ?? 0
        let why: String
        switch out.cause {
        case .conntrackTableFull: why = "nf_conntrack: table full, dropping packet"
        case .queueNoListener: why = "queued to userspace with no listener"
        default: why = r.wantsDetail ? (engine.visits.last.map { visitText(engine, $0) } ?? "dropped") : ""
        }
        engine.packetDone(&a.state)
        r.drop(.netfilterDrop, at: .nfHook(hook, table: table), why)
        return false
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
            r.replies.append(Reply(kind: .tcpRst, interface: replyInterface(skb, v6: ipv6),
                                   source: ipv6 ? .v6(skb.v6Daddr) : .v4(skb.v4Daddr),
                                   destination: ipv6 ? .v6(skb.v6Saddr) : .v4(skb.v4Saddr),
                                   summary: r.wantsDetail ? (hasACK ? "RST seq \(ack) (REJECT)" : "RST+ACK seq 0 ack \(ackNo) (REJECT)") : ""))
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

    func visitText(_ e: NetfilterEngine, _ v: NFChainVisit) -> String {
        let c = e.chainDescription(v.chain)
        var s = c
        for st in e.traceSteps[v.traceRange] {
            let info = e.ruleInfo[Int(st.rule)]
            s += "; rule \(info.isNft ? "" : "")\"\(info.text)\" (\(info.file):\(info.line)) verdict \(st.verdict)"
        }
        if v.rule < 0 {
            s += "; policy \(v.verdict == .drop ? "drop" : "accept")"
        }
        return s
    }

    func conntrackText(_ e: NetfilterEngine, _ st: NFPacketState) -> String {
        if st.ct.untracked { return "ct state untracked" }
        guard st.ct.slot >= 0, let ent = e.conntrack.entry(st.ct.slot) else {
            if let why = st.ct.invalidReason { return "ct state invalid: \(why)" }
            return "ct state invalid"
        }
        var s = "ct state \(st.ct.info.name.lowercased()) (\(st.ct.info.name))"
        if ent.original.proto == 6 { s += " tcp \(ent.tcpState.name)" }
        s += " orig \(ent.original) reply \(ent.reply)"
        return s
    }

    func natText(_ skb: SKB, ipv6: Bool) -> String {
        ipv6 ? "NAT: packet now \(skb.v6Saddr) > \(skb.v6Daddr)" : "NAT: packet now \(skb.v4Saddr) > \(skb.v4Daddr)"
    }
}

extension SKB {
    /// Transport header offset for the reject path (IPv4 IHL or the fixed IPv6 header).
    var ihlOrV6: Int {
        guard captured(1) else { return 0 }
        return buf.u8(0) >> 4 == 6 ? 40 : ihl
    }
}
