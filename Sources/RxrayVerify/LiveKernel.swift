import Foundation
import RxrayCapture
import RxrayHost
import RxrayStack
#if canImport(Glibc)
import Glibc
#endif

/// bpftrace on `skb:kfree_skb`, printing only drops whose skb belongs to one namespace (by
/// the device's, else the socket's, else the receiving socket's netns inode), with markers
/// to fence observation windows. The approach of Fixtures/lib/kfree.bt (docs/RECORDING.md):
/// the verifier names the namespace and marks windows through getpgid() calls with
/// out-of-range pids, which only the syscall tracepoint sees.
final class DropTracer {
    static let program = """
        BEGIN { @dut = (uint64)0; printf("READY\\n"); }
        tracepoint:syscalls:sys_enter_getpgid /args->pid >= 0x20000000 && args->pid < 0x50000000/ {
          if (args->pid >= 0x40000000) {
            @dut = (uint64)(args->pid - 0x40000000) + (uint64)0xF0000000;
            printf("D %lu\\n", @dut);
          } else {
            printf("M %lu\\n", args->pid - 0x20000000);
          }
        }
        tracepoint:skb:kfree_skb /@dut != 0/ {
          $skb = (struct sk_buff *)args->skbaddr;
          $ns = (uint64)0;
          if ($skb->dev != 0) { $ns = $skb->dev->nd_net.net->ns.inum; }
          else if ($skb->sk != 0 && $skb->sk->__sk_common.skc_family != 16) { $ns = $skb->sk->__sk_common.skc_net.net->ns.inum; }
          else if (args->rx_sk != 0) { $ns = ((struct sock *)args->rx_sk)->__sk_common.skc_net.net->ns.inum; }
          if ($ns == @dut) { printf("K %u %s\\n", args->reason, ksym(args->location)); }
        }
        END { clear(@dut); }
        """

    private let proc = Process()
    private let lock = NSCondition()
    private var ready = false
    private var watching: UInt64?
    private var markers = Set<Int>()
    private var events: [KernelObservation.Drop] = []
    private var errText = ""
    private var marker = 0
    /// Monotonic time of the last drop event (for the quiet-period wait).
    private(set) var lastEvent: Double = 0
    private let reasons = DropReasons.names()
    private let programFile: String

