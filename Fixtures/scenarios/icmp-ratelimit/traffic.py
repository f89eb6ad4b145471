from rxtruth import *

DESCRIPTION = """ICMP error rate limiting per destination host (icmp_ratelimit 1000 ms, a bucket of six), with
paced timing (capture timestamps are the real send slots): twelve UDP datagrams from 192.0.2.2
to a closed port, 100 ms apart, are all NO_SOCKET; the first six are answered with port
unreachable, the next four are limited (IcmpOutRateLimitHost, no reply), the eleventh (1 s
after the first) is answered with the token that accrued, the twelfth is limited again. A
datagram from 192.0.2.3 has a bucket of its own and is answered; after a 1.3 s pause
192.0.2.2 gets one more reply and the next is limited."""
STAGES = ["udp", "icmp"]
TIMING = "paced"
PACE_MS = 100
WINDOW_MS = 40
QUIET_MS = 20

def u(n, src):
    return eth("eth0") / IP(src=src, dst=DUT4["eth0"], id=n) / UDP(sport=30000 + n, dport=6000) / b"limit"

A, B = host4("eth0", 2), host4("eth0", 3)
FRAMES = ([inject("eth0", u(n, A)) for n in range(1, 13)] + [inject("eth0", u(13, B))] +
          [inject("eth0", u(14, A), delay_ms=1200), inject("eth0", u(15, A))])
