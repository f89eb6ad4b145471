import RxrayDecode
import RxrayHost

extension Netns {
    /// Compiles the host model into the stack's flat, index-based form: devices by position,
    /// sysctls resolved per device once, routes with device indices.
    public init(host: Host) {
        self.init()
        var index: [String: Int] = [:]
        for (i, itf) in host.interfaces.enumerated() { index[itf.name] = i }
        for itf in host.interfaces {
            var kind: NetDevice.Kind
            switch itf.kind {
            case .loopback: kind = .loopback
            case .ethernet, .veth: kind = .ethernet
            case .vlan(let parent, let id, let proto):
                kind = index[parent].map { .vlan(parent: $0, vid: id, proto: proto.etherType) } ?? .other
            case .bridge: kind = .bridge
            case .bond: kind = .bond
            case .macvlan(let parent, _): kind = index[parent].map { .macvlan(parent: $0) } ?? .other
            case .other: kind = .other
            }
            var d = NetDevice(ifindex: itf.index, name: itf.name, kind: kind, mac: itf.mac ?? .zero, mtu: itf.mtu)
            if case .veth = itf.kind { d.kind = .ethernet; d.isVirtual = true }
            // NETIF_F_GRO: from `ethtool -k` when the snapshot has it, else the kernel default
            // (veth off, NICs on; loopback takes the backlog path, never NAPI GRO).
            d.groEnabled = d.kind == .loopback ? false : (itf.groEnabled ?? !d.isVirtual)
            d.rxQueues = max(1, itf.rxQueues)
            d.up = itf.up
            d.promisc = itf.promisc
            d.master = itf.master.flatMap { index[$0] }
            for a in itf.addresses {
                switch a.address {
                case .v4(let v4): d.v4.append(IfAddr4(v4, a.prefixLength, broadcast: a.broadcast))
                case .v6(let v6): d.v6.append(IfAddr6(v6, a.prefixLength))
                }
            }
            let c = host.ipv4Conf(interface: itf.name)
            d.conf4.forwarding = c.forwarding
            d.conf4.rpFilter = c.rpFilter
            d.conf4.acceptLocal = c.acceptLocal
            d.conf4.routeLocalnet = c.routeLocalnet
            d.conf4.sendRedirects = c.sendRedirects
            d.conf4.acceptSourceRoute = c.acceptSourceRoute
            d.conf4.arpIgnore = c.arpIgnore
            d.conf4.arpFilter = c.arpFilter
            d.conf4.arpAccept = c.arpAccept
            d.conf4.arpAnnounce = c.arpAnnounce
            d.conf4.dropGratuitousARP = c.dropGratuitousArp
            d.conf4.dropUnicastInL2Multicast = c.dropUnicastInL2Multicast
            d.conf4.bcForwarding = c.bcForwarding
            d.conf4.sharedMedia = c.sharedMedia
            d.conf4.srcValidMark = c.srcValidMark
            d.conf4.proxyARP = c.proxyArp
            d.conf4.disablePolicy = c.disablePolicy
            d.conf4.logMartians = c.logMartians
            let c6 = host.ipv6Conf(interface: itf.name)
            // ip6_forward reads conf.all.forwarding (6.18 adds a per-device force_forwarding).
            d.conf6.forwarding = host.sysctls.ipv6Forwarding
            d.conf6.forceForwarding = host.sysctls.int("net.ipv6.conf.\(itf.name.replacingOccurrences(of: ".", with: "/")).force_forwarding") != 0
            d.conf6.disableIPv6 = c6.disableIPv6
            d.conf6.acceptSourceRoute = c6.acceptSourceRoute
            let key6 = "net.ipv6.conf.\(itf.name.replacingOccurrences(of: ".", with: "/"))."
            d.conf6.seg6Enabled = min(host.sysctls.int("net.ipv6.conf.all.seg6_enabled"), host.sysctls.int(key6 + "seg6_enabled")) > 0
            d.conf6.rplSegEnabled = min(host.sysctls.int("net.ipv6.conf.all.rpl_seg_enabled"), host.sysctls.int(key6 + "rpl_seg_enabled")) > 0
            d.conf6.dropUnicastInL2Multicast = c6.dropUnicastInL2Multicast
            d.conf6.mtu = c6.mtu
            devices.append(d)
        }
        for r in host.routes4 {
            guard case .v4(let p) = r.destination.address, let type = RTNType(name: r.type.rawValue) else { continue }
            var hops: [NextHop4] = []
            let dead = r.flags.contains("dead")
            if r.nexthops.isEmpty {
                if r.dev != nil || r.gateway != nil {
                    var g: IPv4Address? = nil
                    if case .v4(let a)? = r.gateway { g = a }
                    hops.append(NextHop4(dev: r.dev.flatMap { index[$0] }, gateway: g, dead: dead))
                }
            } else {
                for nh in r.nexthops {
                    var g: IPv4Address? = nil
                    if case .v4(let a)? = nh.gateway { g = a }
                    hops.append(NextHop4(dev: nh.dev.flatMap { index[$0] }, gateway: g, weight: nh.weight, dead: dead))
                }
            }
            var src: IPv4Address? = nil
            if case .v4(let a)? = r.prefsrc { src = a }
            routes4.append(Route4(table: r.table, type: type, prefix: p, length: r.destination.length,
                                  prefsrc: src, scope: RouteScope(rawValue: r.scope.value) ?? .universe,
                                  metric: r.metric, tos: r.tos, mtu: r.mtu, nexthops: hops))
        }
        for r in host.routes6 {
            guard case .v6(let p) = r.destination.address, let type = RTNType(name: r.type.rawValue) else { continue }
            var g: IPv6Address? = nil
            if case .v6(let a)? = r.gateway ?? r.nexthops.first?.gateway { g = a }
            var rt = Route6(table: r.table, type: type, prefix: p, length: r.destination.length,
                            dev: (r.dev ?? r.nexthops.first?.dev).flatMap { index[$0] }, gateway: g, metric: r.metric, mtu: r.mtu)
            rt.dead = r.flags.contains("dead")
            routes6.append(rt)
        }
        if !host.rules4.isEmpty {
            rules4 = host.rules4.map { pr in
                var from: (IPv4Address, Int)? = nil, to: (IPv4Address, Int)? = nil
                if let s = pr.src, case .v4(let a) = s.address { from = (a, s.length) }
                if let s = pr.dst, case .v4(let a) = s.address { to = (a, s.length) }
                return FibRule4(priority: pr.priority, from: from, to: to, selectors: Netns.selectors(pr), action: Netns.action(pr.action))
            }
        }
        if !host.rules6.isEmpty {
            rules6 = host.rules6.map { pr in
                var r = FibRule6(priority: pr.priority, selectors: Netns.selectors(pr), action: Netns.action(pr.action))
                if let s = pr.src, case .v6(let a) = s.address { r.from = a; r.fromLength = s.length }
                if let s = pr.dst, case .v6(let a) = s.address { r.to = a; r.toLength = s.length }
                return r
            }
        }
        for n in host.neighbours {
            guard let d = index[n.dev] else { continue }
            neighbours.append(NeighEntry(address: n.address, dev: d, lladdr: n.lladdr, state: n.state.first ?? ""))
        }
        neighboursKnown = (host.source.kind == .snapshot || host.source.kind == .profile) && !host.defaultsApplied.contains(.neighbours)
        neigh4 = host.interfaces.map { NeighParms(sysctls: host.sysctls, dev: $0.name, v6: false) }
        neigh6 = host.interfaces.map { NeighParms(sysctls: host.sysctls, dev: $0.name, v6: true) }
        for s in host.sockets {
            let proto: ListeningSocket.Proto = s.proto == .tcp ? .tcp : .udp
            var sock: ListeningSocket
            switch s.local {
            case .anyV4: sock = ListeningSocket(proto: proto, address: nil, isIPv6: false, port: s.port)
            case .anyV6(let v6only): sock = ListeningSocket(proto: proto, address: nil, isIPv6: true, dualStack: !v6only, port: s.port)
            case .address(let a): sock = ListeningSocket(proto: proto, address: a, isIPv6: !a.isV4, port: s.port)
            }
            sock.dev = s.interface.flatMap { index[$0] }
            sock.backlog = s.backlog ?? 4096
            sock.queued = s.recvQ
            sock.peer = s.peer
            sock.peerPort = s.peerPort
            sockets.append(sock)
        }
        for g in host.multicastGroups {
            guard let d = index[g.interface] else { continue }
            multicastGroups.append(MulticastGroup(dev: d, group: g.group))
        }
        let sc = host.sysctls
        sysctl.icmpEchoIgnoreAll = sc.icmpEchoIgnoreAll
        sysctl.icmpEchoIgnoreBroadcasts = sc.icmpEchoIgnoreBroadcasts
        sysctl.icmpRatelimitMs = sc.icmpRatelimit
        sysctl.icmpRatemask = UInt32(truncatingIfNeeded: sc.icmpRatemask)
        sysctl.icmpMsgsPerSec = sc.int("net.ipv4.icmp_msgs_per_sec", fallback: 1000)
        sysctl.icmpMsgsBurst = sc.int("net.ipv4.icmp_msgs_burst", fallback: 50)
        sysctl.icmpErrorsUseInboundIfaddr = sc.bool("net.ipv4.icmp_errors_use_inbound_ifaddr")
        sysctl.ipfragTimeSeconds = sc.ipfragTime
        sysctl.ipfragHighThresh = sc.ipfragHighThresh
        sysctl.ipfragMaxDist = sc.int("net.ipv4.ipfrag_max_dist", fallback: 64)
        sysctl.ipForwardUsePMTU = sc.bool("net.ipv4.ip_forward_use_pmtu")
        sysctl.ipEarlyDemux = sc.ipEarlyDemux
        sysctl.icmpv6EchoIgnoreAll = sc.icmpv6EchoIgnoreAll
        sysctl.icmpv6EchoIgnoreMulticast = sc.icmpv6EchoIgnoreMulticast
        sysctl.icmpv6RatelimitMs = sc.int("net.ipv6.icmp.ratelimit", fallback: 1000)
        sysctl.ip6fragTimeSeconds = sc.ip6fragTime
        sysctl.ip6fragHighThresh = sc.ip6fragHighThresh
        sysctl.tcpSyncookies = sc.tcpSyncookies
        sysctl.tcpFastopen = sc.int("net.ipv4.tcp_fastopen", fallback: 1)
        sysctl.tcpMaxSynBacklog = sc.int("net.ipv4.tcp_max_syn_backlog", fallback: 128)
        sysctl.tcpAbortOnOverflow = sc.int("net.ipv4.tcp_abort_on_overflow") != 0
        sysctl.tcpSynackRetries = sc.int("net.ipv4.tcp_synack_retries", fallback: 5)
        sysctl.tcpTimestamps = sc.int("net.ipv4.tcp_timestamps", fallback: 1)
        sysctl.tcpRfc1337 = sc.int("net.ipv4.tcp_rfc1337") != 0
        sysctl.somaxconn = sc.int("net.core.somaxconn", fallback: 4096)
    }

    static func selectors(_ pr: PolicyRule) -> RuleSelectors {
        var s = RuleSelectors()
        s.iif = pr.iif
        s.oif = pr.oif
        s.fwmark = pr.fwmark
        s.fwmask = pr.fwmask ?? 0xFFFF_FFFF
        s.tos = pr.tos ?? 0
        s.ipproto = pr.ipproto
        s.sport = pr.sport
        s.dport = pr.dport
        s.uid = pr.uidRange
        s.invert = pr.invert
        s.suppressPrefixLength = pr.suppressPrefixLength
        return s
    }

    static func action(_ a: PolicyRule.Action) -> RuleAction {
        switch a {
        case .table(let t): return .table(t)
        case .goto(let p): return .goto(p)
        case .nop: return .nop
        case .blackhole: return .blackhole
        case .unreachable: return .unreachable
        case .prohibit: return .prohibit
        }
    }
}