    init() throws {
        programFile = NSTemporaryDirectory() + "rxray-verify-\(getpid()).bt"
        try Self.program.write(toFile: programFile, atomically: true, encoding: .utf8)
        proc.executableURL = URL(fileURLWithPath: Tool.find("bpftrace") ?? "/usr/bin/bpftrace")
        proc.arguments = [programFile]
        let out = Pipe(), err = Pipe()
        proc.standardOutput = out
        proc.standardError = err
        proc.standardInput = FileHandle.nullDevice
        try proc.run()
        Thread.detachNewThread { [weak self] in self?.read(out.fileHandleForReading) }
        Thread.detachNewThread { [weak self] in
            let d = err.fileHandleForReading.readDataToEndOfFile()
            guard let self else { return }
            self.lock.lock(); self.errText = String(decoding: d, as: UTF8.self); self.lock.broadcast(); self.lock.unlock()
        }
        let deadline = Date().addingTimeInterval(90)
        lock.lock()
        defer { lock.unlock() }
        while !ready {
            if LiveCleanup.interrupted != 0 { throw VerifyEnvironmentError("interrupted") }
            if !proc.isRunning || Date() > deadline {
                throw VerifyEnvironmentError("bpftrace did not start: \(errText.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            _ = lock.wait(until: Date().addingTimeInterval(0.2))
        }
    }

    private func read(_ h: FileHandle) {
        var buf = Data()
        while true {
            let d = h.availableData
            if d.isEmpty { return }
            buf.append(d)
            while let nl = buf.firstIndex(of: 10) {
                let line = String(decoding: buf[buf.startIndex..<nl], as: UTF8.self)
                buf.removeSubrange(buf.startIndex...nl)
                handle(line)
            }
        }
    }

    private func handle(_ line: String) {
        let p = line.split(separator: " ")
        guard let tag = p.first else { return }
        lock.lock()
        defer { lock.broadcast(); lock.unlock() }
        switch tag {
        case "READY": ready = true
        case "D": if p.count > 1 { watching = UInt64(p[1]) }
        case "M": if p.count > 1, let k = Int(p[1]) { markers.insert(k) }
        case "K":
            guard p.count >= 3, let r = Int(p[1]) else { return }
            events.append(.init(reason: reasons[r] ?? "REASON_\(r)", location: Self.stripSuffix(String(p[2]))))
            lastEvent = monotonicNow()
        default: break
        }
    }

    /// Drops compiler clone suffixes (`.constprop.0`, `.isra.0`, `.part.0`, `.cold`) and offsets.
    static func stripSuffix(_ s: String) -> String {
        var sym = s
        if let plus = sym.firstIndex(of: "+") { sym = String(sym[..<plus]) }
        let suffixes = [".constprop", ".isra", ".part", ".cold", ".llvm"]
        while let r = suffixes.compactMap({ sym.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
            sym = String(sym[..<r.lowerBound])
        }
        return sym
    }

    private static func poke(_ v: Int32) { _ = getpgid(v) }

    func watch(inode: UInt64) throws {
        guard inode >= 0xF000_0000, inode - 0xF000_0000 < 0x1000_0000 else {
            throw VerifyEnvironmentError("unexpected namespace inode \(inode)")
        }
        Self.poke(Int32(0x4000_0000 + Int(inode - 0xF000_0000)))
        let deadline = Date().addingTimeInterval(10)
        lock.lock()
        while watching != inode {
            if Date() > deadline { lock.unlock(); throw VerifyEnvironmentError("bpftrace did not acknowledge the namespace") }
            _ = lock.wait(until: Date().addingTimeInterval(0.1))
        }
        lock.unlock()
        _ = try fence()
    }

    /// The drop events since the previous fence: a marker travels the same output path, so
    /// every event emitted before it has been read when it arrives.
    func fence() throws -> [KernelObservation.Drop] {
        marker += 1
        let k = marker
        Self.poke(Int32(0x2000_0000 + k))
        let deadline = Date().addingTimeInterval(10)
        lock.lock()
        while !markers.contains(k) {
            if Date() > deadline { lock.unlock(); throw VerifyEnvironmentError("bpftrace marker lost") }
            _ = lock.wait(until: Date().addingTimeInterval(0.1))
        }
        markers.remove(k)
        lock.unlock()
        usleep(5_000)   // another CPU's buffer: one more poll round
        lock.lock()
        let ev = events
        events.removeAll()
        lock.unlock()
        return ev
    }

    func close() {
        if proc.isRunning {
            kill(proc.processIdentifier, SIGINT)
            let deadline = Date().addingTimeInterval(5)
            while proc.isRunning && Date() < deadline { usleep(20_000) }
            if proc.isRunning { kill(proc.processIdentifier, SIGKILL) }
            proc.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: programFile)
    }

    deinit { close() }
}

func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// `struct sockaddr_ll` (linux/if_packet.h), which Glibc's module does not export; Swift lays
/// these fields out as C does (20 bytes).
struct SockaddrLL {
    var sll_family: UInt16 = 0
    var sll_protocol: UInt16 = 0
    var sll_ifindex: Int32 = 0
    var sll_hatype: UInt16 = 0
    var sll_pkttype: UInt8 = 0
    var sll_halen: UInt8 = 0
    var sll_addr: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0)
}

/// AF_PACKET sockets on the injector's peers: one sends frames into the DUT, one per peer
/// keeps what the DUT sends (frames arriving from the DUT only).
final class PacketPort {
    let dutInterface: String
    private(set) var fd: Int32 = -1
    private var ifindex: Int32 = 0

    init(namespace: String, peer: String, dutInterface: String) throws {
        self.dutInterface = dutInterface
        try NetnsSwitch.inside(namespace) {
            let s = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), Int32(UInt16(0x0003).bigEndian))
            guard s >= 0 else { throw VerifyEnvironmentError("AF_PACKET socket: \(String(cString: strerror(errno)))") }
            let idx = if_nametoindex(peer)
            guard idx != 0 else { Glibc.close(s); throw VerifyEnvironmentError("\(peer): no such interface in \(namespace)") }
            ifindex = Int32(idx)
            var size: Int32 = 4 << 20
            setsockopt(s, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(4))
            var sll = SockaddrLL()
            sll.sll_family = UInt16(AF_PACKET)
            sll.sll_protocol = UInt16(0x0003).bigEndian
            sll.sll_ifindex = ifindex
            let r = withUnsafePointer(to: &sll) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<SockaddrLL>.size)) } }
            guard r == 0 else { Glibc.close(s); throw VerifyEnvironmentError("bind AF_PACKET to \(peer): \(String(cString: strerror(errno)))") }
            fd = s
        }
    }

    func send(_ bytes: UnsafeRawBufferPointer) throws {
        let n = Glibc.send(fd, bytes.baseAddress, bytes.count, 0)
        guard n == bytes.count else { throw VerifyEnvironmentError("send on the \(dutInterface) peer: \(String(cString: strerror(errno)))") }
    }

    /// Every frame that came from the DUT since the last call (non-blocking).
    func drain() -> [[UInt8]] {
        var out: [[UInt8]] = []
        var buf = [UInt8](repeating: 0, count: 262_144)
        while true {
            var sll = SockaddrLL()
            var len = socklen_t(MemoryLayout<SockaddrLL>.size)
            let n = buf.withUnsafeMutableBytes { b in
                withUnsafeMutablePointer(to: &sll) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT), $0, &len) }
                }
            }
            if n <= 0 { break }
            if sll.sll_pkttype == 4 { continue }   // PACKET_OUTGOING: what we sent
            out.append(Array(buf[0..<n]))
        }
        return out
    }

    func close() { if fd >= 0 { Glibc.close(fd); fd = -1 } }
    deinit { close() }
}

