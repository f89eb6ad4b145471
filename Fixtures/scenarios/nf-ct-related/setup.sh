. "$RXLIB/dut.sh"
std_router
nft -f - <<'NFT'
table inet filter {
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related counter accept
    iif "eth0" ct state new counter accept
  }
}
NFT
