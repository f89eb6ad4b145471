import RxrayDecode

/// An IPv6 route (`struct fib6_info`).
public struct Route6: Sendable, Equatable {
    public var table: UInt32
    public var type: RTNType
    public var prefix: IPv6Address
    public var length: Int
    public var metric: UInt32 = 1024
    public var dev: Int?
    public var gateway: IPv6Address?
    public var mtu: Int?
    public var dead = false

    public init(table: UInt32 = FibTableID.main, type: RTNType = .unicast, prefix: IPv6Address, length: Int,
                dev: Int? = nil, gateway: IPv6Address? = nil, metric: UInt32 = 1024, mtu: Int? = nil) {
        self.table = table
        self.type = type
        self.prefix = prefix.masked(length)
        self.length = length
        self.dev = dev
        self.gateway = gateway
        self.metric = metric
        self.mtu = mtu
    }

    func text(_ ns: Netns) -> String {
        ByteWriter.string { write(ns, to: &$0) }
    }
}

/// An IPv6 policy rule (`ip -6 rule`).
public struct FibRule6: Sendable, Equatable {
    public var priority: UInt32
    public var from: IPv6Address?
    public var fromLength = 0
    public var to: IPv6Address?
    public var toLength = 0
    public var sel = RuleSelectors()
    public var action: RuleAction

    public init(priority: UInt32, from: IPv6Address? = nil, fromLength: Int = 0, to: IPv6Address? = nil,
                toLength: Int = 0, selectors: RuleSelectors = RuleSelectors(), action: RuleAction) {
        self.priority = priority
        self.from = from
        self.fromLength = fromLength
        self.to = to
        self.toLength = toLength
        self.sel = selectors
        self.action = action
    }

    public static let defaults: [FibRule6] = [
        FibRule6(priority: 0, action: .table(FibTableID.local)),
        FibRule6(priority: 32766, action: .table(FibTableID.main)),
    ]
}

/// The flow of an IPv6 lookup (`struct flowi6`).
struct Flow6 {
    var daddr: IPv6Address
    var saddr: IPv6Address
    var iif: Int?
    var mark: UInt32 = 0
    var proto: UInt8 = 0
}

/// The outcome of an IPv6 lookup.
struct FibLookup6 {
    var route: Int?
    var rule: Int?
    /// nil: a usable route; otherwise the error (reject routes keep `route` set).
    var error: RouteError?
}

extension Netns {
    /// Longest-prefix match in one IPv6 table, lowest metric first among equal prefixes.
    ///
    /// Mirrors `fib6_table_lookup()` / `fib6_select_path` in net/ipv6/route.c (without
    /// multipath hashing: the first live route wins).
    /// - Complexity: O(routes in the table).
    func fib6TableLookup(_ table: UInt32, _ fl: Flow6) -> Int? {
        var best: Int? = nil
        for (i, r) in routes6.enumerated() where r.table == table && !r.dead && fl.daddr.matches(r.prefix, r.length) {
            if let b = best {
                let o = routes6[b]
                if r.length < o.length { continue }
                if r.length == o.length && r.metric >= o.metric { continue }
            }
            best = i
        }
        return best
    }

    /// Policy rules then tables, as `fib6_rule_lookup` → `fib6_rule_action` do. A table with
    /// no match continues; an `unreachable`/`prohibit`/`blackhole` route or rule ends the walk.
    func fib6Lookup(_ fl: Flow6) -> FibLookup6 {
        var i = 0
        while i < rules6.count {
            let r = rules6[i]
            var match = true
            if let f = r.from, !fl.saddr.matches(f, r.fromLength) { match = false }
            if match, let t = r.to, !fl.daddr.matches(t, r.toLength) { match = false }
            if match {
                match = r.sel.matchesCommon(self, iif: fl.iif, oif: nil, mark: fl.mark, tos: 0, proto: fl.proto,
                                            sport: 0, dport: 0)
            }
            if r.sel.invert { match.toggle() }
            if !match { i += 1; continue }
            switch r.action {
            case .nop: i += 1
            case .goto(let target):
                var j = i + 1
                while j < rules6.count && rules6[j].priority < target { j += 1 }
                i = j
            case .blackhole: return FibLookup6(route: nil, rule: i, error: .inval)
            case .unreachable: return FibLookup6(route: nil, rule: i, error: .netUnreach)
            case .prohibit: return FibLookup6(route: nil, rule: i, error: .acces)
            case .table(let t):
                guard let rt = fib6TableLookup(t, fl) else { i += 1; continue }
                switch routes6[rt].type {
                case .throw: i += 1; continue
                case .blackhole: return FibLookup6(route: rt, rule: i, error: .inval)
                case .unreachable: return FibLookup6(route: rt, rule: i, error: .netUnreach)
                case .prohibit: return FibLookup6(route: rt, rule: i, error: .acces)
                default:
                    if let sp = r.sel.suppressPrefixLength, routes6[rt].length <= sp { i += 1; continue }
                    return FibLookup6(route: rt, rule: i, error: nil)
                }
            }
        }
        // ip6_null_entry: unreachable.
        return FibLookup6(route: nil, rule: nil, error: .netUnreach)
    }
}
