#!/usr/bin/python3
"""Builds the frames of the capture fixtures with scapy and writes them as text2pcap hex
dumps (ISO timestamps, nanoseconds) plus two byte-swapped pcaps that only scapy can write.
Called by make.sh with the output directory for the intermediate files; deterministic:
fixed addresses, fixed timestamps, no randomness (every scapy field that would be random
is given)."""
import struct
import sys
import datetime
import warnings

warnings.filterwarnings("ignore")
from scapy.all import (Ether, Dot1Q, Dot1AD, ARP, IP, IPv6, TCP, UDP, ICMP, Raw, raw,
                       IPOption_RR, IPOption_Router_Alert, IPv6ExtHdrHopByHop, RouterAlert,
                       IPv6ExtHdrRouting, IPv6ExtHdrFragment, IPv6ExtHdrDestOpt, PadN,
                       ICMPv6EchoRequest, ICMPv6EchoReply, ICMPv6ND_NS, ICMPv6ND_NA,
                       ICMPv6NDOptSrcLLAddr, ICMPv6NDOptDstLLAddr, ICMPv6DestUnreach,
                       RawPcapWriter)

OUT = sys.argv[1]
BASE = 1700000000  # 2023-11-14T22:13:20Z

A_MAC, B_MAC, R_MAC = "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:01"
A4, B4, R4, FAR4 = "192.0.2.10", "192.0.2.11", "192.0.2.1", "198.51.100.7"
A6, B6, FAR6 = "2001:db8::a", "2001:db8::b", "2001:db8:1::7"


def ts(i):
    """Distinct seconds and nanosecond digits per frame."""
    return BASE + i, (123456789 * (i + 1)) % 1000000000


def iso(i):
    sec, ns = ts(i)
    day = datetime.datetime.fromtimestamp(sec, datetime.timezone.utc)
    return day.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % ns


def dump(name, frames):
    with open("%s/%s.txt" % (OUT, name), "w") as f:
        for i, frame in enumerate(frames):
            data = frame if isinstance(frame, bytes) else raw(frame)
            f.write(iso(i) + "\n")
            for off in range(0, len(data), 16):
                f.write("%06x  %s\n" % (off, " ".join("%02x" % b for b in data[off:off + 16])))
            f.write("\n")


def eth(src=A_MAC, dst=B_MAC):
    return Ether(src=src, dst=dst)


syn_options = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (100, 0)), ("NOP", None),
               ("WScale", 7), (253, b"\x4e\x21")]  # 253: RFC 4727 experimental, unknown to decoders
sack_options = [("NOP", None), ("NOP", None), ("Timestamp", (101, 100)), ("NOP", None), ("NOP", None),
                ("SAck", (2001, 3001, 4001, 5001))]

