import Foundation
import XCTest

/// Every fixture's JSON lines output — each recorded scenario with its host, each capture
/// file with the inferred host — follows docs/schema/: the header line, one frame object per
/// frame in capture order, and the summary line last.
final class OutputSchemaTests: XCTestCase {
    static let frameSchema = CLI.fixture("docs/schema/frame.schema.json")
    static let headerSchema = CLI.fixture("docs/schema/header.schema.json")
    static let summarySchema = CLI.fixture("docs/schema/summary.schema.json")
    static let timerSchema = CLI.fixture("docs/schema/timer.schema.json")

    /// `(capture, host or nil)` for every fixture.
    static func fixtures() throws -> [(String, String?)] {
        var out: [(String, String?)] = []
        let fm = FileManager.default
        let scenarios = CLI.fixture("Fixtures/scenarios")
        for name in try fm.contentsOfDirectory(atPath: scenarios).sorted() {
            let cap = "Fixtures/scenarios/\(name)/capture.pcapng"
            let host = "Fixtures/scenarios/\(name)/host"
            guard fm.fileExists(atPath: CLI.fixture(cap)) else { continue }
            // A scenario being re-recorded may lack host/ for a moment: use the inferred host.
            out.append((cap, fm.fileExists(atPath: CLI.fixture(host)) ? host : nil))
        }
        for name in try fm.contentsOfDirectory(atPath: CLI.fixture("Fixtures/captures")).sorted()
        where name.hasSuffix(".pcap") || name.hasSuffix(".pcapng") {
            out.append(("Fixtures/captures/\(name)", nil))
        }
        return out
    }

    static func args(_ capture: String, _ host: String?) -> [String] {
        var a = ["analyze", capture, "--format", "jsonl"]
        if let h = host { a += ["--host", h] }
        return a
    }

    func testEveryFixtureOutputFollowsTheSchemas() throws {
        let frame = try SchemaValidator(path: Self.frameSchema)
        let header = try SchemaValidator(path: Self.headerSchema)
        let summary = try SchemaValidator(path: Self.summarySchema)
        let timer = try SchemaValidator(path: Self.timerSchema)
        let fixtures = try Self.fixtures()
        var timers = 0
        XCTAssertGreaterThan(fixtures.count, 20, "the scenarios and captures are there")
        var frames = 0
        var allLines: [String] = []
        for (capture, host) in fixtures {
            let r = try CLI.run(Self.args(capture, host))
            XCTAssertEqual(r.status, 0, "\(capture): \(r.stderr)")
            let lines = r.lines
            guard let first = lines.first else { XCTFail("\(capture): no output"); continue }
            let objs = try CLI.jsonObjects(r.stdout)
            for e in header.validate(objs[0]).prefix(5) { XCTFail("\(capture) header: \(e)\n\(first)") }
            XCTAssertEqual(objs[0]["capture"] as? String, capture)
            guard let last = objs.last, last["summary"] != nil, let summaryLine = lines.last else {
                XCTFail("\(capture): the last line is the summary"); continue
            }
            var expected = 1
            var lastTs = ""
            for (k, o) in objs.dropFirst().dropLast().enumerated() {
                if o["event"] != nil {
                    // A timer event between frames: not a frame, in time order with them.
                    for e in timer.validate(o).prefix(5) { XCTFail("\(capture) line \(k + 2): \(e)\n\(lines[k + 1])") }
                    let ts = o["ts"] as? String ?? ""
                    if o["end_of_input"] as? Bool == false {
                        XCTAssertGreaterThanOrEqual(Double(ts) ?? 0, Double(lastTs) ?? 0, "\(capture) line \(k + 2): a timer event comes after the frames before it")
                    }
                    timers += 1
                    continue
                }
                lastTs = o["ts"] as? String ?? ""
                for e in frame.validate(o).prefix(5) { XCTFail("\(capture) line \(k + 2): \(e)\n\(lines[k + 1])") }
                XCTAssertEqual(o["frame"] as? Int, expected, "\(capture): frames in capture order, each once")
                expected += 1
                if o["fate"] as? String == "dropped" {
                    // A drop names its reason, or was freed silently (consume_skb) by a stage.
                    let consumed = (o["stages"] as? [[String: Any]] ?? []).contains { $0["decision"] as? String == "consume" }
                    XCTAssertTrue(o["drop_reason"] is String || consumed, "\(capture) frame \(expected - 1): a drop has a reason or a consuming stage")
                    XCTAssertEqual(o["drop_reason"] is String, o["drop_stage"] is String, "\(capture) frame \(expected - 1): reason and stage come together")
                } else {
                    XCTAssertTrue(o["drop_reason"] is NSNull, "\(capture) frame \(expected - 1): no reason without a drop")
                }
            }
            let frameCount = expected - 1
            frames += frameCount
            allLines += lines
            for e in summary.validate(last).prefix(5) { XCTFail("\(capture) summary: \(e)\n\(summaryLine)") }
            let sum = last["summary"] as? [String: Any] ?? [:]
            XCTAssertEqual(sum["frames"] as? Int, frameCount, "\(capture): the summary counts every frame")
            let fates = sum["fates"] as? [String: Int] ?? [:]
            XCTAssertEqual(fates.values.reduce(0, +), frameCount, "\(capture): fates add up")
        }
        // --summary alone: only the summary line, the same as the last line above.
        let (capture, host) = fixtures[0]
        let full = try CLI.run(Self.args(capture, host))
        let s = try CLI.run(Self.args(capture, host) + ["--summary"])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertEqual(s.lines, [full.lines.last ?? ""], "--summary --format jsonl prints only the summary line")
        XCTAssertGreaterThan(frames, 300)
        XCTAssertGreaterThan(timers, 0, "tcp-synack-retrans reports its SYN-ACK timer")
        try secondOpinion(allLines)
    }

