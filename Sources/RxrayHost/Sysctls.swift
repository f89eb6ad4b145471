/// The host's `net.*` sysctls: the values given (from `sysctl -a` or a profile) over the
/// kernel's defaults, with the per-interface precedence the kernel applies.
///
/// Defaults are those of a fresh network namespace on a 6.1 kernel with no sysctl.d files
/// applied (what `ip netns add` gives): notably `rp_filter = 0` — the kernel's value, not the
/// `2` that Debian's systemd writes at boot. rxray models the kernel; a host whose distribution
/// changes a value states it in its snapshot or profile. See docs/HOST.md.
public struct Sysctls: Equatable, Sendable {
    /// The values as given, keyed by the dotted name (`net.ipv4.conf.eth0.rp_filter`).
    public var values: [String: String]

    public init(_ values: [String: String] = [:]) { self.values = values }

    /// The given value, or the kernel default, or nil when rxray knows neither.
    public subscript(key: String) -> String? { values[key] ?? Sysctls.defaults[key] }

    /// An integer sysctl (given or default); `fallback` when neither is known or it is not a number.
    public func int(_ key: String, fallback: Int = 0) -> Int {
        guard let v = self[key] else { return fallback }
        return Int(v.trimmingCharacters(in: .whitespaces)) ?? fallback
    }
    public func bool(_ key: String) -> Bool { int(key) != 0 }
    /// Whether the key was given rather than defaulted.
    public func isGiven(_ key: String) -> Bool { values[key] != nil }

    // MARK: Typed global accessors

    public var ipForward: Bool { bool("net.ipv4.ip_forward") }
    public var tcpSyncookies: Int { int("net.ipv4.tcp_syncookies") }
    public var somaxconn: Int { int("net.core.somaxconn") }
    public var tcpMaxSynBacklog: Int { int("net.ipv4.tcp_max_syn_backlog") }
    public var tcpAbortOnOverflow: Bool { bool("net.ipv4.tcp_abort_on_overflow") }
    public var conntrackMax: Int { int("net.netfilter.nf_conntrack_max") }
    public var conntrackTCPBeLiberal: Bool { bool("net.netfilter.nf_conntrack_tcp_be_liberal") }
    public var conntrackTCPLoose: Bool { bool("net.netfilter.nf_conntrack_tcp_loose") }
    public var conntrackChecksum: Bool { bool("net.netfilter.nf_conntrack_checksum") }
    public var icmpRatelimit: Int { int("net.ipv4.icmp_ratelimit") }
    public var icmpRatemask: Int { int("net.ipv4.icmp_ratemask") }
    public var icmpEchoIgnoreAll: Bool { bool("net.ipv4.icmp_echo_ignore_all") }
    public var icmpEchoIgnoreBroadcasts: Bool { bool("net.ipv4.icmp_echo_ignore_broadcasts") }
    public var icmpv6EchoIgnoreAll: Bool { bool("net.ipv6.icmp.echo_ignore_all") }
    public var icmpv6EchoIgnoreMulticast: Bool { bool("net.ipv6.icmp.echo_ignore_multicast") }
    public var icmpv6EchoIgnoreAnycast: Bool { bool("net.ipv6.icmp.echo_ignore_anycast") }
    public var ipfragTime: Int { int("net.ipv4.ipfrag_time") }
    public var ipfragHighThresh: Int { int("net.ipv4.ipfrag_high_thresh") }
    public var ipfragLowThresh: Int { int("net.ipv4.ipfrag_low_thresh") }
    public var ip6fragTime: Int { int("net.ipv6.ip6frag_time") }
    public var ip6fragHighThresh: Int { int("net.ipv6.ip6frag_high_thresh") }
    public var ipEarlyDemux: Bool { bool("net.ipv4.ip_early_demux") }
    public var ipNonlocalBind: Bool { bool("net.ipv4.ip_nonlocal_bind") }
    public var tcpL3mdevAccept: Bool { bool("net.ipv4.tcp_l3mdev_accept") }
    public var udpL3mdevAccept: Bool { bool("net.ipv4.udp_l3mdev_accept") }
    public var fibMultipathHashPolicy: Int { int("net.ipv4.fib_multipath_hash_policy") }
    public var ipv6Forwarding: Bool { bool("net.ipv6.conf.all.forwarding") }
    /// `net.netfilter.nf_conntrack_tcp_timeout_<state>` in seconds (state as in the sysctl name:
    /// `established`, `syn_sent`, `time_wait`, ...).
    public func conntrackTCPTimeout(_ state: String) -> Int { int("net.netfilter.nf_conntrack_tcp_timeout_\(state)") }

