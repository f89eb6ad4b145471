. "$RXLIB/dut.sh"
std_addrs4
iptables -N PORTS
iptables -A INPUT -p tcp --dport 22 -j ACCEPT
iptables -A INPUT -p udp -j PORTS
iptables -A INPUT -p tcp --dport 1001 -j REJECT --reject-with tcp-reset
iptables -A INPUT -p tcp --dport 1002 -j DROP
iptables -A PORTS -p udp --dport 2001 -j REJECT --reject-with icmp-port-unreachable
iptables -A PORTS -p udp --dport 2002 -j REJECT --reject-with icmp-net-unreachable
iptables -A PORTS -p udp --dport 2003 -j REJECT --reject-with icmp-host-unreachable
iptables -A PORTS -p udp --dport 2004 -j REJECT --reject-with icmp-proto-unreachable
iptables -A PORTS -p udp --dport 2005 -j REJECT --reject-with icmp-net-prohibited
iptables -A PORTS -p udp --dport 2006 -j REJECT --reject-with icmp-host-prohibited
iptables -A PORTS -p udp --dport 2007 -j REJECT --reject-with icmp-admin-prohibited
iptables -A PORTS -p udp --dport 2008 -j RETURN
iptables -A INPUT -p udp --dport 2008 -j DROP
