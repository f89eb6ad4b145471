. "$RXLIB/dut.sh"
std_addrs6
ip -6 route add "$REMOTE_NET6" via "$PEER6_eth1" dev eth1
