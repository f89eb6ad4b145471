import Foundation
import XCTest
import RxrayCapture
@testable import RxrayStack

/// One scenario recorded from the kernel under Fixtures/scenarios: its directory and the
/// files the fixture tests read from it.
struct RecordedScenario {
    let name: String
    let dir: URL
    var truth: URL { dir.appendingPathComponent("truth.jsonl") }
    var capture: URL { dir.appendingPathComponent("capture.pcapng") }
    var host: URL { dir.appendingPathComponent("host") }
    /// setup.sh, or "" when there is none.
    var setup: String { (try? String(contentsOf: dir.appendingPathComponent("setup.sh"), encoding: .utf8)) ?? "" }
    /// Whether both the kernel's truth and the capture were recorded.
    var isRecorded: Bool {
        FileManager.default.fileExists(atPath: truth.path) && FileManager.default.fileExists(atPath: capture.path)
    }
    var hasHost: Bool { FileManager.default.fileExists(atPath: host.path) }
    /// Whether the capture's timestamps are the kernel's own clock (`TIMING = "paced"`), so
    /// timers the kernel fired between frames happened when rxray fires them. With synthetic
    /// timestamps (a window a second) the kernel's timers ran on the recording's real time.
    var isPaced: Bool {
        guard let d = try? Data(contentsOf: dir.appendingPathComponent("scenario.json")),
              let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any],
              let rec = o["recording"] as? [String: Any], let ts = rec["capture_timestamps"] as? String else { return false }
        return ts.hasPrefix("paced")
    }

    /// Every scenario directory, sorted by name; the calling test is skipped when the
    /// fixtures are not there.
    static func all() throws -> [RecordedScenario] {
        let dir = FixtureScenarioTests.root.appendingPathComponent("Fixtures/scenarios")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir.path) else {
            throw XCTSkip("no Fixtures/scenarios directory")
        }
        return names.sorted().map { RecordedScenario(name: $0, dir: dir.appendingPathComponent($0)) }
    }
}

extension FrameInput {
    /// The analyzer's input for a frame read from a capture file.
    init(recorded f: CapturedFrame) {
        self.init(index: f.index, timestampNs: f.timestampNanoseconds, bytes: f.bytes, linkType: f.linkType,
                  wireLength: f.wireLength, interfaceName: f.interfaceName,
                  direction: f.direction == .outbound ? .outbound : f.direction == .inbound ? .inbound : .unknown)
    }
}
