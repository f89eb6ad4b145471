import RxrayStack

/// A user's statement of what must happen to the frames a BPF filter selects:
/// `tcp dst port 22 and src net 10.0.0.0/8 → delivered` (format: docs/CHECK.md).
public struct Expectation: Equatable {
    /// One condition on a frame's outcome; an expectation holds when all of them do.
    public enum Clause: Equatable {
        /// `delivered`, `forwarded`, `dropped`.
        case fate(String)
        /// `accepted`: delivered or forwarded.
        case accepted
        /// `dropped REASON`.
        case dropReason(String)
        /// `at WORD...`: every word appears in the drop stage or its detail (table, chain, rule).
        case dropAt([String])
        /// `forwarded via IFACE`.
        case egress(String)
        /// `reply KIND [TYPE]`: some reply matches.
        case reply(ReplyPattern)
        /// `no reply`.
        case noReply
    }

    public struct ReplyPattern: Equatable, CustomStringConvertible {
        /// `icmp`, `icmpv6`, `tcp_rst`, `tcp_synack`, `tcp_ack`, `arp_reply`, `arp_request`,
        /// `nd_neighbour_solicit`.
        public var kind: String
        public var type: UInt8?
        public var code: UInt8?
        public var description: String
    }

    /// The BPF filter as written (empty: every frame).
    public var filter: String
    /// The outcome as written.
    public var outcomeText: String
    public var clauses: [Clause]
    /// 1-based line in the expectations file.
    public var line: Int

    /// Whether `o` satisfies every clause; if not, which clause failed first (as text).
    public func check(_ o: FrameOutcome) -> String? {
        for c in clauses {
            switch c {
            case .fate(let f):
                if o.fate != f { return "expected \(f)" }
            case .accepted:
                if o.fate == "dropped" { return "expected accepted (delivered or forwarded)" }
            case .dropReason(let r):
                if o.fate != "dropped" { return "expected dropped" }
                if o.dropReason != r { return "expected drop reason \(r)" }
            case .dropAt(let words):
                if o.fate != "dropped" { return "expected dropped" }
                let hay = Self.tokens((o.dropStage ?? "") + " " + (o.decision ?? ""))
                if let missing = words.first(where: { !hay.contains($0.lowercased()) }) {
                    return "expected the drop at \(words.joined(separator: " ")) (\(missing) not in the deciding stage)"
                }
            case .egress(let e):
                if o.fate != "forwarded" { return "expected forwarded" }
                if o.egress != e { return "expected forwarded via \(e)" }
            case .reply(let p):
                if !o.replies.contains(where: { Self.reply($0, matches: p) }) { return "expected a reply \(p)" }
            case .noReply:
                if !o.replies.isEmpty { return "expected no reply" }
            }
        }
        return nil
    }

    static func tokens(_ s: String) -> Set<String> {
        var out = Set<String>()
        var cur = ""
        for ch in s.lowercased() {
            if ch.isLetter || ch.isNumber || ch == "_" || ch == "-" { cur.append(ch) } else if !cur.isEmpty { out.insert(cur); cur = "" }
        }
        if !cur.isEmpty { out.insert(cur) }
        return out
    }

    /// Matches a rendered reply (`icmp 3/3 port-unreachable on eth0`) against a pattern.
    static func reply(_ rendered: String, matches p: ReplyPattern) -> Bool {
        let words = rendered.split(separator: " ")
        guard let kind = words.first else { return false }
        if p.kind == "tcp_synack" { return kind.hasPrefix("tcp_synack") }
        guard kind == p.kind else { return false }
        if p.type == nil { return true }
        guard words.count > 1 else { return false }
        let tc = words[1].split(separator: "/")
        guard tc.count == 2, let t = UInt8(tc[0]), let c = UInt8(tc[1]) else { return false }
        return t == p.type && (p.code == nil || c == p.code)
    }
}

/// A parsed expectations file.
public struct ExpectationsFile {
    public var file: String
    public var expectations: [Expectation]

