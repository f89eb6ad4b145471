import Foundation
import XCTest

/// `analyze --threads N` (issue #10): a reader thread reading ahead must change no byte of any
/// output, no error message and no exit status.
final class ThreadsTests: XCTestCase {
    /// This process's scratch: the --write outputs' directory and the generated capture
    /// (made again by each test that reads it).
    static var scratchDirectory: URL { FileManager.default.temporaryDirectory.appendingPathComponent("rxray-threads-\(getpid())") }
    static var generatedPath: URL { FileManager.default.temporaryDirectory.appendingPathComponent("rxray-threads-gen-\(getpid()).pcap") }

    override func tearDown() {
        try? FileManager.default.removeItem(at: Self.scratchDirectory)
        try? FileManager.default.removeItem(at: Self.generatedPath)
        super.tearDown()
    }

    /// One run's observable outcome, bytes exact.
    struct Outcome: Equatable {
        var status: Int32
        var stdout: Data
        var stderr: Data
        var written: Data?
    }

    /// Runs `rxray analyze ARGS --threads N`; with `write`, adds `--write` to a file of its own
    /// and returns the file's bytes too.
    func analyze(_ args: [String], threads: Int, write: Bool = false, stdin: URL? = nil) throws -> Outcome {
        let dir = Self.scratchDirectory
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let out = dir.appendingPathComponent("out.\(threads).pcapng")
        try? FileManager.default.removeItem(at: out)
        var argv = ["analyze"] + args + ["--threads", "\(threads)"]
        if write { argv += ["--write", out.path] }
        let p = Process()
        p.executableURL = CLI.binary
        p.arguments = argv
        p.currentDirectoryURL = CLI.packageRoot
        let o = Pipe(), e = Pipe()
        p.standardOutput = o
        p.standardError = e
        if let stdin { p.standardInput = try FileHandle(forReadingFrom: stdin) } else { p.standardInput = FileHandle.nullDevice }
        try p.run()
        var errData = Data()
        let g = DispatchGroup()
        g.enter()
        DispatchQueue.global().async {
            errData = e.fileHandleForReading.readDataToEndOfFile()
            g.leave()
        }
        let outData = o.fileHandleForReading.readDataToEndOfFile()
        g.wait()
        p.waitUntilExit()
        let written = write ? try? Data(contentsOf: out) : nil
        return Outcome(status: p.terminationStatus, stdout: outData, stderr: errData, written: written)
    }

    /// Asserts that every thread count in `others` gives exactly what `--threads 1` gives.
    func assertSameAsOneThread(_ args: [String], others: [Int] = [2, 4], write: Bool = false, stdin: URL? = nil,
                               _ label: String, file: StaticString = #filePath, line: UInt = #line) throws -> Outcome {
        let one = try analyze(args, threads: 1, write: write, stdin: stdin)
        for n in others {
            let got = try analyze(args, threads: n, write: write, stdin: stdin)
            XCTAssertEqual(got.status, one.status, "\(label): exit status with --threads \(n)", file: file, line: line)
            if got.stdout != one.stdout {
                XCTFail("\(label): standard output with --threads \(n) differs from --threads 1 (\(got.stdout.count) vs \(one.stdout.count) bytes, first difference at byte \(Self.firstDifference(got.stdout, one.stdout)))", file: file, line: line)
            }
            XCTAssertEqual(String(decoding: got.stderr, as: UTF8.self), String(decoding: one.stderr, as: UTF8.self),
                           "\(label): standard error with --threads \(n)", file: file, line: line)
            if got.written != one.written {
                XCTFail("\(label): --write pcapng with --threads \(n) differs from --threads 1 (\(got.written?.count ?? -1) vs \(one.written?.count ?? -1) bytes)", file: file, line: line)
            }
        }
        return one
    }

    static func firstDifference(_ a: Data, _ b: Data) -> Int {
        let x = [UInt8](a), y = [UInt8](b)
        var i = 0
        while i < min(x.count, y.count) && x[i] == y[i] { i += 1 }
        return i
    }

    // MARK: Recorded scenarios

