from rxtruth import *

DESCRIPTION = """A listener with backlog 1 that never accepts, syncookies off: the first SYN is
answered, and so is the second (the queue is full only when it holds more than the backlog);
the third finds the SYN queue full and is dropped silently (consume, no kfree_skb
event) with TCPReqQFullDrop and ListenDrops."""
STAGES = ["tcp"]

def syn(n):
    return eth("eth0") / IP(src=host4("eth0", 2 + n), dst=DUT4["eth0"], id=n) / TCP(sport=31000 + n, dport=80, flags="S", seq=1000 * n, options=[("MSS", 1460)])

FRAMES = [inject("eth0", syn(1)), inject("eth0", syn(2)), inject("eth0", syn(3))]
