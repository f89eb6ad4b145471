import Foundation
import RxrayDecode
import RxrayRules
import XCTest
@testable import RxrayHost

final class HostProfileTests: XCTestCase {
    func testEveryFixtureRoundTripsThroughYAML() throws {
        for name in ["basic", "router"] {
            let dir = try HostLoader.load(path: HostFixtures.dir(name))
            let yaml = HostProfile.yaml(for: dir)
            let back = try HostProfile.parse(yaml, file: "\(name).yaml")
            XCTAssertEqual(back.interfaces, dir.interfaces, name)
            XCTAssertEqual(back.routes4, dir.routes4, name)
            XCTAssertEqual(back.routes6, dir.routes6, name)
            XCTAssertEqual(back.rules4, dir.rules4, name)
            XCTAssertEqual(back.rules6, dir.rules6, name)
            XCTAssertEqual(back.neighbours, dir.neighbours, name)
            XCTAssertEqual(back.sockets, dir.sockets, name)
            XCTAssertEqual(back.sysctls, dir.sysctls, name)
            XCTAssertEqual(back.rulesets, dir.rulesets, name)
            XCTAssertEqual(back, dir, name)
            // And the profile is a fixed point.
            XCTAssertEqual(HostProfile.yaml(for: back), yaml, name)
        }
    }

    func testRoundTripIsCompact() throws {
        let yaml = HostProfile.yaml(for: try HostLoader.load(path: HostFixtures.dir("basic")))
        XCTAssertFalse(yaml.contains("kernel_routes"), "kernel routes are implied:\n\(yaml)")
        XCTAssertFalse(yaml.contains("type: local"), yaml)
        XCTAssertTrue(yaml.contains("{address: 0.0.0.0, port: 80, backlog: 128}"), yaml)
        XCTAssertLessThan(yaml.split(separator: "\n").count, 80, yaml)
    }

    func testHandWrittenProfile() throws {
        let yaml = """
            interfaces:
              - name: eth0
                mac: 52:54:00:12:34:56
                addresses: [192.0.2.10/24, "2001:db8::10/64"]
                rx_queues: 4
                gro: true
              - name: eth0.20
                kind: vlan
                parent: eth0
                vlan_id: 20
                addresses: [{address: 10.20.0.1/24, broadcast: 10.20.0.255}]
            routes:
              - {dst: default, via: 192.0.2.1, dev: eth0, metric: 100}
              - {type: blackhole, dst: 10.99.0.0/16}
              - {dst: 172.16.0.0/12, table: 100, nexthops: [{via: 192.0.2.2, dev: eth0}, {via: 192.0.2.3, dev: eth0, weight: 2}]}
            rules:
              - {priority: 100, from: 10.20.0.0/24, table: 100}
              - {priority: 200, fwmark: 0x1/0xff, action: prohibit}
            sysctls:
              net.ipv4.conf.all.rp_filter: 1
              net.ipv4.ip_forward: 1
            listeners:
              - {address: 0.0.0.0, port: 22, backlog: 128}
              - {address: "*", port: 443}
            udp:
              - {address: 0.0.0.0, port: 53}
            neighbours:
              - {address: 192.0.2.1, dev: eth0, lladdr: "52:54:00:00:00:01"}
            conntrack:
              - "tcp 6 300 ESTABLISHED src=198.51.100.7 dst=192.0.2.10 sport=40000 dport=22 src=192.0.2.10 dst=198.51.100.7 sport=22 dport=40000 [ASSURED] mark=0 use=1"
            ruleset:
              iptables: |
                *filter
                :INPUT DROP [0:0]
                -A INPUT -p tcp --dport 22 -j ACCEPT
                COMMIT
            """
        let h = try HostProfile.parse(yaml, file: "host.yaml")
        XCTAssertEqual(h.interfaces.map(\.name), ["lo", "eth0", "eth0.20"])
        XCTAssertEqual(h.interface(named: "eth0")?.index, 2)
        XCTAssertEqual(h.interface(named: "eth0")?.rxQueues, 4)
        XCTAssertEqual(h.interface(named: "eth0.20")?.kind, .vlan(parent: "eth0", id: 20, proto: .dot1Q))
        XCTAssertEqual(h.rules4.map(\.priority), [0, 100, 200, 32766, 32767])
        XCTAssertEqual(h.rules4[2].fwmask, 0xff)
        XCTAssertTrue(h.routingTable(RouteTable.local).contains { $0.destination.description == "10.20.0.255/32" && $0.type == .broadcast })
        XCTAssertEqual(h.routingTable(100).first?.nexthops.map(\.weight), [1, 2])
        XCTAssertTrue(h.routingTable(RouteTable.main, v6: true).contains { $0.destination.description == "2001:db8::/64" })
        XCTAssertEqual(h.ipv4Conf(interface: "eth0").rpFilter, 1)
        XCTAssertTrue(h.ipv4Conf(interface: "eth0").forwarding)
        XCTAssertEqual(h.tcpListeners.map(\.backlog), [128, 4096])
        XCTAssertEqual(h.conntrack.first?.tcpState, "ESTABLISHED")
        XCTAssertEqual(h.rulesets.iptables?.table("filter")?.chain("INPUT")?.rules.first?.line, 35,
                       "inline rules keep the YAML file's line numbers")
        XCTAssertTrue(h.defaultsApplied.contains(.rules6))
    }

    func testProfileErrorsNameLineAndColumn() {
        XCTAssertThrowsError(try HostProfile.parse("interfaces:\n  - name: eth0\n    mtu: big\n", file: "h.yaml")) { e in
            XCTAssertEqual("\(e)", "h.yaml:3:10: \"mtu\": expected an integer, got \"big\"")
        }
        XCTAssertThrowsError(try HostProfile.parse("interfacez: []\n", file: "h.yaml")) { e in
            XCTAssertTrue("\(e)".hasPrefix("h.yaml:1:1: host profile: unknown key \"interfacez\""), "\(e)")
        }
        XCTAssertThrowsError(try HostProfile.parse("routes:\n  - {dst: 10.0.0.0/40}\n", file: "h.yaml")) { e in
            XCTAssertEqual((e as? InputError)?.line, 2)
        }
        XCTAssertThrowsError(try HostProfile.parse("interfaces: [\n", file: "h.yaml")) { e in
            XCTAssertTrue("\(e)".contains("invalid YAML"), "\(e)")
        }
        XCTAssertThrowsError(try HostProfile.parse("ruleset:\n  iptables: |\n    *filter\n    -A INPUT -j BOGUS --x\n", file: "h.yaml")) { e in
            XCTAssertTrue(e is InputError || e is UnsupportedRulesError, "\(e)")
        }
    }

    func testLoadAcceptsYAMLFilesByExtension() throws {
        let dir = try HostFixtures.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try HostFixtures.write("interfaces:\n  - {name: eth0, addresses: [10.0.0.2/24]}\nruleset:\n  iptables_file: rules.v4\n", dir, "h.yml")
        try HostFixtures.write("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 10.0.0.0/8 -j DROP\nCOMMIT\n", dir, "rules.v4")
        let h = try HostLoader.load(path: dir + "/h.yml")
        XCTAssertEqual(h.source.kind, .profile)
        XCTAssertEqual(h.rulesets.iptables?.table("filter")?.chain("INPUT")?.rules.count, 1)
        XCTAssertEqual(h.rulesets.sources.first?.file, dir + "/rules.v4")
    }
}
