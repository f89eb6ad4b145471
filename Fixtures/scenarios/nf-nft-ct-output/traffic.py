from rxtruth import *

DESCRIPTION = """nft variant of nf-ct-output: the host's replies pass the output chain (OUTPUT) and
conntrack sees them in the reply direction. A handshake completes (ESTABLISHED, ASSURED; the
output chain drops ct state invalid, so a misjudged SYN-ACK would be dropped); an echo reply to
192.0.2.3 and a RST to 192.0.2.4 are dropped by output rules (NETFILTER_DROP, IpOutDiscards for
the ICMP and the RST); a SYN to port 8081 is redirected to the listener on 80 and its SYN-ACK
leaves from port 8081 (the reply translated at POSTROUTING). The recorder traces only the
injected packets, so the output chain's visits of the replies are not in the nft trace."""
STAGES = ["conntrack", "netfilter", "nat", "tcp", "icmp"]
WINDOW_MS = 100

p = TcpPeer("eth0", host4("eth0", 2), DUT4["eth0"], 40000, 80)

def syn(n, dport):
    return eth("eth0") / IP(src=host4("eth0", n), dst=DUT4["eth0"], id=n) / TCP(sport=5000 + n, dport=dport, flags="S", seq=1000)

FRAMES = [
    inject("eth0", p.syn()),
    inject("eth0", p.seg("A", seq=1, ack=1)),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 3), dst=DUT4["eth0"], id=11) / ICMP(type=8, id=72, seq=1) / b"ping"),
    inject("eth0", syn(4, 81)),
    inject("eth0", syn(5, 8081)),
]
