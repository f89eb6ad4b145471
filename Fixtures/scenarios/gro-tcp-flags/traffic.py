from rxtruth import *

DESCRIPTION = """GRO flushes on TCP flags (eth0 GRO on, gro_flush_timeout 2 ms), each burst of six 100-byte
segments to a closed port one observation window; the fourth segment differs. FIN on the fourth
is merged into the packet and flushes it (two packets: 1-4, 5-6). RST, URG (urgent pointer 10),
CWR, SYN and a different acknowledgment number each flush what was held and go up on their own
(three packets: 1-3, 4, 5-6). Each packet reaching TCP is one TcpInSegs and NO_SOCKET; each
gets a RST except the RST segment itself; merged segments are freed as
NOT_SPECIFIED@skb_release_data."""
STAGES = ["gro", "tcp"]
WINDOW_MS = 100

def burst(tag, base, mod):
    out = []
    for i in range(6):
        ip = dict(src=PEER4["eth0"], dst=DUT4["eth0"], id=base + i, flags="DF", ttl=64)
        tcp = dict(sport=33000 + base // 100, dport=9000, flags="A", seq=10000 + 100 * i, ack=777, window=502)
        if i == 3:
            mod(ip, tcp)
        out.append(inject("eth0", eth("eth0") / IP(**ip) / TCP(**tcp) / (bytes([i]) * 100), burst=tag))
    return out

def flag(f):
    def m(ip, tcp):
        tcp["flags"] = f
    return m

def urg(ip, tcp):
    tcp["flags"] = "UA"
    tcp["urgptr"] = 10

def ack(ip, tcp):
    tcp["ack"] = 778

FRAMES = (burst("fin", 100, flag("FA")) + burst("rst", 200, flag("RA")) + burst("urg", 300, urg) +
          burst("cwr", 400, flag("CA")) + burst("syn", 500, flag("SA")) + burst("ack", 600, ack))
