import Foundation
import RxrayDecode
import XCTest
@testable import RxrayRules

/// The name indexes the parsers keep so that kube-proxy-sized rulesets (thousands of chains)
/// load without scans: rules must still land in the chain of that name in their own table,
/// through table deletions, flushes and re-creations.
final class RulesLoadTests: XCTestCase {
    func testScriptRulesLandInTheNamedChainOfTheirTable() throws {
        let script = """
        add table ip a
        add table ip b
        add chain ip a c1
        add chain ip b c1
        add chain ip a c2
        add rule ip a c2 accept
        add rule ip b c1 drop
        add rule ip a c1 counter accept
        delete table ip a
        add table ip a
        add chain ip a c2
        add rule ip a c2 drop
        flush chain ip b c1
        add rule ip b c1 accept
        add table inet c
        add chain inet c c1
        add rule inet c c1 meta l4proto tcp drop

        """
        let rs = try NftParser.parse(script, file: "s.nft")
        XCTAssertEqual(rs.tables.map { "\($0.family.rawValue) \($0.name)" }, ["ip b", "ip a", "inet c"])
        let a = try XCTUnwrap(rs.table(.ip, "a"))
        XCTAssertEqual(a.chains.map(\.name), ["c2"], "the deleted table's chains are gone")
        XCTAssertEqual(a.chains[0].rules.map(\.text), ["drop"])
        XCTAssertEqual(a.chains[0].rules.map(\.line), [12])
        let b = try XCTUnwrap(rs.table(.ip, "b"))
        XCTAssertEqual(b.chains.map(\.name), ["c1"])
        XCTAssertEqual(b.chains[0].rules.map(\.text), ["accept"])
        XCTAssertEqual(rs.table(.inet, "c")?.chain("c1")?.rules.map(\.text), ["meta l4proto tcp drop"])
    }

    func testAChainOfADeletedTableIsUnknown() {
        let script = "add table ip a\nadd chain ip a c1\ndelete table ip a\nadd table ip a\nadd rule ip a c1 accept\n"
        XCTAssertThrowsError(try NftParser.parse(script, file: "s.nft")) { e in
            XCTAssertEqual((e as? InputError)?.line, 5, "\(e)")
            XCTAssertTrue("\(e)".contains("chain c1 does not exist in table a"), "\(e)")
        }
        let flushed = "add table ip a\nadd chain ip a c1\nflush ruleset\nadd table ip a\nadd rule ip a c1 accept\n"
        XCTAssertThrowsError(try NftParser.parse(flushed, file: "s.nft"))
    }

    func testAddElementCommandsAccumulate() throws {
        let script = """
        table ip t {
        \tset s {
        \t\ttype ipv4_addr
        \t\telements = { 10.0.0.1 }
        \t}
        }
        add element ip t s { 10.0.0.2 }
        add element ip t s { 10.0.0.3, 10.0.0.4 }

        """
        let rs = try NftParser.parse(script, file: "s.nft")
        let s = try XCTUnwrap(rs.table(.ip, "t")?.set("s"))
        XCTAssertEqual(s.elements.count, 4)
        XCTAssertEqual(s.elements.last.map { "\($0.key)" }, "\(NftExpr.address(IPAddress("10.0.0.4")!))")
    }

