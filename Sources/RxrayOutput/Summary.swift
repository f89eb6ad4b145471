import RxrayDecode
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

/// The connection tracking table at the end of a run, as `conntrack -L` lines in listing
/// order, made one at a time while they are written: a full table (`nf_conntrack_max`,
/// 262,144 entries by default) is about 40 MB of text, never held at once.
public struct ConntrackListing {
    /// Lines the listing has.
    public let count: Int
    private let rows: (_ body: (UnsafeBufferPointer<UInt8>) -> Void) -> Void

    /// A listing of `count` lines that `rows` makes in order, calling its argument with each
    /// line's UTF-8 bytes (valid only during the call; no newline).
    public init(count: Int, rows: @escaping (_ body: (UnsafeBufferPointer<UInt8>) -> Void) -> Void) {
        self.count = count
        self.rows = rows
    }

    /// A listing of lines already made.
    public init(_ lines: [String]) {
        count = lines.count
        rows = { body in
            for l in lines {
                var t = l
                t.withUTF8 { body($0) }
            }
        }
    }

    /// Calls `body` with every line's bytes, in order (no String is made).
    public func forEachRow(_ body: (UnsafeBufferPointer<UInt8>) -> Void) { rows(body) }

    /// Calls `body` with every line, in order.
    public func forEach(_ body: (String) -> Void) { rows { body(String(decoding: $0, as: UTF8.self)) } }

    /// Every line, in order, in one array.
    public var lines: [String] {
        var a: [String] = []
        a.reserveCapacity(count)
        forEach { a.append($0) }
        return a
    }
}

/// Totals over a run: frames by fate, drops by reason and stage, replies by kind, counters,
/// GRO decisions, and (when the caller supplies them) rule hits and the conntrack table.
///
/// `add` does no string work and no hashing: fates, drop reasons, counters and GRO decisions
/// are counted in fixed arrays indexed by the enums' case ordinals, drop stages and reply
/// kinds in short lists; names are made when the summary is printed.
public struct RunSummary {
    public var frames = 0
    public var printed = 0
    /// delivered, forwarded, dropped.
    private var fateCounts: (Int, Int, Int) = (0, 0, 0)
    private var reasonCounts: [Int]
    private var unnamedDrops = 0
    /// Drops by stage: a handful of distinct stages per run, searched linearly.
    private var stageCounts: [(Stage, Int)] = []
    /// Replies by kind name, in first-seen order (a handful of kinds).
    private var replyCounts: [(String, Int)] = []
    /// Counter totals by `MIB` ordinal, and whether the counter moved at all (a counter whose
    /// moves add up to 0 is still listed).
    private var counterTotals: [Int]
    private var counterSeen: [Bool]
    private var counterCount = 0
    /// GRO decisions by `Verdict.rawValue`.
    private var groCounts: [Int] = Array(repeating: 0, count: 8)
    private let ordinals: Ordinals
    /// Capture time of the first and last frame, for the counters' rate column.
    public private(set) var firstTimestamp: Int64?
    public private(set) var lastTimestamp: Int64?
    /// Per-rule hits, when the netfilter engine provides them (top rules section).
    public var ruleHits: [RuleHit] = []
    /// The connection tracking table at the end, one `conntrack -L` line per entry, when the
    /// conntrack engine provides it: made a line at a time as the summary is written.
    public var conntrackListing: ConntrackListing?

    /// `conntrackListing` as an array of lines (every line in memory at once: for tests and
    /// small tables).
    public var conntrackTable: [String]? {
        get { conntrackListing?.lines }
        set { conntrackListing = newValue.map { ConntrackListing($0) } }
    }

    public init() {
        ordinals = Ordinals()
        reasonCounts = Array(repeating: 0, count: ordinals.reasons.count)
        counterTotals = Array(repeating: 0, count: ordinals.mibs.count)
        counterSeen = Array(repeating: false, count: ordinals.mibs.count)
    }

    /// Frames by fate (fates no frame had are absent).
    public var byFate: [Fate: Int] {
        var d: [Fate: Int] = [:]
        if fateCounts.0 > 0 { d[.delivered] = fateCounts.0 }
        if fateCounts.1 > 0 { d[.forwarded] = fateCounts.1 }
        if fateCounts.2 > 0 { d[.dropped] = fateCounts.2 }
        return d
    }

