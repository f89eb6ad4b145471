import RxrayStack

/// One firewall rule's hit count, for the summary's "top rules" table.
///
/// Filled from the netfilter engine's per-rule counters when it runs; the summary leaves the
/// section out when there are none.
public struct RuleHit: Sendable, Equatable {
    /// `ip filter` or `inet filter` (family and table).
    public var table: String
    public var chain: String
    /// 1-based position in the chain.
    public var position: Int
    /// nft rule handle, when known.
    public var handle: UInt64?
    /// The rule as written (iptables-save line or nft rule text).
    public var text: String
    /// Where it was read from (`iptables-save.txt:12`), when known.
    public var source: String?
    public var hits: Int

    public init(table: String, chain: String, position: Int, handle: UInt64? = nil, text: String,
                source: String? = nil, hits: Int) {
        self.table = table
        self.chain = chain
        self.position = position
        self.handle = handle
        self.text = text
        self.source = source
        self.hits = hits
    }
}

/// Totals over a run: frames by fate, drops by reason and stage, replies by kind, counters,
/// GRO decisions, and (when the caller supplies them) rule hits and the conntrack table.
///
/// `add` does no string work for the common case: fates, reasons, stages and counters are
/// counted by their enum values; names are made when the summary is printed.
public struct RunSummary {
    public var frames = 0
    public var printed = 0
    public var byFate: [Fate: Int] = [:]
    private var reasonCounts: [DropReason: Int] = [:]
    private var unnamedDrops = 0
    private var stageCounts: [Stage: Int] = [:]
    private var replyCounts: [String: Int] = [:]
    private var counterTotals: [MIB: Int] = [:]
    /// Frames that went through `dev_gro_receive`, by decision.
    public private(set) var groByDecision: [Verdict: Int] = [:]
    /// Capture time of the first and last frame, for the counters' rate column.
    public private(set) var firstTimestamp: Int64?
    public private(set) var lastTimestamp: Int64?
    /// Per-rule hits, when the netfilter engine provides them (top rules section).
    public var ruleHits: [RuleHit] = []
    /// The connection tracking table at the end, one `conntrack -L` line per entry, when the
    /// conntrack engine provides it.
    public var conntrackTable: [String]?

    public init() {}

    /// Adds one frame's result.
    public mutating func add(_ r: FrameResult) {
        frames += 1
        byFate[r.fate, default: 0] += 1
        if r.fate == .dropped {
            if let reason = r.dropReason { reasonCounts[reason, default: 0] += 1 } else { unnamedDrops += 1 }
            if let st = r.dropStage ?? r.silentDropStage { stageCounts[st, default: 0] += 1 }
        }
        for rep in r.replies { replyCounts[rep.kindName, default: 0] += 1 }
        for (m, d) in r.counters { counterTotals[m, default: 0] += d }
        for s in r.stages where s.stage == .devGroReceive {
            groByDecision[s.verdict, default: 0] += 1
            break
        }
    }

    /// Records a frame's capture time (for the rate column).
    public mutating func note(timestamp ns: Int64) {
        if firstTimestamp == nil { firstTimestamp = ns }
        lastTimestamp = ns
    }

    /// Drops by the kernel's reason name; `NONE` counts frames freed without a drop reason
    /// (`consume_skb`: a SYN refused by a full accept queue).
    public var dropsByReason: [String: Int] {
        var d: [String: Int] = [:]
        for (k, v) in reasonCounts { d[k.name, default: 0] += v }
        if unnamedDrops > 0 { d["NONE", default: 0] += unnamedDrops }
        return d
    }

    /// Drops by the stage that dropped (kernel symbol).
    public var dropsByStage: [String: Int] {
        var d: [String: Int] = [:]
        for (k, v) in stageCounts { d[k.symbol, default: 0] += v }
        let unknown = (byFate[.dropped] ?? 0) - stageCounts.values.reduce(0, +)
        if unknown > 0 { d["unknown", default: 0] += unknown }
        return d
    }

    /// Replies the kernel would send, by kind (`tcp_rst`, `icmp`, ...).
    public var repliesByKind: [String: Int] { replyCounts }

    /// Counter totals by nstat name.
    public var counters: [String: Int] {
        var d: [String: Int] = [:]
        for (k, v) in counterTotals { d[k.name] = v }
        return d
    }

    /// Capture duration in nanoseconds (last minus first frame), 0 for fewer than two frames.
    public var durationNanoseconds: Int64 {
        guard let a = firstTimestamp, let b = lastTimestamp, b > a else { return 0 }
        return b - a
    }

    /// GRO: frames in, merged, held, passed, when any frame went through GRO.
    public var gro: (segments: Int, merged: Int, held: Int, passed: Int)? {
        guard !groByDecision.isEmpty else { return nil }
        let total = groByDecision.values.reduce(0, +)
        return (total, groByDecision[.consume] ?? 0, groByDecision[.hold] ?? 0, groByDecision[.pass] ?? 0)
    }

    /// Rows sorted by count (descending), then name: deterministic.
    static func sorted(_ d: [String: Int]) -> [(String, Int)] {
        d.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
    }

    /// Rules by hits, most first (ties by table, chain, position); rules never hit are left out.
    public var topRules: [RuleHit] {
        ruleHits.filter { $0.hits > 0 }.sorted {
            if $0.hits != $1.hits { return $0.hits > $1.hits }
            if $0.table != $1.table { return $0.table < $1.table }
            if $0.chain != $1.chain { return $0.chain < $1.chain }
            return $0.position < $1.position
        }
    }

