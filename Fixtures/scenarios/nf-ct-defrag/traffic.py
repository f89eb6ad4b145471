from rxtruth import *

DESCRIPTION = """Conntrack's defragmentation (nf_defrag_ipv4, PRE_ROUTING priority -400): a rule
in INPUT uses conntrack, so the namespace gathers fragments before conntrack and every later
hook. The mangle PREROUTING rule dropping fragments (-f) never matches: it sees only whole
datagrams. A datagram to a local UDP listener, in two fragments, is delivered. A forwarded
datagram in two fragments (sent back to back) is reassembled, passes FORWARD whole and leaves
refragmented to its original fragment sizes; another, to UDP port 5001, is dropped whole by the
FORWARD port rule although its second fragment has no port."""
STAGES = ["conntrack", "netfilter", "ip_rcv", "forward", "udp"]
WINDOW_MS = 100

def frags(dst, dport, ident, n=40, size=32):
    d = IP(src=host4("eth0", 2), dst=dst, id=ident) / UDP(sport=4000, dport=dport) / bytes(range(n))
    return [eth("eth0") / f for f in fragment(d, fragsize=size)]

loc = frags(DUT4["eth0"], 5000, 201)
fwd = frags("203.0.113.7", 5000, 202)
blk = frags("203.0.113.7", 5001, 203)

FRAMES = [
    inject("eth0", loc[0]), inject("eth0", loc[1]),
    inject("eth0", fwd[0], burst="fwd"), inject("eth0", fwd[1], burst="fwd"),
    inject("eth0", blk[0], burst="blk"), inject("eth0", blk[1], burst="blk"),
]
