. "$RXLIB/dut.sh"
std_router
nft -f - <<'NFT'
table ip nat {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iif "eth0" tcp dport 8080 dnat to 203.0.113.7:80
    iif "eth0" udp dport 5353 dnat to 203.0.113.7:53
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oif "eth1" ip saddr 192.0.2.0/24 masquerade
  }
}
table ip filter {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    ct status dnat accept
  }
}
NFT
