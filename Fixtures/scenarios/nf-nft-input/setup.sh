. "$RXLIB/dut.sh"
std_addrs
nft -f - <<'NFT'
table inet filter {
  set blocked4 { type ipv4_addr; elements = { 192.0.2.7, 192.0.2.8 } }
  set web { type inet_service; flags interval; elements = { 8000-8099 } }
  chain services {
    tcp dport @web counter reject with tcp reset
    udp dport 53 counter accept
    udp dport 54 counter reject with icmpx admin-prohibited
    return
  }
  chain input {
    type filter hook input priority filter; policy accept;
    ip saddr @blocked4 counter drop
    meta l4proto { tcp, udp } jump services
    ip6 nexthdr ipv6-icmp icmpv6 type echo-request counter reject with icmpv6 addr-unreachable
    udp dport 9999 counter drop
  }
  chain late {
    type filter hook input priority 10; policy accept;
    udp dport 55 counter drop
  }
}
NFT
