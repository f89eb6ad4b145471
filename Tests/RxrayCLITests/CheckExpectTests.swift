import Foundation
import XCTest

/// `rxray check --expect FILE CAPTURE --host DIR`: stated expectations judged on recorded
/// scenarios, whose outcomes are the kernel's (Fixtures/scenarios/*/truth.jsonl).
final class CheckExpectTests: XCTestCase {
    func write(_ text: String) throws -> (URL, URL) {
        let dir = try CaseDir.make("expect")
        let f = dir.appendingPathComponent("rules.expect")
        try text.write(to: f, atomically: true, encoding: .utf8)
        return (dir, f)
    }

    func scenario(_ name: String) throws -> (capture: String, host: String) {
        guard CaseDir.scenarioExists(name) else { throw XCTSkip("Fixtures/scenarios/\(name) is not recorded") }
        return ("Fixtures/scenarios/\(name)/capture.pcapng", "Fixtures/scenarios/\(name)/host")
    }

    func testExpectationsThatHoldPassWithExitZero() throws {
        let s = try scenario("udp-basic")
        let (dir, f) = try write("""
            # udp-basic: what the kernel did (truth.jsonl)
            ip and udp dst port 5000 and udp[6:2] = 0 → delivered, no reply
            ip and udp dst port 5001 and not dst host 192.0.2.255 → dropped NO_SOCKET, reply icmp port-unreachable
            ip6 and udp dst port 5001 -> dropped NO_SOCKET, reply icmpv6 port-unreachable
            dst host 192.0.2.255 → dropped, no reply

            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["check", "--expect", f.path, s.capture, "--host", s.host])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertEqual(r.lines.filter { $0.hasPrefix("PASS") }.count, 4, r.stdout)
        XCTAssertTrue(r.stdout.contains("4 of 4 expectations passed"), r.stdout)
        XCTAssertTrue(r.stdout.contains("rules.expect:3"), "each expectation names its line: \(r.stdout)")
    }

    func testAViolatedExpectationFailsAndListsTheFramesWithTheDecidingStage() throws {
        let s = try scenario("udp-basic")
        let (dir, f) = try write("""
            udp dst port 5000 → delivered
            udp dst port 5001 and not dst host 192.0.2.255 → dropped NO_SOCKET
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["check", "--expect", f.path, s.capture, "--host", s.host])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        // Frames 1, 3, 4, 5, 7, 9 go to port 5000; the kernel dropped 3 (UDP_CSUM), 5 (PKT_TOO_SMALL), 9 (UDP_CSUM).
        let fail = r.lines.first { $0.hasPrefix("FAIL") } ?? ""
        XCTAssertTrue(fail.contains(":1") && fail.contains("3 of 6 frames violate it"), r.stdout)
        for n in [3, 5, 9] { XCTAssertTrue(r.stdout.contains("frame \(n): expected delivered"), "frame \(n): \(r.stdout)") }
        XCTAssertFalse(r.stdout.contains("frame 1: "), r.stdout)
        XCTAssertTrue(r.stdout.contains("UDP_CSUM") && r.stdout.contains("PKT_TOO_SMALL"), r.stdout)
        XCTAssertTrue(r.stdout.contains("decided by "), "the deciding stage is shown: \(r.stdout)")
        XCTAssertTrue(r.lines.contains { $0.hasPrefix("PASS") && $0.contains("udp dst port 5001") }, r.stdout)
        XCTAssertTrue(r.stdout.contains("1 of 2 expectations passed"), r.stdout)
    }

