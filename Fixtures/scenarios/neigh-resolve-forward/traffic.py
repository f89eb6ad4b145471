from rxtruth import *

DESCRIPTION = """IPv4 output neighbour resolution on a router (std_router; 198.51.100.50, .51 and .60
on eth1 have no neighbour entry). A datagram forwarded to 198.51.100.50 waits on the new
INCOMPLETE entry while the DUT broadcasts an ARP request; the unicast ARP reply 300 ms later
makes the entry REACHABLE and the queued datagram leaves in that frame's window; the next
datagram is forwarded at once. A datagram to 198.51.100.60, which never answers, waits through
three ARP requests one second apart and is dropped NEIGH_FAILED after 3 s with ICMP host
unreachable to its source (its window is 3.6 s long); one more datagram to .60 finds the entry
FAILED, starts a new resolution and is still queued when the capture ends. An echo request
from 198.51.100.51 is delivered but its echo reply waits for ARP; the ARP request that .51
then sends for the DUT (neigh_event_ns: STALE with its address) releases the echo reply next
to the ARP reply. Paced timing: capture timestamps are the send slots."""
TIMING = "paced"
PACE_MS = 300
STAGES = ["arp", "forward", "icmp"]

def udp(src, dst, ident):
    return eth("eth0") / IP(src=src, dst=dst, id=ident) / UDP(sport=4000 + ident, dport=5000) / b"neigh"

def arp_reply(ip):
    return eth("eth1") / ARP(op=2, hwsrc=PEER_MAC["eth1"], psrc=ip, hwdst=DUT_MAC["eth1"], pdst=DUT4["eth1"])

def arp_request(ip):
    return eth("eth1", dst=BCAST_MAC) / ARP(op=1, hwsrc=PEER_MAC["eth1"], psrc=ip, hwdst="00:00:00:00:00:00", pdst=DUT4["eth1"])

FRAMES = [
    inject("eth0", udp(host4("eth0", 2), "198.51.100.50", 11)),
    inject("eth1", arp_reply("198.51.100.50")),
    inject("eth0", udp(host4("eth0", 2), "198.51.100.50", 13)),
    inject("eth0", udp(host4("eth0", 3), "198.51.100.60", 14), window_ms=3600),
    inject("eth0", udp(host4("eth0", 4), "198.51.100.60", 15), at_ms=4600),
    inject("eth1", eth("eth1") / IP(src="198.51.100.51", dst=DUT4["eth1"], id=16) / ICMP(type=8, id=7, seq=16) / b"neigh"),
    inject("eth1", arp_request("198.51.100.51")),
]
