import ArgumentParser
import RxrayCapture
import RxrayDecode
import RxrayOutput
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
            fragment queues stays what the kernel would have.

            Examples:
              rxray analyze trace.pcapng --host snapshot/
              rxray analyze trace.pcap 'tcp port 443' --format jsonl -o out.jsonl
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

    func validate() throws {
        if let c = count, c <= 0 { throw ValidationError("--count must be a positive number of frames, not \(c).") }
    }

    @Option(name: .long, help: ArgumentHelp("Where the capture was taken: wire (a tap or the sender; GRO is simulated), host (tcpdump on the receiving host), or auto.", valueName: "point"))
    var capturePoint: CapturePointOption = .auto

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
        let toTTY = outputOptions.output == nil && isatty(STDOUT_FILENO) == 1
        let format: OutputFormat = outputOptions.format == .jsonl ? .jsonl : .text
        let renderer = FrameRenderer(format: format, verbosity: 1 + outputOptions.verbose,
                                     color: outputOptions.color ?? toTTY)
        let point: CapturePoint
        let pointNote: String
        switch capturePoint {
        case .wire: point = .wire; pointNote = "wire"
        case .host: point = .host; pointNote = "host"
        case .auto: point = .wire; pointNote = "wire (assumed)"
        }
        let analyzer = Analyzer(host: loaded.host, options: .init(
            capturePoint: point, defaultInterface: interface, wantsDetail: !outputOptions.summary))

        if !outputOptions.summary {
            renderer.header([
                ("rxray", RxrayVersion.string),
                ("kernel_model", "6.18"),
                ("capture", capture),
                ("capture_format", reader.format.description),
                ("capture_point", pointNote),
                ("host", loaded.description),
            ], to: sink)
            if let yaml = loaded.inferredYAML, format == .text {
                sink.write("# No --host given: rxray inferred this host from the capture (save it, edit it, pass it back with --host):")
                sink.endLine()
                for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
                    sink.write("#   " + line)
                    sink.endLine()
                }
            }
        }

        // Frames are decoded when read; the analyzer may hold a result (fragments) and emit it
        // later, so the decoded view and metadata are kept by frame number until emitted.
        var held: [Int: HeldFrame] = [:]
        var summary = RunSummary()
        var printed = 0
        var stop = false
        let onlyDrops = outputOptions.onlyDrops
        let summaryOnly = outputOptions.summary

        func emit(_ r: FrameResult) {
            summary.add(r)
            guard let h = held.removeValue(forKey: r.frame) else { return }
            guard !summaryOnly, !stop, h.selected else { return }
            if onlyDrops && r.fate != .dropped { return }
            h.bytes.withUnsafeBytes { raw in
                let decoded = FrameDecoder.decode(raw, linkType: h.meta.linkType, wireLength: h.meta.wireLength)
                renderer.frame(h.meta, decoded: decoded, bytes: raw, result: r, to: sink)
            }
            printed += 1
            if let c = count, printed >= c { stop = true }
        }

        do {
            while !stop, let frame = try reader.next() {
                var selected = true
                if let f = filter {
                    do { selected = try f.matches(frame) } catch { throw fail(error.description) }
                }
                let meta = FrameMeta(index: frame.index, timestampNanoseconds: frame.timestampNanoseconds,
                                     captureLength: frame.captureLength, wireLength: frame.wireLength,
                                     linkType: frame.linkType, captureInterface: frame.interfaceName,
                                     comment: frame.comment)
                held[frame.index] = HeldFrame(meta: meta, bytes: summaryOnly ? [] : Array(frame.bytes), selected: selected)
                let input = FrameInput(index: frame.index, timestampNs: frame.timestampNanoseconds, bytes: frame.bytes,
                                       linkType: frame.linkType, wireLength: frame.wireLength,
                                       interfaceName: frame.interfaceName,
                                       direction: FrameInput.Direction(rawValue: frame.direction.rawValue) ?? .unknown)
                analyzer.process(input, emit: emit)
            }
            analyzer.finish(emit: emit)
        } catch let error as CaptureError {
            analyzer.finish(emit: emit)
            if format == .text { sink.write(summary.text()) } else { sink.write(summary.json()); sink.endLine() }
            sink.flush()
            throw fail(error.description.replacingOccurrences(of: capturePath, with: capture))
        }
        if summaryOnly || format == .text {
            if format == .text { sink.write(summary.text()) } else { sink.write(summary.json()); sink.endLine() }
        }
        sink.flush()
    }
}

struct HeldFrame {
    var meta: FrameMeta
    var bytes: [UInt8]
    var selected: Bool
}

