import Foundation
import RxrayDecode
import XCTest

@testable import RxrayCapture

final class CaptureReaderTests: XCTestCase {
    static let allFixtures = [
        "eth.pcap", "eth.pcapng", "eth-snap60.pcap", "eth-ipv6.pcap", "eth-ipv6-nsec.pcap", "eth-vlan.pcap",
        "eth-swapped.pcap", "eth-swapped-nsec.pcap", "bad-checksum.pcap", "malformed.pcap", "sll.pcap",
        "sll2.pcap", "raw.pcap", "ipv4.pcap", "ipv6.pcap", "null.pcap", "loop.pcap", "multi.pcapng",
    ]

    /// Every fixture agrees with tshark on frame count, timestamps, lengths and comments.
    func testEveryFixtureMatchesTsharkFrameByFrame() throws {
        for name in Self.allFixtures {
            let expected = try ExpectedFrame.load(name)
            let (frames, error) = readAll(Fixtures.path(name))
            XCTAssertNil(error, "\(name): \(error.map { "\($0)" } ?? "")")
            XCTAssertEqual(frames.count, expected.count, name)
            for (frame, want) in zip(frames, expected) {
                XCTAssertEqual(frame.index, want.number, name)
                XCTAssertEqual(frame.nanoseconds, want.nanoseconds, "\(name) frame \(want.number) timestamp")
                XCTAssertEqual(frame.wireLength, want.length, "\(name) frame \(want.number) length")
                XCTAssertEqual(frame.captureLength, want.captureLength, "\(name) frame \(want.number) cap_len")
                XCTAssertEqual(frame.bytes.count, want.captureLength)
                XCTAssertEqual(frame.comment ?? "", want.fields["frame.comment"], "\(name) frame \(want.number) comment")
            }
        }
    }

    func testMicrosecondPcapReportsFormatInterfaceAndTruncatedTimestamps() throws {
        let reader = try CaptureReader(path: Fixtures.path("eth.pcap"))
        XCTAssertEqual(reader.format, .pcap(nanosecond: false, swapped: false))
        XCTAssertEqual(reader.interfaces, [CaptureInterface(id: 0, name: nil, description: nil, linkType: .ethernet, snaplen: 262_144)])
        let first = try XCTUnwrap(reader.next())
        XCTAssertEqual(first.timestampNanoseconds, 1_700_000_000_123_456_000)
        XCTAssertEqual(first.linkType, .ethernet)
        XCTAssertEqual(first.direction, .unknown)
        XCTAssertNil(first.comment)
        // ARP request from A to broadcast.
        XCTAssertEqual(Array(first.bytes.prefix(14)), [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0x0a, 0x08, 0x06])
    }

    func testNanosecondPcapKeepsEveryDigit() throws {
        let reader = try CaptureReader(path: Fixtures.path("eth-ipv6-nsec.pcap"))
        XCTAssertEqual(reader.format, .pcap(nanosecond: true, swapped: false))
        _ = try reader.next()
        let second = try XCTUnwrap(reader.next())
        XCTAssertEqual(second.timestampNanoseconds, 1_700_000_001_246_913_578)
    }

    func testByteSwappedPcapsReadLikeNativeOnes() throws {
        let native = readAll(Fixtures.path("eth.pcap")).frames
        for (name, ns) in [("eth-swapped.pcap", false), ("eth-swapped-nsec.pcap", true)] {
            let reader = try CaptureReader(path: Fixtures.path(name))
            XCTAssertEqual(reader.format, .pcap(nanosecond: ns, swapped: true), name)
            let frames = readAll(Fixtures.path(name)).frames
            XCTAssertEqual(frames.count, 6)
            for (a, b) in zip(frames, native) {
                XCTAssertEqual(a.bytes, b.bytes, name)
                XCTAssertEqual(a.nanoseconds / 1000, b.nanoseconds / 1000, name)
            }
            XCTAssertEqual(frames[1].nanoseconds, ns ? 1_700_000_001_246_913_578 : 1_700_000_001_246_913_000)
        }
    }

