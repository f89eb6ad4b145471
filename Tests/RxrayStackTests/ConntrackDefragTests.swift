import Foundation
import XCTest
import RxrayCapture
import RxrayDecode
import RxrayHost
@testable import RxrayStack

/// Conntrack's defragmentation (IPv4 and IPv6) and the refragmentation of forwarded
/// datagrams, checked against the kernel's recordings in more detail than
/// FixtureScenarioTests: the fragmentation counters the kernel moved, each held fragment's
/// settled fate, and the reassembly timer's ICMP through LOCAL_OUT.
final class ConntrackDefragTests: XCTestCase {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// Every frame's result of a recorded scenario, by frame number (held frames settled).
    static func run(_ name: String, hostDir: URL? = nil) throws -> [Int: FrameResult] {
        let sdir = root.appendingPathComponent("Fixtures/scenarios/\(name)")
        guard FileManager.default.fileExists(atPath: sdir.appendingPathComponent("capture.pcapng").path) else {
            throw XCTSkip("Fixtures/scenarios/\(name) is not recorded")
        }
        let host = try HostLoader.loadDirectory((hostDir ?? sdir.appendingPathComponent("host")).path)
        let analyzer = try Analyzer(host: host, options: Analyzer.Options(wantsDetail: true), netfilter: true)
        let reader = try CaptureReader(path: sdir.appendingPathComponent("capture.pcapng").path)
        var out: [Int: FrameResult] = [:]
        while let f = try reader.next() {
            let input = FrameInput(index: f.index, timestampNs: f.timestampNanoseconds, bytes: f.bytes, linkType: f.linkType,
                                   wireLength: f.wireLength, interfaceName: f.interfaceName)
            analyzer.process(input) { out[$0.frame] = $0 }
        }
        analyzer.finish { out[$0.frame] = $0 }
        return out
    }

