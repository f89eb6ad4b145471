import Foundation
import XCTest
@testable import RxrayRules

/// The byte-level nft JSON reader (`NftJSONParser`, on `JSONDocument`) against the Foundation
/// one it replaced (`FoundationNftJSONParser`): the same input must give the same tree, down to
/// every field, or the same failure.
final class NftJSONEquivalenceTests: XCTestCase {
    /// Everything in a parse, as text (`dump` reaches every stored property).
    static func fingerprint(_ rs: NftRuleset) -> String {
        var s = ""
        dump(rs, to: &s, maxDepth: .max, maxItems: .max)
        return s
    }

    /// Parses `data` both ways; returns a difference, or nil when they agree.
    static func compare(_ data: Data, file: String, companion: NftRuleset? = nil) -> String? {
        let old: Result<NftRuleset, Error> = Result { try FoundationNftJSONParser.parse(data, file: file, companion: companion) }
        let new: Result<NftRuleset, Error> = Result { try NftJSONParser.parse(data, file: file, companion: companion) }
        switch (old, new) {
        case (.success(let a), .success(let b)):
            let fa = fingerprint(a), fb = fingerprint(b)
            if fa == fb { return nil }
            let la = fa.split(separator: "\n", omittingEmptySubsequences: false), lb = fb.split(separator: "\n", omittingEmptySubsequences: false)
            let k = (0..<min(la.count, lb.count)).first { la[$0] != lb[$0] } ?? min(la.count, lb.count)
            return "\(file): trees differ at dump line \(k + 1):\n  foundation: \(k < la.count ? la[k] : "<end>")\n  bytes:      \(k < lb.count ? lb[k] : "<end>")"
        case (.failure(let a), .failure(let b)):
            // Syntax errors are worded differently (the new ones carry line and column), and the
            // byte reader keeps to RFC 8259 where Foundation is lenient (it takes trailing
            // commas): a syntax error from the byte reader settles it. Errors about the ruleset
            // itself must be the same, up to the order of members in a quoted value (Foundation
            // printed a Dictionary, in hash order) and the `Optional(...)` it wrapped a null in.
            let da = "\(a)", db = "\(b)"
            if db.contains(": not valid JSON: ") || da == db { return nil }
            func words(_ s: String) -> [Substring] {
                s.replacingOccurrences(of: "Optional(", with: "(").split(whereSeparator: { " ,[]()".contains($0) }).sorted()
            }
            if words(da) == words(db) { return nil }
            return "\(file): both fail, differently:\n  foundation: \(da)\n  bytes:      \(db)"
        case (.success, .failure(let b)):
            return "\(file): only the byte reader fails: \(b)"
        case (.failure(let a), .success):
            return "\(file): only Foundation fails: \(a)"
        }
    }

    /// Every nft JSON listing in the repository (Fixtures) and in the shared corpus.
    func testEveryStoredJSONRulesetParsesTheSameAsWithFoundation() throws {
        var files: [String] = []
        let pkg = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var roots = [pkg.appendingPathComponent("Fixtures").path]
        if let c = Corpus.root { roots.append(c + "/rulesets") }
        for root in roots {
            guard let walker = FileManager.default.enumerator(atPath: root) else { continue }
            for case let rel as String in walker where rel.hasSuffix(".json") {
                let path = root + "/" + rel
                guard let d = FileManager.default.contents(atPath: path), d.range(of: Data("\"nftables\"".utf8)) != nil else { continue }
                files.append(path)
            }
        }
        XCTAssertGreaterThan(files.count, 60, "Fixtures alone hold more than 60 nft-ruleset.json")
        var diffs: [String] = []
        var companions = 0
        for f in files {
            let d = try XCTUnwrap(FileManager.default.contents(atPath: f))
            if let diff = Self.compare(d, file: f) { diffs.append(diff) }
            // A snapshot's text listing next to it: the companion path too.
            let txt = URL(fileURLWithPath: f).deletingLastPathComponent().appendingPathComponent("nft-ruleset.txt").path
            if let t = FileManager.default.contents(atPath: txt), let text = try? NftParser.parse(String(decoding: t, as: UTF8.self), file: txt) {
                companions += 1
                if let diff = Self.compare(d, file: f + " (with companion)", companion: text) { diffs.append(diff) }
            }
        }
        print("nft JSON byte reader vs Foundation: \(files.count) files, \(companions) with a text companion")
        XCTAssertEqual(diffs, [])
    }

    /// The corpus's text rulesets, loaded into nftables in a scratch user+network namespace and
    /// listed as JSON: a wider spread of statements than the stored listings.
    func testCorpusRulesetsListedByNftParseTheSameAsWithFoundation() throws {
        let root = try Corpus.requireRoot()
        guard run(["unshare", "-rn", "nft", "list", "ruleset"]) != nil else {
            print("nft or unprivileged user namespaces unavailable: skipping the nft-listed JSON comparison")
            throw XCTSkip("nft or unprivileged user namespaces unavailable")
        }
        let files = try Corpus.manifest(root).map(\.path).filter {
            $0.contains("derived-nft-list-ruleset/") && $0.hasSuffix(".txt") || $0.contains("kube-proxy/derived/") && $0.hasSuffix(".txt")
                || $0.contains("nftables-1.0.9/tests/shell/testcases/") && $0.contains("/dumps/")
        }
        var compared = 0
        var diffs: [String] = []
        for f in files {
            let path = root + "/" + f
            guard let json = run(["unshare", "-rn", "sh", "-c", "nft -f '\(path)' && nft -j list ruleset"]) else { continue }
            compared += 1
            if let diff = Self.compare(Data(json.utf8), file: f) { diffs.append(diff) }
        }
        print("nft-listed corpus JSON, byte reader vs Foundation: \(compared) of \(files.count) rulesets loadable here")
        XCTAssertGreaterThan(compared, 80)
        XCTAssertEqual(diffs, [])
    }

