. "$RXLIB/dut.sh"
std_router
listen_udp 5000 ::
ip link set eth1 mtu 1280
