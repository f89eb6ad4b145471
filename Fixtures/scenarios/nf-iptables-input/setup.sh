. "$RXLIB/dut.sh"
std_addrs
iptables -N SERVICES
iptables -A SERVICES -p tcp -m multiport --dports 8000:8099 -j REJECT --reject-with tcp-reset
iptables -A SERVICES -p udp --dport 53 -j ACCEPT
iptables -A SERVICES -p udp --dport 54 -j REJECT --reject-with icmp-admin-prohibited
iptables -A SERVICES -j RETURN
iptables -A INPUT -s 192.0.2.7 -j DROP
iptables -A INPUT -s 192.0.2.8/32 -j DROP
iptables -A INPUT -p tcp -j SERVICES
iptables -A INPUT -p udp -j SERVICES
iptables -A INPUT -p udp --dport 9999 -j DROP
# the mangle table's INPUT runs before filter's
iptables -t mangle -A INPUT -p udp --dport 55 -j DROP
ip6tables -A INPUT -p ipv6-icmp --icmpv6-type echo-request -j REJECT --reject-with icmp6-addr-unreachable
