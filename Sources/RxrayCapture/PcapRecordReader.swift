#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the records of a classic pcap file (version 2.4, from byte 24 on) straight from a
/// regular file, with the rules `pcap_next_ex` applies in libpcap 1.10.3 (sf-pcap.c), but
/// with large reads and no copy: a frame is a view into the reader's buffer.
///
/// libpcap stays the judge of the file header (`CaptureReader` opens the file with it first
/// and uses this reader only for the plain case); this type repeats libpcap's per-record
/// rules exactly, so frames and errors are the same whichever reads:
/// - a clean end only at a record boundary; 1–15 bytes of record header are
///   "truncated dump file; tried to read 16 header bytes, only got N";
/// - `caplen` above the link type's maximum snapshot length (262144 for every link type the
///   decoder supports) is "invalid packet capture length …";
/// - `caplen` above the file's snapshot length but within the maximum is read, and the frame
///   is cut to the snapshot length (the rest of the record is skipped);
/// - a short body is "truncated dump file; tried to read N captured bytes, only got M";
/// - header fields in the file's byte order; the timestamp fields widened with their sign
///   (without it in a byte-swapped file); microsecond files scaled to nanoseconds by
///   multiplying the sub-second field by 1000 (values of a million or more included), as
///   libpcap does when opened with nanosecond precision.
///
/// The records are read with `pread` from `offset` on, into a buffer of `bufferSize` bytes
/// (1 MiB); a record that does not fit where the buffer's data ends is moved to the front,
/// and the buffer grows for a record bigger than itself. A returned frame's bytes stay valid
/// until the next call to `next`.
///
/// A noncopyable value stored inline in `CaptureReader`, so that reading a record involves
/// no reference counting.
struct PcapRecordReader: ~Copyable {
    /// Outcome of one `next` call that does not hand out a frame.
    enum Failure: Error {
        /// A record (header or body) cut short by the end of the file: libpcap's message.
        case truncated(String)
        /// Any other record error (read failure, invalid capture length): libpcap's message.
        case failed(String)
    }

    /// The maximum `caplen` libpcap accepts (`max_snaplen_for_dlt`) for the link types this
    /// reader is used with.
    static let maximumSnapshotLength: UInt32 = 262_144

    private let fd: Int32 // -1: reads nothing
    private let swapped: Bool
    private let microsecond: Bool
    private let snapshot: UInt32
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    /// Valid data is `buffer[start ..< end]`.
    private var start = 0
    private var end = 0
    /// File offset of `buffer[end]`: where the next `pread` reads.
    private var fileOffset: Int64
    private var atEOF = false

    /// The fields of the last record read.
    private(set) var timestampNanoseconds: Int64 = 0
    private(set) var captureLength = 0
    private(set) var wireLength = 0
    private(set) var bytes = UnsafeRawBufferPointer(start: nil, count: 0)

    /// - Parameters:
    ///   - fd: a descriptor of a regular file, owned (closed) by the reader.
    ///   - offset: the file offset of the first record header.
    ///   - swapped: the file was written in the other byte order.
    ///   - microsecond: the file has microsecond timestamps (scaled to nanoseconds).
    ///   - snapshot: the file's snapshot length as libpcap adjusted it (`pcap_snapshot`).
    ///   - bufferSize: bytes read at a time (tests use small sizes).
    init(fd: Int32, offset: Int64, swapped: Bool, microsecond: Bool, snapshot: UInt32, bufferSize: Int = 1 << 20) {
        self.fd = fd
        self.swapped = swapped
        self.microsecond = microsecond
        self.snapshot = snapshot
        capacity = max(bufferSize, 16)
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        fileOffset = offset
    }

    /// A reader of nothing, for captures whose records are read otherwise (its `next` is
    /// never called).
    init() {
        fd = -1
        swapped = false
        microsecond = false
        snapshot = 0
        capacity = 16
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
        fileOffset = 0
        atEOF = true
    }

    deinit {
        buffer.deallocate()
        if fd >= 0 { _ = close(fd) }
    }

