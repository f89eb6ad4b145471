import XCTest
import RxrayDecode
@testable import RxrayStack

/// Output neighbour resolution (core/Neighbour.swift): packets to an unresolved next hop wait
/// on an INCOMPLETE entry while the solicitation goes out, leave when an answer arrives, and
/// are dropped when the probes run out. Behaviour as recorded from 6.18 in
/// Fixtures/scenarios/neigh-resolve-forward and neigh-ipv6-ns.
final class NeighbourTests: XCTestCase {
    static let t0: Int64 = 1_700_000_000_000_000_000
    static let peer1 = IPv4Address(198, 51, 100, 50)

    /// A router: T.netns with forwarding, a known (empty or given) neighbour table, and a
    /// permanent entry for the eth0 peer 192.0.2.2.
    func router(_ extra: [NeighEntry] = [], parms: (inout NeighParms) -> Void = { _ in }) -> Netns {
        var ns = T.netns(forwarding: true)
        ns.neighboursKnown = true
        ns.neighbours = [NeighEntry(address: .v4(IPv4Address(192, 0, 2, 2)), dev: 1, lladdr: T.peerMAC, state: "PERMANENT"),
                         NeighEntry(address: .v6(IPv6Address("2001:db8::2")!), dev: 1, lladdr: T.peerMAC, state: "PERMANENT")] + extra
        var p4 = NeighParms(), p6 = NeighParms.ipv6Defaults
        parms(&p4)
        parms(&p6)
        ns.neigh4 = Array(repeating: p4, count: ns.devices.count)
        ns.neigh6 = Array(repeating: p6, count: ns.devices.count)
        return ns
    }

    /// Runs (interface, frame, ms after t0) through one analyzer; results by frame number.
    func run(_ ns: Netns, _ frames: [(String, [UInt8], Int64)]) -> [Int: FrameResult] {
        let a = Analyzer(netns: ns)
        var out: [Int: FrameResult] = [:]
        for (i, f) in frames.enumerated() {
            f.1.withUnsafeBytes { buf in
                let input = FrameInput(index: i + 1, timestampNs: Self.t0 + f.2 * 1_000_000, bytes: buf, linkType: .ethernet,
                                       interfaceName: f.0)
                a.process(input) { out[$0.frame] = $0 }
            }
        }
        a.finish { out[$0.frame] = $0 }
        return out
    }

    func udpTo(_ dst: IPv4Address, id: UInt16) -> [UInt8] {
        T.eth(type: 0x0800, T.ipv4(dst: dst, proto: 17, id: id, T.udp(dst: dst, dport: 5000)))
    }

    func arp(op: UInt16, sip: IPv4Address, tip: IPv4Address, to dst: MACAddress = T.hostMAC1, tha: MACAddress = T.hostMAC1) -> [UInt8] {
        var a = T.arpRequest(sip: sip, tip: tip)
        a[7] = UInt8(op)
        if op == 2 { for i in 0..<6 { a[18 + i] = UInt8(truncatingIfNeeded: tha.value >> UInt64((5 - i) * 8)) } }
        return T.eth(dst, type: 0x0806, a)
    }

    func kinds(_ r: FrameResult?) -> [String] { (r?.replies ?? []).map { $0.kindName + "@" + $0.interface }.sorted() }

    func testAForwardWaitsForARPAndLeavesWhenTheReplyArrives() {
        let out = run(router(), [("eth0", udpTo(Self.peer1, id: 11), 0),
                                 ("eth1", arp(op: 2, sip: Self.peer1, tip: IPv4Address(198, 51, 100, 1)), 300)])
        let f1 = out[1]!, f2 = out[2]!
        XCTAssertEqual(kinds(f1), ["arp_request@eth1"], "the DUT asks for the next hop")
        XCTAssertEqual(f1.fate, .forwarded, "released by frame 2")
        XCTAssertEqual(f1.egress, "eth1")
        XCTAssertTrue(f1.stages.contains { $0.stage == .neighResolveOutput && $0.verdict == .hold })
        XCTAssertTrue(f1.trace.contains { $0.stage == .neighUpdate && $0.detail.contains("frame 2") })
        XCTAssertEqual(f2.fate, .delivered)
        XCTAssertTrue(f2.trace.contains { $0.stage == .neighUpdate && $0.detail.contains("INCOMPLETE → REACHABLE") }, "\(f2.trace)")
    }

