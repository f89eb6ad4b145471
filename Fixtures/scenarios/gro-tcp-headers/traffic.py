from rxtruth import *

DESCRIPTION = """GRO and header differences (eth0 GRO on, gro_flush_timeout 2 ms), bursts of six 100-byte
segments to a closed port (one RST per packet reaching TCP): identical timestamp options merge
all six; a different TSval from the fourth segment on splits 1-3 / 4-6; timestamps on the
fourth segment only (a different option layout) gives 1-3 / 4 / 5-6; non-incrementing IP IDs
with DF set merge nothing (six packets); a TOS change, DF cleared, or a different TCP window
on the fourth segment each give 1-3 / 4 / 5-6."""
STAGES = ["gro", "tcp"]
WINDOW_MS = 100

def burst(tag, base, mod):
    out = []
    for i in range(6):
        ip = dict(src=PEER4["eth0"], dst=DUT4["eth0"], id=base + i, flags="DF", ttl=64, tos=0)
        tcp = dict(sport=33000 + base // 100, dport=9000, flags="A", seq=10000 + 100 * i, ack=777, window=502,
                   options=[])
        mod(i, ip, tcp)
        out.append(inject("eth0", eth("eth0") / IP(**ip) / TCP(**tcp) / (bytes([i]) * 100), burst=tag))
    return out

TS = lambda v: [("NOP", None), ("NOP", None), ("Timestamp", (v, 55))]

def same_ts(i, ip, tcp):
    tcp["options"] = TS(1000)

def diff_ts(i, ip, tcp):
    tcp["options"] = TS(1000 if i < 3 else 1001)

def opt_layout(i, ip, tcp):
    if i == 3:
        tcp["options"] = TS(1000)

RANDOM_IDS = [40123, 771, 29000, 5, 61000, 13000]

def random_id(i, ip, tcp):
    ip["id"] = RANDOM_IDS[i]

def tos(i, ip, tcp):
    if i == 3:
        ip["tos"] = 0x10

def df(i, ip, tcp):
    if i == 3:
        ip["flags"] = 0

def window(i, ip, tcp):
    if i == 3:
        tcp["window"] = 600

FRAMES = (burst("samets", 100, same_ts) + burst("diffts", 200, diff_ts) + burst("optlayout", 300, opt_layout) +
          burst("randomid", 400, random_id) + burst("tos", 500, tos) + burst("df", 600, df) +
          burst("window", 700, window))
