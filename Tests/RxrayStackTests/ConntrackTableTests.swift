import Foundation
import XCTest
import RxrayCapture
import RxrayHost
import RxrayNetfilter
@testable import RxrayStack

/// Compares, per recorded nf-* scenario, rxray's conntrack table at the end of the capture with
/// the kernel's (`conntrack.txt`, `conntrack -L` in the DUT after the last frame): every entry's
/// protocol, TCP state, original and (NATed) reply tuples, UNREPLIED / ASSURED flags and mark.
///
/// Timeouts: the recorder rounds the kernel's remaining timeout up to a multiple of 10 s, which
/// is the timeout the entry's last packet armed (recording ends well within 10 s of it). The
/// capture's clock is synthetic (a second per window, or the paced schedule), so rxray's
/// remaining time at the end of the capture is not comparable; the timeout rxray's last packet
/// armed, rounded the same way, is. Entries rxray would have expired by the capture's clock
/// but the kernel (on its faster clock) still lists are kept, and said.
///
/// Lines of Fixtures/KNOWN-GAPS whose reason starts with `CT:` (`scenario CT: why`) excuse a
/// scenario's table; there are none at present.
final class ConntrackTableTests: XCTestCase {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// A `conntrack -L` line as compared: `use=` dropped, whitespace collapsed.
    static func normalise(_ line: Substring) -> String {
        line.split(separator: " ").filter { !$0.hasPrefix("use=") }.joined(separator: " ")
    }

    /// Runs a scenario's capture through a netfilter-enabled analyzer; the engine afterwards.
    static func replay(_ sdir: URL) throws -> (NetfilterEngine, lastFrameNs: Int64)? {
        let host = try HostLoader.loadDirectory(sdir.appendingPathComponent("host").path)
        let setup = (try? String(contentsOf: sdir.appendingPathComponent("setup.sh"), encoding: .utf8)) ?? ""
        let analyzer = try Analyzer(host: host, options: Analyzer.Options(wantsDetail: false, tcp: FixtureScenarioTests.tcpOptions(setup: setup)),
                                    netfilter: true)
        let reader = try CaptureReader(path: sdir.appendingPathComponent("capture.pcapng").path)
        var last: Int64 = 0
        while let f = try reader.next() {
            last = f.timestampNanoseconds
            let input = FrameInput(index: f.index, timestampNs: f.timestampNanoseconds, bytes: f.bytes, linkType: f.linkType,
                                   wireLength: f.wireLength, interfaceName: f.interfaceName)
            analyzer.process(input) { _ in }
        }
        analyzer.finish { _ in }
        guard let e = analyzer.netfilter else { return nil }
        return (e, last)
    }

    /// rxray's table as `conntrack -L` lines, the timeout column being the armed timeout
    /// rounded up to 10 s, sorted (as the recorder sorts the kernel's).
    static func rxrayTable(_ e: NetfilterEngine, lastFrameNs: Int64) -> (lines: [String], expired: [String]) {
        var lines: [String] = [], expired: [String] = []
        for ent in e.conntrack.confirmedEntries {
            let armed = max(0, ent.timeoutAt - ent.refreshedNs)
            let secs = (armed + 9_999_999_999) / 10_000_000_000 * 10
            let line = normalise(Substring(ConntrackTable.listLine(ent, timeout: secs)))
            lines.append(line)
            if ent.timeoutAt <= lastFrameNs { expired.append(line) }
        }
        return (lines.sorted(), expired)
    }

    func testListLineFormat() throws {
        // The kernel's own line for a DNATed UDP flow, as recorded, normalised.
        let k = Self.normalise("udp 17 30 src=192.0.2.2 dst=192.0.2.1 sport=40002 dport=5353 [UNREPLIED] src=203.0.113.7 dst=198.51.100.1 sport=53 dport=40002 mark=0 use=1")
        XCTAssertEqual(k, "udp 17 30 src=192.0.2.2 dst=192.0.2.1 sport=40002 dport=5353 [UNREPLIED] src=203.0.113.7 dst=198.51.100.1 sport=53 dport=40002 mark=0")
    }

