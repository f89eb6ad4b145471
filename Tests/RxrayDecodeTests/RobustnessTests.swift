import Foundation
import XCTest
@testable import RxrayDecode

/// Deterministic PRNG (SplitMix64) so mutation runs repeat exactly.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476C_E11C_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Frames read from classic pcap files: just enough parsing for test input.
enum CorpusFrames {
    /// `../shared/corpus/pcaps` beside the project root, or `$RXRAY_SHARED/corpus/pcaps`.
    static let directory: URL = {
        if let shared = ProcessInfo.processInfo.environment["RXRAY_SHARED"] {
            return URL(fileURLWithPath: shared).appendingPathComponent("corpus/pcaps")
        }
        return URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/corpus/pcaps")
    }()

    /// Frames of supported link types from every classic pcap under the corpus, at most
    /// `limit` per file.
    static func load(limitPerFile: Int = 40) -> [(bytes: [UInt8], linkType: LinkType, wire: Int)] {
        let fm = FileManager.default
        guard let e = fm.enumerator(at: directory, includingPropertiesForKeys: nil) else { return [] }
        var out: [(bytes: [UInt8], linkType: LinkType, wire: Int)] = []
        var files: [URL] = []
        for case let url as URL in e where url.pathExtension == "pcap" { files.append(url) }
        files.sort { $0.path < $1.path }
        for url in files {
            guard let data = try? Data(contentsOf: url), data.count >= 24 else { continue }
            let b = [UInt8](data)
            func u32(_ o: Int, _ swap: Bool) -> UInt32 {
                let v = UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
                return swap ? v.byteSwapped : v
            }
            let magic = u32(0, false)
            let swap: Bool
            switch magic {
            case 0xA1B2_C3D4, 0xA1B2_3C4D: swap = false
            case 0xD4C3_B2A1, 0x4D3C_B2A1: swap = true
            default: continue
            }
            let lt = LinkType(rawValue: u32(20, swap) & 0x03FF_FFFF)
            guard lt.isSupported else { continue }
            var o = 24
            var n = 0
            while o + 16 <= b.count && n < limitPerFile {
                let incl = Int(u32(o + 8, swap)), orig = Int(u32(o + 12, swap))
                guard incl <= 262_144, o + 16 + incl <= b.count else { break }
                out.append((Array(b[(o + 16)..<(o + 16 + incl)]), lt, orig))
                o += 16 + incl
                n += 1
            }
        }
        return out
    }
}

final class RobustnessTests: XCTestCase {
    /// Valid frames over every link type, built by hand and recorded by scapy.
    func validFrames() -> [(bytes: [UInt8], linkType: LinkType)] {
        var frames: [(bytes: [UInt8], linkType: LinkType)] = Recorded.frames.map { (hexBytes($0.hex), .ethernet) }
        let ip4 = Build.ipv4(6, Build.tcp(options: [2, 4, 5, 0xB4, 1, 3, 3, 7], payload: [1, 2, 3]), options: [148, 4, 0, 0])
        let ip6 = Build.ipv6(0, [17, 0, 5, 2, 0, 0, 1, 0] + Build.udp(payload: [9, 9], src: v6("2001:db8::1"), dst: v6("2001:db8::2")))
        frames.append((Build.tcpSYN(), .ethernet))
        frames.append((Build.ether(0x0800, ip4, tags: [(0x88A8, 5), (0x8100, 6)]), .ethernet))
        frames.append((be16(0) + be16(1) + be16(6) + Build.srcMAC + [0, 0] + be16(0x0800) + ip4, .linuxSLL))
        frames.append((be16(0x86DD) + [0, 0] + be32(3) + be16(1) + [0, 6] + Build.srcMAC + [0, 0] + ip6, .linuxSLL2))
        frames.append(([2, 0, 0, 0] + ip4, .null))
        frames.append(([0, 0, 0, 30] + ip6, .null))
        frames.append(([0, 0, 0, 24] + ip6, .loop))
        frames.append((ip4, .raw))
        frames.append((ip6, .ipv6))
        frames.append((ip4, .ipv4))
        return frames
    }

    func testValidFramesDecodeClean() {
        for (i, f) in validFrames().enumerated() {
            let d = decode(f.bytes, f.linkType)
            switch d.outcome {
            case .ok, .unsupported, .badChecksum(.ipv4):
                break
            default:
                XCTFail("frame \(i): \(d.outcome)")
            }
            XCTAssertNotEqual(d.transportChecksum, .bad, "frame \(i)")
        }
    }

    func testEveryPrefixOfEveryValidFrameDecodesWithoutTrapping() {
        var prefixes = 0
        for (i, f) in validFrames().enumerated() {
            let full = decode(f.bytes, f.linkType)
            for n in 0..<f.bytes.count {
                let cut = Array(f.bytes.prefix(n))
                // Snapped: the wire length says there was more.
                withFrame(cut, f.linkType, wire: f.bytes.count) { d, b in
                    XCTAssertTrue(d.isSnapped)
                    for issue in d.issues {
                        if case .truncated = issue { continue }
                        XCTAssertTrue(full.issues.contains(issue), "frame \(i) prefix \(n): \(issue) not in full decode")
                    }
                    XCTAssertNotEqual(d.transportChecksum, .bad, "frame \(i) prefix \(n)")
                    XCTAssertLessThanOrEqual(d.payloadRange.upperBound, n)
                    _ = d.summaryLine(b)
                }
                // Not snapped: the frame itself was short. Only "no trap" is required.
                withFrame(cut, f.linkType) { d, b in
                    XCTAssertFalse(d.isSnapped)
                    _ = d.summaryLine(b)
                }
                prefixes += 1
            }
        }
        XCTAssertGreaterThan(prefixes, 2000)
    }

