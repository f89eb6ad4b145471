import XCTest
import RxrayDecode
@testable import RxrayStack

/// Per-peer state (ICMP rate-limit buckets, redirect back-off, syncookies) stays bounded by
/// the peers of the last idle limit, and sweeping it never changes an answer.
final class StateBoundTests: XCTestCase {
    /// Runs `frames` (time offset in ns from the start, bytes) through one analyzer after
    /// `setup`, returning the results and the analyzer.
    func run(_ ns: Netns, _ frames: [(Int64, [UInt8])], setup: (Kernel) -> Void = { _ in }) -> ([FrameResult], Analyzer) {
        let a = Analyzer(netns: ns)
        setup(a.kernel)
        var out: [FrameResult] = []
        for (i, (t, f)) in frames.enumerated() {
            f.withUnsafeBytes { buf in
                let input = FrameInput(index: i + 1, timestampNs: 1_700_000_000_000_000_000 + t, bytes: buf,
                                       linkType: .ethernet, interfaceName: "eth0")
                a.process(input) { out.append($0) }
            }
        }
        a.finish { out.append($0) }
        return (out, a)
    }

    /// Sweeps from 16 entries instead of 4096, so a few hundred peers exercise them.
    func smallSweeps(_ k: Kernel) {
        k.sweepFloor = 16
        k.peersSweepAt = 16
        k.redirectsSweepAt = 16
        k.tcpState.cookiesSweepAt = 16
    }

    /// No sweeps at all: the reference the swept runs must agree with.
    func noSweeps(_ k: Kernel) {
        k.sweepFloor = .max
        k.peersSweepAt = .max
        k.redirectsSweepAt = .max
        k.tcpState.cookiesSweepAt = .max
    }

    func src(_ i: Int) -> IPv4Address { IPv4Address(10, UInt8(i >> 16 & 0xFF), UInt8(i >> 8 & 0xFF), UInt8(i & 0xFF)) }

    /// A datagram from `src(i)` to a closed port on 192.0.2.1: answered by port unreachable,
    /// rate-limited per source.
    func closedPort(_ i: Int) -> [UInt8] {
        T.eth(type: 0x0800, T.ipv4(src: src(i), proto: 17, T.udp(src: src(i), dport: 9999)))
    }

    func replies(_ rs: [FrameResult]) -> [[String]] { rs.map { $0.replies.map(\.kindName) } }
    func counters(_ rs: [FrameResult]) -> [[String]] { rs.map { $0.counters.map { "\($0.0)=\($0.1)" } } }

    func testRateLimitBucketsAreSweptWithoutChangingAnyAnswer() {
        // 300 sources, each sending 8 datagrams 1 ms apart (6 answered, 2 over the per-host
        // limit), 100 ms between sources; round 1 comes 40 s after round 0 (buckets still
        // live), round 2 200 s later (buckets idle past the limit: swept and made anew).
        var frames: [(Int64, [UInt8])] = []
        for (round, start) in [Int64(0), 40_000_000_000, 240_000_000_000].enumerated() {
            _ = round
            for s in 0..<300 {
                for k in 0..<8 { frames.append((start + Int64(s) * 100_000_000 + Int64(k) * 1_000_000, closedPort(s))) }
            }
        }
        let (swept, a) = run(T.netns(), frames, setup: smallSweeps)
        let (kept, b) = run(T.netns(), frames, setup: noSweeps)
        XCTAssertEqual(replies(swept), replies(kept))
        XCTAssertEqual(counters(swept), counters(kept))
        XCTAssertEqual(swept.reduce(0) { $0 + $1.moved(.icmpOutRateLimitHost) }, 3 * 300 * 2, "2 of every 8 are over the per-host limit")
        XCTAssertEqual(b.kernel.peers.count, 300)
        XCTAssertLessThanOrEqual(a.kernel.peers.count, 300)
        XCTAssertGreaterThan(a.kernel.peersSweepAt, 16, "the sweep threshold follows the live entries")
    }

    func testRateLimitBucketsStayBoundedByThePeersOfTheLastMinute() {
        // 3,000 sources, one datagram each, 100 ms apart (300 s): about 600 are within the
        // last 60 s at any time.
        let frames = (0..<3000).map { (Int64($0) * 100_000_000, closedPort($0)) }
        let (swept, a) = run(T.netns(), frames, setup: smallSweeps)
        let (_, b) = run(T.netns(), frames, setup: noSweeps)
        XCTAssertEqual(b.kernel.peers.count, 3000)
        XCTAssertLessThanOrEqual(a.kernel.peers.count, 2 * 601, "at most twice the buckets of the last 60 s")
        XCTAssertEqual(swept.reduce(0) { $0 + $1.replies.count }, 3000)
    }

    /// A forwarded packet from 192.0.2.2 that leaves through eth0 again (default route via
    /// 192.0.2.254): a redirect candidate.
    func redirected() -> [UInt8] {
        let dst = IPv4Address(203, 0, 113, 5)
        return T.eth(type: 0x0800, T.ipv4(dst: dst, proto: 17, T.udp(dst: dst, dport: 9999)))
    }

