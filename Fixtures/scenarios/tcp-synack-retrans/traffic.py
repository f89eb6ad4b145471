from rxtruth import *

DESCRIPTION = """The request socket's SYN-ACK timer (reqsk_timer_handler) with tcp_synack_retries 2:
a SYN from .2 that is never acknowledged gets its SYN-ACK at once, again about 1 s later (in
frame 1's window) and 2 s after that (frame 2's window), and the request is dropped 4 s later
(TcpExtTCPTimeouts only, nothing sent; frame 4's window). A SYN from .3 (frame 2) has its SYN-ACK
retransmitted once (frame 2's window) before its third ACK (frame 3) completes the handshake.
An ICMP echo (frame 4) keeps a window open over the expiry; the late ACK from .2 (frame 5)
finds no request any more and gets a RST. Paced timing, so that capture time is the kernel's
time; the windows leave room for the timer wheel's rounding (up to 256 ms at HZ=250 for the
4 s timeout)."""
STAGES = ["tcp"]
TIMING = "paced"

a = TcpPeer("eth0", host4("eth0", 2), DUT4["eth0"], 41000, 80)
b = TcpPeer("eth0", host4("eth0", 3), DUT4["eth0"], 42000, 80)

FRAMES = [
    inject("eth0", a.syn(), at_ms=0, window_ms=1500),                       # SYN-ACK; rtx at ~1 s
    inject("eth0", b.syn(), at_ms=2000, window_ms=1400),                    # SYN-ACK; rtx of both at ~3 s
    inject("eth0", b.seg("A", seq=1, ack=1), at_ms=3500, window_ms=200),    # third ACK: ESTABLISHED
    inject("eth0", eth("eth0") / IP(src=host4("eth0", 4), dst=DUT4["eth0"]) / ICMP(id=7, seq=1) / b"timer",
           at_ms=5500, window_ms=2300),                                      # request from .2 expires at ~7 s
    inject("eth0", a.seg("A", seq=1, ack=1), at_ms=8000, window_ms=100),    # no request: RST
]
