import RxrayDecode
import RxrayHost
import RxrayRules
import Foundation

/// Per-packet netfilter state the stack keeps between hooks (`skb->_nfct`, nftrace).
public struct NFPacketState: Sendable {
    public var ct = CTResult()
    /// Whether `nf_conntrack_in` already ran for this packet.
    public var ctDone = false
    public var nftrace = false
    public init() {}
}

/// How a hook ended for the packet.
public enum NFVerdict: UInt8, Sendable { case accept, drop }

/// Why a packet was dropped at a hook.
public enum NFDropCause: Sendable, Equatable {
    case none
    /// A rule's verdict (index into `ruleInfo`).
    case rule(Int32)
    /// A base chain's policy (index of the chain).
    case policy(Int32)
    /// The conntrack table was full and nothing could be early-dropped.
    case conntrackTableFull
    /// `queue`/`NFQUEUE` with no listener and no bypass.
    case queueNoListener(Int32)
}

/// The result of running one hook.
public struct NFHookOutcome: Sendable {
    public var verdict: NFVerdict = .accept
    public var cause: NFDropCause = .none
    /// What a REJECT sends back (the packet is dropped too).
    public var reject: NFRejectKind? = nil
    /// Set when NAT rewrote the packet's addresses or ports: `NFPacket.bytes` now points at
    /// the engine's rewritten copy, which the stack must use from here on.
    public var rewritten = false
    public init() {}
}

/// One base chain a packet went through at a hook.
public struct NFChainVisit: Sendable {
    public var chain: Int32
    /// The rule whose verdict ended the chain, or -1 when the policy decided.
    public var rule: Int32
    public var verdict: NFVerdict
    /// Range of `traceSteps` for this visit (empty unless tracing).
    public var traceRange: Range<Int>
}

/// A rule that matched while tracing (`nft monitor trace` "rule" lines).
public struct NFTraceStep: Sendable {
    public var rule: Int32
    /// The verdict as an index into the engine's verdict texts (`NFTraceStep.Verdict`); the
    /// text is `NetfilterEngine.verdictText(of:)`. A number, not a String, so recording and
    /// writing a step moves no reference count.
    public var verdictCode: Int32

    init(rule: Int32, _ v: Verdict) {
        self.rule = rule
        verdictCode = v.code
    }

    /// The verdicts a step can hold; the code of `jump` / `goto` to chain `c` follows the fixed ones.
    enum Verdict {
        case accept, drop, `continue`, `return`, queue, notModelled, jump(Int), goto(Int)

        /// The texts of the fixed verdicts, in code order.
        static let fixedTexts = ["accept", "drop", "continue", "return", "queue",
                                 "not modelled (--lenient: treated as never matching)"]

        var code: Int32 {
            switch self {
            case .accept: return 0
            case .drop: return 1
            case .continue: return 2
            case .return: return 3
            case .queue: return 4
            case .notModelled: return 5
            case .jump(let c): return Int32(truncatingIfNeeded: 6 + 2 * c)
            case .goto(let c): return Int32(truncatingIfNeeded: 7 + 2 * c)
            }
        }

        init(_ v: VerdictCode) {
            switch v {
            case .accept: self = .accept
            case .drop: self = .drop
            case .continue: self = .continue
            case .return: self = .return
            case .queue: self = .queue
            case .jump(let c): self = .jump(c)
            case .goto(let c): self = .goto(c)
            }
        }
    }
}

/// Netfilter for one host: the compiled rulesets of every family, conntrack, NAT and the
/// state matches keep across packets (limit buckets, recent lists, counters, hit counts).
///
/// Build once per analysis (`init(host:)`); call `hook(_:_:trace:)` at each hook point.
/// Mirrors net/netfilter/core.c (`nf_hook_slow`) with nf_tables_core.c / ip_tables.c for the
/// chains, nf_conntrack_core.c for tracking and nf_nat_core.c for NAT.
public final class NetfilterEngine {
    // Compiled program.
    var ops: [Op] = []
    /// Side tables of `Op` payloads (see `Op`).
    var loadLists: [Load] = []
    var multiports: [[UInt16Range]] = []
    var u32s: [U32Match] = []
    var ipsetDirs: [[Bool]] = []
    var rules: [CRule] = []
    public internal(set) var ruleInfo: [NFRuleInfo] = []
    var chains: [CChain] = []
    var sets: [NFSetStore] = []
    var nats: [NATSpec] = []
    var buckets: [TokenBucket] = []
    var hashlimits: [HashlimitState] = []
    var recents: [RecentState] = []
    var recentLists: [String: [NFValue: [Int64]]] = [:]
    var statistics: [StatisticState] = []
    var ipsetIndex: [String: Int] = [:]
    var ipsetPrefixes: [Int: [Int]] = [:]
    /// Notes made while compiling (constructs not modelled, approximations).
    public internal(set) var notes: [NFCompileNote] = []
    /// Hook entries sorted by priority, per family (ipv4 0, ipv6 1, arp 2) and hook.
    var entries: [[[(Int, HookEntry)]]] = Array(repeating: Array(repeating: [], count: 5), count: 3)
    /// Whether conntrack runs: some rule uses ct/state/NAT, or the snapshot shows the module
    /// loaded (`nf_conntrack_max` among its sysctls, or a conntrack table).
    public internal(set) var usesConntrack = false
    public var conntrack: ConntrackTable
    /// Matches per rule (index as `ruleInfo`). Counted in `run.hits` (no array of the engine
    /// is written per packet); the array is rebuilt only when a count changed since last read.
    public var ruleHits: [UInt64] {
        let h = run.hits
        if cachedHitsTotal != h[run.ruleCount] || cachedHits.count != run.ruleCount {
            cachedHits = Array(UnsafeBufferPointer(start: h, count: run.ruleCount))
            cachedHitsTotal = h[run.ruleCount]
        }
        return cachedHits
    }
    private var cachedHits: [UInt64] = []
    private var cachedHitsTotal: UInt64 = 0
    /// What the per-packet walk reads: immutable copies of the compiled program, built by
    /// `finishLoad`.
    var run = RunProgram()
    /// Chains with at least this many rules get a candidate-rule index (RuleIndex.swift);
    /// `Int.max` walks every rule. Takes effect at `finishLoad`. The environment variable
    /// `RXRAY_RULE_INDEX=0` turns the index off (to measure it, or to rule it out); another
    /// number sets the smallest chain indexed (to measure the threshold).
    var ruleIndexMinRules = NetfilterEngine.defaultIndexMinRules
    /// Smaller chains, from this many rules, get an index only when every rule's guard
    /// constrains an indexed dimension (a rule the index cannot skip makes it cost more than
    /// it saves there). Set with `ruleIndexMinRules` by `RXRAY_RULE_INDEX`; unused when
    /// `ruleIndexMinRules` is `Int.max` (no index at all).
    var ruleIndexSmallMinRules = NetfilterEngine.defaultIndexSmallMinRules
    /// Whether the walk runs the common ops in their specialised form (`FastOp`); false runs
    /// every op through the general switch (to compare the two). Takes effect at `finishLoad`.
    var specializeOps = true
    /// Whether a chain's first rules are skipped on entry by the packet's ct state
    /// (`RunProgram.ctSkip`); false walks them (to compare the two). Takes effect at `finishLoad`.
    var skipByCtState = true
    static let defaultIndexMinRules: Int = {
        if let v = ProcessInfo.processInfo.environment["RXRAY_RULE_INDEX"] {
            if v == "0" { return .max }
            if let n = Int(v), n > 0 { return n }
        }
        return 8
    }()
    static let defaultIndexSmallMinRules: Int = {
        if ProcessInfo.processInfo.environment["RXRAY_RULE_INDEX"] != nil { return defaultIndexMinRules }
        return 4
    }()
    /// Base chains the last `hook` call went through (recorded when it traced).
    public private(set) var visits: [NFChainVisit] = []
    /// The base chain the last `hook` call ended in (-1 when it ran none), traced or not.
    public private(set) var lastVisitChain: Int32 = -1
    public private(set) var traceSteps: [NFTraceStep] = []
    /// Chain and rule trace text, made at the first traced visit (ConntrackText.swift).
    lazy var traceText = NFTraceText(chains: chains, rules: ruleInfo)
    /// `traceText`'s raw tables once it is made, read without reference counting
    /// (`writeVisit`; the object keeps the memory for the engine's life).
    var traceTables: NFTraceTables?
    /// The walk's jump stack (chain, next rule): raw storage reused by every `runChain`, so a
    /// walk costs no array bookkeeping (retain, uniqueness check, clear). Grows on demand.
    private(set) var jumpStack = UnsafeMutablePointer<(chain: Int32, next: Int32)>.allocate(capacity: 64)
    private(set) var jumpCapacity = 64
    /// Where the chosen class bitsets of the chain at each jump depth start in the program's
    /// `idxBits`: `RuleIndexBuilder.maxDims` entries per depth, `jumpCapacity + 1` depths. Per
    /// depth, so a chain returned to keeps its classes (they were chosen before it ran the
    /// rule that jumped, and the values they were chosen by do not change during a walk).
    private(set) var classStack = UnsafeMutablePointer<Int>.allocate(capacity: 65 * RuleIndexBuilder.maxDims)
    var rng = SeededRandom()
    /// Counters of `numgen inc` expressions (the last value handed out), by slot.
    var numgenCounters: [UInt32] = []
    // Host facts for addrtype, fib, masquerade and redirect.
    var localAddrs: Set<NFValue> = []
    var broadcastAddrs: Set<NFValue> = []
    var primary4: [Int: NFValue] = [:]
    var primary6: [Int: NFValue] = [:]
    var ifType: [Int: UInt16] = [:]
    /// Optional route lookup for `fib saddr . iif oif` (returns the oif, 0 when none).
    public var fibOif: ((_ addr: NFValue, _ v6: Bool, _ iif: Int, _ mark: UInt32) -> Int)?
    let scratch: UnsafeMutableRawBufferPointer

