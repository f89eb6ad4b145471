. "$RXLIB/dut.sh"
std_router
ip link set eth1 mtu 576
iptables -A FORWARD -p udp --dport 5001 -j DROP
iptables -A INPUT -m conntrack --ctstate INVALID -j DROP
