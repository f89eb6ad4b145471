from rxtruth import *

DESCRIPTION = """nftables verdict maps and concatenated sets, INPUT policy drop: a source .
protocol . port concatenation set accepts 192.0.2.2 to TCP 22 (the closed port then answers
RST) and 192.0.2.3 to UDP 5353 (a bound socket: delivered) but not 192.0.2.2 to UDP 22 (policy
drop); an interval concatenation (192.0.2.4-5 . 7000-7099) accepts UDP 7050 (port unreachable
from the stack) but not from 192.0.2.6; a named verdict map on tcp dport drops 23, jumps to an
audit chain for 24 (accepted for 192.0.2.6, dropped for others), accepts 25 (RST); an anonymous
vmap on udp dport accepts 9001, drops 9002 and goes to the audit chain for 9003."""
STAGES = ["netfilter", "tcp", "udp"]

def t(n, src, dport):
    return eth("eth0") / IP(src=src, dst=DUT4["eth0"], id=n) / TCP(sport=4000 + n, dport=dport, flags="S", seq=77)

def u(n, src, dport):
    return eth("eth0") / IP(src=src, dst=DUT4["eth0"], id=n) / UDP(sport=4000 + n, dport=dport) / b"vmap"

h = lambda n: host4("eth0", n)
FRAMES = [
    inject("eth0", t(1, h(2), 22)),
    inject("eth0", u(2, h(3), 5353)),
    inject("eth0", u(3, h(2), 22)),
    inject("eth0", u(4, h(5), 7050)),
    inject("eth0", u(5, h(6), 7050)),
    inject("eth0", t(6, h(7), 23)),
    inject("eth0", t(7, h(6), 24)),
    inject("eth0", t(8, h(7), 24)),
    inject("eth0", t(9, h(8), 25)),
    inject("eth0", u(10, h(9), 9001)),
    inject("eth0", u(11, h(9), 9002)),
    inject("eth0", u(12, h(6), 9003)),
    inject("eth0", u(13, h(7), 9003)),
]
