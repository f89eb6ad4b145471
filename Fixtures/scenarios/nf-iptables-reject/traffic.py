from rxtruth import *

DESCRIPTION = """iptables (nf_tables backend) INPUT with a user chain: REJECT answers with each
--reject-with type (tcp-reset, ICMP port/net/host/proto unreachable, net/host/admin
prohibited) and the packet is NETFILTER_DROP; DROP is silent; RETURN from the user chain falls
through to a later DROP in INPUT; an accepted SYN to a closed port gets the stack's RST."""
STAGES = ["netfilter", "icmp", "tcp", "udp"]

def udp(n, dport):
    return eth("eth0") / IP(src=host4("eth0", 2 + n % 8), dst=DUT4["eth0"], id=n) / UDP(sport=4000 + n, dport=dport) / b"nf"

def syn(n, dport):
    return eth("eth0") / IP(src=host4("eth0", 2 + n % 8), dst=DUT4["eth0"], id=n) / TCP(sport=4000 + n, dport=dport, flags="S", seq=1000)

FRAMES = [
    inject("eth0", syn(1, 22)),
    inject("eth0", syn(2, 1001)),
    inject("eth0", syn(3, 1002)),
] + [inject("eth0", udp(3 + k, 2000 + k)) for k in range(1, 9)]
