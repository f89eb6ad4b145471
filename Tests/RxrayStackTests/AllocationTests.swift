import Foundation
import XCTest
import RxrayDecode
@testable import RxrayStack

/// Heap allocations per frame on the summary path (issue #10): the receive path, GRO holds,
/// reassembly queues and the analyzer's pending results reuse their storage, so running 2N frames allocates no more
/// than running N (apart from a few geometric growths).
///
/// The count comes from Benchmarks/c/malloccount.c, an LD_PRELOAD counter: the test compiles
/// it and runs this test binary again as a child (`RXRAY_ALLOC_CHILD_FRAMES` set), once with N
/// and once with 2N frames, and compares the totals.
final class AllocationTests: XCTestCase {
    static let childFramesVar = "RXRAY_ALLOC_CHILD_FRAMES"
    static let childStuckVar = "RXRAY_ALLOC_CHILD_STUCK"

    /// Ordinary traffic: every result is emitted at once or after a short GRO hold.
    func testSteadyStateAllocatesNothingPerFrame() throws {
        if try runAsChild() { return }
        try compare(stuck: false, maxPerFrame: 0.001)
    }

    /// A first fragment whose rest never comes keeps every later result waiting (capture order)
    /// until the end: the waiting results are packed, not given storage of their own.
    func testResultsWaitingBehindAFragmentAllocateNothingPerFrame() throws {
        if try runAsChild() { return }
        try compare(stuck: true, maxPerFrame: 0.001)
    }

    /// Without the counter: the waiting results come out complete and in order, identical to
    /// the same frames' results when nothing waits.
    func testPackedResultsEqualTheDirectOnes() {
        let frames = Self.pool()
        let stuck = Self.stuckFragment()
        var direct: [FrameResult] = [], waited: [FrameResult] = []
        let a = Analyzer(netns: Self.host(), options: Analyzer.Options(wantsDetail: true))
        let b = Analyzer(netns: Self.host(), options: Analyzer.Options(wantsDetail: true))
        let n = 3000
        // Frame 1: the stuck fragment for `b`, the same datagram unfragmented for `a` (so both
        // see the same NAPI polls).
        Self.feed(a, frame: Self.stuckFragment(fragment: false), index: 1, time: Self.t0) { direct.append($0) }
        Self.feed(b, frame: stuck, index: 1, time: Self.t0) { waited.append($0) }
        var maxWaiting = 0
        for i in 0..<n {
            let f = frames[i % frames.count]
            Self.feed(a, frame: f, index: i + 2, time: Self.t0 + Int64(i + 1) * 10_000) { direct.append($0) }
            Self.feed(b, frame: f, index: i + 2, time: Self.t0 + Int64(i + 1) * 10_000) { waited.append($0) }
            let c = b.pendingCounts
            maxWaiting = max(maxWaiting, c.waiting)
            // Held frames keep a full result; settled ones too while few wait, then they are packed.
            XCTAssertLessThanOrEqual(c.full, Analyzer.unpackedWaitingLimit + 16, "frame \(i + 2)")
            if i > 2 * Analyzer.unpackedWaitingLimit { XCTAssertLessThan(c.full, c.waiting / 2, "frame \(i + 2): the waiting results are packed") }
        }
        XCTAssertEqual(waited.count, 0, "everything waits behind frame 1")
        XCTAssertEqual(maxWaiting, n + 1)
        a.finish { direct.append($0) }
        b.finish { waited.append($0) }
        XCTAssertEqual(waited.first?.frame, 1)
        XCTAssertEqual(waited.first?.dropReason, .fragReasmTimeout)
        let rest = Array(waited.dropFirst())
        direct.removeFirst()
        XCTAssertEqual(rest.count, direct.count)
        for (x, y) in zip(direct, rest) {
            XCTAssertEqual(x.frame, y.frame)
            XCTAssertEqual(x.fate, y.fate, "frame \(x.frame)")
            XCTAssertEqual(x.dropReason, y.dropReason, "frame \(x.frame)")
            XCTAssertEqual(x.dropStage, y.dropStage, "frame \(x.frame)")
            XCTAssertEqual(x.egress, y.egress, "frame \(x.frame)")
            XCTAssertEqual(x.nextHop, y.nextHop, "frame \(x.frame)")
            XCTAssertEqual(x.gro, y.gro, "frame \(x.frame)")
            XCTAssertEqual(x.replies, y.replies, "frame \(x.frame)")
            XCTAssertEqual(x.trace.map { "\($0.stage) \($0.verdict) \($0.detail)" },
                           y.trace.map { "\($0.stage) \($0.verdict) \($0.detail)" }, "frame \(x.frame)")
            XCTAssertEqual(x.counters.map { "\($0.0)=\($0.1)" }, y.counters.map { "\($0.0)=\($0.1)" }, "frame \(x.frame)")
        }
    }

    // MARK: workload

    static let t0: Int64 = 1_700_000_000_000_000_000

