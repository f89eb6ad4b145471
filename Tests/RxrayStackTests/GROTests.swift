import XCTest
import RxrayDecode
@testable import RxrayStack

/// Hand-built TCP segments for GRO and TCP tests.
enum Seg {
    /// An Ethernet/IPv4/TCP frame with valid checksums.
    static func tcp(sport: UInt16 = 33000, dport: UInt16 = 9000, flags: UInt8 = 0x10, seq: UInt32, ack: UInt32 = 777,
                    payload: Int = 100, id: UInt16 = 1, df: Bool = true, ttl: UInt8 = 64, tsval: UInt32? = nil,
                    src: IPv4Address = IPv4Address(192, 0, 2, 2), dst: IPv4Address = IPv4Address(192, 0, 2, 1)) -> [UInt8] {
        var opts: [UInt8] = []
        if let ts = tsval {
            opts = [1, 1, 8, 10, UInt8(ts >> 24), UInt8(ts >> 16 & 0xFF), UInt8(ts >> 8 & 0xFF), UInt8(ts & 0xFF), 0, 0, 0, 1]
        }
        let doff = 20 + opts.count
        var t: [UInt8] = [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF)]
        for v in [seq, ack] { t += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        t += [UInt8(doff / 4) << 4, flags, 0x01, 0xF6, 0, 0, 0, 0] + opts + [UInt8](repeating: UInt8(truncatingIfNeeded: seq), count: payload)
        let c = T.checksum(t, 0..<t.count, pseudo: Pseudo.v4(src, dst, proto: 6, length: t.count))
        t[16] = UInt8(c >> 8); t[17] = UInt8(c & 0xFF)
        return T.eth(type: 0x0800, T.ipv4(src: src, dst: dst, proto: 6, ttl: ttl, id: id, flags: df ? 0x4000 : 0, t))
    }

    /// Six 100-byte segments of one flow, `mod` applied to each (index, arguments).
    static func burst(_ mod: (Int, inout (flags: UInt8, seq: UInt32, id: UInt16, df: Bool, ttl: UInt8, tsval: UInt32?)) -> Void = { _, _ in }) -> [[UInt8]] {
        (0..<6).map { i in
            var a: (flags: UInt8, seq: UInt32, id: UInt16, df: Bool, ttl: UInt8, tsval: UInt32?) = (0x10, 10000 + UInt32(i) * 100, 100 + UInt16(i), true, 64, nil)
            mod(i, &a)
            return tcp(flags: a.flags, seq: a.seq, id: a.id, df: a.df, ttl: a.ttl, tsval: a.tsval)
        }
    }
}

final class GROTests: XCTestCase {
    /// eth0 with GRO on (a NIC).
    func ns(gro: Bool = true, virtual: Bool = false) -> Netns {
        var n = T.netns()
        n.devices[1].groEnabled = gro
        n.devices[1].isVirtual = virtual
        return n
    }

    func run(_ n: Netns, _ frames: [[UInt8]], spacingNs: Int64 = 1_000, options: Analyzer.Options = Analyzer.Options()) -> [FrameResult] {
        let a = Analyzer(netns: n, options: options)
        var out: [FrameResult] = []
        for (i, f) in frames.enumerated() {
            f.withUnsafeBytes { buf in
                a.process(FrameInput(index: i + 1, timestampNs: 1_704_067_200_000_000_000 + Int64(i) * spacingNs, bytes: buf,
                                     linkType: .ethernet, interfaceName: "eth0")) { out.append($0) }
            }
        }
        a.finish { out.append($0) }
        XCTAssertEqual(out.map(\.frame), Array(1...frames.count), "one result per frame, in capture order")
        return out
    }

    func rsts(_ rs: [FrameResult]) -> Int { rs.reduce(0) { $0 + $1.replies.filter { $0.kind == .tcpRst }.count } }

