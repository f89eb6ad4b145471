#!/usr/bin/env bash
# Writes the small capture fixtures in this folder with real tools, and next to each one the
# fields tshark decodes from it (FILE.tsv). See README.md for what each file holds.
#
# Frames come from frames.py (scapy, fixed addresses and timestamps) as hex dumps; the files
# themselves are written by text2pcap, tcpdump, editcap, mergecap and tshark. Re-running on
# the same tool versions gives the same bytes, except that pcapng section headers written by
# Wireshark tools record the running OS (shb_os).
#
# Needs: /usr/bin/python3 with scapy, text2pcap, editcap, mergecap, tshark, tcpdump.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
for tool in text2pcap editcap mergecap tshark tcpdump; do
  command -v "$tool" >/dev/null || { echo "make.sh: $tool is missing (apt-get install tshark tcpdump)" >&2; exit 2; }
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export TZ=UTC LC_ALL=C

/usr/bin/python3 frames.py "$work"

# text2pcap: hex dump -> capture. $1 name, $2 LINKTYPE number, $3 output format, $4 interface
# name, $5 output. Run inside $work so the pcapng comment names the input without a temp path.
t2p() { (cd "$work" && text2pcap -q -t ISO -l "$2" -F "$3" -N "$4" "$1.txt" "$5"); }

# Classic pcap, microseconds: text2pcap writes pcapng, tcpdump re-writes it as pcap.
pcap_via_tcpdump() { # name linktype ifname out
  t2p "$1" "$2" pcapng "$3" "$work/$1.pcapng"
  tcpdump -r "$work/$1.pcapng" -w "$4" 2>/dev/null
}
pcap_via_tcpdump eth 1 eth0 eth.pcap
pcap_via_tcpdump eth-ipv6 1 eth0 eth-ipv6.pcap
pcap_via_tcpdump eth-vlan 1 eth0 eth-vlan.pcap
pcap_via_tcpdump bad-checksum 1 eth0 bad-checksum.pcap
pcap_via_tcpdump malformed 1 eth0 malformed.pcap
pcap_via_tcpdump sll 113 any sll.pcap
pcap_via_tcpdump sll2 276 any sll2.pcap
pcap_via_tcpdump raw 101 tun0 raw.pcap
pcap_via_tcpdump ipv4 228 ip4tun ipv4.pcap
pcap_via_tcpdump ipv6 229 ip6tun ipv6.pcap
pcap_via_tcpdump null 0 lo0 null.pcap
pcap_via_tcpdump loop 108 lo0 loop.pcap

# Nanosecond pcap written by editcap from text2pcap's nanosecond timestamps.
editcap -F nsecpcap "$work/eth-ipv6.pcapng" eth-ipv6-nsec.pcap

# Snap length 60 (what `tcpdump -s 60` records): editcap cuts every frame to 60 bytes.
editcap -F pcap -s 60 eth.pcap eth-snap60.pcap

# Byte-swapped (big-endian) pcaps: written by scapy, the one tool here that can.
cp "$work/eth-swapped.pcap" eth-swapped.pcap
cp "$work/eth-swapped-nsec.pcap" eth-swapped-nsec.pcap

# pcapng written by tshark (from the pcap), with two frame comments added by editcap.
tshark -r eth.pcap -F pcapng -w "$work/eth-tshark.pcapng" 2>/dev/null
editcap -a "3:SYN with every TCP option kind" -a "13:first IPv4 fragment (MF)" "$work/eth-tshark.pcapng" eth.pcapng

# One pcapng that mixes link types: eth0 (EN10MB), any (LINUX_SLL2), tun0 (RAW). mergecap
# keeps one interface per input; frames are interleaved by timestamp; editcap adds comments.
t2p eth 1 pcapng eth0 "$work/m-eth.pcapng"
t2p sll2 276 pcapng any "$work/m-sll2.pcapng"
t2p raw 101 pcapng tun0 "$work/m-raw.pcapng"
# Inputs share timestamps, so frames 1-3 are tun0, any, eth0 (mergecap's tie order).
(cd "$work" && mergecap -w multi.pcapng m-eth.pcapng m-sll2.pcapng m-raw.pcapng)
editcap -a "1:raw IPv4 TCP SYN on tun0" -a "2:SLL2 frame from the any interface" \
  -a "3:ARP who-has on eth0 — UTF-8 comment ✓" "$work/multi.pcapng" multi.pcapng

# Expected fields, one TSV per capture (format in README.md).
fields=(frame.number frame.time_epoch frame.len frame.cap_len eth.src eth.dst ip.src ip.dst
        ipv6.src ipv6.dst tcp.srcport tcp.dstport udp.srcport udp.dstport tcp.flags frame.comment)
args=()
for f in "${fields[@]}"; do args+=(-e "$f"); done
for cap in *.pcap *.pcapng; do
  tshark -n -r "$cap" -T fields -E header=y -E separator=/t -E occurrence=f -E quote=n \
    -o ip.defragment:FALSE -o ipv6.defragment:FALSE -o tcp.desegment_tcp_streams:FALSE \
    -o ip.check_checksum:FALSE -o tcp.check_checksum:FALSE -o udp.check_checksum:FALSE \
    -t e -u s "${args[@]}" 2>/dev/null > "$cap.tsv"
done
ls -l *.pcap *.pcapng | awk '{print $5, $9}'
