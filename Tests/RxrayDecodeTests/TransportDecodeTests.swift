import XCTest
@testable import RxrayDecode

final class TCPDecodeTests: XCTestCase {
    func testEveryOptionKindIsParsed() {
        let opts: [UInt8] = [2, 4, 0x05, 0xB4, 3, 3, 7, 4, 2, 8, 10] + be32(111) + be32(222) +
            [5, 18] + be32(1000) + be32(2000) + be32(3000) + be32(4000) + [1, 0, 0]
        XCTAssertEqual(opts.count, 40)
        withFrame(Build.ether(0x0800, Build.ipv4(6, Build.tcp(flags: 0x12, options: opts)))) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.transportHeaderLength, 60)
            let parsed = f.tcpOptions.indices.map { f.tcpOption($0, in: b) }
            var sack = SACKBlocks()
            sack.append(left: 1000, right: 2000)
            sack.append(left: 3000, right: 4000)
            XCTAssertEqual(parsed, [.maximumSegmentSize(1460), .windowScale(7), .sackPermitted,
                                    .timestamp(value: 111, echoReply: 222), .sack(sack),
                                    .noOperation, .endOfList])
            XCTAssertEqual(f.tcpOptionStrings(b), ["mss 1460", "wscale 7", "sackOK", "TS val 111 ecr 222",
                                                   "sack 2 {1000:2000}{3000:4000}", "nop", "eol"])
        }
        withFrame(Build.ether(0x0800, Build.ipv4(6, Build.tcp(options: [99, 4, 0xAA, 0xBB, 2, 3, 1, 1])))) { f, b in
            XCTAssertEqual(f.tcpOption(0, in: b), .unknown(kind: 99, length: 4))
            XCTAssertEqual(f.tcpOption(1, in: b), .unknown(kind: 2, length: 3), "MSS with the wrong length")
            XCTAssertEqual(f.tcpOptionStrings(b), ["opt-99", "opt-2", "nop"])
        }
    }

    func testFourSACKBlocksFit() {
        var opts: [UInt8] = [1, 1, 5, 34]
        for i in 0..<4 { opts += be32(UInt32(i * 10)) + be32(UInt32(i * 10 + 5)) }
        withFrame(Build.ether(0x0800, Build.ipv4(6, Build.tcp(flags: 0x10, options: opts)))) { f, b in
            guard case .sack(let blocks) = f.tcpOption(2, in: b) else { return XCTFail("no sack") }
            XCTAssertEqual(blocks.count, 4)
            XCTAssertEqual(blocks[3].left, 30)
            XCTAssertEqual(blocks[3].right, 35)
        }
    }

    func testMalformedOptionLengthsAreMalformed() {
        for opts in [[2, 1, 0, 0] as [UInt8], [2, 0, 0, 0], [8, 10, 0, 0], [1, 1, 1, 2]] {
            let f = decode(Build.ether(0x0800, Build.ipv4(6, Build.tcp(options: opts))))
            XCTAssertEqual(f.outcome, .malformed(.tcp, .badOptionLength), "\(opts)")
            XCTAssertEqual(f.transportChecksum, .good)
        }
    }

    func testDataOffsetChecks() {
        XCTAssertEqual(decode(Build.ether(0x0800, Build.ipv4(6, Build.tcp(dataOffset: 4)))).outcome, .malformed(.tcp, .dataOffsetTooSmall))
        XCTAssertEqual(decode(Build.ether(0x0800, Build.ipv4(6, Build.tcp(dataOffset: 15)))).outcome, .malformed(.tcp, .dataOffsetBeyondSegment))
        let frame = Build.ether(0x0800, Build.ipv4(6, Build.tcp(options: [1, 1, 1, 1])))
        XCTAssertEqual(decode(Array(frame.prefix(frame.count - 2)), wire: frame.count).outcome, .truncated(.tcp))
        XCTAssertEqual(decode(Build.ether(0x0800, Build.ipv4(6, Array(Build.tcp().prefix(12))))).outcome, .malformed(.tcp, .headerBeyondPayload))
    }

    func testAllNineFlagsAreRead() {
        withFrame(Build.ether(0x0800, Build.ipv4(6, Build.tcp(flags: 0x1FF)))) { f, b in
            let t = f.tcp(in: b)!
            XCTAssertEqual(t.flags, [.fin, .syn, .rst, .psh, .ack, .urg, .ece, .cwr, .ae])
            XCTAssertEqual(t.flags.tcpdumpString, "FSRP.UEWe")
        }
        XCTAssertEqual(TCPFlags(rawValue: 0).tcpdumpString, "none")
    }

    func testPayloadLengthAndChecksum() {
        let payload = Array("hello, world".utf8)
        withFrame(Build.ether(0x0800, Build.ipv4(6, Build.tcp(seq: 1000, ack: 5, flags: 0x18, payload: payload)))) { f, b in
            XCTAssertEqual(f.payloadLength, 12)
            XCTAssertEqual(Array(b[f.payloadRange]), payload)
            XCTAssertEqual(f.transportChecksum, .good)
            XCTAssertEqual(f.tcp(in: b)?.sequenceNumber, 1000)
        }
        var bad = Build.ether(0x0800, Build.ipv4(6, Build.tcp(payload: payload)))
        bad[bad.count - 1] ^= 1
        XCTAssertEqual(decode(bad).outcome, .badChecksum(.tcp))
    }

    func testTCPOverIPv6UsesTheIPv6PseudoHeader() {
        let s = v6("2001:db8::1"), d = v6("2001:db8::2")
        let f = decode(Build.ether(0x86DD, Build.ipv6(6, Build.tcp(payload: [1, 2, 3], src: s, dst: d))))
        XCTAssertEqual(f.transportChecksum, .good)
        XCTAssertEqual(f.outcome, .ok)
    }
}

