import Foundation
import XCTest

/// `--tcp-app` tells rxray what the application behind a listener does, which no capture
/// shows; with it, the recorded tcp-close scenario agrees with the kernel on every frame.
final class TCPAppOptionTests: XCTestCase {
    func agreement(_ extra: [String]) throws -> (agree: Int, total: Int) {
        let dir = "Fixtures/scenarios/tcp-close"
        let r = try CLI.run(["analyze", "\(dir)/capture.pcapng", "--host", "\(dir)/host", "--format", "jsonl"] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        let frames = try CLI.jsonObjects(r.stdout).filter { $0["frame"] != nil }
        let truthText = try String(contentsOfFile: CLI.fixture("\(dir)/truth.jsonl"), encoding: .utf8)
        let truth = try CLI.jsonObjects(truthText)
        XCTAssertEqual(frames.count, truth.count)
        var agree = 0
        for (a, t) in zip(frames, truth) {
            let reason = (t["drops"] as? [[String: Any]])?.first?["reason"] as? String
            let fate = t["fate"] as? String
            if a["fate"] as? String == fate && (fate != "dropped" || a["drop_reason"] as? String == reason) { agree += 1 }
        }
        return (agree, truth.count)
    }

    func testListenerBehaviourFromTheCommandLineMatchesTheRecordedKernel() throws {
        guard FileManager.default.fileExists(atPath: CLI.fixture("Fixtures/scenarios/tcp-close/truth.jsonl")) else {
            throw XCTSkip("Fixtures/scenarios/tcp-close is not recorded")
        }
        let without = try agreement([])
        let with = try agreement(["--tcp-app", "80=accept", "--tcp-app", "81=close"])
        XCTAssertEqual(with.agree, with.total, "the scenario's listeners: port 80 accepts, port 81 accepts and closes")
        XCTAssertLessThan(without.agree, without.total, "without the option the default (never accepts) differs")
    }

    func testBadTCPAppValuesAreUsageErrors() throws {
        for bad in ["80", "x=accept", "80=maybe", "*=close", "70000=accept"] {
            let r = try CLI.run(["analyze", "Fixtures/captures/eth.pcap", "--tcp-app", bad])
            XCTAssertEqual(r.status, 2, "\(bad): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--tcp-app"), r.stderr)
        }
    }
}
