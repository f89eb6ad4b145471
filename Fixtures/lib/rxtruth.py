"""Shared definitions for ground-truth scenarios (see Fixtures/README.md, docs/RECORDING.md).

Traffic scripts (Fixtures/scenarios/NAME/traffic.py) import this module:

    from rxtruth import *
    DESCRIPTION = "..."; STAGES = ["ip_rcv"]
    FRAMES = [inject("eth0", eth("eth0") / IP(src=PEER4["eth0"], dst=DUT4["eth0"]) / ICMP())]

It holds the standard topology (names, MACs, addresses), the `inject` frame description, a
deterministic pcapng writer, and the normalisation of kernel-generated frames.
"""
import struct

import scapy.all as _scapy  # noqa: F401  (loads every layer so traffic scripts can use them)
from scapy.all import (ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, ICMPv6DestUnreach,  # noqa: F401
                       ICMPv6EchoReply, ICMPv6EchoRequest, ICMPv6ND_NA, ICMPv6ND_NS,
                       ICMPv6NDOptDstLLAddr, ICMPv6NDOptSrcLLAddr, IPOption, IPv6,
                       IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                       IPv6ExtHdrRouting, HBHOptUnknown, PadN, Raw, fragment, fragment6, raw)

# --- standard topology -----------------------------------------------------------------------
# The device under test (DUT) has eth0 and eth1; each is one end of a veth pair whose other end
# (inj0, inj1) lives in the injector namespace. "Peer" addresses are the hosts the DUT believes
# are on the other side (the injector namespace itself has no IP stack configured).
IFACES = ["eth0", "eth1"]
PEER_IFACE = {"eth0": "inj0", "eth1": "inj1"}
DUT_MAC = {"eth0": "02:00:00:00:00:10", "eth1": "02:00:00:00:00:11"}
PEER_MAC = {"eth0": "02:00:00:00:00:20", "eth1": "02:00:00:00:00:21"}
DUT4 = {"eth0": "192.0.2.1", "eth1": "198.51.100.1"}
PEER4 = {"eth0": "192.0.2.2", "eth1": "198.51.100.2"}
DUT6 = {"eth0": "2001:db8:1::1", "eth1": "2001:db8:2::1"}
PEER6 = {"eth0": "2001:db8:1::2", "eth1": "2001:db8:2::2"}
# A network behind the peer on eth1 (routed via PEER4["eth1"] in forwarding scenarios) and a
# host there; and the same for IPv6.
REMOTE_NET4 = "203.0.113.0/24"
REMOTE4 = "203.0.113.7"
REMOTE_NET6 = "2001:db8:3::/64"
REMOTE6 = "2001:db8:3::7"


def host4(iface, n):
    """The n-th (2..9) address on the peer side of `iface`; the DUT has a permanent neighbour
    entry for each (dut.sh std_addrs4). host4(i, 2) == PEER4[i]."""
    assert 2 <= n <= 9
    return PEER4[iface].rsplit(".", 1)[0] + f".{n}"


def host6(iface, n):
    """The IPv6 counterpart of host4 (::2 to ::9)."""
    assert 2 <= n <= 9
    return PEER6[iface].rsplit("::", 1)[0] + f"::{n}"


OTHER_MAC = "02:00:00:00:00:99"      # a MAC nobody in the topology owns
BCAST_MAC = "ff:ff:ff:ff:ff:ff"


def eth(iface="eth0", dst=None, src=None, **kw):
    """An Ethernet header as the peer on `iface` would send it to the DUT."""
    return Ether(dst=dst or DUT_MAC[iface], src=src or PEER_MAC[iface], **kw)


def inject(iface, pkt, burst=None, window_ms=None, delay_ms=None, at_ms=None):
    """One frame to inject on the DUT's `iface` (through its peer).

    pkt: a scapy packet (or bytes); or, for a reactive frame, a function called with the
      recording's Context just before the frame is sent (it sees every frame the DUT has sent
      so far, e.g. a SYN-ACK whose ISN the frame must acknowledge) and returning the packet.
    burst: frames with the same burst label that are adjacent in FRAMES are sent back to back
      and observed in one window (GRO); the observations are attached to the burst's last frame.
    window_ms: the minimum observation window for this frame (default: the scenario's WINDOW_MS).
    at_ms / delay_ms (TIMING = "paced" only): send this frame at_ms after the first window, or
      delay_ms later than PACE_MS after the previous window; the capture timestamp is that slot.
    """
    if iface not in DUT_MAC:
        raise ValueError(f"unknown DUT interface {iface!r}")
    build = pkt if callable(pkt) else None
    data = None if build else bytes(pkt)
    return {"iface": iface, "bytes": data, "build": build, "burst": burst, "window_ms": window_ms,
            "delay_ms": delay_ms, "at_ms": at_ms}


