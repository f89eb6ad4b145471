from rxtruth import *

DESCRIPTION = """Policy routing rules select the table: the same destination is forwarded for
an ordinary source, blackholed for a source whose rule points at a blackhole table, refused with
ICMP admin-prohibited by a prohibit rule; an iif+to rule routes 10.50.0.0/16 via eth1 while
10.60.0.1 has no route (net unreachable)."""
STAGES = ["route", "forward", "icmp"]

def udp(src, dst, ident):
    return eth("eth0") / IP(src=src, dst=dst, id=ident) / UDP(sport=4000, dport=9) / b"policy"

FRAMES = [
    inject("eth0", udp(host4("eth0", 4), REMOTE4, 1)),
    inject("eth0", udp(host4("eth0", 5), REMOTE4, 2)),
    inject("eth0", udp(host4("eth0", 6), REMOTE4, 3)),
    inject("eth0", udp(host4("eth0", 7), "10.50.1.1", 4)),
    inject("eth0", udp(host4("eth0", 8), "10.60.0.1", 5)),
]
