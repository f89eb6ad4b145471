import Foundation
import RxrayDecode
import RxrayRules
import XCTest
@testable import RxrayHost

final class SnapshotParsersTests: XCTestCase {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    // iproute2 6.1 prints these for a VLAN and a bond (this kernel has neither module, so the
    // objects are written from iproute2's ip/iplink_vlan.c and ip/iplink_bond.c output format).
    func testVLANAndBondLinks() throws {
        let json = """
            [{"ifindex":5,"link":"eth0","ifname":"eth0.10","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,\
            "link_type":"ether","address":"02:00:00:00:00:01","promiscuity":0,"linkinfo":{"info_kind":"vlan",\
            "info_data":{"protocol":"802.1Q","id":10,"flags":["REORDER_HDR"]}},"num_rx_queues":1},
            {"ifindex":6,"link":"eth0","ifname":"qinq","flags":["UP"],"mtu":1500,"link_type":"ether","address":"02:00:00:00:00:01",\
            "linkinfo":{"info_kind":"vlan","info_data":{"protocol":"802.1ad","id":100}}},
            {"ifindex":7,"ifname":"bond0","flags":["BROADCAST","MASTER","UP"],"mtu":1500,"link_type":"ether","address":"02:00:00:00:00:07",\
            "linkinfo":{"info_kind":"bond","info_data":{"mode":"active-backup"}}},
            {"ifindex":8,"ifname":"eth3","flags":["BROADCAST","SLAVE","UP"],"mtu":1500,"master":"bond0","link_type":"ether",\
            "address":"02:00:00:00:00:07","promiscuity":1,"linkinfo":{"info_kind":"veth","info_slave_kind":"bond",\
            "info_slave_data":{"state":"ACTIVE"}}}]
            """
        let links = try SnapshotParsers.links(file: "ip-link.json", bytes: bytes(json))
        XCTAssertEqual(links[0].kind, .vlan(parent: "eth0", id: 10, proto: .dot1Q))
        XCTAssertEqual(links[1].kind, .vlan(parent: "eth0", id: 100, proto: .dot1AD))
        XCTAssertEqual(links[2].kind, .bond)
        XCTAssertEqual(links[3].master, "bond0")
        XCTAssertEqual(links[3].portKind, .bond)
        XCTAssertTrue(links[3].promisc, "promiscuity > 0 counts")
        XCTAssertFalse(links[1].lowerUp)
    }

    func testVLANWithoutIDIsAnError() {
        let json = #"[{"ifindex":5,"link":"eth0","ifname":"v","flags":[],"linkinfo":{"info_kind":"vlan","info_data":{}}}]"#
        XCTAssertThrowsError(try SnapshotParsers.links(file: "ip-link.json", bytes: bytes(json))) { e in
            XCTAssertTrue("\(e)".hasPrefix("ip-link.json:1:"), "\(e)")
            XCTAssertTrue("\(e)".contains("id"), "\(e)")
        }
    }

