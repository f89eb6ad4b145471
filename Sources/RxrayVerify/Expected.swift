import Foundation
import RxrayOutput

/// A saved case's expectation file (`expected.jsonl`): a header line with the analysis
/// settings, then one `FrameOutcome` line per frame (docs/CHECK.md).
public struct ExpectedFile: Equatable {
    public static let version = 1
    /// `wire` or `host`.
    public var capturePoint: String
    /// The ingress interface for frames that do not name one.
    public var interface: String?
    public var outcomes: [FrameOutcome]

    public init(capturePoint: String, interface: String?, outcomes: [FrameOutcome]) {
        self.capturePoint = capturePoint; self.interface = interface; self.outcomes = outcomes
    }

    public func text() -> String {
        var b = JSONObjectBuilder()
        b.int("rxray_check", Self.version)
        b.string("capture_point", capturePoint)
        b.optionalString("interface", interface)
        var s = b.close() + "\n"
        for o in outcomes { s += o.jsonLine() + "\n" }
        return s
    }

    /// Parses `text` read from `file`.
    public static func parse(_ text: String, file: String) throws -> ExpectedFile {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().filter {
            !$0.element.trimmingCharacters(in: .whitespaces).isEmpty
        }
        guard let first = lines.first else { throw VerifyInputError(file: file, "empty expectation file (write it with rxray check --update)") }
        lines.removeFirst()
        guard let h = try? JSONSerialization.jsonObject(with: Data(first.element.utf8)) as? [String: Any],
              let v = h["rxray_check"] as? Int else {
            throw VerifyInputError(file: file, line: first.offset + 1, "expected the header line {\"rxray_check\":1,...}")
        }
        guard v == version else {
            throw VerifyInputError(file: file, line: first.offset + 1, "unsupported rxray_check version \(v) (this rxray writes \(version))")
        }
        let point = h["capture_point"] as? String ?? "wire"
        guard point == "wire" || point == "host" else {
            throw VerifyInputError(file: file, line: first.offset + 1, "capture_point must be wire or host, not \(point)")
        }
        var outcomes: [FrameOutcome] = []
        var seen = Set<Int>()
        for (i, l) in lines {
            let o = try FrameOutcome(jsonLine: l, file: file, lineNumber: i + 1)
            guard seen.insert(o.frame).inserted else {
                throw VerifyInputError(file: file, line: i + 1, "frame \(o.frame) appears twice")
            }
            outcomes.append(o)
        }
        outcomes.sort { $0.frame < $1.frame }
        return ExpectedFile(capturePoint: point, interface: h["interface"] as? String, outcomes: outcomes)
    }
}

/// One frame whose outcome changed.
public struct FrameChange: Equatable {
    public struct Field: Equatable {
        public var name: String
        public var old: String
        public var new: String
    }
    public var frame: Int
    public var summary: String
    /// Changed fields, in `FrameOutcome.fields` order. A frame present on one side only has
    /// one field, `frame`, with `missing` on the other side.
    public var fields: [Field]
}

public enum OutcomeComparison {
    /// The frames whose compared fields differ between `old` and `new`, by frame number.
    public static func changes(old: [FrameOutcome], new: [FrameOutcome]) -> [FrameChange] {
        let o = Dictionary(old.map { ($0.frame, $0) }, uniquingKeysWith: { a, _ in a })
        let n = Dictionary(new.map { ($0.frame, $0) }, uniquingKeysWith: { a, _ in a })
        var out: [FrameChange] = []
        for f in Set(o.keys).union(n.keys).sorted() {
            switch (o[f], n[f]) {
            case let (a?, b?):
                guard !a.sameVerdict(b) else { continue }
                let fa = a.fields, fb = b.fields
                var fields: [FrameChange.Field] = []
                for i in fa.indices where fa[i].1 != fb[i].1 {
                    fields.append(.init(name: fa[i].0, old: fa[i].1, new: fb[i].1))
                }
                out.append(FrameChange(frame: f, summary: b.summary.isEmpty ? a.summary : b.summary, fields: fields))
            case let (a?, nil):
                out.append(FrameChange(frame: f, summary: a.summary, fields: [.init(name: "frame", old: a.phrase, new: "missing")]))
            case let (nil, b?):
                out.append(FrameChange(frame: f, summary: b.summary, fields: [.init(name: "frame", old: "missing", new: b.phrase)]))
            default: break
            }
        }
        return out
    }

    /// A readable per-frame diff: `frame N  summary` then `  field  old → new` lines.
    public static func render(_ changes: [FrameChange], oldLabel: String = "expected", newLabel: String = "now") -> String {
        var s = ""
        for c in changes {
            s += "frame \(c.frame)" + (c.summary.isEmpty ? "" : "  \(c.summary)") + "\n"
            let w = c.fields.map(\.name.count).max() ?? 0
            for f in c.fields {
                let pad = String(repeating: " ", count: w - f.name.count)
                if f.old.count + f.new.count > 100 || f.old.contains("→") || f.new.contains("→") {
                    s += "  \(f.name)\(pad)  \(oldLabel): \(f.old)\n"
                    s += "  \(String(repeating: " ", count: w))  \(newLabel): \(f.new)\n"
                } else {
                    s += "  \(f.name)\(pad)  \(f.old) → \(f.new)\n"
                }
            }
        }
        return s
    }
}
