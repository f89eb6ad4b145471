. "$RXLIB/dut.sh"
std_router
ip link set eth1 mtu 1280
ip route add 192.0.2.128/25 via 192.0.2.9 dev eth0
