import ArgumentParser
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
}

struct OutputOptions: ParsableArguments {
    @Option(name: .long, help: "The output format: text (a trace per frame) or jsonl (one JSON object per frame, after a header line).")
    var format: OutputFormatOption = .text

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Write the output to this file instead of standard output.", valueName: "file"))
    var output: String?

    @Flag(name: .shortAndLong, help: "More detail in text output: repeat (-vv) to add counters.")
    var verbose: Int

    @Flag(name: .long, help: "Print only the summary: frames by fate, drops by reason, counters.")
    var summary = false

    @Flag(name: .long, help: "Print only frames that the kernel would drop.")
    var onlyDrops = false

    @Flag(name: .long, inversion: .prefixedNo, help: "Colour text output (default: only when standard output is a terminal).")
    var color: Bool?
}
