import XCTest
@testable import RxrayDecode

final class IPv4DecodeTests: XCTestCase {
    let udp = Build.udp(payload: Array(repeating: 0xAB, count: 12))

    func testFieldsAreReadBigEndian() {
        withFrame(Build.ether(0x0800, Build.ipv4(17, udp, ttl: 17, id: 0xBEEF, fragWord: 0x4000))) { f, b in
            let h = f.ipv4(in: b)!
            XCTAssertEqual(h.version, 4)
            XCTAssertEqual(h.headerLength, 20)
            XCTAssertEqual(h.totalLength, 40)
            XCTAssertEqual(h.identification, 0xBEEF)
            XCTAssertTrue(h.dontFragment)
            XCTAssertFalse(h.moreFragments)
            XCTAssertEqual(h.ttl, 17)
            XCTAssertEqual(h.protocolNumber, 17)
            XCTAssertEqual(h.destination, IPv4Address("10.0.0.2"))
            XCTAssertEqual(f.ipChecksum, .good)
            XCTAssertNil(f.fragment, "DF alone does not make a fragment")
            XCTAssertEqual(f.outcome, .ok)
        }
    }

    func testBadHeaderChecksumIsReportedAndDecodingContinues() {
        let f = decode(Build.ether(0x0800, Build.ipv4(17, udp, badChecksum: true)))
        XCTAssertEqual(f.outcome, .badChecksum(.ipv4))
        XCTAssertEqual(f.ipChecksum, .bad)
        XCTAssertEqual(f.transport, .udp)
        XCTAssertEqual(f.transportChecksum, .good)
    }

