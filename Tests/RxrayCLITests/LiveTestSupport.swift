import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Runs a command to completion and returns its status and output (for `ip`, `rxray analyze`).
enum LiveShell {
    struct Outcome {
        var status: Int32
        var output: String
        var error: String
    }

    @discardableResult
    static func run(_ argv: [String], stdin: String? = nil) throws -> Outcome {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = argv
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try p.run()
        if let s = stdin {
            input.fileHandleForWriting.write(Data(s.utf8))
            try? input.fileHandleForWriting.close()
        }
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let g = DispatchGroup()
        g.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            g.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        g.wait()
        p.waitUntilExit()
        return Outcome(status: p.terminationStatus, output: String(decoding: outData, as: UTF8.self),
                       error: String(decoding: errBox.data, as: UTF8.self))
    }

    static var hasScapy: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
            && ((try? run(["/usr/bin/python3", "-c", "import scapy.all"]))?.status == 0)
    }
}

/// Two network namespaces joined by a veth pair, made for one test and always deleted:
/// the DUT (198.51.100.1, MAC 02:00:00:00:00:01) and the peer that injects frames.
///
/// Injected frames carry the source MAC `injectorMAC`, which no interface has: the DUT's
/// neighbour entry for the peer points there, so the DUT's replies are dropped by the peer as
/// PACKET_OTHERHOST and the peer's kernel never adds frames of its own. IPv6 is disabled in
/// both namespaces before the links come up (no DAD, router or MLD traffic).
final class LiveNetwork {
    let dut: String
    let peer: String
    let dutLink: String
    let peerLink: String
    static let dutMAC = "02:00:00:00:00:01"
    static let peerMAC = "02:00:00:00:00:02"
    static let injectorMAC = "02:00:00:00:00:99"
    static let dutIP = "198.51.100.1"
    static let peerIP = "198.51.100.2"
    private var made: [String] = []