ipv4_frames = [
    eth(A_MAC, "ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=A_MAC, psrc=A4, hwdst="00:00:00:00:00:00", pdst=B4),
    eth(B_MAC, A_MAC) / ARP(op=2, hwsrc=B_MAC, psrc=B4, hwdst=A_MAC, pdst=A4),
    eth() / IP(src=A4, dst=B4, id=1, ttl=64, flags="DF") / TCP(sport=40000, dport=80, seq=1000, flags="S", window=64240, options=syn_options),
    eth(B_MAC, A_MAC) / IP(src=B4, dst=A4, id=0, ttl=64, flags="DF") / TCP(sport=80, dport=40000, seq=2000, ack=1001, flags="SA", window=65160,
                                                                       options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (200, 100)), ("NOP", None), ("WScale", 7)]),
    eth() / IP(src=A4, dst=B4, id=2, ttl=64, flags="DF") / TCP(sport=40000, dport=80, seq=1001, ack=2001, flags="PA", window=502, options=sack_options) / Raw(b"GET / HTTP/1.0\r\n\r\n"),
    eth() / IP(src=A4, dst=B4, id=3, ttl=64) / UDP(sport=5353, dport=53) / Raw(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"),
    eth() / IP(src=A4, dst=B4, id=4, ttl=64) / ICMP(type=8, code=0, id=0x1c, seq=1) / Raw(b"rxray-ping-payload"),
    eth(B_MAC, A_MAC) / IP(src=B4, dst=A4, id=5, ttl=64) / ICMP(type=0, code=0, id=0x1c, seq=1) / Raw(b"rxray-ping-payload"),
    eth(B_MAC, A_MAC) / IP(src=B4, dst=A4, id=6, ttl=64) / ICMP(type=3, code=3) / IP(src=A4, dst=B4, id=3, ttl=64) / UDP(sport=5353, dport=9999) / Raw(b"probe"),
    eth(R_MAC, A_MAC) / IP(src=R4, dst=A4, id=7, ttl=255) / ICMP(type=11, code=0) / IP(src=A4, dst=FAR4, id=8, ttl=1) / UDP(sport=33434, dport=33435),
    eth(R_MAC, A_MAC) / IP(src=R4, dst=A4, id=9, ttl=255) / ICMP(type=3, code=4, nexthopmtu=1400) / IP(src=A4, dst=FAR4, id=10, ttl=63, flags="DF") / TCP(sport=40001, dport=443, seq=5, flags="A"),
    eth() / IP(src=A4, dst=B4, id=11, ttl=1, options=[IPOption_RR(routers=["0.0.0.0", "0.0.0.0"]), IPOption_Router_Alert()]) / UDP(sport=1000, dport=2000) / Raw(b"opts"),
    # A UDP datagram of 8+40 bytes in two fragments: 24 bytes (offset 0, MF) then 24 bytes (offset 3).
]
frag_payload = raw(UDP(sport=4000, dport=5000, len=48, chksum=0) / Raw(b"F" * 40))
ipv4_frames += [
    eth() / IP(src=A4, dst=B4, id=0x4242, ttl=64, flags="MF", frag=0, proto=17) / Raw(frag_payload[:24]),
    eth() / IP(src=A4, dst=B4, id=0x4242, ttl=64, flags=0, frag=3, proto=17) / Raw(frag_payload[24:]),
]
dump("eth", ipv4_frames)

frag6_payload = raw(UDP(sport=4000, dport=5000, len=48, chksum=0x1111) / Raw(b"G" * 40))
tcp6_bgp = raw(IPv6(src=A6, dst=B6) / TCP(sport=40003, dport=179, seq=1, flags="S", window=1000))[40:]
ipv6_frames = [
    eth("02:00:00:00:00:0a", "33:33:ff:00:00:0b") / IPv6(src=A6, dst="ff02::1:ff00:b", hlim=255) / ICMPv6ND_NS(tgt=B6) / ICMPv6NDOptSrcLLAddr(lladdr=A_MAC),
    eth(B_MAC, A_MAC) / IPv6(src=B6, dst=A6, hlim=255) / ICMPv6ND_NA(tgt=B6, R=0, S=1, O=1) / ICMPv6NDOptDstLLAddr(lladdr=B_MAC),
    eth() / IPv6(src=A6, dst=B6, hlim=64) / ICMPv6EchoRequest(id=7, seq=1, data=b"rxray6"),
    eth(B_MAC, A_MAC) / IPv6(src=B6, dst=A6, hlim=64) / ICMPv6EchoReply(id=7, seq=1, data=b"rxray6"),
    eth() / IPv6(src=A6, dst=B6, hlim=64) / TCP(sport=40002, dport=22, seq=9, flags="S", window=64800, options=syn_options),
    eth() / IPv6(src=A6, dst=B6, hlim=64) / UDP(sport=5353, dport=53) / Raw(b"v6-udp"),
    eth() / IPv6(src=A6, dst=B6, hlim=1) / IPv6ExtHdrHopByHop(options=[RouterAlert(value=0)]) / UDP(sport=1001, dport=2001) / Raw(b"hbh"),
    eth() / IPv6(src=A6, dst=B6, hlim=64) / IPv6ExtHdrRouting(type=0, segleft=1, addresses=[FAR6]) / UDP(sport=1002, dport=2002) / Raw(b"rh0"),
    eth() / IPv6(src=A6, dst=B6, hlim=64, nh=44) / IPv6ExtHdrFragment(nh=17, offset=0, m=1, id=0x6666) / Raw(frag6_payload[:24]),
    eth() / IPv6(src=A6, dst=B6, hlim=64, nh=44) / IPv6ExtHdrFragment(nh=17, offset=3, m=0, id=0x6666) / Raw(frag6_payload[24:]),
    eth() / IPv6(src=A6, dst=B6, hlim=64) / IPv6ExtHdrDestOpt(options=[PadN(optdata=b"\x00\x00\x00\x00")]) / UDP(sport=1003, dport=2003) / Raw(b"dst"),
    # AH (next header TCP, 12-byte ICV, so length field 4), built by hand: scapy's AH leaves the length 0.
    eth() / IPv6(src=A6, dst=B6, hlim=64, nh=51) / Raw(struct.pack(">BBHII", 6, 4, 0, 0x100, 1) + b"\x00" * 12 + tcp6_bgp),
    eth() / IPv6(src=A6, dst=B6, hlim=64, nh=50) / Raw(struct.pack(">II", 0x200, 1) + b"\xaa" * 24),
    eth(B_MAC, A_MAC) / IPv6(src=B6, dst=A6, hlim=64) / ICMPv6DestUnreach(code=4) / IPv6(src=A6, dst=B6, hlim=64) / UDP(sport=5353, dport=9999) / Raw(b"probe6"),
]
dump("eth-ipv6", ipv6_frames)

