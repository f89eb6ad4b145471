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

    func testDeviceNameJSONSafetyFollowsTheName() {
        // Stage detail naming a device is claimed JSON-safe from this flag, not a scan.
        for (name, safe) in [("eth0", true), ("we\"ird", false), ("back\\slash", false), ("tab\t", false),
                             ("del\u{7F}", false), ("ünï→", true), ("ctl\u{1}", false), ("", true)] {
            var d = NetDevice(ifindex: 2, name: name, kind: .ethernet, mac: MACAddress(0x0200_0000_0001))
            XCTAssertEqual(d.nameJSONSafe, safe, name)
            d.name = safe ? "x\"y" : "eth1"
            XCTAssertEqual(d.nameJSONSafe, !safe, d.name)
        }
    }

    func testTCPStateNamesNeedNoJSONEscape() {
        // tcp_rcv_state_process's delivery detail is claimed JSON-safe with a state's name in it.
        for st in TCPConnState.allCases {
            let u = Array(st.rawValue.utf8)
            XCTAssertEqual(u.withUnsafeBufferPointer { ByteWriter.jsonCleanPrefix($0) }, u.count, st.rawValue)
        }
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