    /// nf-nat-icmp-error: the forwarded packets after POST_ROUTING, byte for byte as the kernel
    /// sent them (outer TTL and header checksum aside: ip_forward's decrement is not in the
    /// netfilter path), including the ICMP errors whose quoted header NAT translated back.
    func testForwardedNATedPacketsMatchTheKernelsBytes() throws {
        let sdir = Self.root.appendingPathComponent("Fixtures/scenarios/nf-nat-icmp-error")
        guard FileManager.default.fileExists(atPath: sdir.appendingPathComponent("truth.jsonl").path) else {
            throw XCTSkip("Fixtures/scenarios/nf-nat-icmp-error is not recorded")
        }
        var sent: [Int: [UInt8]] = [:]
        for line in try String(contentsOf: sdir.appendingPathComponent("truth.jsonl"), encoding: .utf8).split(separator: "\n") {
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let f = o["frame"] as? Int,
                  let s = (o["sent"] as? [[String: Any]])?.first(where: { ($0["kind"] as? String) == "forward" }),
                  let hex = s["hex"] as? String else { continue }
            var b: [UInt8] = []
            var it = hex.makeIterator()
            while let h = it.next(), let l = it.next() { b.append(UInt8(String([h, l]), radix: 16)!) }
            sent[f] = Array(b.dropFirst(14))
        }
        XCTAssertEqual(sent.keys.sorted(), [1, 2, 3])
        let host = try HostLoader.loadDirectory(sdir.appendingPathComponent("host").path)
        let analyzer = try Analyzer(host: host, options: Analyzer.Options(wantsDetail: false), netfilter: true)
        let reader = try CaptureReader(path: sdir.appendingPathComponent("capture.pcapng").path)
        var compared = 0
        while let f = try reader.next() {
            let input = FrameInput(index: f.index, timestampNs: f.timestampNanoseconds, bytes: f.bytes, linkType: f.linkType,
                                   wireLength: f.wireLength, interfaceName: f.interfaceName)
            analyzer.process(input) { _ in }
            guard let want = sent[f.index], let skb = analyzer.kernel.netfilter?.last else { continue }
            var ours = Array(skb.buf.prefix(want.count))
            XCTAssertEqual(ours.count, want.count, "frame \(f.index): length")
            guard ours.count == want.count else { continue }
            ours[8] = want[8]; ours[10] = want[10]; ours[11] = want[11]
            XCTAssertEqual(ours, want, "frame \(f.index): rxray's translated packet differs from the kernel's")
            compared += 1
        }
        XCTAssertEqual(compared, 3)
    }

    /// The reply path (synthetic packets, OUTPUT, NAT of ICMP errors and their quotes) and the
    /// conntrack defrag never trap on cut frames: every prefix of every frame of the scenarios
    /// that exercise them, with the wire length kept, goes through an analyzer with netfilter.
    func testEveryPrefixOfTheReplyAndDefragScenariosIsHandled() throws {
        let frames = try Self.feedEveryPrefix(of: ["nf-ct-output", "nf-nat-icmp-error", "nf-ct-defrag", "nf-iptables-reject", "nf-nft-nat"], step: 1)
        if frames == 0 { throw XCTSkip("no recorded scenarios") }
        print("[conntrack] \(frames) cut frames handled")
    }

    /// Feeds every prefix (every `step` bytes, the wire length kept) of every frame of the named
    /// scenarios through an analyzer with netfilter; returns how many cut frames went through.
    static func feedEveryPrefix(of scenarios: [String], step: Int) throws -> Int {
        var frames = 0
        for name in scenarios {
            let sdir = root.appendingPathComponent("Fixtures/scenarios/\(name)")
            guard FileManager.default.fileExists(atPath: sdir.appendingPathComponent("capture.pcapng").path) else { continue }
            let host = try HostLoader.loadDirectory(sdir.appendingPathComponent("host").path)
            let analyzer = try Analyzer(host: host, options: Analyzer.Options(wantsDetail: true), netfilter: true)
            let reader = try CaptureReader(path: sdir.appendingPathComponent("capture.pcapng").path)
            var index = 0
            while let f = try reader.next() {
                let whole = Array(f.bytes)
                for cut in stride(from: whole.count, through: 0, by: -step) {
                    index += 1
                    whole.prefix(cut).withUnsafeBytes { b in
                        let input = FrameInput(index: index, timestampNs: f.timestampNanoseconds + Int64(index), bytes: b, linkType: f.linkType,
                                               wireLength: whole.count, interfaceName: f.interfaceName)
                        analyzer.process(input) { _ in }
                    }
                    frames += 1
                }
            }
            analyzer.finish { _ in }
        }
        return frames
    }

