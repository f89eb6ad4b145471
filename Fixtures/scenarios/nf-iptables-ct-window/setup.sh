. "$RXLIB/dut.sh"
std_router
iptables -A FORWARD -m conntrack --ctstate INVALID -j DROP
