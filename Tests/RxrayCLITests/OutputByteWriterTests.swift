import Foundation
import RxrayDecode
import RxrayOutput
import RxrayStack
import XCTest

/// The byte writer the renderers write through: JSON string escaping against
/// JSONSerialization (random text, every control character, non-ASCII), decimal and hex
/// numbers and timestamps against Swift's own formatting, addresses against their
/// `description`, column padding, and growth past the initial capacity.
final class OutputByteWriterTests: XCTestCase {
    /// A deterministic generator (SplitMix64), so a failure reproduces.
    struct Rng {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    func text(_ body: (inout ByteWriter) -> Void) -> String { ByteWriter.string(body) }

    /// Random strings mixing ASCII, every control character, quotes, backslashes, DEL and
    /// multi-byte scalars.
    func randomString(_ rng: inout Rng) -> String {
        let pool: [Unicode.Scalar] = ["\"", "\\", "/", "\n", "\r", "\t", "\u{7F}", "\u{0}", "é", "—", "😀", "\u{2028}", " "]
        var s = String.UnicodeScalarView()
        for _ in 0..<rng.below(40) {
            switch rng.below(4) {
            case 0: s.append(Unicode.Scalar(UInt8(rng.below(32))))
            case 1: s.append(pool[rng.below(pool.count)])
            default: s.append(Unicode.Scalar(UInt8(32 + rng.below(95))))
            }
        }
        return String(s)
    }

