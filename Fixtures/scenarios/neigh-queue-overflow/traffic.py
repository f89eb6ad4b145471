from rxtruth import *

DESCRIPTION = """The queue of an unresolved neighbour overflows (unres_qlen_bytes=1 on eth1: room for
one packet whatever its size). A datagram forwarded to 198.51.100.50 (no neighbour entry) waits
on the new INCOMPLETE entry and the DUT sends an ARP request; a second datagram to the same next
hop takes its place: the first is freed NEIGH_QUEUEFULL (in the second frame's window) and no
new ARP request is sent; the ARP reply then releases only the second. The same for IPv6 with
2001:db8:2::50 and a neighbour advertisement. Paced timing: capture timestamps are the send
slots."""
TIMING = "paced"
PACE_MS = 300
STAGES = ["arp", "forward"]

def udp(dst, ident):
    return eth("eth0") / IP(src=host4("eth0", 2), dst=dst, id=ident) / UDP(sport=4000 + ident, dport=5000) / b"queue"

def udp6(dst, fl):
    return eth("eth0") / IPv6(src=host6("eth0", 2), dst=dst, fl=fl, hlim=64) / UDP(sport=4000 + fl, dport=5000) / b"queue"

FRAMES = [
    inject("eth0", udp("198.51.100.50", 11)),
    inject("eth0", udp("198.51.100.50", 12)),
    inject("eth1", eth("eth1") / ARP(op=2, hwsrc=PEER_MAC["eth1"], psrc="198.51.100.50", hwdst=DUT_MAC["eth1"], pdst=DUT4["eth1"])),
    inject("eth0", udp6("2001:db8:2::50", 14)),
    inject("eth0", udp6("2001:db8:2::50", 15)),
    inject("eth1", eth("eth1") / IPv6(src="2001:db8:2::50", dst=DUT6["eth1"], hlim=255) /
           ICMPv6ND_NA(tgt="2001:db8:2::50", R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=PEER_MAC["eth1"])),
]
