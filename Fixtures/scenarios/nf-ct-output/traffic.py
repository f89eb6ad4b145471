from rxtruth import *

DESCRIPTION = """The host's own replies pass LOCAL_OUT and POST_ROUTING: conntrack sees them in the
reply direction and OUTPUT rules can drop them. A handshake to a listener (SYN, SYN-ACK, then the
ACK of the DUT's ISN, learned during the recording) makes the connection ESTABLISHED and ASSURED
(INPUT drops ct state INVALID, so a conntrack that misjudged the ACK would drop it); data is ACKed.
An echo request is answered; another one's reply is dropped by an OUTPUT rule (NETFILTER_DROP
while the request was delivered; conntrack still saw the reply at LOCAL_OUT, so the entry is not
UNREPLIED). A SYN to a closed port is answered by a RST that kills its never-answered connection;
another such RST is dropped at OUTPUT after conntrack killed the connection. A UDP datagram to a
closed port gets a port unreachable, RELATED to its connection, which stays UNREPLIED."""
STAGES = ["conntrack", "netfilter", "tcp", "icmp"]
WINDOW_MS = 100

p = TcpPeer("eth0", host4("eth0", 2), DUT4["eth0"], 40000, 80)

def syn(n, dport):
    return eth("eth0") / IP(src=host4("eth0", n), dst=DUT4["eth0"], id=n) / TCP(sport=5000 + n, dport=dport, flags="S", seq=1000)

FRAMES = [
    inject("eth0", p.syn()),
    inject("eth0", p.seg("A", seq=1, ack=1)),
    inject("eth0", p.seg("PA", seq=1, ack=1, data=b"hello")),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 2), dst=DUT4["eth0"], id=10) / ICMP(type=8, id=71, seq=1) / b"ping"),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 3), dst=DUT4["eth0"], id=11) / ICMP(type=8, id=72, seq=1) / b"ping"),
    inject("eth0", syn(4, 81)),
    inject("eth0", syn(5, 81)),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 6), dst=DUT4["eth0"], id=12) / UDP(sport=6000, dport=9) / b"ct"),
]
