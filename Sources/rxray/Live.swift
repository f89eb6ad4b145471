import ArgumentParser
import Dispatch
import Foundation
import RxrayCapture
import RxrayDecode
import RxrayHost
import RxrayNetfilter
import RxrayOutput
import RxrayRules
import RxrayStack
#if canImport(Glibc)
import Glibc
#endif

/// `rxray live`: captures on an interface and annotates frames as they arrive (docs/LIVE.md).
struct Live: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Captures live traffic and annotates every received frame as it arrives.",
        discussion: """
            Without --host, rxray snapshots this host (or the --netns namespace) when it starts \
            and again on SIGHUP. Only received frames are annotated by default (--direction in): \
            a capture on the host also sees what the host sends. Frames are taken as seen by \
            tcpdump on the receiving host (--capture-point host: already past GRO). Ctrl-C \
            (SIGINT) or SIGTERM prints the summary and libpcap's drop counters and exits 0.

            The filter selects the frames printed and written; the stack still sees every \
            captured frame, so connection tracking and fragment queues stay what the kernel has.

            Examples:
              rxray live -i eth0
              rxray live -i eth0 'tcp port 443' --format jsonl --write annotated.pcapng
              rxray live -i veth0 --netns dut --keep-snapshot dut-snapshot/
            """)

    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("The interface to capture on (any: every interface, cooked headers).", valueName: "name"))
    var interface: String

    @Argument(parsing: .remaining, help: ArgumentHelp("A BPF filter in tcpdump syntax selecting the frames to print.", valueName: "filter"))
    var filterWords: [String] = []

    @Option(help: ArgumentHelp("Capture inside this named network namespace (/var/run/netns/NAME) and snapshot it.", valueName: "name"))
    var netns: String?

    @Option(help: ArgumentHelp("The receiving host: a snapshot directory or a YAML profile, instead of snapshotting at start (SIGHUP re-reads it).", valueName: "dir-or-yaml"))
    var host: String?

    @Option(help: ArgumentHelp("Keep the snapshot taken at start (and on SIGHUP) in this directory, for 'rxray analyze --host'.", valueName: "dir"))
    var keepSnapshot: String?

    @Flag(help: "Evaluate rules that use constructs rxray does not model as never matching, instead of refusing to load them.")
    var lenient = false

    @Option(help: "Which frames to annotate: in (received, the default), out (sent by the host) or both.")
    var direction: LiveDirection = .in

    @Option(help: ArgumentHelp("Where the capture is taken: host (the default: this host, GRO already applied), wire (a tap: GRO is simulated), or auto (host).", valueName: "point"))
    var capturePoint: CapturePointOption?

    @Option(name: .customLong("write"), help: ArgumentHelp("Also write the printed frames to this pcapng file, each with its decision as the frame comment.", valueName: "file.pcapng"))
    var writePath: String?

    @Option(name: [.customShort("c"), .long], help: ArgumentHelp("Stop after this many frames were printed (or, with --summary, selected).", valueName: "n"))
    var count: Int?

    @Option(help: ArgumentHelp("Bytes kept per frame.", valueName: "bytes"))
    var snaplen: Int = 262_144

    @Option(help: ArgumentHelp("The kernel capture buffer in bytes (libpcap's default: 2 MiB).", valueName: "bytes"))
    var bufferSize: Int?

    @OptionGroup(title: "Output") var outputOptions: OutputOptions

    /// How often held results, output and the pcapng file are flushed when no frame arrives.
    static let tickMilliseconds = 50

    func validate() throws {
        if let c = count, c <= 0 { throw ValidationError("--count must be a positive number of frames, not \(c).") }
        if host != nil && keepSnapshot != nil {
            throw ValidationError("--keep-snapshot keeps the snapshot rxray takes; with --host it takes none. Give one of them.")
        }
        if snaplen < 64 || snaplen > 262_144 { throw ValidationError("--snaplen must be between 64 and 262144 bytes, not \(snaplen).") }
        if let b = bufferSize, b < 65_536 || b > Int(Int32.max) {
            throw ValidationError("--buffer-size must be between 65536 and \(Int32.max) bytes, not \(b).")
        }
        if interface.isEmpty { throw ValidationError("-i needs an interface name.") }
        if writePath == "-" && outputOptions.output == nil && !outputOptions.summary {
            throw ValidationError("--write - would mix the pcapng file with the text on standard output: give --output FILE or --summary too.")
        }
    }

    func run() throws {
        let captureOptions = LiveCaptureOptions(
            snaplen: Int32(snaplen), promiscuous: true, immediateMode: true, bufferSize: bufferSize.map { Int32($0) },
            timeoutMilliseconds: Int32(Self.tickMilliseconds), filter: nil, direction: direction.captureDirection)
        let capture = try LiveOpen.capture(interface: interface, options: captureOptions, netns: netns)
        if let w = capture.warning { FileHandleStderr.write("rxray: warning: \(interface): \(w)\n") }

        let filterText = filterWords.joined(separator: " ")
        var filter: BPFFilter?
        if !filterText.isEmpty {
            do { filter = try BPFFilter(filterText, linkTypes: [capture.linkType]) } catch { throw fail(String(describing: error)) }
        }

        let point: CapturePoint = capturePoint == .wire ? .wire : .host
        let pointNote = capturePoint == nil ? "host (assumed: the capture is on the receiving host)" : point.rawValue
        // Stage detail text is built only when something shows it (the trace, --write comments).
        // Results come out as soon as each is final (a held fragment does not delay the frames
        // after it); --write restores capture order through a reorder buffer (LiveSession).
        // Timers the kernel fires between frames (SYN-ACK retransmissions) come out as timer
        // events when they fire on the capture clock (`tick` advances it on a quiet link).
        let analyzerOptions = Analyzer.Options(capturePoint: point, defaultInterface: interface == "any" ? nil : interface,
                                               wantsDetail: !outputOptions.summary || writePath != nil, order: .settled,
                                               timerEvents: true)
        let source = try HostSource(host: host, netns: netns, keep: keepSnapshot, lenient: lenient, options: analyzerOptions)
        defer { source.removeTemporary() }
        let loaded = try source.load(announce: "start")

        let sink: ByteSink
        do {
            sink = try outputOptions.output.map { try ByteSink(path: $0) } ?? ByteSink(stdoutLineBuffered: true)
        } catch {
            throw fail("\(error)")
        }
        var writer: PcapngWriter?
        if let path = writePath {
            do {
                let w = try PcapngWriter(path: path, application: "rxray \(RxrayVersion.string) live")
                try w.addInterface(linkType: capture.linkType, snaplen: UInt32(snaplen), name: interface,
                                   description: netns.map { "network namespace \($0)" })
                writer = w
            } catch {
                throw fail(String(describing: error))
            }
        }

        let toTTY = outputOptions.output == nil && isatty(STDOUT_FILENO) == 1
        let renderer = outputOptions.renderer(toTerminal: toTTY)
        let format = renderer.format
        if let unknown = renderer.stages?.unknownItems, !unknown.isEmpty {
            FileHandleStderr.write("rxray: warning: --stages: \(unknown.joined(separator: ", ")) matches no stage rxray models today\n")
        }
        if !outputOptions.summary {
            let header = RunHeader(
                version: RxrayVersion.string, kernelModel: "6.18", capture: "live:\(interface)",
                captureFormat: CaptureFormat.live.description, capturePoint: point.rawValue,
                capturePointSource: capturePoint == nil ? "assumed" : "option", hostPath: loaded.path,
                interfaces: [(0, interface, capture.linkType.name)],
                filter: filterText.isEmpty ? nil : filterText, onlyDrops: outputOptions.onlyDrops,
                stages: renderer.stages?.items)
            renderer.header(header, to: sink)
        }

        let session = LiveSession(
            capture: capture, analyzer: loaded.analyzer(options: analyzerOptions),
            renderer: renderer, sink: sink, writer: writer, filter: filter, count: count,
            summaryOnly: outputOptions.summary, onlyDrops: outputOptions.onlyDrops)

        // SIGINT/SIGTERM stop the loop (LiveCapture's stopper); SIGHUP reloads the host model on
        // its own queue, so the capture loop keeps running while the tools run.
        let stopper = capture.stopOnSignals([SIGINT, SIGTERM])
        let reloadQueue = DispatchQueue(label: "rxray.live.reload")
        signal(SIGHUP, SIG_IGN)
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: reloadQueue)
        hup.setEventHandler { [session, source] in
            do {
                session.offer(try source.load(announce: "SIGHUP"))
            } catch {
                FileHandleStderr.write("rxray: SIGHUP: keeping the previous host model\n")
            }
        }
        hup.resume()
        // The ticker breaks the capture loop every tick so that time-driven work runs even when
        // no frame arrives (libpcap's read timeout does not return to the caller in immediate mode).
        let ticker = DispatchSource.makeTimerSource(queue: .global())
        let interval = DispatchTimeInterval.milliseconds(Self.tickMilliseconds)
        ticker.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(5))
        ticker.setEventHandler { [capture] in capture.stop() }
        ticker.resume()

        var what = "live on \(interface)"
        if let n = netns { what += " in network namespace \(n)" }
        what += " (\(capture.linkType.name), direction \(direction.rawValue), capture point \(pointNote))"
        what += ": Ctrl-C stops, SIGHUP \(host == nil ? "re-snapshots the host" : "re-reads \(host!)")"
        FileHandleStderr.write("rxray: \(what)\n")

        var loopError: String?
        while true {
            do {
                try capture.run { session.handle($0) }
            } catch {
                loopError = String(describing: error)
                break
            }
            if stopper.signalReceived != nil || session.finished { break }
            session.tick()
        }
        ticker.cancel()
        hup.cancel()
        // A reload still running finishes before the summary (and before a temporary snapshot
        // directory is removed). SIGHUP stays ignored until exit.
        reloadQueue.sync {}
        let signalName = stopper.signalReceived.map { $0 == SIGINT ? "SIGINT" : ($0 == SIGTERM ? "SIGTERM" : "signal \($0)") }
        stopper.cancel()

        session.finish()
        let stats = try? capture.statistics()
        session.printSummary(format: format, statistics: stats, stoppedBy: signalName ?? (loopError == nil ? "--count" : "an error"))
        if let e = sink.error, session.error == nil { session.fail(e.description) }
        var line = "rxray: stopped"
        if let s = signalName { line += " by \(s)" }
        line += ": \(session.summary.frames) frames annotated"
        if let s = stats { line += "; libpcap: \(s)" }
        FileHandleStderr.write(line + "\n")
        if let e = loopError { throw fail(e) }
        if let e = session.error { throw fail(e) }
    }
}

