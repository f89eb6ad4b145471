import Foundation
import RxrayDecode
import RxrayRules
import XCTest
@testable import RxrayHost

/// Loads the recorded fixtures and checks the model against what the tools printed
/// (the setups are in Fixtures/hosts/make.sh).
final class HostLoaderTests: XCTestCase {
    func v4(_ s: String) -> IPAddress { IPAddress(s)! }

    func testBasicFixtureHasInterfacesAddressesAndDefaultRoutes() throws {
        let h = try HostLoader.load(path: HostFixtures.dir("basic"))
        XCTAssertEqual(h.source.kind, .snapshot)
        let eth0 = try XCTUnwrap(h.interface(named: "eth0"))
        XCTAssertEqual(eth0.mac, MACAddress("02:00:00:00:01:01"))
        XCTAssertEqual(eth0.kind, .veth(peer: "peer0"))
        XCTAssertTrue(eth0.up)
        XCTAssertEqual(eth0.mtu, 1500)
        XCTAssertEqual(eth0.groEnabled, false)
        XCTAssertEqual(eth0.ipv4Addresses.first?.prefix.description, "192.0.2.10/24")
        XCTAssertEqual(eth0.ipv4Addresses.first?.broadcast, IPv4Address("192.0.2.255"))
        XCTAssertTrue(eth0.ipv6Addresses.contains { $0.address == IPAddress("2001:db8:1::10") && $0.prefixLength == 64 })
        XCTAssertEqual(h.interface(index: eth0.index)?.name, "eth0")
        XCTAssertEqual(h.interfaces(withMAC: MACAddress("02:00:00:00:01:01")!).map(\.name), ["eth0"])
        XCTAssertEqual(h.interface(holding: v4("192.0.2.10"))?.name, "eth0")
        XCTAssertTrue(h.isLocalAddress(v4("127.0.0.1")))
        XCTAssertFalse(h.isLocalAddress(v4("192.0.2.1")))

        let main = h.routingTable(RouteTable.main)
        let dflt = try XCTUnwrap(main.first { $0.destination.length == 0 })
        XCTAssertEqual(dflt.gateway, v4("192.0.2.1"))
        XCTAssertEqual(dflt.metric, 100)
        XCTAssertEqual(dflt.dev, "eth0")
        XCTAssertTrue(main.contains { $0.destination.description == "192.0.2.0/24" && $0.scope == .link && $0.prefsrc == v4("192.0.2.10") })
        let local = h.routingTable(RouteTable.local)
        XCTAssertTrue(local.contains { $0.type == .local && $0.destination.description == "192.0.2.10/32" })
        XCTAssertTrue(local.contains { $0.type == .broadcast && $0.destination.description == "192.0.2.255/32" })
        // IPv4 routes only in routes4, even though `ip -j route show table all` prints both families.
        XCTAssertFalse(h.routes4.contains { $0.isV6 })
        let main6 = h.routingTable(RouteTable.main, v6: true)
        XCTAssertTrue(main6.contains { $0.destination.length == 0 && $0.gateway == IPAddress("2001:db8:1::1") && $0.metric == 1024 })
        XCTAssertEqual(h.rules4.map(\.priority), [0, 32766, 32767])
        XCTAssertEqual(h.rules6.map(\.priority), [0, 32766])
        XCTAssertEqual(h.neighbours.first { $0.address == v4("192.0.2.1") }?.lladdr, MACAddress("02:00:00:00:01:fe"))
        XCTAssertEqual(h.kernelRelease?.isEmpty, false)
        XCTAssertTrue(h.defaultsApplied.isEmpty, "every part was recorded: \(h.defaultsApplied)")
    }

    func testBasicFixtureSocketsKeepBacklogsAndBindings() throws {
        let h = try HostLoader.load(path: HostFixtures.dir("basic"))
        func tcp(_ port: UInt16) -> Socket? { h.tcpListeners.first { $0.port == port } }
        XCTAssertEqual(tcp(80)?.backlog, 128)
        XCTAssertEqual(tcp(80)?.local, .anyV4)
        XCTAssertEqual(tcp(8443)?.backlog, 5)
        XCTAssertEqual(tcp(8443)?.local, .anyV6(v6only: false))
        XCTAssertTrue(tcp(8443)!.local.accepts(v4("192.0.2.10")), "a dual-stack listener takes IPv4 too")
        XCTAssertEqual(tcp(22)?.backlog, 17)
        XCTAssertEqual(tcp(22)?.interface, "eth0")
        XCTAssertEqual(tcp(22)?.local, .address(v4("192.0.2.10")))
        let udp53 = try XCTUnwrap(h.udpSockets.first { $0.port == 53 })
        XCTAssertNil(udp53.backlog)
        let ntp = try XCTUnwrap(h.udpSockets.first { $0.port == 123 })
        XCTAssertEqual(ntp.local, .anyV6(v6only: true))
        XCTAssertFalse(ntp.local.accepts(v4("192.0.2.10")))
    }