    /// Parses the line format: `FILTER → OUTCOME` (or `->`), `#` comments, blank lines.
    /// - Throws: `VerifyInputError` naming the line and what was expected.
    public static func parse(_ text: String, file: String) throws -> ExpectationsFile {
        var out: [Expectation] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(raw)
            if let h = line.firstIndex(of: "#") { line = String(line[..<h]) }
            line = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            let n = i + 1
            guard let arrow = line.range(of: "→") ?? line.range(of: "->") else {
                throw VerifyInputError(file: file, line: n, "expected `FILTER → OUTCOME` (or `->`), e.g. `udp port 53 → dropped NETFILTER_DROP`")
            }
            var filter = line[..<arrow.lowerBound].trimmingCharacters(in: .whitespaces)
            if filter == "*" || filter.lowercased() == "all" { filter = "" }
            let outcome = line[arrow.upperBound...].trimmingCharacters(in: .whitespaces)
            guard !outcome.isEmpty else {
                throw VerifyInputError(file: file, line: n, "nothing after the arrow: expected delivered, forwarded, dropped, accepted or reply ...")
            }
            let clauses = try parseOutcome(outcome, file: file, line: n)
            out.append(Expectation(filter: filter, outcomeText: outcome, clauses: clauses, line: n))
        }
        if out.isEmpty { throw VerifyInputError(file: file, "no expectations (lines of the form `FILTER → OUTCOME`)") }
        return ExpectationsFile(file: file, expectations: out)
    }

    static func parseOutcome(_ text: String, file: String, line: Int) throws -> [Expectation.Clause] {
        var clauses: [Expectation.Clause] = []
        for part in text.split(separator: ",") {
            let words = part.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let head = words.first?.lowercased() else {
                throw VerifyInputError(file: file, line: line, "empty clause in `\(text)`")
            }
            var rest = Array(words.dropFirst())
            func err(_ m: String) -> VerifyInputError { VerifyInputError(file: file, line: line, m) }
            switch head {
            case "delivered":
                guard rest.isEmpty else { throw err("`delivered` takes nothing after it (found `\(rest.joined(separator: " "))`)") }
                clauses.append(.fate("delivered"))
            case "accepted":
                guard rest.isEmpty else { throw err("`accepted` takes nothing after it (found `\(rest.joined(separator: " "))`)") }
                clauses.append(.accepted)
            case "forwarded":
                clauses.append(.fate("forwarded"))
                if !rest.isEmpty {
                    guard rest.count == 2, rest[0].lowercased() == "via" else {
                        throw err("expected `forwarded` or `forwarded via IFACE`, found `\(part.trimmingCharacters(in: .whitespaces))`")
                    }
                    clauses.append(.egress(rest[1]))
                }
            case "dropped":
                clauses.append(.fate("dropped"))
                if let r = rest.first, r.lowercased() != "at" {
                    let name = r.uppercased().hasPrefix("SKB_DROP_REASON_") ? String(r.dropFirst(16)) : r
                    guard DropReason(rawValue: name.uppercased()) != nil else {
                        throw err("unknown drop reason `\(r)` (a kernel SKB_DROP_REASON_ name such as NETFILTER_DROP, NO_SOCKET, OTHERHOST, IP_RPFILTER)")
                    }
                    clauses.append(.dropReason(name.uppercased()))
                    rest.removeFirst()
                }
                if let r = rest.first {
                    guard r.lowercased() == "at", rest.count > 1 else {
                        throw err("expected `dropped [REASON] [at STAGE-OR-TABLE CHAIN...]`, found `\(part.trimmingCharacters(in: .whitespaces))`")
                    }
                    clauses.append(.dropAt(Array(rest.dropFirst())))
                }
            case "no":
                guard rest.count == 1, rest[0].lowercased() == "reply" else { throw err("expected `no reply`") }
                clauses.append(.noReply)
            case "reply":
                clauses.append(.reply(try parseReply(rest, err: err)))
            default:
                throw err("unknown outcome `\(words[0])`: expected delivered, forwarded [via IFACE], dropped [REASON] [at ...], accepted, reply KIND [TYPE] or no reply")
            }
        }
        return clauses
    }

    static func parseReply(_ w: [String], err: (String) -> VerifyInputError) throws -> Expectation.ReplyPattern {
        guard let k = w.first?.lowercased() else {
            throw err("`reply` needs a kind: icmp [TYPE], icmpv6 [TYPE], tcp-rst, tcp-syn-ack, tcp-ack, arp [reply|request], nd-solicit")
        }
        let text = w.joined(separator: " ")
        let rest = w.dropFirst().map { $0.lowercased() }
        switch k {
        case "icmp", "icmpv6", "icmp6":
            let v6 = k != "icmp"
            guard rest.count <= 1 else { throw err("`reply \(k)` takes one type name, found `\(rest.joined(separator: " "))`") }
            guard let name = rest.first else { return .init(kind: v6 ? "icmpv6" : "icmp", type: nil, code: nil, description: text) }
            guard let (t, c) = ICMPNames.lookup(v6: v6, name) else {
                throw err("unknown \(v6 ? "ICMPv6" : "ICMP") type `\(name)` (use TYPE/CODE numbers or one of: \(ICMPNames.allNames(v6: v6).joined(separator: ", ")))")
            }
            return .init(kind: v6 ? "icmpv6" : "icmp", type: t, code: c, description: text)
        case "tcp", "tcp-rst", "tcp_rst", "rst", "tcp-syn-ack", "tcp_synack", "syn-ack", "tcp-ack", "tcp_ack", "arp", "arp-reply", "arp_reply",
             "arp-request", "arp_request", "nd-solicit", "nd_neighbour_solicit", "neighbour-solicit", "ns":
            var name = k
            if k == "tcp" {
                guard rest.count == 1 else { throw err("`reply tcp` needs one of rst, syn-ack, ack") }
                name = "tcp-" + rest[0]
            } else if k == "arp", rest.count == 1, rest[0] == "reply" || rest[0] == "request" {
                name = "arp-" + rest[0]
            } else if !rest.isEmpty {
                throw err(k == "arp" ? "`reply arp` takes reply or request, found `\(rest.joined(separator: " "))`" : "`reply \(k)` takes nothing after it")
            }
            switch name {
            case "tcp-rst", "tcp_rst", "rst": return .init(kind: "tcp_rst", description: text)
            case "tcp-syn-ack", "tcp-synack", "tcp_synack", "syn-ack": return .init(kind: "tcp_synack", description: text)
            case "tcp-ack", "tcp_ack": return .init(kind: "tcp_ack", description: text)
            case "arp", "arp-reply", "arp_reply": return .init(kind: "arp_reply", description: text)
            case "arp-request", "arp_request": return .init(kind: "arp_request", description: text)
            case "nd-solicit", "nd_neighbour_solicit", "neighbour-solicit", "ns": return .init(kind: "nd_neighbour_solicit", description: text)
            default: throw err("unknown TCP reply `\(rest.joined(separator: " "))`: rst, syn-ack or ack")
            }
        default:
            throw err("unknown reply kind `\(w[0])`: icmp [TYPE], icmpv6 [TYPE], tcp rst|syn-ack|ack, arp [reply|request], nd-solicit")
        }
    }
}

