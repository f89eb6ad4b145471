from rxtruth import *

DESCRIPTION = """UDP demux: a datagram to a bound socket is delivered (UdpInDatagrams); an unbound
port is NO_SOCKET with ICMP port unreachable; a bad checksum is UDP_CSUM; a zero checksum
(none) is accepted over IPv4; a UDP length beyond the payload is PKT_TOO_SMALL; a subnet
broadcast to an unbound port is dropped without ICMP (UdpIgnoredMulti); over IPv6 the bound
socket receives, an unbound port answers ICMPv6 port unreachable and a zero checksum is
dropped."""
STAGES = ["udp", "icmp", "ipv6"]

def u4(n, dport, dst=None, dmac=None, **kw):
    return eth("eth0", dst=dmac) / IP(src=host4("eth0", 2 + n % 8), dst=dst or DUT4["eth0"], id=n) / UDP(sport=20000 + n, dport=dport, **kw) / b"payload!"

def u6(n, dport, **kw):
    return eth("eth0") / IPv6(src=host6("eth0", 2 + n % 8), dst=DUT6["eth0"]) / UDP(sport=20000 + n, dport=dport, **kw) / b"payload6"

FRAMES = [
    inject("eth0", u4(1, 5000)),
    inject("eth0", u4(2, 5001)),
    inject("eth0", u4(3, 5000, chksum=0x1234)),
    inject("eth0", u4(4, 5000, chksum=0)),
    inject("eth0", u4(5, 5000, len=40)),
    inject("eth0", u4(6, 5001, dst="192.0.2.255", dmac=BCAST_MAC)),
    inject("eth0", u6(7, 5000)),
    inject("eth0", u6(8, 5001)),
    inject("eth0", u6(9, 5000, chksum=0)),
]
