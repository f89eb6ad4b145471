. "$RXLIB/dut.sh"
std_router
listen_tcp 2222 16 accept
iptables -t nat -A PREROUTING -i eth0 -p tcp --dport 8080 -j DNAT --to-destination 203.0.113.7:80
iptables -t nat -A PREROUTING -i eth0 -p tcp --dport 22 -j REDIRECT --to-ports 2222
iptables -t nat -A POSTROUTING -o eth1 -p tcp -s 192.0.2.3 -j SNAT --to-source 198.51.100.9:20005
iptables -t nat -A POSTROUTING -o eth1 -s 192.0.2.0/24 -j MASQUERADE
