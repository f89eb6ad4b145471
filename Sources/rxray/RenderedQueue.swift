import Foundation
import RxrayDecode
import RxrayOutput

#if canImport(Glibc)
import Glibc
#endif

/// Printed records kept until every frame before them is printed: output in capture order
/// from results handed over as they settle (`EmitOrder.settled`).
///
/// A capture whose fragment never completes keeps every later frame waiting for up to the
/// reassembly timeout. Waiting in the analyzer (capture order) packed each such result into
/// arenas and unpacked it again to render it; here the frame is rendered when its result
/// settles, and waiting costs a copy of the finished record. The queue holds one slot per
/// frame in capture order from the oldest held frame on: a held frame's slot waits for its
/// result; the others hold their record (empty for a frame that prints nothing). `drain`
/// hands the ready slots at the front over in order.
///
/// Records are rendered in place at the end of the current fixed-size chunk (`scratch` is a
/// writer over its memory); a chunk is reused once every record in it was handed over. So
/// memory follows the records actually waiting (a sliding window of up to the reassembly
/// timeout), a record is never copied between rendering and the output (`drain` hands the
/// output the records where they are, joined when they lie back to back), and a wait
/// allocates nothing once enough chunks exist. Spare chunks beyond `spareChunks` are given back.
///
/// Memory stays bounded however long the wait: once the chunks in memory pass `memoryLimit`
/// bytes, the oldest full chunk (records still waiting) is written to an unlinked temporary
/// file and its memory is given back; it is read back when its first record is handed over.
/// The file is emptied whenever no chunk is left in it. Output bytes do not depend on it.
final class RenderedQueue {
    struct Slot {
        /// Frame number; a timer event carries the number of the last frame before it, so
        /// slots are sorted by it, a frame's own slot first.
        var frame: Int
        /// A held frame whose result has not come back yet.
        var waiting: Bool
        /// A selected frame that was rendered (it counts towards `-c` when written).
        var counts: Bool
        /// The chunk holding the record (-1: no record) and the record's place in it.
        var chunk: Int32
        var start: Int
        var length: Int
    }

    private struct Chunk {
        /// The chunk's memory; nil while it is in the temporary file.
        var base: UnsafeMutablePointer<UInt8>?
        var capacity: Int
        var used: Int
        /// Records in the chunk not yet handed over.
        var live: Int
        /// Where the chunk's bytes are in the temporary file (-1: not written there).
        var fileOffset: Int64 = -1
        /// Order of making: records in a chunk made later are written later (apart from
        /// held frames' records, filled in where the writing was when they settled).
        var serial: Int
    }

    static let chunkBytes = 1 << 20
    /// Room a chunk must have left for a record to be rendered into it; a longer record grows
    /// the chunk (the writer moves its memory, slots find it by chunk number).
    static let recordRoom = 64 << 10
    /// Empty standard chunks kept for reuse.
    static let spareChunks = 8

    private var slots: [Slot] = []
    /// The first slot not yet handed over.
    private var head = 0
    /// Chunks by index (nil: given back; the index is reused).
    private var chunks: [Chunk?] = []
    private var freeIndices: [Int32] = []
    /// Standard-size memory of emptied chunks, for reuse.
    private var spare: [UnsafeMutablePointer<UInt8>] = []
    /// Bytes of chunk memory that may hold waiting records before the oldest chunks go to the
    /// temporary file: 64 MiB, or `RXRAY_WAIT_MEMORY_MB` (for tests and small machines).
    static let memoryLimit: Int = {
        if let v = ProcessInfo.processInfo.environment["RXRAY_WAIT_MEMORY_MB"], let mb = Int(v), mb >= 1 {
            return mb << 20
        }
        return 64 << 20
    }()
    /// Capacity of the chunks whose memory is held (spares not included).
    private var memoryBytes = 0
    private var nextSerial = 0
    /// The unlinked temporary file (-1: none yet), its length, and the chunks in it.
    private var fileDescriptor: Int32 = -1
    private var fileEnd: Int64 = 0
    private var chunksInFile = 0
    /// Set when the file cannot be made or written: waiting records then stay in memory.
    private var fileFailed = false
    /// Chunks written to the file, and the most chunk memory held at once (spares not
    /// included): printed to standard error at the end with `RXRAY_WAIT_STATS=1`.
    private var chunksWritten = 0
    private var peakMemoryBytes = 0
    private static let statsOn = ProcessInfo.processInfo.environment["RXRAY_WAIT_STATS"] == "1"

