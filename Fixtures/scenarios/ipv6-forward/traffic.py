from rxtruth import *

DESCRIPTION = """IPv6 forwarding from eth0 to eth1 (MTU 1280): hop limit 2 is forwarded with 1;
hop limit 1 is IP_INHDR in ip6_forward with ICMPv6 time exceeded; a 1400-byte packet is
PKT_TOO_BIG with ICMPv6 packet too big (MTU 1280); no route is IP_INNOROUTES with ICMPv6
destination unreachable (no route)."""
STAGES = ["ipv6", "forward", "icmp"]

def udp6(src, dst, hlim=64, size=8):
    return eth("eth0") / IPv6(src=src, dst=dst, hlim=hlim) / UDP(sport=4000, dport=9) / (b"6" * size)

FRAMES = [
    inject("eth0", udp6(host6("eth0", 2), REMOTE6)),
    inject("eth0", udp6(host6("eth0", 3), REMOTE6, hlim=2)),
    inject("eth0", udp6(host6("eth0", 4), REMOTE6, hlim=1)),
    inject("eth0", udp6(host6("eth0", 5), REMOTE6, size=1352)),
    inject("eth0", udp6(host6("eth0", 6), "2001:db8:99::1")),
]
