. "$RXLIB/dut.sh"
std_addrs4
# the defaults, written out: per-host limit 1000 ms (burst of 6 tokens), global 1000/s burst 50
sysctl -qw net.ipv4.icmp_ratelimit=1000 net.ipv4.icmp_msgs_per_sec=1000 net.ipv4.icmp_msgs_burst=50
