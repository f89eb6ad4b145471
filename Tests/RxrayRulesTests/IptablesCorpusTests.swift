import Foundation
import XCTest
@testable import RxrayRules

final class IptablesCorpusTests: XCTestCase {
    /// Corpus files that are not valid restore input (iptables-restore rejects them as well),
    /// with the error rxray must give.
    static let knownInvalid: [String: String] = [
        // kube-proxy's TestTracePacket writes an unquoted multi-word comment; its Go test helper
        // splits loosely, iptables-restore says "Bad argument `health'".
        "rulesets/kubernetes-kube-proxy/iptables-TestTracePacket.iptables-restore":
            "rulesets/kubernetes-kube-proxy/iptables-TestTracePacket.iptables-restore:11:42: unexpected word 'health': expected an option",
    ]

    /// Every iptables-save / restore file the real tools produced parses without an InputError.
    func testEveryCorpusIptablesFileParses() throws {
        let root = try Corpus.requireRoot()
        let files = try Corpus.manifest(root).filter {
            $0.contents.hasPrefix("iptables-save / iptables-restore format") && !$0.path.contains("/tests-raw/")
        }
        XCTAssertGreaterThan(files.count, 900)
        var failures: [String] = []
        var unsupportedBySource: [String: [UnsupportedConstruct]] = [:]
        var total = RulesetSummary()
        for f in files {
            let path = root + "/" + f.path
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { failures.append("\(f.path): unreadable"); continue }
            let name = f.path.split(separator: "/").last.map(String.init) ?? f.path
            let family: RuleFamily = name.contains("ip6tables") || ["before6.rules", "after6.rules", "user6.rules"].contains(name)
                ? .ipv6 : IptablesParser.detectFamily(text)
            do {
                let rs = try IptablesParser.parse(text, file: f.path, family: family)
                total = total + rs.summary
                let source = f.path.split(separator: "/").dropFirst().first.map(String.init) ?? f.path
                unsupportedBySource[source, default: []] += rs.unsupported
            } catch let e as InputError where Self.knownInvalid[f.path] != nil {
                // Hand-written test input that the real iptables-restore rejects too.
                XCTAssertEqual(e.description, Self.knownInvalid[f.path])
            } catch {
                failures.append("\(error)")
            }
        }
        print("iptables corpus: \(files.count) files: \(total)")
        for (source, items) in unsupportedBySource.sorted(by: { $0.key < $1.key }) {
            printUnsupportedTable("  \(source)", items)
        }
        XCTAssertEqual(failures, [], "files that real tools produced must parse")
        for source in ["moby", "kubernetes-kube-proxy", "ufw"] {
            XCTAssertEqual(unsupportedBySource[source]?.map(\.description) ?? [], [], "\(source) should be fully modelled")
        }
    }
}