    func testEveryFixtureScenarioGivesTheSameBytesWithTwoAndFourThreads() throws {
        let root = CLI.packageRoot.appendingPathComponent("Fixtures/scenarios")
        let names = try FileManager.default.contentsOfDirectory(atPath: root.path).sorted()
        var compared = 0
        for name in names {
            let capture = root.appendingPathComponent("\(name)/capture.pcapng").path
            let host = root.appendingPathComponent("\(name)/host").path
            guard FileManager.default.fileExists(atPath: capture), FileManager.default.fileExists(atPath: host) else { continue }
            let base = [capture, "--host", host]
            let jsonl = try assertSameAsOneThread(base + ["--format", "jsonl"], write: true, "\(name) jsonl")
            XCTAssertEqual(jsonl.status, 0, "\(name): \(String(decoding: jsonl.stderr, as: UTF8.self))")
            XCTAssertGreaterThan(jsonl.stdout.count, 0, name)
            _ = try assertSameAsOneThread(base + ["-v"], others: [2], "\(name) text -v")
            _ = try assertSameAsOneThread(base + ["--summary"], others: [2], "\(name) summary")
            compared += 1
        }
        XCTAssertGreaterThan(compared, 60, "fixture scenarios compared")
    }

    // MARK: Generated traffic

    /// A host with a UDP listener on 5000, a FORWARD rule dropping UDP to 5001 and conntrack
    /// (ct state invalid in INPUT), so fragments are gathered before the rules.
    static var host: String { CLI.fixture("Fixtures/scenarios/nf-ct-defrag/host") }

    lazy var generated: URL = {
        let url = Self.generatedPath
        try! SyntheticTraffic.pcap(frames: 6000, seed: 10).write(to: url)
        return url
    }()

    func testGeneratedTrafficGivesTheSameBytesInEveryFormat() throws {
        let base = [generated.path, "--host", Self.host]
        let jsonl = try assertSameAsOneThread(base + ["--format", "jsonl"], write: true, "generated jsonl")
        XCTAssertEqual(jsonl.status, 0, String(decoding: jsonl.stderr, as: UTF8.self))
        // Every input frame is there exactly once, in order, and the fragments did meet.
        let lines = String(decoding: jsonl.stdout, as: UTF8.self).split(separator: "\n")
        let frames = lines.compactMap { line -> Int? in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return o["frame"] as? Int
        }
        XCTAssertEqual(frames, Array(1...6000))
        XCTAssertTrue(lines.contains { $0.contains("\"fate\":\"delivered\"") })
        XCTAssertTrue(lines.contains { $0.contains("\"fate\":\"dropped\"") })
        XCTAssertTrue(lines.contains { $0.contains("\"fate\":\"forwarded\"") })
        _ = try assertSameAsOneThread(base + ["-v"], others: [2], "generated text -v")
        _ = try assertSameAsOneThread(base + ["--summary"], others: [2, 4], "generated summary")
        _ = try assertSameAsOneThread(base + ["--summary", "--write", "/dev/null"], others: [2], "generated summary with write")
        // Without a host the capture is read twice (the first time to infer one).
        _ = try assertSameAsOneThread([generated.path, "--format", "jsonl"], others: [2], "generated inferred host")
    }

    func testAFilterACountAndStandardInputGiveTheSameBytes() throws {
        let base = [generated.path, "--host", Self.host, "--format", "jsonl"]
        let filtered = try assertSameAsOneThread(base + ["udp", "and", "ip[6:2]", "&", "0x3fff", "!=", "0"], write: true, "fragments filter")
        XCTAssertEqual(filtered.status, 0)
        XCTAssertGreaterThan(filtered.stdout.count, 0)
        _ = try assertSameAsOneThread(base + ["-c", "700", "icmp", "or", "arp"], write: true, "count and filter")
        _ = try assertSameAsOneThread(base + ["-c", "1"], "count 1")
        _ = try assertSameAsOneThread(["-", "--host", Self.host, "--format", "jsonl"], others: [2], stdin: generated, "standard input")
        _ = try assertSameAsOneThread(["--only-drops", "-v"] + [generated.path, "--host", Self.host], others: [2], "only drops")
    }