    /// Frames that went through `dev_gro_receive`, by decision.
    public var groByDecision: [Verdict: Int] {
        var d: [Verdict: Int] = [:]
        for (i, n) in groCounts.enumerated() where n > 0 {
            if let v = Verdict(rawValue: UInt8(i)) { d[v] = n }
        }
        return d
    }

    /// Adds one frame's result.
    public mutating func add(_ r: FrameResult) {
        if let t = r.timer { addTimer(t, r); return }
        frames += 1
        switch r.fate {
        case .delivered: fateCounts.0 += 1
        case .forwarded: fateCounts.1 += 1
        case .dropped:
            fateCounts.2 += 1
            if let reason = r.dropReason { reasonCounts[ordinals.of(reason)] += 1 } else { unnamedDrops += 1 }
            if let st = r.dropStage ?? r.silentDropStage { countStage(st) }
        }
        if !r.replies.isEmpty { for rep in r.replies { countReply(rep.kindName) } }
        addCounters(r)
        // A tag test (`==` on `Stage`, an enum with payloads, is a call per record).
        // Through the buffer: a for-in over the array made an iterator (retaining it).
        let gro: Int = r.stages.withUnsafeBufferPointer { st in
            for k in st.indices { if case .devGroReceive = st[k].stage { return Int(st[k].verdict.rawValue) & 7 } }
            return -1
        }
        if gro >= 0 { groCounts[gro] += 1 }
    }

    /// Timer events (`FrameResult.timer`) by timer and action: `reqsk_timer_handler
    /// synack_retransmit`. Counted apart from frames; their replies and counters are in
    /// `repliesByKind` and `counters`.
    public private(set) var timerEvents: [String: Int] = [:]

    private mutating func addTimer(_ t: TimerEvent, _ r: FrameResult) {
        timerEvents[TimerEvent.timerName + " " + t.action.name, default: 0] += 1
        for rep in r.replies { countReply(rep.kindName) }
        addCounters(r)
    }

    private mutating func addCounters(_ r: FrameResult) {
        if !r.counters.isEmpty {
            // Through the buffers: one uniqueness check per array for the frame, not one per counter.
            var added = 0
            counterTotals.withUnsafeMutableBufferPointer { totals in
                counterSeen.withUnsafeMutableBufferPointer { seen in
                    r.forEachCounter { mib, delta in
                        // `MIB.ordinal` is the declaration-order index, as `Ordinals.of` (HotPathTests).
                        let i = mib.ordinal
                        totals[i] += delta
                        if !seen[i] { seen[i] = true; added += 1 }
                    }
                }
            }
            counterCount += added
        }
    }

    private mutating func countStage(_ st: Stage) {
        for i in stageCounts.indices where stageCounts[i].0 == st {
            stageCounts[i].1 += 1
            return
        }
        stageCounts.append((st, 1))
    }

    private mutating func countReply(_ name: String) {
        for i in replyCounts.indices where replyCounts[i].0 == name {
            replyCounts[i].1 += 1
            return
        }
        replyCounts.append((name, 1))
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
        for (i, n) in reasonCounts.enumerated() where n > 0 { d[ordinals.reasons[i].name, default: 0] += n }
        if unnamedDrops > 0 { d["NONE", default: 0] += unnamedDrops }
        return d
    }

    /// Drops by the stage that dropped (kernel symbol).
    public var dropsByStage: [String: Int] {
        var d: [String: Int] = [:]
        for (k, v) in stageCounts { d[k.symbol, default: 0] += v }
        let unknown = fateCounts.2 - stageCounts.reduce(0) { $0 + $1.1 }
        if unknown > 0 { d["unknown", default: 0] += unknown }
        return d
    }

    /// Replies the kernel would send, by kind (`tcp_rst`, `icmp`, ...).
    public var repliesByKind: [String: Int] {
        var d: [String: Int] = [:]
        for (k, v) in replyCounts { d[k, default: 0] += v }
        return d
    }

    /// Counter totals by nstat name.
    public var counters: [String: Int] {
        var d: [String: Int] = [:]
        for (i, seen) in counterSeen.enumerated() where seen { d[ordinals.mibs[i].name] = counterTotals[i] }
        return d
    }

    /// Capture duration in nanoseconds (last minus first frame), 0 for fewer than two frames.
    public var durationNanoseconds: Int64 {
        guard let a = firstTimestamp, let b = lastTimestamp, b > a else { return 0 }
        return b - a
    }

