import RxrayCapture
import RxrayDecode
import RxrayHost
import RxrayStack

/// One analysis of a capture against a host: every frame's outcome, in capture order, and
/// which frames each of the given BPF filters selects.
public struct AnalysisRun {
    public var outcomes: [FrameOutcome]
    /// For each filter passed to `analyze`, the frame numbers it matches (ascending).
    public var matches: [[Int]]
    /// The capture's interfaces (pcapng names), for the verifier.
    public var interfaces: [CaptureInterface]

    /// Analyzes `capturePath` against `host`.
    ///
    /// - Parameters:
    ///   - filters: BPF expressions (tcpdump syntax); an empty string matches every frame.
    ///   - hostPath: the host's path, stripped from stage details (see `FrameOutcome`).
    ///   - timestamps: times (ns) to analyze frames at instead of the capture's, by frame
    ///     number (`rxray verify` analyzes at the times the frames were replayed).
    /// - Throws: `CaptureError` (unreadable capture, bad filter), `InputError` (a ruleset that
    ///   does not compile), or `VerifyInputError`.
    public static func analyze(capturePath: String, host: Host, hostPath: String?,
                               options: Analyzer.Options, filters: [String] = [],
                               timestamps: [Int: Int64]? = nil) throws -> AnalysisRun {
        let reader = try CaptureReader(path: capturePath)
        let linkTypes = reader.interfaces.map(\.linkType)
        var compiled: [BPFFilter?] = []
        for f in filters {
            compiled.append(f.isEmpty ? nil : try BPFFilter(f, linkTypes: linkTypes.isEmpty ? [.ethernet] : linkTypes))
        }
        var matches = [[Int]](repeating: [], count: filters.count)
        var summaries: [Int: String] = [:]
        var outcomes: [FrameOutcome] = []
        // The host's rulesets compiled and its conntrack table loaded, as `rxray analyze` does.
        let analyzer = try Analyzer(host: host, options: options, netfilter: true)
        func emit(_ r: FrameResult) {
            outcomes.append(FrameOutcome(r, summary: summaries.removeValue(forKey: r.frame) ?? "", hostPath: hostPath))
        }
        while let frame = try reader.next() {
            for (i, f) in compiled.enumerated() where try f?.matches(frame) ?? true {
                matches[i].append(frame.index)
            }
            let decoded = FrameDecoder.decode(frame.bytes, linkType: frame.linkType, wireLength: frame.wireLength)
            summaries[frame.index] = decoded.summaryLine(frame.bytes)
            let input = FrameInput(index: frame.index, timestampNs: timestamps?[frame.index] ?? frame.timestampNanoseconds,
                                   bytes: frame.bytes,
                                   linkType: frame.linkType, wireLength: frame.wireLength,
                                   interfaceName: frame.interfaceName,
                                   direction: FrameInput.Direction(rawValue: frame.direction.rawValue) ?? .unknown)
            analyzer.process(input, emit: emit)
        }
        analyzer.finish(emit: emit)
        outcomes.sort { $0.frame < $1.frame }
        return AnalysisRun(outcomes: outcomes, matches: matches, interfaces: reader.interfaces)
    }
}

/// Writes frame-number lists compactly: `1-3, 7, 9-12`.
public enum FrameList {
    public static func ranges(_ frames: [Int], limit: Int = 40) -> String {
        var parts: [String] = []
        var i = 0
        let f = frames.sorted()
        while i < f.count {
            var j = i
            while j + 1 < f.count && f[j + 1] == f[j] + 1 { j += 1 }
            parts.append(i == j ? "\(f[i])" : "\(f[i])-\(f[j])")
            i = j + 1
        }
        if parts.count > limit { return parts.prefix(limit).joined(separator: ", ") + ", ... (\(f.count) frames)" }
        return parts.joined(separator: ", ")
    }
}
