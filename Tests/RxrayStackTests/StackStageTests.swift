import XCTest
import RxrayDecode
@testable import RxrayStack

final class LinkTests: XCTestCase {
    func testEchoToOurMACIsAnswered() {
        let r = T.one(T.netns(), T.eth(type: 0x0800, T.ipv4(proto: 1, T.icmpEcho())))
        XCTAssertEqual(r.fate, .delivered)
        XCTAssertEqual(r.replies.map(\.kind), [.icmp(type: 0, code: 0)])
        XCTAssertEqual(r.replies.first?.interface, "eth0")
        XCTAssertEqual(r.moved(.ipInReceives), 1)
        XCTAssertEqual(r.moved(.icmpInEchos), 1)
    }

    func testForeignUnicastMACIsOtherhostWithNoIPCounter() {
        let r = T.one(T.netns(), T.eth(MACAddress(0x0200_0000_0099), type: 0x0800, T.ipv4(proto: 1, T.icmpEcho())))
        XCTAssertEqual(r.dropReason, .otherhost)
        XCTAssertEqual(r.dropStage, .ipRcvCore)
        XCTAssertTrue(r.counters.isEmpty)
    }

    func testUnknownEtherTypeIsUnhandledProto() {
        let r = T.one(T.netns(), T.eth(type: 0x88B5, [1, 2, 3, 4]))
        XCTAssertEqual(r.dropReason, .unhandledProto)
        XCTAssertEqual(r.dropStage, .netifReceiveSkbCore)
    }

    func testVLANWithoutDeviceBecomesOtherhost() {
        let r = T.one(T.netns(), T.eth(type: 0x8100, [0, 5, 0x08, 0x00] + T.ipv4(proto: 1, T.icmpEcho())))
        XCTAssertEqual(r.dropReason, .otherhost)
    }

    func testVLANDeviceReceivesTaggedFrame() {
        var ns = T.netns()
        var v = NetDevice(ifindex: 9, name: "eth0.5", kind: .vlan(parent: 1, vid: 5, proto: 0x8100), mac: T.hostMAC0)
        v.v4 = [IfAddr4(IPv4Address(203, 0, 113, 1), 24)]
        ns.devices.append(v)
        ns.routes4.removeAll { $0.table == FibTableID.local }
        ns.addAddressRoutesIfMissing()
        let frame = T.eth(type: 0x8100, [0, 5, 0x08, 0x00] + T.ipv4(src: IPv4Address(203, 0, 113, 2), dst: IPv4Address(203, 0, 113, 1), proto: 1, T.icmpEcho()))
        let r = T.one(ns, frame)
        XCTAssertEqual(r.fate, .delivered, "\(r.trace.map(\.detail))")
        XCTAssertEqual(r.replies.first?.interface, "eth0.5")
    }

    func testEveryPrefixOfAFrameIsHandledWithoutTrapping() {
        let frames = [T.eth(type: 0x0800, T.ipv4(proto: 17, T.udp(dport: 53))),
                      T.eth(type: 0x86DD, T.ipv6(nh: 58, T.icmpv6(src: IPv6Address("2001:db8::2")!, dst: IPv6Address("2001:db8::1")!, [128, 0, 0, 0, 0, 1, 0, 1]))),
                      T.eth(MACAddress.broadcast, type: 0x0806, T.arpRequest(sip: IPv4Address(192, 0, 2, 2), tip: IPv4Address(192, 0, 2, 1)))]
        for f in frames {
            for n in 0...f.count {
                let r = T.one(T.netns(), Array(f.prefix(n)))
                XCTAssertEqual(r.frame, 1)
            }
        }
    }
}

final class IPRcvCoreTests: XCTestCase {
    func testBadHeaderChecksumMovesCsumAndHdrErrors() {
        var ip = T.ipv4(proto: 1, T.icmpEcho())
        ip[10] ^= 0xFF
        let r = T.one(T.netns(), T.eth(type: 0x0800, ip))
        XCTAssertEqual(r.dropReason, .ipCsum)
        XCTAssertEqual(r.moved(.ipExtInCsumErrors), 1)
        XCTAssertEqual(r.moved(.ipInHdrErrors), 1)
    }