    deinit { scratch.deallocate(); jumpStack.deallocate(); classStack.deallocate() }

    /// Doubles the jump stack's storage (a ruleset nesting jumps deeper than it held so far),
    /// and the class storage per depth with it.
    private func growJumpStack() {
        let bigger = UnsafeMutablePointer<(chain: Int32, next: Int32)>.allocate(capacity: jumpCapacity * 2)
        bigger.moveInitialize(from: jumpStack, count: jumpCapacity)
        jumpStack.deallocate()
        jumpStack = bigger
        let dims = RuleIndexBuilder.maxDims
        let classes = UnsafeMutablePointer<Int>.allocate(capacity: (jumpCapacity * 2 + 1) * dims)
        classes.moveInitialize(from: classStack, count: (jumpCapacity + 1) * dims)
        classStack.deallocate()
        classStack = classes
        jumpCapacity *= 2
    }

    /// An engine with no rules (every hook accepts).
    public init() {
        conntrack = ConntrackTable(config: CTConfig())
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536 + 512, alignment: 8)
    }

    /// Compiles the host's rulesets (iptables-save, ip6tables-save, nft text or JSON, ipset)
    /// and loads its conntrack table.
    ///
    /// - Throws: `InputError` when an nft source does not parse.
    public convenience init(host: RxrayHost.Host) throws {
        self.init()
        conntrack = ConntrackTable(config: CTConfig(host.sysctls))
        for itf in host.interfaces {
            ifType[itf.index] = itf.kind == .loopback ? 772 : 1
            for a in itf.addresses {
                localAddrs.insert(NFValue(a.address))
                if let b = a.broadcast { broadcastAddrs.insert(NFValue(IPAddress.v4(b))) }
                if a.address.isV4 { if primary4[itf.index] == nil && !a.isSecondary { primary4[itf.index] = NFValue(a.address) } }
                else if primary6[itf.index] == nil, case .v6(let x) = a.address, !x.isLinkLocal { primary6[itf.index] = NFValue(a.address) }
            }
        }
        let rs = host.rulesets
        if let ipsetSrc = rs.source(RulesetSource.Format.ipset) {
            let f = try IpsetParser.parse(ipsetSrc.text, file: ipsetSrc.file)
            for s in f.sets { loadIpset(s) }
        }
        // A table iptables-save cannot express comes from the nft listing alone.
        let incompatible = rs.iptablesIncompatibleTables
        if let v4 = rs.iptables { compile(iptables: v4, skipping: incompatible) }
        if let v6 = rs.ip6tables { compile(iptables: v6, skipping: incompatible) }
        let nftSources = rs.sources.filter { $0.format == RulesetSource.Format.nftText || $0.format == RulesetSource.Format.nftJSON }
        for src in nftSources {
            let parsed: NftRuleset
            if nftSources.count == 1, let tree = rs.nftUnexcluded, tree.file == src.file {
                // The loader's parse of this very source (JSON with the text listing's rule
                // texts when present), with file line numbers also for inline rulesets.
                parsed = tree
            } else if src.format == RulesetSource.Format.nftJSON {
                let companion = rs.shadowedTexts.values.first { $0.format == RulesetSource.Format.nftText }.flatMap { try? NftParser.parse($0.text, file: $0.file) }
                parsed = try NftJSONParser.parse(Data(src.text.utf8), file: src.file, companion: companion)
            } else {
                parsed = try NftParser.parse(src.text, file: src.file)
            }
            compile(nft: parsed, excluded: src.excludedTables.filter { !incompatible.contains($0) })
        }
        // Conntrack's hooks are registered per namespace only when a ruleset needs them
        // (`nf_ct_netns_get`, since 4.10): a loaded module (its sysctls in the snapshot) does not
        // track anything by itself. A non-empty starting table shows tracking is on.
        if !host.conntrack.isEmpty { usesConntrack = true }
        finishLoad()
        conntrack.load(host.conntrack, start: 0)
        startTableLoaded = !host.conntrack.isEmpty
        pendingStart = host.conntrack
    }

    var startTableLoaded = false
    var pendingStart: [ConntrackEntry] = []
    var firstPacketSeen = false

    /// Builds the hook entry lists after compiling.
    func finishLoad() {
        entries = Array(repeating: Array(repeating: [], count: 5), count: 3)
        var natChains: [[[Int]]] = Array(repeating: Array(repeating: [], count: 5), count: 3)
        for (i, c) in chains.enumerated() where c.isBase {
            let fams: [Int]
            switch c.family {
            case .ip: fams = [0]
            case .ip6: fams = [1]
            case .inet: fams = [0, 1]
            case .arp: fams = [2]
            default: fams = []
            }
            for f in fams {
                if c.isNat && f < 2 { natChains[f][Int(c.hook.rawValue)].append(i) }
                else { entries[f][Int(c.hook.rawValue)].append((c.priority, .chain(i))) }
            }
        }
        for f in 0..<2 {
            // The NAT hook functions are registered at all four NAT hooks as soon as the family
            // has any nat chain (`nf_nat_register_fn`): a hook with no nat chain of its own still
            // makes null bindings and translates packets of connections NATed elsewhere.
            let anyNat = natChains[f].contains { !$0.isEmpty }
            for h in 0..<5 where h != Int(NFHookPoint.forward.rawValue) {
                var list = natChains[f][h]
                guard anyNat else { continue }
                list.sort { chains[$0].priority < chains[$1].priority }
                let dst = h == 0 || h == 3
                let prio = list.first.map { chains[$0].priority } ?? (dst ? -100 : 100)
                entries[f][h].append((prio, .natCore(list, dst: dst)))
            }
            if usesConntrack {
                entries[f][0].append((-200, .conntrackIn))
                entries[f][3].append((-200, .conntrackIn))
                entries[f][1].append((Int(Int32.max), .conntrackConfirm))
                entries[f][4].append((Int(Int32.max), .conntrackConfirm))
            }
            for h in 0..<5 {
                // Stable: equal priorities keep registration order.
                entries[f][h] = entries[f][h].enumerated().sorted { a, b in
                    a.element.0 != b.element.0 ? a.element.0 < b.element.0 : a.offset < b.offset
                }.map { $0.element }
            }
        }
        run = RunProgram(ops: ops, loads: loadLists, multiports: multiports, u32s: u32s, ipsetDirs: ipsetDirs,
                         rules: rules, chains: chains, ruleCount: ruleInfo.count,
                         entries: (0..<15).map { entries[$0 / 5][$0 % 5].map { $0.1 } }, indexMinRules: ruleIndexMinRules,
                         indexSmallMinRules: ruleIndexMinRules == .max ? .max : ruleIndexSmallMinRules, specialize: specializeOps,
                         skipByCtState: skipByCtState)
        packetFreeHooks = 0
        for hi in 0..<15 {
            var h = FreeHook(accepting: 0x7F, byPolicy: 0x7F)
            var natCores = 0
            let first = Int(run.entryStart[hi]), end = Int(run.entryStart[hi + 1])
            for ei in first..<end {
                let e = run.hookEntries[ei]
                switch e.kind {
                case .conntrackIn: h.conntrackIn = true
                case .conntrackConfirm: h.confirm = true; h.confirmLast = ei == end - 1
                case .natCore: h.nat = e.dst ? 1 : 0; natCores += 1
                case .chain:
                    let c = run.chainsBase[Int(e.index)]
                    h.lastChain = e.index
                    for k in 0..<7 {
                        var st = NFPacketState()
                        switch k {
                        case 0: st.ct.slot = -1
                        case 6: st.ct.untracked = true
                        default: st.ct.slot = 0; st.ct.info = k == 1 ? .established : (k == 2 ? .related : .new)
                        }
                        // State indices 4 and 5 are no state's (`stateBit` is 1, 2, 4, 8 or 64).
                        guard k != 4, k != 5, st.ct.stateBit == UInt32(1) << UInt32(k) else { h.accepting &= ~(1 << k); h.byPolicy &= ~(1 << k); continue }
                        switch run.entryDecision(c, st) {
                        case .walk: h.accepting &= ~(1 << k); h.byPolicy &= ~(1 << k)
                        case .policy: if c.policyDrop { h.accepting &= ~(1 << k); h.byPolicy &= ~(1 << k) }
                        case .rule(_, let drop): h.byPolicy &= ~(1 << k); if drop { h.accepting &= ~(1 << k) }
                        }
                    }
                }
            }
            freeHooks[hi] = h
            // One NAT core at most per hook (as `finishLoad` registers them). A hook that runs
            // conntrack is a packet's first (PRE_ROUTING, LOCAL_OUT), before conntrack ran for it:
            // never asked (the answer would be no).
            if h.accepting != 0 && natCores <= 1 && !h.conntrackIn { packetFreeHooks |= 1 << hi }
        }
        visits.reserveCapacity(16)
        traceSteps.reserveCapacity(64)
    }

    func loadIpset(_ s: IpsetSet) {
        let store = NFSetStore(name: s.name, parts: s.dimensions.count)
        var lens = Set<Int>()
        for m in s.members where !m.noMatch {
            var lo: [NFValue] = [], hi: [NFValue] = []
            for p in m.parts {
                switch p {
                case .address(let a): lo.append(NFValue(a)); hi.append(NFValue(a))
                case .network(let px):
                    let w = px.address.isV4 ? 32 : 128
                    let mk = NFValue.prefixMask(px.length, width: w)
                    let l = NFValue(px.address).and(mk)
                    let full = w == 32 ? NFValue(0xFFFF_FFFF) : NFValue(high: .max, low: .max)
                    lo.append(l); hi.append(l.or(full.xor(mk)))
                    lens.insert(px.length)
                case .addressRange(let a, let b): lo.append(NFValue(a)); hi.append(NFValue(b))
                case .port(_, let r): lo.append(NFValue(UInt64(r.low))); hi.append(NFValue(UInt64(r.high)))
                case .interface(let n, _): lo.append(NFValue(IfName(n))); hi.append(NFValue(IfName(n)))
                case .mac(let m): lo.append(NFValue(m.value)); hi.append(NFValue(m.value))
                case .mark(let v): lo.append(NFValue(UInt64(v))); hi.append(NFValue(UInt64(v)))
                default: lo.append(.zero); hi.append(.zero)
                }
            }
            store.values.append(.none)
            let vi = Int32(store.values.count - 1)
            if lo == hi {
                var k = SetKey(); for (i, v) in lo.enumerated() where i < 4 { k[i] = v }
                store.exact.insert(k, vi)
            } else if lo.count == 1 { store.intervals.append((lo[0], hi[0], vi)) }
            else { store.rangedConcat.append((lo, hi, vi)) }
        }
        _ = lens
        store.finish()
        sets.append(store)
        ipsetIndex[s.name] = sets.count - 1
    }

    // MARK: - Hook evaluation

    /// Runs every hook function registered at `p.hook` for `p.family`, in priority order.
    ///
    /// ACCEPT moves on to the next base chain; DROP ends the walk. `p.mark` carries MARK/meta
    /// mark changes; `st` carries conntrack between hooks. Allocates nothing unless `trace`.
    ///
    /// Mirrors `nf_hook_slow()` in net/netfilter/core.c.
    public func hook(_ p: inout NFPacket, _ st: inout NFPacketState, trace: Bool) -> NFHookOutcome {
        // The program stays alive until the next load (never during a hook): the walk borrows it,
        // with no reference counting per hook or per access.
        Unmanaged.passUnretained(run)._withUnsafeGuaranteedRef { hook($0, &p, &st, trace: trace) }
    }

    /// Calls `body` with the last hook's `visits` where they are (no copy of the array).
    public func withVisits(_ body: (UnsafeBufferPointer<NFChainVisit>) -> Void) {
        visits.withUnsafeBufferPointer(body)
    }

    /// Empties the last hook's `visits` and `traceSteps`, keeping their memory
    /// (`removeAllKeepingCapacity`: a hook records a few, taken off the end).
    @inline(__always) private func clearTrace() {
        visits.removeAllKeepingCapacity()
        traceSteps.removeAllKeepingCapacity()
    }

    private func hook(_ prog: RunProgram, _ p: inout NFPacket, _ st: inout NFPacketState, trace: Bool) -> NFHookOutcome {
        var out = NFHookOutcome()
        clearTrace()
        lastVisitChain = -1
        if !firstPacketSeen {
            firstPacketSeen = true
            if startTableLoaded {
                // Timeouts of the starting table run from the first frame's time.
                conntrack = ConntrackTable(config: conntrack.config)
                conntrack.load(pendingStart, start: p.timeNs)
            }
        }
        let f: Int
        switch p.family { case .ipv4: f = 0; case .ipv6: f = 1; case .arp: f = 2; case .bridge: return out }
        let hi = f * 5 + Int(p.hook.rawValue)
        var ei = Int(prog.entryStart[hi])
        let eEnd = Int(prog.entryStart[hi + 1])
        while ei < eEnd {
            let e = prog.hookEntries[ei]
            ei += 1
            switch e.kind {
            case .conntrackIn:
                guard !st.ctDone else { continue }
                st.ctDone = true
                if st.ct.untracked { continue }
                st.ct = conntrack.conntrackIn(p, now: p.timeNs, verifyChecksum: p.hook == .prerouting && conntrack.config.checksum && !p.l4ChecksumVerified)
                if st.ct.tableFull {
                    out.verdict = .drop; out.cause = .conntrackTableFull
                    return out
                }
            case .conntrackConfirm:
                if st.ct.created && st.ct.slot >= 0 {
                    conntrack.confirm(st.ct.slot)
                    st.ct.created = false
                }
            case .natCore:
                natCore(prog, first: Int(e.index), count: Int(e.count), dst: e.dst, &p, &st, &out, trace: trace)
                if out.verdict == .drop { return out }
            case .chain:
                let ci = Int(e.index)
                switch prog.entryDecision(prog.chainsBase[ci], st) {
                case .walk:
                    break
                case .policy:
                    // An empty base chain, or one whose every rule begins with a ct state test
                    // the packet fails: its policy decides, no walk needed.
                    let v: NFVerdict = prog.chainsBase[ci].policyDrop ? .drop : .accept
                    noteVisit(ci, -1, v, traceSteps.count, trace)
                    if v == .drop {
                        out.cause = .policy(Int32(ci))
                        out.verdict = .drop
                        return out
                    }
                    continue
                case .rule(let info, let drop):
                    // Its first rule the state does not skip is a ct state test it passes and a
                    // verdict: counted and ended as the walk would.
                    let traceStart = traceSteps.count
                    prog.hits[Int(info)] &+= 1
                    prog.hits[prog.ruleCount] &+= 1
                    if trace { traceSteps.append(NFTraceStep(rule: info, drop ? .drop : .accept)) }
                    noteVisit(ci, info, drop ? .drop : .accept, traceStart, trace)
                    if drop {
                        out.cause = .rule(info)
                        out.verdict = .drop
                        return out
                    }
                    continue
                }
                let v = runChain(prog, ci, &p, &st, &out, trace: trace, nat: nil)
                if v == .drop {
                    out.verdict = .drop
                    return out
                }
            }
        }
        return out
    }

    /// Runs the hook at `point` for `family` without the packet when none of its hook functions
    /// would read or change it, given the packet's conntrack state `st` from an earlier hook of
    /// the same packet: conntrack already ran, every base chain accepts without a walk (empty or
    /// every rule skipped on entry by the ct state, `ctSkip`, with an ACCEPT policy; or ended by
    /// an ACCEPT rule that only tests the ct state, `ctDecide`), and each NAT core leaves the
    /// connection alone (established, nothing bound in this direction). Then the outcome is
    /// `hook`'s (accept, nothing rewritten, `lastVisitChain` the last base chain), the only
    /// effects the deciding rules' counts and a confirm of the packet's new connection; returns true. Returns
    /// false, having changed nothing, when some hook function needs the packet: run `hook`.
    /// With `trace`, `visits` and `traceSteps` then hold what `hook` would record.
    public func hookWithoutPacket(family: NFFamily, hook point: NFHookPoint, _ st: inout NFPacketState, trace: Bool) -> Bool {
        let hi = Self.hookIndex(family, point)
        guard hi < 15, packetFreeHooks & (1 << hi) != 0, firstPacketSeen else { return false }
        // The hook's summary (`FreeHook`, made at load) answers for the packet's state in a few
        // tests; the walk over its functions below is the reference, run when tracing or when a
        // chain ends on a rule (to count it).
        let h = freeHooks[hi]
        if h.conntrackIn && !st.ctDone { return false }
        let k = st.ct.stateBit.trailingZeroBitCount
        guard h.accepting & (1 << k) != 0 else { return false }
        if h.nat >= 0 && natCoreActs(dst: h.nat == 1, &st) { return false }
        let confirm = h.confirm && st.ct.created && st.ct.slot >= 0
        if confirm && !h.confirmLast { return false }
        if trace || h.byPolicy & (1 << k) == 0 {
            return Unmanaged.passUnretained(run)._withUnsafeGuaranteedRef { hookWithoutPacket($0, hi, &st, trace: trace) }
        }
        lastVisitChain = h.lastChain
        if confirm {
            conntrack.confirm(st.ct.slot)
            st.ct.created = false
        }
        return true
    }

    /// What `hookWithoutPacket` needs to know of one hook's functions, per ct state index
    /// `k` (`stateBit == 1 << k`).
    struct FreeHook {
        /// Bit `k`: every base chain accepts without a walk (`RunProgram.entryDecision` gives
        /// an ACCEPT policy or an ACCEPT rule).
        var accepting: UInt8 = 0
        /// Bit `k`: every base chain accepts by its policy (no rule to count).
        var byPolicy: UInt8 = 0
        /// The hook runs conntrack (`conntrackIn`).
        var conntrackIn = false
        /// Its NAT core's manip type: -1 none, 0 source, 1 destination.
        var nat: Int8 = -1
        /// It confirms connections, as its last function.
        var confirm = false
        var confirmLast = false
        /// Its last base chain (-1: none), what `lastVisitChain` says after it.
        var lastChain: Int32 = -1
    }
    /// Per hook index (`hookIndex`), rebuilt at load.
    private var freeHooks = [FreeHook](repeating: FreeHook(), count: 15)

    /// Which hooks `hookWithoutPacket` may decide for some packet state: bit `hookIndex` set
    /// when every base chain there accepts without a walk for some ct state (`FreeHook`).
    /// Set at load; the stack reads it before the call (most hooks of some rulesets never can).
    public private(set) var packetFreeHooks: UInt16 = 0

    /// `family * 5 + hook` (ipv4 0, ipv6 1, arp 2), as `RunProgram.entryStart` is indexed; 15 for
    /// the bridge family (no hook functions).
    @inlinable public static func hookIndex(_ family: NFFamily, _ point: NFHookPoint) -> Int {
        switch family {
        case .ipv4: return Int(point.rawValue)
        case .ipv6: return 5 + Int(point.rawValue)
        case .arp: return 10 + Int(point.rawValue)
        case .bridge: return 15
        }
    }

    private func hookWithoutPacket(_ prog: RunProgram, _ hi: Int, _ st: inout NFPacketState, trace: Bool) -> Bool {
        let first = Int(prog.entryStart[hi]), end = Int(prog.entryStart[hi + 1])
        // First every function is checked (nothing changes), then the confirm acts.
        var last: Int32 = -1
        var confirmAt = -1
        var decided = false
        for ei in first..<end {
            let e = prog.hookEntries[ei]
            switch e.kind {
            case .conntrackIn:
                if !st.ctDone { return false }
            case .conntrackConfirm:
                if st.ct.created && st.ct.slot >= 0 {
                    // The confirm changes the connection: only when nothing after it reads it.
                    if ei != end - 1 { return false }
                    confirmAt = ei
                }
            case .natCore:
                if natCoreActs(dst: e.dst, &st) { return false }
            case .chain:
                let c = prog.chainsBase[Int(e.index)]
                switch prog.entryDecision(c, st) {
                case .walk: return false
                case .policy: if c.policyDrop { return false }
                case .rule(_, let drop):
                    if drop { return false }
                    decided = true
                }
                last = e.index
            }
        }
        if trace { clearTrace() }
        if decided || trace {
            // The chains decided by a rule count it, as their walk would; a trace records
            // every chain's visit.
            for ei in first..<end where prog.hookEntries[ei].kind == .chain {
                let ci = Int(prog.hookEntries[ei].index)
                if case .rule(let info, _) = prog.entryDecision(prog.chainsBase[ci], st) {
                    let traceStart = traceSteps.count
                    prog.hits[Int(info)] &+= 1
                    prog.hits[prog.ruleCount] &+= 1
                    if trace { traceSteps.append(NFTraceStep(rule: info, .accept)) }
                    noteVisit(ci, info, .accept, traceStart, trace)
                } else {
                    noteVisit(ci, -1, .accept, traceSteps.count, trace)
                }
            }
        }
        lastVisitChain = last
        if confirmAt >= 0 {
            conntrack.confirm(st.ct.slot)
            st.ct.created = false
        }
        return true
    }

    /// `ip filter INPUT (hook input, priority 0)` for a chain index of `NFChainVisit`.
    public func chainDescription(_ chain: Int32) -> String {
        let c = chains[Int(chain)]
        return "\(c.table) \(c.name) (hook \(c.hook.nftName), priority \(c.priority))"
    }

    /// Number of compiled rules and base chains, for load summaries.
    public var ruleCount: Int { rules.count }

    /// Lets an unconfirmed connection die with its packet (dropped before the confirm hook).
    public func packetDone(_ st: inout NFPacketState) {
        if st.ct.created && st.ct.slot >= 0 { conntrack.remove(st.ct.slot) }
        st.ct.created = false
    }

    /// Runs a base chain with its jump stack. Returns accept or drop (policy included).
    func runChain(_ prog: RunProgram, _ base: Int, _ p: inout NFPacket, _ st: inout NFPacketState, _ out: inout NFHookOutcome,
                  trace: Bool, nat: UnsafeMutablePointer<Bool>?) -> NFVerdict {
        let traceStart = trace ? traceSteps.count : 0
        var depth = 0
        var chain = Int32(base)
        let baseChain = prog.chainsBase[base]
        // Rules a chain begins with whose ct state test the packet fails are skipped on entry.
        var ri = prog.entrySkip(baseChain, st)
        let isNft = baseChain.isNft
        // The chain whose classes `classStack` holds at the current depth: a chain returned to
        // chose them before the rule that jumped (a jump or goto enters a chain that has not).
        var clsChain: Int32 = -1
        while true {
            let c = prog.chainsBase[Int(chain)]
            if c.dimCount > 0 && ri < c.ruleCount {
                // Skip the rules whose guards the packet fails (RuleIndex.swift).
                let cls = classStack + depth &* RuleIndexBuilder.maxDims
                if clsChain != chain { selectClasses(prog, c, &p, &st, into: cls); clsChain = chain }
                ri = prog.nextCandidate(c, from: ri, classes: cls)
            }
            if ri >= Int32(c.ruleCount) {
                // End of chain: implicit return, or the base chain's policy.
                if depth > 0 { depth -= 1; chain = jumpStack[depth].chain; ri = jumpStack[depth].next; clsChain = chain; continue }
                let v: NFVerdict = c.isBase && c.policyDrop ? .drop : (baseChain.policyDrop ? .drop : .accept)
                if v == .drop { out.cause = .policy(Int32(base)) }
                noteVisit(base, -1, v, traceStart, trace)
                return v
            }
            let r = prog.rulesBase[Int(c.firstRule) + Int(ri)]
            ri += 1
            let res = runRule(r, prog, &p, &st, &out, nat: nat)
            guard let vc = res else {
                // A rule rxray does not model (loaded with --lenient) never matches; the trace
                // says the packet passed it, so the verdict is known to rest on that guess.
                if trace, r.count > 0, case .never = prog.opsBase[Int(r.first)] {
                    traceSteps.append(NFTraceStep(rule: r.info, .notModelled))
                }
                continue
            }
            prog.hits[Int(r.info)] &+= 1
            prog.hits[prog.ruleCount] &+= 1
            if trace { traceSteps.append(NFTraceStep(rule: r.info, .init(vc))) }
            switch vc {
            case .continue:
                continue
            case .accept:
                noteVisit(base, r.info, .accept, traceStart, trace)
                return .accept
            case .drop:
                out.cause = .rule(r.info)
                noteVisit(base, r.info, .drop, traceStart, trace)
                return .drop
            case .queue(let bypass):
                // No userspace listener in an analysis: bypass continues, otherwise dropped.
                if bypass { continue }
                out.cause = .queueNoListener(r.info)
                noteVisit(base, r.info, .drop, traceStart, trace)
                return .drop
            case .return:
                if depth > 0 { depth -= 1; chain = jumpStack[depth].chain; ri = jumpStack[depth].next; clsChain = chain; continue }
                let v: NFVerdict = baseChain.policyDrop ? .drop : .accept
                if v == .drop { out.cause = .policy(Int32(base)) }
                noteVisit(base, -1, v, traceStart, trace)
                return v
            case .jump(let target):
                if isNft && depth >= 16 {
                    // NFT_JUMP_STACK_SIZE: the kernel refuses such rulesets at load; treat as a drop.
                    out.cause = .rule(r.info)
                    noteVisit(base, r.info, .drop, traceStart, trace)
                    return .drop
                }
                if depth == jumpCapacity { growJumpStack() }
                jumpStack[depth] = (chain, ri)
                depth += 1
                chain = Int32(target); ri = prog.entrySkip(prog.chainsBase[target], st); clsChain = -1
            case .goto(let target):
                chain = Int32(target); ri = prog.entrySkip(prog.chainsBase[target], st); clsChain = -1
            }
        }
    }

    /// Ends a base chain's walk: remembers the chain, and records the visit when tracing.
    @inline(__always) private func noteVisit(_ base: Int, _ rule: Int32, _ verdict: NFVerdict, _ traceStart: Int, _ trace: Bool) {
        lastVisitChain = Int32(base)
        if trace { visits.append(NFChainVisit(chain: Int32(base), rule: rule, verdict: verdict, traceRange: traceStart..<traceSteps.count)) }
    }

    /// Picks, per indexed dimension of chain `c`, the class holding the packet's value, and
    /// stores where its bitset starts in `cls[d]`.
    /// The values are fixed for the whole walk (RuleIndexBuilder.isIndexable). The packet and
    /// state are passed `inout` although only read: the walk holds them `inout`, and passing
    /// them by value copied the packet at every call.
    func selectClasses(_ prog: RunProgram, _ c: RunProgram.Chain, _ p: inout NFPacket, _ st: inout NFPacketState,
                       into cls: UnsafeMutablePointer<Int>) {
        for d in 0..<Int(c.dimCount) {
            // Through the pointer: a copy of the dimension copies its `Load` too.
            let dim = prog.dimsBase + (Int(c.dimFirst) + d)
            let n = dim.pointee.pointsCount
            var k = n + 1
            let fast = dim.pointee.fast
            if let x = fast != .other ? fast.read(p, st) : value(dim.pointee.load, p, st) {
                if dim.pointee.narrow {
                    // Every bound below 2^64: a value above it is past them all, others are
                    // placed by one 64-bit comparison a step, without branches.
                    k = x.high != 0 ? n : RunProgram.countNotAbove(x.low, prog.idxPointsLow + dim.pointee.pointsFirst, n)
                } else {
                    let pts = prog.idxPoints + dim.pointee.pointsFirst
                    var lo = 0, hi = n
                    while lo < hi {
                        let mid = (lo + hi) >> 1
                        if x < pts[mid] { hi = mid } else { lo = mid + 1 }
                    }
                    k = lo
                }
            }
            cls[d] = dim.pointee.bitsFirst + k * Int(c.words)
        }
    }

    /// A trace step's verdict text: `accept`, `drop`, `continue`, `return`, `queue`,
    /// `jump NAME`, `goto NAME`, or the note on a rule not modelled.
    public func verdictText(of s: NFTraceStep) -> String {
        var w = ByteWriter(capacity: 64)
        defer { w.deallocate() }
        traceText.writeVerdict(Int(s.verdictCode), to: &w)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// Runs one rule. Nil when a test failed (the rule did not match); otherwise its verdict
    /// (`continue` when it only acted).
    @inline(__always)
    func runRule(_ r: CRule, _ prog: RunProgram, _ p: inout NFPacket, _ st: inout NFPacketState, _ out: inout NFHookOutcome,
                 nat: UnsafeMutablePointer<Bool>?) -> VerdictCode? {
        var k = Int(r.first)
        let end = k + Int(r.count)
        let ops = prog.opsBase
        let fast = prog.fast
        while k < end {
            let f = fast + k
            switch f.pointee.code {
            case .cmp:
                k += 1
                guard depOK(f.pointee.dep, p), let x = f.pointee.load.read(p, st) else { return nil }
                if !f.pointee.cmp.holds(x.and(f.pointee.mask), f.pointee.value) { return nil }
                continue
            case .range:
                k += 1
                guard depOK(f.pointee.dep, p), let x = f.pointee.load.read(p, st) else { return nil }
                if (!(x < f.pointee.value) && !(f.pointee.mask < x)) == f.pointee.negated { return nil }
                continue
            case .nop:
                k += 1
                continue
            case .verdict:
                return f.pointee.verdict
            case .general:
                switch runGeneral(ops + k, prog, &p, &st, &out, nat: nat) {
                case .next: k += 1
                case .fail: return nil
                case .verdict(let v): return v
                }
            }
        }
        return .continue
    }

    /// What a general op did: go on with the next op, fail the rule, or end it with a verdict.
    enum OpResult { case next, fail, verdict(VerdictCode) }

    /// Runs an op that has no specialised form (`FastOp.Code.general`). Out of line, so the
    /// per-rule loop stays small (its frame and register saves cost every rule otherwise).
    /// The op is read through its pointer (passing it by value copied the whole enum per call).
    @inline(never)
    func runGeneral(_ op: UnsafeMutablePointer<Op>, _ prog: RunProgram, _ p: inout NFPacket, _ st: inout NFPacketState,
                    _ out: inout NFHookOutcome, nat: UnsafeMutablePointer<Bool>?) -> OpResult {
        switch op.pointee {
        case .cmp(let l, let c, let v, let mask, let dep):
            guard depOK(dep, p), let x = value(l, p, st) else { return .fail }
            if !c.holds(x.and(mask), v) { return .fail }
        case .range(let l, let lo, let hi, let neg, let dep):
            guard depOK(dep, p), let x = value(l, p, st) else { return .fail }
            if (!(x < lo) && !(hi < x)) == neg { return .fail }
        case .set(let keys, let s, let neg, let dep):
            guard depOK(dep, p), let key = setKey(keys, prog, p, st) else { return .fail }
            if (sets[Int(s)].lookup(key) != nil) == neg { return .fail }
        case .multiport(let ranges, let which, let neg):
            guard let sp = p.sport, let dp = p.dport else { return .fail }
            var hit = false
            for rg in prog.multiports[Int(ranges)] where (which != 1 && rg.contains(sp)) || (which != 0 && rg.contains(dp)) { hit = true; break }
            if hit == neg { return .fail }
        case .iprange(let src, let lo, let hi, let neg):
            guard p.family != .arp else { return .fail }
            let x = src ? p.saddr : p.daddr
            if (!(x < lo) && !(hi < x)) == neg { return .fail }
        case .addrtype(let src, let mask, let neg, _, _):
            guard p.family != .arp else { return .fail }
            let t = addrType(src ? p.saddr : p.daddr, v6: p.family == .ipv6)
            if (mask & (1 << t) != 0) == neg { return .fail }
        case .limit(let b, let over):
            let ok = buckets[b].take(now: p.timeNs, cost: UInt64(p.length))
            if ok == over { return .fail }
        case .hashlimit(let h):
            if !hashlimits[h].match(p, now: p.timeNs) { return .fail }
        case .recent(let i):
            if !recentMatch(i, p) { return .fail }
        case .statistic(let i):
            if !statisticMatch(i) { return .fail }
        case .u32(let ui):
            let u = prog.u32s[Int(ui)]
            if u32Match(u, p) == u.negated { return .fail }
        case .ipsetMatch(let s, let dirs, let neg):
            var key = SetKey()
            for (i, src) in prog.ipsetDirs[Int(dirs)].enumerated() where i < 4 {
                if i == 0 { key[0] = src ? p.saddr : p.daddr }
                else { key[i] = NFValue(UInt64((src ? p.sport : p.dport) ?? 0)) }
            }
            if (sets[Int(s)].lookup(key) != nil) == neg { return .fail }
        case .fragment(let neg):
            guard p.family == .ipv4 else { return .fail }
            if p.laterFragment == neg { return .fail }
        case .never, .ownerNeverOnInput:
            return .fail
        case .counter, .log:
            break
        case .setMark(let v, let m):
            p.mark = (p.mark & ~m) ^ v
        case .setMarkLoad(let l):
            if let x = value(l, p, st) { p.mark = UInt32(truncatingIfNeeded: x.low) }
        case .connmarkSet(let v, let m):
            if st.ct.slot >= 0 { let cm = conntrack.slots[Int(st.ct.slot)].mark; conntrack.slots[Int(st.ct.slot)].mark = (cm & ~m) ^ v }
        case .connmarkSave(let nfm, let ctm):
            if st.ct.slot >= 0 { let cm = conntrack.slots[Int(st.ct.slot)].mark; conntrack.slots[Int(st.ct.slot)].mark = (cm & ~ctm) ^ (p.mark & nfm) }
        case .connmarkRestore(let nfm, let ctm):
            if st.ct.slot >= 0 { p.mark = (p.mark & ~nfm) ^ (conntrack.slots[Int(st.ct.slot)].mark & ctm) }
        case .ctMarkLoad(let l):
            if st.ct.slot >= 0, let x = value(l, p, st) { conntrack.slots[Int(st.ct.slot)].mark = UInt32(truncatingIfNeeded: x.low) }
        case .notrack:
            if !st.ctDone { st.ct = CTResult(); st.ct.untracked = true; st.ct.info = .untracked }
        case .nftrace:
            st.nftrace = true
        case .nat(let n):
            if let nat, !nat.pointee, st.ct.slot >= 0 {
                if bind(nats[n], &p, st) { nat.pointee = true }
            }
        case .reject(let kind):
            out.reject = kind
        case .verdict(let v):
            return .verdict(v)
        case .vmap(let keys, let si):
            guard let key = setKey(keys, prog, p, st) else { return .fail }
            let s = Int(si)
            guard let vi = sets[s].lookup(key), case .verdict(let v) = sets[s].values[Int(vi)] else { return .fail }
            return .verdict(v)
        case .setAdd(let si, let keys):
            guard let key = setKey(keys, prog, p, st) else { return .fail }
            let s = Int(si)
            if sets[s].exact[key] == nil { sets[s].values.append(.none); sets[s].exact.insert(key, Int32(sets[s].values.count - 1)) }
        }
        return .next
    }

    /// The key of a set lookup from `keys` (at most four parts); nil when the packet lacks one.
    @inline(__always) func setKey(_ keys: LoadList, _ prog: RunProgram, _ p: NFPacket, _ st: NFPacketState) -> SetKey? {
        var key = SetKey()
        let n = min(Int(keys.count), 4), first = Int(keys.first)
        for i in 0..<n {
            // The common loads inline (`FastLoad.read` gives `value`'s answers): an out-of-line
            // `value` call per key part copied the packet and state each time.
            let f = prog.fastLoads[first + i]
            guard let x = f != .other ? f.read(p, st) : value(prog.loadsBase[first + i], p, st) else { return nil }
            key[i] = x
        }
        return key
    }

    @inline(__always) func depOK(_ d: Dep, _ p: NFPacket) -> Bool {
        switch d {
        case .none: return true
        case .l4(let x): return p.l4proto == x && p.thoff >= 0
        case .transport: return p.thoff >= 0 && p.isPortProto
        case .nfproto(let f): return p.family == f
        case .icmpAny: return (p.l4proto == 1 || p.l4proto == 58) && p.thoff >= 0
        }
    }

    func addrType(_ a: NFValue, v6: Bool) -> UInt16 {
        if localAddrs.contains(a) { return 2 }
        if v6 { return a.high >> 56 == 0xFF ? 5 : 1 }
        let x = UInt32(truncatingIfNeeded: a.low)
        if x == 0xFFFF_FFFF || broadcastAddrs.contains(a) { return 3 }
        if x >> 28 == 0xE { return 5 }
        if x >> 24 == 127 { return 2 }
        return 1
    }

    /// Reads a value for a test; nil when the packet does not have it (the rule breaks).
    func value(_ l: Load, _ p: NFPacket, _ st: NFPacketState) -> NFValue? {
        switch l {
        case .saddr:
            if p.family == .ipv4 { return p.bytes.count >= 20 ? p.saddr : nil }
            if p.family == .ipv6 { return p.bytes.count >= 40 ? p.saddr : nil }
            return nil
        case .daddr:
            if p.family == .ipv4 { return p.bytes.count >= 20 ? p.daddr : nil }
            if p.family == .ipv6 { return p.bytes.count >= 40 ? p.daddr : nil }
            return nil
        case .sport: return p.sport.map { NFValue(UInt64($0)) }
        case .dport: return p.dport.map { NFValue(UInt64($0)) }
        case .payload(let base, let off, let bits):
            let b: Int
            switch base {
            case 1: b = 0
            case 2: guard p.thoff >= 0 else { return nil }; b = p.thoff
            default:
                // Link layer: only the Ethernet source address and type are known here.
                if off == 48 && bits == 48 { return p.sourceMAC.map { NFValue($0.value) } }
                if off == 96 && bits == 16 { return NFValue(p.family == .ipv6 ? 0x86DD : (p.family == .arp ? 0x0806 : 0x0800)) }
                return nil
            }
            if bits == 128 {
                let o = b + off / 8
                guard p.has(o, 16) else { return nil }
                return NFValue(high: p.bytes.u64(o), low: p.bytes.u64(o + 8))
            }
            return p.bytes.bits(base: b, bitOffset: off, bits: bits).map { NFValue($0) }
        case .l4proto: return p.family == .arp ? nil : NFValue(UInt64(p.l4proto))
        case .nfproto: return NFValue(UInt64(p.family.rawValue))
        case .etherProto: return NFValue(p.family == .ipv6 ? 0x86DD : (p.family == .arp ? 0x0806 : 0x0800))
        case .iif: return p.iif == 0 ? nil : NFValue(UInt64(p.iif))
        case .oif: return p.oif == 0 ? nil : NFValue(UInt64(p.oif))
        case .iifName: return p.iifName.isEmpty ? (p.hook == .output || p.hook == .postrouting ? nil : NFValue.zero) : NFValue(p.iifName)
        case .oifName: return p.oifName.isEmpty ? (p.hook == .prerouting || p.hook == .input ? nil : NFValue.zero) : NFValue(p.oifName)
        case .mark: return NFValue(UInt64(p.mark))
        case .pktType: return NFValue(UInt64(p.pktType))
        case .length: return NFValue(UInt64(p.length))
        case .iifType: return ifType[p.iif].map { NFValue(UInt64($0)) }
        case .oifType: return ifType[p.oif].map { NFValue(UInt64($0)) }
        case .ctState: return NFValue(UInt64(st.ct.stateBit))
        case .ctStatus, .ctMark, .ctDirection, .ctL3proto, .ctProto, .ctExpiration, .ctSaddr, .ctDaddr, .ctSport, .ctDport:
            guard st.ct.slot >= 0, let e = conntrack.entry(st.ct.slot) else { return nil }
            switch l {
            case .ctStatus: return NFValue(UInt64(e.status))
            case .ctMark: return NFValue(UInt64(e.mark))
            case .ctDirection: return NFValue(UInt64(st.ct.direction))
            case .ctL3proto: return NFValue(e.original.v6 ? 10 : 2)
            case .ctProto: return NFValue(UInt64(e.original.proto))
            case .ctExpiration: return NFValue(UInt64(max(0, (e.timeoutAt - p.timeNs) / 1_000_000_000)))
            case .ctSaddr(let r): return e.tuple(r ? 1 : 0).src
            case .ctDaddr(let r): return e.tuple(r ? 1 : 0).dst
            case .ctSport(let r): return NFValue(UInt64(e.tuple(r ? 1 : 0).sport))
            case .ctDport(let r): return NFValue(UInt64(e.tuple(r ? 1 : 0).dport))
            default: return nil
            }
        case .fibDaddrType: return p.family == .arp ? nil : NFValue(UInt64(addrType(p.daddr, v6: p.family == .ipv6)))
        case .fibSaddrType: return p.family == .arp ? nil : NFValue(UInt64(addrType(p.saddr, v6: p.family == .ipv6)))
        case .fibOif(let useSaddr, let useIif, let useMark):
            guard let f = fibOif else { return nil }
            let a = useSaddr ? p.saddr : p.daddr
            return NFValue(UInt64(f(a, p.family == .ipv6, useIif ? p.iif : 0, useMark ? p.mark : 0)))
        case .ttl:
            if p.family == .ipv4 { return NFValue(UInt64(p.bytes.u8(8))) }
            if p.family == .ipv6 { return NFValue(UInt64(p.bytes.u8(7))) }
            return nil
        case .tcpFlags: return p.tcpFlags.map { NFValue(UInt64($0)) }
        case .icmpType:
            guard (p.l4proto == 1 || p.l4proto == 58), p.has(p.thoff, 2) else { return nil }
            return NFValue(UInt64(p.bytes.u16(p.thoff)))
        case .sourceMAC: return p.sourceMAC.map { NFValue($0.value) }
        case .random: return NFValue(UInt64(UInt32(truncatingIfNeeded: rng.next())))
        case .numgen(let random, let modulus, let offset, let slot):
            if random {
                // Scaled into [0, modulus) like the kernel's reciprocal_scale of a random u32;
                // the draw is seeded, so runs are reproducible.
                let r = UInt64(UInt32(truncatingIfNeeded: rng.next()))
                return NFValue(UInt64(UInt32((r &* UInt64(modulus)) >> 32) &+ offset))
            }
            let i = Int(slot)
            let last = numgenCounters[i]
            let next = last &+ 1 < modulus ? last &+ 1 : 0
            numgenCounters[i] = next
            return NFValue(UInt64(next &+ offset))
        case .constant(let v): return v
        }
    }

    func recentMatch(_ i: Int, _ p: NFPacket) -> Bool {
        let spec = recents[i].spec
        let addr = spec.useDestination ? p.daddr : p.saddr
        var list = recentLists[spec.name] ?? [:]
        defer { recentLists[spec.name] = list }
        var hit: Bool
        switch spec.command {
        case .set:
            list[addr, default: []].append(p.timeNs)
            hit = true
        case .remove:
            hit = list.removeValue(forKey: addr) != nil
        case .rcheck, .update:
            let stamps = list[addr] ?? []
            var n = stamps.count
            if let s = spec.seconds { n = stamps.filter { p.timeNs - $0 <= Int64(s) * 1_000_000_000 }.count }
            hit = !stamps.isEmpty && n > 0
            if let hc = spec.hitcount { hit = n >= Int(hc) }
            if spec.command == .update && !stamps.isEmpty { list[addr, default: []].append(p.timeNs) }
        }
        if list[addr]?.count ?? 0 > 20 { list[addr]!.removeFirst(list[addr]!.count - 20) }
        return hit != spec.negated
    }

    func statisticMatch(_ i: Int) -> Bool {
        switch statistics[i].spec {
        case .nth(let every, let packet, let neg):
            // xt_statistic: counter advances; matches when it wraps to `packet`.
            let c = statistics[i].counter
            let next = c >= every - 1 ? 0 : c + 1
            statistics[i].counter = next
            return (c == packet) != neg
        case .random(let prob, let neg):
            let x = Double(rng.next() >> 11) / Double(1 << 53)
            return (x < prob) != neg
        }
    }

    func u32Match(_ u: U32Match, _ p: NFPacket) -> Bool {
        for t in u.tests {
            var base = 0
            var val: UInt32 = 0
            var ok = true
            for op in t.location {
                switch op {
                case .start(let o):
                    let at = base + Int(o)
                    guard at >= 0, at + 4 <= p.bytes.count else { ok = false; break }
                    val = p.bytes.u32(at)
                case .and(let m): val &= m
                case .shiftLeft(let s): val = s >= 32 ? 0 : val << s
                case .shiftRight(let s): val = s >= 32 ? 0 : val >> s
                case .at(let o):
                    base += Int(val)
                    let at = base + Int(o)
                    guard at >= 0, at + 4 <= p.bytes.count else { ok = false; break }
                    val = p.bytes.u32(at)
                }
                if !ok { break }
            }
            if ok && t.ranges.contains(where: { $0.contains(val) }) { return true }
        }
        return false
    }
}

