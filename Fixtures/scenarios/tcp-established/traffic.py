from rxtruth import *

DESCRIPTION = """An established TCP connection built by a reactive injector: a SYN with
timestamps and window scaling to a listener on port 80, then the handshake's ACK, which
acknowledges the DUT's ISN as read from its SYN-ACK during the recording (the capture holds only
the injected frames: the DUT's ISN is never in it, and a model learns it from the peer's
acknowledgment number; recording.learned has the ISN of this recording, which changes every
time). Then: in-window data is delivered and ACKed; the same data again is TCP_OLD_DATA with a
duplicate (D-SACK) ACK; a segment far beyond the window is TCP_INVALID_SEQUENCE with a dup ACK;
an old TSval fails PAWS (TCP_RFC7323_PAWS) with a dup ACK; a SYN on the established connection
and an in-window RST that is not at rcv_nxt each get a challenge ACK; an ACK of data never sent
is TCP_ACK_UNSENT_DATA; the exact RST closes the connection; data afterwards finds no socket
and is answered with RST. tcp_invalid_ratelimit is 0, so no reply is rate limited."""
STAGES = ["tcp"]
WINDOW_MS = 100
TIMING = "paced"
PACE_MS = 200

p = TcpPeer("eth0", host4("eth0", 2), DUT4["eth0"], 40000, 80)
d = bytes(range(100))
FRAMES = [
    inject("eth0", p.syn()),
    inject("eth0", p.seg("A", seq=1, ack=1)),                       # handshake completes
    inject("eth0", p.seg("PA", seq=1, ack=1, data=d)),              # in window: delivered
    inject("eth0", p.seg("PA", seq=1, ack=1, data=d)),              # duplicate: old data
    inject("eth0", p.seg("PA", seq=101 + 10_000_000, ack=1, data=d)),  # beyond the window
    inject("eth0", p.seg("PA", seq=101, ack=1, data=d, tsval=5)),   # old TSval: PAWS
    inject("eth0", p.seg("S", seq=50_000)),                         # SYN on established
    inject("eth0", p.seg("R", seq=151)),                            # in-window, inexact RST
    inject("eth0", p.seg("A", seq=101, ack=100_001)),               # ACK of unsent data
    inject("eth0", p.seg("R", seq=101)),                            # exact RST: closes
    inject("eth0", p.seg("PA", seq=101, ack=1, data=d)),            # no socket any more
]