    func testNetfilterVerdictsAndRepliesAreChecked() throws {
        let s = try scenario("nf-iptables-reject")
        try NetfilterProbe.require()
        let (dir, f) = try write("""
            tcp dst port 1002 → dropped NETFILTER_DROP at filter INPUT, no reply
            tcp dst port 1001 → dropped NETFILTER_DROP, reply tcp rst
            udp dst port 2001 → dropped NETFILTER_DROP, reply icmp port-unreachable
            udp dst port 2007 → dropped NETFILTER_DROP, reply icmp communication-prohibited
            tcp dst port 22 → dropped NO_SOCKET, reply tcp rst
            """)
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["check", "--expect", f.path, s.capture, "--host", s.host])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("5 of 5 expectations passed"), r.stdout)

        // The same frames stated wrongly: the drop is at INPUT, not FORWARD; the reply is a RST.
        let (dir2, g) = try write("""
            tcp dst port 1002 → dropped at filter FORWARD
            tcp dst port 1001 → reply icmp port-unreachable
            """)
        defer { try? FileManager.default.removeItem(at: dir2) }
        let w = try CLI.run(["check", "--expect", g.path, s.capture, "--host", s.host])
        XCTAssertEqual(w.status, 1, w.stdout + w.stderr)
        XCTAssertEqual(w.lines.filter { $0.hasPrefix("FAIL") }.count, 2, w.stdout)
        XCTAssertTrue(w.stdout.contains("FORWARD not in the deciding stage"), w.stdout)
        XCTAssertTrue(w.stdout.contains("replies: tcp_rst"), w.stdout)
    }

    func testAnExpectationMatchingNoFrameFailsUnlessAllowed() throws {
        let s = try scenario("udp-basic")
        let (dir, f) = try write("tcp dst port 22 → delivered\n")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLI.run(["check", "--expect", f.path, s.capture, "--host", s.host])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("FAIL") && r.stdout.contains("no frames matched"), r.stdout)
        let ok = try CLI.run(["check", "--expect", f.path, s.capture, "--host", s.host, "--allow-unmatched"])
        XCTAssertEqual(ok.status, 0, ok.stdout + ok.stderr)
    }

    func testBadExpectationLinesAreInputErrorsNamingFileAndLine() throws {
        let s = try scenario("udp-basic")
        let cases: [(String, String)] = [
            ("udp → delivered\nudp port 53\n", ":2: expected `FILTER → OUTCOME`"),
            ("udp → vanished\n", ":1: unknown outcome `vanished`"),
            ("udp → dropped NO_SUCH_REASON\n", ":1: unknown drop reason `NO_SUCH_REASON`"),
            ("udp → reply icmp bogus-type\n", ":1: unknown ICMP type `bogus-type`"),
            ("# only a comment\n", "no expectations"),
            ("\nudp and and → delivered\n", ":2: bad filter `udp and and`"),
        ]
        for (text, message) in cases {
            let (dir, f) = try write(text)
            defer { try? FileManager.default.removeItem(at: dir) }
            let r = try CLI.run(["check", "--expect", f.path, s.capture, "--host", s.host])
            XCTAssertEqual(r.status, 2, "\(text): \(r.stdout) \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(message), "\(text): expected \(message) in \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("rxray: "), r.stderr)
        }
    }

    func testExpectNeedsAHost() throws {
        let r = try CLI.run(["check", "--expect", "x.expect", "Fixtures/scenarios/udp-basic/capture.pcapng"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("--host"), r.stderr)
    }
}

/// Whether this build applies netfilter verdicts on the receive path: frame 3 of the recorded
/// nf-iptables-reject scenario is a SYN the kernel dropped with NETFILTER_DROP (an iptables
/// `-j DROP` rule). Tests of rule-dependent output skip, saying why, when it is not.
enum NetfilterProbe {
    static func require() throws {
        let r = try CLI.run(["analyze", "Fixtures/scenarios/nf-iptables-reject/capture.pcapng",
                             "--host", "Fixtures/scenarios/nf-iptables-reject/host", "--format", "jsonl", "-c", "3"])
        let frames = (try? CLI.jsonObjects(r.stdout))?.filter { $0["frame"] as? Int == 3 } ?? []
        if frames.first?["drop_reason"] as? String != "NETFILTER_DROP" {
            print("[netfilter] skipped: this build does not apply netfilter rules on the receive path (nf-iptables-reject frame 3 is not NETFILTER_DROP)")
            throw XCTSkip("this build does not apply netfilter rules on the receive path")
        }
    }
}