    func testContiguousSegmentsMergeIntoOneSuperPacket() {
        let rs = run(ns(), Seg.burst())
        XCTAssertEqual(rs[0].gro?.action, .held)
        for r in rs[1...] {
            XCTAssertEqual(r.gro?.action, .merged)
            XCTAssertEqual(r.gro?.packet, 1)
        }
        XCTAssertEqual(rs[5].gro?.segments, 6)
        XCTAssertEqual(rs[5].gro?.flush, .pollEnd)
        XCTAssertTrue(rs.allSatisfy { $0.fate == .dropped && $0.dropReason == .noSocket }, "members share the fate")
        XCTAssertEqual(rsts(rs), 1)
        XCTAssertEqual(rs[5].replies.count, 1, "replies go to the last member")
        XCTAssertEqual(rs.reduce(0) { $0 + $1.moved(.tcpInSegs) }, 1)
        XCTAssertEqual(rs.reduce(0) { $0 + $1.moved(.ipExtInNoECTPkts) }, 6, "ECN counters add gso_segs")
        XCTAssertEqual(rs.reduce(0) { $0 + $1.moved(.ipExtInOctets) }, 640)
    }

    func testPSHFlushesAfterTheSegment() {
        let rs = run(ns(), Seg.burst { i, a in if i == 1 { a.flags = 0x18 } })
        XCTAssertEqual(rs[1].gro?.action, .merged)
        XCTAssertEqual(rs[1].gro?.flush, .psh)
        XCTAssertEqual(rs[1].gro?.segments, 2)
        XCTAssertEqual(rs[2].gro?.action, .held)
        XCTAssertEqual(rs[5].gro?.packet, 3)
        XCTAssertEqual(rs[5].gro?.segments, 4)
        XCTAssertEqual(rsts(rs), 2)
    }

    func testSequenceGapStartsANewPacket() {
        let rs = run(ns(), Seg.burst { i, a in if i >= 3 { a.seq += 50 } })
        XCTAssertEqual(rs[2].gro?.flush, .seqGap)
        XCTAssertEqual(rs[3].gro?.action, .held)
        XCTAssertEqual(rsts(rs), 2)
    }

    func testTTLChangeCompletesTheHeldPacket() {
        let rs = run(ns(), Seg.burst { i, a in if i >= 3 { a.ttl = 63 } })
        XCTAssertEqual(rs[0].gro?.flush, .ttl)
        XCTAssertEqual(rs[0].gro?.segments, 3)
        XCTAssertEqual(rs[3].gro?.action, .held)
    }

    func testFixedIDWithoutDFMergesOn618() {
        let rs = run(ns(), Seg.burst { _, a in a.id = 500; a.df = false })
        XCTAssertEqual(rs[5].gro?.segments, 6)
        XCTAssertEqual(rsts(rs), 1)
    }

    func testRandomIDsDoNotMerge() {
        let ids: [UInt16] = [9, 4000, 77, 31000, 5, 1234]
        let rs = run(ns(), Seg.burst { i, a in a.id = ids[i] })
        XCTAssertEqual(rs[0].gro?.flush, .ipID)
        XCTAssertEqual(rsts(rs), 6)
    }

    func testDistinctTimestampsDefeatGRO() {
        let rs = run(ns(), Seg.burst { i, a in a.tsval = 1000 + UInt32(i) })
        XCTAssertEqual(rs[0].gro?.flush, .options)
        XCTAssertEqual(rsts(rs), 6)
        let same = run(ns(), Seg.burst { _, a in a.tsval = 1000 })
        XCTAssertEqual(rsts(same), 1, "identical timestamps merge")
    }

    func testCWRSegmentStaysAlone() {
        let rs = run(ns(), Seg.burst { i, a in if i == 2 { a.flags = 0x90 } })
        XCTAssertEqual(rs[1].gro?.flush, .cwr)
        XCTAssertEqual(rs[2].gro?.action, .normal, "the CWR segment goes up alone")
        XCTAssertEqual(rs[2].gro?.flush, .cwr)
        XCTAssertEqual(rs[5].gro?.packet, 4)
        XCTAssertEqual(rs[5].gro?.segments, 3)
        XCTAssertEqual(rsts(rs), 3)
    }

    func testShortFirstSegmentSetsGSOSize() {
        var frames = Seg.burst()
        frames[0] = Seg.tcp(seq: 9950, payload: 50, id: 100)
        let rs = run(ns(), frames)
        XCTAssertEqual(rs[0].gro?.flush, .overMSS)
        XCTAssertEqual(rs[0].gro?.segments, 1)
        XCTAssertEqual(rs[5].gro?.segments, 5)
    }

