. "$RXLIB/dut.sh"
std_addrs4
listen_tcp 80 16 accept
