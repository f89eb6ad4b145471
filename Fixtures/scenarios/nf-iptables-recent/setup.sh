. "$RXLIB/dut.sh"
std_addrs4
listen_tcp 22 16 accept
sysctl -qw net.ipv4.tcp_synack_retries=0   # no SYN-ACK retransmission lands in a later window
# the classic SSH brute-force guard: a fourth new connection within 60 s from one source is dropped
iptables -A INPUT -p tcp --dport 22 --syn -m recent --name ssh --set
iptables -A INPUT -p tcp --dport 22 --syn -m recent --name ssh --rcheck --seconds 60 --hitcount 4 -j DROP
# knock: a UDP datagram to 1234 lists the source; TCP 23 is rejected unless listed
iptables -A INPUT -p udp --dport 1234 -m recent --name knock --set -j DROP
iptables -A INPUT -p tcp --dport 23 -m recent --name knock --rcheck -j REJECT --reject-with tcp-reset
iptables -A INPUT -p tcp --dport 23 -j DROP
