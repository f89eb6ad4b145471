#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CRxrayText

/// A growable byte buffer that text and JSON renderers append to without building Strings.
///
/// A value type over memory it does not own: whoever creates it with `init(capacity:)` calls
/// `deallocate()` once (the output sink does, in its `deinit`); `ByteWriter.string { ... }`
/// manages a temporary one. Copies of a writer share the memory, so only one copy may be
/// appended to (the one passed `inout`). Every append checks capacity once and grows by
/// doubling, so appends are plain stores.
///
/// Numbers are written in decimal or lower-case hex, strings as their UTF-8 bytes or JSON
/// escaped (RFC 8259), addresses in their usual text forms (see `IPv4Address.write(to:)`).
public struct ByteWriter {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var used: Int
    /// Bytes written.
    @inlinable public var count: Int { used }
    @usableFromInline var capacity: Int

    /// Allocates `capacity` bytes. Call `deallocate()` when done.
    public init(capacity: Int = 1 << 16) {
        let c = max(capacity, 64)
        base = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        used = 0
        self.capacity = c
    }

    /// Takes over `capacity` bytes at `base`, allocated with `UnsafeMutablePointer.allocate`:
    /// the writer owns them from now on (growing frees them; `deallocate()` does). For a buffer
    /// whose records are rendered in place (`storage` tells where its memory is now).
    public init(adopting base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        precondition(capacity > 0, "ByteWriter(adopting:) needs memory")
        self.base = base
        used = 0
        self.capacity = capacity
    }

    /// The memory the writer owns now (it moves when an append grows it).
    @inlinable public var storage: UnsafeMutableBufferPointer<UInt8> { UnsafeMutableBufferPointer(start: base, count: capacity) }

    /// Bytes that fit before the writer grows.
    @inlinable public var room: Int { capacity &- used }

    /// Frees the memory. The writer (and every copy) must not be used afterwards.
    public func deallocate() { base.deallocate() }

