import XCTest
@testable import RxrayDecode

final class IPv6DecodeTests: XCTestCase {
    let src = v6("2001:db8::1"), dst = v6("2001:db8::2")
    func udp6(_ n: Int = 4) -> [UInt8] { Build.udp(payload: Array(repeating: 7, count: n), src: src, dst: dst) }

    /// An extension header of `nh` with `body` (padded by the caller to the right size).
    func ext(_ next: UInt8, _ body: [UInt8]) -> [UInt8] {
        precondition((body.count + 2) % 8 == 0)
        return [next, UInt8((body.count + 2) / 8 - 1)] + body
    }

    func testFixedHeaderFieldsAreRead() {
        var p = Build.ipv6(17, udp6(), hlim: 3)
        p[1] = 0xA1; p[2] = 0x23; p[3] = 0x45   // traffic class 0x0a, flow 0x12345
        withFrame(Build.ether(0x86DD, p)) { f, b in
            let h = f.ipv6(in: b)!
            XCTAssertEqual(h.trafficClass, 0x0A)
            XCTAssertEqual(h.flowLabel, 0x12345)
            XCTAssertEqual(h.hopLimit, 3)
            XCTAssertEqual(h.payloadLength, 12)
            XCTAssertEqual(h.source, IPv6Address("2001:db8::1"))
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.transportChecksum, .good)
        }
    }

    func testFullChainIsRecordedInOrderWithTheFinalProtocol() {
        let hbh = ext(43, [5, 2, 0, 0, 1, 0])                            // router alert 0, PadN(0)
        let rh = ext(44, [0, 0, 0, 0, 0, 0])                             // routing type 0, segments left 0
        let frag = [60, 0] + be16(0) + be32(0x1234)                      // fragment offset 0, M=0
        let dopt = ext(51, [0, 0xC3, 2, 0xAA, 0xBB, 0])                  // Pad1, unknown 0xc3, Pad1
        let ah = [17, 4, 0, 0] + be32(0x100) + be32(1) + Array(repeating: 0, count: 12) // (4+2)*4 = 24 bytes
        let chain = hbh + rh + frag + dopt + ah
        let frame = Build.ether(0x86DD, Build.ipv6(0, chain + udp6()))
        withFrame(frame) { f, _ in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.ipv6Extensions.map(\.type), [0, 43, 44, 60, 51])
            XCTAssertEqual(f.ipv6Extensions.map(\.length), [8, 8, 8, 8, 24])
            XCTAssertEqual(f.ipv6Extensions.map(\.nextHeader), [43, 44, 60, 51, 17])
            XCTAssertEqual(f.ipv6Extensions[0].offset, 54)
            XCTAssertEqual(f.routerAlert, 0)
            XCTAssertEqual(f.fragment, FragmentInfo(identification: 0x1234, offset: 0, moreFragments: false, dontFragment: false))
            XCTAssertEqual(f.transportProtocol, 17)
            XCTAssertEqual(f.transportOffset, 54 + chain.count)
            XCTAssertEqual(f.transport, .udp)
        }
    }

    func testHopByHopOptionsIterate() {
        let body: [UInt8] = [0, 1, 1, 0, 5, 2, 0, 1, 0x3E, 2, 9, 9] + [1, 0]
        let header = ext(59, body)
        header.withUnsafeBytes { raw in
            var it = IPv6OptionIterator(header: raw)
            var seen: [IPv6Option] = []
            while let o = it.next() { seen.append(o) }
            XCTAssertEqual(seen, [.pad1, .padN(length: 3), .routerAlert(1), .unknown(type: 0x3E, dataLength: 2), .padN(length: 2)])
            XCTAssertFalse(it.isMalformed)
        }
    }

    func testRoutingHeaderGivesTypeSegmentsAndTheChecksumDestination() {
        let final = v6("2001:db8::99")
        let rh: [UInt8] = [17, 4, 0, 1, 0, 0, 0, 0] + v6("2001:db8::50") + final
        // The pseudo-header uses the final destination while segments are left.
        let u = Build.udp(payload: [1, 2, 3, 4], src: src, dst: final)
        withFrame(Build.ether(0x86DD, Build.ipv6(43, rh + u))) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            let r = IPv6RoutingHeader(b, record: f.ipv6Extensions[0])!
            XCTAssertEqual(r.routingType, 0)
            XCTAssertEqual(r.segmentsLeft, 1)
            XCTAssertEqual(r.finalDestination, IPv6Address("2001:db8::99"))
            XCTAssertEqual(f.transportChecksum, .good)
        }
    }

    func testLaterFragmentStopsTheWalk() {
        let frag: [UInt8] = [17, 0] + be16(5 << 3 | 1) + be32(77)
        withFrame(Build.ether(0x86DD, Build.ipv6(44, frag + Array(repeating: 0, count: 16)))) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.fragment?.offset, 5)
            XCTAssertEqual(f.fragment?.moreFragments, true)
            XCTAssertEqual(f.fragment?.identification, 77)
            XCTAssertEqual(IPv6FragmentHeader(b, record: f.ipv6Extensions[0])?.identification, 77)
            XCTAssertEqual(f.transport, .none)
            XCTAssertEqual(f.transportProtocol, 17)
            XCTAssertEqual(f.payloadLength, 16)
        }
    }

    func testESPEndsTheWalkAsEncrypted() {
        let f = decode(Build.ether(0x86DD, Build.ipv6(50, be32(0x1000) + be32(1) + Array(repeating: 0xEE, count: 24))))
        XCTAssertEqual(f.outcome, .unsupported(.ipv6Extension, .encrypted))
        XCTAssertEqual(f.ipv6Extensions.map(\.type), [50])
        XCTAssertEqual(f.transportProtocol, 50)
        XCTAssertEqual(f.payloadLength, 32)
    }

    func testNoNextHeaderEndsTheWalk() {
        let f = decode(Build.ether(0x86DD, Build.ipv6(60, ext(59, [1, 4, 0, 0, 0, 0]))))
        XCTAssertEqual(f.outcome, .ok)
        XCTAssertEqual(f.transportProtocol, 59)
        XCTAssertEqual(f.transport, .none)
    }

    func testChainRunningPastTheCaptureIsTruncated() {
        let frame = Build.ether(0x86DD, Build.ipv6(0, ext(17, [1, 4, 0, 0, 0, 0]) + udp6()))
        XCTAssertEqual(decode(Array(frame.prefix(54 + 4)), wire: frame.count).outcome, .truncated(.ipv6Extension))
        XCTAssertEqual(decode(Array(frame.prefix(54 + 8 + 3)), wire: frame.count).outcome, .truncated(.udp))
    }

    func testHeaderLongerThanThePayloadIsMalformed() {
        var h = ext(17, [1, 4, 0, 0, 0, 0])
        h[1] = 3  // claims 32 bytes
        XCTAssertEqual(decode(Build.ether(0x86DD, Build.ipv6(0, h + udp6()))).outcome, .malformed(.ipv6Extension, .badExtensionHeaderLength))
        let ahZero: [UInt8] = [17, 0, 0, 0, 0, 0, 0, 0]
        XCTAssertEqual(decode(Build.ether(0x86DD, Build.ipv6(51, ahZero + udp6()))).outcome, .malformed(.ipv6Extension, .badExtensionHeaderLength))
    }

    func testBadOptionLengthInHopByHopIsMalformed() {
        let f = decode(Build.ether(0x86DD, Build.ipv6(0, ext(17, [1, 9, 0, 0, 0, 0]) + udp6())))
        XCTAssertEqual(f.outcome, .malformed(.ipv6Extension, .badOptionLength))
        XCTAssertEqual(f.transport, .udp)
    }

    func testHopByHopAfterAnotherHeaderIsMalformed() {
        let f = decode(Build.ether(0x86DD, Build.ipv6(60, ext(0, [1, 4, 0, 0, 0, 0]) + ext(17, [1, 4, 0, 0, 0, 0]) + udp6())))
        XCTAssertEqual(f.outcome, .malformed(.ipv6Extension, .hopByHopNotFirst))
    }

    func testJumboPayloadSetsTheDatagramLength() {
        let n = 70_000
        let payload = Array(repeating: UInt8(3), count: n)
        let hbh = ext(59, [0xC2, 4] + be32(UInt32(8 + n)))
        let frame = Build.ether(0x86DD, Build.ipv6(0, hbh + payload, payloadLength: 0))
        let f = decode(frame)
        XCTAssertEqual(f.outcome, .ok)
        XCTAssertEqual(f.ipEnd, frame.count)
        XCTAssertEqual(f.payloadLength, n)
        // A jumbo option with a non-zero payload length is malformed.
        let bad = Build.ether(0x86DD, Build.ipv6(0, ext(59, [0xC2, 4] + be32(70_000))))
        XCTAssertEqual(decode(bad).outcome, .malformed(.ipv6Extension, .badJumboPayload))
    }

    func testPayloadLengthBeyondTheFrameIsMalformed() {
        XCTAssertEqual(decode(Build.ether(0x86DD, Build.ipv6(17, udp6(), payloadLength: 100))).outcome,
                       .malformed(.ipv6, .totalLengthExceedsFrame))
    }

    func testTooManyExtensionHeadersIsUnsupported() {
        var chain: [UInt8] = []
        for _ in 0..<(IPv6ExtensionChain.capacity + 1) { chain += ext(60, [1, 4, 0, 0, 0, 0]) }
        chain[chain.count - 8] = 59
        XCTAssertEqual(decode(Build.ether(0x86DD, Build.ipv6(60, chain))).outcome, .unsupported(.ipv6Extension, .tooManyExtensionHeaders))
    }
}
