import ArgumentParser
import RxrayCapture
import RxrayDecode
import RxrayNetfilter
import RxrayOutput
import RxrayRules
import RxrayStack
#if canImport(Glibc)
import Glibc
#endif

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decodes a capture and annotates every frame with the receive path's decisions.",
        discussion: """
            Every frame of the capture is printed exactly once, in capture order, with its \
            number as Wireshark counts it. A BPF filter (tcpdump syntax) selects which frames are \
            printed; the stack still sees every frame, so state such as connection tracking and \
            fragment queues stays what the kernel would have. The summary counts every frame.

            Output formats and fields are described in docs/OUTPUT.md; JSON lines follow the \
            schemas in docs/schema/.

            Examples:
              rxray analyze trace.pcapng --host snapshot/
              rxray analyze trace.pcap 'tcp port 443' --format jsonl -o out.jsonl
              rxray analyze trace.pcapng --host snapshot/ --only-drops --stages nf_hook,tcp_v4_rcv
              rxray analyze trace.pcapng --host snapshot/ --summary --write annotated.pcapng --report report.html
              tcpdump -w - -i eth0 | rxray analyze - --host prod.yaml
            """)

    @Argument(help: ArgumentHelp("The pcap or pcapng file to read, or - for standard input.", valueName: "capture"))
    var capture: String

    @Argument(parsing: .remaining, help: ArgumentHelp("A BPF filter in tcpdump syntax selecting the frames to print.", valueName: "filter"))
    var filterWords: [String] = []

    @Option(name: [.customShort("c"), .long], help: ArgumentHelp("Stop after printing this many frames.", valueName: "n"))
    var count: Int?

    @Option(name: .long, help: ArgumentHelp("The host interface that received the frames, when the capture does not name it.", valueName: "name"))
    var interface: String?

    @OptionGroup(title: "Host") var hostOptions: HostOptions
    @OptionGroup(title: "Output") var outputOptions: OutputOptions

    @Option(name: .customLong("write"), help: ArgumentHelp(
        "Also write the printed frames to this pcapng file, each with its decision as the frame comment.",
        discussion: "Interfaces, link types, timestamps and lengths are the original ones; Wireshark shows the comment (tshark -e frame.comment).",
        valueName: "file.pcapng"))
    var writePath: String?

    @Option(name: .customLong("report"), help: ArgumentHelp(
        "Also write a self-contained HTML report: a diagram of the receive path, the summary tables and the filterable per-frame trace.",
        valueName: "file.html"))
    var reportPath: String?

    @Option(name: .long, help: ArgumentHelp("Where the capture was taken: wire (a tap or the sender; GRO is simulated), host (tcpdump on the receiving host), or auto.", valueName: "point"))
    var capturePoint: CapturePointOption = .auto

    @Option(name: .long, help: ArgumentHelp("Threads: 1 reads, evaluates and prints on one thread; more also reads and filters the capture ahead on a thread of its own, and renders and writes the frames on another while the next ones are evaluated. Output is the same. Default: the number of cores.", valueName: "n"))
    var threads: Int?

    func validate() throws {
        if let c = count, c <= 0 { throw ValidationError("--count must be a positive number of frames, not \(c).") }
        if let t = threads, t <= 0 { throw ValidationError("--threads must be 1 or more, not \(t).") }
        _ = try hostOptions.tcpOptions()
        if writePath == "-" && outputOptions.output == nil {
            throw ValidationError("--write - puts the pcapng file on standard output: give --output FILE too, so the text goes elsewhere.")
        }
        if reportPath == "-" { throw ValidationError("--report needs a file name (the report is one HTML file), not -.") }
        if let w = writePath, let r = reportPath, w == r { throw ValidationError("--write and --report name the same file '\(w)'.") }
    }

    func run() throws {
        var capturePath = capture
        var spooled: String?
        if capture == "-" && hostOptions.host == nil {
            // Inferring the host needs two passes: keep standard input in a temporary file.
            do { spooled = try Spool.stdinToTemporaryFile() } catch { throw fail("standard input: \(error)") }
            capturePath = spooled!
        }
        defer { if let s = spooled { Spool.remove(s) } }

        let filterText = filterWords.joined(separator: " ")
        let reader: CaptureReader
        do {
            reader = try CaptureReader(path: capturePath)
        } catch {
            throw fail(error.description.replacingOccurrences(of: capturePath, with: capture))
        }
        var filter: BPFFilter?
        if !filterText.isEmpty {
            do {
                filter = try BPFFilter(filterText, linkTypes: reader.interfaces.map(\.linkType))
            } catch {
                throw fail(error.description)
            }
        }
        let loaded = try HostSetup.load(hostOptions, capturePath: capturePath)
        let sink: ByteSink
        do {
            sink = try outputOptions.output.map { try ByteSink(path: $0) } ?? ByteSink()
        } catch {
            throw fail("\(error)")
        }
        let out = AnnotatedOutputs(reader: reader, report: reportPath.map { _ in HTMLReport() })
        if let path = writePath {
            do { out.writer = try PcapngWriter(path: path, application: "rxray \(RxrayVersion.string)") } catch { throw fail(error.description) }
        }
        let toTTY = outputOptions.output == nil && isatty(STDOUT_FILENO) == 1
        let renderer = outputOptions.renderer(toTerminal: toTTY)
        let format = renderer.format
        if let unknown = renderer.stages?.unknownItems, !unknown.isEmpty {
            FileHandleStderr.write("rxray: warning: --stages: \(unknown.joined(separator: ", ")) matches no stage rxray models today (known: \(StageSelection.knownSymbols.joined(separator: ", ")))\n")
        }
        let point: CapturePoint
        let pointSource: String
        switch capturePoint {
        case .wire: point = .wire; pointSource = "option"
        case .host: point = .host; pointSource = "option"
        case .auto: point = .wire; pointSource = "assumed"
        }
        let summaryOnly = outputOptions.summary
        let threadCount = threads ?? FrameSource.defaultThreads
        // Printed output rendered as results settle, put back in capture order as finished
        // records: here on the evaluation thread with one thread or with -c (which must stop
        // the evaluation at the count's frame, as the render thread could not), otherwise on the
        // render thread.
        let renderAsSettled = !summaryOnly && writePath == nil && reportPath == nil
        // Stage detail text is built only when something shows it.
        let wantsDetail = !summaryOnly || writePath != nil || reportPath != nil
        let analyzer: Analyzer
        do {
            // The host's rulesets compiled into the netfilter engine, its conntrack table loaded.
            // Only the summary is wanted: it counts, so the order results arrive in cannot change
            // it, and a fragment that never completes must not keep every later result waiting
            // (memory would grow with the capture). -c counts frames in capture order.
            // Printed output on one thread, without --write or --report: results also come as they
            // settle, and each frame is rendered then; `RenderedQueue` keeps the records of frames
            // behind a held one and writes them in capture order (a wait costs a copy of the
            // record, not a packed and unpacked result).
            let order: EmitOrder = (summaryOnly && writePath == nil && reportPath == nil && count == nil) || renderAsSettled
                ? .settled : .capture
            var options = try Analyzer.Options(
                capturePoint: point, defaultInterface: interface, wantsDetail: wantsDetail,
                tcp: hostOptions.tcpOptions(), order: order, timerEvents: true)
            // JSON lines copy the stage detail's JSON form where a writer keeps one.
            options.jsonForm = wantsDetail && !summaryOnly && format == .jsonl
            analyzer = try Analyzer(host: loaded.host, options: options, netfilter: true)
        } catch let e as InputError {
            throw fail(e.description)
        } catch {
            throw fail("\(hostOptions.host ?? "inferred host"): \(error)")
        }

        let header = RunHeader(
            version: RxrayVersion.string, kernelModel: "6.18", capture: capture,
            captureFormat: reader.format.description, capturePoint: point.rawValue, capturePointSource: pointSource,
            hostPath: hostOptions.host, inferredHostYAML: loaded.inferredYAML,
            interfaces: reader.interfaces.map { ($0.id, $0.name, $0.linkType.name) },
            filter: filterText.isEmpty ? nil : filterText, onlyDrops: outputOptions.onlyDrops,
            stages: renderer.stages?.items)
        if !summaryOnly { renderer.header(header, to: sink) }

        var summary = RunSummary()
        var selectedCount = 0
        var stop = false
        let onlyDrops = outputOptions.onlyDrops
        // The frame being processed is rendered from the reader's buffer when the analyzer
        // settles it at once (almost always); only frames it holds (fragments, and frames
        // behind them) are copied, and kept by number until settled.
        let held = HeldFrameQueue()
        // The frame `process` is running on (`currentIndex` -1: none), in plain variables: an
        // optional tuple holding the meta was set, copied and destroyed through generic value
        // witnesses on every frame.
        var currentIndex = -1
        var currentMeta = FrameMeta(index: -1, timestampNanoseconds: 0, captureLength: 0, wireLength: 0,
                                    linkType: .ethernet, captureInterface: nil)
        var currentBytes = UnsafeRawBufferPointer(start: nil, count: 0)
        var currentSelected = false
        var currentEmitted = false
        var outputError: String?
        // --threads 2 and more: frames are rendered and written on a thread of their own
        // (with -c, on this one: see `renderAsSettled`).
        let pipeline = !summaryOnly && threadCount > 1 && count == nil
            ? RenderPipeline(renderer: renderer, sink: sink, settled: renderAsSettled, onlyDrops: onlyDrops) : nil
        defer { pipeline?.finish() }

        // Read once: an @Option read per frame goes through the property wrapper's getter, and a
        // reference to `self` from the closures below would copy the whole command per held frame.
        let countLimit = count
        func output(_ r: FrameResult, _ meta: FrameMeta, _ bytes: UnsafeRawBufferPointer, _ selected: Bool) {
            guard selected, !stop else { return }
            if onlyDrops && r.fate != .dropped { return }
            if let w = out.writer {
                do { try out.write(r, meta: meta, bytes: bytes, to: w) } catch {
                    if outputError == nil { outputError = error.description }
                    stop = true
                    return
                }
            }
            if let p = pipeline {
                // Rendered on the render thread; a failed output ends the run early.
                if !p.submit(meta, bytes: bytes, result: r) { stop = true }
                if let report = out.report {
                    let decoded = FrameDecoder.decode(bytes, linkType: meta.linkType, wireLength: meta.wireLength)
                    report.addTrace(meta, summary: decoded.summaryLine(bytes), result: r)
                }
            } else if !summaryOnly || out.report != nil {
                let decoded = FrameDecoder.decode(bytes, linkType: meta.linkType, wireLength: meta.wireLength)
                if !summaryOnly {
                    renderer.frame(meta, decoded: decoded, bytes: bytes, result: r, to: sink)
                    // Nothing more can be written once the output has failed: stop evaluating.
                    if sink.error != nil { stop = true }
                }
                out.report?.addTrace(meta, summary: decoded.summaryLine(bytes), result: r)
            }
            selectedCount += 1
            if let c = countLimit, selectedCount >= c { stop = true }
        }

        // Nothing per frame but the summary's counts is wanted (no printed frames, no --write,
        // no --report, no -c): no frame metadata is made and no held frame is remembered.
        let countsOnly = summaryOnly && writePath == nil && reportPath == nil && countLimit == nil
        // A timer event (not a frame): rendered in its place in the stream, never written to
        // --write or the report, and not counted by -c. --only-drops leaves them out.
        func outputTimer(_ r: FrameResult) {
            guard !stop, !summaryOnly, !onlyDrops else { return }
            if let p = pipeline {
                let meta = FrameMeta(index: 0, timestampNanoseconds: r.timer?.time ?? 0, captureLength: 0, wireLength: 0,
                                     linkType: .ethernet, captureInterface: nil)
                if !p.submit(meta, bytes: UnsafeRawBufferPointer(start: nil, count: 0), result: r) { stop = true }
            } else {
                renderer.timerEvent(r, to: sink)
                if sink.error != nil { stop = true }
            }
        }

        // Output in capture order from results in settled order (`renderAsSettled`).
        let rendered = renderAsSettled && pipeline == nil ? RenderedQueue() : nil
        // The same on the render thread (`RenderPipeline` in settled mode).
        let settledPipeline = renderAsSettled ? pipeline : nil
        // The last frame handed to the analyzer (a timer event's slot carries its number).
        var lastIndex = 0
        // Whether a record rendered earlier is written (the queue writes it), counted as
        // `output` / `outputTimer` would have.
        func keep(_ slot: RenderedQueue.Slot) -> Bool {
            guard !stop else { return false }
            if slot.counts {
                selectedCount += 1
                if let c = countLimit, selectedCount >= c { stop = true }
            }
            return true
        }
        // Writes the records that are ready at the front of the queue (`all`: every record
        // left, at the end of the run).
        func drain(_ queue: RenderedQueue, all: Bool = false) {
            if all { queue.drainAll(to: sink, keep) } else { queue.drain(to: sink, keep) }
            if sink.error != nil { stop = true }
        }
        // Renders `r` for `RenderedQueue`; false when the frame prints nothing (unselected,
        // left out by --only-drops, or output already stopped).
        func render(_ r: FrameResult, _ meta: FrameMeta, _ bytes: UnsafeRawBufferPointer, _ selected: Bool,
                    _ w: inout ByteWriter) -> Bool {
            guard selected, !stop else { return false }
            if onlyDrops && r.fate != .dropped { return false }
            let decoded = FrameDecoder.decode(bytes, linkType: meta.linkType, wireLength: meta.wireLength)
            renderer.frame(meta, decoded: decoded, bytes: bytes, result: r, to: &w)
            return true
        }
        // Each record is rendered here, not in a closure (one capturing `r` copied the result).
        func emitSettled(_ r: FrameResult, _ queue: RenderedQueue) {
            if r.timer != nil {
                guard !stop, !onlyDrops else { return }
                switch queue.place(frame: lastIndex, event: true) {
                case .write: outputTimer(r)
                case .writeThenDrain: outputTimer(r); drain(queue)
                case .keep:
                    renderer.timerEvent(r, to: &queue.scratch)
                    queue.commit(counts: false)
                }
                return
            }
            if currentIndex == r.frame {
                currentEmitted = true
                switch queue.place(frame: r.frame, event: false) {
                case .write: output(r, currentMeta, currentBytes, currentSelected)
                case .writeThenDrain: output(r, currentMeta, currentBytes, currentSelected); drain(queue)
                case .keep:
                    let counts = render(r, currentMeta, currentBytes, currentSelected, &queue.scratch)
                    queue.commit(counts: counts)
                }
                return
            }
            held.take(r.frame) { meta, bytes, selected in
                switch queue.place(frame: r.frame, event: false) {
                case .write:
                    output(r, meta, bytes, selected)
                case .writeThenDrain:
                    output(r, meta, bytes, selected)
                    drain(queue)
                case .keep:
                    let counts = render(r, meta, bytes, selected, &queue.scratch)
                    queue.commit(counts: counts)
                }
            }
        }

        // Settled results handed to the render thread, which keeps them in capture order.
        func emitToPipeline(_ r: FrameResult, _ p: RenderPipeline) {
            guard !stop else { return }
            if r.timer != nil {
                guard !onlyDrops else { return }
                let meta = FrameMeta(index: lastIndex, timestampNanoseconds: r.timer?.time ?? 0, captureLength: 0, wireLength: 0,
                                     linkType: .ethernet, captureInterface: nil)
                if !p.submit(meta, bytes: UnsafeRawBufferPointer(start: nil, count: 0), result: r, kind: .timer) { stop = true }
                return
            }
            if currentIndex == r.frame {
                currentEmitted = true
                if !p.submit(currentMeta, bytes: currentBytes, result: r, selected: currentSelected) { stop = true }
                return
            }
            held.take(r.frame) { meta, bytes, selected in
                if !p.submit(meta, bytes: bytes, result: r, selected: selected) { stop = true }
            }
        }

        func emit(_ r: FrameResult) {
            summary.add(r)
            if countsOnly { return }
            if let queue = rendered { emitSettled(r, queue); return }
            if let p = settledPipeline { emitToPipeline(r, p); return }
            if r.timer != nil { outputTimer(r); return }
            out.report?.addPath(r)
            if currentIndex == r.frame {
                currentEmitted = true
                output(r, currentMeta, currentBytes, currentSelected)
            } else {
                held.take(r.frame) { meta, bytes, selected in output(r, meta, bytes, selected) }
            }
        }

        let progress = ProgressMeter.enabledIfTerminal(totalBytes: Self.fileSize(capturePath))
        var offset = Self.headerBytes(reader.format)
        var captureError: CaptureError?
        do {
            let source = FrameSource(reader: reader, filter: filter, threads: threadCount)
            defer { source.stop() }
            out.source = source
            while !stop, let frame = try source.next() {
                var selected = true
                if filter != nil {
                    do { selected = try source.selected(frame) } catch { throw fail(error.description) }
                }
                summary.note(timestamp: frame.timestampNanoseconds)
                if countsOnly {
                    let input = FrameInput(index: frame.index, timestampNs: frame.timestampNanoseconds, bytes: frame.bytes,
                                           linkType: frame.linkType, wireLength: frame.wireLength,
                                           interfaceName: frame.interfaceName,
                                           direction: FrameInput.Direction(rawValue: frame.direction.rawValue) ?? .unknown)
                    // What `emit` does when only counts are wanted, in a closure of its own: one
                    // capturing the summary alone is called without unpacking everything `emit`
                    // captures (a forwarding thunk of some 50 instructions per result).
                    analyzer.process(input) { summary.add($0) }
                    if let p = progress {
                        offset += Self.recordBytes(reader.format, captureLength: frame.captureLength, comment: frame.comment)
                        p.update(frames: frame.index, offset: offset)
                    }
                    continue
                }
                // Made in place (a local copied into `currentMeta` cost a copy and a destroy of its
                // strings per frame); a held frame's copy is made only when it is held.
                currentMeta = FrameMeta(index: frame.index, timestampNanoseconds: frame.timestampNanoseconds,
                                        captureLength: frame.captureLength, wireLength: frame.wireLength,
                                        linkType: frame.linkType, captureInterface: frame.interfaceName,
                                        comment: frame.comment, interfaceID: frame.interfaceID,
                                        direction: frame.direction.rawValue)
                currentIndex = frame.index
                currentBytes = frame.bytes
                currentSelected = selected
                currentEmitted = false
                let input = FrameInput(index: frame.index, timestampNs: frame.timestampNanoseconds, bytes: frame.bytes,
                                       linkType: frame.linkType, wireLength: frame.wireLength,
                                       interfaceName: frame.interfaceName,
                                       direction: FrameInput.Direction(rawValue: frame.direction.rawValue) ?? .unknown)
                analyzer.process(input, emit: emit)
                lastIndex = frame.index
                if !currentEmitted {
                    rendered?.appendWaiting(frame: frame.index)
                    if let p = settledPipeline, !stop, !p.submitWaiting(frame: frame.index) { stop = true }
                    // Only a frame that will be printed, written or reported needs its bytes kept.
                    let keep = selected && (!summaryOnly || out.writer != nil || out.report != nil)
                    held.push(meta: currentMeta, bytes: keep ? frame.bytes : nil, selected: selected)
                }
                currentIndex = -1
                if let p = progress {
                    offset += Self.recordBytes(reader.format, captureLength: frame.captureLength, comment: frame.comment)
                    p.update(frames: frame.index, offset: offset)
                }
            }
        } catch let error as CaptureError {
            captureError = error
        }
        progress?.finish()
        analyzer.finish(emit: emit)
        // Every held frame's result came back in `finish`: nothing is left waiting.
        if let queue = rendered { drain(queue, all: true) }
        // The render thread writes the last frames; the sink is this thread's again after.
        pipeline?.finish()
        if let engine = analyzer.netfilter {
            summary.ruleHits = NetfilterSummary.ruleHits(engine)
            if engine.usesConntrack {
                summary.conntrackListing = NetfilterSummary.conntrackList(engine.conntrack, now: summary.lastTimestamp ?? 0)
            }
        }

        // Both formats end with the summary (JSON lines: one {"summary": ...} line).
        if format == .text { summary.writeText(to: sink) } else { summary.writeJSON(to: sink); sink.endLine() }
        sink.flush()
        if let w = out.writer {
            do { try w.close() } catch { if outputError == nil { outputError = error.description } }
        }
        if let report = out.report, let path = reportPath {
            var page = report.render(header: header, summary: summary)
            do {
                let f = try ByteSink(path: path)
                page.withUTF8 { f.write(bytes: UnsafeRawBufferPointer($0)) }
                f.flush()
                if let e = f.error { throw e }
            } catch {
                if outputError == nil { outputError = "\(error)" }
            }
        }
        if let e = sink.error, outputError == nil { outputError = e.description }
        if let error = captureError {
            throw fail(error.description.replacingOccurrences(of: capturePath, with: capture))
        }
        if let e = outputError { throw fail(e) }
    }

    static func fileSize(_ path: String) -> Int64? {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(st.st_size)
    }

    /// Bytes before the first frame record (progress estimate only).
    static func headerBytes(_ format: CaptureFormat) -> Int64 {
        if case .pcap = format { return 24 }
        return 28 + 32  // section header and one interface description, without options
    }

    /// The bytes a frame's record takes in the file (progress estimate: exact for pcap,
    /// the enhanced packet block without options other than the comment for pcapng).
    static func recordBytes(_ format: CaptureFormat, captureLength: Int, comment: String?) -> Int64 {
        if case .pcap = format { return Int64(16 + captureLength) }
        var n = 32 + (captureLength + 3) / 4 * 4
        if let c = comment { n += 4 + (c.utf8.count + 3) / 4 * 4 + 4 }
        return Int64(n)
    }
}