    /// Every nf-* scenario: the replies rxray says the host sends carry the kernel's addresses
    /// (after OUTPUT/POSTROUTING NAT), matched by kind. IP replies only (ARP has no IP header).
    func testReplyAddressesAfterOutputNATAgreeWithTheKernel() throws {
        let dir = Self.root.appendingPathComponent("Fixtures/scenarios")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else { throw XCTSkip("no Fixtures/scenarios") }
        var compared = 0
        var failures: [String] = []
        for name in names.sorted() where name.hasPrefix("nf-") {
            let sdir = dir.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: sdir.appendingPathComponent("truth.jsonl").path) else { continue }
            var kernel: [Int: [String]] = [:]
            for line in try String(contentsOf: sdir.appendingPathComponent("truth.jsonl"), encoding: .utf8).split(separator: "\n") {
                guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let f = o["frame"] as? Int,
                      o["window"] == nil else { continue }
                for s in o["sent"] as? [[String: Any]] ?? [] where (s["kind"] as? String) == "reply" {
                    var b: [UInt8] = []
                    var it = (s["hex"] as? String ?? "").makeIterator()
                    while let h = it.next(), let l = it.next() { b.append(UInt8(String([h, l]), radix: 16)!) }
                    guard b.count >= 34, b[12] == 0x08, b[13] == 0x00 else { continue }
                    let key = FixtureScenarioTests.key(hex: s["hex"] as? String ?? "", iface: s["iface"] as? String ?? "")
                    kernel[f, default: []].append("\(key) \(b[26]).\(b[27]).\(b[28]).\(b[29]) > \(b[30]).\(b[31]).\(b[32]).\(b[33])")
                }
            }
            let host = try HostLoader.loadDirectory(sdir.appendingPathComponent("host").path)
            let setup = (try? String(contentsOf: sdir.appendingPathComponent("setup.sh"), encoding: .utf8)) ?? ""
            let analyzer = try Analyzer(host: host, options: Analyzer.Options(wantsDetail: false, tcp: FixtureScenarioTests.tcpOptions(setup: setup)),
                                        netfilter: true)
            let reader = try CaptureReader(path: sdir.appendingPathComponent("capture.pcapng").path)
            var ours: [Int: [String]] = [:]
            while let f = try reader.next() {
                let input = FrameInput(index: f.index, timestampNs: f.timestampNanoseconds, bytes: f.bytes, linkType: f.linkType,
                                       wireLength: f.wireLength, interfaceName: f.interfaceName)
                analyzer.process(input) { res in
                    for rep in res.replies {
                        guard case .v4(let a)? = rep.source, case .v4(let b)? = rep.destination else { continue }
                        ours[res.frame, default: []].append("\(FixtureScenarioTests.key(rep)) \(a) > \(b)")
                    }
                }
            }
            analyzer.finish { _ in }
            for (f, k) in kernel {
                compared += 1
                if k.sorted() != (ours[f] ?? []).sorted() { failures.append("\(name):\(f): kernel \(k.sorted()) rxray \((ours[f] ?? []).sorted())") }
            }
        }
        print("[conntrack] \(compared) frames' IPv4 reply addresses compared")
        XCTAssertGreaterThan(compared, 0)
        for f in failures { XCTFail(f) }
    }

    func testEndOfCaptureTablesAgreeWithTheKernel() throws {
        let dir = Self.root.appendingPathComponent("Fixtures/scenarios")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else {
            throw XCTSkip("no Fixtures/scenarios directory")
        }
        let gaps = FixtureScenarioTests.knownGaps().filter { $0.frame == nil && $0.reason.hasPrefix("CT:") }
        var compared = 0, agreed = 0, entries = 0
        var failures: [String] = []
        for name in names.sorted() where name.hasPrefix("nf-") {
            let sdir = dir.appendingPathComponent(name)
            let ctURL = sdir.appendingPathComponent("conntrack.txt")
            guard FileManager.default.fileExists(atPath: ctURL.path),
                  FileManager.default.fileExists(atPath: sdir.appendingPathComponent("host").path) else {
                print("[conntrack] \(name): skipped, no conntrack.txt or host/ recorded")
                continue
            }
            if let g = gaps.first(where: { $0.scenario == name }) {
                print("[conntrack] \(name): KNOWN GAP: \(g.reason)")
                continue
            }
            guard let (engine, last) = try Self.replay(sdir) else { continue }
            let kernel = try String(contentsOf: ctURL, encoding: .utf8).split(separator: "\n").map(Self.normalise).filter { !$0.isEmpty }.sorted()
            let (ours, expired) = Self.rxrayTable(engine, lastFrameNs: last)
            for x in expired { print("[conntrack] \(name): by the capture's clock this entry has expired, the kernel's clock is faster: \(x)") }
            compared += 1
            entries += kernel.count
            if kernel == ours {
                agreed += 1
                print("[conntrack] \(name): \(kernel.count) entries agree")
            } else {
                let missing = kernel.filter { !ours.contains($0) }, extra = ours.filter { !kernel.contains($0) }
                failures.append("\(name): conntrack table differs\n    kernel only:\n      " + missing.joined(separator: "\n      ")
                                + "\n    rxray only:\n      " + extra.joined(separator: "\n      "))
            }
        }
        print("[conntrack] \(agreed) of \(compared) nf-* end-of-capture tables agree (\(entries) kernel entries)")
        XCTAssertGreaterThan(compared, 0, "no nf-* scenario with a recorded conntrack table")
        for f in failures { XCTFail(f) }
    }
}
