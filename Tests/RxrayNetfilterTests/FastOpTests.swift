import XCTest
import RxrayDecode
import RxrayHost
import RxrayRules
@testable import RxrayNetfilter

/// The specialised ops (`FastOp`: comparisons and ranges on the common loads, no-op actions,
/// verdicts) give the same answers as the general `Op` switch: the same rulesets and packets
/// through an engine with and one without specialisation, across IPv4, IPv6 and ARP, later
/// fragments, packets cut short before or inside the transport header, and every hook.
final class FastOpTests: XCTestCase {

    /// An inet ruleset (so IPv4 and IPv6 packets see the same chains) plus an arp table, with
    /// the loads `FastLoad` covers in eq/ne/range/bitmask forms, and some it does not.
    func nftRuleset(_ r: inout LCG) -> String {
        func neg() -> String { r.chance(25) ? "!= " : "" }
        func v4() -> String {
            "\([192, 10, 203][r.below(3)]).\([0, 2, 18][r.below(3)]).\(r.below(3)).\(r.below(4))\(r.chance(50) ? "/\([8, 16, 24, 30][r.below(4)])" : "")"
        }
        func v6() -> String { "2001:db8::\(r.below(4))\(r.chance(40) ? "/\([64, 120, 127][r.below(3)])" : "")" }
        func rule(depth: Int) -> String {
            var parts: [String] = []
            if r.chance(25) { parts.append("ip saddr \(neg())\(v4())") }
            if r.chance(20) { parts.append("ip daddr \(neg())\(v4())") }
            if r.chance(15) { parts.append("ip6 saddr \(neg())\(v6())") }
            if r.chance(10) { parts.append("ip6 daddr \(neg())\(v6())") }
            if r.chance(15) { parts.append("iifname \(neg())\"\(["eth0", "eth1", "eth*", "lo"][r.below(4)])\"") }
            if r.chance(10) { parts.append("oifname \(neg())\"\(["eth0", "eth1", "eth*"][r.below(3)])\"") }
            switch r.below(8) {
            case 0: parts.append("tcp dport \(neg())\(r.below(30) + 1)\(r.chance(30) ? "-\(31 + r.below(20))" : "")")
            case 1: parts.append("udp sport \(neg())\(r.below(30) + 1)")
            case 2: parts.append("meta l4proto \(neg())\(["tcp", "udp", "icmp", "ipv6-icmp"][r.below(4)])")
            case 3: parts.append("th dport \(r.below(30) + 1)-\(31 + r.below(20))")
            case 4: parts.append("tcp sport \(r.below(30) + 1)")
            case 5: parts.append("meta length \(40 + r.below(40))-\(80 + r.below(40))")
            default: break
            }
            // Set keys and verdict maps read their loads in the specialised form too.
            switch r.below(10) {
            case 0: parts.append("tcp dport \(neg()){ \(r.below(10) + 1), \(r.below(20) + 11), 22 }")
            case 1: parts.append("ip saddr . th dport { 10.2.\(r.below(3)).\(r.below(4)) . \(r.below(30) + 1), 192.0.2.3 . 7 }")
            case 2: parts.append("meta l4proto . th sport { tcp . \(r.below(30) + 1), udp . \(r.below(30) + 1) }")
            case 3: parts.append("meta mark . ip daddr { \(r.below(3)) . 10.2.0.1, 1 . 192.0.2.\(r.below(4)) }")
            case 4 where depth < 2:
                parts.append("ip daddr . meta l4proto . th dport vmap { 10.2.0.\(r.below(4)) . tcp . \(r.below(30) + 1) : accept, 192.0.2.3 . udp . 7 : drop, 10.2.1.1 . tcp . 9 : jump c\(depth + 1) }")
                return "\t\t" + parts.joined(separator: " ")
            default: break
            }
            if r.chance(15) { parts.append("ct state \(["new", "established", "established,related", "invalid", "new,untracked"][r.below(5)])") }
            if r.chance(10) { parts.append("meta mark \(neg())\(r.below(3))") }
            if r.chance(8) { parts.append("meta mark & 0x2 == 0x2") }
            if r.chance(8) { parts.append("meta mark \(r.below(2))-\(2 + r.below(2))") }
            if r.chance(15) { parts.append("counter") }
            if r.chance(10) { parts.append("meta mark set \(r.below(3))") }
            switch r.below(8) {
            case 0, 1: parts.append("accept")
            case 2, 3: parts.append("drop")
            case 4: parts.append("return")
            case 5 where depth < 2: parts.append("jump c\(depth + 1)")
            case 6 where depth < 2: parts.append("goto c\(depth + 1)")
            default: parts.append("continue")
            }
            return "\t\t" + parts.joined(separator: " ")
        }
        var out = ["table inet t {"]
        for d in [2, 1] {
            out.append("\tchain c\(d) {")
            for _ in 0..<(3 + r.below(20)) { out.append(rule(depth: d)) }
            out.append("\t}")
        }
        for hook in ["prerouting", "input", "forward", "output", "postrouting"] {
            out.append("\tchain \(hook) {")
            out.append("\t\ttype filter hook \(hook) priority filter; policy \(r.chance(60) ? "accept" : "drop");")
            for _ in 0..<(r.below(3) == 0 ? 0 : 3 + r.below(30)) { out.append(rule(depth: 0)) }
            out.append("\t}")
        }
        out.append("}")
        out.append("table arp a {")
        out.append("\tchain in {")
        out.append("\t\ttype filter hook input priority filter; policy accept;")
        out.append("\t\tmeta mark \(r.below(2)) iifname \"eth0\" counter")
        out.append("\t\tiifname \(neg())\"eth1\" drop")
        out.append("\t}")
        out.append("}")
        return out.joined(separator: "\n")
    }

