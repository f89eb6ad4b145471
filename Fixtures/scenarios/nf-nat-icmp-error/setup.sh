. "$RXLIB/dut.sh"
std_router
iptables -t nat -A PREROUTING -i eth0 -p udp --dport 5353 -j DNAT --to-destination 203.0.113.7:53
iptables -t nat -A POSTROUTING -o eth1 -s 192.0.2.0/24 -j MASQUERADE
iptables -A FORWARD -m conntrack --ctstate INVALID -j DROP
