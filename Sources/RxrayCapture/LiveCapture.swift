import CLinkedLibpcap
import Dispatch
import RxrayDecode

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which frames a live capture sees (`pcap_setdirection`).
public enum CaptureDirection: Sendable, CustomStringConvertible {
    /// Frames received by the interface.
    case inbound
    /// Frames sent by the interface.
    case outbound
    /// Both.
    case both

    public var description: String {
        switch self {
        case .inbound: return "in"
        case .outbound: return "out"
        case .both: return "inout"
        }
    }
}

/// Settings for a live capture; the defaults suit watching a receive path.
public struct LiveCaptureOptions: Sendable {
    /// Bytes kept per frame.
    public var snaplen: Int32 = 262_144
    public var promiscuous: Bool = true
    /// Deliver each frame as it arrives instead of in buffered batches.
    public var immediateMode: Bool = true
    /// Kernel ring buffer size in bytes; nil keeps libpcap's default (2 MiB).
    public var bufferSize: Int32? = nil
    /// Read timeout in milliseconds (how long a batch may wait when not in immediate mode).
    public var timeoutMilliseconds: Int32 = 100
    /// A BPF expression installed in the kernel, or nil.
    public var filter: String? = nil
    public var direction: CaptureDirection = .both
    /// When the interface delivers Linux cooked v1 headers (`any`), switch to v2
    /// (`LINUX_SLL2`: ifindex and packet type per frame) if libpcap offers it.
    public var cookedV2: Bool = true

    public init(
        snaplen: Int32 = 262_144, promiscuous: Bool = true, immediateMode: Bool = true, bufferSize: Int32? = nil,
        timeoutMilliseconds: Int32 = 100, filter: String? = nil, direction: CaptureDirection = .both, cookedV2: Bool = true
    ) {
        self.cookedV2 = cookedV2
        self.snaplen = snaplen
        self.promiscuous = promiscuous
        self.immediateMode = immediateMode
        self.bufferSize = bufferSize
        self.timeoutMilliseconds = timeoutMilliseconds
        self.filter = filter
        self.direction = direction
    }
}

/// libpcap's counters for a live capture (`pcap_stats`).
public struct CaptureStatistics: Sendable, Equatable, CustomStringConvertible {
    /// Frames the capture received (on Linux: that passed the filter).
    public var received: UInt32
    /// Frames dropped because the kernel buffer was full.
    public var droppedByKernel: UInt32
    /// Frames dropped by the interface or its driver.
    public var droppedByInterface: UInt32

    public init(received: UInt32, droppedByKernel: UInt32, droppedByInterface: UInt32) {
        self.received = received
        self.droppedByKernel = droppedByKernel
        self.droppedByInterface = droppedByInterface
    }

    public var description: String {
        "\(received) received, \(droppedByKernel) dropped by kernel buffer, \(droppedByInterface) dropped by interface"
    }
}

/// Captures frames from a live interface through libpcap.
///
/// Opened with `pcap_create`/`pcap_activate`; activation warnings are kept in `warning`,
/// errors thrown with libpcap's message. `run` hands each frame to a closure until `stop()`
/// (safe from any thread), a frame limit, or a signal installed with `stopOnSignals()`.
///
/// ```swift
/// let capture = try LiveCapture(interface: "eth0", options: .init(filter: "tcp"))
/// let stopper = capture.stopOnSignals()
/// try capture.run { frame in ... }
/// stopper.cancel()
/// print(try capture.statistics())
/// ```
public final class LiveCapture: @unchecked Sendable {
    public let interface: String
    public let options: LiveCaptureOptions
    /// The link type of captured frames (mapped from libpcap's DLT to LINKTYPE numbering).
    public let linkType: LinkType
    /// The warning `pcap_activate` gave (e.g. promiscuous mode not supported), if any.
    public let warning: String?
    private let handle: OpaquePointer
    private let nanosecondTimestamps: Bool
    private var framesSeen = 0
    /// The labels (the interface's name) every frame shares.
    private let labels: FrameLabels

