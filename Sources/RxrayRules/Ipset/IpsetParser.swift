import RxrayDecode

/// An `ipset save` file: set declarations and their members.
public struct IpsetFile: Sendable {
    public var file: String
    public var sets: [IpsetSet]
    public init(file: String, sets: [IpsetSet] = []) { self.file = file; self.sets = sets }

    /// - Complexity: O(sets).
    public func set(_ name: String) -> IpsetSet? { sets.first { $0.name == name } }

    public var summary: RulesetSummary {
        RulesetSummary(tables: 0, chains: 0, rules: 0, sets: sets.count, elements: sets.reduce(0) { $0 + $1.members.count }, unsupported: 0)
    }
}

/// `create NAME TYPE [options]` and its `add` lines.
public struct IpsetSet: Sendable {
    public enum Method: String, Sendable { case hash, bitmap, list }
    public var name: String
    public var line: Int
    public var method: Method
    /// Dimension kinds in order: `ip`, `net`, `port`, `iface`, `mac`, `mark`, `set`.
    public var dimensions: [String]
    /// `family inet|inet6` (hash types; inet by default).
    public var family: RuleFamily
    /// Other options as written (`hashsize`, `maxelem`, `timeout`, `range`, `counters`, `comment`, ...).
    public var options: [String: String]
    public var members: [IpsetMember]

    public init(name: String, line: Int, method: Method, dimensions: [String], family: RuleFamily) {
        self.name = name; self.line = line; self.method = method; self.dimensions = dimensions; self.family = family
        options = [:]; members = []
    }
    /// The type as written (`hash:net,port`).
    public var typeName: String { "\(method.rawValue):\(dimensions.joined(separator: ","))" }
}

/// One member: a value per dimension.
public struct IpsetMember: Hashable, Sendable {
    public var line: Int
    public var parts: [IpsetValue]
    /// `nomatch` on hash:net types: an exception inside a larger net.
    public var noMatch: Bool
    public var timeoutSeconds: UInt32?
    public var packets: UInt64?
    public var bytes: UInt64?
    public var comment: String?
    public init(line: Int, parts: [IpsetValue]) { self.line = line; self.parts = parts; noMatch = false }
}

public enum IpsetValue: Hashable, Sendable {
    case address(IPAddress)
    case network(IPPrefix)
    /// `10.0.0.1-10.0.0.9` (ipset expands it; kept as a range here).
    case addressRange(IPAddress, IPAddress)
    /// A port with its protocol (`tcp:80`, `udp:53`; a bare `80` is tcp). For `icmp:TYPE` the
    /// range holds `type << 8 | code`.
    case port(proto: UInt8, range: UInt16Range)
    case interface(name: String, physdev: Bool)
    case mac(MACAddress)
    case mark(UInt32)
    case setName(String)
}

