from rxtruth import *

DESCRIPTION = """iptables -m recent: each SYN to port 22 from 192.0.2.2 is recorded (--set) and the
fourth within 60 s reaches --hitcount 4 and is dropped (the first three are answered with
SYN-ACKs by the listener); a SYN from another source is not affected; a SYN to port 23 from a
source not on the knock list is dropped, and after a UDP datagram to 1234 (recorded, then
dropped) the same source's SYN to 23 is rejected with a RST."""
STAGES = ["netfilter", "tcp"]

def syn(n, src, dport):
    return eth("eth0") / IP(src=host4("eth0", src), dst=DUT4["eth0"], id=n) / TCP(sport=50000 + n, dport=dport, flags="S", seq=n * 1000)

FRAMES = [inject("eth0", syn(n, 2, 22)) for n in range(1, 5)] + [
    inject("eth0", syn(5, 3, 22)),
    inject("eth0", syn(6, 4, 23)),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 4), dst=DUT4["eth0"], id=7) / UDP(sport=999, dport=1234) / b"knock"),
    inject("eth0", syn(8, 4, 23)),
]
