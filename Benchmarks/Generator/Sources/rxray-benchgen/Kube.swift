/// A kube-proxy (nftables mode) ruleset for `services` services, printed the way
/// `nft list ruleset` prints what kube-proxy loads (shape taken from kube-proxy's own
/// TestOverallNFTablesRules golden, corpus/rulesets/kubernetes-kube-proxy): ClusterIP
/// verdict maps, per-service and per-endpoint chains, NodePorts on the host's address,
/// external IPs, services without endpoints, session affinity and source ranges.
enum Kube {
    struct Stats { var services = 0, endpoints = 0, chains = 0, rules = 0, elements = 0 }

    /// kube-proxy hashes the service port name into 8 base32 characters.
    static func hash(_ s: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var out = ""
        for _ in 0..<8 { out.append(alphabet[Int(h & 31)]); h >>= 5 }
        return out
    }

    /// Endpoints of service `i` (0 for one in twenty: a service without endpoints).
    static func endpointCount(_ i: Int) -> Int { i % 20 == 7 ? 0 : 1 + i % 4 }

    /// The address of the `n`th endpoint of the cluster (1-based, in service order).
    static func endpointAddress(_ n: Int) -> UInt32 { 0x0AB4_0000 | UInt32((n >> 8 & 255) << 8) | UInt32(n & 255) }

    static func elements(_ items: [String]) -> String {
        // nft wraps element lists; one per line keeps the listing valid and readable.
        "elements = { " + items.joined(separator: ",\n\t\t\t     ") + " }"
    }

