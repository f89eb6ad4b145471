import ArgumentParser
import RxrayStack
import RxrayOutput
#if canImport(Glibc)
import Glibc
#endif

/// Prints one clear line on stderr and exits 2 (usage or input error).
func fail(_ message: String) -> ExitCode {
    FileHandleStderr.write("rxray: \(message)\n")
    return ExitCode(2)
}

enum FileHandleStderr {
    static func write(_ s: String) {
        var s = s
        s.withUTF8 { _ = fwrite($0.baseAddress, 1, $0.count, stderr) }
        fflush(stderr)
    }
}

extension OutputFormatOption: ExpressibleByArgument {}

/// `--format`.
enum OutputFormatOption: String, CaseIterable {
    case text
    case jsonl
}

/// Where the capture was taken (see DESIGN.md "Capture point").
enum CapturePointOption: String, CaseIterable, ExpressibleByArgument {
    case wire
    case host
    case auto
}

struct HostOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The receiving host: a snapshot directory written by 'rxray snapshot', or a YAML profile.",
        discussion: "Without it, rxray infers a host from the capture and prints what it inferred.",
        valueName: "dir-or-yaml"))
    var host: String?

    @Flag(name: .long, help: "Evaluate rules that use constructs rxray does not model as never matching, instead of refusing to load them.")
    var lenient = false

    @Option(name: .customLong("tcp-app"), help: ArgumentHelp(
        "What the application behind a TCP listener does, which no capture shows: PORT=accept (calls accept()), PORT=noaccept (never does; the default), or PORT=close (accepts and closes at once). PORT may be * for every listener. Repeatable.",
        valueName: "port=mode"))
    var tcpApps: [String] = []

    @Flag(name: .long, help: "Treat TCP segments of unknown connections on listening ports as connections established before the capture began, instead of segments the listener answers with RST.")
    var pickupMidstream = false

    /// The TCP behaviour options for the analyzer, from `--tcp-app` and `--pickup-midstream`.
    func tcpOptions() throws -> TCPOptions {
        var o = TCPOptions(pickUpMidStream: pickupMidstream)
        for spec in tcpApps {
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                throw ValidationError("--tcp-app '\(spec)': expected PORT=accept|noaccept|close (PORT a number or *).")
            }
            let port: UInt16?
            if parts[0] == "*" { port = nil } else if let p = UInt16(parts[0]), p > 0 { port = p } else {
                throw ValidationError("--tcp-app '\(spec)': '\(parts[0])' is not a port number (1-65535) or *.")
            }
            switch parts[1] {
            case "accept":
                if let p = port { o.acceptingPorts[p] = true } else { o.acceptsConnections = true }
            case "noaccept":
                if let p = port { o.acceptingPorts[p] = false } else { o.acceptsConnections = false }
            case "close":
                guard let p = port else { throw ValidationError("--tcp-app '\(spec)': close needs a port number.") }
                o.closingPorts.insert(p)
                o.acceptingPorts[p] = true
            default:
                throw ValidationError("--tcp-app '\(spec)': mode '\(parts[1])' is not accept, noaccept or close.")
            }
        }
        return o
    }
}

struct OutputOptions: ParsableArguments {
    @Option(name: .long, help: "The output format: text (a trace per frame) or jsonl (one JSON object per frame, after a header line; docs/OUTPUT.md).")
    var format: OutputFormatOption = .text

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Write the output to this file instead of standard output.", valueName: "file"))
    var output: String?

    @Flag(name: .shortAndLong, help: "More detail in text output: -v adds the counters each frame moved and the decoder's view (checksums, lengths, TTL).")
    var verbose: Int

    @Flag(name: .shortAndLong, help: "Less detail in text output: only each frame's line and its fate, no stages.")
    var quiet = false

    @Option(name: .long, help: ArgumentHelp(
        "Show only these stages, by kernel symbol or prefix, separated by commas (e.g. nf_hook,tcp_v4_rcv).",
        discussion: "Applies to the text trace and to the stages array in JSON lines; the fate line is always shown.",
        valueName: "list"))
    var stages: String?

    @Flag(name: .long, help: "Print only the summary: frames by fate, drops by reason and stage, replies, counters.")
    var summary = false

    @Flag(name: .long, help: "Print only frames that the kernel would drop.")
    var onlyDrops = false

    @Flag(name: .long, inversion: .prefixedNo, help: "Colour text output (default: only when standard output is a terminal).")
    var color: Bool?

    func validate() throws {
        if quiet && verbose > 0 { throw ValidationError("-q and -v contradict each other: give one of them.") }
        if let s = stages {
            do { _ = try StageSelection(parsing: s) } catch { throw ValidationError("\(error)") }
        }
    }

    /// Text detail: 0 (-q) the frame line and fate, 1 (default) every stage, 2 (-v) counters
    /// and decode detail.
    var verbosityLevel: Int { quiet ? 0 : 1 + min(verbose, 1) }

    /// The parsed --stages list, if given (validated already).
    var stageSelection: StageSelection? { stages.flatMap { try? StageSelection(parsing: $0) } }

    /// The renderer these options describe. `toTerminal`: standard output is a terminal and
    /// no --output was given (colour by default).
    func renderer(toTerminal: Bool) -> FrameRenderer {
        FrameRenderer(format: format == .jsonl ? .jsonl : .text, verbosity: verbosityLevel,
                      color: format == .text && (color ?? toTerminal), stages: stageSelection)
    }
}
