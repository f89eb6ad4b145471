from rxtruth import *

DESCRIPTION = """Conntrack's IPv6 defragmentation queues time out after nf_conntrack_frag6_timeout
(60 s, the default; not ip6frag_time): a burst of three lone fragments, the first fragment of a
datagram to this host, the first fragment of one to be forwarded and the last fragment of
another, is held, and after 60 s every queue expires (FRAG_REASM_TIMEOUT from
nf_ct_frag6_expire, Ip6ReasmFails and Ip6ReasmTimeout each). The two queues that had their first
fragment answer with ICMPv6 time exceeded (fragment reassembly), the forwarded datagram's too
(ip6frag_expire_frag_queue does not look at the destination); the third stays silent. The
observation window is 66 s: a 60 s kernel timer may fire a few seconds late (timer wheel
granularity)."""
STAGES = ["conntrack", "ipv6", "icmp"]
WINDOW_MS = 100


def frags6(src, dst, dport, ident, n, size):
    d = IPv6(src=src, dst=dst) / IPv6ExtHdrFragment(id=ident) / UDP(sport=4000, dport=dport) / bytes(i & 0xFF for i in range(n))
    return [eth("eth0") / f for f in fragment6(d, size)]


lone_loc = frags6(host6("eth0", 9), DUT6["eth0"], 5000, 601, 200, 160)[0]
lone_fwd = frags6(host6("eth0", 2), REMOTE6, 5000, 602, 200, 160)[0]
lone_last = frags6(host6("eth0", 3), DUT6["eth0"], 5000, 603, 200, 160)[1]

FRAMES = [
    inject("eth0", lone_loc, burst="lone", window_ms=66000),
    inject("eth0", lone_fwd, burst="lone", window_ms=66000),
    inject("eth0", lone_last, burst="lone", window_ms=66000),
]
