import Foundation
import RxrayCapture
import RxrayDecode

/// Where `analyze` takes its frames from: the capture reader itself (`--threads 1`, the
/// single-threaded path), or a reader thread that reads ahead, applies the BPF filter and
/// hands frames over in batches (`--threads 2` and more; see docs/PERFORMANCE.md "Threads").
///
/// Either way the consumer sees the same frames in the same order, each with the same
/// fields, filter decision and errors: a frame's `bytes` stay valid until the next call to
/// `next()`, a capture error comes after every frame before the bad one, and a filter error
/// is thrown by `selected(_:)` for the frame it happened on.
final class FrameSource {
    private let reader: CaptureReader
    private let filter: BPFFilter?
    private let pipeline: ReadAheadPipeline?
    /// Threaded: the batch being consumed and the position of the next frame in it.
    private var batch: FrameBatch?
    private var position = 0
    /// Threaded: the filter outcome of the frame `next()` returned last.
    private var lastSelected = true
    private var lastFilterError: CaptureError?
    /// Threaded: the interfaces the reader had seen when the current batch was cut.
    private var knownInterfaces: [CaptureInterface]

    /// - Parameters:
    ///   - threads: 1 reads on the calling thread; more starts the reader thread.
    init(reader: CaptureReader, filter: BPFFilter?, threads: Int) {
        self.reader = reader
        self.filter = filter
        knownInterfaces = reader.interfaces
        pipeline = threads > 1 ? ReadAheadPipeline(reader: reader, filter: filter) : nil
    }

    deinit { pipeline?.cancel() }

    /// `--threads` when not given: the number of cores online.
    static var defaultThreads: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// The interfaces of the capture seen so far (up to the last frame returned, at least).
    /// Safe to call on the consuming thread while the reader thread runs.
    var interfaces: [CaptureInterface] { pipeline == nil ? reader.interfaces : knownInterfaces }

    /// The next frame of the capture, or nil at its end.
    func next() throws(CaptureError) -> CapturedFrame? {
        guard let pipeline else { return try reader.next() }
        while true {
            if let b = batch, position < b.count {
                let f = b.frames[position]
                position += 1
                lastSelected = f.selected
                lastFilterError = f.filterError
                return CapturedFrame(
                    index: f.index, timestampNanoseconds: f.timestampNanoseconds, captureLength: f.length,
                    wireLength: f.wireLength, linkType: f.linkType, interfaceID: f.interfaceID,
                    labels: f.labels, direction: f.direction,
                    bytes: b.bytes(of: position - 1))
            }
            if let b = batch {
                batch = nil
                if let end = b.end {
                    pipeline.recycle(b)
                    pipeline.finished = true
                    if case .failed(let error) = end { throw error }
                    return nil
                }
                pipeline.recycle(b)
            }
            if pipeline.finished { return nil }
            let b = pipeline.take()
            if let i = b.interfaces { knownInterfaces = i }
            batch = b
            position = 0
        }
    }

    /// Whether `frame`, the one `next()` returned last, passes the filter (true without one).
    func selected(_ frame: CapturedFrame) throws(CaptureError) -> Bool {
        guard pipeline != nil else { return try filter?.matches(frame) ?? true }
        if let e = lastFilterError { throw e }
        return lastSelected
    }

    /// Stops the reader thread (when there is one) from reading further. It is not waited
    /// for: it may be blocked reading a pipe that never ends, and it holds nothing the
    /// caller needs.
    func stop() { pipeline?.cancel() }
}

/// A frame's metadata inside a batch; its bytes are at `offset` in the batch's arena.
struct BatchFrame {
    var offset: Int
    var length: Int
    var index: Int
    var timestampNanoseconds: Int64
    var wireLength: Int
    var linkType: LinkType
    var interfaceID: Int
    var labels: FrameLabels?
    var direction: FrameDirection
    var selected: Bool
    var filterError: CaptureError?
}

/// Up to `FrameBatch.maxFrames` frames copied into one arena. Batches are recycled: their
/// arena and frame array keep their capacity, so filling one allocates nothing once it has
/// grown to the largest batch seen.
final class FrameBatch {
    static let maxFrames = 512
    static let arenaBytes = 1 << 20

    private(set) var frames: [BatchFrame] = []
    private var arena: UnsafeMutableRawBufferPointer
    private var used = 0
    /// Set on the batch that ends the stream.
    var end: End?
    /// The reader's interfaces when the batch was cut, if they changed since the previous batch.
    var interfaces: [CaptureInterface]?

    enum End {
        case finished
        case failed(CaptureError)
    }

    init() {
        arena = .allocate(byteCount: Self.arenaBytes, alignment: 16)
        frames.reserveCapacity(Self.maxFrames)
    }

    deinit { arena.deallocate() }

    var count: Int { frames.count }

