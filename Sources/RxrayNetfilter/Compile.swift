import RxrayDecode
import RxrayRules

/// A construct the engine does not model, found while compiling (the rule never matches).
public struct NFCompileNote: Sendable {
    public var file: String
    public var line: Int
    public var text: String
    public var what: String
}

extension NetfilterEngine {
    // MARK: - Shared helpers

    func emit(_ op: Op) { ops.append(op) }

    /// Stores key loads in `loadLists`.
    func loadList(_ ls: [Load]) -> LoadList {
        let first = loadLists.count
        loadLists += ls
        return LoadList(first: Int32(first), count: Int32(ls.count))
    }

    func addChain(_ c: CChain) -> Int { chains.append(c); return chains.count - 1 }

    static func iptPriority(table: String, hook: NFHookPoint) -> Int? {
        switch (table, hook) {
        case ("raw", .prerouting), ("raw", .output): return -300
        case ("mangle", _): return -150
        case ("nat", .prerouting), ("nat", .output): return -100
        case ("nat", .input), ("nat", .postrouting): return 100
        case ("filter", .input), ("filter", .forward), ("filter", .output): return 0
        case ("security", .input), ("security", .forward), ("security", .output): return 50
        default: return nil
        }
    }

    // MARK: - iptables

    /// Compiles an iptables-save ruleset; tables named in `skipping` ("ip nat") are left out.
    func compile(iptables rs: IptablesRuleset, skipping: Set<String> = []) {
        let fam: NftFamily = rs.family == .ipv4 ? .ip : .ip6
        for table in rs.tables where !skipping.contains("\(fam.rawValue) \(table.name)") {
            var chainIndex: [String: Int] = [:]
            var firstChain = chains.count
            for c in table.chains {
                let hook: NFHookPoint? = ["PREROUTING": .prerouting, "INPUT": .input, "FORWARD": .forward, "OUTPUT": .output, "POSTROUTING": .postrouting][c.name]
                let prio = hook.flatMap { NetfilterEngine.iptPriority(table: table.name, hook: $0) }
                let isBase = c.isBuiltin && prio != nil
                let idx = addChain(CChain(name: c.name, table: "\(fam.rawValue) \(table.name)", family: fam, firstRule: 0, ruleCount: 0, isNft: false,
                                          isBase: isBase, hook: hook ?? .input, priority: prio ?? 0, policyDrop: c.policy == .drop,
                                          isNat: table.name == "nat", file: rs.file, line: c.line))
                chainIndex[c.name] = idx
            }
            _ = firstChain
            firstChain = 0
            for c in table.chains {
                let ci = chainIndex[c.name]!
                chains[ci].firstRule = rules.count
                for rule in c.rules {
                    let info = NFRuleInfo(table: "\(fam.rawValue) \(table.name)", chain: c.name, position: rule.position, handle: nil,
                                          text: rule.text, file: rule.file, line: rule.line, isNft: false)
                    ruleInfo.append(info)
                    let first = ops.count
                    if rule.isUnsupported {
                        emit(.never)
                        notes.append(NFCompileNote(file: rule.file, line: rule.line, text: rule.text, what: "unsupported construct: rule never matches"))
                    } else {
                        for m in rule.matches { compileMatch(m, family: rs.family, rule: rule) }
                        if let t = rule.target { compileTarget(t, chains: chainIndex, family: rs.family, rule: rule) }
                    }
                    rules.append(CRule(first: Int32(first), count: Int32(ops.count - first), chain: Int32(ci), info: Int32(ruleInfo.count - 1)))
                }
                chains[ci].ruleCount = rules.count - chains[ci].firstRule
            }
        }
    }

    private func neg(_ n: Bool) -> CmpOp { n ? .ne : .eq }

    private func ports(_ r: Negatable<UInt16Range>?, _ load: Load, _ dep: Dep) {
        guard let r else { return }
        emit(.range(load, NFValue(UInt64(r.value.low)), NFValue(UInt64(r.value.high)), negated: r.negated, dep: dep))
    }

    private func masked(_ m: Negatable<MaskedAddress>, _ load: Load) {
        emit(.cmp(load, neg(m.negated), NFValue(m.value.address), mask: NFValue(m.value.mask), dep: .none))
    }