    // MARK: Per-interface configuration

    /// The sysctl path component for an interface (`.` in names becomes `/`, as the kernel shows it).
    static func confName(_ interface: String) -> String { interface.replacingOccurrences(of: ".", with: "/") }

    /// A per-interface IPv4 value as the kernel stores it for `interface`: the interface's own
    /// value when given; else the `default` entry (a device created after the snapshot copies
    /// it); else the built-in default.
    public func ipv4DeviceValue(_ interface: String, _ attr: String) -> Int {
        let key = "net.ipv4.conf.\(Sysctls.confName(interface)).\(attr)"
        if let v = values[key], let n = Int(v) { return n }
        if attr == "forwarding" {
            // Writing ip_forward or conf.all.forwarding sets every device's forwarding.
            if let v = values["net.ipv4.conf.default.forwarding"], let n = Int(v) { return n }
            if let v = values["net.ipv4.conf.all.forwarding"] ?? values["net.ipv4.ip_forward"], let n = Int(v) { return n }
        }
        if let v = values["net.ipv4.conf.default.\(attr)"], let n = Int(v) { return n }
        return Int(Sysctls.defaults["net.ipv4.conf.default.\(attr)"] ?? "0") ?? 0
    }

    /// `net.ipv4.conf.all.<attr>` (given or default).
    public func ipv4AllValue(_ attr: String) -> Int {
        if attr == "forwarding", values["net.ipv4.conf.all.forwarding"] == nil, let v = values["net.ipv4.ip_forward"], let n = Int(v) { return n }
        return int("net.ipv4.conf.all.\(attr)")
    }

    /// The effective IPv4 configuration of `interface`, combining `all` and the device's value
    /// the way the kernel's `IN_DEV_*` accessors do (include/linux/inetdevice.h): some take the
    /// device value alone, some OR or AND it with `all`, some take the maximum.
    public func ipv4Conf(interface: String) -> IPv4Conf {
        func dev(_ a: String) -> Int { ipv4DeviceValue(interface, a) }
        func all(_ a: String) -> Int { ipv4AllValue(a) }
        func or(_ a: String) -> Bool { all(a) != 0 || dev(a) != 0 }
        func and(_ a: String) -> Bool { all(a) != 0 && dev(a) != 0 }
        func maxv(_ a: String) -> Int { Swift.max(all(a), dev(a)) }
        let forwarding = dev("forwarding") != 0
        return IPv4Conf(
            forwarding: forwarding,
            mcForwarding: and("mc_forwarding"),
            bcForwarding: and("bc_forwarding"),
            rpFilter: maxv("rp_filter"),
            srcValidMark: or("src_valid_mark"),
            acceptSourceRoute: and("accept_source_route"),
            acceptLocal: or("accept_local"),
            bootpRelay: and("bootp_relay"),
            logMartians: or("log_martians"),
            proxyArp: or("proxy_arp"),
            proxyArpPvlan: dev("proxy_arp_pvlan") != 0,
            sharedMedia: or("shared_media"),
            sendRedirects: or("send_redirects"),
            secureRedirects: or("secure_redirects"),
            acceptRedirects: forwarding ? and("accept_redirects") : or("accept_redirects"),
            routeLocalnet: or("route_localnet"),
            ignoreRoutesWithLinkdown: or("ignore_routes_with_linkdown"),
            promoteSecondaries: or("promote_secondaries"),
            arpFilter: or("arp_filter"),
            arpAccept: maxv("arp_accept"),
            arpAnnounce: maxv("arp_announce"),
            arpIgnore: maxv("arp_ignore"),
            arpNotify: maxv("arp_notify"),
            arpEvictNocarrier: and("arp_evict_nocarrier"),
            dropGratuitousArp: or("drop_gratuitous_arp"),
            dropUnicastInL2Multicast: or("drop_unicast_in_l2_multicast"),
            disablePolicy: dev("disable_policy") != 0,
            tag: dev("tag"),
            mediumID: dev("medium_id"))
    }

