from rxtruth import *

DESCRIPTION = """GRO on eth0 (ethtool -K gro on, gro_flush_timeout 2 ms) with bursts of six
100-byte TCP segments to a closed port, each burst one observation window: contiguous segments
with the same ACK, DF and incrementing IDs merge into one (one RST); PSH on the second segment
flushes after it (two packets); a sequence gap splits the flow; a TTL change on the fourth
segment starts a new packet; fixed IDs without DF still merge on 6.18. Each super-packet reaching
TCP is one TcpInSegs and one RST."""
STAGES = ["gro", "tcp"]
WINDOW_MS = 100

def burst(tag, base, mod=lambda i, ip, tcp: None):
    out = []
    for i in range(6):
        ip = dict(src=PEER4["eth0"], dst=DUT4["eth0"], id=base + i, flags="DF", ttl=64)
        tcp = dict(sport=33000 + base // 100, dport=9000, flags="A", seq=10000 + 100 * i, ack=777, window=502)
        mod(i, ip, tcp)
        out.append(inject("eth0", eth("eth0") / IP(**ip) / TCP(**tcp) / (bytes([i]) * 100), burst=tag))
    return out

def psh2(i, ip, tcp):
    if i == 1:
        tcp["flags"] = "PA"

def gap(i, ip, tcp):
    if i >= 3:
        tcp["seq"] += 50

def ttl4(i, ip, tcp):
    if i >= 3:
        ip["ttl"] = 63

def fixed_id(i, ip, tcp):
    ip["id"] = 500
    ip["flags"] = 0

FRAMES = (burst("base", 100) + burst("psh", 200, psh2) + burst("gap", 300, gap) +
          burst("ttl", 400, ttl4) + burst("fixedid", 500, fixed_id))
