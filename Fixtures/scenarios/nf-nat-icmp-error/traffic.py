from rxtruth import *

DESCRIPTION = """ICMP errors about NATed connections (nf_nat_icmp_reply_translation). A UDP flow
from 192.0.2.2 to 192.0.2.1:5353 is DNATed to 203.0.113.7:53 and masqueraded to 198.51.100.1 on
eth1. The far side's port unreachable (from 203.0.113.7) and a router's TTL exceeded (from
198.51.100.9), both quoting the translated datagram, are RELATED and forwarded back to
192.0.2.2 with the quoted header and the outer addresses translated back (the outer source
becomes 192.0.2.1). A second flow with TTL 1 is DNATed then expires in ip_forward: the DUT's
own time exceeded quotes the DNATed header; its connection was never confirmed, so at LOCAL_OUT
the error matches no connection (INVALID) and leaves untranslated. An ICMP error quoting a flow
that never existed is INVALID and dropped by the FORWARD rule."""
STAGES = ["conntrack", "nat", "forward", "icmp"]
WINDOW_MS = 100

def quoted(src, dst, sport, dport):
    return IP(src=src, dst=dst, id=1, ttl=63) / UDP(sport=sport, dport=dport, len=10, chksum=0) / b"qq"

FRAMES = [
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 2), dst=DUT4["eth0"], id=1) / UDP(sport=40002, dport=5353) / b"qq"),
    inject("eth1", eth("eth1") / IP(src="203.0.113.7", dst=DUT4["eth1"], id=2) / ICMP(type=3, code=3) / quoted(DUT4["eth1"], "203.0.113.7", 40002, 53)),
    inject("eth1", eth("eth1") / IP(src=host4("eth1", 9), dst=DUT4["eth1"], id=3) / ICMP(type=11, code=0) / quoted(DUT4["eth1"], "203.0.113.7", 40002, 53)),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 3), dst=DUT4["eth0"], id=4, ttl=1) / UDP(sport=40003, dport=5353) / b"qq"),
    inject("eth1", eth("eth1") / IP(src="203.0.113.7", dst=DUT4["eth1"], id=5) / ICMP(type=3, code=3) / quoted(DUT4["eth1"], "203.0.113.7", 40099, 53)),
]
