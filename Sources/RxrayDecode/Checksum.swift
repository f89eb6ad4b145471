/// RFC 1071 one's-complement sums, accumulated in 64 bits and folded at the end.
public struct InternetChecksum: Sendable {
    /// The unfolded running sum.
    public var accumulator: UInt64 = 0
    public init() {}

    /// Adds `bytes` as big-endian 16-bit words (an odd tail byte is padded with zero).
    /// Call with an even-length buffer except for the last one.
    ///
    /// The bytes are summed by `foldedSum` (64-bit words with end-around carry). The folded
    /// value is congruent to the big-endian word sum modulo 0xFFFF and zero only for all-zero
    /// bytes, so `folded` and `checksum` are those of a 16-bit word-at-a-time sum.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0, let p = bytes.baseAddress else { return }
        accumulator &+= UInt64(Self.foldedSum(p, count: n))
    }

    /// The ones'-complement sum of the big-endian 16-bit words of `n` bytes at `p` (an odd last
    /// byte is the high byte of a zero-padded word), folded to 16 bits: 0 only when every byte
    /// is 0, else 1...0xFFFF (the one value of that range congruent to the word sum modulo 0xFFFF).
    ///
    /// 64-bit words are added in the machine's byte order with end-around carry (an add and an
    /// add-with-carry per eight bytes, 64 bytes a loop step), folded to 16 bits and swapped to network order once
    /// (RFC 1071: the ones'-complement sum is independent of byte order up to that swap; the
    /// end-around carry keeps the sum congruent modulo 0xFFFF, since 2^64 ≡ 1, and makes it zero
    /// only when every word is).
    public static func foldedSum(_ p: UnsafeRawPointer, count n: Int) -> UInt32 {
        @inline(__always) func addc(_ a: inout UInt64, _ w: UInt64) {
            let (s, o) = a.addingReportingOverflow(w)
            // s ≤ 2^64 - 2 after an overflow: adding the carry cannot overflow again.
            a = s &+ (o ? 1 : 0)
        }
        var a: UInt64 = 0, b: UInt64 = 0
        var i = 0
        // 64 bytes a step; `n` ≥ 0 is a buffer's count, so these index sums cannot overflow.
        let end64 = n & ~63
        while i < end64 {
            addc(&a, p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            addc(&b, p.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self))
            addc(&a, p.loadUnaligned(fromByteOffset: i &+ 16, as: UInt64.self))
            addc(&b, p.loadUnaligned(fromByteOffset: i &+ 24, as: UInt64.self))
            addc(&a, p.loadUnaligned(fromByteOffset: i &+ 32, as: UInt64.self))
            addc(&b, p.loadUnaligned(fromByteOffset: i &+ 40, as: UInt64.self))
            addc(&a, p.loadUnaligned(fromByteOffset: i &+ 48, as: UInt64.self))
            addc(&b, p.loadUnaligned(fromByteOffset: i &+ 56, as: UInt64.self))
            i &+= 64
        }
        let end8 = n & ~7
        while i < end8 {
            addc(&a, p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i &+= 8
        }
        if i + 4 <= n {
            addc(&b, UInt64(p.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            i += 4
        }
        if i + 2 <= n {
            addc(&b, UInt64(p.loadUnaligned(fromByteOffset: i, as: UInt16.self)))
            i += 2
        }
        if i < n {
            // A last odd byte is the high byte of a zero-padded network-order word: in the
            // machine's (little-endian) order, the low byte of the word.
            addc(&b, UInt64(UInt16(bigEndian: UInt16(p.load(fromByteOffset: i, as: UInt8.self)) << 8)))
        }
        addc(&a, b)
        var sum = (a & 0xFFFF_FFFF) &+ (a >> 32)
        sum = (sum & 0xFFFF_FFFF) &+ (sum >> 32)
        while sum > 0xFFFF { sum = (sum & 0xFFFF) &+ (sum >> 16) }
        return UInt32(UInt16(bigEndian: UInt16(truncatingIfNeeded: sum)))
    }
    public mutating func add(_ word: UInt16) { accumulator &+= UInt64(word) }
    public mutating func add(_ word: UInt32) { accumulator &+= UInt64(word >> 16) &+ UInt64(word & 0xFFFF) }
    public mutating func add(_ a: IPv4Address) { add(a.value) }
    public mutating func add(_ a: IPv6Address) {
        accumulator &+= (a.high >> 32) &+ (a.high & 0xFFFF_FFFF) &+ (a.low >> 32) &+ (a.low & 0xFFFF_FFFF)
    }

    /// The 16-bit one's-complement sum (0xffff when data including its checksum verifies).
    public var folded: UInt16 {
        var s = accumulator
        while s >> 16 != 0 { s = (s & 0xFFFF) &+ (s >> 16) }
        return UInt16(s)
    }
    /// The checksum field value that would make the data verify.
    public var checksum: UInt16 { ~folded }

    public static func sum(_ bytes: UnsafeRawBufferPointer) -> InternetChecksum {
        var c = InternetChecksum()
        c.add(bytes)
        return c
    }
}