    func testLinkTypesOfEveryFixtureAreReportedInLinktypeNumbering() throws {
        let cases: [(String, LinkType)] = [
            ("raw.pcap", .raw), ("ipv4.pcap", .ipv4), ("ipv6.pcap", .ipv6), ("null.pcap", .null),
            ("loop.pcap", .loop), ("sll.pcap", .linuxSLL), ("sll2.pcap", .linuxSLL2), ("eth-vlan.pcap", .ethernet),
        ]
        for (name, linkType) in cases {
            let reader = try CaptureReader(path: Fixtures.path(name))
            XCTAssertEqual(reader.interfaces.first?.linkType, linkType, name)
            XCTAssertEqual(try reader.next()?.linkType, linkType, name)
        }
    }

    func testSnaplenCaptureKeepsWireLength() throws {
        let reader = try CaptureReader(path: Fixtures.path("eth-snap60.pcap"))
        XCTAssertEqual(reader.interfaces[0].snaplen, 60)
        _ = try reader.next(); _ = try reader.next()
        let syn = try XCTUnwrap(reader.next())
        XCTAssertEqual(syn.captureLength, 60)
        XCTAssertEqual(syn.wireLength, 78)
        XCTAssertTrue(syn.isTruncatedBySnaplen)
    }

    func testMultiInterfacePcapngGivesInterfacesLinkTypesNamesAndComments() throws {
        let reader = try CaptureReader(path: Fixtures.path("multi.pcapng"))
        XCTAssertEqual(reader.format, .pcapng)
        XCTAssertEqual(reader.interfaces.map(\.name), ["eth0", "any", "tun0"])
        XCTAssertEqual(reader.interfaces.map(\.linkType), [.ethernet, .linuxSLL2, .raw])
        XCTAssertEqual(reader.interfaces.map(\.id), [0, 1, 2])
        var frames: [OwnedFrame] = []
        while let f = try reader.next() { frames.append(OwnedFrame(f)) }
        XCTAssertEqual(frames.count, 24)
        XCTAssertEqual(frames[0].interfaceID, 2)
        XCTAssertEqual(frames[0].interfaceName, "tun0")
        XCTAssertEqual(frames[0].linkType, LinkType.raw.rawValue)
        XCTAssertEqual(frames[0].bytes.first.map { $0 >> 4 }, 4)
        XCTAssertEqual(frames[0].comment, "raw IPv4 TCP SYN on tun0")
        XCTAssertEqual(frames[1].interfaceName, "any")
        XCTAssertEqual(frames[1].linkType, LinkType.linuxSLL2.rawValue)
        XCTAssertEqual(frames[2].interfaceName, "eth0")
        XCTAssertEqual(frames[2].comment, "ARP who-has on eth0 — UTF-8 comment ✓")
        XCTAssertNil(frames[3].comment)
        XCTAssertEqual(Dictionary(grouping: frames, by: \.interfaceID).mapValues(\.count), [0: 14, 1: 6, 2: 4])
        XCTAssertEqual(frames.map(\.index), Array(1 ... 24))
    }

    /// A frame's interface name and comment live in one `FrameLabels` reference: nil for classic
    /// pcap, one shared instance per interface for pcapng frames without a comment, a fresh
    /// one for a frame with a comment.
    func testFrameLabelsAreNilForPcapAndSharedPerInterfaceForPcapng() throws {
        let pcap = try CaptureReader(path: Fixtures.path("eth.pcap"))
        while let f = try pcap.next() {
            XCTAssertNil(f.labels)
            XCTAssertNil(f.interfaceName)
            XCTAssertNil(f.comment)
        }
        let reader = try CaptureReader(path: Fixtures.path("multi.pcapng"))
        var shared: [Int: FrameLabels] = [:]
        var commented = 0
        while let f = try reader.next() {
            let labels = try XCTUnwrap(f.labels, "frame \(f.index)")
            XCTAssertEqual(labels.interfaceName, reader.interfaces[f.interfaceID].name, "frame \(f.index)")
            if f.comment == nil {
                if let s = shared[f.interfaceID] {
                    XCTAssertTrue(s === labels, "frame \(f.index): the interface's labels")
                } else {
                    shared[f.interfaceID] = labels
                }
            } else {
                commented += 1
            }
        }
        XCTAssertEqual(Set(shared.keys), [0, 1, 2])
        XCTAssertGreaterThan(commented, 0)
        // Frames of different interfaces never share.
        XCTAssertEqual(Set(shared.values.map { ObjectIdentifier($0) }).count, 3)
    }

