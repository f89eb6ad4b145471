import Foundation
import XCTest
@testable import RxrayRules

final class NftCorpusTests: XCTestCase {
    /// Every nft ruleset in the corpus parses; files the real tools printed must not throw.
    func testEveryCorpusNftFileParses() throws {
        let root = try Corpus.requireRoot()
        let files = try Corpus.manifest(root).filter {
            $0.contents.hasPrefix("nftables ruleset text") || $0.contents.hasPrefix("nft list ruleset")
                || $0.contents.hasPrefix("nft -f transaction script")
        }.filter { !$0.path.hasSuffix(".tsv") && !$0.path.hasSuffix(".md") }
        XCTAssertGreaterThan(files.count, 700)
        var failures: [String] = []
        var bySource: [String: [UnsupportedConstruct]] = [:]
        var total = RulesetSummary()
        for f in files {
            let path = root + "/" + f.path
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { failures.append("\(f.path): unreadable"); continue }
            let parts = f.path.split(separator: "/")
            let source = parts.count > 2 ? String(parts[1]) : f.path
            do {
                let rs = try NftParser.parse(text, file: f.path)
                total = total + rs.summary
                bySource[source, default: []] += rs.unsupported
            } catch let e as InputError where Self.knownInvalid[f.path] != nil {
                XCTAssertEqual(e.description, Self.knownInvalid[f.path])
            } catch {
                failures.append("\(error)")
            }
        }
        print("nft corpus: \(files.count) files: \(total)")
        for (source, items) in bySource.sorted(by: { $0.key < $1.key }) {
            printUnsupportedTable("  \(source)", items)
            if ProcessInfo.processInfo.environment["RXRAY_VERBOSE"] != nil { for u in items { print("    \(u)") } }
        }
        XCTAssertEqual(failures, [], "nft rulesets must parse")
        for source in ["moby", "kubernetes-kube-proxy", "firewalld"] {
            XCTAssertEqual(bySource[source]?.map(\.description) ?? [], [], "\(source) should be fully modelled")
        }
        let fw4 = (bySource["openwrt-firewall4"] ?? []).filter { $0.file.contains("derived-nft-list-ruleset") }
        XCTAssertEqual(fw4.map(\.description), [], "fw4's nft list output should be fully modelled")
    }

    /// Files in the corpus that nft itself rejects, with the error rxray must give.
    /// firewalld's fragments come from m4-quoted autotest files: a few keep m4 artifacts
    /// (`[[addr]:port]` quoting, `$2 dnl` placeholders) that are not nft syntax.
    static let knownInvalid: [String: String] = [
        "rulesets/firewalld/cli__firewall-cmd.nft-fragments.nft":
            "rulesets/firewalld/cli__firewall-cmd.nft-fragments.nft:164:47: expected an IPv6 address, got '['",
        "rulesets/firewalld/features__forward_ports.nft-fragments.nft":
            "rulesets/firewalld/features__forward_ports.nft-fragments.nft:5:53: expected an IPv6 address, got '['",
        "rulesets/firewalld/features__policy_timeout.nft-fragments.nft":
            "rulesets/firewalld/features__policy_timeout.nft-fragments.nft:4:9: expected a statement, got '$'",
        "rulesets/firewalld/features__zone_timeout.nft-fragments.nft":
            "rulesets/firewalld/features__zone_timeout.nft-fragments.nft:4:9: expected a statement, got '$'",
    ]
}
