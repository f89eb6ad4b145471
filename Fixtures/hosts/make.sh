#!/usr/bin/env bash
# Builds network namespaces with varied host setups, records each with
# `rxray snapshot --netns NAME -o Fixtures/hosts/NAME`, and removes the namespaces (always).
#
# Needs root. Usage: Fixtures/hosts/make.sh [RXRAY_BINARY]
# Deterministic content: fixed MAC addresses, DAD off, no traffic (counters stay 0), the
# collection date left out of MANIFEST and the namespace name replaced by the fixture name.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [[ $(id -u) -ne 0 ]]; then echo "make.sh: needs root (network namespaces)" >&2; exit 2; fi

rxray="${1:-}"
if [[ -z "$rxray" ]]; then
  (cd "$root" && swift build -j 2 --scratch-path .build-host --product rxray >&2)
  rxray="$(cd "$root" && swift build --scratch-path .build-host --show-bin-path)/rxray"
fi

tag="rxh$$"
namespaces=()
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [[ -n "$p" ]] && kill "$p" 2>/dev/null || true; done
  for n in "${namespaces[@]:-}"; do [[ -n "$n" ]] && ip netns del "$n" 2>/dev/null || true; done
}
trap cleanup EXIT

newns() {  # newns NAME: creates "$tag-NAME" (in $ns) with lo up and DAD off
  ns="$tag-$1"
  ip netns add "$ns"
  namespaces+=("$ns")
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# listen NS ARGS...: python3 keeps sockets open until killed. Each arg: tcp:ADDR:PORT:BACKLOG[:DEV],
# tcp6:..., udp:ADDR:PORT[:DEV], udp6:..., udp6only:ADDR:PORT.
listen() {
  local ns="$1"; shift
  ip netns exec "$ns" python3 - "$@" <<'PY' &
import socket, sys, time, signal
keep = []
for spec in sys.argv[1:]:
    kind, rest = spec.split(":", 1)
    addr, _, tail = rest.rpartition("@")
    parts = tail.split(":")
    port = int(parts[0])
    fam = socket.AF_INET6 if kind.endswith("6") or kind == "udp6only" else socket.AF_INET
    typ = socket.SOCK_STREAM if kind.startswith("tcp") else socket.SOCK_DGRAM
    s = socket.socket(fam, typ)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if kind == "udp6only":
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    dev = parts[2] if typ == socket.SOCK_STREAM and len(parts) > 2 else (parts[1] if typ == socket.SOCK_DGRAM and len(parts) > 1 else "")
    if dev:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
    s.bind((addr, port))
    if typ == socket.SOCK_STREAM:
        s.listen(int(parts[1]))
    keep.append(s)
print("ready", flush=True)
signal.pause()
PY
  pids+=("$!")
  local want=$#
  for _ in $(seq 50); do
    [[ $(ip netns exec "$ns" ss -H -tuln | wc -l) -ge $want ]] && return 0
    sleep 0.1
  done
  echo "make.sh: listeners in $ns did not come up" >&2; exit 1
}

record() {  # record NS NAME
  local ns="$1" name="$2" out="$here/$2"
  rm -rf "$out"
  "$rxray" snapshot --netns "$ns" --no-date -o "$out"
  sed -i "s/^netns: .*/netns: $name/" "$out/MANIFEST"
  # ip -j prints the peer's netns id for cross-namespace veths; it is stable per setup.
  echo "recorded $out" >&2
}

# --- basic: one uplink, IPv4+IPv6, default routes, listeners with two backlogs, UDP ----------
newns basic
ip -n "$ns" link add eth0 address 02:00:00:00:01:01 type veth peer name peer0 address 02:00:00:00:01:fe
ip -n "$ns" link set eth0 up
ip -n "$ns" link set peer0 up
ip -n "$ns" addr add 192.0.2.10/24 brd + dev eth0
ip -n "$ns" addr add 2001:db8:1::10/64 dev eth0 nodad
ip -n "$ns" route add default via 192.0.2.1 dev eth0 metric 100
ip -n "$ns" -6 route add default via 2001:db8:1::1 dev eth0 metric 1024
ip -n "$ns" neigh add 192.0.2.1 lladdr 02:00:00:00:01:fe dev eth0 nud permanent
listen "$ns" tcp:0.0.0.0@80:128 tcp6:::@8443:5 tcp:192.0.2.10@22:17:eth0 udp:0.0.0.0@53 udp6only:::@123
record "$ns" basic

# --- router: several interfaces, bridge, macvlan, policy routing, reject routes, firewall ------
newns router
ip -n "$ns" link add eth0 address 02:00:00:00:02:01 type veth peer name peer0 address 02:00:00:00:02:f1
ip -n "$ns" link add eth1 address 02:00:00:00:02:02 type veth peer name peer1 address 02:00:00:00:02:f2
ip -n "$ns" link add eth2 address 02:00:00:00:02:03 type veth peer name peer2 address 02:00:00:00:02:f3
ip -n "$ns" link add br0 address 02:00:00:00:02:b0 type bridge
ip -n "$ns" link set eth2 master br0
ip -n "$ns" link add link eth0 name mv0 address 02:00:00:00:02:a0 type macvlan mode bridge
for d in eth0 eth1 eth2 br0 mv0 peer0 peer1 peer2; do ip -n "$ns" link set "$d" up; done
ip -n "$ns" link set eth1 promisc on
ip -n "$ns" link set eth1 mtu 9000
ip -n "$ns" addr add 198.51.100.2/24 dev eth0
ip -n "$ns" addr add 198.51.100.3/24 dev eth0
ip -n "$ns" addr add 10.1.0.1/16 brd + dev eth1
ip -n "$ns" addr add 10.2.0.1/24 dev br0
ip -n "$ns" addr add 198.51.100.50/32 dev mv0
ip -n "$ns" addr add 2001:db8:2::1/64 dev eth1 nodad
ip -n "$ns" -6 addr add 2001:db8:3::1/64 dev br0 nodad
ip -n "$ns" route add default via 198.51.100.1 dev eth0 proto static metric 50 mtu 1400
ip -n "$ns" route add 10.50.0.0/16 via 10.1.0.254 dev eth1 src 10.1.0.1
ip -n "$ns" route add blackhole 192.0.2.0/24
ip -n "$ns" route add unreachable 203.0.113.0/24 table 100
ip -n "$ns" route add prohibit 203.0.113.128/25 table 100 metric 7
ip -n "$ns" route add throw 10.0.0.0/8 table 200
ip -n "$ns" route add default table 200 nexthop via 10.1.0.2 dev eth1 weight 1 nexthop via 10.1.0.3 dev eth1 weight 3
ip -n "$ns" -6 route add 2001:db8:99::/48 via 2001:db8:2::fe dev eth1
ip -n "$ns" -6 route add unreachable 2001:db8:dead::/48
ip -n "$ns" rule add from 10.1.0.0/16 table 100 pref 100
ip -n "$ns" rule add fwmark 0x10/0xff iif eth1 table 200 pref 200
ip -n "$ns" rule add to 198.18.0.0/15 unreachable pref 300
ip -n "$ns" rule add tos 0x10 prohibit pref 310
ip -n "$ns" rule add oif eth0 blackhole pref 320
ip -n "$ns" rule add table main suppress_prefixlength 0 pref 400
ip -n "$ns" rule add not from 10.2.0.0/24 goto 32766 pref 410
ip -n "$ns" rule add ipproto tcp dport 22 sport 1000-2000 table 100 pref 420
ip -n "$ns" -6 rule add from 2001:db8:2::/64 table 100 pref 100
ip -n "$ns" neigh add 198.51.100.1 lladdr 02:00:00:00:02:f1 dev eth0 nud permanent
ip -n "$ns" neigh add 10.1.0.2 lladdr 02:00:00:00:02:f2 dev eth1 nud permanent
ip -n "$ns" neigh add 2001:db8:2::fe lladdr 02:00:00:00:02:f2 dev eth1 nud permanent
ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=2 net.ipv4.conf.eth1.rp_filter=0
ip netns exec "$ns" sysctl -qw net.ipv4.conf.eth1.accept_local=1 net.ipv4.conf.all.route_localnet=0 net.ipv4.conf.br0.route_localnet=1
ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.eth0.arp_ignore=2
ip netns exec "$ns" sysctl -qw net.ipv4.tcp_syncookies=2 net.core.somaxconn=256
ip netns exec "$ns" ethtool -K eth0 gro on
ip netns exec "$ns" iptables -P FORWARD DROP
ip netns exec "$ns" iptables -A INPUT -i lo -j ACCEPT
ip netns exec "$ns" iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
ip netns exec "$ns" iptables -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
ip netns exec "$ns" iptables -A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT
ip netns exec "$ns" iptables -A INPUT -j DROP
ip netns exec "$ns" iptables -A FORWARD -i eth1 -o eth0 -j ACCEPT
ip netns exec "$ns" iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE
ip netns exec "$ns" ip6tables -A INPUT -p ipv6-icmp -j ACCEPT
ip netns exec "$ns" ip6tables -A INPUT -p tcp --dport 443 -j REJECT --reject-with tcp-reset
ip netns exec "$ns" nft add table inet fw
ip netns exec "$ns" nft add chain inet fw pre '{ type filter hook prerouting priority -150; policy accept; }'
ip netns exec "$ns" nft add rule inet fw pre iifname eth1 ip saddr 10.99.0.0/16 drop
ip netns exec "$ns" ipset create allowed hash:ip
ip netns exec "$ns" ipset add allowed 10.1.0.7
listen "$ns" tcp:0.0.0.0@22:128 tcp:10.2.0.1@8080:5 tcp6:2001:db8:2::1@443:64 udp:0.0.0.0@67:br0
record "$ns" router

echo "done" >&2
