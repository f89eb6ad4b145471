import XCTest
import RxrayDecode
@testable import RxrayStack

/// TCP close states, TIME_WAIT, and the receive-path rules fixed against the second batch of
/// recorded scenarios (GRO window word, segment routing headers, DAD, unjoined multicast).
final class CloseStateTests: XCTestCase {
    func ns() -> Netns {
        var n = T.netns()
        n.devices[1].groEnabled = false
        n.sockets.append(ListeningSocket(proto: .tcp, address: nil, isIPv6: false, port: 80, backlog: 16))
        return n
    }

    func run(_ n: Netns, _ frames: [[UInt8]], tcp: TCPOptions = TCPOptions(), spacingNs: Int64 = 200_000_000) -> [FrameResult] {
        let a = Analyzer(netns: n, options: Analyzer.Options(tcp: tcp))
        var out: [FrameResult] = []
        for (i, f) in frames.enumerated() {
            f.withUnsafeBytes { buf in
                a.process(FrameInput(index: i + 1, timestampNs: 1_704_067_200_000_000_000 + Int64(i) * spacingNs, bytes: buf,
                                     linkType: .ethernet, interfaceName: "eth0")) { out.append($0) }
            }
        }
        a.finish { out.append($0) }
        return out
    }

    /// Peer ISN 1000, our ISN 4999 (learnt from the third ACK).
    func seg(_ flags: UInt8, seq: UInt32, ack: UInt32 = 0, payload: Int = 0) -> [UInt8] {
        Seg.tcp(sport: 40000, dport: 80, flags: flags, seq: seq, ack: ack, payload: payload)
    }
    var handshake: [[UInt8]] { [seg(0x02, seq: 1000), seg(0x10, seq: 1001, ack: 5000)] }
    let closing = TCPOptions(acceptingPorts: [80: true], closingPorts: [80])

    func testClosingApplicationSendsFINThenTimeWait() {
        let rs = run(ns(), handshake + [
            seg(0x10, seq: 1001, ack: 5001),               // ACK of our FIN: FIN_WAIT2
            seg(0x11, seq: 1001, ack: 5001),               // the peer's FIN: TIME_WAIT
            seg(0x11, seq: 1001, ack: 5001),               // retransmitted FIN
            seg(0x18, seq: 1002, ack: 5001, payload: 10),  // data to TIME_WAIT
            seg(0x10, seq: 1002, ack: 5001),               // in-sequence pure ACK
        ], tcp: closing)
        XCTAssertEqual(rs[1].fate, .delivered)
        XCTAssertEqual(rs[1].replies.map(\.kind), [.tcpAck(challenge: false)], "the application's FIN")
        XCTAssertEqual(rs[1].moved(.tcpCurrEstab), 0)
        XCTAssertEqual(rs[2].fate, .delivered)
        XCTAssertTrue(rs[2].replies.isEmpty)
        for r in rs[3...5] {
            XCTAssertEqual(r.dropReason, .notSpecified)
            XCTAssertEqual(r.dropStage, .tcpV4Rcv, "TIME_WAIT segments are freed by tcp_v4_rcv")
            XCTAssertEqual(r.replies.map(\.kind), [.tcpAck(challenge: false)])
        }
        XCTAssertEqual(rs[6].dropReason, .notSpecified)
        XCTAssertTrue(rs[6].replies.isEmpty, "an in-sequence segment without data only restarts the timer")
    }

    func testWithoutTheApplicationModeTheFINsACKIsUnsentData() {
        let rs = run(ns(), handshake + [seg(0x10, seq: 1001, ack: 5001)])
        XCTAssertEqual(rs[2].dropReason, .tcpAckUnsentData)
    }