    func testJSONStringsDecodeBackToTheSameTextAndEscapeLikeTheRest() throws {
        var rng = Rng(state: 42)
        for _ in 0..<3000 {
            let s = randomString(&rng)
            for escapeDEL in [true, false] {
                let json = text { $0.jsonString(s, escapeDEL: escapeDEL) }
                let back = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed]) as? String
                XCTAssertEqual(back, s, "round trip of \(s.debugDescription) as \(json)")
                XCTAssertFalse(json.utf8.dropFirst().dropLast().contains { $0 < 32 }, "no raw control byte in \(json)")
                XCTAssertEqual(json.contains("\u{7F}"), !escapeDEL && s.contains("\u{7F}"))
                if !escapeDEL {
                    // The decoder's fields and the JSON helpers escape the same way.
                    XCTAssertEqual(json, jsonQuoted(s))
                    XCTAssertEqual(json, JSON.quoted(s))
                }
            }
            // In-place escaping of text already written equals escaping it on the way in.
            var w = ByteWriter(capacity: 8)
            defer { w.deallocate() }
            w.ascii("x\"")
            let start = w.count
            w.string(s)
            w.escapeJSON(from: start)
            w.byte(34)
            XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self), "x" + text { $0.jsonString(s) })
        }
        XCTAssertEqual(text { $0.jsonString("a\u{1}\u{1F}\u{7F}b") }, "\"a\\u0001\\u001f\\u007fb\"")
        XCTAssertEqual(text { $0.jsonString("q\"b\\n\nr\rt\t") }, "\"q\\\"b\\\\n\\nr\\rt\\t\"")
    }

    func testTheSinkEscapesLikeTheWriter() throws {
        let path = NSTemporaryDirectory() + "rxray-bytewriter-\(getpid()).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var rng = Rng(state: 7)
        var expected = ""
        do {
            let sink = try ByteSink(path: path)
            // Enough text to cross the flush threshold several times.
            for _ in 0..<20_000 {
                let s = randomString(&rng)
                sink.writeJSONString(s)
                sink.write(int: -12)
                sink.endLine()
                expected += text { $0.jsonString(s) } + "-12\n"
            }
            sink.flush()
            XCTAssertNil(sink.error)
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), expected)
    }

    func testNumbersMatchSwiftFormatting() {
        var rng = Rng(state: 1)
        var values: [UInt64] = [0, 1, 9, 10, 99, 100, 999_999_999, 1_000_000_000, UInt64(UInt32.max), .max, .max - 1]
        for _ in 0..<2000 { values.append(rng.next() >> UInt64(rng.below(64))) }
        for v in values {
            XCTAssertEqual(text { $0.decimal(v) }, String(v))
            XCTAssertEqual(text { $0.hex(v) }, String(v, radix: 16))
            let d = rng.below(12)
            let plain = String(v)
            XCTAssertEqual(text { $0.decimal(v, minimumDigits: d) },
                           String(repeating: "0", count: max(0, d - plain.count)) + plain)
            let h = String(v, radix: 16)
            XCTAssertEqual(text { $0.hex(v, minimumDigits: 4) }, String(repeating: "0", count: max(0, 4 - h.count)) + h)
            let signed = Int(truncatingIfNeeded: v)
            XCTAssertEqual(text { $0.decimal(signed) }, String(signed))
            XCTAssertEqual(text { $0.decimal(UInt16(truncatingIfNeeded: v)) }, String(UInt16(truncatingIfNeeded: v)))
        }
        XCTAssertEqual(text { $0.decimal(Int.min) }, String(Int.min))
        // Every value through the digit-count boundaries of the short paths (1–2 digits
        // inline, 3–5 without a digit loop, 6 and more the general loop), one per line.
        let all = 0...120_000
        XCTAssertEqual(text { w in for v in all { w.decimal(UInt64(v)); w.byte(10) } },
                       all.map { String($0) + "\n" }.joined())
        XCTAssertEqual(text { w in for v in all { w.decimal(-v); w.byte(10) } },
                       all.map { String(-$0) + "\n" }.joined())
        XCTAssertEqual(text { $0.decimal(-5, width: 4) }, "  -5")
        XCTAssertEqual(text { $0.decimal(12345, width: 3) }, "12345")
    }

    func testTimestampsMatchTheStringForms() {
        var rng = Rng(state: 3)
        var values: [Int64] = [0, 1, -1, 999_999_999, -999_999_999, -1_000_000_000, 1_700_000_000_123_456_789, .max, .min / 2]
        for _ in 0..<1000 { values.append(Int64(bitPattern: rng.next()) >> Int64(1 + rng.below(62))) }
        for ns in values {
            XCTAssertEqual(text { $0.epoch(ns) }, Timestamps.epoch(ns), "\(ns)")
            XCTAssertEqual(text { $0.timeOfDay(ns) }, Timestamps.timeOfDay(ns), "\(ns)")
        }
    }

    func testAddressesMatchTheirDescriptions() {
        var rng = Rng(state: 5)
        var v6: [IPv6Address] = [.any, .loopback, IPv6Address("2001:db8::1")!, IPv6Address("::ffff:192.0.2.1")!,
                                 IPv6Address("fe80::1:0:0:0")!, IPv6Address("1:0:0:2:0:0:0:3")!,
                                 IPv6Address("1:0:2:0:3:0:4:0")!, IPv6Address("0:0:1::")!, IPv6Address("::2:0:0")!]
        for _ in 0..<3000 {
            // Random halves with random zero groups, to exercise the longest-run choice.
            var h = rng.next(), l = rng.next()
            for k in 0..<4 where rng.below(2) == 0 { h &= ~(0xFFFF << UInt64(16 * k)) }
            for k in 0..<4 where rng.below(2) == 0 { l &= ~(0xFFFF << UInt64(16 * k)) }
            v6.append(IPv6Address(high: h, low: l))
            if rng.below(10) == 0 { v6.append(IPv6Address(high: 0, low: 0xFFFF_0000_0000 | (l & 0xFFFF_FFFF))) }
        }
        for a in v6 {
            XCTAssertEqual(text { a.write(to: &$0) }, a.description)
            XCTAssertEqual(text { IPAddress.v6(a).write(to: &$0) }, a.description)
        }
        for _ in 0..<3000 {
            let a = IPv4Address(UInt32(truncatingIfNeeded: rng.next()))
            XCTAssertEqual(text { a.write(to: &$0) }, a.description)
            XCTAssertEqual(text { IPAddress.v4(a).write(to: &$0) }, a.description)
            let m = MACAddress(rng.next())
            XCTAssertEqual(text { m.write(to: &$0) }, m.description)
        }
    }

    func testIPv6TextMatchesDescriptionForEveryZeroGroupPattern() {
        // Each of the 256 patterns of zero groups, with nonzero groups of one to four hex
        // digits: the zero run chosen (first longest of two or more) and the digits written.
        let fills: [UInt64] = [0x1, 0x2a, 0x3bc, 0xdef0, 0xffff, 0x100, 0x10, 0x1000]
        for mask in 0..<256 {
            for (k, fill) in fills.enumerated() {
                var h: UInt64 = 0, l: UInt64 = 0
                for g in 0..<8 where mask & (1 << g) == 0 {
                    let v = fills[(k + g) % fills.count] | (g == 0 ? fill & 0xF : 0)
                    if g < 4 { h |= v << UInt64(48 - 16 * g) } else { l |= v << UInt64(48 - 16 * (g - 4)) }
                }
                let a = IPv6Address(high: h, low: l)
                XCTAssertEqual(text { a.write(to: &$0) }, a.description, "zero groups \(mask)")
                XCTAssertEqual(IPv6Address(a.description), a, "\(a.description) parses back")
            }
        }
    }

    func testPaddingCountsScalarsNotBytes() {
        XCTAssertEqual(text { $0.padded("ab", 5) }, "ab   ")
        XCTAssertEqual(text { $0.padded("—x", 4) }, "—x  ")
        XCTAssertEqual(text { $0.padded("abcdef", 3) }, "abcdef ")
        XCTAssertEqual(text { w in w.ascii("12"); let s = w.count; w.ascii("é"); w.pad(from: s, to: 3) }, "12é  ")
    }

    func testGrowingKeepsEverythingWritten() {
        var w = ByteWriter(capacity: 1)
        defer { w.deallocate() }
        var expected: [UInt8] = []
        for i in 0..<100_000 {
            let b = UInt8(truncatingIfNeeded: i &* 31)
            w.byte(b)
            expected.append(b)
        }
        XCTAssertEqual(Array(w.bytes), expected)
        w.truncate(to: 10)
        XCTAssertEqual(Array(w.bytes), Array(expected.prefix(10)))
    }

    /// The escape every byte gets, one at a time: the reference for the vector scan.
    func referenceEscaped(_ bytes: [UInt8], escapeDEL: Bool) -> [UInt8] {
        var out: [UInt8] = []
        let hex = Array("0123456789abcdef".utf8)
        for b in bytes {
            switch b {
            case 34: out += [92, 34]
            case 92: out += [92, 92]
            case 10: out += [92, 110]
            case 13: out += [92, 114]
            case 9: out += [92, 116]
            case 0..<32, 127 where b < 32 || escapeDEL:
                out += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
        return out
    }

    func escaped(_ bytes: [UInt8], escapeDEL: Bool) -> [UInt8] {
        var w = ByteWriter(capacity: 8)
        defer { w.deallocate() }
        bytes.withUnsafeBufferPointer { w.jsonEscaped($0, escapeDEL: escapeDEL) }
        return Array(w.bytes)
    }

    func testTheVectorEscaperMatchesAByteAtATimeReference() {
        // One byte needing an escape (or one clean byte 0x80+, or DEL) at every position of
        // clean runs of every length around the 16-byte blocks, so the overlapping last
        // block and the block edges are all exercised.
        let specials: [UInt8] = [0, 9, 10, 13, 31, 34, 92, 127, 0x80, 0xC3, 0xFF, 32, 33, 35, 91, 93, 126]
        for n in 0...70 {
            let clean = (0..<n).map { UInt8(97 + $0 % 26) }
            XCTAssertEqual(escaped(clean, escapeDEL: true), clean)
            XCTAssertEqual(clean.withUnsafeBufferPointer { ByteWriter.jsonCleanPrefix($0) }, n)
            for at in 0..<n {
                for b in specials {
                    var s = clean
                    s[at] = b
                    for del in [true, false] {
                        XCTAssertEqual(escaped(s, escapeDEL: del), referenceEscaped(s, escapeDEL: del), "n \(n) at \(at) byte \(b) del \(del)")
                    }
                    let needs = b < 32 || b == 34 || b == 92 || b == 127
                    XCTAssertEqual(s.withUnsafeBufferPointer { ByteWriter.jsonCleanPrefix($0) }, needs ? at : n)
                }
            }
        }
        // Random byte strings, invalid UTF-8 included, dense and sparse in escapes.
        var rng = Rng(state: 99)
        for round in 0..<4000 {
            let n = rng.below(300)
            let density = 1 + round % 40
            let s: [UInt8] = (0..<n).map { _ in rng.below(density) == 0 ? UInt8(rng.below(256)) : UInt8(32 + rng.below(95)) }
            for del in [true, false] {
                XCTAssertEqual(escaped(s, escapeDEL: del), referenceEscaped(s, escapeDEL: del), "\(s)")
            }
            // In place, after other text, equals escaping on the way in.
            var w = ByteWriter(capacity: 8)
            defer { w.deallocate() }
            w.ascii("ab\"")
            s.withUnsafeBufferPointer { w.bytes($0) }
            w.escapeJSON(from: 3)
            XCTAssertEqual(Array(w.bytes), Array("ab\"".utf8) + referenceEscaped(s, escapeDEL: true))
        }
    }

    func testRepeatedBytesCopyWhatWasWrittenEvenWhenTheWriterGrows() {
        var w = ByteWriter(capacity: 8)
        defer { w.deallocate() }
        w.ascii("ab\"cd\"")
        w.repeatBytes(from: 2, count: 4)
        XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self), "ab\"cd\"\"cd\"")
        // Twice the writer's size: the copy reads the bytes after the writer moved them.
        w.repeatBytes(from: 0, count: w.count)
        w.repeatBytes(from: 3, count: 0)
        XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self), "ab\"cd\"\"cd\"ab\"cd\"\"cd\"")
    }

    func testEscapingAfterOtherTextIntoAFullWriterKeepsBoth() {
        // The escaper reserves room for the rest of the text and stores sixteen-byte blocks
        // straight into it: written after other text, into a writer at every fill level of
        // its capacity, nothing before it changes and the result is the reference's.
        var rng = Rng(state: 7)
        for round in 0..<3000 {
            let prefixCount = rng.below(200)
            let n = rng.below(120)
            let density = 1 + round % 30
            let s: [UInt8] = (0..<n).map { _ in rng.below(density) == 0 ? UInt8(rng.below(256)) : UInt8(32 + rng.below(95)) }
            let prefix: [UInt8] = (0..<prefixCount).map { _ in UInt8(33 + rng.below(90)) }
            var w = ByteWriter(capacity: 64)
            defer { w.deallocate() }
            prefix.withUnsafeBufferPointer { w.bytes($0) }
            s.withUnsafeBufferPointer { w.jsonEscaped($0) }
            w.ascii("!")
            XCTAssertEqual(Array(w.bytes), prefix + referenceEscaped(s, escapeDEL: true) + [33], "\(prefix) \(s)")
        }
    }

    func testNineDigitsAndDigitCountsAtEveryBoundary() {
        var rng = Rng(state: 11)
        var values: [UInt32] = [0, 1, 9, 10, 99, 100, 999_999_999, 123_456_789, 100_000_000, 99_999_999]
        for _ in 0..<3000 { values.append(UInt32(rng.next() % 1_000_000_000)) }
        for v in values {
            let plain = String(v)
            XCTAssertEqual(text { $0.nineDigits(v) }, String(repeating: "0", count: 9 - plain.count) + plain)
        }
        var p: UInt64 = 1
        for digits in 1...19 {
            for v in [p, p &* 10 &- 1] {
                XCTAssertEqual(String(v).count, digits)
                XCTAssertEqual(text { $0.decimal(v) }, String(v))
                XCTAssertEqual(text { $0.decimal(v &- 1) }, String(v &- 1))
                XCTAssertEqual(text { $0.decimal(v, minimumDigits: 2) }, String(repeating: "0", count: max(0, 2 - digits)) + String(v))
                XCTAssertEqual(text { $0.decimal(v, minimumDigits: 21) }, String(repeating: "0", count: 21 - String(v).count) + String(v))
            }
            p *= 10
        }
        XCTAssertEqual(text { $0.decimal(UInt64.max, minimumDigits: 3) }, String(UInt64.max))
        // Nine digits are the value modulo 10⁹.
        XCTAssertEqual(text { $0.nineDigits(UInt32.max) }, "294967295")
        XCTAssertEqual(text { $0.nineDigits(1_000_000_007) }, "000000007")
    }

    func testLiteralNamesMatchTheStringNames() {
        for raw: UInt32 in [0, 1, 2, 101, 108, 113, 147, 228, 229, 276, 9999] {
            let t = LinkType(rawValue: raw)
            XCTAssertEqual(text { t.writeJSONName(to: &$0) }, text { $0.jsonString(t.name) })
        }
        for c: ChecksumStatus in [.notApplicable, .good, .bad, .notVerifiable, .absent] {
            XCTAssertEqual(text { c.writeJSON(to: &$0) }, text { $0.jsonString(c.description) })
        }
    }

    /// Records written from where they are (`write(gathering:)`, as waiting output is) land
    /// after what the sink buffered, in order: pieces of every size, more pieces than one
    /// `writev` takes, empty and long ones.
    func testGatheredPiecesFollowTheBufferedTextInOrder() throws {
        let path = NSTemporaryDirectory() + "rxray-gather-\(getpid()).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var rng = Rng(state: 11)
        var expected: [UInt8] = []
        var memory: [[UInt8]] = []
        do {
            let sink = try ByteSink(path: path)
            for round in 0..<4 {
                sink.write("head \(round)\n")
                expected += Array("head \(round)\n".utf8)
                // 3000 pieces (more than IOV_MAX), up to 200 KB in one.
                memory = (0..<3000).map { i in
                    let n = i == 7 ? 200_000 : rng.below(300)
                    return (0..<n).map { _ in UInt8(32 + rng.below(95)) }
                }
                let pieces = UnsafeMutableBufferPointer<iovec>.allocate(capacity: memory.count)
                defer { pieces.deallocate() }
                var keep: [UnsafeMutableRawPointer] = []
                for (i, m) in memory.enumerated() {
                    let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, m.count), alignment: 1)
                    m.withUnsafeBytes { if $0.count > 0 { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
                    keep.append(p)
                    pieces[i] = iovec(iov_base: p, iov_len: m.count)
                    expected += m
                }
                sink.write(gathering: pieces)
                for p in keep { p.deallocate() }
                XCTAssertNil(sink.error)
            }
            sink.write("tail\n")
            expected += Array("tail\n".utf8)
            sink.flush()
            XCTAssertNil(sink.error)
        }
        let got = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(got.count, expected.count)
        XCTAssertTrue(got.elementsEqual(expected), "gathered output differs")
    }

    /// A gathered write to a full disk fails as a buffered one does, and nothing after it is
    /// written.
    func testAGatheredWriteToAFullDiskSetsTheError() throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else { throw XCTSkip("no /dev/full on this system") }
        let sink = try ByteSink(path: "/dev/full")
        var bytes = [UInt8](repeating: 65, count: 100_000)
        bytes.withUnsafeMutableBytes { b in
            let pieces = UnsafeMutableBufferPointer<iovec>.allocate(capacity: 2)
            defer { pieces.deallocate() }
            pieces[0] = iovec(iov_base: b.baseAddress!, iov_len: 50_000)
            pieces[1] = iovec(iov_base: b.baseAddress! + 50_000, iov_len: 50_000)
            sink.write(gathering: pieces)
        }
        XCTAssertEqual(sink.error?.description, "/dev/full: cannot write: \(String(cString: strerror(ENOSPC)))")
    }

    /// The tuple text in one step at every digit count of both ports.
    func testIPv4PortTuplesMatchTheStringForm() {
        let ports: [UInt16] = [0, 9, 10, 99, 100, 999, 1000, 9999, 10000, 65535]
        for s in ports {
            for d in ports {
                let a = IPv4Address(0x0A00_0001 &* UInt32(s % 200 + 1)), b = IPv4Address(0xFFFF_FFFF &- UInt32(d))
                XCTAssertEqual(text { $0.ipv4PortTuple(source: a.value, destination: b.value, sport: s, dport: d) },
                               "src=\(a) dst=\(b) sport=\(s) dport=\(d)")
            }
        }
    }

    func testEveryOctetAndShortNumberIsWrittenAsSwiftDoes() {
        for v in 0..<256 {
            let a = IPv4Address(UInt32(v) << 24 | UInt32(255 - v) << 16 | UInt32(v / 3) << 8 | UInt32(v % 7))
            XCTAssertEqual(text { a.write(to: &$0) }, a.description)
            XCTAssertEqual(text { $0.ipv4(a.value) }, a.description)
        }
        for v: UInt64 in 0..<1100 {
            XCTAssertEqual(text { $0.decimal(v) }, String(v))
            XCTAssertEqual(text { $0.decimal(v, minimumDigits: 3) }, String(repeating: "0", count: max(0, 3 - String(v).count)) + String(v))
        }
        var p: UInt64 = 1
        for _ in 0..<19 {
            for v in [p - 1, p, p + 1] { XCTAssertEqual(text { $0.decimal(v) }, String(v)) }
            p *= 10
        }
    }

    func testStageSymbolsWrittenFromLiteralsMatchSymbol() {
        var stages: [Stage] = [
            .napiPoll,
            .devGroReceive,
            .ethTypeTrans,
            .netifReceiveSkbCore,
            .vlanDoReceive,
            .arpRcv,
            .ipRcvCore,
            .ipRcvFinish,
            .ipRouteInput,
            .fibValidateSource,
            .ipError,
            .ipLocalDeliver,
            .ipDefrag,
            .ipLocalDeliverFinish,
            .ipForward,
            .ipOutput,
            .icmpRcv,
            .icmpSend,
            .tcpV4Rcv,
            .tcpV4DoRcv,
            .tcpRcvStateProcess,
            .tcpCheckReq,
            .tcpTimewaitStateProcess,
            .udpRcv,
            .rawV4Input,
            .ipv6Rcv,
            .ip6RcvCore,
            .ip6RouteInput,
            .ip6Input,
            .ip6Forward,
            .ipv6Defrag,
            .icmpv6Rcv,
            .ndiscRcv,
            .tcpV6Rcv,
            .udpv6Rcv,
            .nfConntrackIn,
            .nfNat,
            .neighResolveOutput,
            .neighUpdate,
            .neighTimerHandler,
        ]
        for h in NFHook.allCases { stages.append(.nfHook(h, table: 3)) }
        for st in stages { XCTAssertEqual(text { st.writeSymbol(to: &$0) }, st.symbol) }
    }

    func testEveryStageAndVerdictIsRenderedWithItsSymbolDecisionAndDetail() throws {
        // JSON stage entries start from a table made once per (stage, verdict).
        var stages: [Stage] = [
            .napiPoll, .devGroReceive, .ethTypeTrans, .netifReceiveSkbCore, .vlanDoReceive, .arpRcv,
            .ipRcvCore, .ipRcvFinish, .ipRouteInput, .fibValidateSource, .ipError, .ipLocalDeliver,
            .ipDefrag, .ipLocalDeliverFinish, .ipForward, .ipOutput, .icmpRcv, .icmpSend, .tcpV4Rcv,
            .tcpV4DoRcv, .tcpRcvStateProcess, .tcpCheckReq, .tcpTimewaitStateProcess, .udpRcv,
            .rawV4Input, .ipv6Rcv, .ip6RcvCore, .ip6RouteInput, .ip6Input, .ip6Forward, .ipv6Defrag,
            .icmpv6Rcv, .ndiscRcv, .tcpV6Rcv, .udpv6Rcv, .nfConntrackIn, .nfNat, .neighResolveOutput,
            .neighUpdate, .neighTimerHandler, .reqskTimerHandler,
        ]
        for h in NFHook.allCases { stages += [.nfHook(h, table: 0), .nfHook(h, table: 9)] }
        let verdicts: [Verdict] = [.pass, .drop, .consume, .hold, .deliver, .forward, .note]
        var r = FrameResult()
        r.reset(frame: 1)
        var expected: [[String]] = []
        for (k, st) in stages.enumerated() {
            for v in verdicts {
                let d = k % 3 == 0 ? "" : "detail \(k) \"quoted\"\t\(v.name)"
                r.record(st, v, d)
                expected.append([st.symbol, v.name, d])
            }
        }
        let line = jsonLine(r)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        let got = try XCTUnwrap(object["stages"] as? [[String: String]])
        XCTAssertEqual(got.map { [$0["stage"] ?? "?", $0["decision"] ?? "?", $0["detail"] ?? "?"] }, expected)
        XCTAssertEqual(got.map { $0.keys.sorted() }, Array(repeating: ["decision", "detail", "stage"], count: expected.count))
    }

    func testTextLongerThanOneEscapingStepIsEscapedAsAWhole() {
        // Escaping reserves room for at most 8 KiB of input at a time: escapes on and around
        // the step boundaries, in a writer that has to grow.
        var rng = Rng(state: 7)
        for n in [8191, 8192, 8193, 8208, 20_000, 40_000] {
            var s: [UInt8] = (0..<n).map { _ in UInt8(97 + rng.below(26)) }
            for at in [0, 15, 16, 8175, 8176, 8190, 8191, 8192, 8193, 16_383, 16_384, n - 17, n - 16, n - 1] where at < n && at >= 0 {
                s[at] = [34, 92, 10, 0, 127][rng.below(5)]
            }
            for _ in 0..<(n / 500) { s[rng.below(n)] = UInt8(rng.below(32)) }
            XCTAssertEqual(escaped(s, escapeDEL: true), referenceEscaped(s, escapeDEL: true), "n \(n)")
        }
    }

    func testACommaSeparatedListIsRepeatedAsJSONStrings() {
        for list in ["mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7", "nop", "", "a,,b", ",", "sack 1 {1:2}"] {
            var w = ByteWriter(capacity: 8)
            defer { w.deallocate() }
            w.ascii("x[")
            let start = w.count
            w.string(list)
            let end = w.count
            w.ascii("]=")
            w.repeatAsJSONStrings(from: start, to: end)
            let items = list.split(separator: ",", omittingEmptySubsequences: false).map { "\"\($0)\"" }
            XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self), "x[\(list)]=" + items.joined(separator: ","))
        }
    }

    func testIPv6GroupsAreWrittenInHexWithoutLeadingZeros() {
        for v in [0, 1, 0xF, 0x10, 0xFF, 0x100, 0xFFF, 0x1000, 0xABCD, 0xFFFF] as [UInt16] {
            XCTAssertEqual(text { $0.hex16(v) }, String(v, radix: 16))
            XCTAssertEqual(text { $0.hex16(v) }, text { $0.hex(UInt64(v)) })
        }
    }

    func testRepliesAndCountersAreRenderedWithTheirNames() throws {
        var r = FrameResult()
        r.reset(frame: 1)
        let kinds: [Reply.Kind] = [.tcpRst, .tcpSynAck(cookie: false), .tcpSynAck(cookie: true), .tcpAck(challenge: false),
                                   .tcpAck(challenge: true), .icmp(type: 3, code: 3), .icmpv6(type: 1, code: 4), .arpReply,
                                   .arpRequest, .neighbourSolicit]
        for k in kinds {
            r.replies.append(Reply(kind: k, interface: "eth0", source: nil, destination: nil, summary: "s"))
        }
        let mibs = Array(MIB.allCases.prefix(7))
        for (k, m) in mibs.enumerated() { r.count(m, k + 1) }
        let line = jsonLine(r)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
        let replies = try XCTUnwrap(object["replies"] as? [[String: Any]])
        XCTAssertEqual(replies.map { $0["kind"] as? String }, r.replies.map { $0.kindName })
        let counters = try XCTUnwrap(object["counters"] as? [String: Int])
        XCTAssertEqual(counters, Dictionary(uniqueKeysWithValues: mibs.enumerated().map { ($1.name, $0 + 1) }))
        // In the order they moved.
        let text = String(decoding: line, as: UTF8.self)
        let positions = mibs.map { text.range(of: "\"\($0.name)\":")!.lowerBound }
        XCTAssertEqual(positions, positions.sorted())
    }

    func testFourHexDigitsAreWrittenZeroPadded() {
        for v: UInt16 in [0, 1, 0xF, 0x10, 0x800, 0x0800, 0x86DD, 0x8100, 0xFFFF] {
            XCTAssertEqual(text { $0.hex4(v) }, text { $0.hex(UInt64(v), minimumDigits: 4) })
        }
    }

    /// A frame's texts (capture interface, ingress, comment) are kept apart and together: each
    /// set or cleared alone leaves the others, none is the same as never set, and a frame's
    /// JSON object shows exactly those given, escaped.
    func testFrameMetaTextsAreKeptApartAndRendered() throws {
        var m = FrameMeta(index: 3, timestampNanoseconds: 5, captureLength: 14, wireLength: 14,
                          linkType: LinkType(rawValue: 1), captureInterface: nil)
        XCTAssertNil(m.captureInterface); XCTAssertNil(m.ingress); XCTAssertNil(m.comment)
        m.comment = "c"
        XCTAssertEqual(m.comment, "c"); XCTAssertNil(m.captureInterface); XCTAssertNil(m.ingress)
        m.captureInterface = "eth0"
        m.ingress = "veth1"
        XCTAssertEqual(m.captureInterface, "eth0"); XCTAssertEqual(m.ingress, "veth1"); XCTAssertEqual(m.comment, "c")
        var copy = m
        copy.comment = nil
        XCTAssertEqual(m.comment, "c", "a copy's change leaves the original")
        XCTAssertNil(copy.comment); XCTAssertEqual(copy.captureInterface, "eth0"); XCTAssertEqual(copy.ingress, "veth1")
        copy.captureInterface = nil
        copy.ingress = nil
        XCTAssertNil(copy.captureInterface); XCTAssertNil(copy.ingress); XCTAssertNil(copy.comment)
        for (interface, ingress, comment) in [(String?.none, String?.none, String?.none), ("en\"0", nil, nil), (nil, "br0", nil),
                                              (nil, nil, "a\ncomment"), ("eth1", "eth1", "x")] {
            let meta = FrameMeta(index: 9, timestampNanoseconds: 0, captureLength: 14, wireLength: 14,
                                 linkType: LinkType(rawValue: 1), captureInterface: interface, ingress: ingress, comment: comment)
            XCTAssertEqual(meta.captureInterface, interface); XCTAssertEqual(meta.ingress, ingress); XCTAssertEqual(meta.comment, comment)
            let frame = [UInt8](repeating: 0, count: 14)
            let line: [UInt8] = frame.withUnsafeBytes { bytes in
                let decoded = FrameDecoder.decode(bytes, linkType: LinkType(rawValue: 1), wireLength: 14)
                var r = FrameResult()
                r.reset(frame: 9)
                var w = ByteWriter(capacity: 64)
                defer { w.deallocate() }
                FrameRenderer(format: .jsonl).frame(meta, decoded: decoded, bytes: bytes, result: r, to: &w)
                return Array(w.bytes)
            }
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            XCTAssertEqual(object["interface"] as? String, interface)
            XCTAssertEqual(object["ingress"] as? String, ingress)
            XCTAssertEqual(object["ingress"] == nil, ingress == nil, "ingress only when known")
            XCTAssertEqual(object["comment"] as? String, comment)
            XCTAssertEqual(object["comment"] == nil, comment == nil, "comment only when there is one")
        }
    }

    /// Renders `r` as a jsonl line.
    private func jsonLine(_ r: FrameResult, stages: StageSelection? = nil) -> [UInt8] {
        let frame = [UInt8](repeating: 0, count: 14)
        return frame.withUnsafeBytes { bytes in
            let decoded = FrameDecoder.decode(bytes, linkType: LinkType(rawValue: 1), wireLength: 14)
            let meta = FrameMeta(index: 1, timestampNanoseconds: 0, captureLength: 14, wireLength: 14,
                                 linkType: LinkType(rawValue: 1), captureInterface: nil)
            var w = ByteWriter(capacity: 64)
            defer { w.deallocate() }
            FrameRenderer(format: .jsonl, stages: stages).frame(meta, decoded: decoded, bytes: bytes, result: r, to: &w)
            return Array(w.bytes)
        }
    }

    func testDetailClaimedJSONSafeIsCopiedAndRendersAsTheEscapingPathDoes() throws {
        // (text, whether its writer claims it needs no escape: only clean texts are claimed)
        let texts: [([UInt8], Bool)] = [
            (Array("10.0.0.1 → 10.0.0.2 proto 6 len 60 ttl 64".utf8), true),
            (Array("rule \"-A IN -m comment --comment \\\"x\\\" -j ACCEPT\" (f:3) verdict accept".utf8), false),
            (Array("back\\slash".utf8), false),
            (Array("ctl \u{1}\u{1F} tab\t nl\n cr\r".utf8), false),
            (Array("del\u{7F}".utf8), false),
            (Array("ünïcode → ok, 'quoted' {braces} [x]".utf8), true),
            (Array("ip filter INPUT (hook input, priority 0); policy accept".utf8), true),
            ([0x65, 0x74, 0x68, 0xFF, 0xC3, 0x28, 0x22], false), // invalid UTF-8 in an interface name, a quote
            ([], true),
            (Array(String(repeating: "0123456789abcdef", count: 40).utf8), true),
        ]
        var r = FrameResult()
        r.reset(frame: 1)
        for (t, claim) in texts {
            r.recordJSONSafe(.ipRcvCore, .pass, writing: { w in t.withUnsafeBufferPointer { w.bytes($0) }; return claim })
        }
        XCTAssertEqual(r.stages.map(\.jsonSafe), texts.map { $0.1 && !$0.0.isEmpty })
        // The same records, every detail escaped.
        var escaped = r
        for k in escaped.stages.indices { escaped.stages[k].jsonSafe = false }
        let line = jsonLine(r)
        XCTAssertEqual(line, jsonLine(escaped))
        // The copied texts read back as written (the line without the invalid UTF-8 record parses).
        var valid = FrameResult()
        valid.reset(frame: 1)
        for (t, claim) in texts where String(validating: t, as: UTF8.self) != nil {
            valid.recordJSONSafe(.ipRcvCore, .pass, writing: { w in t.withUnsafeBufferPointer { w.bytes($0) }; return claim })
        }
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(jsonLine(valid))) as? [String: Any])
        let stages = try XCTUnwrap(object["stages"] as? [[String: Any]])
        XCTAssertEqual(stages.map { $0["detail"] as? String },
                       texts.filter { String(validating: $0.0, as: UTF8.self) != nil }
                           .map { String(decoding: $0.0, as: UTF8.self) })
    }

    func testDetailWithItsJSONFormRendersAsTheEscapingPathDoes() throws {
        // A writer that keeps its text's pieces escaped already (netfilter's rule texts) writes
        // the JSON form after the detail; the JSON output copies it. Adversarial texts: quotes,
        // backslashes, control bytes, DEL, invalid UTF-8, long, empty, clean.
        let texts: [[UInt8]] = [
            Array("ip filter INPUT (hook input, priority 0); rule \"-A IN -m comment --comment \\\"x\\\" -j ACCEPT\" (f:3) verdict accept".utf8),
            Array("back\\slash".utf8),
            Array("ctl \u{1}\u{1F} tab\t nl\n cr\r del\u{7F}".utf8),
            [0x65, 0x74, 0x68, 0xFF, 0xC3, 0x28, 0x22],
            Array(String(repeating: "rule \"q\" → ü ", count: 300).utf8),
            Array("clean text, no escape".utf8),
            [],
        ]
        func make(jsonForm: Bool, claimClean: Bool) -> FrameResult {
            var r = FrameResult()
            r.wantsJSONForm = jsonForm
            r.reset(frame: 1)
            for (k, t) in texts.enumerated() {
                let stage: Stage = k == 2 ? .nfConntrackIn : (k == 3 ? .devGroReceive : .ipRcvCore)
                r.recordWithJSONForm(stage, .pass, writing: { w, form in
                    t.withUnsafeBufferPointer { w.bytes($0) }
                    let clean = t.withUnsafeBufferPointer { ByteWriter.jsonCleanPrefix($0) } == t.count
                    if claimClean && clean { return (t.count, true) }
                    if form { t.withUnsafeBufferPointer { w.jsonEscaped($0) } }
                    return (t.count, false)
                })
            }
            return r
        }
        let kept = make(jsonForm: true, claimClean: true)
        // A form is kept for each text that needs an escape, none for the clean or empty ones.
        let needs = texts.map { t in t.withUnsafeBufferPointer { ByteWriter.jsonCleanPrefix($0) } != t.count }
        XCTAssertEqual(kept.stages.map { $0.jsonCount > 0 }, needs)
        XCTAssertEqual(kept.stages.map(\.jsonSafe), needs.enumerated().map { !$0.element && !texts[$0.offset].isEmpty })
        // The detail itself is unchanged (text output, the report, --write read it).
        XCTAssertEqual(kept.stages.map { s in kept.withDetail(of: s) { Array($0) } }, texts)
        // Clean texts not claimed keep their (identical) form; without wantsJSONForm no form is
        // written. Every way renders the line the escaping path renders.
        let unclaimed = make(jsonForm: true, claimClean: false)
        let plain = make(jsonForm: false, claimClean: false)
        XCTAssertTrue(plain.stages.allSatisfy { $0.jsonCount == 0 && !$0.jsonSafe })
        let expected = jsonLine(plain)
        XCTAssertEqual(jsonLine(kept), expected)
        XCTAssertEqual(jsonLine(unclaimed), expected)
        // Records copied into another result keep their forms.
        var copied = FrameResult()
        copied.reset(frame: 1)
        copied.appendStages(of: kept)
        XCTAssertEqual(copied.stages.map(\.jsonCount), kept.stages.map(\.jsonCount))
        XCTAssertEqual(jsonLine(copied), expected)
        // The "gro" and "conntrack" objects of stages not shown read the form too.
        let shown = StageSelection(items: ["ip_"])
        XCTAssertEqual(jsonLine(kept, stages: shown), jsonLine(plain, stages: shown))
        XCTAssertEqual(jsonLine(copied, stages: shown), jsonLine(plain, stages: shown))
    }

    func testGROReasonsNeedNoJSONEscape() {
        // GRO's stage detail is claimed JSON-safe with these texts in it.
        for f in GROFlush.allCases {
            let u = Array(f.rawValue.utf8)
            XCTAssertEqual(u.withUnsafeBufferPointer { ByteWriter.jsonCleanPrefix($0) }, u.count, f.rawValue)
        }
    }
}
