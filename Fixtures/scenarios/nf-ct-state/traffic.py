from rxtruth import *

DESCRIPTION = """Connection tracking states in an nft INPUT chain (nf_conntrack_tcp_loose=0): a
mid-stream ACK with no connection is ct state invalid and dropped; a SYN+FIN is invalid; a SYN
to the listener is new and answered with a SYN-ACK (conntrack SYN_RECV); an ICMP echo reply with
no request is invalid; a UDP datagram accepted by the rules creates a conntrack entry that stays
UNREPLIED although the stack answers it with ICMP port unreachable (NO_SOCKET)."""
STAGES = ["conntrack", "netfilter", "tcp"]

def tcp(n, flags, seq=1000, ack=0):
    return eth("eth0") / IP(src=host4("eth0", 2 + n), dst=DUT4["eth0"], id=n) / TCP(sport=5000 + n, dport=80, flags=flags, seq=seq, ack=ack)

FRAMES = [
    inject("eth0", tcp(1, "A", seq=1000, ack=2000)),
    inject("eth0", tcp(2, "SF")),
    inject("eth0", tcp(3, "S")),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 6), dst=DUT4["eth0"], id=4) / ICMP(type=0, id=71, seq=4)),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 7), dst=DUT4["eth0"], id=5) / UDP(sport=6000, dport=7) / b"ct"),
]
WINDOW_MS = 100