    func testTotalLengthBeyondFrameIsTruncated() {
        var ip = T.ipv4(proto: 1, T.icmpEcho())
        ip[3] = ip[3] &+ 40
        let c = T.checksum(Array(ip[0..<20]).enumerated().map { $0.offset == 10 || $0.offset == 11 ? 0 : $0.element }, 0..<20)
        ip[10] = UInt8(c >> 8); ip[11] = UInt8(c & 0xFF)
        let r = T.one(T.netns(), T.eth(type: 0x0800, ip))
        XCTAssertEqual(r.dropReason, .pktTooSmall)
        XCTAssertEqual(r.moved(.ipExtInTruncatedPkts), 1)
        XCTAssertEqual(r.moved(.ipInHdrErrors), 0)
    }

    func testEthernetPaddingIsTrimmed() {
        let r = T.one(T.netns(), T.eth(type: 0x0800, T.ipv4(proto: 1, T.icmpEcho()) + [0, 0, 0, 0, 0, 0]))
        XCTAssertEqual(r.fate, .delivered)
    }

    func testVersionSixInIPv4FrameIsInhdr() {
        var ip = T.ipv4(proto: 1, T.icmpEcho())
        ip[0] = 0x65
        let r = T.one(T.netns(), T.eth(type: 0x0800, ip))
        XCTAssertEqual(r.dropReason, .ipInhdr)
        XCTAssertEqual(r.moved(.ipExtInNoECTPkts), 0)
    }
}

final class RouteInputTests: XCTestCase {
    func frame(src: IPv4Address, dst: IPv4Address, proto: UInt8 = 1, ttl: UInt8 = 64) -> [UInt8] {
        T.eth(type: 0x0800, T.ipv4(src: src, dst: dst, proto: proto, ttl: ttl, proto == 1 ? T.icmpEcho() : T.udp(src: src, dst: dst, dport: 9)))
    }

    func testMartians() {
        let ns = T.netns()
        XCTAssertEqual(T.one(ns, frame(src: IPv4Address(0), dst: IPv4Address(192, 0, 2, 1))).dropReason, .ipInvalidSource)
        XCTAssertEqual(T.one(ns, frame(src: IPv4Address(224, 0, 0, 5), dst: IPv4Address(192, 0, 2, 1))).dropReason, .ipInvalidSource)
        XCTAssertEqual(T.one(ns, frame(src: IPv4Address(127, 0, 0, 5), dst: IPv4Address(192, 0, 2, 1))).dropReason, .ipLocalnet)
        XCTAssertEqual(T.one(ns, frame(src: IPv4Address(192, 0, 2, 2), dst: IPv4Address(127, 0, 0, 1))).dropReason, .ipLocalnet)
        XCTAssertEqual(T.one(ns, frame(src: IPv4Address(198, 51, 100, 1), dst: IPv4Address(192, 0, 2, 1))).dropReason, .ipLocalSource)
    }

    func testForwardingOffMakesEveryForeignDestinationAnAddressError() {
        let r = T.one(T.netns(), frame(src: IPv4Address(192, 0, 2, 2), dst: IPv4Address(203, 0, 113, 9)))
        XCTAssertEqual(r.dropReason, .ipInaddrerrors)
        XCTAssertEqual(r.dropStage, .ipError)
        XCTAssertEqual(r.moved(.ipInAddrErrors), 1)
        XCTAssertTrue(r.replies.isEmpty)
    }

    func testForwardingOnWithoutRouteSendsNetUnreachable() {
        var ns = T.netns(forwarding: true)
        ns.routes4.removeAll { $0.length == 0 }
        let r = T.one(ns, frame(src: IPv4Address(192, 0, 2, 2), dst: IPv4Address(203, 0, 113, 9)))
        XCTAssertEqual(r.dropReason, .ipInnoroutes)
        XCTAssertEqual(r.replies.map(\.kind), [.icmp(type: 3, code: 0)])
    }

