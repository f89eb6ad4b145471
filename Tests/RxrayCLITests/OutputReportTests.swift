import Foundation
import RxrayOutput
import XCTest

/// `--report FILE.html`: one self-contained page with the receive-path diagram, the summary
/// tables and the per-frame trace; rendered in headless Chromium when it is installed.
final class OutputReportTests: XCTestCase {
    static var scenario: [String] {
        let host = "Fixtures/scenarios/udp-basic/host"
        var a = ["analyze", "Fixtures/scenarios/udp-basic/capture.pcapng"]
        if FileManager.default.fileExists(atPath: CLI.fixture(host)) { a += ["--host", host] }
        return a
    }

    func tmp(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("rxray-report-\(getpid())-\(name)").path
    }

    /// Writes the report and returns (html, the frames as JSON).
    func report(_ args: [String], path: String) throws -> (String, [[String: Any]]) {
        let r = try CLI.run(args + ["--summary", "--report", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let j = try CLI.run(args + ["--format", "jsonl"])
        let frames = try CLI.jsonObjects(j.stdout).filter { $0["frame"] != nil }
        return (try String(contentsOfFile: path, encoding: .utf8), frames)
    }

    /// `name="value"` attribute values of every element carrying `marker` in its tag.
    static func attributes(_ html: String, tagContaining marker: String, _ name: String) -> [String] {
        var out: [String] = []
        var rest = html[...]
        while let r = rest.range(of: marker) {
            let tagEnd = rest[r.upperBound...].firstIndex(of: ">") ?? rest.endIndex
            let tag = rest[r.lowerBound..<tagEnd]
            if let a = tag.range(of: " \(name)=\"") {
                out.append(String(tag[a.upperBound...].prefix { $0 != "\"" }))
            }
            rest = rest[tagEnd...]
        }
        return out
    }

    func testTheReportIsSelfContainedAndCountsAddUp() throws {
        let path = tmp("udp.html")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (html, frames) = try report(Self.scenario, path: path)
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
        // Nothing fetched: no external scripts, styles, images or fonts.
        for needle in ["<link", "<img", "<iframe", " src=\"", " src='", "href=\"http", "@import", "url(http", "url(//", "https://", "fetch(", "XMLHttpRequest"] {
            XCTAssertFalse(html.contains(needle), "the page must not load anything: found '\(needle)'")
        }
        XCTAssertTrue(html.contains("<svg id=\"flow-svg\""))
        XCTAssertTrue(html.contains("<style>") && html.contains("<script>"))
        // The entry node counts every frame; the end nodes count the fates.
        let labels = Self.attributes(html, tagContaining: "<g class=\"node", "data-label")
        let counts = Self.attributes(html, tagContaining: "<g class=\"node", "data-frames").compactMap(Int.init)
        XCTAssertEqual(labels.count, counts.count)
        let node = Dictionary(zip(labels, counts), uniquingKeysWith: +)
        XCTAssertEqual(node["frames in"], frames.count)
        var fates: [String: Int] = [:]
        var reasons: [String: Int] = [:]
        var stages: Set<String> = []
        for f in frames {
            fates[f["fate"] as? String ?? "", default: 0] += 1
            if let r = f["drop_reason"] as? String { reasons[r, default: 0] += 1 }
            for s in f["stages"] as? [[String: Any]] ?? [] { stages.insert(s["stage"] as? String ?? "") }
        }
        XCTAssertEqual(node["delivered"], fates["delivered"])
        XCTAssertEqual(node["forwarded"], fates["forwarded"])
        for (reason, n) in reasons { XCTAssertEqual(node["✕ " + reason], n, "drop node for \(reason)") }
        for s in stages { XCTAssertNotNil(node[s], "a node for stage \(s)") }
        // Edges out of the entry add up to every frame.
        let froms = Self.attributes(html, tagContaining: "<g class=\"edge", "data-from")
        let edgeCounts = Self.attributes(html, tagContaining: "<g class=\"edge", "data-frames").compactMap(Int.init)
        XCTAssertEqual(zip(froms, edgeCounts).filter { $0.0 == "frames in" }.map(\.1).reduce(0, +), frames.count)
        for id in ["t-fates", "t-reasons", "t-stages", "t-counters", "frame-data", "f-fate", "f-reason", "f-stage", "f-text"] {
            XCTAssertTrue(html.contains("id=\"\(id)\""), "the page has #\(id)")
        }
    }

    func testMarkupInFrameDataCannotEscapeTheScriptBlock() throws {
        // Every '<' inside the embedded JSON is written as \u003c.
        let hostile = HTMLReport.scriptJSON("</script><script>alert(1)</script>\u{2028}")
        XCTAssertFalse(hostile.contains("<"))
        XCTAssertEqual(try JSONSerialization.jsonObject(with: Data(hostile.utf8), options: .fragmentsAllowed) as? String,
                       "</script><script>alert(1)</script>\u{2028}")
        XCTAssertEqual(HTMLReport.escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;")
        let path = tmp("eth.html")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (html, frames) = try report(["analyze", "Fixtures/captures/eth.pcapng"], path: path)
        guard let start = html.range(of: "<script id=\"frame-data\" type=\"application/json\">"),
              let end = html.range(of: "</script>", range: start.upperBound..<html.endIndex) else {
            return XCTFail("no frame data block")
        }
        let data = html[start.upperBound..<end.lowerBound]
        XCTAssertFalse(data.contains("<"))
        let parsed = try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [[String: Any]]
        XCTAssertEqual(parsed?.count, frames.count, "every selected frame is in the trace")
        XCTAssertEqual(parsed?.first?["n"] as? Int, 1)
    }

    /// Headless Chromium renders the page: the script fills the trace table with one row per
    /// frame, the diagram and the tables are in the DOM, and a screenshot is taken.
    func testChromiumRendersTheDiagramTablesAndTrace() throws {
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: FileManager.default.isExecutableFile) else {
            throw XCTSkip("chromium is not installed (apt-get install -y chromium): the rendered page is not checked")
        }
        let path = tmp("render.html")
        let shot = tmp("render.png")
        defer {
            try? FileManager.default.removeItem(atPath: path)
            if ProcessInfo.processInfo.environment["RXRAY_KEEP_SCREENSHOT"] == nil { try? FileManager.default.removeItem(atPath: shot) }
        }
        let (_, frames) = try report(Self.scenario, path: path)
        let profile = tmp("chromium-profile")
        defer { try? FileManager.default.removeItem(atPath: profile) }
        func chrome(_ extra: [String]) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: chromium)
            p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=\(profile)",
                           "--virtual-time-budget=3000", "--window-size=1400,1000"] + extra + ["file://\(path)"]
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let g = DispatchGroup()
            g.enter()
            DispatchQueue.global().async { _ = err.fileHandleForReading.readDataToEndOfFile(); g.leave() }
            let data = out.fileHandleForReading.readDataToEndOfFile()
            g.wait()
            p.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        let dom = try chrome(["--dump-dom"])
        XCTAssertTrue(dom.contains("id=\"flow-svg\""), "the diagram is in the rendered DOM")
        let rows = dom.components(separatedBy: "<tr class=\"fr ").count - 1
        XCTAssertEqual(rows, frames.count, "the script rendered one trace row per frame")
        XCTAssertTrue(dom.contains("\(frames.count) of \(frames.count) frames"), "the filter counter ran")
        for id in ["t-fates", "t-reasons", "t-counters"] { XCTAssertTrue(dom.contains("id=\"\(id)\""), "#\(id) rendered") }
        _ = try chrome(["--screenshot=\(shot)"])
        let size = (try? FileManager.default.attributesOfItem(atPath: shot)[.size] as? Int) ?? 0
        XCTAssertGreaterThan(size, 10_000, "a screenshot with content was taken")
        print("OutputReportTests: screenshot at \(shot)")
    }
}