    static func ruleset(services: Int) -> (String, Stats) {
        var st = Stats()
        var clusterIPs: [String] = []
        var serviceIPs: [String] = []
        var serviceNodePorts: [String] = []
        var noEndpointServices: [String] = []
        var noEndpointNodePorts: [String] = []
        var firewallIPs: [String] = []
        var chains: [String] = []
        var affinitySets: [String] = []
        var endpointCounter = 0

        func chain(_ name: String, _ rules: [String]) {
            st.chains += 1
            st.rules += rules.count
            chains.append("\tchain \(name) {\n" + rules.map { "\t\t" + $0 + "\n" }.joined() + "\t}\n")
        }

        for i in 0..<services {
            st.services += 1
            let ns = "ns\(i % 64)", name = "svc\(i)"
            let spn = "\(ns)/\(name)/tcp/p80"
            let h = hash(spn)
            let vip = Hosts.dotted(Topology.clusterIP(i))
            clusterIPs.append(vip)
            let hasNodePort = i % 5 == 0
            let nodePort = Int(Topology.nodePortBase) + i % 2_000
            // One external IP per service, from 203.0.113.100-199: the kernel refuses a map
            // with a key mapped twice to different values (nft: File exists).
            let externalIP: String? = i % 20 == 3 && i / 20 < 100 ? "203.0.113.\(100 + i / 20)" : nil
            let endpointCount = Kube.endpointCount(i)
            if endpointCount == 0 {
                let verdict = i % 40 == 7 ? "goto reject-chain" : "drop"
                noEndpointServices.append("\(vip) . tcp . 80 comment \"\(ns)/\(name):p80\" : \(verdict)")
                if hasNodePort { noEndpointNodePorts.append("tcp . \(nodePort) comment \"\(ns)/\(name):p80\" : drop") }
                if let e = externalIP { noEndpointServices.append("\(e) . tcp . 80 comment \"\(ns)/\(name):p80\" : drop") }
                continue
            }
            var endpoints: [(String, String)] = []
            for _ in 0..<endpointCount {
                endpointCounter += 1
                let ip = Hosts.dotted(endpointAddress(endpointCounter))
                let epName = "endpoint-\(hash(spn + ip))-\(spn)__\(ip)/80"
                endpoints.append((ip, epName))
            }
            st.endpoints += endpointCount
            let affinity = i % 25 == 11
            let serviceChain = "service-\(h)-\(spn)"
            var svcRules = ["ip daddr \(vip) ip saddr != 10.0.0.0/8 jump mark-for-masquerade"]
            let affinityName = "affinity-\(hash(spn + "a"))-\(spn)__\(endpoints[0].0)/80"
            if affinity {
                svcRules.append("ip saddr @\(affinityName) goto \(endpoints[0].1)")
                affinitySets.append("\tset \(affinityName) {\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic,timeout\n\t\ttimeout 3h\n\t}\n")
            }
            let arms = endpoints.enumerated().map { "\($0.offset) : goto \($0.element.1)" }.joined(separator: ", ")
            svcRules.append("numgen random mod \(endpointCount) vmap { \(arms) }")
            chain(serviceChain, svcRules)
            serviceIPs.append("\(vip) . tcp . 80 : goto \(serviceChain)")
            if hasNodePort || externalIP != nil {
                let ext = "external-\(h)-\(spn)"
                if i % 3 == 0 {
                    chain(ext, ["ip saddr 10.0.0.0/8 goto \(serviceChain) comment \"short-circuit pod traffic\"",
                                "fib saddr type local jump mark-for-masquerade comment \"masquerade local traffic\"",
                                "fib saddr type local goto \(serviceChain) comment \"short-circuit local traffic\""])
                } else {
                    chain(ext, ["jump mark-for-masquerade", "goto \(serviceChain)"])
                }
                if hasNodePort { serviceNodePorts.append("tcp . \(nodePort) : goto \(ext)") }
                if let e = externalIP {
                    serviceIPs.append("\(e) . tcp . 80 : goto \(ext)")
                    if i % 40 == 3 {
                        let fw = "firewall-\(h)-\(spn)"
                        chain(fw, ["ip saddr != 203.0.113.0/25 drop"])
                        firewallIPs.append("\(e) . tcp . 80 : goto \(fw)")
                    }
                }
            }
            for (ip, ep) in endpoints {
                var r = ["ip saddr \(ip) jump mark-for-masquerade"]
                if affinity && ip == endpoints[0].0 { r.append("update @\(affinityName) { ip saddr }") }
                r.append("meta l4proto tcp dnat to \(ip):80")
                chain(ep, r)
            }
        }
        st.elements = clusterIPs.count + serviceIPs.count + serviceNodePorts.count + noEndpointServices.count
            + noEndpointNodePorts.count + firewallIPs.count

        func setBlock(_ kind: String, _ name: String, _ type: String, _ comment: String, _ items: [String]) -> String {
            var s = "\t\(kind) \(name) {\n\t\ttype \(type)\n\t\tcomment \"\(comment)\"\n"
            if !items.isEmpty { s += "\t\t" + elements(items) + "\n" }
            return s + "\t}\n"
        }
        var t = "table ip kube-proxy {\n\tcomment \"rules for kube-proxy\"\n"
        t += setBlock("set", "cluster-ips", "ipv4_addr", "Active ClusterIPs", clusterIPs) + "\n"
        t += setBlock("set", "nodeport-ips", "ipv4_addr", "IPs that accept NodePort traffic", ["192.0.2.1"]) + "\n"
        t += setBlock("map", "firewall-ips", "ipv4_addr . inet_proto . inet_service : verdict",
                      "destinations that are subject to LoadBalancerSourceRanges", firewallIPs) + "\n"
        t += setBlock("map", "no-endpoint-nodeports", "inet_proto . inet_service : verdict",
                      "vmap to drop or reject packets to service nodeports with no endpoints", noEndpointNodePorts) + "\n"
        t += setBlock("map", "no-endpoint-services", "ipv4_addr . inet_proto . inet_service : verdict",
                      "vmap to drop or reject packets to services with no endpoints", noEndpointServices) + "\n"
        t += setBlock("map", "service-ips", "ipv4_addr . inet_proto . inet_service : verdict",
                      "ClusterIP, ExternalIP and LoadBalancer IP traffic", serviceIPs) + "\n"
        t += setBlock("map", "service-nodeports", "inet_proto . inet_service : verdict", "NodePort traffic", serviceNodePorts) + "\n"
        for s in affinitySets { t += s + "\n" }
        let fixed: [(String, [String])] = [
            ("cluster-ips-check", ["ip daddr @cluster-ips reject comment \"Reject traffic to invalid ports of ClusterIPs\"",
                                   "ip daddr 172.30.0.0/16 drop comment \"Drop traffic to unallocated ClusterIPs\""]),
            ("filter-prerouting-pre-dnat", ["type filter hook prerouting priority dstnat - 10; policy accept;", "ct state new jump firewall-check"]),
            ("filter-output-pre-dnat", ["type filter hook output priority -110; policy accept;", "ct state new jump firewall-check"]),
            ("filter-forward", ["type filter hook forward priority filter; policy accept;",
                                "ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check"]),
            ("filter-input", ["type filter hook input priority filter; policy accept;",
                              "ct state new jump nodeport-endpoints-check", "ct state new jump service-endpoints-check"]),
            ("filter-output", ["type filter hook output priority filter; policy accept;",
                               "ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check"]),
            ("firewall-check", ["ip daddr . meta l4proto . th dport vmap @firewall-ips"]),
            ("mark-for-masquerade", ["meta mark set meta mark | 0x00004000"]),
            ("masquerading", ["meta mark & 0x00004000 == 0x00000000 return", "meta mark set meta mark ^ 0x00004000",
                              "masquerade fully-random"]),
            ("nat-output", ["type nat hook output priority -100; policy accept;", "jump services"]),
            ("nat-postrouting", ["type nat hook postrouting priority srcnat; policy accept;", "jump masquerading"]),
            ("nat-prerouting", ["type nat hook prerouting priority dstnat; policy accept;", "jump services"]),
            ("nodeport-endpoints-check", ["ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports"]),
            ("reject-chain", ["comment \"helper for @no-endpoint-services / @no-endpoint-nodeports\"", "reject"]),
            ("services", ["ip daddr . meta l4proto . th dport vmap @service-ips",
                          "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports"]),
            ("service-endpoints-check", ["ip daddr . meta l4proto . th dport vmap @no-endpoint-services"]),
        ]
        var blocks: [String] = []
        for (name, lines) in fixed {
            st.chains += 1
            st.rules += lines.filter { !$0.hasPrefix("type ") && !$0.hasPrefix("comment ") }.count
            blocks.append("\tchain \(name) {\n" + lines.map { "\t\t" + $0 + "\n" }.joined() + "\t}\n")
        }
        t += (blocks + chains).joined(separator: "\n")
        t += "}\n"
        return (t, st)
    }
}
