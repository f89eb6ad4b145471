import ArgumentParser
import Foundation
import RxrayCapture
import RxrayDecode
import RxrayHost
import RxrayRules
import RxrayStack
import RxrayVerify

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-analyses a saved case against its expectation, or checks a capture against stated expectations.",
        discussion: """
            With a case directory (capture.pcap or capture.pcapng, host/ or host.yaml, \
            expected.jsonl), rxray analyses the capture again and compares every frame's \
            outcome with the saved one: fate, drop reason and stage, egress, replies and the \
            deciding stage and rules. Any change is printed frame by frame (exit 1); --update \
            rewrites expected.jsonl instead.

            With --expect FILE, the argument is a capture and FILE states what must happen to \
            the frames each BPF filter selects, one `FILTER → OUTCOME` per line (docs/CHECK.md). \
            Each expectation is printed with PASS or FAIL and the frames that violate it.

            Exit status: 0 all equal or all passed, 1 something changed or failed, 2 input error.

            Examples:
              rxray check cases/ssh-lockdown
              rxray check cases/ssh-lockdown --update
              rxray check --expect firewall.expect trace.pcapng --host snapshot/
            """)

    @Argument(help: ArgumentHelp("A case directory, or with --expect the capture to check.", valueName: "dir-or-capture"))
    var target: String

    @Option(name: .long, help: ArgumentHelp("An expectations file: one `FILTER → OUTCOME` per line.", valueName: "file"))
    var expect: String?

    @Flag(name: .long, help: "Rewrite the case's expected.jsonl with the current analysis.")
    var update = false

    @Flag(name: .long, help: "With --expect: an expectation whose filter selects no frame passes (by default it fails).")
    var allowUnmatched = false

    @Option(name: .long, help: ArgumentHelp("The host interface that received the frames, when the capture does not name it.", valueName: "name"))
    var interface: String?

    @Option(name: .long, help: ArgumentHelp("Where the capture was taken: wire or host (default: the saved case's, else wire).", valueName: "point"))
    var capturePoint: CapturePointOption?

    @OptionGroup(title: "Host") var hostOptions: HostOptions

    func validate() throws {
        if expect != nil && update {
            throw ValidationError("--update rewrites a case's expected.jsonl; it cannot be combined with --expect.")
        }
        if expect == nil && hostOptions.host != nil {
            throw ValidationError("--host is for --expect; a case directory holds its own host/ or host.yaml.")
        }
        if expect != nil && hostOptions.host == nil {
            throw ValidationError("--expect needs --host DIR-OR-YAML: the host the capture is checked against.")
        }
    }

    func run() throws {
        if let e = expect { try runExpectations(e) } else { try runCase() }
    }

    // MARK: Saved case

    func runCase() throws {
        let dir = target.hasSuffix("/") && target.count > 1 ? String(target.dropLast()) : target
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw fail("\(dir): not a case directory (expected capture.pcapng or capture.pcap, host/ or host.yaml, expected.jsonl)")
        }
        guard let capture = ["capture.pcapng", "capture.pcap"].map({ dir + "/" + $0 }).first(where: { fm.fileExists(atPath: $0) }) else {
            throw fail("\(dir): no capture.pcapng or capture.pcap in the case directory")
        }
        guard let hostPath = ["host", "host.yaml", "host.yml"].map({ dir + "/" + $0 }).first(where: { fm.fileExists(atPath: $0) }) else {
            throw fail("\(dir): no host/ snapshot directory or host.yaml profile in the case directory")
        }
        let expectedPath = dir + "/expected.jsonl"
        var saved: ExpectedFile?
        if fm.fileExists(atPath: expectedPath) {
            guard let text = try? String(contentsOfFile: expectedPath, encoding: .utf8) else {
                throw fail("\(expectedPath): cannot read the file as UTF-8 text")
            }
            do { saved = try ExpectedFile.parse(text, file: expectedPath) } catch let e as VerifyInputError {
                if !update { throw fail(e.description) }
            }
        } else if !update {
            throw fail("\(expectedPath): no saved expectation; record one with: rxray check \(target) --update")
        }
        let point = capturePoint.map { $0 == .host ? "host" : "wire" } ?? saved?.capturePoint ?? "wire"
        let iface = interface ?? saved?.interface
        let host = try CheckPipeline.loadHost(hostPath, lenient: hostOptions.lenient)
        let run = try CheckPipeline.analyze(capture: capture, host: host, hostPath: hostPath,
                                            capturePoint: point, interface: iface)
        let current = ExpectedFile(capturePoint: point, interface: iface, outcomes: run.outcomes)
        if update {
            do { try current.text().write(toFile: expectedPath, atomically: true, encoding: .utf8) } catch {
                throw fail("\(expectedPath): cannot write: \(error.localizedDescription)")
            }
            let changed = saved.map { OutcomeComparison.changes(old: $0.outcomes, new: run.outcomes).count }
            print("\(expectedPath): recorded \(run.outcomes.count) frames" + (changed.map { $0 == 0 ? " (unchanged)" : " (\($0) changed)" } ?? ""))
            return
        }
        let changes = OutcomeComparison.changes(old: saved!.outcomes, new: run.outcomes)
        if changes.isEmpty {
            print("\(dir): \(run.outcomes.count) frames, all as expected")
            return
        }
        print("\(dir): \(changes.count) of \(max(run.outcomes.count, saved!.outcomes.count)) frames changed (expected → now)")
        print(OutcomeComparison.render(changes), terminator: "")
        print("accept the new results with: rxray check \(target) --update")
        throw ExitCode(1)
    }

    // MARK: Expectations

    func runExpectations(_ path: String) throws {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw fail(FileManager.default.fileExists(atPath: path) ? "\(path): cannot read the file as UTF-8 text" : "\(path): no such file")
        }
        let file: ExpectationsFile
        do { file = try ExpectationsFile.parse(text, file: path) } catch let e as VerifyInputError { throw fail(e.description) }
        let host = try CheckPipeline.loadHost(hostOptions.host!, lenient: hostOptions.lenient)
        let run: AnalysisRun
        do {
            run = try CheckPipeline.analyze(capture: target, host: host, hostPath: hostOptions.host!,
                                            capturePoint: capturePoint == .host ? "host" : "wire", interface: interface,
                                            filters: file.expectations.map(\.filter))
        } catch let e as CheckFilterError {
            let ex = file.expectations[e.index]
            throw fail("\(path):\(ex.line): bad filter `\(ex.filter)`: \(e.message)")
        }
        let results = ExpectationEvaluator.evaluate(file, run: run)
        var failed = 0
        for r in results {
            let e = r.expectation
            let ok = r.violations.isEmpty && (!r.matched.isEmpty || allowUnmatched)
            if !ok { failed += 1 }
            let filterText = e.filter.isEmpty ? "*" : e.filter
            let count = r.matched.isEmpty ? "no frames matched" : r.violations.isEmpty
                ? "\(r.matched.count) frame\(r.matched.count == 1 ? "" : "s")"
                : "\(r.violations.count) of \(r.matched.count) frames violate it"
            print("\(ok ? "PASS" : "FAIL")  \(path):\(e.line)  \(filterText) → \(e.outcomeText)  (\(count))")
            for (i, v) in r.violations.enumerated() {
                if i == 10 { print("      ... \(r.violations.count - 10) more: frames \(FrameList.ranges(r.violations.dropFirst(10).map(\.outcome.frame)))"); break }
                let o = v.outcome
                print("      frame \(o.frame): \(v.problem); was \(o.phrase)  \(o.summary)")
                if let d = o.decision { print("        decided by \(d)") }
                for rule in o.rules where rule != o.decision { print("        \(rule)") }
                if !o.replies.isEmpty { print("        replies: \(o.replies.joined(separator: "; "))") }
            }
        }
        print("\(results.count - failed) of \(results.count) expectations passed")
        if failed > 0 { throw ExitCode(1) }
    }
}

