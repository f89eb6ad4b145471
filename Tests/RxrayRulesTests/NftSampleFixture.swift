import Foundation

/// A ruleset loaded into nftables 1.0.6 in a scratch namespace (`unshare -rn nft -f`), then
/// listed as text (`nft list ruleset`) and JSON (`nft -j list ruleset`). Regenerate with:
/// `unshare -rn sh -c "nft -f src.nft && nft list ruleset && nft -j list ruleset"`.
enum NftSampleFixture {
    static let source = #"""
table inet filter {
	set s4 {
		type ipv4_addr . inet_service
		flags interval
		elements = { 10.0.0.0/8 . 22, 192.168.1.1 . 80-90 }
	}
	map vm {
		type ifname : verdict
		elements = { "eth0" : accept, "lo" : jump c2 }
	}
	chain input {
		type filter hook input priority filter - 10; policy drop;
		iif "lo" accept
		ct state established,related accept
		ct state invalid counter packets 3 bytes 120 drop
		tcp flags & (fin | syn | rst | ack) == syn tcp dport { 22, 80, 443 } limit rate 10/second burst 5 packets accept
		ip saddr . tcp dport @s4 log prefix "hit " level info accept
		meta l4proto { icmp, ipv6-icmp } accept
		iifname vmap @vm
		fib daddr type local ip daddr != 127.0.0.0/8 reject with icmpx admin-prohibited
		ip6 saddr fe80::/10 icmpv6 type { nd-neighbor-solicit, nd-router-advert } accept
		meta mark set ct mark & 0x0000ff00 | 0x00000001
		fib saddr . iif oif missing drop comment "rpf"
		tcp dport 8080 reject with tcp reset
	}
	chain c2 {
		ether saddr aa:bb:cc:dd:ee:ff return
	}
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 80 dnat ip to 10.0.0.2:8080
		udp dport 53 redirect to :5353
		ip daddr 1.2.3.4 dnat ip to ip saddr map { 10.0.0.0/8 : 192.168.0.1 }
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth*" masquerade random
	}
}
"""#

    static let text = #"""
table inet filter {
	set s4 {
		type ipv4_addr . inet_service
		flags interval
		elements = { 10.0.0.0/8 . 22,
			     192.168.1.1 . 80-90 }
	}

	map vm {
		type ifname : verdict
		elements = { "lo" : jump c2,
			     "eth0" : accept }
	}

	chain input {
		type filter hook input priority filter - 10; policy drop;
		iif "lo" accept
		ct state established,related accept
		ct state invalid counter packets 3 bytes 120 drop
		tcp flags syn / fin,syn,rst,ack tcp dport { 22, 80, 443 } limit rate 10/second accept
		ip saddr . tcp dport @s4 log prefix "hit " level info accept
		meta l4proto { icmp, ipv6-icmp } accept
		iifname vmap @vm
		fib daddr type local ip daddr != 127.0.0.0/8 reject with icmpx admin-prohibited
		ip6 saddr fe80::/10 icmpv6 type { nd-router-advert, nd-neighbor-solicit } accept
		meta mark set ct mark & 0x0000ff01 | 0x00000001
		fib saddr . iif oif missing drop comment "rpf"
		tcp dport 8080 reject with tcp reset
	}

	chain c2 {
		ether saddr aa:bb:cc:dd:ee:ff return
	}

	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 80 dnat ip to 10.0.0.2:8080
		udp dport 53 redirect to :5353
		ip daddr 1.2.3.4 dnat ip to ip saddr map { 10.0.0.0/8 : 192.168.0.1 }
	}

	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth*" masquerade random
	}
}
"""#

    static let json = #"""
{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "filter", "handle": 1}}, {"set": {"family": "inet", "name": "s4", "table": "filter", "type": ["ipv4_addr", "inet_service"], "handle": 5, "flags": ["interval"], "elem": [{"concat": [{"prefix": {"addr": "10.0.0.0", "len": 8}}, 22]}, {"concat": ["192.168.1.1", {"range": [80, 90]}]}]}}, {"map": {"family": "inet", "name": "vm", "table": "filter", "type": "ifname", "handle": 6, "map": "verdict", "elem": [["lo", {"jump": {"target": "c2"}}], ["eth0", {"accept": null}]]}}, {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": -10, "policy": "drop"}}, {"chain": {"family": "inet", "table": "filter", "name": "c2", "handle": 2}}, {"chain": {"family": "inet", "table": "filter", "name": "pre", "handle": 3, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}, {"chain": {"family": "inet", "table": "filter", "name": "post", "handle": 4, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 7, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iif"}}, "right": "lo"}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 8, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 9, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "invalid"}}, {"counter": {"packets": 3, "bytes": 120}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 11, "expr": [{"match": {"op": "==", "left": {"&": [{"payload": {"protocol": "tcp", "field": "flags"}}, ["fin", "syn", "rst", "ack"]]}, "right": "syn"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [22, 80, 443]}}}, {"limit": {"rate": 10, "burst": 5, "per": "second"}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 12, "expr": [{"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "saddr"}}, {"payload": {"protocol": "tcp", "field": "dport"}}]}, "right": "@s4"}}, {"log": {"prefix": "hit ", "level": "info"}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 14, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": {"set": ["icmp", "ipv6-icmp"]}}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 15, "expr": [{"vmap": {"key": {"meta": {"key": "iifname"}}, "data": "@vm"}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 16, "expr": [{"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}}, {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "127.0.0.0", "len": 8}}}}, {"reject": {"type": "icmpx", "expr": "admin-prohibited"}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 18, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}}, "right": {"prefix": {"addr": "fe80::", "len": 10}}}}, {"match": {"op": "==", "left": {"payload": {"protocol": "icmpv6", "field": "type"}}, "right": {"set": ["nd-router-advert", "nd-neighbor-solicit"]}}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 19, "expr": [{"mangle": {"key": {"meta": {"key": "mark"}}, "value": {"|": [{"&": [{"ct": {"key": "mark"}}, 65281]}, 1]}}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 20, "comment": "rpf", "expr": [{"match": {"op": "==", "left": {"fib": {"result": "oif", "flags": ["saddr", "iif"]}}, "right": false}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 21, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}}, {"reject": {"type": "tcp reset"}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "c2", "handle": 22, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ether", "field": "saddr"}}, "right": "aa:bb:cc:dd:ee:ff"}}, {"return": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "pre", "handle": 23, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 80}}, {"dnat": {"family": "ip", "addr": "10.0.0.2", "port": 8080}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "pre", "handle": 24, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}}, {"redirect": {"port": 5353}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "pre", "handle": 26, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "1.2.3.4"}}, {"dnat": {"family": "ip", "addr": {"map": {"key": {"payload": {"protocol": "ip", "field": "saddr"}}, "data": {"set": [[{"prefix": {"addr": "10.0.0.0", "len": 8}}, "192.168.0.1"]]}}}}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "post", "handle": 27, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "eth*"}}, {"masquerade": {"flags": "random"}}]}}]}
"""#
}
