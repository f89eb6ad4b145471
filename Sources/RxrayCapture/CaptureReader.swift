import CLinkedLibpcap
import Foundation
import RxrayDecode

#if canImport(Glibc)
import Glibc
#endif

/// Reads the frames of a pcap or pcapng file (or standard input), one at a time.
///
/// The format is detected from the magic number. Classic pcap (microsecond or nanosecond
/// magic, either byte order) is opened by libpcap with nanosecond precision, which judges the
/// file header; the records of a regular file of version 2.4 with a supported link type that
/// libpcap does not fix up per record are then read by `PcapRecordReader` (large reads, frames
/// as views into its buffer, libpcap's record rules and messages), everything else (pipes,
/// older versions) record by record through `pcap_next_ex`. pcapng is read by rxray's own
/// reader because libpcap cannot mix link types nor expose interfaces and comments. Frames
/// are streamed: memory stays bounded by the largest frame (and, for the record reader, its
/// 1 MiB of reads), and reading a frame allocates nothing on the heap (a pcapng comment
/// becomes a `String` only when present).
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
        /// Classic pcap read by `records`.
        case records
        case pcapng(PcapngReader)
    }

    /// Who reads the records of a classic pcap file.
    enum RecordReading {
        /// `PcapRecordReader` where the file allows it, else libpcap.
        case automatic
        /// Always `pcap_next_ex` (tests compare the two).
        case libpcap
    }

    private let backend: Backend
    /// pcap: the libpcap handle and link type, outside `backend` so the per-frame read does
    /// not switch over (and copy) the enum.
    private let pcapHandle: OpaquePointer?
    /// pcap read by rxray: whether `records` reads, and the record reader (inline, so that a
    /// record costs no reference counting; an idle one otherwise).
    private let readsRecords: Bool
    private var records: PcapRecordReader
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
    public convenience init(path: String, filter: String? = nil, acceptAnyLinkType: Bool = false) throws(CaptureError) {
        try self.init(path: path, filter: filter, acceptAnyLinkType: acceptAnyLinkType, recordReading: .automatic)
    }

    /// Opens a capture file, choosing who reads classic pcap records and (for
    /// `PcapRecordReader`) the size of its reads.
    init(
        path: String, filter: String? = nil, acceptAnyLinkType: Bool = false, recordReading: RecordReading,
        recordBufferSize: Int = 1 << 20
    ) throws(CaptureError) {
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
            readsRecords = false
            records = PcapRecordReader()
            pcapLinkType = .ethernet
            pcapInterface = nil
            do { pending = .success(try reader.next()) } catch { pending = .failure(error) }
        } else if magicValue == 0xA1B2_C3D4 || magicValue == 0xD4C3_B2A1
            || magicValue == 0xA1B2_3C4D || magicValue == 0x4D3C_B2A1
        {
            let nanosecond = magicValue == 0xA1B2_3C4D || magicValue == 0x4D3C_B2A1
            let swapped = magicValue == 0xD4C3_B2A1 || magicValue == 0x4D3C_B2A1
            format = .pcap(nanosecond: nanosecond, swapped: swapped)
            // Hand libpcap a FILE* positioned at the magic number.
            let file: UnsafeMutablePointer<FILE>
            // A regular file keeps a descriptor of its own for the record reader.
            var recordFD: Int32 = -1
            defer { if recordFD >= 0 { _ = close(recordFD) } }
            if startOffset >= 0 && lseek(fd, startOffset, SEEK_SET) == startOffset {
                var info = stat()
                if recordReading == .automatic && fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG {
                    recordFD = fcntl(fd, F_DUPFD_CLOEXEC, 0)
                }
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
            pcapLinkType = linkType
            if recordFD >= 0,
                Self.recordsNeedNoFixUp(linkType: linkType, swapped: swapped),
                pcap_snapshot(handle) > 0,
                Self.isVersion24(recordFD, at: Int64(startOffset), swapped: swapped)
            {
                records = PcapRecordReader(
                    fd: recordFD, offset: Int64(startOffset) + 24, swapped: swapped, microsecond: !nanosecond,
                    snapshot: UInt32(pcap_snapshot(handle)), bufferSize: recordBufferSize)
                recordFD = -1  // the reader owns it
                pcap_close(handle)
                backend = .records
                readsRecords = true
                pcapHandle = nil
            } else {
                backend = .pcap(handle)
                readsRecords = false
                records = PcapRecordReader()
                pcapHandle = handle
            }
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

    /// Whether the records of this classic pcap file are read by `PcapRecordReader` rather
    /// than by libpcap.
    var readsRecordsItself: Bool { readsRecords }

    /// The interfaces seen so far. pcap: exactly one. pcapng: every Interface Description Block
    /// before the first packet after `init`, growing if later sections add more.
    public var interfaces: [CaptureInterface] {
        switch backend {
        case .pcap, .records: return [pcapInterface!]
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
        if readsRecords {
            while true {
                let more: Bool
                do {
                    more = try records.next()
                } catch {
                    finished = true
                    throw recordError(error)
                }
                if !more { finished = true; return nil }
                framesRead += 1
                pcapOffset += 16 + Int64(records.captureLength)
                // Made where it is returned: no copy of the frame (and its optional strings).
                if let filter, try !filter.matches(recordFrame()) { continue }
                return recordFrame()
            }
        }
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
        case .records:
            return nil  // `next` reads these
        }
    }

    /// The frame of the record `records` read last, numbered `framesRead`: the same frame as
    /// `nextPcap` makes of it (as are the errors, by `recordError`).
    @inline(__always)
    private func recordFrame() -> CapturedFrame {
        CapturedFrame(
            index: framesRead, timestampNanoseconds: records.timestampNanoseconds, captureLength: records.captureLength,
            wireLength: records.wireLength, linkType: pcapLinkType, interfaceID: 0, labels: nil,
            direction: .unknown, bytes: records.bytes)
    }

    /// The `CaptureError` for a record the record reader rejected, as `pcapEnd` makes it.
    @inline(never)
    private func recordError(_ failure: PcapRecordReader.Failure) -> CaptureError {
        switch failure {
        case .truncated(let message):
            return CaptureError.truncated(path: displayPath, frame: framesRead + 1, offset: pcapOffset, detail: message)
        case .failed(let message):
            return CaptureError.readFailed(
                path: displayPath, message: "frame \(framesRead + 1) at byte offset \(pcapOffset): \(message)")
        }
    }

    /// Whether libpcap hands out the records of this link type exactly as stored: the link
    /// types the decoder supports, except the Linux cooked headers of a byte-swapped file
    /// (libpcap swaps their SocketCAN pseudo-headers).
    static func recordsNeedNoFixUp(linkType: LinkType, swapped: Bool) -> Bool {
        guard linkType.isSupported else { return false }
        if swapped && (linkType == .linuxSLL || linkType == .linuxSLL2) { return false }
        return true
    }

    /// Whether the file header at `offset` says version 2.4, the only version whose records
    /// need no length swapping.
    static func isVersion24(_ fd: Int32, at offset: Int64, swapped: Bool) -> Bool {
        var version: (UInt16, UInt16) = (0, 0)
        let n = withUnsafeMutableBytes(of: &version) { pread(fd, $0.baseAddress!, 4, off_t(offset + 4)) }
        if n != 4 { return false }
        let major = swapped ? version.0.byteSwapped : version.0
        let minor = swapped ? version.1.byteSwapped : version.1
        return major == 2 && minor == 4
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
            wireLength: Int(header.pointee.len), linkType: pcapLinkType, interfaceID: 0, labels: nil,
            direction: .unknown,
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
