. "$RXLIB/dut.sh"
# a small router: LAN on eth0 (192.0.2.0/24), WAN on eth1 (198.51.100.0/24), a remote network
# 203.0.113.0/24 behind the WAN peer; forwarding on
std_router
# an SSH-like TCP listener and a DNS-like UDP socket
listen_tcp 22 16 accept
listen_udp 53
# INPUT filter: no SSH from the WAN, telnet dropped, SNMP rejected
iptables -A INPUT -i eth1 -p tcp --dport 22 -j DROP
iptables -A INPUT -p tcp --dport 23 -j DROP
iptables -A INPUT -p udp --dport 161 -j REJECT --reject-with icmp-admin-prohibited
