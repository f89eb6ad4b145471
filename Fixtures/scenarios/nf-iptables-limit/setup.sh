. "$RXLIB/dut.sh"
std_addrs4
listen_udp 7000
iptables -A INPUT -p udp --dport 7000 -m limit --limit 2/second --limit-burst 3 -j ACCEPT
iptables -A INPUT -p udp --dport 7000 -j DROP
iptables -A INPUT -p udp --dport 7001 -m hashlimit --hashlimit-name perhost --hashlimit-mode srcip --hashlimit-above 2/second --hashlimit-burst 2 -j DROP
listen_udp 7001
