. "$RXLIB/dut.sh"
std_router
ip link set eth1 mtu 1280
listen_udp 5000 ::
ip6tables -A FORWARD -p udp --dport 5001 -j DROP
ip6tables -A INPUT -p udp --dport 5002 -j DROP
ip6tables -A INPUT -m conntrack --ctstate INVALID -j DROP
