#!/usr/bin/env python3
"""holder.py SOCKETS_TXT - the DUT's listening sockets for the kernel reference.

Opens every listener of a host snapshot's sockets.txt (`ss -tuln` columns: proto, state,
recv-q, send-q = backlog, local address:port) inside the DUT namespace, prints READY once all
are bound, then serves until killed: TCP listeners accept (the connections stay open and are
drained, never closed, so the DUT sends no FINs and arms no retransmit timers of its own), UDP
sockets are drained. Without it, segments to local ports would be answered with RSTs and port
unreachables instead of being delivered."""
import selectors
import socket
import sys


def listeners(path):
    out = []
    for line in open(path):
        f = line.split()
        if len(f) < 5 or f[0] not in ('tcp', 'udp'):
            continue
        proto, local = f[0], f[4]
        backlog = int(f[3]) if proto == 'tcp' else 0
        host, port = local.rsplit(':', 1)
        v6 = host.startswith('[')
        host = host.strip('[]')
        if host == '*':
            host = '::' if v6 else '0.0.0.0'
        out.append((proto, v6, host, int(port), backlog))
    return out


sel = selectors.DefaultSelector()
kept = []   # accepted connections, never closed
for proto, v6, host, port, backlog in listeners(sys.argv[1]):
    s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET,
                      socket.SOCK_STREAM if proto == 'tcp' else socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((host, port))
    s.setblocking(False)
    if proto == 'tcp':
        s.listen(backlog)
    sel.register(s, selectors.EVENT_READ, 'listen' if proto == 'tcp' else 'udp')
print('READY', flush=True)

while True:
    for key, _ in sel.select():
        s = key.fileobj
        try:
            if key.data == 'listen':
                c, _ = s.accept()
                c.setblocking(False)
                kept.append(c)
                sel.register(c, selectors.EVENT_READ, 'conn')
            elif key.data == 'udp':
                while True:
                    s.recv(65536)
            elif not s.recv(65536):
                sel.unregister(s)   # the client closed: stop polling, keep the socket (no FIN from us)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            try:
                sel.unregister(s)
            except (KeyError, ValueError):
                pass
