import XCTest
import RxrayDecode
@testable import RxrayStack

/// Stage detail text kept as byte ranges of the result's buffer.
final class DetailBytesTests: XCTestCase {
    func testRecordsKeepTheirTextAndCopiesAreNotOverwritten() {
        var r = FrameResult()
        r.reset(frame: 1)
        r.record(.ipRcvCore, .pass, "192.0.2.1 → 192.0.2.2 proto 6 len 60 ttl 64")
        r.record(.ethTypeTrans, .pass) { w in w.ascii("eth0: "); MACAddress(0x0200_0000_0010).write(to: &w); w.ascii(" → HOST") }
        r.record(.ipOutput, .note)
        r.drop(.netfilterDrop, at: .ipOutput) { w in w.ascii("quote \" and\ttab") }
        XCTAssertEqual(r.trace.map(\.detail), ["192.0.2.1 → 192.0.2.2 proto 6 len 60 ttl 64", "eth0: 02:00:00:00:00:10 → HOST", "",
                                             "quote \" and\ttab"])
        XCTAssertFalse(r.stages[2].hasDetail)
        XCTAssertTrue(r.stages[3].hasDetail)
        XCTAssertEqual(r.dropReason, .netfilterDrop)

        // A copy keeps its text while the original is reused for the next frame.
        let kept = r
        r.reset(frame: 2)
        r.record(.ipRcvCore, .pass, "something else entirely, longer than the first")
        XCTAssertEqual(kept.trace.first?.detail, "192.0.2.1 → 192.0.2.2 proto 6 len 60 ttl 64")
        XCTAssertEqual(r.trace.map(\.detail), ["something else entirely, longer than the first"])

        // Records appended from another result carry their text over.
        var other = FrameResult()
        other.reset(frame: 3)
        other.record(.ipDefrag, .note, "first")
        other.appendStages(of: kept)
        XCTAssertEqual(other.trace.map(\.detail), ["first"] + kept.trace.map(\.detail))
    }

    func testNoTextWithoutDetail() {
        var r = FrameResult()
        r.wantsDetail = false
        r.reset(frame: 1)
        var built = false
        r.record(.ipRcvCore, .pass) { _ in built = true }
        r.record(.ipRcvCore, .pass, "x")
        XCTAssertFalse(built)
        XCTAssertEqual(r.trace.map(\.detail), ["", ""])
    }
}
