import RxrayDecode

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a pcapng file in pure Swift: one section header, interface description blocks and
/// enhanced packet blocks with nanosecond timestamps and optional per-frame comments
/// (`opt_comment`), which libpcap cannot write.
///
/// Output is buffered; call `close()` (or at least `flush()`) to see errors. Blocks are
/// written in the host's byte order, as the format allows. A comment longer than the 65,535
/// bytes an option can hold is cut at a character boundary.
///
/// ```swift
/// let writer = try PcapngWriter(path: "out.pcapng")
/// let eth0 = try writer.addInterface(linkType: .ethernet, name: "eth0")
/// try writer.write(interfaceID: eth0, timestampNanoseconds: t, bytes: frame, comment: "dropped: NO_SOCKET")
/// try writer.close()
/// ```
public final class PcapngWriter {
    /// The path as given (`-` for standard output).
    public let path: String
    private let fd: Int32
    private let ownsDescriptor: Bool
    private var buffer: UnsafeMutableRawPointer
    private var capacity = 1 << 16
    private var used = 0
    private var closed = false
    private var interfaceCount = 0
    private var displayPath: String { path == "-" ? "<stdout>" : path }

    /// Creates (or truncates) the file and writes the section header block.
    /// - Parameters:
    ///   - path: a file path, or `-` for standard output.
    ///   - application: written as `shb_userappl`.
    public init(path: String, application: String = "rxray") throws(CaptureError) {
        self.path = path
        if path == "-" {
            fd = 1
            ownsDescriptor = false
        } else {
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            if fd < 0 {
                throw CaptureError.writeFailed(path: path, message: String(cString: strerror(errno)))
            }
            ownsDescriptor = true
        }
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        // Section header block: type, length, byte-order magic, version 1.0, unknown section length.
        let start = beginBlock(type: 0x0A0D_0D0A)
        append32(0x1A2B_3C4D)
        append16(1)
        append16(0)
        append64(UInt64.max)
        appendOption(code: 4, string: application)
        appendEndOfOptions()
        endBlock(start)
    }

    deinit {
        if !closed { try? close() }
        buffer.deallocate()
    }

    /// Adds an interface description block and returns the interface id for `write`.
    /// Timestamps are recorded in nanoseconds (`if_tsresol` = 9).
    @discardableResult
    public func addInterface(
        linkType: LinkType, snaplen: UInt32 = 262_144, name: String? = nil, description: String? = nil
    ) throws(CaptureError) -> Int {
        try checkOpen()
        let start = beginBlock(type: 1)
        append16(UInt16(truncatingIfNeeded: linkType.rawValue))
        append16(0)
        append32(snaplen)
        if let name { appendOption(code: 2, string: name) }
        if let description { appendOption(code: 3, string: description) }
        appendOption(code: 9, bytes: [9])
        appendEndOfOptions()
        endBlock(start)
        interfaceCount += 1
        try flushIfFull()
        return interfaceCount - 1
    }

    /// Appends one enhanced packet block.
    /// - Parameters:
    ///   - interfaceID: a value returned by `addInterface`.
    ///   - timestampNanoseconds: nanoseconds since the epoch (negative values are written as 0).
    ///   - bytes: the captured bytes.
    ///   - wireLength: the original length; defaults to `bytes.count`.
    ///   - comment: an `opt_comment`, UTF-8.
    ///   - direction: written as `epb_flags` when not `.unknown`.
    public func write(
        interfaceID: Int, timestampNanoseconds: Int64, bytes: UnsafeRawBufferPointer,
        wireLength: Int? = nil, comment: String? = nil, direction: FrameDirection = .unknown
    ) throws(CaptureError) {
        try checkOpen()
        precondition(interfaceID >= 0 && interfaceID < interfaceCount, "write to an interface that was not added")
        let captureLength = bytes.count
        reserve(32 + captureLength + 3 + (comment.map { $0.utf8.count + 8 } ?? 0) + 16)
        let start = beginBlock(type: 6)
        let ts = UInt64(max(0, timestampNanoseconds))
        append32(UInt32(interfaceID))
        append32(UInt32(truncatingIfNeeded: ts >> 32))
        append32(UInt32(truncatingIfNeeded: ts))
        append32(UInt32(captureLength))
        append32(UInt32(clamping: max(wireLength ?? captureLength, captureLength)))
        if let base = bytes.baseAddress, captureLength > 0 {
            (buffer + used).copyMemory(from: base, byteCount: captureLength)
            used += captureLength
        }
        pad()
        var hasOptions = false
        if var comment {
            comment.withUTF8 { appendOption(code: 1, bytes: UnsafeRawBufferPointer($0)) }
            hasOptions = true
        }
        if direction != .unknown {
            appendOption(code: 2, value32: UInt32(direction.rawValue))
            hasOptions = true
        }
        if hasOptions { appendEndOfOptions() }
        endBlock(start)
        try flushIfFull()
    }

