from rxtruth import *

DESCRIPTION = """The iptables (nf_tables backend) counterpart of nf-nft-input: a blocked source
is dropped (NETFILTER_DROP); a TCP port in a multiport range is rejected with RST from a user
chain; UDP 53 is accepted there but the socketless port then answers port unreachable; UDP 54
is rejected with icmp-admin-prohibited; after the user chain returns, UDP 9999 is dropped;
UDP 55 is dropped by the mangle table's INPUT chain; an IPv6 echo is rejected by ip6tables with
icmp6-addr-unreachable."""
STAGES = ["netfilter", "icmp", "udp", "tcp", "ipv6"]

def udp(n, dport, src=None):
    return eth("eth0") / IP(src=src or host4("eth0", 2 + n % 5), dst=DUT4["eth0"], id=n) / UDP(sport=4000 + n, dport=dport) / b"ipt"

FRAMES = [
    inject("eth0", udp(1, 53, src=host4("eth0", 7))),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 3), dst=DUT4["eth0"], id=2) / TCP(sport=4002, dport=8042, flags="S", seq=5)),
    inject("eth0", udp(3, 53)),
    inject("eth0", udp(4, 54)),
    inject("eth0", udp(5, 9999)),
    inject("eth0", udp(6, 55)),
    inject("eth0", eth("eth0") / IPv6(src=host6("eth0", 2), dst=DUT6["eth0"]) / ICMPv6EchoRequest(id=61, seq=7)),
]
