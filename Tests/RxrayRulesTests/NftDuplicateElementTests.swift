import Foundation
import XCTest
@testable import RxrayRules

/// A map element whose key is already mapped to a different value makes the kernel refuse the
/// whole ruleset (EEXIST, "File exists"); so does `create element` of an element already there.
/// The same key with the same value, and a repeated plain set element, are accepted.
final class NftDuplicateElementTests: XCTestCase {
    static let cases: [(name: String, text: String, accepted: Bool)] = [
        ("map-same-value", """
        table ip t {
          map m { type ipv4_addr : verdict; elements = { 1.2.3.4 : drop, 1.2.3.4 : drop } }
        }
        """, true),
        ("map-different-value", """
        table ip t {
          map m { type ipv4_addr : verdict; elements = { 1.2.3.4 : drop, 1.2.3.4 : accept } }
        }
        """, false),
        ("set-repeated", """
        table ip t {
          set s { type ipv4_addr; elements = { 1.2.3.4, 1.2.3.4 } }
        }
        """, true),
        ("concat-map-later-command", """
        table ip t {
          map m { type ipv4_addr . inet_proto . inet_service : verdict; elements = { 10.0.0.1 . tcp . 80 : drop } }
        }
        add element ip t m { 10.0.0.2 . tcp . 80 : drop, 10.0.0.1 . tcp . 80 : accept }
        """, false),
        ("add-element-same-value", """
        table ip t {
          map m { type inet_service : verdict; elements = { 80 : drop } }
        }
        add element ip t m { 80 : drop }
        """, true),
        ("create-element-existing", """
        table ip t {
          set s { type inet_service; elements = { 80 } }
        }
        create element ip t s { 80 }
        """, false),
        ("flush-map-then-remap", """
        table ip t {
          map m { type inet_service : verdict; elements = { 80 : drop } }
        }
        flush map ip t m
        add element ip t m { 80 : accept }
        """, true),
    ]

    func testRxrayRefusesWhatTheKernelRefuses() {
        for c in Self.cases {
            do {
                let rs = try NftParser.parse(c.text, file: "\(c.name).nft")
                XCTAssertTrue(c.accepted, "\(c.name): rxray accepted a ruleset the kernel refuses")
                XCTAssertFalse(rs.tables.isEmpty, c.name)
            } catch let e as InputError {
                XCTAssertFalse(c.accepted, "\(c.name): rxray refused a ruleset the kernel accepts: \(e)")
                let text = "\(e)"
                XCTAssertTrue(text.contains("\(c.name).nft:"), "error names the file: \(text)")
                XCTAssertTrue(text.contains("File exists"), "error says why: \(text)")
            } catch {
                XCTFail("\(c.name): unexpected error \(error)")
            }
        }
    }

    func testErrorPointsAtTheConflictingElement() throws {
        let text = "table ip t {\n  map m { type ipv4_addr : verdict; elements = { 1.2.3.4 : drop, 1.2.3.4 : accept } }\n}\n"
        XCTAssertThrowsError(try NftParser.parse(text, file: "x.nft")) { error in
            guard let e = error as? InputError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.line, 2)
            XCTAssertEqual(e.column, 66)
            XCTAssertTrue(e.message.contains("1.2.3.4 : accept"), e.message)
        }
    }

    /// The same cases against the kernel: `nft -c -f` in a namespace of our own.
    func testCasesMatchTheKernel() throws {
        guard getuid() == 0 else { throw XCTSkip("needs root for a network namespace (nft -c)") }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nft") else { throw XCTSkip("nft is not installed") }
        let ns = "rxdup-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        XCTAssertEqual(Self.sh(["ip", "netns", "add", ns]), 0)
        defer { _ = Self.sh(["ip", "netns", "del", ns]) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(ns)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for c in Self.cases {
            let f = dir.appendingPathComponent("\(c.name).nft")
            try c.text.write(to: f, atomically: true, encoding: .utf8)
            let status = Self.sh(["ip", "netns", "exec", ns, "nft", "-c", "-f", f.path])
            XCTAssertEqual(status == 0, c.accepted, "\(c.name): the kernel \(status == 0 ? "accepts" : "refuses") it")
        }
    }

    static func sh(_ args: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }
}
