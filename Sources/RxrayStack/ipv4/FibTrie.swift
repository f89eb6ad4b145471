import RxrayDecode

/// A route type (`RTN_*`).
public enum RTNType: UInt8, Sendable, CustomStringConvertible {
    case unicast, local, broadcast, anycast, multicast, blackhole, unreachable, prohibit, `throw`, nat, xresolve

    public init?(name: String) {
        switch name {
        case "unicast", "": self = .unicast
        case "local": self = .local
        case "broadcast": self = .broadcast
        case "anycast": self = .anycast
        case "multicast": self = .multicast
        case "blackhole": self = .blackhole
        case "unreachable": self = .unreachable
        case "prohibit": self = .prohibit
        case "throw": self = .throw
        case "nat": self = .nat
        case "xresolve": self = .xresolve
        default: return nil
        }
    }
    public var description: String {
        switch self {
        case .unicast: return "unicast"
        case .local: return "local"
        case .broadcast: return "broadcast"
        case .anycast: return "anycast"
        case .multicast: return "multicast"
        case .blackhole: return "blackhole"
        case .unreachable: return "unreachable"
        case .prohibit: return "prohibit"
        case .throw: return "throw"
        case .nat: return "nat"
        case .xresolve: return "xresolve"
        }
    }
    /// The error `fib_props[]` attaches to the type (`fib_table_lookup`'s return).
    var lookupError: RouteError? {
        switch self {
        case .blackhole: return .inval
        case .unreachable: return .hostUnreach
        case .prohibit: return .acces
        case .throw: return .again
        default: return nil
        }
    }
}

/// Route scope (`RT_SCOPE_*`).
public enum RouteScope: UInt8, Sendable {
    case universe = 0, site = 200, link = 253, host = 254, nowhere = 255
    public init(name: String) {
        switch name {
        case "host": self = .host
        case "link": self = .link
        case "site": self = .site
        case "nowhere": self = .nowhere
        default: self = .universe
        }
    }
}

/// The errors route lookups return, as the kernel's errno values.
public enum RouteError: UInt8, Sendable, CustomStringConvertible {
    /// `-EINVAL` (blackhole, martian).
    case inval
    /// `-EHOSTUNREACH` (unreachable route, forwarding off).
    case hostUnreach
    /// `-ENETUNREACH` (no route).
    case netUnreach
    /// `-EACCES` (prohibit).
    case acces
    /// `-EAGAIN` (throw / no match in this table: continue with the next rule).
    case again
    /// `-EXDEV` (reverse-path filter).
    case xdev
    public var description: String {
        switch self {
        case .inval: return "EINVAL"
        case .hostUnreach: return "EHOSTUNREACH"
        case .netUnreach: return "ENETUNREACH"
        case .acces: return "EACCES"
        case .again: return "EAGAIN"
        case .xdev: return "EXDEV"
        }
    }
}

/// One next hop of a route (`struct fib_nh`).
public struct NextHop4: Sendable, Equatable {
    public var dev: Int?
    public var gateway: IPv4Address?
    public var weight: Int = 1
    public var dead: Bool = false
    public init(dev: Int?, gateway: IPv4Address?, weight: Int = 1, dead: Bool = false) {
        self.dev = dev
        self.gateway = gateway
        self.weight = weight
        self.dead = dead
    }
}

/// An IPv4 route (`struct fib_alias` + `struct fib_info`).
public struct Route4: Sendable, Equatable {
    public var table: UInt32
    public var type: RTNType
    public var prefix: IPv4Address
    public var length: Int
    public var tos: UInt8 = 0
    public var metric: UInt32 = 0
    public var scope: RouteScope
    public var prefsrc: IPv4Address?
    public var mtu: Int?
    public var nexthops: [NextHop4]