vlan_frames = [
    eth() / Dot1Q(vlan=100, prio=3) / IP(src=A4, dst=B4, id=20, ttl=64) / TCP(sport=40010, dport=80, seq=1, flags="S", window=1000),
    eth(A_MAC, "ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=100) / ARP(op=1, hwsrc=A_MAC, psrc=A4, hwdst="00:00:00:00:00:00", pdst=B4),
    eth() / Dot1AD(vlan=200) / Dot1Q(vlan=300) / IP(src=A4, dst=B4, id=21, ttl=64) / UDP(sport=1111, dport=2222) / Raw(b"qinq"),
    eth() / Dot1Q(vlan=10) / Dot1Q(vlan=20) / IPv6(src=A6, dst=B6, hlim=64) / UDP(sport=1112, dport=2223) / Raw(b"q-in-q 8100"),
]
dump("eth-vlan", vlan_frames)

# Checksums deliberately wrong (every length right).
bad_frames = [
    eth() / IP(src=A4, dst=B4, id=30, ttl=64, chksum=0x1234) / UDP(sport=1, dport=2) / Raw(b"bad ip csum"),
    eth() / IP(src=A4, dst=B4, id=31, ttl=64) / TCP(sport=40020, dport=80, seq=1, flags="S", window=1000, chksum=0xdead),
    eth() / IP(src=A4, dst=B4, id=32, ttl=64) / UDP(sport=3, dport=4, chksum=0xbeef) / Raw(b"bad udp csum"),
    eth() / IP(src=A4, dst=B4, id=33, ttl=64) / ICMP(type=8, id=1, seq=1, chksum=0x1111),
    eth() / IPv6(src=A6, dst=B6, hlim=64) / UDP(sport=5, dport=6, chksum=0xbeef) / Raw(b"bad udp6 csum"),
]
dump("bad-checksum", bad_frames)


def patch(frame, offset, value):
    data = bytearray(raw(frame))
    data[offset:offset + len(value)] = value
    return bytes(data)


good_tcp = eth() / IP(src=A4, dst=B4, id=40, ttl=64) / TCP(sport=40030, dport=80, seq=1, flags="S", window=1000)
good_udp = eth() / IP(src=A4, dst=B4, id=41, ttl=64) / UDP(sport=7, dport=8) / Raw(b"x" * 8)
good_udp6 = eth() / IPv6(src=A6, dst=B6, hlim=64) / UDP(sport=7, dport=8) / Raw(b"y" * 8)
malformed_frames = [
    patch(good_tcp, 14, b"\x44"),            # IPv4 IHL 4 (< 5)
    patch(good_tcp, 16, b"\x05\xdc"),        # IPv4 total length 1500 > frame
    patch(good_tcp, 14, b"\x65"),            # version 6 under ethertype 0x0800
    patch(good_tcp, 14 + 20 + 12, b"\x30"),  # TCP data offset 3 (< 5)
    raw(good_tcp)[:10],                      # shorter than an Ethernet header
    patch(good_udp, 14 + 20 + 4, b"\x00\x04"),   # UDP length 4 (< 8)
    patch(good_udp6, 14 + 4, b"\x05\x00"),   # IPv6 payload length 1280 > frame
    raw(good_tcp)[:14 + 12],                 # IPv4 header cut after 12 bytes
]
dump("malformed", malformed_frames)


def sll(pkttype, proto, payload, addr=A_MAC):
    mac = bytes(int(x, 16) for x in addr.split(":"))
    return struct.pack(">HHH", pkttype, 1, 6) + mac + b"\x00\x00" + struct.pack(">H", proto) + payload


def sll2(pkttype, proto, ifindex, payload, addr=A_MAC):
    mac = bytes(int(x, 16) for x in addr.split(":"))
    return struct.pack(">HHIHBB", proto, 0, ifindex, 1, pkttype, 6) + mac + b"\x00\x00" + payload


ip_tcp = raw(IP(src=A4, dst=B4, id=50, ttl=64) / TCP(sport=40040, dport=80, seq=1, flags="S", window=1000))
ip_udp = raw(IP(src=A4, dst="255.255.255.255", id=51, ttl=64) / UDP(sport=68, dport=67) / Raw(b"dhcp?"))
ip_icmp_out = raw(IP(src=B4, dst=A4, id=52, ttl=64) / ICMP(type=0, id=2, seq=2))
ip_other = raw(IP(src=A4, dst=FAR4, id=53, ttl=64) / UDP(sport=9, dport=9) / Raw(b"otherhost"))
arp_req = raw(ARP(op=1, hwsrc=A_MAC, psrc=A4, hwdst="00:00:00:00:00:00", pdst=B4))
ip6_udp = raw(IPv6(src=A6, dst=B6, hlim=64) / UDP(sport=1, dport=2) / Raw(b"sll-v6"))
# Packet types: 0 host, 1 broadcast, 2 multicast, 3 otherhost, 4 outgoing.
dump("sll", [sll(0, 0x0800, ip_tcp), sll(1, 0x0800, ip_udp), sll(4, 0x0800, ip_icmp_out, B_MAC),
             sll(3, 0x0800, ip_other), sll(1, 0x0806, arp_req), sll(0, 0x86DD, ip6_udp)])
dump("sll2", [sll2(0, 0x0800, 2, ip_tcp), sll2(1, 0x0800, 2, ip_udp), sll2(4, 0x0800, 3, ip_icmp_out, B_MAC),
              sll2(3, 0x0800, 2, ip_other), sll2(1, 0x0806, 2, arp_req), sll2(0, 0x86DD, 3, ip6_udp)])

ip4_list = [ip_tcp, raw(IP(src=A4, dst=B4, id=54, ttl=64) / UDP(sport=1234, dport=53) / Raw(b"raw-udp")),
            raw(IP(src=A4, dst=B4, id=55, ttl=64) / ICMP(type=8, id=3, seq=1))]
ip6_list = [ip6_udp, raw(IPv6(src=A6, dst=B6, hlim=64) / TCP(sport=40050, dport=443, seq=1, flags="S", window=1000)),
            raw(IPv6(src=A6, dst=B6, hlim=64) / ICMPv6EchoRequest(id=9, seq=1))]
dump("raw", ip4_list[:2] + ip6_list[:2])
dump("ipv4", ip4_list)
dump("ipv6", ip6_list)
# BSD loopback: 4-byte address family, host (little-endian here) order for NULL, network order for LOOP.
# AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (Darwin).
dump("null", [struct.pack("<I", 2) + ip4_list[0], struct.pack("<I", 2) + ip4_list[1],
              struct.pack("<I", 30) + ip6_list[0], struct.pack("<I", 24) + ip6_list[1]])
dump("loop", [struct.pack(">I", 2) + ip4_list[0], struct.pack(">I", 24) + ip6_list[0], struct.pack(">I", 2) + ip4_list[2]])


def write_swapped(name, frames, nano):
    """Big-endian pcap: no Wireshark tool or tcpdump writes the other byte order on a
    little-endian host, scapy's pcap writer does."""
    w = RawPcapWriter("%s/%s" % (OUT, name), linktype=1, endianness=">", nano=nano, snaplen=65535)
    w._write_header(None)  # write_packet alone does not write the file header
    for i, frame in enumerate(frames):
        sec, ns = ts(i)
        data = raw(frame)
        w.write_packet(data, sec=sec, usec=(ns if nano else ns // 1000), caplen=len(data), wirelen=len(data))
    w.close()


write_swapped("eth-swapped.pcap", ipv4_frames[:6], nano=False)
write_swapped("eth-swapped-nsec.pcap", ipv4_frames[:6], nano=True)
