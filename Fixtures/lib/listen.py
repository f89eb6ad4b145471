#!/usr/bin/python3
"""A socket for scenario setups (started by dut.sh's listen_tcp / listen_udp; killed with the
namespace's processes at teardown). TCP: listen(backlog) and either accept() forever or never
accept. UDP: bind and read forever."""
import argparse
import socket

ap = argparse.ArgumentParser()
ap.add_argument("--proto", choices=["tcp", "udp"], required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--addr", default="0.0.0.0")
ap.add_argument("--backlog", type=int, default=128)
ap.add_argument("--mode", choices=["accept", "noaccept"], default="accept")
ap.add_argument("--fastopen", type=int, default=0, help="TCP_FASTOPEN queue length (0: unset)")
ap.add_argument("--ready", required=True)
a = ap.parse_args()

fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if a.proto == "tcp" else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind((a.addr, a.port))
if a.proto == "tcp":
    if a.fastopen:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, a.fastopen)
    s.listen(a.backlog)
open(a.ready, "w").close()
conns = []
while True:
    if a.proto == "udp":
        s.recv(65536)
    elif a.mode == "accept":
        c, _ = s.accept()
        conns.append(c)          # kept open: the scenario decides when the peer closes
    else:
        socket.socket().close()  # never accept: park forever
        import signal
        signal.pause()