final class UDPDecodeTests: XCTestCase {
    func testLengthFieldShorterThanThePayloadTrimsIt() {
        var u = Build.udp(payload: [1, 2, 3, 4, 5, 6])
        u[5] = 10   // claim 2 data bytes; recompute the checksum over those 10
        u = Build.withChecksum(Array(u.prefix(10)), checksumAt: 6, proto: 17, src: v4("10.0.0.1"), dst: v4("10.0.0.2")) + [5, 6, 0, 0]
        let f = decode(Build.ether(0x0800, Build.ipv4(17, u)))
        XCTAssertEqual(f.outcome, .ok)
        XCTAssertEqual(f.payloadLength, 2)
        XCTAssertEqual(f.transportChecksum, .good)
    }

    func testLengthFieldChecks() {
        XCTAssertEqual(decode(Build.ether(0x0800, Build.ipv4(17, Build.udp(payload: [1], length: 7)))).outcome, .malformed(.udp, .udpLengthTooShort))
        XCTAssertEqual(decode(Build.ether(0x0800, Build.ipv4(17, Build.udp(payload: [1], length: 30)))).outcome, .malformed(.udp, .udpLengthExceedsPayload))
        XCTAssertEqual(decode(Build.ether(0x0800, Build.ipv4(17, [0, 1, 0, 2]))).outcome, .malformed(.udp, .headerBeyondPayload))
    }

    func testZeroChecksumIsAbsentOverIPv4AndBadOverIPv6() {
        let f4 = decode(Build.ether(0x0800, Build.ipv4(17, Build.udp(payload: [1, 2], zeroChecksum: true))))
        XCTAssertEqual(f4.transportChecksum, .absent)
        XCTAssertEqual(f4.outcome, .ok)
        let f6 = decode(Build.ether(0x86DD, Build.ipv6(17, Build.udp(payload: [1, 2], zeroChecksum: true))))
        XCTAssertEqual(f6.transportChecksum, .bad)
        XCTAssertEqual(f6.outcome, .badChecksum(.udp))
    }