    /// The test host with forwarding on and permanent neighbours for the replies and the forwarded traffic.
    static func host() -> Netns {
        var ns = T.netns(forwarding: true)
        ns.neighbours.append(NeighEntry(address: .v4(IPv4Address(192, 0, 2, 2)), dev: 1, lladdr: T.peerMAC, state: "PERMANENT"))
        ns.neighbours.append(NeighEntry(address: .v4(IPv4Address(198, 51, 100, 7)), dev: 2, lladdr: MACAddress(0x0200_0000_0077),
                                        state: "PERMANENT"))
        ns.neighboursKnown = true
        return ns
    }

    /// TCP segment with `payload` bytes (ACK, or the flags given) from 192.0.2.2:`sport`.
    static func tcpData(sport: UInt16, dport: UInt16, seq: UInt32, flags: UInt8 = 0x10, payload: Int,
                        dst: IPv4Address = IPv4Address(192, 0, 2, 1)) -> [UInt8] {
        let src = IPv4Address(192, 0, 2, 2)
        var t: [UInt8] = [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
                          UInt8(seq >> 24), UInt8(seq >> 16 & 0xFF), UInt8(seq >> 8 & 0xFF), UInt8(seq & 0xFF),
                          0, 0, 0, 1, 0x50, flags, 0xFF, 0xFF, 0, 0, 0, 0]
        t += (0..<payload).map { UInt8(truncatingIfNeeded: $0) }
        let c = T.checksum(t, 0..<t.count, pseudo: Pseudo.v4(src, dst, proto: 6, length: t.count))
        t[16] = UInt8(c >> 8); t[17] = UInt8(c & 0xFF)
        return T.eth(type: 0x0800, T.ipv4(src: src, dst: dst, proto: 6, id: UInt16(truncatingIfNeeded: seq), t))
    }

    /// A mix that exercises replies, GRO holds and merges, forwarding and local delivery.
    static func pool() -> [[UInt8]] {
        var p: [[UInt8]] = []
        p.append(T.eth(type: 0x0800, T.ipv4(proto: 1, T.icmpEcho())))
        p.append(T.eth(type: 0x0800, T.ipv4(proto: 17, T.udp(dport: 9))))
        p.append(T.eth(type: 0x0800, T.ipv4(proto: 6, T.tcp(dport: 80, flags: 0x02))))
        // Two segments GRO merges, then one that ends the burst (PSH).
        for k in 0..<3 {
            p.append(tcpData(sport: 40000, dport: 8080, seq: 1000 + UInt32(k) * 500, flags: k == 2 ? 0x18 : 0x10, payload: 500))
        }
        p.append(tcpData(sport: 40001, dport: 443, seq: 7, payload: 300, dst: IPv4Address(198, 51, 100, 7)))
        p.append(T.eth(type: 0x0800, T.ipv4(dst: IPv4Address(198, 51, 100, 7), proto: 17, T.udp(dst: IPv4Address(198, 51, 100, 7), dport: 53))))
        // Reassembly: a datagram in two fragments in order, another last fragment first (each
        // round makes a new queue, which must reuse the storage of the queues before it).
        p += fragmentedUDP(id: 0x4100, reversed: false)
        p += fragmentedUDP(id: 0x4101, reversed: true)
        return p
    }

    /// A UDP datagram (1,008 bytes, no checksum) to port 9 in two fragments.
    static func fragmentedUDP(id: UInt16, reversed: Bool) -> [[UInt8]] {
        var d: [UInt8] = [0x30, 0x39, 0x00, 0x09, UInt8(1008 >> 8), UInt8(1008 & 0xFF), 0, 0]
        d += (0..<1000).map { UInt8(truncatingIfNeeded: $0) }
        let first = T.eth(type: 0x0800, T.ipv4(proto: 17, id: id, flags: 0x2000, Array(d[0..<504])))
        let last = T.eth(type: 0x0800, T.ipv4(proto: 17, id: id, flags: UInt16(504 / 8), Array(d[504...])))
        return reversed ? [last, first] : [first, last]
    }

    /// The first fragment of a datagram whose rest never comes.
    static func stuckFragment(fragment: Bool = true) -> [UInt8] {
        T.eth(type: 0x0800, T.ipv4(proto: 17, id: 0x7777, flags: fragment ? 0x2000 : 0, [UInt8](repeating: 0x11, count: 64)))
    }

    static func feed(_ a: Analyzer, frame: [UInt8], index: Int, time: Int64, emit: (FrameResult) -> Void) {
        frame.withUnsafeBytes { buf in
            a.process(FrameInput(index: index, timestampNs: time, bytes: buf, linkType: .ethernet, interfaceName: "eth0"), emit: emit)
        }
    }