/// `--direction`.
enum LiveDirection: String, CaseIterable, ExpressibleByArgument {
    case `in`
    case out
    case both

    var captureDirection: CaptureDirection {
        switch self {
        case .in: return .inbound
        case .out: return .outbound
        case .both: return .both
        }
    }
}

/// Opens a live capture, inside a named network namespace when asked.
enum LiveOpen {
    /// Opens `interface`. With `netns`, a dedicated thread enters the namespace (setns(2) on
    /// /var/run/netns/NAME), opens and activates the libpcap handle there, and ends: the packet
    /// socket stays bound to the namespace's interface, and the loop runs on any thread.
    static func capture(interface: String, options: LiveCaptureOptions, netns: String?) throws -> LiveCapture {
        guard let netns else {
            do { return try LiveCapture(interface: interface, options: options) } catch { throw fail(String(describing: error)) }
        }
        let path = "/var/run/netns/\(netns)"
        guard !netns.contains("/"), access(path, F_OK) == 0 else {
            throw fail("--netns \(netns): no such network namespace (\(path) does not exist; see 'ip netns list')")
        }
        typealias SetNS = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "setns") else {
            throw fail("--netns \(netns): setns(2) is not available on this system")
        }
        let setns = unsafeBitCast(symbol, to: SetNS.self)
        let cloneNewNet: Int32 = 0x4000_0000
        final class Box: @unchecked Sendable { var result: Result<LiveCapture, Error>? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            defer { done.signal() }
            let target = open(path, O_RDONLY | O_CLOEXEC)
            guard target >= 0 else {
                box.result = .failure(fail("--netns \(netns): cannot open \(path): \(String(cString: strerror(errno)))"))
                return
            }
            defer { close(target) }
            guard setns(target, cloneNewNet) == 0 else {
                box.result = .failure(fail("--netns \(netns): cannot enter the namespace: \(String(cString: strerror(errno)))"))
                return
            }
            // This thread ends right after: it never needs to go back to the original namespace.
            do { box.result = .success(try LiveCapture(interface: interface, options: options)) } catch {
                box.result = .failure(fail("\(String(describing: error)) (in network namespace \(netns))"))
            }
        }
        thread.start()
        done.wait()
        return try box.result!.get()
    }
}

