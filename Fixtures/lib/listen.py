#!/usr/bin/python3
"""A socket for scenario setups (started by dut.sh's listen_tcp / listen_udp; killed with the
namespace's processes at teardown). TCP: listen(backlog) and either accept() forever or never
accept (or accept and close at once: mode "close"). UDP: bind and read forever; optionally
connected to a peer, in a SO_REUSEPORT group, joined to a multicast group, or IPv6-only."""
import argparse
import socket

ap = argparse.ArgumentParser()
ap.add_argument("--proto", choices=["tcp", "udp"], required=True)
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--addr", default="0.0.0.0")
ap.add_argument("--backlog", type=int, default=128)
ap.add_argument("--mode", choices=["accept", "noaccept", "close"], default="accept")
ap.add_argument("--fastopen", type=int, default=0, help="TCP_FASTOPEN queue length (0: unset)")
ap.add_argument("--connect", help="UDP: connect to ADDR:PORT (or [ADDR]:PORT)")
ap.add_argument("--reuseport", action="store_true", help="set SO_REUSEPORT before bind")
ap.add_argument("--v6only", action="store_true", help="IPv6 socket with IPV6_V6ONLY set")
ap.add_argument("--join", help="UDP: join this IPv4 multicast group (on any interface)")
ap.add_argument("--ready", required=True)
a = ap.parse_args()

fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM if a.proto == "tcp" else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if a.reuseport:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if a.v6only else 0)
s.bind((a.addr, a.port))
if a.join:
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                 socket.inet_aton(a.join) + socket.inet_aton("0.0.0.0"))
if a.connect:
    host, _, port = a.connect.rpartition(":")
    s.connect((host.strip("[]"), int(port)))
if a.proto == "tcp":
    if a.fastopen:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, a.fastopen)
    s.listen(a.backlog)
open(a.ready, "w").close()
conns = []
while True:
    if a.proto == "udp":
        s.recv(65536)
    elif a.mode == "close":
        c, _ = s.accept()
        c.close()                # the DUT sends its FIN at once
    elif a.mode == "accept":
        c, _ = s.accept()
        conns.append(c)          # kept open: the scenario decides when the peer closes
    else:
        socket.socket().close()  # never accept: park forever
        import signal
        signal.pause()