    /// Thousands of chains, each jumping to the next: every rule sits in its own chain, in both
    /// syntaxes, and the JSON tree borrows each rule's text and line from the text listing.
    func testManyChainsTextAndJSON() throws {
        let n = 1000
        var text = "table ip t {\n"
        var items: [String] = [#"{"table": {"family": "ip", "name": "t", "handle": 1}}"#]
        for i in 0..<n {
            text += "\tchain c\(i) {\n\t\tip saddr 10.0.\(i >> 8).\(i & 0xFF) jump c\(i + 1) # handle \(i + 10)\n\t}\n"
            items.append(#"{"chain": {"family": "ip", "table": "t", "name": "c\#(i)", "handle": \#(i + 5000)}}"#)
        }
        text += "\tchain c\(n) {\n\t}\n}\n"
        items.append(#"{"chain": {"family": "ip", "table": "t", "name": "c\#(n)", "handle": 9999}}"#)
        // Rules listed in reverse chain order: each must still find its chain by name.
        for i in (0..<n).reversed() {
            items.append(#"{"rule": {"family": "ip", "table": "t", "chain": "c\#(i)", "handle": \#(i + 10), "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "10.0.\#(i >> 8).\#(i & 0xFF)"}}, {"jump": {"target": "c\#(i + 1)"}}]}}"#)
        }
        let json = #"{"nftables": [\#(items.joined(separator: ",\n"))]}"#

        let t = try NftParser.parse(text, file: "nft-ruleset.txt")
        let tt = try XCTUnwrap(t.table(.ip, "t"))
        XCTAssertEqual(tt.chains.count, n + 1)
        for i in stride(from: 0, to: n, by: 137) {
            XCTAssertEqual(tt.chains[i].name, "c\(i)")
            XCTAssertEqual(tt.chains[i].rules.map(\.text), ["ip saddr 10.0.\(i >> 8).\(i & 0xFF) jump c\(i + 1)"])
            XCTAssertEqual(tt.chains[i].rules.first?.handle, UInt64(i + 10))
        }

        let plain = try NftJSONParser.parse(Data(json.utf8), file: "nft-ruleset.json")
        let jt = try XCTUnwrap(plain.table(.ip, "t"))
        XCTAssertEqual(jt.chains.count, n + 1)
        XCTAssertEqual(jt.chains.reduce(0) { $0 + $1.rules.count }, n)
        for i in stride(from: 0, to: n, by: 137) {
            XCTAssertEqual(jt.chains[i].rules.count, 1)
            XCTAssertEqual(jt.chains[i].rules.first?.line, n + 2 + (n - i), "line is the item index")
        }
        let borrowed = NftJSONParser.borrowingText(plain, from: t)
        let viaParse = try NftJSONParser.parse(Data(json.utf8), file: "nft-ruleset.json", companion: t)
        let bt = try XCTUnwrap(borrowed.table(.ip, "t"))
        let vt = try XCTUnwrap(viaParse.table(.ip, "t"))
        for i in stride(from: 0, to: n, by: 137) {
            let r = try XCTUnwrap(bt.chains[i].rules.first)
            XCTAssertEqual(r.text, tt.chains[i].rules[0].text)
            XCTAssertEqual(r.line, tt.chains[i].rules[0].line)
            XCTAssertEqual(r.file, "nft-ruleset.txt")
            XCTAssertEqual(vt.chains[i].rules.first?.text, r.text)
            XCTAssertEqual(vt.chains[i].rules.first?.line, r.line)
        }
    }

    /// A JSON listing naming a chain twice: rules go to the first chain of that name, as before.
    func testJSONRulesGoToTheFirstChainOfTheirName() throws {
        let json = """
        {"nftables": [
        {"table": {"family": "inet", "name": "f"}},
        {"chain": {"family": "inet", "table": "f", "name": "x"}},
        {"chain": {"family": "inet", "table": "f", "name": "x"}},
        {"rule": {"family": "inet", "table": "f", "chain": "x", "expr": [{"accept": null}]}}
        ]}
        """
        let rs = try NftJSONParser.parse(Data(json.utf8), file: "j.json")
        let f = try XCTUnwrap(rs.table(.inet, "f"))
        XCTAssertEqual(f.chains.map(\.rules.count), [1, 0])
        XCTAssertThrowsError(try NftJSONParser.parse(Data(#"{"nftables": [{"table": {"family": "ip", "name": "t"}}, {"rule": {"family": "ip", "table": "t", "chain": "nope", "expr": []}}]}"#.utf8), file: "j.json")) { e in
            XCTAssertTrue("\(e)".contains("chain nope is not declared before its rules"), "\(e)")
        }
    }
}
