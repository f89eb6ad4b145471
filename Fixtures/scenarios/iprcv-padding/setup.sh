. "$RXLIB/dut.sh"
std_addrs4
listen_udp 5000
