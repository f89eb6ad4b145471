. "$RXLIB/dut.sh"
std_addrs4
listen_udp 7000
nft -f - <<'NFT'
table inet filter {
  chain input {
    type filter hook input priority filter; policy accept;
    udp dport 7000 limit rate over 2/second burst 3 packets counter drop
    ip protocol icmp icmp type echo-request limit rate 4/second burst 1 packets counter accept
    ip protocol icmp icmp type echo-request counter drop
  }
}
NFT
