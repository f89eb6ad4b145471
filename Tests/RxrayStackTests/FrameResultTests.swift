import XCTest
import RxrayDecode
@testable import RxrayStack

/// A result's bookkeeping (core/FrameResult.swift): stage records with detail, counters and
/// replies moved between results, against the plain definitions they stand for.
final class FrameResultTests: XCTestCase {
    func reply(_ summary: String) -> Reply {
        Reply(kind: .tcpRst, interface: "eth0", source: nil, destination: .v4(IPv4Address(192, 0, 2, 2)), summary: summary)
    }

    func counterText(_ r: FrameResult) -> [String] { r.counters.map { "\($0.0)=\($0.1)" } }

    /// A reply's text holds up to `inlineCapacity` bytes inline and a longer one as a String,
    /// and reads back the same either way; equality is by text.
    func testReplyTextInlineAndLongReadBackTheSame() {
        let short = "RST+ACK seq 0 ack 4294967295 (REJECT)"
        let exact = String(repeating: "x", count: ReplyText.inlineCapacity)
        let long = String(repeating: "neighbour advertisement 2001:db8::1 ", count: 4)
        for s in ["", short, exact, exact + "y", long, "é ünïcode"] {
            let t = ReplyText(s)
            XCTAssertEqual(t.description, s)
            XCTAssertEqual(t.isEmpty, s.isEmpty)
            XCTAssertEqual(t.withUTF8 { Array($0) }, Array(s.utf8))
            XCTAssertEqual(t, ReplyText(s))
            XCTAssertNotEqual(t, ReplyText(s + "."))
            var w = ByteWriter(capacity: 16)
            defer { w.deallocate() }
            w.jsonString(t)
            w.byte(32)
            w.replyText(t)
            var x = ByteWriter(capacity: 16)
            defer { x.deallocate() }
            x.jsonString(s)
            x.byte(32)
            x.string(s)
            XCTAssertEqual(Array(w.bytes), Array(x.bytes), s)
        }
        let n = 7
        let interpolated: ReplyText = "echo \(n) and \(IPv4Address(192, 0, 2, 2))"
        XCTAssertEqual(interpolated.description, "echo 7 and 192.0.2.2")
        XCTAssertEqual(reply("port unreachable").summaryText.description, "port unreachable")
        var r = reply("a")
        r.summary = long
        XCTAssertEqual(r.summaryText, ReplyText(long))
    }

    /// `replyText` writes through the detail buffer and leaves it as it was: the stage records'
    /// bytes are unchanged, and a result without detail gets an empty text.
    func testReplyTextLeavesTheDetailBufferAsItWas() {
        for detail in [true, false] {
            var r = FrameResult()
            r.wantsDetail = detail
            r.reset(frame: 1)
            r.record(.ipRcvCore, .pass) { w in w.ascii("len 60 ttl 64") }
            let t = r.replyText { w in w.ascii("SYN-ACK ack "); w.decimal(UInt32(4_000_000_000)); w.ascii(", mss 1460") }
            XCTAssertEqual(t.description, detail ? "SYN-ACK ack 4000000000, mss 1460" : "")
            r.record(.ipForward, .note) { w in w.ascii("next") }
            XCTAssertEqual(r.trace.map(\.detail), detail ? ["len 60 ttl 64", "next"] : ["", ""])
            XCTAssertEqual(r.stages.map(\.detailStart), detail ? [0, 13] : [0, 0])
        }
    }

