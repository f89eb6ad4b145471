. "$RXLIB/dut.sh"
std_router
ip link set eth1 mtu 1280
