. "$RXLIB/dut.sh"
std_addrs4
listen_tcp 8080 16 accept
iptables -t nat -A PREROUTING -i eth0 -p tcp --dport 80 -j REDIRECT --to-ports 8080
