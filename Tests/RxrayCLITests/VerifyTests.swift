import Foundation
import XCTest

/// `rxray verify`: live replay into namespaces built from a recorded scenario's host snapshot.
/// The kernel's live verdicts must match the recorded truth.jsonl, and the score must equal the
/// offline comparison of rxray's analysis with that recorded truth. Root only.
final class VerifyTests: XCTestCase {
    func requireLive() throws {
        guard getuid() == 0 else {
            print("[verify] skipped: not root (rxray verify builds network namespaces)")
            throw XCTSkip("rxray verify needs root to build network namespaces")
        }
        for tool in ["/usr/bin/bpftrace", "/usr/sbin/ip", "/usr/sbin/ethtool"] where !FileManager.default.isExecutableFile(atPath: tool) {
            print("[verify] skipped: \(tool) is not installed")
            throw XCTSkip("\(tool) is not installed")
        }
    }

    /// A sent frame's reply key from its hex bytes (Ethernet), as `icmp 3/3@eth0`.
    static func key(hex: String, iface: String) -> String {
        var b: [UInt8] = []
        var it = hex.makeIterator()
        while let h = it.next(), let l = it.next() { b.append(UInt8(String([h, l]), radix: 16) ?? 0) }
        guard b.count >= 14 else { return "short@\(iface)" }
        let et = Int(b[12]) << 8 | Int(b[13])
        if et == 0x0806 { return b.count >= 22 && b[20] == 0 && b[21] == 1 ? "arp_request@\(iface)" : "arp_reply@\(iface)" }
        if et == 0x0800, b.count >= 34 {
            let ihl = Int(b[14] & 0xF) * 4, p = b[23]
            if p == 1 { return "icmp \(b[14 + ihl])/\(b[15 + ihl])@\(iface)" }
            if p == 6 { let f = b[14 + ihl + 13]; return f & 4 != 0 ? "tcp_rst@\(iface)" : f & 0x12 == 0x12 ? "tcp_synack@\(iface)" : "tcp_ack@\(iface)" }
        }
        if et == 0x86DD, b.count >= 56, b[20] == 58 { return "icmpv6 \(b[54])/\(b[55])@\(iface)" }
        return "other@\(iface)"
    }

    /// rxray's reply strings (`icmp 3/3 port-unreachable on eth0`) as keys.
    static func keys(_ replies: [String]) -> [String] {
        replies.map { r in
            let w = r.split(separator: " ").map(String.init)
            let iface = w.last ?? ""
            if (w[0] == "icmp" || w[0] == "icmpv6") && w.count > 1 { return "\(w[0]) \(w[1])@\(iface)" }
            if w[0].hasPrefix("tcp_synack") { return "tcp_synack@\(iface)" }
            if w[0] == "nd_neighbour_solicit" { return "icmpv6 135/0@\(iface)" }
            return "\(w[0])@\(iface)"
        }.sorted()
    }

