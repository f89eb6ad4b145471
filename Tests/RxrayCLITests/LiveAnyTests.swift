import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `rxray live -i any` captures with Linux cooked v2 headers: each frame names the interface
/// it was received on (ifindex) and its packet type, so the ingress is exact and the host's
/// own frames are told apart. Needs root; skips with a printed reason otherwise.
final class LiveAnyTests: LiveTestCase {
    func testCaptureOnAnyTakesTheIngressFromTheCookedHeaderAndMarksOutgoingFrames() throws {
        let net = try makeNetwork()
        try net.addSecondLink()
        let snapshot = temporary("snapshot")
        let written = temporary("written.pcapng")
        let live = try start(["live", "-i", "any", "--netns", net.dut, "--keep-snapshot", snapshot,
                              "--format", "jsonl", "--direction", "both", "--write", written, "icmp"])
        XCTAssertTrue(live.stderrText.contains("LINUX_SLL2"), "cooked v2 on any: \(live.stderrText)")
        // Echo requests: on the first link, on the second, and on the second for the first
        // link's address (only the cooked header's ifindex says it came in on the second).
        _ = try net.inject("""
            IFACE2 = "\(net.peerLink2)"
            sendp(Ether(src=SRC_MAC, dst=DUT_MAC) / IP(src=PEER_IP, dst=DUT_IP) / ICMP(type=8, id=21, seq=1), iface=IFACE)
            time.sleep(0.1)
            sendp(Ether(src=SRC_MAC, dst="\(LiveNetwork.dut2MAC)") / IP(src="\(LiveNetwork.peer2IP)", dst="\(LiveNetwork.dut2IP)") / ICMP(type=8, id=22, seq=1), iface=IFACE2)
            time.sleep(0.1)
            sendp(Ether(src=SRC_MAC, dst="\(LiveNetwork.dut2MAC)") / IP(src="\(LiveNetwork.peer2IP)", dst=DUT_IP) / ICMP(type=8, id=23, seq=1), iface=IFACE2)
            time.sleep(0.1)
            """)
        // Three requests in, three replies out.
        XCTAssertTrue(live.waitUntil(timeout: 10) { live.frameLineCount >= 6 }, "annotations: \(live.stdoutLines.map(\.text))")
        XCTAssertEqual(live.interruptAndWait(), 0, live.stderrText)
        let frames = frameLines(live).map(\.object)
        XCTAssertTrue(frames.allSatisfy { $0["linktype"] as? String == "LINUX_SLL2" }, "\(frames.map { $0["linktype"] ?? "?" })")
        func stagesText(_ o: [String: Any]) -> String { "\(o["stages"] ?? "")" }
        let outgoing = frames.filter { stagesText($0).contains("not on the receive path") }
        let incoming = frames.filter { !stagesText($0).contains("not on the receive path") }
        XCTAssertEqual(incoming.count, 3, "\(incoming)")
        XCTAssertEqual(outgoing.count, 3, "the echo replies the namespace sent: \(outgoing)")
        func request(_ id: Int) -> [String: Any]? {
            incoming.first { ($0["summary"] as? String ?? "").contains("id \(id)") || ($0["summary"] as? String ?? "").contains("id=\(id)") }
        }
        let expected = [(21, net.dutLink), (22, net.dutLink2), (23, net.dutLink2)]
        for (id, link) in expected {
            guard let f = request(id) else { XCTFail("no annotation for echo request id \(id): \(incoming)"); continue }
            XCTAssertEqual(f["ingress"] as? String, link, "echo request \(id) came in on \(link): \(f)")
            XCTAssertEqual(f["fate"] as? String, "delivered", "echo request \(id): \(f)")
            XCTAssertTrue(stagesText(f).contains(link), "the trace names \(link): \(f)")
        }
        for f in outgoing {
            XCTAssertEqual(f["fate"] as? String, "forwarded", "an outgoing frame left through an interface: \(f)")
            XCTAssertTrue([net.dutLink, net.dutLink2].contains(f["egress"] as? String ?? ""), "outgoing on a DUT link: \(f)")
            XCTAssertNil(f["ingress"], "an outgoing frame has no ingress: \(f)")
        }

        // --direction in (the default): libpcap leaves the host's own frames out.
        let inbound = try start(["live", "-i", "any", "--netns", net.dut, "--host", snapshot, "--format", "jsonl", "icmp"])
        _ = try net.inject("""
            sendp(Ether(src=SRC_MAC, dst="\(LiveNetwork.dut2MAC)") / IP(src="\(LiveNetwork.peer2IP)", dst="\(LiveNetwork.dut2IP)") / ICMP(type=8, id=24, seq=1), iface="\(net.peerLink2)")
            time.sleep(0.3)
            """)
        XCTAssertTrue(inbound.waitUntil(timeout: 5) { inbound.frameLineCount >= 1 })
        usleep(300_000)
        XCTAssertEqual(inbound.interruptAndWait(), 0, inbound.stderrText)
        let received = frameLines(inbound).map(\.object)
        XCTAssertEqual(received.count, 1, "only the echo request, not the reply the namespace sent: \(received)")
        XCTAssertEqual(received.first?["ingress"] as? String, net.dutLink2)
        XCTAssertEqual(received.first?["fate"] as? String, "delivered")

        // The written pcapng (LINUX_SLL2, outgoing frames flagged) analyses to the same fates.
        let offline = try CLI.run(["analyze", written, "--host", snapshot, "--capture-point", "host", "--format", "jsonl"])
        XCTAssertEqual(offline.status, 0, offline.stderr)
        let records = try CLI.jsonObjects(offline.stdout).filter { $0["frame"] != nil }
        XCTAssertEqual(records.count, frames.count)
        let liveByFrame = Dictionary(frames.compactMap { f in (f["frame"] as? Int).map { ($0, f) } }, uniquingKeysWith: { a, _ in a })
        for (i, r) in records.enumerated() {
            guard let l = liveByFrame.keys.sorted().dropFirst(i).first.flatMap({ liveByFrame[$0] }) else { continue }
            XCTAssertEqual(r["fate"] as? String, l["fate"] as? String, "record \(i + 1): \(r) vs \(l)")
            XCTAssertEqual(r["drop_reason"] as? String, l["drop_reason"] as? String)
        }
    }
}
