import XCTest
import RxrayDecode
@testable import RxrayStack

final class TCPTests: XCTestCase {
    /// A host with a TCP listener on port 80 (backlog `backlog`), GRO off so segments reach
    /// TCP one by one.
    func ns(backlog: Int = 16, syncookies: Int = 1) -> Netns {
        var n = T.netns()
        n.devices[1].groEnabled = false
        n.sockets.append(ListeningSocket(proto: .tcp, address: nil, isIPv6: false, port: 80, backlog: backlog))
        n.sysctl.tcpSyncookies = syncookies
        return n
    }

    func seg(_ flags: UInt8, seq: UInt32, ack: UInt32 = 0, payload: Int = 0, sport: UInt16 = 40000, tsval: UInt32? = nil) -> [UInt8] {
        Seg.tcp(sport: sport, dport: 80, flags: flags, seq: seq, ack: ack, payload: payload, tsval: tsval)
    }

    /// SYN, third ACK (our ISN taken as 4999).
    func handshake(sport: UInt16 = 40000) -> [[UInt8]] {
        [seg(0x02, seq: 1000, sport: sport), seg(0x10, seq: 1001, ack: 5000, sport: sport)]
    }

    func kinds(_ r: FrameResult) -> [String] { r.replies.map(\.kindName) }

    func testHandshakeCreatesAChildInTheAcceptQueue() {
        let rs = T.run(ns(), handshake() + [seg(0x18, seq: 1001, ack: 5000, payload: 10)])
        XCTAssertEqual(kinds(rs[0]), ["tcp_synack"])
        XCTAssertEqual(rs[0].moved(.tcpPassiveOpens), 0, "PassiveOpens moves when the child is created")
        XCTAssertEqual(rs[1].fate, .delivered)
        XCTAssertEqual(rs[1].moved(.tcpPassiveOpens), 1)
        XCTAssertEqual(rs[2].fate, .delivered)
        XCTAssertEqual(kinds(rs[2]), ["tcp_ack"], "quick-ACK mode at the start of a connection")
    }

    func testThirdACKOverflowingTheAcceptQueueIsDropped() {
        // Backlog 0: one child fits (full means more than the backlog), the second overflows.
        let rs = T.run(ns(backlog: 0), handshake(sport: 40001) + [seg(0x02, seq: 1000, sport: 40002), seg(0x10, seq: 1001, ack: 5000, sport: 40002)])
        XCTAssertEqual(rs[1].fate, .delivered)
        XCTAssertEqual(rs[2].fate, .dropped, "accept queue 1 > backlog 0: the SYN is refused")
        XCTAssertEqual(rs[2].moved(.tcpExtListenOverflows), 1)
        XCTAssertEqual(rs[3].dropReason, .tcpFlags, "no request socket: the ACK meets the listener and gets a RST")
    }

    func testSynQueueOverflowSendsCookiesOrDrops() {
        let syns = (0..<3).map { seg(0x02, seq: 1000 * UInt32($0 + 1), sport: 41000 + UInt16($0)) }
        let cookies = T.run(ns(backlog: 1, syncookies: 1), syns)
        XCTAssertEqual(cookies[2].moved(.tcpExtSyncookiesSent), 1)
        XCTAssertEqual(cookies[2].moved(.tcpExtTCPReqQFullDoCookies), 1)
        XCTAssertEqual(cookies[1].moved(.tcpExtSyncookiesSent), 0)
        let none = T.run(ns(backlog: 1, syncookies: 0), syns)
        XCTAssertEqual(none[2].fate, .dropped)
        XCTAssertTrue(none[2].replies.isEmpty)
        XCTAssertEqual(none[2].moved(.tcpExtTCPReqQFullDrop), 1)
        XCTAssertEqual(none[2].moved(.tcpExtListenDrops), 1)
    }

    func testCookieACKCreatesAChild() {
        let rs = T.run(ns(syncookies: 2), handshake())
        XCTAssertEqual(rs[0].replies.first?.kind, .tcpSynAck(cookie: true))
        XCTAssertEqual(rs[1].moved(.tcpExtSyncookiesRecv), 1)
        XCTAssertEqual(rs[1].fate, .delivered)
    }

