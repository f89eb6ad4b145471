from rxtruth import *

DESCRIPTION = """Conntrack's defragmentation with an nft inet table using ct state: both families
gather fragments at PRE_ROUTING priority -400 (nf_defrag_ipv4 and nf_defrag_ipv6), so the inet
chains see whole datagrams. IPv6: local datagrams in fragments are delivered, or dropped whole by
an input port rule; forwarded ones leave eth1 (MTU 1280) in their original fragments, or are
dropped whole by the forward port rule although their later fragments carry no port; 1400-byte
fragments exceed eth1's MTU (packet too big); a duplicate fragment is DUP_FRAG; an overlapping
fragment is NETFILTER_DROP and kills its queue. IPv4: the same delivery and forward drop."""
STAGES = ["conntrack", "netfilter", "ipv6", "ip_rcv", "forward", "udp", "icmp"]
WINDOW_MS = 100


def frags6(src, dst, dport, ident, n, size):
    d = IPv6(src=src, dst=dst) / IPv6ExtHdrFragment(id=ident) / UDP(sport=4000, dport=dport) / bytes(i & 0xFF for i in range(n))
    return [eth("eth0") / f for f in fragment6(d, size)]


def frags4(src, dst, dport, ident, n, size):
    d = IP(src=src, dst=dst, id=ident) / UDP(sport=4000, dport=dport) / bytes(i & 0xFF for i in range(n))
    return [eth("eth0") / f for f in fragment(d, fragsize=size)]


loc = frags6(host6("eth0", 2), DUT6["eth0"], 5000, 501, 200, 160)
inb = frags6(host6("eth0", 2), DUT6["eth0"], 5002, 502, 200, 160)
fwd = frags6(host6("eth0", 3), REMOTE6, 5000, 503, 600, 256)
blk = frags6(host6("eth0", 4), REMOTE6, 5001, 504, 200, 160)
big = frags6(host6("eth0", 5), REMOTE6, 5000, 505, 2400, 1400)
dup = frags6(host6("eth0", 7), DUT6["eth0"], 5000, 506, 200, 160)
ov1 = eth("eth0") / IPv6(src=host6("eth0", 8), dst=DUT6["eth0"]) / IPv6ExtHdrFragment(id=507, nh=17, offset=0, m=1) / Raw(bytes(112))
ov2 = eth("eth0") / IPv6(src=host6("eth0", 8), dst=DUT6["eth0"]) / IPv6ExtHdrFragment(id=507, nh=17, offset=8, m=0) / Raw(b"\x55" * 64)
loc4 = frags4(host4("eth0", 2), DUT4["eth0"], 5000, 508, 200, 96)
blk4 = frags4(host4("eth0", 3), REMOTE4, 5001, 509, 200, 96)

# Fragments of a datagram that is forwarded or dropped are sent as one burst: the recorder
# observes a held fragment's fate only in the window where its datagram settles.
FRAMES = [
    inject("eth0", loc[0]), inject("eth0", loc[1]),
    inject("eth0", inb[0], burst="inb"), inject("eth0", inb[1], burst="inb"),
    inject("eth0", fwd[0], burst="fwd"), inject("eth0", fwd[1], burst="fwd"), inject("eth0", fwd[2], burst="fwd"),
    inject("eth0", blk[0], burst="blk"), inject("eth0", blk[1], burst="blk"),
    inject("eth0", big[0], burst="big"), inject("eth0", big[1], burst="big"),
    inject("eth0", dup[0]), inject("eth0", dup[0]), inject("eth0", dup[1]),
    inject("eth0", ov1, burst="ov"), inject("eth0", ov2, burst="ov"),
    inject("eth0", loc4[0]), inject("eth0", loc4[1]), inject("eth0", loc4[2]),
    inject("eth0", blk4[0], burst="blk4"), inject("eth0", blk4[1], burst="blk4"), inject("eth0", blk4[2], burst="blk4"),
]