/// The compiled program as the per-packet walk reads it: `let` storage only, so reading an
/// op, rule or chain costs a bounds check and no exclusivity bookkeeping, and the match
/// counters live in a buffer of their own.
final class RunProgram {
    /// What the walk needs of a chain (`CChain` without its names).
    struct Chain {
        var firstRule: Int32
        var ruleCount: Int32
        var isBase: Bool
        var policyDrop: Bool
        var isNft: Bool
        /// Candidate-rule index (RuleIndex.swift): dimensions `idxDims[dimFirst..<dimFirst+dimCount]`,
        /// `words` bitset words per class. No index when `dimCount` is 0.
        var dimCount: Int32 = 0
        var dimFirst: Int32 = 0
        var words: Int32 = 0
        /// Rules skipped on entry by the packet's ct state: `ctSkip[ctSkipFirst + k]` for the
        /// state bit `1 << k` (`CTResult.stateBit`); -1 when the chain begins with no such test.
        var ctSkipFirst: Int32 = -1
    }
    /// One indexed dimension of a chain: its bounds at `idxPoints[pointsFirst...]`, and the
    /// bitsets of its classes (elementary intervals, then "no value") at
    /// `idxBits[bitsFirst + class * words...]`.
    struct IndexDim {
        var load: Load
        var fast: FastLoad
        var pointsFirst: Int
        var pointsCount: Int
        var bitsFirst: Int
        /// Every bound fits in 64 bits: the class is found in `idxPointsLow` (IPv4 addresses,
        /// ports, protocols, marks...).
        var narrow = false
    }
    let ops: ContiguousArray<Op>
    /// `ops` as a raw pointer for the per-rule loop (`Op` is plain data).
    let opsBase: UnsafeMutablePointer<Op>
    /// The specialised form of each op, at the same index (`FastOp`).
    let fast: UnsafeMutablePointer<FastOp>
    let loads: ContiguousArray<Load>
    let multiports: [[UInt16Range]]
    let u32s: [U32Match]
    let ipsetDirs: [[Bool]]
    let rules: ContiguousArray<CRule>
    let chains: ContiguousArray<Chain>
    /// Hook functions in priority order: those of `family * 5 + hook` (ipv4 0, ipv6 1, arp 2)
    /// are `hookEntries[entryStart[i]..<entryStart[i + 1]]`.
    let hookEntries: UnsafeMutablePointer<RunHookEntry>
    let entryStart: UnsafeMutablePointer<Int32>
    let hookEntryCount: Int
    /// The NAT cores' chain lists (`RunHookEntry.index`, `count`).
    let natChains: UnsafeMutablePointer<Int32>
    /// `chains`, `rules`, `idxDims` and `loads` as raw pointers for the walk (plain data; no
    /// reference counting or bounds check per access).
    let chainsBase: UnsafeMutablePointer<Chain>
    let rulesBase: UnsafeMutablePointer<CRule>
    let dimsBase: UnsafeMutablePointer<IndexDim>
    let loadsBase: UnsafeMutablePointer<Load>
    /// The specialised form of each load at the same index (`other` when it has none, or when
    /// not specialising): set keys and vmaps read the common fields inline.
    let fastLoads: UnsafeMutablePointer<FastLoad>
    let ruleCount: Int
    /// Matches per rule, then the total (which tells readers whether any count changed).
    let hits: UnsafeMutablePointer<UInt64>
    let idxDims: ContiguousArray<IndexDim>
    let idxPoints: UnsafeMutablePointer<NFValue>
    /// The low words of `idxPoints` (what a narrow dimension searches).
    let idxPointsLow: UnsafeMutablePointer<UInt64>
    let idxBits: UnsafeMutablePointer<UInt64>
    /// Per chain with `ctSkipFirst >= 0`, seven counts (state bits 1, 2, 4, 8, -, -, 64): how
    /// many of its first rules begin with a ct state test (`ct state`, `--ctstate`) that a
    /// packet in that state fails. Such a rule does nothing (its first op fails before any
    /// action, and it leaves no trace or count), and the state is read at entry, before any rule
    /// of the chain could act, so skipping them is exact.
    let ctSkip: UnsafeMutablePointer<Int32>
    /// At the same index as `ctSkip`: the rule that decides the chain for a packet in that state,
    /// as `info << 1 | drop`, or -1. It is the first rule not skipped, and it is only a ct state
    /// test the state passes and an ACCEPT or DROP (`-m conntrack --ctstate
    /// RELATED,ESTABLISHED -j ACCEPT`): the walk would run it first, count it and end there.
    let ctDecide: UnsafeMutablePointer<Int32>

