. "$RXLIB/dut.sh"
std_router
# Sources 192.0.2.5 use table 100 (a blackhole default); 192.0.2.6 hits a prohibit rule;
# traffic entering eth0 to 10.50.0.0/16 uses table 200 (via the peer on eth1).
ip rule add from 192.0.2.5 lookup 100 priority 100
ip route add blackhole default table 100
ip rule add from 192.0.2.6 prohibit priority 110
ip rule add iif eth0 to 10.50.0.0/16 lookup 200 priority 120
ip route add default via "$PEER4_eth1" dev eth1 table 200
