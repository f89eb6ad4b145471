#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A buffered writer to a C stream (stdout or a file), flushing in large blocks.
///
/// Output is assembled as bytes, not through Foundation formatting: renderers append text,
/// decimal numbers, padded columns and JSON-escaped strings here, and the sink writes 64 KiB
/// at a time. The first write error (a full disk, a closed pipe) is kept in `error`; later
/// writes are dropped, so a caller checks once at the end.
public final class ByteSink {
    private var buffer: [UInt8] = []
    private let stream: UnsafeMutablePointer<FILE>
    private let ownsStream: Bool
    private let flushEachLine: Bool
    private let displayPath: String
    /// The first write error, as `path: cannot write: message`.
    public private(set) var error: OutputError?

    /// Writes to standard output. `lineBuffered` flushes after every `endLine()` (live mode).
    public init(stdoutLineBuffered lineBuffered: Bool = false) {
        stream = stdout
        ownsStream = false
        flushEachLine = lineBuffered
        displayPath = "<stdout>"
        buffer.reserveCapacity(1 << 16)
    }

    /// Creates (truncates) the file at `path`.
    public init(path: String) throws {
        guard let f = fopen(path, "wb") else {
            throw OutputError(path: path, message: String(cString: strerror(errno)))
        }
        stream = f
        ownsStream = true
        flushEachLine = false
        displayPath = path
        buffer.reserveCapacity(1 << 16)
    }

    deinit {
        flush()
        if ownsStream { fclose(stream) }
    }

    /// Appends the UTF-8 bytes of `s`.
    @inline(__always) public func write(_ s: String) {
        var s = s
        s.withUTF8 { buffer.append(contentsOf: $0) }
        if buffer.count >= 1 << 16 { flush() }
    }

    /// Appends `s` followed by spaces up to `width` characters (at least one space after a
    /// longer `s`, so columns never run together).
    public func write(_ s: String, padTo width: Int) {
        write(s)
        // Count scalars, not bytes, so `—` and friends pad like one column.
        var columns = 0
        var copy = s
        copy.withUTF8 { for b in $0 where b & 0xC0 != 0x80 { columns += 1 } }
        if columns >= width {
            buffer.append(32)
        } else {
            spaces(width - columns)
        }
    }

    @inline(__always) public func write(byte: UInt8) { buffer.append(byte) }

    public func write(bytes: UnsafeRawBufferPointer) { buffer.append(contentsOf: bytes) }

    /// Runs `body` on the buffer moved into a local, so its appends are plain local writes:
    /// appending byte by byte to a class's stored array would pay a dynamic exclusivity
    /// check per byte.
    @inline(__always) private func edit(_ body: (inout [UInt8]) -> Void) {
        var local: [UInt8] = []
        swap(&local, &buffer)
        body(&local)
        swap(&local, &buffer)
    }

    /// Appends `n` spaces.
    public func spaces(_ n: Int) {
        guard n > 0 else { return }
        edit { b in for _ in 0..<n { b.append(32) } }
    }

    /// Appends a decimal integer without allocating.
    public func write(int value: Int) {
        edit { b in
            if value < 0 { b.append(UInt8(ascii: "-")) }
            Self.appendDigits(UInt64(value.magnitude), minimumDigits: 1, to: &b)
        }
    }

    /// Appends a decimal integer right-aligned in `width` columns.
    public func write(int value: Int, width: Int) {
        var digits = 1
        var v = value.magnitude
        while v >= 10 { v /= 10; digits += 1 }
        if value < 0 { digits += 1 }
        if digits < width { spaces(width - digits) }
        write(int: value)
    }

    /// Appends `value` with at least `minimumDigits` digits (zero-padded on the left).
    @inline(__always)
    private static func appendDigits(_ value: UInt64, minimumDigits: Int, to b: inout [UInt8]) {
        var v = value
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        var n = 0
        withUnsafeMutableBytes(of: &tmp) { raw in
            repeat {
                raw[n] = UInt8(48 + v % 10)
                v /= 10
                n += 1
            } while v > 0
            while n < minimumDigits && n < 24 { raw[n] = 48; n += 1 }
            while n > 0 { n -= 1; b.append(raw[n]) }
        }
    }

