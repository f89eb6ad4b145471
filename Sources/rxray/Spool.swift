#if canImport(Glibc)
import Glibc
#endif

/// Copies standard input to a temporary file, for commands that read a capture twice.
enum Spool {
    struct SpoolError: Error, CustomStringConvertible {
        var description: String
    }

    static func stdinToTemporaryFile() throws -> String {
        var template = Array("/tmp/rxray-stdin-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SpoolError(description: "cannot create a temporary file: \(String(cString: strerror(errno)))") }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buf.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw SpoolError(description: "read failed: \(String(cString: strerror(errno)))")
            }
            var off = 0
            while off < n {
                let w = buf.withUnsafeBytes { write(fd, $0.baseAddress! + off, n - off) }
                guard w > 0 else { throw SpoolError(description: "cannot write the temporary file \(path)") }
                off += w
            }
        }
        return path
    }

    static func remove(_ path: String) { unlink(path) }
}
