from rxtruth import *

DESCRIPTION = """Loose reverse-path filtering (rp_filter=2): a source routed out another interface
(203.0.113.9 arriving on eth0) is accepted; only an unroutable source (10.77.0.1) is dropped
as IP_RPFILTER; the peer's own source passes, both to a local address and forwarded."""
STAGES = ["route", "forward"]

def echo(src, dst, ident):
    return eth("eth0") / IP(src=src, dst=dst, id=ident) / ICMP(id=21, seq=ident)

FRAMES = [
    inject("eth0", echo(PEER4["eth0"], DUT4["eth0"], 1)),
    inject("eth0", echo("203.0.113.9", DUT4["eth0"], 2)),
    inject("eth0", echo("10.77.0.1", DUT4["eth0"], 3)),
    inject("eth0", echo("203.0.113.9", REMOTE4, 4)),
    inject("eth0", echo(PEER4["eth0"], REMOTE4, 5)),
]
