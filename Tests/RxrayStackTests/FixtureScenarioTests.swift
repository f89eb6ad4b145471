import Foundation
import XCTest
import RxrayCapture
import RxrayDecode
import RxrayHost
@testable import RxrayStack

/// Runs every recorded scenario under Fixtures/scenarios through the analyzer and compares,
/// frame by frame, fate, drop reason, replies (kind/type/code, interface) and egress with the
/// kernel's truth. Lines of Fixtures/KNOWN-GAPS (`scenario[:frame] reason`) list what needs
/// stages not built yet; they are printed, not failed.
final class FixtureScenarioTests: XCTestCase {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    struct Gap { var scenario: String; var frame: Int?; var reason: String }

    static func knownGaps() -> [Gap] {
        let url = root.appendingPathComponent("Fixtures/KNOWN-GAPS")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        var out: [Gap] = []
        for line in text.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty || t.hasPrefix("#") { continue }
            let parts = t.split(separator: " ", maxSplits: 1)
            let id = parts[0].split(separator: ":")
            out.append(Gap(scenario: String(id[0]), frame: id.count > 1 ? Int(id[1]) : nil,
                           reason: parts.count > 1 ? String(parts[1]) : ""))
        }
        return out
    }

    /// What the scenario's listening applications do, from its hand-written setup.sh
    /// (`listen_tcp PORT BACKLOG accept|noaccept|close ...`): the snapshot's `ss` listing
    /// cannot tell an application that accepts from one that accepts and closes at once.
    static func tcpOptions(setup: String) -> TCPOptions {
        var o = TCPOptions()
        for line in setup.split(separator: "\n") {
            let w = line.split(separator: " ")
            guard w.count >= 4, w[0] == "listen_tcp", let port = UInt16(w[1]) else { continue }
            switch w[3] {
            case "accept": o.acceptingPorts[port] = true
            case "noaccept": o.acceptingPorts[port] = false
            case "close": o.acceptingPorts[port] = true; o.closingPorts.insert(port)
            default: break
            }
        }
        return o
    }

    func testSetupApplicationModes() {
        let o = Self.tcpOptions(setup: ". \"$RXLIB/dut.sh\"\nlisten_tcp 80 16 accept\nlisten_tcp 81 16 close\nlisten_tcp 82 1 noaccept 0.0.0.0 16\n")
        XCTAssertEqual(o.acceptingPorts, [80: true, 81: true, 82: false])
        XCTAssertEqual(o.closingPorts, [81])
    }

    /// A reply as compared: kind name plus ICMP type/code, and the interface.
    struct ReplyKey: Hashable, CustomStringConvertible {
        var kind: String
        var iface: String
        var description: String { "\(kind)@\(iface)" }
    }

    static func key(_ r: Reply) -> ReplyKey {
        switch r.kind {
        case .icmp(let t, let c): return ReplyKey(kind: "icmp \(t)/\(c)", iface: r.interface)
        case .icmpv6(let t, let c): return ReplyKey(kind: "icmpv6 \(t)/\(c)", iface: r.interface)
        case .tcpSynAck: return ReplyKey(kind: "tcp_synack", iface: r.interface)
        case .tcpAck: return ReplyKey(kind: "tcp_ack", iface: r.interface)
        case .neighbourSolicit: return ReplyKey(kind: "icmpv6 135/0", iface: r.interface)
        default: return ReplyKey(kind: r.kindName, iface: r.interface)
        }
    }

    /// Classifies a frame the kernel sent, from its hex bytes (Ethernet).
    static func key(hex: String, iface: String) -> ReplyKey {
        var b: [UInt8] = []
        var it = hex.makeIterator()
        while let h = it.next(), let l = it.next() { b.append(UInt8(String([h, l]), radix: 16) ?? 0) }
        guard b.count >= 14 else { return ReplyKey(kind: "short", iface: iface) }
        var et = Int(b[12]) << 8 | Int(b[13])
        var off = 14
        if et == 0x8100 && b.count >= 18 { et = Int(b[16]) << 8 | Int(b[17]); off = 18 }
        if et == 0x0806 {
            // Requests (opcode 1) resolve a next hop; replies (2) answer one.
            let op = b.count >= off + 8 ? Int(b[off + 6]) << 8 | Int(b[off + 7]) : 0
            return ReplyKey(kind: op == 1 ? "arp_request" : "arp_reply", iface: iface)
        }
        if et == 0x0800 && b.count >= off + 20 {
            let ihl = Int(b[off] & 0xF) * 4
            let p = b[off + 9]
            if p == 1 && b.count >= off + ihl + 2 { return ReplyKey(kind: "icmp \(b[off + ihl])/\(b[off + ihl + 1])", iface: iface) }
            if p == 6 && b.count >= off + ihl + 14 {
                let f = b[off + ihl + 13]
                if f & 0x04 != 0 { return ReplyKey(kind: "tcp_rst", iface: iface) }
                if f & 0x12 == 0x12 { return ReplyKey(kind: "tcp_synack", iface: iface) }
                return ReplyKey(kind: "tcp_ack", iface: iface)
            }
            return ReplyKey(kind: "ipv4 proto \(p)", iface: iface)
        }
        if et == 0x86DD && b.count >= off + 40 {
            var nh = b[off + 6]
            var o = off + 40
            while (nh == 0 || nh == 60 || nh == 43) && b.count >= o + 2 { nh = b[o]; o += (Int(b[o + 1]) + 1) * 8 }
            if nh == 58 && b.count >= o + 2 { return ReplyKey(kind: "icmpv6 \(b[o])/\(b[o + 1])", iface: iface) }
            if nh == 6 && b.count >= o + 14 {
                let f = b[o + 13]
                if f & 0x04 != 0 { return ReplyKey(kind: "tcp_rst", iface: iface) }
                if f & 0x12 == 0x12 { return ReplyKey(kind: "tcp_synack", iface: iface) }
            }
            return ReplyKey(kind: "ipv6 nh \(nh)", iface: iface)
        }
        return ReplyKey(kind: "ethertype \(et)", iface: iface)
    }

    /// What identifies a datagram across forwarding: addresses, protocol (next header),
    /// length, ports and TTL (hop limit). The recorder's `is_forward_of` also uses the IPv4 ID or
    /// IPv6 flow label, but a copy it classed as a reply has those zeroed (`normalized`).
    static func datagramKey(_ b: [UInt8]) -> (key: [UInt8], ttl: Int)? {
        guard b.count >= 14 else { return nil }
        var et = Int(b[12]) << 8 | Int(b[13])
        var off = 14
        if et == 0x8100 && b.count >= 18 { et = Int(b[16]) << 8 | Int(b[17]); off = 18 }
        // Ports (TCP/UDP) or type, code, identifier and sequence (ICMP echo) tell apart datagrams
        // that differ only in the zeroed ID; checksums and TCP sequence numbers are normalised too.
        func l4(_ o: Int, _ proto: UInt8) -> [UInt8] {
            switch proto {
            case 6, 17: return b.count >= o + 4 ? Array(b[o..<(o + 4)]) : []
            case 1, 58: return b.count >= o + 8 ? Array(b[o..<(o + 2)]) + Array(b[(o + 4)..<(o + 8)]) : []
            default: return []
            }
        }
        if et == 0x0800 && b.count >= off + 20 {
            let ihl = Int(b[off] & 0x0F) * 4
            return ([4, b[off + 2], b[off + 3], b[off + 9]] + Array(b[(off + 12)..<(off + 20)]) + l4(off + ihl, b[off + 9]), Int(b[off + 8]))
        }
        if et == 0x86DD && b.count >= off + 40 {
            return ([6, b[off + 4], b[off + 5], b[off + 6]] + Array(b[(off + 8)..<(off + 40)]) + l4(off + 40, b[off + 6]), Int(b[off + 7]))
        }
        return nil
    }

    /// The earlier injected frame whose forwarded copy `sent` is, if any: a packet that
    /// waited for neighbour resolution and left in a later frame's window.
    static func lateForward(_ sent: [UInt8], before frame: Int, frames: [Int: [UInt8]]) -> Int? {
        guard let s = datagramKey(sent) else { return nil }
        for n in frames.keys.sorted() where n < frame {
            if let i = datagramKey(frames[n]!), i.key == s.key, i.ttl == s.ttl + 1 { return n }
        }
        return nil
    }

    static func bytes(hex: String) -> [UInt8] {
        var b: [UInt8] = []
        var it = hex.makeIterator()
        while let h = it.next(), let l = it.next() { b.append(UInt8(String([h, l]), radix: 16) ?? 0) }
        return b
    }

    func testRecordedScenariosAgreeWithTheKernel() throws {
        let scenarios = try RecordedScenario.all()
        let gaps = Self.knownGaps()
        var compared = 0, agreed = 0, gapFrames = 0
        var failures: [String] = []
        for sc in scenarios {
            let name = sc.name, sdir = sc.dir, truthURL = sc.truth, capURL = sc.capture
            guard sc.isRecorded else { continue }
            guard sc.hasHost else {
                print("[fixtures] \(name): skipped, no host/ snapshot recorded yet")
                continue
            }
            if let g = gaps.first(where: { $0.scenario == name && $0.frame == nil }) {
                print("[fixtures] \(name): KNOWN GAP (whole scenario): \(g.reason)")
                continue
            }
            var description = ""
            if let d = try? Data(contentsOf: sdir.appendingPathComponent("scenario.json")),
               let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] {
                description = o["description"] as? String ?? ""
            }
            let host = try HostLoader.loadDirectory(sc.host.path)
            let setup = sc.setup
            let analyzer = try Analyzer(host: host, options: Analyzer.Options(tcp: Self.tcpOptions(setup: setup), timerEvents: true),
                                        netfilter: true)
            let reader = try CaptureReader(path: capURL.path)
            var results: [FrameResult] = []
            var injected: [Int: [UInt8]] = [:]
            // Replies of timers fired between frames (SYN-ACK retransmissions), by the frame
            // before them: the kernel sent them while that frame's window was open. Only paced
            // scenarios run the kernel's clock at capture time; timers after the last frame
            // fall outside every window.
            let paced = sc.isPaced
            var timerReplies: [Int: [Reply]] = [:]
            func keep(_ r: FrameResult) {
                guard let t = r.timer else { results.append(r); return }
                if paced && !t.endOfInput, let last = results.last?.frame { timerReplies[last, default: []] += r.replies }
            }
            while let f = try reader.next() {
                injected[f.index] = Array(f.bytes)
                let input = FrameInput(recorded: f)
                analyzer.process(input) { keep($0) }
            }
            analyzer.finish { keep($0) }
            let byFrame = Dictionary(results.map { ($0.frame, $0) }, uniquingKeysWith: { a, _ in a })
            let lines = try String(contentsOf: truthURL, encoding: .utf8).split(separator: "\n")
            // A forwarded packet that waited for neighbour resolution leaves in the window of
            // the frame that resolved it, where the recorder sees it as a reply; rxray reports
            // it as that earlier frame's forward. Move such copies to the frame they belong to.
            var lateEgress: [Int: String] = [:]
            var truths: [[String: Any]] = []
            for line in lines {
                guard var o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let frame = o["frame"] as? Int else { continue }
                var kept: [[String: Any]] = []
                for s in o["sent"] as? [[String: Any]] ?? [] {
                    if (s["kind"] as? String) == "reply",
                       let n = Self.lateForward(Self.bytes(hex: s["hex"] as? String ?? ""), before: frame, frames: injected) {
                        lateEgress[n] = s["iface"] as? String ?? ""
                        continue
                    }
                    kept.append(s)
                }
                o["sent"] = kept
                truths.append(o)
            }
            // A packet evicted from a full neighbour queue is freed (NEIGH_QUEUEFULL) in the
            // window of the frame whose packet took its place; rxray reports the drop on the
            // evicted packet's own frame. The oldest packet of a queue is the one whose window
            // started the resolution (`__neigh_event_send` consumed the probe's clone there): the
            // latest such earlier frame that is still waiting.
            var evictedTo: Set<Int> = []
            for j in truths.indices {
                var drops = truths[j]["drops"] as? [[String: Any]] ?? []
                let full = drops.filter { ($0["reason"] as? String) == "NEIGH_QUEUEFULL" }
                guard !full.isEmpty, let frame = truths[j]["frame"] as? Int else { continue }
                drops.removeAll { ($0["reason"] as? String) == "NEIGH_QUEUEFULL" }
                truths[j]["drops"] = drops
                if drops.isEmpty && (truths[j]["fate"] as? String) == "dropped" { truths[j]["fate"] = "delivered" }
                for d in full {
                    guard let k = truths.lastIndex(where: {
                        let n = $0["frame"] as? Int ?? 0
                        return n < frame && !evictedTo.contains(n) && lateEgress[n] == nil
                            && ($0["fate"] as? String) == "delivered" && ($0["drops"] as? [[String: Any]] ?? []).isEmpty
                            && ($0["consumed"] as? [String] ?? []).contains("__neigh_event_send")
                    }) else { continue }
                    evictedTo.insert(truths[k]["frame"] as? Int ?? 0)
                    truths[k]["drops"] = [d]
                    truths[k]["fate"] = "dropped"
                }
            }
            for var o in truths {
                guard let frame = o["frame"] as? Int else { continue }
                if let e = lateEgress[frame], (o["fate"] as? String) == "delivered" {
                    o["fate"] = "forwarded"
                    o["sent"] = (o["sent"] as? [[String: Any]] ?? []) + [["iface": e, "kind": "forward"]]
                }
                if let g = gaps.first(where: { $0.scenario == name && $0.frame == frame }) {
                    gapFrames += 1
                    print("[fixtures] \(name):\(frame): KNOWN GAP: \(g.reason)")
                    continue
                }
                compared += 1
                guard let r = byFrame[frame] else {
                    failures.append("\(name):\(frame): rxray produced no result\n    scenario: \(description)")
                    continue
                }
                let fate = o["fate"] as? String ?? ""
                let drops = (o["drops"] as? [[String: Any]] ?? [])
                let mainDrop = drops.first { ($0["location"] as? String) != "skb_release_data" } ?? drops.first
                let reason = mainDrop?["reason"] as? String
                let sent = o["sent"] as? [[String: Any]] ?? []
                var truthReplies: [ReplyKey] = []
                var truthEgress: [String] = []
                for s in sent {
                    let iface = s["iface"] as? String ?? ""
                    if (s["kind"] as? String) == "forward" { truthEgress.append(iface); continue }
                    truthReplies.append(Self.key(hex: s["hex"] as? String ?? "", iface: iface))
                }
                // A burst (GRO scenarios) is observed as a whole on its last frame: compare the
                // replies of all its frames there, and none on the others.
                var ours = (r.replies + (timerReplies[frame] ?? [])).map(Self.key)
                if let w = o["window"] as? [Int], w.count == 2 {
                    ours = frame == w[1] ? (w[0]...w[1]).flatMap { ((byFrame[$0]?.replies ?? []) + (timerReplies[$0] ?? [])).map(Self.key) } : []
                }
                var problems: [String] = []
                if r.fate.rawValue != fate { problems.append("fate kernel=\(fate) rxray=\(r.fate.rawValue)") }
                if fate == "dropped", let reason = reason, r.dropReason?.name != reason {
                    problems.append("drop reason kernel=\(reason)@\(mainDrop?["location"] as? String ?? "?") rxray=\(r.dropReason?.name ?? "none")@\(r.dropStage?.symbol ?? "-")")
                }
                if truthReplies.sorted(by: { $0.description < $1.description }) != ours.sorted(by: { $0.description < $1.description }) {
                    problems.append("replies kernel=\(truthReplies) rxray=\(ours)")
                }
                if fate == "forwarded", let e = truthEgress.first, r.egress != e {
                    problems.append("egress kernel=\(e) rxray=\(r.egress ?? "none")")
                }
                if problems.isEmpty {
                    agreed += 1
                } else {
                    let trace = r.trace.map { "\($0.stage.symbol):\($0.verdict) \($0.detail)" }.joined(separator: "\n      ")
                    failures.append("\(name):\(frame): " + problems.joined(separator: "; ")
                                    + "\n    scenario: \(description)\n    rxray trace:\n      \(trace)")
                }
            }
        }
        print("[fixtures] \(agreed) of \(compared) frames agree; \(gapFrames) frames listed in KNOWN-GAPS")
        for f in failures { XCTFail(f) }
    }
}
