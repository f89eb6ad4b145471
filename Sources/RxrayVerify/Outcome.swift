import Foundation
import RxrayOutput
import RxrayStack

/// The stable part of rxray's verdict on one frame: what `rxray check` saves and compares,
/// what `rxray diff` groups and what expectations and `rxray verify` judge.
///
/// It holds no wall time and no absolute path (rule locations name the snapshot's file
/// relative to the host directory), so a saved file stays valid wherever the case is moved.
public struct FrameOutcome: Equatable, Sendable {
    /// 1-based frame number in the capture.
    public var frame: Int
    /// The frame's one-line decode; shown in diffs, never compared.
    public var summary: String
    /// `delivered`, `forwarded` or `dropped`.
    public var fate: String
    /// The kernel's drop reason name (`NETFILTER_DROP`), when dropped.
    public var dropReason: String?
    /// The kernel function that dropped it (`nf_hook INPUT`, `udp_rcv`), when dropped.
    public var dropStage: String?
    /// The interface it left by, when forwarded.
    public var egress: String?
    public var nextHop: String?
    /// What the kernel would send because of it, as `icmp 3/3 port-unreachable on eth0`,
    /// `tcp_rst on eth0`.
    public var replies: [String]
    /// The stage that decided the fate and its detail: `udp_rcv: no socket for ...`.
    public var decision: String?
    /// Every netfilter hook's record with its detail (the rule or policy that decided there).
    public var rules: [String]

    public init(frame: Int, summary: String = "", fate: String, dropReason: String? = nil, dropStage: String? = nil,
                egress: String? = nil, nextHop: String? = nil, replies: [String] = [], decision: String? = nil,
                rules: [String] = []) {
        self.frame = frame; self.summary = summary; self.fate = fate; self.dropReason = dropReason
        self.dropStage = dropStage; self.egress = egress; self.nextHop = nextHop; self.replies = replies
        self.decision = decision; self.rules = rules
    }

    /// Builds the outcome of an analyzer result.
    /// - Parameter hostPath: the host snapshot path; removed from details so they carry file
    ///   names relative to it.
    public init(_ r: FrameResult, summary: String, hostPath: String? = nil) {
        func clean(_ s: String) -> String {
            guard let h = hostPath, !h.isEmpty else { return s }
            let base = h.hasSuffix("/") ? h : h + "/"
            return s.replacingOccurrences(of: base, with: "").replacingOccurrences(of: h, with: "HOST")
        }
        frame = r.frame
        self.summary = summary
        fate = r.fate.rawValue
        dropReason = r.fate == .dropped ? r.dropReason?.name : nil
        dropStage = r.fate == .dropped ? r.dropStage?.symbol : nil
        egress = r.fate == .forwarded ? r.egress : nil
        nextHop = r.fate == .forwarded ? r.nextHop?.description : nil
        replies = r.replies.map(FrameOutcome.describe)
        var deciding: StageRecord?
        switch r.fate {
        case .dropped: deciding = r.stages.last { $0.verdict == .drop }
        case .forwarded: deciding = r.stages.last { $0.verdict == .forward }
        case .delivered: deciding = r.stages.last { $0.verdict == .deliver || $0.verdict == .consume }
        }
        if deciding == nil { deciding = r.stages.last { $0.verdict != .note && $0.verdict != .pass } }
        if let d = deciding {
            decision = !d.hasDetail ? d.stage.symbol : d.stage.symbol + ": " + clean(r.detail(of: d))
        }
        rules = r.stages.compactMap { s in
            guard case .nfHook = s.stage, s.hasDetail else { return nil }
            return s.stage.symbol + ": " + clean(r.detail(of: s))
        }
    }

    /// `icmp 3/3 port-unreachable on eth0`, `tcp_rst on eth0`.
    public static func describe(_ r: Reply) -> String {
        switch r.kind {
        case .icmp(let t, let c):
            let n = ICMPNames.v4(type: t, code: c)
            return "icmp \(t)/\(c)" + (n.map { " " + $0 } ?? "") + " on \(r.interface)"
        case .icmpv6(let t, let c):
            let n = ICMPNames.v6(type: t, code: c)
            return "icmpv6 \(t)/\(c)" + (n.map { " " + $0 } ?? "") + " on \(r.interface)"
        default:
            return r.kindName + " on \(r.interface)"
        }
    }

