import Foundation
import RxrayCapture
import RxrayDecode
import RxrayHost
@testable import RxrayNetfilter
import XCTest

@testable import RxrayStack

/// `Analyzer.reload` (core/Reload.swift, used by `rxray live` on SIGHUP) keeps the runtime
/// state: reloading the same configuration between any two frames changes no result, on every
/// recorded scenario (conntrack, NAT, TCP sockets, fragment queues, GRO holds, neighbour
/// queues, rate limiters all carry over). A changed configuration applies to later frames
/// while connections stay tracked.
final class LiveReloadStateTests: XCTestCase {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The frames of a capture, copied.
    static func frames(_ url: URL) throws -> [(index: Int, ts: Int64, bytes: [UInt8], linkType: LinkType, wireLength: Int, interface: String?)] {
        let reader = try CaptureReader(path: url.path)
        var out: [(index: Int, ts: Int64, bytes: [UInt8], linkType: LinkType, wireLength: Int, interface: String?)] = []
        while let f = try reader.next() { out.append((f.index, f.timestampNanoseconds, Array(f.bytes), f.linkType, f.wireLength, f.interfaceName)) }
        return out
    }

    /// Everything a result says, as text (stages with their details, replies, counters).
    private func describe(_ r: FrameResult) -> String {
        var s = "\(r.frame) \(r.fate) \(r.dropReason.map { "\($0)" } ?? "-") \(r.dropStage.map { "\($0)" } ?? "-")"
        s += " egress \(r.egress ?? "-") via \(r.nextHop.map { "\($0)" } ?? "-")"
        for st in r.trace { s += "\n  \(st.stage) \(st.verdict) \(st.detail)" }
        for rep in r.replies { s += "\n  reply \(rep.kindName) \(rep.interface) \(rep.summary)" }
        for (m, d) in r.counters.sorted(by: { $0.0.name < $1.0.name }) { s += " \(m.name)=\(d)" }
        if let g = r.gro { s += "\n  gro \(g)" }
        return s
    }

    private func run(host: RxrayHost.Host, capture: URL, options: Analyzer.Options, reloadEvery: Int?) throws -> (results: [String], reloads: Int) {
        let analyzer = try Analyzer(host: host, options: options, netfilter: true)
        let reader = try CaptureReader(path: capture.path)
        var out: [String] = []
        var reloads = 0
        while let f = try reader.next() {
            if let k = reloadEvery, f.index % k == 0 {
                let outcome = try analyzer.reload(host: host, netfilter: true) { out.append(describe($0)) }
                XCTAssertFalse(outcome.devicesChanged)
                XCTAssertFalse(outcome.routesChanged)
                XCTAssertFalse(outcome.ruleStateReset)
                if let e = analyzer.netfilter {
                    // The last packet's unconfirmed entry (if any) was freed, not carried over.
                    XCTAssertEqual(e.conntrack.slots.filter(\.inUse).count, e.conntrack.count, "no unconfirmed conntrack slot survives a reload")
                }
                reloads += 1
            }
            let input = FrameInput(index: f.index, timestampNs: f.timestampNanoseconds, bytes: f.bytes, linkType: f.linkType,
                                   wireLength: f.wireLength, interfaceName: f.interfaceName,
                                   direction: f.direction == .outbound ? .outbound : f.direction == .inbound ? .inbound : .unknown)
            analyzer.process(input) { out.append(describe($0)) }
        }
        analyzer.finish { out.append(describe($0)) }
        return (out, reloads)
    }

