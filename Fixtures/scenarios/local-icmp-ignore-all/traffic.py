from rxtruth import *

DESCRIPTION = """icmp_echo_ignore_all=1 (IPv4) and icmp/echo_ignore_all=1 (IPv6): echo requests
reach icmp_rcv / icmpv6_rcv and are consumed without a reply."""
STAGES = ["icmp", "ipv6"]

FRAMES = [
    inject("eth0", eth("eth0") / IP(src=PEER4["eth0"], dst=DUT4["eth0"], id=1) / ICMP(id=41, seq=1)),
    inject("eth0", eth("eth0") / IPv6(src=PEER6["eth0"], dst=DUT6["eth0"]) / ICMPv6EchoRequest(id=41, seq=2)),
]
