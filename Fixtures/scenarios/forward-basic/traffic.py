from rxtruth import *

DESCRIPTION = """IPv4 forwarding from eth0 to eth1 (MTU 1280): TTL 2 is forwarded with TTL 1;
TTL 1 is dropped in ip_forward with ICMP time exceeded; a 1400-byte DF datagram is dropped
(PKT_TOO_BIG) with ICMP fragmentation needed quoting MTU 1280; without DF it is fragmented;
a destination routed back out eth0 is forwarded and an ICMP redirect is sent."""
STAGES = ["forward", "route", "icmp"]

def udp(src, dst, ident, ttl=64, flags=0, size=5):
    return eth("eth0") / IP(src=src, dst=dst, id=ident, ttl=ttl, flags=flags) / UDP(sport=4000, dport=9) / (b"f" * size)

FRAMES = [
    inject("eth0", udp(host4("eth0", 2), REMOTE4, 1)),
    inject("eth0", udp(host4("eth0", 3), REMOTE4, 2, ttl=2)),
    inject("eth0", udp(host4("eth0", 4), REMOTE4, 3, ttl=1)),
    inject("eth0", udp(host4("eth0", 5), REMOTE4, 4, flags="DF", size=1372)),
    inject("eth0", udp(host4("eth0", 6), REMOTE4, 5, size=1372)),
    inject("eth0", udp(host4("eth0", 7), "192.0.2.200", 6)),
]
