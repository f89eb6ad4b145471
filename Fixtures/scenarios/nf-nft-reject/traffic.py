from rxtruth import *

DESCRIPTION = """The nftables counterpart of nf-iptables-reject, in an inet table: `reject with
tcp reset` answers a SYN with RST; `reject with icmp type X` answers UDP with each ICMP
unreachable/prohibited code; plain `reject` on IPv4 UDP is port unreachable; `icmpx
port-unreachable`/`host-unreachable` map to the family's codes; `drop` is silent; `return`
from the user chain falls through to a later drop; an accepted SYN to a closed port gets the
stack's RST. Over IPv6: icmpv6 port-unreachable, admin-prohibited, plain `reject` (port
unreachable) and tcp reset. Every rejected packet is NETFILTER_DROP."""
STAGES = ["netfilter", "icmp", "tcp", "udp", "ipv6"]

def udp(n, dport):
    return eth("eth0") / IP(src=host4("eth0", 2 + n % 8), dst=DUT4["eth0"], id=n) / UDP(sport=4000 + n, dport=dport) / b"nf"

def syn(n, dport):
    return eth("eth0") / IP(src=host4("eth0", 2 + n % 8), dst=DUT4["eth0"], id=n) / TCP(sport=4000 + n, dport=dport, flags="S", seq=1000)

def udp6(n, dport):
    return eth("eth0") / IPv6(src=host6("eth0", 2 + n % 8), dst=DUT6["eth0"]) / UDP(sport=4000 + n, dport=dport) / b"nf6"

FRAMES = [
    inject("eth0", syn(1, 22)),
    inject("eth0", syn(2, 1001)),
    inject("eth0", syn(3, 1002)),
] + [inject("eth0", udp(3 + k, 2000 + k)) for k in range(1, 12)] + [
    inject("eth0", udp6(20, 3001)),
    inject("eth0", udp6(21, 3002)),
    inject("eth0", udp6(22, 3003)),
    inject("eth0", eth("eth0") / IPv6(src=host6("eth0", 7), dst=DUT6["eth0"]) / TCP(sport=4023, dport=3004, flags="S", seq=9)),
]
