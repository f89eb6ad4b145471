from rxtruth import *

DESCRIPTION = """DNAT and masquerade on a router: a SYN to 192.0.2.1:8080 is rewritten to
203.0.113.7:80, accepted by the forward chain (ct status dnat) and leaves eth1 with the source
masqueraded to 198.51.100.1; the same for UDP 5353 -> 53; a SYN to an un-NATed remote address
is dropped by the forward policy (NETFILTER_DROP). conntrack.txt shows the NAT entries."""
STAGES = ["nat", "conntrack", "netfilter", "forward"]

FRAMES = [
    inject("eth0", eth("eth0") / IP(src=PEER4["eth0"], dst=DUT4["eth0"], id=1) / TCP(sport=40001, dport=8080, flags="S", seq=7000)),
    inject("eth0", eth("eth0") / IP(src=PEER4["eth0"], dst=DUT4["eth0"], id=2) / UDP(sport=40002, dport=5353) / b"query"),
    inject("eth0", eth("eth0") / IP(src=PEER4["eth0"], dst=REMOTE4, id=3) / TCP(sport=40003, dport=80, flags="S", seq=8000)),
]
