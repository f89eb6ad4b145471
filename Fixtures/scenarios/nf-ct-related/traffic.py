from rxtruth import *

DESCRIPTION = """Conntrack RELATED ICMP errors on a router (forward policy drop; established and
related accepted; new only from eth0): a UDP query from 192.0.2.2 to 203.0.113.7:53 is new and
forwarded; the server's ICMP port unreachable quoting it is related and forwarded back to the
client; a router's ICMP time exceeded quoting the same flow is related too; an ICMP port
unreachable quoting a flow conntrack never saw is not related (invalid) and dropped by the
policy; the server's UDP answer is established and forwarded; a new UDP flow from behind eth1 is
dropped by the policy (NETFILTER_DROP)."""
STAGES = ["conntrack", "netfilter", "forward", "icmp"]

C, S = host4("eth0", 2), REMOTE4
q = IP(src=C, dst=S, id=11, ttl=64) / UDP(sport=5000, dport=53) / b"query"
quoted = bytes(IP(src=C, dst=S, id=11, ttl=63) / UDP(sport=5000, dport=53) / b"query")[:28]
other = bytes(IP(src=host4("eth0", 3), dst="203.0.113.8", id=12, ttl=63) / UDP(sport=5001, dport=53) / b"query")[:28]

FRAMES = [
    inject("eth0", eth("eth0") / q),
    inject("eth1", eth("eth1") / IP(src=S, dst=C, id=21, ttl=60) / ICMP(type=3, code=3) / Raw(quoted)),
    inject("eth1", eth("eth1") / IP(src=host4("eth1", 3), dst=C, id=22, ttl=60) / ICMP(type=11, code=0) / Raw(quoted)),
    inject("eth1", eth("eth1") / IP(src="203.0.113.8", dst=host4("eth0", 3), id=23, ttl=60) / ICMP(type=3, code=3) / Raw(other)),
    inject("eth1", eth("eth1") / IP(src=S, dst=C, id=24, ttl=60) / UDP(sport=53, dport=5000) / b"answer"),
    inject("eth1", eth("eth1") / IP(src="203.0.113.9", dst=host4("eth0", 4), id=25, ttl=60) / UDP(sport=53, dport=5002) / b"new"),
]
