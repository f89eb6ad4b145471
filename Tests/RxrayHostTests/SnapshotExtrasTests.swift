import Foundation
import RxrayDecode
import RxrayRules
import XCTest
@testable import RxrayHost

/// The rxray extras `sockets-udp-connected.txt` (connected UDP sockets) and `ip-maddr.json`
/// (multicast memberships): parsers, loading, and the YAML profile round trip.
final class SnapshotExtrasTests: XCTestCase {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    // `ss -H -uan state established` as ss 6.1 prints it (no Netid/State columns), taken from a
    // namespace with an IPv4 socket connected to 10.9.0.2:7000 and an IPv6 one connected to ::1.
    func testConnectedUDPSocketLines() throws {
        let text = """
            0      0      10.9.0.1:5002 10.9.0.2:7000
            0      0         [::1]:5010    [::1]:7000
            213    0      192.0.2.1%eth0:53 198.51.100.9:0
            0      0      [::ffff:192.0.2.1]:5020 [::ffff:192.0.2.2]:7001

            """
        let s = try SnapshotParsers.connectedUDPSockets(file: "c.txt", bytes: bytes(text))
        XCTAssertEqual(s.count, 4)
        XCTAssertEqual(s[0], Socket(proto: .udp, local: .address(IPAddress("10.9.0.1")!), port: 5002,
                                    peer: IPAddress("10.9.0.2")!, peerPort: 7000))
        XCTAssertTrue(s[0].isConnected)
        XCTAssertEqual(s[1].local, .address(IPAddress("::1")!))
        XCTAssertEqual(s[1].peer, IPAddress("::1")!)
        XCTAssertEqual(s[2].interface, "eth0")
        XCTAssertEqual(s[2].recvQ, 213)
        XCTAssertEqual(s[2].peerPort, 0, "connected to an address only")
        XCTAssertEqual(s[3].peer, IPAddress("::ffff:192.0.2.2")!, "mapped peers are kept as written")
        // A header line, as printed without -H, is skipped.
        let h = try SnapshotParsers.connectedUDPSockets(file: "c.txt", bytes: bytes("Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n0 0 10.0.0.1:1 10.0.0.2:2\n"))
        XCTAssertEqual(h.count, 1)
        XCTAssertTrue(try SnapshotParsers.connectedUDPSockets(file: "c.txt", bytes: []).isEmpty)
    }

    func testConnectedUDPSocketErrorsNameLineAndColumn() {
        // `ss -uan` without the state filter has Netid/State columns: a clear error, not a guess.
        XCTAssertThrowsError(try SnapshotParsers.connectedUDPSockets(file: "c.txt", bytes: bytes("0 0 10.0.0.1:1 10.0.0.2:2\nESTAB 0 0 10.0.0.1:5 10.0.0.2:7\n"))) { e in
            let ie = e as? InputError
            XCTAssertEqual(ie?.line, 2)
            XCTAssertEqual(ie?.column, 1)
            XCTAssertTrue("\(e)".contains("state established"), "\(e)")
        }
        XCTAssertThrowsError(try SnapshotParsers.connectedUDPSockets(file: "c.txt", bytes: bytes("0 0 10.0.0.1:5\n"))) { e in
            XCTAssertTrue("\(e)".hasPrefix("c.txt:1:"), "\(e)")
        }
        XCTAssertThrowsError(try SnapshotParsers.connectedUDPSockets(file: "c.txt", bytes: bytes("0 0 10.0.0.1:5 *:*\n"))) { e in
            XCTAssertEqual((e as? InputError)?.column, 16)
        }
        XCTAssertThrowsError(try SnapshotParsers.connectedUDPSockets(file: "c.txt", bytes: bytes("0 0 10.0.0.1:5 10.0.0.300:7\n")))
    }

    // `ip -j maddr show` (iproute2 6.1) from a namespace where d0 joined 239.1.2.3.
    static let maddr = """
        [{"ifindex":1,"ifname":"lo","maddr":[{"family":"inet","address":"224.0.0.1"},{"family":"inet6","address":"ff02::1"},\
        {"family":"inet6","address":"ff01::1"}]},{"ifindex":3,"ifname":"d0","maddr":[{"link":"33:33:00:00:00:01"},\
        {"link":"01:00:5e:00:00:01"},{"link":"01:00:5e:01:02:03"},{"family":"inet","address":"239.1.2.3"},\
        {"family":"inet","address":"224.0.0.1"},{"family":"inet6","address":"ff02::1:ff4b:911a"},{"family":"inet6","address":"ff02::1"}]},
        {"ifindex":4,"ifname":"can0"}]
        """

    func testMulticastGroups() throws {
        let g = try SnapshotParsers.multicastGroups(file: "ip-maddr.json", bytes: bytes(Self.maddr))
        XCTAssertEqual(g.count, 7, "link-layer entries are skipped")
        XCTAssertEqual(g.filter { $0.interface == "d0" }.map(\.group.description),
                       ["239.1.2.3", "224.0.0.1", "ff02::1:ff4b:911a", "ff02::1"])
        let h = Host(multicastGroups: g)
        XCTAssertTrue(h.hasJoined(IPAddress("239.1.2.3")!, on: "d0"))
        XCTAssertFalse(h.hasJoined(IPAddress("239.1.2.3")!, on: "lo"))
        XCTAssertFalse(h.hasJoined(IPAddress("239.1.2.4")!, on: "d0"))
    }