    func testGROOffPassesEveryFrameUp() {
        let rs = run(ns(gro: false), Seg.burst())
        XCTAssertTrue(rs.allSatisfy { $0.gro?.action == .off })
        XCTAssertEqual(rsts(rs), 6)
    }

    func testSeparatePollsFlushAtPollEnd() {
        let rs = run(ns(), Seg.burst(), spacingNs: 1_000_000)
        XCTAssertTrue(rs.allSatisfy { $0.gro?.action == .held && $0.gro?.flush == .pollEnd && $0.gro?.segments == 1 })
        XCTAssertEqual(rsts(rs), 6)
    }

    /// With results emitted as they settle (`EmitOrder.settled`), every frame's result comes out
    /// once and equals its result in capture order; the held frames a round settles come out in
    /// frame order.
    func testSettledOrderEmitsEachHeldFrameOnceInFrameOrder() {
        // Four interleaved flows, some segments with PSH: their holds end in different rounds,
        // several in one round at a poll's end.
        var frames: [[UInt8]] = []
        for i in 0..<40 {
            let flow = UInt16(i % 4), k = UInt32(i / 4)
            frames.append(Seg.tcp(sport: 33000 + flow, flags: i % 7 == 3 ? 0x18 : 0x10, seq: 10000 + k * 100, id: UInt16(100 + k)))
        }
        let spacing: Int64 = 20_000
        let inOrder = run(ns(), frames, spacingNs: spacing)
        let a = Analyzer(netns: ns(), options: Analyzer.Options(order: .settled))
        var byFrame: [Int: FrameResult] = [:]
        var rounds: [[Int]] = []
        func take(_ r: FrameResult, _ round: inout [Int]) {
            XCTAssertNil(byFrame[r.frame], "frame \(r.frame) emitted twice")
            byFrame[r.frame] = r
            round.append(r.frame)
        }
        for (i, f) in frames.enumerated() {
            var round: [Int] = []
            f.withUnsafeBytes { buf in
                a.process(FrameInput(index: i + 1, timestampNs: 1_704_067_200_000_000_000 + Int64(i) * spacing, bytes: buf,
                                     linkType: .ethernet, interfaceName: "eth0")) { take($0, &round) }
            }
            // The frame's own result comes first when it was not held (else it settles with the others).
            let held = round.first == i + 1 ? Array(round.dropFirst()) : round
            XCTAssertEqual(held, held.sorted(), "round of frame \(i + 1)")
            rounds.append(round)
        }
        var last: [Int] = []
        a.finish { take($0, &last) }
        XCTAssertEqual(last, last.sorted())
        XCTAssertEqual(byFrame.count, frames.count)
        XCTAssertTrue(rounds.contains { $0.filter { $0 > 0 }.count >= 3 }, "a round settles several held frames")
        for r in inOrder {
            guard let s = byFrame[r.frame] else { XCTFail("frame \(r.frame) not emitted"); continue }
            XCTAssertEqual(s.fate, r.fate, "frame \(r.frame)")
            XCTAssertEqual(s.dropReason, r.dropReason, "frame \(r.frame)")
            XCTAssertEqual(s.trace, r.trace, "frame \(r.frame)")
            XCTAssertEqual(s.counters.map { "\($0.0)=\($0.1)" }, r.counters.map { "\($0.0)=\($0.1)" }, "frame \(r.frame)")
            XCTAssertEqual(s.gro?.segments, r.gro?.segments, "frame \(r.frame)")
        }
    }