    init() throws {
        guard getuid() == 0 else {
            print("skipping live test: needs root (network namespaces, packet sockets)")
            throw XCTSkip("live capture tests need root (network namespaces, packet sockets)")
        }
        guard (try? LiveShell.run(["ip", "-V"]))?.status == 0 else {
            print("skipping live test: iproute2's ip is not installed")
            throw XCTSkip("iproute2's ip is not installed")
        }
        guard LiveShell.hasScapy else {
            print("skipping live test: /usr/bin/python3 with scapy is needed to inject frames")
            throw XCTSkip("/usr/bin/python3 with scapy is needed to inject frames")
        }
        let tag = String(format: "%05d%04x", getpid() % 100_000, UInt16.random(in: 0 ... 0xffff))
        dut = "rxlive-d-\(tag)"
        peer = "rxlive-p-\(tag)"
        dutLink = "rxd\(tag)"
        peerLink = "rxp\(tag)"
        for ns in [dut, peer] {
            let r = try LiveShell.run(["ip", "netns", "add", ns])
            if r.status != 0 {
                delete()
                print("skipping live test: cannot create a network namespace: \(r.error)")
                throw XCTSkip("cannot create a network namespace here: \(r.error)")
            }
            made.append(ns)
        }
        let steps: [[String]] = [
            ["ip", "link", "add", dutLink, "netns", dut, "address", Self.dutMAC, "type", "veth",
             "peer", "name", peerLink, "netns", peer, "address", Self.peerMAC],
            ["ip", "netns", "exec", dut, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"],
            ["ip", "netns", "exec", dut, "sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"],
            ["ip", "netns", "exec", dut, "sysctl", "-q", "-w", "net.ipv6.conf.\(dutLink).disable_ipv6=1"],
            ["ip", "netns", "exec", peer, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"],
            ["ip", "netns", "exec", peer, "sysctl", "-q", "-w", "net.ipv6.conf.\(peerLink).disable_ipv6=1"],
            ["ip", "-n", dut, "link", "set", "lo", "up"],
            ["ip", "-n", peer, "link", "set", "lo", "up"],
            ["ip", "-n", dut, "addr", "add", "\(Self.dutIP)/24", "dev", dutLink],
            ["ip", "-n", peer, "addr", "add", "\(Self.peerIP)/24", "dev", peerLink],
            ["ip", "-n", dut, "link", "set", dutLink, "up"],
            ["ip", "-n", peer, "link", "set", peerLink, "up"],
            ["ip", "-n", dut, "neigh", "replace", Self.peerIP, "lladdr", Self.injectorMAC, "dev", dutLink, "nud", "permanent"],
        ]
        for step in steps {
            let r = try LiveShell.run(step)
            if r.status != 0 {
                delete()
                throw NSError(domain: "namespace setup failed: \(step.joined(separator: " ")): \(r.error)", code: 1)
            }
        }
    }

    /// Deletes the namespaces (and with them the veth pair). Idempotent.
    func delete() {
        for ns in made { _ = try? LiveShell.run(["ip", "netns", "delete", ns]) }
        made = []
    }

    deinit { delete() }

    /// Runs a scapy script in the peer namespace. The script gets `IFACE`, `DUT_MAC`, `SRC_MAC`,
    /// `DUT_IP`, `PEER_IP` and scapy's names; what it prints is returned.
    func inject(_ body: String) throws -> String {
        let script = """
            import warnings, sys, time, socket
            warnings.filterwarnings("ignore")
            from scapy.all import *
            conf.verb = 0
            IFACE = "\(peerLink)"; DUT_MAC = "\(Self.dutMAC)"; SRC_MAC = "\(Self.injectorMAC)"
            DUT_IP = "\(Self.dutIP)"; PEER_IP = "\(Self.peerIP)"
            \(body)
            """
        let r = try LiveShell.run(["ip", "netns", "exec", peer, "/usr/bin/python3", "-"], stdin: script)
        guard r.status == 0 else { throw NSError(domain: "injector failed: \(r.error)", code: 1) }
        return r.output
    }
}

/// `rxray live` as a child process, its standard output and error read line by line as they
/// arrive, each line stamped with the wall-clock time it was read.
final class LiveProcess {
    struct Line {
        var text: String
        var readAtNs: Int64
    }

    let process = Process()
    private let lock = NSLock()
    private var outLines: [Line] = []
    private var errLines: [Line] = []
    private let readers = DispatchGroup()

    init(_ argv: [String], viaNetns: String? = nil) throws {
        if let ns = viaNetns {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["ip", "netns", "exec", ns, CLI.binary.path] + argv
        } else {
            process.executableURL = CLI.binary
            process.arguments = argv
        }
        process.currentDirectoryURL = CLI.packageRoot
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        read(out.fileHandleForReading, into: \.outLines)
        read(err.fileHandleForReading, into: \.errLines)
    }

    static func wallNs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    private func read(_ handle: FileHandle, into path: ReferenceWritableKeyPath<LiveProcess, [Line]>) {
        readers.enter()
        let thread = Thread { [self] in
            defer { readers.leave() }
            var pending = Data()
            let fd = handle.fileDescriptor
            var buf = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                let now = Self.wallNs()
                pending.append(contentsOf: buf[0 ..< n])
                while let nl = pending.firstIndex(of: 10) {
                    let line = String(decoding: pending[pending.startIndex ..< nl], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex ... nl)
                    lock.lock()
                    self[keyPath: path].append(Line(text: line, readAtNs: now))
                    lock.unlock()
                }
            }
            if !pending.isEmpty {
                lock.lock()
                self[keyPath: path].append(Line(text: String(decoding: pending, as: UTF8.self), readAtNs: Self.wallNs()))
                lock.unlock()
            }
        }
        thread.start()
    }

    var stdoutLines: [Line] { lock.lock(); defer { lock.unlock() }; return outLines }
    var stderrLines: [Line] { lock.lock(); defer { lock.unlock() }; return errLines }
    var stderrText: String { stderrLines.map(\.text).joined(separator: "\n") }

    /// Waits until a standard error line contains `text`; false on timeout or exit.
    func waitForStderr(_ text: String, timeout: TimeInterval) -> Bool {
        waitUntil(timeout: timeout) { self.stderrLines.contains { $0.text.contains(text) } }
    }

    /// Waits until `condition` holds, polling every 10 ms; false on timeout or if the process ended.
    func waitUntil(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            if !process.isRunning { return condition() }
            usleep(10_000)
        }
        return condition()
    }

