from rxtruth import *

DESCRIPTION = """Bytes after the IP total length (Ethernet padding of a short frame, or trailing
junk) are trimmed by ip_rcv_core and the datagram is delivered normally: a minimum-size echo
padded to 60 bytes with non-zero filler, and a UDP datagram followed by 20 junk bytes."""
STAGES = ["link", "ip_rcv", "icmp", "udp"]

echo = eth("eth0") / IP(src=PEER4["eth0"], dst=DUT4["eth0"], id=1) / ICMP(id=9, seq=1)
udp = eth("eth0") / IP(src=PEER4["eth0"], dst=DUT4["eth0"], id=2) / UDP(sport=4000, dport=5000) / b"hello"

FRAMES = [
    inject("eth0", Ether(raw(echo) + b"\xaa" * (60 - len(raw(echo))))),
    inject("eth0", Ether(raw(udp) + b"\xbb" * 20)),
]
