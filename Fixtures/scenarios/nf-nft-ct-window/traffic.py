from rxtruth import *

DESCRIPTION = """Conntrack TCP window tracking on a router (forwarded flows are tracked whatever
the local sockets): a handshake between 192.0.2.2:40000 (eth0) and 203.0.113.7:80 (behind eth1)
is injected from both sides and forwarded (SYN_SENT, SYN_RECV, ESTABLISHED); client data and
the server's ACK are forwarded; client data far beyond the server's advertised window, and a
server segment acknowledging data the client never sent, are ct state invalid and dropped by the
forward rule (NETFILTER_DROP; nf_conntrack_tcp_be_liberal=0); in-window data then still passes;
a RST in window closes the entry (CLOSE)."""
STAGES = ["conntrack", "netfilter", "forward"]
WINDOW_MS = 60

C, S = host4("eth0", 2), REMOTE4
n = [0]

def c(flags, seq, ack=0, data=b""):
    n[0] += 1
    p = eth("eth0") / IP(src=C, dst=S, id=100 + n[0], ttl=64) / TCP(sport=40000, dport=80, flags=flags, seq=seq, ack=ack, window=8192)
    return p / data if data else p

def s(flags, seq, ack=0, data=b""):
    n[0] += 1
    p = eth("eth1") / IP(src=S, dst=C, id=200 + n[0], ttl=60) / TCP(sport=80, dport=40000, flags=flags, seq=seq, ack=ack, window=8192)
    return p / data if data else p

d = b"x" * 100
FRAMES = [
    inject("eth0", c("S", 1000)),
    inject("eth1", s("SA", 9000, 1001)),
    inject("eth0", c("A", 1001, 9001)),
    inject("eth0", c("PA", 1001, 9001, d)),
    inject("eth1", s("A", 9001, 1101)),
    inject("eth0", c("PA", 1101 + 1_000_000, 9001, d)),     # far beyond the window
    inject("eth1", s("A", 9001, 1101 + 500_000)),            # ACKs data never sent
    inject("eth0", c("PA", 1101, 9001, d)),                  # in window again
    inject("eth1", s("R", 9001)),
]
