/// Symbolic names the tools accept and print, mapped to the numbers the kernel sees.
///
/// Only numbers reach the kernel; the netfilter stage compares numbers. These tables cover
/// what iptables-save, ip6tables-save and `nft list ruleset` print, and the common
/// `/etc/protocols` / `/etc/services` names people write in restore files.
public enum Names {
    /// IP protocol numbers by name (`/etc/protocols` plus the names iptables and nft print).
    public static let ipProtocols: [String: UInt8] = [
        "all": 0, "ip": 0, "hopopt": 0, "icmp": 1, "igmp": 2, "ggp": 3, "ipencap": 4, "ipip": 4, "st": 5,
        "tcp": 6, "egp": 8, "igp": 9, "pup": 12, "udp": 17, "hmp": 20, "xns-idp": 22, "rdp": 27,
        "iso-tp4": 29, "dccp": 33, "xtp": 36, "ddp": 37, "idpr-cmtp": 38, "ipv6": 41, "ipv6-route": 43,
        "ipv6-frag": 44, "idrp": 45, "rsvp": 46, "gre": 47, "esp": 50, "ah": 51, "skip": 57,
        "ipv6-icmp": 58, "icmpv6": 58, "icmp6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "rspf": 73,
        "vmtp": 81, "eigrp": 88, "ospf": 89, "ospfigp": 89, "ax.25": 93, "ipip4": 94, "etherip": 97,
        "encap": 98, "pim": 103, "ipcomp": 108, "comp": 108, "vrrp": 112, "l2tp": 115, "isis": 124,
        "sctp": 132, "fc": 133, "mobility-header": 135, "mh": 135, "udplite": 136, "mpls-in-ip": 137,
        "manet": 138, "hip": 139, "shim6": 140, "wesp": 141, "rohc": 142, "ethernet": 143,
    ]

    /// Well-known service ports (`/etc/services`), for restore files and nft symbols.
    public static let services: [String: UInt16] = [
        "tcpmux": 1, "echo": 7, "discard": 9, "daytime": 13, "ftp-data": 20, "ftp": 21, "ssh": 22,
        "telnet": 23, "smtp": 25, "time": 37, "whois": 43, "tacacs": 49, "domain": 53, "dns": 53,
        "bootps": 67, "bootpc": 68, "tftp": 69, "gopher": 70, "finger": 79, "http": 80, "www": 80,
        "kerberos": 88, "pop3": 110, "sunrpc": 111, "auth": 113, "nntp": 119, "ntp": 123,
        "epmap": 135, "netbios-ns": 137, "netbios-dgm": 138, "netbios-ssn": 139, "imap2": 143,
        "imap": 143, "snmp": 161, "snmp-trap": 162, "bgp": 179, "irc": 194, "ldap": 389,
        "https": 443, "microsoft-ds": 445, "isakmp": 500, "syslog": 514, "printer": 515,
        "submission": 587, "ldaps": 636, "rsync": 873, "imaps": 993, "pop3s": 995, "socks": 1080,
        "openvpn": 1194, "ms-sql-s": 1433, "l2tp": 1701, "pptp": 1723, "radius": 1812,
        "radius-acct": 1813, "nfs": 2049, "mysql": 3306, "ms-wbt-server": 3389, "sip": 5060,
        "postgresql": 5432, "amqp": 5672, "x11": 6000, "http-alt": 8080, "ipsec-nat-t": 4500,
        "dhcpv6-client": 546, "dhcpv6-server": 547, "mdns": 5353, "llmnr": 5355,
        "domain-s": 853, "smtps": 465, "urd": 465, "git": 9418, "redis": 6379,
    ]

    /// ICMP type (and code when a name stands for one) as iptables' `--icmp-type` names them.
    /// A nil code means any code of that type.
    public static let icmpTypes: [String: (type: UInt8, code: UInt8?)] = [
        "any": (255, nil), "echo-reply": (0, nil), "pong": (0, nil), "destination-unreachable": (3, nil),
        "network-unreachable": (3, 0), "net-unreachable": (3, 0), "host-unreachable": (3, 1),
        "protocol-unreachable": (3, 2), "port-unreachable": (3, 3), "fragmentation-needed": (3, 4),
        "frag-needed": (3, 4), "source-route-failed": (3, 5), "network-unknown": (3, 6), "net-unknown": (3, 6),
        "host-unknown": (3, 7), "network-prohibited": (3, 9), "net-prohibited": (3, 9),
        "host-prohibited": (3, 10), "TOS-network-unreachable": (3, 11), "TOS-host-unreachable": (3, 12),
        "communication-prohibited": (3, 13), "admin-prohibited": (3, 13), "host-precedence-violation": (3, 14),
        "precedence-cutoff": (3, 15), "source-quench": (4, nil), "redirect": (5, nil),
        "network-redirect": (5, 0), "host-redirect": (5, 1), "TOS-network-redirect": (5, 2),
        "TOS-host-redirect": (5, 3), "echo-request": (8, nil), "ping": (8, nil),
        "router-advertisement": (9, nil), "router-solicitation": (10, nil), "time-exceeded": (11, nil),
        "ttl-exceeded": (11, nil), "ttl-zero-during-transit": (11, 0), "ttl-zero-during-reassembly": (11, 1),
        "parameter-problem": (12, nil), "ip-header-bad": (12, 0), "required-option-missing": (12, 1),
        "timestamp-request": (13, nil), "timestamp-reply": (14, nil), "info-request": (15, nil),
        "info-reply": (16, nil), "address-mask-request": (17, nil), "address-mask-reply": (18, nil),
    ]

