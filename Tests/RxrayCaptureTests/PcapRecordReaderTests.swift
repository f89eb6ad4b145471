import Foundation
import RxrayDecode
import XCTest

@testable import RxrayCapture

/// rxray's own reading of classic pcap records (`PcapRecordReader`) against libpcap's
/// (`pcap_next_ex`): every file is read both ways and must give the same frames (number,
/// timestamp, lengths, link type, bytes) and the same error, message and offset included.
final class PcapRecordReaderTests: ScratchDirectoryTestCase {
    /// One frame as a comparable line.
    private static func line(_ f: OwnedFrame) -> String {
        "\(f.index) \(f.nanoseconds) \(f.captureLength)/\(f.wireLength) lt=\(f.linkType) if=\(f.interfaceID) "
            + "\(f.interfaceName ?? "-") \(f.comment ?? "-") \(f.direction) "
            + f.bytes.map { String($0, radix: 16) }.joined(separator: ".")
    }

    private struct Reading {
        var frames: [String] = []
        var error: CaptureError?
        var ownReader = false
        var openError: CaptureError?
    }

    private func read(
        _ path: String, _ mode: CaptureReader.RecordReading, bufferSize: Int, filter: String? = nil,
        acceptAnyLinkType: Bool = false
    ) -> Reading {
        var result = Reading()
        let reader: CaptureReader
        do {
            reader = try CaptureReader(
                path: path, filter: filter, acceptAnyLinkType: acceptAnyLinkType, recordReading: mode,
                recordBufferSize: bufferSize)
        } catch {
            result.openError = error
            return result
        }
        result.ownReader = reader.readsRecordsItself
        do {
            while let frame = try reader.next() { result.frames.append(Self.line(OwnedFrame(frame))) }
        } catch {
            result.error = error
        }
        // After the end or an error, reading stays over.
        XCTAssertNil(try? reader.next(), path)
        return result
    }

    /// Reads `path` through both paths and asserts they agree; returns rxray's reading.
    @discardableResult
    private func assertSame(
        _ path: String, bufferSize: Int = 1 << 20, filter: String? = nil, ownReader: Bool = true,
        acceptAnyLinkType: Bool = false, _ context: String = "", file: StaticString = #filePath, line: UInt = #line
    ) -> (frames: [String], error: CaptureError?) {
        let ours = read(path, .automatic, bufferSize: bufferSize, filter: filter, acceptAnyLinkType: acceptAnyLinkType)
        let theirs = read(path, .libpcap, bufferSize: bufferSize, filter: filter, acceptAnyLinkType: acceptAnyLinkType)
        let what = "\(path) \(context) buffer \(bufferSize)"
        XCTAssertEqual(ours.openError, theirs.openError, what, file: file, line: line)
        if ours.openError == nil {
            XCTAssertEqual(ours.ownReader, ownReader, "own record reader used: \(what)", file: file, line: line)
        }
        XCTAssertFalse(theirs.ownReader, what, file: file, line: line)
        XCTAssertEqual(ours.frames.count, theirs.frames.count, what, file: file, line: line)
        for (i, (a, b)) in zip(ours.frames, theirs.frames).enumerated() where a != b {
            XCTFail("\(what): frame \(i + 1) differs:\n  ours    \(a)\n  libpcap \(b)", file: file, line: line)
            break
        }
        XCTAssertEqual(ours.error, theirs.error, what, file: file, line: line)
        return (ours.frames, ours.error)
    }

    // MARK: Hand-built files

    struct Record {
        var seconds: UInt32
        var fraction: UInt32
        var caplen: UInt32
        var length: UInt32
        var body: [UInt8]

        init(seconds: UInt32 = 1_700_000_000, fraction: UInt32 = 123_456, caplen: UInt32? = nil, length: UInt32? = nil, body: [UInt8]) {
            self.seconds = seconds
            self.fraction = fraction
            self.caplen = caplen ?? UInt32(body.count)
            self.length = length ?? UInt32(body.count)
            self.body = body
        }
    }

