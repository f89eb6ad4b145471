from rxtruth import *

DESCRIPTION = """IPv6 output neighbour resolution on a router (std_router; 2001:db8:2::50, ::51, ::60
and ::70 on eth1 have no neighbour entry). A datagram forwarded to 2001:db8:2::50 waits on the
new INCOMPLETE entry while the DUT sends a neighbour solicitation to ff02::1:ff00:50; a
solicited neighbour advertisement with the target link-layer option 300 ms later makes the
entry REACHABLE and releases it; the next datagram is forwarded at once. A datagram to ::60,
which never answers, waits through three solicitations one second apart and is dropped
NEIGH_FAILED after 3 s with ICMPv6 address unreachable to its source (3.6 s window). An echo
request from ::51 is delivered but its echo reply waits for ND; the NS that ::51 then sends
for the DUT's address, with its source link-layer option, creates a STALE entry, so the
DUT's NA and the queued echo reply both leave. An unsolicited NA for ::70 creates no entry
(accept_untracked_na 0), so a datagram to ::70 still starts resolution and is queued when the
capture ends. Paced timing: capture timestamps are the send slots."""
TIMING = "paced"
PACE_MS = 300
STAGES = ["ipv6", "forward", "icmp"]

def udp(src, dst, fl):
    return eth("eth0") / IPv6(src=src, dst=dst, fl=fl, hlim=64) / UDP(sport=4000 + fl, dport=5000) / b"neigh"

def na(target, solicited=1, dst=None):
    return (eth("eth1", dst=None if dst is None else "33:33:00:00:00:01") /
            IPv6(src=target, dst=dst or DUT6["eth1"], hlim=255) /
            ICMPv6ND_NA(tgt=target, R=0, S=solicited, O=1) / ICMPv6NDOptDstLLAddr(lladdr=PEER_MAC["eth1"]))

def ns_for_dut(src):
    return (eth("eth1", dst="33:33:ff:00:00:01") /
            IPv6(src=src, dst="ff02::1:ff00:1", hlim=255) /
            ICMPv6ND_NS(tgt=DUT6["eth1"]) / ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC["eth1"]))

FRAMES = [
    inject("eth0", udp(host6("eth0", 2), "2001:db8:2::50", 11)),
    inject("eth1", na("2001:db8:2::50")),
    inject("eth0", udp(host6("eth0", 2), "2001:db8:2::50", 13)),
    inject("eth0", udp(host6("eth0", 3), "2001:db8:2::60", 14), window_ms=3600),
    inject("eth1", eth("eth1") / IPv6(src="2001:db8:2::51", dst=DUT6["eth1"], fl=15) / ICMPv6EchoRequest(id=7, seq=15) / b"neigh", at_ms=4600),
    inject("eth1", ns_for_dut("2001:db8:2::51")),
    inject("eth1", na("2001:db8:2::70", solicited=0, dst="ff02::1")),
    inject("eth0", udp(host6("eth0", 4), "2001:db8:2::70", 18)),
]