    func testSnappedDatagramIsNotVerifiable() {
        let frame = Build.ether(0x0800, Build.ipv4(17, Build.udp(payload: Array(repeating: 1, count: 100))))
        let f = decode(Array(frame.prefix(60)), wire: frame.count)
        XCTAssertEqual(f.transportChecksum, .notVerifiable)
        XCTAssertEqual(f.outcome, .ok)
        XCTAssertEqual(f.payloadLength, 100)
        XCTAssertEqual(f.payloadRange.count, 60 - 42)
    }
}

final class ICMPDecodeTests: XCTestCase {
    func testEchoRequestFields() {
        withFrame(Build.ether(0x0800, Build.ipv4(1, Build.icmp(type: 8, rest: be16(0x1234) + be16(9), payload: [1, 2, 3])))) { f, b in
            let i = f.icmp(in: b)!
            XCTAssertEqual(i.type, 8)
            XCTAssertEqual(i.identifier, 0x1234)
            XCTAssertEqual(i.sequenceNumber, 9)
            XCTAssertEqual(f.transportChecksum, .good)
            XCTAssertEqual(f.payloadLength, 3)
            XCTAssertNil(f.embedded)
        }
    }

    func testErrorEmbedsTheOffendingHeaderAsAnInnerView() {
        let inner = Build.ipv4(6, Array(Build.tcp(sport: 4444, dport: 22).prefix(8)), src: "10.0.0.2", dst: "192.0.2.7", totalLength: 60)
        withFrame(Build.ether(0x0800, Build.ipv4(1, Build.icmp(type: 3, code: 3, payload: inner), src: "192.0.2.1", dst: "10.0.0.2"))) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            let e = f.embedded!
            XCTAssertEqual(e.version, 4)
            XCTAssertEqual(e.protocolNumber, 6)
            XCTAssertEqual(e.source, IPAddress("10.0.0.2"))
            XCTAssertEqual(e.destination, IPAddress("192.0.2.7"))
            XCTAssertEqual(e.sourcePort, 4444)
            XCTAssertEqual(e.destinationPort, 22)
            XCTAssertEqual(f.embeddedIPv4(in: b)?.totalLength, 60)
        }
    }

    func testErrorWithoutEightTransportBytesIsMalformed() {
        let inner = Build.ipv4(17, [1, 2, 3], totalLength: 40)
        let f = decode(Build.ether(0x0800, Build.ipv4(1, Build.icmp(type: 11, payload: inner))))
        XCTAssertEqual(f.outcome, .malformed(.icmp, .badEmbeddedPacket))
        let g = decode(Build.ether(0x0800, Build.ipv4(1, Build.icmp(type: 3, payload: [0x45, 0, 0]))))
        XCTAssertEqual(g.outcome, .malformed(.icmp, .badEmbeddedPacket))
    }

    func testBadChecksum() {
        var frame = Build.ether(0x0800, Build.ipv4(1, Build.icmp(type: 0)))
        frame[frame.count - 1] ^= 0xFF
        XCTAssertEqual(decode(frame).outcome, .badChecksum(.icmp))
    }

    func testICMPOverIPv6IsUnsupported() {
        XCTAssertEqual(decode(Build.ether(0x86DD, Build.ipv6(1, Build.icmp(type: 8)))).outcome, .unsupported(.ipv6, .ipProtocol(1)))
    }
}

final class ICMPv6DecodeTests: XCTestCase {
    func nd(_ type: UInt8, _ body: [UInt8], src: String = "fe80::1", dst: String = "ff02::1") -> [UInt8] {
        Build.ether(0x86DD, Build.ipv6(58, Build.icmpv6(type: type, body: body, src: src, dst: dst), src: src, dst: dst, hlim: 255))
    }

