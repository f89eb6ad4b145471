from rxtruth import *

DESCRIPTION = """Link-layer classification: an echo request to the DUT's MAC is answered; the same
frame to another host's MAC is dropped as OTHERHOST; an unknown EtherType is UNHANDLED_PROTO; a
VLAN-tagged frame with no VLAN device is dropped; an echo in an L2 broadcast frame is answered."""
STAGES = ["link", "icmp"]

def echo(dst_mac=None, ident=1):
    return eth("eth0", dst=dst_mac) / IP(src=PEER4["eth0"], dst=DUT4["eth0"], id=ident) / ICMP(id=0x4242, seq=ident) / (b"rxray" * 4)

FRAMES = [
    inject("eth0", echo(ident=1)),
    inject("eth0", echo(dst_mac=OTHER_MAC, ident=2)),
    inject("eth0", eth("eth0", type=0x88B5) / (b"\x00" * 46)),
    inject("eth0", eth("eth0") / Dot1Q(vlan=42) / IP(src=PEER4["eth0"], dst=DUT4["eth0"], id=4) / ICMP(id=0x4242, seq=4)),
    inject("eth0", echo(dst_mac=BCAST_MAC, ident=5)),
    inject("eth0", echo(dst_mac="01:00:5e:00:00:01", ident=6)),
]