    func testRouteKindsAndUnsupportedNexthopObjects() throws {
        let json = """
            [{"type":"nat","dst":"1.2.3.4","flags":[]},{"dst":"10.0.0.0/8","via":{"family":"inet6","host":"fe80::1"},"dev":"eth0","flags":["onlink"]},
            {"dst":"default","pref":"medium","metric":1024,"flags":[],"type":"unreachable","dev":"lo"}]
            """
        let r = try SnapshotParsers.routes(file: "ip-route.json", bytes: bytes(json))
        XCTAssertEqual(r.v4.map(\.type), [.nat, .unicast])
        XCTAssertEqual(r.v4[1].gateway, IPAddress("fe80::1"), "IPv4 route via an IPv6 next hop")
        XCTAssertTrue(r.v4[1].onlink)
        XCTAssertEqual(r.v6.first?.destination.description, "::/0")
        XCTAssertThrowsError(try SnapshotParsers.routes(file: "r.json", bytes: bytes(#"[{"dst":"10.0.0.0/8","nhid":5}]"#))) { e in
            XCTAssertTrue("\(e)".contains("nexthop objects"), "\(e)")
        }
        XCTAssertThrowsError(try SnapshotParsers.routes(file: "r.json", bytes: bytes(#"[{"dst":"10.0.0.0/8","type":"weird"}]"#))) { e in
            XCTAssertEqual((e as? InputError)?.column, 29)
        }
    }

    func testRuleSelectorsAsIproutePrintsThem() throws {
        let json = """
            [{"priority":1000,"src":"all","l3mdev":null},{"priority":1010,"src":"all","uid_start":100,"uid_end":200,"table":"100"},
            {"priority":1020,"src":"all","iif":"lo","dport_start":53,"dport_end":60,"table":"100"},{"priority":5,"src":"all","action":"nop"}]
            """
        let r = try SnapshotParsers.rules(file: "ip-rule.json", bytes: bytes(json), v6: false)
        XCTAssertTrue(r[0].l3mdev)
        XCTAssertEqual(r[1].uidRange, 100...200)
        XCTAssertEqual(r[2].dport, 53...60)
        XCTAssertEqual(r[3].action, .nop)
        XCTAssertThrowsError(try SnapshotParsers.rules(file: "ip6-rule.json", bytes: bytes(#"[{"priority":1,"src":"10.0.0.0","srclen":8,"table":"main"}]"#), v6: true))
    }

    func testSocketLinesIncludingScopedAndWildcardForms() throws {
        let text = """
            udp UNCONN 0      0                    *%v0:5353        *:*
            tcp LISTEN 3      3      [2001:db8:1::1]%v0:22       [::]:*
            tcp LISTEN 0      4096        127.0.0.53%lo:53      0.0.0.0:*
            tcp ESTAB  0      0           10.0.0.1:22   10.0.0.2:5555

            """
        let s = try SnapshotParsers.sockets(file: "sockets.txt", bytes: bytes(text))
        XCTAssertEqual(s.count, 3, "established connections are not listeners")
        XCTAssertEqual(s[0].local, .anyV6(v6only: false))
        XCTAssertEqual(s[0].interface, "v0")
        XCTAssertEqual(s[1].local, .address(IPAddress("2001:db8:1::1")!))
        XCTAssertEqual(s[1].recvQ, 3)
        XCTAssertEqual(s[2].backlog, 4096)
        XCTAssertEqual(s[2].interface, "lo")
        XCTAssertThrowsError(try SnapshotParsers.sockets(file: "sockets.txt", bytes: bytes("tcp LISTEN 0 x 0.0.0.0:1 0.0.0.0:*"))) { e in
            XCTAssertEqual("\(e)", "sockets.txt:1:14: Send-Q: expected a number, got \"x\"")
        }
        XCTAssertThrowsError(try SnapshotParsers.sockets(file: "sockets.txt", bytes: bytes("tcp LISTEN 0 1 0.0.0.0:http 0.0.0.0:*")))
    }

    func testSysctlLines() throws {
        let s = try SnapshotParsers.sysctls(file: "sysctl.txt", bytes: bytes("net.ipv4.conf.eth0.rp_filter = 2\nnet.ipv4.ip_local_port_range = 32768\t60999\nnet.ipv4.ip_local_reserved_ports = \n"))
        XCTAssertEqual(s["net.ipv4.conf.eth0.rp_filter"], "2")
        XCTAssertEqual(s["net.ipv4.ip_local_reserved_ports"], "")
        XCTAssertThrowsError(try SnapshotParsers.sysctls(file: "sysctl.txt", bytes: bytes("net.ipv4.ip_forward 1\n"))) { e in
            XCTAssertEqual((e as? InputError)?.line, 1)
        }
    }

    func testSysctlPrecedenceMacros() {
        var s = Sysctls(["net.ipv4.conf.all.rp_filter": "2", "net.ipv4.conf.eth0.rp_filter": "1",
                         "net.ipv4.conf.all.accept_redirects": "0", "net.ipv4.conf.eth0.accept_redirects": "1",
                         "net.ipv4.conf.all.accept_source_route": "1", "net.ipv4.conf.eth0.accept_source_route": "0",
                         "net.ipv4.conf.default.accept_local": "1", "net.ipv4.conf.eth0/10.rp_filter": "0"])
        XCTAssertEqual(s.ipv4Conf(interface: "eth0").rpFilter, 2)
        XCTAssertTrue(s.ipv4Conf(interface: "eth0").acceptRedirects, "not forwarding: all OR device")
        XCTAssertFalse(s.ipv4Conf(interface: "eth0").acceptSourceRoute, "all AND device")
        XCTAssertTrue(s.ipv4Conf(interface: "newdev").acceptLocal, "an unknown device takes the default entry")
        XCTAssertEqual(s.ipv4DeviceValue("eth0.10", "rp_filter"), 0, "dots in names are slashes in sysctl keys")
        s.values["net.ipv4.conf.eth0.forwarding"] = "1"
        XCTAssertFalse(s.ipv4Conf(interface: "eth0").acceptRedirects, "forwarding: all AND device")
        let f = Sysctls(["net.ipv4.ip_forward": "1"])
        XCTAssertTrue(f.ipv4Conf(interface: "eth9").forwarding, "ip_forward sets every device")
    }

    func testConntrackDefaultAndExtendedFormats() throws {
        let text = """
            icmp     1 99 src=10.9.0.2 dst=10.9.0.1 type=8 code=0 id=77 [UNREPLIED] src=10.9.0.1 dst=10.9.0.2 type=0 code=0 id=77 mark=0 use=1
            ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.2 dst=10.0.0.1 sport=1234 dport=80 src=10.0.0.1 dst=10.0.0.2 sport=80 dport=1234 [ASSURED] mark=5 zone=3 use=1
            conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.
            """
        let c = try SnapshotParsers.conntrack(file: "conntrack.txt", bytes: bytes(text))
        XCTAssertEqual(c.count, 2)
        XCTAssertEqual(c[0].original.icmpID, 77)
        XCTAssertEqual(c[0].status, ["UNREPLIED"])
        XCTAssertEqual(c[1].l3proto, "ipv4")
        XCTAssertEqual(c[1].tcpState, "ESTABLISHED")
        XCTAssertEqual(c[1].reply.sport, 80)
        XCTAssertEqual(c[1].mark, 5)
        XCTAssertEqual(c[1].zone, 3)
        // Rendering gives a line the parser reads back to the same entry.
        for e in c {
            XCTAssertEqual(try SnapshotParsers.conntrack(file: "x", bytes: bytes(e.line)), [e])
        }
        XCTAssertThrowsError(try SnapshotParsers.conntrack(file: "conntrack.txt", bytes: bytes("tcp 6 10 src=1.2.3.4 dst=5.6.7.8\n"))) { e in
            XCTAssertTrue("\(e)".contains("reply tuple"), "\(e)")
        }
    }

    func testConntrackCorpusExtendedListing() throws {
        let p = "/work/shared/corpus/rulesets/jc-fixtures/generic__conntrack--list-extended.out"
        guard let d = FileManager.default.contents(atPath: p) else { throw XCTSkip("corpus file absent: \(p)") }
        let c = try SnapshotParsers.conntrack(file: p, bytes: [UInt8](d))
        XCTAssertFalse(c.isEmpty)
        XCTAssertTrue(c.allSatisfy { $0.l3proto != nil })
    }

    func testEthtoolFeatures() throws {
        let f = try SnapshotParsers.ethtoolFeatures(file: "e", bytes: bytes("Features for eth0:\nrx-checksumming: on\n\ttx-checksum-ipv4: off [fixed]\ngeneric-receive-offload: on\nlarge-receive-offload: off [fixed]\n"))
        XCTAssertEqual(f["eth0"]?["generic-receive-offload"], true)
        XCTAssertEqual(f["eth0"]?["tx-checksum-ipv4"], false)
        XCTAssertThrowsError(try SnapshotParsers.ethtoolFeatures(file: "e", bytes: bytes("gro: on\n")))
    }

    func testIpsetInitvalAndSaveDatesAreStripped() {
        let i = SnapshotCollector.stripIpsetInitval(Data("create a hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1234abcd\nadd a 1.2.3.4\n".utf8))
        XCTAssertEqual(String(decoding: i, as: UTF8.self), "create a hash:ip family inet hashsize 1024 maxelem 65536 bucketsize 12\nadd a 1.2.3.4\n")
        let s = SnapshotCollector.stripSaveDates(Data("# Generated by iptables-save v1.8.9 (nf_tables) on Sun Nov 22 04:54:10 2026\n*filter\nCOMMIT\n# Completed on Sun Nov 22 04:54:10 2026\n".utf8))
        XCTAssertEqual(String(decoding: s, as: UTF8.self), "# Generated by iptables-save v1.8.9 (nf_tables)\n*filter\nCOMMIT\n# Completed\n")
    }
}