    private func iface(_ n: Negatable<InterfaceName>, _ load: Load) {
        let mask = n.value.isPrefix ? NFValue(IfName.prefixMask(n.value.name.utf8.count)) : NFValue(high: .max, low: .max)
        emit(.cmp(load, neg(n.negated), NFValue(IfName(n.value.name)), mask: mask, dep: .none))
    }

    func compileMatch(_ m: IptablesMatch, family: RuleFamily, rule: IptablesRule) {
        switch m {
        case .source(let a): masked(a, .saddr)
        case .destination(let a): masked(a, .daddr)
        case .inInterface(let n): iface(n, .iifName)
        case .outInterface(let n): iface(n, .oifName)
        case .protocol(let p): emit(.cmp(.l4proto, neg(p.negated), NFValue(UInt64(p.value)), mask: NFValue(0xFF), dep: .none))
        case .fragment(let n): emit(.fragment(negated: n))
        case .unsupported(let name, _):
            emit(.never)
            notes.append(NFCompileNote(file: rule.file, line: rule.line, text: rule.text, what: "-m \(name) is not modelled"))
        case .module(let mod): compileModule(mod, family: family, rule: rule)
        }
    }

    func compileModule(_ mod: IptablesModule, family: RuleFamily, rule: IptablesRule) {
        func unsupported(_ what: String) {
            emit(.never)
            notes.append(NFCompileNote(file: rule.file, line: rule.line, text: rule.text, what: what))
        }
        switch mod {
        case .tcp(let t):
            ports(t.sourcePorts, .sport, .l4(6)); ports(t.destinationPorts, .dport, .l4(6))
            if let f = t.flags {
                emit(.cmp(.tcpFlags, neg(f.negated), NFValue(UInt64(f.value.comparison)), mask: NFValue(UInt64(f.value.mask)), dep: .l4(6)))
            }
            if t.sourcePorts == nil && t.destinationPorts == nil && t.flags == nil {
                emit(.cmp(.l4proto, .eq, NFValue(6), mask: NFValue(0xFF), dep: .none))
            }
            if t.option != nil { unsupported("--tcp-option is not modelled") }
        case .udp(let u), .udplite(let u), .sctp(let u), .dccp(let u):
            let proto: UInt8
            switch mod { case .udplite: proto = 136; case .sctp: proto = 132; case .dccp: proto = 33; default: proto = 17 }
            ports(u.sourcePorts, .sport, .l4(proto)); ports(u.destinationPorts, .dport, .l4(proto))
            if u.sourcePorts == nil && u.destinationPorts == nil { emit(.cmp(.l4proto, .eq, NFValue(UInt64(proto)), mask: NFValue(0xFF), dep: .none)) }
        case .icmp(let i), .icmp6(let i):
            let proto: UInt8 = family == .ipv4 ? 1 : 58
            if i.type == 255 && i.code == nil && family == .ipv4 {
                emit(.cmp(.l4proto, neg(i.negated), NFValue(UInt64(proto)), mask: NFValue(0xFF), dep: .none))
            } else {
                let lo = UInt64(i.type) << 8 | UInt64(i.code ?? 0), hi = UInt64(i.type) << 8 | UInt64(i.code ?? 0xFF)
                emit(.range(.icmpType, NFValue(lo), NFValue(hi), negated: i.negated, dep: .l4(proto)))
            }
        case .multiport(let mp):
            let which: UInt8 = mp.direction == .source ? 0 : (mp.direction == .destination ? 1 : 2)
            multiports.append(mp.ports)
            emit(.multiport(ranges: Int32(multiports.count - 1), which: which, negated: mp.negated))
        case .conntrack(let c):
            usesConntrack = true
            if let s = c.state { emit(.cmp(.ctState, s.negated ? .bitsNone : .bitsAny, NFValue(UInt64(s.value & 0x4F)), mask: NFValue(.max), dep: .none)) }
            if let s = c.state, s.value & ((1 << 7) | (1 << 8)) != 0 {
                // SNAT/DNAT pseudo-states: the connection's NAT status bits.
                let bits = UInt64((s.value >> 7 & 1) << 4 | (s.value >> 8 & 1) << 5)
                emit(.cmp(.ctStatus, s.negated ? .bitsNone : .bitsAny, NFValue(bits), mask: NFValue(.max), dep: .none))
            }
            if let s = c.status { emit(.cmp(.ctStatus, s.negated ? .bitsNone : .bitsAny, NFValue(UInt64(s.value)), mask: NFValue(.max), dep: .none)) }
            if let p = c.protocolNumber { emit(.cmp(.ctProto, neg(p.negated), NFValue(UInt64(p.value)), mask: NFValue(0xFF), dep: .none)) }
            if let a = c.origSource { masked(a, .ctSaddr(reply: false)) }
            if let a = c.origDestination { masked(a, .ctDaddr(reply: false)) }
            if let a = c.replySource { masked(a, .ctSaddr(reply: true)) }
            if let a = c.replyDestination { masked(a, .ctDaddr(reply: true)) }
            ports(c.origSourcePort, .ctSport(reply: false), .none); ports(c.origDestinationPort, .ctDport(reply: false), .none)
            ports(c.replySourcePort, .ctSport(reply: true), .none); ports(c.replyDestinationPort, .ctDport(reply: true), .none)
            if let d = c.directionOriginal { emit(.cmp(.ctDirection, .eq, NFValue(d ? 0 : 1), mask: NFValue(.max), dep: .none)) }
            if let e = c.expire {
                emit(.range(.ctExpiration, NFValue(UInt64(e.value.lowerBound)), NFValue(UInt64(e.value.upperBound)), negated: e.negated, dep: .none))
            }
        case .state(let s):
            usesConntrack = true
            emit(.cmp(.ctState, s.negated ? .bitsNone : .bitsAny, NFValue(UInt64(s.value)), mask: NFValue(.max), dep: .none))
        case .mark(let m):
            emit(.cmp(.mark, neg(m.negated), NFValue(UInt64(m.value.value)), mask: NFValue(UInt64(m.value.mask)), dep: .none))
        case .connmark(let m):
            usesConntrack = true
            emit(.cmp(.ctMark, neg(m.negated), NFValue(UInt64(m.value.value)), mask: NFValue(UInt64(m.value.mask)), dep: .none))
        case .comment:
            break
        case .addrtype(let a):
            if let s = a.sourceTypes { emit(.addrtype(src: true, mask: s.value, negated: s.negated, limitIn: a.limitIfaceIn, limitOut: a.limitIfaceOut)) }
            if let d = a.destinationTypes { emit(.addrtype(src: false, mask: d.value, negated: d.negated, limitIn: a.limitIfaceIn, limitOut: a.limitIfaceOut)) }
        case .iprange(let r):
            if let s = r.source { emit(.iprange(src: true, low: NFValue(s.value.lowerBound.address), high: NFValue(s.value.upperBound.address), negated: s.negated)) }
            if let d = r.destination { emit(.iprange(src: false, low: NFValue(d.value.lowerBound.address), high: NFValue(d.value.upperBound.address), negated: d.negated)) }
        case .limit(let l):
            buckets.append(TokenBucket(rate: l.rate.count, per: l.rate.per, burst: UInt64(l.burst), bytes: false))
            emit(.limit(bucket: buckets.count - 1, over: false))
        case .hashlimit(let h):
            guard let rate = h.rate else { unsupported("hashlimit without a rate"); return }
            hashlimits.append(HashlimitState(spec: h, rate: rate))
            emit(.hashlimit(bucket: hashlimits.count - 1))
        case .recent(let r):
            recents.append(RecentState(spec: r))
            emit(.recent(recents.count - 1))
        case .set(let s):
            guard let si = ipsetIndex[s.name] else { unsupported("ipset \(s.name) is not in the snapshot's ipset listing"); return }
            ipsetDirs.append(s.flags.map { $0 == .src })
            emit(.ipsetMatch(set: Int32(si), dirs: Int32(ipsetDirs.count - 1), negated: s.negated))
        case .length(let l):
            emit(.range(.length, NFValue(UInt64(l.value.low)), NFValue(UInt64(l.value.high)), negated: l.negated, dep: .none))
        case .mac(let m):
            emit(.cmp(.sourceMAC, neg(m.negated), NFValue(m.value.value), mask: NFValue(.max), dep: .none))
        case .physdev(let p):
            // Frames here never crossed a bridge port: physdev tests see no bridge.
            if let b = p.isBridged, !b.negated { emit(.never) }
            if let b = p.isIn, !b.negated { emit(.never) }
            if let b = p.isOut, !b.negated { emit(.never) }
            if let n = p.physdevIn, !n.negated { emit(.never) }
            if let n = p.physdevOut, !n.negated { emit(.never) }
        case .pkttype(let t):
            emit(.cmp(.pktType, neg(t.negated), NFValue(UInt64(t.value)), mask: NFValue(0xFF), dep: .none))
        case .statistic(let s):
            statistics.append(StatisticState(spec: s))
            emit(.statistic(statistics.count - 1))
        case .owner:
            emit(.ownerNeverOnInput)
        case .u32(let u):
            u32s.append(u)
            emit(.u32(Int32(u32s.count - 1)))
        case .ttl(let t):
            let op: CmpOp
            switch t.op { case .eq: op = t.negated ? .ne : .eq; case .lt: op = .lt; case .gt: op = .gt }
            emit(.cmp(.ttl, op, NFValue(UInt64(t.value)), mask: NFValue(0xFF), dep: .none))
        default:
            unsupported("match \(mod) is not modelled")
        }
    }

