import XCTest
@testable import RxrayDecode

/// `InternetChecksum.add` sums in the machine's byte order, several lanes at a time; it must
/// give exactly what a big-endian 16-bit word-at-a-time sum gives.
final class InternetChecksumTests: XCTestCase {
    /// RFC 1071 word at a time, folded with end-around carry.
    private func reference(_ chunks: [[UInt8]], initial: UInt64 = 0) -> UInt16 {
        var acc = initial
        for c in chunks {
            var i = 0
            while i + 2 <= c.count { acc += UInt64(c[i]) << 8 | UInt64(c[i + 1]); i += 2 }
            if i < c.count { acc += UInt64(c[i]) << 8 }
        }
        while acc >> 16 != 0 { acc = (acc & 0xFFFF) + (acc >> 16) }
        return UInt16(acc)
    }

    private func sum(_ chunks: [[UInt8]], initial: UInt64 = 0) -> InternetChecksum {
        var c = InternetChecksum()
        c.accumulator = initial
        for chunk in chunks { chunk.withUnsafeBytes { c.add($0) } }
        return c
    }

    func testMatchesWordAtATimeSumForEveryLengthAndSplit() {
        var rng = SystemRandomNumberGenerator()
        for length in 0...300 {
            for pattern in 0..<4 {
                let bytes: [UInt8] = (0..<length).map { i in
                    switch pattern {
                    case 0: return 0
                    case 1: return 0xFF
                    case 2: return UInt8(truncatingIfNeeded: i &* 37 &+ 11)
                    default: return UInt8.random(in: 0...255, using: &rng)
                    }
                }
                // One piece, and two pieces split at an even offset (the API's contract).
                var splits = [[bytes]]
                if length >= 2 {
                    let cut = Int.random(in: 0...(length / 2), using: &rng) * 2
                    splits.append([Array(bytes[..<cut]), Array(bytes[cut...])])
                }
                for chunks in splits {
                    for initial: UInt64 in [0, 0xFFFF, 0x1_2345] {
                        let got = sum(chunks, initial: initial)
                        XCTAssertEqual(got.folded, reference(chunks, initial: initial),
                                       "length \(length) pattern \(pattern) pieces \(chunks.map(\.count)) initial \(initial)")
                    }
                }
            }
        }
    }

    /// `foldedSum` (end-around carry on 64-bit words) over long buffers, where every add
    /// carries (all 0xFF) or none does, at every start alignment: the folded word sum exactly,
    /// 0 only for all-zero bytes.
    func testFoldedSumOfLongBuffersAtEveryAlignment() {
        var rng = SystemRandomNumberGenerator()
        for length in [31, 32, 33, 63, 64, 65, 1499, 1500, 9001, 65_537, 200_000] {
            for pattern in 0..<5 {
                let bytes: [UInt8] = (0..<(length + 8)).map { i in
                    switch pattern {
                    case 0: return 0
                    case 1: return 0xFF
                    case 2: return i == length / 2 + 3 ? 1 : 0
                    case 3: return i % 2 == 0 ? 0xFF : 0xFE
                    default: return UInt8.random(in: 0...255, using: &rng)
                    }
                }
                for offset in 0..<8 {
                    let slice = Array(bytes[offset..<(offset + length)])
                    let got = bytes.withUnsafeBytes { InternetChecksum.foldedSum($0.baseAddress! + offset, count: length) }
                    let want = reference([slice])
                    // The reference folds to 0...0xFFFF with 0 only for all-zero input, as foldedSum.
                    XCTAssertEqual(got, UInt32(want), "length \(length) pattern \(pattern) offset \(offset)")
                    XCTAssertEqual(got == 0, slice.allSatisfy { $0 == 0 }, "zero only for zero bytes")
                }
            }
        }
    }

    /// `foldedSum` (the add-with-carry chain of CRxrayChecksum) against a byte-pair sum for
    /// every length 0...2,000 at every start offset 0...7, over random bytes, all 0xFF (every
    /// add carries, the end-around carry chains through the whole sum), all zero and runs of
    /// 0xFF with a few zeros; and through `InternetChecksum` with initial accumulators.
    func testFoldedSumMatchesBytePairSumForEveryLengthAndOffset() {
        var rng = SystemRandomNumberGenerator()
        let maxLength = 2_000
        for pattern in 0..<4 {
            let bytes: [UInt8] = (0..<(maxLength + 8)).map { i in
                switch pattern {
                case 0: return UInt8.random(in: 0...255, using: &rng)
                case 1: return 0xFF
                case 2: return 0
                default: return i % 97 == 5 ? 0 : 0xFF
                }
            }
            bytes.withUnsafeBytes { raw in
                let base = raw.baseAddress!
                for offset in 0..<8 {
                    // The unfolded byte-pair sum of bytes[offset ..< offset + length], grown a
                    // byte at a time: a byte at an even distance from the start is a high byte.
                    var plain: UInt64 = 0
                    var allZero = true
                    for length in 0...maxLength {
                        if length > 0 {
                            let b = bytes[offset + length - 1]
                            plain += (length - 1) % 2 == 0 ? UInt64(b) << 8 : UInt64(b)
                            allZero = allZero && b == 0
                        }
                        var want = plain
                        while want > 0xFFFF { want = (want & 0xFFFF) + (want >> 16) }
                        let got = InternetChecksum.foldedSum(base + offset, count: length)
                        if got != UInt32(want) || (got == 0) != allZero {
                            XCTFail("pattern \(pattern) offset \(offset) length \(length): \(got) != \(want)")
                            return
                        }
                        if length % 61 == 0 || length < 20 {
                            for initial: UInt64 in [1, 0xFFFF, 0x1_2345, 0xFFFF_FFFF] {
                                var c = InternetChecksum()
                                c.accumulator = initial
                                c.add(UnsafeRawBufferPointer(start: base + offset, count: length))
                                var w = plain + initial
                                while w > 0xFFFF { w = (w & 0xFFFF) + (w >> 16) }
                                XCTAssertEqual(c.folded, UInt16(w), "pattern \(pattern) offset \(offset) length \(length) initial \(initial)")
                            }
                        }
                    }
                }
            }
        }
    }

    func testVerifiesAPacketWithItsOwnChecksum() {
        // An IPv4 header whose checksum field makes it sum to 0xFFFF.
        var h: [UInt8] = [0x45, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 0x40, 0x06, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        let c = h.withUnsafeBytes { InternetChecksum.sum($0) }.checksum
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xFF)
        XCTAssertEqual(h.withUnsafeBytes { InternetChecksum.sum($0) }.folded, 0xFFFF)
        h[15] ^= 1
        XCTAssertNotEqual(h.withUnsafeBytes { InternetChecksum.sum($0) }.folded, 0xFFFF)
    }
}