    func testATruncatedCaptureFailsTheSameWayAfterTheSameFrames() throws {
        let whole = try Data(contentsOf: generated)
        for cut in [whole.count - 7, whole.count / 2 + 3, 24 + 16 + 5] {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-threads-cut-\(getpid())-\(cut).pcap")
            try whole.prefix(cut).write(to: url)
            defer { try? FileManager.default.removeItem(at: url) }
            let one = try assertSameAsOneThread([url.path, "--host", Self.host, "--format", "jsonl"], write: true, "cut at \(cut)")
            XCTAssertEqual(one.status, 2, "a truncated capture is an input error")
            XCTAssertTrue(String(decoding: one.stderr, as: UTF8.self).contains("truncated"), String(decoding: one.stderr, as: UTF8.self))
        }
    }

    // MARK: Rendering on its own thread

    /// With two threads and more, frames are rendered and written on a thread of their own
    /// from copies of the analyzer's results: every text and JSON option must print the same.
    func testEveryRenderingOptionGivesTheSameBytesWhenRenderedOnItsOwnThread() throws {
        let base = [generated.path, "--host", Self.host]
        let variants: [(String, [String])] = [
            ("text", []), ("text -q", ["-q"]), ("text -v", ["-v"]), ("text colour", ["-v", "--color"]),
            ("text stages", ["--stages", "nf_hook,ip_defrag,udp_rcv"]),
            ("jsonl stages", ["--format", "jsonl", "--stages", "ip_"]),
            ("jsonl only drops", ["--format", "jsonl", "--only-drops"]),
            ("jsonl count", ["--format", "jsonl", "-c", "2999"]),
        ]
        for (label, args) in variants {
            let one = try assertSameAsOneThread(base + args, others: [2, 3], label)
            XCTAssertEqual(one.status, 0, "\(label): \(String(decoding: one.stderr, as: UTF8.self))")
            XCTAssertGreaterThan(one.stdout.count, 100_000, "\(label): a trace long enough to fill many batches")
        }
        // -o FILE: the file gets the same bytes as standard output did.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-threads-o-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var files: [Data] = []
        for n in [1, 2] {
            let path = dir.appendingPathComponent("out\(n).jsonl").path
            let r = try analyze(base + ["--format", "jsonl", "-o", path], threads: n)
            XCTAssertEqual(r.status, 0, String(decoding: r.stderr, as: UTF8.self))
            XCTAssertEqual(r.stdout.count, 0, "-o leaves standard output empty")
            files.append(try Data(contentsOf: URL(fileURLWithPath: path)))
        }
        XCTAssertGreaterThan(files[0].count, 1_000_000)
        XCTAssertTrue(files[0] == files[1], "-o file with --threads 2 differs from --threads 1 at byte \(Self.firstDifference(files[0], files[1]))")
    }

