import RxrayStack

/// Totals over a run: frames by fate, drops by reason and stage, replies by kind, counters.
public struct RunSummary {
    public var frames = 0
    public var printed = 0
    public var byFate: [Fate: Int] = [:]
    public var dropsByReason: [String: Int] = [:]
    public var dropsByStage: [String: Int] = [:]
    public var repliesByKind: [String: Int] = [:]
    public var counters: [String: Int] = [:]

    public init() {}

    /// Adds one frame's result.
    public mutating func add(_ r: FrameResult) {
        frames += 1
        byFate[r.fate, default: 0] += 1
        if r.fate == .dropped {
            dropsByReason[r.dropReason?.name ?? "NOT_SPECIFIED", default: 0] += 1
            dropsByStage[r.dropStage?.symbol ?? "unknown", default: 0] += 1
        }
        for rep in r.replies { repliesByKind[rep.kindName, default: 0] += 1 }
        for (m, d) in r.counters { counters[m.name, default: 0] += d }
    }

    /// Rows sorted by count (descending), then name: deterministic.
    static func sorted(_ d: [String: Int]) -> [(String, Int)] {
        d.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
    }

    /// The text summary, `nstat`-style for counters.
    public func text() -> String {
        var out = "# summary\n"
        out += "frames: \(frames)"
        for f in [Fate.delivered, .forwarded, .dropped] { out += ", \(f.rawValue) \(byFate[f] ?? 0)" }
        out += "\n"
        if !dropsByReason.isEmpty {
            out += "drops by reason:\n"
            for (k, v) in Self.sorted(dropsByReason) { out += "  \(pad(k, 28)) \(v)\n" }
            out += "drops by stage:\n"
            for (k, v) in Self.sorted(dropsByStage) { out += "  \(pad(k, 28)) \(v)\n" }
        }
        if !repliesByKind.isEmpty {
            out += "replies by kind:\n"
            for (k, v) in Self.sorted(repliesByKind) { out += "  \(pad(k, 28)) \(v)\n" }
        }
        if !counters.isEmpty {
            out += "counters (as nstat prints them):\n"
            for (k, v) in counters.sorted(by: { $0.key < $1.key }) { out += "\(pad(k, 32)) \(pad(String(v), 12)) 0.0\n" }
        }
        return out
    }

    /// The JSON summary object (one line).
    public func json() -> String {
        func obj(_ d: [String: Int]) -> String {
            "{" + d.sorted { $0.key < $1.key }.map { JSON.quoted($0.key) + ":" + String($0.value) }.joined(separator: ",") + "}"
        }
        var b = JSONObjectBuilder()
        b.int("frames", frames)
        b.raw("fates", obj(Dictionary(uniqueKeysWithValues: byFate.map { ($0.key.rawValue, $0.value) })))
        b.raw("drops_by_reason", obj(dropsByReason))
        b.raw("drops_by_stage", obj(dropsByStage))
        b.raw("replies_by_kind", obj(repliesByKind))
        b.raw("counters", obj(counters))
        return "{\"summary\":" + b.close() + "}"
    }

    private func pad(_ s: String, _ n: Int) -> String {
        s.count >= n ? s : s + String(repeating: " ", count: n - s.count)
    }
}
