import Foundation
import RxrayOutput
import XCTest

/// The summary written straight to the output in pieces (`writeText(to:)`, `writeJSON(to:)`,
/// what `analyze` does) is byte for byte the summary as one String, also when its conntrack
/// table and rule list are far larger than the sink's 64 KiB buffer.
final class OutputSummaryStreamTests: XCTestCase {
    func bigSummary() -> RunSummary {
        var s = RunSummary()
        s.note(timestamp: 1_000_000_000)
        s.note(timestamp: 9_000_000_000)
        var rules: [RuleHit] = []
        for i in 0..<3000 {
            rules.append(RuleHit(table: i % 2 == 0 ? "ip filter" : "inet filter", chain: "KUBE-SVC-\(i)", position: i + 1,
                                 handle: i % 3 == 0 ? UInt64(i) : nil,
                                 text: "-A KUBE-SVC-\(i) -m comment --comment \"ns/svc-\(i):http\" -j KUBE-SEP-\(i)\u{7f}",
                                 source: i % 5 == 0 ? "iptables-save.txt:\(i + 10)" : nil, hits: i % 7))
        }
        s.ruleHits = rules
        s.conntrackTable = (0..<40_000).map { i in
            "tcp      6 \(431_999 - i) ESTABLISHED src=10.0.\(i / 256 % 256).\(i % 256) dst=192.0.2.1 sport=\(1024 + i % 60000) dport=443 src=192.0.2.1 dst=10.0.\(i / 256 % 256).\(i % 256) sport=443 dport=\(1024 + i % 60000) [ASSURED] mark=0 use=1\(i == 7 ? "\t\"odd\\" : "")"
        }
        return s
    }

    func written(_ body: (ByteSink) -> Void) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-summary-stream-\(getpid()).txt")
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            let sink = try ByteSink(path: url.path)
            body(sink)
            sink.flush()
            XCTAssertNil(sink.error)
        }
        return try String(contentsOf: url, encoding: .utf8)
    }

    func testTheTextSummaryWrittenInPiecesIsTheSameAsTheString() throws {
        let s = bigSummary()
        let whole = s.text()
        XCTAssertGreaterThan(whole.utf8.count, 1 << 20)
        XCTAssertTrue(whole.hasSuffix("40000 flow entries have been shown.\n"))
        XCTAssertEqual(try written { s.writeText(to: $0) }, whole)
    }

    func testTheJSONSummaryWrittenInPiecesIsTheSameAsTheStringAndParses() throws {
        let s = bigSummary()
        let whole = s.json()
        XCTAssertEqual(try written { s.writeJSON(to: $0) }, whole)
        let obj = try CLI.jsonObjects(whole)[0]
        let sum = obj["summary"] as? [String: Any] ?? [:]
        let ct = sum["conntrack"] as? [String] ?? []
        XCTAssertEqual(ct.count, 40_000)
        XCTAssertTrue(ct[7].hasSuffix("use=1\t\"odd\\"), "escaped and read back: \(ct[7])")
        let rules = sum["top_rules"] as? [[String: Any]] ?? []
        XCTAssertEqual(rules.count, (0..<3000).filter { $0 % 7 != 0 }.count, "rules never hit are left out")
        XCTAssertEqual(rules.first?["hits"] as? Int, 6)
        XCTAssertTrue((rules.first?["rule"] as? String ?? "").hasSuffix("\u{7f}"), "DEL is kept as it is")
        let v = try SchemaValidator(path: CLI.fixture("docs/schema/summary.schema.json"))
        XCTAssertEqual(v.validate(obj), [])
    }

    func testAnEmptySummaryIsTheSameEitherWay() throws {
        let s = RunSummary()
        XCTAssertEqual(try written { s.writeJSON(to: $0) }, s.json())
        XCTAssertEqual(try written { s.writeText(to: $0) }, s.text())
        XCTAssertEqual(s.json(), "{\"summary\":{\"frames\":0,\"fates\":{\"delivered\":0,\"dropped\":0,\"forwarded\":0},\"drops_by_reason\":{},\"drops_by_stage\":{},\"replies_by_kind\":{},\"counters\":{},\"duration_ns\":0}}")
    }
}
