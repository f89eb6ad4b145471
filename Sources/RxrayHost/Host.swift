import RxrayDecode
import RxrayRules

/// The receiving host: everything the receive path consults besides the frame itself.
///
/// Built once by `HostLoader` (from a snapshot directory, a YAML profile, the kernel's defaults
/// or inference from a capture) and read-only during analysis. Lookups the stack needs per
/// frame (interface by name, index or MAC; "is this address mine") go through dictionaries
/// built by `reindex()`.
public struct Host: Equatable, Sendable {
    /// Interfaces in ifindex order.
    public var interfaces: [Interface] { didSet { reindex() } }
    /// IPv4 routes of every table (each route carries its table id).
    public var routes4: [Route] { didSet { reindex() } }
    /// IPv6 routes of every table.
    public var routes6: [Route] { didSet { reindex() } }
    /// IPv4 policy rules, in priority order (the order `ip rule` prints).
    public var rules4: [PolicyRule]
    /// IPv6 policy rules, in priority order.
    public var rules6: [PolicyRule]
    public var neighbours: [Neighbour]
    public var sysctls: Sysctls
    /// TCP listeners and bound UDP sockets (`ss -tuln`), plus connected UDP sockets (rxray extra
    /// `sockets-udp-connected.txt`), which carry a `peer`.
    public var sockets: [Socket]
    /// Multicast groups joined per interface (rxray extra `ip-maddr.json`); empty when unknown.
    public var multicastGroups: [MulticastMembership]
    /// The connection tracking table at capture start.
    public var conntrack: [ConntrackEntry]
    /// The firewall ruleset sources, and (once RxrayRules' parsers are wired) parse results.
    public var rulesets: Rulesets
    /// `uname -r` of the snapshot's host, when known.
    public var kernelRelease: String?
    /// Where each part came from, for the output header.
    public var source: HostSource
    /// The parts that took the kernel's defaults because the input had nothing for them.
    public var defaultsApplied: [HostPart]

    // Lookup indices (derived).
    private var byName: [String: Int] = [:]
    private var byIndex: [Int: Int] = [:]
    private var byMAC: [MACAddress: [Int]] = [:]
    private var localAddresses: [IPAddress: Int] = [:]
    private var tables4: [UInt32: [Route]] = [:]
    private var tables6: [UInt32: [Route]] = [:]

    public init(interfaces: [Interface] = [], routes4: [Route] = [], routes6: [Route] = [],
                rules4: [PolicyRule] = [], rules6: [PolicyRule] = [], neighbours: [Neighbour] = [],
                sysctls: Sysctls = Sysctls(), sockets: [Socket] = [], multicastGroups: [MulticastMembership] = [],
                conntrack: [ConntrackEntry] = [], rulesets: Rulesets = Rulesets(), kernelRelease: String? = nil,
                source: HostSource = HostSource(), defaultsApplied: [HostPart] = []) {
        self.interfaces = interfaces
        self.routes4 = routes4
        self.routes6 = routes6
        self.rules4 = rules4
        self.rules6 = rules6
        self.neighbours = neighbours
        self.sysctls = sysctls
        self.sockets = sockets
        self.multicastGroups = multicastGroups
        self.conntrack = conntrack
        self.rulesets = rulesets
        self.kernelRelease = kernelRelease
        self.source = source
        self.defaultsApplied = defaultsApplied
        reindex()
    }

    private mutating func reindex() {
        byName = [:]; byIndex = [:]; byMAC = [:]; localAddresses = [:]
        for (i, itf) in interfaces.enumerated() {
            byName[itf.name] = i
            byIndex[itf.index] = i
            if let mac = itf.mac, mac != .zero { byMAC[mac, default: []].append(i) }
            for a in itf.addresses where localAddresses[a.address] == nil { localAddresses[a.address] = i }
        }
        tables4 = Dictionary(grouping: routes4, by: \.table)
        tables6 = Dictionary(grouping: routes6, by: \.table)
    }

    public static func == (a: Host, b: Host) -> Bool {
        a.interfaces == b.interfaces && a.routes4 == b.routes4 && a.routes6 == b.routes6
            && a.rules4 == b.rules4 && a.rules6 == b.rules6 && a.neighbours == b.neighbours
            && a.sysctls == b.sysctls && a.sockets == b.sockets && a.conntrack == b.conntrack
            && a.multicastGroups == b.multicastGroups
            && a.rulesets == b.rulesets && a.kernelRelease == b.kernelRelease
    }

