from rxtruth import *

DESCRIPTION = """Martian addresses with forwarding off: loopback source or destination is
IP_LOCALNET, a zero-network or multicast source IP_INVALID_SOURCE, the DUT's own address as
source IP_LOCAL_SOURCE; a destination in 0/8 or class E that is not local is IP_INADDRERRORS.
Echoes to the subnet broadcast are ignored (icmp_echo_ignore_broadcasts)."""
STAGES = ["ip_rcv", "route"]

def echo(src, dst, ident):
    return eth("eth0") / IP(src=src, dst=dst, id=ident) / ICMP(id=11, seq=ident)

FRAMES = [
    inject("eth0", echo("127.0.0.5", DUT4["eth0"], 1)),
    inject("eth0", echo(PEER4["eth0"], "127.0.0.1", 2)),
    inject("eth0", echo("0.0.0.0", DUT4["eth0"], 3)),
    inject("eth0", echo("224.0.0.5", DUT4["eth0"], 4)),
    inject("eth0", echo(DUT4["eth0"], DUT4["eth0"], 5)),
    inject("eth0", echo(DUT4["eth1"], DUT4["eth0"], 6)),
    inject("eth0", echo(PEER4["eth0"], "0.1.2.3", 7)),
    inject("eth0", echo(PEER4["eth0"], "240.0.0.1", 8)),
    inject("eth0", echo(PEER4["eth0"], "192.0.2.255", 9)),
    inject("eth0", eth("eth0", dst=BCAST_MAC) / IP(src=PEER4["eth0"], dst="255.255.255.255", id=10) / ICMP(id=11, seq=10)),
    inject("eth0", echo(PEER4["eth0"], "198.51.100.2", 11)),
]