    /// `record(_:_:writing:)` is `recordJSONSafe` with a writer that claims nothing: the same
    /// record and bytes, never marked JSON-safe; a claim marks only a record with text.
    func testRecordWritingIsRecordJSONSafeClaimingNothing() {
        for detail in [true, false] {
            var a = FrameResult(), b = FrameResult()
            a.wantsDetail = detail
            b.wantsDetail = detail
            a.reset(frame: 1)
            b.reset(frame: 1)
            a.record(.ipRcvCore, .pass) { w in w.ascii("len 60 ttl 64") }
            b.recordJSONSafe(.ipRcvCore, .pass) { w in w.ascii("len 60 ttl 64"); return false }
            a.record(.ipForward, .forward) { _ in }
            b.recordJSONSafe(.ipForward, .forward) { _ in false }
            a.recordJSONSafe(.ipOutput, .note) { w in w.ascii("clean"); return true }
            a.recordJSONSafe(.ipOutput, .note) { _ in true }
            XCTAssertEqual(a.trace.map(\.detail), detail ? ["len 60 ttl 64", "", "clean", ""] : ["", "", "", ""])
            XCTAssertEqual(Array(a.trace.prefix(2)), b.trace, "detail \(detail)")
            XCTAssertEqual(a.stages.map(\.jsonSafe), [false, false, detail, false], "detail \(detail)")
            XCTAssertEqual(a.stages.map(\.detailCount), detail ? [13, 0, 5, 0] : [0, 0, 0, 0])
            XCTAssertEqual(b.stages.map(\.jsonSafe), [false, false])
        }
    }

    /// Records appended from a stage list: into a result without detail only stage and verdict
    /// come over (as appending `StageRecord(stage:verdict:)` for each); into one with detail the
    /// text and its JSON form come with them, behind the result's own.
    func testAppendedStagesKeepTextOnlyWhereDetailIsWanted() {
        var src = FrameResult()
        src.reset(frame: 7)
        src.record(.ipRcvCore, .pass, "a \"quoted\" detail")
        src.record(.ipForward, .forward)
        src.recordJSONSafe(.ipOutput, .note) { w in w.ascii("safe"); return true }
        for n in [0, 1, 40] {
            var bare = FrameResult()
            bare.wantsDetail = false
            bare.reset(frame: 1)
            for _ in 0..<n { bare.record(.devGroReceive, .hold) }
            bare.appendStages(src.stages, detailBytes: src.withDetailBytes { $0 })
            XCTAssertEqual(bare.stages.count, n + 3)
            for (k, s) in bare.stages.enumerated() {
                let want = k < n ? StageRecord(stage: .devGroReceive, verdict: .hold) : StageRecord(stage: src.stages[k - n].stage, verdict: src.stages[k - n].verdict)
                XCTAssertEqual(s.stage, want.stage)
                XCTAssertEqual(s.verdict, want.verdict)
                XCTAssertEqual(s.detailCount, 0)
                XCTAssertEqual(s.detailStart, 0)
                XCTAssertFalse(s.jsonSafe)
                XCTAssertEqual(s.jsonCount, 0)
            }
            var full = FrameResult()
            full.reset(frame: 1)
            full.record(.devGroReceive, .hold, "held")
            withUnsafePointer(to: src) { full.appendStages(ofResultAt: $0) }
            XCTAssertEqual(full.trace, [StageText(stage: .devGroReceive, verdict: .hold, detail: "held")] + src.trace)
            XCTAssertEqual(full.stages.map(\.jsonSafe), [false, false, false, true])
        }
        // A list appended to itself (through a copy) keeps both halves.
        var r = src
        let same = r
        r.appendStages(of: same)
        XCTAssertEqual(r.trace, src.trace + src.trace)
        XCTAssertEqual(src.stages.count, 3, "the copy appended from is unchanged")
    }

