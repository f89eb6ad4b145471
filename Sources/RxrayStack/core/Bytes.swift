import RxrayDecode

// Big-endian loads for the stages. Every stage checks `count` before it reads (the kernel's
// `pskb_may_pull`), so these do not check again.
extension UnsafeRawBufferPointer {
    @inline(__always) func u8(_ o: Int) -> UInt8 { load(fromByteOffset: o, as: UInt8.self) }
    @inline(__always) func u16(_ o: Int) -> UInt16 { UInt16(bigEndian: loadUnaligned(fromByteOffset: o, as: UInt16.self)) }
    @inline(__always) func u32(_ o: Int) -> UInt32 { UInt32(bigEndian: loadUnaligned(fromByteOffset: o, as: UInt32.self)) }
    @inline(__always) func u64(_ o: Int) -> UInt64 { UInt64(bigEndian: loadUnaligned(fromByteOffset: o, as: UInt64.self)) }
    @inline(__always) func macAt(_ o: Int) -> MACAddress { MACAddress(UInt64(u16(o)) << 32 | UInt64(u32(o + 2))) }
    @inline(__always) func v4At(_ o: Int) -> IPv4Address { IPv4Address(u32(o)) }
    @inline(__always) func v6At(_ o: Int) -> IPv6Address { IPv6Address(high: u64(o), low: u64(o + 8)) }

    /// The bytes from `offset` on, as a buffer of their own (no copy).
    @inline(__always) func from(_ offset: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: self[offset...]) }
    /// The first `n` bytes (no copy).
    @inline(__always) func first(_ n: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: self[..<n]) }

    /// The ones'-complement sum of `count` bytes from `offset`, folded to 16 bits, added to `initial`.
    ///
    /// The bytes are summed by `InternetChecksum.foldedSum` (64-bit words with end-around
    /// carry, swapped to network order once). Result and range are those of a 16-bit
    /// word-at-a-time sum: 0 only when every byte and `initial` are 0, else 1...0xFFFF.
    func onesSum(_ offset: Int, _ count: Int, initial: UInt32 = 0) -> UInt32 {
        precondition(offset >= 0 && count >= 0 && offset + count <= self.count, "onesSum out of bounds")
        var total = UInt64(initial)
        if count > 0, let base = baseAddress { total &+= UInt64(InternetChecksum.foldedSum(base + offset, count: count)) }
        while total > 0xFFFF { total = (total & 0xFFFF) + (total >> 16) }
        return UInt32(total)
    }

    /// Whether the Internet checksum over the bytes (plus a pseudo-header sum) verifies.
    func checksumOK(_ offset: Int, _ count: Int, pseudo: UInt32 = 0) -> Bool {
        onesSum(offset, count, initial: pseudo) == 0xFFFF
    }
}

/// Pseudo-header sums for transport checksums.
enum Pseudo {
    static func v4(_ s: IPv4Address, _ d: IPv4Address, proto: UInt8, length: Int) -> UInt32 {
        var sum: UInt64 = UInt64(s.value >> 16) + UInt64(s.value & 0xFFFF) + UInt64(d.value >> 16) + UInt64(d.value & 0xFFFF)
        sum += UInt64(proto) + UInt64(length)
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return UInt32(sum)
    }
    static func v6(_ s: IPv6Address, _ d: IPv6Address, proto: UInt8, length: Int) -> UInt32 {
        @inline(__always) func words(_ w: UInt64) -> UInt64 { (w >> 48) + (w >> 32 & 0xFFFF) + (w >> 16 & 0xFFFF) + (w & 0xFFFF) }
        var sum: UInt64 = words(s.high) + words(s.low) + words(d.high) + words(d.low)
        sum += UInt64(proto) + UInt64(length >> 16) + UInt64(length & 0xFFFF)
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return UInt32(sum)
    }
}
