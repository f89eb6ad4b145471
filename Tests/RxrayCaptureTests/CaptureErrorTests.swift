import Foundation
import RxrayDecode
import XCTest

@testable import RxrayCapture

final class CaptureErrorTests: ScratchDirectoryTestCase {
    private func fixtureBytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name))))
    }

    func testMissingFileSaysFileNotFound() {
        let path = dir.appendingPathComponent("nope.pcap").path
        let (frames, error) = readAll(path)
        XCTAssertTrue(frames.isEmpty)
        XCTAssertEqual(error, .fileNotFound(path: path))
        XCTAssertEqual("\(error!)", "\(path): file not found")
    }

    func testDirectoryCannotBeOpened() {
        let (_, error) = readAll(dir.path)
        XCTAssertEqual(error, .cannotOpen(path: dir.path, reason: "is a directory"))
    }

    func testTextFileIsNotACaptureFileAndTheMessageShowsItsFirstBytes() throws {
        let path = try file("notes.txt", Array("hello, this is text\n".utf8))
        let (frames, error) = readAll(path)
        XCTAssertTrue(frames.isEmpty)
        guard case .notACaptureFile(let p, let first)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertEqual(p, path)
        XCTAssertEqual(first, Array("hello, this is t".utf8))
        let message = "\(error!)"
        XCTAssertTrue(message.hasPrefix("\(path): not a capture file: it starts with 68 65 6c 6c"), message)
        XCTAssertTrue(message.contains("(\"hello, this is t\")"), message)
    }

    func testTinyFileIsNotACaptureFile() throws {
        let path = try file("two.bin", [0xd4, 0xc3])
        XCTAssertEqual(readAll(path).error, .notACaptureFile(path: path, firstBytes: [0xd4, 0xc3]))
    }

    func testEmptyFileSaysEmpty() throws {
        let path = try file("empty.pcap", [])
        let (_, error) = readAll(path)
        XCTAssertEqual(error, .emptyFile(path: path))
        XCTAssertEqual("\(error!)", "\(path): not a capture file: the file is empty")
    }

    /// pcap: cutting inside the file header, a record header and record data each give
    /// `truncated` after exactly the frames that were whole.
    func testTruncatedPcapReturnsWholeFramesThenTheRightError() throws {
        let bytes = try fixtureBytes("eth.pcap")
        let whole = readAll(Fixtures.path("eth.pcap")).frames
        // Offsets of record headers.
        var offsets: [Int] = []
        var at = 24
        for frame in whole {
            offsets.append(at)
            at += 16 + frame.captureLength
        }
        XCTAssertEqual(at, bytes.count)
        // Mid file header.
        let header = try file("cut-header.pcap", Array(bytes.prefix(10)))
        let h = readAll(header)
        XCTAssertTrue(h.frames.isEmpty)
        guard case .truncated(_, 1, 0, let detail)? = h.error else { return XCTFail("\(String(describing: h.error))") }
        XCTAssertTrue(detail.contains("truncated dump file"), detail)
        // Mid record header of frame 4, and mid data of frame 4.
        for (cut, what) in [(offsets[3] + 7, "header"), (offsets[3] + 16 + 20, "captured bytes")] {
            let path = try file("cut-\(cut).pcap", Array(bytes.prefix(cut)))
            let (frames, error) = readAll(path)
            XCTAssertEqual(frames.count, 3, what)
            XCTAssertEqual(frames.map(\.bytes), whole.prefix(3).map(\.bytes))
            guard case .truncated(let p, let frame, let offset, let detail)? = error else {
                XCTFail("\(what): \(String(describing: error))")
                continue
            }
            XCTAssertEqual(p, path)
            XCTAssertEqual(frame, 4)
            XCTAssertEqual(offset, Int64(offsets[3]))
            XCTAssertTrue(detail.contains(what), detail)
            XCTAssertTrue("\(error!)".contains("truncated capture file: frame 4 at byte offset \(offsets[3])"))
        }
    }

    /// pcapng: every prefix of a real file reads without trapping; a cut at a block boundary
    /// is a clean end, any other cut is `truncated` after the whole frames before it.
    func testEveryPrefixOfAPcapngIsReadOrReportedAsTruncated() throws {
        let bytes = try fixtureBytes("multi.pcapng")
        let whole = readAll(Fixtures.path("multi.pcapng")).frames
        // Block boundaries (little-endian file).
        var boundaries: Set<Int> = []
        var packetEnds: [Int] = []
        var at = 0
        while at < bytes.count {
            let type = UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
            let length = Int(bytes[at + 4]) | Int(bytes[at + 5]) << 8 | Int(bytes[at + 6]) << 16 | Int(bytes[at + 7]) << 24
            at += length
            boundaries.insert(at)
            if type == 6 { packetEnds.append(at) }
        }
        XCTAssertEqual(packetEnds.count, 24)
        // Every cut in the headers and first packets, then every 5th byte plus each block
        // boundary and its neighbours (keeps the sweep to a few seconds).
        var cuts = Set(stride(from: 4, to: min(bytes.count, 700), by: 1))
        cuts.formUnion(stride(from: 700, to: bytes.count, by: 5))
        for b in boundaries where b < bytes.count { cuts.formUnion([b - 1, b, b + 1].filter { $0 < bytes.count }) }
        for cut in cuts.sorted() {
            let url = dir.appendingPathComponent("prefix.pcapng")
            try Data(bytes.prefix(cut)).write(to: url)
            let (frames, error) = readAll(url.path)
            let complete = packetEnds.filter { $0 <= cut }.count
            XCTAssertEqual(frames.count, complete, "cut at \(cut)")
            XCTAssertEqual(frames.map(\.bytes), whole.prefix(complete).map(\.bytes), "cut at \(cut)")
            if boundaries.contains(cut) {
                XCTAssertNil(error, "cut at block boundary \(cut)")
            } else {
                guard case .truncated(_, let frame, _, _)? = error else {
                    XCTFail("cut at \(cut): \(String(describing: error))")
                    continue
                }
                XCTAssertEqual(frame, complete + 1, "cut at \(cut)")
            }
        }
    }

    func testEveryPrefixOfAPcapIsReadOrReportedAsTruncated() throws {
        let bytes = try fixtureBytes("eth-vlan.pcap")
        let whole = readAll(Fixtures.path("eth-vlan.pcap")).frames
        var ends: [Int] = []
        var at = 24
        for frame in whole { at += 16 + frame.captureLength; ends.append(at) }
        for cut in 4 ..< bytes.count {
            let url = dir.appendingPathComponent("prefix.pcap")
            try Data(bytes.prefix(cut)).write(to: url)
            let (frames, error) = readAll(url.path)
            let complete = ends.filter { $0 <= cut }.count
            XCTAssertEqual(frames.count, complete, "cut at \(cut)")
            if cut == 24 || ends.contains(cut) {
                XCTAssertNil(error, "cut at \(cut)")
            } else {
                guard case .truncated(_, let frame, _, _)? = error else {
                    XCTFail("cut at \(cut): \(String(describing: error))")
                    continue
                }
                XCTAssertEqual(frame, complete + 1, "cut at \(cut)")
            }
        }
    }

    func testCorruptPcapngBlocksNameOffsetTypeAndProblem() throws {
        let le = PcapngBuilder(bigEndian: false)
        func capture(_ build: (inout PcapngBuilder) -> Void) -> [UInt8] {
            var b = PcapngBuilder(bigEndian: false)
            b.section()
            b.interface(linkType: 1)
            build(&b)
            return b.bytes
        }
        let prefixLength = capture { _ in }.count
        // A packet naming interface 3 of a section that has one.
        var bytes = capture { $0.enhanced(interface: 3, timestamp: 0, data: [1, 2, 3, 4]) }
        var path = try file("badif.pcapng", bytes)
        var error = readAll(path).error
        XCTAssertEqual(error, .corruptBlock(path: path, offset: Int64(prefixLength), blockType: 6,
                                           problem: "packet refers to interface 3, but the section describes only 1"))
        XCTAssertTrue("\(error!)".contains("corrupt pcapng block of type 0x00000006 at byte offset \(prefixLength)"))
        // Trailing length that disagrees.
        bytes = capture { $0.enhanced(interface: 0, timestamp: 0, data: [1, 2, 3, 4]) }
        bytes[bytes.count - 4] = 0x7c
        path = try file("trailer.pcapng", bytes)
        error = readAll(path).error
        guard case .corruptBlock(_, _, 6, let problem)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(problem.contains("trailing block length"), problem)
        // Captured length larger than the block.
        bytes = capture { b in b.block(6, le.u32(0) + le.u32(0) + le.u32(0) + le.u32(500) + le.u32(500) + [1, 2, 3, 4]) }
        path = try file("caplen.pcapng", bytes)
        error = readAll(path).error
        guard case .corruptBlock(_, _, 6, let problem2)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(problem2.contains("captured length 500"), problem2)
        // Block length not a multiple of 4.
        bytes = capture { _ in } + le.u32(6) + le.u32(13) + [0, 0, 0, 0, 0]
        path = try file("odd.pcapng", bytes)
        error = readAll(path).error
        guard case .corruptBlock(_, _, 6, let problem3)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(problem3.contains("not a multiple of 4"), problem3)
        // An option running past the end of its block.
        bytes = capture { b in b.block(6, le.u32(0) + le.u32(0) + le.u32(0) + le.u32(0) + le.u32(0) + le.u16(1) + le.u16(40)) }
        path = try file("option.pcapng", bytes)
        error = readAll(path).error
        guard case .corruptBlock(_, _, 6, let problem4)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(problem4.contains("option 1"), problem4)
        // A bad byte-order magic.
        path = try file("bom.pcapng", [0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4] + [UInt8](repeating: 0, count: 16))
        error = readAll(path).error
        guard case .corruptBlock(_, 0, 0x0A0D_0D0A, let problem5)? = error else { return XCTFail("\(String(describing: error))") }
        XCTAssertTrue(problem5.contains("byte-order magic"), problem5)
    }

    /// Seeded random byte flips in a real pcapng: the reader returns frames or an error, never traps.
    func testMutatedPcapngNeverTraps() throws {
        let original = try fixtureBytes("multi.pcapng")
        var generator = SplitMix64(seed: 0x5eed)
        for round in 0 ..< 300 {
            var bytes = original
            for _ in 0 ... Int(generator.next() % 4) {
                let at = Int(generator.next() % UInt64(bytes.count))
                bytes[at] = UInt8(truncatingIfNeeded: generator.next())
            }
            let url = dir.appendingPathComponent("mutated.pcapng")
            try Data(bytes).write(to: url)
            let reader = try? CaptureReader(path: url.path, acceptAnyLinkType: true)
            var count = 0
            while let reader, let frame = try? reader.next() {
                XCTAssertLessThanOrEqual(frame.bytes.count, bytes.count, "round \(round)")
                count += 1
            }
            XCTAssertLessThanOrEqual(count, 24, "round \(round)")
        }
    }
}

/// A small deterministic generator for mutation tests.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