    func testRouterFixtureLinksRoutesAndRules() throws {
        let h = try HostLoader.load(path: HostFixtures.dir("router"))
        XCTAssertEqual(h.interface(named: "br0")?.kind, .bridge)
        XCTAssertEqual(h.interface(named: "eth2")?.master, "br0")
        XCTAssertEqual(h.interface(named: "eth2")?.portKind, .bridge)
        XCTAssertEqual(h.interface(named: "mv0")?.kind, .macvlan(parent: "eth0", mode: "bridge"))
        XCTAssertEqual(h.interface(named: "eth1")?.promisc, true)
        XCTAssertEqual(h.interface(named: "eth1")?.mtu, 9000)
        XCTAssertEqual(h.interface(named: "eth0")?.groEnabled, true)
        XCTAssertEqual(h.interface(named: "eth0")?.ipv4Addresses.map(\.address), [v4("198.51.100.2"), v4("198.51.100.3")])
        XCTAssertEqual(h.interface(named: "eth0")?.ipv4Addresses.last?.isSecondary, true)
        XCTAssertEqual(h.interface(named: "eth0")?.rxQueues, 2, "veth has one RX queue per CPU; this machine has 2")

        XCTAssertEqual(h.routingTableIDs(), [100, 200, 254, 255])
        let t100 = h.routingTable(100)
        XCTAssertEqual(t100.map(\.type), [.prohibit, .unreachable], "longest prefix first")
        XCTAssertEqual(t100.first?.metric, 7)
        let t200 = h.routingTable(200)
        XCTAssertTrue(t200.contains { $0.type == .throw && $0.destination.description == "10.0.0.0/8" })
        let mp = try XCTUnwrap(t200.first { $0.destination.length == 0 })
        XCTAssertEqual(mp.nexthops.map(\.gateway), [v4("10.1.0.2"), v4("10.1.0.3")])
        XCTAssertEqual(mp.nexthops.map(\.weight), [1, 3])
        let main = h.routingTable(RouteTable.main)
        XCTAssertEqual(main.first { $0.destination.length == 0 }?.mtu, 1400)
        XCTAssertEqual(main.first { $0.destination.length == 0 }?.proto, "static")
        XCTAssertEqual(main.first { $0.type == .blackhole }?.destination.description, "192.0.2.0/24")
        XCTAssertEqual(main.first { $0.destination.description == "10.50.0.0/16" }?.prefsrc, v4("10.1.0.1"))
        XCTAssertFalse(main.contains { $0.destination.description == "198.51.100.0/24" && $0.prefsrc == v4("198.51.100.3") },
                       "secondary addresses add no prefix route")
        XCTAssertTrue(h.routingTable(RouteTable.main, v6: true).contains { $0.type == .unreachable })

        XCTAssertEqual(h.rules4.map(\.priority), [0, 100, 200, 300, 310, 320, 400, 410, 420, 32766, 32767])
        let r = Dictionary(uniqueKeysWithValues: h.rules4.map { ($0.priority, $0) })
        XCTAssertEqual(r[100]?.src?.description, "10.1.0.0/16")
        XCTAssertEqual(r[100]?.action, .table(100))
        XCTAssertEqual(r[200]?.fwmark, 0x10)
        XCTAssertEqual(r[200]?.fwmask, 0xff)
        XCTAssertEqual(r[200]?.iif, "eth1")
        XCTAssertEqual(r[300]?.dst?.description, "198.18.0.0/15")
        XCTAssertEqual(r[300]?.action, .unreachable)
        XCTAssertEqual(r[310]?.tos, 0x10)
        XCTAssertEqual(r[310]?.action, .prohibit)
        XCTAssertEqual(r[320]?.oif, "eth0")
        XCTAssertEqual(r[320]?.action, .blackhole)
        XCTAssertEqual(r[400]?.suppressPrefixLength, 0)
        XCTAssertEqual(r[410]?.invert, true)
        XCTAssertEqual(r[410]?.action, .goto(32766))
        XCTAssertEqual(r[420]?.ipproto, 6)
        XCTAssertEqual(r[420]?.dport, 22...22)
        XCTAssertEqual(r[420]?.sport, 1000...2000)
        XCTAssertEqual(h.rules6.map(\.priority), [0, 100, 32766])
    }