    /// `addCounters` adds a counters view as counting each of its moves would, and leaves a
    /// copy sharing the storage alone.
    func testAddedCountersMergeAsCountingEachMove() {
        var from = FrameResult()
        from.count(.tcpInSegs, 2)
        from.count(.ipInReceives)
        from.count(.udp6IgnoredMulti, 3)
        var a = FrameResult(), b = FrameResult()
        a.count(.ipInReceives, 4)
        a.count(.ipInDelivers)
        b.count(.ipInReceives, 4)
        b.count(.ipInDelivers)
        let before = a
        a.addCounters(from.counters)
        for (m, d) in from.counters { b.count(m, d) }
        XCTAssertEqual(counterText(a), counterText(b))
        XCTAssertEqual(counterText(a), ["ipInReceives=5", "ipInDelivers=1", "tcpInSegs=2", "udp6IgnoredMulti=3"])
        XCTAssertEqual(counterText(before), ["ipInReceives=4", "ipInDelivers=1"], "a copy keeps its counters")
        var empty = FrameResult()
        empty.addCounters(MIBCounters())
        XCTAssertTrue(empty.counters.isEmpty)
        empty.addCounters(from.counters)
        XCTAssertEqual(counterText(empty), counterText(from))
    }

    /// Counters and replies taken from another result: into a result with none they trade
    /// places (the same counters and replies, in order); into one with some they are added
    /// after its own. The other result is left with none, and a copy of it made before keeps
    /// everything, as does a copy of the receiver.
    func testTakenCountersAndRepliesMoveOrMergeAndLeaveNone() {
        for receiverHasSome in [false, true] {
            var src = FrameResult()
            src.reset(frame: 9)
            src.count(.tcpInSegs)
            src.count(.tcpOutRsts, 2)
            src.replies.append(reply("first"))
            src.replies.append(reply("second"))
            let srcCopy = src
            var r = FrameResult()
            r.reset(frame: 5)
            if receiverHasSome {
                r.count(.tcpOutRsts)
                r.count(.ipInReceives)
                r.replies.append(reply("own"))
            }
            let rCopy = r
            r.takeCountersAndReplies(from: &src)
            XCTAssertTrue(src.counters.isEmpty)
            XCTAssertTrue(src.replies.isEmpty)
            if receiverHasSome {
                XCTAssertEqual(counterText(r), ["tcpOutRsts=3", "ipInReceives=1", "tcpInSegs=1"])
                XCTAssertEqual(r.replies.map(\.summary), ["own", "first", "second"])
            } else {
                XCTAssertEqual(counterText(r), ["tcpInSegs=1", "tcpOutRsts=2"])
                XCTAssertEqual(r.replies.map(\.summary), ["first", "second"])
            }
            XCTAssertEqual(counterText(srcCopy), ["tcpInSegs=1", "tcpOutRsts=2"])
            XCTAssertEqual(srcCopy.replies.map(\.summary), ["first", "second"])
            XCTAssertEqual(rCopy.replies.count, receiverHasSome ? 1 : 0)
            XCTAssertEqual(counterText(rCopy), receiverHasSome ? ["tcpOutRsts=1", "ipInReceives=1"] : [])
            // Both go on counting for their next frames on their own.
            src.reset(frame: 10)
            src.count(.udpInDatagrams)
            r.count(.tcpInSegs, 5)
            XCTAssertEqual(counterText(src), ["udpInDatagrams=1"])
            XCTAssertEqual(r.moved(.tcpInSegs), 6)
            XCTAssertEqual(counterText(srcCopy), ["tcpInSegs=1", "tcpOutRsts=2"])
        }
    }

    /// A reset empties replies (however many) and keeps the array's storage for the next frame;
    /// a copy made before keeps its replies.
    func testResetEmptiesRepliesKeepingTheirStorage() {
        for n in [0, 1, 3, 8, 9, 30] {
            var r = FrameResult()
            r.reset(frame: 1)
            for k in 0..<n { r.replies.append(reply("\(k)")) }
            let capacity = r.replies.capacity
            r.reset(frame: 2)
            XCTAssertTrue(r.replies.isEmpty, "\(n)")
            XCTAssertEqual(r.replies.capacity, capacity, "\(n)")
            for k in 0..<n { r.replies.append(reply("\(k)")) }
            let kept = r
            r.reset(frame: 3)
            XCTAssertTrue(r.replies.isEmpty, "\(n)")
            XCTAssertEqual(kept.replies.map(\.summary), (0..<n).map { "\($0)" }, "a copy keeps its replies")
        }
    }
}