    func testAResolvedNextHopIsForwardedAtOnce() {
        let ns = router([NeighEntry(address: .v4(Self.peer1), dev: 2, lladdr: T.peerMAC, state: "REACHABLE")])
        let r = run(ns, [("eth0", udpTo(Self.peer1, id: 1), 0)])[1]!
        XCTAssertEqual(r.fate, .forwarded)
        XCTAssertEqual(r.replies.count, 0)
        XCTAssertFalse(r.stages.contains { $0.stage == .neighResolveOutput })
    }

    func testAStaleEntryIsUsedAndStartsTheDelayCheck() {
        let ns = router([NeighEntry(address: .v4(Self.peer1), dev: 2, lladdr: T.peerMAC, state: "STALE")])
        let r = run(ns, [("eth0", udpTo(Self.peer1, id: 1), 0)])[1]!
        XCTAssertEqual(r.fate, .forwarded)
        XCTAssertTrue(r.replies.isEmpty)
        XCTAssertTrue(r.trace.contains { $0.stage == .neighResolveOutput && $0.detail.contains("DELAY") })
    }

    func testWithoutANeighbourTableResolutionIsNotModelled() {
        var ns = router()
        ns.neighboursKnown = false
        let r = run(ns, [("eth0", udpTo(Self.peer1, id: 1), 0)])[1]!
        XCTAssertEqual(r.fate, .forwarded)
        XCTAssertTrue(r.replies.isEmpty)
    }

    func testAnUnansweredNextHopFailsAfterThreeProbesWithHostUnreachable() {
        let out = run(router(), [("eth0", udpTo(Self.peer1, id: 11), 0),
                                 ("eth0", udpTo(IPv4Address(198, 51, 100, 61), id: 12), 4000)])
        let f1 = out[1]!
        XCTAssertEqual(f1.fate, .dropped)
        XCTAssertEqual(f1.dropReason, .neighFailed)
        XCTAssertEqual(f1.dropStage, .neighTimerHandler)
        XCTAssertEqual(kinds(f1), ["arp_request@eth1", "arp_request@eth1", "arp_request@eth1", "icmp@eth0"])
        XCTAssertTrue(f1.replies.contains { $0.kind == .icmp(type: 3, code: 1) })
    }

    func testTheProbesHaveNotRunOutBeforeThreeRetransmitIntervals() {
        let out = run(router(), [("eth0", udpTo(Self.peer1, id: 11), 0),
                                 ("eth0", udpTo(IPv4Address(198, 51, 100, 61), id: 12), 2900)])
        // Still waiting at 2.9 s; the input ends, so it stays queued: neither dropped nor sent.
        XCTAssertEqual(out[1]?.fate, .delivered)
        XCTAssertEqual(kinds(out[1]), ["arp_request@eth1"])
        XCTAssertTrue(out[1]!.trace.contains { $0.detail.contains("still queued") })
    }

    func testAFailedEntryStartsANewResolution() {
        let ns = router([NeighEntry(address: .v4(Self.peer1), dev: 2, lladdr: nil, state: "FAILED")])
        let r = run(ns, [("eth0", udpTo(Self.peer1, id: 1), 0)])[1]!
        XCTAssertEqual(kinds(r), ["arp_request@eth1"])
    }

    func testNoProbesConfiguredDropsAtOnce() {
        let r = run(router(parms: { $0.mcastSolicit = 0 }), [("eth0", udpTo(Self.peer1, id: 1), 0)])[1]!
        XCTAssertEqual(r.fate, .dropped)
        XCTAssertEqual(r.dropReason, .neighFailed)
        XCTAssertTrue(r.replies.isEmpty)
    }

