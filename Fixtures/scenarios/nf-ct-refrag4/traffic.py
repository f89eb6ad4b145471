from rxtruth import *

DESCRIPTION = """IPv4 datagrams reassembled by conntrack's defragmentation (nf_defrag_ipv4) and
forwarded to eth1 (MTU 576) are fragmented again by ip_fragment with frag_max_size, the largest
fragment received. Fragments of 420 bytes make a 628-byte datagram that leaves in the original
420 + 228 geometry (IpFragOKs 1, IpFragCreates 2); fragments of 820 bytes (larger than the MTU)
are cut to the MTU (552 + 552 + 104 data bytes). DF on the fragments changes nothing on this
kernel (6.18): a datagram whose fragments all had DF, over the MTU or under it, is forwarded
and leaves in its original fragments (without DF), as does one whose only DF fragment is the
small last one."""
STAGES = ["conntrack", "ip_rcv", "forward", "icmp"]
WINDOW_MS = 100


def frags(src, dport, ident, n, size, df=False, last_df=None):
    d = IP(src=src, dst=REMOTE4, id=ident, flags="DF" if df else 0) / UDP(sport=4000, dport=dport) / bytes(i & 0xFF for i in range(n))
    out = fragment(d, fragsize=size)
    for f in out:
        f.flags = (f.flags | 2) if df else f.flags
    if last_df is not None:
        out[-1].flags = out[-1].flags | 2
    res = []
    for f in out:
        del f.chksum
        res.append(eth("eth0") / IP(bytes(f)))
    return res


plain = frags(host4("eth0", 2), 5000, 401, 600, 400)            # 420 + 228, no DF
dfbig = frags(host4("eth0", 3), 5000, 402, 600, 400, df=True)   # 420 + 228, DF, datagram 628 > 576
dfsmall = frags(host4("eth0", 4), 5000, 403, 100, 64, df=True)  # 84 + 64 (or so), DF, datagram 128
large = frags(host4("eth0", 5), 5000, 404, 1200, 800)           # 820 + 428, no DF
mixed = frags(host4("eth0", 6), 5000, 405, 600, 400, last_df=True)  # only the small last has DF

# Each datagram's fragments are one burst: the recorder observes a held fragment's fate only
# in the window where its datagram settles.
FRAMES = [
    inject("eth0", plain[0], burst="plain"), inject("eth0", plain[1], burst="plain"),
    inject("eth0", dfbig[0], burst="dfbig"), inject("eth0", dfbig[1], burst="dfbig"),
    inject("eth0", dfsmall[0], burst="dfsmall"), inject("eth0", dfsmall[1], burst="dfsmall"),
    inject("eth0", large[0], burst="large"), inject("eth0", large[1], burst="large"),
    inject("eth0", mixed[0], burst="mixed"), inject("eth0", mixed[1], burst="mixed"),
]
