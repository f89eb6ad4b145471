import XCTest
import RxrayDecode
import RxrayHost
@testable import RxrayNetfilter

/// The candidate-rule index (RuleIndex.swift) must be invisible: an engine that skips rules by
/// its index and one that walks every rule give the same verdicts, traces, marks, drop causes
/// and hit counts, on randomized rulesets and packets.
final class RuleIndexTests: XCTestCase {
    // MARK: - Constraints

    func testMaskedConstraintsAreSupersets() {
        // /24 of a 32-bit address: one interval below 2^32, everything from 2^32 up.
        let v = NFValue(0xC000_0200), m = NFValue(0xFFFF_FF00)
        let eq = ValueConstraint.masked(v, mask: m, negated: false)!
        XCTAssertEqual(eq.intervals.count, 2)
        XCTAssertEqual(eq.intervals[0].0, v); XCTAssertEqual(eq.intervals[0].1, NFValue(0xC000_02FF))
        XCTAssertEqual(eq.intervals[1].0, NFValue(high: 0, low: 1 << 32))
        XCTAssertFalse(eq.absentOK)
        let ne = ValueConstraint.masked(v, mask: m, negated: true)!
        XCTAssertEqual(ne.intervals.count, 2)
        XCTAssertEqual(ne.intervals[0].1, NFValue(0xC000_01FF))
        XCTAssertEqual(ne.intervals[1].0, NFValue(0xC000_0300))
        // A mask that is not one run of ones derives nothing; neither does a value outside it.
        XCTAssertNil(ValueConstraint.masked(NFValue(1), mask: NFValue(0xF0F), negated: false))
        XCTAssertNil(ValueConstraint.masked(NFValue(0x1FF), mask: NFValue(0xF0), negated: false))
        // Brute force on 12-bit values for every run-of-ones mask: each value passing the
        // masked test lies in the constraint.
        for lowBit in 0..<12 {
            for highBit in lowBit..<12 {
                let mask = UInt64((1 << (highBit + 1)) - (1 << lowBit))
                for trial in 0..<4 {
                    let want = UInt64(trial * 977 + 31) & mask
                    for neg in [false, true] {
                        let c = ValueConstraint.masked(NFValue(want), mask: NFValue(mask), negated: neg)!
                        for x in stride(from: UInt64(0), to: 1 << 13, by: 3) {
                            let passes = (x & mask == want) != neg
                            if passes {
                                XCTAssertTrue(c.intervals.contains { !(NFValue(x) < $0.0) && !($0.1 < NFValue(x)) },
                                              "mask \(mask) value \(want) neg \(neg) x \(x)")
                            }
                        }
                    }
                }
            }
        }
    }

    func testIntersectionAndRanges() {
        let a = ValueConstraint.range(NFValue(10), NFValue(20), negated: false)
        let b = ValueConstraint.range(NFValue(15), NFValue(30), negated: false)
        let i = a.intersected(b)
        XCTAssertEqual(i.intervals.count, 1)
        XCTAssertEqual(i.intervals[0].0, NFValue(15)); XCTAssertEqual(i.intervals[0].1, NFValue(20))
        let n = ValueConstraint.range(NFValue(0), NFValue(5), negated: true)
        XCTAssertEqual(n.intervals.count, 1)
        XCTAssertEqual(n.intervals[0].0, NFValue(6))
        XCTAssertTrue(a.intersected(ValueConstraint.range(NFValue(21), NFValue(40), negated: false)).intervals.isEmpty)
        XCTAssertTrue(ValueConstraint.any.isAny)
        XCTAssertEqual(NFValue.ones(upTo: 63), NFValue(.max))
        XCTAssertEqual(NFValue.ones(upTo: 64), NFValue(high: 1, low: .max))
        XCTAssertEqual(NFValue(high: 1, low: 0).minusOne, NFValue(.max))
        XCTAssertEqual(NFValue(.max).plusOne, NFValue(high: 1, low: 0))
    }

