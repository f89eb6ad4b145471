// Bounds-unchecked big-endian loads for header views. Every caller has already checked
// (once, in a view's failable init or in the decoder) that the bytes it reads are present.

extension UnsafeRawBufferPointer {
    @inline(__always) func be8(_ offset: Int) -> UInt8 {
        load(fromByteOffset: offset, as: UInt8.self)
    }
    @inline(__always) func be16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    @inline(__always) func be32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inline(__always) func be64(_ offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    @inline(__always) func mac(_ offset: Int) -> MACAddress {
        MACAddress(UInt64(be16(offset)) << 32 | UInt64(be32(offset + 2)))
    }
    @inline(__always) func ipv4(_ offset: Int) -> IPv4Address {
        IPv4Address(be32(offset))
    }
    @inline(__always) func ipv6(_ offset: Int) -> IPv6Address {
        IPv6Address(high: be64(offset), low: be64(offset + 8))
    }
    /// The bytes from `offset` to the end, as a buffer of their own (no copy).
    @inline(__always) func tail(_ offset: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[offset...])
    }
    /// The bytes `offset..<end` (no copy).
    @inline(__always) func slice(_ offset: Int, _ end: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[offset..<end])
    }
}

// Fixed-slot inline storage: a homogeneous tuple of trivial records read and written by index.
// Callers check `index < capacity`.

@inline(__always) func slotLoad<Storage, Record>(_ storage: Storage, _ index: Int, as: Record.Type) -> Record {
    withUnsafeBytes(of: storage) {
        $0.load(fromByteOffset: index &* MemoryLayout<Record>.stride, as: Record.self)
    }
}

@inline(__always) func slotStore<Storage, Record>(_ storage: inout Storage, _ index: Int, _ record: Record) {
    withUnsafeMutableBytes(of: &storage) {
        $0.storeBytes(of: record, toByteOffset: index &* MemoryLayout<Record>.stride, as: Record.self)
    }
}