    /// Sends `signal` to the child by PID.
    func send(_ sig: Int32) {
        if process.isRunning { kill(process.processIdentifier, sig) }
    }

    /// Stops the child with SIGINT and waits for it and its output (SIGKILL after `timeout`).
    @discardableResult
    func interruptAndWait(timeout: TimeInterval = 20) -> Int32 {
        send(SIGINT)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        readers.wait()
        return process.terminationStatus
    }

    /// How many standard output lines are per-frame JSON objects (cheap: no parsing).
    var frameLineCount: Int {
        lock.lock(); defer { lock.unlock() }
        return outLines.reduce(0) { $0 + ($1.text.hasPrefix("{\"frame\":") ? 1 : 0) }
    }

    /// The JSON objects of standard output's lines (non-JSON lines are skipped).
    var jsonLines: [(object: [String: Any], readAtNs: Int64)] {
        stdoutLines.compactMap { line in
            guard line.text.hasPrefix("{"),
                  let o = try? JSONSerialization.jsonObject(with: Data(line.text.utf8)) as? [String: Any] else { return nil }
            return (o, line.readAtNs)
        }
    }
}

/// Parses rxray's `ts` field ("seconds.nanoseconds") into nanoseconds since the epoch.
func liveTimestampNs(_ s: String) -> Int64? {
    let parts = s.split(separator: ".")
    guard parts.count == 2, let sec = Int64(parts[0]), let frac = Int64(parts[1]) else { return nil }
    var f = frac
    for _ in parts[1].count ..< 9 { f *= 10 }
    return sec * 1_000_000_000 + f
}

/// A minimal pcapng writer for the test's own copy of the injected frames (the CLI test target
/// does not link RxrayCapture): one section, one Ethernet interface with a name, nanosecond
/// timestamps.
struct TestPcapng {
    private(set) var data = Data()

    init(interfaceName: String) {
        block(type: 0x0A0D_0D0A, body: u32(0x1A2B_3C4D) + u16(1) + u16(0) + Data(repeating: 0xff, count: 8) + endOfOptions)
        block(type: 1, body: u16(1) + u16(0) + u32(262_144) + option(2, Data(interfaceName.utf8)) + option(9, Data([9])) + endOfOptions)
    }

    mutating func add(timestampNs: Int64, bytes: [UInt8]) {
        let ts = UInt64(timestampNs)
        var body = u32(0) + u32(UInt32(ts >> 32)) + u32(UInt32(ts & 0xffff_ffff)) + u32(UInt32(bytes.count)) + u32(UInt32(bytes.count))
        body += Data(bytes) + Data(repeating: 0, count: (4 - bytes.count % 4) % 4)
        block(type: 6, body: body)
    }

    private mutating func block(type: UInt32, body: Data) {
        let total = UInt32(12 + body.count)
        data += u32(type) + u32(total) + body + u32(total)
    }

    private func u32(_ v: UInt32) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    private func u16(_ v: UInt16) -> Data { withUnsafeBytes(of: v.littleEndian) { Data($0) } }
    private func option(_ code: UInt16, _ value: Data) -> Data {
        u16(code) + u16(UInt16(value.count)) + value + Data(repeating: 0, count: (4 - value.count % 4) % 4)
    }
    private var endOfOptions: Data { u32(0) }
}

/// Decodes a hex string ("0a1b…") into bytes.
func liveHexBytes(_ s: Substring) -> [UInt8] {
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex, let j = s.index(i, offsetBy: 2, limitedBy: s.endIndex) {
        if let b = UInt8(s[i ..< j], radix: 16) { out.append(b) }
        i = j
    }
    return out
}

extension LiveNetwork {
    /// A second veth pair between the namespaces: `dutLink2` in the DUT (203.0.113.1/24, MAC
    /// 02:00:00:00:01:01) and `peerLink2` in the peer, with the DUT's neighbour entry for
    /// 203.0.113.2 pointing at the injector MAC. Deleted with the namespaces.
    static let dut2MAC = "02:00:00:00:01:01"
    static let dut2IP = "203.0.113.1"
    static let peer2IP = "203.0.113.2"
    var dutLink2: String { "rxe" + dutLink.dropFirst(3) }
    var peerLink2: String { "rxq" + peerLink.dropFirst(3) }

