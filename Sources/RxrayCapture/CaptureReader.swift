import CLinkedLibpcap
import Foundation
import RxrayDecode

#if canImport(Glibc)
import Glibc
#endif

/// Reads the frames of a pcap or pcapng file (or standard input), one at a time.
///
/// The format is detected from the magic number. Classic pcap (microsecond or nanosecond
/// magic, either byte order) is read through libpcap with nanosecond precision; pcapng is read
/// by rxray's own reader because libpcap cannot mix link types nor expose interfaces and
/// comments. Frames are streamed: memory stays bounded by the largest frame, and reading a
/// frame allocates nothing on the heap (a pcapng comment becomes a `String` only when present).
///
/// ```swift
/// let reader = try CaptureReader(path: "trace.pcapng", filter: "tcp port 80")
/// while let frame = try reader.next() { ... }
/// ```
public final class CaptureReader {
    /// The path as given (`-` for standard input).
    public let path: String
    /// The detected container format.
    public let format: CaptureFormat
    /// The filter applied by `next()`, if any.
    public private(set) var filter: BPFFilter?
    /// Number of frames read from the file so far, filtered-out frames included.
    public private(set) var framesRead = 0

    private enum Backend {
        case pcap(OpaquePointer)
        case pcapng(PcapngReader)
    }

    private let backend: Backend
    /// pcap: the libpcap handle and link type, outside `backend` so the per-frame read does
    /// not switch over (and copy) the enum.
    private let pcapHandle: OpaquePointer?
    private let pcapLinkType: LinkType
    private let displayPath: String
    /// pcap: the interface; pcapng: unused (the reader holds them).
    private let pcapInterface: CaptureInterface?
    /// pcap: byte offset of the next record header.
    private var pcapOffset: Int64 = 24
    /// pcapng: the first packet, read ahead at open so `interfaces` is filled.
    private var pending: Result<CapturedFrame?, CaptureError>?
    private var finished = false

