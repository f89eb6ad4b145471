import RxrayDecode

/// The receiving host as the stack sees it: devices, addresses, FIB, rules, neighbours,
/// sysctls resolved per device, sockets. Compiled once from a `Host` (or built by hand in
/// tests); read-only while frames are processed.
///
/// Mirrors `struct net` (include/net/net_namespace.h): everything a receive decision reads.
public struct Netns: Sendable {
    public var devices: [NetDevice] = []
    public var routes4: [Route4] = []
    public var rules4: [FibRule4] = FibRule4.defaults
    public var routes6: [Route6] = []
    public var rules6: [FibRule6] = FibRule6.defaults
    public var neighbours: [NeighEntry] = []
    /// Whether `neighbours` is the host's real table (a snapshot's or profile's `ip neigh`):
    /// only then is output neighbour resolution modelled (core/Neighbour.swift).
    public var neighboursKnown = false
    /// Neighbour parameters per device (index into `devices`); missing: kernel defaults.
    public var neigh4: [NeighParms] = []
    public var neigh6: [NeighParms] = []
    public var sockets: [ListeningSocket] = []
    /// Multicast groups joined per device (`ip maddr`); 224.0.0.1 is joined by every IPv4
    /// device whether listed or not.
    public var multicastGroups: [MulticastGroup] = []
    public var sysctl = GlobalSysctls()

    public init() {}

    /// Index into `devices` of the device named `name`.
    public func device(named name: String) -> Int? {
        devices.firstIndex { $0.name == name }
    }
    /// Index into `devices` of the device with kernel ifindex `ifindex`.
    public func device(ifindex: Int) -> Int? {
        devices.firstIndex { $0.ifindex == ifindex }
    }
    /// Whether device `dev` joined the IPv4 multicast `group` (`ip_check_mc_rcu`'s list walk):
    /// 224.0.0.1 always, other groups when the host model lists them. - Complexity: O(groups).
    public func hasJoined(_ group: IPv4Address, dev: Int) -> Bool {
        if group.value == 0xE000_0001 { return true }
        for g in multicastGroups where g.dev == dev {
            if case .v4(let a) = g.group, a == group { return true }
        }
        return false
    }
    /// Whether device `dev` joined the IPv6 multicast `group` per the host model.
    public func hasJoined(_ group: IPv6Address, dev: Int) -> Bool {
        for g in multicastGroups where g.dev == dev {
            if case .v6(let a) = g.group, a == group { return true }
        }
        return false
    }
    /// The loopback device, if the host has one.
    public var loopback: Int? { devices.firstIndex { $0.kind == .loopback } }

    /// Whether `addr` is configured on any device of the namespace (`inet_lookup_ifaddr_rcu`).
    public func isLocalAddress(_ addr: IPv4Address) -> Bool {
        for d in devices { for a in d.v4 where a.address == addr { return true } }
        return false
    }
    /// Whether `addr` is configured on any device of the namespace (IPv6).
    public func isLocalAddress(_ addr: IPv6Address) -> Bool {
        for d in devices { for a in d.v6 where a.address == addr { return true } }
        return false
    }
    /// The device holding `addr`, if any.
    public func deviceHolding(_ addr: IPv6Address) -> Int? {
        for (i, d) in devices.enumerated() { for a in d.v6 where a.address == addr { return i } }
        return nil
    }

