from rxtruth import *

DESCRIPTION = """IPv4 forwarding is decided per ingress interface: with forwarding on for eth0
and off for eth1, a datagram entering eth0 for the remote network is forwarded, while one
entering eth1 for the eth0 subnet is IP_INADDRERRORS with no ICMP."""
STAGES = ["forward", "route"]

FRAMES = [
    inject("eth0", eth("eth0") / IP(src=PEER4["eth0"], dst=REMOTE4, id=1) / UDP(sport=4000, dport=9) / b"a"),
    inject("eth1", eth("eth1") / IP(src=REMOTE4, dst=PEER4["eth0"], id=2) / UDP(sport=9, dport=4000) / b"b"),
]