class Context:
    """What a reactive frame's builder sees: `sent`, every (dut_iface, bytes) frame the DUT has
    sent so far in this recording (raw, not normalised), and `learned`, values the scenario
    wants written to scenario.json (recording.learned), e.g. the DUT's ISN."""

    def __init__(self):
        self.sent = []
        self.learned = {}

    def last_tcp(self, flags, iface=None, sport=None, dport=None):
        """The latest TCP segment the DUT sent with all of `flags` (e.g. "SA"), as a scapy
        packet; raises if there is none (the reactive frame cannot be built)."""
        want = TCP(flags=flags).flags
        for ifc, data in reversed(self.sent):
            if iface and ifc != iface:
                continue
            p = Ether(data)
            if TCP not in p:
                continue
            t = p[TCP]
            if (t.flags & want) == want and (sport is None or t.sport == sport) and (dport is None or t.dport == dport):
                return p
        raise RuntimeError(f"no TCP segment with flags {flags} from the DUT yet (sport={sport} dport={dport})")

    def dut_isn(self, sport, dport, iface=None, key=None):
        """The DUT's ISN from its SYN-ACK (from port `sport` to port `dport`); recorded in
        scenario.json under `key` (default "dut_isn_SPORT_DPORT")."""
        p = self.last_tcp("SA", iface, sport=sport, dport=dport)
        isn = p[TCP].seq
        self.learned[key or f"dut_isn_{sport}_{dport}"] = isn
        return isn


# --- deterministic pcapng --------------------------------------------------------------------
def _opt(code, value):
    pad = (4 - len(value) % 4) % 4
    return struct.pack("<HH", code, len(value)) + value + b"\0" * pad


def _block(btype, body):
    length = 12 + len(body)
    return struct.pack("<II", btype, length) + body + struct.pack("<I", length)


def write_pcapng(path, ifaces, records):
    """Writes a pcapng file: one section, one Ethernet interface per name in `ifaces` (if_name
    set, microsecond resolution), one enhanced packet block per (iface, timestamp_us, bytes)."""
    out = bytearray()
    shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _opt(4, b"rxray Fixtures/lib/record.py") + _opt(0, b"")
    out += _block(0x0A0D0D0A, shb_body)
    for name in ifaces:
        body = struct.pack("<HHI", 1, 0, 0) + _opt(2, name.encode()) + _opt(0, b"")
        out += _block(0x00000001, body)
    index = {n: i for i, n in enumerate(ifaces)}
    for iface, ts_us, data in records:
        pad = (4 - len(data) % 4) % 4
        body = struct.pack("<IIIII", index[iface], ts_us >> 32, ts_us & 0xFFFFFFFF, len(data), len(data))
        body += data + b"\0" * pad
        out += _block(0x00000006, body)
    with open(path, "wb") as f:
        f.write(out)


# --- checksums and normalisation of kernel-generated frames ----------------------------------
def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _l3(frame):
    """(ethertype, offset of the L3 header) after any VLAN tags."""
    off = 12
    et = struct.unpack_from("!H", frame, off)[0]
    off += 2
    while et in (0x8100, 0x88A8) and len(frame) >= off + 4:
        et = struct.unpack_from("!H", frame, off + 2)[0]
        off += 4
    return et, off


def injected_ids(frame):
    """What identifies a datagram across forwarding: (version, key) for IPv4 (id, proto, src...)
    and IPv6 (flow label, next header, payload length); plus the TTL/hop limit it carried."""
    try:
        et, off = _l3(frame)
        if et == 0x0800 and len(frame) >= off + 20:
            ttl, proto = frame[off + 8], frame[off + 9]
            ident = struct.unpack_from("!H", frame, off + 4)[0]
            return ("4", ident, proto, ttl)
        if et == 0x86DD and len(frame) >= off + 40:
            flow = struct.unpack_from("!I", frame, off)[0] & 0xFFFFF
            nh, hl = frame[off + 6], frame[off + 7]
            return ("6", flow, nh, hl)
    except struct.error:
        pass
    return None