/// Where the host model comes from: a file given with --host, or a snapshot rxray takes.
final class HostSource: @unchecked Sendable {
    let hostPath: String?
    let netns: String?
    let snapshotDir: String?
    let temporary: Bool
    let lenient: Bool
    let options: Analyzer.Options

    /// A host model ready to run: the namespace model and its netfilter engine (rulesets
    /// compiled, conntrack table loaded), where it came from, and a line for standard error.
    /// Built off the capture thread; `analyzer()` starts a run with it, `Analyzer.reload`
    /// applies it to a running one.
    struct Loaded {
        var netns: Netns
        var engine: NetfilterEngine
        /// The header's host path: --host, or the snapshot directory.
        var path: String
        var description: String

        /// A fresh analyzer for this model (the start of a run).
        func analyzer(options: Analyzer.Options) -> Analyzer {
            let a = Analyzer(netns: netns, options: options)
            a.attachNetfilter(engine)
            return a
        }
    }

    init(host: String?, netns: String?, keep: String?, lenient: Bool, options: Analyzer.Options) throws {
        hostPath = host
        self.netns = netns
        self.lenient = lenient
        self.options = options
        if host != nil {
            snapshotDir = nil
            temporary = false
        } else if let keep {
            snapshotDir = keep
            temporary = false
        } else {
            var template = Array("/tmp/rxray-live-XXXXXX".utf8CString)
            guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
                throw fail("cannot create a temporary snapshot directory: \(String(cString: strerror(errno)))")
            }
            snapshotDir = String(cString: p)
            temporary = true
        }
    }

    func removeTemporary() {
        if temporary, let d = snapshotDir { try? FileManager.default.removeItem(atPath: d) }
    }

    /// Loads the host model (taking a new snapshot unless --host was given), saying on
    /// standard error what it did. `announce` names the occasion (start, SIGHUP).
    func load(announce: String) throws -> Loaded {
        let started = DispatchTime.now().uptimeNanoseconds
        if let path = hostPath {
            do {
                let h = try HostLoader.load(path: path, lenient: lenient)
                let engine = try NetfilterEngine(host: h)
                FileHandleStderr.write("rxray: \(announce): host model read from \(path)\n")
                return Loaded(netns: Netns(host: h), engine: engine, path: path, description: path)
            } catch {
                throw fail("\(announce): \(Self.describe(error, path: path))")
            }
        }
        let dir = snapshotDir!
        let what = netns.map { "network namespace \($0)" } ?? "this host"
        let outcomes: [SnapshotCollector.Outcome]
        do {
            outcomes = try SnapshotCollector(netns: netns, recordDate: true).collect(into: dir)
        } catch {
            throw fail("\(announce): snapshot of \(what): \(Self.describe(error, path: dir))")
        }
        let netns: Netns
        let engine: NetfilterEngine
        do {
            let h = try HostLoader.load(path: dir, lenient: lenient)
            engine = try NetfilterEngine(host: h)
            netns = Netns(host: h)
        } catch {
            throw fail("\(announce): snapshot of \(what): \(Self.describe(error, path: dir))")
        }
        let failed = outcomes.filter { $0.status != 0 }.map { $0.command.split(separator: " ").first.map(String.init) ?? $0.command }
        let ms = (DispatchTime.now().uptimeNanoseconds - started) / 1_000_000
        var line = "rxray: \(announce): snapshot of \(what) taken in \(ms) ms"
        if !temporary { line += " (kept in \(dir))" }
        if !failed.isEmpty { line += "; failed or missing, kernel defaults used: \(Set(failed).sorted().joined(separator: ", "))" }
        FileHandleStderr.write(line + "\n")
        return Loaded(netns: netns, engine: engine, path: dir, description: "snapshot of \(what) (\(announce))")
    }

    static func describe(_ error: Error, path: String) -> String {
        if let e = error as? InputError { return e.description }
        if let e = error as? UnsupportedRulesError { return e.description + " (--lenient evaluates them as never matching)" }
        return "\(path): \(error)"
    }
}