    /// A classic pcap file: the header and the records in the chosen byte order.
    static func pcap(
        swapped: Bool = false, nanosecond: Bool = false, version: (UInt16, UInt16) = (2, 4), snaplen: UInt32 = 262_144,
        linkType: UInt32 = 1, _ records: [Record]
    ) -> [UInt8] {
        // Native order is little-endian on every machine this runs on; "swapped" is big-endian.
        func u32(_ v: UInt32) -> [UInt8] {
            let b = [UInt8(v & 0xff), UInt8((v >> 8) & 0xff), UInt8((v >> 16) & 0xff), UInt8(v >> 24)]
            return swapped ? b.reversed() : b
        }
        func u16(_ v: UInt16) -> [UInt8] { swapped ? [UInt8(v >> 8), UInt8(v & 0xff)] : [UInt8(v & 0xff), UInt8(v >> 8)] }
        var bytes = u32(nanosecond ? 0xA1B2_3C4D : 0xA1B2_C3D4) + u16(version.0) + u16(version.1)
        bytes += u32(0) + u32(0) + u32(snaplen) + u32(linkType)
        for r in records { bytes += u32(r.seconds) + u32(r.fraction) + u32(r.caplen) + u32(r.length) + r.body }
        return bytes
    }

    /// An Ethernet/IPv4/UDP frame of `size` bytes (at least 42) whose bytes vary with `seed`.
    static func frame(_ size: Int, seed: Int) -> [UInt8] {
        var b: [UInt8] = [0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00]
        let ipLength = size - 14
        b += [0x45, 0, UInt8(truncatingIfNeeded: ipLength >> 8), UInt8(truncatingIfNeeded: ipLength), 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        let udpLength = ipLength - 20
        b += [0x30, 0x39, 0, 53, UInt8(truncatingIfNeeded: udpLength >> 8), UInt8(truncatingIfNeeded: udpLength), 0, 0]
        while b.count < size { b.append(UInt8(truncatingIfNeeded: b.count &* 31 &+ seed)) }
        return b
    }

    /// Records of many sizes (60 to 1514 bytes, one of 9000).
    static func mixedRecords(_ count: Int) -> [Record] {
        let sizes = [60, 1514, 74, 66, 590, 1200, 42, 9000, 128, 1514, 60, 343]
        return (0 ..< count).map { i in
            Record(seconds: 1_700_000_000 + UInt32(i / 3), fraction: UInt32(i * 7919 % 1_000_000), body: frame(sizes[i % sizes.count], seed: i))
        }
    }

    // MARK: Tests

    /// Every classic pcap fixture, at the default buffer size and at sizes that make records
    /// straddle the buffer's end or exceed it.
    func testEveryFixturePcapReadsTheSameThroughBothPaths() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixtures.captures.path)
            .filter { $0.hasSuffix(".pcap") }.sorted()
        XCTAssertGreaterThan(names.count, 10)
        for name in names {
            for size in [1 << 20, 100, 61, 16] {
                let (frames, error) = assertSame(Fixtures.path(name), bufferSize: size)
                XCTAssertFalse(frames.isEmpty, name)
                XCTAssertNil(error, name)
            }
            assertSame(Fixtures.path(name), filter: "ip or ip6")
        }
    }

    /// Files written by the real tools: tcpdump (microsecond), editcap to microsecond and
    /// nanosecond pcap and with a snapshot length.
    func testFilesWrittenByTcpdumpAndEditcapReadTheSame() throws {
        let source = Fixtures.path("eth-vlan.pcap")
        var made: [String] = []
        if toolExists("tcpdump") {
            let out = dir.appendingPathComponent("tcpdump.pcap").path
            let r = try runCommand(["tcpdump", "-r", source, "-w", out])
            XCTAssertEqual(r.status, 0, r.error)
            made.append(out)
        }
        if toolExists("editcap") {
            for (name, args) in [
                ("us.pcap", ["-F", "pcap"]), ("ns.pcap", ["-F", "nsecpcap"]), ("snap.pcap", ["-F", "pcap", "-s", "50"]),
                ("ns-from-ng.pcap", ["-F", "nsecpcap"]),
            ] {
                let out = dir.appendingPathComponent(name).path
                let input = name == "ns-from-ng.pcap" ? Fixtures.path("eth.pcapng") : source
                let r = try runCommand(["editcap"] + args + [input, out])
                XCTAssertEqual(r.status, 0, r.error)
                made.append(out)
            }
        }
        if made.isEmpty { throw XCTSkip("neither tcpdump nor editcap is installed") }
        for path in made {
            let (frames, error) = assertSame(path)
            XCTAssertFalse(frames.isEmpty, path)
            XCTAssertNil(error, path)
            assertSame(path, bufferSize: 200)
        }
    }

    /// Many records of mixed sizes in both byte orders and both precisions, through buffers
    /// from smaller than one record to larger than the file.
    func testMixedRecordsInEveryByteOrderAndPrecisionAtManyBufferSizes() throws {
        let records = Self.mixedRecords(300)
        for swapped in [false, true] {
            for nanosecond in [false, true] {
                let path = try file("mixed-\(swapped)-\(nanosecond).pcap", Self.pcap(swapped: swapped, nanosecond: nanosecond, records))
                for size in [1 << 20, 1 << 16, 4096, 1515, 1000, 97, 16] {
                    let (frames, error) = assertSame(path, bufferSize: size, "swapped \(swapped) ns \(nanosecond)")
                    XCTAssertEqual(frames.count, 300)
                    XCTAssertNil(error)
                }
                assertSame(path, bufferSize: 1000, filter: "udp and greater 1000")
            }
        }
    }

    /// Cutting a small file at every byte offset, through a buffer of the default size and
    /// one smaller than a record: the same whole frames, then the same error (truncated
    /// header, truncated body) with the same frame number and offset.
    func testTruncationAtEveryOffsetGivesTheSameFramesAndError() throws {
        let records = [Self.frame(60, seed: 1), Self.frame(300, seed: 2), Self.frame(42, seed: 3), Self.frame(700, seed: 4)]
            .map { Record(body: $0) }
        for swapped in [false, true] {
            let whole = Self.pcap(swapped: swapped, records)
            var ends = [24]
            for r in records { ends.append(ends.last! + 16 + r.body.count) }
            for cut in 24 ... whole.count {
                let path = try file("cut.pcap", Array(whole.prefix(cut)))
                for size in [1 << 20, 128] {
                    let (frames, error) = assertSame(path, bufferSize: size, "cut at \(cut)")
                    XCTAssertEqual(frames.count, ends.filter { $0 + 0 <= cut }.count - 1, "cut at \(cut)")
                    XCTAssertEqual(error == nil, ends.contains(cut), "cut at \(cut)")
                }
            }
        }
        // The two kinds of message were both produced.
        let cutHeader = try file("cut-h.pcap", Array(Self.pcap(records).prefix(24 + 16 + 60 + 5)))
        XCTAssertEqual(
            assertSame(cutHeader).error,
            .truncated(
                path: cutHeader, frame: 2, offset: 100, detail: "truncated dump file; tried to read 16 header bytes, only got 5"))
        let cutBody = try file("cut-b.pcap", Array(Self.pcap(records).prefix(24 + 16 + 60 + 16 + 10)))
        XCTAssertEqual(
            assertSame(cutBody).error,
            .truncated(
                path: cutBody, frame: 2, offset: 100, detail: "truncated dump file; tried to read 300 captured bytes, only got 10"))
    }

    /// A record whose caplen is bigger than the file's snapshot length (but within the
    /// maximum) is cut to the snapshot length, and the records after it still read; cut
    /// short, it gives libpcap's message for either part.
    func testRecordBiggerThanTheSnapshotIsCutToIt() throws {
        let big = Self.frame(400, seed: 9)
        let records = [Record(body: Self.frame(80, seed: 1)), Record(body: big), Record(body: Self.frame(90, seed: 2))]
        for swapped in [false, true] {
            let bytes = Self.pcap(swapped: swapped, snaplen: 100, records)
            let path = try file("over-snap.pcap", bytes)
            for size in [1 << 20, 150, 16] {
                let (frames, error) = assertSame(path, bufferSize: size)
                XCTAssertNil(error)
                XCTAssertEqual(frames.count, 3)
            }
            let reader = try CaptureReader(path: path)
            XCTAssertTrue(reader.readsRecordsItself)
            _ = try reader.next()
            let second = try XCTUnwrap(try reader.next())
            XCTAssertEqual(second.captureLength, 100)
            XCTAssertEqual(second.wireLength, 400)
            XCTAssertEqual(Array(second.bytes), Array(big.prefix(100)))
            XCTAssertEqual(try reader.next()?.captureLength, 90)
            // Cut inside the first snapshot-length bytes and inside the skipped rest.
            let second0 = 24 + 16 + 80
            for cut in [second0 + 16 + 3, second0 + 16 + 99, second0 + 16 + 100, second0 + 16 + 250, second0 + 16 + 399] {
                let cutPath = try file("over-snap-cut.pcap", Array(bytes.prefix(cut)))
                let (frames, error) = assertSame(cutPath, bufferSize: 1 << 20, "cut at \(cut)")
                assertSame(cutPath, bufferSize: 64, "cut at \(cut)")
                XCTAssertEqual(frames.count, 1)
                guard case .truncated(_, 2, _, let detail)? = error else { XCTFail("\(String(describing: error))"); continue }
                XCTAssertTrue(detail.contains("captured bytes"), detail)
            }
        }
    }

    /// A caplen above the maximum libpcap accepts is its "invalid packet capture length"
    /// error (a read failure naming frame and offset), after the frames before it.
    func testCaptureLengthAboveTheMaximumIsLibpcapsError() throws {
        for caplen: UInt32 in [262_145, 0xFFFF_FFFF] {
            let records = [Record(body: Self.frame(70, seed: 1)), Record(caplen: caplen, length: 100, body: Self.frame(100, seed: 2))]
            let path = try file("huge.pcap", Self.pcap(records))
            let (frames, error) = assertSame(path)
            XCTAssertEqual(frames.count, 1)
            XCTAssertEqual(
                error,
                .readFailed(
                    path: path,
                    message: "frame 2 at byte offset 110: invalid packet capture length \(caplen), bigger than snaplen of 262144"))
        }
        // Exactly the maximum is a frame (the file holds all of it).
        let max = Record(body: Self.frame(262_144, seed: 3))
        let path = try file("max.pcap", Self.pcap([max, Record(body: Self.frame(60, seed: 4))]))
        for size in [1 << 20, 4096] {
            let (frames, error) = assertSame(path, bufferSize: size)
            XCTAssertEqual(frames.count, 2)
            XCTAssertNil(error)
        }
    }

    /// A record larger than the buffer grows it; records straddling its end are moved to the
    /// front; a frame's bytes stay as read until the next call even when the buffer moves.
    func testRecordsStraddlingTheBufferEndAndLargerThanItStayValidUntilTheNextCall() throws {
        let bodies = [Self.frame(100, seed: 1), Self.frame(3000, seed: 2), Self.frame(100, seed: 3), Self.frame(250, seed: 4)]
        let path = try file("straddle.pcap", Self.pcap(bodies.map { Record(body: $0) }))
        for size in [16, 64, 150, 1000] {
            let reader = try CaptureReader(path: path, recordReading: .automatic, recordBufferSize: size)
            XCTAssertTrue(reader.readsRecordsItself)
            for (i, body) in bodies.enumerated() {
                let frame = try XCTUnwrap(try reader.next())
                XCTAssertEqual(frame.index, i + 1)
                XCTAssertEqual(Array(frame.bytes), body, "size \(size) frame \(i + 1)")
                XCTAssertEqual(frame.captureLength, body.count)
            }
            XCTAssertNil(try reader.next())
            assertSame(path, bufferSize: size)
        }
    }

    /// Timestamp fields with the top bit set, in both byte orders and precisions, and
    /// microsecond values of a million or more: the same nanoseconds as libpcap gives.
    func testTimestampsWithTheTopBitSetAndOutOfRangeMicroseconds() throws {
        let stamps: [(UInt32, UInt32)] = [
            (0xFFFF_FFFF, 0x8000_0000), (0x8000_0000, 999_999), (0x7FFF_FFFF, 1_000_000), (5, 0xFFFF_FFFF), (0, 0),
        ]
        let records = stamps.enumerated().map { i, s in Record(seconds: s.0, fraction: s.1, body: Self.frame(60, seed: i)) }
        for swapped in [false, true] {
            for nanosecond in [false, true] {
                let path = try file("ts.pcap", Self.pcap(swapped: swapped, nanosecond: nanosecond, records))
                let (frames, error) = assertSame(path, "swapped \(swapped) ns \(nanosecond)")
                XCTAssertEqual(frames.count, stamps.count)
                XCTAssertNil(error)
            }
        }
        let path = try file("us.pcap", Self.pcap([Record(seconds: 10, fraction: 1_500_000, body: Self.frame(60, seed: 1))]))
        XCTAssertEqual(try CaptureReader(path: path).next()?.timestampNanoseconds, 10_000_000_000 + 1_500_000_000)
    }

    /// What stays with libpcap: older versions (length fields maybe swapped), the Linux cooked
    /// headers of a byte-swapped file, unsupported link types, and standard input from a pipe.
    func testFilesLibpcapFixesUpStayWithLibpcap() throws {
        let records = Self.mixedRecords(12)
        for version: (UInt16, UInt16) in [(2, 3), (2, 2), (2, 0)] {
            for swapped in [false, true] {
                var rs = records
                // Lengths written in the pre-2.3 order for some records.
                rs[1].caplen = rs[1].length
                let path = try file("v\(version.1).pcap", Self.pcap(swapped: swapped, version: version, rs))
                assertSame(path, ownReader: false, "version 2.\(version.1)")
            }
        }
        for linkType: UInt32 in [113, 276] {
            let body = [UInt8](repeating: 0, count: 20) + Self.frame(60, seed: 1)
            let path = try file("sll-swapped.pcap", Self.pcap(swapped: true, linkType: linkType, [Record(body: body)]))
            assertSame(path, ownReader: false, "swapped link type \(linkType)")
            let native = try file("sll.pcap", Self.pcap(swapped: false, linkType: linkType, [Record(body: body)]))
            assertSame(native, ownReader: true, "link type \(linkType)")
        }
        let usb = try file("usb.pcap", Self.pcap(linkType: 220, [Record(body: [UInt8](repeating: 1, count: 64))]))
        assertSame(usb, ownReader: false, acceptAnyLinkType: true, "USB")
        // A snapshot length of 0 is adjusted by libpcap; the record reader uses its value.
        let zeroSnap = try file("snap0.pcap", Self.pcap(snaplen: 0, records))
        assertSame(zeroSnap)
    }

    /// Standard input: a regular file is read by the record reader, a pipe by libpcap, with
    /// the same frames.
    func testStandardInputFromAFileUsesTheRecordReaderAndAPipeLibpcap() throws {
        let path = try file("stdin.pcap", Self.pcap(Self.mixedRecords(20)))
        let expected = assertSame(path).frames
        let saved = dup(0)
        defer { _ = dup2(saved, 0); _ = close(saved) }
        let fd = open(path, O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        _ = dup2(fd, 0)
        _ = close(fd)
        let fromFile = read("-", .automatic, bufferSize: 1 << 20)
        XCTAssertTrue(fromFile.ownReader)
        XCTAssertEqual(fromFile.frames, expected)
        XCTAssertNil(fromFile.error)
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let pipeFDs = fds
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let writer = Thread {
            data.withUnsafeBytes { raw in
                var sent = 0
                while sent < raw.count {
                    let n = write(pipeFDs[1], raw.baseAddress! + sent, raw.count - sent)
                    if n <= 0 { break }
                    sent += n
                }
            }
            _ = close(pipeFDs[1])
        }
        _ = dup2(pipeFDs[0], 0)
        _ = close(pipeFDs[0])
        writer.start()
        let fromPipe = read("-", .automatic, bufferSize: 1 << 20)
        XCTAssertFalse(fromPipe.ownReader)
        XCTAssertEqual(fromPipe.frames, expected)
        XCTAssertNil(fromPipe.error)
    }
}
