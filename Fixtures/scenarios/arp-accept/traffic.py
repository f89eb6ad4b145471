from rxtruth import *

DESCRIPTION = """Gratuitous ARP and arp_accept: eth0 has arp_accept=1, eth1 arp_accept=0 (all=0).
A gratuitous ARP request (sender = target = 192.0.2.50, unknown to the DUT) on eth0 creates a
neighbour entry, so a following ping from 192.0.2.50 is answered at once; the same on eth1
(198.51.100.50) creates nothing, so the ping's echo reply waits for resolution and the DUT
sends an ARP request for 198.51.100.50 instead. A gratuitous ARP reply on eth0 (192.0.2.51)
creates an entry as well; no ARP frame is answered."""
STAGES = ["arp", "icmp"]

def garp(iface, ip, op=1):
    return eth(iface, dst=BCAST_MAC) / ARP(op=op, hwsrc=PEER_MAC[iface], psrc=ip, hwdst="00:00:00:00:00:00" if op == 1 else BCAST_MAC, pdst=ip)

def ping(iface, src, n):
    return eth(iface) / IP(src=src, dst=DUT4[iface], id=n) / ICMP(type=8, id=300, seq=n) / b"garp"

FRAMES = [
    inject("eth0", garp("eth0", "192.0.2.50")),
    inject("eth0", ping("eth0", "192.0.2.50", 2)),
    inject("eth1", garp("eth1", "198.51.100.50")),
    inject("eth1", ping("eth1", "198.51.100.50", 4)),
    inject("eth0", garp("eth0", "192.0.2.51", op=2)),
    inject("eth0", ping("eth0", "192.0.2.51", 6)),
]
