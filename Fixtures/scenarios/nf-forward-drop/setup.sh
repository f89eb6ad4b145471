. "$RXLIB/dut.sh"
std_router
iptables -P FORWARD DROP
iptables -A FORWARD -p udp --dport 53 -j ACCEPT
iptables -A FORWARD -p tcp --dport 25 -j REJECT --reject-with tcp-reset
