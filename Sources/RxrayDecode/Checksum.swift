/// RFC 1071 one's-complement sums, accumulated in 64 bits and folded at the end.
public struct InternetChecksum: Sendable {
    /// The unfolded running sum.
    public var accumulator: UInt64 = 0
    public init() {}

    /// Adds `bytes` as big-endian 16-bit words (an odd tail byte is padded with zero).
    /// Call with an even-length buffer except for the last one.
    ///
    /// The words are summed in the machine's byte order, 32 bytes a step into four 64-bit lanes
    /// of 32-bit halves (no carry is lost below 2^29 steps, 16 GiB), folded to 16 bits and swapped to
    /// network order once (RFC 1071: the ones'-complement sum is independent of byte order up
    /// to that swap). The folded value is congruent to the big-endian word sum modulo 0xFFFF
    /// and zero only for all-zero bytes, so `folded` and `checksum` are those of a 16-bit
    /// word-at-a-time sum.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        let n = bytes.count
        guard n > 0, let p = bytes.baseAddress else { return }
        var a: UInt64 = 0, b: UInt64 = 0, c: UInt64 = 0, d: UInt64 = 0
        var i = 0
        while i + 32 <= n {
            let w0 = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let w1 = p.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)
            let w2 = p.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self)
            let w3 = p.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self)
            a &+= (w0 & 0xFFFF_FFFF) &+ (w0 >> 32)
            b &+= (w1 & 0xFFFF_FFFF) &+ (w1 >> 32)
            c &+= (w2 & 0xFFFF_FFFF) &+ (w2 >> 32)
            d &+= (w3 & 0xFFFF_FFFF) &+ (w3 >> 32)
            i += 32
        }
        while i + 8 <= n {
            let w = p.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            a &+= (w & 0xFFFF_FFFF) &+ (w >> 32)
            i += 8
        }
        if i + 4 <= n {
            a &+= UInt64(p.loadUnaligned(fromByteOffset: i, as: UInt32.self))
            i += 4
        }
        if i + 2 <= n {
            a &+= UInt64(p.loadUnaligned(fromByteOffset: i, as: UInt16.self))
            i += 2
        }
        // Each lane is below 2^62 (see above): their sum cannot overflow.
        var sum = (a &+ b) &+ (c &+ d)
        sum = (sum & 0xFFFF_FFFF) &+ (sum >> 32)
        sum = (sum & 0xFFFF_FFFF) &+ (sum >> 32)
        while sum > 0xFFFF { sum = (sum & 0xFFFF) &+ (sum >> 16) }
        var acc = UInt64(UInt16(bigEndian: UInt16(truncatingIfNeeded: sum)))
        // A last odd byte is the high byte of a zero-padded network-order word.
        if i < n { acc &+= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << 8 }
        accumulator &+= acc
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
