import CRxrayChecksum

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
    /// Summed by `rxray_csum_fold` (CRxrayChecksum): 64-bit words in the machine's byte order
    /// with end-around carry, one add-with-carry instruction per eight bytes on x86_64, folded
    /// to 16 bits and swapped to network order once (RFC 1071: the ones'-complement sum is
    /// independent of byte order up to that swap; the end-around carry keeps the sum congruent
    /// modulo 0xFFFF, since 2^64 ≡ 1, and makes it zero only when every word is). Inlinable,
    /// so the C is inlined where the stages sum.
    @inlinable @inline(__always)
    public static func foldedSum(_ p: UnsafeRawPointer, count n: Int) -> UInt32 {
        rxray_csum_fold(p, n)
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