    func compileTarget(_ t: IptablesTarget, chains idx: [String: Int], family: RuleFamily, rule: IptablesRule) {
        switch t {
        case .accept: emit(.verdict(.accept))
        case .drop: emit(.verdict(.drop))
        case .return: emit(.verdict(.return))
        case .queue: emit(.verdict(.queue(bypass: false)))
        case .jump(let c):
            if let i = idx[c] { emit(.verdict(.jump(i))) } else { emit(.never); notes.append(NFCompileNote(file: rule.file, line: rule.line, text: rule.text, what: "jump to unknown chain \(c)")) }
        case .goto(let c):
            if let i = idx[c] { emit(.verdict(.goto(i))) } else { emit(.never); notes.append(NFCompileNote(file: rule.file, line: rule.line, text: rule.text, what: "goto unknown chain \(c)")) }
        case .reject(let k):
            if k == .tcpReset { emit(.reject(.tcpReset)) }
            else if let ic = k.icmp { emit(.reject(family == .ipv4 ? .icmp(type: ic.type, code: ic.code) : .icmpv6(type: ic.type, code: ic.code))) }
            emit(.verdict(.drop))
        case .log, .nflog: emit(.log)
        case .mark(let m): emit(.setMark(value: m.value, mask: m.mask))
        case .connmark(let c):
            usesConntrack = true
            switch c {
            case .set(let m): emit(.connmarkSet(value: m.value, mask: m.mask))
            case .save(let nf, let ct): emit(.connmarkSave(nfMask: nf, ctMask: ct))
            case .restore(let nf, let ct): emit(.connmarkRestore(nfMask: nf, ctMask: ct))
            }
        case .ct(let c):
            usesConntrack = true
            if c.notrack { emit(.notrack) }
            if c.helper != nil || c.zone != nil || c.timeout != nil {
                notes.append(NFCompileNote(file: rule.file, line: rule.line, text: rule.text, what: "CT helper/zone/timeout noted, not modelled"))
            }
        case .notrack: usesConntrack = true; emit(.notrack)
        case .dnat(let n), .snat(let n), .masquerade(let n), .redirect(let n):
            usesConntrack = true
            let kind: NATKind
            switch t { case .dnat: kind = .dnat; case .snat: kind = .snat; case .masquerade: kind = .masquerade; default: kind = .redirect }
            nats.append(NATSpec(kind: kind, addrLow: n.addressLow.map(NFValue.init), addrHigh: (n.addressHigh ?? n.addressLow).map(NFValue.init),
                                v6: family == .ipv6, portLow: n.portLow, portHigh: n.portHigh ?? n.portLow, mapKeys: [], mapSet: -1,
                                random: n.random || n.randomFully, persistent: n.persistent))
            emit(.nat(nats.count - 1))
            emit(.verdict(.accept))
        case .trace: emit(.nftrace)
        case .nfqueue(let q): emit(.verdict(.queue(bypass: q.bypass)))
        case .tcpmss, .dscp, .tos, .checksumFill, .classify, .ttl, .audit, .set:
            // Header mangling and bookkeeping targets: they continue; rxray does not rewrite these fields.
            emit(.log)
        case .netmap, .unsupported:
            emit(.never)
            notes.append(NFCompileNote(file: rule.file, line: rule.line, text: rule.text, what: "target \(t) is not modelled"))
        }
    }
}
