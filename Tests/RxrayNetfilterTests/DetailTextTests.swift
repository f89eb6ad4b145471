import XCTest
import RxrayDecode
@testable import RxrayNetfilter

/// The byte writers behind stage detail text print exactly what the `description`s print
/// (the JSON and text output of every frame depends on it).
final class DetailTextTests: XCTestCase {
    private func bytes(_ body: (inout ByteWriter) -> Void) -> String { ByteWriter.string(body) }

    private func v6(_ s: String) -> NFValue {
        let a = IPv6Address(s)!
        return NFValue(high: a.high, low: a.low)
    }

    func testTupleTextMatchesDescription() {
        let tuples = [
            CTTuple(src: NFValue(0x0A01_00D9), dst: NFValue(0xC000_0201), sport: 34273, dport: 22, proto: 6, v6: false),
            CTTuple(src: NFValue(0), dst: NFValue(0xFFFF_FFFF), sport: 0, dport: 65535, proto: 17, v6: false),
            CTTuple(src: NFValue(0x0A00_0001), dst: NFValue(0x0A00_0002), sport: 4660, dport: 8 << 8, proto: 1, v6: false),
            CTTuple(src: NFValue(0x0A00_0001), dst: NFValue(0x0A00_0002), sport: 0, dport: 3 << 8 | 13, proto: 1, v6: false),
            CTTuple(src: v6("2001:db8::1"), dst: v6("fe80::"), sport: 65535, dport: 129 << 8, proto: 58, v6: true),
            CTTuple(src: v6("::"), dst: v6("::1"), sport: 1, dport: 2, proto: 132, v6: true),
            CTTuple(src: v6("2001:db8:0:0:1:0:0:1"), dst: v6("::ffff:192.0.2.1"), sport: 5, dport: 6, proto: 33, v6: true),
            CTTuple(src: v6("1:0:0:2:0:0:0:3"), dst: v6("2001:db8:1:2:3:4:5:6"), sport: 0, dport: 0, proto: 47, v6: true),
            CTTuple(src: NFValue(0xC633_6402), dst: NFValue(0x0808_0808), sport: 0, dport: 0, proto: 136, v6: false),
        ]
        for t in tuples {
            XCTAssertEqual(bytes { t.write(to: &$0) }, t.description)
        }
        XCTAssertEqual(bytes { tuples[4].write(to: &$0) }, "src=2001:db8::1 dst=fe80:: type=129 code=0 id=65535")
        XCTAssertEqual(bytes { tuples[7].write(to: &$0) }, "src=1:0:0:2::3 dst=2001:db8:1:2:3:4:5:6 proto=47")
    }

