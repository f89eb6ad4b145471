from rxtruth import *

DESCRIPTION = """Malformed IPv4 headers are dropped in ip_rcv_core before netfilter: a version
nibble of 6 or an IHL of 4 is IP_INHDR, a wrong header checksum IP_CSUM, a total length beyond
the frame PKT_TOO_SMALL, a total length shorter than the header IP_INHDR; a valid echo is
answered for comparison."""
STAGES = ["ip_rcv", "icmp"]

def ip_bytes(ident, **kw):
    return bytearray(raw(IP(src=PEER4["eth0"], dst=DUT4["eth0"], id=ident, **kw) / ICMP(id=7, seq=ident) / (b"x" * 16)))

def fix_csum(b):
    b[10:12] = b"\0\0"
    c = csum(bytes(b[:20]))
    b[10:12] = c.to_bytes(2, "big")
    return bytes(b)

def frame(b):
    return eth("eth0", type=0x0800) / Raw(bytes(b))

v6 = ip_bytes(2); v6[0] = 0x65; v6 = fix_csum(v6)
ihl4 = ip_bytes(3); ihl4[0] = 0x44; ihl4 = fix_csum(ihl4)
badsum = ip_bytes(4); badsum[10:12] = b"\x12\x34"
long_len = ip_bytes(5); long_len[2:4] = (200).to_bytes(2, "big"); long_len = fix_csum(long_len)
short_len = ip_bytes(6); short_len[2:4] = (16).to_bytes(2, "big"); short_len = fix_csum(short_len)

FRAMES = [
    inject("eth0", frame(ip_bytes(1))),
    inject("eth0", frame(v6)),
    inject("eth0", frame(ihl4)),
    inject("eth0", frame(badsum)),
    inject("eth0", frame(long_len)),
    inject("eth0", frame(short_len)),
]
