import Foundation
import XCTest

/// `rxray diff CAPTURE --host OLD --host NEW`: frames whose outcome differs between two
/// configurations, grouped by cause.
final class DiffTests: XCTestCase {
    func testIdenticalHostsDifferInNoFrame() throws {
        guard CaseDir.scenarioExists("udp-basic") else { throw XCTSkip("Fixtures/scenarios/udp-basic is not recorded") }
        let dir = try CaseDir.make("diff")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CaseDir.copyScenario("udp-basic", to: dir, hostName: "new", capture: false)
        let r = try CLI.run(["diff", "Fixtures/scenarios/udp-basic/capture.pcapng",
                             "--host", "Fixtures/scenarios/udp-basic/host", "--host", dir.appendingPathComponent("new").path])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("no frame differs: all 9 frames"), r.stdout)
    }

    func testTurningForwardingOffGroupsTheForwardedFramesAndNamesTheSysctl() throws {
        guard CaseDir.scenarioExists("route-types-forwarding") else { throw XCTSkip("Fixtures/scenarios/route-types-forwarding is not recorded") }
        let dir = try CaseDir.make("diff")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CaseDir.copyScenario("route-types-forwarding", to: dir, hostName: "new", capture: false)
        let sysctl = dir.appendingPathComponent("new/sysctl.txt")
        try CaseDir.setLine(sysctl, prefix: "net.ipv4.ip_forward =", to: "net.ipv4.ip_forward = 0")
        try CaseDir.setLine(sysctl, prefix: "net.ipv4.conf.all.forwarding =", to: "net.ipv4.conf.all.forwarding = 0")
        try CaseDir.setLine(sysctl, prefix: "net.ipv4.conf.eth0.forwarding =", to: "net.ipv4.conf.eth0.forwarding = 0")
        try CaseDir.setLine(sysctl, prefix: "net.ipv4.conf.eth1.forwarding =", to: "net.ipv4.conf.eth1.forwarding = 0")
        let r = try CLI.run(["diff", "Fixtures/scenarios/route-types-forwarding/capture.pcapng",
                             "--host", "Fixtures/scenarios/route-types-forwarding/host", "--host", dir.appendingPathComponent("new").path])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        // Frame 1 is the one the kernel forwarded (truth.jsonl); without forwarding it is not.
        let group = r.lines.first { $0.hasPrefix("1 frame: forwarded via eth1") } ?? ""
        XCTAssertTrue(group.contains("→ dropped"), r.stdout)
        XCTAssertTrue(r.stdout.contains("  frame 1: IP 192.0.2.3.4000 > 203.0.113.7.9"), r.stdout)
        XCTAssertTrue(r.stdout.contains("sysctl.txt: - net.ipv4.ip_forward = 1"), r.stdout)
        XCTAssertTrue(r.stdout.contains("sysctl.txt: + net.ipv4.ip_forward = 0"), r.stdout)
    }

    func testAnAddedDropRuleIsNamedInTheGroup() throws {
        guard CaseDir.scenarioExists("udp-basic") else { throw XCTSkip("Fixtures/scenarios/udp-basic is not recorded") }
        let dir = try CaseDir.make("diff")
        defer { try? FileManager.default.removeItem(at: dir) }
        try CaseDir.copyScenario("udp-basic", to: dir, hostName: "new", capture: false)
        try """
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A INPUT -p udp -m udp --dport 5000 -j DROP
            COMMIT

            """.write(to: dir.appendingPathComponent("new/iptables-save.txt"), atomically: true, encoding: .utf8)
        try NetfilterProbe.require()
        let r = try CLI.run(["diff", "Fixtures/scenarios/udp-basic/capture.pcapng",
                             "--host", "Fixtures/scenarios/udp-basic/host", "--host", dir.appendingPathComponent("new").path])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        // Frames 1 and 4 (IPv4 to the bound port, good checksums) were delivered; the rule drops them
        // at INPUT before UDP sees them. Frames 3 and 5 (bad UDP) now die at the rule too.
        let delivered = r.lines.first { $0.contains("delivered") && $0.contains("→ dropped NETFILTER_DROP at nf_hook INPUT") } ?? ""
        XCTAssertTrue(delivered.hasPrefix("2 frames:"), r.stdout)
        XCTAssertTrue(delivered.contains("--dport 5000 -j DROP"), "the group names the rule: \(r.stdout)")
        XCTAssertTrue(r.stdout.contains("frames 1, 4"), r.stdout)
        XCTAssertTrue(r.stdout.contains("iptables-save.txt: + -A INPUT -p udp -m udp --dport 5000 -j DROP"), r.stdout)
        // The header echoes the --host paths as given; everything below it names rule
        // locations relative to the host directory.
        XCTAssertFalse(r.lines.dropFirst().contains { $0.contains(dir.path) }, "rule locations are relative to the host: \(r.stdout)")
        // IPv6 frames (7, 8, 9) are not touched by an IPv4 rule.
        XCTAssertFalse(r.lines.contains { $0.hasPrefix("  frames") && ($0.contains("7") || $0.contains("8")) }, r.stdout)
    }

    func testDiffNeedsExactlyTwoHosts() throws {
        let r = try CLI.run(["diff", "Fixtures/scenarios/udp-basic/capture.pcapng", "--host", "Fixtures/scenarios/udp-basic/host"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("exactly two hosts"), r.stderr)
        let m = try CLI.run(["diff", "Fixtures/scenarios/udp-basic/capture.pcapng", "--host", "/nonexistent/a", "--host", "/nonexistent/b"])
        XCTAssertEqual(m.status, 2)
        XCTAssertTrue(m.stderr.contains("/nonexistent/a"), m.stderr)
    }
}
