. "$RXLIB/dut.sh"
std_router
ip link set eth1 mtu 1280
listen_udp 5000 ::
nft -f - <<'NFT'
table inet filter {
  chain forward {
    type filter hook forward priority filter; policy accept;
    udp dport 5001 counter drop
  }
  chain input {
    type filter hook input priority filter; policy accept;
    udp dport 5002 counter drop
    ct state invalid counter drop
  }
}
NFT
