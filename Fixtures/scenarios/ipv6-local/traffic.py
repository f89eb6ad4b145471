from rxtruth import *

DESCRIPTION = """IPv6 local delivery: an echo request to the global and to the link-local address
is answered; a neighbour solicitation for the DUT's address gets a neighbour advertisement and
one for a foreign target nothing; next header 253 is IP_NOPROTO with ICMPv6 parameter problem;
an unknown hop-by-hop option of type 0xC9 is UNHANDLED_PROTO with parameter problem; a payload
length beyond the frame is PKT_TOO_SMALL; a multicast source is IP_INHDR."""
STAGES = ["ipv6", "icmp"]

LL = "fe80::ff:fe00:10"          # EUI-64 link-local of 02:00:00:00:00:10
SOLICITED = "ff02::1:ff00:1"     # solicited-node multicast of 2001:db8:1::1

def ip6(src, dst=None, **kw):
    return eth("eth0") / IPv6(src=src, dst=dst or DUT6["eth0"], **kw)

def ns(target, src):
    return (eth("eth0", dst="33:33:ff:00:00:01") / IPv6(src=src, dst=SOLICITED, hlim=255) /
            ICMPv6ND_NS(tgt=target) / ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC["eth0"]))

truncated = bytearray(raw(ip6(host6("eth0", 8)) / ICMPv6EchoRequest(id=51, seq=8)))
truncated[14 + 4:14 + 6] = (200).to_bytes(2, "big")

FRAMES = [
    inject("eth0", ip6(host6("eth0", 2)) / ICMPv6EchoRequest(id=51, seq=1)),
    inject("eth0", ip6("fe80::ff:fe00:20", LL) / ICMPv6EchoRequest(id=51, seq=2)),
    inject("eth0", ns(DUT6["eth0"], host6("eth0", 3))),
    inject("eth0", ns("2001:db8:1::99", host6("eth0", 3))),
    inject("eth0", ip6(host6("eth0", 5), nh=253) / b"unknown next header"),
    inject("eth0", ip6(host6("eth0", 6)) / IPv6ExtHdrHopByHop(options=[HBHOptUnknown(otype=0xC9, optdata=b"\0\0\0\0")]) / ICMPv6EchoRequest(id=51, seq=6)),
    inject("eth0", Ether(bytes(truncated))),
    inject("eth0", ip6("ff02::5") / ICMPv6EchoRequest(id=51, seq=9)),
]
