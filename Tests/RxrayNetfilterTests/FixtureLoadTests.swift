import XCTest
import Foundation
import RxrayHost
@testable import RxrayNetfilter

/// The recorded nf-* scenarios' host snapshots compile without unmodelled constructs.
final class FixtureLoadTests: XCTestCase {
    func testRecordedNetfilterSnapshotsCompileCleanly() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/scenarios")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path))?.filter { $0.hasPrefix("nf-") }.sorted() ?? []
        guard !names.isEmpty else { throw XCTSkip("no Fixtures/scenarios/nf-* next to the tests") }
        for n in names {
            let host = try HostLoader.loadDirectory(root.appendingPathComponent(n).appendingPathComponent("host").path)
            let e = try NetfilterEngine(host: host)
            XCTAssertTrue(e.notes.isEmpty, "\(n): \(e.notes.map { "\($0.file):\($0.line) \($0.what)" })")
            XCTAssertGreaterThan(e.ruleCount, 0, n)
            print("\(n): \(e.ruleCount) rules, conntrack \(e.usesConntrack)")
        }
    }
}
