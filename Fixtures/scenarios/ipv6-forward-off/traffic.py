from rxtruth import *

DESCRIPTION = """IPv6 with forwarding off: a packet for a routed non-local destination is
IP_INADDRERRORS (Ip6InAddrErrors) and no ICMPv6 is sent; a local destination is delivered."""
STAGES = ["ipv6", "route"]

FRAMES = [
    inject("eth0", eth("eth0") / IPv6(src=PEER6["eth0"], dst=REMOTE6) / UDP(sport=4000, dport=9) / b"x"),
    inject("eth0", eth("eth0") / IPv6(src=PEER6["eth0"], dst=DUT6["eth0"]) / ICMPv6EchoRequest(id=52, seq=2)),
]
