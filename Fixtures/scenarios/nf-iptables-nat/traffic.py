from rxtruth import *

DESCRIPTION = """iptables NAT on a router: a SYN to 192.0.2.1:8080 is DNATed to 203.0.113.7:80
(port change) and leaves eth1 masqueraded to 198.51.100.1; the server's SYN-ACK to the
masqueraded address is un-NATed in both directions and forwarded to the client from port 8080;
a UDP datagram from 192.0.2.2 to the remote network is masqueraded and the answer to
198.51.100.1 is forwarded back to 192.0.2.2; a SYN from 192.0.2.3 is SNATed to
198.51.100.9 port 20005 (a single port: a range would pick a port from a per-boot hash) (the first SNAT rule wins over MASQUERADE); a SYN to
port 22 is REDIRECTed to the local listener on 2222 and answered from port 22. conntrack.txt
shows the NAT entries."""
STAGES = ["nat", "conntrack", "netfilter", "forward"]
WINDOW_MS = 60

C = host4("eth0", 2)
FRAMES = [
    inject("eth0", eth("eth0") / IP(src=C, dst=DUT4["eth0"], id=1) / TCP(sport=41000, dport=8080, flags="S", seq=100)),
    inject("eth1", eth("eth1") / IP(src=REMOTE4, dst=DUT4["eth1"], id=2, ttl=60) / TCP(sport=80, dport=41000, flags="SA", seq=700, ack=101)),
    inject("eth0", eth("eth0") / IP(src=C, dst=REMOTE4, id=3) / UDP(sport=42000, dport=53) / b"q"),
    inject("eth1", eth("eth1") / IP(src=REMOTE4, dst=DUT4["eth1"], id=4, ttl=60) / UDP(sport=53, dport=42000) / b"a"),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 3), dst=REMOTE4, id=5) / TCP(sport=43000, dport=443, flags="S", seq=200)),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 4), dst=DUT4["eth0"], id=6) / TCP(sport=44000, dport=22, flags="S", seq=300)),
]