    func verifyScenario(_ name: String) throws {
        try requireLive()
        guard CaseDir.scenarioExists(name) else { throw XCTSkip("Fixtures/scenarios/\(name) is not recorded") }
        let dir = "Fixtures/scenarios/\(name)"
        func ours() -> Set<String> { Set(((try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []).filter { $0.hasPrefix("rxv-") }) }
        let before = ours()
        let r = try CLI.run(["verify", "\(dir)/capture.pcapng", "--host", "\(dir)/host", "--json"])
        XCTAssertEqual(ours().subtracting(before), [], "\(name): the namespaces are deleted")
        XCTAssertTrue(r.status == 0 || r.status == 1, "\(name): \(r.stderr)")
        let objs = try CLI.jsonObjects(r.stdout)
        XCTAssertNotNil(objs.first?["rxray_verify"], "header first")
        XCTAssertEqual(objs.first?["clock"] as? String, "replay", "frames are analyzed at the times they were injected by default")
        let frames = objs.filter { $0["frame"] != nil }
        let score = objs.last?["score"] as? [String: Any] ?? [:]
        let truth = try CLI.jsonObjects(try String(contentsOfFile: CLI.fixture("\(dir)/truth.jsonl"), encoding: .utf8))
        XCTAssertEqual(frames.count, truth.count, "\(name): one row per frame")

        var offlineAgree = 0
        for (row, t) in zip(frames, truth) {
            let n = t["frame"] as? Int ?? 0
            XCTAssertEqual(row["frame"] as? Int, n)
            // The live kernel does what the recorded kernel did.
            let k = row["kernel"] as? [String: Any] ?? [:]
            let tFate = t["fate"] as? String ?? ""
            XCTAssertEqual(k["fate"] as? String, tFate, "\(name):\(n) live kernel fate vs recording")
            let drops = (t["drops"] as? [[String: Any]] ?? [])
            let main = drops.first { ($0["location"] as? String) != "skb_release_data" } ?? drops.first
            if tFate == "dropped", let reason = main?["reason"] as? String {
                XCTAssertEqual(k["drop_reason"] as? String, reason, "\(name):\(n) live drop reason vs recording")
            }
            let sent = t["sent"] as? [[String: Any]] ?? []
            let tReplies = sent.filter { ($0["kind"] as? String) == "reply" }
                .map { Self.key(hex: $0["hex"] as? String ?? "", iface: $0["iface"] as? String ?? "") }.sorted()
            XCTAssertEqual((k["replies"] as? [String] ?? []).sorted(), tReplies, "\(name):\(n) live replies vs recording")
            let tEgress = sent.filter { ($0["kind"] as? String) == "forward" }.compactMap { $0["iface"] as? String }

            // Offline: rxray's analysis against the recorded truth.
            let o = row["rxray"] as? [String: Any] ?? [:]
            var agree = (o["fate"] as? String) == tFate
            if tFate == "dropped", let reason = main?["reason"] as? String, (o["drop_reason"] as? String) != reason { agree = false }
            if Self.keys(o["replies"] as? [String] ?? []) != tReplies { agree = false }
            if tFate == "forwarded", let e = tEgress.first, (o["egress"] as? String) != e { agree = false }
            if agree { offlineAgree += 1 }
            XCTAssertEqual(row["agree"] as? Bool, agree, "\(name):\(n) live agreement equals offline agreement: \(row)")
        }
        XCTAssertEqual(score["agree"] as? Int, offlineAgree, "\(name): live score equals the offline comparison")
        XCTAssertEqual(score["frames"] as? Int, truth.count)
        XCTAssertEqual(r.status, offlineAgree == truth.count ? 0 : 1)
        print("[verify] \(name): \(score["agree"] ?? "?")/\(score["frames"] ?? "?") frames agree live; offline \(offlineAgree)/\(truth.count)")
    }

    func testVerifyUDPBasicLiveMatchesTheRecordingAndTheOfflineScore() throws { try verifyScenario("udp-basic") }

    func testVerifyRouteTypesForwardingLiveMatchesTheRecordingAndTheOfflineScore() throws { try verifyScenario("route-types-forwarding") }

    /// DNAT and masquerade rewrite the forwarded packets' addresses and ports: they are still
    /// forwards of the injected frames, not replies.
    func testVerifyDNATForwardLiveMatchesTheRecordingAndTheOfflineScore() throws { try verifyScenario("nf-dnat-forward") }

    func testVerifyTCPListenerLiveMatchesTheRecordingAndTheOfflineScore() throws { try verifyScenario("tcp-listener") }

    func testVerifyNeedsAHostAndAReadableCapture() throws {
        let r = try CLI.run(["verify", "Fixtures/scenarios/udp-basic/capture.pcapng"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("--host"), r.stderr)
        let m = try CLI.run(["verify", "/nonexistent.pcap", "--host", "Fixtures/scenarios/udp-basic/host"])
        XCTAssertEqual(m.status, 2)
        XCTAssertTrue(m.stderr.contains("/nonexistent.pcap"), m.stderr)
    }

    func testWithoutRootVerifySaysSoAndExitsTwo() throws {
        guard getuid() != 0 else {
            // As root, run as nobody through setpriv when available.
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else { throw XCTSkip("root and no setpriv to drop privileges") }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", CLI.binary.path, "verify",
                           CLI.fixture("Fixtures/scenarios/udp-basic/capture.pcapng"), "--host", CLI.fixture("Fixtures/scenarios/udp-basic/host")]
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            if text.contains("Permission denied") && !text.contains("root") { throw XCTSkip("nobody cannot read the build directory: \(text)") }
            XCTAssertEqual(p.terminationStatus, 2, text)
            XCTAssertTrue(text.contains("needs root"), text)
            return
        }
        let r = try CLI.run(["verify", "Fixtures/scenarios/udp-basic/capture.pcapng", "--host", "Fixtures/scenarios/udp-basic/host"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("needs root"), r.stderr)
    }
}
