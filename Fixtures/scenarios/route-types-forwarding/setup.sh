. "$RXLIB/dut.sh"
std_router
ip route add blackhole 10.1.0.0/16
ip route add unreachable 10.2.0.0/16
ip route add prohibit 10.3.0.0/16
ip route add throw 10.4.0.0/16
