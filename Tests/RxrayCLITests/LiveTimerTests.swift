import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `rxray live` reports the timers the kernel fires between frames where they fire: a SYN to a
/// listener that is never answered by an ACK gets its SYN-ACK retransmitted by the request
/// socket's timer after 1 s, and with `tcp_synack_retries=1` the request is dropped 2 s later.
/// Both come out as timer events while the capture is quiet, each once, after the SYN's own
/// frame; the real kernel's retransmitted SYN-ACK is read off the peer's side of the link as a
/// check on the timing. Needs root; skips with a printed reason otherwise.
final class LiveTimerTests: LiveTestCase {
    func testAnUnansweredSYNGetsItsSYNACKRetransmissionAndDropReportedLive() throws {
        let net = try makeNetwork()
        let sysctl = try LiveShell.run(["ip", "netns", "exec", net.dut, "sysctl", "-q", "-w", "net.ipv4.tcp_synack_retries=1"])
        XCTAssertEqual(sysctl.status, 0, sysctl.error)
        try startListener(net, port: 7100)

        let live = try start(["live", "-i", net.dutLink, "--netns", net.dut, "--format", "jsonl",
                              "ether src \(LiveNetwork.injectorMAC)"])
        // The SYN from the injector's MAC: the DUT's SYN-ACKs go to that MAC, which the peer's
        // kernel ignores (no RST), so the request stays unanswered. The injector listens for the
        // kernel's SYN-ACKs for 4.5 s and prints when each arrived.
        let sniffed = try net.inject("""
            E = Ether(src=SRC_MAC, dst=DUT_MAC)
            syn = E / IP(src=PEER_IP, dst=DUT_IP) / TCP(sport=42100, dport=7100, flags="S", seq=1000)
            t0 = time.time()
            got = sniff(iface=IFACE, timeout=4.5, started_callback=lambda: sendp(syn, iface=IFACE),
                        lfilter=lambda p: TCP in p and p[TCP].sport == 7100 and p[TCP].flags.S and p[TCP].flags.A)
            for p in got:
                print("synack %.3f" % (p.time - t0))
            """)
        let kernelSynAcks = sniffed.split(separator: "\n").compactMap { line -> Double? in
            let parts = line.split(separator: " ")
            return parts.count == 2 && parts[0] == "synack" ? Double(parts[1]) : nil
        }
        print("live timers: the kernel's SYN-ACKs at \(kernelSynAcks) s after the SYN")
        XCTAssertEqual(kernelSynAcks.count, 2, "the kernel answers the SYN and retransmits its SYN-ACK once: \(sniffed)")

        let events = { live.jsonLines.filter { $0.object["event"] as? String == "timer" } }
        XCTAssertTrue(live.waitUntil(timeout: 10) { events().count >= 2 }, "timer events while running: \(live.stdoutLines.map(\.text))")
        let running = events()
        XCTAssertEqual(live.interruptAndWait(), 0, live.stderrText)

        let frames = frameLines(live)
        XCTAssertEqual(frames.count, 1, "the SYN is the only captured frame: \(frames.map(\.object))")
        let syn = try XCTUnwrap(frames.first)
        XCTAssertEqual(syn.object["fate"] as? String, "delivered", "\(syn.object)")
        let synTs = try XCTUnwrap(liveTimestampNs(syn.object["ts"] as? String ?? ""))

        let all = events()
        XCTAssertEqual(all.count, 2, "each firing reported once: \(all.map(\.object))")
        XCTAssertEqual(running.count, 2, "both fired while the capture ran, not at the end")
        XCTAssertEqual(all.map { $0.object["action"] as? String }, ["synack_retransmit", "request_dropped"])
        for e in all {
            XCTAssertEqual(e.object["timer"] as? String, "reqsk_timer_handler")
            XCTAssertNotEqual(e.object["end_of_input"] as? Bool, true, "fired on the live clock: \(e.object)")
        }
        // The model's timer runs on the capture clock from the SYN's timestamp: 1 s, then 2 s more.
        let at = all.map { Double((liveTimestampNs($0.object["ts"] as? String ?? "") ?? 0) - synTs) / 1e9 }
        print("live timers: rxray's events at \(at) s after the SYN")
        XCTAssertEqual(at[0], 1.0, accuracy: 0.01)
        XCTAssertEqual(at[1], 3.0, accuracy: 0.01)
        let replies = all[0].object["replies"] as? [[String: Any]] ?? []
        XCTAssertEqual(replies.count, 1, "the retransmission carries the SYN-ACK: \(all[0].object)")
        // Printed after the SYN's frame and no earlier than the timer is due on the wall clock.
        let synLine = try XCTUnwrap(live.stdoutLines.firstIndex { $0.text.hasPrefix("{\"frame\":") })
        let firstEvent = try XCTUnwrap(live.stdoutLines.firstIndex { $0.text.hasPrefix("{\"event\":\"timer\"") })
        XCTAssertLessThan(synLine, firstEvent)
        XCTAssertGreaterThanOrEqual(all[0].readAtNs, synTs + 1_000_000_000 - 50_000_000)
        if kernelSynAcks.count == 2 {
            // The kernel's retransmission about 1 s after its first SYN-ACK (timer wheel slack).
            XCTAssertEqual(kernelSynAcks[1] - kernelSynAcks[0], 1.0, accuracy: 0.3)
        }
        // The summary on exit counts them.
        let summary = try XCTUnwrap(live.jsonLines.last { $0.object["summary"] != nil })
        let s = summary.object["summary"] as? [String: Any] ?? [:]
        let timerCounts = s["timer_events"] as? [String: Int] ?? [:]
        XCTAssertEqual(timerCounts["reqsk_timer_handler synack_retransmit"], 1, "\(s)")
        XCTAssertEqual(timerCounts["reqsk_timer_handler request_dropped"], 1, "\(s)")
    }
}
