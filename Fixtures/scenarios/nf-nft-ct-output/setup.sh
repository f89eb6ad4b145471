. "$RXLIB/dut.sh"
std_addrs4
listen_tcp 80 16 accept
nft -f - <<'NFT'
table inet filter {
  chain input {
    type filter hook input priority filter; policy accept;
    ct state invalid counter drop
  }
  chain output {
    type filter hook output priority filter; policy accept;
    ip daddr 192.0.2.3 icmp type echo-reply counter drop
    ip daddr 192.0.2.4 tcp flags & rst == rst counter drop
    ct state invalid counter drop
  }
}
table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    tcp dport 8081 redirect to :80
  }
}
NFT
