import Dispatch
import Foundation
import RxrayDecode
import XCTest

@testable import RxrayCapture

/// Live capture inside two network namespaces joined by a veth pair, both created (and
/// deleted) by the test: the host's own interfaces are never touched.
///
/// How the capture is opened inside the namespace: a dedicated thread enters the namespace
/// with `setns(2)` (looked up with dlsym, since Glibc's Swift module does not export it),
/// opens and activates the libpcap handle there, and returns to the original namespace. The
/// packet socket stays bound to the namespace's interface, so the capture loop can then run
/// on any thread. Frames are injected with `ip netns exec B /usr/bin/python3` (scapy `sendp`) on the other end
final class LiveCaptureTests: XCTestCase {
    private var namespaces: [String] = []

    override func tearDown() {
        for ns in namespaces { _ = try? runCommand(["ip", "netns", "delete", ns]) }
        namespaces = []
    }

    private func requireRootAndNamespaces() throws {
        guard getuid() == 0 else { throw XCTSkip("live capture test needs root (network namespaces, packet sockets)") }
        guard toolExists("ip") else { throw XCTSkip("iproute2's ip is not installed") }
    }

    /// Creates namespaces A and B with a veth pair (A: 198.51.100.1, B: 198.51.100.2).
    private func makeNamespaces() throws -> (a: String, b: String, aLink: String, bLink: String) {
        let tag = "\(getpid() % 100_000)-\(UInt32.random(in: 0 ..< 0xffff))"
        let a = "rxcap-a-\(tag)"
        let b = "rxcap-b-\(tag)"
        let aLink = "rxa\(tag.suffix(6).replacingOccurrences(of: "-", with: ""))"
        let bLink = "rxb\(tag.suffix(6).replacingOccurrences(of: "-", with: ""))"
        for ns in [a, b] {
            let r = try runCommand(["ip", "netns", "add", ns])
            if r.status != 0 { throw XCTSkip("cannot create a network namespace here: \(r.error)") }
            namespaces.append(ns)
        }
        let steps: [[String]] = [
            ["ip", "link", "add", aLink, "netns", a, "type", "veth", "peer", "name", bLink, "netns", b],
            ["ip", "-n", a, "link", "set", "lo", "up"],
            ["ip", "-n", b, "link", "set", "lo", "up"],
            ["ip", "-n", a, "addr", "add", "198.51.100.1/24", "dev", aLink],
            ["ip", "-n", b, "addr", "add", "198.51.100.2/24", "dev", bLink],
            ["ip", "-n", a, "link", "set", aLink, "up"],
            ["ip", "-n", b, "link", "set", bLink, "up"],
        ]
        for step in steps {
            let r = try runCommand(step)
            XCTAssertEqual(r.status, 0, "\(step.joined(separator: " ")): \(r.error)")
            if r.status != 0 { throw XCTSkip("namespace setup failed: \(r.error)") }
        }
        return (a, b, aLink, bLink)
    }