    /// Each completion's counters and replies land on its own packet's last frame, over many
    /// completions in many rounds (the results GRO runs packets in are reused every round, and
    /// their counters and replies move to the frame that carries them): what a result held
    /// when it was emitted is what it holds at the end, and no frame carries another's.
    func testEachCompletionAccountsOnItsOwnLastFrameAndKeepsIt() {
        var frames: [[UInt8]] = []
        for i in 0..<48 {
            let flow = UInt16(i % 4), k = UInt32(i / 4)
            frames.append(Seg.tcp(sport: 33000 + flow, flags: i % 5 == 2 ? 0x18 : 0x10, seq: 10000 + k * 100, id: UInt16(100 + k)))
        }
        func describe(_ r: FrameResult) -> String {
            "\(r.frame) \(r.fate) \(r.counters.map { "\($0.0)=\($0.1)" }) \(r.replies.map(\.kindName)) \(r.stages.map(\.stage))"
        }
        for order in [EmitOrder.capture, .settled] {
            let a = Analyzer(netns: ns(), options: Analyzer.Options(order: order))
            var out: [FrameResult] = []
            var atEmit: [String] = []
            for (i, f) in frames.enumerated() {
                f.withUnsafeBytes { buf in
                    a.process(FrameInput(index: i + 1, timestampNs: 1_704_067_200_000_000_000 + Int64(i) * 20_000, bytes: buf,
                                         linkType: .ethernet, interfaceName: "eth0")) { out.append($0); atEmit.append(describe($0)) }
                }
            }
            a.finish { out.append($0); atEmit.append(describe($0)) }
            XCTAssertEqual(out.map(describe), atEmit, "\(order)")
            out.sort { $0.frame < $1.frame }
            XCTAssertEqual(out.map(\.frame), Array(1...frames.count))
            var members: [Int: [Int]] = [:]
            for r in out {
                if let g = r.gro, g.action == .held || g.action == .merged { members[g.packet, default: []].append(r.frame) }
            }
            XCTAssertGreaterThan(members.count, 8, "several completions")
            for (packet, fs) in members {
                let last = fs.max() ?? packet
                for f in fs {
                    let r = out[f - 1]
                    XCTAssertEqual(r.replies.map(\.kind), f == last ? [.tcpRst] : [], "\(order) frame \(f) of \(packet)")
                    XCTAssertEqual(r.moved(.tcpInSegs), f == last ? 1 : 0, "\(order) frame \(f) of \(packet)")
                    XCTAssertEqual(r.moved(.ipExtInNoECTPkts), f == last ? fs.count : 0, "\(order) frame \(f) of \(packet)")
                    XCTAssertEqual(r.dropReason, .noSocket, "\(order) frame \(f)")
                }
            }
        }
    }

    func testNinthFlowInABucketCompletesTheOldest() {
        // veth frames carry no hash: every flow lands in bucket 0.
        let frames = (0..<9).map { Seg.tcp(sport: 40000 + UInt16($0), seq: 1, id: UInt16($0)) }
        let rs = run(ns(virtual: true), frames)
        XCTAssertEqual(rs[0].gro?.flush, .bucketFull)
        XCTAssertEqual(rs[1].gro?.flush, .pollEnd)
    }

    func testBudgetEndsAPollButKeepsThisJiffysPackets() {
        var o = Analyzer.Options()
        o.napi.budget = 2
        let rs = run(ns(), Seg.burst(), options: o)
        XCTAssertEqual(rs[5].gro?.segments, 6, "a full poll flushes only packets from an earlier jiffy")
    }

    func testHostCaptureReportsGROApplied() {
        let rs = run(ns(), [Seg.tcp(seq: 1, payload: 3000)], options: Analyzer.Options(capturePoint: .host))
        XCTAssertEqual(rs[0].gro?.action, .applied)
        XCTAssertEqual(rs[0].dropReason, .noSocket, "a super-packet longer than the MTU is accepted")
    }

    func testPureACKGoesUpAlone() {
        let rs = run(ns(), [Seg.tcp(seq: 1, payload: 0)])
        XCTAssertEqual(rs[0].gro?.action, .normal)
        XCTAssertEqual(rs[0].gro?.flush, .noPayload)
    }

    func testBadChecksumGoesUpAloneAndTCPDropsIt() {
        var f = Seg.tcp(seq: 1)
        f[14 + 20 + 16] ^= 0xFF
        let rs = run(ns(), [f])
        XCTAssertEqual(rs[0].gro?.flush, .checksum)
        XCTAssertEqual(rs[0].dropReason, .tcpCsum)
    }

    func testRSSSpreadsFlowsOverQueues() {
        var n = ns()
        n.devices[1].rxQueues = 4
        let frames = (0..<32).map { Seg.tcp(sport: 41000 + UInt16($0), seq: 1, payload: 0) }
        let rs = run(n, frames)
        let queues = Set(rs.compactMap { $0.gro?.queue })
        XCTAssertGreaterThan(queues.count, 1)
        XCTAssertTrue(queues.isSubset(of: [0, 1, 2, 3]))
    }
}