    /// Adds the routes the kernel creates for every configured address when the tables given
    /// hold none: `local`/`broadcast` routes in table local, prefix routes in main, and the
    /// IPv6 local and link-local routes. Hosts described by a snapshot already list them.
    public mutating func addAddressRoutesIfMissing() {
        let hasLocal4 = routes4.contains { $0.table == FibTableID.local }
        if !hasLocal4 {
            for (i, d) in devices.enumerated() where d.up {
                for a in d.v4 {
                    routes4.append(Route4(table: FibTableID.local, type: .local, prefix: a.address, length: 32,
                                          dev: i, prefsrc: a.address, scope: .host))
                    if d.kind == .loopback {
                        let net = a.address.value & a.mask
                        routes4.append(Route4(table: FibTableID.local, type: .local, prefix: IPv4Address(net),
                                              length: a.prefixLength, dev: i, prefsrc: a.address, scope: .host))
                        continue
                    }
                    if let b = a.broadcast, b != a.address, a.prefixLength < 31 {
                        routes4.append(Route4(table: FibTableID.local, type: .broadcast, prefix: b, length: 32,
                                              dev: i, prefsrc: a.address, scope: .link))
                    }
                    if a.prefixLength < 32 {
                        let net = a.address.value & a.mask
                        routes4.append(Route4(table: FibTableID.main, type: .unicast, prefix: IPv4Address(net),
                                              length: a.prefixLength, dev: i, prefsrc: a.address, scope: .link))
                    }
                }
            }
        }
        let hasLocal6 = routes6.contains { $0.table == FibTableID.local }
        if !hasLocal6 {
            for (i, d) in devices.enumerated() where d.up {
                for a in d.v6 {
                    routes6.append(Route6(table: FibTableID.local, type: .local, prefix: a.address, length: 128, dev: i))
                    if a.prefixLength < 128 && d.kind != .loopback {
                        routes6.append(Route6(table: FibTableID.main, type: .unicast,
                                              prefix: a.address.masked(a.prefixLength), length: a.prefixLength, dev: i))
                    }
                }
                if d.kind != .loopback {
                    routes6.append(Route6(table: FibTableID.local, type: .multicast,
                                          prefix: IPv6Address(high: 0xFF00 << 48, low: 0), length: 8, dev: i))
                }
            }
        }
    }
}

/// Well-known routing table numbers.
public enum FibTableID {
    public static let unspec: UInt32 = 0
    public static let `default`: UInt32 = 253
    public static let main: UInt32 = 254
    public static let local: UInt32 = 255

    public static func name(_ id: UInt32) -> String {
        switch id {
        case 253: return "default"
        case 254: return "main"
        case 255: return "local"
        default: return String(id)
        }
    }
}

/// A network device (`struct net_device` plus its `in_device`/`inet6_dev` configuration).
public struct NetDevice: Sendable {
    public enum Kind: Sendable, Equatable {
        case loopback
        case ethernet
        /// An 802.1Q/802.1ad device on `parent` (index into `Netns.devices`).
        case vlan(parent: Int, vid: UInt16, proto: UInt16)
        case bridge
        case bond
        case macvlan(parent: Int)
        case other
    }
    public var ifindex: Int
    public var name: String { didSet { nameJSONSafe = NetDevice.jsonSafe(name) } }
    /// Whether `name` needs no JSON escape, kept with it: stage detail that names the device
    /// is claimed JSON-safe (`FrameResult.recordJSONSafe`) without scanning the name each time.
    public private(set) var nameJSONSafe: Bool
    public var kind: Kind
    public var mac: MACAddress
    public var mtu: Int
    public var up: Bool = true
    public var promisc: Bool = false
    /// A virtual device (veth) that filters no unicast: foreign frames reach the stack.
    public var isVirtual: Bool = false
    /// The bridge or bond this device is a port/slave of (index into `Netns.devices`).
    public var master: Int?
    /// Generic receive offload (`NETIF_F_GRO`): the kernel default is on for NICs, off for veth.
    public var groEnabled: Bool = true
    /// Receive queues (each with its own NAPI instance and GRO lists); RSS picks one per flow.
    public var rxQueues: Int = 1
    /// `gro_max_size` (and `gro_ipv4_max_size`): GRO never builds a packet this long.
    public var groMaxSize: Int = 65536
    public var v4: [IfAddr4] = []
    public var v6: [IfAddr6] = []
    public var conf4 = IPv4DevConf()
    public var conf6 = IPv6DevConf()

    public init(ifindex: Int, name: String, kind: Kind, mac: MACAddress, mtu: Int = 1500) {
        self.ifindex = ifindex
        self.name = name
        self.nameJSONSafe = NetDevice.jsonSafe(name)
        self.kind = kind
        self.mac = mac
        self.mtu = mtu
    }

