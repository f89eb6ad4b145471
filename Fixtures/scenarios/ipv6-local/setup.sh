. "$RXLIB/dut.sh"
std_addrs6