    func testRedirectBackOffFollowsIpRtSendRedirect() {
        // One redirected packet a second for 60 s: redirects go out while the gap since the
        // last one exceeds 20 ms << (redirects sent) — seconds 0–5, 7, 10, 16 — then never
        // again while the host keeps sending (each packet moves the 20.48 s silence on).
        var times = (0...60).map { Int64($0) * 1_000_000_000 }
        times.append(80_400_000_000)   // 20.4 s of quiet: not yet silence, still suppressed
        times.append(100_910_000_000)  // 20.51 s of quiet: the back-off starts over
        let (rs, _) = run(T.netns(forwarding: true), times.map { ($0, redirected()) })
        let sent = zip(times, rs).filter { $0.1.replies.contains { $0.kind == .icmp(type: 5, code: 1) } }.map { $0.0 / 10_000_000 }
        XCTAssertEqual(sent, [0, 100, 200, 300, 400, 500, 700, 1000, 1600, 10091])
    }

    func testRedirectStatesAreSweptWithoutChangingAnyAnswer() {
        // 200 hosts on eth0's subnet, each sending 3 redirected packets 30 ms apart, a host a
        // second, twice with 300 s between the rounds: about 21 hosts are inside the 20.48 s
        // silence at any time, and every state is past it when its host comes back.
        var frames: [(Int64, [UInt8])] = []
        for start in [Int64(0), 300_000_000_000] {
            for h in 0..<200 {
                let s = IPv4Address(192, 0, 2, UInt8(10 + h))
                let dst = IPv4Address(203, 0, 113, 5)
                let f = T.eth(type: 0x0800, T.ipv4(src: s, dst: dst, proto: 17, T.udp(src: s, dst: dst, dport: 9999)))
                for k in 0..<3 { frames.append((start + Int64(h) * 1_000_000_000 + Int64(k) * 30_000_000, f)) }
            }
        }
        let (swept, a) = run(T.netns(forwarding: true), frames, setup: smallSweeps)
        let (kept, b) = run(T.netns(forwarding: true), frames, setup: noSweeps)
        XCTAssertEqual(replies(swept), replies(kept))
        XCTAssertEqual(counters(swept), counters(kept))
        let sent = swept.reduce(0) { $0 + $1.replies.filter { $0.kind == .icmp(type: 5, code: 1) }.count }
        XCTAssertEqual(sent, 2 * 200 * 2, "per host and round: the first packet, then the third (60 ms > 40 ms)")
        XCTAssertEqual(b.kernel.redirects.count, 200)
        XCTAssertLessThanOrEqual(a.kernel.redirects.count, 2 * 22, "at most twice the states of the last 20.48 s")
    }

    func tcpHost() -> Netns {
        var n = T.netns()
        n.devices[1].groEnabled = false
        n.sockets.append(ListeningSocket(proto: .tcp, address: nil, isIPv6: false, port: 80, backlog: 16))
        n.sysctl.tcpSyncookies = 2
        return n
    }

    func testACKForACookieTwoMinutesOldIsRefused() {
        // Cookie A at 0 s; cookie B at 100 s keeps the listener's recent overflow fresh;
        // at 130 s A is 130 s old (refused: RST) and B 30 s old (accepted).
        let frames: [(Int64, [UInt8])] = [
            (0, Seg.tcp(sport: 41000, dport: 80, flags: 0x02, seq: 1000, payload: 0)),
            (100_000_000_000, Seg.tcp(sport: 41001, dport: 80, flags: 0x02, seq: 2000, payload: 0)),
            (130_000_000_000, Seg.tcp(sport: 41000, dport: 80, flags: 0x10, seq: 1001, ack: 5000, payload: 0)),
            (130_001_000_000, Seg.tcp(sport: 41001, dport: 80, flags: 0x10, seq: 2001, ack: 5000, payload: 0)),
        ]
        let (rs, _) = run(tcpHost(), frames)
        XCTAssertEqual(rs[0].replies.first?.kind, .tcpSynAck(cookie: true))
        XCTAssertEqual(rs[2].moved(.tcpExtSyncookiesFailed), 1)
        XCTAssertEqual(rs[2].moved(.tcpExtSyncookiesRecv), 0)
        XCTAssertEqual(rs[2].replies.map(\.kind), [.tcpRst])
        XCTAssertEqual(rs[3].moved(.tcpExtSyncookiesRecv), 1)
        XCTAssertEqual(rs[3].fate, .delivered)
    }

    func testUnansweredCookiesAreSweptAfterTwoMinutes() {
        // 1,000 SYNs from distinct ports, 1 s apart, never answered: about 120 cookies are
        // young enough to be accepted at any time.
        let frames = (0..<1000).map { (Int64($0) * 1_000_000_000, Seg.tcp(sport: UInt16(20000 + $0), dport: 80, flags: 0x02, seq: 7, payload: 0)) }
        let (swept, a) = run(tcpHost(), frames, setup: smallSweeps)
        let (kept, b) = run(tcpHost(), frames, setup: noSweeps)
        XCTAssertEqual(replies(swept), replies(kept))
        XCTAssertEqual(b.kernel.tcpState.cookies.count, 1000)
        XCTAssertLessThanOrEqual(a.kernel.tcpState.cookies.count, 2 * 121)
    }
}