    enum Family { case v4, v6, arp }

    /// A random packet of `family`: TCP/UDP/ICMP with a few addresses and ports, sometimes a
    /// later fragment, sometimes cut off before or inside the transport header.
    func randomPacket(_ r: inout LCG, _ family: Family) -> [UInt8] {
        var b: [UInt8]
        switch family {
        case .arp:
            b = [0, 1, 8, 0, 6, 4, 0, 1] + [2, 0, 0, 0, 0, 1] + [192, 0, 2, UInt8(r.below(4))] + [0, 0, 0, 0, 0, 0] + [192, 0, 2, 1]
            return b
        case .v4:
            let src: [UInt8] = [[192, 10, 203][r.below(3)], [0, 2, 18][r.below(3)], UInt8(r.below(3)), UInt8(r.below(4))]
            let dst: [UInt8] = [[192, 10, 203][r.below(3)], [0, 2, 18][r.below(3)], UInt8(r.below(3)), UInt8(r.below(4))]
            switch r.below(4) {
            case 0, 1: b = Pkt.v4(src: src, dst: dst, proto: 6, l4: Pkt.tcp(sport: UInt16(r.below(40)), dport: UInt16(r.below(52)), flags: 0x02))
            case 2: b = Pkt.v4(src: src, dst: dst, proto: 17, l4: Pkt.udp(sport: UInt16(r.below(40)), dport: UInt16(r.below(52))))
            default: b = Pkt.v4(src: src, dst: dst, proto: 1, l4: Pkt.icmp(type: 8))
            }
            if r.chance(10) { b[6] = 0; b[7] = 10 }  // a later fragment
        case .v6:
            let nh: UInt8 = [6, 17, 58, 6][r.below(4)]
            let l4: [UInt8] = nh == 6 ? Pkt.tcp(sport: UInt16(r.below(40)), dport: UInt16(r.below(52)), flags: 0x02)
                : (nh == 17 ? Pkt.udp(sport: UInt16(r.below(40)), dport: UInt16(r.below(52))) : Pkt.icmp(type: 128))
            var ext: [UInt8] = []
            var first = nh
            if r.chance(15) {
                // A fragment header: the first fragment (offset 0) or a later one.
                ext = [nh, 0, 0, r.chance(50) ? 0 : 0x08, 0, 0, 0, 1]
                first = 44
            }
            let plen = ext.count + l4.count
            b = [0x60, 0, 0, 0, UInt8(plen >> 8), UInt8(plen & 0xFF), first, 64]
            b += [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [UInt8(r.below(4))]
            b += [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [UInt8(r.below(4))]
            b += ext + l4
        }
        if r.chance(10) {
            // Captured short: before the transport header, or inside it (ports but no flags).
            let hdr = family == .v6 ? 40 : 20
            b = Array(b.prefix(r.chance(50) ? hdr : hdr + 3))
        }
        return b
    }

    struct Seen: Equatable {
        var verdict: NFVerdict
        var cause: NFDropCause
        var mark: UInt32
        var visits: [String]
    }

    func walk(_ e: NetfilterEngine, _ bytes: [UInt8], _ family: Family, hooks: [NFHookPoint], mark: UInt32, iif: String, oif: String,
              time: Int64) -> Seen {
        var st = NFPacketState()
        var seen = Seen(verdict: .accept, cause: .none, mark: mark, visits: [])
        bytes.withUnsafeBytes { buf in
            var m = mark
            for h in hooks {
                let outHook = h == .forward || h == .postrouting || h == .output
                let inHook = h != .output && h != .postrouting
                var p = NFPacket(family: family == .v4 ? .ipv4 : (family == .v6 ? .ipv6 : .arp), hook: h, bytes: buf,
                                 iif: inHook ? (iif == "eth0" ? 2 : 3) : 0, oif: outHook ? (oif == "eth1" ? 3 : 2) : 0,
                                 iifName: inHook ? IfName(iif) : .none, oifName: outHook ? IfName(oif) : .none, mark: m, timeNs: time)
                let o = e.hook(&p, &st, trace: true)
                m = p.mark
                for v in e.visits {
                    var line = e.chainDescription(v.chain) + " rule \(v.rule) " + (v.verdict == .drop ? "drop" : "accept") + ":"
                    for s in e.traceSteps[v.traceRange] { line += " [\(s.rule) \(e.verdictText(of: s))]" }
                    seen.visits.append(line)
                }
                if o.verdict == .drop { seen.verdict = .drop; seen.cause = o.cause; e.packetDone(&st); break }
            }
            seen.mark = m
        }
        return seen
    }

    func testSpecialisedOpsAgreeWithTheGeneralSwitch() throws {
        var specialised = 0, packets = 0
        for seed in 1...30 as ClosedRange<UInt64> {
            var r = LCG(s: seed &* 31 &+ 5)
            let host = try testHost(nft: nftRuleset(&r))
            let fast = try NetfilterEngine(host: host)
            let general = try NetfilterEngine(host: host)
            general.specializeOps = false
            general.finishLoad()
            for i in 0..<fast.run.opsCount where fast.run.fast[i].code != .general { specialised += 1 }
            for i in 0..<general.run.opsCount { XCTAssertEqual(general.run.fast[i].code, .general) }
            var time: Int64 = 1_700_000_000_000_000_000
            for i in 0..<300 {
                let family: Family = [.v4, .v4, .v6, .arp][r.below(4)]
                let bytes = randomPacket(&r, family)
                let hooks: [NFHookPoint] = family == .arp ? [.input]
                    : [[.prerouting, .input], [.prerouting, .forward, .postrouting], [.output, .postrouting]][r.below(3)]
                let mark = UInt32(r.below(4)), iif = ["eth0", "eth1", "lo"][r.below(3)], oif = ["eth1", "eth0"][r.below(2)]
                time += 1_000_000
                let a = walk(fast, bytes, family, hooks: hooks, mark: mark, iif: iif, oif: oif, time: time)
                let b = walk(general, bytes, family, hooks: hooks, mark: mark, iif: iif, oif: oif, time: time)
                XCTAssertEqual(a, b, "seed \(seed) packet \(i) \(family) \(bytes)")
                packets += 1
            }
            XCTAssertEqual(fast.ruleHits, general.ruleHits, "seed \(seed)")
        }
        // The rulesets really exercise the specialised forms.
        XCTAssertGreaterThan(specialised, 1000)
        XCTAssertEqual(packets, 9000)
    }

    /// The ops each rule form compiles to: the common tests and actions are specialised, the
    /// rest stay general.
    func testWhichOpsAreSpecialised() throws {
        let text = """
        table inet t {
        \tchain input {
        \t\ttype filter hook input priority filter; policy accept;
        \t\tip saddr 10.0.0.0/8 tcp dport 22 ct state new counter accept
        \t\tmeta mark 3 iifname "eth*" meta l4proto udp drop
        \t\tip ttl 3 log drop
        \t}
        }
        """
        let e = try NetfilterEngine(host: testHost(nft: text))
        var codes: [[FastOp.Code]] = []
        var loads: [[FastLoad]] = []
        for r in e.run.rules {
            codes.append((Int(r.first)..<Int(r.first + r.count)).map { e.run.fast[$0].code })
            loads.append((Int(r.first)..<Int(r.first + r.count)).map { e.run.fast[$0].load })
        }
        XCTAssertEqual(codes.count, 3)
        XCTAssertTrue(codes[0].allSatisfy { $0 != .general }, "\(codes[0])")
        XCTAssertTrue(loads[0].contains(.saddr) && loads[0].contains(.thDport) && loads[0].contains(.ctState), "\(loads[0])")
        XCTAssertEqual(codes[0].last, .verdict)
        XCTAssertTrue(codes[1].allSatisfy { $0 != .general }, "\(codes[1])")
        XCTAssertTrue(loads[1].contains(.mark) && loads[1].contains(.iifName) && loads[1].contains(.l4proto), "\(loads[1])")
        // `ip ttl` has no specialised load: it stays general; `log` is a no-op.
        XCTAssertEqual(codes[2].first, .general)
        XCTAssertTrue(codes[2].contains(.nop))
    }
}
