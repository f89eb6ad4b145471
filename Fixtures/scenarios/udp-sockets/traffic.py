from rxtruth import *

DESCRIPTION = """UDP socket lookup: a socket bound to 192.0.2.1:5001 receives datagrams to that address; the
same port on eth1's address has no socket (NO_SOCKET, port unreachable); a socket connected to
192.0.2.2:7000 receives only from that peer (another source port or host is NO_SOCKET with
port unreachable); a SO_REUSEPORT group of two on 5003 receives; an IPv6-only wildcard socket on
5004 receives IPv6 but not IPv4 (port unreachable); a socket that joined 239.1.2.3 receives a
multicast datagram, while a group nobody joined is dropped by input routing
(NOT_SPECIFIED@ip_rcv_finish_core); broadcasts (255.255.255.255 and 192.0.2.255) to a bound
wildcard port are delivered, and to an unbound port freed without ICMP
(NOT_SPECIFIED@__udp4_lib_rcv)."""
STAGES = ["udp", "icmp", "ipv6"]

def u4(n, dport, dst=None, src=None, sport=None, dmac=None):
    return (eth("eth0", dst=dmac) / IP(src=src or host4("eth0", 2 + n % 8), dst=dst or DUT4["eth0"], id=n) /
            UDP(sport=sport or 20000 + n, dport=dport) / b"sockets!")

MC_MAC = "01:00:5e:01:02:03"
FRAMES = [
    inject("eth0", u4(1, 5001)),
    inject("eth1", eth("eth1") / IP(src=host4("eth1", 3), dst=DUT4["eth1"], id=2) / UDP(sport=20002, dport=5001) / b"sockets!"),
    inject("eth0", u4(3, 5002, src=host4("eth0", 2), sport=7000)),
    inject("eth0", u4(4, 5002, src=host4("eth0", 2), sport=7001)),
    inject("eth0", u4(5, 5002, src=host4("eth0", 3), sport=7000)),
    inject("eth0", u4(6, 5003)),
    inject("eth0", u4(7, 5004)),
    inject("eth0", eth("eth0") / IPv6(src=host6("eth0", 8), dst=DUT6["eth0"]) / UDP(sport=20008, dport=5004) / b"sockets!"),
    inject("eth0", u4(9, 5005, dst="239.1.2.3", dmac=MC_MAC)),
    inject("eth0", u4(10, 5005, dst="239.1.2.4", dmac="01:00:5e:01:02:04")),
    inject("eth0", u4(11, 5006, dst="255.255.255.255", dmac=BCAST_MAC)),
    inject("eth0", u4(12, 5006, dst="192.0.2.255", dmac=BCAST_MAC)),
    inject("eth0", u4(13, 5007, dst="255.255.255.255", dmac=BCAST_MAC)),
]
