import Foundation
import RxrayDecode
import XCTest

@testable import RxrayCapture

final class BPFFilterTests: XCTestCase {
    func testFilterSelectsKnownFramesAndKeepsTheirFileNumbers() throws {
        // eth.pcap: 3, 4, 5 are TCP; 11 is an ICMP error quoting TCP (not TCP itself).
        XCTAssertEqual(readAll(Fixtures.path("eth.pcap"), filter: "tcp").frames.map(\.index), [3, 4, 5])
        XCTAssertEqual(readAll(Fixtures.path("eth.pcap"), filter: "arp").frames.map(\.index), [1, 2])
        XCTAssertEqual(readAll(Fixtures.path("eth.pcap"), filter: "icmp").frames.map(\.index), [7, 8, 9, 10, 11])
        XCTAssertEqual(readAll(Fixtures.path("eth.pcap"), filter: "udp and port 53").frames.map(\.index), [6])
        XCTAssertEqual(readAll(Fixtures.path("eth.pcap"), filter: "ip[6:2] & 0x3fff != 0").frames.map(\.index), [13, 14])
        XCTAssertEqual(readAll(Fixtures.path("eth.pcap")).frames.count, 14, "no filter: every frame")
    }

    func testFilterWorksPerInterfaceLinkTypeInAMixedPcapng() throws {
        // multi.pcapng holds the TCP SYN 40040 -> 80 twice (tun0 RAW, any SLL2) and the eth0 TCP frames.
        let frames = readAll(Fixtures.path("multi.pcapng"), filter: "tcp dst port 80").frames
        XCTAssertEqual(frames.map(\.interfaceName), ["tun0", "any", "eth0", "eth0"])
        let ipv6 = readAll(Fixtures.path("multi.pcapng"), filter: "ip6").frames
        XCTAssertEqual(Set(ipv6.map(\.interfaceName)), ["tun0", "any"])
        XCTAssertEqual(ipv6.count, 3)
    }

    func testUDPFilterOnEveryLinkTypeMatchesTsharksUDPFrames() throws {
        // NULL and LOOP include IPv6 with BSD address families 24 and 30, which libpcap only
        // matches when compiling for a capture file (as tcpdump -r does).
        for name in ["raw.pcap", "ipv4.pcap", "ipv6.pcap", "null.pcap", "loop.pcap", "sll.pcap", "sll2.pcap", "eth-swapped.pcap"] {
            let expected = try ExpectedFrame.load(name).filter { $0.fields["udp.srcport"] != "" }.map(\.number)
            XCTAssertFalse(expected.isEmpty, name)
            let udp = readAll(Fixtures.path(name), filter: "udp")
            XCTAssertNil(udp.error, name)
            XCTAssertEqual(udp.frames.map(\.index), expected, name)
        }
    }

    func testVLANFilters() throws {
        let path = Fixtures.path("eth-vlan.pcap")
        XCTAssertEqual(readAll(path, filter: "vlan 100").frames.map(\.index), [1, 2])
        XCTAssertEqual(readAll(path, filter: "vlan and vlan and udp").frames.map(\.index), [3, 4])
        XCTAssertEqual(readAll(path, filter: "vlan 200 and vlan 300").frames.map(\.index), [3])
        XCTAssertEqual(readAll(path, filter: "udp").frames.map(\.index), [], "without vlan, tagged frames do not match")
    }

    func testSetFilterCanBeChangedAndRemoved() throws {
        let reader = try CaptureReader(path: Fixtures.path("eth.pcap"), filter: "arp")
        XCTAssertEqual(try reader.next()?.index, 1)
        try reader.setFilter("icmp")
        XCTAssertEqual(try reader.next()?.index, 7)
        try reader.setFilter(nil)
        XCTAssertEqual(try reader.next()?.index, 8)
    }

    func testBadFilterCarriesLibpcapsMessageAndTheFilterText() throws {
        XCTAssertThrowsError(try CaptureReader(path: Fixtures.path("eth.pcap"), filter: "tcp prot 80")) { error in
            guard case CaptureError.badFilter(let filter, let linkType, let message) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(filter, "tcp prot 80")
            XCTAssertEqual(linkType, .ethernet)
            XCTAssertTrue(message.contains("syntax error"), message)  // libpcap: "syntax error in filter expression"
            XCTAssertEqual("\(error)", "bad capture filter 'tcp prot 80' for link type EN10MB: \(message)")
        }
        XCTAssertThrowsError(try BPFFilter("host 999.1.1.1")) { error in
            guard case CaptureError.badFilter(_, _, let message) = error else { return XCTFail("\(error)") }
            XCTAssertFalse(message.isEmpty)
        }
    }

    func testFilterThatDoesNotApplyToALinkTypeIsABadFilterForThatLinkType() throws {
        // Ethernet addresses mean nothing on raw IP: libpcap refuses to compile it.
        XCTAssertThrowsError(try CaptureReader(path: Fixtures.path("raw.pcap"), filter: "ether host 02:00:00:00:00:0a")) { error in
            guard case CaptureError.badFilter(_, let linkType, let message) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(linkType, .raw)
            XCTAssertTrue(message.lowercased().contains("link") || message.contains("ether"), message)
        }
    }

    func testStandaloneFilterMatchesBytes() throws {
        let filter = try BPFFilter("udp dst port 53", linkTypes: [.raw])
        let reader = try CaptureReader(path: Fixtures.path("raw.pcap"))
        var matched: [Int] = []
        while let frame = try reader.next() { if try filter.matches(frame) { matched.append(frame.index) } }
        XCTAssertEqual(matched, [2])
    }
}
