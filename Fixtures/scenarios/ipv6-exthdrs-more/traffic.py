from rxtruth import *

DESCRIPTION = """More IPv6 extension-header cases on local delivery (seg6_enabled off): a hop-by-hop header that
is not first (after a destination-options header) and an unknown next header (253) are each
IP_NOPROTO with a parameter problem (unrecognised next header) pointing at the field; a segment
routing header (type 4) is discarded silently whether segments left is 0 or 1
(NOT_SPECIFIED@ipv6_rthdr_rcv); a type 2 routing header and an unknown type 200, both with
segments left 0, are skipped and the UDP datagram delivered; a no-next-header (59) packet is
freed NOT_SPECIFIED at dst_discard_out without a reply; a first fragment with M=1 whose length
is not a multiple of 8 gets parameter problem (erroneous header field, pointer 4) and is
dropped."""
STAGES = ["ipv6", "udp", "icmp"]

def base(n, nh=None):
    kw = {} if nh is None else {"nh": nh}
    return eth("eth0") / IPv6(src=host6("eth0", n), dst=DUT6["eth0"], **kw)

def u(payload=b"ext"):
    return UDP(sport=4000, dport=5000) / payload

FRAMES = [
    inject("eth0", base(2) / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\0\0\0\0")]) /
           IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0\0\0\0")]) / u()),
    inject("eth0", base(3, nh=253) / Raw(b"\x11\x00" + bytes(14))),
    inject("eth0", base(4) / IPv6ExtHdrRouting(type=4, segleft=0, addresses=["2001:db8:1::1"]) / u()),
    inject("eth0", base(5) / IPv6ExtHdrRouting(type=2, segleft=0, addresses=["2001:db8:1::1"]) / u()),
    inject("eth0", base(6) / IPv6ExtHdrRouting(type=4, segleft=1, addresses=["2001:db8:1::1", "2001:db8:1::9"]) / u()),
    inject("eth0", base(7, nh=59) / Raw(b"ignored payload")),
    inject("eth0", base(8) / IPv6ExtHdrFragment(id=7, offset=0, m=1, nh=17) / Raw(bytes(13))),
    inject("eth0", base(9) / IPv6ExtHdrRouting(type=200, segleft=0, addresses=["2001:db8:1::1"]) / u()),
]