    /// A rate per second over the capture's duration, with one decimal, as nstat prints its
    /// rate column (`0.0` for a capture shorter than a microsecond).
    public static func rate(_ value: Int, durationNs: Int64) -> String {
        guard durationNs > 1000 else { return "0.0" }
        // value * 10 / seconds, rounded half up, in integers.
        let tenths = (Double(value) * 10 * 1e9 / Double(durationNs)).rounded()
        guard tenths.isFinite, abs(tenths) < 9e15 else { return "inf" }
        let t = Int(tenths)
        let sign = t < 0 ? "-" : ""
        return "\(sign)\(abs(t) / 10).\(abs(t) % 10)"
    }

    /// The text summary: fates, drops by reason and stage, top rules, replies, counters as
    /// `nstat` prints them (name, value, rate), GRO, and the conntrack table.
    public func text() -> String {
        var out = "# summary\n"
        out += "frames: \(frames)"
        for f in [Fate.delivered, .forwarded, .dropped] { out += ", \(f.rawValue) \(byFate[f] ?? 0)" }
        out += "\n"
        let reasons = dropsByReason
        if !reasons.isEmpty {
            out += "drops by reason:\n"
            for (k, v) in Self.sorted(reasons) { out += "  " + pad(k, 30) + lpad(String(v), 8) + "\n" }
            out += "drops by stage:\n"
            for (k, v) in Self.sorted(dropsByStage) { out += "  " + pad(k, 30) + lpad(String(v), 8) + "\n" }
        }
        let top = topRules
        if !top.isEmpty {
            out += "top rules by hits:\n"
            for r in top.prefix(20) {
                var place = "\(r.table) \(r.chain) #\(r.position)"
                if let h = r.handle { place += " handle \(h)" }
                out += "  " + lpad(String(r.hits), 8) + "  " + pad(place, 34) + r.text + "\n"
            }
        }
        if !replyCounts.isEmpty {
            out += "replies by kind:\n"
            for (k, v) in Self.sorted(replyCounts) { out += "  " + pad(k, 30) + lpad(String(v), 8) + "\n" }
        }
        if let g = gro {
            let packets = g.segments - g.merged
            out += "gro: \(g.segments) segments in, \(g.merged) merged, \(g.held) held, \(packets) packets up the stack"
            if packets > 0 { out += ", merge ratio \(Self.ratio(g.segments, packets))" }
            out += "\n"
        }
        if !counterTotals.isEmpty {
            let d = durationNanoseconds
            out += "counters (as nstat prints them; rate per second of capture time):\n"
            out += "#kernel\n"
            for (k, v) in counterTotals.map({ ($0.key.name, $0.value) }).sorted(by: { $0.0 < $1.0 }) {
                out += pad(k, 32) + pad(String(v), 18) + lpad(Self.rate(v, durationNs: d), 7) + "\n"
            }
        }
        if let ct = conntrackTable {
            out += "conntrack table at the end (as conntrack -L prints it):\n"
            for line in ct { out += line + "\n" }
            out += "\(ct.count) flow entries have been shown.\n"
        }
        return out
    }

    /// `segments / packets` with two decimals.
    static func ratio(_ a: Int, _ b: Int) -> String {
        let hundredths = (a * 100 + b / 2) / b
        let frac = hundredths % 100
        return "\(hundredths / 100)." + (frac < 10 ? "0" : "") + "\(frac)"
    }

    /// The JSON summary line: `{"summary": {...}}` (docs/schema/summary.schema.json).
    public func json() -> String {
        func obj(_ d: [String: Int]) -> String {
            "{" + d.sorted { $0.key < $1.key }.map { JSON.quoted($0.key) + ":" + String($0.value) }.joined(separator: ",") + "}"
        }
        var b = JSONObjectBuilder()
        b.int("frames", frames)
        var fates: [String: Int] = ["delivered": 0, "forwarded": 0, "dropped": 0]
        for (k, v) in byFate { fates[k.rawValue] = v }
        b.raw("fates", obj(fates))
        b.raw("drops_by_reason", obj(dropsByReason))
        b.raw("drops_by_stage", obj(dropsByStage))
        b.raw("replies_by_kind", obj(replyCounts))
        b.raw("counters", obj(counters))
        b.int("duration_ns", Int(durationNanoseconds))
        if !ruleHits.isEmpty {
            var rules = "["
            for (i, r) in topRules.enumerated() {
                if i > 0 { rules += "," }
                var o = JSONObjectBuilder()
                o.string("table", r.table)
                o.string("chain", r.chain)
                o.int("position", r.position)
                if let h = r.handle { o.int("handle", Int(truncatingIfNeeded: h)) }
                o.string("rule", r.text)
                if let s = r.source { o.string("source", s) }
                o.int("hits", r.hits)
                rules += o.close()
            }
            b.raw("top_rules", rules + "]")
        }
        if let g = gro {
            var o = JSONObjectBuilder()
            o.int("segments", g.segments)
            o.int("merged", g.merged)
            o.int("held", g.held)
            o.int("packets", g.segments - g.merged)
            b.raw("gro", o.close())
        }
        if let ct = conntrackTable {
            b.raw("conntrack", "[" + ct.map(JSON.quoted).joined(separator: ",") + "]")
        }
        return "{\"summary\":" + b.close() + "}"
    }

    private func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count)
    }

    private func lpad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s : String(repeating: " ", count: n - s.count) + s
    }
}

extension FrameResult {
    /// For a frame dropped without a drop reason (freed with `consume_skb`), the stage that
    /// consumed it.
    public var silentDropStage: Stage? {
        guard fate == .dropped, dropReason == nil else { return nil }
        return stages.last { $0.verdict == .consume }?.stage
    }
}
