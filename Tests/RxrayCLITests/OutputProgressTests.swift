import Foundation
import XCTest

/// Progress on standard error: only when it is a terminal, erased at the end, never mixed
/// into the results.
final class OutputProgressTests: XCTestCase {
    func testNoProgressWhenStandardErrorIsNotATerminal() throws {
        let r = try CLI.run(["analyze", "Fixtures/captures/multi.pcapng", "--summary"])
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.stderr, "", "a pipe gets no progress")
    }

    func testProgressOnATerminalShowsFramesRateAndPercent() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else {
            throw XCTSkip("script(1) is not installed: no pseudo-terminal to test progress on")
        }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-progress-\(getpid()).txt").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        // script(1) runs the command on a pty; results go to a file, so the pty carries only
        // standard error. Interval 0: draw at every frame, so a small capture shows it.
        let cmd = "RXRAY_PROGRESS_INTERVAL_MS=0 '\(CLI.binary.path)' analyze Fixtures/captures/multi.pcapng -o '\(out)'"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-qec", cmd, "/dev/null"]
        p.currentDirectoryURL = CLI.packageRoot
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let tty = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, tty)
        XCTAssertTrue(tty.contains("rxray: 24 frames, "), "the last update counts every frame: \(tty.debugDescription)")
        XCTAssertTrue(tty.contains(" frames/s, "), tty.debugDescription)
        XCTAssertNotNil(tty.range(of: "frames/s, [0-9]{1,3}%", options: .regularExpression), "percent of the file: \(tty.debugDescription)")
        XCTAssertTrue(tty.hasSuffix("\r\u{1B}[2K"), "the line is erased at the end: \(tty.debugDescription)")
        let results = try String(contentsOfFile: out, encoding: .utf8)
        XCTAssertFalse(results.contains("frames/s"), "progress never reaches the results")
        XCTAssertTrue(results.contains("# summary"))
    }
}
