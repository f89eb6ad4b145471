import Foundation
import XCTest

/// Paths of the committed host fixtures (Fixtures/hosts/NAME, recorded by make.sh).
enum HostFixtures {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()
    static func dir(_ name: String) -> String { root + "/Fixtures/hosts/" + name }

    /// A fresh temporary directory, removed by the caller.
    static func tempDir() throws -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-host-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    static func write(_ text: String, _ dir: String, _ file: String) throws {
        try text.write(toFile: dir + "/" + file, atomically: true, encoding: .utf8)
    }
}