    func testSYNOnAnEstablishedConnectionIsChallenged() {
        let rs = T.run(ns(), handshake() + [seg(0x02, seq: 777)])
        XCTAssertEqual(rs[2].dropReason, .tcpInvalidSyn)
        XCTAssertEqual(rs[2].moved(.tcpExtTCPSYNChallenge), 1)
        XCTAssertEqual(rs[2].moved(.tcpInErrs), 1)
        XCTAssertEqual(rs[2].replies.first?.kind, .tcpAck(challenge: true))
    }

    func testExactRSTResetsInexactRSTIsChallenged() {
        let inexact = T.run(ns(), handshake() + [seg(0x04, seq: 1100)])
        XCTAssertEqual(inexact[2].dropReason, .tcpReset)
        XCTAssertEqual(inexact[2].replies.first?.kind, .tcpAck(challenge: true))
        let exact = T.run(ns(), handshake() + [seg(0x04, seq: 1001), seg(0x18, seq: 1001, ack: 5000, payload: 5)])
        XCTAssertEqual(exact[2].moved(.tcpEstabResets), 1)
        XCTAssertTrue(exact[2].replies.isEmpty)
        XCTAssertEqual(kinds(exact[3]), ["tcp_rst"], "after the reset the next data meets the listener")
    }

    func testOutOfWindowAndDuplicateData() {
        let rs = T.run(ns(), handshake() + [seg(0x10, seq: 1001 + 1_000_000, ack: 5000, payload: 10),
                                            seg(0x10, seq: 1001, ack: 5000, payload: 10),
                                            seg(0x10, seq: 1001, ack: 5000, payload: 10)])
        XCTAssertEqual(rs[2].dropReason, .tcpInvalidSequence)
        XCTAssertEqual(rs[2].moved(.tcpExtBeyondWindow), 1)
        XCTAssertEqual(kinds(rs[2]), ["tcp_ack"])
        XCTAssertEqual(rs[3].fate, .delivered)
        XCTAssertEqual(rs[4].dropReason, .tcpOldData)
        XCTAssertEqual(rs[4].moved(.tcpExtDelayedACKLost), 1)
    }

    func testPAWSRejectsAnOldTimestamp() {
        let rs = T.run(ns(), [seg(0x02, seq: 1000, tsval: 500), seg(0x10, seq: 1001, ack: 5000, tsval: 600),
                              seg(0x18, seq: 1001, ack: 5000, payload: 5, tsval: 100)])
        XCTAssertEqual(rs[2].dropReason, .tcpRfc7323Paws)
        XCTAssertEqual(rs[2].moved(.tcpExtPAWSEstab), 1)
    }

    func testACKOfUnsentDataIsChallengedOn618() {
        let rs = T.run(ns(), handshake() + [seg(0x10, seq: 1001, ack: 9000)])
        XCTAssertEqual(rs[2].dropReason, .tcpAckUnsentData)
        XCTAssertEqual(rs[2].replies.first?.kind, .tcpAck(challenge: true))
    }

    func testFINMovesToCloseWaitAndIsAcked() {
        let rs = T.run(ns(), handshake() + [seg(0x11, seq: 1001, ack: 5000)])
        XCTAssertEqual(rs[2].fate, .delivered)
        XCTAssertEqual(kinds(rs[2]), ["tcp_ack"])
    }

    func testMidStreamPickupIsOptional() {
        let frames = [seg(0x18, seq: 5555, ack: 9999, payload: 10)]
        XCTAssertEqual(T.run(ns(), frames)[0].dropReason, .tcpFlags, "by default the snapshot is complete: RST")
        var o = Analyzer.Options()
        o.tcp.pickUpMidStream = true
        let a = Analyzer(netns: ns(), options: o)
        var out: [FrameResult] = []
        frames[0].withUnsafeBytes { buf in
            a.process(FrameInput(index: 1, timestampNs: 1, bytes: buf, linkType: .ethernet, interfaceName: "eth0")) { out.append($0) }
        }
        a.finish { out.append($0) }
        XCTAssertEqual(out[0].fate, .delivered, "picked up mid-stream: data at rcv_nxt is queued")
        XCTAssertTrue(out[0].trace.contains { $0.detail.contains("mid-stream") })
    }
}
