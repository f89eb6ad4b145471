from rxtruth import *

DESCRIPTION = """The ICMP time exceeded (fragment reassembly) that an expiring reassembly queue sends
is a locally generated packet: it passes LOCAL_OUT, where a rule may drop it. No rule uses
conntrack, so fragments are reassembled by ip_local_deliver / ipv6_frag_rcv (ipfrag_time and
ip6frag_time 1 s). A lone first fragment from .2 (::2) times out and its ICMP is dropped by the
OUTPUT rule for that destination (NETFILTER_DROP, freed before the fragment itself:
FRAG_REASM_TIMEOUT); one from .3 (::3) times out and its ICMP leaves. Paced timing: one frame
every 2 s (at_ms), so that each queue expires, about 1 s after its fragment, in its own window."""
TIMING = "paced"
PACE_MS = 150
STAGES = ["ip_rcv", "ipv6", "netfilter", "icmp"]


def first4(src, ident):
    d = IP(src=src, dst=DUT4["eth0"], id=ident) / UDP(sport=4000, dport=5000) / bytes(range(64))
    return eth("eth0") / fragment(d, fragsize=32)[0]


def first6(src, ident):
    d = IPv6(src=src, dst=DUT6["eth0"]) / IPv6ExtHdrFragment(id=ident) / UDP(sport=4000, dport=5000) / bytes(range(200))
    return eth("eth0") / fragment6(d, 160)[0]


FRAMES = [
    inject("eth0", first4(host4("eth0", 2), 701), at_ms=0, window_ms=1800),
    inject("eth0", first4(host4("eth0", 3), 702), at_ms=2000, window_ms=1800),
    inject("eth0", first6(host6("eth0", 2), 703), at_ms=4000, window_ms=1800),
    inject("eth0", first6(host6("eth0", 3), 704), at_ms=6000, window_ms=1800),
]
