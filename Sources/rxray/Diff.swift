import ArgumentParser
import Foundation
import RxrayVerify

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Shows every frame whose fate, rule or drop reason differs between two host configurations.",
        discussion: """
            The capture is analysed once against each host. Frames whose outcome differs are \
            grouped by cause (old outcome → new outcome, with the deciding stage and rule), \
            largest group first; for snapshot directories the lines that differ between the two \
            hosts' files follow.

            Exit status: 0 no frame differs, 1 some frames differ, 2 input error.

            Example:
              rxray diff trace.pcapng --host before/ --host after/
            """)

    @Argument(help: ArgumentHelp("The pcap or pcapng file to read.", valueName: "capture"))
    var capture: String

    @Option(name: .long, help: ArgumentHelp("A host (snapshot directory or YAML profile): give it twice, old then new.", valueName: "dir-or-yaml"))
    var host: [String] = []

    @Option(name: .long, help: ArgumentHelp("The host interface that received the frames, when the capture does not name it.", valueName: "name"))
    var interface: String?

    @Option(name: .long, help: ArgumentHelp("Where the capture was taken: wire or host.", valueName: "point"))
    var capturePoint: CapturePointOption = .wire

    @Flag(name: .long, help: "Evaluate rules that use constructs rxray does not model as never matching, instead of refusing to load them.")
    var lenient = false

    @Flag(name: .long, help: "List every differing frame under its group, not only the frame numbers.")
    var frames = false

    func validate() throws {
        guard host.count == 2 else {
            throw ValidationError("give exactly two hosts, old then new: --host OLD --host NEW (got \(host.count)).")
        }
    }

    func run() throws {
        let (oldPath, newPath) = (host[0], host[1])
        let point = capturePoint == .host ? "host" : "wire"
        let oldHost = try CheckPipeline.loadHost(oldPath, lenient: lenient)
        let newHost = try CheckPipeline.loadHost(newPath, lenient: lenient)
        let a = try CheckPipeline.analyze(capture: capture, host: oldHost, hostPath: oldPath, capturePoint: point, interface: interface)
        let b = try CheckPipeline.analyze(capture: capture, host: newHost, hostPath: newPath, capturePoint: point, interface: interface)
        let groups = ConfigDiff.groups(old: a.outcomes, new: b.outcomes)
        let changed = groups.reduce(0) { $0 + $1.frames.count }
        print("# rxray diff \(capture): old \(oldPath), new \(newPath)")
        if changed == 0 {
            print("no frame differs: all \(b.outcomes.count) frames have the same fate, drop reason, replies and deciding rules")
            return
        }
        print("\(changed) of \(b.outcomes.count) frames differ, in \(groups.count) group\(groups.count == 1 ? "" : "s")")
        let byFrame = Dictionary(b.outcomes.map { ($0.frame, $0) }, uniquingKeysWith: { x, _ in x })
        for g in groups {
            print("")
            print("\(g.frames.count) frame\(g.frames.count == 1 ? "" : "s"): \(g.old) → \(g.new)")
            for c in g.otherChanges { print("  \(c)") }
            if g.otherChanges.isEmpty {
                if let d = g.oldDecision, !g.old.contains("(") { print("  was: \(d)") }
                if let d = g.newDecision, !g.new.contains("(") { print("  now: \(d)") }
            }
            if g.frames.count == 1 {
                print("  frame \(g.frames[0]): \(g.example)")
            } else {
                print("  frames \(FrameList.ranges(g.frames))")
                if frames {
                    for f in g.frames { print("    \(f): \(byFrame[f]?.summary ?? "")") }
                } else if !g.example.isEmpty {
                    print("  e.g. frame \(g.frames[0]): \(g.example)")
                }
            }
        }
        let hostLines = ConfigDiff.hostDifferences(old: oldPath, new: newPath)
        if !hostLines.isEmpty {
            print("")
            print("host differences (old → new):")
            for l in hostLines { print("  \(l)") }
        }
        throw ExitCode(1)
    }
}