    /// The interface called `name`. - Complexity: O(1).
    public func interface(named name: String) -> Interface? { byName[name].map { interfaces[$0] } }
    /// The interface with ifindex `index`. - Complexity: O(1).
    public func interface(index: Int) -> Interface? { byIndex[index].map { interfaces[$0] } }
    /// Interfaces whose MAC is `mac` (a bridge shares its first port's MAC). - Complexity: O(1).
    public func interfaces(withMAC mac: MACAddress) -> [Interface] { (byMAC[mac] ?? []).map { interfaces[$0] } }
    /// The interface holding `address`, when the address is configured on this host. - Complexity: O(1).
    public func interface(holding address: IPAddress) -> Interface? { localAddresses[address].map { interfaces[$0] } }
    /// Whether `address` is configured on some interface. - Complexity: O(1).
    public func isLocalAddress(_ address: IPAddress) -> Bool { localAddresses[address] != nil }

    /// Routes of table `id` (255 local, 254 main, 253 default) in the given family, in input order.
    /// - Complexity: O(1).
    public func routingTable(_ id: UInt32, v6: Bool = false) -> [Route] { (v6 ? tables6[id] : tables4[id]) ?? [] }
    /// The table ids present in a family, ascending.
    public func routingTableIDs(v6: Bool = false) -> [UInt32] { (v6 ? tables6 : tables4).keys.sorted() }

    /// The effective IPv4 per-interface configuration, with the kernel's all/default/interface precedence.
    public func ipv4Conf(interface name: String) -> IPv4Conf { sysctls.ipv4Conf(interface: name) }
    /// The effective IPv6 per-interface configuration.
    public func ipv6Conf(interface name: String) -> IPv6Conf { sysctls.ipv6Conf(interface: name) }

    /// TCP listeners. - Complexity: O(n).
    public var tcpListeners: [Socket] { sockets.filter { $0.proto == .tcp } }
    /// Whether `interface` joined the multicast `group` (`ip maddr`). - Complexity: O(n).
    public func hasJoined(_ group: IPAddress, on interface: String) -> Bool {
        multicastGroups.contains { $0.interface == interface && $0.group == group }
    }
    /// Bound UDP sockets.
    public var udpSockets: [Socket] { sockets.filter { $0.proto == .udp } }
}

/// A part of the host model, for provenance and "defaults applied" reporting.
public enum HostPart: String, CaseIterable, Sendable, Codable {
    case links, addresses, routes4, routes6, rules4, rules6, neighbours, sysctls, sockets, conntrack, ruleset, features
}

/// Where the host model came from.
public struct HostSource: Equatable, Sendable {
    public enum Kind: String, Sendable { case snapshot, profile, defaults, inferred }
    public var kind: Kind
    /// The directory or file path (empty for defaults and inference).
    public var path: String
    /// For each part, the file it was read from.
    public var files: [HostPart: String]
    public init(kind: Kind = .defaults, path: String = "", files: [HostPart: String] = [:]) {
        self.kind = kind; self.path = path; self.files = files
    }
    /// One line for output headers: `snapshot /x (defaults: conntrack, ruleset)`.
    public func summary(defaultsApplied: [HostPart]) -> String {
        var s = kind.rawValue
        if !path.isEmpty { s += " " + path }
        if !defaultsApplied.isEmpty { s += " (defaults: " + defaultsApplied.map(\.rawValue).joined(separator: ", ") + ")" }
        return s
    }
}

// MARK: - Interfaces

public struct Interface: Equatable, Sendable {
    public var name: String
    public var index: Int
    /// The link-layer address; nil when the link has none (`link/none`).
    public var mac: MACAddress?
    public var mtu: Int
    public var kind: InterfaceKind
    /// The device it is enslaved to (bridge or bond), from `master`.
    public var master: String?
    /// What the master is, when known from `info_slave_kind`.
    public var portKind: PortKind?
    /// Administratively up (IFF_UP).
    public var up: Bool
    /// Carrier (IFF_LOWER_UP).
    public var lowerUp: Bool
    /// In promiscuous mode (IFF_PROMISC or promiscuity > 0).
    public var promisc: Bool
    /// IFF_NOARP.
    public var noARP: Bool
    public var addresses: [InterfaceAddress]
    public var rxQueues: Int
    /// Generic receive offload (`ethtool -k`: generic-receive-offload). Kernel default: on for
    /// physical NICs, off for veth; unknown (nil) when no feature file was given.
    public var groEnabled: Bool?