    func testAFullQueueDropsTheOldestPacket() {
        // Room for one packet only: the second evicts the first (NEIGH_QUEUEFULL).
        let out = run(router(parms: { $0.unresQlenBytes = 1 }), [("eth0", udpTo(Self.peer1, id: 1), 0),
                                                                ("eth0", udpTo(Self.peer1, id: 2), 100)])
        XCTAssertEqual(out[1]?.fate, .dropped)
        XCTAssertEqual(out[1]?.dropReason, .neighQueuefull)
        XCTAssertEqual(kinds(out[1]), ["arp_request@eth1"])
        XCTAssertEqual(kinds(out[2]), [], "no second ARP request while INCOMPLETE")
        XCTAssertEqual(out[2]?.fate, .delivered, "still queued at the end of the input")
    }

    func testAnEchoReplyWaitsAndTheAskersARPRequestReleasesIt() {
        let host = IPv4Address(198, 51, 100, 51)
        let ping = T.eth(T.hostMAC1, type: 0x0800, T.ipv4(src: host, dst: IPv4Address(198, 51, 100, 1), proto: 1, T.icmpEcho()))
        let out = run(router(), [("eth1", ping, 0),
                                 ("eth1", arp(op: 1, sip: host, tip: IPv4Address(198, 51, 100, 1), to: .broadcast), 300)])
        XCTAssertEqual(out[1]?.fate, .delivered)
        XCTAssertEqual(kinds(out[1]), ["arp_request@eth1"], "the echo reply waits")
        XCTAssertEqual(kinds(out[2]), ["arp_reply@eth1", "icmp@eth1"], "the ARP reply and the released echo reply")
        XCTAssertTrue(out[1]!.trace.contains { $0.stage == .neighUpdate && $0.detail.contains("frame 2") })
    }

    func testGratuitousARPCreatesAnEntryOnlyWithArpAccept() {
        let host = IPv4Address(198, 51, 100, 52)
        let garp = arp(op: 1, sip: host, tip: host, to: .broadcast)
        let ping = T.eth(T.hostMAC1, type: 0x0800, T.ipv4(src: host, dst: IPv4Address(198, 51, 100, 1), proto: 1, T.icmpEcho()))
        var off = router()
        XCTAssertEqual(kinds(run(off, [("eth1", garp, 0), ("eth1", ping, 100)])[2]), ["arp_request@eth1"])
        off.devices[2].conf4.arpAccept = 1
        XCTAssertEqual(kinds(run(off, [("eth1", garp, 0), ("eth1", ping, 100)])[2]), ["icmp@eth1"])
    }

    func testAStaleEntryProbesAfterTheDelayAndFailsWithoutAnAnswer() {
        // STALE → DELAY on use; 5 s later PROBE (3 unicast probes, 1 s apart); FAILED at 8 s.
        // The next packet then starts a new resolution (queued, broadcast ARP request).
        let ns = router([NeighEntry(address: .v4(Self.peer1), dev: 2, lladdr: T.peerMAC, state: "STALE")])
        let out = run(ns, [("eth0", udpTo(Self.peer1, id: 1), 0), ("eth0", udpTo(Self.peer1, id: 2), 6000),
                           ("eth0", udpTo(Self.peer1, id: 3), 9000)])
        XCTAssertEqual(out[1]?.fate, .forwarded)
        XCTAssertEqual(out[2]?.fate, .forwarded, "PROBE still sends with the old address")
        XCTAssertTrue(out[2]!.replies.isEmpty)
        XCTAssertEqual(kinds(out[3]), ["arp_request@eth1"])
        XCTAssertEqual(out[3]?.fate, .delivered, "queued at the end of the input")
    }