def is_forward_of(sent, injected_frames):
    """A frame the DUT sent is a forwarded copy of an injected one when it is the same datagram
    (IPv4: same ID and protocol; IPv6: same flow label and next header) with its TTL/hop limit
    lowered by exactly one. Locally generated frames start at the DUT's default TTL (64) and
    the traffic scripts never inject TTL 65, so the two cannot be confused."""
    s = injected_ids(sent)
    if s is None:
        return False
    for f in injected_frames:
        i = injected_ids(f)
        if i and i[0] == s[0] and i[1] == s[1] and i[2] == s[2] and i[3] == s[3] + 1:
            return True
    return False


def normalise_reply(frame, injected_frames):
    """Zeroes the fields of a DUT-generated frame that the kernel fills from per-boot secrets or
    clocks, and recomputes the checksums that veth leaves to offload. Returns (bytes, [fields])
    where fields names every rule that applied (whether or not the value changed), so the list
    is itself deterministic. Rules:
      ipv4.id      IPv4 ID (hashed with a per-boot key, or a random per-socket start) -> 0
      ipv6.flow    IPv6 flow label (auto flow labels hash with a random seed) -> 0
      tcp.seq      TCP sequence number (ISN / syncookie), unless a RST whose seq is 0 or the
                   ack number of an injected segment -> 0
      tcp.tsval    TCP timestamp value (random per-connection offset) -> 0
      l4.csum      TCP/UDP checksum recomputed (veth hands over CHECKSUM_PARTIAL)
      icmp.timestamps  receive and transmit times of an ICMP timestamp reply -> 0 (and the
                   ICMP checksum recomputed)
    IPv4 header, ICMP and ICMPv6 checksums are always software-computed by the kernel and are
    recomputed here only when a rule changed a covered field."""
    b = bytearray(frame)
    fields = []
    try:
        et, off = _l3(b)
        if et == 0x0800 and len(b) >= off + 20:
            ihl = (b[off] & 0x0F) * 4
            tot = struct.unpack_from("!H", b, off + 2)[0]
            frag = struct.unpack_from("!H", b, off + 6)[0]
            proto = b[off + 9]
            b[off + 4:off + 6] = b"\0\0"
            fields.append("ipv4.id")
            struct.pack_into("!H", b, off + 10, 0)
            struct.pack_into("!H", b, off + 10, csum(bytes(b[off:off + ihl])))
            l4 = off + ihl
            end = min(len(b), off + tot)
            if proto == 1 and frag & 0x1FFF == 0 and end >= l4 + 20 and b[l4] == 14:
                b[l4 + 12:l4 + 20] = bytes(8)
                fields.append("icmp.timestamps")
                struct.pack_into("!H", b, l4 + 2, 0)
                struct.pack_into("!H", b, l4 + 2, csum(bytes(b[l4:end])))
            if frag & 0x1FFF == 0 and not frag & 0x2000 and proto in (6, 17):
                pseudo = bytes(b[off + 12:off + 20]) + struct.pack("!BBH", 0, proto, end - l4)
                _fix_l4(b, l4, end, proto, pseudo, injected_frames, fields)
        elif et == 0x86DD and len(b) >= off + 40:
            first = struct.unpack_from("!I", b, off)[0]
            struct.pack_into("!I", b, off, first & 0xFFF00000)
            fields.append("ipv6.flow")
            nh = b[off + 6]
            plen = struct.unpack_from("!H", b, off + 4)[0]
            l4 = off + 40
            end = min(len(b), l4 + plen)
            if nh in (6, 17):
                pseudo = bytes(b[off + 8:off + 40]) + struct.pack("!IxxxB", end - l4, nh)
                _fix_l4(b, l4, end, nh, pseudo, injected_frames, fields)
    except (struct.error, IndexError):
        pass
    return bytes(b), fields


def _injected_acks(injected_frames):
    acks = set()
    for f in injected_frames:
        try:
            et, off = _l3(f)
            if et == 0x0800 and f[off + 9] == 6:
                l4 = off + (f[off] & 0x0F) * 4
            elif et == 0x86DD and f[off + 6] == 6:
                l4 = off + 40
            else:
                continue
            acks.add(struct.unpack_from("!I", f, l4 + 8)[0])
        except (struct.error, IndexError):
            continue
    return acks