    func testDataAfterCloseIsReset() {
        let rs = run(ns(), handshake + [seg(0x10, seq: 1001, ack: 5001), seg(0x18, seq: 1001, ack: 5001, payload: 10)], tcp: closing)
        XCTAssertEqual(rs[3].dropReason, .notSpecified)
        XCTAssertEqual(rs[3].replies.map(\.kind), [.tcpRst], "FIN_WAIT2 (orphan): data is answered with RST")
        let unread = run(ns(), [seg(0x02, seq: 1000), seg(0x18, seq: 1001, ack: 5000, payload: 10)], tcp: closing)
        XCTAssertTrue(unread[1].replies.contains { $0.kind == .tcpRst }, "closing with unread data sends RST")
        XCTAssertEqual(unread[1].moved(.tcpExtTCPAbortOnClose), 1)
        let inFinWait1 = run(ns(), handshake + [seg(0x18, seq: 1001, ack: 5001, payload: 10)], tcp: closing)
        XCTAssertEqual(inFinWait1[2].dropReason, .tcpAbortOnData)
        XCTAssertEqual(inFinWait1[2].moved(.tcpExtTCPAbortOnData), 1)
    }

    func testCloseWaitFreesNewSegmentsSilently() {
        let rs = run(ns(), handshake + [
            seg(0x11, seq: 1001, ack: 5000),               // FIN: CLOSE_WAIT, ACK
            seg(0x18, seq: 1002, ack: 5000, payload: 10),  // data after the FIN
            seg(0x10, seq: 1002, ack: 5000),               // pure ACK
            seg(0x11, seq: 1001, ack: 5000),               // retransmitted FIN: old, D-SACK
        ])
        XCTAssertEqual(rs[2].replies.map(\.kind), [.tcpAck(challenge: false)])
        for r in rs[3...4] {
            XCTAssertEqual(r.dropReason, .notSpecified)
            XCTAssertEqual(r.dropStage, .tcpRcvStateProcess)
            XCTAssertTrue(r.replies.isEmpty)
        }
        XCTAssertEqual(rs[5].dropReason, .tcpOldData)
        XCTAssertEqual(rs[5].replies.map(\.kind), [.tcpAck(challenge: false)])
    }

    func testSimultaneousCloseGoesThroughClosing() {
        let rs = run(ns(), handshake + [seg(0x11, seq: 1001, ack: 5000), seg(0x10, seq: 1002, ack: 5001), seg(0x10, seq: 1002, ack: 5001)], tcp: closing)
        XCTAssertEqual(rs[2].replies.map(\.kind), [.tcpAck(challenge: false)], "FIN in FIN_WAIT1: CLOSING, ACK")
        XCTAssertEqual(rs[3].fate, .delivered, "our FIN acknowledged: TIME_WAIT")
        XCTAssertEqual(rs[4].dropStage, .tcpV4Rcv, "now a TIME_WAIT socket")
    }

    func testTimeWaitEndsAfterSixtySeconds() {
        var frames = handshake + [seg(0x10, seq: 1001, ack: 5001), seg(0x11, seq: 1001, ack: 5001)]
        frames += Array(repeating: seg(0x18, seq: 1002, ack: 5001, payload: 10), count: 1)
        let a = Analyzer(netns: ns(), options: Analyzer.Options(tcp: closing))
        var out: [FrameResult] = []
        let times: [Int64] = [0, 1, 2, 3, 64]
        for (i, f) in frames.enumerated() {
            f.withUnsafeBytes { buf in
                a.process(FrameInput(index: i + 1, timestampNs: 1_704_067_200_000_000_000 + times[i] * 1_000_000_000, bytes: buf,
                                     linkType: .ethernet, interfaceName: "eth0")) { out.append($0) }
            }
        }
        XCTAssertEqual(out[4].dropReason, .tcpFlags, "the TIME_WAIT socket is gone: the listener answers with RST")
        XCTAssertEqual(out[4].replies.map(\.kind), [.tcpRst])
    }