    func testEchoRequestVerifiesWithThePseudoHeader() {
        withFrame(nd(128, be16(7) + be16(8) + [1, 2, 3, 4])) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.icmpv6(in: b)?.identifier, 7)
            XCTAssertEqual(f.icmpv6(in: b)?.sequenceNumber, 8)
            XCTAssertEqual(f.transportChecksum, .good)
        }
    }

    func testNeighborSolicitationWithSourceLinkLayerOption() {
        withFrame(nd(135, [0, 0, 0, 0] + v6("fe80::2") + [1, 1] + Build.srcMAC)) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.icmpv6(in: b)?.targetAddress, IPv6Address("fe80::2"))
            XCTAssertEqual(f.ndOptions.count, 1)
            XCTAssertEqual(f.ndOption(0, in: b), .sourceLinkLayerAddress(MACAddress("02:00:00:00:00:01")!))
        }
    }

    func testRouterAdvertisementWithPrefixAndMTU() {
        let prefix: [UInt8] = [3, 4, 64, 0xC0] + be32(86400) + be32(14400) + [0, 0, 0, 0] + v6("2001:db8:1::")
        let mtu: [UInt8] = [5, 1, 0, 0] + be32(1500)
        let slla: [UInt8] = [1, 1] + Build.srcMAC
        withFrame(nd(134, [64, 0x80] + be16(1800) + be32(0) + be32(0) + slla + mtu + prefix)) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.icmpv6(in: b)?.raRouterLifetime, 1800)
            XCTAssertEqual(f.icmpv6(in: b)?.raHopLimit, 64)
            XCTAssertEqual(f.ndOptions.count, 3)
            XCTAssertEqual(f.ndOption(1, in: b), .mtu(1500))
            XCTAssertEqual(f.ndOption(2, in: b), .prefixInformation(prefix: IPv6Address("2001:db8:1::")!, length: 64, onLink: true,
                                                                    autonomous: true, validLifetime: 86400, preferredLifetime: 14400))
        }
    }

    func testRouterSolicitationNeighborAdvertisementAndRedirect() {
        XCTAssertEqual(decode(nd(133, [0, 0, 0, 0])).outcome, .ok)
        withFrame(nd(136, [0x60, 0, 0, 0] + v6("fe80::2") + [2, 1] + Build.dstMAC)) { f, b in
            XCTAssertEqual(f.icmpv6(in: b)?.naFlags, 0x60)
            XCTAssertEqual(f.ndOption(0, in: b), .targetLinkLayerAddress(MACAddress("02:00:00:00:00:02")!))
        }
        withFrame(nd(137, [0, 0, 0, 0] + v6("fe80::9") + v6("2001:db8::5"))) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.icmpv6(in: b)?.redirectDestination, IPv6Address("2001:db8::5"))
            XCTAssertEqual(f.transportHeaderLength, 40)
        }
    }

    func testZeroLengthOrOverlongNDOptionIsMalformed() {
        XCTAssertEqual(decode(nd(135, [0, 0, 0, 0] + v6("fe80::2") + [1, 0, 0, 0, 0, 0, 0, 0])).outcome, .malformed(.icmpv6, .badNDOptionLength))
        XCTAssertEqual(decode(nd(135, [0, 0, 0, 0] + v6("fe80::2") + [1, 2, 0, 0, 0, 0, 0, 0])).outcome, .malformed(.icmpv6, .badNDOptionLength))
        XCTAssertEqual(decode(nd(135, [0, 0, 0, 0] + [1, 2, 3])).outcome, .malformed(.icmpv6, .headerBeyondPayload))
    }

    func testErrorEmbedsTheInnerIPv6Packet() {
        let inner = Build.ipv6(17, Array(Build.udp(sport: 9, dport: 33434, src: v6("fe80::1"), dst: v6("2001:db8::7")).prefix(8)),
                               src: "fe80::1", dst: "2001:db8::7", payloadLength: 100)
        withFrame(nd(1, [0, 0, 0, 0] + inner, src: "2001:db8::fe", dst: "fe80::1")) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.embedded?.version, 6)
            XCTAssertEqual(f.embedded?.destinationPort, 33434)
            XCTAssertEqual(f.embeddedIPv6(in: b)?.destination, IPv6Address("2001:db8::7"))
        }
        XCTAssertEqual(decode(nd(1, [0, 0, 0, 0] + [0x60, 0, 0])).outcome, .malformed(.icmpv6, .badEmbeddedPacket))
    }
}
