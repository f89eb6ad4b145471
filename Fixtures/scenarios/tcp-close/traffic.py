from rxtruth import *

DESCRIPTION = """TCP close states with a reactive injector (the DUT's ISNs are read from its
SYN-ACKs during the recording and appear only in the peer's acknowledgment numbers; see
recording.learned). Port 80 keeps the connection open: the peer's FIN is ACKed (DUT in
CLOSE_WAIT); data after the FIN is freed silently (NOT_SPECIFIED in tcp_rcv_state_process); a
RST at rcv_nxt then closes it quietly. Port 81's application closes at once: the handshake's
ACK makes the DUT send its FIN (FIN_WAIT1); the peer ACKs it (FIN_WAIT2) and sends its own FIN,
which the DUT ACKs (TIME_WAIT; the segment is freed NOT_SPECIFIED in tcp_v4_rcv); a
retransmitted FIN and a data segment to the TIME_WAIT socket are each answered with an ACK
and freed the same way."""
STAGES = ["tcp"]
WINDOW_MS = 100
TIMING = "paced"
PACE_MS = 200

a = TcpPeer("eth0", host4("eth0", 2), DUT4["eth0"], 40001, 80)
b = TcpPeer("eth0", host4("eth0", 3), DUT4["eth0"], 40002, 81, isn=5000)
d = b"close-states" * 4
FRAMES = [
    inject("eth0", a.syn()),
    inject("eth0", a.seg("A", seq=1, ack=1)),
    inject("eth0", a.seg("FA", seq=1, ack=1)),                 # CLOSE_WAIT, ACK of the FIN
    inject("eth0", a.seg("PA", seq=2, ack=1, data=d)),         # data after the FIN
    inject("eth0", a.seg("R", seq=2)),                         # RST at rcv_nxt: closed
    inject("eth0", b.syn()),
    inject("eth0", b.seg("A", seq=1, ack=1)),                  # accept + close: DUT FIN
    inject("eth0", b.seg("A", seq=1, ack=2)),                  # ACK of the FIN: FIN_WAIT2
    inject("eth0", b.seg("FA", seq=1, ack=2)),                 # our FIN: TIME_WAIT
    inject("eth0", b.seg("FA", seq=1, ack=2)),                 # retransmitted FIN
    inject("eth0", b.seg("PA", seq=2, ack=2, data=d)),         # data to TIME_WAIT
]
