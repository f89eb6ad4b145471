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
}