    func testRouteTypesWithForwarding() {
        for (type, reason, reply) in [(RTNType.blackhole, DropReason.notSpecified, nil as Reply.Kind?),
                                      (.unreachable, .notSpecified, .icmp(type: 3, code: 1)),
                                      (.prohibit, .notSpecified, .icmp(type: 3, code: 13))] {
            var ns = T.netns(forwarding: true)
            ns.routes4.append(Route4(type: type, prefix: IPv4Address(203, 0, 113, 0), length: 24))
            let r = T.one(ns, frame(src: IPv4Address(192, 0, 2, 2), dst: IPv4Address(203, 0, 113, 9)))
            XCTAssertEqual(r.dropReason, reason, "\(type)")
            XCTAssertEqual(r.replies.map(\.kind), reply.map { [$0] } ?? [], "\(type)")
        }
    }

    func testThrowFallsThroughToNetUnreachable() {
        var ns = T.netns(forwarding: true)
        ns.routes4.append(Route4(type: .throw, prefix: IPv4Address(203, 0, 113, 0), length: 24))
        let r = T.one(ns, frame(src: IPv4Address(192, 0, 2, 2), dst: IPv4Address(203, 0, 113, 9)))
        XCTAssertEqual(r.dropReason, .ipInnoroutes)
        XCTAssertEqual(r.replies.map(\.kind), [.icmp(type: 3, code: 0)])
    }

    func testPolicyRuleSelectsTableBySource() {
        var ns = T.netns(forwarding: true)
        ns.rules4.insert(FibRule4(priority: 100, from: (IPv4Address(192, 0, 2, 2), 32), action: .table(100)), at: 1)
        ns.routes4.append(Route4(table: 100, prefix: IPv4Address(0), length: 0, dev: 2, gateway: IPv4Address(198, 51, 100, 254)))
        ns.neighbours.append(NeighEntry(address: .v4(IPv4Address(198, 51, 100, 254)), dev: 2, lladdr: MACAddress(0x0200_0000_0030), state: "PERMANENT"))
        let r = T.one(ns, frame(src: IPv4Address(192, 0, 2, 2), dst: IPv4Address(203, 0, 113, 9)))
        XCTAssertEqual(r.fate, .forwarded)
        XCTAssertEqual(r.egress, "eth1")
        XCTAssertEqual(r.nextHop, .v4(IPv4Address(198, 51, 100, 254)))
        let r2 = T.one(ns, frame(src: IPv4Address(192, 0, 2, 3), dst: IPv4Address(203, 0, 113, 9)))
        XCTAssertEqual(r2.egress, "eth0")
    }

    func testRuleProhibitSendsAdministrativelyProhibited() {
        var ns = T.netns(forwarding: true)
        ns.rules4.insert(FibRule4(priority: 50, to: (IPv4Address(203, 0, 113, 0), 24), action: .prohibit), at: 1)
        let r = T.one(ns, frame(src: IPv4Address(192, 0, 2, 2), dst: IPv4Address(203, 0, 113, 9)))
        XCTAssertEqual(r.replies.map(\.kind), [.icmp(type: 3, code: 13)])
    }

    func testStrictRPFilterDropsSourceRoutedElsewhereAndLooseAccepts() {
        let src = IPv4Address(198, 51, 100, 7)  // routed back via eth1, arrives on eth0
        let strict = T.one(T.netns(rpFilter: 1), frame(src: src, dst: IPv4Address(192, 0, 2, 1)))
        XCTAssertEqual(strict.dropReason, .ipRpfilter)
        XCTAssertEqual(strict.moved(.tcpExtIPReversePathFilter), 1)
        let loose = T.one(T.netns(rpFilter: 2), frame(src: src, dst: IPv4Address(192, 0, 2, 1)))
        XCTAssertEqual(loose.fate, .delivered)
        var noRoute = T.netns(rpFilter: 2)
        noRoute.routes4.removeAll { $0.length == 0 }
        XCTAssertEqual(T.one(noRoute, frame(src: IPv4Address(203, 0, 113, 5), dst: IPv4Address(192, 0, 2, 1))).dropReason, .ipRpfilter)
    }
}