    /// Opens a capture file.
    /// - Parameters:
    ///   - path: a file path, or `-` for standard input.
    ///   - filter: a BPF expression (tcpdump syntax) applied to every frame, or nil.
    ///   - acceptAnyLinkType: when false (the default), a link type the decoder does not
    ///     support is an error; when true, such frames are returned as they are.
    /// - Throws: `CaptureError` — not found, not a capture file, empty, truncated, corrupt,
    ///   unsupported link type, bad filter.
    public init(path: String, filter: String? = nil, acceptAnyLinkType: Bool = false) throws(CaptureError) {
        self.path = path
        let display = path == "-" ? "<stdin>" : path
        displayPath = display

        // Open the descriptor.
        let fd: Int32
        if path == "-" {
            // A descriptor of our own, so that closing the reader leaves fd 0 alone.
            fd = dup(0)
            if fd < 0 { throw CaptureError.cannotOpen(path: display, reason: String(cString: strerror(errno))) }
        } else {
            var info = stat()
            if stat(path, &info) != 0 {
                if errno == ENOENT || errno == ENOTDIR { throw CaptureError.fileNotFound(path: path) }
                throw CaptureError.cannotOpen(path: path, reason: String(cString: strerror(errno)))
            }
            if (info.st_mode & S_IFMT) == S_IFDIR {
                throw CaptureError.cannotOpen(path: path, reason: "is a directory")
            }
            fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 { throw CaptureError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        }
        var closeOnFailure = true
        defer { if closeOnFailure { _ = close(fd) } }

        // Sniff the magic number. On a seekable descriptor we seek back; on a pipe the bytes
        // are handed on to whoever reads next.
        let startOffset = lseek(fd, 0, SEEK_CUR)
        var magic = [UInt8](repeating: 0, count: 4)
        let got = try Self.readFully(fd, &magic, display)
        if got == 0 { throw CaptureError.emptyFile(path: display) }
        magic.removeSubrange(got...)

        let magicValue = got == 4 ? magic.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) } : 0
        if magic == [0x0A, 0x0D, 0x0D, 0x0A] {
            format = .pcapng
            let source = ByteSource(fd: fd, ownsDescriptor: true, prefix: magic)
            closeOnFailure = false
            let reader = PcapngReader(path: display, source: source, acceptAnyLinkType: acceptAnyLinkType)
            backend = .pcapng(reader)
            pcapHandle = nil
            pcapLinkType = .ethernet
            pcapInterface = nil
            do { pending = .success(try reader.next()) } catch { pending = .failure(error) }
        } else if magicValue == 0xA1B2_C3D4 || magicValue == 0xD4C3_B2A1
            || magicValue == 0xA1B2_3C4D || magicValue == 0x4D3C_B2A1
        {
            format = .pcap(
                nanosecond: magicValue == 0xA1B2_3C4D || magicValue == 0x4D3C_B2A1,
                swapped: magicValue == 0xD4C3_B2A1 || magicValue == 0x4D3C_B2A1)
            // Hand libpcap a FILE* positioned at the magic number.
            let file: UnsafeMutablePointer<FILE>
            if startOffset >= 0 && lseek(fd, startOffset, SEEK_SET) == startOffset {
                guard let f = fdopen(fd, "rb") else {
                    throw CaptureError.cannotOpen(path: display, reason: String(cString: strerror(errno)))
                }
                file = f
            } else {
                closeOnFailure = false
                defer { _ = close(fd) }  // the copier reads a duplicate
                file = try Self.pipeThrough(prefix: magic, from: fd, display)
            }
            closeOnFailure = false
            var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
            guard let handle = pcap_fopen_offline_with_tstamp_precision(file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
                let message = String(cString: errbuf)
                fclose(file)
                if message.contains("truncated") {
                    throw CaptureError.truncated(path: display, frame: 1, offset: 0, detail: message)
                }
                throw CaptureError.readFailed(path: display, message: message)
            }
            let linkType = LinkTypeMapping.linkType(fromDLT: pcap_datalink(handle))
            if !acceptAnyLinkType && !linkType.isSupported {
                pcap_close(handle)
                throw CaptureError.unsupportedLinkType(path: display, linkType: linkType, interfaceID: 0)
            }
            pcapInterface = CaptureInterface(
                id: 0, name: nil, description: nil, linkType: linkType, snaplen: UInt32(clamping: pcap_snapshot(handle)))
            backend = .pcap(handle)
            pcapHandle = handle
            pcapLinkType = linkType
        } else {
            // Show a few more bytes than the magic to make the message useful.
            var more = [UInt8](repeating: 0, count: 12)
            let extra = got == 4 ? ((try? Self.readFully(fd, &more, display)) ?? 0) : 0
            throw CaptureError.notACaptureFile(path: display, firstBytes: magic + more.prefix(extra))
        }
        if let filter { try setFilter(filter) }
    }

    deinit {
        if case .pcap(let handle) = backend { pcap_close(handle) }
    }

    /// The interfaces seen so far. pcap: exactly one. pcapng: every Interface Description Block
    /// before the first packet after `init`, growing if later sections add more.
    public var interfaces: [CaptureInterface] {
        switch backend {
        case .pcap: return [pcapInterface!]
        case .pcapng(let reader): return reader.interfaces
        }
    }

    /// Sets (or, with nil, removes) the BPF filter applied by `next()`. The expression is
    /// compiled at once for the link types of the interfaces seen so far.
    /// - Throws: `CaptureError.badFilter` with libpcap's message.
    public func setFilter(_ expression: String?) throws(CaptureError) {
        guard let expression else { filter = nil; return }
        var linkTypes: [LinkType] = []
        for interface in interfaces where !linkTypes.contains(interface.linkType) { linkTypes.append(interface.linkType) }
        if linkTypes.isEmpty { linkTypes = [.ethernet] }
        var swapped = false
        if case .pcap(_, let isSwapped) = format { swapped = isSwapped }
        filter = try BPFFilter(expression, linkTypes: linkTypes, byteSwapped: swapped)
    }

    /// The next frame that passes the filter, or nil at the end of the capture.
    ///
    /// The frame's `bytes` stay valid until the next call. After an error (truncation,
    /// corruption) every frame before the bad one has already been returned; later calls
    /// return nil.
    public func next() throws(CaptureError) -> CapturedFrame? {
        if finished { return nil }
        if let handle = pcapHandle {
            while true {
                // The optional is returned as it is, not unwrapped into a second binding (which
                // copied and destroyed the frame, strings and all, on every call).
                let candidate: CapturedFrame?
                do {
                    candidate = try nextPcap(handle)
                } catch {
                    finished = true
                    throw error
                }
                if candidate == nil { finished = true; return nil }
                // nextPcap numbers the frame framesRead + 1.
                framesRead += 1
                if let filter, try !filter.matches(candidate.unsafelyUnwrapped) { continue }
                return candidate
            }
        }
        while true {
            let candidate: CapturedFrame?
            do {
                candidate = try nextUnfiltered()
            } catch {
                finished = true
                throw error
            }
            guard let frame = candidate else { finished = true; return nil }
            framesRead = frame.index
            if let filter, try !filter.matches(frame) { continue }
            return frame
        }
    }

    private func nextUnfiltered() throws(CaptureError) -> CapturedFrame? {
        switch backend {
        case .pcapng(let reader):
            if let result = pending {
                pending = nil
                return try result.get()
            }
            return try reader.next()
        case .pcap(let handle):
            return try nextPcap(handle)
        }
    }

    /// The next record of a classic pcap file, read by libpcap (`pcap_next_ex`). A frame of
    /// plain values (no interface name nor comment): nothing reference-counted is made.
    @inline(__always)
    private func nextPcap(_ handle: OpaquePointer) throws(CaptureError) -> CapturedFrame? {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let status = pcap_next_ex(handle, &header, &data)
        if status != 1 { return try pcapEnd(handle, status) }
        guard let header, let data else { return nil }
        let captureLength = Int(header.pointee.caplen)
        pcapOffset += 16 + Int64(captureLength)
        // Opened with nanosecond precision: tv_usec holds nanoseconds.
        let ns = Int64(header.pointee.ts.tv_sec) &* 1_000_000_000 &+ Int64(header.pointee.ts.tv_usec)
        return CapturedFrame(
            index: framesRead + 1, timestampNanoseconds: ns, captureLength: captureLength,
            wireLength: Int(header.pointee.len), linkType: pcapLinkType, interfaceID: 0, interfaceName: nil,
            comment: nil, direction: .unknown,
            bytes: UnsafeRawBufferPointer(start: UnsafeRawPointer(data), count: captureLength))
    }

    /// `pcap_next_ex` returned `status` (not 1): the end of the file, or the error it names.
    @inline(never)
    private func pcapEnd(_ handle: OpaquePointer, _ status: Int32) throws(CaptureError) -> CapturedFrame? {
        if status == PCAP_ERROR_BREAK { return nil }
        let message = String(cString: pcap_geterr(handle))
        if message.contains("truncated") {
            throw CaptureError.truncated(path: displayPath, frame: framesRead + 1, offset: pcapOffset, detail: message)
        }
        throw CaptureError.readFailed(
            path: displayPath, message: "frame \(framesRead + 1) at byte offset \(pcapOffset): \(message)")
    }

    // MARK: Helpers

    private static func readFully(_ fd: Int32, _ buffer: inout [UInt8], _ display: String) throws(CaptureError) -> Int {
        var total = 0
        let count = buffer.count
        let result: Int = buffer.withUnsafeMutableBytes { raw in
            while total < count {
                let n = systemRead(fd, raw.baseAddress! + total, count - total)
                if n < 0 {
                    if errno == EINTR { continue }
                    return -Int(errno)
                }
                if n == 0 { break }
                total += n
            }
            return total
        }
        if result < 0 {
            throw CaptureError.cannotOpen(path: display, reason: String(cString: strerror(Int32(-result))))
        }
        return result
    }

    /// A FILE* that yields `prefix` and then everything from `fd`: for classic pcap on a pipe,
    /// where the sniffed magic cannot be pushed back. A thread copies through a socket pair
    /// (sockets, so that a reader that stops early makes the copier fail with EPIPE instead of
    /// raising SIGPIPE).
    private static func pipeThrough(prefix: [UInt8], from fd: Int32, _ display: String) throws(CaptureError) -> UnsafeMutablePointer<FILE> {
        var pair: [Int32] = [0, 0]
        #if canImport(Glibc)
        let streamType = Int32(SOCK_STREAM.rawValue)
        #else
        let streamType = SOCK_STREAM
        #endif
        if socketpair(AF_UNIX, streamType, 0, &pair) != 0 {
            throw CaptureError.cannotOpen(path: display, reason: "socketpair: " + String(cString: strerror(errno)))
        }
        let readEnd = pair[0]
        let writeEnd = pair[1]
        // The copier reads its own descriptor, so replacing fd 0 later cannot redirect it.
        let input = dup(fd)
        if input < 0 {
            _ = close(readEnd)
            _ = close(writeEnd)
            throw CaptureError.cannotOpen(path: display, reason: "dup: " + String(cString: strerror(errno)))
        }
        guard let file = fdopen(readEnd, "rb") else {
            _ = close(readEnd)
            _ = close(writeEnd)
            _ = close(input)
            throw CaptureError.cannotOpen(path: display, reason: String(cString: strerror(errno)))
        }
        let copier = Thread {
            defer {
                _ = close(writeEnd)
                _ = close(input)
            }
            func sendAll(_ p: UnsafeRawPointer, _ n: Int) -> Bool {
                var sent = 0
                while sent < n {
                    let r = send(writeEnd, p + sent, n - sent, Int32(MSG_NOSIGNAL))
                    if r < 0 {
                        if errno == EINTR { continue }
                        return false
                    }
                    sent += r
                }
                return true
            }
            let ok = prefix.withUnsafeBytes { sendAll($0.baseAddress!, $0.count) }
            if !ok { return }
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
            defer { buffer.deallocate() }
            while true {
                let n = systemRead(input, buffer, 1 << 16)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                if !sendAll(buffer, n) { return }
            }
        }
        copier.start()
        return file
    }
}
