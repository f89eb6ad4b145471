. "$RXLIB/dut.sh"
std_addrs
listen_udp 5000 ::
sysctl -qw net.ipv4.ipfrag_time=1 net.ipv6.ip6frag_time=1
iptables -A OUTPUT -p icmp -d 192.0.2.2 -j DROP
ip6tables -A OUTPUT -p ipv6-icmp -d 2001:db8:1::2 -j DROP