    func testIndexIsBuiltAndSkips() throws {
        var lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
        for i in 0..<100 { lines.append("-A INPUT -s 198.18.0.\(i)/32 -j DROP") }
        lines.append("COMMIT")
        let engine = try NetfilterEngine(host: testHost(iptables: lines.joined(separator: "\n")))
        let c = engine.run.chains.first { $0.ruleCount == 100 }!
        XCTAssertEqual(c.dimCount, 1)
        XCTAssertEqual(engine.run.idxDims[Int(c.dimFirst)].load, .saddr)
        let rig = Rig(engine)
        let hit = rig.run(Pkt.v4(src: [198, 18, 0, 77], dst: me, proto: 17, l4: Pkt.udp(sport: 1, dport: 2)), hooks: [.input])
        XCTAssertEqual(hit.verdict, .drop)
        XCTAssertEqual(hit.rules, ["-A INPUT -s 198.18.0.77/32 -j DROP => drop"])
        XCTAssertEqual(rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 1, dport: 2)), hooks: [.input]).verdict, .accept)
        XCTAssertEqual(engine.ruleHits.reduce(0, +), 1)
    }

    /// Chains of 4 to 7 rules get an index only when every rule is guarded on an indexed
    /// dimension (the mangle table's per-port MARK rules), and skip as the large ones do.
    func testSmallChainIndexedOnlyWhenEveryRuleIsGuarded() throws {
        let guarded = ["*mangle", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
                       ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]"]
            + [22, 53, 80, 443].enumerated().map { "-A PREROUTING -i eth0 -p tcp -m tcp --dport \($1) -j MARK --set-xmark 0x\($0 + 1)/0xffffffff" }
        let engine = try NetfilterEngine(host: testHost(iptables: (guarded + ["COMMIT"]).joined(separator: "\n")))
        XCTAssertEqual(engine.ruleIndexSmallMinRules, 4)
        let c = try XCTUnwrap(engine.run.chains.first { $0.ruleCount == 4 })
        // `-i eth0` and `-p tcp` are the same test in every rule, the port tells them apart:
        // only the port is searched.
        XCTAssertEqual(c.dimCount, 1)
        XCTAssertEqual(engine.run.idxDims[Int(c.dimFirst)].load, .dport)
        let rig = Rig(engine)
        let pkt = Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 1000, dport: 80, flags: 0x02))
        let hit = rig.run(pkt, hooks: [.prerouting])
        XCTAssertEqual(hit.verdict, .accept)
        XCTAssertEqual(hit.rules, ["-A PREROUTING -i eth0 -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x3/0xffffffff => continue"])
        // One rule the index cannot skip (no test before its action): no index.
        let unguarded = guarded + ["-A PREROUTING -j MARK --set-xmark 0x9/0xffffffff", "COMMIT"]
        let plain = try NetfilterEngine(host: testHost(iptables: unguarded.joined(separator: "\n")))
        let d = try XCTUnwrap(plain.run.chains.first { $0.ruleCount == 5 })
        XCTAssertEqual(d.dimCount, 0)
        // Three rules: below the small-chain threshold.
        let three = Array(guarded.prefix(9)) + ["COMMIT"]
        let small = try NetfilterEngine(host: testHost(iptables: three.joined(separator: "\n")))
        XCTAssertEqual(try XCTUnwrap(small.run.chains.first { $0.ruleCount == 3 }).dimCount, 0)
    }

    /// A dimension whose rules all make the same test is left out when another dimension kept
    /// tells those rules apart; kept when none does, or when its rules differ.
    func testDimensionsThatOnlyFilterAreLeftOut() {
        let tcp = ValueConstraint.points([6]), udp = ValueConstraint.points([17])
        func port(_ p: UInt64) -> ValueConstraint { .range(NFValue(p), NFValue(p), negated: false) }
        let eth0 = ValueConstraint.range(NFValue(1), NFValue(1), negated: false)
        // Every rule: -i eth0 -p tcp --dport N.
        let same: [[(Load, ValueConstraint)]] = (1...4).map { [(.iifName, eth0), (.l4proto, tcp), (.dport, port(UInt64($0)))] }
        XCTAssertEqual(RuleIndexBuilder.pruned([.iifName, .l4proto, .dport], same), [.dport])
        // The protocols differ: kept.
        let mixed: [[(Load, ValueConstraint)]] = (1...4).map { [(.iifName, eth0), (.l4proto, $0 % 2 == 0 ? tcp : udp), (.dport, port(UInt64($0)))] }
        XCTAssertEqual(RuleIndexBuilder.pruned([.iifName, .l4proto, .dport], mixed), [.l4proto, .dport])
        // A rule tested on the interface but not on the port: the interface stays.
        var partial = same
        partial.append([(.iifName, eth0)])
        XCTAssertEqual(RuleIndexBuilder.pruned([.iifName, .l4proto, .dport], partial), [.iifName, .dport])
        // Nothing tells the rules apart: the filters stay.
        let filters: [[(Load, ValueConstraint)]] = (1...4).map { _ in [(.iifName, eth0), (.l4proto, tcp)] }
        XCTAssertEqual(RuleIndexBuilder.pruned([.iifName, .l4proto], filters), [.iifName, .l4proto])
    }

    // MARK: - Class search and classes across jumps

    func testClassSearchCountsTheBoundsNotAboveTheValue() {
        var r = LCG(s: 77)
        for _ in 0..<2000 {
            let n = r.below(40)
            let pts = Set((0..<n).map { _ in UInt64(r.below(1000)) }).sorted()
            let buf = UnsafeMutablePointer<UInt64>.allocate(capacity: max(1, pts.count))
            defer { buf.deallocate() }
            buf.initialize(from: pts, count: pts.count)
            for x in [0, 1, UInt64(r.below(1100)), 999, 1000, UInt64.max] {
                XCTAssertEqual(RunProgram.countNotAbove(x, buf, pts.count), pts.filter { $0 <= x }.count, "\(pts) \(x)")
            }
        }
    }

    func testDimensionsWithOnly64BitBoundsAreNarrow() throws {
        func chainDims(_ text: String) throws -> (NetfilterEngine, RunProgram.Chain) {
            let e = try NetfilterEngine(host: testHost(nft: text))
            e.ruleIndexMinRules = 1
            e.finishLoad()
            return (e, try XCTUnwrap(e.run.chains.first { $0.dimCount > 0 }))
        }
        let v4Rules = (1...6).map { "\t\tip saddr 10.0.\($0).0/24 drop" }.joined(separator: "\n")
        let (e4, c4) = try chainDims("table inet t {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\(v4Rules)\n\t}\n}")
        XCTAssertTrue(e4.run.idxDims[Int(c4.dimFirst)...].prefix(Int(c4.dimCount)).allSatisfy { $0.narrow })
        let mixed = v4Rules + "\n\t\tip6 saddr 2001:db8::/64 drop"
        let (e6, c6) = try chainDims("table inet t {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\(mixed)\n\t}\n}")
        let saddr = try XCTUnwrap(e6.run.idxDims[Int(c6.dimFirst)...].prefix(Int(c6.dimCount)).first { $0.load == .saddr })
        XCTAssertFalse(saddr.narrow)
        // An IPv6 packet meets the IPv4-only (narrow) dimension: its address is above every
        // bound, as the 128-bit search finds; indexed and linear engines agree.
        let linear = try NetfilterEngine(host: testHost(nft: "table inet t {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\(v4Rules)\n\t}\n}"))
        linear.ruleIndexMinRules = .max
        linear.finishLoad()
        var v6: [UInt8] = [0x60, 0, 0, 0, 0, 8, 17, 64] + [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [2]
        v6 += [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1] + [0, 9, 0, 53, 0, 8, 0, 0]
        for e in [e4, linear] {
            v6.withUnsafeBytes { b in
                var p = NFPacket(family: .ipv6, hook: .input, bytes: b, iif: 2, iifName: IfName("eth0"))
                var st = NFPacketState()
                let o = e.hook(&p, &st, trace: true)
                XCTAssertEqual(o.verdict, .accept)
                XCTAssertEqual(e.visits.map(\.rule), [-1])
            }
        }
        XCTAssertEqual(e4.ruleHits, linear.ruleHits)
    }

    func testAChainReturnedToKeepsItsOwnClasses() throws {
        // INPUT is indexed on the destination port, U1 on the source address: after U1
        // returns, INPUT's later rules are found by INPUT's classes, not U1's.
        var lines = ["*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]", ":U1 - [0:0]"]
        lines.append("-A INPUT -p tcp -m tcp --dport 1 -j DROP")
        lines.append("-A INPUT -p tcp -m tcp --dport 1:100 -j U1")
        for d in 2...9 { lines.append("-A INPUT -p tcp -m tcp --dport \(d) -j DROP") }
        lines.append("-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT")
        for k in 1...8 { lines.append("-A U1 -s 10.0.\(k).0/24 -j MARK --set-xmark 0x\(k)/0xffffffff") }
        lines.append("-A U1 -s 192.0.2.0/24 -j RETURN")
        lines.append("COMMIT")
        let host = try testHost(iptables: lines.joined(separator: "\n"))
        let indexed = try NetfilterEngine(host: host)
        indexed.ruleIndexMinRules = 1
        indexed.finishLoad()
        XCTAssertEqual(indexed.run.chains.filter { $0.dimCount > 0 }.count, 2)
        let linear = try NetfilterEngine(host: host)
        linear.ruleIndexMinRules = .max
        linear.finishLoad()
        for (sport, dport) in [(1000, 80), (1000, 5), (1000, 200), (1000, 1)] as [(UInt16, UInt16)] {
            let pkt = Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: sport, dport: dport, flags: fSYN))
            let x = Rig(indexed).run(pkt, hooks: [.input]), y = Rig(linear).run(pkt, hooks: [.input])
            XCTAssertEqual(x.verdict, y.verdict, "dport \(dport)")
            XCTAssertEqual(x.rules, y.rules, "dport \(dport)")
            XCTAssertEqual(x.policies, y.policies, "dport \(dport)")
        }
        XCTAssertEqual(indexed.ruleHits, linear.ruleHits)
        let pkt = Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 1000, dport: 80, flags: fSYN))
        XCTAssertEqual(Rig(indexed).run(pkt, hooks: [.input]).rules, [
            "-A INPUT -p tcp -m tcp --dport 1:100 -j U1 => jump U1",
            "-A U1 -s 192.0.2.0/24 -j RETURN => return",
            "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT => accept",
        ])
    }

    // MARK: - Skipping by ct state

    func testSkippingRulesByCtStateAgreesWithWalkingThem() throws {
        let states = ["NEW", "ESTABLISHED", "RELATED,ESTABLISHED", "INVALID", "NEW,INVALID", "UNTRACKED"]
        var skipped = 0
        for seed in 1...25 as ClosedRange<UInt64> {
            var r = LCG(s: seed &* 31 &+ 5)
            var out = ["*filter", ":INPUT \(r.chance(50) ? "ACCEPT" : "DROP") [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]", ":U1 - [0:0]"]
            func rule(_ chain: String, canJump: Bool) -> String {
                var parts = ["-A \(chain)"]
                if r.chance(70) { parts.append("-m conntrack \(r.chance(20) ? "! " : "")--ctstate \(states[r.below(states.count)])") }
                if r.chance(40) { parts.append("-p tcp -m tcp --dport \(r.below(6) + 1)") }
                switch r.below(6) {
                case 0: parts.append("-j ACCEPT")
                case 1: parts.append("-j DROP")
                case 2: parts.append("-j MARK --set-xmark \(r.below(3))/0xffffffff")
                case 3 where canJump: parts.append("-j U1")
                case 4: parts.append("-j RETURN")
                default: parts.append("-j LOG")
                }
                return parts.joined(separator: " ")
            }
            for _ in 0..<(1 + r.below(8)) { out.append(rule("INPUT", canJump: true)) }
            for _ in 0..<(1 + r.below(8)) { out.append(rule("U1", canJump: false)) }
            out.append("COMMIT")
            let host = try testHost(iptables: out.joined(separator: "\n"))
            let skipping = try NetfilterEngine(host: host)
            skipped += skipping.run.chains.filter { $0.ctSkipFirst >= 0 }.count
            let walking = try NetfilterEngine(host: host)
            walking.skipByCtState = false
            walking.finishLoad()
            XCTAssertTrue(walking.run.chains.allSatisfy { $0.ctSkipFirst < 0 })
            let a = Rig(skipping), b = Rig(walking)
            for i in 0..<200 {
                // A few flows both ways, so packets are new, established, invalid (a stray
                // SYN-ACK) or replies.
                let port = UInt16(r.below(6) + 1), high = UInt16(40000 + r.below(3))
                let pkt: [UInt8]
                switch r.below(5) {
                case 0: pkt = Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: high, dport: port, flags: fSYN))
                case 1: pkt = Pkt.v4(src: me, dst: peer, proto: 6, l4: Pkt.tcp(sport: port, dport: high, flags: fSYN | fACK, seq: 5000, ack: 1001))
                case 2: pkt = Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: high, dport: port, flags: fACK, seq: 1001, ack: 5001))
                case 3: pkt = Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: high, dport: port))
                default: pkt = Pkt.v4(src: me, dst: peer, proto: 17, l4: Pkt.udp(sport: port, dport: high))
                }
                let x = a.run(pkt, hooks: [.prerouting, .input]), y = b.run(pkt, hooks: [.prerouting, .input])
                XCTAssertEqual(x.verdict, y.verdict, "seed \(seed) packet \(i)")
                XCTAssertEqual(x.rules, y.rules, "seed \(seed) packet \(i)")
                XCTAssertEqual(x.policies, y.policies, "seed \(seed) packet \(i)")
                XCTAssertEqual(x.mark, y.mark, "seed \(seed) packet \(i)")
                XCTAssertEqual(x.cause, y.cause, "seed \(seed) packet \(i)")
                XCTAssertEqual(x.state.ct.stateBit, y.state.ct.stateBit, "seed \(seed) packet \(i)")
            }
            XCTAssertEqual(skipping.ruleHits, walking.ruleHits, "seed \(seed)")
        }
        // The rulesets are such that chains really begin with ct state tests.
        XCTAssertGreaterThan(skipped, 10)
    }

    func testAChainOfNewOnlyRulesIsSkippedForAnEstablishedPacket() throws {
        let text = """
        table ip t {
        \tchain check {
        \t\tmeta mark set 7
        \t}
        \tchain input {
        \t\ttype filter hook input priority filter; policy accept;
        \t\tct state new jump check
        \t\tct state new counter
        \t}
        }
        """
        let e = try NetfilterEngine(host: testHost(nft: text))
        let c = try XCTUnwrap(e.run.chains.first { $0.isBase })
        XCTAssertGreaterThanOrEqual(c.ctSkipFirst, 0)
        XCTAssertEqual(e.run.entrySkip(c, { var s = NFPacketState(); s.ct.slot = 0; s.ct.info = .established; return s }()), 2)
        XCTAssertEqual(e.run.entrySkip(c, { var s = NFPacketState(); s.ct.slot = 0; s.ct.info = .new; return s }()), 0)
        let rig = Rig(e)
        let syn = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 1, dport: 2)), hooks: [.prerouting, .input])
        XCTAssertEqual(syn.mark, 7)
        XCTAssertEqual(syn.rules.count, 3)  // the jump, the mark set in `check`, the counter
        let reply = rig.run(Pkt.v4(src: me, dst: peer, proto: 17, l4: Pkt.udp(sport: 2, dport: 1)), hooks: [.prerouting, .input])
        XCTAssertEqual(reply.mark, 0)
        XCTAssertEqual(reply.rules, [])
        XCTAssertEqual(reply.policies.count, 1)
        XCTAssertTrue(reply.policies[0].hasSuffix(" accept"))
    }

    /// `-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT` first: an established packet's
    /// chain is decided by that rule without a walk (counted and traced as walked), an invalid
    /// one's by the DROP after it, a new one walks.
    func testAChainIsDecidedByItsFirstCtStateVerdict() throws {
        let text = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]",
                    "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                    "-A FORWARD -m conntrack --ctstate INVALID -j DROP",
                    "-A FORWARD -i eth0 -j ACCEPT", "COMMIT"].joined(separator: "\n")
        let e = try NetfilterEngine(host: testHost(iptables: text))
        let c = try XCTUnwrap(e.run.chains.first { $0.isBase && $0.ruleCount == 3 })
        func state(_ info: CTInfo, slot: Int32 = 0) -> NFPacketState { var s = NFPacketState(); s.ct.slot = slot; s.ct.info = info; return s }
        guard case .rule(let est, drop: false) = e.run.entryDecision(c, state(.established)) else { return XCTFail("established walks") }
        XCTAssertEqual(e.ruleInfo[Int(est)].text, "-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
        guard case .rule(let inv, drop: true) = e.run.entryDecision(c, state(.new, slot: -1)) else { return XCTFail("invalid walks") }
        XCTAssertEqual(e.ruleInfo[Int(inv)].text, "-A FORWARD -m conntrack --ctstate INVALID -j DROP")
        guard case .walk = e.run.entryDecision(c, state(.new)) else { return XCTFail("new is decided") }
        // Through the hooks: the same trace, counts and verdicts as an engine that walks.
        let walking = try NetfilterEngine(host: testHost(iptables: text))
        walking.skipByCtState = false
        walking.finishLoad()
        let a = Rig(e), b = Rig(walking)
        let pkts = [Pkt.v4(src: peer, dst: remote, proto: 17, l4: Pkt.udp(sport: 5, dport: 6)),
                    Pkt.v4(src: remote, dst: peer, proto: 17, l4: Pkt.udp(sport: 6, dport: 5)),
                    Pkt.v4(src: peer, dst: remote, proto: 17, l4: Pkt.udp(sport: 5, dport: 6)),
                    Pkt.v4(src: remote, dst: peer, proto: 6, l4: Pkt.tcp(sport: 80, dport: 9, flags: fACK))]
        for (i, pkt) in pkts.enumerated() {
            let x = a.run(pkt, hooks: [.prerouting, .forward, .postrouting]), y = b.run(pkt, hooks: [.prerouting, .forward, .postrouting])
            XCTAssertEqual(x.verdict, y.verdict, "packet \(i)")
            XCTAssertEqual(x.rules, y.rules, "packet \(i)")
            XCTAssertEqual(x.cause, y.cause, "packet \(i)")
        }
        XCTAssertEqual(e.ruleHits, walking.ruleHits)
        XCTAssertGreaterThanOrEqual(e.ruleHits[Int(est)], 2)  // the reply and the packet after it
    }

    // MARK: - Randomized agreement

    func iptRuleset(_ r: inout LCG) -> String {
        let userChains = ["U1", "U2", "U3"]
        var out = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]"]
        for u in userChains { out.append(":\(u) - [0:0]") }
        func neg() -> String { r.chance(20) ? "! " : "" }
        func addr() -> String {
            let len = [8, 16, 24, 30, 32][r.below(5)]
            return "\([192, 198, 203, 10][r.below(4)]).\([0, 2, 18, 51][r.below(4)]).\(r.below(4)).\(r.below(8))/\(len)"
        }
        func rule(_ chain: String, depth: Int) -> String {
            var parts = ["-A \(chain)"]
            if r.chance(40) { parts.append("\(neg())-s \(addr())") }
            if r.chance(30) { parts.append("\(neg())-d \(addr())") }
            if r.chance(20) { parts.append("\(neg())-i \(["eth0", "eth1", "eth+", "lo"][r.below(4)])") }
            if r.chance(10) { parts.append("\(neg())-o \(["eth1", "eth+"][r.below(2)])") }
            if r.chance(8) { parts.append("\(neg())-f") }
            let proto = r.below(5)
            switch proto {
            case 0:
                parts.append("-p tcp -m tcp")
                if r.chance(60) { let a = r.below(30) + 1; parts.append("\(neg())--dport \(a)\(r.chance(30) ? ":\(a + r.below(20))" : "")") }
                if r.chance(20) { parts.append("\(neg())--sport \(r.below(30) + 1)") }
                if r.chance(10) { parts.append("--tcp-flags SYN,ACK SYN") }
            case 1:
                parts.append("-p udp -m udp")
                if r.chance(60) { parts.append("\(neg())--dport \(r.below(30) + 1)") }
            case 2:
                parts.append("\(neg())-p icmp")
            default:
                break
            }
            if r.chance(10) { parts.append("-m mark \(neg())--mark \(r.below(3))") }
            if r.chance(5) { parts.append("-m limit --limit 3/sec --limit-burst 2") }
            if r.chance(5) { parts.append("-m conntrack --ctstate NEW") }
            let t = r.below(10)
            switch t {
            case 0, 1: parts.append("-j ACCEPT")
            case 2, 3: parts.append("-j DROP")
            case 4: parts.append("-j MARK --set-xmark \(r.below(3))/0xffffffff")
            case 5: parts.append("-j RETURN")
            case 6: parts.append("-j REJECT --reject-with icmp-port-unreachable")
            case 7 where depth < 3, 8 where depth < 3: parts.append("-j \(userChains[depth])")
            default: parts.append("-j LOG")
            }
            return parts.joined(separator: " ")
        }
        for (ci, chain) in (["INPUT", "FORWARD"] + userChains).enumerated() {
            let depth = ci < 2 ? 0 : ci - 1
            for _ in 0..<(5 + r.below(40)) { out.append(rule(chain, depth: depth)) }
        }
        out.append("COMMIT")
        return out.joined(separator: "\n")
    }

    func randomPacket(_ r: inout LCG) -> (bytes: [UInt8], iif: String, oif: String, mark: UInt32, forward: Bool) {
        let src: [UInt8] = [[192, 198, 203, 10][r.below(4)], [0, 2, 18, 51][r.below(4)], UInt8(r.below(4)), UInt8(r.below(8))]
        let dst: [UInt8] = r.chance(50) ? me : [[192, 198, 203, 10][r.below(4)], [0, 2, 18, 51][r.below(4)], UInt8(r.below(4)), UInt8(r.below(8))]
        var bytes: [UInt8]
        switch r.below(4) {
        case 0, 1:
            bytes = Pkt.v4(src: src, dst: dst, proto: 6, l4: Pkt.tcp(sport: UInt16(r.below(32)), dport: UInt16(r.below(52)), flags: r.chance(50) ? fSYN : fACK))
        case 2:
            bytes = Pkt.v4(src: src, dst: dst, proto: 17, l4: Pkt.udp(sport: UInt16(r.below(32)), dport: UInt16(r.below(52))))
        default:
            bytes = Pkt.v4(src: src, dst: dst, proto: 1, l4: Pkt.icmp(type: 8))
        }
        if r.chance(8) {
            // A later fragment: no transport header for the rules.
            bytes[6] = 0; bytes[7] = 10
            bytes[10] = 0; bytes[11] = 0
            let c = Pkt.csum(Array(bytes[0..<20])); bytes[10] = UInt8(c >> 8); bytes[11] = UInt8(c & 0xFF)
        }
        return (bytes, ["eth0", "eth1", "lo"][r.below(3)], ["eth1", "eth0"][r.below(2)], UInt32(r.below(3)), r.chance(40))
    }

    func assertAgree(_ host: RxrayHost.Host, seed: UInt64, packets: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let indexed = try NetfilterEngine(host: host)
        indexed.ruleIndexMinRules = 1
        indexed.finishLoad()
        let linear = try NetfilterEngine(host: host)
        linear.ruleIndexMinRules = .max
        linear.finishLoad()
        XCTAssertTrue(linear.run.chains.allSatisfy { $0.dimCount == 0 })
        let a = Rig(indexed), b = Rig(linear)
        var r = LCG(s: seed &* 7919 &+ 1)
        for i in 0..<packets {
            let pk = randomPacket(&r)
            let hooks: [NFHookPoint] = pk.forward ? [.prerouting, .forward, .postrouting] : [.prerouting, .input]
            let x = a.run(pk.bytes, hooks: hooks, iif: pk.iif, oif: pk.oif, mark: pk.mark)
            let y = b.run(pk.bytes, hooks: hooks, iif: pk.iif, oif: pk.oif, mark: pk.mark)
            XCTAssertEqual(x.verdict, y.verdict, "seed \(seed) packet \(i)", file: file, line: line)
            XCTAssertEqual(x.rules, y.rules, "seed \(seed) packet \(i)", file: file, line: line)
            XCTAssertEqual(x.policies, y.policies, "seed \(seed) packet \(i)", file: file, line: line)
            XCTAssertEqual(x.mark, y.mark, "seed \(seed) packet \(i)", file: file, line: line)
            XCTAssertEqual(x.cause, y.cause, "seed \(seed) packet \(i)", file: file, line: line)
            XCTAssertEqual(x.reject, y.reject, "seed \(seed) packet \(i)", file: file, line: line)
        }
        XCTAssertEqual(indexed.ruleHits, linear.ruleHits, "seed \(seed)", file: file, line: line)
    }

    func testRandomIptablesIndexedAgreesWithLinear() throws {
        var indexedChains = 0
        for seed in 1...40 as ClosedRange<UInt64> {
            var r = LCG(s: seed)
            let text = iptRuleset(&r)
            let host = try testHost(iptables: text)
            let probe = try NetfilterEngine(host: host)
            probe.ruleIndexMinRules = 1
            probe.finishLoad()
            indexedChains += probe.run.chains.filter { $0.dimCount > 0 }.count
            try assertAgree(host, seed: seed, packets: 300)
        }
        // The rulesets are such that the index is really in use.
        XCTAssertGreaterThan(indexedChains, 40)
    }

    func nftRuleset(_ r: inout LCG) -> String {
        func neg() -> String { r.chance(20) ? "!= " : "" }
        func addr() -> String {
            "\([192, 198, 203, 10][r.below(4)]).\([0, 2, 18, 51][r.below(4)]).\(r.below(4)).\(r.below(8))\(r.chance(50) ? "/\([8, 16, 24, 30][r.below(4)])" : "")"
        }
        func rule(depth: Int) -> String {
            var parts: [String] = []
            if r.chance(35) { parts.append("ip saddr \(neg())\(addr())") }
            if r.chance(25) { parts.append("ip daddr \(neg())\(addr())") }
            if r.chance(15) { parts.append("iifname \(neg())\"\(["eth0", "eth1", "eth*", "lo"][r.below(4)])\"") }
            if r.chance(10) { parts.append("ip6 saddr 2001:db8::1") }
            switch r.below(5) {
            case 0: parts.append("tcp dport \(neg())\(r.below(30) + 1)\(r.chance(30) ? "-\(31 + r.below(20))" : "")")
            case 1: parts.append("udp dport { \(r.below(30) + 1), \(r.below(30) + 1) }")
            case 2: parts.append("meta l4proto \(neg())\(["tcp", "udp", "icmp"][r.below(3)])")
            case 3: parts.append("tcp sport \(r.below(30) + 1)")
            default: break
            }
            if r.chance(10) { parts.append("meta mark \(r.below(3))") }
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
            for _ in 0..<(5 + r.below(30)) { out.append(rule(depth: d)) }
            out.append("\t}")
        }
        for (name, hook) in [("input", "input"), ("forward", "forward")] {
            out.append("\tchain \(name) {")
            out.append("\t\ttype filter hook \(hook) priority filter; policy \(r.chance(50) ? "accept" : "drop");")
            for _ in 0..<(5 + r.below(40)) { out.append(rule(depth: 0)) }
            out.append("\t}")
        }
        out.append("}")
        return out.joined(separator: "\n")
    }

    func testRandomNftIndexedAgreesWithLinear() throws {
        for seed in 1...30 as ClosedRange<UInt64> {
            var r = LCG(s: seed &+ 1000)
            let text = nftRuleset(&r)
            try assertAgree(try testHost(nft: text), seed: seed, packets: 300)
        }
    }
}
