. "$RXLIB/dut.sh"
std_addrs4