    func testTrailingEthernetPaddingIsNotAnError() {
        let frame = Build.ether(0x0800, Build.ipv4(17, Build.udp())) + Array(repeating: 0, count: 18)
        withFrame(frame) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.paddingLength, 18)
            XCTAssertEqual(f.ipEnd, 14 + 28)
            XCTAssertEqual(f.payloadLength, 0)
            XCTAssertEqual(f.transportChecksum, .good, "the checksum covers the datagram, not the padding")
            XCTAssertEqual(f.udp(in: b)?.length, 8)
        }
    }

    func testTotalLengthBeyondTheWireFrameIsMalformed() {
        let frame = Build.ether(0x0800, Build.ipv4(17, udp, totalLength: 200))
        XCTAssertEqual(decode(frame).outcome, .malformed(.ipv4, .totalLengthExceedsFrame))
    }

    func testTotalLengthBeyondTheCaptureButWithinTheWireTruncatesLater() {
        let frame = Build.ether(0x0800, Build.ipv4(6, Build.tcp(payload: Array(repeating: 1, count: 100))))
        let cut = Array(frame.prefix(14 + 20 + 20 + 10))
        let f = decode(cut, wire: frame.count)
        XCTAssertEqual(f.outcome, .ok, "headers complete; the payload was snapped")
        XCTAssertEqual(f.transportChecksum, .notVerifiable)
        XCTAssertEqual(f.payloadLength, 100)
        XCTAssertEqual(f.payloadRange, 54..<64)
        let f2 = decode(Array(frame.prefix(14 + 20 + 10)), wire: frame.count)
        XCTAssertEqual(f2.outcome, .truncated(.tcp))
        XCTAssertTrue(f2.isSnapped)
    }

    func testTotalLengthBelowHeaderLengthIsMalformed() {
        XCTAssertEqual(decode(Build.ether(0x0800, Build.ipv4(17, udp, totalLength: 19))).outcome, .malformed(.ipv4, .totalLengthTooShort))
    }

    func testIHLBelowFiveIsMalformed() {
        var p = Build.ipv4(17, udp)
        p[0] = 0x44
        XCTAssertEqual(decode(Build.ether(0x0800, p)).outcome, .malformed(.ipv4, .headerLengthTooShort))
    }

    func testVersionMismatchUnderEtherTypeIPv4IsMalformed() {
        var p = Build.ipv4(17, udp)
        p[0] = 0x65
        XCTAssertEqual(decode(Build.ether(0x0800, p)).outcome, .malformed(.ipv4, .versionMismatch))
    }

    func testHeaderCutByTheCaptureIsTruncated() {
        let frame = Build.ether(0x0800, Build.ipv4(17, udp, options: [1, 1, 1, 0]))
        XCTAssertEqual(decode(Array(frame.prefix(14 + 22)), wire: frame.count).outcome, .truncated(.ipv4))
        XCTAssertEqual(decode(Array(frame.prefix(14 + 10)), wire: frame.count).outcome, .truncated(.ipv4))
    }

    func testEveryOptionKindIsListedInOrder() {
        let rr: [UInt8] = [7, 11, 4] + Array(repeating: 0, count: 8)            // record route, 2 slots
        let ts: [UInt8] = [68, 12, 5, 0x01] + Array(repeating: 0, count: 8)      // timestamp
        let lsrr: [UInt8] = [131, 7, 4] + v4("192.0.2.9")
        let ssrr: [UInt8] = [137, 7, 4] + v4("192.0.2.10")
        let ra: [UInt8] = [148, 4, 0, 0]
        let sec: [UInt8] = [130, 3, 0x5A]
        let unknown: [UInt8] = [99, 2]
        var opts = [1] + rr + ts + lsrr + ssrr
        XCTAssertEqual(opts.count, 38)
        opts += [0, 0]
        withFrame(Build.ether(0x0800, Build.ipv4(17, udp, options: opts))) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.ipv4Options.map(\.kind), [1, 7, 68, 131, 137, 0])
            XCTAssertEqual(f.ipv4Options.map(\.length), [1, 11, 12, 7, 7, 1])
            let lsrrRecord = f.ipv4Options[3]
            XCTAssertEqual(Array(f.ipv4Options.data(of: lsrrRecord, in: b)), [4] + v4("192.0.2.9"))
            XCTAssertEqual(f.transport, .udp)
        }
        let more = ra + sec + [1] + unknown + [0, 0]
        withFrame(Build.ether(0x0800, Build.ipv4(17, udp, options: more))) { f, _ in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.ipv4Options.map(\.kind), [148, 130, 1, 99, 0])
            XCTAssertEqual(f.routerAlert, 0)
        }
    }

    func testMalformedOptionLengthsAreMalformedButTheDatagramStillDecodes() {
        for (opts, problem) in [
            ([130, 1, 0, 0] as [UInt8], DecodeProblem.badOptionLength),   // length below 2
            ([130, 9, 0, 0], .badOptionLength),                          // past the area
            ([1, 1, 1, 130], .badOptionLength),                          // no length byte
            ([148, 3, 0, 0], .badOptionContent),                         // router alert must be 4
            ([7, 3, 3, 0], .badOptionContent),                           // RR pointer below 4
            ([68, 4, 4, 0], .badOptionContent),                          // TS pointer below 5
        ] {
            let f = decode(Build.ether(0x0800, Build.ipv4(17, udp, options: opts)))
            XCTAssertEqual(f.outcome, .malformed(.ipv4, problem), "\(opts)")
            XCTAssertEqual(f.transport, .udp, "\(opts)")
        }
    }

    func testFirstFragmentDecodesTheTransportHeaderWithoutVerifyingIt() {
        let f = decode(Build.ether(0x0800, Build.ipv4(17, Build.udp(payload: Array(repeating: 1, count: 40)) .prefix(24).map { $0 }, id: 7, fragWord: 0x2000)))
        XCTAssertEqual(f.fragment, FragmentInfo(identification: 7, offset: 0, moreFragments: true, dontFragment: false))
        XCTAssertTrue(f.fragment!.isFirst)
        XCTAssertEqual(f.transport, .udp)
        XCTAssertEqual(f.transportChecksum, .notVerifiable)
        XCTAssertEqual(f.outcome, .ok)
    }

    func testLaterFragmentLeavesThePayloadOpaque() {
        let f = decode(Build.ether(0x0800, Build.ipv4(17, Array(repeating: 0x61, count: 40), id: 7, fragWord: 5)))
        XCTAssertEqual(f.fragment?.offset, 5)
        XCTAssertEqual(f.fragment?.moreFragments, false)
        XCTAssertEqual(f.transport, .none)
        XCTAssertEqual(f.transportProtocol, 17)
        XCTAssertEqual(f.payloadLength, 40)
        XCTAssertEqual(f.outcome, .ok)
    }

    func testUnknownProtocolIsUnsupported() {
        let f = decode(Build.ether(0x0800, Build.ipv4(47, [0, 0, 0x08, 0, 1, 2, 3, 4])))
        XCTAssertEqual(f.outcome, .unsupported(.ipv4, .ipProtocol(47)))
        XCTAssertEqual(f.transportProtocol, 47)
        XCTAssertEqual(f.payloadLength, 8)
    }

    func testZeroTotalLengthTakesTheFrameLengthAsTSO() {
        let f = decode(Build.ether(0x0800, Build.ipv4(6, Build.tcp(payload: Array(repeating: 2, count: 3000)), totalLength: 0)))
        XCTAssertTrue(f.ipLengthFromFrame)
        XCTAssertEqual(f.payloadLength, 3000)
        XCTAssertEqual(f.outcome, .ok)
    }
}
