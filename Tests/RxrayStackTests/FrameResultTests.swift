import XCTest
import RxrayDecode
@testable import RxrayStack

/// A result's bookkeeping (core/FrameResult.swift): stage records with detail, counters and
/// replies moved between results, against the plain definitions they stand for.
final class FrameResultTests: XCTestCase {
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
}