    /// Reads the next record into `timestampNanoseconds`, `captureLength`, `wireLength` and
    /// `bytes`. Returns false at the end of the file (at a record boundary).
    /// - Throws: `Failure` with libpcap's message for the record.
    @inline(__always)
    mutating func next() throws(Failure) -> Bool {
        if end &- start < 16 {
            try fill(16)
            let available = end &- start
            if available < 16 {
                if available == 0 { return false }
                throw .truncated("truncated dump file; tried to read 16 header bytes, only got \(available)")
            }
        }
        let header = UnsafeRawPointer(buffer + start)
        let seconds = header.loadUnaligned(as: UInt32.self)
        let fraction = header.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
        var caplen = header.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        var len = header.loadUnaligned(fromByteOffset: 12, as: UInt32.self)
        // The timestamp fields are signed 32-bit: libpcap widens them with their sign, except
        // in a byte-swapped file, where its swap yields an unsigned value.
        let sec: Int64
        var sub: Int64
        if swapped {
            caplen = caplen.byteSwapped
            len = len.byteSwapped
            sec = Int64(seconds.byteSwapped)
            sub = Int64(fraction.byteSwapped)
        } else {
            sec = Int64(Int32(bitPattern: seconds))
            sub = Int64(Int32(bitPattern: fraction))
        }
        if microsecond { sub = sub &* 1000 }
        if caplen > snapshot { return try nextOverSnapshot(caplen, sec, sub, len) }
        let need = 16 &+ Int(caplen)
        if end &- start < need {
            try fill(need)
            let available = end &- start
            if available < need {
                throw .truncated("truncated dump file; tried to read \(caplen) captured bytes, only got \(available &- 16)")
            }
        }
        take(sec, sub, kept: Int(caplen), wire: len, recordBytes: need)
        return true
    }

    /// Sets the fields of the record at `start` (header already checked, `kept` bytes of its
    /// body handed out) and moves past its `recordBytes` (header and whole body).
    @inline(__always)
    private mutating func take(_ sec: Int64, _ sub: Int64, kept: Int, wire len: UInt32, recordBytes need: Int) {
        timestampNanoseconds = sec &* 1_000_000_000 &+ sub
        captureLength = kept
        wireLength = Int(len)
        bytes = UnsafeRawBufferPointer(start: buffer + (start &+ 16), count: kept)
        start &+= need
    }

    /// A record whose `caplen` exceeds the file's snapshot length: an error above the
    /// maximum, else the frame cut to the snapshot length and the rest skipped.
    @inline(never)
    private mutating func nextOverSnapshot(_ caplen: UInt32, _ sec: Int64, _ sub: Int64, _ len: UInt32) throws(Failure) -> Bool {
        if caplen > Self.maximumSnapshotLength {
            // The snapshot length never exceeds the maximum, so this is the message libpcap gives.
            throw .failed("invalid packet capture length \(caplen), bigger than snaplen of \(Int32(bitPattern: snapshot))")
        }
        let need = 16 &+ Int(caplen)
        if end &- start < need { try fill(need) }
        let body = end &- start &- 16
        if body < Int(snapshot) {
            throw .truncated("truncated dump file; tried to read \(Int32(bitPattern: snapshot)) captured bytes, only got \(body)")
        }
        if body < Int(caplen) {
            throw .truncated("truncated dump file; tried to read \(caplen) captured bytes, only got \(body)")
        }
        take(sec, sub, kept: Int(snapshot), wire: len, recordBytes: need)
        return true
    }

    /// Makes `need` bytes available from `start` (moving the data to the front, or growing the
    /// buffer, when they cannot fit) and reads until they are there or the file ends.
    @inline(never)
    private mutating func fill(_ need: Int) throws(Failure) {
        if atEOF { return }
        if capacity < need {
            let grown = UnsafeMutableRawPointer.allocate(byteCount: need, alignment: 16)
            grown.copyMemory(from: buffer + start, byteCount: end - start)
            buffer.deallocate()
            buffer = grown
            capacity = need
            end -= start
            start = 0
        } else if capacity - start < need {
            memmove(buffer, buffer + start, end - start)
            end -= start
            start = 0
        }
        while end - start < need {
            let n = pread(fd, buffer + end, capacity - end, off_t(fileOffset))
            if n < 0 {
                if errno == EINTR { continue }
                throw .failed("error reading dump file: " + String(cString: strerror(errno)))
            }
            if n == 0 {
                atEOF = true
                return
            }
            end += n
            fileOffset += Int64(n)
        }
    }
}
