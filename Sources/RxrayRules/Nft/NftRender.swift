import RxrayDecode

// nft-like text for trees: used for rules read from JSON (which carries no text) and in
// messages. Numbers print as numbers (the tree keeps resolved values, not the names written).

extension NftVerdict: CustomStringConvertible {
    public var description: String {
        switch self {
        case .accept: return "accept"
        case .drop: return "drop"
        case .continue: return "continue"
        case .return: return "return"
        case .jump(let c): return "jump \(c)"
        case .goto(let c): return "goto \(c)"
        case .queue: return "queue"
        }
    }
}

extension NftExpr: CustomStringConvertible {
    public var description: String {
        switch self {
        case .payload(let p): return p.description
        case .rawPayload(let b, let o, let l):
            let n = ["link": "ll", "network": "nh", "transport": "th", "inner": "ih"][b.rawValue] ?? b.rawValue
            return "@\(n),\(o),\(l)"
        case .meta(let k): return "meta \(k.rawValue)"
        case .ct(let k, let d): return "ct " + (d.map { $0 + " " } ?? "") + k
        case .fib(let f, let r): return "fib \(f.joined(separator: " . ")) \(r)"
        case .rt(let k, let f): return "rt " + (f.map { $0 + " " } ?? "") + k
        case .socket(let k, let l): return "socket \(k)" + (l.map { " level \($0)" } ?? "")
        case .numgen(let m, let mod, let off): return "numgen \(m) mod \(mod)" + (off != 0 ? " offset \(off)" : "")
        case .hash(let kind, let e, let mod, let seed, let off):
            return kind + (e.map { " \($0)" } ?? "") + " mod \(mod)" + (seed.map { " seed \($0)" } ?? "") + (off != 0 ? " offset \(off)" : "")
        case .exthdr(let h, let f): return h + (f.map { " \($0)" } ?? "")
        case .integer(let v): return "\(v)"
        case .string(let s): return "\"\(s)\""
        case .stringPrefix(let s): return "\"\(s)*\""
        case .address(let a): return a.description
        case .prefix(let p): return p.description
        case .mac(let m): return m.description
        case .boolean(let b): return b ? "exists" : "missing"
        case .symbol(let s): return s
        case .range(let a, let b): return "\(a)-\(b)"
        case .flags(let items): return items.map(\.description).joined(separator: ",")
        case .anonymousSet(let els): return "{ " + els.map(\.description).joined(separator: ", ") + " }"
        case .setReference(let n): return "@\(n)"
        case .concat(let parts): return parts.map(\.description).joined(separator: " . ")
        case .binary(let op, let l, let r): return "\(l) \(op.rawValue) \(r)"
        case .map(let k, let m): return "\(k) map \(m)"
        case .verdict(let v): return v.description
        case .wildcard: return "*"
        }
    }
}

extension NftSetElement: CustomStringConvertible {
    public var description: String {
        var s = key.description
        if let t = timeoutSeconds { s += " timeout \(Int(t))s" }
        if let c = counter { s += " counter packets \(c.packets) bytes \(c.bytes)" }
        if let c = comment { s += " comment \"\(c)\"" }
        if let v = value { s += " : \(v)" }
        return s
    }
}

extension NftStatement: CustomStringConvertible {
    public var description: String {
        switch self {
        case .match(let m):
            let bare = m.op == .implicit || (m.op == .eq && !m.left.datatype.isBitmask)
            return bare ? "\(m.left) \(m.right)" : "\(m.left) \(m.op.rawValue) \(m.right)"
        case .verdict(let v): return v.description
        case .counter(let c): return c.map { "counter packets \($0.packets) bytes \($0.bytes)" } ?? "counter"
        case .counterReference(let n): return "counter name \(n)"
        case .limit(let l):
            let unit = [1: "second", 60: "minute", 3600: "hour", 86400: "day", 604800: "week"][l.per] ?? "second"
            return "limit rate " + (l.over ? "over " : "") + (l.bytes ? "\(l.rate) bytes/\(unit)" : "\(l.rate)/\(unit)")
                + (l.burst.map { " burst \($0) \(l.bytes ? "bytes" : "packets")" } ?? "")
        case .quota(let q): return "quota " + (q.over ? "over " : "") + "\(q.bytes) bytes" + (q.used > 0 ? " used \(q.used) bytes" : "")
        case .log(let l):
            var s = "log"
            if let p = l.prefix { s += " prefix \"\(p)\"" }
            if let lv = l.level { s += " level \(lv)" }
            if let g = l.group { s += " group \(g)" }
            if let n = l.snaplen { s += " snaplen \(n)" }
            if let q = l.queueThreshold { s += " queue-threshold \(q)" }
            if !l.flags.isEmpty { s += " flags " + l.flags.joined(separator: ",") }
            return s
        case .reject(let r):
            switch r {
            case .tcpReset: return "reject with tcp reset"
            case .icmp(let c): return "reject with icmp \(c)"
            case .icmpv6(let c): return "reject with icmpv6 \(c)"
            case .icmpx(let c): return "reject with icmpx \(c)"
            }
        case .nat(let n):
            var s = n.kind.rawValue
            if let f = n.family { s += " \(f)" }
            if n.address != nil || n.port != nil {
                s += " to"
                if let a = n.address {
                    if case .address(.v6) = a, n.port != nil { s += " [\(a)]" } else { s += " \(a)" }
                }
                if let p = n.port { s += (n.address == nil ? " :" : ":") + p.description }
            }
            if !n.flags.isEmpty { s += " " + n.flags.joined(separator: ",") }
            return s
        case .set(let t, let v): return "\(t) set \(v)"
        case .setUpdate(let u):
            var inner = u.key.description
            if let t = u.timeoutSeconds { inner += " timeout \(Int(t))s" }
            if let v = u.value { inner += " : \(v)" }
            for st in u.statements { inner += " \(st)" }
            return "\(u.op) @\(u.set) { \(inner) }"
        case .notrack: return "notrack"
        case .vmap(let k, let m): return "\(k) vmap \(m)"
        case .queue(let q):
            var s = "queue"
            if !q.flags.isEmpty { s += " flags " + q.flags.joined(separator: ",") }
            if let n = q.number { s += " to \(n)" }
            return s
        case .ctCount(let c, let over): return "ct count " + (over ? "over " : "") + "\(c)"
        case .flowOffload(let f): return "flow add @\(f)"
        case .objectReference(let k, let n): return k.hasPrefix("ct ") ? "\(k) set \"\(n)\"" : "\(k) name \"\(n)\""
        case .unsupported(let s): return s
        }
    }
}
