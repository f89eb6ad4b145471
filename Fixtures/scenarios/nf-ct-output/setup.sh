. "$RXLIB/dut.sh"
std_addrs4
listen_tcp 80 16 accept
iptables -A INPUT -m conntrack --ctstate INVALID -j DROP
iptables -A OUTPUT -p icmp --icmp-type echo-reply -d 192.0.2.3 -j DROP
iptables -A OUTPUT -p tcp --tcp-flags RST RST -d 192.0.2.4 -j DROP
