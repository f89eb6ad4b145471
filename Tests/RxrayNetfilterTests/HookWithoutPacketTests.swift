import XCTest
import RxrayDecode
import RxrayHost
@testable import RxrayNetfilter

/// `NetfilterEngine.hookWithoutPacket` decides a hook without the packet only when running it
/// would give the same: an engine that tries it first at every hook and one that always runs
/// `hook` agree on verdicts, drop causes, the last chain, rewritten bytes, marks, conntrack
/// state and the table, and rule counts, on randomized rulesets with NAT and flows both ways.
final class HookWithoutPacketTests: XCTestCase {
    struct Result: Equatable {
        var verdict: NFVerdict
        var cause: NFDropCause
        var lastChain: Int32
        var bytes: [UInt8]
        var mark: UInt32
        var stateBit: UInt32
        var created: Bool
        var slot: Int32
        /// Each base chain's visit as the trace writes it (traced runs only).
        var visits: [String] = []
    }

    /// Runs `bytes` through `hooks` as the stack does for one frame; `fast`: try the hook
    /// without the packet first. Counts the hooks so decided in `skipped`.
    func run(_ e: NetfilterEngine, _ bytes: [UInt8], hooks: [NFHookPoint], time: Int64, fast: Bool, trace: Bool = false,
             skipped: inout Int) -> Result {
        var st = NFPacketState()
        var res = Result(verdict: .accept, cause: .none, lastChain: -1, bytes: bytes, mark: 0, stateBit: 0, created: false, slot: -1)
        bytes.withUnsafeBytes { buf in
            var cur = buf
            var m: UInt32 = 0
            for h in hooks {
                if fast && e.hookWithoutPacket(family: .ipv4, hook: h, &st, trace: trace) {
                    skipped += 1
                    res.lastChain = e.lastVisitChain
                    if trace { res.visits += e.visits.map { v in ByteWriter.string { e.writeVisit(v, to: &$0) } } }
                    continue
                }
                let outHook = h == .forward || h == .postrouting
                var p = NFPacket(family: .ipv4, hook: h, bytes: cur, iif: 2, oif: outHook ? 3 : 0, iifName: IfName("eth0"),
                                 oifName: outHook ? IfName("eth1") : .none, mark: m, timeNs: time)
                let o = e.hook(&p, &st, trace: trace)
                if trace { res.visits += e.visits.map { v in ByteWriter.string { e.writeVisit(v, to: &$0) } } }
                m = p.mark
                cur = p.bytes
                res.lastChain = e.lastVisitChain
                if o.verdict == .drop { res.verdict = .drop; res.cause = o.cause; e.packetDone(&st); break }
            }
            res.mark = m
            res.bytes = Array(cur)
        }
        res.stateBit = st.ct.stateBit; res.created = st.ct.created; res.slot = st.ct.slot
        return res
    }