    public init(name: String, index: Int, mac: MACAddress? = nil, mtu: Int = 1500, kind: InterfaceKind = .ethernet,
                master: String? = nil, portKind: PortKind? = nil, up: Bool = true, lowerUp: Bool = true,
                promisc: Bool = false, noARP: Bool = false, addresses: [InterfaceAddress] = [], rxQueues: Int = 1,
                groEnabled: Bool? = nil) {
        self.name = name; self.index = index; self.mac = mac; self.mtu = mtu; self.kind = kind
        self.master = master; self.portKind = portKind; self.up = up; self.lowerUp = lowerUp
        self.promisc = promisc; self.noARP = noARP; self.addresses = addresses; self.rxQueues = rxQueues
        self.groEnabled = groEnabled
    }

    public var ipv4Addresses: [InterfaceAddress] { addresses.filter { $0.address.isV4 } }
    public var ipv6Addresses: [InterfaceAddress] { addresses.filter { !$0.address.isV4 } }
    public var isLoopback: Bool { kind == .loopback }
}

public enum InterfaceKind: Equatable, Sendable {
    case ethernet
    case loopback
    case vlan(parent: String, id: UInt16, proto: VLANProtocol)
    case bridge
    case bond
    case macvlan(parent: String, mode: String)
    case veth(peer: String?)
    /// A kind rxray has no special model for (`info_kind`), treated as a plain device.
    case other(String)

    /// The name used in YAML profiles and `info_kind`.
    public var name: String {
        switch self {
        case .ethernet: return "ethernet"
        case .loopback: return "loopback"
        case .vlan: return "vlan"
        case .bridge: return "bridge"
        case .bond: return "bond"
        case .macvlan: return "macvlan"
        case .veth: return "veth"
        case .other(let k): return k
        }
    }
}

public enum VLANProtocol: String, Equatable, Sendable {
    case dot1Q = "802.1Q"
    case dot1AD = "802.1ad"
    public var etherType: UInt16 { self == .dot1Q ? 0x8100 : 0x88A8 }
}

/// The role of an enslaved device.
public enum PortKind: String, Equatable, Sendable { case bridge, bond, other }

public struct InterfaceAddress: Equatable, Sendable {
    public var address: IPAddress
    public var prefixLength: Int
    /// The peer address of a point-to-point address (`ip addr add A peer P`).
    public var peer: IPPrefix?
    /// The IPv4 broadcast address, when one is configured.
    public var broadcast: IPv4Address?
    public var scope: Scope
    /// Address flags as `ip` prints them: secondary, noprefixroute, nodad, tentative, deprecated, ...
    public var flags: [String]
    public var label: String?

    public init(address: IPAddress, prefixLength: Int, peer: IPPrefix? = nil, broadcast: IPv4Address? = nil,
                scope: Scope = .global, flags: [String] = [], label: String? = nil) {
        self.address = address; self.prefixLength = prefixLength; self.peer = peer; self.broadcast = broadcast
        self.scope = scope; self.flags = flags; self.label = label
    }
    public var prefix: IPPrefix { IPPrefix(address: address, length: prefixLength) }
    public var isSecondary: Bool { flags.contains("secondary") }
    public var noPrefixRoute: Bool { flags.contains("noprefixroute") }
}

