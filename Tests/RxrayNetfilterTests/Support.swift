import XCTest
import RxrayDecode
import RxrayHost
import RxrayRules
@testable import RxrayNetfilter

/// A small deterministic generator (64-bit LCG) for the randomized rulesets and packets of the
/// netfilter tests: the same seed gives the same case on every machine.
struct LCG {
    var s: UInt64
    mutating func next() -> UInt64 { s = s &* 6364136223846793005 &+ 1442695040888963407; return s >> 33 }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ pct: Int) -> Bool { below(100) < pct }
}

/// Builds IPv4 packets by hand (from the network header on), with valid checksums.
enum Pkt {
    static func csum(_ b: [UInt8]) -> UInt16 {
        var c = InternetChecksum(); b.withUnsafeBytes { c.add($0) }; return c.checksum
    }
    static func v4(src: [UInt8], dst: [UInt8], proto: UInt8, l4: [UInt8], id: UInt16 = 1) -> [UInt8] {
        let tot = 20 + l4.count
        var h: [UInt8] = [0x45, 0, UInt8(tot >> 8), UInt8(tot & 0xFF), UInt8(id >> 8), UInt8(id & 0xFF), 0, 0, 64, proto, 0, 0] + src + dst
        let c = csum(h); h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xFF)
        var seg = l4
        let at = proto == 6 ? 16 : (proto == 17 ? 6 : 2)
        if seg.count >= at + 2 {
            seg[at] = 0; seg[at + 1] = 0
            var pseudo: [UInt8] = proto == 1 ? [] : src + dst + [0, proto, UInt8(seg.count >> 8), UInt8(seg.count & 0xFF)]
            pseudo += seg
            let c2 = csum(pseudo); seg[at] = UInt8(c2 >> 8); seg[at + 1] = UInt8(c2 & 0xFF)
        }
        return h + seg
    }
    static func tcp(sport: UInt16, dport: UInt16, flags: UInt8, seq: UInt32 = 1000, ack: UInt32 = 0, win: UInt16 = 8192) -> [UInt8] {
        [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
         UInt8(seq >> 24), UInt8(seq >> 16 & 0xFF), UInt8(seq >> 8 & 0xFF), UInt8(seq & 0xFF),
         UInt8(ack >> 24), UInt8(ack >> 16 & 0xFF), UInt8(ack >> 8 & 0xFF), UInt8(ack & 0xFF),
         0x50, flags, UInt8(win >> 8), UInt8(win & 0xFF), 0, 0, 0, 0]
    }
    static func udp(sport: UInt16, dport: UInt16, payload: [UInt8] = [1, 2]) -> [UInt8] {
        let n = 8 + payload.count
        return [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF), UInt8(n >> 8), UInt8(n & 0xFF), 0, 0] + payload
    }
    static func icmp(type: UInt8, code: UInt8 = 0, id: UInt16 = 7, seq: UInt16 = 1, rest: [UInt8] = []) -> [UInt8] {
        [type, code, 0, 0, UInt8(id >> 8), UInt8(id & 0xFF), UInt8(seq >> 8), UInt8(seq & 0xFF)] + rest
    }
}

/// Runs packets through an engine across hooks, like the stack does for one frame.
final class Rig {
    let engine: NetfilterEngine
    var time: Int64 = 1_700_000_000_000_000_000
    init(_ engine: NetfilterEngine) { self.engine = engine }

    struct Out {
        var verdict: NFVerdict; var reject: NFRejectKind?; var state: NFPacketState; var mark: UInt32
        var bytes: [UInt8]; var rules: [String]; var policies: [String]; var cause: NFDropCause
    }

