. "$RXLIB/dut.sh"
std_router
sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1
