from rxtruth import *

DESCRIPTION = """Conntrack's IPv6 defragmentation (nf_defrag_ipv6, PRE_ROUTING priority -400): an
ip6tables rule uses conntrack, so fragments are gathered before conntrack and every later hook,
and the datagram goes on without its fragment header (no Ip6Reasm counters: nf_ct_frag6_gather
keeps none). Local datagrams in two fragments are delivered; one whose port INPUT drops is
dropped whole. Forwarded datagrams leave eth1 (MTU 1280) refragmented to their original
fragment sizes (Ip6FragOKs, Ip6FragCreates); the FORWARD port rule drops a whole datagram
although its later fragments carry no port; fragments of 1400 bytes exceed eth1's MTU
(frag_max_size) and get packet too big in ip6_forward, while a 2000-byte datagram that came in
1000-byte fragments is forwarded. A duplicate fragment is freed and its datagram still
delivered; an overlapping fragment kills its queue (NETFILTER_DROP for the frame that
overlaps). Queues that time out: nf-ct-defrag6-timeout."""
STAGES = ["conntrack", "netfilter", "ipv6", "forward", "udp", "icmp"]
WINDOW_MS = 100


def frags6(src, dst, dport, ident, n, size):
    d = IPv6(src=src, dst=dst) / IPv6ExtHdrFragment(id=ident) / UDP(sport=4000, dport=dport) / bytes(i & 0xFF for i in range(n))
    return [eth("eth0") / f for f in fragment6(d, size)]


loc = frags6(host6("eth0", 2), DUT6["eth0"], 5000, 301, 200, 160)      # 160 + 144
fwd = frags6(host6("eth0", 3), REMOTE6, 5000, 302, 600, 256)           # 256 + 256 + 240
blk = frags6(host6("eth0", 4), REMOTE6, 5001, 303, 200, 160)
big = frags6(host6("eth0", 5), REMOTE6, 5000, 304, 2400, 1400)         # 1400 + 1104
mid = frags6(host6("eth0", 6), REMOTE6, 5000, 305, 2000, 1000)         # 1000 + 1000 + 152
dup = frags6(host6("eth0", 7), DUT6["eth0"], 5000, 306, 200, 160)
inb = frags6(host6("eth0", 7), DUT6["eth0"], 5002, 307, 200, 160)
# Overlap: a first fragment of 112 data bytes, then a last fragment starting at byte 64.
ov1 = eth("eth0") / IPv6(src=host6("eth0", 8), dst=DUT6["eth0"]) / IPv6ExtHdrFragment(id=308, nh=17, offset=0, m=1) / Raw(bytes(112))
ov2 = eth("eth0") / IPv6(src=host6("eth0", 8), dst=DUT6["eth0"]) / IPv6ExtHdrFragment(id=308, nh=17, offset=8, m=0) / Raw(b"\x55" * 64)

# Fragments of a datagram that is forwarded or dropped are sent as one burst: the recorder
# observes a held fragment's fate only in the window where its datagram settles.
FRAMES = [
    inject("eth0", loc[0]), inject("eth0", loc[1]),
    inject("eth0", fwd[0], burst="fwd"), inject("eth0", fwd[1], burst="fwd"), inject("eth0", fwd[2], burst="fwd"),
    inject("eth0", blk[0], burst="blk"), inject("eth0", blk[1], burst="blk"),
    inject("eth0", big[0], burst="big"), inject("eth0", big[1], burst="big"),
    inject("eth0", mid[0], burst="mid"), inject("eth0", mid[1], burst="mid"), inject("eth0", mid[2], burst="mid"),
    inject("eth0", dup[0]), inject("eth0", dup[0]), inject("eth0", dup[1]),
    inject("eth0", inb[0], burst="inb"), inject("eth0", inb[1], burst="inb"),
    inject("eth0", ov1, burst="ov"), inject("eth0", ov2, burst="ov"),
]
