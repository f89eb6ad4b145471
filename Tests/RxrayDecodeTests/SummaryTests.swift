import Foundation
import XCTest
@testable import RxrayDecode

final class SummaryTests: XCTestCase {
    /// tcpdump 4.99 (`-n -t -S`) printed these lines for the recorded frames. rxray differs on
    /// purpose in three ways, written into the expectations: VLAN tags show as a `vlan N, p P, `
    /// prefix, application protocols are not decoded (tcpdump's `: HTTP` suffix), and problems
    /// are suffixed (`[bad ip cksum]`).
    func testSummaryLinesAgreeWithTcpdump() {
        for (hex, expected) in Recorded.frames {
            XCTAssertEqual(summary(hexBytes(hex)), expected)
        }
    }

    func testProblemSuffixes() {
        let frame = Build.ether(0x0800, Build.ipv4(6, Build.tcp(payload: [1, 2, 3])))
        XCTAssertEqual(summary(Array(frame.prefix(40)), wire: frame.count), "IP 10.0.0.1 > 10.0.0.2: tcp [truncated tcp]")
        XCTAssertEqual(summary(Build.ether(0x0800, Build.ipv4(17, Build.udp(), totalLength: 99))),
                       "IP 10.0.0.1 > 10.0.0.2: [malformed ip: total_length_exceeds_frame]")
        var bad = frame
        bad[bad.count - 1] ^= 1
        XCTAssertEqual(summary(bad), "IP 10.0.0.1.12345 > 10.0.0.2.80: Flags [S], seq 1:4, win 64240, length 3 [bad tcp cksum]")
        XCTAssertEqual(summary(Build.ether(0x0800, Build.ipv4(47, [0, 0, 8, 0]))), "IP 10.0.0.1 > 10.0.0.2: ip-proto-47 4")
    }

    func testICMPErrorAndIPv6NDTexts() {
        let inner = Build.ipv4(6, Array(Build.tcp(sport: 4444, dport: 22).prefix(8)), src: "10.0.0.2", dst: "192.0.2.7")
        XCTAssertEqual(summary(Build.ether(0x0800, Build.ipv4(1, Build.icmp(type: 3, code: 4, rest: [0, 0, 0x05, 0xDC], payload: inner)))),
                       "IP 10.0.0.1 > 10.0.0.2: ICMP 192.0.2.7 unreachable - need to frag (mtu 1500), length 36")
        XCTAssertEqual(summary(Build.ether(0x0800, Build.ipv4(1, Build.icmp(type: 3, code: 3, payload: inner)))),
                       "IP 10.0.0.1 > 10.0.0.2: ICMP 192.0.2.7 tcp port 22 unreachable, length 36")
    }