    /// A per-interface IPv6 value: the interface's own, else `default`, else built-in.
    public func ipv6DeviceValue(_ interface: String, _ attr: String) -> Int {
        let key = "net.ipv6.conf.\(Sysctls.confName(interface)).\(attr)"
        if let v = values[key], let n = Int(v) { return n }
        if attr == "forwarding" || attr == "disable_ipv6", let v = values["net.ipv6.conf.all.\(attr)"], let n = Int(v) { return n }
        if let v = values["net.ipv6.conf.default.\(attr)"], let n = Int(v) { return n }
        return Int(Sysctls.defaults["net.ipv6.conf.default.\(attr)"] ?? "0") ?? 0
    }

    /// The effective IPv6 configuration of `interface`. IPv6 reads the device's own value
    /// (`idev->cnf`) for these; `all.forwarding` is propagated to every device when written,
    /// and `disable_ipv6`/`drop_unicast_in_l2_multicast` are per device.
    public func ipv6Conf(interface: String) -> IPv6Conf {
        func dev(_ a: String) -> Int { ipv6DeviceValue(interface, a) }
        return IPv6Conf(
            forwarding: dev("forwarding") != 0,
            disableIPv6: dev("disable_ipv6") != 0,
            acceptRA: dev("accept_ra"),
            acceptDAD: dev("accept_dad"),
            acceptSourceRoute: Swift.min(int("net.ipv6.conf.all.accept_source_route"), dev("accept_source_route")),
            acceptRedirects: dev("accept_redirects") != 0,
            dropUnicastInL2Multicast: dev("drop_unicast_in_l2_multicast") != 0,
            ignoreRoutesWithLinkdown: dev("ignore_routes_with_linkdown") != 0 || int("net.ipv6.conf.all.ignore_routes_with_linkdown") != 0,
            mtu: dev("mtu"),
            hopLimit: dev("hop_limit"))
    }
}

/// Effective IPv4 settings of one interface (the kernel's `IN_DEV_*` view).
public struct IPv4Conf: Equatable, Sendable {
    public var forwarding: Bool
    public var mcForwarding: Bool
    public var bcForwarding: Bool
    /// 0 off, 1 strict, 2 loose: max(all, interface).
    public var rpFilter: Int
    public var srcValidMark: Bool
    public var acceptSourceRoute: Bool
    public var acceptLocal: Bool
    public var bootpRelay: Bool
    public var logMartians: Bool
    public var proxyArp: Bool
    public var proxyArpPvlan: Bool
    public var sharedMedia: Bool
    public var sendRedirects: Bool
    public var secureRedirects: Bool
    public var acceptRedirects: Bool
    public var routeLocalnet: Bool
    public var ignoreRoutesWithLinkdown: Bool
    public var promoteSecondaries: Bool
    public var arpFilter: Bool
    public var arpAccept: Int
    public var arpAnnounce: Int
    public var arpIgnore: Int
    public var arpNotify: Int
    public var arpEvictNocarrier: Bool
    public var dropGratuitousArp: Bool
    public var dropUnicastInL2Multicast: Bool
    public var disablePolicy: Bool
    public var tag: Int
    public var mediumID: Int
}

