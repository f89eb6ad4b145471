import RxrayDecode

// Conntrack text written as bytes (stage detail, output): the same text as the `description`s
// and names, without building Strings per frame.

extension CTTuple {
    /// Appends the tuple's text, as `description` spells it (`src=… dst=… sport=… dport=…`;
    /// ICMP: `type=… code=… id=…`; other protocols: `proto=…`).
    public func write(to w: inout ByteWriter) {
        if !v6 && (proto == 6 || proto == 17 || proto == 132 || proto == 136 || proto == 33) {
            w.ipv4PortTuple(source: UInt32(truncatingIfNeeded: src.low), destination: UInt32(truncatingIfNeeded: dst.low),
                            sport: sport, dport: dport)
            return
        }
        w.ascii("src=")
        if v6 { IPv6Address(high: src.high, low: src.low).write(to: &w) } else { w.ipv4(UInt32(truncatingIfNeeded: src.low)) }
        w.ascii(" dst=")
        if v6 { IPv6Address(high: dst.high, low: dst.low).write(to: &w) } else { w.ipv4(UInt32(truncatingIfNeeded: dst.low)) }
        if proto == 1 || proto == 58 {
            w.ascii(" type="); w.decimal(dport >> 8)
            w.ascii(" code="); w.decimal(dport & 0xFF)
            w.ascii(" id="); w.decimal(sport)
        } else if proto == 6 || proto == 17 || proto == 132 || proto == 136 || proto == 33 {
            w.ascii(" sport="); w.decimal(sport)
            w.ascii(" dport="); w.decimal(dport)
        } else {
            w.ascii(" proto="); w.decimal(proto)
        }
    }
}

extension ConntrackTable {
    /// Whether `slot` holds a connection (`entry(_:) != nil` without copying the entry).
    public func holdsEntry(_ slot: Int32) -> Bool {
        slot >= 0 && Int(slot) < slots.count && slots[Int(slot)].inUse
    }

    /// Appends ` tcp <state>` (TCP connections) and ` orig <tuple> reply <tuple>` of the
    /// connection in `slot` (`holdsEntry`), read where it is: a copy of the entry cost more
    /// than its text.
    public func writeTuples(_ slot: Int32, to w: inout ByteWriter) {
        slots.withUnsafeBufferPointer { entries in
            precondition(slot >= 0 && Int(slot) < entries.count, "conntrack slot out of range")
            let e = entries.baseAddress! + Int(slot)
            if e.pointee.original.proto == 6 { w.ascii(" tcp "); w.ascii(e.pointee.tcpState.staticName) }
            w.ascii(" orig "); e.pointee.original.write(to: &w)
            w.ascii(" reply "); e.pointee.reply.write(to: &w)
        }
    }
}

extension ByteWriter {
    /// Appends ASCII `s` in lower case (other bytes unchanged).
    public mutating func lowercasedASCII(_ s: String) {
        var t = s
        t.withUTF8 { u in
            reserve(u.count)
            for b in u { byte(b >= 65 && b <= 90 ? b | 0x20 : b) }
        }
    }
}

/// Trace text that is the same at every visit of a chain or rule, made once per engine:
/// each chain's description (`ip filter INPUT (hook input, priority 0)`) and each rule's
/// `; rule "<text>" (<file>:<line>) verdict ` prefix. Raw memory, freed with the object, so
/// copying a piece out costs one `memcpy` and no reference counting.
final class NFTraceText {
    let chainBytes: UnsafeMutablePointer<UInt8>
    /// Where chain `i`'s text starts in `chainBytes` (one more entry at the end).
    let chainStarts: UnsafeMutablePointer<Int>
    let ruleBytes: UnsafeMutablePointer<UInt8>
    /// Where rule `i`'s prefix starts in `ruleBytes` (index as `ruleInfo`; one more at the end).
    let ruleStarts: UnsafeMutablePointer<Int>
    /// Whether chain `i`'s text needs no JSON escape (checked once here: table and chain
    /// names come from the ruleset and may hold anything).
    let chainJSONSafe: UnsafeMutablePointer<Bool>
    /// The same chain texts and rule prefixes JSON-escaped (as JSON output escapes stage
    /// detail), for the JSON form of a visit's text (`StageRecord.jsonCount`): a rule's text
    /// is written inside quotes, so a record naming a rule always needs an escape.
    let chainJSON: (bytes: UnsafeMutablePointer<UInt8>, starts: UnsafeMutablePointer<Int>)
    let ruleJSON: (bytes: UnsafeMutablePointer<UInt8>, starts: UnsafeMutablePointer<Int>)
    /// Whether every verdict text a trace step can hold needs no JSON escape (the jump and
    /// goto texts name chains): only then is a visit's JSON form written.
    let verdictsJSONSafe: Bool
    /// A trace step's verdict texts, indexed by `NFTraceStep.verdictCode`: the fixed ones,
    /// then each chain's `jump NAME` and `goto NAME`.
    let verdictBytes: UnsafeMutablePointer<UInt8>
    let verdictStarts: UnsafeMutablePointer<Int>

