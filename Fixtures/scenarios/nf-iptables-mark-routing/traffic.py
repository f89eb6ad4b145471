from rxtruth import *

DESCRIPTION = """The iptables counterpart of nf-mark-routing: a mangle PREROUTING mark selects the
routing table. UDP to port 1111 (MARK --set-mark 1) is blackholed by table 100; port 2222
(--set-xmark 2) is routed to 10.80.0.0/16 via eth1 by table 200; port 4444 sets the connection
mark 2 and restores it to the packet mark (CONNMARK), so it is routed by table 200 too;
unmarked traffic to the remote network is forwarded by main, and to 10.80.0.1 has no route."""
STAGES = ["netfilter", "route", "forward"]

def udp(n, dst, dport):
    return eth("eth0") / IP(src=host4("eth0", 2 + n), dst=dst, id=n) / UDP(sport=4000, dport=dport) / b"mark"

FRAMES = [
    inject("eth0", udp(1, REMOTE4, 1111)),
    inject("eth0", udp(2, "10.80.0.1", 2222)),
    inject("eth0", udp(3, "10.80.0.1", 4444)),
    inject("eth0", udp(4, REMOTE4, 3333)),
    inject("eth0", udp(5, "10.80.0.1", 3333)),
]
