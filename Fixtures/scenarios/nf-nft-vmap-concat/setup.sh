. "$RXLIB/dut.sh"
std_addrs4
listen_udp 5353
nft -f - <<'NFT'
table ip filter {
  set allowed {
    type ipv4_addr . inet_proto . inet_service
    elements = { 192.0.2.2 . tcp . 22, 192.0.2.3 . udp . 5353 }
  }
  set nets {
    type ipv4_addr . inet_service
    flags interval
    elements = { 192.0.2.4-192.0.2.5 . 7000-7099 }
  }
  map portv {
    type inet_service : verdict
    elements = { 23 : drop, 24 : jump audit, 25 : accept }
  }
  chain audit {
    ip saddr 192.0.2.6 counter accept
    counter drop
  }
  chain input {
    type filter hook input priority filter; policy drop;
    ip protocol icmp accept
    ip saddr . ip protocol . th dport @allowed counter accept
    ip saddr . udp dport @nets counter accept
    tcp dport vmap @portv
    udp dport vmap { 9001 : accept, 9002 : drop, 9003 : goto audit }
  }
}
NFT
