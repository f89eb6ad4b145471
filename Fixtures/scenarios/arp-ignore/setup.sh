. "$RXLIB/dut.sh"
std_addrs4
sysctl -qw net.ipv4.conf.all.arp_ignore=1
