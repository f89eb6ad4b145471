import Foundation
import XCTest

/// Records that wait behind a held frame (a fragment waiting up to the reassembly timeout keeps
/// every later frame's record waiting) go to a temporary file past a memory limit
/// (`RenderedQueue`), so memory stays bounded however long the hold; the output bytes are the
/// same as when everything waits in memory, and the same when the temporary file cannot be made.
final class WaitingOutputTests: XCTestCase {
    func analyze(_ args: [String], environment: [String: String], threads: Int = 1) throws -> CLI.Result {
        try CLI.run(["analyze"] + args + ["--threads", "\(threads)"], environment: environment)
    }

    /// The stats line `RXRAY_WAIT_STATS=1` prints: chunks written to the file, peak bytes in memory.
    func stats(_ stderr: String) -> (written: Int, peak: Int, failed: Bool)? {
        guard let line = stderr.split(separator: "\n").first(where: { $0.hasPrefix("rxray: waiting output: ") }) else { return nil }
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        guard numbers.count >= 2 else { return nil }
        return (numbers[0], numbers[1], line.contains("failed"))
    }

    func testRecordsWaitingPastTheMemoryLimitGoToAFileAndComeBackInOrder() throws {
        // Far-apart fragments: every 500 frames a datagram whose second fragment comes 2,000
        // frames later, so about 2,000 records (several MB) wait at a time.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-waiting-\(getpid()).pcap")
        try SyntheticTraffic.pcap(frames: 12000, seed: 77, farFragments: true).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let variants: [[String]] = [
            ["--format", "jsonl"],
            ["-vv", "udp"],
            ["--format", "jsonl", "-c", "7001", "--only-drops"],
        ]
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-waiting-dir-\(getpid())")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        for v in variants {
            let args = [url.path, "--host", ThreadsTests.host] + v
            let inMemory = try analyze(args, environment: ["RXRAY_WAIT_STATS": "1"])
            XCTAssertEqual(inMemory.status, 0, inMemory.stderr)
            let memStats = try XCTUnwrap(stats(inMemory.stderr), "stats line: \(inMemory.stderr)")
            XCTAssertEqual(memStats.written, 0, "\(v): the default limit holds this capture's waits in memory")
            XCTAssertGreaterThan(memStats.peak, 2 << 20, "\(v): more than the test's limit waits at once")

            let spilled = try analyze(args, environment: ["RXRAY_WAIT_STATS": "1", "RXRAY_WAIT_MEMORY_MB": "1", "TMPDIR": tmp.path])
            XCTAssertEqual(spilled.status, 0, spilled.stderr)
            let s = try XCTUnwrap(stats(spilled.stderr), "stats line: \(spilled.stderr)")
            XCTAssertGreaterThan(s.written, 0, "\(v): chunks went to the temporary file")
            XCTAssertFalse(s.failed)
            XCTAssertLessThanOrEqual(s.peak, 2 << 20, "\(v): memory held stays within the limit and the chunk being filled")
            if spilled.stdoutBytes != inMemory.stdoutBytes {
                XCTFail("\(v): output through the temporary file differs (\(spilled.stdoutBytes.count) vs \(inMemory.stdoutBytes.count) bytes, first difference at byte \(ThreadsTests.firstDifference(spilled.stdoutBytes, inMemory.stdoutBytes)))")
            }
            // The file is unlinked at once: nothing is left behind.
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [])

            // Two threads: the render thread keeps the records (with -c, the evaluation thread
            // does), through the file the same way.
            let two = try analyze(args, environment: ["RXRAY_WAIT_STATS": "1", "RXRAY_WAIT_MEMORY_MB": "1", "TMPDIR": tmp.path],
                                  threads: 2)
            XCTAssertEqual(two.status, 0, two.stderr)
            let t = try XCTUnwrap(stats(two.stderr), "\(v): stats line with two threads: \(two.stderr)")
            XCTAssertGreaterThan(t.written, 0, "\(v): chunks went to the temporary file with two threads")
            XCTAssertLessThanOrEqual(t.peak, 2 << 20)
            XCTAssertTrue(two.stdoutBytes == inMemory.stdoutBytes, "\(v): output with two threads through the file differs")

