from rxtruth import *

DESCRIPTION = """IPv6 hop limit and MTU on a router (eth1 MTU 1280): a datagram to the remote network with hop
limit 1 gets time exceeded and is IP_INHDR in ip6_forward; hop limit 2 is forwarded with 1; hop
limit 0 to the DUT itself is delivered (the hop limit matters only when forwarding); a
1400-byte datagram to the remote network is PKT_TOO_BIG with packet too big (MTU 1280), as
routers never fragment IPv6; a 1280-byte packet fits and is forwarded; a link-local destination
that is not the DUT's (fe80::99) is forwarded back out of eth0 on the same link: the DUT sends
a redirect to the sender and a neighbour solicitation for fe80::99 while the packet waits."""
STAGES = ["ipv6", "forward", "icmp"]

def p(n, dst, hlim=64, size=32):
    return eth("eth0") / IPv6(src=host6("eth0", n), dst=dst, hlim=hlim, fl=n) / UDP(sport=4000 + n, dport=5000) / bytes(size)

FRAMES = [
    inject("eth0", p(2, REMOTE6, hlim=1)),
    inject("eth0", p(3, REMOTE6, hlim=2)),
    inject("eth0", p(4, DUT6["eth0"], hlim=0)),
    inject("eth0", p(5, REMOTE6, size=1400)),
    inject("eth0", p(6, REMOTE6, size=1280 - 48)),
    inject("eth0", eth("eth0") / IPv6(src="fe80::ff:fe00:20", dst="fe80::99", hlim=64, fl=7) / UDP(sport=4007, dport=5000) / b"ll"),
]