    func testGROFlushesOnAWindowChange() {
        var frames = Seg.burst()
        // Segment 3 advertises another window: tcp_gro_receive compares the whole flag word.
        var f = frames[3]
        f[48] = 0x02; f[49] = 0x58
        f[50] = 0; f[51] = 0
        let c = T.checksum(f, 34..<f.count, pseudo: Pseudo.v4(IPv4Address(192, 0, 2, 2), IPv4Address(192, 0, 2, 1), proto: 6, length: f.count - 34))
        f[50] = UInt8(c >> 8); f[51] = UInt8(c & 0xFF)
        frames[3] = f
        var n = T.netns()
        n.devices[1].groEnabled = true
        let rs = run(n, frames, spacingNs: 1_000)
        XCTAssertTrue(rs.contains { $0.gro?.flush == .window }, "\(rs.map { $0.gro?.flush })")
        XCTAssertEqual(rs.reduce(0) { $0 + $1.replies.filter { $0.kind == .tcpRst }.count }, 3, "three packets reach TCP")
    }

    /// IPv6 to us with a routing header (`type`, `left`, one 16-byte address) then no next header.
    func rthdr(type: UInt8, left: UInt8) -> [UInt8] {
        let rh: [UInt8] = [59, 2, type, left, 0, 0, 0, 0] + T.v6bytes(IPv6Address("2001:db8::99")!)
        return T.eth(type: 0x86DD, T.ipv6(nh: 43, rh))
    }

    func testSegmentRoutingHeaderIsFreedUnlessEnabled() {
        for left: UInt8 in [0, 1] {
            let r = T.one(T.netns(), rthdr(type: 4, left: left))
            XCTAssertEqual(r.dropReason, .notSpecified)
            XCTAssertTrue(r.replies.isEmpty, "seg6_enabled 0: freed silently")
            XCTAssertEqual(r.moved(.ip6InHdrErrors), 0)
        }
        var n = T.netns()
        n.devices[1].conf6.seg6Enabled = true
        let r = T.one(n, rthdr(type: 4, left: 1))
        XCTAssertEqual(r.replies.map(\.kind), [.icmpv6(type: 4, code: 0)], "one segment cannot have one left: parameter problem")
        XCTAssertEqual(r.moved(.ip6InHdrErrors), 1)
        let t0 = T.one(T.netns(), rthdr(type: 0, left: 1))
        XCTAssertEqual(t0.replies.map(\.kind), [.icmpv6(type: 4, code: 0)], "type 0 is unknown: parameter problem")
    }

    func testDADProbeForOurAddressIsAnsweredAndFreed() {
        let target = IPv6Address("2001:db8::1")!
        let group = IPv6Address("ff02::1:ff00:1")!
        let ns6 = T.icmpv6(src: .any, dst: group, [135, 0, 0, 0, 0, 0, 0, 0] + T.v6bytes(target))
        let r = T.one(T.netns(), T.eth(MACAddress(0x3333_FF00_0001), type: 0x86DD, T.ipv6(src: .any, dst: group, nh: 58, hop: 255, ns6)))
        XCTAssertEqual(r.replies.map(\.kind), [.icmpv6(type: 136, code: 0)])
        XCTAssertEqual(r.replies.first?.destination, .v6(IPv6Address("ff02::1")!))
        XCTAssertEqual(r.fate, .dropped)
        XCTAssertEqual(r.dropReason, .notSpecified)
        XCTAssertEqual(r.dropStage, .icmpv6Rcv)
    }

    func testUnjoinedMulticastGroupIsNotSpecified() {
        let r = T.one(T.netns(), T.eth(MACAddress(0x0100_5E01_0204), type: 0x0800,
                                      T.ipv4(dst: IPv4Address(239, 1, 2, 4), proto: 17, T.udp(dst: IPv4Address(239, 1, 2, 4), dport: 5005))))
        XCTAssertEqual(r.dropReason, .notSpecified)
        XCTAssertEqual(r.dropStage, .ipRouteInput)
    }
}
