import XCTest
@testable import RxrayDecode

final class ARPDecodeTests: XCTestCase {
    func arp(op: UInt16, htype: UInt16 = 1, ptype: UInt16 = 0x0800, hlen: UInt8 = 6, plen: UInt8 = 4) -> [UInt8] {
        be16(htype) + be16(ptype) + [hlen, plen] + be16(op) + Build.srcMAC + v4("10.0.0.1") + [0, 0, 0, 0, 0, 0] + v4("10.0.0.2")
    }

    func testEthernetIPv4RequestDecodesAllAddresses() {
        withFrame(Build.ether(0x0806, arp(op: 1) + Array(repeating: 0, count: 18))) { f, b in
            XCTAssertEqual(f.outcome, .ok)
            XCTAssertEqual(f.network, .arp)
            let a = f.arp(in: b)!
            XCTAssertEqual(a.operation, ARPHeader.request)
            XCTAssertEqual(a.senderMAC, MACAddress("02:00:00:00:00:01"))
            XCTAssertEqual(a.senderIP, IPv4Address("10.0.0.1"))
            XCTAssertEqual(a.targetMAC, MACAddress.zero)
            XCTAssertEqual(a.targetIP, IPv4Address("10.0.0.2"))
            XCTAssertEqual(f.paddingLength, 18)
            XCTAssertEqual(f.summaryLine(b), "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 46")
        }
    }

    func testNonEthernetHardwareIsUnsupportedButTheFixedHeaderIsRead() {
        withFrame(Build.ether(0x0806, arp(op: 1, htype: 32, hlen: 20))) { f, b in
            XCTAssertEqual(f.outcome, .unsupported(.arp, .arpFormat(hardware: 32, protocol: 0x0800)))
            XCTAssertEqual(f.arp(in: b)?.hardwareLength, 20)
            XCTAssertEqual(f.arp(in: b)?.operation, 1)
        }
    }

    func testWrongAddressLengthsForEthernetIPv4AreMalformed() {
        XCTAssertEqual(decode(Build.ether(0x0806, arp(op: 2, hlen: 8))).outcome, .malformed(.arp, .badARPAddressLength))
    }

    func testCutAddressesAreTruncatedARP() {
        let frame = Array(Build.ether(0x0806, arp(op: 1)).prefix(14 + 20))
        XCTAssertEqual(decode(frame, wire: 60).outcome, .truncated(.arp))
        XCTAssertEqual(decode(Array(frame.prefix(20))).outcome, .truncated(.arp))
    }
}
