/// RFC 1071 one's-complement sums, accumulated in 64 bits and folded at the end.
public struct InternetChecksum: Sendable {
    /// The unfolded running sum.
    public var accumulator: UInt64 = 0
    public init() {}

    /// Adds `bytes` as big-endian 16-bit words (an odd tail byte is padded with zero).
    /// Call with an even-length buffer except for the last one.
    public mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var acc = accumulator
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            let w = bytes.be64(i)
            acc &+= (w >> 32) &+ (w & 0xFFFF_FFFF)
            i += 8
        }
        while i + 2 <= n {
            acc &+= UInt64(bytes.be16(i))
            i += 2
        }
        if i < n { acc &+= UInt64(bytes.be8(i)) << 8 }
        accumulator = acc
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
