. "$RXLIB/dut.sh"
std_addrs4
ipset create blocked hash:ip
ipset add blocked 192.0.2.7
ipset add blocked 192.0.2.8
ipset create nets hash:net
ipset add nets 192.0.2.4/31
ipset create svc hash:ip,port
ipset add svc 192.0.2.2,udp:53
ipset add svc 192.0.2.2,tcp:8080
iptables -A INPUT -m set --match-set blocked src -j DROP
iptables -A INPUT -m set --match-set nets src -p udp -j REJECT --reject-with icmp-host-prohibited
iptables -A INPUT -m set --match-set svc src,dst -j ACCEPT
iptables -A INPUT -p udp -m set ! --match-set svc src,dst -j DROP
