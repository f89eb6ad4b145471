from rxtruth import *

DESCRIPTION = """Neighbour discovery on a router (forwarding on): a multicast NS for the DUT's address and a
unicast NS are answered with solicited NAs carrying the router flag; an NS with hop limit 254 is
IPV6_NDISC_HOP_LIMIT; an NS from the unspecified address (DAD) is answered with an NA to
all-nodes and freed NOT_SPECIFIED in icmpv6_rcv; an unsolicited NA, a router solicitation (no
radvd) and a router advertisement (ignored when forwarding) are consumed silently; an NS for an
address the DUT does not own is IPV6_NDISC_NS_OTHERHOST."""
STAGES = ["ipv6", "icmp"]

LL = "fe80::ff:fe00:20"
SOL = "ff02::1:ff00:1"
SOL_MAC = "33:33:ff:00:00:01"

def ns(n, src, dst, dmac, target, hlim=255, opt=True):
    p = eth("eth0", dst=dmac) / IPv6(src=src, dst=dst, hlim=hlim) / ICMPv6ND_NS(tgt=target)
    return p / ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC["eth0"]) if opt else p

from scapy.all import ICMPv6ND_RS, ICMPv6ND_RA, ICMPv6NDOptPrefixInfo
FRAMES = [
    inject("eth0", ns(1, host6("eth0", 2), SOL, SOL_MAC, DUT6["eth0"])),
    inject("eth0", ns(2, host6("eth0", 3), DUT6["eth0"], DUT_MAC["eth0"], DUT6["eth0"])),
    inject("eth0", ns(3, host6("eth0", 4), SOL, SOL_MAC, DUT6["eth0"], hlim=254)),
    inject("eth0", ns(4, "::", SOL, SOL_MAC, DUT6["eth0"], opt=False)),
    inject("eth0", eth("eth0", dst="33:33:00:00:00:01") / IPv6(src=host6("eth0", 5), dst="ff02::1", hlim=255) /
           ICMPv6ND_NA(tgt=host6("eth0", 5), R=0, S=0, O=1) / ICMPv6NDOptDstLLAddr(lladdr=PEER_MAC["eth0"])),
    inject("eth0", eth("eth0", dst="33:33:00:00:00:02") / IPv6(src=LL, dst="ff02::2", hlim=255) /
           ICMPv6ND_RS() / ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC["eth0"])),
    inject("eth0", eth("eth0", dst="33:33:00:00:00:01") / IPv6(src=LL, dst="ff02::1", hlim=255) /
           ICMPv6ND_RA(routerlifetime=1800) / ICMPv6NDOptPrefixInfo(prefix="2001:db8:9::", prefixlen=64)),
    inject("eth0", ns(8, host6("eth0", 6), DUT6["eth0"], DUT_MAC["eth0"], "2001:db8:1::99")),
]
