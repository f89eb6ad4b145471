import Foundation

/// Frames whose outcome differs between two host configurations, grouped by cause.
public struct ConfigDiffGroup {
    /// `delivered at udp_rcv`
    public var old: String
    /// `dropped NETFILTER_DROP at nf_hook INPUT (rule ..., iptables-save.txt:7)`
    public var new: String
    public var frames: [Int]
    /// One example frame's decode.
    public var example: String
    /// The example frame's deciding stage and detail, before and after.
    public var oldDecision: String?
    public var newDecision: String?
    /// When fate and decision agree but other fields changed: those fields, `name: old → new`.
    public var otherChanges: [String]
}

public enum ConfigDiff {
    /// Describes an outcome for grouping: its phrase, the deciding rule in parentheses when a
    /// netfilter hook decided (a rule's text is the same for every frame it decides; other
    /// stages' details name ports and addresses, so they are shown per group, not grouped on).
    public static func cause(_ o: FrameOutcome) -> String {
        var s = o.phrase
        if let d = o.decision, d.hasPrefix("nf_hook"), let detail = o.decisionDetail, !detail.isEmpty { s += " (\(detail))" }
        if !o.replies.isEmpty { s += ", reply " + o.replies.joined(separator: "; ") }
        return s
    }

    /// Groups the frames whose outcomes differ, largest group first (then by first frame).
    public static func groups(old: [FrameOutcome], new: [FrameOutcome]) -> [ConfigDiffGroup] {
        let o = Dictionary(old.map { ($0.frame, $0) }, uniquingKeysWith: { a, _ in a })
        var groups: [String: ConfigDiffGroup] = [:]
        var order: [String] = []
        for b in new.sorted(by: { $0.frame < $1.frame }) {
            guard let a = o[b.frame], !a.sameVerdict(b) else { continue }
            let ca = cause(a), cb = cause(b)
            var other: [String] = []
            if ca == cb {
                let fa = a.fields, fb = b.fields
                for i in fa.indices where fa[i].1 != fb[i].1 { other.append("\(fa[i].0): \(fa[i].1) → \(fb[i].1)") }
            }
            let key = ca + "\u{1}" + cb + "\u{1}" + other.joined(separator: "\u{2}")
            if groups[key] == nil {
                groups[key] = ConfigDiffGroup(old: ca, new: cb, frames: [], example: b.summary,
                                              oldDecision: a.decision, newDecision: b.decision, otherChanges: other)
                order.append(key)
            }
            groups[key]!.frames.append(b.frame)
        }
        return order.map { groups[$0]! }.sorted {
            $0.frames.count != $1.frames.count ? $0.frames.count > $1.frames.count : $0.frames[0] < $1.frames[0]
        }
    }

    /// The lines that differ between two host snapshots, file by file (directories only):
    /// `sysctl.txt: - net.ipv4.ip_forward = 1` / `+ ... = 0`. MANIFEST is ignored.
    public static func hostDifferences(old: String, new: String, maxLinesPerFile: Int = 12) -> [String] {
        var isDirA: ObjCBool = false, isDirB: ObjCBool = false
        let fm = FileManager.default
        guard fm.fileExists(atPath: old, isDirectory: &isDirA), fm.fileExists(atPath: new, isDirectory: &isDirB) else { return [] }
        var pairs: [(String, String?, String?)] = []
        if isDirA.boolValue && isDirB.boolValue {
            let a = Set((try? fm.contentsOfDirectory(atPath: old)) ?? [])
            let b = Set((try? fm.contentsOfDirectory(atPath: new)) ?? [])
            for f in a.union(b).sorted() where f != "MANIFEST" && !f.hasPrefix(".") {
                pairs.append((f, a.contains(f) ? old + "/" + f : nil, b.contains(f) ? new + "/" + f : nil))
            }
        } else if !isDirA.boolValue && !isDirB.boolValue {
            pairs.append(((new as NSString).lastPathComponent, old, new))
        } else {
            return ["the hosts are of different kinds (a snapshot directory and a profile)"]
        }
        var out: [String] = []
        for (name, pa, pb) in pairs {
            let ta = pa.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }
            let tb = pb.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }
            if ta == tb { continue }
            guard let a = ta else { out.append("\(name): only in the new host"); continue }
            guard let b = tb else { out.append("\(name): only in the old host"); continue }
            let la = a.split(separator: "\n").map(String.init), lb = b.split(separator: "\n").map(String.init)
            let removed = Self.multisetMinus(la, lb), added = Self.multisetMinus(lb, la)
            if removed.isEmpty && added.isEmpty { out.append("\(name): same lines in a different order"); continue }
            if name.hasSuffix(".json") && (removed.count + added.count) > 0 && (la.count <= 2 || lb.count <= 2) {
                // One-line JSON listings: say that it changed rather than printing the whole line.
                out.append("\(name): changed")
                continue
            }
            var lines: [String] = []
            for l in removed { lines.append("\(name): - \(l)") }
            for l in added { lines.append("\(name): + \(l)") }
            if lines.count > maxLinesPerFile {
                out.append(contentsOf: lines.prefix(maxLinesPerFile))
                out.append("\(name): ... \(lines.count - maxLinesPerFile) more changed lines")
            } else {
                out.append(contentsOf: lines)
            }
        }
        return out
    }

    /// Lines of `a` not matched one-to-one by lines of `b`, in `a`'s order.
    static func multisetMinus(_ a: [String], _ b: [String]) -> [String] {
        var count: [String: Int] = [:]
        for l in b { count[l, default: 0] += 1 }
        var out: [String] = []
        for l in a {
            if let c = count[l], c > 0 { count[l] = c - 1 } else { out.append(l) }
        }
        return out
    }
}
