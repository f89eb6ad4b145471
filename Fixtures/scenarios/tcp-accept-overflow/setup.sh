. "$RXLIB/dut.sh"
std_addrs4
# TCP Fast Open without cookies: a SYN with data creates a child socket at once, so the accept
# queue fills without completing handshakes (whose ACKs would need the DUT's random ISN).
sysctl -qw net.ipv4.tcp_fastopen=0x202
listen_tcp 80 1 noaccept 0.0.0.0 16