final class ForwardTests: XCTestCase {
    func testTTLOneSendsTimeExceeded() {
        let r = T.one(T.netns(forwarding: true), T.eth(type: 0x0800, T.ipv4(dst: IPv4Address(198, 51, 100, 9), proto: 1, ttl: 1, T.icmpEcho())))
        XCTAssertEqual(r.dropReason, .ipInhdr)
        XCTAssertEqual(r.dropStage, .ipForward)
        XCTAssertEqual(r.replies.map(\.kind), [.icmp(type: 11, code: 0)])
    }

    func testDFOverMTUSendsFragNeededAndCountsForwDatagrams() {
        let big = [UInt8](repeating: 7, count: 1400)
        let r = T.one(T.netns(forwarding: true), T.eth(type: 0x0800, T.ipv4(dst: IPv4Address(198, 51, 100, 9), proto: 253, flags: 0x4000, big)))
        XCTAssertEqual(r.dropReason, .pktTooBig)
        XCTAssertEqual(r.replies.map(\.kind), [.icmp(type: 3, code: 4)])
        XCTAssertEqual(r.moved(.ipForwDatagrams), 1)
        XCTAssertEqual(r.moved(.ipFragFails), 1)
    }

    func testForwardedOutOtherInterface() {
        let r = T.one(T.netns(forwarding: true), T.eth(type: 0x0800, T.ipv4(dst: IPv4Address(198, 51, 100, 9), proto: 1, T.icmpEcho())))
        XCTAssertEqual(r.fate, .forwarded)
        XCTAssertEqual(r.egress, "eth1")
    }

    func testUnicastInL2BroadcastIsNotForwarded() {
        let r = T.one(T.netns(forwarding: true), T.eth(.broadcast, type: 0x0800, T.ipv4(dst: IPv4Address(198, 51, 100, 9), proto: 1, T.icmpEcho())))
        XCTAssertEqual(r.fate, .dropped)
        XCTAssertEqual(r.dropStage, .ipForward)
    }
}

final class LocalDeliveryTests: XCTestCase {
    func testUnknownProtocolSendsProtocolUnreachable() {
        let r = T.one(T.netns(), T.eth(type: 0x0800, T.ipv4(proto: 253, [1, 2, 3, 4])))
        XCTAssertEqual(r.dropReason, .ipNoproto)
        XCTAssertEqual(r.replies.map(\.kind), [.icmp(type: 3, code: 2)])
        XCTAssertEqual(r.moved(.ipInUnknownProtos), 1)
    }

    func testUDPClosedPortBurstIsRateLimitedToSixICMP() {
        let f = T.eth(type: 0x0800, T.ipv4(proto: 17, T.udp(dport: 9999)))
        let rs = T.run(T.netns(), Array(repeating: f, count: 10), spacingNs: 1000)
        XCTAssertEqual(rs.filter { $0.dropReason == .noSocket }.count, 10)
        XCTAssertEqual(rs.reduce(0) { $0 + $1.replies.count }, 6)
        XCTAssertEqual(rs.reduce(0) { $0 + $1.moved(.icmpOutRateLimitHost) }, 4)
    }

    func testUDPToBoundSocketIsDelivered() {
        var ns = T.netns()
        ns.sockets = [ListeningSocket(proto: .udp, address: nil, isIPv6: false, port: 53)]
        XCTAssertEqual(T.one(ns, T.eth(type: 0x0800, T.ipv4(proto: 17, T.udp(dport: 53)))).fate, .delivered)
    }

