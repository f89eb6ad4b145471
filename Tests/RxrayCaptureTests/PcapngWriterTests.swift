import Foundation
import RxrayDecode
import XCTest

@testable import RxrayCapture

final class PcapngWriterTests: ScratchDirectoryTestCase {
    /// Copies every frame of multi.pcapng (three link types) into a new file with comments.
    private func writeCopy() throws -> (path: String, original: [OwnedFrame]) {
        let path = dir.appendingPathComponent("copy.pcapng").path
        let reader = try CaptureReader(path: Fixtures.path("multi.pcapng"))
        let writer = try PcapngWriter(path: path)
        for interface in reader.interfaces {
            let id = try writer.addInterface(linkType: interface.linkType, snaplen: interface.snaplen, name: interface.name, description: "copy of \(interface.id)")
            XCTAssertEqual(id, interface.id)
        }
        var original: [OwnedFrame] = []
        while let frame = try reader.next() {
            original.append(OwnedFrame(frame))
            let comment: String? = frame.index % 3 == 0 ? "frame \(frame.index): dropped — NO_SOCKET ✓" : nil
            try writer.write(frame, interfaceID: frame.interfaceID, comment: comment)
        }
        try writer.close()
        return (path, original)
    }

    func testWriterRoundTripsThroughTheReader() throws {
        let (path, original) = try writeCopy()
        let reader = try CaptureReader(path: path)
        XCTAssertEqual(reader.interfaces.map(\.name), ["eth0", "any", "tun0"])
        XCTAssertEqual(reader.interfaces.map(\.linkType), [.ethernet, .linuxSLL2, .raw])
        XCTAssertEqual(reader.interfaces.map(\.description), ["copy of 0", "copy of 1", "copy of 2"])
        var copy: [OwnedFrame] = []
        while let f = try reader.next() { copy.append(OwnedFrame(f)) }
        XCTAssertEqual(copy.count, original.count)
        for (a, b) in zip(copy, original) {
            XCTAssertEqual(a.bytes, b.bytes)
            XCTAssertEqual(a.nanoseconds, b.nanoseconds)
            XCTAssertEqual(a.wireLength, b.wireLength)
            XCTAssertEqual(a.interfaceID, b.interfaceID)
            XCTAssertEqual(a.comment, a.index % 3 == 0 ? "frame \(a.index): dropped — NO_SOCKET ✓" : nil)
        }
    }

    func testTsharkReadsTheWrittenCommentsAndTimestamps() throws {
        guard toolExists("tshark") else { throw XCTSkip("tshark is not installed: cannot check the writer against Wireshark") }
        let (path, original) = try writeCopy()
        let result = try runCommand(["tshark", "-n", "-r", path, "-T", "fields", "-E", "separator=/t",
                              "-e", "frame.number", "-e", "frame.time_epoch", "-e", "frame.interface_name", "-e", "frame.comment"])
        XCTAssertEqual(result.status, 0, result.error)
        let lines = result.output.split(separator: "\n").map { $0.components(separatedBy: "\t") }
        XCTAssertEqual(lines.count, original.count)
        for (line, frame) in zip(lines, original) {
            XCTAssertEqual(line[0], "\(frame.index)")
            let ns = frame.nanoseconds
            let time = "\(ns / 1_000_000_000)." + String(String(ns % 1_000_000_000).reversed()).padding(toLength: 9, withPad: "0", startingAt: 0).reversed()
            XCTAssertEqual(line[1], String(time))
            XCTAssertEqual(line[2], frame.interfaceName)
            XCTAssertEqual(line[3], frame.index % 3 == 0 ? "frame \(frame.index): dropped — NO_SOCKET ✓" : "")
        }
    }

    func testDirectionAndWireLengthAreWritten() throws {
        let path = dir.appendingPathComponent("dir.pcapng").path
        let writer = try PcapngWriter(path: path)
        let id = try writer.addInterface(linkType: .ethernet, snaplen: 64, name: "eth9")
        let bytes: [UInt8] = Array(0 ..< 61)
        try bytes.withUnsafeBytes { raw in
            try writer.write(interfaceID: id, timestampNanoseconds: 1_234_567_890_123_456_789, bytes: raw, wireLength: 1500, direction: .inbound)
            try writer.write(interfaceID: id, timestampNanoseconds: -5, bytes: UnsafeRawBufferPointer(rebasing: raw[0 ..< 0]), direction: .outbound)
        }
        try writer.flush()
        try writer.close()
        try writer.close()  // idempotent
        XCTAssertThrowsError(try writer.addInterface(linkType: .raw))
        let frames = readAll(path).frames
        XCTAssertEqual(frames.count, 2)
        XCTAssertEqual(frames[0].bytes, bytes)
        XCTAssertEqual(frames[0].wireLength, 1500)
        XCTAssertEqual(frames[0].direction, .inbound)
        XCTAssertEqual(frames[0].nanoseconds, 1_234_567_890_123_456_789)
        XCTAssertEqual(frames[1].captureLength, 0)
        XCTAssertEqual(frames[1].direction, .outbound)
        XCTAssertEqual(frames[1].nanoseconds, 0)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        XCTAssertEqual(size % 4, 0)
    }

    func testLongCommentIsCutAtACharacterBoundary() throws {
        let path = dir.appendingPathComponent("long.pcapng").path
        let writer = try PcapngWriter(path: path)
        let id = try writer.addInterface(linkType: .raw)
        let comment = String(repeating: "é", count: 40_000)  // 80,000 UTF-8 bytes
        try [0x45 as UInt8].withUnsafeBytes { try writer.write(interfaceID: id, timestampNanoseconds: 0, bytes: $0, comment: comment) }
        try writer.close()
        let frame = try XCTUnwrap(readAll(path).frames.first)
        XCTAssertEqual(frame.comment?.utf8.count, 65_534)
        XCTAssertEqual(frame.comment, String(repeating: "é", count: 32_767))
    }

    func testUnwritablePathIsAWriteError() {
        XCTAssertThrowsError(try PcapngWriter(path: dir.appendingPathComponent("no/such/dir.pcapng").path)) { error in
            guard case CaptureError.writeFailed(_, let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("No such file"), message)
        }
    }

    func testManyFramesFlushAcrossTheBuffer() throws {
        let path = dir.appendingPathComponent("many.pcapng").path
        let writer = try PcapngWriter(path: path)
        let id = try writer.addInterface(linkType: .ethernet)
        let frame = [UInt8](repeating: 0xab, count: 1514)
        for i in 0 ..< 500 {
            try frame.withUnsafeBytes { try writer.write(interfaceID: id, timestampNanoseconds: Int64(i), bytes: $0) }
        }
        try writer.close()
        let frames = readAll(path).frames
        XCTAssertEqual(frames.count, 500)
        XCTAssertEqual(frames.last?.nanoseconds, 499)
        XCTAssertTrue(frames.allSatisfy { $0.bytes == frame })
    }
}