/// Drives one live verification: topology, tracer, one frame per observation window.
public final class LiveVerifier {
    public struct Timing {
        /// The minimum window after sending (ms), and the quiet time that must follow the last
        /// event (ms); windows are cut at `maxMs`.
        public var windowMs = 50.0
        public var quietMs = 30.0
        public var maxMs = 3000.0
        public init() {}
    }

    public let topology = LiveTopology()
    public var timing = Timing()
    /// When each frame was injected (monotonic seconds), by frame number, after `run`.
    public private(set) var injectedAt: [Int: Double] = [:]

    /// The capture's timestamps moved onto the replay's clock: the first injected frame keeps
    /// its capture time `origin`, every other frame is as far from it as its injection was
    /// (nanoseconds, by frame number). Empty before `run`.
    public func replayTimestamps(origin: Int64) -> [Int: Int64] {
        guard let first = injectedAt.values.min() else { return [:] }
        return injectedAt.mapValues { origin &+ Int64((($0 - first) * 1e9).rounded()) }
    }
    public var notes: [String] { topology.notes }

    public init() {}

    /// Builds the topology for `host`, injects every frame of `capturePath` on its interface and
    /// returns what the kernel did with each, in capture order.
    /// - Parameter progress: called after each frame with its number.
    public func run(capturePath: String, host: RxrayHost.Host, defaultInterface: String?,
                    progress: (Int) -> Void = { _ in }) throws -> (observations: [KernelObservation], injected: [Int: [UInt8]]) {
        defer { topology.teardown() }
        let tracer = try DropTracer()
        defer { tracer.close() }
        try topology.build(host)
        var ports: [String: PacketPort] = [:]
        for (dutIf, peer) in topology.peers { ports[dutIf] = try PacketPort(namespace: topology.inj, peer: peer, dutInterface: dutIf) }
        defer { for p in ports.values { p.close() } }
        try settle(ports)
        try tracer.watch(inode: try topology.dutInode())
        let fallback = defaultInterface ?? host.interfaces.first { !$0.isLoopback && topology.peers[$0.name] != nil }?.name
        // A frame without an interface name goes where the analysis says it arrived.
        let chooser = Analyzer(host: host, options: Analyzer.Options(defaultInterface: defaultInterface, wantsDetail: false))
        let reader = try CaptureReader(path: capturePath)
        var out: [KernelObservation] = []
        var injected: [Int: [UInt8]] = [:]
        while let f = try reader.next() {
            if LiveCleanup.interrupted != 0 { throw VerifyEnvironmentError("interrupted") }
            let inferred = f.interfaceName == nil
                ? chooser.ingressInterface(of: FrameInput(index: f.index, timestampNs: f.timestampNanoseconds, bytes: f.bytes,
                                                          linkType: f.linkType))
                : nil
            let ingress = f.interfaceName.flatMap { ports[$0] != nil ? $0 : nil } ?? inferred.flatMap { ports[$0] != nil ? $0 : nil }
                ?? fallback ?? ""
            guard let port = ports[ingress] else {
                throw VerifyEnvironmentError("frame \(f.index): no reproduced interface \(f.interfaceName ?? "") to inject it on (use --interface)")
            }
            guard f.linkType == .ethernet else {
                throw VerifyEnvironmentError("frame \(f.index): link type \(f.linkType.name): only Ethernet frames can be injected")
            }
            let before = counters()
            // What the DUT sent after the previous window closed (a timer's SYN-ACK
            // retransmission between two windows) is the previous window's: rxray reports
            // timer replies with the frame before them.
            var between: [KernelObservation.Sent] = []
            for (name, p) in ports { between += p.drain().map { KernelObservation.Sent(interface: name, bytes: $0) } }
            if !between.isEmpty && !out.isEmpty { out[out.count - 1].sent += between }
            let start = monotonicNow()
            injectedAt[f.index] = start
            try port.send(f.bytes)
            injected[f.index] = Array(f.bytes)
            var sent: [KernelObservation.Sent] = []
            var lastSeen = start
            while true {
                usleep(5_000)
                for (name, p) in ports {
                    let got = p.drain()
                    if !got.isEmpty { lastSeen = monotonicNow() }
                    sent += got.map { KernelObservation.Sent(interface: name, bytes: $0) }
                }
                let now = monotonicNow()
                let last = max(lastSeen, tracer.lastEvent)
                if (now - start) * 1000 >= timing.windowMs && (now - last) * 1000 >= timing.quietMs { break }
                if (now - start) * 1000 >= timing.maxMs { break }
                if LiveCleanup.interrupted != 0 { throw VerifyEnvironmentError("interrupted") }
            }
            let drops = try tracer.fence()
            for (name, p) in ports { sent += p.drain().map { KernelObservation.Sent(interface: name, bytes: $0) } }
            let after = counters()
            let silent = (after["TcpExtListenDrops"] ?? 0) > (before["TcpExtListenDrops"] ?? 0)
            out.append(KernelObservation(frame: f.index, ingress: ingress, drops: drops, sent: sent, silentDrop: silent))
            progress(f.index)
        }
        return (out, injected)
    }

