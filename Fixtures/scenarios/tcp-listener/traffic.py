from rxtruth import *

DESCRIPTION = """TCP demux without netfilter: a SYN to a closed port gets RST+ACK (NO_SOCKET); an
ACK to a closed port gets a RST; a RST to a closed port is dropped silently; a bad checksum is
TCP_CSUM; a data offset of 3 is PKT_TOO_SMALL; at the listener a bare ACK gets a RST, SYN+FIN
and a flagless segment are TCP_FLAGS, a RST is TCP_RESET; a SYN gets a SYN-ACK (sent last, so
the SYN-ACK retransmission 1 s later falls outside the recording)."""
STAGES = ["tcp"]

def seg(n, dport, flags, seq=1000, ack=0, **kw):
    return eth("eth0") / IP(src=host4("eth0", 2 + n % 8), dst=DUT4["eth0"], id=n) / TCP(sport=30000 + n, dport=dport, flags=flags, seq=seq, ack=ack, **kw)

doff3 = bytearray(raw(seg(6, 80, "S")))
doff3[14 + 20 + 12] = 0x30
l4 = bytes(doff3[14 + 20:])
doff3[14 + 20 + 16:14 + 20 + 18] = b"\0\0"
pseudo = bytes(doff3[14 + 12:14 + 20]) + bytes([0, 6]) + len(l4).to_bytes(2, "big")
doff3[14 + 20 + 16:14 + 20 + 18] = csum(pseudo + bytes(doff3[14 + 20:])).to_bytes(2, "big")

FRAMES = [
    inject("eth0", seg(1, 81, "S")),
    inject("eth0", seg(2, 81, "A", ack=5000)),
    inject("eth0", seg(3, 81, "R")),
    inject("eth0", seg(4, 80, "S", chksum=0xBEEF)),
    inject("eth0", Ether(bytes(doff3))),
    inject("eth0", seg(7, 80, "A", ack=5000)),
    inject("eth0", seg(8, 80, "SF")),
    inject("eth0", seg(9, 80, "")),
    inject("eth0", seg(10, 80, "R")),
    inject("eth0", seg(11, 80, "S", options=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)])),
]
