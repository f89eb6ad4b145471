. "$RXLIB/dut.sh"
std_addrs6
listen_udp 5000 ::