    func testRouterFixtureSysctlPrecedenceFollowsTheKernel() throws {
        let h = try HostLoader.load(path: HostFixtures.dir("router"))
        XCTAssertTrue(h.sysctls.ipForward)
        XCTAssertEqual(h.sysctls.tcpSyncookies, 2)
        XCTAssertEqual(h.sysctls.somaxconn, 256)
        // rp_filter: max(all=1, iface).
        XCTAssertEqual(h.ipv4Conf(interface: "eth0").rpFilter, 2)
        XCTAssertEqual(h.ipv4Conf(interface: "eth1").rpFilter, 1, "eth1=0 but all=1 wins")
        // accept_local and route_localnet: all OR iface.
        XCTAssertTrue(h.ipv4Conf(interface: "eth1").acceptLocal)
        XCTAssertFalse(h.ipv4Conf(interface: "eth0").acceptLocal)
        XCTAssertTrue(h.ipv4Conf(interface: "br0").routeLocalnet)
        XCTAssertFalse(h.ipv4Conf(interface: "eth0").routeLocalnet)
        // arp_ignore: max.
        XCTAssertEqual(h.ipv4Conf(interface: "eth0").arpIgnore, 2)
        XCTAssertEqual(h.ipv4Conf(interface: "eth1").arpIgnore, 1)
        // forwarding: the interface's own value (ip_forward=1 set every device).
        XCTAssertTrue(h.ipv4Conf(interface: "eth1").forwarding)
        XCTAssertEqual(h.tcpListeners.first { $0.port == 8080 }?.backlog, 5)
        XCTAssertEqual(h.tcpListeners.first { $0.port == 443 }?.backlog, 64)
        XCTAssertEqual(h.udpSockets.first { $0.port == 67 }?.interface, "br0")
    }

    func testRouterFixtureRulesetIsLoadedOnceAcrossIptablesNftAndNft() throws {
        let h = try HostLoader.load(path: HostFixtures.dir("router"))
        let rs = h.rulesets
        XCTAssertEqual(rs.sources.map(\.format), [.iptablesSave, .ip6tablesSave, .nftJSON, .ipset])
        XCTAssertEqual(rs.shadowed.map { ($0.file as NSString).lastPathComponent }, ["nft-ruleset.txt"])
        XCTAssertEqual(rs.source(.nftJSON)?.excludedTables, ["ip filter", "ip nat", "ip6 filter"],
                       "iptables-nft's tables come from iptables-save; table inet fw stays")
        let ipt = try XCTUnwrap(rs.iptables)
        XCTAssertEqual(ipt.table("filter")?.chain("INPUT")?.rules.count, 5)
        XCTAssertEqual(ipt.table("nat")?.chain("POSTROUTING")?.rules.count, 1)
        XCTAssertEqual(rs.ip6tables?.table("filter")?.chain("INPUT")?.rules.count, 2)
        XCTAssertTrue(rs.unsupported.isEmpty)
        let nft = try XCTUnwrap(rs.nft)
        XCTAssertEqual(nft.tables.map { "\($0.family.rawValue) \($0.name)" }, ["inet fw"])
        XCTAssertEqual(nft.tables.first?.chains.first?.rules.count, 1)
        XCTAssertEqual(rs.ipsets?.set("allowed")?.members.count, 1)
    }

    func testMissingPartsTakeKernelDefaults() throws {
        let dir = try HostFixtures.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let addr = try String(contentsOfFile: HostFixtures.dir("basic") + "/ip-addr.json", encoding: .utf8)
        try HostFixtures.write(addr, dir, "ip-addr.json")
        let h = try HostLoader.load(path: dir)
        XCTAssertEqual(Set(h.defaultsApplied), [.routes4, .routes6, .rules4, .rules6, .neighbours, .sysctls, .sockets, .conntrack, .ruleset, .features])
        // Routes derived from the addresses equal the ones the kernel made.
        let real = try HostLoader.load(path: HostFixtures.dir("basic"))
        XCTAssertEqual(h.routingTable(RouteTable.local), real.routingTable(RouteTable.local))
        XCTAssertEqual(h.routingTable(RouteTable.main).filter { $0.proto == "kernel" }, real.routingTable(RouteTable.main).filter { $0.proto == "kernel" })
        XCTAssertEqual(h.routingTable(RouteTable.local, v6: true), real.routingTable(RouteTable.local, v6: true))
        XCTAssertEqual(h.rules4, KernelDefaults.rules4)
        XCTAssertEqual(h.sysctls.somaxconn, 4096)
        XCTAssertEqual(h.ipv4Conf(interface: "eth0").rpFilter, 0)
        XCTAssertEqual(h.sysctls.icmpRatemask, 6168)
        XCTAssertTrue(h.sysctls.conntrackTCPLoose)
        XCTAssertFalse(h.sysctls.conntrackTCPBeLiberal)
        XCTAssertTrue(h.rulesets.isEmpty)
    }