    /// Appends a frame read from a capture, keeping its timestamp, wire length and direction.
    public func write(_ frame: CapturedFrame, interfaceID: Int, comment: String? = nil) throws(CaptureError) {
        try write(
            interfaceID: interfaceID, timestampNanoseconds: frame.timestampNanoseconds, bytes: frame.bytes,
            wireLength: frame.wireLength, comment: comment, direction: frame.direction)
    }

    /// Writes buffered blocks out.
    public func flush() throws(CaptureError) {
        var written = 0
        while written < used {
            let n = systemWrite(fd, buffer + written, used - written)
            if n < 0 {
                if errno == EINTR { continue }
                let message = String(cString: strerror(errno))
                used = 0
                throw CaptureError.writeFailed(path: displayPath, message: message)
            }
            written += n
        }
        used = 0
    }

    /// Flushes and closes the file (standard output is flushed, not closed). Idempotent.
    public func close() throws(CaptureError) {
        if closed { return }
        closed = true
        defer { if ownsDescriptor { _ = systemClose(fd) } }
        try flush()
    }

    // MARK: Encoding

    private func checkOpen() throws(CaptureError) {
        if closed { throw CaptureError.writeFailed(path: displayPath, message: "the writer is closed") }
    }

    private func reserve(_ count: Int) {
        if used + count <= capacity { return }
        var newCapacity = capacity
        while newCapacity < used + count { newCapacity *= 2 }
        let newBuffer = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        newBuffer.copyMemory(from: buffer, byteCount: used)
        buffer.deallocate()
        buffer = newBuffer
        capacity = newCapacity
    }

    private func flushIfFull() throws(CaptureError) {
        if used >= 1 << 16 { try flush() }
    }

    private func append16(_ v: UInt16) {
        reserve(2)
        buffer.storeBytes(of: v, toByteOffset: used, as: UInt16.self)
        used += 2
    }

    private func append32(_ v: UInt32) {
        reserve(4)
        buffer.storeBytes(of: v, toByteOffset: used, as: UInt32.self)
        used += 4
    }

    private func append64(_ v: UInt64) {
        reserve(8)
        buffer.storeBytes(of: v, toByteOffset: used, as: UInt64.self)
        used += 8
    }

    private func pad() {
        let padding = (4 - used % 4) % 4
        reserve(padding)
        for _ in 0 ..< padding { buffer.storeBytes(of: UInt8(0), toByteOffset: used, as: UInt8.self); used += 1 }
    }

    private func appendOption(code: UInt16, bytes: UnsafeRawBufferPointer) {
        var length = min(bytes.count, 65_535)
        if code == 1 || code == 2 || code == 3 || code == 4 {
            // Cut a long string at a UTF-8 character boundary.
            while length < bytes.count && length > 0 && bytes[length] & 0xC0 == 0x80 { length -= 1 }
        }
        reserve(4 + length + 3)
        append16(code)
        append16(UInt16(length))
        if length > 0 {
            (buffer + used).copyMemory(from: bytes.baseAddress!, byteCount: length)
            used += length
        }
        pad()
    }

    private func appendOption(code: UInt16, bytes: [UInt8]) {
        bytes.withUnsafeBytes { appendOption(code: code, bytes: $0) }
    }

    private func appendOption(code: UInt16, string: String) {
        var s = string
        s.withUTF8 { appendOption(code: code, bytes: UnsafeRawBufferPointer($0)) }
    }

    private func appendOption(code: UInt16, value32: UInt32) {
        append16(code)
        append16(4)
        append32(value32)
    }

    private func appendEndOfOptions() {
        append16(0)
        append16(0)
    }

    private func beginBlock(type: UInt32) -> Int {
        pad()
        let start = used
        append32(type)
        append32(0)  // length, patched by endBlock
        return start
    }

    private func endBlock(_ start: Int) {
        pad()
        let length = UInt32(used - start + 4)
        buffer.storeBytes(of: length, toByteOffset: start + 4, as: UInt32.self)
        append32(length)
    }
}