/// The state of one live run: the analyzer, output, held frames and counts. Used from the
/// capture thread only, except `offer`, which hands over a reloaded host from any thread.
final class LiveSession: @unchecked Sendable {
    let capture: LiveCapture
    let analyzer: Analyzer
    let renderer: FrameRenderer
    let sink: ByteSink
    let writer: PcapngWriter?
    let filter: BPFFilter?
    let count: Int?
    let summaryOnly: Bool
    let onlyDrops: Bool

    private(set) var summary = RunSummary()
    /// Set when --count is reached or an output error occurred: the loop ends.
    private(set) var finished = false
    /// The first output or filter error, reported after the summary.
    private(set) var error: String?
    private var printed = 0
    /// Frames whose result the analyzer has not emitted yet, copied (only those).
    private var held: [Int: HeldFrame] = [:]
    /// The frame being processed, rendered from libpcap's buffer without a copy when the
    /// analyzer emits it during its own `process` call.
    private var current: (meta: FrameMeta, bytes: UnsafeRawBufferPointer, selected: Bool)?
    private var currentEmitted = false
    /// The annotated pcapng's records, put back in capture order.
    private var reorder = PcapngReorderBuffer()

    private let lock = NSLock()
    private var pendingHost: HostSource.Loaded?

    init(capture: LiveCapture, analyzer: Analyzer, renderer: FrameRenderer,
         sink: ByteSink, writer: PcapngWriter?, filter: BPFFilter?, count: Int?, summaryOnly: Bool, onlyDrops: Bool) {
        self.capture = capture
        self.analyzer = analyzer
        self.renderer = renderer
        self.sink = sink
        self.writer = writer
        self.filter = filter
        self.count = count
        self.summaryOnly = summaryOnly
        self.onlyDrops = onlyDrops
    }

