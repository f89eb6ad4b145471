. "$RXLIB/dut.sh"
std_addrs4
sysctl -qw net.ipv4.conf.eth0.arp_accept=1 net.ipv4.conf.eth1.arp_accept=0
