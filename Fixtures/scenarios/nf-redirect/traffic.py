from rxtruth import *

DESCRIPTION = """iptables REDIRECT: a SYN to port 80 is redirected to the local listener on 8080
and answered with a SYN-ACK from port 80 (reverse NAT); a SYN to port 81 hits no socket and
is answered with a RST."""
STAGES = ["nat", "conntrack", "tcp"]

FRAMES = [
    inject("eth0", eth("eth0") / IP(src=PEER4["eth0"], dst=DUT4["eth0"], id=1) / TCP(sport=41001, dport=80, flags="S", seq=100)),
    inject("eth0", eth("eth0") / IP(src=PEER4["eth0"], dst=DUT4["eth0"], id=2) / TCP(sport=41002, dport=81, flags="S", seq=200)),
]
WINDOW_MS = 100