    /// Opens and activates the interface and installs the filter and direction.
    /// - Throws: `CaptureError.liveCaptureFailed` with libpcap's message, or
    ///   `CaptureError.badFilter`.
    public init(interface: String, options: LiveCaptureOptions = LiveCaptureOptions()) throws(CaptureError) {
        self.interface = interface
        self.options = options
        labels = FrameLabels(interfaceName: interface, comment: nil)
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_create(interface, &errbuf) else {
            throw CaptureError.liveCaptureFailed(interface: interface, operation: "pcap_create", message: String(cString: errbuf))
        }
        func fail(_ operation: String, _ status: Int32) -> CaptureError {
            let detail = String(cString: pcap_geterr(handle))
            let summary = String(cString: pcap_statustostr(status))
            let message = detail.isEmpty || detail == summary ? summary : "\(summary): \(detail)"
            return .liveCaptureFailed(interface: interface, operation: operation, message: message)
        }
        func check(_ operation: String, _ status: Int32) throws(CaptureError) {
            if status != 0 {
                let error = fail(operation, status)
                pcap_close(handle)
                throw error
            }
        }
        try check("pcap_set_snaplen", pcap_set_snaplen(handle, options.snaplen))
        try check("pcap_set_promisc", pcap_set_promisc(handle, options.promiscuous ? 1 : 0))
        try check("pcap_set_immediate_mode", pcap_set_immediate_mode(handle, options.immediateMode ? 1 : 0))
        try check("pcap_set_timeout", pcap_set_timeout(handle, options.timeoutMilliseconds))
        if let size = options.bufferSize { try check("pcap_set_buffer_size", pcap_set_buffer_size(handle, size)) }
        nanosecondTimestamps = pcap_set_tstamp_precision(handle, Int32(PCAP_TSTAMP_PRECISION_NANO)) == 0

        let status = pcap_activate(handle)
        if status < 0 {
            let error = fail("pcap_activate", status)
            pcap_close(handle)
            throw error
        }
        if status > 0 {
            let detail = String(cString: pcap_geterr(handle))
            let summary = String(cString: pcap_statustostr(status))
            warning = status == PCAP_WARNING && !detail.isEmpty ? detail : (detail.isEmpty ? summary : "\(summary): \(detail)")
        } else {
            warning = nil
        }
        self.handle = handle
        // On `any`, libpcap 1.10 starts with cooked v1 headers (no ifindex); v2 carries each
        // frame's ifindex and packet type, so the receiving interface is exact.
        if options.cookedV2, pcap_datalink(handle) == DLT_LINUX_SLL, Self.offers(handle, DLT_LINUX_SLL2) {
            if pcap_set_datalink(handle, DLT_LINUX_SLL2) != 0 {
                let error = CaptureError.liveCaptureFailed(
                    interface: interface, operation: "pcap_set_datalink(LINUX_SLL2)", message: String(cString: pcap_geterr(handle)))
                pcap_close(handle)
                throw error
            }
        }
        linkType = LinkTypeMapping.linkType(fromDLT: pcap_datalink(handle))

        if options.direction != .both {
            let direction = options.direction == .inbound ? PCAP_D_IN : PCAP_D_OUT
            if pcap_setdirection(handle, direction) != 0 {
                throw CaptureError.liveCaptureFailed(
                    interface: interface, operation: "pcap_setdirection(\(options.direction))",
                    message: String(cString: pcap_geterr(handle)))
            }
        }
        if let filter = options.filter {
            var program = bpf_program()
            if pcap_compile(handle, &program, filter, 1, PCAP_NETMASK_UNKNOWN) != 0 {
                throw CaptureError.badFilter(filter: filter, linkType: linkType, message: String(cString: pcap_geterr(handle)))
            }
            defer { pcap_freecode(&program) }
            if pcap_setfilter(handle, &program) != 0 {
                throw CaptureError.liveCaptureFailed(
                    interface: interface, operation: "pcap_setfilter", message: String(cString: pcap_geterr(handle)))
            }
        }
    }

    deinit { pcap_close(handle) }

    /// Whether the handle can deliver `dlt` (`pcap_list_datalinks`).
    private static func offers(_ handle: OpaquePointer, _ dlt: Int32) -> Bool {
        var list: UnsafeMutablePointer<Int32>?
        let n = pcap_list_datalinks(handle, &list)
        guard n > 0, let list else { return false }
        defer { pcap_free_datalinks(list) }
        for i in 0 ..< Int(n) where list[i] == dlt { return true }
        return false
    }

    /// The capture's single interface, as a reader would describe it.
    public var captureInterface: CaptureInterface {
        CaptureInterface(id: 0, name: interface, description: nil, linkType: linkType, snaplen: UInt32(clamping: options.snaplen))
    }

    /// Hands each captured frame to `handler` until `stop()` is called (or a signal installed
    /// by `stopOnSignals` arrives), `maxFrames` frames were handled, or an error occurs.
    /// The frame's bytes are valid only during the call.
    /// - Returns: the number of frames handled by this call.
    @discardableResult
    public func run(maxFrames: Int? = nil, _ handler: (CapturedFrame) -> Void) throws(CaptureError) -> Int {
        let result: Result<Int, CaptureError> = withoutActuallyEscaping(handler) { escapable in
            let context = LoopContext(handler: escapable, capture: self)
            return withExtendedLifetime(context) { () -> Result<Int, CaptureError> in
                let user = Unmanaged.passUnretained(context).toOpaque().assumingMemoryBound(to: UInt8.self)
                while true {
                    if let maxFrames, context.handled >= maxFrames { return .success(context.handled) }
                    let budget = maxFrames.map { Int32(clamping: $0 - context.handled) } ?? -1
                    let status = pcap_dispatch(handle, budget, liveCaptureCallback, user)
                    if status == PCAP_ERROR_BREAK { return .success(context.handled) }
                    if status < 0 {
                        return .failure(.liveCaptureFailed(
                            interface: interface, operation: "pcap_dispatch", message: String(cString: pcap_geterr(handle))))
                    }
                }
            }
        }
        return try result.get()
    }

