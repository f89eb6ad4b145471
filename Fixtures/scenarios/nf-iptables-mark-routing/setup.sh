. "$RXLIB/dut.sh"
std_router
ip rule add fwmark 0x1 lookup 100 priority 100
ip route add blackhole default table 100
ip rule add fwmark 0x2 lookup 200 priority 110
ip route add 10.80.0.0/16 via "$PEER4_eth1" dev eth1 table 200
iptables -t mangle -A PREROUTING -p udp --dport 1111 -j MARK --set-mark 0x1
iptables -t mangle -A PREROUTING -p udp --dport 2222 -j MARK --set-xmark 0x2/0xffffffff
iptables -t mangle -A PREROUTING -p udp --dport 4444 -j CONNMARK --set-mark 0x2
iptables -t mangle -A PREROUTING -p udp --dport 4444 -j CONNMARK --restore-mark
