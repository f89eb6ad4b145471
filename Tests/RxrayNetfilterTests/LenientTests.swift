import XCTest
import RxrayDecode
import RxrayHost
import RxrayRules
@testable import RxrayNetfilter

/// Rules using constructs rxray does not model (loaded with --lenient) never match, and every
/// trace that passes one says so.
final class LenientTests: XCTestCase {
    func testAnUnmodelledRuleNeverMatchesAndIsMarkedInTheTrace() throws {
        let rules = """
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A INPUT -p tcp -m cgroup --path user.slice -j DROP
        -A INPUT -p tcp -m tcp --dport 23 -j DROP
        COMMIT
        """
        let parsed = try IptablesParser.parse(rules, file: "iptables-save.txt", family: .ipv4)
        XCTAssertTrue(parsed.tables.flatMap(\.chains).flatMap(\.rules).contains { $0.isUnsupported }, "-m cgroup is not modelled")
        let rig = Rig(try NetfilterEngine(host: testHost(iptables: rules)))
        let passed = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5000, dport: 80, flags: fSYN)), hooks: [.prerouting, .input])
        XCTAssertEqual(passed.verdict, .accept, "the unmodelled DROP rule never matches")
        XCTAssertEqual(passed.rules.count, 1)
        XCTAssertTrue(passed.rules.first?.contains("-m cgroup") == true && passed.rules.first?.contains("not modelled") == true, "\(passed.rules)")
        let dropped = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 5000, dport: 23, flags: fSYN)), hooks: [.prerouting, .input])
        XCTAssertEqual(dropped.verdict, .drop)
        XCTAssertEqual(dropped.rules.count, 2, "the trace names the unmodelled rule it passed, then the deciding one: \(dropped.rules)")
    }
}
