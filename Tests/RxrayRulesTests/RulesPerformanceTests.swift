import Foundation
import XCTest
@testable import RxrayRules

/// Parse time of kube-proxy-sized rulesets. Prints the time; never asserts wall time.
final class RulesPerformanceTests: XCTestCase {
    /// A kube-proxy iptables-save with `services` services of two endpoints each (~6 rules per
    /// service plus its chains), addresses varied per service.
    static func kubeProxyIptables(services: Int) -> String {
        var out = "*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n"
        var rules: [String] = []
        for i in 0..<services {
            let svc = "KUBE-SVC-\(String(i, radix: 36).uppercased())"
            let a = i >> 8 & 0xFF, b = i & 0xFF
            out += ":\(svc) - [0:0]\n:\(svc)-E1 - [0:0]\n:\(svc)-E2 - [0:0]\n"
            rules.append(#"-A KUBE-SERVICES -d 172.30.\#(a).\#(b)/32 -p tcp -m comment --comment "ns\#(i)/svc\#(i):http cluster IP" -m tcp --dport 80 -j \#(svc)"#)
            rules.append(#"-A \#(svc) ! -s 10.244.0.0/16 -d 172.30.\#(a).\#(b)/32 -p tcp -m comment --comment "ns\#(i)/svc\#(i):http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ"#)
            rules.append(#"-A \#(svc) -m comment --comment "ns\#(i)/svc\#(i):http -> 10.\#(a).\#(b).1:8080" -m statistic --mode random --probability 0.50000000000 -j \#(svc)-E1"#)
            rules.append(#"-A \#(svc) -m comment --comment "ns\#(i)/svc\#(i):http -> 10.\#(a).\#(b).2:8080" -j \#(svc)-E2"#)
            for e in 1...2 {
                rules.append(#"-A \#(svc)-E\#(e) -s 10.\#(a).\#(b).\#(e)/32 -m comment --comment "ns\#(i)/svc\#(i):http" -j KUBE-MARK-MASQ"#)
                rules.append(#"-A \#(svc)-E\#(e) -p tcp -m comment --comment "ns\#(i)/svc\#(i):http" -m tcp -j DNAT --to-destination 10.\#(a).\#(b).\#(e):8080"#)
            }
        }
        rules.append("-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000")
        return out + rules.joined(separator: "\n") + "\nCOMMIT\n"
    }

    /// The nft equivalent: a verdict map of services and one chain per service.
    static func kubeProxyNft(services: Int) -> String {
        var els: [String] = []
        var chains = ""
        for i in 0..<services {
            let a = i >> 8 & 0xFF, b = i & 0xFF
            els.append("172.30.\(a).\(b) . tcp . 80 : goto service-\(i)")
            chains += """
            \tchain service-\(i) {
            \t\tip daddr 172.30.\(a).\(b) ip saddr != 10.244.0.0/16 jump mark-for-masquerade
            \t\tnumgen random mod 2 vmap { 0 : goto endpoint-\(i)-1, 1 : goto endpoint-\(i)-2 }
            \t}
            \tchain endpoint-\(i)-1 {
            \t\tip saddr 10.\(a).\(b).1 jump mark-for-masquerade
            \t\tmeta l4proto tcp dnat to 10.\(a).\(b).1:8080
            \t}
            \tchain endpoint-\(i)-2 {
            \t\tip saddr 10.\(a).\(b).2 jump mark-for-masquerade
            \t\tmeta l4proto tcp dnat to 10.\(a).\(b).2:8080
            \t}

            """
        }
        return """
        table ip kube-proxy {
        \tmap service-ips {
        \t\ttype ipv4_addr . inet_proto . inet_service : verdict
        \t\telements = { \(els.joined(separator: ",\n\t\t\t     ")) }
        \t}
        \tchain mark-for-masquerade {
        \t\tmeta mark set meta mark | 0x00004000
        \t}
        \tchain services {
        \t\ttype nat hook prerouting priority dstnat; policy accept;
        \t\tip daddr . meta l4proto . th dport vmap @service-ips
        \t}
        \(chains)}

        """
    }

    func testKubeProxySizedIptablesParsesQuickly() throws {
        let text = Self.kubeProxyIptables(services: 1700)
        let start = DispatchTime.now().uptimeNanoseconds
        let rs = try IptablesParser.parse(text, file: "kube-proxy.rules", family: .ipv4)
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        XCTAssertGreaterThan(rs.summary.rules, 10_000)
        XCTAssertEqual(rs.unsupported, [])
        print(String(format: "iptables: %d rules, %d chains, %d bytes parsed in %.1f ms", rs.summary.rules, rs.summary.chains, text.utf8.count, ms))
    }

    func testKubeProxySizedNftParsesQuickly() throws {
        let text = Self.kubeProxyNft(services: 1700)
        let start = DispatchTime.now().uptimeNanoseconds
        let rs = try NftParser.parse(text, file: "kube-proxy.nft")
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        XCTAssertGreaterThan(rs.summary.rules, 10_000)
        XCTAssertEqual(rs.summary.elements, 1700)
        XCTAssertEqual(rs.unsupported, [])
        print(String(format: "nft: %d rules, %d chains, %d set elements, %d bytes parsed in %.1f ms", rs.summary.rules, rs.summary.chains, rs.summary.elements, text.utf8.count, ms))
    }
}
