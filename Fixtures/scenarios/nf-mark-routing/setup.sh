. "$RXLIB/dut.sh"
std_router
ip rule add fwmark 0x1 lookup 100 priority 100
ip route add blackhole default table 100
ip rule add fwmark 0x2 lookup 200 priority 110
ip route add 10.80.0.0/16 via "$PEER4_eth1" dev eth1 table 200
nft -f - <<'NFT'
table ip mangle {
  chain prerouting {
    type filter hook prerouting priority mangle; policy accept;
    udp dport 1111 meta mark set 0x1
    udp dport 2222 meta mark set 0x2
  }
}
NFT