/// Route and address scope (`rtm_scope`): smaller numbers reach farther.
public enum Scope: Equatable, Hashable, Sendable, CustomStringConvertible {
    case global, site, link, host, nowhere
    case other(UInt8)
    public init(name: String) {
        switch name {
        case "global", "universe": self = .global
        case "site": self = .site
        case "link": self = .link
        case "host": self = .host
        case "nowhere": self = .nowhere
        default: self = UInt8(name).map(Scope.init(value:)) ?? .other(0)
        }
    }
    public init(value: UInt8) {
        switch value {
        case 0: self = .global
        case 200: self = .site
        case 253: self = .link
        case 254: self = .host
        case 255: self = .nowhere
        default: self = .other(value)
        }
    }
    public var value: UInt8 {
        switch self {
        case .global: return 0
        case .site: return 200
        case .link: return 253
        case .host: return 254
        case .nowhere: return 255
        case .other(let v): return v
        }
    }
    public var description: String {
        switch self {
        case .global: return "global"
        case .site: return "site"
        case .link: return "link"
        case .host: return "host"
        case .nowhere: return "nowhere"
        case .other(let v): return String(v)
        }
    }
    static func known(_ name: String) -> Bool {
        ["global", "universe", "site", "link", "host", "nowhere"].contains(name) || UInt8(name) != nil
    }
}

// MARK: - Routes

public enum RouteType: String, Equatable, Sendable, CaseIterable {
    case unicast, local, broadcast, anycast, multicast, blackhole, unreachable, prohibit, `throw`, nat
}

/// Well-known routing table ids (`/etc/iproute2/rt_tables`).
public enum RouteTable {
    public static let local: UInt32 = 255
    public static let main: UInt32 = 254
    public static let `default`: UInt32 = 253
    public static let unspec: UInt32 = 0

    /// Parses `local`, `main`, `default`, `unspec` or a number.
    public static func id(_ text: String) -> UInt32? {
        switch text {
        case "local": return local
        case "main": return main
        case "default": return `default`
        case "unspec": return unspec
        default: return UInt32(text)
        }
    }
    public static func name(_ id: UInt32) -> String {
        switch id {
        case local: return "local"
        case main: return "main"
        case `default`: return "default"
        default: return String(id)
        }
    }
}

public struct NextHop: Equatable, Sendable {
    public var gateway: IPAddress?
    public var dev: String?
    /// Multipath weight (1 when not given).
    public var weight: Int
    public var onlink: Bool
    public init(gateway: IPAddress? = nil, dev: String? = nil, weight: Int = 1, onlink: Bool = false) {
        self.gateway = gateway; self.dev = dev; self.weight = weight; self.onlink = onlink
    }
}

public struct Route: Equatable, Sendable {
    public var type: RouteType
    public var destination: IPPrefix
    public var table: UInt32
    /// `proto`: kernel, boot, static, dhcp, ... (nil when unspecified).
    public var proto: String?
    public var scope: Scope
    public var prefsrc: IPAddress?
    public var metric: UInt32
    /// TOS/DSCP selector (`tos`).
    public var tos: UInt8
    /// The single next hop (gateway and/or device); empty fields for reject routes.
    public var gateway: IPAddress?
    public var dev: String?
    public var onlink: Bool
    /// Path MTU metric (`mtu`), when set.
    public var mtu: Int?
    /// Multipath next hops; when non-empty, `gateway`/`dev` are nil.
    public var nexthops: [NextHop]
    /// IPv6 router preference (`pref`), kept for fidelity.
    public var pref: String?
    /// Route flags `ip` prints (linkdown, dead, ...).
    public var flags: [String]

    public init(type: RouteType = .unicast, destination: IPPrefix, table: UInt32 = RouteTable.main, proto: String? = nil,
                scope: Scope = .global, prefsrc: IPAddress? = nil, metric: UInt32 = 0, tos: UInt8 = 0,
                gateway: IPAddress? = nil, dev: String? = nil, onlink: Bool = false, mtu: Int? = nil,
                nexthops: [NextHop] = [], pref: String? = nil, flags: [String] = []) {
        self.type = type; self.destination = destination; self.table = table; self.proto = proto
        self.scope = scope; self.prefsrc = prefsrc; self.metric = metric; self.tos = tos
        self.gateway = gateway; self.dev = dev; self.onlink = onlink; self.mtu = mtu
        self.nexthops = nexthops; self.pref = pref; self.flags = flags
    }
    public var isV6: Bool { !destination.address.isV4 }
}

// MARK: - Policy rules