            // No temporary file can be made: the records stay in memory, the output is the same.
            guard v == variants[0] else { continue }
            let noFile = try analyze(args, environment: ["RXRAY_WAIT_STATS": "1", "RXRAY_WAIT_MEMORY_MB": "1",
                                                         "TMPDIR": tmp.path + "/does-not-exist"])
            XCTAssertEqual(noFile.status, 0, noFile.stderr)
            let n = try XCTUnwrap(stats(noFile.stderr), "stats line: \(noFile.stderr)")
            XCTAssertTrue(n.failed, "\(v): \(noFile.stderr)")
            XCTAssertEqual(n.written, 0)
            XCTAssertTrue(noFile.stdoutBytes == inMemory.stdoutBytes, "\(v): output with no temporary file differs")
        }
        // Every frame once, in order, after a round trip through the file.
        let jsonl = try analyze([url.path, "--host", ThreadsTests.host, "--format", "jsonl"],
                                environment: ["RXRAY_WAIT_MEMORY_MB": "1", "TMPDIR": tmp.path])
        XCTAssertEqual(jsonl.status, 0, jsonl.stderr)
        let frames = jsonl.stdout.split(separator: "\n").compactMap { line -> Int? in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return o["frame"] as? Int
        }
        XCTAssertEqual(frames, Array(1 ... 12000))
    }

    /// `pcap` (classic, microsecond) as pcapng, with an `opt_comment` on the frames in
    /// `comments` (index from 0).
    static func pcapng(from pcap: Data, comments: [Int: String]) -> Data {
        var out = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func pad(_ n: Int) -> Int { (n + 3) & ~3 }
        u32(0x0A0D_0D0A); u32(28); u32(0x1A2B_3C4D); u16(1); u16(0); u32(0xFFFF_FFFF); u32(0xFFFF_FFFF); u32(28)
        u32(1); u32(20); u16(1); u16(0); u32(262_144); u32(20)
        let b = [UInt8](pcap)
        func r32(_ at: Int) -> UInt32 { UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24 }
        var at = 24, k = 0
        while at + 16 <= b.count {
            let us = UInt64(r32(at)) * 1_000_000 + UInt64(r32(at + 4))
            let n = Int(r32(at + 8)), orig = r32(at + 12)
            let frame = b[(at + 16) ..< (at + 16 + n)]
            // A comment longer than an option holds goes in several (the reader joins them).
            var parts: [[UInt8]] = []
            var rest = comments[k].map { Array($0.utf8) } ?? []
            while !rest.isEmpty {
                parts.append(Array(rest.prefix(60_000)))
                rest.removeFirst(min(60_000, rest.count))
            }
            let options = parts.isEmpty ? 0 : parts.reduce(0) { $0 + 4 + pad($1.count) } + 4
            let total = 32 + pad(n) + options
            u32(6); u32(UInt32(total)); u32(0); u32(UInt32(us >> 32)); u32(UInt32(us & 0xFFFF_FFFF)); u32(UInt32(n)); u32(orig)
            out.append(contentsOf: frame)
            out.append(contentsOf: [UInt8](repeating: 0, count: pad(n) - n))
            for c in parts {
                u16(1); u16(UInt16(c.count))
                out.append(contentsOf: c)
                out.append(contentsOf: [UInt8](repeating: 0, count: pad(c.count) - c.count))
            }
            if !parts.isEmpty { u16(0); u16(0) }
            u32(UInt32(total))
            at += 16 + n
            k += 1
        }
        return out
    }

    /// Records longer than the room a chunk keeps for one (frames with comments of 60–200 KB,
    /// waiting behind held fragments, some the held frames themselves) come out as in capture
    /// order, in memory and through the temporary file, with one thread and two.
    func testLongRecordsWaitingBehindAHeldFrameComeOutInCaptureOrder() throws {
        let pcap = SyntheticTraffic.pcap(frames: 3000, seed: 78, farFragments: true)
        var comments: [Int: String] = [:]
        for (k, i) in stride(from: 3, to: 3000, by: 97).enumerated() {
            let n = [60_000, 70_000, 200_000, 65_536, 131_000][k % 5]
            comments[i] = String(repeating: "comment \(i) \"q\" ", count: n / 16)
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-waiting-long-\(getpid()).pcapng")
        try Self.pcapng(from: pcap, comments: comments).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-waiting-long-\(getpid()).out.pcapng")
        defer { try? FileManager.default.removeItem(at: out) }
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-waiting-long-dir-\(getpid())")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tmp) }
        for format in [["--format", "jsonl"], ["-vv"]] {
            let args = [url.path, "--host", ThreadsTests.host] + format
            // --write keeps capture order: nothing waits in the record queue.
            let reference = try analyze(args + ["--write", out.path], environment: [:])
            XCTAssertEqual(reference.status, 0, reference.stderr)
            if format[0] == "--format" {
                XCTAssertEqual(reference.stdout.components(separatedBy: "comment 100 ").count - 1, 70_000 / 16, "the comment is shown")
            }
            for threads in [1, 2] {
                for env in [[:], ["RXRAY_WAIT_MEMORY_MB": "1", "TMPDIR": tmp.path]] {
                    let got = try analyze(args, environment: env, threads: threads)
                    XCTAssertEqual(got.status, 0, got.stderr)
                    if got.stdoutBytes != reference.stdoutBytes {
                        XCTFail("\(format) threads \(threads) \(env): output differs from capture order (\(got.stdoutBytes.count) vs \(reference.stdoutBytes.count) bytes, first difference at byte \(ThreadsTests.firstDifference(got.stdoutBytes, reference.stdoutBytes)))")
                    }
                }
            }
        }
    }
}
