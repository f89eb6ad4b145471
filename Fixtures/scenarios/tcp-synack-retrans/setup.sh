. "$RXLIB/dut.sh"
std_addrs4
# two SYN-ACK retransmissions (1 s, then 2 s later), then the request is dropped 4 s after that
sysctl -qw net.ipv4.tcp_synack_retries=2
sysctl -qw net.ipv4.tcp_invalid_ratelimit=0
listen_tcp 80 16 accept
