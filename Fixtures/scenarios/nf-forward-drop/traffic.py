from rxtruth import *

DESCRIPTION = """iptables FORWARD with policy DROP: UDP 53 is accepted and forwarded; TCP 25 is
rejected with a RST from the router; anything else is dropped by the policy (NETFILTER_DROP).
On 6.18 IpForwDatagrams counts the dropped datagrams too (it is incremented before the hook)."""
STAGES = ["netfilter", "forward"]

FRAMES = [
    inject("eth0", eth("eth0") / IP(src=PEER4["eth0"], dst=REMOTE4, id=1) / UDP(sport=4000, dport=53) / b"q"),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 3), dst=REMOTE4, id=2) / TCP(sport=4001, dport=25, flags="S", seq=1)),
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 4), dst=REMOTE4, id=3) / UDP(sport=4002, dport=123) / b"ntp"),
]
