#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a classic pcap file (nanosecond magic, LINKTYPE_ETHERNET) through one large buffer.
/// A frame is built in place: `frame(ts:) { p in ...; return length }`.
final class PcapWriter {
    private let file: UnsafeMutablePointer<FILE>
    private let capacity = 8 << 20
    private let buffer: UnsafeMutableRawPointer
    private var used = 0
    private(set) var frames = 0
    private(set) var bytes = 0

    init(path: String) throws {
        guard let f = fopen(path, "wb") else {
            throw GenError("\(path): cannot create: \(String(cString: strerror(errno)))")
        }
        file = f
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        // Global header, host byte order: magic a1b23c4d = nanosecond timestamps.
        put32le(0xa1b2_3c4d); put16le(2); put16le(4); put32le(0); put32le(0)
        put32le(262_144); put32le(1)
    }

    private func put32le(_ v: UInt32) {
        buffer.storeBytes(of: v.littleEndian, toByteOffset: used, as: UInt32.self); used += 4
    }
    private func put16le(_ v: UInt16) {
        buffer.storeBytes(of: v.littleEndian, toByteOffset: used, as: UInt16.self); used += 2
    }

    /// Appends one frame whose bytes `build` writes at the pointer it gets; it returns the length.
    @inline(__always)
    func frame(ts: UInt64, _ build: (UnsafeMutableRawPointer) -> Int) {
        if used + 16 + 65_600 > capacity { flush() }
        let start = used
        let len = build(buffer + start + 16)
        precondition(len > 0 && len <= 65_535)
        buffer.storeBytes(of: UInt32(ts / 1_000_000_000).littleEndian, toByteOffset: start, as: UInt32.self)
        buffer.storeBytes(of: UInt32(ts % 1_000_000_000).littleEndian, toByteOffset: start + 4, as: UInt32.self)
        buffer.storeBytes(of: UInt32(len).littleEndian, toByteOffset: start + 8, as: UInt32.self)
        buffer.storeBytes(of: UInt32(len).littleEndian, toByteOffset: start + 12, as: UInt32.self)
        used = start + 16 + len
        frames += 1
        bytes += len
    }

    func flush() {
        if used > 0 {
            let n = fwrite(buffer, 1, used, file)
            precondition(n == used, "short write to the pcap file")
        }
        used = 0
    }

    func close() {
        flush()
        fclose(file)
        buffer.deallocate()
    }
}

struct GenError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

// MARK: - Byte stores (big-endian, unaligned)

@inline(__always) func be16(_ p: UnsafeMutableRawPointer, _ o: Int, _ v: UInt16) {
    p.storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt16.self)
}
@inline(__always) func be32(_ p: UnsafeMutableRawPointer, _ o: Int, _ v: UInt32) {
    p.storeBytes(of: v.bigEndian, toByteOffset: o, as: UInt32.self)
}

/// Sum of the big-endian 16-bit words of `len` bytes (odd tail padded with zero).
@inline(__always) func wordSum(_ p: UnsafeRawPointer, _ len: Int) -> UInt64 {
    var s: UInt64 = 0
    var i = 0
    while i + 1 < len {
        s &+= UInt64(UInt16(p.load(fromByteOffset: i, as: UInt8.self)) << 8 | UInt16(p.load(fromByteOffset: i + 1, as: UInt8.self)))
        i += 2
    }
    if i < len { s &+= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << 8 }
    return s
}

@inline(__always) func fold(_ s: UInt64) -> UInt16 {
    var s = s
    while s >> 16 != 0 { s = (s & 0xffff) + (s >> 16) }
    return ~UInt16(truncatingIfNeeded: s)
}

