from rxtruth import *

DESCRIPTION = """arp_filter (eth0 on, eth1 off; arp_ignore 0): the DUT answers ARP for any of its
addresses on any interface (weak host model) unless arp_filter is set and the route back to the
sender does not leave by the receiving interface. On eth0 a request for eth1's 198.51.100.1 from
192.0.2.2 is answered (the route to 192.0.2.2 is eth0); a request for 192.0.2.1 from
198.51.100.5 is not (its route is eth1); on eth1, without arp_filter, a request for
198.51.100.1 from 192.0.2.5 is answered."""
STAGES = ["arp"]

def req(iface, psrc, pdst):
    return eth(iface, dst=BCAST_MAC) / ARP(op=1, hwsrc=PEER_MAC[iface], psrc=psrc, pdst=pdst)

FRAMES = [
    inject("eth0", req("eth0", "192.0.2.2", "198.51.100.1")),
    inject("eth0", req("eth0", "198.51.100.5", "192.0.2.1")),
    inject("eth0", req("eth0", "192.0.2.3", "192.0.2.1")),
    inject("eth1", req("eth1", "192.0.2.5", "198.51.100.1")),
]