    func run(_ bytes: [UInt8], hooks: [NFHookPoint], iif: String = "eth0", oif: String = "eth1", mark: UInt32 = 0, step: Int64 = 1_000_000,
             localSeqUnknown: Bool = false) -> Out {
        var st = NFPacketState()
        var out = Out(verdict: .accept, reject: nil, state: st, mark: mark, bytes: bytes, rules: [], policies: [], cause: .none)
        time += step
        bytes.withUnsafeBytes { buf in
            var cur = buf
            var m = mark
            for h in hooks {
                let outHook = h == .forward || h == .postrouting
                var p = NFPacket(family: .ipv4, hook: h, bytes: cur, iif: iif == "eth0" ? 2 : 3, oif: outHook ? (oif == "eth1" ? 3 : 2) : 0,
                                 iifName: IfName(iif), oifName: outHook ? IfName(oif) : .none, mark: m, timeNs: time)
                p.localSeqUnknown = localSeqUnknown
                let o = engine.hook(&p, &st, trace: true)
                m = p.mark
                cur = p.bytes
                for v in engine.visits {
                    for s in engine.traceSteps[v.traceRange] { out.rules.append(engine.ruleInfo[Int(s.rule)].text + " => " + engine.verdictText(of: s)) }
                    if v.rule < 0 { out.policies.append(engine.chainDescription(v.chain) + (v.verdict == .drop ? " drop" : " accept")) }
                    // The visit text made from the engine's precomputed bytes reads as the
                    // same text spelt from the chain and rule records.
                    var expected = engine.chainDescription(v.chain)
                    for s in engine.traceSteps[v.traceRange] {
                        let i = engine.ruleInfo[Int(s.rule)]
                        expected += "; rule \"\(i.text)\" (\(i.file):\(i.line)) verdict \(engine.verdictText(of: s))"
                    }
                    if v.rule < 0 { expected += v.verdict == .drop ? "; policy drop" : "; policy accept" }
                    XCTAssertEqual(ByteWriter.string { engine.writeVisit(v, to: &$0) }, expected)
                    // Claimed JSON-safe exactly when no rule is in the text and the chain's
                    // text needs no escape; a claim is never wrong.
                    var w = ByteWriter(capacity: 64)
                    let safe = engine.writeVisit(v, to: &w)
                    let clean = ByteWriter.jsonCleanPrefix(w.bytes) == w.count
                    w.deallocate()
                    XCTAssertTrue(!safe || clean, expected)
                    let textClean = expected.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x22 && $0 != 0x5C && $0 != 0x7F }
                    XCTAssertEqual(safe, v.traceRange.isEmpty && textClean, expected)
                    XCTAssertEqual(ByteWriter.string { engine.writeChainDescription(v.chain, to: &$0) }, engine.chainDescription(v.chain))
                }
                if o.verdict == .drop { out.verdict = .drop; out.reject = o.reject; out.cause = o.cause; engine.packetDone(&st); break }
            }
            out.mark = m
            out.bytes = Array(cur)
        }
        out.state = st
        return out
    }
}

/// A two-interface host (eth0 192.0.2.1/24, eth1 198.51.100.1/24) with the given rules.
func testHost(iptables: String? = nil, nft: String? = nil, sysctls: [String: String] = [:], conntrack: [ConntrackEntry] = []) throws -> RxrayHost.Host {
    var sources: [RulesetSource] = []
    if let t = iptables { sources.append(RulesetSource(format: .iptablesSave, file: "iptables-save.txt", text: t)) }
    if let t = nft { sources.append(RulesetSource(format: .nftText, file: "nft-ruleset.txt", text: t)) }
    var rs = Rulesets(sources: sources)
    if let t = iptables { rs.iptables = try IptablesParser.parse(t, file: "iptables-save.txt", family: .ipv4) }
    var eth0 = Interface(name: "eth0", index: 2)
    eth0.addresses = [InterfaceAddress(address: IPAddress("192.0.2.1")!, prefixLength: 24)]
    var eth1 = Interface(name: "eth1", index: 3)
    eth1.addresses = [InterfaceAddress(address: IPAddress("198.51.100.1")!, prefixLength: 24)]
    var s = Sysctls()
    for (k, v) in sysctls { s.values[k] = v }
    return RxrayHost.Host(interfaces: [eth0, eth1], sysctls: s, conntrack: conntrack, rulesets: rs)
}

let peer: [UInt8] = [192, 0, 2, 2], me: [UInt8] = [192, 0, 2, 1], remote: [UInt8] = [203, 0, 113, 7], far: [UInt8] = [198, 51, 100, 9]
let fSYN: UInt8 = 0x02, fACK: UInt8 = 0x10, fFIN: UInt8 = 0x01, fRST: UInt8 = 0x04
