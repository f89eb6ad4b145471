import RxrayDecode

/// What a policy rule does when it matches (`FR_ACT_*`).
public enum RuleAction: Sendable, Equatable {
    case table(UInt32)
    case goto(UInt32)
    case nop
    case blackhole
    case unreachable
    case prohibit
}

/// Selectors common to IPv4 and IPv6 rules (`struct fib_rule`).
public struct RuleSelectors: Sendable, Equatable {
    public var iif: String?
    public var oif: String?
    public var fwmark: UInt32?
    public var fwmask: UInt32 = 0xFFFF_FFFF
    public var tos: UInt8 = 0
    public var ipproto: UInt8?
    public var sport: ClosedRange<UInt16>?
    public var dport: ClosedRange<UInt16>?
    public var uid: ClosedRange<UInt32>?
    public var invert = false
    public var suppressPrefixLength: Int?
    public init() {}
}

/// An IPv4 policy rule (`ip rule`).
public struct FibRule4: Sendable, Equatable {
    public var priority: UInt32
    public var from: (IPv4Address, Int)?
    public var to: (IPv4Address, Int)?
    public var sel = RuleSelectors()
    public var action: RuleAction

    public init(priority: UInt32, from: (IPv4Address, Int)? = nil, to: (IPv4Address, Int)? = nil,
                selectors: RuleSelectors = RuleSelectors(), action: RuleAction) {
        self.priority = priority
        self.from = from
        self.to = to
        self.sel = selectors
        self.action = action
    }

    public static func == (l: FibRule4, r: FibRule4) -> Bool {
        l.priority == r.priority && l.from?.0 == r.from?.0 && l.from?.1 == r.from?.1
            && l.to?.0 == r.to?.0 && l.to?.1 == r.to?.1 && l.sel == r.sel && l.action == r.action
    }

    /// The three rules every namespace starts with.
    public static let defaults: [FibRule4] = [
        FibRule4(priority: 0, action: .table(FibTableID.local)),
        FibRule4(priority: 32766, action: .table(FibTableID.main)),
        FibRule4(priority: 32767, action: .table(FibTableID.default)),
    ]

    func text(_ ns: Netns) -> String {
        var s = "\(priority): "
        if sel.invert { s += "not " }
        if let f = from { s += "from \(f.0)/\(f.1) " } else { s += "from all " }
        if let t = to { s += "to \(t.0)/\(t.1) " }
        if let i = sel.iif { s += "iif \(i) " }
        if let o = sel.oif { s += "oif \(o) " }
        if let m = sel.fwmark { s += "fwmark 0x\(String(m, radix: 16))" + (sel.fwmask == .max ? " " : "/0x\(String(sel.fwmask, radix: 16)) ") }
        if sel.tos != 0 { s += "tos 0x\(String(sel.tos, radix: 16)) " }
        switch action {
        case .table(let t): s += "lookup \(FibTableID.name(t))"
        case .goto(let p): s += "goto \(p)"
        case .nop: s += "nop"
        case .blackhole: s += "blackhole"
        case .unreachable: s += "unreachable"
        case .prohibit: s += "prohibit"
        }
        return s
    }
}

extension RuleSelectors {
    /// The device/mark/tos/port part of `fib_rule_match` + `fib4_rule_match`.
    func matchesCommon(_ ns: Netns, iif: Int?, oif: Int?, mark: UInt32, tos: UInt8, proto: UInt8,
                       sport: UInt16, dport: UInt16) -> Bool {
        if let name = self.iif {
            guard let i = iif, ns.devices[i].name == name else { return false }
        }
        if let name = self.oif {
            guard let o = oif, ns.devices[o].name == name else { return false }
        }
        if let m = fwmark, (m ^ mark) & fwmask != 0 { return false }
        if let p = ipproto, p != proto { return false }
        if let r = self.sport, !r.contains(sport) { return false }
        if let r = self.dport, !r.contains(dport) { return false }
        // Input lookups run with uid 0 (`sock_net_uid(net, NULL)`).
        if let u = uid, !u.contains(0) { return false }
        if self.tos != 0 && self.tos != tos { return false }
        return true
    }
}