    /// GRO: frames in, merged, held, passed, when any frame went through GRO.
    public var gro: (segments: Int, merged: Int, held: Int, passed: Int)? {
        let total = groCounts.reduce(0, +)
        guard total > 0 else { return nil }
        return (total, groCounts[Int(Verdict.consume.rawValue)], groCounts[Int(Verdict.hold.rawValue)],
                groCounts[Int(Verdict.pass.rawValue)])
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
    public func text() -> String { Self.collect { writeText($0) } }

    /// The JSON summary line: `{"summary": {...}}` (docs/schema/summary.schema.json), without
    /// the newline.
    public func json() -> String { Self.collect { writeJSON($0) } }

    /// Writes `text()` to `sink` a line at a time: the summary of a long run (a conntrack
    /// table of tens of thousands of entries, thousands of rules) is never one String.
    public func writeText(to sink: ByteSink) { writeText { sink.withWriter($0) } }

    /// Writes `json()` to `sink` (without the newline), an element at a time.
    public func writeJSON(to sink: ByteSink) { writeJSON { sink.withWriter($0) } }

    /// A destination the writers below append to in pieces: each call gives a piece's bytes.
    typealias Pieces = ((inout ByteWriter) -> Void) -> Void

    /// Runs a writer into one temporary buffer and returns its text.
    private static func collect(_ write: (Pieces) -> Void) -> String {
        var w = ByteWriter(capacity: 4096)
        defer { w.deallocate() }
        write { body in body(&w) }
        return String(decoding: w.bytes, as: UTF8.self)
    }

    private func writeText(_ out: Pieces) {
        func put(_ s: String) { out { $0.string(s) } }
        put("# summary\n")
        var line = "frames: \(frames)"
        let fates = byFate
        for f in [Fate.delivered, .forwarded, .dropped] { line += ", \(f.rawValue) \(fates[f] ?? 0)" }
        put(line + "\n")
        let reasons = dropsByReason
        if !reasons.isEmpty {
            put("drops by reason:\n")
            for (k, v) in Self.sorted(reasons) { put("  " + pad(k, 30) + lpad(String(v), 8) + "\n") }
            put("drops by stage:\n")
            for (k, v) in Self.sorted(dropsByStage) { put("  " + pad(k, 30) + lpad(String(v), 8) + "\n") }
        }
        let top = topRules
        if !top.isEmpty {
            put("top rules by hits:\n")
            for r in top.prefix(20) {
                var place = "\(r.table) \(r.chain) #\(r.position)"
                if let h = r.handle { place += " handle \(h)" }
                put("  " + lpad(String(r.hits), 8) + "  " + pad(place, 34) + r.text + "\n")
            }
        }
        if !timerEvents.isEmpty {
            put("timer events:\n")
            for (k, v) in Self.sorted(timerEvents) { put("  " + pad(k, 40) + lpad(String(v), 8) + "\n") }
        }
        if !replyCounts.isEmpty {
            put("replies by kind:\n")
            for (k, v) in Self.sorted(repliesByKind) { put("  " + pad(k, 30) + lpad(String(v), 8) + "\n") }
        }
        if let g = gro {
            let packets = g.segments - g.merged
            var l = "gro: \(g.segments) segments in, \(g.merged) merged, \(g.held) held, \(packets) packets up the stack"
            if packets > 0 { l += ", merge ratio \(Self.ratio(g.segments, packets))" }
            put(l + "\n")
        }
        if counterCount > 0 {
            let d = durationNanoseconds
            put("counters (as nstat prints them; rate per second of capture time):\n")
            put("#kernel\n")
            for (k, v) in counters.sorted(by: { $0.key < $1.key }) {
                put(pad(k, 32) + pad(String(v), 18) + lpad(Self.rate(v, durationNs: d), 7) + "\n")
            }
        }
        if let ct = conntrackListing {
            put("conntrack table at the end (as conntrack -L prints it):\n")
            ct.forEachRow { line in out { $0.bytes(line); $0.byte(10) } }
            put("\(ct.count) flow entries have been shown.\n")
        }
    }

    /// `segments / packets` with two decimals.
    static func ratio(_ a: Int, _ b: Int) -> String {
        let hundredths = (a * 100 + b / 2) / b
        let frac = hundredths % 100
        return "\(hundredths / 100)." + (frac < 10 ? "0" : "") + "\(frac)"
    }

    private func writeJSON(_ out: Pieces) {
        /// `"key":` (keys are identifiers: nothing to escape).
        func key(_ k: StaticString, _ w: inout ByteWriter, first: Bool = false) {
            if !first { w.byte(44) }
            w.byte(34); w.ascii(k); w.byte(34); w.byte(58)
        }
        /// A JSON string (control characters, quote and backslash escaped; DEL left as it is).
        func string(_ s: String, _ w: inout ByteWriter) { w.jsonString(s, escapeDEL: false) }
        func object(_ d: [String: Int], _ w: inout ByteWriter) {
            w.byte(123)
            for (i, kv) in d.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { w.byte(44) }
                string(kv.key, &w); w.byte(58); w.decimal(kv.value)
            }
            w.byte(125)
        }
        out { w in
            w.ascii("{\"summary\":{")
            key("frames", &w, first: true); w.decimal(frames)
            var fates: [String: Int] = ["delivered": 0, "forwarded": 0, "dropped": 0]
            for (k, v) in byFate { fates[k.rawValue] = v }
            key("fates", &w); object(fates, &w)
            key("drops_by_reason", &w); object(dropsByReason, &w)
            key("drops_by_stage", &w); object(dropsByStage, &w)
            key("replies_by_kind", &w); object(repliesByKind, &w)
            if !timerEvents.isEmpty { key("timer_events", &w); object(timerEvents, &w) }
            key("counters", &w); object(counters, &w)
            key("duration_ns", &w); w.decimal(Int(durationNanoseconds))
        }
        if !ruleHits.isEmpty {
            out { w in key("top_rules", &w); w.byte(91) }
            for (i, r) in topRules.enumerated() {
                out { w in
                    if i > 0 { w.byte(44) }
                    w.byte(123)
                    key("table", &w, first: true); string(r.table, &w)
                    key("chain", &w); string(r.chain, &w)
                    key("position", &w); w.decimal(r.position)
                    if let h = r.handle { key("handle", &w); w.decimal(Int(truncatingIfNeeded: h)) }
                    key("rule", &w); string(r.text, &w)
                    if let s = r.source { key("source", &w); string(s, &w) }
                    key("hits", &w); w.decimal(r.hits)
                    w.byte(125)
                }
            }
            out { $0.byte(93) }
        }
        if let g = gro {
            out { w in
                key("gro", &w); w.byte(123)
                key("segments", &w, first: true); w.decimal(g.segments)
                key("merged", &w); w.decimal(g.merged)
                key("held", &w); w.decimal(g.held)
                key("packets", &w); w.decimal(g.segments - g.merged)
                w.byte(125)
            }
        }
        if let ct = conntrackListing {
            out { w in key("conntrack", &w); w.byte(91) }
            var first = true
            ct.forEachRow { line in
                out { w in
                    if !first { w.byte(44) }
                    w.byte(34)
                    w.jsonEscaped(line, escapeDEL: false)
                    w.byte(34)
                }
                first = false
            }
            out { $0.byte(93) }
        }
        out { $0.ascii("}}") }
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

/// Case ordinals of the payload-free enums the summary counts, without hashing their String
/// raw values: the in-memory tag of such an enum is its case's position in declaration
/// order, which is also `allCases` order. That is checked once for every case when the
/// summary is made; if it ever failed, the ordinal is found by search instead.
struct Ordinals {
    let reasons: [DropReason] = Array(DropReason.allCases)
    let mibs: [MIB] = Array(MIB.allCases)
    private let reasonTagsAreOrdinals: Bool
    private let mibTagsAreOrdinals: Bool

    init() {
        reasonTagsAreOrdinals = Self.tagsAreOrdinals(reasons)
        mibTagsAreOrdinals = Self.tagsAreOrdinals(mibs)
    }

    @inline(__always) func of(_ r: DropReason) -> Int {
        reasonTagsAreOrdinals ? Self.tag(r) : reasons.firstIndex(of: r)!
    }

    @inline(__always) func of(_ m: MIB) -> Int {
        mibTagsAreOrdinals ? Self.tag(m) : mibs.firstIndex(of: m)!
    }

    @inline(__always) static func tag<E>(_ e: E) -> Int {
        withUnsafeBytes(of: e) { b in
            switch b.count {
            case 1: return Int(b[0])
            case 2: return Int(b.loadUnaligned(as: UInt16.self))
            default: return -1
            }
        }
    }

    static func tagsAreOrdinals<E>(_ cases: [E]) -> Bool {
        for (i, c) in cases.enumerated() where tag(c) != i { return false }
        return true
    }
}