    /// The compared fields, in display order: (name, rendered value). A missing value is `-`.
    public var fields: [(String, String)] {
        [("fate", fate), ("drop_reason", dropReason ?? "-"), ("drop_stage", dropStage ?? "-"),
         ("egress", egress ?? "-"), ("next_hop", nextHop ?? "-"),
         ("replies", replies.isEmpty ? "none" : replies.joined(separator: "; ")),
         ("decision", decision ?? "-"), ("rules", rules.isEmpty ? "none" : rules.joined(separator: "; "))]
    }

    /// Equality of everything but `summary`.
    public func sameVerdict(_ o: FrameOutcome) -> Bool {
        fate == o.fate && dropReason == o.dropReason && dropStage == o.dropStage && egress == o.egress
            && nextHop == o.nextHop && replies == o.replies && decision == o.decision && rules == o.rules
    }

    /// A short phrase: `dropped NETFILTER_DROP at nf_hook INPUT`, `forwarded via eth1`,
    /// `delivered at udp_rcv`.
    public var phrase: String {
        var s = fate
        if let r = dropReason { s += " " + r }
        if let st = dropStage { s += " at " + st }
        if let e = egress { s += " via " + e }
        if fate == "delivered", let d = decision { s += " at " + (d.split(separator: ":", maxSplits: 1).first.map(String.init) ?? d) }
        return s
    }

    /// The detail of the deciding stage (after `symbol: `), if any.
    public var decisionDetail: String? {
        guard let d = decision, let r = d.range(of: ": ") else { return nil }
        return String(d[r.upperBound...])
    }

    // MARK: JSON lines

    /// One JSON object on one line, keys in a fixed order.
    public func jsonLine() -> String {
        var b = JSONObjectBuilder()
        b.int("frame", frame)
        b.string("summary", summary)
        b.string("fate", fate)
        b.optionalString("drop_reason", dropReason)
        b.optionalString("drop_stage", dropStage)
        b.optionalString("egress", egress)
        b.optionalString("next_hop", nextHop)
        b.raw("replies", "[" + replies.map(JSON.quoted).joined(separator: ",") + "]")
        b.optionalString("decision", decision)
        b.raw("rules", "[" + rules.map(JSON.quoted).joined(separator: ",") + "]")
        return b.close()
    }

    /// Parses a line written by `jsonLine()`.
    public init(jsonLine line: Substring, file: String, lineNumber: Int) throws {
        let obj: Any
        do { obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) } catch {
            throw VerifyInputError(file: file, line: lineNumber, "not a JSON object: \(Self.short(line))")
        }
        guard let o = obj as? [String: Any] else {
            throw VerifyInputError(file: file, line: lineNumber, "expected a JSON object, found \(Self.short(line))")
        }
        guard let f = o["frame"] as? Int, f > 0 else {
            throw VerifyInputError(file: file, line: lineNumber, "missing or invalid \"frame\" (a positive integer)")
        }
        guard let fate = o["fate"] as? String, ["delivered", "forwarded", "dropped"].contains(fate) else {
            throw VerifyInputError(file: file, line: lineNumber, "missing or invalid \"fate\" (delivered, forwarded or dropped)")
        }
        func strings(_ k: String) throws -> [String] {
            guard let v = o[k] else { return [] }
            guard let a = v as? [String] else {
                throw VerifyInputError(file: file, line: lineNumber, "\"\(k)\" must be an array of strings")
            }
            return a
        }
        self.init(frame: f, summary: o["summary"] as? String ?? "", fate: fate,
                  dropReason: o["drop_reason"] as? String, dropStage: o["drop_stage"] as? String,
                  egress: o["egress"] as? String, nextHop: o["next_hop"] as? String,
                  replies: try strings("replies"), decision: o["decision"] as? String, rules: try strings("rules"))
    }

    static func short(_ s: Substring) -> String { s.count > 60 ? String(s.prefix(60)) + "..." : String(s) }
}

