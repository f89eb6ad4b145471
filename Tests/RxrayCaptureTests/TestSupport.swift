import Foundation
import XCTest

@testable import RxrayCapture

/// Paths and small helpers shared by the capture tests.
enum Fixtures {
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let captures = root.appendingPathComponent("Fixtures/captures")

    static func path(_ name: String) -> String { captures.appendingPathComponent(name).path }

    /// A fresh temporary directory, removed by the returned cleanup.
    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-capture-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// A test case with a fresh scratch directory for each test, removed after it.
class ScratchDirectoryTestCase: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        try super.setUpWithError()
        dir = try Fixtures.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
        try super.tearDownWithError()
    }

    /// Writes `bytes` to `name` in the scratch directory and returns its path.
    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }
}

/// One line of a fixture's tshark TSV.
struct ExpectedFrame {
    var number: Int
    var nanoseconds: Int64
    var length: Int
    var captureLength: Int
    var fields: [String: String]

    static func load(_ capture: String) throws -> [ExpectedFrame] {
        let text = try String(contentsOfFile: Fixtures.path(capture + ".tsv"), encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        let header = lines.removeFirst().components(separatedBy: "\t")
        return lines.map { line in
            let values = line.components(separatedBy: "\t")
            var fields: [String: String] = [:]
            for (i, name) in header.enumerated() { fields[name] = i < values.count ? values[i] : "" }
            let time = fields["frame.time_epoch"]!.split(separator: ".")
            let ns = Int64(time[0])! * 1_000_000_000 + Int64(time[1])!
            return ExpectedFrame(
                number: Int(fields["frame.number"]!)!, nanoseconds: ns, length: Int(fields["frame.len"]!)!,
                captureLength: Int(fields["frame.cap_len"]!)!, fields: fields)
        }
    }
}

/// A frame copied out of the reader's buffer.
struct OwnedFrame {
    var index: Int
    var nanoseconds: Int64
    var captureLength: Int
    var wireLength: Int
    var linkType: UInt32
    var interfaceID: Int
    var interfaceName: String?
    var comment: String?
    var direction: FrameDirection
    var bytes: [UInt8]

    init(_ f: CapturedFrame) {
        index = f.index
        nanoseconds = f.timestampNanoseconds
        captureLength = f.captureLength
        wireLength = f.wireLength
        linkType = f.linkType.rawValue
        interfaceID = f.interfaceID
        interfaceName = f.interfaceName
        comment = f.comment
        direction = f.direction
        bytes = Array(f.bytes)
    }
}

/// Reads every frame, returning the frames read and the error that stopped reading, if any.
func readAll(_ path: String, filter: String? = nil) -> (frames: [OwnedFrame], error: CaptureError?) {
    var frames: [OwnedFrame] = []
    do {
        let reader = try CaptureReader(path: path, filter: filter)
        while let frame = try reader.next() { frames.append(OwnedFrame(frame)) }
        return (frames, nil)
    } catch {
        return (frames, error)
    }
}

/// Runs a command, returning its exit status and standard output.
@discardableResult
func runCommand(_ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

func toolExists(_ name: String) -> Bool {
    ["/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/", "/usr/local/bin/"].contains {
        FileManager.default.isExecutableFile(atPath: $0 + name)
    }
}

/// Builds pcapng blocks by hand, in either byte order, for cases no tool writes.
struct PcapngBuilder {
    var bigEndian: Bool
    var bytes: [UInt8] = []

    init(bigEndian: Bool) { self.bigEndian = bigEndian }

    func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xff)] : [UInt8(v & 0xff), UInt8(v >> 8)] }
    func u32(_ v: UInt32) -> [UInt8] {
        let b = [UInt8(v & 0xff), UInt8((v >> 8) & 0xff), UInt8((v >> 16) & 0xff), UInt8(v >> 24)]
        return bigEndian ? b.reversed() : b
    }
    func u64(_ v: UInt64) -> [UInt8] {
        bigEndian ? u32(UInt32(v >> 32)) + u32(UInt32(v & 0xffff_ffff)) : u32(UInt32(v & 0xffff_ffff)) + u32(UInt32(v >> 32))
    }
    func padded(_ b: [UInt8]) -> [UInt8] { b + [UInt8](repeating: 0, count: (4 - b.count % 4) % 4) }
    func option(_ code: UInt16, _ value: [UInt8]) -> [UInt8] { u16(code) + u16(UInt16(value.count)) + padded(value) }
    func options(_ list: [(UInt16, [UInt8])]) -> [UInt8] {
        list.isEmpty ? [] : list.flatMap { option($0.0, $0.1) } + [0, 0, 0, 0]
    }

    mutating func block(_ type: UInt32, _ body: [UInt8]) {
        let length = UInt32(12 + body.count)
        bytes += u32(type) + u32(length) + body + u32(length)
    }

    mutating func section() {
        block(0x0A0D_0D0A, u32(0x1A2B_3C4D) + u16(1) + u16(0) + u64(UInt64.max))
    }

    mutating func interface(linkType: UInt16, snaplen: UInt32 = 0, _ opts: [(UInt16, [UInt8])] = []) {
        block(1, u16(linkType) + u16(0) + u32(snaplen) + options(opts))
    }

    mutating func enhanced(interface: UInt32, timestamp: UInt64, data: [UInt8], wireLength: UInt32? = nil, _ opts: [(UInt16, [UInt8])] = []) {
        block(6, u32(interface) + u32(UInt32(timestamp >> 32)) + u32(UInt32(timestamp & 0xffff_ffff))
            + u32(UInt32(data.count)) + u32(wireLength ?? UInt32(data.count)) + padded(data) + options(opts))
    }

    mutating func simple(data: [UInt8], wireLength: UInt32? = nil) {
        block(3, u32(wireLength ?? UInt32(data.count)) + padded(data))
    }

    mutating func obsoletePacket(interface: UInt16, timestamp: UInt64, data: [UInt8], _ opts: [(UInt16, [UInt8])] = []) {
        block(2, u16(interface) + u16(0) + u32(UInt32(timestamp >> 32)) + u32(UInt32(timestamp & 0xffff_ffff))
            + u32(UInt32(data.count)) + u32(UInt32(data.count)) + padded(data) + options(opts))
    }

    func write(to url: URL) throws { try Data(bytes).write(to: url) }
}
