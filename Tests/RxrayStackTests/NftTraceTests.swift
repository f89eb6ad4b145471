import Foundation
import XCTest
import RxrayCapture
import RxrayHost
@testable import RxrayStack

/// Compares, rule by rule, rxray's netfilter trace with the kernel's `nft monitor trace` lines
/// recorded in each scenario's truth.jsonl (`nft_trace`).
///
/// Scenarios compared: those whose host/ snapshot has an nft ruleset written with the nft tool
/// (setup.sh never calls iptables/ip6tables). iptables-nft scenarios are skipped with a printed
/// line: their trace shows the xt translations of the rules, not iptables-save text.
///
/// Kernel side: per frame, the `rule` lines give (table, chain, rule text, verdict) and the
/// `policy` lines (table, chain, policy); lines of the recorder's own `inet rxtrace` table and
/// `packet:` description lines are ignored. rxray side: the `nfHook` stages of the frame, whose
/// detail reads `TABLE CHAIN (hook H, priority P); rule "TEXT" (FILE:LINE) verdict V; ...;
/// policy P`; each rule's own table and chain (it may sit in a chain jumped to) come from the
/// engine's `ruleInfo`, found by FILE:LINE.
///
/// Normalisation (both sides): `counter packets N bytes M` (and a bare `counter`) removed, as the
/// snapshot's counters and the trace's differ; the trace's ` (verdict V)` suffix split off into
/// the verdict; runs of whitespace collapsed to one space and the ends trimmed. A kernel policy
/// line keeps only its first word (`policy accept meta mark 0x00000001` is `accept`: the kernel
/// appends the mark a rule set).
///
/// Lines of Fixtures/KNOWN-GAPS (`scenario[:frame] reason`, as FixtureScenarioTests reads them)
/// whose reason starts with `TRACE:` excuse a trace disagreement; the others are not used here.
final class NftTraceTests: XCTestCase {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// One step of a netfilter trace, as compared.
    struct Step: Equatable, CustomStringConvertible {
        var table: String
        var chain: String
        /// Rule text, or nil for a base chain's policy.
        var rule: String?
        var verdict: String
        var description: String {
            if let r = rule { return "\(table) \(chain) rule \(r) (verdict \(verdict))" }
            return "\(table) \(chain) policy \(verdict)"
        }
    }

    static func normalise(_ text: Substring) -> String {
        var words: [Substring] = []
        let w = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        var i = 0
        while i < w.count {
            if w[i] == "counter" {
                if i + 4 < w.count, w[i + 1] == "packets", UInt64(w[i + 2]) != nil, w[i + 3] == "bytes", UInt64(w[i + 4]) != nil {
                    i += 5
                } else {
                    i += 1
                }
                continue
            }
            words.append(w[i])
            i += 1
        }
        return words.joined(separator: " ")
    }

    /// Steps from `nft monitor trace` lines; nil for a line that does not parse.
    static func kernelSteps(_ lines: [String]) -> (steps: [Step], bad: [String]) {
        var steps: [Step] = [], bad: [String] = []
        for line in lines {
            // trace id ID FAMILY TABLE CHAIN (packet: ... | rule TEXT (verdict V) | policy V)
            let w = line.split(separator: " ", maxSplits: 7, omittingEmptySubsequences: false)
            guard w.count >= 7, w[0] == "trace", w[1] == "id" else { bad.append(line); continue }
            let table = "\(w[3]) \(w[4])", chain = String(w[5])
            if table == "inet rxtrace" || w[6] == "packet:" { continue }
            let rest = w.count > 7 ? w[7] : ""
            switch w[6] {
            case "rule":
                guard let r = rest.range(of: " (verdict ", options: .backwards), rest.hasSuffix(")") else { bad.append(line); continue }
                let verdict = rest[r.upperBound..<rest.index(before: rest.endIndex)]
                steps.append(Step(table: table, chain: chain, rule: normalise(rest[..<r.lowerBound]), verdict: normalise(verdict)))
            case "policy":
                // `policy accept meta mark 0x00000001`: the kernel appends the packet's mark
                // when a rule changed it; only the first word is the policy.
                steps.append(Step(table: table, chain: chain, rule: nil, verdict: String(rest.split(separator: " ").first ?? "")))
            default:
                bad.append(line)
            }
        }
        return (steps, bad)
    }