/// The payload every frame carries: a fixed pattern, with its checksum prefix sums so that an
/// L4 checksum costs the header only.
enum Payload {
    static let size = 65_536
    static let bytes: UnsafeMutableRawPointer = {
        let p = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        var x: UInt32 = 0x1234_5678
        for i in 0..<size {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5
            // Mostly printable, like HTTP bodies and DNS names.
            p.storeBytes(of: UInt8(32 + (x % 95)), toByteOffset: i, as: UInt8.self)
        }
        return p
    }()
    /// prefix[k] = sum of the first k big-endian words.
    static let prefix: [UInt64] = {
        var a = [UInt64](repeating: 0, count: size / 2 + 1)
        for k in 0..<(size / 2) {
            let w = UInt64(bytes.load(fromByteOffset: 2 * k, as: UInt8.self)) << 8
                | UInt64(bytes.load(fromByteOffset: 2 * k + 1, as: UInt8.self))
            a[k + 1] = a[k] &+ w
        }
        return a
    }()

    /// Word sum of the pattern's first `len` bytes.
    @inline(__always) static func sum(_ len: Int) -> UInt64 {
        var s = prefix[len / 2]
        if len & 1 == 1 { s &+= UInt64(bytes.load(fromByteOffset: len - 1, as: UInt8.self)) << 8 }
        return s
    }

    @inline(__always) static func copy(to p: UnsafeMutableRawPointer, _ len: Int) {
        p.copyMemory(from: bytes, byteCount: len)
    }
}

// MARK: - Headers

struct MAC {
    var b: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)
    init(_ last: UInt8) { b = (0x02, 0, 0, 0, 0, last) }
    @inline(__always) func store(_ p: UnsafeMutableRawPointer, _ o: Int) {
        p.storeBytes(of: b.0, toByteOffset: o, as: UInt8.self)
        p.storeBytes(of: b.1, toByteOffset: o + 1, as: UInt8.self)
        p.storeBytes(of: b.2, toByteOffset: o + 2, as: UInt8.self)
        p.storeBytes(of: b.3, toByteOffset: o + 3, as: UInt8.self)
        p.storeBytes(of: b.4, toByteOffset: o + 4, as: UInt8.self)
        p.storeBytes(of: b.5, toByteOffset: o + 5, as: UInt8.self)
    }
    static let broadcast: MAC = { var m = MAC(0); m.b = (0xff, 0xff, 0xff, 0xff, 0xff, 0xff); return m }()
}

/// A 128-bit address as two halves (network order when stored high then low).
struct IP6: Hashable {
    var hi: UInt64
    var lo: UInt64
    @inline(__always) func store(_ p: UnsafeMutableRawPointer, _ o: Int) {
        p.storeBytes(of: hi.bigEndian, toByteOffset: o, as: UInt64.self)
        p.storeBytes(of: lo.bigEndian, toByteOffset: o + 8, as: UInt64.self)
    }
    var wordSum: UInt64 {
        var s: UInt64 = 0
        for v in [hi, lo] {
            s &+= (v >> 48) & 0xffff; s &+= (v >> 32) & 0xffff; s &+= (v >> 16) & 0xffff; s &+= v & 0xffff
        }
        return s
    }
}

/// Either family's endpoint addresses, as a frame builder needs them.
enum Addr {
    case v4(UInt32)
    case v6(IP6)
}

@inline(__always) func ether(_ p: UnsafeMutableRawPointer, dst: MAC, src: MAC, type: UInt16) -> Int {
    dst.store(p, 0); src.store(p, 6); be16(p, 12, type); return 14
}

/// IPv4 header at `o` (20 bytes, no options) with its checksum.
@inline(__always) func ipv4(_ p: UnsafeMutableRawPointer, _ o: Int, totalLength: Int, id: UInt16, fragField: UInt16,
                            ttl: UInt8, proto: UInt8, src: UInt32, dst: UInt32, tos: UInt8 = 0) {
    p.storeBytes(of: UInt8(0x45), toByteOffset: o, as: UInt8.self)
    p.storeBytes(of: tos, toByteOffset: o + 1, as: UInt8.self)
    be16(p, o + 2, UInt16(totalLength))
    be16(p, o + 4, id)
    be16(p, o + 6, fragField)
    p.storeBytes(of: ttl, toByteOffset: o + 8, as: UInt8.self)
    p.storeBytes(of: proto, toByteOffset: o + 9, as: UInt8.self)
    be16(p, o + 10, 0)
    be32(p, o + 12, src)
    be32(p, o + 16, dst)
    be16(p, o + 10, fold(wordSum(p + o, 20)))
}

