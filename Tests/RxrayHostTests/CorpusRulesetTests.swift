import Foundation
import RxrayRules
import XCTest
@testable import RxrayHost

/// Every rule file of the shared corpus goes through the host loader (as the matching snapshot
/// file): it loads, or fails with an error that names a line, or lists each unsupported construct.
final class CorpusRulesetTests: XCTestCase {
    func testCorpusRulesetsLoadOrFailPrecisely() throws {
        let root = "/work/shared/corpus/rulesets"
        guard let walker = FileManager.default.enumerator(atPath: root) else { throw XCTSkip("corpus absent: \(root)") }
        let dir = try HostFixtures.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var loaded = 0, unsupported = 0, inputErrors = 0, tried = 0
        while let rel = walker.nextObject() as? String {
            let path = root + "/" + rel
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue,
                  let data = FileManager.default.contents(atPath: path) else { continue }
            let text = String(decoding: data, as: UTF8.self)
            let file: String
            if text.split(separator: "\n").contains(where: { $0.hasPrefix("*filter") || $0.hasPrefix("*nat") || $0.hasPrefix("*mangle") || $0.hasPrefix("*raw") }) {
                file = IptablesParser.detectFamily(text) == .ipv6 ? SnapshotFile.ip6tablesSave : SnapshotFile.iptablesSave
            } else if rel.hasSuffix(".nft") || text.hasPrefix("table ") {
                file = SnapshotFile.nftText
            } else {
                continue
            }
            tried += 1
            for f in try FileManager.default.contentsOfDirectory(atPath: dir) { try FileManager.default.removeItem(atPath: dir + "/" + f) }
            try text.write(toFile: dir + "/" + file, atomically: false, encoding: .utf8)
            do {
                let h = try HostLoader.loadDirectory(dir)
                let blank = text.allSatisfy { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
                XCTAssertEqual(h.rulesets.sources.count, blank ? 0 : 1, rel)
                loaded += 1
            } catch let e as UnsupportedRulesError {
                XCTAssertFalse(e.items.isEmpty, rel)
                for item in e.items {
                    XCTAssertGreaterThan(item.line, 0, "\(rel): \(item)")
                    XCTAssertFalse(item.construct.isEmpty, "\(rel): \(item)")
                }
                unsupported += 1
            } catch let e as InputError {
                XCTAssertNotNil(e.line, "\(rel): \(e)")
                inputErrors += 1
            }
        }
        print("corpus rulesets through the host loader: \(tried) files, \(loaded) loaded, \(unsupported) with unsupported constructs, \(inputErrors) input errors")
        XCTAssertGreaterThan(tried, 0)
    }
}
