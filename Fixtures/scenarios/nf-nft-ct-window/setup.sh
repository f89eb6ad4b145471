. "$RXLIB/dut.sh"
std_router
nft -f - <<'NFT'
table inet filter {
  chain forward {
    type filter hook forward priority filter; policy accept;
    ct state invalid counter drop
  }
}
NFT