    /// Runs `body` on a temporary writer and returns what it wrote as a String.
    public static func string(capacity: Int = 128, _ body: (inout ByteWriter) -> Void) -> String {
        var w = ByteWriter(capacity: capacity)
        defer { w.deallocate() }
        body(&w)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// The bytes written so far (valid until the next append).
    @inlinable public var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: used) }

    /// Forgets the contents, keeping the memory.
    @inlinable public mutating func removeAll() { used = 0 }

    /// Cuts the contents back to the first `n` bytes (`n <= count`).
    @inlinable public mutating func truncate(to n: Int) {
        precondition(n >= 0 && n <= used, "ByteWriter.truncate beyond the end")
        used = n
    }

    /// The byte at `index` (`0..<count`).
    @inlinable public subscript(index: Int) -> UInt8 {
        precondition(index >= 0 && index < used, "ByteWriter index out of range")
        return base[index]
    }

    /// Makes room for `n` more bytes.
    @inlinable @inline(__always) public mutating func reserve(_ n: Int) {
        if used &+ n > capacity { grow(n) }
    }

    @usableFromInline mutating func grow(_ n: Int) {
        var c = capacity
        while c < used + n { c *= 2 }
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        p.update(from: base, count: used)
        base.deallocate()
        base = p
        capacity = c
    }

    // MARK: raw bytes and text

    @inlinable @inline(__always) public mutating func byte(_ b: UInt8) {
        reserve(1)
        base[used] = b
        used &+= 1
    }

    @inlinable @inline(__always) public mutating func bytes(_ b0: UInt8, _ b1: UInt8) {
        reserve(2)
        base[used] = b0
        base[used &+ 1] = b1
        used &+= 2
    }

    /// Appends raw bytes (up to 64 copied inline, `rxray_copy`).
    @inlinable public mutating func bytes(_ p: UnsafeRawBufferPointer) {
        guard let src = p.baseAddress, p.count > 0 else { return }
        reserve(p.count)
        rxray_copy(base + used, src.assumingMemoryBound(to: UInt8.self), p.count)
        used &+= p.count
    }

    /// Appends raw bytes.
    @inlinable public mutating func bytes(_ p: UnsafeBufferPointer<UInt8>) {
        bytes(UnsafeRawBufferPointer(p))
    }

    /// Appends again the `n` bytes written at `start` (`start + n` ≤ `count`), e.g. a text
    /// escaped once and wanted twice.
    @inlinable public mutating func repeatBytes(from start: Int, count n: Int) {
        precondition(start >= 0 && n >= 0 && start &+ n <= used, "ByteWriter.repeatBytes beyond the end")
        guard n > 0 else { return }
        reserve(n)
        rxray_copy(base + used, base + start, n)
        used &+= n
    }

    /// Appends again the comma-separated list written at `start ..< end` (`end` ≤ `count`) as
    /// JSON strings: `a,b c` becomes `"a","b c"`. For text with nothing to escape and no
    /// commas inside an item (TCP options as the summary line spells them).
    public mutating func repeatAsJSONStrings(from start: Int, to end: Int) {
        precondition(start >= 0 && start <= end && end <= used, "ByteWriter.repeatAsJSONStrings beyond the end")
        let n = end &- start
        reserve(n &* 3 &+ 2)
        used &+= rxray_json_comma_list(base + used, base + start, n)
    }

    /// Appends a literal's bytes.
    @inlinable @inline(__always) public mutating func ascii(_ s: StaticString) {
        if s.hasPointerRepresentation {
            let n = s.utf8CodeUnitCount
            reserve(n)
            rxray_copy(base + used, s.utf8Start, n)
            used &+= n
        } else {
            string(s.description)
        }
    }

    /// Appends the UTF-8 bytes of `s`.
    @inlinable public mutating func string(_ s: String) {
        let done: Void? = s.utf8.withContiguousStorageIfAvailable { bytes($0) }
        if done == nil { for b in s.utf8 { byte(b) } }
    }

    /// Appends the UTF-8 bytes of `s` and returns whether they need no JSON escape (no control
    /// byte, `"`, `\` or DEL): for stage detail claimed JSON-safe that holds a name (a device's).
    @inlinable public mutating func stringJSONSafe(_ s: String) -> Bool {
        let start = used
        string(s)
        return rxray_json_clean_prefix(base + start, used &- start, 1) == used &- start
    }

    /// Appends the UTF-8 bytes of `s`.
    @inlinable public mutating func string(_ s: Substring) {
        let done: Void? = s.utf8.withContiguousStorageIfAvailable { bytes($0) }
        if done == nil { for b in s.utf8 { byte(b) } }
    }

    /// Appends `n` spaces.
    @inlinable public mutating func spaces(_ n: Int) {
        guard n > 0 else { return }
        reserve(n)
        (base + used).initialize(repeating: 32, count: n)
        used &+= n
    }

    /// Appends `true` or `false`.
    @inlinable public mutating func bool(_ v: Bool) {
        if v { ascii("true") } else { ascii("false") }
    }

    /// Removes spaces at the end, but not before byte `start`.
    @inlinable public mutating func trimTrailingSpaces(downTo start: Int) {
        while used > start && base[used - 1] == 32 { used -= 1 }
    }

    // MARK: numbers

    /// Appends `v` in decimal. One or two digits are written inline; longer numbers two
    /// digits per step from a pair table.
    @inlinable @inline(__always) public mutating func decimal(_ v: UInt64) {
        if v < 10 {
            byte(48 &+ UInt8(truncatingIfNeeded: v))
        } else if v < 100 {
            let pairs = ByteWriter.digitPairs.utf8Start
            let r = Int(truncatingIfNeeded: v) &* 2
            bytes(pairs[r], pairs[r &+ 1])
        } else if v < 100_000 {
            decimalShort(UInt32(truncatingIfNeeded: v))
        } else {
            decimalWide(v)
        }
    }

    /// `decimal` of six digits or more (sequence numbers, timestamps' seconds, byte counts):
    /// eight digits per step from the pair table (`rxray_put_decimal`), no digit loop.
    @usableFromInline mutating func decimalWide(_ v: UInt64) {
        reserve(24)
        used &+= rxray_put_decimal(base + used, v)
    }

    /// `decimal` of three to five digits (100 ≤ `v` < 100,000: ports, lengths, identifiers,
    /// counter deltas): one capacity check, 32-bit divisions by constants, no digit loop.
    @usableFromInline mutating func decimalShort(_ v: UInt32) {
        reserve(5)
        let p = base + used
        let pairs = ByteWriter.digitPairs.utf8Start
        if v < 1_000 {
            let h = v / 100
            let r = Int(truncatingIfNeeded: v &- h &* 100) &* 2
            p[0] = 48 &+ UInt8(truncatingIfNeeded: h)
            p[1] = pairs[r]
            p[2] = pairs[r &+ 1]
            used &+= 3
        } else if v < 10_000 {
            let h = v / 100
            let a = Int(truncatingIfNeeded: h) &* 2
            let r = Int(truncatingIfNeeded: v &- h &* 100) &* 2
            p[0] = pairs[a]
            p[1] = pairs[a &+ 1]
            p[2] = pairs[r]
            p[3] = pairs[r &+ 1]
            used &+= 4
        } else {
            let t = v / 10_000
            let rest = v &- t &* 10_000
            let h = rest / 100
            let a = Int(truncatingIfNeeded: h) &* 2
            let r = Int(truncatingIfNeeded: rest &- h &* 100) &* 2
            p[0] = 48 &+ UInt8(truncatingIfNeeded: t)
            p[1] = pairs[a]
            p[2] = pairs[a &+ 1]
            p[3] = pairs[r]
            p[4] = pairs[r &+ 1]
            used &+= 5
        }
    }

    /// Appends `v` in decimal, at least `minimumDigits` digits (zero-padded on the left).
    @inlinable public mutating func decimal(_ v: UInt64, minimumDigits: Int) {
        if minimumDigits <= 1 { decimal(v) } else { decimalLong(v, minimumDigits: minimumDigits) }
    }

    /// The general case of `decimal`: any value, any padding (up to 32 digits).
    @usableFromInline mutating func decimalLong(_ v: UInt64, minimumDigits: Int) {
        let digits = ByteWriter.digitCount(v)
        let n = max(digits, min(minimumDigits, 32))
        reserve(n)
        let start = base + used
        var z = start
        let digitsStart = start + (n &- digits)
        while z < digitsStart { z.pointee = 48; z += 1 }
        ByteWriter.putDigits(v, end: start + n)
        used &+= n
    }

    /// How many decimal digits `v` has (1 for 0). Three to five digits — ports, lengths,
    /// identifiers — are decided by the first comparisons.
    @inlinable @inline(__always) static func digitCount(_ v: UInt64) -> Int {
        if v < 100 { return v < 10 ? 1 : 2 }
        if v < 10_000 { return v < 1_000 ? 3 : 4 }
        if v < 1_000_000 { return v < 100_000 ? 5 : 6 }
        var digits = 7
        var t: UInt64 = 10_000_000
        while digits < 20 && v >= t { digits &+= 1; t = t &* 10 }
        return digits
    }

    /// Writes the decimal digits of `v` (all of them, no padding) so that they end at `end`,
    /// two per step from the pair table.
    @inlinable @inline(__always) static func putDigits(_ v: UInt64, end: UnsafeMutablePointer<UInt8>) {
        var p = end
        var x = v
        let pairs = ByteWriter.digitPairs.utf8Start
        while x >= 100 {
            let q = x / 100
            let r = Int(truncatingIfNeeded: x &- q &* 100) &* 2
            p -= 2
            p[0] = pairs[r]
            p[1] = pairs[r &+ 1]
            x = q
        }
        if x >= 10 {
            let r = Int(truncatingIfNeeded: x) &* 2
            p[-2] = pairs[r]
            p[-1] = pairs[r &+ 1]
        } else {
            p[-1] = 48 &+ UInt8(truncatingIfNeeded: x)
        }
    }

    /// Appends exactly nine digits of `v` modulo 10⁹ (zero-padded): the nanoseconds of a
    /// timestamp, one capacity check, no digit loop (`rxray_put_9digits`).
    @inlinable public mutating func nineDigits(_ v: UInt32) {
        reserve(9)
        rxray_put_9digits(base + used, v % 1_000_000_000)
        used &+= 9
    }

    /// Appends the dotted-quad text of an IPv4 address held host-order in `value`
    /// (`192.0.2.1`): one capacity check, each octet one store from a table of the 256
    /// octets' text (`rxray_put_ipv4`).
    @inlinable public mutating func ipv4(_ value: UInt32) {
        reserve(16)
        used &+= rxray_put_ipv4(base + used, value)
    }

    /// Appends `src=A dst=B sport=S dport=D` for IPv4 addresses held host-order: a conntrack
    /// tuple with ports, one capacity check (`rxray_put_ct_tuple_v4`).
    @inlinable public mutating func ipv4PortTuple(source: UInt32, destination: UInt32, sport: UInt16, dport: UInt16) {
        reserve(72)
        used &+= rxray_put_ct_tuple_v4(base + used, source, destination, sport, dport)
    }

    /// Writes `value` as a dotted quad at `p` (room for 15 bytes); returns the end.
    @inlinable @inline(__always) static func putIPv4(_ value: UInt32, _ p: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        var q = putOctet(UInt8(truncatingIfNeeded: value >> 24), p)
        q.pointee = 46
        q = putOctet(UInt8(truncatingIfNeeded: value >> 16), q + 1)
        q.pointee = 46
        q = putOctet(UInt8(truncatingIfNeeded: value >> 8), q + 1)
        q.pointee = 46
        return putOctet(UInt8(truncatingIfNeeded: value), q + 1)
    }

    /// Appends a MAC address held in the low 48 bits of `value` as `aa:bb:cc:dd:ee:ff`:
    /// one capacity check, each octet one store from a hex pair table (`rxray_put_mac`).
    /// Appends the RFC 5952 text of an IPv6 address that is not IPv4-mapped
    /// (`IPv6Address.write` handles those), from `rxray_put_ipv6`.
    @inlinable public mutating func ipv6(high: UInt64, low: UInt64) {
        reserve(40)
        used &+= rxray_put_ipv6(base + used, high, low)
    }

    @inlinable public mutating func mac(_ value: UInt64) {
        reserve(17)
        rxray_put_mac(base + used, value)
        used &+= 17
    }


    /// Writes `v` in decimal at `p` (room for 3 bytes); returns the end.
    @inlinable @inline(__always) static func putOctet(_ v: UInt8, _ p: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        let pairs = ByteWriter.digitPairs.utf8Start
        if v >= 100 {
            let h = v / 100
            let r = Int(v &- h &* 100) &* 2
            p[0] = 48 &+ h
            p[1] = pairs[r]
            p[2] = pairs[r &+ 1]
            return p + 3
        }
        if v >= 10 {
            let r = Int(v) &* 2
            p[0] = pairs[r]
            p[1] = pairs[r &+ 1]
            return p + 2
        }
        p[0] = 48 &+ v
        return p + 1
    }

    /// "00" "01" ... "99": two digits per table lookup.
    @usableFromInline static let digitPairs: StaticString = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

    /// Appends a signed integer in decimal (`-` first when negative).
    @inlinable public mutating func decimal(_ v: Int) {
        if v < 0 { byte(45) }
        decimal(UInt64(v.magnitude))
    }

    /// Appends an unsigned integer of any width in decimal.
    @inlinable public mutating func decimal<T: UnsignedInteger & FixedWidthInteger>(_ v: T) {
        decimal(UInt64(truncatingIfNeeded: v))
    }

    /// Appends `v` in lower-case hex, at least `minimumDigits` digits (zero-padded).
    @inlinable public mutating func hex(_ v: UInt64, minimumDigits: Int = 1) {
        var digits = 1
        var t = v >> 4
        while t != 0 { t >>= 4; digits &+= 1 }
        let n = max(digits, min(minimumDigits, 32))
        reserve(n)
        var p = base + used + n
        var x = v
        for _ in 0..<digits {
            p -= 1
            p.pointee = ByteWriter.hexDigit(UInt8(truncatingIfNeeded: x & 15))
            x >>= 4
        }
        for _ in digits..<n { p -= 1; p.pointee = 48 }
        used &+= n
    }

    /// Appends exactly four lower-case hex digits of `v` (an EtherType, a VLAN TPID).
    @inlinable public mutating func hex4(_ v: UInt16) {
        reserve(4)
        let p = base + used
        p[0] = ByteWriter.hexDigit(UInt8(truncatingIfNeeded: v >> 12))
        p[1] = ByteWriter.hexDigit(UInt8(truncatingIfNeeded: v >> 8) & 15)
        p[2] = ByteWriter.hexDigit(UInt8(truncatingIfNeeded: v >> 4) & 15)
        p[3] = ByteWriter.hexDigit(UInt8(truncatingIfNeeded: v) & 15)
        used &+= 4
    }

    /// Appends a 16-bit value in lower-case hex without leading zeros (an IPv6 group, as
    /// `hex(_:)` writes it): one capacity check, no digit-count loop.
    @inlinable public mutating func hex16(_ v: UInt16) {
        reserve(4)
        let n = v >= 0x1000 ? 4 : v >= 0x100 ? 3 : v >= 0x10 ? 2 : 1
        let p = base + used
        var x = v
        var k = n
        while k > 0 {
            k &-= 1
            p[k] = ByteWriter.hexDigit(UInt8(truncatingIfNeeded: x & 15))
            x >>= 4
        }
        used &+= n
    }

    @inlinable @inline(__always) static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 48 &+ v : 87 &+ v }

    // MARK: JSON

    /// Appends `s` as a quoted JSON string: `"` and `\` escaped, `\n` `\r` `\t` by their short
    /// escapes, other control characters as `\u00xx` (lower-case hex); DEL (0x7F) as `\u007f`
    /// too when `escapeDEL`. Non-ASCII text is copied as UTF-8. Runs needing no escape are
    /// copied at once.
    @inlinable public mutating func jsonString(_ s: String, escapeDEL: Bool = true) {
        let done: Void? = s.utf8.withContiguousStorageIfAvailable { jsonString(utf8: $0, escapeDEL: escapeDEL) }
        if done == nil {
            var copy = s
            copy.withUTF8 { jsonString(utf8: $0, escapeDEL: escapeDEL) }
        }
    }

    /// `jsonString(_:)` for UTF-8 bytes.
    @inlinable public mutating func jsonString(utf8: UnsafeBufferPointer<UInt8>, escapeDEL: Bool = true) {
        byte(34)
        jsonEscaped(utf8, escapeDEL: escapeDEL)
        byte(34)
    }

    /// Appends UTF-8 bytes JSON-escaped (no quotes around them), in one pass
    /// (`rxray_json_escape`): sixteen-byte blocks are scanned and stored at once and a byte
    /// needing an escape is written where it is found, so a text with a few quotes (a rule's
    /// text in a netfilter stage's detail) costs no extra calls. Room for the worst case (six
    /// bytes per byte) is reserved first, for at most 8 KiB of input at a time.
    @inlinable public mutating func jsonEscaped(_ utf8: UnsafeBufferPointer<UInt8>, escapeDEL: Bool = true) {
        guard var p = utf8.baseAddress else { return }
        var n = utf8.count
        let del: Int32 = escapeDEL ? 1 : 0
        while n > 0 {
            let k = min(n, 8192)
            reserve(k &* 6)
            used &+= rxray_json_escape(base + used, p, k, del)
            p += k
            n &-= k
        }
    }

    /// The length of the longest prefix of `utf8` that JSON text holds unescaped.
    public static func jsonCleanPrefix(_ utf8: UnsafeBufferPointer<UInt8>, escapeDEL: Bool = true) -> Int {
        guard let p = utf8.baseAddress else { return 0 }
        return rxray_json_clean_prefix(p, utf8.count, escapeDEL ? 1 : 0)
    }
}

extension ByteWriter {
    /// Appends spaces so the text written since `start` fills `width` columns (at least one
    /// space when it is already that wide). Columns are Unicode scalars (UTF-8 lead bytes).
    @inlinable public mutating func pad(from start: Int, to width: Int) {
        var columns = 0
        var i = start
        while i < count {
            if base[i] & 0xC0 != 0x80 { columns += 1 }
            i += 1
        }
        spaces(columns >= width ? 1 : width - columns)
    }

    /// JSON-escapes, in place, the text written since `start` (for text rendered straight into
    /// the buffer that must become a JSON string). Text with nothing to escape — the usual
    /// case — is left as it is without copying.
    public mutating func escapeJSON(from start: Int, escapeDEL: Bool = true) {
        precondition(start >= 0 && start <= count, "ByteWriter.escapeJSON start beyond the end")
        let i = start + rxray_json_clean_prefix(base + start, count - start, escapeDEL ? 1 : 0)
        guard i < count else { return }
        let tail = Array(UnsafeBufferPointer(start: base + i, count: count - i))
        used = i
        tail.withUnsafeBufferPointer { jsonEscaped($0, escapeDEL: escapeDEL) }
    }
}