    /// A full disk: the same message and exit status whichever thread writes.
    func testAFullDiskFailsTheSameWayWithEveryThreadCount() throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else { throw XCTSkip("no /dev/full on this system") }
        for format in ["jsonl", "text"] {
            let one = try assertSameAsOneThread([generated.path, "--host", Self.host, "--format", format, "-o", "/dev/full"],
                                                others: [2, 4], "\(format) to /dev/full")
            XCTAssertEqual(one.status, 2, "a write error is an error")
            XCTAssertEqual(String(decoding: one.stderr, as: UTF8.self),
                           "rxray: /dev/full: cannot write: \(String(cString: strerror(ENOSPC)))\n")
        }
    }

    /// Standard output closed by the reader (`| head`): rxray ends at once either way, the
    /// same way (killed by SIGPIPE, or exit 2 naming the broken pipe when SIGPIPE is ignored).
    func testAClosedPipeEndsTheRunTheSameWayWithEveryThreadCount() throws {
        var outcomes: [(Int32, Process.TerminationReason, String)] = []
        for n in [1, 2] {
            let p = Process()
            p.executableURL = CLI.binary
            p.arguments = ["analyze", generated.path, "--host", Self.host, "--format", "jsonl", "--threads", "\(n)"]
            p.currentDirectoryURL = CLI.packageRoot
            let o = Pipe(), e = Pipe()
            p.standardOutput = o
            p.standardError = e
            p.standardInput = FileHandle.nullDevice
            try p.run()
            // Read the first bytes, then close the pipe as `head -c` would.
            let first = o.fileHandleForReading.readData(ofLength: 4096)
            XCTAssertGreaterThan(first.count, 0)
            try o.fileHandleForReading.close()
            let err = e.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            outcomes.append((p.terminationStatus, p.terminationReason, String(decoding: err, as: UTF8.self)))
        }
        XCTAssertEqual(outcomes[0].0, outcomes[1].0, "exit status")
        XCTAssertEqual(outcomes[0].1, outcomes[1].1, "termination reason")
        XCTAssertEqual(outcomes[0].2, outcomes[1].2, "standard error")
        if outcomes[1].1 == .exit {
            XCTAssertEqual(outcomes[1].0, 2)
            XCTAssertTrue(outcomes[1].2.contains("<stdout>: cannot write"), outcomes[1].2)
        } else {
            XCTAssertEqual(outcomes[1].0, SIGPIPE)
        }
    }

    /// A capture whose fragments are far apart keeps thousands of results pending (and their
    /// frames' bytes held) before they settle; every frame still comes out once, in order, the
    /// same with every thread count.
    func testADeepHoldGivesTheSameBytes() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-threads-deep-\(getpid()).pcap")
        try SyntheticTraffic.pcap(frames: 12000, seed: 77, farFragments: true).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let one = try assertSameAsOneThread([url.path, "--host", Self.host, "--format", "jsonl"], others: [2], write: true, "deep hold")
        XCTAssertEqual(one.status, 0, String(decoding: one.stderr, as: UTF8.self))
        let lines = String(decoding: one.stdout, as: UTF8.self).split(separator: "\n")
        let frames = lines.compactMap { line -> Int? in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return o["frame"] as? Int
        }
        XCTAssertEqual(frames, Array(1...12000))
        // The far-apart fragments did reassemble (their datagram was delivered).
        XCTAssertTrue(lines.contains { $0.contains("\"fate\":\"delivered\"") && $0.contains("ip_defrag") })
        _ = try assertSameAsOneThread([url.path, "--host", Self.host, "-v"], others: [2], "deep hold text")
        // One thread renders each frame as its result settles and keeps the records behind a
        // held one (`RenderedQueue`): -c must stop after the same frame and --only-drops leave
        // out the same ones as in capture order, with frames still waiting.
        let counted = try assertSameAsOneThread([url.path, "--host", Self.host, "--format", "jsonl", "-c", "7001"], others: [2], "deep hold count")
        XCTAssertEqual(String(decoding: counted.stdout, as: UTF8.self).split(separator: "\n").filter { $0.hasPrefix("{\"frame\":") }.count, 7001)
        _ = try assertSameAsOneThread([url.path, "--host", Self.host, "--format", "jsonl", "--only-drops"], others: [2], "deep hold only drops")
        _ = try assertSameAsOneThread([url.path, "--host", Self.host, "-v", "-c", "333", "udp"], others: [2], "deep hold filter and count")
    }

    /// `--summary` alone takes results as they settle (a held fragment does not keep later
    /// results waiting); with `-c` the results come in capture order. The summary counts, so
    /// both must print the same bytes, with far-apart fragments and with fragments that never
    /// complete.
    func testSummaryIsTheSameInSettledAndCaptureOrder() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-threads-order-\(getpid()).pcap")
        try SyntheticTraffic.pcap(frames: 12000, seed: 91, farFragments: true).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        for extra in [[], ["--format", "jsonl"]] {
            let settled = try analyze([url.path, "--host", Self.host, "--summary"] + extra, threads: 1)
            let inOrder = try analyze([url.path, "--host", Self.host, "--summary", "-c", "1000000"] + extra, threads: 1)
            XCTAssertEqual(settled.status, 0, String(decoding: settled.stderr, as: UTF8.self))
            XCTAssertEqual(String(decoding: settled.stdout, as: UTF8.self), String(decoding: inOrder.stdout, as: UTF8.self), "summary \(extra)")
            XCTAssertTrue(String(decoding: settled.stdout, as: UTF8.self).contains("12000"), "every frame counted")
        }
        // The generated mix: in-order, reversed, interleaved and never-completed fragments.
        let settled = try analyze([generated.path, "--host", Self.host, "--summary"], threads: 1)
        let inOrder = try analyze([generated.path, "--host", Self.host, "--summary", "-c", "1000000"], threads: 1)
        XCTAssertEqual(settled.status, 0)
        XCTAssertEqual(String(decoding: settled.stdout, as: UTF8.self), String(decoding: inOrder.stdout, as: UTF8.self))
    }

    func testThreadsMustBePositive() throws {
        let r = try analyze([generated.path, "--host", Self.host], threads: 0)
        XCTAssertEqual(r.status, 2, "a usage error")
        XCTAssertTrue(String(decoding: r.stderr, as: UTF8.self).contains("--threads"))
    }
}

