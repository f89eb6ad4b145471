from rxtruth import *

DESCRIPTION = """nft limit with paced timing (capture timestamps are the real send slots, 150 ms
apart): `limit rate over 2/second burst 3 packets` on UDP 7000 lets the first three datagrams
through to the socket and drops the following ones (NETFILTER_DROP) until tokens accrue (one
every 500 ms); `limit rate 5/second burst 1 packets` accepts one echo request per 200 ms, so of
pings 100 ms apart every other one is answered and the rest are dropped by the next rule."""
STAGES = ["netfilter", "udp", "icmp"]
TIMING = "paced"
PACE_MS = 150
WINDOW_MS = 40
QUIET_MS = 20

def u(n):
    return eth("eth0") / IP(src=host4("eth0", 2), dst=DUT4["eth0"], id=n) / UDP(sport=31000, dport=7000) / b"lim"

def ping(n):
    return eth("eth0") / IP(src=host4("eth0", 3), dst=DUT4["eth0"], id=100 + n) / ICMP(type=8, id=9, seq=n) / b"lim"

FRAMES = ([inject("eth0", u(n)) for n in range(1, 8)] + [inject("eth0", u(8), delay_ms=900)] +
          [inject("eth0", ping(n)) for n in range(1, 7)])