    /// The child's run: `frames` frames of the pool (after the stuck fragment when asked),
    /// summary-style (no detail text), results only counted.
    static func workload(frames: Int, stuck: Bool) -> Int {
        let pool = Self.pool()
        let stuckFrame = stuckFragment()
        let a = Analyzer(netns: host(), options: Analyzer.Options(wantsDetail: false))
        var emitted = 0
        var index = 1
        if stuck {
            feed(a, frame: stuckFrame, index: 1, time: t0) { _ in emitted += 1 }
            index = 2
        }
        for i in 0..<frames {
            feed(a, frame: pool[i % pool.count], index: index, time: t0 + Int64(i + 1) * 10_000) { r in emitted += r.stages.count > 0 ? 1 : 0 }
            index += 1
        }
        a.finish { r in emitted += r.stages.count > 0 ? 1 : 0 }
        return emitted
    }

    // MARK: parent and child

    /// In the child: runs the workload and returns true (the counter reports at exit).
    func runAsChild() throws -> Bool {
        let env = ProcessInfo.processInfo.environment
        guard let n = env[Self.childFramesVar].flatMap(Int.init) else { return false }
        let emitted = Self.workload(frames: n, stuck: env[Self.childStuckVar] == "1")
        XCTAssertGreaterThan(emitted, 0)
        return true
    }

    func compare(stuck: Bool, maxPerFrame: Double) throws {
        #if DEBUG
        throw XCTSkip("allocation counts are asserted for optimized builds only (swift test -c release): -Onone keeps temporaries on the heap")
        #else
        #if !os(Linux)
        throw XCTSkip("the LD_PRELOAD allocation counter is Linux-only")
        #else
        let counter = try buildCounter()
        // 40k frames a step: a per-frame rate of 0.001 is 40 allocations, well above the few
        // reallocations by which two doubling steps of geometric growth may differ.
        let n = 40_000
        // Warm-up amounts differ by geometric growth only; compare N and 2N frames.
        let a1 = try child(frames: n, stuck: stuck, counter: counter)
        let a2 = try child(frames: 2 * n, stuck: stuck, counter: counter)
        var perFrame = Double(a2 - a1) / Double(n)
        print("allocations: \(a1) for \(n) frames, \(a2) for \(2 * n): \(perFrame) per frame (stuck fragment: \(stuck))")
        if stuck {
            // Behind a stuck fragment every result waits to the end, so the arenas that pack
            // them keep growing: each doubling of the run adds the same few reallocations
            // (geometric growth), while an allocation per frame adds twice as many in the
            // second doubling as in the first. The difference of the two steps, over N,
            // is the per-frame rate.
            let a4 = try child(frames: 4 * n, stuck: stuck, counter: counter)
            perFrame = Double((a4 - a2) - (a2 - a1)) / Double(n)
            print("allocations: \(a4) for \(4 * n) frames: per-frame rate beyond geometric growth \(perFrame)")
        }
        XCTAssertLessThanOrEqual(perFrame, maxPerFrame, "heap allocations per frame (\(a1) for \(n) frames, \(a2) for \(2 * n); stuck fragment: \(stuck))")
        #endif
        #endif
    }

    /// Compiles Benchmarks/c/malloccount.c into a temporary directory.
    func buildCounter() throws -> String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let source = root.appendingPathComponent("Benchmarks/c/malloccount.c").path
        guard FileManager.default.fileExists(atPath: source) else { throw XCTSkip("\(source) not found") }
        let dir = NSTemporaryDirectory() + "rxray-alloc-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/malloccount.so"
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-O2", "-shared", "-fPIC", "-o", out, source]
        do { try cc.run() } catch { throw XCTSkip("no C compiler to build the allocation counter: \(error)") }
        cc.waitUntilExit()
        guard cc.terminationStatus == 0 else { throw XCTSkip("cc could not build \(source) (status \(cc.terminationStatus))") }
        return out
    }

    /// Runs this test in a child process under the counter and returns its allocation count.
    func child(frames: Int, stuck: Bool, counter: String) throws -> Int {
        let report = counter + ".\(frames).\(stuck).txt"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        let name = stuck ? "testResultsWaitingBehindAFragmentAllocateNothingPerFrame" : "testSteadyStateAllocatesNothingPerFrame"
        p.arguments = ["RxrayStackTests.AllocationTests/\(name)"]
        var env = ProcessInfo.processInfo.environment
        env[Self.childFramesVar] = String(frames)
        env[Self.childStuckVar] = stuck ? "1" : "0"
        env["LD_PRELOAD"] = counter
        env["MALLOCCOUNT_OUT"] = report
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "child run of \(frames) frames failed")
        let text = try String(contentsOfFile: report, encoding: .utf8)
        guard let field = text.split(separator: " ").first(where: { $0.hasPrefix("allocations=") }),
              let count = Int(field.dropFirst("allocations=".count)) else {
            throw NSError(domain: "AllocationTests", code: 1, userInfo: [NSLocalizedDescriptionKey: "unreadable counter report: \(text)"])
        }
        return count
    }
}