    static func jsonSafe(_ name: String) -> Bool {
        var s = name
        return s.withUTF8 { ByteWriter.jsonCleanPrefix($0) == $0.count }
    }
}

/// An IPv4 address on a device (`struct in_ifaddr`).
public struct IfAddr4: Sendable, Equatable {
    public var address: IPv4Address
    public var prefixLength: Int
    public var broadcast: IPv4Address?
    public init(_ address: IPv4Address, _ prefixLength: Int, broadcast: IPv4Address? = nil) {
        self.address = address
        self.prefixLength = prefixLength
        if let b = broadcast {
            self.broadcast = b
        } else if prefixLength < 31 {
            self.broadcast = IPv4Address(address.value | ~IfAddr4.mask(prefixLength))
        } else {
            self.broadcast = nil
        }
    }
    static func mask(_ len: Int) -> UInt32 { len == 0 ? 0 : ~(UInt32.max >> UInt32(len)) }
    public var mask: UInt32 { IfAddr4.mask(prefixLength) }
    public func contains(_ a: IPv4Address) -> Bool { a.value & mask == address.value & mask }
}

/// An IPv6 address on a device (`struct inet6_ifaddr`).
public struct IfAddr6: Sendable, Equatable {
    public var address: IPv6Address
    public var prefixLength: Int
    public init(_ address: IPv6Address, _ prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }
}

extension IPv6Address {
    /// The address with all bits past `length` cleared.
    func masked(_ length: Int) -> IPv6Address {
        if length <= 0 { return IPv6Address(high: 0, low: 0) }
        if length < 64 { return IPv6Address(high: high & ~(UInt64.max >> UInt64(length)), low: 0) }
        if length == 64 { return IPv6Address(high: high, low: 0) }
        if length >= 128 { return self }
        return IPv6Address(high: high, low: low & ~(UInt64.max >> UInt64(length - 64)))
    }
    func matches(_ prefix: IPv6Address, _ length: Int) -> Bool { masked(length) == prefix.masked(length) }
    /// Multicast scope nibble (`ff0S::`).
    var multicastScope: UInt8 { UInt8(truncatingIfNeeded: high >> 48) & 0x0F }
    /// The solicited-node multicast group of this address.
    var solicitedNode: IPv6Address {
        IPv6Address(high: 0xFF02_0000_0000_0000, low: 0x0000_0001_FF00_0000 | (low & 0xFF_FFFF))
    }
}

/// Per-device IPv4 configuration, already combined with `conf.all` the way the kernel's
/// `IN_DEV_*` macros combine them (OR, AND, max, or the device's own value).
public struct IPv4DevConf: Sendable, Equatable {
    /// `IN_DEV_FORWARD`: the device's own `forwarding`.
    public var forwarding = false
    /// max(all, dev): 0 off, 1 strict, 2 loose.
    public var rpFilter = 0
    public var acceptLocal = false
    public var routeLocalnet = false
    public var sendRedirects = true
    public var acceptSourceRoute = false
    public var arpIgnore = 0
    public var arpFilter = false
    public var arpAccept = 0
    public var arpAnnounce = 0
    public var dropGratuitousARP = false
    public var dropUnicastInL2Multicast = false
    public var bcForwarding = false
    public var sharedMedia = true
    public var srcValidMark = false
    public var proxyARP = false
    public var disablePolicy = false
    public var logMartians = false
    public init() {}
}

/// Per-device IPv6 configuration (`struct ipv6_devconf`), combined with `conf.all` where the
/// kernel combines them.
public struct IPv6DevConf: Sendable, Equatable {
    /// `conf.all.forwarding` (the IPv6 forwarding switch is global).
    public var forwarding = false
    /// `conf.<dev>.force_forwarding` (6.17+).
    public var forceForwarding = false
    public var disableIPv6 = false
    public var acceptSourceRoute = 0
    /// min(`conf.all.seg6_enabled`, `conf.<dev>.seg6_enabled`): segment routing headers
    /// (routing type 4) are processed only when set.
    public var seg6Enabled = false
    /// min(`conf.all.rpl_seg_enabled`, `conf.<dev>.rpl_seg_enabled`) for RPL source routes (type 3).
    public var rplSegEnabled = false
    public var dropUnicastInL2Multicast = false
    public var mtu = 1280
    public init() {}
}

