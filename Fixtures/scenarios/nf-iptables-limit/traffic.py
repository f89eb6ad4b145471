from rxtruth import *

DESCRIPTION = """iptables -m limit and -m hashlimit with paced timing (capture timestamps are the
real send slots, 150 ms apart): `--limit 2/second --limit-burst 3` accepts the first three UDP
datagrams to 7000 and the DROP rule after it takes the rest until a token accrues (500 ms);
`hashlimit --hashlimit-mode srcip --hashlimit-above 2/second --hashlimit-burst 2` on 7001 keeps
one bucket per source: two datagrams from each source pass, further ones from the same source
are dropped, and a second source has its own bucket."""
STAGES = ["netfilter", "udp"]
TIMING = "paced"
PACE_MS = 150
WINDOW_MS = 40
QUIET_MS = 20

def u(n, dport, src=2):
    return eth("eth0") / IP(src=host4("eth0", src), dst=DUT4["eth0"], id=n) / UDP(sport=31000, dport=dport) / b"lim"

FRAMES = ([inject("eth0", u(n, 7000)) for n in range(1, 7)] + [inject("eth0", u(7, 7000), delay_ms=900)] +
          [inject("eth0", u(10 + n, 7001)) for n in range(3)] + [inject("eth0", u(20, 7001, src=3)), inject("eth0", u(21, 7001, src=3))])
