#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sequential, buffered reads from a file descriptor with a running byte offset.
///
/// Used by the pcapng reader. `prefix` holds bytes already taken from the descriptor (the
/// magic number sniffed from a pipe) and is served first.
final class ByteSource {
    let fd: Int32
    private let ownsDescriptor: Bool
    private let buffer: UnsafeMutableRawPointer
    private let capacity = 1 << 16
    private var start = 0
    private var end = 0
    private(set) var offset: Int64 = 0
    private var atEOF = false

    init(fd: Int32, ownsDescriptor: Bool, prefix: [UInt8] = []) {
        self.fd = fd
        self.ownsDescriptor = ownsDescriptor
        buffer = UnsafeMutableRawPointer.allocate(byteCount: max(capacity, prefix.count), alignment: 16)
        if !prefix.isEmpty {
            prefix.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: prefix.count) }
            end = prefix.count
        }
    }

    deinit {
        buffer.deallocate()
        if ownsDescriptor { _ = close(fd) }
    }

    /// Copies up to `count` bytes to `destination`; fewer only at end of input.
    /// Throws the `errno` text on a read error.
    func read(into destination: UnsafeMutableRawPointer, count: Int) throws(ByteSourceError) -> Int {
        var copied = 0
        while copied < count {
            if start < end {
                let n = min(end - start, count - copied)
                (destination + copied).copyMemory(from: buffer + start, byteCount: n)
                start += n
                copied += n
                continue
            }
            if atEOF { break }
            let wanted = count - copied
            if wanted >= capacity {
                // Large reads go straight to the destination.
                let n = try rawRead(destination + copied, wanted)
                if n == 0 { atEOF = true; break }
                copied += n
            } else {
                let n = try rawRead(buffer, capacity)
                if n == 0 { atEOF = true; break }
                start = 0
                end = n
            }
        }
        offset += Int64(copied)
        return copied
    }

    private func rawRead(_ destination: UnsafeMutableRawPointer, _ count: Int) throws(ByteSourceError) -> Int {
        while true {
            let n = systemRead(fd, destination, count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw ByteSourceError(message: String(cString: strerror(errno)))
        }
    }
}

struct ByteSourceError: Error {
    var message: String
}

@inline(__always)
func systemRead(_ fd: Int32, _ destination: UnsafeMutableRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.read(fd, destination, count)
    #else
    return Darwin.read(fd, destination, count)
    #endif
}

@inline(__always)
func systemWrite(_ fd: Int32, _ source: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(fd, source, count)
    #else
    return Darwin.write(fd, source, count)
    #endif
}

@inline(__always)
func systemClose(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    return Glibc.close(fd)
    #else
    return Darwin.close(fd)
    #endif
}
