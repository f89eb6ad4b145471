. "$RXLIB/dut.sh"
std_addrs
ip route add "$REMOTE_NET4" via "$PEER4_eth1" dev eth1
ip route add blackhole 10.1.0.0/16
ip route add unreachable 10.2.0.0/16
ip route add prohibit 10.3.0.0/16
