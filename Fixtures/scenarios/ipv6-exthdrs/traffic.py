from rxtruth import *

DESCRIPTION = """IPv6 extension headers on local delivery: hop-by-hop with PadN and a
destination-options header are skipped and the UDP datagram delivered; a type 0 routing header
with segments left is refused with parameter problem; an atomic fragment (offset 0, M=0) and
three real fragments are reassembled and delivered. Unknown destination options act by their
top two bits: 0x1E (00) is skipped and the datagram delivered, 0x42 (01) is discarded silently,
0x82 (10) and 0xC2 (11, unicast destination) are discarded with ICMPv6 parameter problem."""
STAGES = ["ipv6", "udp", "icmp"]

def base(src):
    return eth("eth0") / IPv6(src=src, dst=DUT6["eth0"])

def u(payload=b"ext"):
    return UDP(sport=4000, dport=5000) / payload

d = IPv6(src=host6("eth0", 6), dst=DUT6["eth0"]) / IPv6ExtHdrFragment(id=0x1234) / u(bytes(range(64)))
f = [eth("eth0") / p for p in fragment6(d, 80)]

FRAMES = [
    inject("eth0", base(host6("eth0", 2)) / IPv6ExtHdrHopByHop(options=[PadN(optdata=b"\0\0\0\0")]) / u()),
    inject("eth0", base(host6("eth0", 3)) / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x1E, optdata=b"\0\0\0\0")]) / u()),
    inject("eth0", base(host6("eth0", 8)) / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x42, optdata=b"\0\0\0\0")]) / u()),
    inject("eth0", base(host6("eth0", 9)) / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0x82, optdata=b"\0\0\0\0")]) / u()),
    inject("eth0", base(host6("eth0", 4)) / IPv6ExtHdrDestOpt(options=[HBHOptUnknown(otype=0xc2, optdata=b"\0\0\0\0")]) / u()),
    inject("eth0", base(host6("eth0", 5)) / IPv6ExtHdrRouting(type=0, segleft=1, addresses=["2001:db8:1::2"]) / u()),
    inject("eth0", base(host6("eth0", 7)) / IPv6ExtHdrFragment(id=0x99, offset=0, m=0) / u()),
] + [inject("eth0", p) for p in f]