    func testDefaultHostIsAFreshNamespace() {
        let h = HostLoader.defaultHost()
        XCTAssertEqual(h.interfaces.map(\.name), ["lo"])
        XCTAssertTrue(h.routingTable(RouteTable.local).contains { $0.type == .local && $0.destination.description == "127.0.0.0/8" })
        XCTAssertTrue(h.routingTable(RouteTable.local).contains { $0.type == .broadcast && $0.destination.description == "127.255.255.255/32" })
        XCTAssertTrue(h.routingTable(RouteTable.local, v6: true).contains { $0.destination.description == "::1/128" })
        XCTAssertEqual(Set(h.defaultsApplied), Set(HostPart.allCases))
    }

    func testBadJSONNamesFileLineAndColumn() throws {
        let dir = try HostFixtures.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try HostFixtures.write("[{\"dst\":\"10.0.0.0/8\",\"dev\":\"eth0\"},\n {\"dst\":\"10.0.0.0/33\"}]", dir, "ip-route.json")
        XCTAssertThrowsError(try HostLoader.load(path: dir)) { e in
            let ie = e as? InputError
            XCTAssertEqual(ie?.line, 2)
            XCTAssertEqual(ie?.column, 9)
            XCTAssertTrue(ie?.file.hasSuffix("ip-route.json") ?? false)
            XCTAssertTrue(ie?.message.contains("expected a prefix") ?? false, "\(e)")
        }
        try HostFixtures.write("[{\"priority\":5,\"src\":\"all\",\"table\":\"main\",\"flowto\":\"x\"}]", dir, "ip-route.json")
        try FileManager.default.moveItem(atPath: dir + "/ip-route.json", toPath: dir + "/ip-rule.json")
        XCTAssertThrowsError(try HostLoader.load(path: dir)) { e in
            XCTAssertTrue("\(e)".contains("ip-rule.json:1:"), "\(e)")
            XCTAssertTrue("\(e)".contains("\"flowto\" is not modelled"), "\(e)")
        }
        try HostFixtures.write("[{\"priority\":5,", dir, "ip-rule.json")
        XCTAssertThrowsError(try HostLoader.load(path: dir)) { e in
            XCTAssertEqual((e as? InputError)?.line, 1)
        }
    }

    func testNotADirectoryOrProfileIsAnError() {
        XCTAssertThrowsError(try HostLoader.load(path: "/nonexistent/rxray")) { e in
            XCTAssertTrue("\(e)".contains("no such file"), "\(e)")
        }
        XCTAssertThrowsError(try HostLoader.load(path: HostFixtures.dir("basic") + "/sockets.txt")) { e in
            XCTAssertTrue("\(e)".contains(".yaml"), "\(e)")
        }
    }

    func testUnsupportedIptablesRulesFailUnlessLenient() throws {
        let dir = try HostFixtures.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try HostFixtures.write("""
            *filter
            :INPUT ACCEPT [0:0]
            -A INPUT -p tcp --dport 22 -j ACCEPT
            -A INPUT -m cgroup --cgroup 1 -j DROP
            COMMIT

            """, dir, "iptables-save.txt")
        XCTAssertThrowsError(try HostLoader.load(path: dir)) { e in
            guard let u = e as? UnsupportedRulesError else { return XCTFail("\(e)") }
            XCTAssertEqual(u.items.map(\.line), [4])
            XCTAssertTrue(u.items[0].construct.contains("cgroup"), "\(u)")
        }
        let h = try HostLoader.load(path: dir, lenient: true)
        XCTAssertTrue(h.rulesets.lenient)
        XCTAssertEqual(h.rulesets.unsupported.map(\.line), [4])
        XCTAssertEqual(h.rulesets.iptables?.table("filter")?.chain("INPUT")?.rules.map(\.isUnsupported), [false, true])
    }
}
