#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Host snapshot directories in the formats the real tools print (see DESIGN.md, "Host
/// snapshot"): `ip -j ...` JSON, `ss -H -tuln`, `sysctl -a` (net.), and either
/// `iptables-save` with a 1,000-rule ruleset or `nft list ruleset` with a kube-proxy ruleset.
enum Hosts {
    static func write(_ text: String, to path: String) throws {
        guard let f = fopen(path, "wb") else {
            throw GenError("\(path): cannot create: \(String(cString: strerror(errno)))")
        }
        defer { fclose(f) }
        var t = text
        let n = t.withUTF8 { fwrite($0.baseAddress, 1, $0.count, f) }
        if n != text.utf8.count { throw GenError("\(path): short write") }
    }

    /// Creates `path` and any missing parent directories (as `mkdir -p`).
    static func makeDirectory(_ path: String) throws {
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            let parent = String(path[..<slash])
            var st = stat()
            if stat(parent, &st) != 0 { try makeDirectory(parent) }
        }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw GenError("\(path): cannot create the directory: \(String(cString: strerror(errno)))")
        }
    }

    /// The files both hosts share; `ruleset` adds the firewall file(s).
    static func writeCommon(_ dir: String) throws {
        try makeDirectory(dir)
        try write(ipLink, to: dir + "/ip-link.json")
        try write(ipAddr, to: dir + "/ip-addr.json")
        try write(ipRoute, to: dir + "/ip-route.json")
        try write(ip6Route, to: dir + "/ip6-route.json")
        try write(#"[{"priority":0,"src":"all","table":"local"},{"priority":32766,"src":"all","table":"main"},{"priority":32767,"src":"all","table":"default"}]"# + "\n", to: dir + "/ip-rule.json")
        try write(#"[{"priority":0,"src":"all","table":"local"},{"priority":32766,"src":"all","table":"main"}]"# + "\n", to: dir + "/ip6-rule.json")
        try write(ipNeigh, to: dir + "/ip-neigh.json")
        try write(sockets, to: dir + "/sockets.txt")
        try write(sysctl, to: dir + "/sysctl.txt")
    }

    // MARK: ip -j

    static let lifetimes = #""valid_life_time":4294967295,"preferred_life_time":4294967295"#
    static let ipAddr: String = {
        func eth(_ idx: Int, _ name: String, _ mac: String, _ v4: String, _ v6: String, _ ll: String) -> String {
            #"{"ifindex":\#(idx),"link_index":\#(idx),"ifname":"\#(name)","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"mq","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"\#(mac)","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"\#(v4)","prefixlen":24,"scope":"global","label":"\#(name)",\#(lifetimes)},{"family":"inet6","local":"\#(v6)","prefixlen":64,"scope":"global","nodad":true,\#(lifetimes)},{"family":"inet6","local":"\#(ll)","prefixlen":64,"scope":"link",\#(lifetimes)}]}"#
        }
        let lo = #"{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo",\#(lifetimes)},{"family":"inet6","local":"::1","prefixlen":128,"scope":"host",\#(lifetimes)}]}"#
        return "[" + [lo, eth(2, "eth0", "02:00:00:00:00:10", "192.0.2.1", "2001:db8:1::1", "fe80::ff:fe00:10"),
                      eth(3, "eth1", "02:00:00:00:00:11", "198.51.100.1", "2001:db8:2::1", "fe80::ff:fe00:11")].joined(separator: ",") + "]\n"
    }()

    static let ipLink: String = {
        let tail = #""promiscuity":0,"allmulti":0,"min_mtu":68,"max_mtu":9216,"inet6_addr_gen_mode":"eui64","num_tx_queues":2,"num_rx_queues":2,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":65536,"tso_max_segs":65535,"gro_max_size":65536"#
        func eth(_ idx: Int, _ name: String, _ mac: String) -> String {
            #"{"ifindex":\#(idx),"ifname":"\#(name)","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"mq","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"\#(mac)","broadcast":"ff:ff:ff:ff:ff:ff",\#(tail)}"#
        }
        let lo = #"{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","promiscuity":0,"allmulti":0,"min_mtu":0,"max_mtu":0,"inet6_addr_gen_mode":"eui64","num_tx_queues":1,"num_rx_queues":1,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536}"#
        return "[" + [lo, eth(2, "eth0", "02:00:00:00:00:10"), eth(3, "eth1", "02:00:00:00:00:11")].joined(separator: ",") + "]\n"
    }()

    static let ipRoute: String = {
        let r = [
            #"{"dst":"default","gateway":"198.51.100.2","dev":"eth1","protocol":"static","flags":[]}"#,
            #"{"dst":"10.0.0.0/9","gateway":"192.0.2.254","dev":"eth0","protocol":"static","flags":[]}"#,
            #"{"dst":"10.200.0.0/16","gateway":"192.0.2.254","dev":"eth0","protocol":"static","flags":[]}"#,
            #"{"dst":"192.0.2.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"192.0.2.1","flags":[]}"#,
            #"{"dst":"198.51.100.0/24","dev":"eth1","protocol":"kernel","scope":"link","prefsrc":"198.51.100.1","flags":[]}"#,
            #"{"type":"local","dst":"127.0.0.0/8","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]}"#,
            #"{"type":"local","dst":"127.0.0.1","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]}"#,
            #"{"type":"broadcast","dst":"127.255.255.255","dev":"lo","table":"local","protocol":"kernel","scope":"link","prefsrc":"127.0.0.1","flags":[]}"#,
            #"{"type":"local","dst":"192.0.2.1","dev":"eth0","table":"local","protocol":"kernel","scope":"host","prefsrc":"192.0.2.1","flags":[]}"#,
            #"{"type":"broadcast","dst":"192.0.2.255","dev":"eth0","table":"local","protocol":"kernel","scope":"link","prefsrc":"192.0.2.1","flags":[]}"#,
            #"{"type":"local","dst":"198.51.100.1","dev":"eth1","table":"local","protocol":"kernel","scope":"host","prefsrc":"198.51.100.1","flags":[]}"#,
            #"{"type":"broadcast","dst":"198.51.100.255","dev":"eth1","table":"local","protocol":"kernel","scope":"link","prefsrc":"198.51.100.1","flags":[]}"#,
        ]
        return "[" + r.joined(separator: ",") + "]\n"
    }()

    static let ip6Route: String = {
        let r = [
            #"{"dst":"2001:db8:1::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"}"#,
            #"{"dst":"2001:db8:2::/64","dev":"eth1","protocol":"kernel","metric":256,"flags":[],"pref":"medium"}"#,
            #"{"dst":"2001:db8:100::/48","gateway":"2001:db8:1::fe","dev":"eth0","protocol":"static","metric":1024,"flags":[],"pref":"medium"}"#,
            #"{"dst":"fe80::/64","dev":"eth0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"}"#,
            #"{"dst":"fe80::/64","dev":"eth1","protocol":"kernel","metric":256,"flags":[],"pref":"medium"}"#,
            #"{"dst":"default","gateway":"2001:db8:2::2","dev":"eth1","protocol":"static","metric":1024,"flags":[],"pref":"medium"}"#,
            #"{"type":"local","dst":"::1","dev":"lo","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"}"#,
            #"{"type":"anycast","dst":"2001:db8:1::","dev":"eth0","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"}"#,
            #"{"type":"local","dst":"2001:db8:1::1","dev":"eth0","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"}"#,
            #"{"type":"anycast","dst":"2001:db8:2::","dev":"eth1","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"}"#,
            #"{"type":"local","dst":"2001:db8:2::1","dev":"eth1","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"}"#,
            #"{"type":"anycast","dst":"fe80::","dev":"eth0","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"}"#,
            #"{"type":"anycast","dst":"fe80::","dev":"eth1","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"}"#,
            #"{"type":"local","dst":"fe80::ff:fe00:10","dev":"eth0","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"}"#,
            #"{"type":"local","dst":"fe80::ff:fe00:11","dev":"eth1","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"}"#,
            #"{"type":"multicast","dst":"ff00::/8","dev":"eth0","table":"local","protocol":"kernel","metric":256,"flags":[],"pref":"medium"}"#,
            #"{"type":"multicast","dst":"ff00::/8","dev":"eth1","table":"local","protocol":"kernel","metric":256,"flags":[],"pref":"medium"}"#,
        ]
        return "[" + r.joined(separator: ",") + "]\n"
    }()

    static let ipNeigh: String = {
        let r = [
            #"{"dst":"192.0.2.254","dev":"eth0","lladdr":"02:00:00:00:00:20","state":["REACHABLE"]}"#,
            #"{"dst":"198.51.100.2","dev":"eth1","lladdr":"02:00:00:00:00:21","state":["REACHABLE"]}"#,
            #"{"dst":"2001:db8:1::fe","dev":"eth0","lladdr":"02:00:00:00:00:20","router":null,"state":["REACHABLE"]}"#,
            #"{"dst":"2001:db8:2::2","dev":"eth1","lladdr":"02:00:00:00:00:21","router":null,"state":["REACHABLE"]}"#,
        ]
        return "[" + r.joined(separator: ",") + "]\n"
    }()

    /// `ss -H -tuln`.
    static let sockets = """
        udp   UNCONN 0      0            0.0.0.0:53         0.0.0.0:*
        udp   UNCONN 0      0            0.0.0.0:5000       0.0.0.0:*
        tcp   LISTEN 0      4096         0.0.0.0:22         0.0.0.0:*
        tcp   LISTEN 0      4096         0.0.0.0:80         0.0.0.0:*
        tcp   LISTEN 0      4096         0.0.0.0:443        0.0.0.0:*
        tcp   LISTEN 0      4096            [::]:80            [::]:*
        tcp   LISTEN 0      4096            [::]:443           [::]:*

        """

    /// `sysctl -a`, the net. lines a router with conntrack shows (sorted like sysctl prints).
    static let sysctl: String = {
        var lines: [String] = []
        let conf4: [(String, String)] = [
            ("accept_local", "0"), ("accept_redirects", "0"), ("accept_source_route", "0"), ("arp_accept", "0"),
            ("arp_announce", "0"), ("arp_evict_nocarrier", "1"), ("arp_filter", "0"), ("arp_ignore", "0"),
            ("arp_notify", "0"), ("bc_forwarding", "0"), ("bootp_relay", "0"), ("disable_policy", "0"),
            ("disable_xfrm", "0"), ("drop_gratuitous_arp", "0"), ("drop_unicast_in_l2_multicast", "0"),
            ("force_igmp_version", "0"), ("forwarding", "1"), ("igmpv2_unsolicited_report_interval", "10000"),
            ("igmpv3_unsolicited_report_interval", "1000"), ("ignore_routes_with_linkdown", "0"), ("log_martians", "0"),
            ("mc_forwarding", "0"), ("medium_id", "0"), ("promote_secondaries", "1"), ("proxy_arp", "0"),
            ("proxy_arp_pvlan", "0"), ("route_localnet", "0"), ("rp_filter", "2"), ("secure_redirects", "1"),
            ("send_redirects", "1"), ("shared_media", "1"), ("src_valid_mark", "0"), ("tag", "0"),
        ]
        let conf6: [(String, String)] = [
            ("accept_dad", "1"), ("accept_ra", "0"), ("accept_redirects", "1"), ("accept_source_route", "0"),
            ("autoconf", "1"), ("dad_transmits", "1"), ("disable_ipv6", "0"), ("disable_policy", "0"),
            ("drop_unicast_in_l2_multicast", "0"), ("drop_unsolicited_na", "0"), ("forwarding", "1"), ("hop_limit", "64"),
            ("ignore_routes_with_linkdown", "0"), ("mtu", "1500"), ("proxy_ndp", "0"), ("use_tempaddr", "0"),
        ]
        lines += [
            "net.core.netdev_max_backlog = 1000", "net.core.optmem_max = 131072", "net.core.rmem_default = 212992",
            "net.core.rmem_max = 4194304", "net.core.somaxconn = 4096", "net.core.wmem_default = 212992",
            "net.core.wmem_max = 4194304",
        ]
        for dev in ["all", "default", "eth0", "eth1", "lo"] {
            for (k, v) in conf4 {
                var value = v
                if k == "rp_filter" && dev == "all" { value = "0" }
                if k == "accept_source_route" && dev != "all" { value = "1" }
                lines.append("net.ipv4.conf.\(dev).\(k) = \(value)")
            }
        }
        lines += [
            "net.ipv4.fib_multipath_hash_policy = 0", "net.ipv4.fib_multipath_use_neigh = 0", "net.ipv4.fwmark_reflect = 0",
            "net.ipv4.icmp_echo_enable_probe = 0", "net.ipv4.icmp_echo_ignore_all = 0", "net.ipv4.icmp_echo_ignore_broadcasts = 1",
            "net.ipv4.icmp_errors_use_inbound_ifaddr = 0", "net.ipv4.icmp_ignore_bogus_error_responses = 1",
            "net.ipv4.icmp_msgs_burst = 50", "net.ipv4.icmp_msgs_per_sec = 1000", "net.ipv4.icmp_ratelimit = 1000",
            "net.ipv4.icmp_ratemask = 6168", "net.ipv4.ip_default_ttl = 64", "net.ipv4.ip_early_demux = 1",
            "net.ipv4.ip_forward = 1", "net.ipv4.ip_local_port_range = 32768\t60999", "net.ipv4.ip_nonlocal_bind = 0",
            "net.ipv4.ipfrag_high_thresh = 4194304", "net.ipv4.ipfrag_low_thresh = 3145728", "net.ipv4.ipfrag_max_dist = 64",
            "net.ipv4.ipfrag_time = 30", "net.ipv4.route.min_pmtu = 552", "net.ipv4.tcp_abort_on_overflow = 0",
            "net.ipv4.tcp_challenge_ack_limit = 2147483647", "net.ipv4.tcp_early_demux = 1", "net.ipv4.tcp_ecn = 2",
            "net.ipv4.tcp_fin_timeout = 60", "net.ipv4.tcp_invalid_ratelimit = 500", "net.ipv4.tcp_l3mdev_accept = 0",
            "net.ipv4.tcp_max_syn_backlog = 4096", "net.ipv4.tcp_rfc1337 = 0", "net.ipv4.tcp_sack = 1",
            "net.ipv4.tcp_syn_retries = 6", "net.ipv4.tcp_synack_retries = 5", "net.ipv4.tcp_syncookies = 1",
            "net.ipv4.tcp_timestamps = 1", "net.ipv4.tcp_window_scaling = 1", "net.ipv4.udp_early_demux = 1",
            "net.ipv4.udp_l3mdev_accept = 0",
        ]
        for dev in ["all", "default", "eth0", "eth1", "lo"] {
            for (k, v) in conf6 { lines.append("net.ipv6.conf.\(dev).\(k) = \(dev == "lo" && k == "mtu" ? "65536" : v)") }
        }
        lines += [
            "net.ipv6.icmp.echo_ignore_all = 0", "net.ipv6.icmp.echo_ignore_anycast = 0", "net.ipv6.icmp.echo_ignore_multicast = 0",
            "net.ipv6.icmp.ratelimit = 1000", "net.ipv6.ip6frag_high_thresh = 4194304", "net.ipv6.ip6frag_low_thresh = 3145728",
            "net.ipv6.ip6frag_time = 60",
            "net.netfilter.nf_conntrack_acct = 0", "net.netfilter.nf_conntrack_buckets = 262144",
            "net.netfilter.nf_conntrack_checksum = 1", "net.netfilter.nf_conntrack_count = 0",
            "net.netfilter.nf_conntrack_frag6_timeout = 60", "net.netfilter.nf_conntrack_generic_timeout = 600",
            "net.netfilter.nf_conntrack_icmp_timeout = 30", "net.netfilter.nf_conntrack_icmpv6_timeout = 30",
            "net.netfilter.nf_conntrack_max = 262144", "net.netfilter.nf_conntrack_tcp_be_liberal = 0",
            "net.netfilter.nf_conntrack_tcp_ignore_invalid_rst = 0", "net.netfilter.nf_conntrack_tcp_loose = 1",
            "net.netfilter.nf_conntrack_tcp_max_retrans = 3", "net.netfilter.nf_conntrack_tcp_timeout_close = 10",
            "net.netfilter.nf_conntrack_tcp_timeout_close_wait = 60", "net.netfilter.nf_conntrack_tcp_timeout_established = 432000",
            "net.netfilter.nf_conntrack_tcp_timeout_fin_wait = 120", "net.netfilter.nf_conntrack_tcp_timeout_last_ack = 30",
            "net.netfilter.nf_conntrack_tcp_timeout_max_retrans = 300", "net.netfilter.nf_conntrack_tcp_timeout_syn_recv = 60",
            "net.netfilter.nf_conntrack_tcp_timeout_syn_sent = 120", "net.netfilter.nf_conntrack_tcp_timeout_time_wait = 120",
            "net.netfilter.nf_conntrack_tcp_timeout_unacknowledged = 300", "net.netfilter.nf_conntrack_udp_timeout = 30",
            "net.netfilter.nf_conntrack_udp_timeout_stream = 120",
        ]
        return lines.joined(separator: "\n") + "\n"
    }()

    // MARK: iptables-save, 1,000 rules

    static func dotted(_ a: UInt32) -> String { "\(a >> 24).\((a >> 16) & 255).\((a >> 8) & 255).\(a & 255)" }

    /// A host firewall of `rules` rules as iptables-save (nf_tables backend) prints it: a
    /// fail2ban-style blocklist walked by every new and established packet before the
    /// conntrack shortcut, per-subnet service rules, a forward allow-list, port forwards (DNAT)
    /// and masquerading. Returns the text and the number of -A lines.
    static func iptablesSave(rules total: Int, services: Int) -> (String, Int) {
        var out: [String] = ["# Generated by iptables-save v1.8.9 (nf_tables) on Mon Jan  1 00:00:00 2024"]
        var count = 0
        func add(_ s: String) { out.append(s); count += 1 }
        // raw: a few notrack/drops.
        out += ["*raw", ":PREROUTING ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
        add("-A PREROUTING -s 10.99.0.0/16 -i eth0 -j DROP")
        add("-A PREROUTING -d 192.0.2.255/32 -p udp -m udp --dport 137:138 -j DROP")
        out += ["COMMIT", "# Completed on Mon Jan  1 00:00:00 2024"]
        // mangle: marks for policy.
        out += ["# Generated by iptables-save v1.8.9 (nf_tables) on Mon Jan  1 00:00:00 2024",
                "*mangle", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]",
                ":OUTPUT ACCEPT [0:0]", ":POSTROUTING ACCEPT [0:0]"]
        for (i, port) in [22, 53, 80, 443].enumerated() {
            add("-A PREROUTING -i eth0 -p tcp -m tcp --dport \(port) -j MARK --set-xmark 0x\(i + 1)/0xffffffff")
        }
        add("-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu")
        out += ["COMMIT", "# Completed on Mon Jan  1 00:00:00 2024"]
        // nat: port forwards, the cluster's services the traffic uses (Topology.serviceFlowTargets)
        // DNATed to their one endpoint as the kube-proxy host does (ClusterIPs and NodePorts),
        // and masquerading; printed grouped by chain like iptables-save.
        out += ["# Generated by iptables-save v1.8.9 (nf_tables) on Mon Jan  1 00:00:00 2024",
                "*nat", ":PREROUTING ACCEPT [0:0]", ":INPUT ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
                ":POSTROUTING ACCEPT [0:0]", ":KUBE-SERVICES - [0:0]", ":PORTFWD - [0:0]"]
        let targets = Topology.serviceFlowTargets(services: services)
        add("-A PREROUTING -d 192.0.2.1/32 -i eth0 -j PORTFWD")
        add("-A PREROUTING -d 172.30.0.0/16 -i eth0 -p tcp -m tcp --dport 80 -j KUBE-SERVICES")
        add("-A POSTROUTING -s 10.0.0.0/9 -o eth1 -j MASQUERADE")
        for s in targets.cluster {
            add("-A KUBE-SERVICES -d \(dotted(Topology.clusterIP(s.service)))/32 -p tcp -m tcp --dport 80 -m comment --comment \"svc\(s.service)\" -j DNAT --to-destination \(dotted(s.endpoint)):80")
        }
        for i in 0..<100 {
            add("-A PORTFWD -p tcp -m tcp --dport \(10_000 + i) -m comment --comment \"forward \(i)\" -j DNAT --to-destination 203.0.113.\(10 + i):80")
        }
        for s in targets.nodePort {
            add("-A PORTFWD -p tcp -m tcp --dport \(Int(Topology.nodePortBase) + s.service % 2_000) -m comment --comment \"nodeport svc\(s.service)\" -j DNAT --to-destination \(dotted(s.endpoint)):80")
        }
        out += ["COMMIT", "# Completed on Mon Jan  1 00:00:00 2024"]
        // filter.
        out += ["# Generated by iptables-save v1.8.9 (nf_tables) on Mon Jan  1 00:00:00 2024",
                "*filter", ":INPUT DROP [0:0]", ":FORWARD DROP [0:0]", ":OUTPUT ACCEPT [0:0]",
                ":BLOCKLIST - [0:0]", ":FWD-ALLOW - [0:0]", ":LOG-DROP - [0:0]", ":SERVICES - [0:0]"]
        let filterStart = out.count
        add("-A INPUT -i lo -j ACCEPT")
        add("-A INPUT -j BLOCKLIST")
        add("-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
        add("-A INPUT -m conntrack --ctstate INVALID -j DROP")
        add("-A INPUT -p icmp -m icmp --icmp-type 8 -m limit --limit 1000/sec --limit-burst 2000 -j ACCEPT")
        add("-A INPUT -p ipv6-icmp -j ACCEPT")
        add("-A INPUT -j SERVICES")
        add("-A INPUT -p tcp -m tcp --dport 1:1023 -m limit --limit 10/min -j LOG-DROP")
        add("-A INPUT -p tcp -j REJECT --reject-with tcp-reset")
        add("-A INPUT -p udp -j REJECT --reject-with icmp-port-unreachable")
        add("-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
        add("-A FORWARD -m conntrack --ctstate INVALID -j DROP")
        add("-A FORWARD -i eth0 -o eth1 -j FWD-ALLOW")
        add("-A LOG-DROP -j LOG --log-prefix \"input-drop: \" --log-level 6")
        add("-A LOG-DROP -j DROP")
        // The services chain: per-subnet SSH, then the public services at its end.
        for i in 0..<200 {
            add("-A SERVICES -s 10.1.\(i).0/24 -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT")
        }
        add("-A SERVICES -p tcp -m multiport --dports 80,443 -m conntrack --ctstate NEW -j ACCEPT")
        add("-A SERVICES -p udp -m udp --dport 53 -j ACCEPT")
        add("-A SERVICES -p udp -m udp --dport 5000 -j ACCEPT")
        // The forward allow-list: per-server rules, then the generic ones.
        let fixed = count
        let reserveForBlocklist = 300
        let perServer = max(0, total - fixed - reserveForBlocklist - 6)
        for i in 0..<perServer {
            let subnet = i % 250
            let server = 10 + (i / 2) % 240
            let port = [22, 8080, 8443, 25][i % 4]
            add("-A FWD-ALLOW -s 10.1.\(subnet).0/24 -d 203.0.113.\(server)/32 -p tcp -m tcp --dport \(port) -j ACCEPT")
        }
        add("-A FWD-ALLOW -d 203.0.113.0/24 -p tcp -m multiport --dports 80,443 -j ACCEPT")
        add("-A FWD-ALLOW -d 203.0.113.53/32 -p udp -m udp --dport 53 -j ACCEPT")
        add("-A FWD-ALLOW -d 203.0.113.0/24 -p udp -m udp --dport 5000 -j ACCEPT")
        add("-A FWD-ALLOW -p icmp -j ACCEPT")
        add("-A FWD-ALLOW -d 10.180.0.0/16 -p tcp -m tcp --dport 80 -j ACCEPT")
        add("-A FWD-ALLOW -j REJECT --reject-with icmp-admin-prohibited")
        // fail2ban-style blocklist: the rest of the budget.
        var b = 0
        while count < total {
            let a: UInt32 = 0xC612_0000 | UInt32(b * 7 % 65_000 + 1)     // 198.18.0.0/15, spread out
            add("-A BLOCKLIST -s \(dotted(a))/32 -j \(b % 3 == 0 ? "REJECT --reject-with icmp-port-unreachable" : "DROP")")
            b += 1
        }
        // iptables-save prints a table's rules grouped by chain in chain order of creation:
        // built-in chains first, then user chains alphabetically.
        let filterRules = Array(out[filterStart...])
        out.removeSubrange(filterStart...)
        for chain in ["INPUT", "FORWARD", "OUTPUT", "BLOCKLIST", "FWD-ALLOW", "LOG-DROP", "SERVICES"] {
            out += filterRules.filter { $0.hasPrefix("-A \(chain) ") }
        }
        out += ["COMMIT", "# Completed on Mon Jan  1 00:00:00 2024"]
        return (out.joined(separator: "\n") + "\n", count)
    }
}
