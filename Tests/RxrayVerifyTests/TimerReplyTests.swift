import XCTest
import RxrayVerify

/// `rxray verify` puts a timer's SYN-ACK into the window where the kernel sent it: the window
/// open when rxray fired the timer, or a later one that opened within the timer wheel's slack.
final class TimerReplyTests: XCTestCase {
    let ms: Int64 = 1_000_000

    func outcomes(_ n: Int) -> [FrameOutcome] { (1...n).map { FrameOutcome(frame: $0, fate: "delivered") } }

    func testAReplyStaysInTheWindowOpenWhenItFiredWhenTheKernelSentItThere() {
        var o = outcomes(3)
        let t = TimerReply(after: 1, time: 1000 * ms, latest: 1036 * ms, reply: "tcp_synack on eth0")
        TimerReply.place([t], into: &o, frameTimes: [1: 990 * ms, 2: 1010 * ms, 3: 1100 * ms],
                         kernelReplies: [1: ["tcp_synack@eth0"], 2: [], 3: []])
        XCTAssertEqual(o.map(\.replies.count), [1, 0, 0])
    }

    func testALateKernelTimerMovesTheReplyToTheNextWindowWithinTheSlack() {
        var o = outcomes(3)
        let t = TimerReply(after: 1, time: 1000 * ms, latest: 1036 * ms, reply: "tcp_synack on eth0")
        TimerReply.place([t], into: &o, frameTimes: [1: 990 * ms, 2: 1010 * ms, 3: 1100 * ms],
                         kernelReplies: [1: [], 2: ["tcp_synack@eth0"], 3: []])
        XCTAssertEqual(o.map(\.replies.count), [0, 1, 0])
    }

    func testAWindowOpenedAfterTheSlackIsNotACandidate() {
        var o = outcomes(3)
        let t = TimerReply(after: 1, time: 1000 * ms, latest: 1036 * ms, reply: "tcp_synack on eth0")
        TimerReply.place([t], into: &o, frameTimes: [1: 990 * ms, 2: 1010 * ms, 3: 1100 * ms],
                         kernelReplies: [1: [], 2: [], 3: ["tcp_synack@eth0"]])
        XCTAssertEqual(o.map(\.replies.count), [1, 0, 0], "the kernel's SYN-ACK in frame 3 is not this timer's: a disagreement stays visible")
    }

    func testAFrameThatAlreadyHasItsOwnSynAckIsNotCountedTwice() {
        var o = outcomes(2)
        o[0].replies = ["tcp_synack on eth0"]
        let t = TimerReply(after: 1, time: 1000 * ms, latest: 1036 * ms, reply: "tcp_synack on eth0")
        TimerReply.place([t], into: &o, frameTimes: [1: 990 * ms, 2: 1010 * ms],
                         kernelReplies: [1: ["tcp_synack@eth0"], 2: ["tcp_synack@eth0"]])
        XCTAssertEqual(o.map(\.replies.count), [1, 1], "frame 1's own SYN-ACK explains its kernel reply")
    }
}