    /// The computed `interfaceName` and `comment` keep the other text when one is set, and a
    /// frame with neither holds no labels.
    func testSettingInterfaceNameOrCommentKeepsTheOther() {
        var f = CapturedFrame(index: 1, timestampNanoseconds: 0, captureLength: 0, wireLength: 0, linkType: .ethernet,
                              interfaceID: 0, interfaceName: nil, comment: nil, direction: .unknown,
                              bytes: UnsafeRawBufferPointer(start: nil, count: 0))
        XCTAssertNil(f.labels)
        f.interfaceName = "eth0"
        f.comment = "hello"
        XCTAssertEqual(f.interfaceName, "eth0")
        XCTAssertEqual(f.comment, "hello")
        let copy = f
        f.interfaceName = nil
        XCTAssertNil(f.interfaceName)
        XCTAssertEqual(f.comment, "hello")
        XCTAssertEqual(copy.interfaceName, "eth0", "a copy keeps its texts")
        f.comment = nil
        XCTAssertNil(f.labels)
    }

    func testHandWrittenBigEndianPcapngWithTwoSectionsAndEveryPacketBlockKind() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let frameA: [UInt8] = Array(repeating: 0xaa, count: 14) + [0x45]
        let frameB: [UInt8] = [0x60, 0, 0, 0, 0, 0, 0x3b, 64]
        var b = PcapngBuilder(bigEndian: true)
        let be = b
        b.section()
        // if_tsresol 3 (milliseconds), if_tsoffset 10 s, name, description.
        b.interface(linkType: 1, snaplen: 1500, [(2, Array("eth7".utf8)), (3, Array("test port".utf8)), (9, [3]), (14, be.u64(10))])
        b.block(4, [0, 0, 0, 0])  // name resolution block, skipped
        b.enhanced(interface: 0, timestamp: 1_700_000_000_123, data: frameA, wireLength: 100,
                   [(1, Array("first".utf8)), (1, Array("second".utf8)), (2, be.u32(1))])
        b.block(0x0000_0BAD, [1, 2, 3, 4])  // custom block, skipped
        b.block(5, be.u32(0) + be.u32(0) + be.u32(0))  // interface statistics, skipped
        b.obsoletePacket(interface: 0, timestamp: 5, data: frameA, [(2, be.u32(2))])
        var second = PcapngBuilder(bigEndian: false)
        second.section()
        // if_tsresol 0x80|20: 2^-20 s units.
        second.interface(linkType: 101, [(2, Array("tun9".utf8)), (9, [0x80 | 20])])
        second.enhanced(interface: 0, timestamp: (3 << 20) + (1 << 19), data: frameB)
        second.simple(data: frameB, wireLength: 8)
        let url = dir.appendingPathComponent("handmade.pcapng")
        try Data(b.bytes + second.bytes).write(to: url)