    func testTCPSynClosedPortGetsRSTAndListenerGetsSynAck() {
        var ns = T.netns()
        let closed = T.one(ns, T.eth(type: 0x0800, T.ipv4(proto: 6, T.tcp(dport: 80, flags: 0x02))))
        XCTAssertEqual(closed.dropReason, .noSocket)
        XCTAssertEqual(closed.replies.map(\.kind), [.tcpRst])
        ns.sockets = [ListeningSocket(proto: .tcp, address: nil, isIPv6: false, port: 80)]
        let open = T.one(ns, T.eth(type: 0x0800, T.ipv4(proto: 6, T.tcp(dport: 80, flags: 0x02))))
        XCTAssertEqual(open.fate, .delivered)
        XCTAssertEqual(open.replies.map(\.kind), [.tcpSynAck(cookie: false)])
    }

    func testBroadcastEchoIgnoredByDefault() {
        let r = T.one(T.netns(), T.eth(.broadcast, type: 0x0800, T.ipv4(dst: IPv4Address(192, 0, 2, 255), proto: 1, T.icmpEcho())))
        XCTAssertEqual(r.dropReason, .invalidProto)
    }
}

final class DefragTests: XCTestCase {
    func fragments(id: UInt16, _ parts: [(offset: Int, mf: Bool, len: Int)]) -> [[UInt8]] {
        parts.map { p in
            let flags = UInt16(p.offset / 8) | (p.mf ? 0x2000 : 0)
            return T.eth(type: 0x0800, T.ipv4(proto: 253, id: id, flags: flags, [UInt8](repeating: 1, count: p.len)))
        }
    }

    func testHeldFragmentsTakeTheDatagramsFate() {
        let rs = T.run(T.netns(), fragments(id: 7, [(0, true, 16), (16, false, 8)]))
        XCTAssertEqual(rs.map(\.frame), [1, 2])
        XCTAssertEqual(rs[1].dropReason, .ipNoproto)
        XCTAssertEqual(rs[0].dropReason, .ipNoproto, "held frame takes the datagram's fate")
        XCTAssertEqual(rs[1].replies.count, 1)
        XCTAssertEqual(rs[0].replies.count, 0)
        XCTAssertEqual(rs[1].moved(.ipReasmOKs), 1)
    }

    func testDuplicateFragmentIsDupFrag() {
        let rs = T.run(T.netns(), fragments(id: 8, [(0, true, 16), (0, true, 16), (16, false, 8)]))
        XCTAssertEqual(rs[1].dropReason, .dupFrag)
        XCTAssertEqual(rs[2].moved(.ipReasmOKs), 1)
    }

    func testOverlapDropsTheWholeQueue() {
        let rs = T.run(T.netns(), fragments(id: 9, [(0, true, 16), (8, true, 16), (24, false, 8)]))
        XCTAssertEqual(rs[0].fate, .dropped)
        XCTAssertEqual(rs[1].moved(.ipExtReasmOverlaps), 1)
        XCTAssertEqual(rs[1].moved(.ipReasmFails), 1)
    }

    func testIncompleteQueueTimesOutWithTimeExceeded() {
        let frames = fragments(id: 10, [(0, true, 16)]) + [T.eth(type: 0x0800, T.ipv4(proto: 1, T.icmpEcho()))]
        let rs = T.run(T.netns(), frames, spacingNs: 31_000_000_000)
        XCTAssertEqual(rs.map(\.frame), [1, 2])
        XCTAssertEqual(rs[0].dropReason, .fragReasmTimeout)
        XCTAssertEqual(rs[0].replies.map(\.kind), [.icmp(type: 11, code: 1)])
        XCTAssertEqual(rs[1].fate, .delivered)
    }

    func testResultsAreEmittedInCaptureOrderWhileAFragmentIsHeld() {
        let frames = [fragments(id: 11, [(0, true, 16)])[0], T.eth(type: 0x0800, T.ipv4(proto: 1, T.icmpEcho())),
                      fragments(id: 11, [(16, false, 8)])[0]]
        let rs = T.run(T.netns(), frames, finish: false)
        XCTAssertEqual(rs.map(\.frame), [1, 2, 3])
    }
}