    /// The same lines through python3-jsonschema, when installed: the Swift subset validator
    /// and the reference implementation must agree that everything is valid.
    func secondOpinion(_ lines: [String]) throws {
        let python = "/usr/bin/python3"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            print("OutputSchemaTests: no /usr/bin/python3: reference validation skipped")
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-schema-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("lines.jsonl")
        try lines.joined(separator: "\n").write(to: input, atomically: true, encoding: .utf8)
        let script = """
            import json, sys
            try:
                import jsonschema
            except ImportError:
                print("SKIP"); sys.exit(0)
            d = sys.argv[1]
            S = {n: json.load(open(d + "/" + n + ".schema.json")) for n in ("frame", "header", "summary", "timer")}
            for n in S: jsonschema.Draft202012Validator.check_schema(S[n])
            V = {n: jsonschema.Draft202012Validator(S[n]) for n in S}
            bad = 0
            for i, line in enumerate(open(sys.argv[2])):
                o = json.loads(line)
                n = "header" if "rxray" in o else ("frame" if "frame" in o else ("timer" if "event" in o else "summary"))
                for e in V[n].iter_errors(o):
                    bad += 1
                    if bad < 10: print("line %d (%s): %s" % (i + 1, n, e.message))
            print("BAD %d" % bad)
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", script, CLI.fixture("docs/schema"), input.path]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if text.hasPrefix("SKIP") {
            print("OutputSchemaTests: python3-jsonschema not installed: reference validation skipped")
            return
        }
        XCTAssertEqual(p.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("BAD 0"), "python jsonschema disagrees:\n\(text)")
    }

    func testTheValidatorRejectsWhatTheSchemaForbids() throws {
        let frame = try SchemaValidator(path: Self.frameSchema)
        let r = try CLI.run(["analyze", "Fixtures/captures/eth.pcap", "--format", "jsonl", "-c", "1"])
        let good = try CLI.jsonObjects(r.stdout)[1]
        XCTAssertEqual(frame.validate(good), [])
        var missing = good
        missing.removeValue(forKey: "stages")
        XCTAssertTrue(frame.validate(missing).contains { $0.contains("missing required key 'stages'") })
        var extra = good
        extra["surprise"] = 1
        XCTAssertTrue(frame.validate(extra).contains { $0.contains("'surprise' is not in the schema") })
        var badFate = good
        badFate["fate"] = "lost"
        XCTAssertFalse(frame.validate(badFate).isEmpty)
        var badType = good
        badType["frame"] = "1"
        XCTAssertFalse(frame.validate(badType).isEmpty)
        var badStage = good
        badStage["stages"] = [["stage": "ip_rcv_core", "decision": "maybe", "detail": ""]]
        XCTAssertFalse(frame.validate(badStage).isEmpty)
        var badCounter = good
        badCounter["counters"] = ["not a name": 1]
        XCTAssertFalse(frame.validate(badCounter).isEmpty)
        var badTs = good
        badTs["ts"] = "12.5"
        XCTAssertFalse(frame.validate(badTs).isEmpty)
    }
}