    /// Runs one captured frame through the analyzer and renders what it settles.
    func handle(_ frame: CapturedFrame) {
        if finished { return }
        var selected = true
        if let f = filter {
            do { selected = try f.matches(frame) } catch {
                stop(with: String(describing: error))
                return
            }
        }
        summary.note(timestamp: frame.timestampNanoseconds)
        // On `any` (LINUX_SLL2) the cooked header names the interface by ifindex: the host
        // model's name for it is the ingress (the stack picks the same device).
        var ingress: String?
        if frame.direction != .outbound, let ifx = LiveCapture.cookedIfindex(frame.bytes, linkType: frame.linkType) {
            let ns = analyzer.netns
            // An ifindex the model does not have (an interface made after the snapshot): the
            // stack falls back to the frame's addresses, and its trace says what it chose.
            ingress = ns.device(ifindex: ifx).map { ns.devices[$0].name }
        }
        let meta = FrameMeta(index: frame.index, timestampNanoseconds: frame.timestampNanoseconds,
                             captureLength: frame.captureLength, wireLength: frame.wireLength,
                             linkType: frame.linkType, captureInterface: frame.interfaceName, ingress: ingress, comment: nil,
                             interfaceID: 0, direction: frame.direction.rawValue)
        current = (meta, frame.bytes, selected)
        currentEmitted = false
        let input = FrameInput(index: frame.index, timestampNs: frame.timestampNanoseconds, bytes: frame.bytes,
                               linkType: frame.linkType, wireLength: frame.wireLength,
                               interfaceName: capture.interface == "any" ? nil : frame.interfaceName,
                               direction: FrameInput.Direction(rawValue: frame.direction.rawValue) ?? .unknown)
        analyzer.process(input, emit: emit)
        if !currentEmitted {
            // Held (a fragment, or behind one): libpcap reuses its buffer, so keep a copy.
            held[frame.index] = HeldFrame(meta: meta, bytes: Array(frame.bytes), selected: selected)
        }
        current = nil
    }

    private func emit(_ r: FrameResult) {
        summary.add(r)
        if r.timer != nil {
            // A timer event, not a frame: printed where it fires, never written to --write,
            // not counted by --count, left out by --only-drops (as `rxray analyze` does).
            if !summaryOnly && !onlyDrops && !finished { renderer.timerEvent(r, to: sink) }
            return
        }
        if let c = current, c.meta.index == r.frame {
            currentEmitted = true
            output(r, meta: c.meta, bytes: c.bytes, selected: c.selected)
        } else if let h = held.removeValue(forKey: r.frame) {
            h.bytes.withUnsafeBytes { output(r, meta: h.meta, bytes: $0, selected: h.selected) }
        }
    }

