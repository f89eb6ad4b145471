. "$RXLIB/dut.sh"
std_addrs
listen_udp 5000 ::