/// ICMP and ICMPv6 type/code names as iptables and tcpdump users write them.
public enum ICMPNames {
    static let v4Types: [(UInt8, String)] = [
        (0, "echo-reply"), (3, "destination-unreachable"), (4, "source-quench"), (5, "redirect"),
        (8, "echo-request"), (11, "time-exceeded"), (12, "parameter-problem"), (13, "timestamp-request"),
        (14, "timestamp-reply"), (17, "address-mask-request"), (18, "address-mask-reply"),
    ]
    static let v4Unreach: [(UInt8, String)] = [
        (0, "network-unreachable"), (1, "host-unreachable"), (2, "protocol-unreachable"), (3, "port-unreachable"),
        (4, "fragmentation-needed"), (5, "source-route-failed"), (6, "network-unknown"), (7, "host-unknown"),
        (9, "network-prohibited"), (10, "host-prohibited"), (11, "tos-network-unreachable"),
        (12, "tos-host-unreachable"), (13, "communication-prohibited"), (14, "host-precedence-violation"),
        (15, "precedence-cutoff"),
    ]
    static let v4Other: [(UInt8, UInt8, String)] = [
        (5, 0, "network-redirect"), (5, 1, "host-redirect"), (11, 0, "ttl-zero-during-transit"),
        (11, 1, "ttl-zero-during-reassembly"),
    ]
    static let v6Types: [(UInt8, String)] = [
        (1, "destination-unreachable"), (2, "packet-too-big"), (3, "time-exceeded"), (4, "parameter-problem"),
        (128, "echo-request"), (129, "echo-reply"), (133, "router-solicitation"), (134, "router-advertisement"),
        (135, "neighbour-solicitation"), (136, "neighbour-advertisement"), (137, "redirect"),
    ]
    static let v6Unreach: [(UInt8, String)] = [
        (0, "no-route"), (1, "communication-prohibited"), (2, "beyond-scope"), (3, "address-unreachable"),
        (4, "port-unreachable"), (5, "failed-policy"), (6, "reject-route"),
    ]

    /// The most specific name: a code name for destination unreachable, else the type's.
    public static func v4(type: UInt8, code: UInt8) -> String? {
        if type == 3 { return v4Unreach.first { $0.0 == code }?.1 ?? "destination-unreachable" }
        if let o = v4Other.first(where: { $0.0 == type && $0.1 == code }) { return o.2 }
        return v4Types.first { $0.0 == type }?.1
    }

    public static func v6(type: UInt8, code: UInt8) -> String? {
        if type == 1 { return v6Unreach.first { $0.0 == code }?.1 ?? "destination-unreachable" }
        return v6Types.first { $0.0 == type }?.1
    }

    /// Resolves a user's name to (type, code?) for ICMP (`port-unreachable` → (3, 3)).
    public static func lookup(v6: Bool, _ name: String) -> (UInt8, UInt8?)? {
        let n = name.lowercased()
        if v6 {
            if let c = v6Unreach.first(where: { $0.1 == n }) { return (1, c.0) }
            if let t = v6Types.first(where: { $0.1 == n || $0.1.replacingOccurrences(of: "neighbour", with: "neighbor") == n }) { return (t.0, nil) }
        } else {
            if let c = v4Unreach.first(where: { $0.1 == n }) { return (3, c.0) }
            if let o = v4Other.first(where: { $0.2 == n }) { return (o.0, o.1) }
            if let t = v4Types.first(where: { $0.1 == n }) { return (t.0, nil) }
        }
        // `3/3`, `3`
        let parts = n.split(separator: "/")
        if parts.count <= 2, let t = UInt8(parts[0]) {
            if parts.count == 2 { guard let c = UInt8(parts[1]) else { return nil }; return (t, c) }
            return (t, nil)
        }
        return nil
    }

    /// Every name `lookup` accepts, for error messages.
    public static func allNames(v6: Bool) -> [String] {
        v6 ? v6Types.map(\.1) + v6Unreach.map(\.1) : v4Types.map(\.1) + v4Unreach.map(\.1) + v4Other.map(\.2)
    }
}

/// A bad input file for check, expectations or verify: `file:line: message`.
public struct VerifyInputError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int?
    public var message: String
    public init(file: String, line: Int? = nil, _ message: String) {
        self.file = file; self.line = line; self.message = message
    }
    public var description: String { line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)" }
}
