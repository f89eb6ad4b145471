import Foundation
import XCTest

/// `--write FILE.pcapng`: the original frames (interfaces, link types, timestamps, lengths)
/// each carrying its decision as the frame comment, read back with tshark.
final class OutputPcapngTests: XCTestCase {
    static let tshark = "/usr/bin/tshark"

    func tmp(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("rxray-out-\(getpid())-\(name)").path
    }

    /// tshark's fields for every frame, split on tabs.
    func tsharkFields(_ path: String, _ fields: [String]) throws -> [[String]] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.tshark)
        p.arguments = ["-n", "-r", path, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a"] + fields.flatMap { ["-e", $0] }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        _ = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "tshark -r \(path)")
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    }

    /// The comment rxray writes, rebuilt from its JSON result (docs/OUTPUT.md).
    static func expectedComment(_ f: [String: Any]) -> String {
        var s = "rxray: " + (f["fate"] as? String ?? "")
        if let r = f["drop_reason"] as? String { s += " " + r }
        if let st = f["drop_stage"] as? String { s += " at " + st }
        if let e = f["egress"] as? String { s += " via " + e }
        if let nh = f["next_hop"] as? String { s += " next hop " + nh }
        return s
    }

    func check(capture: String, host: String?, extra: [String] = []) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.tshark) else {
            throw XCTSkip("tshark is not installed (apt-get install -y tshark)")
        }
        let out = tmp(URL(fileURLWithPath: capture).lastPathComponent + ".annotated.pcapng")
        defer { try? FileManager.default.removeItem(atPath: out) }
        var args = ["analyze", capture] + extra
        if let h = host { args += ["--host", h] }
        let json = try CLI.run(args + ["--format", "jsonl"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let frames = try CLI.jsonObjects(json.stdout).filter { $0["frame"] != nil }
        let r = try CLI.run(args + ["--summary", "--write", out])
        XCTAssertEqual(r.status, 0, r.stderr)

        let fields = ["frame.time_epoch", "frame.len", "frame.cap_len", "frame.interface_id", "frame.interface_name", "frame.encap_type"]
        let original = try tsharkFields(CLI.fixture(capture), fields)
        let annotated = try tsharkFields(out, fields + ["frame.comment"])
        let picked = Set(frames.compactMap { $0["frame"] as? Int })
        let expectedOriginal = original.enumerated().filter { picked.contains($0.offset + 1) }.map(\.element)
        XCTAssertEqual(annotated.count, frames.count, "\(capture): one frame written per selected frame")
        for (k, (a, o)) in zip(annotated, expectedOriginal).enumerated() {
            var want = o
            if capture.hasSuffix(".pcap") {
                // Classic pcap has no interface block: pcapng gets interface 0, unnamed.
                want[3] = "0"
                want[4] = "unknown"
            }
            XCTAssertEqual(Array(a.prefix(fields.count)), want, "\(capture) written frame \(k + 1): time, lengths, interface, link type")
        }
        for (a, f) in zip(annotated, frames) {
            let comment = a.last ?? ""
            let n = f["frame"] as? Int ?? 0
            XCTAssertTrue(comment.hasPrefix(Self.expectedComment(f)), "\(capture) frame \(n): '\(comment)' vs \(Self.expectedComment(f))")
            for rep in f["replies"] as? [[String: Any]] ?? [] {
                let kind = rep["kind"] as? String ?? "?"
                XCTAssertTrue(comment.contains("reply \(kind) on "), "\(capture) frame \(n): the comment lists the \(kind) reply: \(comment)")
            }
        }
    }

    func testCommentsCarryEachFramesDecisionForTshark() throws {
        let host = "Fixtures/scenarios/udp-basic/host"
        try check(capture: "Fixtures/scenarios/udp-basic/capture.pcapng",
                  host: FileManager.default.fileExists(atPath: CLI.fixture(host)) ? host : nil)
    }

    func testEveryInterfaceAndLinkTypeIsKept() throws {
        // Several interfaces with names and link types; a classic pcap; a cooked capture.
        try check(capture: "Fixtures/captures/multi.pcapng", host: nil)
        try check(capture: "Fixtures/captures/eth.pcap", host: nil)
        try check(capture: "Fixtures/captures/sll2.pcap", host: nil)
    }

    func testFilterAndOnlyDropsSelectTheWrittenFrames() throws {
        try check(capture: "Fixtures/captures/eth.pcap", host: nil, extra: ["udp"])
        let host = "Fixtures/scenarios/udp-basic/host"
        try check(capture: "Fixtures/scenarios/udp-basic/capture.pcapng",
                  host: FileManager.default.fileExists(atPath: CLI.fixture(host)) ? host : nil, extra: ["--only-drops"])
    }

    func testAnUnwritableFileIsOneClearError() throws {
        let r = try CLI.run(["analyze", "Fixtures/captures/eth.pcap", "--write", "/no/such/dir/out.pcapng"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("rxray: ") && r.stderr.contains("/no/such/dir/out.pcapng"), r.stderr)
        XCTAssertEqual(r.stdout, "", "nothing is analysed when an output cannot be opened")
    }
}
