import Foundation
import XCTest

/// Heap allocations per frame of the shipped binary (issue #10: "no per-frame heap allocation
/// in decoding and stage evaluation"), on the benchmark's own traffic mix and hosts: the
/// release `rxray` runs `--summary` over the first N and the first 2N frames of the mix under
/// the LD_PRELOAD counter (Benchmarks/c/malloccount.c), and `--format jsonl` to a file the
/// same way; the difference over N is the marginal
/// rate, start-up (host load, rule compilation) and end-of-run output excluded by construction.
///
/// `make test` builds the three tools this needs and names them in the environment:
/// RXRAY_RELEASE_BINARY (a release build of rxray), RXRAY_BENCHGEN (Benchmarks/Generator's
/// rxray-benchgen) and RXRAY_MALLOCCOUNT (the counter, a shared object). Without them the test
/// skips and says so. (AllocationTests checks the analyzer alone the same way, but only in an
/// optimized test build, which `make test` does not make.)
final class ReleaseAllocationTests: XCTestCase {
    /// Allowed marginal allocations per frame. The mix makes new flows, connections and
    /// reassembly queues all along; their tables grow geometrically, which costs a few
    /// allocations per doubling, far below one per hundred frames. One allocation per
    /// fragmented datagram (the mix has ≈4 % fragments) would already exceed it.
    static let limit = 0.01
    /// The same with every frame's annotation written (`--format jsonl` to a file): stage
    /// details and reply texts are written into reused buffers, so only rare texts still made
    /// as Strings remain (timer events, a fragmentation note, a long reply text), a few per
    /// thousand frames on this mix. A String per REJECT, SYN-ACK or ARP reply (≈0.2 a frame
    /// before they were written in place) would exceed it.
    static let jsonlLimit = 0.03

    struct Tools {
        var rxray: String
        var generator: String
        var counter: String
    }

    func tools() throws -> Tools {
        #if !os(Linux)
        throw XCTSkip("the LD_PRELOAD allocation counter is Linux-only")
        #else
        let env = ProcessInfo.processInfo.environment
        guard let rxray = env["RXRAY_RELEASE_BINARY"], let gen = env["RXRAY_BENCHGEN"], let counter = env["RXRAY_MALLOCCOUNT"] else {
            throw XCTSkip("needs RXRAY_RELEASE_BINARY, RXRAY_BENCHGEN and RXRAY_MALLOCCOUNT (make test builds the release binary, the benchmark generator and the allocation counter and sets them)")
        }
        // Named but missing is a broken setup, not a reason to skip.
        let fm = FileManager.default
        for (name, path) in [("RXRAY_RELEASE_BINARY", rxray), ("RXRAY_BENCHGEN", gen)] where !fm.isExecutableFile(atPath: path) {
            throw NSError(domain: "\(name)=\(path): not an executable file", code: 1)
        }
        guard fm.fileExists(atPath: counter) else { throw NSError(domain: "RXRAY_MALLOCCOUNT=\(counter): no such file", code: 1) }
        return Tools(rxray: rxray, generator: gen, counter: counter)
        #endif
    }

    /// Runs `path args` to completion; returns the exit status and standard error.
    @discardableResult
    func run(_ path: String, _ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: e, as: UTF8.self))
    }

    /// Allocations made by one `rxray analyze CAPTURE --host HOST ARGS` run.
    func allocations(_ t: Tools, _ capture: String, host: String, _ args: [String], in dir: URL) throws -> Int {
        let out = dir.appendingPathComponent("allocs-\(UUID().uuidString).txt").path
        let r = try run(t.rxray, ["analyze", capture, "--host", host] + args,
                        environment: ["LD_PRELOAD": t.counter, "MALLOCCOUNT_OUT": out])
        XCTAssertEqual(r.status, 0, "rxray analyze \(capture) \(args): \(r.stderr)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        guard let range = text.range(of: #"allocations=(\d+)"#, options: .regularExpression),
              let n = Int(text[range].dropFirst("allocations=".count)) else {
            throw NSError(domain: "malloccount wrote no count: \(text)", code: 1)
        }
        return n
    }

    func testReleaseBinaryAllocatesNothingPerFrameOnTheBenchmarkMix() throws {
        let t = try tools()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-alloc-release-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let n = 50_000
        let hosts = ["iptables": dir.appendingPathComponent("host-iptables").path, "nft": dir.appendingPathComponent("host-nft").path]
        var gen = try run(t.generator, ["--iptables-host", hosts["iptables"]!, "--nft-host", hosts["nft"]!])
        XCTAssertEqual(gen.status, 0, gen.stderr)
        // The generator is deterministic: the shorter capture is a prefix of the longer one.
        let short = dir.appendingPathComponent("n.pcap").path, long = dir.appendingPathComponent("2n.pcap").path
        for (path, frames) in [(short, n), (long, 2 * n)] {
            gen = try run(t.generator, ["--frames", String(frames), "--pcap", path])
            XCTAssertEqual(gen.status, 0, gen.stderr)
        }
        let jsonl = ["--format", "jsonl", "-o", dir.appendingPathComponent("out.jsonl").path]
        for host in ["iptables", "nft"] {
            for (mode, limit) in [(["--summary", "--threads", "1"], Self.limit), (["--summary", "--threads", "2"], Self.limit),
                                  (jsonl + ["--threads", "1"], Self.jsonlLimit)] {
                let a1 = try allocations(t, short, host: hosts[host]!, mode, in: dir)
                let a2 = try allocations(t, long, host: hosts[host]!, mode, in: dir)
                let perFrame = Double(a2 - a1) / Double(n)
                let what = mode.map { $0.hasPrefix("/") ? "FILE" : $0 }.joined(separator: " ")
                print("release rxray, \(host) host, \(what): \(a1) allocations for \(n) frames, \(a2) for \(2 * n): \(perFrame) per frame")
                XCTAssertLessThanOrEqual(perFrame, limit, "\(host) host, \(what): \(a1) allocations for \(n) frames, \(a2) for \(2 * n)")
            }
        }
    }
}
