import XCTest
import RxrayDecode
import RxrayHost
@testable import RxrayNetfilter

final class ConntrackTests: XCTestCase {
    let local: [NFHookPoint] = [.prerouting, .input]
    let ctRules = """
    table inet filter {
    \tchain input {
    \t\ttype filter hook input priority filter; policy accept;
    \t\tct state invalid drop
    \t\tct state established,related accept
    \t\ttcp dport 80 ct state new accept
    \t}
    }
    """

    func testMidStreamAckIsInvalidWithoutLoosePickup() throws {
        let rig = Rig(try NetfilterEngine(host: testHost(nft: ctRules, sysctls: ["net.netfilter.nf_conntrack_tcp_loose": "0"])))
        let out = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5001, dport: 80, flags: fACK, seq: 1000, ack: 2000)), hooks: local)
        XCTAssertEqual(out.verdict, .drop)
        XCTAssertEqual(out.state.ct.stateBit, 1)
        XCTAssertNotNil(out.state.ct.invalidReason)
        XCTAssertEqual(rig.engine.conntrack.count, 0)
    }

    func testMidStreamAckIsNewWithLoosePickup() throws {
        let rig = Rig(try NetfilterEngine(host: testHost(nft: ctRules)))
        let out = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5001, dport: 80, flags: fACK, seq: 1000, ack: 2000)), hooks: local)
        XCTAssertEqual(out.state.ct.info, .new)
        let e = try XCTUnwrap(rig.engine.conntrack.entry(out.state.ct.slot))
        XCTAssertEqual(e.tcpState, .established)
    }

    func testSynFinIsInvalidTcpFlagCombination() throws {
        let rig = Rig(try NetfilterEngine(host: testHost(nft: ctRules)))
        let out = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5002, dport: 80, flags: fSYN | fFIN)), hooks: local)
        XCTAssertEqual(out.verdict, .drop)
        XCTAssertEqual(out.state.ct.invalidReason.map { "\($0)" }, "invalid tcp flag combination")
    }

    func testHandshakeMovesThroughStatesAndBecomesAssured() throws {
        let rig = Rig(try NetfilterEngine(host: testHost(nft: ctRules)))
        let syn = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5003, dport: 80, flags: fSYN, seq: 100)), hooks: local)
        XCTAssertEqual(syn.verdict, .accept)
        XCTAssertEqual(syn.state.ct.info, .new)
        let slot = syn.state.ct.slot
        XCTAssertEqual(rig.engine.conntrack.entry(slot)?.tcpState, .synSent)
        // The SYN-ACK goes out (OUTPUT + POSTROUTING): the reply direction.
        let sa = rig.run(Pkt.v4(src: me, dst: peer, proto: 6, l4: Pkt.tcp(sport: 80, dport: 5003, flags: fSYN | fACK, seq: 900, ack: 101)), hooks: [.output, .postrouting])
        XCTAssertEqual(sa.state.ct.info, .establishedReply)
        XCTAssertEqual(rig.engine.conntrack.entry(slot)?.tcpState, .synRecv)
        let ack = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5003, dport: 80, flags: fACK, seq: 101, ack: 901)), hooks: local)
        XCTAssertEqual(ack.state.ct.info, .established)
        let e = try XCTUnwrap(rig.engine.conntrack.entry(slot))
        XCTAssertEqual(e.tcpState, .established)
        XCTAssertNotEqual(e.status & CTStatus.assured, 0)
        // Data far beyond the window is INVALID with the window check's reason.
        let far = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5003, dport: 80, flags: fACK, seq: 101 &+ 5_000_000, ack: 901)), hooks: local)
        XCTAssertEqual(far.verdict, .drop)
        XCTAssertTrue("\(far.state.ct.invalidReason!)".hasPrefix("SEQ is over the upper bound"))
    }

    func testHostSynAckWithUnknownISNIsLearntFromThePeersAck() throws {
        let rig = Rig(try NetfilterEngine(host: testHost(nft: ctRules)))
        let slot = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5004, dport: 80, flags: fSYN, seq: 100)), hooks: local).state.ct.slot
        // The host's SYN-ACK: its ISN (really 77000) is not in a receive capture.
        _ = rig.run(Pkt.v4(src: me, dst: peer, proto: 6, l4: Pkt.tcp(sport: 80, dport: 5004, flags: fSYN | fACK, seq: 0, ack: 101)),
                    hooks: [.output, .postrouting], localSeqUnknown: true)
        XCTAssertEqual(rig.engine.conntrack.entry(slot)?.tcpState, .synRecv)
        let ack = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5004, dport: 80, flags: fACK, seq: 101, ack: 77001)), hooks: local)
        XCTAssertEqual(ack.verdict, .accept)
        XCTAssertEqual(rig.engine.conntrack.entry(slot)?.tcpState, .established)
        // From then on the learnt ISN holds: an ACK of data the host never sent is invalid.
        let beyond = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5004, dport: 80, flags: fACK, seq: 101, ack: 77001 &+ 500_000)), hooks: local)
        XCTAssertEqual(beyond.verdict, .drop)
        XCTAssertTrue("\(beyond.state.ct.invalidReason!)".hasPrefix("ACK is over the upper bound"))
    }

    func testSameAckWithoutTheUnknownISNMarkIsInvalid() throws {
        let rig = Rig(try NetfilterEngine(host: testHost(nft: ctRules)))
        _ = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5005, dport: 80, flags: fSYN, seq: 100)), hooks: local)
        _ = rig.run(Pkt.v4(src: me, dst: peer, proto: 6, l4: Pkt.tcp(sport: 80, dport: 5005, flags: fSYN | fACK, seq: 0, ack: 101)), hooks: [.output, .postrouting])
        let ack = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5005, dport: 80, flags: fACK, seq: 101, ack: 77001)), hooks: local)
        XCTAssertEqual(ack.verdict, .drop)
    }

    func testHostResetToAnUnansweredSynKillsTheConnection() throws {
        let rig = Rig(try NetfilterEngine(host: testHost(nft: ctRules)))
        _ = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5006, dport: 81, flags: fSYN, seq: 100)), hooks: local)
        XCTAssertEqual(rig.engine.conntrack.count, 1)
        // No socket: the host answers RST+ACK; the only reply being a reset, conntrack forgets it.
        let rst = rig.run(Pkt.v4(src: me, dst: peer, proto: 6, l4: Pkt.tcp(sport: 81, dport: 5006, flags: fRST | fACK, seq: 0, ack: 101)), hooks: [.output, .postrouting])
        XCTAssertEqual(rst.state.ct.info, .establishedReply)
        XCTAssertEqual(rig.engine.conntrack.count, 0)
    }

    func testFirstUdpReplyIsNotYetAStream() throws {
        let rig = Rig(try NetfilterEngine(host: testHost(nft: ctRules)))
        let q = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 4000, dport: 53)), hooks: local)
        let slot = q.state.ct.slot
        // The answer, 3 s later: SEEN_REPLY is set after the tracker, which still saw an
        // unreplied flow (no ASSURED, the unreplied timeout).
        _ = rig.run(Pkt.v4(src: me, dst: peer, proto: 17, l4: Pkt.udp(sport: 53, dport: 4000)), hooks: [.output, .postrouting], step: 3_000_000_000)
        var e = try XCTUnwrap(rig.engine.conntrack.entry(slot))
        XCTAssertNotEqual(e.status & CTStatus.seenReply, 0)
        XCTAssertEqual(e.status & CTStatus.assured, 0)
        XCTAssertEqual(e.timeoutAt - e.refreshedNs, 30_000_000_000)
        // The next packet finds a replied flow older than 2 s: a stream, ASSURED, 120 s.
        _ = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 4000, dport: 53)), hooks: local)
        e = try XCTUnwrap(rig.engine.conntrack.entry(slot))
        XCTAssertNotEqual(e.status & CTStatus.assured, 0)
        XCTAssertEqual(e.timeoutAt - e.refreshedNs, 120_000_000_000)
        XCTAssertEqual(ConntrackTable.listLine(e, timeout: 120),
                       "udp 17 120 src=192.0.2.2 dst=192.0.2.1 sport=4000 dport=53 src=192.0.2.1 dst=192.0.2.2 sport=53 dport=4000 [ASSURED] mark=0 use=1")
    }

    func testEchoReplyWithoutRequestIsInvalidAndIcmpErrorIsRelated() throws {
        let rig = Rig(try NetfilterEngine(host: testHost(nft: ctRules)))
        XCTAssertEqual(rig.run(Pkt.v4(src: peer, dst: me, proto: 1, l4: Pkt.icmp(type: 0)), hooks: local).verdict, .drop)
        // A UDP flow goes out; the peer answers with port unreachable quoting it.
        let udpOut = Pkt.v4(src: me, dst: peer, proto: 17, l4: Pkt.udp(sport: 4000, dport: 7))
        _ = rig.run(udpOut, hooks: [.output, .postrouting])
        let err = Pkt.v4(src: peer, dst: me, proto: 1, l4: Pkt.icmp(type: 3, code: 3, id: 0, seq: 0, rest: Array(udpOut.prefix(28))))
        let out = rig.run(err, hooks: local)
        XCTAssertEqual(out.state.ct.stateBit, 4)
        XCTAssertEqual(out.verdict, .accept)
    }

    func testUnconfirmedConnectionDiesWithItsDroppedPacket() throws {
        let nft = """
        table ip filter {
        \tchain input {
        \t\ttype filter hook input priority filter; policy drop;
        \t\tct state new udp dport 1 accept
        \t}
        }
        """
        let rig = Rig(try NetfilterEngine(host: testHost(nft: nft)))
        _ = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 9, dport: 2)), hooks: local)
        XCTAssertEqual(rig.engine.conntrack.count, 0)
        _ = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 9, dport: 1)), hooks: local)
        XCTAssertEqual(rig.engine.conntrack.count, 1)
    }

    func testTableFullEarlyDropsUnassuredThenDrops() throws {
        let nft = "table ip filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tct state new accept\n\t}\n}\n"
        let rig = Rig(try NetfilterEngine(host: testHost(nft: nft, sysctls: ["net.netfilter.nf_conntrack_max": "2"])))
        for port in 1...3 { XCTAssertEqual(rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 9, dport: UInt16(port))), hooks: local).verdict, .accept) }
        XCTAssertEqual(rig.engine.conntrack.count, 2)
        XCTAssertEqual(rig.engine.conntrack.stats["early_drop"], 1)
    }

    func testStartingTableMakesRepliesEstablished() throws {
        let e = ConntrackEntry(protoName: "udp", protoNumber: 17, timeout: 30,
                               original: ConntrackTuple(src: IPAddress("192.0.2.1")!, dst: IPAddress("192.0.2.2")!, sport: 53, dport: 4444),
                               reply: ConntrackTuple(src: IPAddress("192.0.2.2")!, dst: IPAddress("192.0.2.1")!, sport: 4444, dport: 53), status: ["UNREPLIED"])
        let rig = Rig(try NetfilterEngine(host: testHost(nft: ctRules, conntrack: [e])))
        let out = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 4444, dport: 53)), hooks: local)
        XCTAssertEqual(out.state.ct.info, .establishedReply)
    }
}