extension Expectation.ReplyPattern {
    init(kind: String, description: String) {
        self.init(kind: kind, type: nil, code: nil, description: description)
    }
}

/// How one expectation fared on a run.
public struct ExpectationResult {
    public var expectation: Expectation
    /// Frames the filter selected.
    public var matched: [Int]
    /// Frames that violate it, with the failed clause.
    public var violations: [(outcome: FrameOutcome, problem: String)]
    public var passed: Bool { violations.isEmpty && !matched.isEmpty }
}

public enum ExpectationEvaluator {
    /// Evaluates each expectation on the frames its filter matched in `run` (the run was made
    /// with the expectations' filters, in order).
    public static func evaluate(_ file: ExpectationsFile, run: AnalysisRun) -> [ExpectationResult] {
        let byFrame = Dictionary(run.outcomes.map { ($0.frame, $0) }, uniquingKeysWith: { a, _ in a })
        return file.expectations.enumerated().map { i, e in
            let m = i < run.matches.count ? run.matches[i] : []
            var v: [(FrameOutcome, String)] = []
            for f in m {
                guard let o = byFrame[f] else { continue }
                if let p = e.check(o) { v.append((o, p)) }
            }
            return ExpectationResult(expectation: e, matched: m, violations: v)
        }
    }
}
