import RxrayDecode
import XCTest
@testable import RxrayStack

/// UDP socket lookup with connected sockets (`compute_score()` / `__udp4_lib_lookup()`) and
/// IPv4 multicast acceptance for joined groups (`ip_check_mc_rcu()`).
final class UDPLookupTests: XCTestCase {
    static let local = IPv4Address(192, 0, 2, 1)
    static let peer = IPv4Address(192, 0, 2, 2)

    /// A UDP datagram from `src:sport` to `dst:dport` (checksum filled in).
    func udp(src: IPv4Address = peer, sport: UInt16, dst: IPv4Address = local, dport: UInt16) -> [UInt8] {
        var u: [UInt8] = [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF), 0, 12, 0, 0, 1, 2, 3, 4]
        let c = T.checksum(u, 0..<12, pseudo: Pseudo.v4(src, dst, proto: 17, length: 12))
        u[6] = UInt8(c >> 8); u[7] = UInt8(c & 0xFF)
        return u
    }

    func frame(src: IPv4Address = peer, sport: UInt16, dst: IPv4Address = local, dport: UInt16,
               mac: MACAddress = T.hostMAC0) -> [UInt8] {
        T.eth(mac, type: 0x0800, T.ipv4(src: src, dst: dst, proto: 17, udp(src: src, sport: sport, dst: dst, dport: dport)))
    }

    func connected(port: UInt16 = 5002, peer: IPAddress = .v4(UDPLookupTests.peer), peerPort: UInt16 = 7000) -> ListeningSocket {
        ListeningSocket(proto: .udp, address: .v4(Self.local), isIPv6: false, port: port, peer: peer, peerPort: peerPort)
    }

    func testConnectedSocketReceivesOnlyFromItsPeer() {
        var ns = T.netns()
        ns.sockets = [connected()]
        let fromPeer = T.one(ns, frame(sport: 7000, dport: 5002))
        XCTAssertEqual(fromPeer.fate, .delivered)
        XCTAssertEqual(fromPeer.moved(.udpInDatagrams), 1)
        let otherPort = T.one(ns, frame(sport: 7001, dport: 5002))
        XCTAssertEqual(otherPort.dropReason, .noSocket)
        XCTAssertEqual(otherPort.moved(.udpNoPorts), 1)
        let otherHost = T.one(ns, frame(src: IPv4Address(192, 0, 2, 3), sport: 7000, dport: 5002))
        XCTAssertEqual(otherHost.dropReason, .noSocket)
    }

    func testConnectedToAnAddressOnlyTakesAnySourcePort() {
        var ns = T.netns()
        ns.sockets = [connected(peerPort: 0)]
        XCTAssertEqual(T.one(ns, frame(sport: 40000, dport: 5002)).fate, .delivered)
        XCTAssertEqual(T.one(ns, frame(src: IPv4Address(192, 0, 2, 9), sport: 40000, dport: 5002)).dropReason, .noSocket)
    }

    func lookup(_ sockets: [ListeningSocket], sport: UInt16?) -> ListeningSocket? {
        var ns = T.netns()
        ns.sockets = sockets
        let k = Kernel(ns: ns)
        guard let sport else { return k.findUDPSocket(.v4(Self.local), port: 5002, dev: 1, multicast: false) }
        return k.findUDPSocket(.v4(Self.local), port: 5002, dev: 1, multicast: false, saddr: .v4(Self.peer), sport: sport)
    }

    func testLookupOrderExactAddressThenWildcardConnectedScoresHigher() {
        let unconnected = ListeningSocket(proto: .udp, address: .v4(Self.local), isIPv6: false, port: 5002)
        let wildcard = ListeningSocket(proto: .udp, address: nil, isIPv6: false, port: 5002)
        let wildcardConnected = ListeningSocket(proto: .udp, address: nil, isIPv6: false, port: 5002,
                                                peer: .v4(Self.peer), peerPort: 7000)
        let dualStack = ListeningSocket(proto: .udp, address: nil, isIPv6: true, dualStack: true, port: 5002)
        // The connected socket is listed after the unconnected one and still wins for its peer.
        XCTAssertEqual(lookup([wildcard, unconnected, connected()], sport: 7000), connected())
        XCTAssertEqual(lookup([wildcard, unconnected, connected()], sport: 7001), unconnected)
        // A socket bound to the address wins over a connected wildcard one: the exact-address pass comes first.
        XCTAssertEqual(lookup([wildcardConnected, unconnected], sport: 7000), unconnected)
        XCTAssertEqual(lookup([wildcard, wildcardConnected], sport: 7000), wildcardConnected)
        XCTAssertEqual(lookup([wildcard, wildcardConnected], sport: 9), wildcard)
        // Over IPv4 an AF_INET wildcard socket outscores a dual-stack AF_INET6 one.
        XCTAssertEqual(lookup([dualStack, wildcard], sport: 9), wildcard)
        XCTAssertEqual(lookup([dualStack], sport: 9), dualStack)
        // Callers without a source never match connected sockets.
        XCTAssertNil(lookup([connected()], sport: nil))
        XCTAssertEqual(lookup([connected()], sport: 7000), connected())
    }

    func testMappedAddressesOfAnIPv6SocketMatchIPv4() {
        var ns = T.netns()
        let mapped = IPAddress("::ffff:192.0.2.1")!, mappedPeer = IPAddress("::ffff:192.0.2.2")!
        ns.sockets = [ListeningSocket(proto: .udp, address: mapped, isIPv6: true, port: 5020, peer: mappedPeer, peerPort: 7000)]
        XCTAssertEqual(T.one(ns, frame(sport: 7000, dport: 5020)).fate, .delivered)
        XCTAssertEqual(T.one(ns, frame(src: IPv4Address(192, 0, 2, 3), sport: 7000, dport: 5020)).dropReason, .noSocket)
    }

    func testJoinedMulticastGroupIsAcceptedAndDelivered() {
        let group = IPv4Address(239, 1, 2, 3)
        let mcMAC = MACAddress(0x0100_5E01_0203)
        var ns = T.netns()
        ns.sockets = [ListeningSocket(proto: .udp, address: nil, isIPv6: false, port: 5005)]
        // Not joined: input routing frees it (NOT_SPECIFIED in ip_rcv_finish_core).
        let before = T.one(ns, frame(sport: 20009, dst: group, dport: 5005, mac: mcMAC))
        XCTAssertEqual(before.dropReason, .notSpecified)
        XCTAssertEqual(before.moved(.udpInDatagrams), 0)
        // Joined on eth0 (device 1): delivered to the socket on the port.
        ns.multicastGroups = [MulticastGroup(dev: 1, group: .v4(group))]
        let joined = T.one(ns, frame(sport: 20009, dst: group, dport: 5005, mac: mcMAC))
        XCTAssertEqual(joined.fate, .delivered)
        XCTAssertEqual(joined.moved(.udpInDatagrams), 1)
        // Another group, and the same group on another device, stay unjoined.
        XCTAssertEqual(T.one(ns, frame(sport: 20010, dst: IPv4Address(239, 1, 2, 4), dport: 5005,
                                       mac: MACAddress(0x0100_5E01_0204))).dropReason, .notSpecified)
        XCTAssertEqual(T.one(ns, frame(src: IPv4Address(198, 51, 100, 2), sport: 20009, dst: group, dport: 5005, mac: mcMAC),
                             interface: "eth1").dropReason, .notSpecified)
        // Joined but nobody on the port: UdpIgnoredMulti, no ICMP.
        let noPort = T.one(ns, frame(sport: 20009, dst: group, dport: 5006, mac: mcMAC))
        XCTAssertEqual(noPort.dropReason, .notSpecified)
        XCTAssertEqual(noPort.moved(.udpIgnoredMulti), 1)
        XCTAssertTrue(noPort.replies.isEmpty)
        // A socket connected elsewhere does not take the group's datagrams.
        ns.sockets = [ListeningSocket(proto: .udp, address: nil, isIPv6: false, port: 5005,
                                      peer: .v4(IPv4Address(192, 0, 2, 77)), peerPort: 0)]
        XCTAssertEqual(T.one(ns, frame(sport: 20009, dst: group, dport: 5005, mac: mcMAC)).moved(.udpIgnoredMulti), 1)
    }

    func testAllHostsGroupNeedsNoListing() {
        let ns = T.netns()
        XCTAssertTrue(ns.hasJoined(IPv4Address(224, 0, 0, 1), dev: 1))
        XCTAssertFalse(ns.hasJoined(IPv4Address(224, 0, 0, 2), dev: 1))
    }
}
