. "$RXLIB/dut.sh"
std_addrs4
sysctl -qw net.ipv4.tcp_syncookies=0
listen_tcp 80 1 noaccept
