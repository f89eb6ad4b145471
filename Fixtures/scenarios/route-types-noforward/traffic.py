from rxtruth import *

DESCRIPTION = """Forwarding off: every non-local unicast destination is IP_INADDRERRORS (IpInAddrErrors)
whatever its route type (routed, blackhole, unreachable, prohibit, none), and no ICMP is sent."""
STAGES = ["route", "forward"]

def udp(dst, ident):
    return eth("eth0") / IP(src=PEER4["eth0"], dst=dst, id=ident) / UDP(sport=4000, dport=9) / b"route"

FRAMES = [
    inject("eth0", udp(REMOTE4, 1)),
    inject("eth0", udp("10.1.0.1", 2)),
    inject("eth0", udp("10.2.0.1", 3)),
    inject("eth0", udp("10.3.0.1", 4)),
    inject("eth0", udp("10.9.9.9", 6)),
]
