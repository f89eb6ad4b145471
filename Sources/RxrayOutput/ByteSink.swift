#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import RxrayDecode

/// A buffered writer to a C stream (stdout or a file), flushing in large blocks.
///
/// Output is assembled as bytes, not through Foundation formatting: renderers append text,
/// decimal numbers, padded columns and JSON-escaped strings here, and the sink writes 64 KiB
/// at a time. The first write error (a full disk, a closed pipe) is kept in `error`; later
/// writes are dropped, so a caller checks once at the end.
///
/// Hot renderers take the whole buffer at once with `withWriter` (one access to the sink per
/// frame instead of one per field); the single-call methods below are for everything else.
public final class ByteSink {
    private var w: ByteWriter
    private let stream: UnsafeMutablePointer<FILE>
    private let ownsStream: Bool
    private let flushEachLine: Bool
    private let displayPath: String
    /// The first write error, as `path: cannot write: message`.
    public private(set) var error: OutputError?

    static let flushThreshold = 1 << 16

    /// Writes to standard output. `lineBuffered` flushes after every `endLine()` (live mode).
    public init(stdoutLineBuffered lineBuffered: Bool = false) {
        stream = stdout
        ownsStream = false
        flushEachLine = lineBuffered
        displayPath = "<stdout>"
        w = ByteWriter(capacity: Self.flushThreshold + 4096)
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
        w = ByteWriter(capacity: Self.flushThreshold + 4096)
    }

    deinit {
        flush()
        if ownsStream { fclose(stream) }
        w.deallocate()
    }

    /// Runs `body` with the output buffer to append to directly, then flushes if the buffer
    /// is large. `body` must not call back into this sink.
    @inline(__always) public func withWriter<R>(_ body: (inout ByteWriter) throws -> R) rethrows -> R {
        var local = w
        defer {
            w = local
            if local.count >= Self.flushThreshold { flush() }
        }
        return try body(&local)
    }

    /// Appends the UTF-8 bytes of `s`.
    @inline(__always) public func write(_ s: String) {
        w.string(s)
        if w.count >= Self.flushThreshold { flush() }
    }

    /// Appends `s` followed by spaces up to `width` characters (at least one space after a
    /// longer `s`, so columns never run together).
    public func write(_ s: String, padTo width: Int) {
        w.padded(s, width)
    }

    @inline(__always) public func write(byte: UInt8) { w.byte(byte) }

    public func write(bytes: UnsafeRawBufferPointer) {
        w.bytes(bytes)
        if w.count >= Self.flushThreshold { flush() }
    }