    /// Waits until the DUT has been quiet for 300 ms after setup (link-up reports), then
    /// discards what it sent.
    func settle(_ ports: [String: PacketPort]) throws {
        let start = monotonicNow()
        var last = start
        while true {
            usleep(20_000)
            for p in ports.values where !p.drain().isEmpty { last = monotonicNow() }
            if monotonicNow() - last >= 0.3 { return }
            if monotonicNow() - start > 10 { throw VerifyEnvironmentError("the namespace never went quiet after setup") }
            if LiveCleanup.interrupted != 0 { throw VerifyEnvironmentError("interrupted") }
        }
    }

    /// nstat-named counters of the DUT, from its helper process's /proc/PID/net/netstat.
    func counters() -> [String: Int] {
        guard let pid = topology.helperPID, let text = try? String(contentsOfFile: "/proc/\(pid)/net/netstat", encoding: .utf8) else { return [:] }
        var c: [String: Int] = [:]
        let lines = text.split(separator: "\n")
        var i = 0
        while i + 1 < lines.count {
            let k = lines[i].split(separator: " "), v = lines[i + 1].split(separator: " ")
            if let p = k.first, p == v.first {
                let prefix = p.dropLast()
                for (a, b) in zip(k.dropFirst(), v.dropFirst()) { c[String(prefix) + String(a)] = Int(b) }
            }
            i += 2
        }
        return c
    }
}
