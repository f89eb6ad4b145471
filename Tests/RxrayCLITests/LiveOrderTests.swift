import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `rxray live` prints each annotation as soon as the frame's fate is final: a fragment held
/// in a reassembly queue does not delay the frames captured after it, while `--write` keeps
/// the annotated pcapng in capture order. Needs root; skips with a printed reason otherwise.
final class LiveOrderTests: LiveTestCase {
    func testAHeldFragmentDoesNotDelayLaterFramesAndThePcapngStaysInCaptureOrder() throws {
        let net = try makeNetwork()
        let snapshot = temporary("snapshot")
        let written = temporary("written.pcapng")
        let live = try start(["live", "-i", net.dutLink, "--netns", net.dut, "--keep-snapshot", snapshot,
                              "--format", "jsonl", "--write", written, "ether src \(LiveNetwork.injectorMAC)"])
        // Capture order: 1 the first fragment of datagram 777 (its rest comes 2 s later),
        // 2 a lone first fragment (never completed), 3-7 echo requests, 8 the rest of 777.
        let injected = try net.inject("""
            E = Ether(src=SRC_MAC, dst=DUT_MAC)
            frags = fragment(IP(src=PEER_IP, dst=DUT_IP, id=777) / UDP(sport=41000, dport=9) / Raw(b"x" * 64), fragsize=40)
            sent = [E / frags[0], E / IP(src=PEER_IP, dst=DUT_IP, id=778, flags="MF", frag=0) / UDP(sport=41001, dport=9) / Raw(b"z" * 32)]
            for i in range(5):
                sent.append(E / IP(src=PEER_IP, dst=DUT_IP) / ICMP(type=8, id=11, seq=i) / Raw(b"p"))
            for f in sent:
                sendp(f, iface=IFACE)
                time.sleep(0.05)
            time.sleep(2.0)
            for f in frags[1:]:
                sendp(E / f, iface=IFACE)
                sent.append(E / f)
            for f in sent:
                print(bytes(f).hex())
            """).split(separator: "\n").map(liveHexBytes)
        XCTAssertEqual(injected.count, 8)
        XCTAssertTrue(live.waitUntil(timeout: 10) { live.frameLineCount >= 7 }, "running: \(live.stdoutLines.map(\.text))")
        let running = frameLines(live)
        XCTAssertFalse(running.contains { $0.object["frame"] as? Int == 2 }, "the lone fragment is still held while the capture runs")
        XCTAssertEqual(live.interruptAndWait(), 0, live.stderrText)

        let lines = frameLines(live)
        XCTAssertEqual(lines.count, 8, "every frame annotated exactly once: \(lines.map { $0.object["frame"] ?? "?" })")
        var byFrame: [Int: (object: [String: Any], readAtNs: Int64, position: Int)] = [:]
        for (i, l) in lines.enumerated() {
            guard let n = l.object["frame"] as? Int else { continue }
            XCTAssertNil(byFrame[n], "frame \(n) annotated twice")
            byFrame[n] = (l.object, l.readAtNs, i)
        }
        XCTAssertEqual(Set(byFrame.keys), Set(1 ... 8))
        func ts(_ n: Int) -> Int64 { liveTimestampNs(byFrame[n]?.object["ts"] as? String ?? "") ?? 0 }

        // The echo requests after the held fragments come out at once.
        var latencies: [Double] = []
        for n in 3 ... 7 {
            guard let l = byFrame[n] else { continue }
            XCTAssertEqual(l.object["fate"] as? String, "delivered", "frame \(n): \(l.object)")
            latencies.append(Double(l.readAtNs - ts(n)) / 1e6)
        }
        print("live settled order: echo request latencies behind a held fragment (ms): \(latencies.map { String(format: "%.1f", $0) })")
        XCTAssertTrue(latencies.allSatisfy { $0 < 500 }, "each annotation well under a second: \(latencies)")
        // The first fragment settles when the rest of its datagram arrives, 2 s later.
        if let first = byFrame[1], let rest = byFrame[8] {
            XCTAssertGreaterThan(ts(8) - ts(1), 1_500_000_000, "the rest came about 2 s later")
            XCTAssertGreaterThanOrEqual(first.readAtNs, ts(8), "frame 1 is annotated once frame 8 completed its datagram")
            XCTAssertGreaterThan(first.position, byFrame[7]!.position, "frame 1 is printed after the frames that did not wait")
            XCTAssertEqual(abs(first.position - rest.position), 1, "frame 1 settles with the frame that completed its datagram")
            let stages = first.object["stages"] as? [[String: Any]] ?? []
            XCTAssertTrue(stages.contains { $0["decision"] as? String == "hold" }, "frame 1 was held: \(first.object)")
            XCTAssertEqual(first.object["fate"] as? String, rest.object["fate"] as? String, "both fragments share the datagram's fate")
        }
        // The lone fragment settles at exit, last.
        XCTAssertEqual(lines.last?.object["frame"] as? Int, 2)
        XCTAssertEqual(lines.last?.object["drop_reason"] as? String, "FRAG_REASM_TIMEOUT", "\(lines.last?.object ?? [:])")

        // The annotated pcapng: capture order, every frame once, each with its own comment.
        let rewritten = try CLI.run(["analyze", written, "--host", snapshot, "--capture-point", "host", "--format", "jsonl"])
        XCTAssertEqual(rewritten.status, 0, rewritten.stderr)
        let records = try CLI.jsonObjects(rewritten.stdout).filter { $0["frame"] != nil }
        XCTAssertEqual(records.count, 8)
        for (i, record) in records.enumerated() {
            let n = i + 1
            guard let l = byFrame[n] else { continue }
            XCTAssertEqual(record["ts"] as? String, l.object["ts"] as? String, "record \(n) is captured frame \(n)")
            XCTAssertEqual(record["len"] as? Int, injected[i].count, "record \(n) is injected frame \(n)")
            let comment = record["comment"] as? String ?? ""
            XCTAssertTrue(comment.hasPrefix("rxray: \(l.object["fate"] as? String ?? "?")"), "record \(n): comment \(comment) for \(l.object)")
            if let reason = l.object["drop_reason"] as? String { XCTAssertTrue(comment.contains(reason), "record \(n): \(comment)") }
        }
    }
}
