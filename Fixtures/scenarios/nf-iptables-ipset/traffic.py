from rxtruth import *

DESCRIPTION = """iptables with ipset --match-set: sources in a hash:ip set (192.0.2.7, .8) are
dropped (NETFILTER_DROP); UDP from a hash:net member (192.0.2.4/31) is rejected with host
prohibited; a hash:ip,port set matched on src,dst accepts 192.0.2.2 to UDP 53 (port
unreachable from the stack: no socket) and TCP 8080 (RST from the stack); other UDP, matched
by a negated set, is dropped; TCP not in the set falls through to the stack's RST."""
STAGES = ["netfilter", "udp", "tcp"]

def u(n, src, dport):
    return eth("eth0") / IP(src=host4("eth0", src), dst=DUT4["eth0"], id=n) / UDP(sport=4000 + n, dport=dport) / b"set"

def t(n, src, dport):
    return eth("eth0") / IP(src=host4("eth0", src), dst=DUT4["eth0"], id=n) / TCP(sport=4000 + n, dport=dport, flags="S", seq=1)

FRAMES = [
    inject("eth0", u(1, 7, 53)),
    inject("eth0", t(2, 8, 8080)),
    inject("eth0", u(3, 5, 53)),
    inject("eth0", t(4, 4, 8080)),
    inject("eth0", u(5, 2, 53)),
    inject("eth0", t(6, 2, 8080)),
    inject("eth0", u(7, 2, 54)),
    inject("eth0", t(8, 3, 8081)),
]