/// The file outputs beside the printed trace: the annotated pcapng (`--write`) and the HTML
/// report (`--report`).
final class AnnotatedOutputs {
    let reader: CaptureReader
    /// Where the frames come from, when a reader thread owns `reader`.
    var source: FrameSource?
    var writer: PcapngWriter?
    let report: HTMLReport?
    /// Capture interface id → writer interface id. Interfaces are added in the capture's
    /// order, so the ids are the same as in the original file.
    private var interfaceMap: [Int: Int] = [:]

    init(reader: CaptureReader, report: HTMLReport?) {
        self.reader = reader
        self.report = report
    }

    /// Writes one frame with its decision as the comment, adding the capture's interfaces
    /// (name, description, link type, snap length) up to the frame's before it.
    func write(_ r: FrameResult, meta: FrameMeta, bytes: UnsafeRawBufferPointer, to w: PcapngWriter) throws(CaptureError) {
        if interfaceMap[meta.interfaceID] == nil {
            let known = source?.interfaces ?? reader.interfaces
            var next = interfaceMap.count
            while interfaceMap[meta.interfaceID] == nil {
                if next < known.count {
                    let i = known[next]
                    interfaceMap[i.id] = try w.addInterface(linkType: i.linkType, snaplen: i.snaplen, name: i.name, description: i.description)
                } else {
                    // Not described (cannot happen with a reader that returned the frame):
                    // describe it from the frame itself.
                    interfaceMap[meta.interfaceID] = try w.addInterface(linkType: meta.linkType, name: meta.captureInterface)
                }
                next += 1
            }
        }
        try w.write(interfaceID: interfaceMap[meta.interfaceID]!, timestampNanoseconds: meta.timestampNanoseconds,
                    bytes: bytes, wireLength: meta.wireLength,
                    comment: Annotation.comment(r, original: meta.comment),
                    direction: FrameDirection(rawValue: meta.direction) ?? .unknown)
    }
}