    /// The chunk records are appended to (-1: none yet).
    private var current: Int32 = -1
    /// The writer a kept record is rendered into (by the caller, so no closure captures the
    /// result): a writer over the current chunk's memory, appended to after the records already
    /// in it (`place` makes room; `commit` takes what was added as the record). Before the
    /// first chunk, a small writer of its own.
    var scratch = ByteWriter(capacity: 64)
    /// Where the record being rendered into `scratch` starts.
    private var recordStart = 0
    /// Pieces of output `drain` hands over at once (`ByteSink.write(gathering:)`).
    private let gather = UnsafeMutableBufferPointer<iovec>.allocate(capacity: RenderedQueue.gatherPieces)
    static let gatherPieces = 1024
    /// Below this many bytes the drained records are copied into the sink's buffer (one
    /// system call for many small drains) rather than written from where they are.
    static let gatherBytes = 32 << 10

    deinit {
        if Self.statsOn {
            let note = "rxray: waiting output: \(chunksWritten) chunks to the temporary file\(fileFailed ? " (failed: kept in memory)" : ""), peak \(peakMemoryBytes) bytes of chunks in memory, limit \(Self.memoryLimit)\n"
            FileHandle.standardError.write(Data(note.utf8))
        }
        // The current chunk's memory is the writer's.
        for (i, c) in chunks.enumerated() where i != Int(current) { c?.base?.deallocate() }
        for p in spare { p.deallocate() }
        scratch.deallocate()
        gather.deallocate()
        if fileDescriptor >= 0 { close(fileDescriptor) }
    }

    /// Whether no slot waits (a record can be written at once).
    var isEmpty: Bool { head == slots.count }
    /// Slots queued (for tests and diagnostics).
    var count: Int { slots.count - head }
    /// Bytes of chunk memory held, spares included (for diagnostics).
    var chunkBytesHeld: Int { memoryBytes + spare.count * Self.chunkBytes }

    /// Adds the slot of a held frame, after every slot already queued.
    func appendWaiting(frame: Int) {
        slots.append(Slot(frame: frame, waiting: true, counts: false, chunk: -1, start: 0, length: 0))
    }

    /// Adds the record rendered into `scratch` since `place` (none for a frame that prints
    /// nothing) after every slot already queued; `counts`: it counts towards `-c`.
    private func append(frame: Int, counts: Bool) {
        var s = Slot(frame: frame, waiting: false, counts: counts, chunk: -1, start: 0, length: 0)
        store(&s)
        slots.append(s)
    }

