from rxtruth import *

DESCRIPTION = """Forwarding on, route types decide: a routed destination is forwarded out eth1;
blackhole drops silently; unreachable answers ICMP host unreachable; prohibit answers ICMP
admin-prohibited (code 13); throw and a destination with no route answer net unreachable
(IP_INNOROUTES)."""
STAGES = ["route", "forward", "icmp"]

def udp(dst, ident):
    # a distinct source per frame keeps ICMP rate limiting out of the picture
    return eth("eth0") / IP(src=host4("eth0", 2 + ident % 8), dst=dst, id=ident) / UDP(sport=4000, dport=9) / b"route"

FRAMES = [
    inject("eth0", udp(REMOTE4, 1)),
    inject("eth0", udp("10.1.0.1", 2)),
    inject("eth0", udp("10.2.0.1", 3)),
    inject("eth0", udp("10.3.0.1", 4)),
    inject("eth0", udp("10.4.0.1", 5)),
    inject("eth0", udp("10.9.9.9", 6)),
]
