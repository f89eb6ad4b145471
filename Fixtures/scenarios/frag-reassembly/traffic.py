from rxtruth import *

DESCRIPTION = """IPv4 defragmentation in ip_local_deliver: fragments in order and out of order
are reassembled and delivered (ReasmOKs); a duplicate fragment is DUP_FRAG; overlapping
fragments drop the whole queue (IpExtReasmOverlaps, ReasmFails); a lone first fragment
times out after ipfrag_time=1 s with ICMP fragment reassembly time exceeded. Paced timing:
one frame every 150 ms (capture timestamps are the send slots), so every complete datagram's
fragments arrive well within ipfrag_time and only the lone fragment's queue expires, about 1 s
after it arrived, inside its 1.8 s window."""
TIMING = "paced"
PACE_MS = 150
STAGES = ["ip_rcv", "udp", "icmp"]

def dgram(src, ident, n=64):
    return IP(src=src, dst=DUT4["eth0"], id=ident) / UDP(sport=4000, dport=5000) / (bytes(range(n)))

def frags(src, ident, n=64, size=32):
    return [eth("eth0") / f for f in fragment(dgram(src, ident, n), fragsize=size)]

a = frags(host4("eth0", 2), 101)          # 3 fragments: 0-31, 32-63, 64-71
b = frags(host4("eth0", 3), 102)
c = frags(host4("eth0", 4), 103)
# overlapping: a second fragment that overlaps the first by 8 bytes with different data
ov1 = eth("eth0") / IP(src=host4("eth0", 5), dst=DUT4["eth0"], id=104, flags="MF", frag=0, proto=17) / Raw(bytes(32))
ov2 = eth("eth0") / IP(src=host4("eth0", 5), dst=DUT4["eth0"], id=104, flags=0, frag=3, proto=17) / Raw(b"\x55" * 32)
lone = frags(host4("eth0", 6), 105)[0]

FRAMES = [
    inject("eth0", a[0]), inject("eth0", a[1]), inject("eth0", a[2]),
    inject("eth0", b[2]), inject("eth0", b[0]), inject("eth0", b[1]),
    inject("eth0", c[0]), inject("eth0", c[0]), inject("eth0", c[1]), inject("eth0", c[2]),
    inject("eth0", ov1), inject("eth0", ov2),
    inject("eth0", lone, window_ms=1800),
]