/// Namespace-wide sysctls the receive path reads.
public struct GlobalSysctls: Sendable, Equatable {
    public var icmpEchoIgnoreAll = false
    public var icmpEchoIgnoreBroadcasts = true
    /// `icmp_ratelimit`, milliseconds per token.
    public var icmpRatelimitMs = 1000
    public var icmpRatemask: UInt32 = 0x1818
    public var icmpMsgsPerSec = 1000
    public var icmpMsgsBurst = 50
    public var icmpErrorsUseInboundIfaddr = false
    public var ipfragTimeSeconds = 30
    public var ipfragHighThresh = 4 * 1024 * 1024
    public var ipfragMaxDist = 64
    public var ipForwardUsePMTU = false
    public var ipEarlyDemux = true
    public var icmpv6EchoIgnoreAll = false
    public var icmpv6EchoIgnoreMulticast = false
    public var icmpv6RatelimitMs = 1000
    public var ip6fragTimeSeconds = 60
    public var ip6fragHighThresh = 4 * 1024 * 1024
    public var tcpSyncookies = 1
    /// `tcp_fastopen` bits: 0x2 server, 0x200 no cookie needed, 0x400 on every listener.
    public var tcpFastopen = 1
    public var tcpMaxSynBacklog = 128
    public var tcpAbortOnOverflow = false
    public var tcpSynackRetries = 5
    public var tcpTimestamps = 1
    public var tcpRfc1337 = false
    public var somaxconn = 4096
    public init() {}
}

/// A neighbour entry (`ip neigh`).
public struct NeighEntry: Sendable, Equatable {
    public var address: IPAddress
    public var dev: Int
    public var lladdr: MACAddress?
    /// `REACHABLE`, `STALE`, `PERMANENT`, `FAILED`, `INCOMPLETE`, `NOARP`, ...
    public var state: String
    public init(address: IPAddress, dev: Int, lladdr: MACAddress?, state: String) {
        self.address = address
        self.dev = dev
        self.lladdr = lladdr
        self.state = state
    }
    public var isUsable: Bool { lladdr != nil && state != "FAILED" && state != "INCOMPLETE" }
}

/// A multicast group joined on a device (`ip maddr`).
public struct MulticastGroup: Sendable, Equatable {
    /// Index into `Netns.devices`.
    public var dev: Int
    public var group: IPAddress
    public init(dev: Int, group: IPAddress) { self.dev = dev; self.group = group }
}

/// A bound or listening socket (`ss -tuln`), or a connected UDP socket (with a `peer`).
public struct ListeningSocket: Sendable, Equatable {
    public enum Proto: Sendable, Equatable { case tcp, udp }
    public var proto: Proto
    /// Nil = wildcard (0.0.0.0 / ::).
    public var address: IPAddress?
    /// Whether a wildcard IPv6 socket also takes IPv4 (dual-stack, `[::]` without v6only).
    public var dualStack: Bool
    public var port: UInt16
    /// Bound device (`%dev`), index into `Netns.devices`.
    public var dev: Int?
    public var backlog: Int
    public var queued: Int
    public var isIPv6: Bool
    /// A connected UDP socket's peer address (nil: unconnected); only datagrams from it match.
    public var peer: IPAddress?
    /// A connected UDP socket's peer port (0: any source port).
    public var peerPort: UInt16
    public init(proto: Proto, address: IPAddress?, isIPv6: Bool, dualStack: Bool = false, port: UInt16,
                dev: Int? = nil, backlog: Int = 128, queued: Int = 0, peer: IPAddress? = nil, peerPort: UInt16 = 0) {
        self.peer = peer
        self.peerPort = peerPort
        self.proto = proto
        self.address = address
        self.isIPv6 = isIPv6
        self.dualStack = dualStack
        self.port = port
        self.dev = dev
        self.backlog = backlog
        self.queued = queued
    }
}