    /// Writes `pieces` after what the sink holds, without copying them into its buffer: the
    /// buffer and the stream are flushed, then the pieces go out with `writev` (short writes
    /// and interruptions resumed). For records kept elsewhere, many at a time; the pieces'
    /// memory is only read, and the entries of `pieces` may be changed. A failure sets `error`
    /// as a buffered write's would; after an error nothing is written.
    public func write(gathering pieces: UnsafeMutableBufferPointer<iovec>) {
        flush()
        guard error == nil, var p = pieces.baseAddress else { return }
        if fflush(stream) != 0 {
            error = OutputError(path: displayPath, message: String(cString: strerror(errno)))
            return
        }
        let fd = fileno(stream)
        var left = pieces.count
        while left > 0 {
            let n = writev(fd, p, Int32(min(left, 1024)))  // IOV_MAX on Linux
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                error = OutputError(path: displayPath, message: String(cString: strerror(n < 0 ? errno : EIO)))
                return
            }
            // Skip the pieces written whole; the first one left may be written in part.
            var done = n
            while left > 0 && done >= p.pointee.iov_len {
                done -= p.pointee.iov_len
                p += 1
                left -= 1
            }
            if left > 0 && done > 0 {
                p.pointee.iov_base = p.pointee.iov_base! + done
                p.pointee.iov_len -= done
            }
        }
    }

    /// Appends `n` spaces.
    public func spaces(_ n: Int) { w.spaces(n) }

    /// Appends a decimal integer without allocating.
    public func write(int value: Int) { w.decimal(value) }

    /// Appends a decimal integer right-aligned in `width` columns.
    public func write(int value: Int, width: Int) { w.decimal(value, width: width) }

    /// Appends a capture timestamp as `seconds.nanoseconds` (`1700000000.123456789`).
    public func write(epochNanoseconds ns: Int64) { w.epoch(ns) }

    /// Appends the UTC time of day of a capture timestamp, as tcpdump prints with `--nano`:
    /// `12:34:56.123456789`. Never the local zone: output does not depend on the machine.
    public func write(timeOfDayNanoseconds ns: Int64) { w.timeOfDay(ns) }

    /// Seconds (floored) and nanoseconds (0...999,999,999) of a timestamp.
    @inline(__always) static func split(_ ns: Int64) -> (Int64, Int64) { ByteWriter.split(ns) }

    /// Appends `s` as a quoted JSON string (RFC 8259 escaping; DEL escaped too).
    public func writeJSONString(_ s: String) {
        w.jsonString(s)
        if w.count >= Self.flushThreshold { flush() }
    }

    /// Starts an ANSI colour (SGR `code`) when `enabled`.
    @inline(__always) public func color(_ code: String, _ enabled: Bool) {
        guard enabled else { return }
        w.color(code)
    }

    /// Ends an ANSI colour when `enabled`.
    @inline(__always) public func resetColor(_ enabled: Bool) {
        guard enabled else { return }
        w.resetColor()
    }

    /// Ends a line; flushes when line-buffered or when the buffer is large.
    public func endLine() {
        w.byte(10)
        if flushEachLine || w.count >= Self.flushThreshold { flush() }
    }

    /// Writes the buffer out. After an error, output is discarded and `error` is set.
    public func flush() {
        guard w.count > 0 else { return }
        if error == nil {
            let b = w.bytes
            let written = fwrite(b.baseAddress, 1, b.count, stream)
            if written < b.count || fflush(stream) != 0 {
                error = OutputError(path: displayPath, message: String(cString: strerror(errno)))
            }
        }
        w.removeAll()
    }
}

/// Text helpers the renderers share: padded columns, timestamps, ANSI colours.
extension ByteWriter {
    /// Appends `s` followed by spaces up to `width` columns (at least one space after a
    /// longer `s`). Columns are Unicode scalars, so `—` pads like one column.
    @inlinable public mutating func padded(_ s: String, _ width: Int) {
        let start = count
        string(s)
        pad(from: start, to: width)
    }

    /// Appends a decimal integer right-aligned in `width` columns.
    public mutating func decimal(_ value: Int, width: Int) {
        var digits = 1
        var v = value.magnitude
        while v >= 10 { v /= 10; digits += 1 }
        if value < 0 { digits += 1 }
        if digits < width { spaces(width - digits) }
        decimal(value)
    }

    /// Seconds (floored) and nanoseconds (0...999,999,999) of a timestamp.
    @inline(__always) static func split(_ ns: Int64) -> (Int64, Int64) {
        let sec = ns >= 0 ? ns / 1_000_000_000 : (ns - 999_999_999) / 1_000_000_000
        return (sec, ns - sec * 1_000_000_000)
    }

    /// Appends a capture timestamp as `seconds.nanoseconds` (`1700000000.123456789`).
    public mutating func epoch(_ ns: Int64) {
        let (sec, frac) = Self.split(ns)
        if sec < 0 { byte(45) }
        decimal(UInt64(sec.magnitude))
        byte(46)
        nineDigits(UInt32(truncatingIfNeeded: frac))
    }

    /// Appends the UTC time of day of a capture timestamp (`12:34:56.123456789`).
    public mutating func timeOfDay(_ ns: Int64) {
        let (sec, frac) = Self.split(ns)
        var day = sec % 86_400
        if day < 0 { day += 86_400 }
        decimal(UInt64(day / 3600), minimumDigits: 2)
        byte(58)
        decimal(UInt64(day / 60 % 60), minimumDigits: 2)
        byte(58)
        decimal(UInt64(day % 60), minimumDigits: 2)
        byte(46)
        nineDigits(UInt32(truncatingIfNeeded: frac))
    }

    /// Starts an ANSI colour (SGR `code`).
    @inlinable public mutating func color(_ code: String) {
        bytes(27, 91)
        string(code)
        byte(109)
    }

    /// Ends an ANSI colour.
    @inlinable public mutating func resetColor() {
        bytes(27, 91); bytes(48, 109)
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