/// Thousands of mixed Ethernet frames for the nf-ct-defrag host (eth0 192.0.2.1,
/// 02:00:00:00:00:10): UDP to the listener and to closed ports, TCP SYNs, pings, ARP,
/// forwarded datagrams, IPv4 fragments (in order, reversed, interleaved, and some never
/// completed, so queues expire), bad checksums and jumbo frames, 10 ms apart.
enum SyntheticTraffic {
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static let hostMAC: [UInt8] = [2, 0, 0, 0, 0, 0x10]
    static let hostIP: [UInt8] = [192, 0, 2, 1]

    /// - Parameter farFragments: also send, every 500 frames, the first fragment of a datagram
    ///   whose second comes 2,000 frames (20 s) later, within the reassembly timeout.
    static func pcap(frames count: Int, seed: UInt64, farFragments: Bool = false) -> Data {
        var rng = Random(state: seed)
        var frames: [[UInt8]] = []
        var id: UInt16 = 1
        var later: [(at: Int, frame: [UInt8])] = []
        while frames.count < count {
            if farFragments {
                if let k = later.firstIndex(where: { $0.at <= frames.count }) {
                    frames.append(later.remove(at: k).frame)
                    continue
                }
                if frames.count % 500 == 0 {
                    let src: [UInt8] = [192, 0, 2, 200]
                    let mac: [UInt8] = [2, 0, 0, 0, 1, 200]
                    id &+= 1
                    let parts = fragments(src, hostIP, id: id &+ 20000, udp(46000, 5000, payload: 1400), piece: 1000)
                    frames.append(ether(mac, parts[0]))
                    later.append((frames.count + 2000, ether(mac, parts[1])))
                    continue
                }
            }
            let peer = UInt8(2 + rng.below(40))
            let src: [UInt8] = [192, 0, 2, peer]
            let mac: [UInt8] = [2, 0, 0, 0, 1, peer]
            id &+= 1
            switch rng.below(12) {
            case 0, 1:
                frames.append(ether(mac, ipv4(src, hostIP, 17, id: id, udp(UInt16(20000 + rng.below(100)), 5000, payload: rng.below(200)))))
            case 2:
                frames.append(ether(mac, ipv4(src, hostIP, 17, id: id, udp(40000, UInt16(5001 + rng.below(3)), payload: 20))))
            case 3:
                frames.append(ether(mac, ipv4(src, hostIP, 6, id: id, tcpSYN(src, hostIP, UInt16(30000 + rng.below(500)), UInt16([22, 80, 443][rng.below(3)])))))
            case 4:
                frames.append(ether(mac, ipv4(src, hostIP, 1, id: id, icmpEcho(id: id, payload: 56))))
            case 5:
                frames.append(arpRequest(mac, src))
            case 6:
                let dst: [UInt8] = [198, 51, 100, UInt8(2 + rng.below(5))]
                frames.append(ether(mac, ipv4(src, dst, 17, id: id, udp(41000, UInt16(5000 + rng.below(3)), payload: 64))))
            case 7, 8:
                // A datagram in two or three fragments: in order, reversed, or missing one.
                let datagram = udp(UInt16(42000 + rng.below(50)), 5000, payload: 1200 + rng.below(1500))
                var parts = fragments(src, hostIP, id: id, datagram, piece: 1000)
                switch rng.below(4) {
                case 0: parts.reverse()
                case 1: parts.removeLast()
                default: break
                }
                frames += parts.map { ether(mac, $0) }
            case 9:
                var ip = ipv4(src, hostIP, 17, id: id, udp(43000, 5000, payload: 30))
                ip[10] ^= 0x5a  // a bad header checksum
                frames.append(ether(mac, ip))
            case 10:
                frames.append(ether(mac, ipv4(src, hostIP, 17, id: id, udp(44000, 5000, payload: 8000))))
            default:
                // A fragment of another datagram arriving between the pieces of others.
                let datagram = udp(45000, 5000, payload: 600)
                let parts = fragments(src, hostIP, id: id &+ 5000, datagram, piece: 400)
                frames.append(ether(mac, parts[0]))
                if rng.below(2) == 0 { frames.append(ether(mac, parts[1])) }
            }
        }
        frames.removeLast(frames.count - count)
        var out = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        u32(0xA1B2_C3D4); u16(2); u16(4); u32(0); u32(0); u32(262_144); u32(1)
        for (i, f) in frames.enumerated() {
            let t = 1_700_000_000 * 1_000_000 + i * 10_000  // microseconds
            u32(UInt32(t / 1_000_000)); u32(UInt32(t % 1_000_000)); u32(UInt32(f.count)); u32(UInt32(f.count))
            out.append(contentsOf: f)
        }
        return out
    }

