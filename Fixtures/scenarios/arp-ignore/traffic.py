from rxtruth import *

DESCRIPTION = """ARP with arp_ignore=1: a request for the eth0 address on eth0 is answered, but a
request arriving on eth0 for the eth1 address is not (the target must be configured on the
receiving interface); non-local targets, gratuitous ARP and unsolicited replies get nothing."""
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
