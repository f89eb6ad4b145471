import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// SIGHUP gives `rxray live` a new configuration without losing what traffic built: a TCP
/// connection established before the reload is still ESTABLISHED in conntrack after it, so a
/// rule added by the reload that accepts only established traffic lets its next segment
/// through. Needs root; skips with a printed reason otherwise.
final class LiveReloadTests: LiveTestCase {
    func testAConnectionEstablishedBeforeSIGHUPStaysEstablishedAfterIt() throws {
        let net = try makeNetwork()
        // A listening socket in the DUT (no accept: the connection waits in the accept queue).
        try startListener(net, port: 7000)
        // Connection tracking runs in the kernel and in the model from the start.
        let first = try LiveShell.run(["ip", "netns", "exec", net.dut, "nft", "-f", "-"], stdin: """
            table inet rxreload {
                chain input {
                    type filter hook input priority 0; policy accept;
                    ct state invalid counter
                }
            }
            """)
        XCTAssertEqual(first.status, 0, first.error)
        let host = temporary("host")
        let snap = try CLI.run(["snapshot", "--netns", net.dut, "-o", host, "--no-date"])
        XCTAssertEqual(snap.status, 0, snap.stderr)
        let live = try start(["live", "-i", net.dutLink, "--netns", net.dut, "--host", host, "--format", "jsonl",
                              "ether src \(LiveNetwork.injectorMAC)"])

        // The handshake: SYN, the kernel's SYN-ACK (sniffed on the peer side for its ISN), ACK.
        let isnText = try net.inject("""
            E = Ether(src=SRC_MAC, dst=DUT_MAC)
            sniffer = AsyncSniffer(iface=IFACE, filter="tcp and src host %s and src port 7000" % DUT_IP, count=1, timeout=5)
            sniffer.start()
            time.sleep(0.3)
            sendp(E / IP(src=PEER_IP, dst=DUT_IP) / TCP(sport=42000, dport=7000, flags="S", seq=1000), iface=IFACE)
            sniffer.join()
            synack = sniffer.results[0][TCP] if sniffer.results else None
            isn = synack.seq if synack is not None and synack.flags.S and synack.flags.A else 0
            sendp(E / IP(src=PEER_IP, dst=DUT_IP) / TCP(sport=42000, dport=7000, flags="A", seq=1001, ack=(isn + 1) % 2**32), iface=IFACE)
            print(isn)
            """)
        let isn = UInt32(isnText.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        XCTAssertNotEqual(isn, 0, "the kernel's SYN-ACK was seen")
        XCTAssertTrue(live.waitUntil(timeout: 5) { live.frameLineCount >= 2 })

        // The administrator allows only established traffic to port 7000; the host model is
        // updated from a new snapshot's ruleset (its conntrack listing stays the old, empty one:
        // only the running state knows the connection).
        let second = try LiveShell.run(["ip", "netns", "exec", net.dut, "nft", "-f", "-"], stdin: """
            table inet rxreload {
                chain input {
                    ct state established,related accept
                    tcp dport 7000 counter drop
                }
            }
            """)
        XCTAssertEqual(second.status, 0, second.error)
        let fresh = temporary("fresh")
        XCTAssertEqual(try CLI.run(["snapshot", "--netns", net.dut, "-o", fresh, "--no-date"]).status, 0)
        for name in ["nft-ruleset.txt", "nft-ruleset.json"] {
            let from = fresh + "/" + name, to = host + "/" + name
            try? FileManager.default.removeItem(atPath: to)
            if FileManager.default.fileExists(atPath: from) { try FileManager.default.copyItem(atPath: from, toPath: to) }
        }
        live.send(SIGHUP)
        XCTAssertTrue(live.waitForStderr("host model replaced", timeout: 60), live.stderrText)
        let replaced = live.stderrLines.first { $0.text.contains("host model replaced") }?.text ?? ""
        XCTAssertTrue(replaced.contains("state kept: 1 tracked connection"), replaced)

        // The connection's next segment, then a new connection the rule refuses.
        _ = try net.inject("""
            E = Ether(src=SRC_MAC, dst=DUT_MAC)
            sendp(E / IP(src=PEER_IP, dst=DUT_IP) / TCP(sport=42000, dport=7000, flags="PA", seq=1001, ack=\((UInt64(isn) + 1) % (1 << 32))) / Raw(b"hello"), iface=IFACE)
            time.sleep(0.1)
            sendp(E / IP(src=PEER_IP, dst=DUT_IP) / TCP(sport=42001, dport=7000, flags="S", seq=5000), iface=IFACE)
            """)
        XCTAssertTrue(live.waitUntil(timeout: 5) { live.frameLineCount >= 4 })
        XCTAssertEqual(live.interruptAndWait(), 0, live.stderrText)
        let frames = frameLines(live).map(\.object)
        XCTAssertEqual(frames.count, 4, "\(frames)")
        guard frames.count == 4 else { return }
        XCTAssertEqual(frames[1]["fate"] as? String, "delivered", "the handshake's ACK: \(frames[1])")
        let data = frames[2]
        XCTAssertEqual(data["fate"] as? String, "delivered", "the established connection's segment passes the new rule: \(data)")
        // The segment's own conntrack lookup (the first nf_conntrack_in record; a later one is
        // the ACK the kernel sends back) and the rule that accepted it.
        let stages = data["stages"] as? [[String: Any]] ?? []
        let detail = stages.first { $0["stage"] as? String == "nf_conntrack_in" }?["detail"] as? String ?? ""
        XCTAssertTrue(detail.hasPrefix("ct state established (ESTABLISHED) tcp ESTABLISHED"), "conntrack after SIGHUP: \(detail)")
        let verdict = stages.first { $0["stage"] as? String == "nf_hook INPUT" }?["detail"] as? String ?? ""
        XCTAssertTrue(verdict.contains("ct state established,related accept") && verdict.hasSuffix("verdict accept"), verdict)
        XCTAssertEqual(frames[3]["drop_reason"] as? String, "NETFILTER_DROP", "a new connection meets the new rule: \(frames[3])")
        let summary = live.jsonLines.lazy.compactMap { $0.object["summary"] as? [String: Any] }.first ?? [:]
        print("live reload: \(replaced); after SIGHUP: \(data["fate"] ?? "?") with \(detail); summary conntrack: \(summary["conntrack"] ?? "-")")
    }
}