    func testReloadingTheSameConfigurationBetweenFramesChangesNoResultOnAnyScenario() throws {
        let dir = Self.root.appendingPathComponent("Fixtures/scenarios")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path), !names.isEmpty else {
            print("skipping: no Fixtures/scenarios directory")
            throw XCTSkip("no Fixtures/scenarios directory")
        }
        var scenarios = 0, frames = 0, reloads = 0
        for name in names.sorted() {
            let sdir = dir.appendingPathComponent(name)
            let capture = sdir.appendingPathComponent("capture.pcapng")
            let hostDir = sdir.appendingPathComponent("host")
            guard FileManager.default.fileExists(atPath: capture.path), FileManager.default.fileExists(atPath: hostDir.path) else { continue }
            let host = try HostLoader.loadDirectory(hostDir.path)
            let setup = (try? String(contentsOf: sdir.appendingPathComponent("setup.sh"), encoding: .utf8)) ?? ""
            for order in [EmitOrder.capture, .settled] {
                let options = Analyzer.Options(tcp: FixtureScenarioTests.tcpOptions(setup: setup), order: order)
                let straight = try run(host: host, capture: capture, options: options, reloadEvery: nil).results
                // Before every frame, and before every third one.
                for k in [1, 3] {
                    let reloaded = try run(host: host, capture: capture, options: options, reloadEvery: k)
                    reloads += reloaded.reloads
                    XCTAssertEqual(reloaded.results.count, straight.count, "\(name) (\(order), reload every \(k) frames)")
                    for (a, b) in zip(straight, reloaded.results) where a != b {
                        XCTFail("\(name) (\(order), reload every \(k) frames): a reload changed a result\nwithout:\n\(a)\nwith:\n\(b)")
                        break
                    }
                }
            }
            scenarios += 1
            frames += try Self.frames(capture).count
        }
        print("reload invariance: \(scenarios) scenarios, \(frames) frames, \(reloads) reloads, no result changed")
        XCTAssertGreaterThan(scenarios, 10)
    }

    func testANewRuleAppliesToLaterFramesWhileTheConnectionStaysTracked() throws {
        let sdir = Self.root.appendingPathComponent("Fixtures/scenarios/nf-nft-ct-window")
        let capture = sdir.appendingPathComponent("capture.pcapng")
        guard FileManager.default.fileExists(atPath: capture.path) else {
            print("skipping: Fixtures/scenarios/nf-nft-ct-window is missing")
            throw XCTSkip("Fixtures/scenarios/nf-nft-ct-window is missing")
        }
        let host = try HostLoader.loadDirectory(sdir.appendingPathComponent("host").path)
        let frames = try Self.frames(capture)
        // The router's forward chain now drops everything but established and related traffic.
        var strict = host
        strict.rulesets = Rulesets(sources: [RulesetSource(format: RulesetSource.Format.nftText, file: "strict.nft", text: """
            table inet strict {
                chain forward {
                    type filter hook forward priority 0; policy drop;
                    ct state established,related accept
                }
            }
            """)])
        let analyzer = try Analyzer(host: host, options: Analyzer.Options(), netfilter: true)
        var results: [Int: FrameResult] = [:]
        var tracked = 0
        var reloadedAt: Int?
        for f in frames {
            f.bytes.withUnsafeBytes { b in
                let input = FrameInput(index: f.index, timestampNs: f.ts, bytes: b, linkType: f.linkType,
                                       wireLength: f.wireLength, interfaceName: f.interface)
                analyzer.process(input) { results[$0.frame] = $0 }
            }
            if reloadedAt == nil, let e = analyzer.netfilter, e.conntrack.count > 0 {
                tracked = e.conntrack.count
                let outcome = try analyzer.reload(host: strict, netfilter: true) { results[$0.frame] = $0 }
                XCTAssertEqual(outcome.conntrackEntries, tracked, "the table moved to the new engine")
                reloadedAt = f.index
            }
        }
        analyzer.finish { results[$0.frame] = $0 }
        let at = try XCTUnwrap(reloadedAt, "nf-nft-ct-window tracks a connection")
        XCTAssertGreaterThan(tracked, 0)
        let later = results.filter { $0.key > at }.values
        XCTAssertFalse(later.isEmpty)
        // Every later frame meets the new rule set: accepted only as established/related.
        for r in later {
            let nf = r.trace.filter { if case .nfHook = $0.stage { return true } else { return false } }
            XCTAssertTrue(nf.allSatisfy { $0.detail.contains("strict") || $0.detail.isEmpty }, "frame \(r.frame) ran the new rules: \(nf.map(\.detail))")
            let ct = r.trace.first { $0.stage == .nfConntrackIn }?.detail ?? ""
            if r.fate != .dropped || r.dropReason != .netfilterDrop { continue }
            XCTAssertFalse(ct.hasPrefix("ct state established"), "an established frame is not dropped by the new rules: \(r.frame) \(ct)")
        }
        let passedEstablished = later.filter { r in
            (r.trace.first { $0.stage == .nfConntrackIn }?.detail ?? "").hasPrefix("ct state established") && r.dropReason != .netfilterDrop
        }
        print("reload to a strict rule set after frame \(at): \(tracked) connection(s) kept; \(passedEstablished.count) later established frame(s) accepted")
        XCTAssertGreaterThan(passedEstablished.count, 0, "a connection tracked before the reload passes the established-only rule")
    }

    /// A TCP segment from 192.0.2.2:`sport` to 192.0.2.1:`dport` with the given sequence number.
    private func segment(sport: UInt16 = 12345, dport: UInt16, seq: UInt32, flags: UInt8) -> [UInt8] {
        var t = T.tcp(dport: dport, flags: flags)
        t[0] = UInt8(sport >> 8); t[1] = UInt8(sport & 0xFF)
        t[4] = UInt8(seq >> 24); t[5] = UInt8(seq >> 16 & 0xFF); t[6] = UInt8(seq >> 8 & 0xFF); t[7] = UInt8(seq & 0xFF)
        t[16] = 0; t[17] = 0
        let c = T.checksum(t, 0..<20, pseudo: Pseudo.v4(IPv4Address(192, 0, 2, 2), IPv4Address(192, 0, 2, 1), proto: 6, length: 20))
        t[16] = UInt8(c >> 8); t[17] = UInt8(c & 0xFF)
        return T.eth(type: 0x0800, T.ipv4(proto: 6, t))
    }

    private func feed(_ a: Analyzer, _ frame: [UInt8], index: Int, into out: inout [Int: FrameResult]) {
        var got: [FrameResult] = []
        frame.withUnsafeBytes { buf in
            let input = FrameInput(index: index, timestampNs: 1_700_000_000_000_000_000 + Int64(index) * 1_000_000, bytes: buf,
                                   linkType: .ethernet, interfaceName: "eth0")
            a.process(input) { got.append($0) }
        }
        for r in got { out[r.frame] = r }
    }

    func testANewInterfaceSettlesDeviceBoundHoldsFirstAndKeepsTCPSocketsByIdentity() {
        var ns = T.netns()
        let http = ListeningSocket(proto: .tcp, address: nil, isIPv6: false, port: 80)
        let other = ListeningSocket(proto: .tcp, address: nil, isIPv6: false, port: 81)
        ns.sockets = [other, http]
        let a = Analyzer(netns: ns, options: Analyzer.Options(capturePoint: .host, order: .settled))
        var out: [Int: FrameResult] = [:]
        // 1: a first fragment (held); 2: a SYN to port 80 (a request socket).
        feed(a, T.eth(type: 0x0800, T.ipv4(proto: 17, id: 9, flags: 0x2000, T.udp(dport: 9) + [UInt8](repeating: 7, count: 12))), index: 1, into: &out)
        feed(a, segment(dport: 80, seq: 100, flags: 0x02), index: 2, into: &out)
        XCTAssertNil(out[1], "the fragment is held")
        XCTAssertEqual(out[2]?.fate, .delivered, "SYN answered: \(out[2].map { "\($0.stages)" } ?? "")")

        // The new model: a new interface, the port 80 listener listed first, port 81 gone.
        var next = T.netns()
        var e2 = NetDevice(ifindex: 7, name: "eth2", kind: .ethernet, mac: MACAddress(0x0200_0000_0012))
        e2.v4 = [IfAddr4(IPv4Address(203, 0, 113, 1), 24)]
        next.devices.append(e2)
        next.sockets = [http]
        var settled: [FrameResult] = []
        let outcome = a.reload(netns: next, netfilter: nil) { settled.append($0) }
        XCTAssertTrue(outcome.devicesChanged)
        XCTAssertEqual(outcome.settledBeforeSwap, 1)
        XCTAssertEqual(settled.map(\.frame), [1])
        XCTAssertEqual(settled.first?.dropReason, .fragReasmTimeout, "settled as at the end of a capture")
        XCTAssertEqual(outcome.tcpConnections, 1, "the request socket moved to the listener's new index")
        XCTAssertEqual(outcome.tcpConnectionsDropped, 0)
        XCTAssertTrue(a.netns.device(named: "eth2") != nil, "the new configuration is in use")

        // 3: the handshake's ACK finds its request socket under the new configuration.
        feed(a, segment(dport: 80, seq: 101, flags: 0x10), index: 3, into: &out)
        let ack = out[3]
        XCTAssertEqual(ack?.fate, .delivered, "\(ack.map { "\($0.trace.map { "\($0.stage) \($0.detail)" })" } ?? "")")
        XCTAssertTrue(ack?.stages.contains { $0.stage == .tcpCheckReq } == true, "the ACK completed the request: \(ack.map { "\($0.stages)" } ?? "")")

        // A configuration without the listener frees its request and unaccepted sockets.
        feed(a, segment(sport: 23456, dport: 80, seq: 100, flags: 0x02), index: 4, into: &out)
        XCTAssertEqual(out[4]?.fate, .delivered, "a second request")
        var gone = next
        gone.sockets = []
        let closed = a.reload(netns: gone, netfilter: nil) { _ in }
        XCTAssertFalse(closed.devicesChanged)
        XCTAssertGreaterThanOrEqual(closed.tcpConnectionsDropped, 1, "the request of frame 4 is freed: \(closed)")
    }
}