    /// Steps from one `nfHook` stage's detail; `owner` maps `FILE:LINE` to the rule's table and chain.
    static func rxraySteps(_ detail: String, owner: [String: (String, String)]) -> (steps: [Step], bad: [String]) {
        var steps: [Step] = [], bad: [String] = []
        var parts = detail.components(separatedBy: "; rule \"")
        let head = parts.removeFirst()
        // `TABLE CHAIN (hook ...)`, possibly followed by `; policy P` when no rule matched.
        var headParts = head.components(separatedBy: "; policy ")
        let chainDesc = headParts.removeFirst()
        let hw = chainDesc.split(separator: " ")
        guard hw.count >= 3 else { return ([], [detail]) }
        let baseTable = "\(hw[0]) \(hw[1])", baseChain = String(hw[2])
        var policy = headParts.first
        for p in parts {
            // TEXT" (FILE:LINE) verdict V[; policy P]
            var seg = p
            if let r = seg.range(of: "; policy ", options: .backwards) {
                policy = String(seg[r.upperBound...]); seg = String(seg[..<r.lowerBound])
            }
            guard let v = seg.range(of: ") verdict ", options: .backwards),
                  let q = seg.range(of: "\" (", options: .backwards, range: seg.startIndex..<v.lowerBound) else { bad.append(p); continue }
            let text = seg[..<q.lowerBound]
            let loc = String(seg[q.upperBound..<v.lowerBound])
            let verdict = seg[v.upperBound...]
            let (t, c) = owner[loc] ?? (baseTable, "?(\(loc))")
            steps.append(Step(table: t, chain: c, rule: normalise(text), verdict: normalise(verdict)))
        }
        if let pol = policy { steps.append(Step(table: baseTable, chain: baseChain, rule: nil, verdict: normalise(Substring(pol)))) }
        return (steps, bad)
    }

    func testNormalisation() {
        XCTAssertEqual(Self.normalise("ip saddr @blocked4  counter packets 12 bytes 345 drop "), "ip saddr @blocked4 drop")
        XCTAssertEqual(Self.normalise("counter drop"), "drop")
        let k = Self.kernelSteps([
            "trace id 1 inet rxtrace pre rule meta nftrace set 1 (verdict continue)",
            "trace id 1 inet filter input packet: iif \"eth0\" ip saddr 192.0.2.7 ",
            "trace id 1 inet filter input rule meta l4proto { tcp, udp } jump services (verdict jump services)",
            "trace id 1 inet filter services rule return (verdict return)",
            "trace id 1 inet filter input policy accept meta mark 0x00000001 ",
        ])
        XCTAssertEqual(k.bad, [])
        XCTAssertEqual(k.steps, [Step(table: "inet filter", chain: "input", rule: "meta l4proto { tcp, udp } jump services", verdict: "jump services"),
                                 Step(table: "inet filter", chain: "services", rule: "return", verdict: "return"),
                                 Step(table: "inet filter", chain: "input", rule: nil, verdict: "accept")])
        let r = Self.rxraySteps("inet filter input (hook input, priority 0); rule \"oif \"eth1\" counter packets 0 bytes 0 jump s\" (r.txt:4) verdict jump s; rule \"return\" (r.txt:9) verdict return; policy accept",
                                owner: ["r.txt:4": ("inet filter", "input"), "r.txt:9": ("inet filter", "s")])
        XCTAssertEqual(r.bad, [])
        XCTAssertEqual(r.steps, [Step(table: "inet filter", chain: "input", rule: "oif \"eth1\" jump s", verdict: "jump s"),
                                 Step(table: "inet filter", chain: "s", rule: "return", verdict: "return"),
                                 Step(table: "inet filter", chain: "input", rule: nil, verdict: "accept")])
    }

    static func traceGaps() -> [FixtureScenarioTests.Gap] {
        FixtureScenarioTests.knownGaps().filter { $0.reason.hasPrefix("TRACE:") }
    }

