import XCTest
import RxrayHost
@testable import RxrayNetfilter

/// The engine compiles the nft tree the host loader already parsed (no second parse), with
/// the file's line numbers also for a ruleset written inline in a YAML profile.
final class EngineLoadTests: XCTestCase {
    func testInlineNftRulesKeepTheirYAMLLines() throws {
        let yaml = """
            interfaces:
              - {name: eth0, addresses: [192.0.2.1/24]}
            ruleset:
              nft: |
                table inet filter {
                  chain input {
                    type filter hook input priority filter; policy accept;
                    tcp dport 22 accept
                    udp dport 53 drop
                  }
                }
            """
        let host = try HostProfile.parse(yaml, file: "host.yaml")
        XCTAssertNotNil(host.rulesets.nftUnexcluded)
        let engine = try NetfilterEngine(host: host)
        XCTAssertEqual(engine.ruleInfo.map(\.text), ["tcp dport 22 accept", "udp dport 53 drop"])
        // Lines 8 and 9 of host.yaml, as for iptables rules given inline.
        XCTAssertEqual(engine.ruleInfo.map(\.line), [8, 9])
        XCTAssertEqual(engine.ruleInfo.map(\.file), ["host.yaml", "host.yaml"])
    }

    func testWithoutTheLoadersTreeTheTextIsParsed() throws {
        // Rulesets built by hand (no loader) carry no tree: the engine parses the source.
        let engine = try NetfilterEngine(host: testHost(nft: "table ip t {\n\tchain c {\n\t\ttype filter hook input priority 0;\n\t\tip saddr 10.0.0.1 drop\n\t}\n}\n"))
        XCTAssertEqual(engine.ruleInfo.map(\.line), [4])
        XCTAssertEqual(engine.ruleCount, 1)
    }
}