    /// Whether a frame of `length` bytes fits (an empty batch takes any frame, growing).
    func fits(_ length: Int) -> Bool {
        frames.count < Self.maxFrames && (frames.isEmpty || used + length <= arena.count)
    }

    /// Copies a frame in. The caller checked `fits`.
    func append(_ frame: CapturedFrame, selected: Bool, filterError: CaptureError?) {
        let n = frame.bytes.count
        if used + n > arena.count {
            // Only an empty batch gets here (see `fits`): a frame larger than the arena.
            arena.deallocate()
            arena = .allocate(byteCount: n, alignment: 16)
        }
        if n > 0, let src = frame.bytes.baseAddress {
            (arena.baseAddress! + used).copyMemory(from: src, byteCount: n)
        }
        frames.append(BatchFrame(
            offset: used, length: n, index: frame.index, timestampNanoseconds: frame.timestampNanoseconds,
            wireLength: frame.wireLength, linkType: frame.linkType, interfaceID: frame.interfaceID,
            labels: frame.labels, direction: frame.direction,
            selected: selected, filterError: filterError))
        used += n
    }

    /// The bytes of frame `i`, valid until the batch is recycled.
    func bytes(of i: Int) -> UnsafeRawBufferPointer {
        let f = frames[i]
        return UnsafeRawBufferPointer(start: arena.baseAddress! + f.offset, count: f.length)
    }

    func reset() {
        frames.removeAll(keepingCapacity: true)
        used = 0
        end = nil
        interfaces = nil
    }
}

/// A bounded FIFO of batches between two threads (mutex and condition variable).
final class BatchQueue {
    private let condition = NSCondition()
    private var items: [FrameBatch] = []
    private var cancelled = false

    init(capacity: Int) { items.reserveCapacity(capacity) }

    func put(_ b: FrameBatch) {
        condition.lock()
        items.append(b)
        condition.signal()
        condition.unlock()
    }

    /// The oldest batch, waiting for one; nil once cancelled.
    func take() -> FrameBatch? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !cancelled { condition.wait() }
        if cancelled { return nil }
        return items.removeFirst()
    }

    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}

/// The reader thread and the two queues it shares with the consumer: empty batches go to the
/// reader (`free`), filled ones come back (`full`). A fixed pool of batches circulates, so the
/// reader runs at most `poolSize` batches ahead and memory stays bounded.
final class ReadAheadPipeline {
    static let poolSize = 4

    private let free = BatchQueue(capacity: poolSize)
    private let full = BatchQueue(capacity: poolSize)
    /// Consumer side: the batch that ended the stream has been taken.
    var finished = false

    init(reader: CaptureReader, filter: BPFFilter?) {
        for _ in 0..<Self.poolSize { free.put(FrameBatch()) }
        let free = self.free, full = self.full
        let thread = Thread {
            Self.read(reader: reader, filter: filter, free: free, full: full)
        }
        thread.name = "rxray-reader"
        thread.start()
    }

    /// The next filled batch (the consumer waits for the reader).
    func take() -> FrameBatch {
        // `full` is cancelled only by `cancel()`, after which the consumer does not call here.
        full.take()!
    }

    func recycle(_ b: FrameBatch) {
        b.reset()
        free.put(b)
    }

    func cancel() {
        free.cancel()
        full.cancel()
    }

    /// The reader thread: fills batches until the capture ends, fails, or the consumer stops.
    private static func read(reader: CaptureReader, filter: BPFFilter?, free: BatchQueue, full: BatchQueue) {
        // Only pcapng can describe interfaces between packets (pcap has exactly one).
        var pcapng = false
        if case .pcapng = reader.format { pcapng = true }
        var interfaceCount = reader.interfaces.count
        var first = true
        guard var batch = free.take() else { return }
        while true {
            let frame: CapturedFrame?
            do {
                frame = try reader.next()
            } catch {
                batch.end = .failed(error)
                full.put(batch)
                return
            }
            guard let frame else {
                batch.end = .finished
                full.put(batch)
                return
            }
            if !batch.fits(frame.bytes.count) {
                full.put(batch)
                guard let b = free.take() else { return }
                batch = b
            }
            var selected = true
            var filterError: CaptureError?
            if let filter {
                do { selected = try filter.matches(frame) } catch { filterError = error }
            }
            // pcapng may describe interfaces between packets: pass the list on when it grows.
            if first || pcapng {
                let n = reader.interfaces.count
                if n != interfaceCount || first {
                    interfaceCount = n
                    batch.interfaces = reader.interfaces
                }
                first = false
            }
            batch.append(frame, selected: selected, filterError: filterError)
            if filterError != nil {
                // The consumer stops at this frame, as the single-threaded loop does.
                batch.end = .finished
                full.put(batch)
                return
            }
        }
    }
}