    static func ether(_ src: [UInt8], _ payload: [UInt8], type: UInt16 = 0x0800) -> [UInt8] {
        hostMAC + src + [UInt8(type >> 8), UInt8(type & 0xff)] + payload
    }

    static func checksum(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt16 {
        var sum = initial
        var i = 0
        while i + 1 < bytes.count { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    static func ipv4(_ src: [UInt8], _ dst: [UInt8], _ proto: UInt8, id: UInt16, _ payload: [UInt8],
                     fragOffset: Int = 0, more: Bool = false) -> [UInt8] {
        let total = 20 + payload.count
        let frag = UInt16(fragOffset / 8) | (more ? 0x2000 : 0)
        var h: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xff), UInt8(id >> 8), UInt8(id & 0xff),
                          UInt8(frag >> 8), UInt8(frag & 0xff), 64, proto, 0, 0] + src + dst
        let c = checksum(h)
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xff)
        return h + payload
    }

    static func fragments(_ src: [UInt8], _ dst: [UInt8], id: UInt16, _ datagram: [UInt8], piece: Int) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var offset = 0
        while offset < datagram.count {
            let end = min(datagram.count, offset + piece)
            out.append(ipv4(src, dst, 17, id: id, Array(datagram[offset..<end]), fragOffset: offset, more: end < datagram.count))
            offset = end
        }
        return out
    }

    /// UDP without a checksum (0: none, allowed over IPv4).
    static func udp(_ sport: UInt16, _ dport: UInt16, payload: Int) -> [UInt8] {
        let len = 8 + payload
        return [UInt8(sport >> 8), UInt8(sport & 0xff), UInt8(dport >> 8), UInt8(dport & 0xff),
                UInt8(len >> 8), UInt8(len & 0xff), 0, 0] + (0..<payload).map { UInt8(truncatingIfNeeded: $0) }
    }

    static func tcpSYN(_ src: [UInt8], _ dst: [UInt8], _ sport: UInt16, _ dport: UInt16) -> [UInt8] {
        var t: [UInt8] = [UInt8(sport >> 8), UInt8(sport & 0xff), UInt8(dport >> 8), UInt8(dport & 0xff),
                          0, 0, 0x10, 0, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]
        var pseudo = UInt32(0)
        for k in stride(from: 0, to: 4, by: 2) {
            pseudo += UInt32(src[k]) << 8 | UInt32(src[k + 1])
            pseudo += UInt32(dst[k]) << 8 | UInt32(dst[k + 1])
        }
        pseudo += 6 + UInt32(t.count)
        let c = checksum(t, initial: pseudo)
        t[16] = UInt8(c >> 8); t[17] = UInt8(c & 0xff)
        return t
    }

    static func icmpEcho(id: UInt16, payload: Int) -> [UInt8] {
        var m: [UInt8] = [8, 0, 0, 0, UInt8(id >> 8), UInt8(id & 0xff), 0, 1] + (0..<payload).map { UInt8(truncatingIfNeeded: $0) }
        let c = checksum(m)
        m[2] = UInt8(c >> 8); m[3] = UInt8(c & 0xff)
        return m
    }

    static func arpRequest(_ mac: [UInt8], _ ip: [UInt8]) -> [UInt8] {
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] + mac + [0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1] + mac + ip
            + [0, 0, 0, 0, 0, 0] + hostIP
    }
}