    func testSeededMutationRunNeverTraps() throws {
        var corpus = CorpusFrames.load()
        if corpus.isEmpty {
            print("RobustnessTests: no pcaps under \(CorpusFrames.directory.path); mutating hand-built frames only")
        } else {
            print("RobustnessTests: \(corpus.count) frames from the corpus")
        }
        corpus += validFrames().map { ($0.bytes, $0.linkType, $0.bytes.count) }
        var rng = SplitMix64(seed: 0x5258_5241_5944_4543)
        let linkTypes: [LinkType] = [.ethernet, .linuxSLL, .linuxSLL2, .null, .loop, .raw, .ipv4, .ipv6]
        let iterations = 100_000
        var buffer = [UInt8](repeating: 0, count: 70_000)
        var outcomes: [String: Int] = [:]
        for iteration in 0..<iterations {
            let source = corpus[Int(rng.next() % UInt64(corpus.count))]
            var n = min(source.bytes.count, buffer.count)
            for k in 0..<n { buffer[k] = source.bytes[k] }
            var wire = max(source.wire, n)
            var lt = source.linkType
            let mutations = 1 + Int(rng.next() % 4)
            for _ in 0..<mutations where n > 0 {
                let pos = Int(rng.next() % UInt64(n))
                switch rng.next() % 8 {
                case 0, 1: buffer[pos] ^= UInt8(1 << (rng.next() % 8))            // bit flip
                case 2: buffer[pos] = UInt8(truncatingIfNeeded: rng.next())       // random byte
                case 3:                                                           // 16-bit length-like field
                    let v: [UInt16] = [0, 1, 7, 8, 19, 20, 0x05DC, 0xFFFF, UInt16(truncatingIfNeeded: n), UInt16(truncatingIfNeeded: n + 1)]
                    let w = v[Int(rng.next() % UInt64(v.count))]
                    buffer[pos] = UInt8(w >> 8)
                    if pos + 1 < n { buffer[pos + 1] = UInt8(w & 0xFF) }
                case 4: buffer[pos] = [0x00, 0x0F, 0x45, 0x4F, 0x60, 0xFF][Int(rng.next() % 6)]  // header-length nibbles
                case 5: n = Int(rng.next() % UInt64(n + 1))                      // truncate
                case 6: wire = n + Int(rng.next() % 100)                          // snapped or not
                default: lt = linkTypes[Int(rng.next() % UInt64(linkTypes.count))]
                }
            }
            let frame = buffer.withUnsafeBytes { raw -> DecodedFrame in
                let view = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                let d = FrameDecoder.decode(view, linkType: lt, wireLength: wire)
                XCTAssertLessThanOrEqual(d.payloadRange.upperBound, n)
                if iteration % 97 == 0 {
                    _ = d.summaryLine(view)
                    var json = "{"
                    d.appendJSONFields(to: &json, view)
                    json += "}"
                    let parsed = try? JSONSerialization.jsonObject(with: Data(json.utf8))
                    XCTAssertNotNil(parsed, "invalid JSON: \(json)")
                }
                return d
            }
            let key: String
            switch frame.outcome {
            case .ok: key = "ok"
            case .truncated: key = "truncated"
            case .malformed: key = "malformed"
            case .badChecksum: key = "badChecksum"
            case .unsupported: key = "unsupported"
            }
            outcomes[key, default: 0] += 1
        }
        print("RobustnessTests: \(iterations) mutated decodes: \(outcomes.sorted { $0.key < $1.key })")
        XCTAssertEqual(outcomes.values.reduce(0, +), iterations)
        XCTAssertGreaterThan(outcomes["malformed", default: 0], 0)
        XCTAssertGreaterThan(outcomes["truncated", default: 0], 0)
        XCTAssertGreaterThan(outcomes["badChecksum", default: 0], 0)
    }

    func testCorpusFramesDecodeAndRender() throws {
        let corpus = CorpusFrames.load(limitPerFile: 1000)
        guard !corpus.isEmpty else {
            throw XCTSkip("no pcaps under \(CorpusFrames.directory.path)")
        }
        var ok = 0
        var goodTransport = 0
        for f in corpus {
            withFrame(f.bytes, f.linkType, wire: f.wire) { d, b in
                if d.outcome == .ok { ok += 1 }
                if d.transportChecksum == .good { goodTransport += 1 }
                _ = d.summaryLine(b)
            }
        }
        print("RobustnessTests: \(corpus.count) corpus frames, \(ok) ok, \(goodTransport) with a verified transport checksum")
        XCTAssertGreaterThan(ok, corpus.count / 4)
        XCTAssertGreaterThan(goodTransport, 100)
    }
}
