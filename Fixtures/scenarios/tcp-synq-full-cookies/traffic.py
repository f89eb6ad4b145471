from rxtruth import *

DESCRIPTION = """A listener with backlog 1 that never accepts, syncookies=1: the first SYN is
answered normally, and so is the second (full means more than the backlog); the third finds
the SYN queue full and is answered with a syncookie
SYN-ACK (SyncookiesSent, TCPReqQFullDoCookies)."""
STAGES = ["tcp"]

def syn(n):
    return eth("eth0") / IP(src=host4("eth0", 2 + n), dst=DUT4["eth0"], id=n) / TCP(sport=31000 + n, dport=80, flags="S", seq=1000 * n, options=[("MSS", 1460)])

FRAMES = [inject("eth0", syn(1)), inject("eth0", syn(2)), inject("eth0", syn(3))]
