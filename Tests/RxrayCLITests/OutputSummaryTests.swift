import Foundation
import RxrayOutput
import XCTest

/// The summary's optional sections — top rules by hits, the conntrack table — in text, in
/// JSON (against the schema) and in the HTML report, fed the way the netfilter engine feeds
/// them.
final class OutputSummaryTests: XCTestCase {
    func summaryWithRulesAndConntrack() -> RunSummary {
        var s = RunSummary()
        s.note(timestamp: 1_000_000_000)
        s.note(timestamp: 3_000_000_000)
        s.ruleHits = [
            RuleHit(table: "ip filter", chain: "INPUT", position: 1, text: "-A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT",
                    source: "iptables-save.txt:7", hits: 3),
            RuleHit(table: "ip filter", chain: "INPUT", position: 2, text: "-A INPUT -p tcp --dport 22 -j DROP", hits: 12),
            RuleHit(table: "inet filter", chain: "input", position: 1, handle: 4, text: "tcp dport 80 accept", hits: 3),
            RuleHit(table: "ip filter", chain: "FORWARD", position: 1, text: "-A FORWARD -j REJECT", hits: 0),
        ]
        s.conntrackTable = ["tcp      6 431999 ESTABLISHED src=192.0.2.3 dst=192.0.2.1 sport=5001 dport=80 src=192.0.2.1 dst=192.0.2.3 sport=80 dport=5001 [ASSURED] mark=0 use=1"]
        return s
    }

    func testTopRulesAreSortedByHitsAndRulesNeverHitAreLeftOut() {
        let s = summaryWithRulesAndConntrack()
        XCTAssertEqual(s.topRules.map(\.hits), [12, 3, 3])
        XCTAssertEqual(s.topRules.map(\.table), ["ip filter", "inet filter", "ip filter"], "ties by table, chain, position")
        let text = s.text()
        guard let start = text.range(of: "top rules by hits:\n") else { return XCTFail(text) }
        let rows = text[start.upperBound...].split(separator: "\n").prefix(3).map(String.init)
        XCTAssertTrue(rows[0].hasSuffix("-A INPUT -p tcp --dport 22 -j DROP"), rows[0])
        XCTAssertTrue(rows[0].trimmingCharacters(in: .whitespaces).hasPrefix("12 "), rows[0])
        XCTAssertTrue(rows[1].contains("inet filter input #1 handle 4"), rows[1])
        XCTAssertFalse(text.contains("-A FORWARD -j REJECT"), "a rule never hit is not listed")
        XCTAssertTrue(text.contains("conntrack table at the end"))
        XCTAssertTrue(text.contains("[ASSURED] mark=0 use=1\n1 flow entries have been shown.\n"))
    }

    func testWithoutRulesOrConntrackTheSectionsAreAbsent() {
        let text = RunSummary().text()
        XCTAssertEqual(text, "# summary\nframes: 0, delivered 0, forwarded 0, dropped 0\n")
        XCTAssertFalse(RunSummary().json().contains("top_rules"))
    }

    func testTheJSONSummaryWithEverySectionFollowsTheSchema() throws {
        let s = summaryWithRulesAndConntrack()
        let obj = try CLI.jsonObjects(s.json())[0]
        let v = try SchemaValidator(path: CLI.fixture("docs/schema/summary.schema.json"))
        XCTAssertEqual(v.validate(obj), [])
        let sum = obj["summary"] as? [String: Any] ?? [:]
        let rules = sum["top_rules"] as? [[String: Any]] ?? []
        XCTAssertEqual(rules.compactMap { $0["hits"] as? Int }, [12, 3, 3])
        XCTAssertEqual(rules.first?["rule"] as? String, "-A INPUT -p tcp --dport 22 -j DROP")
        XCTAssertEqual(rules[1]["handle"] as? Int, 4)
        XCTAssertEqual((sum["conntrack"] as? [String])?.count, 1)
        XCTAssertEqual(sum["duration_ns"] as? Int, 2_000_000_000)
    }

    func testTheReportShowsTopRulesAndTheConntrackTable() {
        let header = RunHeader(version: "0", kernelModel: "6.18", capture: "x.pcap", captureFormat: "pcap",
                               capturePoint: "wire", capturePointSource: "assumed", hostPath: "h/")
        let html = HTMLReport().render(header: header, summary: summaryWithRulesAndConntrack())
        XCTAssertTrue(html.contains("id=\"t-rules\""))
        XCTAssertTrue(html.contains("-A INPUT -p tcp --dport 22 -j DROP"))
        XCTAssertTrue(html.contains("id=\"t-conntrack\""))
        XCTAssertTrue(html.contains("No frames."), "an empty run draws no diagram")
    }

    func testRatesArePerSecondOfCaptureTime() {
        XCTAssertEqual(RunSummary.rate(3, durationNs: 2_000_000_000), "1.5")
        XCTAssertEqual(RunSummary.rate(1, durationNs: 3_000_000_000), "0.3")
        XCTAssertEqual(RunSummary.rate(7, durationNs: 0), "0.0", "a single instant has no rate")
        XCTAssertEqual(RunSummary.rate(216, durationNs: 8_000_000_000), "27.0")
    }
}
