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
    /// With `timerRepliesInWindows`: what timers sent between frames (not in any outcome yet;
    /// `TimerReply.place` puts them into the windows where the kernel sent them).
    public var timerReplies: [TimerReply] = []
    /// The time each frame was analyzed at (ns), by frame number.
    public var frameTimes: [Int: Int64] = [:]

    /// Analyzes `capturePath` against `host`.
    ///
    /// - Parameters:
    ///   - filters: BPF expressions (tcpdump syntax); an empty string matches every frame.
    ///   - hostPath: the host's path, stripped from stage details (see `FrameOutcome`).
    ///   - timestamps: times (ns) to analyze frames at instead of the capture's, by frame
    ///     number (`rxray verify` analyzes at the times the frames were replayed).
    ///   - timerRepliesInWindows: `rxray verify`: what timers send between frames (SYN-ACK
    ///     retransmissions) is added to the replies of the frame before it — the frame whose
    ///     observation window is open when the kernel sends it. Timers that fire only after the
    ///     last frame are left out (no window observes them). Otherwise timer events are not
    ///     part of any frame's outcome.
    /// - Throws: `CaptureError` (unreadable capture, bad filter), `InputError` (a ruleset that
    ///   does not compile), or `VerifyInputError`.
    public static func analyze(capturePath: String, host: Host, hostPath: String?,
                               options: Analyzer.Options, filters: [String] = [],
                               timestamps: [Int: Int64]? = nil, timerRepliesInWindows: Bool = false) throws -> AnalysisRun {
        let reader = try CaptureReader(path: capturePath)
        let linkTypes = reader.interfaces.map(\.linkType)
        var compiled: [BPFFilter?] = []
        for f in filters {
            compiled.append(f.isEmpty ? nil : try BPFFilter(f, linkTypes: linkTypes.isEmpty ? [.ethernet] : linkTypes))
        }
        var matches = [[Int]](repeating: [], count: filters.count)
        var summaries: [Int: String] = [:]
        var outcomes: [FrameOutcome] = []
        var timerReplies: [TimerReply] = []
        var frameTimes: [Int: Int64] = [:]
        // The host's rulesets compiled and its conntrack table loaded, as `rxray analyze` does.
        var options = options
        options.timerEvents = timerRepliesInWindows
        let analyzer = try Analyzer(host: host, options: options, netfilter: true)
        func emit(_ r: FrameResult) {
            if let t = r.timer {
                if !t.endOfInput, let last = outcomes.last?.frame {
                    for rep in r.replies {
                        timerReplies.append(TimerReply(after: last, time: t.time, latest: t.time &+ t.wheelSlackNs,
                                                       reply: FrameOutcome.describe(rep)))
                    }
                }
                return
            }
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
            frameTimes[frame.index] = input.timestampNs
            analyzer.process(input, emit: emit)
        }
        analyzer.finish(emit: emit)
        outcomes.sort { $0.frame < $1.frame }
        var run = AnalysisRun(outcomes: outcomes, matches: matches, interfaces: reader.interfaces)
        run.timerReplies = timerReplies
        run.frameTimes = frameTimes
        return run
    }
}

/// A reply a timer sent between frames (a SYN-ACK retransmission), for `rxray verify`.
public struct TimerReply: Equatable, Sendable {
    /// The frame before the timer fired: the window open when it fired on time.
    public var after: Int
    /// When rxray fired it, and the latest the kernel's timer wheel may fire it (ns).
    public var time: Int64
    public var latest: Int64
    /// The reply as `FrameOutcome` describes it (`tcp_synack on eth0`).
    public var reply: String

    public init(after: Int, time: Int64, latest: Int64, reply: String) {
        self.after = after; self.time = time; self.latest = latest; self.reply = reply
    }

    /// Adds each timer reply to the replies of one frame's outcome: the first frame from
    /// `after` on whose window opened by `latest` (its time in `frameTimes`) and where the
    /// kernel sent more such replies than the outcome has so far; `after` when there is none
    /// (the kernel sent it nowhere it could have: a disagreement there).
    /// - Parameter kernelReplies: the kernel's reply keys per frame (`KernelVerdict.replies`).
    public static func place(_ timers: [TimerReply], into outcomes: inout [FrameOutcome], frameTimes: [Int: Int64],
                             kernelReplies: [Int: [String]]) {
        guard !timers.isEmpty else { return }
        var index: [Int: Int] = [:]
        for (i, o) in outcomes.enumerated() { index[o.frame] = i }
        let order = outcomes.map(\.frame)
        var position: [Int: Int] = [:]
        for (i, f) in order.enumerated() { position[f] = i }
        for t in timers.sorted(by: { $0.time < $1.time }) {
            guard let start = position[t.after] else { continue }
            let key = KernelVerdict.replyKeys(of: FrameOutcome(frame: 0, fate: "", replies: [t.reply])).first ?? t.reply
            var chosen = t.after
            var p = start
            while p < order.count {
                let f = order[p]
                if p > start, let ft = frameTimes[f], ft > t.latest { break }
                let want = kernelReplies[f]?.filter { $0 == key }.count ?? 0
                let have = index[f].map { KernelVerdict.replyKeys(of: outcomes[$0]).filter { $0 == key }.count } ?? 0
                if want > have { chosen = f; break }
                p += 1
            }
            if let i = index[chosen] { outcomes[i].replies.append(t.reply) }
        }
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
