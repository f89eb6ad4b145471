import XCTest
import RxrayDecode
@testable import RxrayStack

/// The request socket's SYN-ACK timer (TCPReqskTimer.swift), as Fixtures/scenarios/
/// tcp-synack-retrans recorded it from the kernel: retransmissions at 1 s, then doubling, the
/// request dropped once `tcp_synack_retries` timeouts passed, events between frames in time
/// order, frame results untouched.
final class TCPReqskTimerTests: XCTestCase {
    static let t0: Int64 = 1_700_000_000_000_000_000
    static let second: Int64 = 1_000_000_000

    func ns(backlog: Int = 16, retries: Int = 2) -> Netns {
        var n = T.netns()
        n.devices[1].groEnabled = false
        n.sockets.append(ListeningSocket(proto: .tcp, address: nil, isIPv6: false, port: 80, backlog: backlog))
        n.sysctl.tcpSynackRetries = retries
        return n
    }

    func seg(_ flags: UInt8, seq: UInt32, ack: UInt32 = 0, sport: UInt16 = 40000) -> [UInt8] {
        Seg.tcp(sport: sport, dport: 80, flags: flags, seq: seq, ack: ack, payload: 0)
    }

    /// Every result in emission order (frames and timer events), frames at the given times.
    func run(_ n: Netns, _ frames: [([UInt8], Int64)], timerEvents: Bool = true) -> [FrameResult] {
        let a = Analyzer(netns: n, options: Analyzer.Options(timerEvents: timerEvents))
        var out: [FrameResult] = []
        for (i, (f, t)) in frames.enumerated() {
            f.withUnsafeBytes { buf in
                a.process(FrameInput(index: i + 1, timestampNs: Self.t0 + t, bytes: buf, linkType: .ethernet, interfaceName: "eth0")) { out.append($0) }
            }
        }
        a.finish { out.append($0) }
        return out
    }

    /// `frame N` or `timer action +seconds`, in order.
    func shape(_ rs: [FrameResult]) -> [String] {
        rs.map { r in
            guard let t = r.timer else { return "frame \(r.frame)" }
            let ms = (t.time - Self.t0) / 1_000_000
            return "\(t.action.name) +\(ms)ms\(t.endOfInput ? " end" : "")"
        }
    }

    func testAnUnansweredSYNIsRetransmittedTwiceThenDropped() {
        let rs = run(ns(retries: 2), [(seg(0x02, seq: 1000), 0), (seg(0x02, seq: 7000, sport: 40001), 10 * Self.second)])
        XCTAssertEqual(shape(rs), ["frame 1", "synack_retransmit +1000ms", "synack_retransmit +3000ms", "request_dropped +7000ms",
                                   "frame 2", "synack_retransmit +11000ms end", "synack_retransmit +13000ms end", "request_dropped +17000ms end"])
        let first = rs[1]
        XCTAssertEqual(first.frame, 0, "a timer event is not a frame")
        XCTAssertEqual(first.replies.map(\.kindName), ["tcp_synack"])
        XCTAssertEqual(first.replies.first?.destination, .v4(IPv4Address(192, 0, 2, 2)))
        XCTAssertEqual(first.moved(.tcpExtTCPTimeouts), 1)
        XCTAssertEqual(first.moved(.tcpRetransSegs), 1)
        XCTAssertEqual(first.moved(.tcpExtTCPSynRetrans), 1)
        XCTAssertEqual(first.moved(.tcpOutSegs), 1)
        XCTAssertEqual(first.timer?.localPort, 80)
        XCTAssertEqual(first.timer?.remotePort, 40000)
        XCTAssertEqual(rs[2].timer?.timeouts, 2)
        XCTAssertEqual(rs[2].timer?.retransmits, 2)
        let dropped = rs[3]
        XCTAssertTrue(dropped.replies.isEmpty, "the expiry sends nothing")
        XCTAssertEqual(dropped.counters.map(\.0), [.tcpExtTCPTimeouts])
        // Frame 2's own result is a plain SYN-ACK: the timers before it are not its business.
        XCTAssertEqual(rs[4].replies.map(\.kindName), ["tcp_synack"])
        XCTAssertEqual(rs[4].moved(.tcpExtTCPTimeouts), 0)
    }