def _fix_l4(b, l4, end, proto, pseudo, injected_frames, fields):
    if proto == 6 and end >= l4 + 20:
        flags = b[l4 + 13]
        seq = struct.unpack_from("!I", b, l4 + 4)[0]
        keep = bool(flags & 0x04) and (seq == 0 or seq in _injected_acks(injected_frames))
        if not keep:
            struct.pack_into("!I", b, l4 + 4, 0)
            fields.append("tcp.seq")
        doff = (b[l4 + 12] >> 4) * 4
        i, oend = l4 + 20, min(end, l4 + doff)
        while i < oend:
            kind = b[i]
            if kind == 0:
                break
            if kind == 1:
                i += 1
                continue
            if i + 1 >= oend:
                break
            ln = b[i + 1]
            if ln < 2:
                break
            if kind == 8 and ln == 10 and i + 10 <= oend:
                b[i + 2:i + 6] = b"\0\0\0\0"
                fields.append("tcp.tsval")
            i += ln
        struct.pack_into("!H", b, l4 + 16, 0)
        struct.pack_into("!H", b, l4 + 16, csum(pseudo + bytes(b[l4:end])))
        fields.append("l4.csum")
    elif proto == 17 and end >= l4 + 8:
        struct.pack_into("!H", b, l4 + 6, 0)
        c = csum(pseudo + bytes(b[l4:end]))
        struct.pack_into("!H", b, l4 + 6, c or 0xFFFF)
        fields.append("l4.csum")


# --- a scripted TCP peer for reactive frames -------------------------------------------------
class TcpPeer:
    """One side of a TCP connection with the DUT, played from the injector. The peer's own
    sequence numbers are fixed (relative to `isn`); the DUT's are learned during the recording
    from the DUT's SYN-ACK (Context.dut_isn), so frames after the SYN are reactive builders.

        p = TcpPeer("eth0", host4("eth0", 2), DUT4["eth0"], 40000, 80)
        FRAMES = [inject("eth0", p.syn()), inject("eth0", p.seg("A", seq=1, ack=1)), ...]

    seg(seq=n, ack=m) sends sequence number isn + n and acknowledges DUT ISN + m. With `ts`
    (the default), segments carry a timestamp option: TSval `tsval` (default: 100 + the
    segment's position) and TSecr echoing the DUT's latest TSval on this connection."""

    def __init__(self, iface, src, dst, sport, dport, isn=1000, ts=True, window=64240):
        self.iface, self.src, self.dst, self.sport, self.dport = iface, src, dst, sport, dport
        self.isn, self.ts, self.window = isn, ts, window
        self.v6 = ":" in dst
        self.n = 0

    def _ip(self):
        self.n += 1
        if self.v6:
            return IPv6(src=self.src, dst=self.dst)
        return IP(src=self.src, dst=self.dst, id=self.sport % 1000 * 50 + self.n, flags="DF")

    def syn(self, seq=0, tsval=None, **kw):
        """The opening SYN (MSS 1460, SACK permitted, timestamps, window scale 7)."""
        ip = self._ip()
        opts = [("MSS", 1460), ("SAckOK", b"")]
        if self.ts:
            opts.append(("Timestamp", (tsval if tsval is not None else 100 + self.n, 0)))
        opts += [("NOP", None), ("WScale", 7)]
        return eth(self.iface) / ip / TCP(sport=self.sport, dport=self.dport, flags="S", seq=self.isn + seq,
                                          window=self.window, options=opts, **kw)

    def _dut_tsval(self, ctx):
        for ifc, data in reversed(ctx.sent):
            p = Ether(data)
            if TCP in p and p[TCP].sport == self.dport and p[TCP].dport == self.sport:
                for o in p[TCP].options:
                    if o[0] == "Timestamp":
                        return o[1][0]
                return 0
        return 0

    def seg(self, flags="A", seq=1, ack=1, data=b"", tsval=None, ack_abs=None, window=None):
        """A builder for a segment of the established connection (see the class notes);
        ack_abs gives an absolute acknowledgment number instead."""
        ip = self._ip()
        tv = tsval if tsval is not None else 100 + self.n

        def build(ctx):
            isn = ctx.dut_isn(self.dport, self.sport)
            opts = [("NOP", None), ("NOP", None), ("Timestamp", (tv, self._dut_tsval(ctx)))] if self.ts else []
            a = ack_abs if ack_abs is not None else (isn + ack) & 0xFFFFFFFF
            t = TCP(sport=self.sport, dport=self.dport, flags=flags, seq=(self.isn + seq) & 0xFFFFFFFF,
                    ack=a if "A" in flags else 0, window=window if window is not None else self.window // 128,
                    options=opts)
            return eth(self.iface) / ip / t / data if data else eth(self.iface) / ip / t
        return build
