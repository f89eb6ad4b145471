#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A buffered writer to a C stream (stdout or a file), flushing in large blocks.
///
/// Output is assembled as bytes, not through Foundation formatting: renderers append text
/// and numbers here, and the sink writes 64 KiB at a time.
public final class ByteSink {
    private var buffer: [UInt8] = []
    private let stream: UnsafeMutablePointer<FILE>
    private let ownsStream: Bool
    private let flushEachLine: Bool

    /// Writes to standard output. `lineBuffered` flushes after every `endLine()` (live mode).
    public init(stdoutLineBuffered lineBuffered: Bool = false) {
        stream = stdout
        ownsStream = false
        flushEachLine = lineBuffered
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
        buffer.reserveCapacity(1 << 16)
    }

    deinit {
        flush()
        if ownsStream { fclose(stream) }
    }

    @inline(__always) public func write(_ s: String) {
        var s = s
        s.withUTF8 { buffer.append(contentsOf: $0) }
        if buffer.count >= 1 << 16 { flush() }
    }

    @inline(__always) public func write(byte: UInt8) { buffer.append(byte) }

    public func write(bytes: UnsafeRawBufferPointer) { buffer.append(contentsOf: bytes) }

    /// Appends a decimal integer without allocating.
    public func write(int value: Int) {
        if value < 0 { buffer.append(UInt8(ascii: "-")) }
        var v = value.magnitude
        var tmp: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                  UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = 0
        withUnsafeMutableBytes(of: &tmp) { raw in
            repeat {
                raw[n] = UInt8(48 + v % 10)
                v /= 10
                n += 1
            } while v > 0
            while n > 0 { n -= 1; buffer.append(raw[n]) }
        }
    }

    /// Ends a line; flushes when line-buffered or when the buffer is large.
    public func endLine() {
        buffer.append(10)
        if flushEachLine || buffer.count >= 1 << 16 { flush() }
    }

    public func flush() {
        guard !buffer.isEmpty else { return }
        buffer.withUnsafeBytes { raw in
            _ = fwrite(raw.baseAddress, 1, raw.count, stream)
        }
        buffer.removeAll(keepingCapacity: true)
        fflush(stream)
    }
}

/// Writing an output file failed.
public struct OutputError: Error, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { "\(path): cannot write: \(message)" }
}