    func testNftTraceAgreesRuleByRule() throws {
        let all = try RecordedScenario.all()
        let gaps = Self.traceGaps()
        var compared = 0, agreed = 0, gapFrames = 0, scenarios: [String] = []
        var failures: [String] = []
        for sc in all {
            let name = sc.name, truthURL = sc.truth, capURL = sc.capture, hostDir = sc.host
            let rulesetText = (try? String(contentsOf: hostDir.appendingPathComponent("nft-ruleset.txt"), encoding: .utf8)) ?? ""
            guard sc.isRecorded, rulesetText.contains("chain ") else { continue }
            let setup = sc.setup
            let setupWords = Set(setup.split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "-" && $0 != "_" }))
            if setupWords.contains("iptables") || setupWords.contains("ip6tables") || setupWords.contains("iptables-restore") {
                print("[nft-trace] \(name): skipped, iptables-nft rules (the kernel's trace shows their xt translations, not comparable rule text)")
                continue
            }
            if let g = gaps.first(where: { $0.scenario == name && $0.frame == nil }) {
                print("[nft-trace] \(name): KNOWN GAP (whole scenario): \(g.reason)")
                continue
            }
            scenarios.append(name)
            let host = try HostLoader.loadDirectory(hostDir.path)
            let analyzer = try Analyzer(host: host, options: Analyzer.Options(tcp: FixtureScenarioTests.tcpOptions(setup: setup)), netfilter: true)
            var owner: [String: (String, String)] = [:]
            for info in analyzer.netfilter?.ruleInfo ?? [] { owner["\(info.file):\(info.line)"] = (info.table, info.chain) }
            let reader = try CaptureReader(path: capURL.path)
            var results: [FrameResult] = []
            while let f = try reader.next() {
                let input = FrameInput(recorded: f)
                analyzer.process(input) { results.append($0) }
            }
            analyzer.finish { results.append($0) }
            let byFrame = Dictionary(results.map { ($0.frame, $0) }, uniquingKeysWith: { a, _ in a })
            let before = (compared, agreed, gapFrames)
            defer {
                print("[nft-trace] \(name): \(agreed - before.1) of \(compared - before.0) traced frames agree rule by rule, \(gapFrames - before.2) TRACE: gaps")
            }
            for line in try String(contentsOf: truthURL, encoding: .utf8).split(separator: "\n") {
                guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let frame = o["frame"] as? Int else { continue }
                if o["window"] != nil { continue }  // bursts carry no trace (Fixtures/README.md)
                let traceLines = o["nft_trace"] as? [String] ?? []
                let kernel = Self.kernelSteps(traceLines)
                let ids = Set(traceLines.compactMap { $0.split(separator: " ").dropFirst(2).first })
                var ours: [Step] = [], bad = kernel.bad
                if let r = byFrame[frame] {
                    for s in r.trace {
                        guard case .nfHook = s.stage else { continue }
                        let x = Self.rxraySteps(s.detail, owner: owner)
                        ours += x.steps; bad += x.bad
                    }
                }
                if traceLines.isEmpty && ours.isEmpty { continue }
                if let g = gaps.first(where: { $0.scenario == name && $0.frame == frame }) {
                    gapFrames += 1
                    print("[nft-trace] \(name):\(frame): KNOWN GAP: \(g.reason)")
                    continue
                }
                compared += 1
                if kernel.steps == ours && bad.isEmpty && ids.count <= 1 {
                    agreed += 1
                    continue
                }
                var msg = "\(name):\(frame): netfilter trace differs"
                if ids.count > 1 { msg += " (the kernel traced \(ids.count) packets in this window)" }
                msg += "\n    kernel:\n      " + kernel.steps.map(\.description).joined(separator: "\n      ")
                msg += "\n    rxray:\n      " + ours.map(\.description).joined(separator: "\n      ")
                if !bad.isEmpty { msg += "\n    unparsed:\n      " + bad.joined(separator: "\n      ") }
                failures.append(msg)
            }
        }
        print("[nft-trace] scenarios compared: \(scenarios.joined(separator: ", "))")
        print("[nft-trace] \(agreed) of \(compared) traced frames agree rule by rule; \(gapFrames) frames listed as TRACE: gaps in KNOWN-GAPS")
        XCTAssertFalse(scenarios.isEmpty, "no nft scenario found to compare")
        for f in failures { XCTFail(f) }
    }
}
