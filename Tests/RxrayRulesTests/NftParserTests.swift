import RxrayDecode
import XCTest
@testable import RxrayRules

final class NftParserTests: XCTestCase {
    func parse(_ text: String) throws -> NftRuleset { try NftParser.parse(text, file: "t.nft") }

    /// Statements of the single rule in `table inet t { chain c { RULE } }`.
    func statements(_ rule: String, family: String = "inet") throws -> [NftStatement] {
        let rs = try parse("table \(family) t {\n\tchain c {\n\t\t\(rule)\n\t}\n}\n")
        XCTAssertEqual(rs.unsupported, [], "unexpected unsupported constructs")
        return try XCTUnwrap(rs.tables.first?.chains.first?.rules.first).statements
    }

    func match(_ s: NftStatement) -> NftMatch? { if case .match(let m) = s { return m }; return nil }

    func payload(_ h: String, _ f: String) -> NftExpr { .payload(NftPayloadTable.field(h, f)!) }

    func testTablesChainsBaseChainsPrioritiesAndPolicies() throws {
        let text = """
        table ip filter { # handle 4
        \tchain input { # handle 1
        \t\ttype filter hook input priority filter - 10; policy drop;
        \t\tiif "lo" accept # handle 5
        \t}
        \tchain fwd {
        \t\ttype filter hook forward priority mangle + 5; policy accept;
        \t}
        \tchain mine {
        \t}
        }
        table netdev ing {
        \tchain c {
        \t\ttype filter hook ingress devices = { eth0, "eth1" } priority -500; policy accept;
        \t}
        }
        table bridge br {
        \tchain c {
        \t\ttype filter hook input priority filter; policy accept;
        \t}
        }
        """
        let rs = try parse(text)
        XCTAssertEqual(rs.tables.map(\.family), [.ip, .netdev, .bridge])
        let t = rs.tables[0]
        XCTAssertEqual(t.handle, 4)
        let input = try XCTUnwrap(t.chain("input"))
        XCTAssertEqual(input.handle, 1)
        XCTAssertEqual(input.base, NftBaseChain(type: .filter, hook: .input, priority: -10, priorityText: "filter - 10", policy: .drop))
        XCTAssertEqual(input.rules.first?.handle, 5)
        XCTAssertEqual(input.rules.first?.text, #"iif "lo" accept"#)
        XCTAssertEqual(input.rules.first?.line, 4)
        XCTAssertEqual(t.chain("fwd")?.base?.priority, -145)
        XCTAssertNil(t.chain("mine")?.base)
        XCTAssertEqual(rs.tables[1].chains[0].base?.devices, ["eth0", "eth1"])
        XCTAssertEqual(rs.tables[1].chains[0].base?.priority, -500)
        XCTAssertEqual(rs.tables[2].chains[0].base?.priority, -200, "bridge's filter priority is -200")
    }

    func testPayloadMatchesResolveNamesToNumbers() throws {
        let s = try statements("ip protocol tcp tcp dport ssh th sport 1024-65535 ip saddr != 10.0.0.0/8 ip daddr 192.0.2.1 accept", family: "ip")
        XCTAssertEqual(match(s[0]), NftMatch(left: payload("ip", "protocol"), op: .eq, right: .integer(6)))
        XCTAssertEqual(match(s[1]), NftMatch(left: payload("tcp", "dport"), op: .eq, right: .integer(22)))
        XCTAssertEqual(match(s[2]), NftMatch(left: payload("th", "sport"), op: .eq, right: .range(.integer(1024), .integer(65535))))
        XCTAssertEqual(match(s[3]), NftMatch(left: payload("ip", "saddr"), op: .ne, right: .prefix(IPPrefix("10.0.0.0/8")!)))
        XCTAssertEqual(match(s[4])?.right, .address(IPAddress("192.0.2.1")!))
        XCTAssertEqual(s[5], .verdict(.accept))
        let f = NftPayloadTable.field("tcp", "dport")!
        XCTAssertEqual(f.offsetBits, 16)
        XCTAssertEqual(f.lengthBits, 16)
        XCTAssertEqual(f.dependency, .l4proto(6))
    }

    func testRelationalOperatorsSetsAndNamedSets() throws {
        let s = try statements("tcp dport { 22, 80, 8000-8080 } ip ttl < 5 ip length >= 1000 ip saddr . tcp dport @allowed udp dport != { 53, 67 } drop")
        guard case .anonymousSet(let els)? = match(s[0])?.right else { return XCTFail() }
        XCTAssertEqual(els.map(\.key), [.integer(22), .integer(80), .range(.integer(8000), .integer(8080))])
        XCTAssertEqual(match(s[1])?.op, .lt)
        XCTAssertEqual(match(s[2])?.op, .ge)
        XCTAssertEqual(match(s[3]), NftMatch(left: .concat([payload("ip", "saddr"), payload("tcp", "dport")]), op: .eq, right: .setReference("allowed")))
        XCTAssertEqual(match(s[4])?.op, .ne)
    }

    func testBitmaskTypesUseBitTestsAndMasks() throws {
        let s = try statements("ct state established,related tcp flags & (fin | syn | rst | ack) == syn tcp flags syn / fin,syn,rst,ack ct status dnat accept")
        XCTAssertEqual(match(s[0]), NftMatch(left: .ct(key: "state", direction: nil), op: .implicit, right: .integer(6)))
        XCTAssertEqual(match(s[1]), NftMatch(left: .binary(.and, payload("tcp", "flags"), .integer(0x17)), op: .eq, right: .integer(2)))
        XCTAssertEqual(match(s[2]), match(s[1]), "the `/` form means the same as `& mask ==`")
        XCTAssertEqual(match(s[3])?.right, .integer(32))
    }

    func testMetaCtFibAndFriends() throws {
        let s = try statements(#"iifname "eth*" oif "lo" meta l4proto ipv6-icmp meta nfproto ipv6 meta pkttype host mark 0x10 meta skuid 1000 ct direction reply ct original ip saddr 10.0.0.1 fib saddr . iif oif missing fib daddr type local accept"#)
        XCTAssertEqual(match(s[0]), NftMatch(left: .meta(.iifname), op: .eq, right: .stringPrefix("eth")))
        XCTAssertEqual(match(s[1])?.right, .string("lo"))
        XCTAssertEqual(match(s[2])?.right, .integer(58))
        XCTAssertEqual(match(s[3])?.right, .integer(10))
        XCTAssertEqual(match(s[4])?.right, .integer(0))
        XCTAssertEqual(match(s[5]), NftMatch(left: .meta(.mark), op: .eq, right: .integer(16)))
        XCTAssertEqual(match(s[6])?.right, .integer(1000))
        XCTAssertEqual(match(s[7]), NftMatch(left: .ct(key: "direction", direction: nil), op: .eq, right: .integer(1)))
        XCTAssertEqual(match(s[8]), NftMatch(left: .ct(key: "ip saddr", direction: "original"), op: .eq, right: .address(IPAddress("10.0.0.1")!)))
        XCTAssertEqual(match(s[9]), NftMatch(left: .fib(flags: ["saddr", "iif"], result: "oif"), op: .eq, right: .boolean(false)))
        XCTAssertEqual(match(s[10]), NftMatch(left: .fib(flags: ["daddr"], result: "type"), op: .eq, right: .integer(2)))
    }

    func testICMPTypesAndShorthand() throws {
        let s = try statements("icmp type echo-request icmpv6 type { nd-neighbor-solicit, nd-router-advert } icmp echo-reply accept")
        XCTAssertEqual(match(s[0])?.right, .integer(8))
        guard case .anonymousSet(let e)? = match(s[1])?.right else { return XCTFail() }
        XCTAssertEqual(e.map(\.key), [.integer(135), .integer(134)])
        XCTAssertEqual(match(s[2]), NftMatch(left: payload("icmp", "type"), op: .eq, right: .integer(0)))
    }

    func testCounterLimitLogRejectStatements() throws {
        let s = try statements(#"counter packets 3 bytes 120 limit rate over 10/minute burst 20 packets log prefix "drop: " level info flags tcp sequence,options reject with icmpx admin-prohibited"#)
        XCTAssertEqual(s[0], .counter(Counters(packets: 3, bytes: 120)))
        XCTAssertEqual(s[1], .limit(NftLimit(rate: 10, per: 60, bytes: false, burst: 20, over: true)))
        guard case .log(let l) = s[2] else { return XCTFail() }
        XCTAssertEqual(l.prefix, "drop: ")
        XCTAssertEqual(l.level, "info")
        XCTAssertEqual(l.flags, ["tcp sequence", "tcp options"])
        XCTAssertEqual(s[3], .reject(.icmpx(code: 3)))
        XCTAssertEqual(try statements("reject").first, .reject(.icmpx(code: 1)), "inet's plain reject is icmpx port-unreachable")
        XCTAssertEqual(try statements("reject", family: "ip").first, .reject(.icmp(code: 3)))
        XCTAssertEqual(try statements("reject", family: "ip6").first, .reject(.icmpv6(code: 4)))
        XCTAssertEqual(try statements("reject with tcp reset").first, .reject(.tcpReset))
        XCTAssertEqual(try statements("reject with icmp type host-unreachable").first, .reject(.icmp(code: 1)))
        XCTAssertEqual(try statements("reject with icmpv6 type admin-prohibited").first, .reject(.icmpv6(code: 1)))
        XCTAssertEqual(try statements("limit rate 10/second").first, .limit(NftLimit(rate: 10, per: 1, bytes: false, burst: 5, over: false)))
        XCTAssertEqual(try statements("limit rate 1 mbytes/second").first, .limit(NftLimit(rate: 1 << 20, per: 1, bytes: true, burst: 0, over: false)))
    }

    func testVerdictsAndVmaps() throws {
        XCTAssertEqual(try statements("jump other"), [.verdict(.jump("other"))])
        XCTAssertEqual(try statements("goto other"), [.verdict(.goto("other"))])
        XCTAssertEqual(try statements("continue"), [.verdict(.continue)])
        XCTAssertEqual(try statements("return"), [.verdict(.return)])
        let s = try statements("ct state vmap { established : accept, related : accept, invalid : drop }")
        guard case .vmap(let k, .anonymousSet(let els)) = s[0] else { return XCTFail("\(s)") }
        XCTAssertEqual(k, .ct(key: "state", direction: nil))
        XCTAssertEqual(els.map(\.key), [.integer(2), .integer(4), .integer(1)])
        XCTAssertEqual(els.map(\.value), [.verdict(.accept), .verdict(.accept), .verdict(.drop)])
        let c = try statements("meta l4proto . th dport vmap @svc")
        XCTAssertEqual(c, [.vmap(key: .concat([.meta(.l4proto), payload("th", "dport")]), mapping: .setReference("svc"))])
    }

    func testNATStatements() throws {
        let s = try statements("dnat ip to 10.0.0.2:8080")
        guard case .nat(let n) = s[0] else { return XCTFail() }
        XCTAssertEqual(n.kind, .dnat)
        XCTAssertEqual(n.family, "ip")
        XCTAssertEqual(n.address, .address(IPAddress("10.0.0.2")!))
        XCTAssertEqual(n.port, .integer(8080))
        guard case .nat(let v6) = try statements("dnat ip6 to [fd00::1]:80")[0] else { return XCTFail() }
        XCTAssertEqual(v6.address, .address(IPAddress("fd00::1")!))
        XCTAssertEqual(v6.port, .integer(80))
        guard case .nat(let r) = try statements("snat to 192.0.2.1-192.0.2.9 random,persistent")[0] else { return XCTFail() }
        XCTAssertEqual(r.address, .range(.address(IPAddress("192.0.2.1")!), .address(IPAddress("192.0.2.9")!)))
        XCTAssertEqual(r.flags, ["random", "persistent"])
        guard case .nat(let m) = try statements("masquerade to :1024-2048 fully-random")[0] else { return XCTFail() }
        XCTAssertEqual(m.port, .range(.integer(1024), .integer(2048)))
        XCTAssertEqual(m.flags, ["fully-random"])
        guard case .nat(let rd) = try statements("redirect to :5353")[0] else { return XCTFail() }
        XCTAssertEqual(rd.port, .integer(5353))
        guard case .nat(let mp) = try statements("dnat ip to ip daddr map { 1.2.3.4 : 10.0.0.1 }")[0],
              case .map(let key, .anonymousSet(let els))? = mp.address else { return XCTFail() }
        XCTAssertEqual(key, payload("ip", "daddr"))
        XCTAssertEqual(els.first?.value, .address(IPAddress("10.0.0.1")!))
    }

    func testSetStatementsMarksAndSetUpdates() throws {
        let s = try statements("meta mark set ct mark & 0x0000ff00 | 0x00000001 ct mark set meta mark meta nftrace set 1 notrack")
        XCTAssertEqual(s[0], .set(target: .meta(.mark), value: .binary(.or, .binary(.and, .ct(key: "mark", direction: nil), .integer(0xff00)), .integer(1))))
        XCTAssertEqual(s[1], .set(target: .ct(key: "mark", direction: nil), value: .meta(.mark)))
        XCTAssertEqual(s[2], .set(target: .meta(.nftrace), value: .integer(1)))
        XCTAssertEqual(s[3], .notrack)
        let u = try statements("add @seen { ip saddr timeout 10s } update @m { ip saddr : 0x1 }")
        XCTAssertEqual(u[0], .setUpdate(NftSetUpdate(op: "add", set: "seen", key: payload("ip", "saddr"), value: nil, timeoutSeconds: 10, statements: [])))
        XCTAssertEqual(u[1], .setUpdate(NftSetUpdate(op: "update", set: "m", key: payload("ip", "saddr"), value: .integer(1), timeoutSeconds: nil, statements: [])))
        XCTAssertEqual(try statements("ct count over 10"), [.ctCount(count: 10, over: true)])
        guard case .set(.exthdr(let h, let f), _) = try statements("tcp flags syn tcp option maxseg size set rt mtu")[1] else { return XCTFail() }
        XCTAssertEqual(h, "tcp option maxseg")
        XCTAssertEqual(f, "size")
    }

    func testNumgenHashesAndRawPayload() throws {
        let s = try statements("meta mark set numgen inc mod 4 offset 1 meta mark set jhash ip saddr . tcp sport mod 2 seed 0xdead @nh,72,8 6")
        XCTAssertEqual(s[0], .set(target: .meta(.mark), value: .numgen(mode: "inc", modulus: 4, offset: 1)))
        XCTAssertEqual(s[1], .set(target: .meta(.mark), value: .hash(kind: "jhash", expr: .concat([payload("ip", "saddr"), payload("tcp", "sport")]), modulus: 2, seed: 0xdead, offset: 0)))
        XCTAssertEqual(match(s[2]), NftMatch(left: .rawPayload(base: .network, offsetBits: 72, lengthBits: 8), op: .eq, right: .integer(6)))
    }

    func testSetsMapsElementsAndObjects() throws {
        let text = """
        table inet t {
        \tset blocked {
        \t\ttype ipv4_addr
        \t\tflags interval,timeout
        \t\ttimeout 1h
        \t\telements = { 10.0.0.0/8 timeout 1h expires 59m30s,
        \t\t\t     192.168.1.1-192.168.1.9 counter packets 1 bytes 60 comment "x" }
        \t}
        \tmap svc {
        \t\ttype ipv4_addr . inet_proto . inet_service : verdict
        \t\telements = { 1.2.3.4 . tcp . 80 comment "web" : goto web }
        \t}
        \tmap nat4 {
        \t\ttypeof ip daddr : ip daddr . tcp dport
        \t\telements = { 1.2.3.4 : 10.0.0.1 . 8080 }
        \t}
        \tcounter c1 {
        \t\tpackets 5 bytes 500
        \t}
        \tquota q {
        \t\tover 25 mbytes used 1 mbytes
        \t}
        \tflowtable ft {
        \t\thook ingress priority filter
        \t\tdevices = { eth0, eth1 }
        \t}
        \tchain web {
        \t}
        }
        """
        let rs = try parse(text)
        XCTAssertEqual(rs.unsupported, [])
        let t = rs.tables[0]
        let b = try XCTUnwrap(t.set("blocked"))
        XCTAssertEqual(b.keyTypes, [.ipv4Addr])
        XCTAssertEqual(b.flags, ["interval", "timeout"])
        XCTAssertEqual(b.timeoutSeconds, 3600)
        XCTAssertEqual(b.elements.count, 2)
        XCTAssertEqual(b.elements[0].expiresSeconds, 3570)
        XCTAssertEqual(b.elements[1].key, .range(.address(IPAddress("192.168.1.1")!), .address(IPAddress("192.168.1.9")!)))
        XCTAssertEqual(b.elements[1].counter, Counters(packets: 1, bytes: 60))
        let m = try XCTUnwrap(t.set("svc"))
        XCTAssertTrue(m.isMap)
        XCTAssertEqual(m.keyTypes, [.ipv4Addr, .inetProto, .inetService])
        XCTAssertEqual(m.elements[0].key, .concat([.address(IPAddress("1.2.3.4")!), .integer(6), .integer(80)]))
        XCTAssertEqual(m.elements[0].value, .verdict(.goto("web")))
        XCTAssertEqual(m.elements[0].comment, "web")
        let n = try XCTUnwrap(t.set("nat4"))
        XCTAssertEqual(n.valueTypes, [.ipv4Addr, .inetService])
        XCTAssertEqual(n.elements[0].value, .concat([.address(IPAddress("10.0.0.1")!), .integer(8080)]))
        XCTAssertEqual(t.objects.first { $0.name == "c1" }?.counter, Counters(packets: 5, bytes: 500))
        XCTAssertEqual(t.objects.first { $0.name == "q" }?.quota, NftQuota(bytes: 25 << 20, used: 1 << 20, over: true))
        XCTAssertEqual(t.flowtables.first?.devices, ["eth0", "eth1"])
        XCTAssertEqual(rs.summary, RulesetSummary(tables: 1, chains: 1, rules: 0, sets: 3, elements: 4, unsupported: 0))
    }

    func testScriptsWithDefinesAddInsertAndFlush() throws {
        let text = """
        flush ruleset
        define lan = { 10.0.0.0/8, 192.168.0.0/16 }
        define ssh = 22
        add table inet f
        add chain inet f input { type filter hook input priority 0; policy drop; }
        add rule inet f input ip saddr $lan tcp dport $ssh accept
        insert rule inet f input iif lo accept
        add set inet f s { type ipv4_addr; }
        add element inet f s { 1.1.1.1, 2.2.2.2 }
        include "/etc/nftables.d/*.nft"
        """
        let rs = try parse(text)
        let c = try XCTUnwrap(rs.table(.inet, "f")?.chain("input"))
        XCTAssertEqual(c.base?.policy, .drop)
        XCTAssertEqual(c.rules.count, 2)
        XCTAssertEqual(c.rules[0].text, "iif lo accept")
        XCTAssertEqual(c.rules.map(\.position), [1, 2])
        guard case .anonymousSet(let lan)? = match(c.rules[1].statements[0])?.right else { return XCTFail() }
        XCTAssertEqual(lan.count, 2)
        XCTAssertEqual(match(c.rules[1].statements[1])?.right, .integer(22))
        XCTAssertEqual(rs.table(.inet, "f")?.set("s")?.elements.count, 2)
        XCTAssertEqual(rs.unsupported.map(\.construct), [#"include "/etc/nftables.d/*.nft""#])
    }

    func testUnknownStatementsAreCollectedAndTheRuleKept() throws {
        let rs = try parse("table ip t {\n\tchain c {\n\t\ttcp dport 80 tproxy to :3128 accept\n\t\tip saddr 1.1.1.1 drop\n\t}\n}\n")
        let rules = rs.tables[0].chains[0].rules
        XCTAssertEqual(rules.count, 2)
        XCTAssertTrue(rules[0].isUnsupported)
        XCTAssertFalse(rules[1].isUnsupported)
        XCTAssertEqual(rs.unsupported.map(\.construct), ["tproxy"])
        XCTAssertEqual(rs.unsupported.first?.line, 3)
        XCTAssertEqual(rs.unsupported.first?.ruleText, "tcp dport 80 tproxy to :3128 accept")
    }

    func testSyntaxErrorsGiveLineColumnAndExpectation() {
        func check(_ text: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try parse(text), file: file, line: line) { e in
                XCTAssertEqual((e as? InputError)?.description, expected, file: file, line: line)
            }
        }
        check("table ip t {\n\tchain c {\n\t\taccept\n", "t.nft:2:10: chain body not closed: expected '}'")
        check("tabel ip t {}\n", "t.nft:1:1: expected 'table', 'define', 'include' or a command (add, insert, flush, ...), got 'tabel'")
        check("table ip t {\n\tchain c {\n\t\tcounter packets x bytes 1\n\t}\n}\n", "t.nft:3:19: expected a packet count, got 'x'")
        check("table ip t {\n\tchain c {\n\t\ttype filter hook sideways priority 0;\n\t}\n}\n", "t.nft:3:20: bad hook 'sideways': expected prerouting, input, forward, output, postrouting, ingress or egress")
        check("table ip t {\n\tchain c {\n\t\tlog prefix \"open\n\t}\n}\n", "t.nft:3:14: unterminated string: expected a closing \"")
    }

    func testTruncationSweepNeverTraps() throws {
        let bytes = Array(NftSampleFixture.text.utf8)
        for n in stride(from: 0, through: bytes.count, by: 3) {
            let prefix = String(decoding: bytes[0..<n], as: UTF8.self)
            do { _ = try parse(prefix) } catch is InputError {} catch { XCTFail("unexpected \(error)") }
        }
    }

    /// Seeded mutations (byte flips, deletions, duplications) never trap.
    func testSeededMutationsNeverTrap() throws {
        var rng = SplitMix(seed: 0x5eed)
        let base = Array(NftSampleFixture.text.utf8)
        let alphabet = Array("{}();,\"@$#<>=!&|^:.-/ \nabc019".utf8)
        for _ in 0..<400 {
            var b = base
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let at = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 3 {
                case 0: b[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                case 1: b.remove(at: at)
                default: b.insert(b[at], at: at)
                }
            }
            do { _ = try parse(String(decoding: b, as: UTF8.self)) } catch is InputError {} catch { XCTFail("unexpected \(error)") }
        }
    }
}

/// A small deterministic generator for mutation tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