    /// The kernel's nstat deltas per observation window (a burst is one window, its counters
    /// recorded on its last frame), as (frames, counters).
    static func truth(_ name: String) throws -> [(frames: ClosedRange<Int>, nstat: [String: Int])] {
        let url = root.appendingPathComponent("Fixtures/scenarios/\(name)/truth.jsonl")
        var out: [(ClosedRange<Int>, [String: Int])] = []
        for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n") {
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let frame = o["frame"] as? Int else { continue }
            let w = o["window"] as? [Int] ?? [frame, frame]
            guard frame == w[1] else { continue }
            out.append((w[0]...w[1], o["nstat"] as? [String: Int] ?? [:]))
        }
        return out
    }

    static func counter(_ results: [Int: FrameResult], _ frames: ClosedRange<Int>, _ name: String) -> Int {
        frames.reduce(0) { sum, f in sum + (results[f]?.counters.filter { $0.0.name == name }.reduce(0) { $0 + $1.1 } ?? 0) }
    }

    /// IPv4: a datagram conntrack defrag rebuilt leaves in its original fragments when they fit
    /// the MTU, keeps going with DF (ignore_df) when its largest fragment fits, and is cut to
    /// the MTU when its fragments were larger: IpFragOKs, IpFragCreates, IpOutTransmits,
    /// IpForwDatagrams and IpReasmOKs as the kernel moved them, frame by frame.
    func testIPv4RefragmentationCountersAgreeWithTheKernel() throws {
        let name = "nf-ct-refrag4"
        let results = try Self.run(name)
        let truth = try Self.truth(name)
        XCTAssertEqual(truth.count, 5)
        for (frames, nstat) in truth {
            for key in ["IpFragOKs", "IpFragCreates", "IpFragFails", "IpOutTransmits", "IpForwDatagrams", "IpReasmOKs", "IpReasmReqds"] {
                XCTAssertEqual(Self.counter(results, frames, key), nstat[key] ?? 0, "\(name):\(frames) \(key)")
            }
            for f in frames {
                XCTAssertEqual(results[f]?.fate, .forwarded, "\(name):\(f)")
                XCTAssertEqual(results[f]?.egress, "eth1", "\(name):\(f)")
            }
        }
        // The 820-byte fragments do not fit the 576-byte MTU: cut into 3 (552 + 552 + 104 bytes).
        XCTAssertTrue(results[8]?.trace.contains { $0.detail.contains("cut into 3 fragments") } ?? false)
        // The 420 + 228 fragments fit: sent again as they came.
        XCTAssertTrue(results[2]?.trace.contains { $0.detail.contains("sent again in the 2 fragments") } ?? false)
    }

    /// IPv6: fragments are gathered before conntrack and the rules; each held fragment settles
    /// with its datagram; forwarding counts Ip6OutForwDatagrams before the MTU check and the
    /// FORWARD hook (6.18); the frame that completes a forwarded datagram notes the fragments it
    /// leaves in.
    func testIPv6ConntrackDefragFramesSettleWithTheirDatagram() throws {
        let name = "nf-ct-defrag6"
        let results = try Self.run(name)
        let truth = try Self.truth(name)
        // A forwarded datagram in three fragments: all three frames forwarded through eth1.
        for f in [3, 4, 5] {
            XCTAssertEqual(results[f]?.fate, .forwarded, "frame \(f)")
            XCTAssertEqual(results[f]?.egress, "eth1", "frame \(f)")
        }
        XCTAssertTrue(results[5]?.trace.contains { $0.detail.contains("sent again in the 3 fragments") } ?? false)
        // The FORWARD port rule drops the whole datagram: both fragments NETFILTER_DROP.
        for f in [6, 7] {
            XCTAssertEqual(results[f]?.fate, .dropped, "frame \(f)")
            XCTAssertEqual(results[f]?.dropReason, .netfilterDrop, "frame \(f)")
        }
        // 1400-byte fragments exceed eth1's MTU 1280: packet too big, one ICMPv6 2/0.
        XCTAssertEqual(results[9]?.dropReason, .pktTooBig)
        XCTAssertEqual(results[9]?.replies.count, 1)
        if case .icmpv6(2, 0)? = results[9]?.replies.first?.kind {} else { XCTFail("frame 9: no packet too big") }
        // A 2000-byte datagram that came in 1000-byte fragments is forwarded (ignore_df).
        XCTAssertEqual(results[12]?.fate, .forwarded)
        // The duplicate is DUP_FRAG; its datagram is still delivered.
        XCTAssertEqual(results[14]?.dropReason, .dupFrag)
        XCTAssertEqual(results[15]?.fate, .delivered)
        XCTAssertEqual(results[13]?.fate, .delivered)
        // The overlap: NETFILTER_DROP for the overlapping frame, the held one dropped with its queue.
        XCTAssertEqual(results[19]?.dropReason, .netfilterDrop)
        XCTAssertEqual(results[18]?.fate, .dropped)
        // No reassembly counters: nf_ct_frag6_gather keeps none.
        for (frames, nstat) in truth {
            XCTAssertEqual(Self.counter(results, frames, "Ip6ReasmReqds") + Self.counter(results, frames, "Ip6ReasmOKs"), 0, "frames \(frames)")
            for key in ["Ip6OutForwDatagrams", "Ip6InTooBigErrors", "Ip6InDelivers", "Udp6InDatagrams"] {
                XCTAssertEqual(Self.counter(results, frames, key), nstat[key] ?? 0, "frames \(frames) \(key)")
            }
        }
    }

    /// Conntrack defrag queues expire after nf_conntrack_frag6_timeout (60 s): the two with a
    /// first fragment answer with ICMPv6 time exceeded (fragment reassembly), forwarded or not.
    func testIPv6ConntrackDefragTimeout() throws {
        let results = try Self.run("nf-ct-defrag6-timeout")
        XCTAssertEqual(results.count, 3)
        for f in 1...3 {
            XCTAssertEqual(results[f]?.fate, .dropped, "frame \(f)")
            XCTAssertEqual(results[f]?.dropReason, .fragReasmTimeout, "frame \(f)")
        }
        let replies = (1...3).flatMap { results[$0]?.replies ?? [] }
        XCTAssertEqual(replies.count, 2)
        for rep in replies {
            if case .icmpv6(3, 1) = rep.kind {} else { XCTFail("not a reassembly time exceeded: \(rep.kind)") }
            XCTAssertEqual(rep.interface, "eth0")
        }
        XCTAssertEqual(results[3]?.replies.count, 0, "a queue without its first fragment answers nothing")
    }

    /// The timer's ICMPv6 time exceeded passes LOCAL_OUT like any reply: an OUTPUT rule
    /// dropping ICMPv6 takes it out (and the trace says so), the fragments still time out.
    func testReassemblyTimeoutReplyPassesLocalOut() throws {
        let sdir = Self.root.appendingPathComponent("Fixtures/scenarios/nf-ct-defrag6-timeout")
        guard FileManager.default.fileExists(atPath: sdir.appendingPathComponent("host").path) else {
            throw XCTSkip("nf-ct-defrag6-timeout is not recorded")
        }
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-ctdefrag-\(getpid())")
        try? FileManager.default.removeItem(at: tmp)
        try FileManager.default.copyItem(at: sdir.appendingPathComponent("host"), to: tmp)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let rules = tmp.appendingPathComponent("ip6tables-save.txt")
        let text = try String(contentsOf: rules, encoding: .utf8)
        let dropped = text.replacingOccurrences(of: "-A INPUT -p udp", with: "-A OUTPUT -p ipv6-icmp -j DROP\n-A INPUT -p udp")
        XCTAssertNotEqual(text, dropped)
        try dropped.write(to: rules, atomically: true, encoding: .utf8)
        let results = try Self.run("nf-ct-defrag6-timeout", hostDir: tmp)
        XCTAssertEqual((1...3).flatMap { results[$0]?.replies ?? [] }.count, 0)
        // The ICMPv6 is freed (NETFILTER_DROP) before the fragment: the frame's first drop.
        XCTAssertEqual(results[1]?.dropReason, .netfilterDrop)
        XCTAssertEqual(results[2]?.dropReason, .netfilterDrop)
        XCTAssertEqual(results[3]?.dropReason, .fragReasmTimeout)
        XCTAssertTrue(results[1]?.trace.contains { $0.verdict == .drop && $0.detail.contains("not sent") } ?? false,
                      "the trace tells the reply was dropped at OUTPUT")
    }

    /// Recorded: the ICMP time exceeded of an expiring local reassembly queue (IPv4 and IPv6)
    /// passes OUTPUT; the rule for .2 / ::2 drops it (NETFILTER_DROP, the frame's first drop,
    /// IpOutDiscards), the one for .3 / ::3 leaves.
    func testLocalReassemblyTimeoutReplyAtOutputAgreesWithTheKernel() throws {
        let results = try Self.run("nf-frag-timeout-output")
        for f in [1, 3] {
            XCTAssertEqual(results[f]?.dropReason, .netfilterDrop, "frame \(f)")
            XCTAssertEqual(results[f]?.replies.count, 0, "frame \(f)")
        }
        for f in [2, 4] {
            XCTAssertEqual(results[f]?.dropReason, .fragReasmTimeout, "frame \(f)")
            XCTAssertEqual(results[f]?.replies.count, 1, "frame \(f)")
        }
        XCTAssertEqual(Self.counter(results, 1...1, "IpOutDiscards"), 1)
        XCTAssertEqual(Self.counter(results, 2...2, "IpOutDiscards"), 0)
    }

    /// A cut capture never traps the defrag paths: every prefix of every frame of the new
    /// scenarios goes through.
    func testEveryPrefixIsHandled() throws {
        let frames = try ConntrackTableTests.feedEveryPrefix(of: ["nf-ct-defrag6", "nf-ct-refrag4", "nf-nft-ct-defrag6", "nf-frag-timeout-output"], step: 7)
        if frames == 0 { throw XCTSkip("no recorded scenarios") }
    }
}
