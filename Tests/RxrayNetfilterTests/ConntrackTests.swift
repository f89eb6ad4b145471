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

    func testTransitionCodesAreTheTransitionTable() {
        for dir in 0..<2 {
            for idx in 0..<6 {
                for old in 0..<10 { XCTAssertEqual(tcpTransition(dir, idx, old), tcpTable[dir][idx][old], "\(dir) \(idx) \(old)") }
            }
        }
    }

    func testTrackWindowStatesSitAtOffsetZero() {
        // The window check reads the two direction states through the track's own pointer.
        XCTAssertEqual(TCPTrack.seenOffset, 0)
    }

    /// The options a segment carries, scanned byte by byte as the tracker always did: window
    /// scale (SYN), SACK-permitted, the highest SACK block edge.
    private func referenceOptions(_ b: [UInt8], thoff o: Int) -> (wscale: UInt8?, sackPerm: Bool, sackMax: UInt32?) {
        func u32(_ i: Int) -> UInt32 { UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3]) }
        var ws: UInt8? = nil, sp = false, sm: UInt32? = nil
        let doff = Int(b[o + 12] >> 4) * 4
        var i = o + 20
        let end = min(o + doff, b.count)
        while i < end {
            let kind = b[i]
            if kind == 0 { break }
            if kind == 1 { i += 1; continue }
            guard i + 1 < end else { break }
            let len = Int(b[i + 1])
            guard len >= 2, i + len <= end else { break }
            switch kind {
            case 3 where len == 3: ws = min(b[i + 2], 14)
            case 4 where len == 2: sp = true
            case 5 where len >= 10:
                var j = i + 2
                while j + 8 <= i + len {
                    let right = u32(j + 4)
                    if sm == nil || Int32(bitPattern: sm! &- right) < 0 { sm = right }
                    j += 8
                }
            default: break
            }
            i += len
        }
        return (ws, sp, sm)
    }

    func testSegmentReadsTheSameOptionsWhateverTheirLayoutAndCapturedLength() {
        let table = ConntrackTable(config: CTConfig())
        let ts: [UInt8] = [8, 10, 0, 0, 0, 1, 0, 0, 0, 2]
        var layouts: [[UInt8]] = [
            [],
            [1, 1] + ts,                                                   // the usual: NOP NOP timestamps
            [1, 1] + ts + [1, 1, 5, 10, 0, 0, 0, 5, 0, 0, 0, 9],           // timestamps and a SACK block
            [2, 4, 5, 180, 4, 2] + ts + [1, 3, 3, 7],                      // a SYN's MSS, SACK-permitted, timestamps, scale
            [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 3, 3, 20, 0, 0, 0, 0], // the usual prefix, then more
            [1, 1, 8, 9, 0, 0, 0, 1, 0, 0, 0, 2],                          // not quite the usual: bad length
            [1, 1, 4, 2], [3, 3, 20, 0], [0, 1, 1, 1], [1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 4],
        ]
        var rng = LCG(s: 77)
        for _ in 0..<200 {
            // Random option bytes, biased towards the kinds the tracker reads.
            var o: [UInt8] = []
            let n = rng.below(11) * 4
            while o.count < n {
                switch rng.below(6) {
                case 0: o.append(1)
                case 1: o += [3, 3, UInt8(rng.below(20))]
                case 2: o += [4, 2]
                case 3: o += [5, UInt8(2 + 8 * rng.below(3))] + (0..<8).map { _ in UInt8(rng.below(256)) }
                case 4: o += ts
                default: o.append(UInt8(rng.below(256)))
                }
            }
            layouts.append(Array(o.prefix(n)))
        }
        for (k, opts) in layouts.enumerated() {
            var tcp = Pkt.tcp(sport: 1000, dport: 80, flags: fACK, seq: 5, ack: 9) + opts
            while tcp.count % 4 != 0 { tcp.append(0) }
            tcp[12] = UInt8(tcp.count / 4) << 4
            let bytes = Pkt.v4(src: peer, dst: me, proto: 6, l4: tcp + [1, 2, 3])
            // Every capture that holds the 20-byte header, up to the whole packet.
            for cut in 40...bytes.count {
                let prefix = Array(bytes.prefix(cut))
                prefix.withUnsafeBytes { buf in
                    let p = NFPacket(family: .ipv4, hook: .prerouting, bytes: buf, length: bytes.count)
                    let s = table.segment(p)
                    let want = referenceOptions(prefix, thoff: 20)
                    XCTAssertEqual(s.wscale, want.wscale, "layout \(k) cut \(cut)")
                    XCTAssertEqual(s.sackPerm, want.sackPerm, "layout \(k) cut \(cut)")
                    XCTAssertEqual(s.sackMax, want.sackMax, "layout \(k) cut \(cut)")
                    XCTAssertEqual(s.seq, 5); XCTAssertEqual(s.ack, 9); XCTAssertEqual(s.win, 8192); XCTAssertEqual(s.flags, fACK)
                    XCTAssertEqual(s.dataLen, 3)
                }
            }
        }
    }

    func testRefreshTimeIsWhenTheTrackerLastArmedTheTimeout() throws {
        let rig = Rig(try NetfilterEngine(host: testHost(nft: ctRules)))
        let t0 = rig.time
        let slot = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5007, dport: 80, flags: fSYN, seq: 100)), hooks: local).state.ct.slot
        XCTAssertEqual(rig.engine.conntrack.entry(slot)?.refreshedNs, t0 + 1_000_000)
        // A SYN retransmitted in SYN_SENT leaves the timeout, and so the refresh time, alone.
        _ = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5007, dport: 80, flags: fSYN, seq: 100)), hooks: local)
        XCTAssertEqual(rig.engine.conntrack.entry(slot)?.refreshedNs, t0 + 1_000_000)
        _ = rig.run(Pkt.v4(src: me, dst: peer, proto: 6, l4: Pkt.tcp(sport: 80, dport: 5007, flags: fSYN | fACK, seq: 900, ack: 101)), hooks: [.output, .postrouting])
        let e = try XCTUnwrap(rig.engine.conntrack.entry(slot))
        XCTAssertEqual(e.refreshedNs, t0 + 3_000_000)
        XCTAssertEqual(e.timeoutAt - e.refreshedNs, 60_000_000_000)
    }
}