    /// Makes `run` return as soon as possible. Safe from any thread or a signal source.
    public func stop() {
        pcap_breakloop(handle)
    }

    /// libpcap's counters so far.
    public func statistics() throws(CaptureError) -> CaptureStatistics {
        var stats = pcap_stat()
        if pcap_stats(handle, &stats) != 0 {
            throw CaptureError.liveCaptureFailed(interface: interface, operation: "pcap_stats", message: String(cString: pcap_geterr(handle)))
        }
        return CaptureStatistics(received: stats.ps_recv, droppedByKernel: stats.ps_drop, droppedByInterface: stats.ps_ifdrop)
    }

    /// Stops `run` on the given signals (default SIGINT and SIGTERM). The signals are handled
    /// by a dispatch source, not an async signal handler, and call `stop()`; `cancel()` on the
    /// returned value restores the previous dispositions.
    public func stopOnSignals(_ signals: [Int32] = [SIGINT, SIGTERM]) -> SignalStopper {
        SignalStopper(capture: self, signals: signals)
    }

    fileprivate func deliver(_ header: pcap_pkthdr, _ bytes: UnsafePointer<UInt8>, to context: LoopContext) {
        framesSeen += 1
        let fraction = Int64(header.ts.tv_usec) &* (nanosecondTimestamps ? 1 : 1000)
        let raw = UnsafeRawBufferPointer(start: UnsafeRawPointer(bytes), count: Int(header.caplen))
        let direction: FrameDirection
        switch options.direction {
        case .inbound: direction = .inbound
        case .outbound: direction = .outbound
        case .both: direction = Self.cookedDirection(raw, linkType: linkType)
        }
        let frame = CapturedFrame(
            index: framesSeen, timestampNanoseconds: Int64(header.ts.tv_sec) &* 1_000_000_000 &+ fraction,
            captureLength: Int(header.caplen), wireLength: Int(header.len), linkType: linkType, interfaceID: 0,
            labels: labels, direction: direction, bytes: raw)
        context.handled += 1
        context.handler(frame)
    }
}

extension LiveCapture {
    /// The direction a cooked header's packet type says (`PACKET_OUTGOING` is 4: sent by this
    /// host; any other type was received), or unknown for other link types and short frames.
    public static func cookedDirection(_ bytes: UnsafeRawBufferPointer, linkType: LinkType) -> FrameDirection {
        let packetType: UInt8
        switch linkType {
        case .linuxSLL2:
            guard bytes.count >= 20 else { return .unknown }
            packetType = bytes[10]
        case .linuxSLL:
            guard bytes.count >= 16, bytes[0] == 0 else { return .unknown }
            packetType = bytes[1]
        default:
            return .unknown
        }
        return packetType == 4 ? .outbound : .inbound
    }

    /// The ifindex of the interface a `LINUX_SLL2` frame was received on or sent from, or nil
    /// for other link types and short frames.
    public static func cookedIfindex(_ bytes: UnsafeRawBufferPointer, linkType: LinkType) -> Int? {
        guard linkType == .linuxSLL2, bytes.count >= 20 else { return nil }
        return Int(UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7]))
    }
}

private final class LoopContext {
    let handler: (CapturedFrame) -> Void
    unowned let capture: LiveCapture
    var handled = 0

    init(handler: @escaping (CapturedFrame) -> Void, capture: LiveCapture) {
        self.handler = handler
        self.capture = capture
    }
}

private func liveCaptureCallback(
    _ user: UnsafeMutablePointer<UInt8>?, _ header: UnsafePointer<pcap_pkthdr>?, _ bytes: UnsafePointer<UInt8>?
) {
    guard let user, let header, let bytes else { return }
    let context = Unmanaged<LoopContext>.fromOpaque(UnsafeRawPointer(user)).takeUnretainedValue()
    context.capture.deliver(header.pointee, bytes, to: context)
}

/// Stops a live capture on signals; see `LiveCapture.stopOnSignals`.
public final class SignalStopper: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let signals: [Int32]
    private var previous: [(@convention(c) (Int32) -> Void)?] = []
    private let lock = DispatchQueue(label: "rxray.signal-stopper")
    private var received: Int32?

    init(capture: LiveCapture, signals: [Int32]) {
        self.signals = signals
        for sig in signals {
            // The default action must not run; the dispatch source sees the signal instead.
            previous.append(signal(sig, SIG_IGN))
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self, capture] in
                self?.lock.sync { self?.received = sig }
                capture.stop()
            }
            source.resume()
            sources.append(source)
        }
    }

    /// The signal that stopped the capture, if one did.
    public var signalReceived: Int32? { lock.sync { received } }

    /// Removes the signal sources and restores the previous dispositions. Idempotent.
    public func cancel() {
        if sources.isEmpty { return }
        for source in sources { source.cancel() }
        sources.removeAll()
        for (sig, handler) in zip(signals, previous) { signal(sig, handler) }
    }

    deinit { cancel() }
}
