. "$RXLIB/dut.sh"
std_router
sysctl -qw net.ipv4.conf.eth1.forwarding=0
