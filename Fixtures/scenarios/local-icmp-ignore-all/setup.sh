. "$RXLIB/dut.sh"
std_addrs
sysctl -qw net.ipv4.icmp_echo_ignore_all=1 net.ipv6.icmp.echo_ignore_all=1