/// IPv6 fixed header at `o`.
@inline(__always) func ipv6(_ p: UnsafeMutableRawPointer, _ o: Int, payloadLength: Int, next: UInt8, hop: UInt8,
                            src: IP6, dst: IP6, flow: UInt32 = 0) {
    be32(p, o, 0x6000_0000 | (flow & 0xfffff))
    be16(p, o + 4, UInt16(payloadLength))
    p.storeBytes(of: next, toByteOffset: o + 6, as: UInt8.self)
    p.storeBytes(of: hop, toByteOffset: o + 7, as: UInt8.self)
    src.store(p, o + 8)
    dst.store(p, o + 24)
}

@inline(__always) func pseudoSum(src: Addr, dst: Addr, proto: UInt8, length: Int) -> UInt64 {
    var s = UInt64(proto) + UInt64(length)
    switch src {
    case .v4(let a): s += UInt64(a >> 16) + UInt64(a & 0xffff)
    case .v6(let a): s += a.wordSum
    }
    switch dst {
    case .v4(let a): s += UInt64(a >> 16) + UInt64(a & 0xffff)
    case .v6(let a): s += a.wordSum
    }
    return s
}

struct TCPFlags {
    static let fin: UInt8 = 0x01, syn: UInt8 = 0x02, rst: UInt8 = 0x04, psh: UInt8 = 0x08, ack: UInt8 = 0x10
}

/// Writes a whole Ethernet + IP + TCP frame with `payload` pattern bytes. Options: SYNs carry
/// MSS, SACK-permitted, timestamps and window scale (as Linux sends them); other segments carry
/// the timestamp option. Returns the frame length.
@inline(__always)
func tcpFrame(_ p: UnsafeMutableRawPointer, dstMAC: MAC, srcMAC: MAC, src: Addr, dst: Addr, ipID: UInt16, ttl: UInt8,
              sport: UInt16, dport: UInt16, seq: UInt32, ack: UInt32, flags: UInt8, window: UInt16,
              tsval: UInt32, tsecr: UInt32, payload: Int) -> Int {
    let isSyn = flags & TCPFlags.syn != 0
    let optLen = isSyn ? 20 : 12
    let tcpLen = 20 + optLen + payload
    var o: Int
    switch src {
    case .v4(let s):
        guard case .v4(let d) = dst else { fatalError("mixed families") }
        o = ether(p, dst: dstMAC, src: srcMAC, type: 0x0800)
        ipv4(p, o, totalLength: 20 + tcpLen, id: ipID, fragField: 0x4000, ttl: ttl, proto: 6, src: s, dst: d)
        o += 20
    case .v6(let s):
        guard case .v6(let d) = dst else { fatalError("mixed families") }
        o = ether(p, dst: dstMAC, src: srcMAC, type: 0x86dd)
        ipv6(p, o, payloadLength: tcpLen, next: 6, hop: ttl, src: s, dst: d, flow: UInt32(sport) << 4 ^ UInt32(dport))
        o += 40
    }
    let t = o
    be16(p, t, sport); be16(p, t + 2, dport)
    be32(p, t + 4, seq); be32(p, t + 8, ack)
    p.storeBytes(of: UInt8((20 + optLen) / 4) << 4, toByteOffset: t + 12, as: UInt8.self)
    p.storeBytes(of: flags, toByteOffset: t + 13, as: UInt8.self)
    be16(p, t + 14, window)
    be16(p, t + 16, 0)
    be16(p, t + 18, 0)
    var q = t + 20
    if isSyn {
        // MSS 1460, SACK permitted, timestamps, NOP, window scale 7.
        be16(p, q, 0x0204); be16(p, q + 2, 1460)
        be16(p, q + 4, 0x0402)
        be16(p, q + 6, 0x080a); be32(p, q + 8, tsval); be32(p, q + 12, tsecr)
        p.storeBytes(of: UInt8(1), toByteOffset: q + 16, as: UInt8.self)
        p.storeBytes(of: UInt8(3), toByteOffset: q + 17, as: UInt8.self)
        p.storeBytes(of: UInt8(3), toByteOffset: q + 18, as: UInt8.self)
        p.storeBytes(of: UInt8(7), toByteOffset: q + 19, as: UInt8.self)
        q += 20
    } else {
        be16(p, q, 0x0101); be16(p, q + 2, 0x080a); be32(p, q + 4, tsval); be32(p, q + 8, tsecr)
        q += 12
    }
    Payload.copy(to: p + q, payload)
    let sum = pseudoSum(src: src, dst: dst, proto: 6, length: tcpLen) &+ wordSum(p + t, 20 + optLen) &+ Payload.sum(payload)
    be16(p, t + 16, fold(sum))
    return q + payload
}

