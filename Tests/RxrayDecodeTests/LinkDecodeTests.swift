import XCTest
@testable import RxrayDecode

final class LinkDecodeTests: XCTestCase {
    let udpPacket = Build.ipv4(17, Build.udp(payload: [1, 2, 3, 4]))

    func testEthernetIPv4FrameDecodesAddressesAndEtherType() {
        withFrame(Build.ether(0x0800, udpPacket)) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.ethernet(in: b)?.source, MACAddress("02:00:00:00:00:01"))
            XCTAssertEqual(f.ethernet(in: b)?.destination, MACAddress("02:00:00:00:00:02"))
            XCTAssertEqual(f.etherType, 0x0800)
            XCTAssertEqual(f.linkHeaderLength, 14)
            XCTAssertEqual(f.networkOffset, 14)
            XCTAssertEqual(f.network, .ipv4)
            XCTAssertEqual(f.transport, .udp)
        }
    }

    func testSingleVLANTagIsRecordedWithPCPDEIAndVID() {
        let tci: UInt16 = 5 << 13 | 0x1000 | 100
        withFrame(Build.ether(0x0800, udpPacket, tags: [(0x8100, tci)])) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.vlanTags.count, 1)
            XCTAssertEqual(f.vlanTags[0].tpid, 0x8100)
            XCTAssertEqual(f.vlanTags[0].vid, 100)
            XCTAssertEqual(f.vlanTags[0].pcp, 5)
            XCTAssertTrue(f.vlanTags[0].dei)
            XCTAssertEqual(f.networkOffset, 18)
            XCTAssertEqual(f.ipv4(in: b)?.source, IPv4Address("10.0.0.1"))
        }
    }

    func testQinQAndLegacyTagStacksAreWalkedOutermostFirst() {
        let frame = Build.ether(0x86DD, Build.ipv6(59, []), tags: [(0x88A8, 200), (0x9100, 300), (0x8100, 400), (0x8100, 4095)])
        withFrame(frame) { f, _ in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.vlanTags.map(\.vid), [200, 300, 400, 4095])
            XCTAssertEqual(f.vlanTags.map(\.tpid), [0x88A8, 0x9100, 0x8100, 0x8100])
            XCTAssertEqual(f.network, .ipv6)
            XCTAssertEqual(f.networkOffset, 30)
        }
    }

    func testMoreTagsThanTheStackHoldsIsUnsupported() {
        let tags = Array(repeating: (UInt16(0x8100), UInt16(1)), count: VLANTagStack.capacity + 1)
        let f = decode(Build.ether(0x0800, udpPacket, tags: tags))
        XCTAssertEqual(f.outcome, .unsupported(.vlan, .tooManyVLANTags))
        XCTAssertEqual(f.vlanTags.count, VLANTagStack.capacity)
    }

    func testTagCutByTheCaptureIsTruncatedVLAN() {
        let frame = Array(Build.ether(0x0800, udpPacket, tags: [(0x8100, 7)]).prefix(16))
        let f = decode(frame, wire: 60)
        XCTAssertEqual(f.outcome, .truncated(.vlan))
        XCTAssertTrue(f.isSnapped)
    }

    func test8023LengthFieldIsAnUnsupportedLLCFrame() {
        let llc: [UInt8] = [0x42, 0x42, 0x03] + Array(repeating: 0, count: 35)
        var frame = Build.dstMAC + Build.srcMAC + be16(UInt16(llc.count)) + llc
        XCTAssertEqual(decode(frame).outcome, .unsupported(.link, .llcFrame(length: 38)))
        frame = Build.ether(0x0026, llc, tags: [(0x8100, 10)])
        XCTAssertEqual(decode(frame).outcome, .unsupported(.vlan, .llcFrame(length: 0x26)))
    }

    func testUnknownEtherTypeIsUnsupportedWithItsValue() {
        let f = decode(Build.ether(0x88CC, Array(repeating: 0, count: 30)))
        XCTAssertEqual(f.outcome, .unsupported(.link, .etherType(0x88CC)))
        XCTAssertEqual(f.etherType, 0x88CC)
        XCTAssertEqual(f.payloadLength, 30)
    }

    func testShortEthernetHeaderIsTruncatedLink() {
        XCTAssertEqual(decode([1, 2, 3], wire: 3).outcome, .truncated(.link))
        XCTAssertEqual(decode([]).outcome, .truncated(.link))
    }

    func testLinuxSLLCarriesPacketTypeAddressAndProtocol() {
        let sll: [UInt8] = be16(4) + be16(1) + be16(6) + Build.srcMAC + [0, 0] + be16(0x0800)
        withFrame(sll + udpPacket, .linuxSLL) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.linkPacketType, 4)
            XCTAssertEqual(f.linuxSLL(in: b)?.hardwareType, 1)
            XCTAssertEqual(f.linuxSLL(in: b)?.sourceMAC, MACAddress("02:00:00:00:00:01"))
            XCTAssertEqual(f.networkOffset, 16)
            XCTAssertEqual(f.transport, .udp)
        }
        // A VLAN tag re-inserted after the cooked header.
        let tagged: [UInt8] = be16(0) + be16(1) + be16(6) + Build.srcMAC + [0, 0] + be16(0x8100) + be16(42) + be16(0x0800)
        withFrame(tagged + udpPacket, .linuxSLL) { f, _ in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.vlanTags.first?.vid, 42)
        }
        // ETH_P_802_2 pseudo-protocol.
        XCTAssertEqual(decode(be16(0) + be16(1) + be16(6) + Build.srcMAC + [0, 0] + be16(4) + [0, 0, 0], .linuxSLL).outcome,
                       .unsupported(.link, .etherType(4)))
        XCTAssertEqual(decode(Array(sll.prefix(15)), .linuxSLL).outcome, .truncated(.link))
    }

    func testLinuxSLL2CarriesInterfaceIndexAndPacketType() {
        let sll2: [UInt8] = be16(0x86DD) + [0, 0] + be32(7) + be16(1) + [2, 6] + Build.srcMAC + [0, 0]
        withFrame(sll2 + Build.ipv6(59, []), .linuxSLL2) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.interfaceIndex, 7)
            XCTAssertEqual(f.linkPacketType, 2)
            XCTAssertEqual(f.linuxSLL2(in: b)?.sourceMAC, MACAddress("02:00:00:00:00:01"))
            XCTAssertEqual(f.network, .ipv6)
            XCTAssertEqual(f.networkOffset, 20)
            XCTAssertEqual(f.transportProtocol, 59)
        }
        XCTAssertEqual(decode(Array(sll2.prefix(19)), .linuxSLL2).outcome, .truncated(.link))
    }

    func testRawLinkTypeDispatchesOnTheVersionNibble() {
        XCTAssertEqual(decode(udpPacket, .raw).network, .ipv4)
        XCTAssertEqual(decode(Build.ipv6(59, []), .raw).network, .ipv6)
        XCTAssertEqual(decode([0x50] + Array(repeating: 0, count: 30), .raw).outcome, .unsupported(.link, .ipVersion(5)))
        XCTAssertEqual(decode([], .raw).outcome, .truncated(.link))
    }

    func testIPv4AndIPv6LinkTypesCheckTheVersion() {
        XCTAssertEqual(decode(udpPacket, .ipv4).outcome, .ok)
        XCTAssertEqual(decode(Build.ipv6(59, []), .ipv6).outcome, .ok)
        XCTAssertEqual(decode(Build.ipv6(59, []), .ipv4).outcome, .malformed(.ipv4, .versionMismatch))
        let longer = Build.ipv4(17, Build.udp(payload: Array(repeating: 9, count: 20)))
        XCTAssertEqual(decode(longer, .ipv6).outcome, .malformed(.ipv6, .versionMismatch))
        XCTAssertEqual(decode(udpPacket, .ipv6).outcome, .truncated(.ipv6), "40 bytes are needed before the version is judged")
    }

    func testNullLinkTypeDetectsTheCapturingHostsByteOrder() {
        for family: UInt32 in [2, 10, 24, 28, 30] {
            let payload = family == 2 ? udpPacket : Build.ipv6(59, [])
            let le: [UInt8] = [UInt8(family), 0, 0, 0]
            let be: [UInt8] = [0, 0, 0, UInt8(family)]
            for header in [le, be] {
                let f = decode(header + payload, .null)
                XCTAssertEqual(f.outcome, .ok, "family \(family) header \(header)")
                XCTAssertEqual(f.loopbackFamily, family)
                XCTAssertEqual(f.network, family == 2 ? .ipv4 : .ipv6)
            }
        }
        XCTAssertEqual(decode([7, 0, 0, 0] + udpPacket, .null).outcome, .unsupported(.link, .addressFamily(7)))
        XCTAssertEqual(decode([2, 0], .null).outcome, .truncated(.link))
    }

    func testLoopLinkTypeIsNetworkOrder() {
        XCTAssertEqual(decode([0, 0, 0, 2] + udpPacket, .loop).network, .ipv4)
        XCTAssertEqual(decode([0, 0, 0, 24] + Build.ipv6(59, []), .loop).network, .ipv6)
        XCTAssertEqual(decode([2, 0, 0, 0] + udpPacket, .loop).outcome, .unsupported(.link, .addressFamily(0x0200_0000)))
    }

    func testUnknownLinkTypeIsUnsupported() {
        XCTAssertEqual(decode(udpPacket, LinkType(rawValue: 105)).outcome, .unsupported(.link, .linkType(105)))
    }
}