    /// Prints and writes one settled frame, as `rxray analyze` does: the filter and
    /// --only-drops choose the frames; --write gets the same frames as the trace; --count
    /// counts them (also with --summary).
    private func output(_ r: FrameResult, meta: FrameMeta, bytes: UnsafeRawBufferPointer, selected: Bool) {
        guard selected, !finished, !(onlyDrops && r.fate != .dropped) else {
            // Not written either: the pcapng's capture-order cursor moves past this frame.
            if writer != nil { reorder.skip(r.frame) }
            writeReady()
            return
        }
        if writer != nil {
            reorder.settle(r.frame, timestampNanoseconds: meta.timestampNanoseconds, bytes: bytes,
                           wireLength: meta.wireLength, comment: Annotation.comment(r),
                           direction: FrameDirection(rawValue: meta.direction) ?? .unknown)
            writeReady()
            if finished { return }
        }
        if !summaryOnly {
            let decoded = FrameDecoder.decode(bytes, linkType: meta.linkType, wireLength: meta.wireLength)
            renderer.frame(meta, decoded: decoded, bytes: bytes, result: r, to: sink)
        }
        printed += 1
        if let c = count, printed >= c {
            finished = true
            capture.stop()
        }
    }

    /// Writes the pcapng records that are next in capture order (each settled frame waits only
    /// for held frames before it).
    private func writeReady() {
        guard let w = writer else { return }
        do {
            try reorder.drain { try w.write(interfaceID: 0, timestampNanoseconds: $0.timestampNanoseconds, bytes: $0.bytes,
                                            wireLength: $0.wireLength, comment: $0.comment, direction: $0.direction) }
        } catch {
            stop(with: String(describing: error))
        }
    }

    /// Records an error to report after the summary (exit status 2).
    func fail(_ message: String) {
        if error == nil { error = message }
    }

    private func stop(with message: String) {
        if error == nil { error = message }
        finished = true
        capture.stop()
    }

    /// Hands over a host model loaded on another thread; the capture thread swaps it in at
    /// the next tick.
    func offer(_ loaded: HostSource.Loaded) {
        lock.lock()
        pendingHost = loaded
        lock.unlock()
        capture.stop()
    }

    /// Time-driven work between frames: swap in a reloaded host, flush output.
    func tick() {
        lock.lock()
        let loaded = pendingHost
        pendingHost = nil
        lock.unlock()
        if let loaded {
            // The new configuration applies to the running analyzer: connections, queues and
            // timers the earlier frames built are kept (core/Reload.swift).
            let outcome = analyzer.reload(netns: loaded.netns, netfilter: loaded.engine, emit: emit)
            FileHandleStderr.write("rxray: host model replaced: \(loaded.description); \(Self.describe(outcome))\n")
        }
        // Time-driven flushes: GRO holds and reassembly timers that are due by now (less one
        // tick, so frames still in libpcap's ring are not overtaken) settle without waiting for
        // the next frame.
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let now = Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec) - Int64(Live.tickMilliseconds) * 1_000_000
        analyzer.advance(to: now, emit: emit)
        sink.flush()
        if let w = writer {
            do { try w.flush() } catch { stop(with: String(describing: error)) }
        }
    }

    /// What a reload kept, for standard error.
    static func describe(_ o: ReloadOutcome) -> String {
        var s = "state kept: \(o.conntrackEntries) tracked connection\(o.conntrackEntries == 1 ? "" : "s"), "
            + "\(o.tcpConnections) TCP socket\(o.tcpConnections == 1 ? "" : "s")"
        if o.tcpConnectionsDropped > 0 { s += " (\(o.tcpConnectionsDropped) of listeners that are gone freed)" }
        if o.devicesChanged {
            s += "; the interfaces changed: \(o.settledBeforeSwap) held frame\(o.settledBeforeSwap == 1 ? "" : "s") settled first, neighbour table reloaded"
        }
        if o.ruleStateReset { s += "; rate limits and nth counters restart (the rules changed)" }
        return s
    }

    /// Settles everything still held and closes the pcapng file.
    func finish() {
        analyzer.finish(emit: emit)
        // Frames that were never output (the run ended first) leave gaps: write the rest in order.
        if let w = writer, error == nil {
            do {
                try reorder.drainAll { try w.write(interfaceID: 0, timestampNanoseconds: $0.timestampNanoseconds, bytes: $0.bytes,
                                                   wireLength: $0.wireLength, comment: $0.comment, direction: $0.direction) }
            } catch {
                self.error = String(describing: error)
            }
        }
        // Rule hits and the conntrack table of the model in use (since the last reload).
        if let engine = analyzer.netfilter {
            summary.ruleHits = NetfilterSummary.ruleHits(engine)
            if engine.usesConntrack {
                summary.conntrackListing = NetfilterSummary.conntrackList(engine.conntrack, now: summary.lastTimestamp ?? 0)
            }
        }
        if let w = writer {
            do { try w.close() } catch let e { if error == nil { error = String(describing: e) } }
        }
    }

    /// The run's summary and libpcap's counters, on the output.
    func printSummary(format: OutputFormat, statistics: CaptureStatistics?, stoppedBy: String) {
        switch format {
        case .text:
            summary.writeText(to: sink)
            if let s = statistics {
                sink.write("capture: \(s)")
                sink.endLine()
            }
            sink.write("stopped by: \(stoppedBy)")
            sink.endLine()
        case .jsonl:
            summary.writeJSON(to: sink)
            sink.endLine()
            var b = JSONObjectBuilder()
            if let s = statistics {
                b.int("received", Int(s.received))
                b.int("dropped_by_kernel", Int(s.droppedByKernel))
                b.int("dropped_by_interface", Int(s.droppedByInterface))
            }
            b.string("stopped_by", stoppedBy)
            sink.write("{\"capture\":" + b.close() + "}")
            sink.endLine()
        }
        sink.flush()
    }
}

