import Foundation
import XCTest

/// The text trace: verbosity levels, --only-drops, --stages, colour, and the summary at the
/// end with nstat-style counters that add up to the per-frame counters.
final class OutputTextTests: XCTestCase {
    /// A scenario with deliveries, drops and replies; the inferred host when it is missing.
    static var scenario: [String] {
        let host = "Fixtures/scenarios/udp-basic/host"
        var a = ["analyze", "Fixtures/scenarios/udp-basic/capture.pcapng"]
        if FileManager.default.fileExists(atPath: CLI.fixture(host)) { a += ["--host", host] }
        return a
    }

    /// The per-frame blocks of text output: the frame line and its indented lines.
    struct Block {
        var frame: Int
        var lines: [String]
        var stageLines: [String] { lines.filter { $0.hasPrefix("    ") && !$0.hasPrefix("    =>") && !$0.hasPrefix("    reply ") && !$0.hasPrefix("    counters:") && !$0.hasPrefix("    decode:") } }
        var fate: String? { lines.last { $0.hasPrefix("    =>") } }
    }

    static func blocks(_ text: String) -> [Block] {
        var out: [Block] = []
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("# summary") { break }
            if let n = Int(line.prefix { $0.isNumber }), line.first?.isNumber == true {
                out.append(Block(frame: n, lines: []))
            } else if line.hasPrefix("    "), !out.isEmpty {
                out[out.count - 1].lines.append(line)
            }
        }
        return out
    }

    func jsonFrames(_ args: [String]) throws -> [[String: Any]] {
        let r = try CLI.run(args + ["--format", "jsonl"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try CLI.jsonObjects(r.stdout).filter { $0["frame"] != nil }
    }

    func testDefaultShowsEveryStageThenTheFate() throws {
        let r = try CLI.run(Self.scenario)
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try jsonFrames(Self.scenario)
        let blocks = Self.blocks(r.stdout)
        XCTAssertEqual(blocks.map(\.frame), json.compactMap { $0["frame"] as? Int })
        for (b, j) in zip(blocks, json) {
            let stages = (j["stages"] as? [[String: Any]] ?? []).compactMap { $0["stage"] as? String }
            XCTAssertEqual(b.stageLines.count, stages.count, "frame \(b.frame): one line per stage")
            for (line, stage) in zip(b.stageLines, stages) {
                XCTAssertTrue(line.hasPrefix("    " + stage + " "), "frame \(b.frame): '\(line)' names \(stage)")
            }
            let fate = (j["fate"] as? String ?? "").uppercased()
            XCTAssertTrue(b.fate?.hasPrefix("    => " + fate) == true, "frame \(b.frame): \(b.fate ?? "no fate line")")
            if let reason = j["drop_reason"] as? String {
                XCTAssertTrue(b.fate?.contains(reason) == true, "frame \(b.frame): the fate line names \(reason)")
            }
            XCTAssertEqual(b.lines.last, b.fate, "frame \(b.frame): the fate line comes last")
        }
        XCTAssertFalse(r.stdout.contains("\u{1B}["), "no colour when standard output is not a terminal")
    }

    func testQuietLeavesOnlyTheFrameLineAndFate() throws {
        let r = try CLI.run(Self.scenario + ["-q"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let blocks = Self.blocks(r.stdout)
        XCTAssertFalse(blocks.isEmpty)
        for b in blocks {
            XCTAssertEqual(b.stageLines, [], "frame \(b.frame): -q prints no stages")
            XCTAssertNotNil(b.fate)
        }
    }

    func testVerboseAddsCountersAndDecodeDetail() throws {
        let r = try CLI.run(Self.scenario + ["-v"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try jsonFrames(Self.scenario)
        let blocks = Self.blocks(r.stdout)
        XCTAssertEqual(blocks.count, json.count)
        for (b, j) in zip(blocks, json) {
            XCTAssertTrue(b.lines.contains { $0.hasPrefix("    decode: outcome=") }, "frame \(b.frame): decode line")
            let counters = j["counters"] as? [String: Int] ?? [:]
            if counters.isEmpty { continue }
            guard let line = b.lines.first(where: { $0.hasPrefix("    counters:") }) else {
                XCTFail("frame \(b.frame): -v prints the counters"); continue
            }
            for (name, v) in counters { XCTAssertTrue(line.contains("\(name) +\(v)"), "frame \(b.frame): \(line) has \(name) +\(v)") }
        }
    }

    func testOnlyDropsPrintsExactlyTheDroppedFrames() throws {
        let all = try jsonFrames(Self.scenario)
        let dropped = all.filter { $0["fate"] as? String == "dropped" }.compactMap { $0["frame"] as? Int }
        XCTAssertFalse(dropped.isEmpty, "the scenario has drops")
        XCTAssertLessThan(dropped.count, all.count, "and frames that are not dropped")
        let r = try CLI.run(Self.scenario + ["--only-drops"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let blocks = Self.blocks(r.stdout)
        XCTAssertEqual(blocks.map(\.frame), dropped)
        for b in blocks { XCTAssertTrue(b.fate?.hasPrefix("    => DROPPED") == true) }
        let j = try jsonFrames(Self.scenario + ["--only-drops"])
        XCTAssertEqual(j.compactMap { $0["frame"] as? Int }, dropped)
        // The summary still counts every frame.
        XCTAssertTrue(r.stdout.contains("frames: \(all.count),"), r.stdout)
    }

    func testStagesPicksStagesBySymbolOrPrefix() throws {
        let r = try CLI.run(Self.scenario + ["--stages", "ip_rcv,udp_rcv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let blocks = Self.blocks(r.stdout)
        var seen: Set<String> = []
        for b in blocks {
            for line in b.stageLines {
                let sym = String(line.dropFirst(4).prefix { $0 != " " })
                XCTAssertTrue(sym.hasPrefix("ip_rcv") || sym == "udp_rcv", "frame \(b.frame): '\(line)' was not asked for")
                seen.insert(sym)
            }
            XCTAssertNotNil(b.fate, "frame \(b.frame): the fate line stays")
        }
        XCTAssertTrue(seen.contains("ip_rcv_core"), "\(seen)")
        let j = try jsonFrames(Self.scenario + ["--stages", "ip_rcv_core"])
        for f in j {
            let stages = (f["stages"] as? [[String: Any]] ?? []).compactMap { $0["stage"] as? String }
            XCTAssertTrue(stages.allSatisfy { $0 == "ip_rcv_core" }, "\(stages)")
        }
        let header = try CLI.jsonObjects(try CLI.run(Self.scenario + ["--stages", "ip_rcv_core", "--format", "jsonl"]).lines[0])[0]
        XCTAssertEqual(header["stages"] as? [String], ["ip_rcv_core"])
        // A name that matches nothing rxray knows is allowed with a warning.
        let w = try CLI.run(Self.scenario + ["--stages", "tcp_v4_do_rcv_future", "-c", "1"])
        XCTAssertEqual(w.status, 0)
        XCTAssertTrue(w.stderr.contains("warning: --stages: tcp_v4_do_rcv_future"), w.stderr)
    }

    func testContradictoryOrMalformedOptionsExitTwo() throws {
        for (args, needle) in [
            (["-q", "-v"], "-q and -v"),
            (["--stages", "ip_rcv,,udp_rcv"], "empty stage name"),
            (["--stages", "ip_rcv;rm"], "not a kernel symbol"),
        ] {
            let r = try CLI.run(Self.scenario + args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            let first = r.stderr.split(separator: "\n").first ?? ""
            XCTAssertTrue(first.hasPrefix("rxray: ") && first.contains(needle), "\(args): the first line says it: \(r.stderr)")
        }
    }

    func testColourOnlyWhenAskedOrOnATerminal() throws {
        let on = try CLI.run(Self.scenario + ["--color"])
        XCTAssertTrue(on.stdout.contains("\u{1B}[31"), "--color paints drops red")
        XCTAssertTrue(on.stdout.contains("\u{1B}[0m"))
        let off = try CLI.run(Self.scenario + ["--no-color"])
        XCTAssertFalse(off.stdout.contains("\u{1B}"))
        let json = try CLI.run(Self.scenario + ["--color", "--format", "jsonl"])
        XCTAssertFalse(json.stdout.contains("\u{1B}"), "never in JSON")
        // On a terminal (script(1) gives the command a pty), colour is the default.
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            print("OutputTextTests: no script(1): terminal colour default not tested")
            return
        }
        let cmd = ([CLI.binary.path] + Self.scenario).map { "'\($0)'" }.joined(separator: " ")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-qec", cmd, "/dev/null"]
        p.currentDirectoryURL = CLI.packageRoot
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertTrue(text.contains("\u{1B}[1m"), "a terminal gets colour by default")
    }

    func testSummaryAtTheEndAddsUpTheFrames() throws {
        let json = try jsonFrames(Self.scenario)
        let r = try CLI.run(Self.scenario + ["-q"])
        let text = r.stdout
        guard let start = text.range(of: "# summary\n") else { return XCTFail("no summary:\n\(text)") }
        let summary = String(text[start.upperBound...])
        var fates: [String: Int] = [:]
        var totals: [String: Int] = [:]
        for f in json {
            fates[f["fate"] as? String ?? "", default: 0] += 1
            for (k, v) in f["counters"] as? [String: Int] ?? [:] { totals[k, default: 0] += v }
        }
        XCTAssertTrue(summary.hasPrefix("frames: \(json.count), delivered \(fates["delivered"] ?? 0), forwarded \(fates["forwarded"] ?? 0), dropped \(fates["dropped"] ?? 0)\n"), summary)
        XCTAssertTrue(summary.contains("#kernel\n"), "counters are printed like nstat")
        XCTAssertFalse(totals.isEmpty)
        for (name, v) in totals {
            let row = summary.split(separator: "\n").first { $0.hasPrefix(name + " ") }
            let cols = row?.split(separator: " ") ?? []
            XCTAssertEqual(cols.count, 3, "nstat row: name, value, rate: \(row ?? "missing \(name)")")
            XCTAssertEqual(cols.count > 1 ? Int(cols[1]) : nil, v, "\(name) total")
        }
        for reason in Set(json.compactMap { $0["drop_reason"] as? String }) {
            XCTAssertTrue(summary.contains("  " + reason + " "), "drops by reason lists \(reason)")
        }
        // --summary alone prints no frames, and counts the same.
        let s = try CLI.run(Self.scenario + ["--summary"])
        XCTAssertTrue(s.stdout.hasPrefix("# summary\n"), s.stdout)
        XCTAssertEqual(s.stdout, "# summary\n" + summary)
    }

    func testFilterSelectsPrintedFramesButSummaryCountsAll() throws {
        let all = try jsonFrames(Self.scenario)
        let r = try CLI.run(Self.scenario + ["ip6", "--format", "jsonl"])
        let printed = try CLI.jsonObjects(r.stdout).filter { $0["frame"] != nil }
        XCTAssertGreaterThan(printed.count, 0)
        XCTAssertLessThan(printed.count, all.count)
        for p in printed { XCTAssertEqual((p["decode"] as? [String: Any])?["l3"] as? String, "ipv6") }
        let s = try CLI.run(Self.scenario + ["ip6", "--summary"])
        XCTAssertTrue(s.stdout.contains("frames: \(all.count),"), s.stdout)
    }
}
