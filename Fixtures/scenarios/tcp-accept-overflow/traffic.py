from rxtruth import *

DESCRIPTION = """Accept-queue overflow on a backlog-1 listener that never accepts, filled with TCP
Fast Open (tcp_fastopen=0x202, no cookie): two SYNs with data each create a child socket in
the accept queue and are answered with a SYN-ACK acknowledging the data; the third SYN finds
the queue full (more than backlog) and is dropped silently: ListenOverflows and ListenDrops,
no kfree_skb event."""
STAGES = ["tcp"]

def syn(n):
    return (eth("eth0") / IP(src=host4("eth0", 2 + n), dst=DUT4["eth0"], id=n) /
            TCP(sport=32000 + n, dport=80, flags="S", seq=1000 * n, options=[("MSS", 1460)]) / b"fastopen data")

FRAMES = [inject("eth0", syn(1)), inject("eth0", syn(2)), inject("eth0", syn(3))]