    func testMulticastGroupErrors() {
        let bad: [(String, String)] = [
            (#"[{"ifname":"e","maddr":[{"family":"inet","address":"10.0.0.1"}]}]"#, "not a multicast address"),
            (#"[{"ifname":"e","maddr":[{"family":"inet","address":"ff02::1"}]}]"#, "does not match"),
            (#"[{"ifname":"e","maddr":[{"family":"inet"}]}]"#, "missing \"address\""),
            (#"[{"ifname":"e","maddr":[{"what":1}]}]"#, "expected \"family\""),
            (#"[{"ifname":"e","maddr":{}}]"#, "expected an array"),
            (#"[{"maddr":[]}]"#, "ifname"),
            (#"{"ifname":"e"}"#, "JSON array"),
        ]
        for (json, needle) in bad {
            XCTAssertThrowsError(try SnapshotParsers.multicastGroups(file: "ip-maddr.json", bytes: bytes(json)), json) { e in
                XCTAssertTrue("\(e)".hasPrefix("ip-maddr.json:1:"), "\(e)")
                XCTAssertTrue("\(e)".contains(needle), "\(json): \(e)")
            }
        }
    }

    func testDirectoryLoadsBothExtras() throws {
        let dir = try HostFixtures.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try HostFixtures.write("udp UNCONN 0 0 0.0.0.0:5005 0.0.0.0:*\n", dir, SnapshotFile.sockets)
        try HostFixtures.write("0 0 192.0.2.1:5002 192.0.2.2:7000\n", dir, SnapshotFile.udpConnected)
        try HostFixtures.write(Self.maddr, dir, SnapshotFile.ipMaddr)
        let h = try HostLoader.loadDirectory(dir)
        XCTAssertEqual(h.udpSockets.count, 2)
        let c = try XCTUnwrap(h.udpSockets.first { $0.isConnected })
        XCTAssertEqual(c.port, 5002)
        XCTAssertEqual(c.peer, IPAddress("192.0.2.2")!)
        XCTAssertEqual(c.peerPort, 7000)
        XCTAssertTrue(h.hasJoined(IPAddress("239.1.2.3")!, on: "d0"))
        // Both extras are optional: without them the host has no connected sockets or groups.
        try FileManager.default.removeItem(atPath: dir + "/" + SnapshotFile.udpConnected)
        try FileManager.default.removeItem(atPath: dir + "/" + SnapshotFile.ipMaddr)
        let plain = try HostLoader.loadDirectory(dir)
        XCTAssertEqual(plain.udpSockets.count, 1)
        XCTAssertTrue(plain.multicastGroups.isEmpty)
    }

    func testRecordedUDPScenarioSnapshot() throws {
        let dir = HostFixtures.root + "/Fixtures/scenarios/udp-sockets/host"
        guard FileManager.default.fileExists(atPath: dir + "/" + SnapshotFile.ipMaddr) else {
            throw XCTSkip("\(dir) has no \(SnapshotFile.ipMaddr)")
        }
        let h = try HostLoader.loadDirectory(dir)
        XCTAssertTrue(h.hasJoined(IPAddress("239.1.2.3")!, on: "eth0"))
        XCTAssertFalse(h.hasJoined(IPAddress("239.1.2.3")!, on: "eth1"))
        XCTAssertEqual(h.udpSockets.filter(\.isConnected).map { "\($0.local):\($0.port)>\($0.peer!):\($0.peerPort)" },
                       ["192.0.2.1:5002>192.0.2.2:7000"])
    }

    func testProfileRoundTripKeepsPeersAndGroups() throws {
        var h = HostLoader.defaultHost()
        h.sockets = [Socket(proto: .udp, local: .anyV4, port: 53),
                     Socket(proto: .udp, local: .address(IPAddress("192.0.2.1")!), port: 5002,
                            peer: IPAddress("192.0.2.2")!, peerPort: 7000),
                     Socket(proto: .udp, local: .address(IPAddress("2001:db8::1")!), port: 5003,
                            peer: IPAddress("2001:db8::2")!)]
        h.multicastGroups = [MulticastMembership(interface: "lo", group: IPAddress("239.1.2.3")!),
                             MulticastMembership(interface: "lo", group: IPAddress("ff02::1:ff00:1")!)]
        let yaml = HostProfile.yaml(for: h)
        XCTAssertTrue(yaml.contains("peer_port: 7000"), yaml)
        XCTAssertTrue(yaml.contains("multicast:"), yaml)
        let back = try HostProfile.parse(yaml, file: "p.yaml")
        XCTAssertEqual(back.sockets, h.sockets)
        XCTAssertEqual(back.multicastGroups, h.multicastGroups)
        XCTAssertEqual(back, h)
        XCTAssertThrowsError(try HostProfile.parse("multicast:\n  - {interface: eth0, group: 10.0.0.1}\n", file: "p.yaml")) { e in
            XCTAssertTrue("\(e)".contains("not a multicast address"), "\(e)")
        }
        XCTAssertThrowsError(try HostProfile.parse("udp:\n  - {address: 0.0.0.0, port: 5, peer_port: 7}\n", file: "p.yaml")) { e in
            XCTAssertTrue("\(e)".contains("needs \"peer\""), "\(e)")
        }
    }
}
