. "$RXLIB/dut.sh"
std_addrs4
listen_udp 5000
sysctl -qw net.ipv4.ipfrag_time=1
