from rxtruth import *

DESCRIPTION = """ARP with arp_ignore=0: a request for the DUT's eth0 address is answered; a
request for a non-local address gets nothing; a request arriving on eth0 for the eth1 address
is answered too (the address belongs to the host); a request in a unicast frame is answered;
a gratuitous ARP and an unsolicited reply are consumed silently."""
STAGES = ["arp"]

def arp(op, psrc, pdst, hwdst="00:00:00:00:00:00", dst=BCAST_MAC, iface="eth0"):
    return eth(iface, dst=dst, type=0x0806) / ARP(op=op, hwsrc=PEER_MAC[iface], psrc=psrc, hwdst=hwdst, pdst=pdst)

FRAMES = [
    inject("eth0", arp(1, host4("eth0", 3), DUT4["eth0"])),
    inject("eth0", arp(1, host4("eth0", 3), "192.0.2.77")),
    inject("eth0", arp(1, host4("eth0", 3), DUT4["eth1"])),
    inject("eth0", arp(1, host4("eth0", 4), DUT4["eth0"], dst=DUT_MAC["eth0"])),
    inject("eth0", arp(1, "192.0.2.50", "192.0.2.50")),
    inject("eth0", arp(2, "192.0.2.51", DUT4["eth0"], hwdst=DUT_MAC["eth0"], dst=DUT_MAC["eth0"])),
]