public struct PolicyRule: Equatable, Sendable {
    public enum Action: Equatable, Sendable {
        /// Look up this table.
        case table(UInt32)
        /// Jump to the first rule with priority ≥ this.
        case goto(UInt32)
        case nop
        case blackhole, unreachable, prohibit
    }
    public var priority: UInt32
    /// `not`: the selector is inverted.
    public var invert: Bool
    public var src: IPPrefix?
    public var dst: IPPrefix?
    public var iif: String?
    public var oif: String?
    public var fwmark: UInt32?
    /// Mask for `fwmark` (0xffffffff when not given).
    public var fwmask: UInt32?
    public var tos: UInt8?
    public var ipproto: UInt8?
    public var sport: ClosedRange<UInt16>?
    public var dport: ClosedRange<UInt16>?
    public var uidRange: ClosedRange<UInt32>?
    /// `l3mdev`: look up the table of the l3 master device.
    public var l3mdev: Bool
    public var action: Action
    public var suppressPrefixLength: Int?
    public var suppressIfgroup: Int?
    public var proto: String?

    public init(priority: UInt32, invert: Bool = false, src: IPPrefix? = nil, dst: IPPrefix? = nil, iif: String? = nil,
                oif: String? = nil, fwmark: UInt32? = nil, fwmask: UInt32? = nil, tos: UInt8? = nil, ipproto: UInt8? = nil,
                sport: ClosedRange<UInt16>? = nil, dport: ClosedRange<UInt16>? = nil, uidRange: ClosedRange<UInt32>? = nil,
                l3mdev: Bool = false, action: Action, suppressPrefixLength: Int? = nil, suppressIfgroup: Int? = nil,
                proto: String? = nil) {
        self.priority = priority; self.invert = invert; self.src = src; self.dst = dst; self.iif = iif; self.oif = oif
        self.fwmark = fwmark; self.fwmask = fwmask; self.tos = tos; self.ipproto = ipproto; self.sport = sport
        self.dport = dport; self.uidRange = uidRange; self.l3mdev = l3mdev; self.action = action
        self.suppressPrefixLength = suppressPrefixLength; self.suppressIfgroup = suppressIfgroup; self.proto = proto
    }
}

// MARK: - Neighbours

public struct Neighbour: Equatable, Sendable {
    public var address: IPAddress
    public var dev: String
    public var lladdr: MACAddress?
    /// NUD states as `ip` prints them: PERMANENT, REACHABLE, STALE, DELAY, PROBE, FAILED, INCOMPLETE, NOARP.
    public var state: [String]
    public var router: Bool
    public init(address: IPAddress, dev: String, lladdr: MACAddress? = nil, state: [String] = ["PERMANENT"], router: Bool = false) {
        self.address = address; self.dev = dev; self.lladdr = lladdr; self.state = state; self.router = router
    }
    /// Whether the entry resolves the address (has a usable link-layer address).
    public var isValid: Bool {
        lladdr != nil && !state.contains("FAILED") && !state.contains("INCOMPLETE")
    }
}

// MARK: - Sockets

public struct Socket: Equatable, Sendable {
    public enum Proto: String, Equatable, Sendable { case tcp, udp }
    /// The bound local address.
    public enum LocalAddress: Equatable, Sendable, CustomStringConvertible {
        /// `0.0.0.0`
        case anyV4
        /// `::` — `v6only` false (ss prints `*`) also receives IPv4.
        case anyV6(v6only: Bool)
        case address(IPAddress)
        public var description: String {
            switch self {
            case .anyV4: return "0.0.0.0"
            case .anyV6(let v6only): return v6only ? "[::]" : "*"
            case .address(let a): return a.isV4 ? a.description : "[\(a)]"
            }
        }
        public var isV6: Bool {
            switch self {
            case .anyV4: return false
            case .anyV6: return true
            case .address(let a): return !a.isV4
            }
        }
        /// Whether a packet to `dst` (of either family) can reach this binding.
        public func accepts(_ dst: IPAddress) -> Bool {
            switch (self, dst) {
            case (.anyV4, .v4): return true
            case (.anyV6(let v6only), .v4): return !v6only
            case (.anyV6, .v6): return true
            case (.address(let a), _): return a == dst
            default: return false
            }
        }
    }
    public var proto: Proto
    public var local: LocalAddress
    public var port: UInt16
    /// SO_BINDTODEVICE (`%iface` in ss output).
    public var interface: String?
    /// For a TCP listener: the accept queue limit (ss's Send-Q for LISTEN), i.e. min(backlog, somaxconn).
    public var backlog: Int?
    /// Recv-Q at snapshot time (queued connections for a listener, queued bytes for UDP).
    public var recvQ: Int
    /// The remote address of a connected UDP socket (`connect()`); nil for listeners and
    /// unconnected sockets. An IPv4-mapped peer of an IPv6 socket is kept as written.
    public var peer: IPAddress?
    /// The remote port of a connected UDP socket (0 when connected to an address only).
    public var peerPort: UInt16

