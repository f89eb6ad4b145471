. "$RXLIB/dut.sh"
std_addrs
# a socket bound to one address, and none on the other
listen_udp 5001 192.0.2.1
# a connected socket: only datagrams from 192.0.2.2:7000 match it
listen_udp 5002 192.0.2.1 --connect 192.0.2.2:7000
# a SO_REUSEPORT group of two
listen_udp 5003 0.0.0.0 --reuseport
listen_udp 5003 0.0.0.0 --reuseport
# IPv6-only wildcard: IPv4 datagrams do not reach it
listen_udp 5004 :: --v6only
# a multicast listener (group joined on eth0's default route interface)
ip route add 224.0.0.0/4 dev eth0
listen_udp 5005 0.0.0.0 --join 239.1.2.3
# broadcast to a bound wildcard socket
listen_udp 5006 0.0.0.0
