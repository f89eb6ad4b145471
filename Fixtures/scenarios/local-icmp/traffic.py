from rxtruth import *

DESCRIPTION = """Local ICMP and protocol demux: an echo request is answered; an echo with a bad
ICMP checksum is dropped (ICMP_CSUM); an ICMP timestamp request is answered (counted, oddly,
as IcmpOutEchoReps / IcmpMsgOutType0); an unknown ICMP type is consumed; IP protocol 253 has no
handler (IP_NOPROTO) and is answered with ICMP protocol unreachable; an echo reply with no ping
socket is NO_SOCKET."""
STAGES = ["icmp", "ip_rcv"]

def ip(src, ident, proto=None):
    kw = {"proto": proto} if proto is not None else {}
    return eth("eth0") / IP(src=src, dst=DUT4["eth0"], id=ident, **kw)

FRAMES = [
    inject("eth0", ip(host4("eth0", 2), 1) / ICMP(id=31, seq=1) / b"ping"),
    inject("eth0", ip(host4("eth0", 3), 2) / ICMP(id=31, seq=2, chksum=0x1234) / b"ping"),
    inject("eth0", ip(host4("eth0", 4), 3) / ICMP(type=13, id=31, seq=3, ts_ori=0, ts_rx=0, ts_tx=0)),
    inject("eth0", ip(host4("eth0", 5), 4) / ICMP(type=42, code=0) / b"xxxx"),
    inject("eth0", ip(host4("eth0", 6), 5, proto=253) / b"unknown protocol payload"),
    inject("eth0", ip(host4("eth0", 7), 6) / ICMP(type=0, id=31, seq=6) / b"pong"),
]