    func testTheTableIsBoundedAndCreationFailsWhenNothingCanBeCollected() {
        // 1030 unresolved next hops within one second: every entry holds a packet, so forced
        // GC frees nothing and the entries past gc_thresh3 cannot be created.
        var frames: [(String, [UInt8], Int64)] = []
        for i in 0..<1030 {
            let dst = IPv6Address(high: 0x2001_0db8_0001_0000, low: UInt64(0x1000 + i))
            frames.append(("eth0", udp6To(dst), 0))
        }
        let out = run(router(), frames)
        XCTAssertEqual(out.count, 1030)
        let failed = out.values.filter { $0.dropReason == .neighCreatefail }.count
        XCTAssertEqual(failed, 1030 - NeighTable.gcThresh3 + 2, "entries for the two permanent neighbours count too")
        XCTAssertEqual(out[1]?.fate, .delivered)
    }

    // MARK: IPv6

    func na(target: IPv6Address, solicited: Bool, lladdr: MACAddress?, dst: IPv6Address) -> [UInt8] {
        var body: [UInt8] = [136, 0, 0, 0, (solicited ? 0x40 : 0) | 0x20, 0, 0, 0] + T.v6bytes(target)
        if let l = lladdr { body += [2, 1] + (0..<6).map { UInt8(truncatingIfNeeded: l.value >> UInt64((5 - $0) * 8)) } }
        let m = T.icmpv6(src: target, dst: dst, body)
        return T.eth(T.hostMAC1, type: 0x86DD, T.ipv6(src: target, dst: dst, nh: 58, hop: 255, m))
    }

    func udp6To(_ dst: IPv6Address) -> [UInt8] {
        T.eth(type: 0x86DD, T.ipv6(dst: dst, nh: 17, [0x30, 0x39, 0x13, 0x88, 0, 8, 0, 0]))
    }

    func testAnIPv6ForwardWaitsForNDAndASolicitedAdvertisementReleasesIt() {
        let target = IPv6Address("2001:db8:1::50")!
        let out = run(router(), [("eth0", udp6To(target), 0),
                                 ("eth1", na(target: target, solicited: true, lladdr: T.peerMAC, dst: IPv6Address("2001:db8:1::1")!), 300)])
        XCTAssertEqual(kinds(out[1]), ["nd_neighbour_solicit@eth1"])
        XCTAssertEqual(out[1]?.replies.first?.destination, .v6(IPv6Address("ff02::1:ff00:50")!), "to the solicited-node group")
        XCTAssertEqual(out[1]?.fate, .forwarded)
        XCTAssertEqual(out[1]?.egress, "eth1")
        XCTAssertEqual(out[2]?.fate, .delivered)
    }

    func testAnUnansweredIPv6NextHopFailsWithAddressUnreachable() {
        let out = run(router(), [("eth0", udp6To(IPv6Address("2001:db8:1::60")!), 0),
                                 ("eth0", udp6To(IPv6Address("2001:db8:1::61")!), 4000)])
        XCTAssertEqual(out[1]?.fate, .dropped)
        XCTAssertEqual(out[1]?.dropReason, .notSpecified, "6.18 frees it without a reason")
        XCTAssertEqual(kinds(out[1]), ["icmpv6@eth0", "nd_neighbour_solicit@eth1", "nd_neighbour_solicit@eth1", "nd_neighbour_solicit@eth1"])
        XCTAssertTrue(out[1]!.replies.contains { $0.kind == .icmpv6(type: 1, code: 3) })
    }

    func testAnUnsolicitedAdvertisementForAnUnknownTargetCreatesNothing() {
        let target = IPv6Address("2001:db8:1::70")!
        let out = run(router(), [("eth1", na(target: target, solicited: false, lladdr: T.peerMAC, dst: IPv6Address("2001:db8:1::1")!), 0),
                                 ("eth0", udp6To(target), 300)])
        XCTAssertEqual(out[1]?.fate, .dropped)
        XCTAssertEqual(out[1]?.dropReason, .notSpecified)
        XCTAssertEqual(kinds(out[2]), ["nd_neighbour_solicit@eth1"], "no entry was created")
    }
}