/// Effective IPv6 settings of one interface.
public struct IPv6Conf: Equatable, Sendable {
    public var forwarding: Bool
    public var disableIPv6: Bool
    public var acceptRA: Int
    public var acceptDAD: Int
    public var acceptSourceRoute: Int
    public var acceptRedirects: Bool
    public var dropUnicastInL2Multicast: Bool
    public var ignoreRoutesWithLinkdown: Bool
    public var mtu: Int
    public var hopLimit: Int
}

import Foundation

extension Sysctls {
    /// The kernel's defaults (6.1, fresh network namespace, no sysctl.d applied) for the keys the
    /// receive path reads. Keys outside this table are nil unless given.
    public static let defaults: [String: String] = {
        var d: [String: String] = [
            "net.core.somaxconn": "4096",
            "net.core.netdev_max_backlog": "1000",
            "net.core.rmem_default": "212992",
            "net.core.rmem_max": "212992",
            "net.ipv4.ip_forward": "0",
            "net.ipv4.ip_default_ttl": "64",
            "net.ipv4.ip_early_demux": "1",
            "net.ipv4.ip_nonlocal_bind": "0",
            "net.ipv4.ip_local_port_range": "32768\t60999",
            "net.ipv4.tcp_syncookies": "1",
            "net.ipv4.tcp_max_syn_backlog": "128",
            "net.ipv4.tcp_abort_on_overflow": "0",
            "net.ipv4.tcp_timestamps": "1",
            "net.ipv4.tcp_sack": "1",
            "net.ipv4.tcp_window_scaling": "1",
            "net.ipv4.tcp_ecn": "2",
            "net.ipv4.tcp_rfc1337": "0",
            "net.ipv4.tcp_fin_timeout": "60",
            "net.ipv4.tcp_synack_retries": "5",
            "net.ipv4.tcp_syn_retries": "6",
            "net.ipv4.tcp_challenge_ack_limit": "2147483647",
            "net.ipv4.tcp_invalid_ratelimit": "500",
            "net.ipv4.tcp_l3mdev_accept": "0",
            "net.ipv4.udp_l3mdev_accept": "0",
            "net.ipv4.tcp_early_demux": "1",
            "net.ipv4.udp_early_demux": "1",
            "net.ipv4.icmp_ratelimit": "1000",
            "net.ipv4.icmp_ratemask": "6168",
            "net.ipv4.icmp_msgs_per_sec": "1000",
            "net.ipv4.icmp_msgs_burst": "50",
            "net.ipv4.icmp_echo_ignore_all": "0",
            "net.ipv4.icmp_echo_ignore_broadcasts": "1",
            "net.ipv4.icmp_ignore_bogus_error_responses": "1",
            "net.ipv4.icmp_errors_use_inbound_ifaddr": "0",
            "net.ipv4.icmp_echo_enable_probe": "0",
            "net.ipv4.ipfrag_time": "30",
            "net.ipv4.ipfrag_high_thresh": "4194304",
            "net.ipv4.ipfrag_low_thresh": "3145728",
            "net.ipv4.ipfrag_max_dist": "64",
            "net.ipv4.fib_multipath_hash_policy": "0",
            "net.ipv4.fib_multipath_use_neigh": "0",
            "net.ipv4.fwmark_reflect": "0",
            "net.ipv4.route.min_pmtu": "552",
            "net.ipv6.icmp.echo_ignore_all": "0",
            "net.ipv6.icmp.echo_ignore_multicast": "0",
            "net.ipv6.icmp.echo_ignore_anycast": "0",
            "net.ipv6.icmp.ratelimit": "1000",
            "net.ipv6.ip6frag_time": "60",
            "net.ipv6.ip6frag_high_thresh": "4194304",
            "net.ipv6.ip6frag_low_thresh": "3145728",
            "net.netfilter.nf_conntrack_max": "262144",
            "net.netfilter.nf_conntrack_checksum": "1",
            "net.netfilter.nf_conntrack_tcp_be_liberal": "0",
            "net.netfilter.nf_conntrack_tcp_loose": "1",
            "net.netfilter.nf_conntrack_tcp_ignore_invalid_rst": "0",
            "net.netfilter.nf_conntrack_tcp_max_retrans": "3",
            "net.netfilter.nf_conntrack_tcp_timeout_syn_sent": "120",
            "net.netfilter.nf_conntrack_tcp_timeout_syn_recv": "60",
            "net.netfilter.nf_conntrack_tcp_timeout_established": "432000",
            "net.netfilter.nf_conntrack_tcp_timeout_fin_wait": "120",
            "net.netfilter.nf_conntrack_tcp_timeout_close_wait": "60",
            "net.netfilter.nf_conntrack_tcp_timeout_last_ack": "30",
            "net.netfilter.nf_conntrack_tcp_timeout_time_wait": "120",
            "net.netfilter.nf_conntrack_tcp_timeout_close": "10",
            "net.netfilter.nf_conntrack_tcp_timeout_max_retrans": "300",
            "net.netfilter.nf_conntrack_tcp_timeout_unacknowledged": "300",
            "net.netfilter.nf_conntrack_udp_timeout": "30",
            "net.netfilter.nf_conntrack_udp_timeout_stream": "120",
            "net.netfilter.nf_conntrack_icmp_timeout": "30",
            "net.netfilter.nf_conntrack_icmpv6_timeout": "30",
            "net.netfilter.nf_conntrack_generic_timeout": "600",
            "net.netfilter.nf_conntrack_frag6_timeout": "60",
        ]
        let v4conf: [String: (all: String, dflt: String)] = [
            "forwarding": ("0", "0"), "mc_forwarding": ("0", "0"), "bc_forwarding": ("0", "0"),
            "rp_filter": ("0", "0"), "src_valid_mark": ("0", "0"),
            "accept_source_route": ("0", "1"), "accept_local": ("0", "0"), "bootp_relay": ("0", "0"),
            "log_martians": ("0", "0"), "proxy_arp": ("0", "0"), "proxy_arp_pvlan": ("0", "0"),
            "shared_media": ("1", "1"), "send_redirects": ("1", "1"), "secure_redirects": ("1", "1"),
            "accept_redirects": ("1", "1"), "route_localnet": ("0", "0"),
            "ignore_routes_with_linkdown": ("0", "0"), "promote_secondaries": ("0", "0"),
            "arp_filter": ("0", "0"), "arp_accept": ("0", "0"), "arp_announce": ("0", "0"),
            "arp_ignore": ("0", "0"), "arp_notify": ("0", "0"), "arp_evict_nocarrier": ("1", "1"),
            "drop_gratuitous_arp": ("0", "0"), "drop_unicast_in_l2_multicast": ("0", "0"),
            "disable_policy": ("0", "0"), "disable_xfrm": ("0", "0"), "tag": ("0", "0"), "medium_id": ("0", "0"),
        ]
        for (k, v) in v4conf {
            d["net.ipv4.conf.all.\(k)"] = v.all
            d["net.ipv4.conf.default.\(k)"] = v.dflt
        }
        let v6conf: [String: String] = [
            "forwarding": "0", "disable_ipv6": "0", "accept_ra": "1", "accept_dad": "1",
            "accept_source_route": "0", "accept_redirects": "1", "drop_unicast_in_l2_multicast": "0",
            "ignore_routes_with_linkdown": "0", "mtu": "1280", "hop_limit": "64",
        ]
        for (k, v) in v6conf {
            d["net.ipv6.conf.all.\(k)"] = v
            d["net.ipv6.conf.default.\(k)"] = v
        }
        return d
    }()
}
