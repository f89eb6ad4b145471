import Foundation
import XCTest

/// Shared helpers for check, diff and verify tests: temporary case directories built from the
/// recorded scenarios.
enum CaseDir {
    /// A fresh temporary directory (removed by the caller's `defer`).
    static func make(_ tag: String) throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-\(tag)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    /// Copies a scenario's capture and host snapshot into `dir` (as capture.pcapng and `hostName`).
    static func copyScenario(_ name: String, to dir: URL, hostName: String = "host", capture: Bool = true) throws {
        let s = CLI.packageRoot.appendingPathComponent("Fixtures/scenarios/\(name)")
        if capture {
            try FileManager.default.copyItem(at: s.appendingPathComponent("capture.pcapng"), to: dir.appendingPathComponent("capture.pcapng"))
        }
        try FileManager.default.copyItem(at: s.appendingPathComponent("host"), to: dir.appendingPathComponent(hostName))
    }

    static func scenarioExists(_ name: String) -> Bool {
        let s = CLI.packageRoot.appendingPathComponent("Fixtures/scenarios/\(name)")
        return FileManager.default.fileExists(atPath: s.appendingPathComponent("capture.pcapng").path)
            && FileManager.default.fileExists(atPath: s.appendingPathComponent("host").path)
    }

    /// Replaces the line starting with `prefix` in `file` (or appends `line` when none does).
    static func setLine(_ file: URL, prefix: String, to line: String) throws {
        var lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if let i = lines.firstIndex(where: { $0.hasPrefix(prefix) }) { lines[i] = line } else { lines.insert(line, at: 0) }
        try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
    }
}

/// `rxray check DIR`: a saved case re-analysed and compared with its expected.jsonl.
final class CheckTests: XCTestCase {
    func testACaseIsRecordedWithUpdateAndThenPasses() throws {
        guard CaseDir.scenarioExists("udp-basic") else { throw XCTSkip("Fixtures/scenarios/udp-basic is not recorded") }
        let dir = try CaseDir.make("check")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CaseDir.copyScenario("udp-basic", to: dir)

        let missing = try CLI.run(["check", dir.path])
        XCTAssertEqual(missing.status, 2, missing.stdout + missing.stderr)
        XCTAssertTrue(missing.stderr.contains("expected.jsonl") && missing.stderr.contains("--update"), missing.stderr)

        let rec = try CLI.run(["check", dir.path, "--update"])
        XCTAssertEqual(rec.status, 0, rec.stderr)
        XCTAssertTrue(rec.stdout.contains("recorded 9 frames"), rec.stdout)
        let text = try String(contentsOf: dir.appendingPathComponent("expected.jsonl"), encoding: .utf8)
        let objs = try CLI.jsonObjects(text)
        XCTAssertEqual(objs.first?["rxray_check"] as? Int, 1, "header line first")
        XCTAssertEqual(objs.dropFirst().compactMap { $0["frame"] as? Int }, Array(1...9))
        XCTAssertFalse(text.contains(dir.path), "the expectation holds no absolute path")
        XCTAssertFalse(text.contains("\"ts\""), "the expectation holds no time")
        // Frame 2 of udp-basic: a datagram to a closed port (the kernel: NO_SOCKET and a port unreachable).
        let f2 = objs[2]
        XCTAssertEqual(f2["fate"] as? String, "dropped")
        XCTAssertEqual(f2["drop_reason"] as? String, "NO_SOCKET")
        XCTAssertTrue((f2["replies"] as? [String] ?? []).contains { $0.hasPrefix("icmp 3/3 port-unreachable") }, "\(f2)")

        let again = try CLI.run(["check", dir.path])
        XCTAssertEqual(again.status, 0, again.stdout + again.stderr)
        XCTAssertTrue(again.stdout.contains("9 frames, all as expected"), again.stdout)
    }

    func testAChangedHostExitsOneWithAPerFrameDiff() throws {
        guard CaseDir.scenarioExists("udp-basic") else { throw XCTSkip("Fixtures/scenarios/udp-basic is not recorded") }
        let dir = try CaseDir.make("check")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CaseDir.copyScenario("udp-basic", to: dir)
        XCTAssertEqual(try CLI.run(["check", dir.path, "--update"]).status, 0)

        // The UDP socket on port 5000 goes away: the datagrams it received now meet no socket.
        try "".write(to: dir.appendingPathComponent("host/sockets.txt"), atomically: true, encoding: .utf8)
        let r = try CLI.run(["check", dir.path])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("frame 1 "), r.stdout)
        XCTAssertTrue(r.stdout.contains("fate") && r.stdout.contains("delivered → dropped"), r.stdout)
        XCTAssertTrue(r.stdout.contains("drop_reason") && r.stdout.contains("- → NO_SOCKET"), r.stdout)
        XCTAssertTrue(r.stdout.contains("port-unreachable"), "the new reply is shown: \(r.stdout)")
        XCTAssertFalse(r.stdout.contains("frame 3 "), "frame 3 (bad checksum) did not change: \(r.stdout)")

        // --update accepts the new results; the case passes again.
        let up = try CLI.run(["check", dir.path, "--update"])
        XCTAssertEqual(up.status, 0, up.stderr)
        XCTAssertTrue(up.stdout.contains("changed"), up.stdout)
        XCTAssertEqual(try CLI.run(["check", dir.path]).status, 0)
    }

    func testAMalformedExpectationIsAnInputErrorNamingTheLine() throws {
        guard CaseDir.scenarioExists("udp-basic") else { throw XCTSkip("Fixtures/scenarios/udp-basic is not recorded") }
        let dir = try CaseDir.make("check")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CaseDir.copyScenario("udp-basic", to: dir)
        let file = dir.appendingPathComponent("expected.jsonl")
        try "{\"rxray_check\":1,\"capture_point\":\"wire\"}\n{\"frame\":1,\"fate\":\"delivered\"}\n{\"frame\":2,\"fate\":\"lost\"}\n"
            .write(to: file, atomically: true, encoding: .utf8)
        let r = try CLI.run(["check", dir.path])
        XCTAssertEqual(r.status, 2, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("expected.jsonl:3:") && r.stderr.contains("fate"), r.stderr)
    }

    func testAnExpectationWithFewerFramesReportsTheMissingOnes() throws {
        guard CaseDir.scenarioExists("udp-basic") else { throw XCTSkip("Fixtures/scenarios/udp-basic is not recorded") }
        let dir = try CaseDir.make("check")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CaseDir.copyScenario("udp-basic", to: dir)
        XCTAssertEqual(try CLI.run(["check", dir.path, "--update"]).status, 0)
        let file = dir.appendingPathComponent("expected.jsonl")
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
        try (lines.dropLast().joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let r = try CLI.run(["check", dir.path])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("frame 9 ") && r.stdout.contains("missing → dropped"), r.stdout)
    }

    func testANonCaseDirectoryIsAnInputError() throws {
        let dir = try CaseDir.make("check")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["check", dir.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("no capture.pcapng or capture.pcap"), r.stderr)
        let r2 = try CLI.run(["check", dir.appendingPathComponent("nope").path])
        XCTAssertEqual(r2.status, 2)
        XCTAssertTrue(r2.stderr.contains("not a case directory"), r2.stderr)
    }
}