/// Ethernet + IP + ICMP (or ICMPv6) echo request/reply with pattern payload.
@inline(__always)
func echoFrame(_ p: UnsafeMutableRawPointer, dstMAC: MAC, srcMAC: MAC, src: Addr, dst: Addr, ipID: UInt16, ttl: UInt8,
               reply: Bool, ident: UInt16, sequence: UInt16, payload: Int) -> Int {
    let icmpLen = 8 + payload
    var o: Int
    var sum: UInt64 = 0
    let type: UInt8
    switch (src, dst) {
    case (.v4(let s), .v4(let d)):
        o = ether(p, dst: dstMAC, src: srcMAC, type: 0x0800)
        ipv4(p, o, totalLength: 20 + icmpLen, id: ipID, fragField: 0x4000, ttl: ttl, proto: 1, src: s, dst: d)
        o += 20
        type = reply ? 0 : 8
    case (.v6(let s), .v6(let d)):
        o = ether(p, dst: dstMAC, src: srcMAC, type: 0x86dd)
        ipv6(p, o, payloadLength: icmpLen, next: 58, hop: ttl, src: s, dst: d)
        o += 40
        type = reply ? 129 : 128
        sum = pseudoSum(src: src, dst: dst, proto: 58, length: icmpLen)
    default: fatalError("mixed families")
    }
    p.storeBytes(of: type, toByteOffset: o, as: UInt8.self)
    p.storeBytes(of: UInt8(0), toByteOffset: o + 1, as: UInt8.self)
    be16(p, o + 2, 0); be16(p, o + 4, ident); be16(p, o + 6, sequence)
    Payload.copy(to: p + o + 8, payload)
    be16(p, o + 2, fold(sum &+ wordSum(p + o, 8) &+ Payload.sum(payload)))
    return o + icmpLen
}

/// An ARP request (who-has `target` tell `sender`), padded to the Ethernet minimum.
func arpRequest(_ p: UnsafeMutableRawPointer, srcMAC: MAC, sender: UInt32, target: UInt32) -> Int {
    var o = ether(p, dst: .broadcast, src: srcMAC, type: 0x0806)
    be16(p, o, 1); be16(p, o + 2, 0x0800)
    p.storeBytes(of: UInt8(6), toByteOffset: o + 4, as: UInt8.self)
    p.storeBytes(of: UInt8(4), toByteOffset: o + 5, as: UInt8.self)
    be16(p, o + 6, 1)
    srcMAC.store(p, o + 8); be32(p, o + 14, sender)
    for i in 0..<6 { p.storeBytes(of: UInt8(0), toByteOffset: o + 18 + i, as: UInt8.self) }
    be32(p, o + 24, target)
    o += 28
    while o < 60 { p.storeBytes(of: UInt8(0), toByteOffset: o, as: UInt8.self); o += 1 }
    return o
}