/// Parses `ipset save` output (`create` and `add` lines; `-exist`/`-!` flags are accepted).
public enum IpsetParser {
    /// - Throws: `InputError` naming the line for an unknown command or type, a member with the
    ///   wrong number of parts, or a bad address/port.
    public static func parse(_ text: String, file: String) throws -> IpsetFile {
        var out = IpsetFile(file: file)
        var index: [String: Int] = [:]
        var n = 0
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            n += 1
            let toks = try IptTokenizer.split(raw, file: file, lineNumber: n).filter { $0.text != "-exist" && $0.text != "-!" }
            guard let cmd = toks.first?.text, !cmd.hasPrefix("#") else { continue }
            let words = toks.dropFirst().map(\.text)
            func err(_ k: Int, _ m: String) -> InputError {
                InputError(file: file, line: n, column: k < toks.count ? toks[k].column : nil, m)
            }
            switch cmd {
            case "create", "-N", "n":
                guard words.count >= 2 else { throw err(0, "expected create NAME TYPE") }
                let name = words[0]
                let typeParts = words[1].split(separator: ":")
                guard typeParts.count == 2, let method = IpsetSet.Method(rawValue: String(typeParts[0])) else {
                    throw err(2, "bad set type '\(words[1])': expected hash:..., bitmap:... or list:set")
                }
                let dims = typeParts[1].split(separator: ",").map(String.init)
                let known: Set<String> = ["ip", "net", "port", "iface", "mac", "mark", "set"]
                guard dims.allSatisfy({ known.contains($0) }) else { throw err(2, "bad set type '\(words[1])'") }
                var s = IpsetSet(name: name, line: n, method: method, dimensions: dims, family: .ipv4)
                var k = 2
                let flags: Set<String> = ["counters", "comment", "skbinfo", "forceadd", "nomatch"]
                while k < words.count {
                    let w = words[k]
                    if flags.contains(w) { s.options[w] = ""; k += 1; continue }
                    guard k + 1 < words.count else { throw err(k + 1, "option \(w) needs a value") }
                    if w == "family" {
                        switch words[k + 1] {
                        case "inet": s.family = .ipv4
                        case "inet6": s.family = .ipv6
                        default: throw err(k + 2, "bad family '\(words[k + 1])': expected inet or inet6")
                        }
                    } else {
                        s.options[w] = words[k + 1]
                    }
                    k += 2
                }
                index[name] = out.sets.count
                out.sets.append(s)
            case "add", "-A", "a":
                guard words.count >= 2 else { throw err(0, "expected add NAME MEMBER") }
                guard let si = index[words[0]] else { throw err(1, "set \(words[0]) is not created before its members") }
                let s = out.sets[si]
                let pieces = words[1].split(separator: ",", omittingEmptySubsequences: false)
                guard pieces.count == s.dimensions.count else {
                    throw err(2, "member '\(words[1])' has \(pieces.count) part(s); set \(s.name) of type \(s.typeName) needs \(s.dimensions.count)")
                }
                var parts: [IpsetValue] = []
                for (d, p) in zip(s.dimensions, pieces) {
                    guard let v = value(p, dimension: d, family: s.family) else { throw err(2, "bad \(d) '\(p)' in member of \(s.name)") }
                    parts.append(v)
                }
                var m = IpsetMember(line: n, parts: parts)
                var k = 2
                while k < words.count {
                    let next = k + 1 < words.count ? words[k + 1] : nil
                    switch words[k] {
                    case "nomatch": m.noMatch = true; k += 1; continue
                    case "timeout": m.timeoutSeconds = next.flatMap { UInt32($0) }
                    case "packets": m.packets = next.flatMap { UInt64($0) }
                    case "bytes": m.bytes = next.flatMap { UInt64($0) }
                    case "comment": m.comment = next
                    default: break
                    }
                    k += 2
                }
                out.sets[si].members.append(m)
            default:
                throw err(0, "expected create or add, got '\(cmd)'")
            }
        }
        return out
    }

    public static func parse(contentsOf path: String) throws -> IpsetFile {
        try parse(try readTextFile(path), file: path)
    }

    static func value(_ p: Substring, dimension: String, family: RuleFamily) -> IpsetValue? {
        switch dimension {
        case "ip", "net":
            if let dash = p.firstIndex(of: "-"), let a = IPAddress(p[..<dash]), let b = IPAddress(p[p.index(after: dash)...]) {
                return a.isV4 == (family == .ipv4) ? .addressRange(a, b) : nil
            }
            if p.contains("/"), let pr = IPPrefix(p) { return pr.address.isV4 == (family == .ipv4) ? .network(pr) : nil }
            if let a = IPAddress(p) { return a.isV4 == (family == .ipv4) ? .address(a) : nil }
            return nil
        case "port":
            var proto: UInt8 = 6
            var rest = p
            if let colon = p.firstIndex(of: ":") {
                guard let pr = Names.ipProtocol(p[..<colon]) else { return nil }
                proto = pr; rest = p[p.index(after: colon)...]
            }
            if proto == 1 || proto == 58 {
                let table = proto == 1 ? Names.icmpTypes : Names.icmpv6Types
                if let t = table[String(rest)] { return .port(proto: proto, range: UInt16Range(single: UInt16(t.type) << 8 | UInt16(t.code ?? 0))) }
            }
            let ends = rest.split(separator: "-")
            guard let first = ends.first, let lo = Names.port(first) else { return nil }
            let hi = ends.count > 1 ? Names.port(ends[1]) : lo
            guard let hi, lo <= hi else { return nil }
            return .port(proto: proto, range: UInt16Range(lo, hi))
        case "iface":
            if p.hasPrefix("physdev:") { return .interface(name: String(p.dropFirst(8)), physdev: true) }
            return .interface(name: String(p), physdev: false)
        case "mac": return MACAddress(p).map { .mac($0) }
        case "mark": return Num.u32(p).map { .mark($0) }
        case "set": return .setName(String(p))
        default: return nil
        }
    }
}