    /// - Parameters:
    ///   - indexMinRules: chains with at least this many rules get a candidate index.
    ///   - indexSmallMinRules: smaller chains, from this many rules, get one when every rule is
    ///     guarded on an indexed dimension.
    init(ops: [Op] = [], loads: [Load] = [], multiports: [[UInt16Range]] = [], u32s: [U32Match] = [], ipsetDirs: [[Bool]] = [],
         rules: [CRule] = [], chains: [CChain] = [], ruleCount: Int = 0, entries: [[HookEntry]] = [],
         indexMinRules: Int = .max, indexSmallMinRules: Int = .max, specialize: Bool = true, skipByCtState: Bool = true) {
        self.ops = ContiguousArray(ops)
        opsBase = UnsafeMutablePointer<Op>.allocate(capacity: max(1, ops.count))
        opsBase.initialize(from: ops, count: ops.count)
        fast = UnsafeMutablePointer<FastOp>.allocate(capacity: max(1, ops.count))
        fast.initialize(from: ops.map { FastOp($0, specialize: specialize) }, count: ops.count)
        opsCount = ops.count
        self.loads = ContiguousArray(loads)
        self.multiports = multiports
        self.u32s = u32s
        self.ipsetDirs = ipsetDirs
        self.rules = ContiguousArray(rules)
        var runChains = ContiguousArray(chains.map {
            Chain(firstRule: Int32($0.firstRule), ruleCount: Int32($0.ruleCount), isBase: $0.isBase, policyDrop: $0.policyDrop, isNft: $0.isNft)
        })
        var dims = ContiguousArray<IndexDim>()
        var points: [NFValue] = []
        var bits: [UInt64] = []
        let smallest = min(indexMinRules, indexSmallMinRules)
        for i in runChains.indices where runChains[i].ruleCount > 0 && Int(runChains[i].ruleCount) >= smallest {
            let c = runChains[i]
            let slice = self.rules[Int(c.firstRule)..<Int(c.firstRule + c.ruleCount)]
            guard let b = RuleIndexBuilder.build(self.ops, loads: self.loads, rules: ArraySlice(slice),
                                                 everyRuleGuarded: Int(c.ruleCount) < indexMinRules) else { continue }
            runChains[i].dimFirst = Int32(dims.count)
            runChains[i].dimCount = Int32(b.dims.count)
            runChains[i].words = Int32(b.words)
            for d in b.dims {
                dims.append(IndexDim(load: d.load, fast: specialize ? FastLoad(d.load) : .other, pointsFirst: points.count, pointsCount: d.points.count,
                                     bitsFirst: bits.count, narrow: d.points.allSatisfy { $0.high == 0 }))
                points += d.points
                bits += d.bits
            }
        }
        var skips: [Int32] = [], decides: [Int32] = []
        for i in runChains.indices where skipByCtState && runChains[i].ruleCount > 0 {
            let c = runChains[i]
            var counts = [Int32](repeating: 0, count: 7)
            var decided = [Int32](repeating: -1, count: 7)
            for k in [0, 1, 2, 3, 6] {
                let bit = NFValue(UInt64(1) << UInt64(k))
                var n: Int32 = 0
                while n < c.ruleCount {
                    let r = self.rules[Int(c.firstRule + n)]
                    guard r.count > 0, case .cmp(.ctState, let cmp, let v, let mask, .none) = self.ops[Int(r.first)],
                          !cmp.holds(bit.and(mask), v) else { break }
                    n += 1
                }
                counts[k] = n
                if n < c.ruleCount {
                    let r = self.rules[Int(c.firstRule + n)]
                    if r.count == 2, case .cmp(.ctState, let cmp, let v, let mask, .none) = self.ops[Int(r.first)], cmp.holds(bit.and(mask), v),
                       case .verdict(let vc) = self.ops[Int(r.first) + 1] {
                        if case .accept = vc { decided[k] = r.info << 1 }
                        if case .drop = vc { decided[k] = r.info << 1 | 1 }
                    }
                }
            }
            if counts.contains(where: { $0 > 0 }) || decided.contains(where: { $0 >= 0 }) {
                runChains[i].ctSkipFirst = Int32(skips.count)
                skips += counts
                decides += decided
            }
        }
        ctSkip = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, skips.count))
        ctSkip.initialize(from: skips, count: skips.count)
        ctDecide = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, decides.count))
        ctDecide.initialize(from: decides, count: decides.count)
        self.chains = runChains
        idxDims = dims
        chainsBase = UnsafeMutablePointer<Chain>.allocate(capacity: max(1, runChains.count))
        chainsBase.initialize(from: Array(runChains), count: runChains.count)
        rulesBase = UnsafeMutablePointer<CRule>.allocate(capacity: max(1, rules.count))
        rulesBase.initialize(from: rules, count: rules.count)
        dimsBase = UnsafeMutablePointer<IndexDim>.allocate(capacity: max(1, dims.count))
        dimsBase.initialize(from: Array(dims), count: dims.count)
        loadsBase = UnsafeMutablePointer<Load>.allocate(capacity: max(1, loads.count))
        loadsBase.initialize(from: loads, count: loads.count)
        fastLoads = UnsafeMutablePointer<FastLoad>.allocate(capacity: max(1, loads.count))
        fastLoads.initialize(from: loads.map { specialize ? FastLoad($0) : .other }, count: loads.count)
        idxPoints = UnsafeMutablePointer<NFValue>.allocate(capacity: max(1, points.count))
        idxPoints.initialize(from: points, count: points.count)
        idxPointsLow = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, points.count))
        idxPointsLow.initialize(from: points.map(\.low), count: points.count)
        idxBits = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, bits.count))
        idxBits.initialize(from: bits, count: bits.count)
        var flat: [RunHookEntry] = [], starts: [Int32] = [], nat: [Int32] = []
        for i in 0..<15 {
            starts.append(Int32(flat.count))
            for e in i < entries.count ? entries[i] : [] {
                switch e {
                case .chain(let c): flat.append(RunHookEntry(kind: .chain, index: Int32(c)))
                case .conntrackIn: flat.append(RunHookEntry(kind: .conntrackIn))
                case .conntrackConfirm: flat.append(RunHookEntry(kind: .conntrackConfirm))
                case .natCore(let list, let dst):
                    flat.append(RunHookEntry(kind: .natCore, dst: dst, index: Int32(nat.count), count: Int32(list.count)))
                    nat += list.map { Int32($0) }
                }
            }
        }
        starts.append(Int32(flat.count))
        hookEntryCount = flat.count
        hookEntries = UnsafeMutablePointer<RunHookEntry>.allocate(capacity: max(1, flat.count))
        hookEntries.initialize(from: flat, count: flat.count)
        entryStart = UnsafeMutablePointer<Int32>.allocate(capacity: starts.count)
        entryStart.initialize(from: starts, count: starts.count)
        natChains = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, nat.count))
        natChains.initialize(from: nat, count: nat.count)
        self.ruleCount = ruleCount
        hits = UnsafeMutablePointer<UInt64>.allocate(capacity: ruleCount + 1)
        hits.initialize(repeating: 0, count: ruleCount + 1)
    }

    let opsCount: Int

    deinit {
        opsBase.deinitialize(count: opsCount)
        opsBase.deallocate()
        fast.deallocate()
        hits.deallocate()
        idxPoints.deallocate()
        idxPointsLow.deallocate()
        idxBits.deallocate()
        ctSkip.deallocate()
        ctDecide.deallocate()
        hookEntries.deallocate()
        chainsBase.deallocate()
        rulesBase.deallocate()
        dimsBase.deallocate()
        loadsBase.deallocate()
        fastLoads.deallocate()
        entryStart.deallocate()
        natChains.deallocate()
    }

    /// The first rule of chain `c` that can act for a packet in the state of `st` (0 unless the
    /// chain begins with ct state tests; see `ctSkip`).
    @inline(__always) func entrySkip(_ c: Chain, _ st: NFPacketState) -> Int32 {
        c.ctSkipFirst < 0 ? 0 : ctSkip[Int(c.ctSkipFirst) + st.ct.stateBit.trailingZeroBitCount]
    }

    /// How chain `c` ends for a packet in the state of `st` without a walk: `policy` when every
    /// rule is skipped on entry (or there is none), `rule` when its first rule not skipped decides
    /// (`ctDecide`: that rule's `info` and whether it drops), `walk` otherwise.
    enum EntryDecision { case walk, policy, rule(Int32, drop: Bool) }
    @inline(__always) func entryDecision(_ c: Chain, _ st: NFPacketState) -> EntryDecision {
        if c.ruleCount == 0 { return .policy }
        if c.ctSkipFirst < 0 { return .walk }
        let k = Int(c.ctSkipFirst) + st.ct.stateBit.trailingZeroBitCount
        if ctSkip[k] == c.ruleCount { return .policy }
        let d = ctDecide[k]
        return d < 0 ? .walk : .rule(d >> 1, drop: d & 1 != 0)
    }

    /// How many of the `n` sorted values at `pts` are at most `x` (the elementary interval
    /// holding `x`). Branch-free halving: the same steps whatever the value.
    @inline(__always) static func countNotAbove(_ x: UInt64, _ pts: UnsafeMutablePointer<UInt64>, _ n: Int) -> Int {
        guard n > 0 else { return 0 }
        var base = 0, len = n
        while len > 1 {
            let half = len >> 1
            base = pts[base + half] <= x ? base + half : base
            len -= half
        }
        return base + (pts[base] <= x ? 1 : 0)
    }

    /// The first rule at or after `ri` of chain `c` that the chosen classes `classes` (one
    /// bitset start per dimension, `NetfilterEngine.selectClasses`) admit (`c.ruleCount` when
    /// none is left).
    @inline(__always) func nextCandidate(_ c: Chain, from ri: Int32, classes: UnsafeMutablePointer<Int>) -> Int32 {
        let words = Int(c.words), dn = Int(c.dimCount)
        var w = Int(ri) >> 6
        var m: UInt64 = ~0 << UInt64(ri & 63)
        while w < words {
            for d in 0..<dn { m &= idxBits[classes[d] + w] }
            if m != 0 { return Int32(w << 6 + m.trailingZeroBitCount) }
            w += 1
            m = ~0
        }
        return c.ruleCount
    }
}
