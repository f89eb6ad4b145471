import ArgumentParser
import Foundation
import RxrayCapture
import RxrayOutput
import RxrayVerify

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replays a capture into a namespace built from the host snapshot and compares rxray with the real kernel.",
        discussion: """
            Needs root. rxray builds a device-under-test network namespace from the host \
            (interfaces as veths with the snapshot's names, MACs and MTUs; addresses, routes, \
            rules, neighbours, sysctls; the ruleset via iptables-restore and nft -f; listeners \
            bound, never accepting), injects the capture's frames one at a time on their \
            interface from a peer namespace, records the kernel's drop reasons (bpftrace on \
            skb:kfree_skb, attributed to the namespace) and the frames it sends, and compares \
            each frame with rxray's analysis: fate, drop reason, replies and egress. The \
            namespaces are uniquely named and always deleted; nothing leaves them.

            The replay takes a window per frame, so it stretches the capture's time: by \
            default (--clock replay) rxray analyzes each frame at the time it was injected, so \
            rate limits, reassembly timeouts and conntrack timers run on the clock the kernel \
            saw, against the host as reproduced (its neighbours are permanent there). --clock \
            capture analyzes the snapshot at the capture's own timestamps.

            Exit status: 0 every frame agrees, 1 some disagree, 2 usage or input error, or no \
            root/namespaces.

            Example:
              sudo rxray verify trace.pcapng --host snapshot/
            """)

    @Argument(help: ArgumentHelp("The pcap or pcapng file to replay (Ethernet frames).", valueName: "capture"))
    var capture: String

    @Option(name: .long, help: ArgumentHelp("The host interface that received frames the capture does not attribute.", valueName: "name"))
    var interface: String?

    @Flag(name: .long, help: "Print one JSON object per frame and a final score object.")
    var json = false

    enum Clock: String, ExpressibleByArgument, CaseIterable { case replay, capture }

    @Option(name: .long, help: ArgumentHelp("The times rxray analyzes frames at: replay (when each was injected) or capture (the capture's timestamps).", valueName: "clock"))
    var clock: Clock = .replay

    @Option(name: .long, help: ArgumentHelp("Observation window per frame in milliseconds (at least this long, then 30 ms of quiet).", valueName: "ms"))
    var windowMs: Double = 50

    @Option(name: .long, help: ArgumentHelp("How many disagreements to explain after the table.", valueName: "n"))
    var explain: Int = 5

    @OptionGroup(title: "Host") var hostOptions: HostOptions

    func validate() throws {
        if hostOptions.host == nil { throw ValidationError("--host DIR-OR-YAML is required: verify builds that host in a namespace.") }
        if windowMs < 10 || windowMs > 3000 { throw ValidationError("--window-ms must be between 10 and 3000, not \(windowMs).") }
    }

    func run() throws {
        let hostPath = hostOptions.host!
        let host = try CheckPipeline.loadHost(hostPath, lenient: hostOptions.lenient)
        // Analyzed first at the capture's times: a bad capture or ruleset is reported before
        // any namespace is built.
        var analysis = try CheckPipeline.analyze(capture: capture, host: host, hostPath: hostPath,
                                                 capturePoint: "wire", interface: interface, timerRepliesInWindows: true)
        if let why = LiveRequirements.missing() { throw fail(why) }

        LiveCleanup.installSignalHandlers()
        let verifier = LiveVerifier()
        verifier.timing.windowMs = windowMs
        let live: (observations: [KernelObservation], injected: [Int: [UInt8]])
        do {
            live = try verifier.run(capturePath: capture, host: host, defaultInterface: interface)
        } catch let e as VerifyEnvironmentError {
            LiveCleanup.teardownAll()
            throw fail("verify: \(e.description)")
        } catch {
            LiveCleanup.teardownAll()
            throw fail("verify: \(error)")
        }
        if clock == .replay, let origin = try? CaptureReader(path: capture).next()?.timestampNanoseconds {
            analysis = try CheckPipeline.analyze(capture: capture, host: verifier.topology.reproduced(host), hostPath: hostPath,
                                                 capturePoint: "wire", interface: interface,
                                                 timestamps: verifier.replayTimestamps(origin: origin),
                                                 timerRepliesInWindows: true)
        }
        let verdicts = KernelVerdict.verdicts(live.observations, injected: live.injected)
        // SYN-ACKs the request timers sent go to the window where the kernel sent them (within
        // its timer wheel's slack after rxray's exact time).
        var kernelReplies: [Int: [String]] = [:]
        for o in live.observations {
            kernelReplies[o.frame] = (verdicts[o.frame] ?? KernelVerdict(o, injected: live.injected[o.frame] ?? [])).replies
        }
        TimerReply.place(analysis.timerReplies, into: &analysis.outcomes, frameTimes: analysis.frameTimes, kernelReplies: kernelReplies)
        let ours = Dictionary(analysis.outcomes.map { ($0.frame, $0) }, uniquingKeysWith: { a, _ in a })
        struct Row { var obs: KernelObservation; var kernel: KernelVerdict; var rxray: FrameOutcome?; var problems: [String] }
        var rows: [Row] = []
        for o in live.observations {
            let k = verdicts[o.frame] ?? KernelVerdict(o, injected: live.injected[o.frame] ?? [])
            let r = ours[o.frame]
            rows.append(Row(obs: o, kernel: k, rxray: r, problems: r.map { k.disagreements(with: $0) } ?? ["rxray produced no result"]))
        }
        let agreed = rows.filter { $0.problems.isEmpty }.count
        let total = rows.count
        let pct = total == 0 ? 100.0 : Double(agreed) * 100 / Double(total)
        let pctText = String(format: "%.1f", pct)

        if json {
            var header = JSONObjectBuilder()
            header.string("rxray_verify", RxrayVersion.string)
            header.string("capture", capture)
            header.string("host", hostPath)
            header.string("clock", clock.rawValue)
            header.raw("notes", "[" + verifier.notes.map(JSON.quoted).joined(separator: ",") + "]")
            print(header.close())
            for r in rows {
                var b = JSONObjectBuilder()
                b.int("frame", r.obs.frame)
                b.string("ingress", r.obs.ingress)
                var k = JSONObjectBuilder()
                k.string("fate", r.kernel.fate)
                if let d = r.kernel.drop { k.string("drop_reason", d.reason); k.string("drop_location", d.location) }
                k.raw("drops", "[" + r.obs.drops.map { JSON.quoted("\($0.reason)@\($0.location)") }.joined(separator: ",") + "]")
                k.raw("replies", "[" + r.kernel.replies.map(JSON.quoted).joined(separator: ",") + "]")
                k.raw("egress", "[" + r.kernel.egress.map(JSON.quoted).joined(separator: ",") + "]")
                b.raw("kernel", k.close())
                if let o = r.rxray { b.raw("rxray", o.jsonLine()) }
                b.bool("agree", r.problems.isEmpty)
                b.raw("problems", "[" + r.problems.map(JSON.quoted).joined(separator: ",") + "]")
                print(b.close())
            }
            var s = JSONObjectBuilder()
            s.int("agree", agreed)
            s.int("frames", total)
            s.raw("percent", pctText)
            var wrap = JSONObjectBuilder()
            wrap.raw("score", s.close())
            print(wrap.close())
        } else {
            print("# rxray verify \(capture) --host \(hostPath): \(total) frames replayed into a namespace built from the host")
            print(clock == .replay ? "# rxray analyzed each frame at the time it was injected (--clock replay)"
                                   : "# rxray analyzed the frames at the capture's timestamps (--clock capture)")
            for n in verifier.notes { print("# note: \(n)") }
            let kw = max(6, rows.map { $0.kernel.phrase.count }.max() ?? 0)
            let rw = max(5, rows.map { $0.rxray.map(Self.rxrayPhrase) ?? "" }.map(\.count).max() ?? 0)
            func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
            print("frame  \(pad("ingress", 8))  \(pad("kernel", kw))  \(pad("rxray", rw))  agree")
            for r in rows {
                print("\(pad(String(r.obs.frame), 5))  \(pad(r.obs.ingress, 8))  \(pad(r.kernel.phrase, kw))  \(pad(r.rxray.map(Self.rxrayPhrase) ?? "-", rw))  \(r.problems.isEmpty ? "yes" : "NO")")
            }
            print("score: \(agreed)/\(total) frames agree (\(pctText)%)")
            let bad = rows.filter { !$0.problems.isEmpty }
            if !bad.isEmpty && explain > 0 {
                print("")
                print("first disagreements:")
                for r in bad.prefix(explain) {
                    print("frame \(r.obs.frame)  \(r.rxray?.summary ?? "")")
                    for p in r.problems { print("  \(p)") }
                    if !r.obs.drops.isEmpty { print("  kernel drop events: \(r.obs.drops.map { "\($0.reason)@\($0.location)" }.joined(separator: ", "))") }
                    if let o = r.rxray {
                        if let d = o.decision { print("  rxray decided at \(d)") }
                        for rule in o.rules { print("    \(rule)") }
                    }
                }
            }
        }
        if agreed != total { throw ExitCode(1) }
    }

    static func rxrayPhrase(_ o: FrameOutcome) -> String {
        var s = o.fate
        if let r = o.dropReason { s += " \(r)@\(o.dropStage ?? "-")" }
        if let e = o.egress { s += " via \(e)" }
        let keys = KernelVerdict.replyKeys(of: o)
        if !keys.isEmpty { s += " +" + keys.joined(separator: ",") }
        return s
    }
}