final class ARPTests: XCTestCase {
    func testRequestForLocalAddressIsAnswered() {
        let r = T.one(T.netns(), T.eth(.broadcast, type: 0x0806, T.arpRequest(sip: IPv4Address(192, 0, 2, 2), tip: IPv4Address(192, 0, 2, 1))))
        XCTAssertEqual(r.fate, .delivered)
        XCTAssertEqual(r.replies.map(\.kind), [.arpReply])
    }

    func testArpIgnoreOneRefusesAddressOfAnotherInterface() {
        var ns = T.netns()
        let tip = IPv4Address(198, 51, 100, 1)
        XCTAssertEqual(T.one(ns, T.eth(.broadcast, type: 0x0806, T.arpRequest(sip: IPv4Address(192, 0, 2, 2), tip: tip))).replies.count, 1)
        ns.devices[1].conf4.arpIgnore = 1
        XCTAssertEqual(T.one(ns, T.eth(.broadcast, type: 0x0806, T.arpRequest(sip: IPv4Address(192, 0, 2, 2), tip: tip))).replies.count, 0)
    }

    func testRequestForForeignAddressIsConsumedSilently() {
        let r = T.one(T.netns(), T.eth(.broadcast, type: 0x0806, T.arpRequest(sip: IPv4Address(192, 0, 2, 2), tip: IPv4Address(192, 0, 2, 77))))
        XCTAssertEqual(r.fate, .delivered)
        XCTAssertTrue(r.replies.isEmpty)
    }
}

final class IPv6Tests: XCTestCase {
    let peer = IPv6Address("2001:db8::2")!
    let me = IPv6Address("2001:db8::1")!

    func testEchoRequestAnswered() {
        let r = T.one(T.netns(), T.eth(type: 0x86DD, T.ipv6(nh: 58, T.icmpv6(src: peer, dst: me, [128, 0, 0, 0, 0, 1, 0, 1]))))
        XCTAssertEqual(r.fate, .delivered)
        XCTAssertEqual(r.replies.map(\.kind), [.icmpv6(type: 129, code: 0)])
    }

    func testNeighbourSolicitationForOurAddressGetsAdvertisement() {
        let dst = me.solicitedNode
        let body: [UInt8] = [135, 0, 0, 0, 0, 0, 0, 0] + T.v6bytes(me)
        let r = T.one(T.netns(), T.eth(MACAddress(0x3333_FF00_0001), type: 0x86DD,
                                       T.ipv6(dst: dst, nh: 58, hop: 255, T.icmpv6(src: peer, dst: dst, body))))
        XCTAssertEqual(r.replies.map(\.kind), [.icmpv6(type: 136, code: 0)], "\(r.trace.map(\.detail))")
    }

    func testHopLimitOneForwardedIsTimeExceeded() {
        let dst = IPv6Address("2001:db8:1::9")!
        let r = T.one(T.netns(forwarding: true), T.eth(type: 0x86DD, T.ipv6(dst: dst, nh: 58, hop: 1, T.icmpv6(src: peer, dst: dst, [128, 0, 0, 0, 0, 1, 0, 1]))))
        XCTAssertEqual(r.dropReason, .ipInhdr)
        XCTAssertEqual(r.replies.map(\.kind), [.icmpv6(type: 3, code: 0)])
    }

    func testForwardingOffIsAddressError() {
        let dst = IPv6Address("2001:db8:1::9")!
        let r = T.one(T.netns(), T.eth(type: 0x86DD, T.ipv6(dst: dst, nh: 58, T.icmpv6(src: peer, dst: dst, [128, 0, 0, 0, 0, 1, 0, 1]))))
        XCTAssertEqual(r.dropReason, .ipInaddrerrors)
    }

    func testUnknownNextHeaderIsParameterProblem() {
        let r = T.one(T.netns(), T.eth(type: 0x86DD, T.ipv6(nh: 253, [0, 0, 0, 0, 0, 0, 0, 0])))
        XCTAssertEqual(r.dropReason, .ipNoproto)
        XCTAssertEqual(r.replies.map(\.kind), [.icmpv6(type: 4, code: 1)])
    }
}
