from rxtruth import *

DESCRIPTION = """GRO size and count limits (eth0 GRO on, gro_flush_timeout 2 ms), to a closed port so each
packet reaching TCP is answered by one RST: 50 full-size segments (1448 bytes of payload) of one
flow exceed the 64 KB super-packet limit and become two packets (45 + 5 segments); ten flows
of two contiguous segments each, interleaved, exceed the eight packets GRO holds per NAPI
instance, so each flow's first segment is flushed before its second arrives and nothing merges
(twenty packets); segments of 100, 100, 60 and 100 bytes merge up to the short one (60 bytes
ends the packet) and the last goes up alone (two packets)."""
STAGES = ["gro", "tcp"]
WINDOW_MS = 150

big = [inject("eth0", eth("eth0") / IP(src=PEER4["eth0"], dst=DUT4["eth0"], id=1000 + i, flags="DF") /
              TCP(sport=34000, dport=9000, flags="A", seq=100000 + 1448 * i, ack=1, window=502) / (bytes([i % 256]) * 1448),
              burst="big") for i in range(50)]

flows = []
for r in range(2):
    for f in range(10):
        flows.append(inject("eth0", eth("eth0") / IP(src=PEER4["eth0"], dst=DUT4["eth0"], id=2000 + 10 * r + f, flags="DF") /
                            TCP(sport=35000 + f, dport=9000, flags="A", seq=5000 + 100 * r, ack=1, window=502) / (bytes([f]) * 100),
                            burst="flows"))

sizes = [100, 100, 60, 100]
short, seq = [], 7000
for i, n in enumerate(sizes):
    short.append(inject("eth0", eth("eth0") / IP(src=PEER4["eth0"], dst=DUT4["eth0"], id=3000 + i, flags="DF") /
                        TCP(sport=36000, dport=9000, flags="A", seq=seq, ack=1, window=502) / (bytes([i]) * n), burst="short"))
    seq += n

FRAMES = big + flows + short