    /// Appends a capture timestamp as `seconds.nanoseconds` (`1700000000.123456789`).
    public func write(epochNanoseconds ns: Int64) {
        let (sec, frac) = Self.split(ns)
        edit { b in
            if sec < 0 { b.append(UInt8(ascii: "-")) }
            Self.appendDigits(UInt64(sec.magnitude), minimumDigits: 1, to: &b)
            b.append(UInt8(ascii: "."))
            Self.appendDigits(UInt64(frac), minimumDigits: 9, to: &b)
        }
    }

    /// Appends the UTC time of day of a capture timestamp, as tcpdump prints with `--nano`:
    /// `12:34:56.123456789`. Never the local zone: output does not depend on the machine.
    public func write(timeOfDayNanoseconds ns: Int64) {
        let (sec, frac) = Self.split(ns)
        var day = sec % 86_400
        if day < 0 { day += 86_400 }
        edit { b in
            Self.appendDigits(UInt64(day / 3600), minimumDigits: 2, to: &b)
            b.append(UInt8(ascii: ":"))
            Self.appendDigits(UInt64(day / 60 % 60), minimumDigits: 2, to: &b)
            b.append(UInt8(ascii: ":"))
            Self.appendDigits(UInt64(day % 60), minimumDigits: 2, to: &b)
            b.append(UInt8(ascii: "."))
            Self.appendDigits(UInt64(frac), minimumDigits: 9, to: &b)
        }
    }

    /// Seconds (floored) and nanoseconds (0...999,999,999) of a timestamp.
    @inline(__always) static func split(_ ns: Int64) -> (Int64, Int64) {
        let sec = ns >= 0 ? ns / 1_000_000_000 : (ns - 999_999_999) / 1_000_000_000
        return (sec, ns - sec * 1_000_000_000)
    }

    /// Appends `s` as a quoted JSON string (RFC 8259 escaping), byte by byte, no copy.
    public func writeJSONString(_ s: String) {
        var s = s
        edit { out in
            out.append(34)
            s.withUTF8 { utf8 in
                // Runs of bytes that need no escape are copied at once.
                var start = 0
                for (i, b) in utf8.enumerated() where b < 32 || b == 34 || b == 92 || b == 127 {
                    if start < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i])) }
                    start = i + 1
                    switch b {
                    case 34: out.append(92); out.append(34)
                    case 92: out.append(92); out.append(92)
                    case 10: out.append(92); out.append(UInt8(ascii: "n"))
                    case 13: out.append(92); out.append(UInt8(ascii: "r"))
                    case 9: out.append(92); out.append(UInt8(ascii: "t"))
                    default:
                        out.append(92); out.append(UInt8(ascii: "u"))
                        out.append(48); out.append(48)
                        out.append(Self.hexDigit(b >> 4)); out.append(Self.hexDigit(b & 15))
                    }
                }
                if start < utf8.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...])) }
            }
            out.append(34)
        }
        if buffer.count >= 1 << 16 { flush() }
    }

    @inline(__always) static func hexDigit(_ v: UInt8) -> UInt8 { v < 10 ? 48 + v : 87 + v }

    /// Starts an ANSI colour (SGR `code`) when `enabled`.
    @inline(__always) public func color(_ code: String, _ enabled: Bool) {
        guard enabled else { return }
        buffer.append(27); buffer.append(UInt8(ascii: "["))
        write(code)
        buffer.append(UInt8(ascii: "m"))
    }

    /// Ends an ANSI colour when `enabled`.
    @inline(__always) public func resetColor(_ enabled: Bool) {
        guard enabled else { return }
        buffer.append(27); buffer.append(UInt8(ascii: "[")); buffer.append(48); buffer.append(UInt8(ascii: "m"))
    }

    /// Ends a line; flushes when line-buffered or when the buffer is large.
    public func endLine() {
        buffer.append(10)
        if flushEachLine || buffer.count >= 1 << 16 { flush() }
    }

    /// Writes the buffer out. After an error, output is discarded and `error` is set.
    public func flush() {
        guard !buffer.isEmpty else { return }
        if error == nil {
            let written = buffer.withUnsafeBytes { raw in fwrite(raw.baseAddress, 1, raw.count, stream) }
            if written < buffer.count || fflush(stream) != 0 {
                error = OutputError(path: displayPath, message: String(cString: strerror(errno)))
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Writing an output file failed.
public struct OutputError: Error, CustomStringConvertible {
    public var path: String
    public var message: String
    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
    public var description: String { "\(path): cannot write: \(message)" }
}
