# Helpers for scenario setup scripts. setup.sh runs inside the DUT namespace as
# `bash -eu setup.sh` with RXLIB set; start it with:  . "$RXLIB/dut.sh"
# Addresses and MACs match Fixtures/lib/rxtruth.py.

DUT_MAC_eth0=02:00:00:00:00:10; DUT_MAC_eth1=02:00:00:00:00:11
PEER_MAC_eth0=02:00:00:00:00:20; PEER_MAC_eth1=02:00:00:00:00:21
DUT4_eth0=192.0.2.1;      PEER4_eth0=192.0.2.2
DUT4_eth1=198.51.100.1;   PEER4_eth1=198.51.100.2
DUT6_eth0=2001:db8:1::1;  PEER6_eth0=2001:db8:1::2
DUT6_eth1=2001:db8:2::1;  PEER6_eth1=2001:db8:2::2
REMOTE_NET4=203.0.113.0/24; REMOTE_NET6=2001:db8:3::/64

# std_addrs4 [IFACE...]: the IPv4 address of each interface (default eth0 eth1) and permanent
# neighbour entries, all with the peer's MAC, for the peer address (.2) and for .3 to .9, so
# that scenarios can use a distinct source per frame (ICMP errors are rate limited per
# destination host: a burst of about two for ip_error, six for icmp_send).
std_addrs4() {
    local i ifs=("$@"); [ $# -eq 0 ] && ifs=(eth0 eth1)
    for i in "${ifs[@]}"; do
        local a="DUT4_$i" p="PEER4_$i" m="PEER_MAC_$i"
        ip addr add "${!a}/24" dev "$i"
        local n
        for n in 2 3 4 5 6 7 8 9; do
            ip neigh replace "${!p%.*}.$n" lladdr "${!m}" dev "$i" nud permanent
        done
    done
}

# std_addrs6 [IFACE...]: the same for IPv6 (no DAD; neighbours ::2 to ::9).
std_addrs6() {
    local i ifs=("$@"); [ $# -eq 0 ] && ifs=(eth0 eth1)
    for i in "${ifs[@]}"; do
        local a="DUT6_$i" p="PEER6_$i" m="PEER_MAC_$i"
        ip -6 addr add "${!a}/64" dev "$i" nodad
        local n
        for n in 2 3 4 5 6 7 8 9; do
            ip -6 neigh replace "${!p%::*}::$n" lladdr "${!m}" dev "$i" nud permanent
        done
        # the peer's EUI-64 link-local address (fe80::ff:fe00:20 / :21)
        ip -6 neigh replace "fe80::ff:fe00:${!m##*:}" lladdr "${!m}" dev "$i" nud permanent
    done
}

# std_addrs: IPv4 and IPv6 on eth0 and eth1.
std_addrs() { std_addrs4 eth0 eth1; std_addrs6 eth0 eth1; }

# std_router: std_addrs, forwarding on (IPv4 and IPv6) and routes to the remote networks
# behind the peer on eth1.
std_router() {
    std_addrs
    sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
    ip route add "$REMOTE_NET4" via "$PEER4_eth1" dev eth1
    ip -6 route add "$REMOTE_NET6" via "$PEER6_eth1" dev eth1
}

# listen_tcp PORT BACKLOG accept|noaccept|close [ADDR [FASTOPEN_QLEN]]: a TCP listener (ADDR
# default 0.0.0.0; "::" listens on both families). accept keeps accepted connections open,
# close closes each at once (the DUT sends FIN), noaccept never accepts. Returns once the
# socket is listening.
listen_tcp() { _listener tcp "$1" "${4:-0.0.0.0}" --backlog "$2" --mode "$3" --fastopen "${5:-0}"; }

# listen_udp PORT [ADDR [OPTION...]]: a bound UDP socket that reads and discards datagrams.
# Options (listen.py): --connect ADDR:PORT, --reuseport, --v6only, --join GROUP.
listen_udp() { _listener udp "$1" "${2:-0.0.0.0}" "${@:3}"; }

_listener() {
    local ready
    ready=$(mktemp)
    rm -f "$ready"
    setsid /usr/bin/python3 "$RXLIB/listen.py" --proto "$1" --port "$2" --addr "$3" --ready "$ready" "${@:4}" \
        </dev/null >/dev/null 2>&1 &
    local n=0
    until [ -e "$ready" ]; do
        n=$((n + 1)); [ $n -gt 200 ] && { echo "listener $1/$2 did not start" >&2; return 1; }
        sleep 0.02
    done
    rm -f "$ready"
}