    func testJSONFieldsAreValidJSONWithTheDecodedValues() throws {
        for (hex, _) in Recorded.frames {
            let b = hexBytes(hex)
            let json = withFrame(b) { f, raw -> String in
                var s = "{\"frame\":1,"
                f.appendJSONFields(to: &s, raw)
                return s + "}"
            }
            let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], json)
            XCTAssertEqual(obj["link"] as? String, "EN10MB")
            XCTAssertNotNil(obj["outcome"] as? String)
        }
        let syn = hexBytes(Recorded.frames[0].hex)
        let obj = try withFrame(syn) { f, raw -> [String: Any] in
            var s = "{"
            f.appendJSONFields(to: &s, raw)
            return try XCTUnwrap(JSONSerialization.jsonObject(with: Data((s + "}").utf8)) as? [String: Any])
        }
        XCTAssertEqual(obj["src"] as? String, "10.0.0.1")
        XCTAssertEqual(obj["dst"] as? String, "10.0.0.2")
        XCTAssertEqual(obj["sport"] as? Int, 12345)
        XCTAssertEqual(obj["dport"] as? Int, 80)
        XCTAssertEqual(obj["l3"] as? String, "ipv4")
        XCTAssertEqual(obj["l4"] as? String, "tcp")
        XCTAssertEqual(obj["tcp_flags"] as? String, "S")
        XCTAssertEqual(obj["ethertype"] as? String, "0x0800")
        XCTAssertEqual(obj["src_mac"] as? String, "02:00:00:00:00:01")
        XCTAssertEqual(obj["tcp_options"] as? [String], ["mss 1460", "sackOK", "TS val 1 ecr 0", "nop", "wscale 7"])
        XCTAssertEqual((obj["vlan"] as? [[String: Any]])?.first?["vid"] as? Int, 100)
        XCTAssertEqual(obj["outcome"] as? String, "ok")
        XCTAssertEqual(obj["l4_cksum"] as? String, "good")
    }

    func testTCPOptionsCopiedFromTheSummaryEqualTheOptionsWrittenAgain() {
        // The JSON `tcp_options` array may be copied from the summary line's option list.
        let optionSets: [[UInt8]] = [
            [2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7],
            [1, 1, 5, 18, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 10, 0, 0, 0, 20],
            [1, 1, 1, 0],
            [30, 4, 1, 2, 19, 2, 0, 0],
            [],
        ]
        for opts in optionSets {
            let frame = Build.ether(0x0800, Build.ipv4(6, Build.tcp(flags: 0x12, options: opts)))
            withFrame(frame) { f, raw in
                var w = ByteWriter(capacity: 16)
                defer { w.deallocate() }
                var options: Range<Int>?
                f.writeSummaryLine(raw, to: &w, tcpOptionsText: &options)
                XCTAssertEqual(options == nil, opts.isEmpty)
                let summary = String(decoding: w.bytes, as: UTF8.self)
                XCTAssertEqual(summary, f.summaryLine(raw))
                let copiedStart = w.count
                f.writeJSONFields(raw, to: &w, tcpOptionsText: options)
                let copied = String(decoding: UnsafeBufferPointer(rebasing: w.bytes[copiedStart...]), as: UTF8.self)
                let writtenStart = w.count
                f.writeJSONFields(raw, to: &w)
                let written = String(decoding: UnsafeBufferPointer(rebasing: w.bytes[writtenStart...]), as: UTF8.self)
                XCTAssertEqual(copied, written, summary)
            }
        }
    }

    func testSummaryClaimedCleanNeedsNoJSONEscape() {
        // JSON output copies a summary line its writer calls clean without scanning it.
        var frames = Recorded.frames.map { hexBytes($0.0) }
        let tcp = Build.ether(0x0800, Build.ipv4(6, Build.tcp(payload: [1, 2, 3])))
        frames.append(tcp)
        frames.append(Array(tcp.prefix(40)))
        frames.append(Build.ether(0x0800, Build.ipv4(17, Build.udp(), totalLength: 99)))
        frames.append(Build.ether(0x0800, Build.ipv4(47, [0, 0, 8, 0])))
        frames.append(Build.ether(0x0800, Build.ipv4(6, Build.tcp(flags: 0x12, options: [2, 4, 0x05, 0xB4, 1, 3, 3, 7, 30, 4, 1, 2]))))
        var claimed = 0
        for frame in frames {
            withFrame(frame, wire: frame == Array(tcp.prefix(40)) ? tcp.count : nil) { f, raw in
                var w = ByteWriter(capacity: 16)
                defer { w.deallocate() }
                var options: Range<Int>?
                let clean = f.writeSummaryLine(raw, to: &w, tcpOptionsText: &options)
                XCTAssertEqual(String(decoding: w.bytes, as: UTF8.self), f.summaryLine(raw))
                if clean {
                    claimed += 1
                    XCTAssertEqual(ByteWriter.jsonCleanPrefix(w.bytes), w.count, f.summaryLine(raw))
                }
            }
        }
        // Plain TCP and UDP frames are claimed (the point of the claim).
        XCTAssertGreaterThan(claimed, frames.count / 2)
    }

    func testJSONQuotingEscapes() {
        XCTAssertEqual(jsonQuoted("a\"b\\c\n\u{01}"), "\"a\\\"b\\\\c\\n\\u0001\"")
    }
}

final class ChecksumTests: XCTestCase {
    func testRFC1071Example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data: [UInt8] = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]
        data.withUnsafeBytes { XCTAssertEqual(InternetChecksum.sum($0).folded, 0xDDF2) }
        // Odd lengths pad with zero; the 8-byte fast path and the tail agree with the reference.
        var rng = SplitMix64(seed: 42)
        for n in 0..<100 {
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            bytes.withUnsafeBytes { XCTAssertEqual(InternetChecksum.sum($0).checksum, referenceChecksum(bytes), "n=\(n)") }
        }
    }

    func testKnownGoodRecordedFramesVerify() {
        for (i, (hex, _)) in Recorded.frames.enumerated() {
            let f = decode(hexBytes(hex))
            if f.network == .ipv4 && i != 14 { XCTAssertEqual(f.ipChecksum, .good, "frame \(i)") }
            if f.transport != .none && f.fragment == nil {
                XCTAssertEqual(f.transportChecksum, .good, "frame \(i): \(summary(hexBytes(hex)))")
            }
        }
        XCTAssertEqual(decode(hexBytes(Recorded.frames[14].hex)).ipChecksum, .bad, "scapy wrote chksum=0x1234")
    }

    func testEveryCorruptedByteOfACoveredAreaIsCaught() {
        let frame = Build.ether(0x0800, Build.ipv4(17, Build.udp(payload: Array(0..<20))))
        for pos in 14..<frame.count where pos != 14 + 10 && pos != 14 + 11 {
            var b = frame
            b[pos] = b[pos] &+ 1
            let f = decode(b)
            if pos < 34 {
                if case .malformed = f.outcome { continue }   // a corrupted length field
                if case .truncated = f.outcome { continue }
                if case .unsupported = f.outcome { continue } // the protocol byte
                XCTAssertEqual(f.ipChecksum, .bad, "byte \(pos)")
            } else if pos != 34 + 4 && pos != 34 + 5 {
                XCTAssertEqual(f.transportChecksum, .bad, "byte \(pos)")
            }
        }
    }
}
