from rxtruth import *

DESCRIPTION = """The iptables counterpart of nf-ct-state (-m conntrack --ctstate, and -m state):
a mid-stream ACK with no connection is INVALID (nf_conntrack_tcp_loose=0) and dropped; a
SYN+FIN is INVALID; a SYN to the listener is NEW, accepted and answered with a SYN-ACK
(conntrack SYN_RECV); an ICMP echo reply with no request is INVALID; a UDP datagram accepted
by the rules creates an UNREPLIED entry and gets the stack's port unreachable (NO_SOCKET); a NEW
UDP datagram to port 8 matches -m state and is rejected with port unreachable."""
STAGES = ["conntrack", "netfilter", "tcp"]

def tcp(n, flags, seq=1000, ack=0):
    return eth("eth0") / IP(src=host4("eth0", 2 + n), dst=DUT4["eth0"], id=n) / TCP(sport=5000 + n, dport=80, flags=flags, seq=seq, ack=ack)

FRAMES = [
    inject("eth0", tcp(1, "A", seq=1000, ack=2000)),
    inject("eth0", tcp(2, "SF")),
    inject("eth0", tcp(3, "S")),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 6), dst=DUT4["eth0"], id=4) / ICMP(type=0, id=71, seq=4)),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 7), dst=DUT4["eth0"], id=5) / UDP(sport=6000, dport=7) / b"ct"),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 8), dst=DUT4["eth0"], id=6) / UDP(sport=6001, dport=8) / b"ct"),
]
WINDOW_MS = 100
