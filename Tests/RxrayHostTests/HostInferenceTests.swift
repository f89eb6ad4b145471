import RxrayDecode
import XCTest
@testable import RxrayHost

final class HostInferenceTests: XCTestCase {
    let me = MACAddress("02:00:00:00:00:0a")!, gw = MACAddress("02:00:00:00:00:01")!, lan = MACAddress("02:00:00:00:00:05")!
    func ip(_ s: String) -> IPAddress { IPAddress(s)! }

    func frames() -> [FrameFacts] {
        var f: [FrameFacts] = []
        // Internet client -> our port 443 through the gateway; we answer SYN-ACK.
        f.append(FrameFacts(srcMAC: gw, dstMAC: me, srcIP: ip("203.0.113.9"), dstIP: ip("192.0.2.10"), l4Protocol: 6, srcPort: 5000, dstPort: 443, tcpFlags: 0x02))
        f.append(FrameFacts(srcMAC: me, dstMAC: gw, srcIP: ip("192.0.2.10"), dstIP: ip("203.0.113.9"), l4Protocol: 6, srcPort: 443, dstPort: 5000, tcpFlags: 0x12))
        f.append(FrameFacts(srcMAC: gw, dstMAC: me, srcIP: ip("203.0.113.9"), dstIP: ip("192.0.2.10"), l4Protocol: 6, srcPort: 5000, dstPort: 443, tcpFlags: 0x10))
        // A closed port answers RST: not a listener.
        f.append(FrameFacts(srcMAC: gw, dstMAC: me, srcIP: ip("198.51.100.4"), dstIP: ip("192.0.2.10"), l4Protocol: 6, srcPort: 5001, dstPort: 25, tcpFlags: 0x02))
        f.append(FrameFacts(srcMAC: me, dstMAC: gw, srcIP: ip("192.0.2.10"), dstIP: ip("198.51.100.4"), l4Protocol: 6, srcPort: 25, dstPort: 5001, tcpFlags: 0x14))
        // LAN peer asks our DNS; we answer.
        f.append(FrameFacts(srcMAC: lan, dstMAC: me, srcIP: ip("192.0.2.5"), dstIP: ip("192.0.2.10"), l4Protocol: 17, srcPort: 3333, dstPort: 53))
        f.append(FrameFacts(srcMAC: me, dstMAC: lan, srcIP: ip("192.0.2.10"), dstIP: ip("192.0.2.5"), l4Protocol: 17, srcPort: 53, dstPort: 3333))
        // Broadcast noise.
        f.append(FrameFacts(srcMAC: lan, dstMAC: .broadcast, srcIP: ip("192.0.2.5"), dstIP: ip("255.255.255.255"), l4Protocol: 17, srcPort: 68, dstPort: 67))
        return f
    }

    func testInfersInterfaceListenersAndGateway() throws {
        let r = HostLoader.infer(from: frames())
        let h = r.host
        let eth0 = try XCTUnwrap(h.interface(named: "eth0"))
        XCTAssertEqual(eth0.mac, me)
        XCTAssertEqual(eth0.ipv4Addresses.map(\.prefix.description), ["192.0.2.10/24"])
        XCTAssertEqual(h.tcpListeners.map(\.port), [443])
        XCTAssertEqual(h.udpSockets.map(\.port), [53])
        let dflt = try XCTUnwrap(h.routingTable(RouteTable.main).first { $0.destination.length == 0 })
        XCTAssertEqual(dflt.gateway, ip("192.0.2.1"), "no on-link address seen from the gateway MAC: the prefix's first host")
        XCTAssertEqual(h.neighbours.first?.lladdr, gw)
        XCTAssertTrue(h.rulesets.isEmpty)
        XCTAssertEqual(h.source.kind, .inferred)
        // The printed profile loads back to the same host.
        XCTAssertTrue(r.yaml.hasPrefix("# inferred from 8 frame(s)"), r.yaml)
        XCTAssertEqual(try HostProfile.parse(r.yaml, file: "inferred.yaml"), h)
    }

    func testNoFramesGivesLoopbackOnly() {
        let r = HostLoader.infer(from: [FrameFacts]())
        XCTAssertEqual(r.host.interfaces.map(\.name), ["lo"])
        XCTAssertTrue(r.yaml.contains("no unicast frames"))
    }
}
