. "$RXLIB/dut.sh"
std_addrs4
ethtool -K eth0 gro on
echo 2000000 > /sys/class/net/eth0/gro_flush_timeout