    func testTheRequestIsGoneAfterItsTimerDropsIt() {
        // The ACK after the expiry meets the listener with no request: RST (TCP_FLAGS).
        let rs = run(ns(retries: 1), [(seg(0x02, seq: 1000), 0), (seg(0x10, seq: 1001, ack: 5000), 4 * Self.second)])
        XCTAssertEqual(shape(rs), ["frame 1", "synack_retransmit +1000ms", "request_dropped +3000ms", "frame 2"])
        XCTAssertEqual(rs[3].dropReason, .tcpFlags)
        XCTAssertEqual(rs[3].replies.map(\.kindName), ["tcp_rst"])
    }

    func testTheThirdACKAfterOneRetransmissionCompletesTheHandshake() {
        let rs = run(ns(retries: 2), [(seg(0x02, seq: 1000), 0), (seg(0x10, seq: 1001, ack: 5000), 1500 * 1_000_000)])
        XCTAssertEqual(shape(rs), ["frame 1", "synack_retransmit +1000ms", "frame 2"], "no timer after the handshake")
        XCTAssertEqual(rs[2].fate, .delivered)
        XCTAssertEqual(rs[2].moved(.tcpPassiveOpens), 1)
    }

    func testARetransmittedSYNRestartsTheTimer() {
        // SYN at 0, the timer fires at 1 s (timeout now 2 s); the SYN again at 1.5 s gets a
        // SYN-ACK and restarts the timer: next firing 2 s later, at 3.5 s, not at 3 s.
        let rs = run(ns(retries: 2), [(seg(0x02, seq: 1000), 0), (seg(0x02, seq: 1000), 1500 * 1_000_000),
                                      (seg(0x02, seq: 9000, sport: 40009), 3200 * 1_000_000)])
        XCTAssertEqual(Array(shape(rs).prefix(5)), ["frame 1", "synack_retransmit +1000ms", "frame 2", "frame 3", "synack_retransmit +3500ms end"])
        XCTAssertEqual(rs[2].moved(.tcpRetransSegs), 1, "the SYN-ACK for a retransmitted SYN is a retransmission")
        XCTAssertEqual(rs[2].moved(.tcpExtTCPSynRetrans), 1)
    }

    func testOldRequestsInAHalfFullQueueGetFewerRetransmissions() {
        // Nine requests in a queue of backlog 16: more than half of max(8, 16). Once every
        // timer has fired (at 1 s), no request is young, and the limit drops from 5 towards 2:
        // the first request's third firing, at 7 s, drops it. With eight left the queue is
        // no longer more than half full: the others get all five retransmissions (dropped at
        // 63 s).
        let syns = (0..<9).map { (seg(0x02, seq: 1000, sport: 41000 + UInt16($0)), Int64($0) * 1_000_000) }
        let events = run(ns(backlog: 16, retries: 5), syns).compactMap(\.timer)
        XCTAssertEqual(events.filter { $0.action == .synAckRetransmit }.count, 2 + 8 * 5)
        let drops = events.filter { $0.action == .requestDropped }
        XCTAssertEqual(drops.map { ($0.time - Self.t0) / Self.second }, [7] + Array(repeating: 63, count: 8))
        XCTAssertEqual(drops.first?.maxRetries, 2)
        XCTAssertEqual(drops.first?.remotePort, 41000, "the oldest request goes first")
        XCTAssertEqual(drops.last?.maxRetries, 5)
        // Two requests only: the queue is never half full, all five retransmissions go out.
        let few = run(ns(backlog: 16, retries: 5), Array(syns.prefix(2))).compactMap(\.timer)
        XCTAssertEqual(few.filter { $0.action == .synAckRetransmit }.count, 10)
        XCTAssertEqual(few.last.map { ($0.time - Self.t0) / Self.second }, 63, "5 retries: dropped at 63 s")
    }

    func testWithoutTimerEventsTheFramesAreTheSame() {
        let frames = [(seg(0x02, seq: 1000), Int64(0)), (seg(0x02, seq: 7000, sport: 40001), 10 * Self.second)]
        let with = run(ns(), frames).filter { $0.timer == nil }
        let without = run(ns(), frames, timerEvents: false)
        XCTAssertEqual(without.count, 2)
        XCTAssertEqual(with.map(\.frame), without.map(\.frame))
        XCTAssertEqual(with.map { $0.replies.map(\.kindName) }, without.map { $0.replies.map(\.kindName) })
        XCTAssertEqual(with.map { $0.counters.map(\.0) }, without.map { $0.counters.map(\.0) })
    }
}