    public init(proto: Proto, local: LocalAddress, port: UInt16, interface: String? = nil, backlog: Int? = nil, recvQ: Int = 0,
                peer: IPAddress? = nil, peerPort: UInt16 = 0) {
        self.proto = proto; self.local = local; self.port = port; self.interface = interface; self.backlog = backlog; self.recvQ = recvQ
        self.peer = peer; self.peerPort = peerPort
    }
    /// Whether the socket is connected to a peer (only datagrams from it match).
    public var isConnected: Bool { peer != nil }
}

// MARK: - Multicast

/// One multicast group an interface joined (`ip maddr show`; link-layer entries are not kept).
public struct MulticastMembership: Equatable, Sendable {
    public var interface: String
    public var group: IPAddress
    public init(interface: String, group: IPAddress) { self.interface = interface; self.group = group }
}

// MARK: - Conntrack

public struct ConntrackTuple: Equatable, Sendable {
    public var src: IPAddress
    public var dst: IPAddress
    public var sport: UInt16?
    public var dport: UInt16?
    /// ICMP type/code/id when the protocol is ICMP/ICMPv6.
    public var icmpType: UInt8?
    public var icmpCode: UInt8?
    public var icmpID: UInt16?
    public init(src: IPAddress, dst: IPAddress, sport: UInt16? = nil, dport: UInt16? = nil,
                icmpType: UInt8? = nil, icmpCode: UInt8? = nil, icmpID: UInt16? = nil) {
        self.src = src; self.dst = dst; self.sport = sport; self.dport = dport
        self.icmpType = icmpType; self.icmpCode = icmpCode; self.icmpID = icmpID
    }
}

public struct ConntrackEntry: Equatable, Sendable {
    /// `ipv4` / `ipv6` (from `conntrack -L -o extended`), or nil in the default format.
    public var l3proto: String?
    public var protoName: String
    public var protoNumber: UInt8
    /// Seconds left.
    public var timeout: Int
    /// TCP state (ESTABLISHED, SYN_SENT, ...), nil for other protocols.
    public var tcpState: String?
    public var original: ConntrackTuple
    public var reply: ConntrackTuple
    /// Status flags printed in brackets: UNREPLIED, ASSURED, ...
    public var status: [String]
    public var mark: UInt32
    public var zone: UInt16?
    public init(l3proto: String? = nil, protoName: String, protoNumber: UInt8, timeout: Int, tcpState: String? = nil,
                original: ConntrackTuple, reply: ConntrackTuple, status: [String] = [], mark: UInt32 = 0, zone: UInt16? = nil) {
        self.l3proto = l3proto; self.protoName = protoName; self.protoNumber = protoNumber; self.timeout = timeout
        self.tcpState = tcpState; self.original = original; self.reply = reply; self.status = status
        self.mark = mark; self.zone = zone
    }
}

// MARK: - Rulesets

/// One firewall rule source file as given (raw text), kept so the rule parsers and the
/// netfilter stage can read it, plus the parse outcome once parsed.
public struct RulesetSource: Equatable, Sendable {
    public enum Format: String, Equatable, Sendable, CaseIterable {
        case iptablesSave = "iptables-save"
        case ip6tablesSave = "ip6tables-save"
        case nftText = "nft"
        case nftJSON = "nft-json"
        case ipset = "ipset"
    }
    public var format: Format
    /// The file name used in error messages (`DIR/iptables-save.txt` or the YAML path).
    public var file: String
    /// 1-based line of the text's first line in `file` (for rulesets inline in YAML).
    public var firstLine: Int
    public var text: String
    /// nft tables (`"ip filter"`) of this source that are not loaded because they are
    /// iptables-nft's and come from the iptables-save source instead (see docs/HOST.md).
    public var excludedTables: [String]
    public init(format: Format, file: String, firstLine: Int = 1, text: String, excludedTables: [String] = []) {
        self.format = format; self.file = file; self.firstLine = firstLine; self.text = text
        self.excludedTables = excludedTables
    }
}

