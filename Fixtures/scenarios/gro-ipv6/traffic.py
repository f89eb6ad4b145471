from rxtruth import *

DESCRIPTION = """IPv6 TCP GRO (eth0 GRO on, gro_flush_timeout 2 ms), bursts of six 100-byte segments to a closed
port (one RST per packet reaching TCP): same flow label and header merge all six; a different
flow label on the fourth segment gives 1-3 / 4 / 5-6; hop limit 63 from the fourth on gives
1-3 / 4-6; a traffic class change on the fourth gives 1-3 / 4 / 5-6; PSH on the second flushes
after it (1-2 / 3-6)."""
STAGES = ["gro", "tcp", "ipv6"]
WINDOW_MS = 100

def burst(tag, base, mod=lambda i, ip, tcp: None):
    out = []
    for i in range(6):
        ip = dict(src=PEER6["eth0"], dst=DUT6["eth0"], fl=base, hlim=64, tc=0)
        tcp = dict(sport=33000 + base // 100, dport=9000, flags="A", seq=10000 + 100 * i, ack=777, window=502)
        mod(i, ip, tcp)
        out.append(inject("eth0", eth("eth0") / IPv6(**ip) / TCP(**tcp) / (bytes([i]) * 100), burst=tag))
    return out

def fl(i, ip, tcp):
    if i == 3:
        ip["fl"] += 1

def hl(i, ip, tcp):
    if i >= 3:
        ip["hlim"] = 63

def tc(i, ip, tcp):
    if i == 3:
        ip["tc"] = 0x20

def psh(i, ip, tcp):
    if i == 1:
        tcp["flags"] = "PA"

FRAMES = (burst("base", 100) + burst("flow", 200, fl) + burst("hoplimit", 300, hl) +
          burst("tclass", 400, tc) + burst("psh", 500, psh))
