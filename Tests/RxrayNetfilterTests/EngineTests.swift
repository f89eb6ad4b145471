import XCTest
import RxrayDecode
import RxrayHost
@testable import RxrayNetfilter

final class EngineTests: XCTestCase {
    let local: [NFHookPoint] = [.prerouting, .input]
    let fwd: [NFHookPoint] = [.prerouting, .forward, .postrouting]

    func testIptablesJumpReturnRejectAndPolicy() throws {
        let rules = """
        *filter
        :INPUT DROP [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :PORTS - [0:0]
        -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
        -A INPUT -p udp -j PORTS
        -A INPUT -p tcp -m tcp --dport 1001 -j REJECT --reject-with tcp-reset
        -A PORTS -p udp -m udp --dport 2002 -j REJECT --reject-with icmp-net-unreachable
        -A PORTS -p udp -m udp --dport 2008 -j RETURN
        -A PORTS -p udp -m udp --dport 53 -j ACCEPT
        COMMIT
        """
        let rig = Rig(try NetfilterEngine(host: testHost(iptables: rules)))
        XCTAssertEqual(rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5000, dport: 22, flags: fSYN)), hooks: local).verdict, .accept)
        let rst = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5000, dport: 1001, flags: fSYN)), hooks: local)
        XCTAssertEqual(rst.verdict, .drop); XCTAssertEqual(rst.reject, .tcpReset)
        let net = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 5000, dport: 2002)), hooks: local)
        XCTAssertEqual(net.reject, .icmp(type: 3, code: 0))
        XCTAssertEqual(net.rules, ["-A INPUT -p udp -j PORTS => jump PORTS", "-A PORTS -p udp -m udp --dport 2002 -j REJECT --reject-with icmp-net-unreachable => drop"])
        // RETURN goes back to INPUT, which falls to its DROP policy.
        let ret = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 5000, dport: 2008)), hooks: local)
        XCTAssertEqual(ret.verdict, .drop)
        XCTAssertEqual(ret.policies.count, 1)
        XCTAssertEqual(rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 5000, dport: 53)), hooks: local).verdict, .accept)
    }

    func testTraceStepsNameEachJumpAndGotoTarget() throws {
        // Steps hold a verdict code, not text: the jump and goto codes of several chains must
        // each come back as their own chain's name, through a goto, a jump and a return.
        let rules = """
        *filter
        :INPUT DROP [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :A - [0:0]
        :B - [0:0]
        :C - [0:0]
        -A INPUT -p udp -j A
        -A INPUT -p udp -j ACCEPT
        -A A -p udp -g C
        -A C -p udp -m udp --dport 53 -j B
        -A B -j RETURN
        COMMIT
        """
        let rig = Rig(try NetfilterEngine(host: testHost(iptables: rules)))
        let r = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 5000, dport: 53)), hooks: local)
        XCTAssertEqual(r.verdict, .accept)
        XCTAssertEqual(r.rules, ["-A INPUT -p udp -j A => jump A", "-A A -p udp -g C => goto C",
                                 "-A C -p udp -m udp --dport 53 -j B => jump B", "-A B -j RETURN => return",
                                 "-A INPUT -p udp -j ACCEPT => accept"])
    }

    func testJumpsNestedDeeperThanTheInitialStackUnwindInOrder() throws {
        // 100 user chains, each jumping to the next: deeper than the jump stack's first
        // allocation (64), so it grows mid-walk and every level still returns in order.
        var rules = "*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        for i in 0..<100 { rules += ":C\(i) - [0:0]\n" }
        rules += "-A INPUT -j C0\n-A INPUT -p udp -m udp --dport 10 -j ACCEPT\n"
        for i in 0..<99 { rules += "-A C\(i) -j C\(i + 1)\n-A C\(i) -p udp -m udp --dport 11 -j DROP\n" }
        rules += "-A C99 -p udp -m udp --dport 9 -j DROP\nCOMMIT\n"
        let rig = Rig(try NetfilterEngine(host: testHost(iptables: rules)))
        for _ in 0..<2 {
            let deep = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 5000, dport: 9)), hooks: local)
            XCTAssertEqual(deep.verdict, .drop)
            XCTAssertEqual(deep.rules.count, 101, "100 jumps, then the DROP in C99")
            XCTAssertEqual(deep.rules.last, "-A C99 -p udp -m udp --dport 9 -j DROP => drop")
            // Returns from C99 to C98's next rule, which drops port 11: the innermost frame first.
            let back = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 5000, dport: 11)), hooks: local)
            XCTAssertEqual(back.verdict, .drop)
            XCTAssertEqual(back.rules.last, "-A C98 -p udp -m udp --dport 11 -j DROP => drop")
            XCTAssertEqual(back.rules.count, 101)
            // Unwinds all 100 levels back to INPUT's second rule.
            let out = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 5000, dport: 10)), hooks: local)
            XCTAssertEqual(out.verdict, .accept)
            XCTAssertEqual(out.rules.last, "-A INPUT -p udp -m udp --dport 10 -j ACCEPT => accept")
        }
    }

    func testNftSetsIntervalsVmapAndLaterBaseChain() throws {
        let nft = """
        table inet filter {
        \tset blocked4 {
        \t\ttype ipv4_addr
        \t\telements = { 192.0.2.7, 192.0.2.8 }
        \t}
        \tset web {
        \t\ttype inet_service
        \t\tflags interval
        \t\telements = { 8000-8099 }
        \t}
        \tchain services {
        \t\ttcp dport @web reject with tcp reset
        \t\tudp dport 54 reject with icmpx admin-prohibited
        \t\treturn
        \t}
        \tchain input {
        \t\ttype filter hook input priority filter; policy accept;
        \t\tip saddr @blocked4 drop
        \t\tmeta l4proto { tcp, udp } jump services
        \t\tudp dport 9999 drop
        \t}
        \tchain late {
        \t\ttype filter hook input priority filter + 10; policy accept;
        \t\tudp dport 55 drop
        \t\tip protocol vmap { icmp : drop }
        \t}
        }
        """
        let rig = Rig(try NetfilterEngine(host: testHost(nft: nft)))
        XCTAssertEqual(rig.run(Pkt.v4(src: [192, 0, 2, 7], dst: me, proto: 17, l4: Pkt.udp(sport: 1, dport: 1)), hooks: local).verdict, .drop)
        let web = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 1, dport: 8050, flags: fSYN)), hooks: local)
        XCTAssertEqual(web.reject, .tcpReset)
        XCTAssertEqual(rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 1, dport: 8100, flags: fSYN)), hooks: local).verdict, .accept)
        XCTAssertEqual(rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 1, dport: 54)), hooks: local).reject, .icmpx(code: 3))
        // Accepted by `input`'s policy, then dropped by the later base chain.
        let late = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 1, dport: 55)), hooks: local)
        XCTAssertEqual(late.verdict, .drop)
        XCTAssertEqual(late.policies.first?.hasPrefix("inet filter input"), true)
        XCTAssertEqual(rig.run(Pkt.v4(src: peer, dst: me, proto: 1, l4: Pkt.icmp(type: 8)), hooks: local).verdict, .drop)
    }

    func testMarkSetAndMatch() throws {
        let nft = """
        table ip mangle {
        \tchain prerouting {
        \t\ttype filter hook prerouting priority mangle; policy accept;
        \t\tudp dport 1111 meta mark set 0x00000001
        \t}
        \tchain input {
        \t\ttype filter hook input priority filter; policy accept;
        \t\tmeta mark 0x1 drop
        \t}
        }
        """
        let rig = Rig(try NetfilterEngine(host: testHost(nft: nft)))
        let a = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 1, dport: 1111)), hooks: local)
        XCTAssertEqual(a.verdict, .drop)
        XCTAssertEqual(a.mark, 1)
        let b = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 1, dport: 2222)), hooks: local)
        XCTAssertEqual(b.verdict, .accept); XCTAssertEqual(b.mark, 0)
    }

    func testSameScenarioInIptablesAndNftGivesSameVerdicts() throws {
        let ipt = """
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD DROP [0:0]
        :OUTPUT ACCEPT [0:0]
        -A FORWARD -p udp -m udp --dport 53 -j ACCEPT
        -A FORWARD -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset
        -A FORWARD -s 192.0.2.0/24 -p tcp -m multiport --dports 80,443 -j ACCEPT
        COMMIT
        """
        let nft = """
        table ip filter {
        \tchain FORWARD {
        \t\ttype filter hook forward priority filter; policy drop;
        \t\tudp dport 53 accept
        \t\ttcp dport 25 reject with tcp reset
        \t\tip saddr 192.0.2.0/24 tcp dport { 80, 443 } accept
        \t}
        }
        """
        let a = Rig(try NetfilterEngine(host: testHost(iptables: ipt)))
        let b = Rig(try NetfilterEngine(host: testHost(nft: nft)))
        let packets = [
            Pkt.v4(src: peer, dst: remote, proto: 17, l4: Pkt.udp(sport: 1, dport: 53)),
            Pkt.v4(src: peer, dst: remote, proto: 17, l4: Pkt.udp(sport: 1, dport: 54)),
            Pkt.v4(src: peer, dst: remote, proto: 6, l4: Pkt.tcp(sport: 1, dport: 25, flags: fSYN)),
            Pkt.v4(src: peer, dst: remote, proto: 6, l4: Pkt.tcp(sport: 1, dport: 443, flags: fSYN)),
            Pkt.v4(src: far, dst: remote, proto: 6, l4: Pkt.tcp(sport: 1, dport: 443, flags: fSYN)),
        ]
        let expected: [NFVerdict] = [.accept, .drop, .drop, .accept, .drop]
        for (i, p) in packets.enumerated() {
            let x = a.run(p, hooks: fwd), y = b.run(p, hooks: fwd)
            XCTAssertEqual(x.verdict, expected[i], "iptables packet \(i)")
            XCTAssertEqual(y.verdict, expected[i], "nft packet \(i)")
            XCTAssertEqual(x.reject, y.reject, "packet \(i)")
        }
    }

    func testLimitUsesCaptureTime() throws {
        let ipt = """
        *filter
        :INPUT DROP [0:0]
        -A INPUT -p icmp -m limit --limit 1/sec --limit-burst 2 -j ACCEPT
        COMMIT
        """
        let rig = Rig(try NetfilterEngine(host: testHost(iptables: ipt)))
        let ping = Pkt.v4(src: peer, dst: me, proto: 1, l4: Pkt.icmp(type: 8))
        let v = (0..<4).map { _ in rig.run(ping, hooks: local, step: 1_000).verdict }
        XCTAssertEqual(v, [.accept, .accept, .drop, .drop])
        XCTAssertEqual(rig.run(ping, hooks: local, step: 1_100_000_000).verdict, .accept)
    }

    func testStatisticNthIsDeterministic() throws {
        let ipt = """
        *filter
        :INPUT ACCEPT [0:0]
        -A INPUT -m statistic --mode nth --every 3 --packet 0 -j DROP
        COMMIT
        """
        let rig = Rig(try NetfilterEngine(host: testHost(iptables: ipt)))
        let p = Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 1, dport: 9))
        XCTAssertEqual((0..<6).map { _ in rig.run(p, hooks: local).verdict }, [.drop, .accept, .accept, .drop, .accept, .accept])
    }

    func testRuleHitsAreCounted() throws {
        let ipt = """
        *filter
        :INPUT ACCEPT [0:0]
        -A INPUT -p udp -j ACCEPT
        COMMIT
        """
        let e = try NetfilterEngine(host: testHost(iptables: ipt))
        let rig = Rig(e)
        for _ in 0..<3 { _ = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 1, dport: 9)), hooks: local) }
        XCTAssertEqual(e.ruleHits, [3])
        XCTAssertEqual(e.ruleInfo[0].line, 3)
    }
}