    init(chains: [CChain], rules: [NFRuleInfo]) {
        let jumps = chains.map { "jump \($0.name)" }, gotos = chains.map { "goto \($0.name)" }
        var w = ByteWriter(capacity: 4096)
        defer { w.deallocate() }
        var starts: [Int] = []
        for t in NFTraceStep.Verdict.fixedTexts {
            starts.append(w.count)
            w.string(t)
        }
        assert(starts.count == Int(NFTraceStep.Verdict.jump(0).code), "the fixed verdict texts and codes disagree")
        for (j, g) in zip(jumps, gotos) {
            starts.append(w.count)
            w.string(j)
            starts.append(w.count)
            w.string(g)
        }
        starts.append(w.count)
        (verdictBytes, verdictStarts) = NFTraceText.copy(w.bytes, starts)
        w.removeAll()
        starts.removeAll()
        for c in chains {
            starts.append(w.count)
            w.string(c.table)
            w.byte(32)
            w.string(c.name)
            w.ascii(" (hook ")
            w.lowercasedASCII(c.hook.name)
            w.ascii(", priority ")
            w.decimal(c.priority)
            w.byte(41)
        }
        starts.append(w.count)
        let chainText = NFTraceText.copy(w.bytes, starts)
        chainBytes = chainText.0
        chainStarts = chainText.1
        chainJSONSafe = .allocate(capacity: max(1, chains.count))
        for i in chains.indices {
            let piece = UnsafeBufferPointer(start: chainText.0 + starts[i], count: starts[i + 1] - starts[i])
            (chainJSONSafe + i).initialize(to: ByteWriter.jsonCleanPrefix(piece) == piece.count)
        }
        w.removeAll()
        starts.removeAll()
        for info in rules {
            starts.append(w.count)
            w.ascii("; rule \"")
            w.string(info.text)
            w.ascii("\" (")
            w.string(info.file)
            w.byte(58)
            w.decimal(info.line)
            w.ascii(") verdict ")
        }
        starts.append(w.count)
        let ruleText = NFTraceText.copy(w.bytes, starts)
        ruleBytes = ruleText.0
        ruleStarts = ruleText.1
        chainJSON = NFTraceText.escaped(chainText.0, chainText.1, chains.count)
        ruleJSON = NFTraceText.escaped(ruleText.0, ruleText.1, rules.count)
        verdictsJSONSafe = (jumps + gotos).allSatisfy { v in
            var t = v
            return t.withUTF8 { ByteWriter.jsonCleanPrefix($0) == $0.count }
        }
    }

    /// Each of the `count` pieces of `bytes` (ranges from `starts`) JSON-escaped, in the same
    /// layout.
    private static func escaped(_ bytes: UnsafeMutablePointer<UInt8>, _ starts: UnsafeMutablePointer<Int>,
                                _ count: Int) -> (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<Int>) {
        var w = ByteWriter(capacity: max(64, starts[count] + 64))
        defer { w.deallocate() }
        var out: [Int] = []
        out.reserveCapacity(count + 1)
        for i in 0..<count {
            out.append(w.count)
            w.jsonEscaped(UnsafeBufferPointer(start: bytes + starts[i], count: starts[i + 1] - starts[i]))
        }
        out.append(w.count)
        return copy(w.bytes, out)
    }

    private static func copy(_ bytes: UnsafeBufferPointer<UInt8>, _ starts: [Int]) -> (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<Int>) {
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, bytes.count))
        if let src = bytes.baseAddress { b.initialize(from: src, count: bytes.count) }
        let s = UnsafeMutablePointer<Int>.allocate(capacity: starts.count)
        s.initialize(from: starts, count: starts.count)
        return (b, s)
    }

    deinit {
        chainBytes.deallocate()
        chainStarts.deallocate()
        ruleBytes.deallocate()
        ruleStarts.deallocate()
        chainJSONSafe.deallocate()
        chainJSON.bytes.deallocate()
        chainJSON.starts.deallocate()
        ruleJSON.bytes.deallocate()
        ruleJSON.starts.deallocate()
        verdictBytes.deallocate()
        verdictStarts.deallocate()
    }

    @inline(__always) func writeVerdict(_ i: Int, to w: inout ByteWriter) {
        w.bytes(UnsafeBufferPointer(start: verdictBytes + verdictStarts[i], count: verdictStarts[i + 1] - verdictStarts[i]))
    }

    @inline(__always) func writeChain(_ i: Int, to w: inout ByteWriter) {
        w.bytes(UnsafeBufferPointer(start: chainBytes + chainStarts[i], count: chainStarts[i + 1] - chainStarts[i]))
    }

    @inline(__always) func writeRule(_ i: Int, to w: inout ByteWriter) {
        w.bytes(UnsafeBufferPointer(start: ruleBytes + ruleStarts[i], count: ruleStarts[i + 1] - ruleStarts[i]))
    }
}

