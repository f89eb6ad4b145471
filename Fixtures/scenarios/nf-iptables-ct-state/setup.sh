. "$RXLIB/dut.sh"
std_addrs4
listen_tcp 80 16 accept
iptables -A INPUT -m conntrack --ctstate INVALID -j DROP
iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
iptables -A INPUT -p tcp --dport 80 -m conntrack --ctstate NEW -j ACCEPT
iptables -A INPUT -p udp --dport 7 -j ACCEPT
iptables -A INPUT -m state --state NEW -p udp --dport 8 -j REJECT
sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
