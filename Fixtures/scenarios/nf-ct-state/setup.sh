. "$RXLIB/dut.sh"
std_addrs4
listen_tcp 80 16 accept
nft -f - <<'NFT'
table inet filter {
  chain input {
    type filter hook input priority filter; policy accept;
    ct state invalid counter drop
    ct state established,related counter accept
    tcp dport 80 ct state new counter accept
    udp dport 7 counter accept
  }
}
NFT
sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0
