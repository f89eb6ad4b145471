. "$RXLIB/dut.sh"
std_addrs
nft -f - <<'NFT'
table inet filter {
  chain ports {
    udp dport 2001 reject with icmp type port-unreachable
    udp dport 2002 reject with icmp type net-unreachable
    udp dport 2003 reject with icmp type host-unreachable
    udp dport 2004 reject with icmp type prot-unreachable
    udp dport 2005 reject with icmp type net-prohibited
    udp dport 2006 reject with icmp type host-prohibited
    udp dport 2007 reject with icmp type admin-prohibited
    udp dport 2008 return
    udp dport 2009 reject
    udp dport 2010 reject with icmpx port-unreachable
    udp dport 2011 reject with icmpx host-unreachable
  }
  chain input {
    type filter hook input priority filter; policy accept;
    tcp dport 22 accept
    tcp dport 1001 reject with tcp reset
    tcp dport 1002 drop
    meta l4proto udp jump ports
    udp dport 2008 drop
    ip6 nexthdr udp udp dport 3001 reject with icmpv6 type port-unreachable
    ip6 nexthdr udp udp dport 3002 reject with icmpv6 type admin-prohibited
    ip6 nexthdr udp udp dport 3003 reject
    meta nfproto ipv6 tcp dport 3004 reject with tcp reset
  }
}
NFT