extension Netns {
    /// Policy routing: walks the rules in priority order and looks up the tables they name.
    ///
    /// Mirrors `fib_lookup()` → `fib_rules_lookup()` in net/core/fib_rules.c with
    /// `fib4_rule_match()` / `fib4_rule_action()` / `fib4_rule_suppress()` from
    /// net/ipv4/fib_rules.c. A table with no match or a `throw` route continues with the next
    /// rule; `goto` jumps to the first rule at or after its target priority; when no rule
    /// yields a route the result is `ENETUNREACH`.
    func fibLookup(_ fl: Flow4) -> FibLookup4 {
        rules4.withUnsafeBufferPointer { fibLookup(fl, rules: $0) }
    }

    /// `fibLookup` over the rules' storage: each rule is read in place (a copy of a rule
    /// retained its selectors' strings and ranges).
    private func fibLookup(_ fl: Flow4, rules: UnsafeBufferPointer<FibRule4>) -> FibLookup4 {
        var i = 0
        var lastRule: Int? = nil
        while i < rules.count {
            var match = true
            if let f = rules[i].from, !(f.1 == 0 || (fl.saddr.value ^ f.0.value) & IfAddr4.mask(f.1) == 0) { match = false }
            if match, let t = rules[i].to, !(t.1 == 0 || (fl.daddr.value ^ t.0.value) & IfAddr4.mask(t.1) == 0) { match = false }
            if match {
                match = rules[i].sel.matchesCommon(self, iif: fl.iif, oif: fl.oif, mark: fl.mark, tos: fl.tos,
                                            proto: fl.proto, sport: fl.sport, dport: fl.dport)
            }
            if rules[i].sel.invert { match.toggle() }
            if !match { i += 1; continue }
            lastRule = i
            switch rules[i].action {
            case .nop:
                i += 1
                continue
            case .goto(let target):
                var j = i + 1
                while j < rules.count && rules[j].priority < target { j += 1 }
                i = j
                continue
            case .blackhole: return FibLookup4(error: .inval, rule: i)
            case .unreachable: return FibLookup4(error: .netUnreach, rule: i)
            case .prohibit: return FibLookup4(error: .acces, rule: i)
            case .table(let t):
                let (route, err, nh) = fibTableLookup(t, fl)
                if let e = err {
                    if e == .again { i += 1; continue }
                    return FibLookup4(error: e, rule: i, route: route)
                }
                guard let rt = route else { i += 1; continue }
                // suppress_prefixlength: a result this unspecific is not accepted.
                if let sp = rules[i].sel.suppressPrefixLength, routes4[rt].length <= sp { i += 1; continue }
                return FibLookup4(result: FibResult4(route: rt, type: routes4[rt].type, table: t,
                                                     prefixLength: routes4[rt].length, nexthop: nh, rule: i),
                                  rule: i, route: rt)
            }
        }
        return FibLookup4(error: .netUnreach, rule: lastRule)
    }
}

/// The outcome of `fibLookup`: a result, or the error with the rule (and route) that gave it.
struct FibLookup4 {
    var result: FibResult4? = nil
    var error: RouteError? = nil
    var rule: Int? = nil
    var route: Int? = nil
}