    func ruleset(_ r: inout LCG) -> String {
        let states = ["NEW", "ESTABLISHED", "RELATED,ESTABLISHED", "INVALID", "NEW,INVALID"]
        func chain(_ name: String, _ n: Int, nat: Bool) -> [String] {
            (0..<n).map { _ in
                var parts = ["-A \(name)"]
                // Mostly chains that begin with ct state tests (skipped on entry), some not.
                if r.chance(80) { parts.append("-m conntrack --ctstate \(states[r.below(states.count)])") }
                if r.chance(40) { parts.append("-p tcp -m tcp --dport \(r.below(4) + 1)") }
                if nat {
                    switch r.below(3) {
                    case 0: parts.append(name.hasPrefix("PRE") ? "-j DNAT --to-destination 198.51.100.9" : "-j SNAT --to-source 198.51.100.1")
                    case 1: parts.append("-j ACCEPT")
                    default: parts.append("-j RETURN")
                    }
                } else {
                    parts.append(["-j ACCEPT", "-j DROP", "-j MARK --set-xmark 0x5/0xffffffff", "-j LOG"][r.below(4)])
                }
                return parts.joined(separator: " ")
            }
        }
        var out = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]"]
        if r.chance(50) { out += chain("PREROUTING", 1 + r.below(2), nat: true) }
        if r.chance(50) { out += chain("POSTROUTING", 1 + r.below(2), nat: true) }
        out += ["COMMIT", "*mangle", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
                ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]"]
        if r.chance(40) { out += chain("POSTROUTING", 1 + r.below(2), nat: false) }
        out += ["COMMIT", "*filter", ":INPUT \(r.chance(80) ? "ACCEPT" : "DROP") [0:0]", ":FORWARD \(r.chance(80) ? "ACCEPT" : "DROP") [0:0]",
                ":OUTPUT ACCEPT [0:0]"]
        if r.chance(70) { out += chain("INPUT", r.below(4), nat: false) }
        if r.chance(70) { out += chain("FORWARD", r.below(4), nat: false) }
        out.append("COMMIT")
        return out.joined(separator: "\n")
    }

    func testDecidingWithoutThePacketAgreesWithRunningTheHook() throws {
        var skipped = 0, ran = 0
        for seed in 1...30 as ClosedRange<UInt64> {
            var r = LCG(s: seed &* 7919 &+ 3)
            let host = try testHost(iptables: ruleset(&r))
            let a = try NetfilterEngine(host: host), b = try NetfilterEngine(host: host)
            var time: Int64 = 1_700_000_000_000_000_000
            var unused = 0
            for i in 0..<150 {
                time += 1_000_000
                let port = UInt16(r.below(4) + 1), high = UInt16(40000 + r.below(3))
                let pkt: [UInt8]
                switch r.below(6) {
                case 0: pkt = Pkt.v4(src: peer, dst: remote, proto: 6, l4: Pkt.tcp(sport: high, dport: port, flags: fSYN))
                case 1: pkt = Pkt.v4(src: remote, dst: peer, proto: 6, l4: Pkt.tcp(sport: port, dport: high, flags: fSYN | fACK, seq: 5000, ack: 1001))
                case 2: pkt = Pkt.v4(src: peer, dst: remote, proto: 6, l4: Pkt.tcp(sport: high, dport: port, flags: fACK, seq: 1001, ack: 5001))
                case 3: pkt = Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: high, dport: port))
                case 4: pkt = Pkt.v4(src: me, dst: peer, proto: 17, l4: Pkt.udp(sport: port, dport: high))
                default: pkt = Pkt.v4(src: remote, dst: peer, proto: 17, l4: Pkt.udp(sport: port, dport: high))
                }
                let hooks: [NFHookPoint] = r.chance(50) ? [.prerouting, .forward, .postrouting] : [.prerouting, .input]
                // Half the rulesets traced (visits and trace steps recorded, as for detailed output).
                let trace = seed % 2 == 0
                let x = run(a, pkt, hooks: hooks, time: time, fast: true, trace: trace, skipped: &skipped)
                let y = run(b, pkt, hooks: hooks, time: time, fast: false, trace: trace, skipped: &unused)
                if trace { XCTAssertFalse(x.visits.isEmpty, "seed \(seed) packet \(i)") }
                ran += hooks.count
                XCTAssertEqual(x, y, "seed \(seed) packet \(i)")
            }
            XCTAssertEqual(a.ruleHits, b.ruleHits, "seed \(seed)")
            XCTAssertEqual(a.conntrack.count, b.conntrack.count, "seed \(seed)")
            XCTAssertEqual(a.conntrack.listingOrder(now: time).map { a.conntrack.listingRow($0, now: time) },
                           b.conntrack.listingOrder(now: time).map { b.conntrack.listingRow($0, now: time) }, "seed \(seed)")
        }
        // Both outcomes are exercised: hooks decided without the packet, and hooks run.
        XCTAssertGreaterThan(skipped, ran / 10)
        XCTAssertLessThan(skipped, ran - ran / 10)
    }

    /// A hook with a chain the packet's state does not skip, or a NAT binding to apply, or
    /// conntrack still to run, needs the packet; and nothing changes when it says so.
    func testHooksThatNeedThePacketAreRun() throws {
        let text = ["*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]",
                    "-A POSTROUTING -o eth1 -j MASQUERADE", "COMMIT",
                    "*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                    "-A INPUT -m conntrack --ctstate NEW -j ACCEPT", "-A INPUT -p udp -j ACCEPT", "COMMIT"].joined(separator: "\n")
        let e = try NetfilterEngine(host: testHost(iptables: text))
        // Every hook's chains may accept unwalked (FORWARD has none; INPUT's first rule is a
        // ct state ACCEPT): the hooks after conntrack may go without the packet, not those that
        // run it (a packet's first). A chain walked whatever the state clears its hook.
        for h in NFHookPoint.allCases {
            let free = e.packetFreeHooks & (1 << NetfilterEngine.hookIndex(.ipv4, h)) != 0
            XCTAssertEqual(free, h != .prerouting && h != .output, "\(h)")
        }
        let walked = try NetfilterEngine(host: testHost(iptables: text.replacingOccurrences(of: ":OUTPUT ACCEPT [0:0]\n-A INPUT", with: ":OUTPUT ACCEPT [0:0]\n-A FORWARD -i eth0 -j ACCEPT\n-A INPUT")))
        XCTAssertEqual(walked.packetFreeHooks & (1 << NetfilterEngine.hookIndex(.ipv4, .forward)), 0)
        XCTAssertNotEqual(walked.packetFreeHooks & (1 << NetfilterEngine.hookIndex(.ipv4, .input)), 0)
        var skipped = 0
        var st = NFPacketState()
        // Before any packet: never.
        XCTAssertFalse(e.hookWithoutPacket(family: .ipv4, hook: .input, &st, trace: false))
        let syn = Pkt.v4(src: peer, dst: remote, proto: 6, l4: Pkt.tcp(sport: 40000, dport: 80, flags: fSYN))
        _ = run(e, syn, hooks: [.prerouting, .forward, .postrouting], time: 1_700_000_000_000_000_000, fast: true, skipped: &skipped)
        // The new connection's first packet: prerouting runs conntrack; forward has no rules
        // (decided without the packet); postrouting binds the masquerade (run).
        XCTAssertEqual(skipped, 1)
        // Conntrack not yet run for this packet: the prerouting hook needs it.
        st = NFPacketState()
        XCTAssertFalse(e.hookWithoutPacket(family: .ipv4, hook: .prerouting, &st, trace: false))
        // The SYN again (a retransmission): postrouting applies the masquerade binding.
        skipped = 0
        let x = run(e, syn, hooks: [.prerouting, .forward, .postrouting], time: 1_700_000_000_001_000_000, fast: true, skipped: &skipped)
        XCTAssertEqual(skipped, 1)  // forward only
        XCTAssertEqual(Array(x.bytes[12..<16]), [198, 51, 100, 1])
        // INPUT's second rule is not skipped by the state: an established packet walks it.
        var est = NFPacketState()
        est.ctDone = true; est.ct.slot = x.slot; est.ct.info = .established
        XCTAssertFalse(e.hookWithoutPacket(family: .ipv4, hook: .input, &est, trace: false))
        XCTAssertEqual(est.ct.slot, x.slot)
    }
}