    /// The position of held frame `frame`'s waiting slot, or nil if it has none.
    private func waitingSlot(_ frame: Int) -> Int? {
        guard head < slots.count else { return nil }
        if slots[head].frame == frame && slots[head].waiting { return head }
        // A frame numbered after every queued slot (the frame just processed, not held) has none.
        if slots[slots.count - 1].frame < frame { return nil }
        // Slots are sorted by frame number; a frame's own slot is the first with its number
        // (timer events queued after it carry the same number).
        var lo = head, hi = slots.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if slots[mid].frame < frame { lo = mid + 1 } else { hi = mid }
        }
        guard lo < slots.count, slots[lo].frame == frame, slots[lo].waiting else { return nil }
        return lo
    }

    /// Where the record being placed goes: nil when it is written at once, else the waiting
    /// slot it fills (or -1: after every slot queued, as frame `placingFrame`).
    private var placing: Int? = nil
    private var placingFrame = 0

    /// What `place` decided for a record.
    enum Placement {
        /// Nothing waits: write the record straight to the output.
        case write
        /// It was the first waiting slot: write the record straight to the output, then
        /// `drain` (the records behind it may now be ready).
        case writeThenDrain
        /// Something before it waits: render the record into `scratch` (appending), then `commit`.
        case keep
    }

    /// Places the output of a settled frame (`event`: a timer event, which never has a waiting
    /// slot) in capture order — the one step both the one-thread analysis and the render
    /// thread take.
    func place(frame: Int, event: Bool) -> Placement {
        if !event, let k = waitingSlot(frame) {
            if k == head {
                removeFront()
                return .writeThenDrain
            }
            placing = k
            makeRoom()
            return .keep
        }
        if isEmpty { return .write }
        placing = -1
        placingFrame = frame
        makeRoom()
        return .keep
    }

    /// Keeps the record rendered into `scratch` where `place` put it (`counts`: it counts
    /// towards `-c`).
    /// Nothing becomes ready: the first slot still waits.
    func commit(counts: Bool) {
        let k = placing
        precondition(k != nil, "RenderedQueue.commit without a pending place")
        placing = nil
        if k! < 0 {
            append(frame: placingFrame, counts: counts)
        } else {
            fill(k!, counts: counts)
        }
    }

    /// Gives waiting slot `k` the record rendered into `scratch` (`counts` as for `append`).
    private func fill(_ k: Int, counts: Bool) {
        var s = slots[k]
        s.waiting = false
        s.counts = counts
        store(&s)
        slots[k] = s
    }

    /// Marks the front slot handed over (its record was written directly).
    private func removeFront() {
        precondition(head < slots.count, "RenderedQueue.removeFront on an empty queue")
        release(slots[head])
        head += 1
        settle()
    }

    /// Hands the ready slots at the front over, in order, until a waiting one: `keep` is asked
    /// for each slot whether its record is written (it counts the slot towards `-c`), and the
    /// records kept are written to `sink` where they are, records back to back in a chunk
    /// joined into one piece.
    func drain(to sink: ByteSink, _ keep: (Slot) -> Bool) {
        handOver(to: sink, all: false, keep)
    }

    /// Hands every remaining slot over in order, as `drain` does; a slot still waiting (a
    /// result that never came back) has no record.
    func drainAll(to sink: ByteSink, _ keep: (Slot) -> Bool) {
        handOver(to: sink, all: true, keep)
    }

    private func handOver(to sink: ByteSink, all: Bool, _ keep: (Slot) -> Bool) {
        // Slots from `released` to `head` were handed over but not released yet: their records
        // are among the pieces, whose memory must stay until they are written.
        var released = head
        var pieces = 0
        var bytes = 0
        func writePieces() {
            if pieces > 0 {
                if bytes >= Self.gatherBytes {
                    sink.write(gathering: UnsafeMutableBufferPointer(rebasing: gather[0..<pieces]))
                } else {
                    for i in 0..<pieces { sink.write(bytes: UnsafeRawBufferPointer(start: gather[i].iov_base, count: gather[i].iov_len)) }
                }
                pieces = 0
                bytes = 0
            }
            while released < head {
                release(slots[released])
                released += 1
            }
        }
        while head < slots.count && (all || !slots[head].waiting) {
            let s = slots[head]
            if keep(s) && s.chunk >= 0 && s.length > 0 {
                // A chunk read back from the file may push others out: the pieces go first.
                if chunks[Int(s.chunk)]!.base == nil {
                    writePieces()
                    loadFromFile(s.chunk)
                }
                let p = chunks[Int(s.chunk)]!.base! + s.start
                if pieces > 0 && gather[pieces - 1].iov_base! + gather[pieces - 1].iov_len == UnsafeMutableRawPointer(p) {
                    gather[pieces - 1].iov_len += s.length
                } else {
                    if pieces == Self.gatherPieces { writePieces() }
                    gather[pieces] = iovec(iov_base: UnsafeMutableRawPointer(p), iov_len: s.length)
                    pieces += 1
                }
                bytes += s.length
            }
            head += 1
        }
        writePieces()
        settle()
    }

    // MARK: storage

    /// Takes what was rendered into `scratch` since `place` as slot `s`'s record.
    private func store(_ s: inout Slot) {
        let n = scratch.count - recordStart
        guard current >= 0 else { return }
        syncCurrent()
        guard n > 0 else { return }
        chunks[Int(current)]!.live += 1
        s.chunk = current
        s.start = recordStart
        s.length = n
    }

    /// The current chunk's entry as the writer over it is now (its memory moves when a long
    /// record grows it).
    private func syncCurrent() {
        let m = scratch.storage
        let old = chunks[Int(current)]!.capacity
        if m.count != old {
            memoryBytes += m.count - old
            peakMemoryBytes = max(peakMemoryBytes, memoryBytes)
        }
        chunks[Int(current)]!.base = m.baseAddress
        chunks[Int(current)]!.capacity = m.count
        chunks[Int(current)]!.used = scratch.count
    }

    /// Before a record is rendered: a current chunk with `recordRoom` left (a new one when it
    /// has less), and where the record starts.
    private func makeRoom() {
        if current < 0 || scratch.room < Self.recordRoom { newChunk() }
        recordStart = scratch.count
    }

    /// Starts a new current chunk; the one before keeps its records (given back if none is
    /// live).
    private func newChunk() {
        let previous = current
        let base = spare.popLast() ?? UnsafeMutablePointer<UInt8>.allocate(capacity: Self.chunkBytes)
        if previous >= 0 { syncCurrent() } else { scratch.deallocate() }
        scratch = ByteWriter(adopting: base, capacity: Self.chunkBytes)
        nextSerial += 1
        let chunk = Chunk(base: base, capacity: Self.chunkBytes, used: 0, live: 0, serial: nextSerial)
        if let i = freeIndices.popLast() {
            chunks[Int(i)] = chunk
            current = i
        } else {
            chunks.append(chunk)
            current = Int32(chunks.count - 1)
        }
        memoryBytes += Self.chunkBytes
        // The chunk written before is given back once nothing in it is live any more.
        if previous >= 0, chunks[Int(previous)]!.live == 0 { giveBack(previous) }
        while memoryBytes > Self.memoryLimit && !fileFailed, let last = lastNeededInMemory() {
            moveToFile(last)
        }
        peakMemoryBytes = max(peakMemoryBytes, memoryBytes)
    }

    // MARK: the temporary file

    /// The chunk in memory whose records are written last (the latest made, other than the
    /// current one, with records waiting), or nil: records are written in the order they are
    /// queued, so the chunks at the front stay in memory and the file is read back in order.
    private func lastNeededInMemory() -> Int32? {
        var best: Int32 = -1
        var bestSerial = Int.min
        for i in chunks.indices {
            guard let c = chunks[i], c.base != nil, c.live > 0, Int32(i) != current, c.serial > bestSerial else { continue }
            best = Int32(i)
            bestSerial = c.serial
        }
        return best >= 0 ? best : nil
    }

    /// Writes chunk `i` to the temporary file and gives its memory back (it stays in memory if
    /// the file cannot be made or written).
    private func moveToFile(_ i: Int32) {
        guard var c = chunks[Int(i)], let base = c.base else { return }
        if fileDescriptor < 0 {
            let dir = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
            var template = Array((dir + "/rxray-waiting-XXXXXX").utf8CString)
            let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else { fileFailed = true; return }
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
            fileDescriptor = fd
        }
        var done = 0
        while done < c.used {
            let n = pwrite(fileDescriptor, base + done, c.used - done, off_t(fileEnd) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { fileFailed = true; return }
            done += n
        }
        c.fileOffset = fileEnd
        fileEnd += Int64(c.used)
        if c.capacity == Self.chunkBytes && spare.count < Self.spareChunks { spare.append(base) } else { base.deallocate() }
        c.base = nil
        memoryBytes -= c.capacity
        chunks[Int(i)] = c
        chunksInFile += 1
        chunksWritten += 1
    }

    /// Reads chunk `i` back from the temporary file. The file is private to this process, so a
    /// failed read is an I/O error of the machine: reported, and the run ends (exit status 2)
    /// rather than leaving records out.
    private func loadFromFile(_ i: Int32) {
        guard chunks[Int(i)]?.base == nil else { return }
        // Room first: the chunks whose records are written last go to the file.
        while memoryBytes + chunks[Int(i)]!.capacity > Self.memoryLimit && !fileFailed, let o = lastNeededInMemory() {
            moveToFile(o)
        }
        var c = chunks[Int(i)]!
        let base = c.capacity == Self.chunkBytes && !spare.isEmpty
            ? spare.removeLast() : UnsafeMutablePointer<UInt8>.allocate(capacity: c.capacity)
        var done = 0
        while done < c.used {
            let n = pread(fileDescriptor, base + done, c.used - done, off_t(c.fileOffset) + off_t(done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let why = n < 0 ? String(cString: strerror(errno)) : "unexpected end of file"
                FileHandle.standardError.write(Data("rxray: cannot read waiting output back from its temporary file: \(why)\n".utf8))
                exit(2)
            }
            done += n
        }
        c.base = base
        c.fileOffset = -1
        memoryBytes += c.capacity
        peakMemoryBytes = max(peakMemoryBytes, memoryBytes)
        chunks[Int(i)] = c
        leftFile()
    }

    /// A chunk left the file (read back or given back): an empty file is truncated.
    private func leftFile() {
        chunksInFile -= 1
        if chunksInFile == 0 && fileDescriptor >= 0 {
            _ = ftruncate(fileDescriptor, 0)
            fileEnd = 0
        }
    }

    /// A record was handed over: its chunk is given back when it was the chunk's last live
    /// record (the current chunk is only rewound).
    private func release(_ s: Slot) {
        guard s.chunk >= 0 else { return }
        let i = Int(s.chunk)
        chunks[i]!.live -= 1
        guard chunks[i]!.live == 0 else { return }
        if s.chunk == current {
            chunks[i]!.used = 0
            scratch.removeAll()
        } else {
            giveBack(s.chunk)
        }
    }

    private func giveBack(_ i: Int32) {
        let c = chunks[Int(i)]!
        if let base = c.base {
            if c.capacity == Self.chunkBytes && spare.count < Self.spareChunks {
                spare.append(base)
            } else {
                base.deallocate()
            }
            memoryBytes -= c.capacity
        } else {
            leftFile()
        }
        chunks[Int(i)] = nil
        freeIndices.append(i)
    }

    /// Drops handed-over slots (all of them when none is left; else in bulk once they are
    /// at least half of the array).
    private func settle() {
        if head == slots.count {
            slots.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= slots.count {
            slots.removeFirst(head)
            head = 0
        }
    }
}