/// Puts `--write` records back in capture order when results come out as they settle.
///
/// Every captured frame is settled exactly once (written or skipped). A record is written as
/// soon as every earlier frame has been settled; a frame settled while an earlier one is still
/// held (a fragment waiting for its datagram) is copied and waits. The buffer therefore holds
/// only frames captured after the oldest held one.
struct PcapngReorderBuffer {
    struct Record {
        var frame: Int
        var timestampNanoseconds: Int64
        var bytes: UnsafeRawBufferPointer
        var wireLength: Int
        var comment: String
        var direction: FrameDirection
    }

    private struct Waiting {
        var timestampNanoseconds: Int64
        var bytes: [UInt8]
        var wireLength: Int
        var comment: String
        var direction: FrameDirection
    }

    /// The next frame number to write (frames are numbered from 1).
    private(set) var next = 1
    /// Settled frames after `next`: a record, or nil for a frame that is not written.
    private var waiting: [Int: Waiting?] = [:]
    /// The record settled by the current call, not copied unless it must wait.
    private var ready: Record?

    /// How many settled frames wait for an earlier one.
    var waitingCount: Int { waiting.count }

    /// A frame that is written: ready now if it is next, otherwise copied to wait.
    mutating func settle(_ frame: Int, timestampNanoseconds: Int64, bytes: UnsafeRawBufferPointer, wireLength: Int,
                         comment: String, direction: FrameDirection) {
        if frame == next {
            ready = Record(frame: frame, timestampNanoseconds: timestampNanoseconds, bytes: bytes, wireLength: wireLength,
                           comment: comment, direction: direction)
        } else if frame > next {
            waiting[frame] = .some(Waiting(timestampNanoseconds: timestampNanoseconds, bytes: Array(bytes), wireLength: wireLength,
                                           comment: comment, direction: direction))
        }
    }

    /// A frame that is settled but not written (filtered out, not a drop with --only-drops, or
    /// after --count was reached).
    mutating func skip(_ frame: Int) {
        if frame == next { next += 1 } else if frame > next { waiting[frame] = .some(nil) }
    }

    /// Hands `write` every record that is next in capture order.
    mutating func drain(_ write: (Record) throws -> Void) rethrows {
        if let r = ready {
            ready = nil
            try write(r)
            next = r.frame + 1
        }
        while let entry = waiting.removeValue(forKey: next) {
            let frame = next
            next += 1
            if let w = entry {
                try w.bytes.withUnsafeBytes {
                    try write(Record(frame: frame, timestampNanoseconds: w.timestampNanoseconds, bytes: $0,
                                     wireLength: w.wireLength, comment: w.comment, direction: w.direction))
                }
            }
        }
    }

    /// At the end: writes every waiting record in capture order, past frames that never settled.
    mutating func drainAll(_ write: (Record) throws -> Void) rethrows {
        try drain(write)
        for frame in waiting.keys.sorted() {
            if let w = waiting.removeValue(forKey: frame)! {
                try w.bytes.withUnsafeBytes {
                    try write(Record(frame: frame, timestampNanoseconds: w.timestampNanoseconds, bytes: $0,
                                     wireLength: w.wireLength, comment: w.comment, direction: w.direction))
                }
            }
            next = frame + 1
        }
    }
}