/// A direct-mapped cache of policy-routing results (the FIB and rules are static while frames
/// are processed, so a lookup is a pure function of the flow fields they read). The key holds
/// only the fields some rule or route can look at, so flows that differ in nothing the FIB
/// reads share an entry. Results are exactly `Netns.fibLookup`'s.
///
/// Keys are packed into three words and kept apart from the results, so a probe compares
/// three words and only a hit copies a result (an array of optional key-and-result entries
/// copied the whole entry per probe). A class: the kernel reads it through a `let`.
final class FibCache4 {
    struct Key: Equatable {
        /// daddr << 32 | saddr
        var addrs: UInt64
        /// mark << 32 | iif (32 bits; -1 none, -2 not read)
        var markIif: UInt64
        /// oif (32 bits; -1 none) | tos << 32 | proto << 40 | (sport << 16 | dport) packed above
        var rest: UInt64
        var ports: UInt32
    }
    /// 8192 entries: the reverse-path check looks up every distinct source, and a realistic
    /// mix has thousands (1024 missed 38 % of lookups on the bench slice).
    static let slots = 8192
    /// `markIif` of an empty slot: an iif of -3 never occurs (`key(_:)` makes -1 or -2 at least).
    private static let emptyMarkIif = UInt64(UInt32(bitPattern: -3))
    private let keys: UnsafeMutablePointer<Key>
    private let values: UnsafeMutablePointer<FibLookup4>
    private let usesSaddr: Bool
    private let usesIif: Bool
    private let usesMark: Bool
    private let usesTos: Bool
    /// Whether some rule reads the protocol or ports.
    let usesPorts: Bool
    private(set) var hits = 0
    private(set) var misses = 0

    init(_ ns: Netns) {
        keys = .allocate(capacity: Self.slots)
        keys.initialize(repeating: Key(addrs: 0, markIif: Self.emptyMarkIif, rest: 0, ports: 0), count: Self.slots)
        values = .allocate(capacity: Self.slots)
        values.initialize(repeating: FibLookup4(), count: Self.slots)
        usesSaddr = ns.rules4.contains { $0.from != nil }
        usesIif = ns.rules4.contains { $0.sel.iif != nil }
        usesMark = ns.rules4.contains { $0.sel.fwmark != nil }
        usesTos = ns.rules4.contains { $0.sel.tos != 0 } || ns.routes4.contains { $0.tos != 0 }
        usesPorts = ns.rules4.contains { $0.sel.ipproto != nil || $0.sel.sport != nil || $0.sel.dport != nil }
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    @inline(__always) func key(_ fl: Flow4) -> Key {
        let iif: Int32 = usesIif ? Int32(truncatingIfNeeded: fl.iif ?? -1) : -2
        let oif = Int32(truncatingIfNeeded: fl.oif ?? -1)
        let saddr = usesSaddr ? fl.saddr.value : 0
        let mark = usesMark ? fl.mark : 0
        let tos = usesTos ? fl.tos : 0
        var rest = UInt64(UInt32(bitPattern: oif)) | UInt64(tos) << 32
        var ports: UInt32 = 0
        if usesPorts {
            rest |= UInt64(fl.proto) << 40
            ports = UInt32(fl.sport) << 16 | UInt32(fl.dport)
        }
        return Key(addrs: UInt64(fl.daddr.value) << 32 | UInt64(saddr), markIif: UInt64(mark) << 32 | UInt64(UInt32(bitPattern: iif)),
                   rest: rest, ports: ports)
    }

    @inline(__always) static func slot(_ k: Key) -> Int {
        var h = k.addrs &* 0x9E37_79B9_7F4A_7C15
        h ^= k.markIif &* 0xC2B2_AE3D_27D4_EB4F
        h ^= (k.rest ^ UInt64(k.ports) << 20) &* 0x1656_67B1_9E37_79F9
        h ^= h >> 29
        return Int(truncatingIfNeeded: h >> 20) & (slots - 1)
    }

    /// The cached result for `fl`, computing it on a miss.
    @inline(__always) func lookup(_ fl: Flow4, in ns: Netns) -> FibLookup4 {
        let k = key(fl)
        let i = Self.slot(k)
        if keys[i] == k {
            hits &+= 1
            return values[i]
        }
        return miss(fl, k, i, ns)
    }

    @inline(never) private func miss(_ fl: Flow4, _ k: Key, _ i: Int, _ ns: Netns) -> FibLookup4 {
        misses &+= 1
        let v = ns.fibLookup(fl)
        keys[i] = k
        values[i] = v
        return v
    }
}

extension Kernel {
    /// `ns.fibLookup(fl)` through the route cache.
    @inline(__always) func fibLookupCached(_ fl: Flow4) -> FibLookup4 {
        fibCache4.lookup(fl, in: ns)
    }
}