    func addSecondLink() throws {
        let steps: [[String]] = [
            ["ip", "link", "add", dutLink2, "netns", dut, "address", Self.dut2MAC, "type", "veth",
             "peer", "name", peerLink2, "netns", peer, "address", "02:00:00:00:01:02"],
            ["ip", "netns", "exec", dut, "sysctl", "-q", "-w", "net.ipv6.conf.\(dutLink2).disable_ipv6=1"],
            ["ip", "netns", "exec", peer, "sysctl", "-q", "-w", "net.ipv6.conf.\(peerLink2).disable_ipv6=1"],
            ["ip", "-n", dut, "addr", "add", "\(Self.dut2IP)/24", "dev", dutLink2],
            ["ip", "-n", peer, "addr", "add", "\(Self.peer2IP)/24", "dev", peerLink2],
            ["ip", "-n", dut, "link", "set", dutLink2, "up"],
            ["ip", "-n", peer, "link", "set", peerLink2, "up"],
            ["ip", "-n", dut, "neigh", "replace", Self.peer2IP, "lladdr", Self.injectorMAC, "dev", dutLink2, "nud", "permanent"],
        ]
        for step in steps {
            let r = try LiveShell.run(step)
            if r.status != 0 { throw NSError(domain: "second link setup failed: \(step.joined(separator: " ")): \(r.error)", code: 1) }
        }
    }
}

/// Shared set-up for the live tests: one network per test, children stopped and temporary
/// files removed in tearDown.
class LiveTestCase: XCTestCase {
    var network: LiveNetwork?
    var children: [LiveProcess] = []
    var temporaries: [String] = []
    /// Listening sockets started in the DUT namespace, killed in tearDown.
    var listeners: [Process] = []

    override func tearDown() {
        for c in children where c.process.isRunning { c.interruptAndWait(timeout: 5) }
        children = []
        for l in listeners where l.isRunning { kill(l.processIdentifier, SIGKILL); l.waitUntilExit() }
        listeners = []
        network?.delete()
        network = nil
        for t in temporaries { try? FileManager.default.removeItem(atPath: t) }
        temporaries = []
    }

    func makeNetwork() throws -> LiveNetwork {
        let n = try LiveNetwork()
        network = n
        return n
    }

    /// A TCP socket listening on `port` in the DUT namespace (never accepting: connections wait
    /// in its accept queue), up before this returns.
    func startListener(_ net: LiveNetwork, port: Int) throws {
        let l = Process()
        l.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        l.arguments = ["ip", "netns", "exec", net.dut, "/usr/bin/python3", "-c",
                       "import socket, time\ns = socket.socket()\ns.bind(('0.0.0.0', \(port)))\ns.listen(8)\ntime.sleep(600)"]
        l.standardOutput = FileHandle.nullDevice
        l.standardError = FileHandle.nullDevice
        try l.run()
        listeners.append(l)
        let listening = (0 ..< 100).contains { _ in
            usleep(50_000)
            return (try? LiveShell.run(["ip", "netns", "exec", net.dut, "ss", "-Htln", "sport = :\(port)"]))?.output.contains("\(port)") == true
        }
        XCTAssertTrue(listening, "the listener on \(port) is up")
    }

    func temporary(_ name: String) -> String {
        let p = NSTemporaryDirectory() + "rxray-live-test-\(getpid())-\(UInt32.random(in: 0 ... .max))-\(name)"
        temporaries.append(p)
        return p
    }

    func start(_ argv: [String], viaNetns: String? = nil) throws -> LiveProcess {
        let p = try LiveProcess(argv, viaNetns: viaNetns)
        children.append(p)
        guard p.waitForStderr("rxray: live on", timeout: 120) else {
            p.interruptAndWait(timeout: 5)
            XCTFail("rxray live did not start: \(p.stderrText)")
            throw XCTSkip("rxray live did not start")
        }
        return p
    }

    /// Per-frame objects of the child's standard output with the time each line was read.
    func frameLines(_ p: LiveProcess) -> [(object: [String: Any], readAtNs: Int64)] {
        p.jsonLines.filter { $0.object["frame"] != nil }
    }
}