/// An expectation's BPF filter did not compile.
struct CheckFilterError: Error {
    var index: Int
    var message: String
}

/// Loading and analysing for check, diff and verify, on the libraries' public APIs.
enum CheckPipeline {
    static func loadHost(_ path: String, lenient: Bool) throws -> RxrayHost.Host {
        do {
            return try HostLoader.load(path: path, lenient: lenient)
        } catch let e as InputError {
            throw fail(e.description)
        } catch let e as UnsupportedRulesError {
            throw fail(e.description)
        } catch {
            throw fail("\(path): \(error)")
        }
    }

    static func analyze(capture: String, host: RxrayHost.Host, hostPath: String, capturePoint: String, interface: String?,
                        filters: [String] = [], timestamps: [Int: Int64]? = nil,
                        timerRepliesInWindows: Bool = false) throws -> AnalysisRun {
        // Compile the filters one by one first, so a bad one is named.
        if !filters.isEmpty {
            let linkTypes: [LinkType]
            do { linkTypes = try CaptureReader(path: capture).interfaces.map(\.linkType) } catch {
                throw fail(error.description)
            }
            for (i, f) in filters.enumerated() where !f.isEmpty {
                do { _ = try BPFFilter(f, linkTypes: linkTypes.isEmpty ? [.ethernet] : linkTypes) } catch {
                    throw CheckFilterError(index: i, message: error.description)
                }
            }
        }
        let options = Analyzer.Options(capturePoint: capturePoint == "host" ? .host : .wire,
                                       defaultInterface: interface, wantsDetail: true)
        do {
            return try AnalysisRun.analyze(capturePath: capture, host: host, hostPath: hostPath,
                                           options: options, filters: filters, timestamps: timestamps,
                                           timerRepliesInWindows: timerRepliesInWindows)
        } catch let e as CaptureError {
            throw fail(e.description)
        } catch let e as VerifyInputError {
            throw fail(e.description)
        } catch let e as InputError {
            throw fail(e.description)
        } catch let e as UnsupportedRulesError {
            throw fail(e.description)
        }
    }
}
