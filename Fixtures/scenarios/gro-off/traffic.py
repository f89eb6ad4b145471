from rxtruth import *

DESCRIPTION = """The same burst as gro-tcp's base case (six contiguous 100-byte segments to a
closed port, sent back to back) with GRO left at the veth default (off): nothing merges, each
segment is its own TcpInSegs and gets its own RST."""
STAGES = ["gro", "tcp"]
WINDOW_MS = 100

FRAMES = [inject("eth0", eth("eth0") / IP(src=PEER4["eth0"], dst=DUT4["eth0"], id=100 + i, flags="DF") /
                 TCP(sport=33001, dport=9000, flags="A", seq=10000 + 100 * i, ack=777, window=502) / (bytes([i]) * 100),
                 burst="base") for i in range(6)]
