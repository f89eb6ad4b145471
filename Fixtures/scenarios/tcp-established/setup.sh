. "$RXLIB/dut.sh"
std_addrs4
# every out-of-window ACK and challenge ACK is sent (no 500 ms per-socket rate limit)
sysctl -qw net.ipv4.tcp_invalid_ratelimit=0
listen_tcp 80 16 accept
