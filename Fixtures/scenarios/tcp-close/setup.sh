. "$RXLIB/dut.sh"
std_addrs4
sysctl -qw net.ipv4.tcp_invalid_ratelimit=0
listen_tcp 80 16 accept
listen_tcp 81 16 close