    /// IPv4 tuples with ports are written in one step (`ByteWriter.ipv4PortTuple`): every port
    /// length and octet length, at both ends of each, against the String form.
    func testIPv4TuplesWithPortsMatchDescriptionAtEveryDigitCount() {
        let ports: [UInt16] = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 1001, 9999, 10000, 10001, 65534, 65535]
        let addresses: [UInt32] = [0, 0x0102_0304, 0x0A0B_0C0D, 0x6364_6566, 0xC0A8_FF01, 0xFFFF_FFFF, 0x0900_630A]
        for proto: UInt8 in [6, 17, 132, 136, 33] {
            for (k, sport) in ports.enumerated() {
                let dport = ports[ports.count - 1 - k]
                let src = addresses[k % addresses.count], dst = addresses[(k * 3 + 1) % addresses.count]
                let t = CTTuple(src: NFValue(UInt64(src)), dst: NFValue(UInt64(dst)), sport: sport, dport: dport, proto: proto, v6: false)
                XCTAssertEqual(bytes { t.write(to: &$0) }, t.description)
                XCTAssertEqual(bytes { t.write(to: &$0) },
                               "src=\(IPv4Address(src)) dst=\(IPv4Address(dst)) sport=\(sport) dport=\(dport)")
            }
        }
        // After other text, and many in a row past the writer's first capacity.
        var w = ByteWriter(capacity: 64)
        defer { w.deallocate() }
        var expected = ""
        for (k, port) in ports.enumerated() {
            let t = CTTuple(src: NFValue(UInt64(addresses[k % addresses.count])), dst: NFValue(0xFFFF_FFFF), sport: port, dport: port,
                            proto: 6, v6: false)
            w.ascii(" orig ")
            t.write(to: &w)
            expected += " orig " + t.description
        }
        XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self), expected)
    }

    func testAddressTextMatchesDescription() {
        for s in ["::", "::1", "1::", "2001:db8::1", "2001:db8:0:0:1:0:0:1", "fe80::1:2", "::ffff:10.0.0.1",
                  "1:0:0:2:0:0:0:3", "0:0:1::", "2001:db8:1:2:3:4:5:6", "2001:0:0:1::1", "ff02::1:ff00:1"] {
            let a = IPv6Address(s)!
            XCTAssertEqual(bytes { a.write(to: &$0) }, a.description, s)
            XCTAssertEqual(bytes { IPAddress.v6(a).write(to: &$0) }, IPAddress.v6(a).description, s)
        }
        for v: UInt32 in [0, 1, 0x0A00_0001, 0xC000_0201, 0xFFFF_FFFF, 0x7F00_0001, 0x6400_0A09] {
            let a = IPv4Address(v)
            XCTAssertEqual(bytes { a.write(to: &$0) }, a.description)
        }
        for v: UInt64 in [0, 0xFFFF_FFFF_FFFF, 0x0200_0000_0011, 0x0A0B_0C0D_0E0F, 0x3333_0000_0001] {
            let m = MACAddress(v)
            XCTAssertEqual(bytes { m.write(to: &$0) }, m.description)
        }
    }

    func testChainTextIsJSONSafeOnlyWhenNothingNeedsAnEscape() {
        let names: [(table: String, name: String)] = [
            ("ip filter", "INPUT"), ("inet filter", "we\"ird"), ("ip filter", "back\\slash"), ("ip filter", "tab\tname"),
            ("ip filter", "del\u{7F}x"), ("inet t→ü", "ünïcode→chain"), ("ip filter", "ctl\u{1}"), ("ip \"q\"", "OK"),
            ("ip filter", "nul\u{0}"), ("ip filter", "line\nbreak"), ("ip filter", "y\u{1F}"), ("ip filter", "sp ace ~!"),
        ]
        let chains = names.map {
            CChain(name: $0.name, table: $0.table, family: .ip, firstRule: 0, ruleCount: 0, isNft: true, isBase: true,
                   hook: .input, priority: -5, policyDrop: false, isNat: false, file: "f", line: 1)
        }
        let text = NFTraceText(chains: chains, rules: [])
        for (i, c) in chains.enumerated() {
            let written = bytes { text.writeChain(i, to: &$0) }
            XCTAssertEqual(written, "\(c.table) \(c.name) (hook input, priority -5)")
            let needsEscape = written.utf8.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x7F }
            XCTAssertEqual(text.chainJSONSafe[i], !needsEscape, written)
        }
        XCTAssertEqual((0..<chains.count).filter { text.chainJSONSafe[$0] }, [0, 5, 11])
    }

    func testEscapedChainAndRuleTextsAreTheTextsEscaped() {
        // The JSON form of a visit's text is made of these pieces: each must be exactly what
        // escaping the raw piece gives (quotes, backslashes, control bytes, DEL, invalid UTF-8).
        func escaped(_ raw: String) -> String { bytes { w in var t = raw; t.withUTF8 { w.jsonEscaped($0) } } }
        let names: [(table: String, name: String)] = [
            ("ip filter", "INPUT"), ("inet filter", "we\"ird"), ("ip filter", "back\\slash"), ("ip filter", "tab\tname"),
            ("ip filter", "del\u{7F}x"), ("inet t→ü", "ünïcode→chain"), ("ip \"q\"", "OK"),
        ]
        let chains = names.map {
            CChain(name: $0.name, table: $0.table, family: .ip, firstRule: 0, ruleCount: 0, isNft: true, isBase: true,
                   hook: .input, priority: -5, policyDrop: false, isNat: false, file: "f", line: 1)
        }
        let texts = ["-A INPUT -j ACCEPT", "-A PORTFWD -p tcp -m comment --comment \"nodeport svc\" -j DNAT",
                     "ip saddr 10.0.0.1 counter comment \"a\\\"b\" drop", "ctl \u{1}\u{1F}\t\n\r del \u{7F}",
                     "", String(repeating: "long \"rule\" ", count: 40)]
        let rules = texts.enumerated().map {
            NFRuleInfo(table: "ip filter", chain: "INPUT", position: $0.offset + 1, handle: nil, text: $0.element,
                       file: "/etc/\"x\"/rules", line: $0.offset, isNft: false)
        }
        let text = NFTraceText(chains: chains, rules: rules)
        for i in chains.indices {
            let raw = bytes { text.writeChain(i, to: &$0) }
            XCTAssertEqual(bytes { NFTraceTables.write(text.chainJSON, i, to: &$0) }, escaped(raw), raw)
        }
        for i in rules.indices {
            let raw = bytes { text.writeRule(i, to: &$0) }
            XCTAssertTrue(raw.hasPrefix("; rule \"") && raw.hasSuffix(") verdict "), raw)
            XCTAssertEqual(bytes { NFTraceTables.write(text.ruleJSON, i, to: &$0) }, escaped(raw), raw)
        }
        // A chain name that needs an escape makes its jump text need one: no JSON form then.
        XCTAssertFalse(text.verdictsJSONSafe)
        XCTAssertTrue(NFTraceText(chains: [chains[0], chains[5]], rules: rules).verdictsJSONSafe)
        // Invalid UTF-8 cannot come from a Swift String; the escaper passes bytes 0x80 and up
        // through, so a rule text's bytes are escaped as the renderer escapes them.
        var w = ByteWriter(capacity: 16)
        defer { w.deallocate() }
        let odd: [UInt8] = [0x22, 0xFF, 0xC3, 0x28, 0x5C]
        odd.withUnsafeBufferPointer { w.jsonEscaped($0) }
        XCTAssertEqual(Array(w.bytes), [0x5C, 0x22, 0xFF, 0xC3, 0x28, 0x5C, 0x5C])
    }

    func testLowercasedASCII() {
        for s in ["ESTABLISHED_REPLY", "NEW", "RELATED_REPLY", "", "MiXeD → Ünicode"] {
            XCTAssertEqual(bytes { $0.lowercasedASCII(s) }, String(s.map { $0.isASCII ? Character($0.lowercased()) : $0 }))
        }
        XCTAssertEqual(bytes { $0.lowercasedASCII("ESTABLISHED_REPLY") }, "established_reply")
    }
}
