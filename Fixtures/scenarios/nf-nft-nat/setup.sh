. "$RXLIB/dut.sh"
std_router
listen_tcp 2222 16 accept
nft -f - <<'NFT'
table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iif "eth0" tcp dport 8080 dnat to 203.0.113.7:80
    iif "eth0" tcp dport 22 redirect to :2222
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oif "eth1" ip saddr 192.0.2.3 meta l4proto tcp snat to 198.51.100.9:20005
    oif "eth1" ip saddr 192.0.2.0/24 masquerade
  }
}
NFT