public struct Rulesets: Equatable, Sendable {
    /// The sources that define the active ruleset, in load order. A source shadowed by another
    /// (nft text when nft JSON is present; iptables-nft tables present in the nft listing) is
    /// listed in `shadowed` instead, with the reason.
    public var sources: [RulesetSource]
    public var shadowed: [ShadowedSource]
    /// Whether rules with unsupported constructs are loaded as never-matching (`--lenient`).
    public var lenient: Bool
    /// Constructs rxray does not model; non-empty only when `lenient` (otherwise the load fails).
    public var unsupported: [UnsupportedConstruct]
    /// The parsed iptables-save source (IPv4), when present. Rules carrying unsupported
    /// constructs have `isUnsupported` set (never-matching under `lenient`).
    public var iptables: IptablesRuleset?
    /// The parsed ip6tables-save source, when present.
    public var ip6tables: IptablesRuleset?
    /// The parsed nft ruleset (JSON when present, with the text listing as companion for rule
    /// text and lines), without the tables listed in the source's `excludedTables`.
    public var nft: NftRuleset?
    /// The same parse before any table was excluded (shares storage with `nft`): what the
    /// netfilter engine compiles, with its own exclusions, without parsing the source again.
    /// `file` is the active nft source's; rule lines are file lines (inline rulesets included).
    public var nftUnexcluded: NftRuleset?
    /// The parsed `ipset save` file, when present.
    public var ipsets: IpsetFile?
    /// The texts of shadowed sources, by file, so a profile can carry them too.
    public var shadowedTexts: [String: RulesetSource] = [:]

    public init(sources: [RulesetSource] = [], shadowed: [ShadowedSource] = [], lenient: Bool = false,
                unsupported: [UnsupportedConstruct] = []) {
        self.sources = sources; self.shadowed = shadowed; self.lenient = lenient; self.unsupported = unsupported
    }

    /// Equal rule texts, formats, exclusions, shadowing reasons and unsupported constructs; the
    /// file names and line offsets they were read from do not count (a profile carries a
    /// snapshot's rules inline), and the parsed forms derive from the texts.
    public static func == (a: Rulesets, b: Rulesets) -> Bool {
        a.sources.map { [$0.format.rawValue, $0.text, $0.excludedTables.joined(separator: ",")] }
            == b.sources.map { [$0.format.rawValue, $0.text, $0.excludedTables.joined(separator: ",")] }
            && a.shadowed.map(\.reason) == b.shadowed.map(\.reason) && a.lenient == b.lenient
            && a.unsupported.map { [$0.construct, $0.ruleText] } == b.unsupported.map { [$0.construct, $0.ruleText] }
    }
    public var isEmpty: Bool { sources.isEmpty }
    public func source(_ format: RulesetSource.Format) -> RulesetSource? { sources.first { $0.format == format } }

    /// Tables that iptables-save (nf_tables backend) shows only as a comment, "# Table `filter'
    /// contains incompatible base-chains, use 'nft' tool to list them", followed by its default
    /// built-in chains and no rules: nft-native tables that happen to have an iptables table's
    /// name ("ip filter"). They exist only as the nft listing shows them; the iptables side
    /// has nothing to load or traverse.
    public var iptablesIncompatibleTables: Set<String> {
        var out: Set<String> = []
        for ipt in sources where ipt.format == .iptablesSave || ipt.format == .ip6tablesSave {
            let family = ipt.format == .iptablesSave ? "ip" : "ip6"
            for line in ipt.text.split(separator: "\n") where line.hasPrefix("# Table `") && line.contains("incompatible") {
                if let a = line.firstIndex(of: "`"), let b = line[line.index(after: a)...].firstIndex(of: "'") {
                    out.insert("\(family) \(line[line.index(after: a)..<b])")
                }
            }
        }
        return out
    }
}

public struct ShadowedSource: Equatable, Sendable {
    public var file: String
    public var reason: String
    public init(file: String, reason: String) { self.file = file; self.reason = reason }
}