    public init(table: UInt32 = FibTableID.main, type: RTNType = .unicast, prefix: IPv4Address, length: Int,
                dev: Int? = nil, gateway: IPv4Address? = nil, prefsrc: IPv4Address? = nil,
                scope: RouteScope? = nil, metric: UInt32 = 0, tos: UInt8 = 0, mtu: Int? = nil,
                nexthops: [NextHop4]? = nil) {
        self.table = table
        self.type = type
        self.prefix = IPv4Address(prefix.value & IfAddr4.mask(length))
        self.length = length
        self.tos = tos
        self.metric = metric
        self.prefsrc = prefsrc
        self.mtu = mtu
        self.nexthops = nexthops ?? ((dev != nil || gateway != nil) ? [NextHop4(dev: dev, gateway: gateway)] : [])
        if let s = scope {
            self.scope = s
        } else {
            switch type {
            case .local, .nat: self.scope = .host
            case .broadcast, .multicast, .anycast: self.scope = .link
            case .unicast: self.scope = gateway == nil ? .link : .universe
            default: self.scope = .universe
            }
        }
    }

    func covers(_ a: IPv4Address) -> Bool {
        length == 0 || (a.value ^ prefix.value) & IfAddr4.mask(length) == 0
    }

    /// `ip route` style text: `local 10.0.0.1 dev eth0 table local`.
    func text(_ ns: Netns) -> String {
        ByteWriter.string { write(ns, to: &$0) }
    }
}

/// The flow a route lookup is for (`struct flowi4`).
struct Flow4 {
    var daddr: IPv4Address
    var saddr: IPv4Address
    /// Input device (index into `Netns.devices`); the loopback device for output lookups.
    var iif: Int?
    var oif: Int?
    var mark: UInt32 = 0
    var tos: UInt8 = 0
    var proto: UInt8 = 0
    var sport: UInt16 = 0
    var dport: UInt16 = 0
}

/// What a successful lookup found (`struct fib_result`).
struct FibResult4 {
    var route: Int
    var type: RTNType
    var table: UInt32
    var prefixLength: Int
    /// Selected next hop within the route.
    var nexthop: Int
    /// The rule that decided (index into `Netns.rules4`), if rules were walked.
    var rule: Int?
}

extension Netns {
    /// Longest-prefix match in one table, honouring TOS, metric order, dead next hops and a
    /// required output device.
    ///
    /// Mirrors `fib_table_lookup()` in net/ipv4/fib_trie.c: the longest prefix with a usable
    /// alias wins; aliases of one prefix are tried by TOS (specific first) then priority.
    /// Returns the route index, or `.again` when nothing in the table matches, or the error
    /// the route type carries (blackhole, unreachable, prohibit, throw).
    /// - Complexity: O(routes in the table).
    func fibTableLookup(_ table: UInt32, _ fl: Flow4) -> (Int?, RouteError?, Int) {
        var best: Int? = nil
        var bestNh = 0
        for (i, r) in routes4.enumerated() where r.table == table && r.covers(fl.daddr) {
            if r.tos != 0 && r.tos != fl.tos { continue }
            // Next hop usability: a dead next hop, or one not on the required output device,
            // does not serve the lookup.
            var nhIndex = 0
            if !r.nexthops.isEmpty {
                nhIndex = -1
                for (k, nh) in r.nexthops.enumerated() {
                    if nh.dead { continue }
                    if let oif = fl.oif, let d = nh.dev, d != oif { continue }
                    nhIndex = k
                    break
                }
                if nhIndex < 0 { continue }
            }
            if let b = best {
                let o = routes4[b]
                if r.length < o.length { continue }
                if r.length == o.length {
                    // Specific TOS first, then lower metric, then table order (first wins).
                    if o.tos != 0 && r.tos == 0 { continue }
                    if (o.tos != 0) == (r.tos != 0) && r.metric >= o.metric { continue }
                }
            }
            best = i
            bestNh = nhIndex
        }
        guard let b = best else { return (nil, .again, 0) }
        if let e = routes4[b].type.lookupError { return (b, e, 0) }
        return (b, nil, bestNh)
    }
}
