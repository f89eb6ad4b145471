import Foundation
import XCTest
@testable import RxrayRules

/// Locates the shared corpus (`../shared/corpus` from the package root, or `RXRAY_CORPUS`).
enum Corpus {
    static var root: String? {
        if let env = ProcessInfo.processInfo.environment["RXRAY_CORPUS"], FileManager.default.fileExists(atPath: env) { return env }
        let here = URL(fileURLWithPath: #filePath)
        let pkg = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let p = pkg.deletingLastPathComponent().appendingPathComponent("shared/corpus").path
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }

    /// Manifest rows: (relative path, contents description).
    static func manifest(_ root: String) throws -> [(path: String, contents: String)] {
        let text = try String(contentsOfFile: root + "/manifest.tsv", encoding: .utf8)
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let cols = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard cols.count >= 7 else { return nil }
            return (String(cols[0]), String(cols[6]))
        }
    }

    static func requireRoot() throws -> String {
        guard let r = root else {
            print("corpus absent (no ../shared/corpus and no RXRAY_CORPUS): skipping")
            throw XCTSkip("corpus absent: no ../shared/corpus and no RXRAY_CORPUS")
        }
        return r
    }
}

/// Prints a table of unsupported constructs by name and count.
func printUnsupportedTable(_ title: String, _ items: [UnsupportedConstruct]) {
    var counts: [String: Int] = [:]
    for u in items {
        // Group by the construct's head: `-m cgroup`, `-j AUDIT`, `osf`.
        let words = u.construct.split(separator: " ")
        let head = words.count >= 3 && (words[0] == "-m" || words[0] == "-j") ? words.prefix(3).joined(separator: " ") : words.prefix(2).joined(separator: " ")
        counts[head, default: 0] += 1
    }
    print("\(title): \(items.count) unsupported construct(s)")
    for (k, v) in counts.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
        print(String(format: "  %6d  %@", v, k))
    }
}
