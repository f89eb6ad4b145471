. "$RXLIB/dut.sh"
std_router
listen_udp 5000
iptables -t mangle -A PREROUTING -f -j DROP
iptables -A FORWARD -p udp --dport 5001 -j DROP
iptables -A INPUT -m conntrack --ctstate INVALID -j DROP