        let reader = try CaptureReader(path: url.path)
        XCTAssertEqual(reader.interfaces.count, 1, "interfaces before the first packet")
        XCTAssertEqual(reader.interfaces[0].description, "test port")
        XCTAssertEqual(reader.interfaces[0].snaplen, 1500)
        var frames: [OwnedFrame] = []
        while let f = try reader.next() { frames.append(OwnedFrame(f)) }
        XCTAssertEqual(frames.count, 4)
        XCTAssertEqual(frames[0].nanoseconds, 1_700_000_010_123_000_000)
        XCTAssertEqual(frames[0].comment, "first\nsecond")
        XCTAssertEqual(frames[0].direction, .inbound)
        XCTAssertEqual(frames[0].wireLength, 100)
        XCTAssertEqual(frames[0].bytes, frameA)
        XCTAssertEqual(frames[0].interfaceName, "eth7")
        XCTAssertEqual(frames[1].direction, .outbound)
        XCTAssertEqual(frames[1].nanoseconds, 10_005_000_000)
        XCTAssertEqual(frames[2].interfaceID, 1, "interface ids count across sections")
        XCTAssertEqual(frames[2].interfaceName, "tun9")
        XCTAssertEqual(frames[2].linkType, LinkType.raw.rawValue)
        XCTAssertEqual(frames[2].nanoseconds, 3_500_000_000)
        XCTAssertEqual(frames[2].bytes, frameB)
        XCTAssertEqual(frames[3].interfaceID, 1)
        XCTAssertEqual(frames[3].bytes, frameB)
        XCTAssertEqual(frames[3].nanoseconds, 0)
        XCTAssertEqual(reader.interfaces.map(\.name), ["eth7", "tun9"])
    }

    func testStandardInputFromAFileAndFromAPipe() throws {
        for name in ["eth.pcap", "multi.pcapng", "eth-swapped-nsec.pcap"] {
            let expected = readAll(Fixtures.path(name)).frames
            // A regular file on fd 0 (seekable).
            let fileFrames = try withStandardInput(file: Fixtures.path(name)) { readAll("-") }
            XCTAssertNil(fileFrames.error, name)
            XCTAssertEqual(fileFrames.frames.map(\.bytes), expected.map(\.bytes), name)
            // A pipe on fd 0 (not seekable: the sniffed magic must be handed on).
            let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path(name)))
            let pipeFrames = try withStandardInput(pipeData: data) { readAll("-") }
            XCTAssertNil(pipeFrames.error, "\(name): \(pipeFrames.error.map { "\($0)" } ?? "")")
            XCTAssertEqual(pipeFrames.frames.map(\.bytes), expected.map(\.bytes), name)
            XCTAssertEqual(pipeFrames.frames.map(\.nanoseconds), expected.map(\.nanoseconds), name)
        }
    }

    func testReaderStopsAfterTheEnd() throws {
        let reader = try CaptureReader(path: Fixtures.path("ipv4.pcap"))
        var count = 0
        while try reader.next() != nil { count += 1 }
        XCTAssertEqual(count, 3)
        XCTAssertNil(try reader.next())
        XCTAssertEqual(reader.framesRead, 3)
    }

    func testUnsupportedLinkTypeIsAnErrorUnlessAccepted() throws {
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var b = PcapngBuilder(bigEndian: false)
        b.section()
        b.interface(linkType: 147)  // USER0
        b.enhanced(interface: 0, timestamp: 0, data: [1, 2, 3])
        let url = dir.appendingPathComponent("user0.pcapng")
        try b.write(to: url)
        let (frames, error) = readAll(url.path)
        XCTAssertEqual(frames.count, 0)
        XCTAssertEqual(error, .unsupportedLinkType(path: url.path, linkType: LinkType(rawValue: 147), interfaceID: 0))
        XCTAssertTrue("\(error!)".contains("unsupported link type LINKTYPE_147"))
        let reader = try CaptureReader(path: url.path, acceptAnyLinkType: true)
        XCTAssertEqual(try reader.next()?.bytes.count, 3)
    }
}

/// Runs `body` with fd 0 replaced by `file`, restoring it afterwards.
func withStandardInput<T>(file: String, _ body: () throws -> T) throws -> T {
    let fd = open(file, O_RDONLY)
    guard fd >= 0 else { throw CaptureError.fileNotFound(path: file) }
    let saved = dup(0)
    dup2(fd, 0)
    close(fd)
    defer { dup2(saved, 0); close(saved) }
    return try body()
}

/// Runs `body` with fd 0 replaced by a pipe fed with `pipeData` from another thread.
func withStandardInput<T>(pipeData: Data, _ body: () throws -> T) throws -> T {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { throw CaptureError.cannotOpen(path: "pipe", reason: "pipe failed") }
    let saved = dup(0)
    dup2(fds[0], 0)
    close(fds[0])
    let writeEnd = fds[1]
    let writer = Thread {
        pipeData.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                // Small writes so readers see short reads.
                let n = write(writeEnd, raw.baseAddress! + sent, min(7, raw.count - sent))
                if n <= 0 { break }
                sent += n
            }
        }
        close(writeEnd)
    }
    writer.start()
    defer { dup2(saved, 0); close(saved) }
    return try body()
}