    /// ICMPv6 types and codes as ip6tables' `--icmpv6-type` and nft name them.
    public static let icmpv6Types: [String: (type: UInt8, code: UInt8?)] = [
        "destination-unreachable": (1, nil), "no-route": (1, 0), "communication-prohibited": (1, 1),
        "admin-prohibited": (1, 1), "beyond-scope": (1, 2), "address-unreachable": (1, 3), "addr-unreachable": (1, 3),
        "port-unreachable": (1, 4), "failed-policy": (1, 5), "reject-route": (1, 6),
        "packet-too-big": (2, nil), "time-exceeded": (3, nil), "ttl-exceeded": (3, nil),
        "ttl-zero-during-transit": (3, 0), "ttl-zero-during-reassembly": (3, 1),
        "parameter-problem": (4, nil), "bad-header": (4, 0), "unknown-header-type": (4, 1),
        "unknown-option": (4, 2), "echo-request": (128, nil), "ping": (128, nil), "echo-reply": (129, nil),
        "pong": (129, nil), "mld-listener-query": (130, nil), "mld-listener-report": (131, nil),
        "mld-listener-done": (132, nil), "mld-listener-reduction": (132, nil),
        "router-solicitation": (133, nil), "nd-router-solicit": (133, nil),
        "router-advertisement": (134, nil), "nd-router-advert": (134, nil),
        "neighbour-solicitation": (135, nil), "neighbor-solicitation": (135, nil), "nd-neighbor-solicit": (135, nil),
        "neighbour-advertisement": (136, nil), "neighbor-advertisement": (136, nil), "nd-neighbor-advert": (136, nil),
        "redirect": (137, nil), "nd-redirect": (137, nil), "router-renumbering": (138, nil),
        "ind-neighbor-solicit": (141, nil), "ind-neighbor-advert": (142, nil), "mld2-listener-report": (143, nil),
    ]

    /// conntrack states (`--ctstate`, `--state`, `ct state`) as the bits xt_conntrack uses.
    public static let ctStates: [String: UInt32] = [
        "INVALID": 1 << 0, "ESTABLISHED": 1 << 1, "RELATED": 1 << 2, "NEW": 1 << 3,
        "UNTRACKED": 1 << 6, "SNAT": 1 << 7, "DNAT": 1 << 8,
        "invalid": 1 << 0, "established": 1 << 1, "related": 1 << 2, "new": 1 << 3, "untracked": 1 << 6,
    ]

    /// conntrack status bits (`--ctstatus`, `ct status`), IPS_* in the uapi header.
    public static let ctStatus: [String: UInt32] = [
        "EXPECTED": 1 << 0, "SEEN_REPLY": 1 << 1, "ASSURED": 1 << 2, "CONFIRMED": 1 << 3,
        "expected": 1 << 0, "seen-reply": 1 << 1, "assured": 1 << 2, "confirmed": 1 << 3,
        "snat": 1 << 4, "dnat": 1 << 5, "dying": 1 << 9,
    ]

    /// Address types (`-m addrtype`, `fib ... type`), RTN_* numbers.
    public static let addrTypes: [String: UInt8] = [
        "UNSPEC": 0, "UNICAST": 1, "LOCAL": 2, "BROADCAST": 3, "ANYCAST": 4, "MULTICAST": 5,
        "BLACKHOLE": 6, "UNREACHABLE": 7, "PROHIBIT": 8, "THROW": 9, "NAT": 10, "XRESOLVE": 11,
        "unspec": 0, "unicast": 1, "local": 2, "broadcast": 3, "anycast": 4, "multicast": 5,
        "blackhole": 6, "unreachable": 7, "prohibit": 8, "throw": 9, "nat": 10, "xresolve": 11,
    ]

    /// Packet types (`-m pkttype`, `meta pkttype`), PACKET_* numbers.
    public static let pktTypes: [String: UInt8] = [
        "unicast": 0, "host": 0, "broadcast": 1, "multicast": 2, "otherhost": 3, "other": 3,
    ]

    /// Ethernet types nft and ebtables print.
    public static let etherTypes: [String: UInt16] = [
        "ip": 0x0800, "arp": 0x0806, "ip6": 0x86DD, "vlan": 0x8100, "8021q": 0x8100, "8021ad": 0x88A8,
    ]

    /// Resolves a protocol given as name or number; nil when neither.
    public static func ipProtocol(_ s: Substring) -> UInt8? {
        if let n = Num.u8(s) { return n }
        return ipProtocols[s.lowercased()]
    }

    /// Resolves a port given as number or service name.
    public static func port(_ s: Substring) -> UInt16? {
        if let n = Num.u16(s) { return n }
        return services[String(s)]
    }
}