/// The raw tables of an `NFTraceText`, as a value with no reference in it: copying it out
/// of the engine costs no retain and release (`NetfilterEngine.traceTables`).
struct NFTraceTables {
    typealias Pieces = (bytes: UnsafeMutablePointer<UInt8>, starts: UnsafeMutablePointer<Int>)
    let chains: Pieces
    let rules: Pieces
    let chainJSONSafe: UnsafeMutablePointer<Bool>
    let chainJSON: Pieces
    let ruleJSON: Pieces
    let verdicts: Pieces
    let verdictsJSONSafe: Bool

    init(_ t: NFTraceText) {
        chains = (t.chainBytes, t.chainStarts)
        rules = (t.ruleBytes, t.ruleStarts)
        chainJSONSafe = t.chainJSONSafe
        chainJSON = t.chainJSON
        ruleJSON = t.ruleJSON
        verdicts = (t.verdictBytes, t.verdictStarts)
        verdictsJSONSafe = t.verdictsJSONSafe
    }

    /// Appends piece `i` of `t` (`chains`, `rules`, `chainJSON`, `ruleJSON`).
    @inline(__always) static func write(_ t: Pieces, _ i: Int, to w: inout ByteWriter) {
        w.bytes(UnsafeBufferPointer(start: t.bytes + t.starts[i], count: t.starts[i + 1] - t.starts[i]))
    }
}

extension NetfilterEngine {
    /// `conntrack.holdsEntry(slot)`, read in place (through the `conntrack` property from
    /// another module, each call copied the table's value: four retains and releases).
    public func conntrackHoldsEntry(_ slot: Int32) -> Bool {
        conntrack.holdsEntry(slot)
    }

    /// `conntrack.writeTuples(slot, to:)`, read in place (see `conntrackHoldsEntry`).
    public func writeConntrackTuples(_ slot: Int32, to w: inout ByteWriter) {
        conntrack.writeTuples(slot, to: &w)
    }

    /// Appends `chainDescription(chain)` (`ip filter INPUT (hook input, priority 0)`).
    public func writeChainDescription(_ chain: Int32, to w: inout ByteWriter) {
        traceText.writeChain(Int(chain), to: &w)
    }

    /// Appends the trace of one base-chain visit: the chain, each matched rule with its
    /// verdict, and the policy when it decided (`Kernel.visitText`'s text). Returns whether
    /// the text needs no JSON escape (a chain whose text is clean, decided by its policy with
    /// no rule in the trace; a rule's text is always quoted).
    @discardableResult
    public func writeVisit(_ v: NFChainVisit, to w: inout ByteWriter) -> Bool {
        writeVisit(v, to: &w, jsonForm: false).jsonSafe
    }

    /// `writeVisit(_:to:)`, returning the text's length; with `jsonForm`, a text that needs
    /// an escape is followed by its JSON form (the text JSON-escaped, from the pieces escaped
    /// once: `FrameResult.recordWithJSONForm`), unless a verdict text could need an escape.
    public func writeVisit(_ v: NFChainVisit, to w: inout ByteWriter, jsonForm: Bool) -> (count: Int, jsonSafe: Bool) {
        let t: NFTraceTables
        if let made = traceTables { t = made } else { t = NFTraceTables(traceText); traceTables = t }
        let start = w.count
        let chain = Int(v.chain)
        writeVisit(v, chains: t.chains, rules: t.rules, verdicts: t.verdicts, to: &w)
        let n = w.count &- start
        if v.traceRange.isEmpty && t.chainJSONSafe[chain] { return (n, true) }
        guard jsonForm && t.verdictsJSONSafe else { return (n, false) }
        // The verdict texts need no escape here (`verdictsJSONSafe`): they are their JSON form.
        writeVisit(v, chains: t.chainJSON, rules: t.ruleJSON, verdicts: t.verdicts, to: &w)
        return (n, false)
    }

    /// The visit's text from one pair of tables (the texts, or their JSON forms): the chain,
    /// each traced rule with its verdict, the policy when no rule decided.
    @inline(__always) private func writeVisit(_ v: NFChainVisit, chains: NFTraceTables.Pieces, rules: NFTraceTables.Pieces,
                                              verdicts: NFTraceTables.Pieces, to w: inout ByteWriter) {
        NFTraceTables.write(chains, Int(v.chain), to: &w)
        if !v.traceRange.isEmpty {
            // The steps are read where they are (a slice would retain the array).
            traceSteps.withUnsafeBufferPointer { steps in
                precondition(v.traceRange.upperBound <= steps.count, "trace range outside the trace steps")
                let p = steps.baseAddress!
                for i in v.traceRange {
                    NFTraceTables.write(rules, Int(p[i].rule), to: &w)
                    NFTraceTables.write(verdicts, Int(p[i].verdictCode), to: &w)
                }
            }
        }
        if v.rule < 0 {
            if v.verdict == .drop { w.ascii("; policy drop") } else { w.ascii("; policy accept") }
        }
    }
}