struct HeldFrame {
    var meta: FrameMeta
    var bytes: [UInt8]
    var selected: Bool
}

/// The netfilter engine's end-of-run state in the summary's terms.
enum NetfilterSummary {
    /// Every rule with its hit count (the summary keeps those hit, most first). Only a rule
    /// hit gets its `source`, the one text made per rule: the others are never shown.
    static func ruleHits(_ engine: NetfilterEngine) -> [RuleHit] {
        var out: [RuleHit] = []
        for (i, info) in engine.ruleInfo.enumerated() where i < engine.ruleHits.count {
            let hits = Int(clamping: engine.ruleHits[i])
            out.append(RuleHit(table: info.table, chain: info.chain, position: info.position, handle: info.handle,
                               text: info.text, source: info.file.isEmpty || hits == 0 ? nil : "\(info.file):\(info.line)",
                               hits: hits))
        }
        return out
    }

    /// The table as `conntrack -L` prints it: protocol name and number, seconds left,
    /// TCP state, original tuple, `[UNREPLIED]`, reply tuple, `[ASSURED]`, mark, use.
    /// Seconds left are counted from `now`, the last frame's capture time. Entries are in
    /// creation order (then by text), so the listing does not depend on hashing. Each row is
    /// made as it is written (`ConntrackTable.listingOrder`, `listingRow`): only the order, 4
    /// bytes an entry, is kept.
    static func conntrackList(_ table: ConntrackTable, now: Int64) -> ConntrackListing {
        let order = table.listingOrder(now: now)
        return ConntrackListing(count: order.count) { body in
            var w = ByteWriter(capacity: 512)
            defer { w.deallocate() }
            for slot in order {
                w.removeAll()
                table.writeListingRow(slot, now: now, to: &w)
                body(w.bytes)
            }
        }
    }
}