    /// Opens a live capture from inside namespace `ns` on a dedicated thread.
    private func openCapture(in ns: String, interface: String, options: LiveCaptureOptions) throws -> LiveCapture {
        typealias SetNS = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "setns") else { throw XCTSkip("setns is not available") }
        let setns = unsafeBitCast(symbol, to: SetNS.self)
        let cloneNewNet: Int32 = 0x4000_0000
        final class Box: @unchecked Sendable { var result: Result<LiveCapture, Error>? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            let original = open("/proc/thread-self/ns/net", O_RDONLY)
            let target = open("/run/netns/\(ns)", O_RDONLY)
            defer { close(original); close(target) }
            guard original >= 0, target >= 0, setns(target, cloneNewNet) == 0 else {
                box.result = .failure(CaptureError.liveCaptureFailed(interface: interface, operation: "setns", message: String(cString: strerror(errno))))
                return
            }
            box.result = Result { try LiveCapture(interface: interface, options: options) }
            if setns(original, cloneNewNet) != 0 {
                box.result = .failure(CaptureError.liveCaptureFailed(interface: interface, operation: "setns back", message: String(cString: strerror(errno))))
            }
        }
        thread.start()
        done.wait()
        return try box.result!.get()
    }

    func testCapturesEchoRequestsInjectedOnTheOtherEndOfAVethPair() throws {
        try requireRootAndNamespaces()
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3"),
              (try? runCommand(["/usr/bin/python3", "-c", "import scapy"]))?.status == 0
        else { throw XCTSkip("/usr/bin/python3 with scapy is needed to inject frames") }
        let (a, b, aLink, bLink) = try makeNamespaces()
        let capture = try openCapture(
            in: a, interface: aLink,
            options: LiveCaptureOptions(snaplen: 200, bufferSize: 1 << 20, timeoutMilliseconds: 50, filter: "icmp[icmptype] == icmp-echo", direction: .inbound))
        XCTAssertEqual(capture.linkType, .ethernet)
        XCTAssertNil(capture.warning)
        XCTAssertEqual(capture.captureInterface.name, aLink)

        // Inject three echo requests (100 bytes of payload) from B's end with scapy.
        let link = try runCommand(["ip", "-n", a, "-j", "link", "show", "dev", aLink])
        let json = try JSONSerialization.jsonObject(with: Data(link.output.utf8)) as? [[String: Any]]
        let mac = try XCTUnwrap(json?.first?["address"] as? String)
        let script = """
            import warnings; warnings.filterwarnings("ignore")
            from scapy.all import Ether, IP, ICMP, Raw, sendp
            sendp(Ether(dst="\(mac)") / IP(src="198.51.100.2", dst="198.51.100.1") / ICMP(type=8, id=7, seq=1) / Raw(b"x" * 100),
                  iface="\(bLink)", count=3, inter=0.2, verbose=0)
            """
        let sender = Process()
        sender.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sender.arguments = ["ip", "netns", "exec", b, "/usr/bin/python3", "-c", script]
        sender.standardOutput = FileHandle.nullDevice
        try sender.run()
        // Never hang: stop after 20 s whatever happens.
        let safety = DispatchWorkItem { capture.stop() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 20, execute: safety)
        defer { safety.cancel() }

        var seen: [(length: Int, captured: Int, type: UInt8, source: [UInt8], direction: FrameDirection, ns: Int64)] = []
        let count = try capture.run(maxFrames: 3) { frame in
            seen.append((frame.wireLength, frame.captureLength, frame.bytes.count > 34 ? frame.bytes[34] : 0,
                         Array(frame.bytes[26 ..< 30]), frame.direction, frame.timestampNanoseconds))
        }
        sender.waitUntilExit()
        XCTAssertEqual(sender.terminationStatus, 0, "scapy sendp in namespace \(b)")
        XCTAssertEqual(count, 3)
        XCTAssertEqual(seen.count, 3)
        for frame in seen {
            XCTAssertEqual(frame.length, 14 + 20 + 8 + 100, "100-byte echo request on Ethernet")
            XCTAssertEqual(frame.captured, 142)
            XCTAssertEqual(frame.type, 8, "ICMP echo request")
            XCTAssertEqual(frame.source, [198, 51, 100, 2])
            XCTAssertEqual(frame.direction, .inbound)
        }
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        XCTAssertLessThan(abs(seen[0].ns - now), 60_000_000_000, "timestamps are wall-clock nanoseconds")
        XCTAssertLessThan(seen[0].ns, seen[2].ns)
        let stats = try capture.statistics()
        XCTAssertGreaterThanOrEqual(stats.received, 3)
        XCTAssertEqual(stats.droppedByKernel, 0)
        XCTAssertTrue(stats.description.contains("received"))
    }

    func testAnyDeliversCookedV2FramesWithTheIfindexAndPacketType() throws {
        try requireRootAndNamespaces()
        let (a, b, aLink, _) = try makeNamespaces()
        let capture = try openCapture(in: a, interface: "any",
                                      options: LiveCaptureOptions(snaplen: 200, timeoutMilliseconds: 50, filter: "icmp or udp port 9", direction: .both))
        XCTAssertEqual(capture.linkType, .linuxSLL2, "on any, cooked v2 replaces libpcap's default v1")
        let v1 = try openCapture(in: a, interface: "any", options: LiveCaptureOptions(snaplen: 200, filter: "icmp", cookedV2: false))
        XCTAssertEqual(v1.linkType, .linuxSLL, "cookedV2: false keeps v1")
        let link = try runCommand(["ip", "-n", a, "-j", "link", "show", "dev", aLink])
        let json = try JSONSerialization.jsonObject(with: Data(link.output.utf8)) as? [[String: Any]]
        let ifindex = try XCTUnwrap(json?.first?["ifindex"] as? Int)
        // B sends A a datagram to a closed port: it comes in on aLink, A's ICMP port
        // unreachable goes out on it.
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { throw XCTSkip("/usr/bin/python3 is needed to send a datagram") }
        let pinger = Process()
        pinger.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        pinger.arguments = ["ip", "netns", "exec", b, "/usr/bin/python3", "-c",
                            "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('198.51.100.1', 9))"]
        pinger.standardOutput = FileHandle.nullDevice
        pinger.standardError = FileHandle.nullDevice
        try pinger.run()
        let safety = DispatchWorkItem { capture.stop() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 20, execute: safety)
        defer { safety.cancel() }
        // IP protocol (20-byte cooked v2 header, byte 9 of the IP header): 17 UDP, 1 ICMP.
        var seen: [(ifindex: Int?, direction: FrameDirection, proto: UInt8)] = []
        try capture.run(maxFrames: 2) { frame in
            seen.append((LiveCapture.cookedIfindex(frame.bytes, linkType: frame.linkType), frame.direction,
                         frame.bytes.count > 29 ? frame.bytes[29] : 255))
        }
        pinger.waitUntilExit()
        XCTAssertEqual(seen.count, 2)
        XCTAssertTrue(seen.allSatisfy { $0.ifindex == ifindex }, "both on \(aLink) (ifindex \(ifindex)): \(seen)")
        XCTAssertEqual(seen.first { $0.proto == 17 }?.direction, .inbound, "the datagram was received: \(seen)")
        XCTAssertEqual(seen.first { $0.proto == 1 }?.direction, .outbound, "the port unreachable was sent: \(seen)")
    }

    func testCookedHeaderHelpersReadIfindexAndPacketTypeAndRejectShortFrames() {
        var sll2 = [UInt8](repeating: 0, count: 20)
        sll2[0] = 0x08                        // protocol 0x0800
        sll2[4 ... 7] = [0, 0, 0x01, 0x02]    // ifindex 258
        sll2[8 ... 9] = [0, 1]                // ARPHRD_ETHER
        sll2[10] = 4                          // PACKET_OUTGOING
        sll2.withUnsafeBytes { b in
            XCTAssertEqual(LiveCapture.cookedIfindex(b, linkType: .linuxSLL2), 258)
            XCTAssertEqual(LiveCapture.cookedDirection(b, linkType: .linuxSLL2), .outbound)
            XCTAssertNil(LiveCapture.cookedIfindex(b, linkType: .ethernet))
            XCTAssertEqual(LiveCapture.cookedDirection(b, linkType: .ethernet), .unknown)
            XCTAssertNil(LiveCapture.cookedIfindex(UnsafeRawBufferPointer(rebasing: b[0 ..< 19]), linkType: .linuxSLL2))
            XCTAssertEqual(LiveCapture.cookedDirection(UnsafeRawBufferPointer(rebasing: b[0 ..< 19]), linkType: .linuxSLL2), .unknown)
        }
        sll2[10] = 0                          // PACKET_HOST
        sll2.withUnsafeBytes { XCTAssertEqual(LiveCapture.cookedDirection($0, linkType: .linuxSLL2), .inbound) }
        var sll = [UInt8](repeating: 0, count: 16)
        sll[1] = 4
        sll.withUnsafeBytes {
            XCTAssertEqual(LiveCapture.cookedDirection($0, linkType: .linuxSLL), .outbound)
            XCTAssertNil(LiveCapture.cookedIfindex($0, linkType: .linuxSLL), "v1 has no ifindex")
        }
    }

    func testSignalStopsTheLoopAndStatsStayReadable() throws {
        try requireRootAndNamespaces()
        let (a, _, aLink, _) = try makeNamespaces()
        let capture = try openCapture(in: a, interface: aLink, options: LiveCaptureOptions(immediateMode: false, timeoutMilliseconds: 100))
        // The default signals (SIGINT, SIGTERM): while the stopper is installed their default
        // action is off, so sending SIGTERM to this process only stops the loop.
        let stopper = capture.stopOnSignals()
        defer { stopper.cancel() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { kill(getpid(), SIGTERM) }
        let safety = DispatchWorkItem { capture.stop() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 10, execute: safety)
        let started = Date()
        let count = try capture.run { _ in }
        safety.cancel()
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "the signal, not the 10 s safety stop, ended the loop")
        XCTAssertEqual(stopper.signalReceived, SIGTERM)
        XCTAssertGreaterThanOrEqual(count, 0)
        XCTAssertNoThrow(try capture.statistics())
    }

    func testBadLiveFilterCarriesLibpcapsMessage() throws {
        try requireRootAndNamespaces()
        let (a, _, aLink, _) = try makeNamespaces()
        XCTAssertThrowsError(try openCapture(in: a, interface: aLink, options: LiveCaptureOptions(filter: "tcp port eighty"))) { error in
            guard case CaptureError.badFilter(let filter, _, let message) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(filter, "tcp port eighty")
            XCTAssertTrue(message.contains("eighty"), message)
        }
    }

    func testMissingInterfaceFailsActivationWithLibpcapsMessage() throws {
        XCTAssertThrowsError(try LiveCapture(interface: "rxnosuchif0")) { error in
            guard case CaptureError.liveCaptureFailed(let interface, let operation, let message) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(interface, "rxnosuchif0")
            XCTAssertEqual(operation, "pcap_activate")
            XCTAssertFalse(message.isEmpty)
            XCTAssertTrue("\(error)".hasPrefix("live capture on rxnosuchif0: pcap_activate failed: "), "\(error)")
        }
    }
}
