. "$RXLIB/dut.sh"
std_router
# Room for one packet on an unresolved neighbour: every new one evicts the one before.
sysctl -qw net.ipv4.neigh.eth1.unres_qlen_bytes=1 net.ipv6.neigh.eth1.unres_qlen_bytes=1
