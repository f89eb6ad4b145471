from rxtruth import *

DESCRIPTION = """A prerouting mark selects the routing table: UDP to port 1111 is marked 1 and
blackholed by table 100; port 2222 is marked 2 and routed to 10.80.0.0/16 via eth1 by table
200; unmarked traffic to the remote network is forwarded by main, and to 10.80.0.1 has no route."""
STAGES = ["netfilter", "route", "forward"]

def udp(n, dst, dport):
    return eth("eth0") / IP(src=host4("eth0", 2 + n), dst=dst, id=n) / UDP(sport=4000, dport=dport) / b"mark"

FRAMES = [
    inject("eth0", udp(1, REMOTE4, 1111)),
    inject("eth0", udp(2, "10.80.0.1", 2222)),
    inject("eth0", udp(3, REMOTE4, 3333)),
    inject("eth0", udp(4, "10.80.0.1", 3333)),
]