    /// A large listing named by `RXRAY_NFT_JSON` (e.g. the kube-proxy bench host's, see
    /// docs/PERFORMANCE.md); skipped when unset.
    func testNamedLargeListingParsesTheSameAsWithFoundation() throws {
        guard let path = ProcessInfo.processInfo.environment["RXRAY_NFT_JSON"] else {
            throw XCTSkip("RXRAY_NFT_JSON not set")
        }
        let d = try XCTUnwrap(FileManager.default.contents(atPath: path), "cannot read \(path)")
        let t0 = Date()
        let rs = try NftJSONParser.parse(d, file: path)
        let t1 = Date()
        _ = try FoundationNftJSONParser.parse(d, file: path)
        let t2 = Date()
        print(String(format: "%@: %d rules; byte reader %.3f s, Foundation %.3f s", path, rs.summary.rules, t1.timeIntervalSince(t0), t2.timeIntervalSince(t1)))
        XCTAssertNil(Self.compare(d, file: path))
    }

    /// Broken and odd inputs fail (or parse) the same way, whatever the reader.
    func testMalformedAndOddRulesetsBehaveTheSame() {
        let table = #"{"table": {"family": "ip", "name": "t", "handle": 1}}"#
        let chain = #"{"chain": {"family": "ip", "table": "t", "name": "c", "handle": 2, "type": "filter", "hook": "input", "prio": -5, "policy": "drop"}}"#
        func listing(_ items: String...) -> Data { Data(#"{"nftables": [\#(items.joined(separator: ", "))]}"#.utf8) }
        let inputs: [(String, Data)] = [
            ("empty object", Data("{}".utf8)),
            ("array root", Data("[]".utf8)),
            ("nftables not an array", Data(#"{"nftables": {}}"#.utf8)),
            ("item not an object", listing("1")),
            ("item with two keys", listing(#"{"table": {}, "chain": {}}"#)),
            ("unknown family", listing(#"{"table": {"family": "ipx", "name": "t"}}"#)),
            ("body not an object", listing(#"{"table": 5}"#)),
            ("chain before table", listing(chain)),
            ("rule without expr", listing(table, chain, #"{"rule": {"family": "ip", "table": "t", "chain": "c"}}"#)),
            ("rule in unknown chain", listing(table, #"{"rule": {"family": "ip", "table": "t", "chain": "x", "expr": []}}"#)),
            ("match without right", listing(table, chain, #"{"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "mark"}}}}]}}"#)),
            ("null right", listing(table, chain, #"{"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": null}}]}}"#)),
            ("bad prefix", listing(table, chain, #"{"rule": {"family": "ip", "table": "t", "chain": "c", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "nope", "len": 8}}}}]}}"#)),
            ("unknown statement", listing(table, chain, #"{"rule": {"family": "ip", "table": "t", "chain": "c", "handle": 3, "expr": [{"osf": {"key": "name"}}, {"accept": null}]}}"#)),
            ("bool and number odds", listing(table, chain, #"{"rule": {"family": "ip", "table": "t", "chain": "c", "handle": 18446744073709551615, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 4294967296}}, {"limit": {"rate": 10, "per": "second", "inv": true}}, {"quota": {"val": 5, "inv": 1}}, {"counter": null}, {"drop": null}]}}"#)),
            ("objects", listing(table, #"{"counter": {"family": "ip", "table": "t", "name": "cnt", "handle": 4, "packets": 7, "bytes": 9}}"#, #"{"quota": {"family": "ip", "table": "t", "name": "q", "bytes": 100, "used": 1, "inv": true, "comment": "a \"b\""}}"#, #"{"limit": {"family": "ip", "table": "t", "name": "l", "rate": 1.5, "per": "minute", "list": [1, "x", null, true]}}"#)),
            ("escapes in names", listing(#"{"table": {"family": "inet", "name": "t\u00e9\ud83d\ude00\n", "comment": "tab\there"}}"#)),
            ("map element missing val", listing(table, #"{"map": {"family": "ip", "table": "t", "name": "m", "type": "ipv4_addr", "map": "verdict", "elem": [[{"elem": {"timeout": 5}}, {"accept": null}]]}}"#)),
            ("set with typed elements", listing(table, #"{"set": {"family": "ip", "table": "t", "name": "s", "type": ["ipv4_addr", "inet_service"], "flags": "interval", "elem": [{"concat": ["10.0.0.1", 80]}, {"elem": {"val": {"concat": ["10.0.0.2", 443]}, "comment": "x", "counter": {"packets": 1, "bytes": 2}}}, {"range": ["10.0.0.3", "10.0.0.9"]}]}}"#)),
            ("unknown item kind", listing(#"{"frobnicate": {}}"#)),
            ("truncated", Data(#"{"nftables": [{"table": {"family": "ip", "na"#.utf8)),
            ("trailing garbage", Data(#"{"nftables": []} x"#.utf8)),
        ]
        for (name, d) in inputs {
            XCTAssertNil(Self.compare(d, file: name + ".json"), name)
        }
    }

    func run(_ args: [String]) -> String? { commandOutput(args) }
}
