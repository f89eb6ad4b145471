from rxtruth import *

DESCRIPTION = """A small router (LAN eth0 192.0.2.1/24, WAN eth1 198.51.100.1/24, forwarding on,
a route to 203.0.113.0/24 via the WAN peer), with an SSH-like listener on TCP 22, a DNS-like
UDP socket on 53 and an iptables INPUT filter (SSH from the WAN dropped, telnet dropped, SNMP
rejected with admin-prohibited). The capture is a mix a newcomer recognises: ARP who-has
answered and ignored, pings answered on both sides and over IPv6, neighbour solicitation, a SYN
to the listener (SYN-ACK, the last frame), to a closed port (RST) and to a filtered port (dropped), a stray ACK
(RST), UDP to the bound socket (delivered), to an unbound port (port unreachable) and to the
filtered port (rejected), forwarded UDP and TCP to the remote network, a TTL-1 packet (time
exceeded), a destination with no route (network unreachable), a martian source (127.0.0.1)
and a frame for another MAC (dropped), and bad IP and UDP checksums (dropped)."""
STAGES = ["link", "ip_rcv", "route", "forward", "icmp", "arp", "ipv6", "netfilter", "tcp", "udp"]

L = lambda n: host4("eth0", n)

def ip(n, src, dst, **kw):
    return IP(src=src, dst=dst, id=n, **kw)

FRAMES = [
    inject("eth0", eth("eth0", dst=BCAST_MAC) / ARP(op=1, hwsrc=PEER_MAC["eth0"], psrc=L(2), pdst=DUT4["eth0"])),
    inject("eth0", eth("eth0") / ip(2, L(2), DUT4["eth0"]) / ICMP(type=8, id=1, seq=1) / b"hello rxray"),
    inject("eth0", eth("eth0") / ip(4, L(2), DUT4["eth0"]) / TCP(sport=50002, dport=8080, flags="S", seq=2000)),
    inject("eth0", eth("eth0") / ip(5, L(3), DUT4["eth0"]) / TCP(sport=50003, dport=23, flags="S", seq=3000)),
    inject("eth0", eth("eth0") / ip(6, L(3), DUT4["eth0"]) / TCP(sport=50004, dport=22, flags="A", seq=4000, ack=99)),
    inject("eth0", eth("eth0") / ip(7, L(2), DUT4["eth0"]) / UDP(sport=40000, dport=53) / b"\x12\x34query"),
    inject("eth0", eth("eth0") / ip(8, L(4), DUT4["eth0"]) / UDP(sport=40001, dport=5353) / b"nobody"),
    inject("eth0", eth("eth0") / ip(9, L(5), DUT4["eth0"]) / UDP(sport=40002, dport=161) / b"public"),
    inject("eth0", eth("eth0") / ip(10, L(2), REMOTE4) / UDP(sport=40003, dport=53) / b"\x56\x78query"),
    inject("eth0", eth("eth0") / ip(11, L(3), REMOTE4) / TCP(sport=50005, dport=443, flags="S", seq=5000)),
    inject("eth0", eth("eth0") / ip(12, L(6), REMOTE4, ttl=1) / UDP(sport=33434, dport=33435) / b"traceroute"),
    inject("eth0", eth("eth0") / ip(13, L(7), "10.9.9.9") / UDP(sport=40004, dport=53) / b"lost"),
    inject("eth0", eth("eth0") / ip(14, "127.0.0.1", DUT4["eth0"]) / UDP(sport=40005, dport=53) / b"martian"),
    inject("eth0", eth("eth0", dst=OTHER_MAC) / ip(15, L(2), DUT4["eth0"]) / ICMP(type=8, id=1, seq=2)),
    inject("eth0", eth("eth0") / ip(16, L(2), DUT4["eth0"], chksum=0x1234) / ICMP(type=8, id=1, seq=3)),
    inject("eth0", eth("eth0") / ip(17, L(2), DUT4["eth0"]) / UDP(sport=40006, dport=53, chksum=0x4321) / b"corrupt"),
    inject("eth0", eth("eth0", dst=BCAST_MAC) / ARP(op=1, hwsrc=PEER_MAC["eth0"], psrc=L(2), pdst="192.0.2.77")),
    inject("eth1", eth("eth1") / ip(19, host4("eth1", 2), DUT4["eth1"]) / ICMP(type=8, id=2, seq=1) / b"from the wan"),
    inject("eth1", eth("eth1") / ip(20, host4("eth1", 3), DUT4["eth1"]) / TCP(sport=50006, dport=22, flags="S", seq=6000)),
    inject("eth1", eth("eth1") / ip(21, REMOTE4, L(2), ttl=60) / UDP(sport=53, dport=40003) / b"\x56\x78answer"),
    inject("eth0", eth("eth0", dst="33:33:ff:00:00:01") / IPv6(src=host6("eth0", 2), dst="ff02::1:ff00:1", hlim=255) /
           ICMPv6ND_NS(tgt=DUT6["eth0"]) / ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC["eth0"])),
    inject("eth0", eth("eth0") / IPv6(src=host6("eth0", 2), dst=DUT6["eth0"]) / ICMPv6EchoRequest(id=3, seq=1, data=b"hello v6")),
    inject("eth0", eth("eth0") / IPv6(src=host6("eth0", 3), dst=REMOTE6, fl=24) / UDP(sport=40007, dport=53) / b"v6 query"),
    # last: the SYN-ACK it provokes is retransmitted after 1 s, which must not land in another frame's window
    inject("eth0", eth("eth0") / ip(3, L(2), DUT4["eth0"]) / TCP(sport=50001, dport=22, flags="S", seq=1000,
                                                              options=[("MSS", 1460)])),
]
