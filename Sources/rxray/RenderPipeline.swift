import Foundation
import RxrayDecode
import RxrayOutput
import RxrayStack

/// Renders frames (text or JSON lines) and writes them on a thread of its own, while the
/// calling thread evaluates the next ones (`analyze --threads 2` and more).
///
/// The analyzer's results are valid only during `emit` (their storage is reused for the next
/// frame), so `submit` copies each one into a slot of a batch: the frame's bytes into the
/// batch's arena, the result field by field into a `FrameResult` the slot keeps (its arrays
/// keep their capacity; stage detail strings are shared, not copied). A fixed pool of batches
/// circulates between the two threads, so submitting allocates nothing once every slot has
/// seen a frame, and the evaluation runs at most `poolSize` batches ahead of the output.
///
/// The sink belongs to the render thread from `init` until `finish` returns: the caller writes
/// the header before and the summary after. When the sink fails (a full disk, a closed pipe),
/// the render thread renders nothing more and `submit` says so at the next batch boundary.
///
/// `settled`: results come as they settle (`EmitOrder.settled`), each held frame announced by
/// `submitWaiting` when it is held; the render thread renders each frame when it arrives and
/// puts the records back in capture order with a `RenderedQueue` (as `--threads 1` does on
/// its one thread), so waiting frames cost a record each, bounded by the queue's file.
final class RenderPipeline {
    /// What a batch slot holds.
    enum Kind: UInt8 {
        /// A frame and its result.
        case frame
        /// A timer event (its result; `meta.index` is the last frame before it).
        case timer
        /// A held frame's place (`meta.index`), filled when its result comes (settled mode).
        case waiting
    }

    static let poolSize = 4

    private let free = HandoffQueue<RenderBatch>()
    private let full = HandoffQueue<RenderBatch>()
    private var batch: RenderBatch
    private let done = DispatchSemaphore(value: 0)
    private let outputFailed = SharedFlag()
    private var finished = false

    init(renderer: FrameRenderer, sink: ByteSink, settled: Bool = false, onlyDrops: Bool = false) {
        for _ in 1..<Self.poolSize { free.put(RenderBatch()) }
        batch = RenderBatch()
        let free = self.free, full = self.full, done = self.done, failed = outputFailed
        let thread = Thread {
            if settled {
                Self.renderSettled(renderer: renderer, sink: sink, onlyDrops: onlyDrops, free: free, full: full, failed: failed)
            } else {
                Self.render(renderer: renderer, sink: sink, free: free, full: full, failed: failed)
            }
            done.signal()
        }
        thread.name = "rxray-render"
        thread.start()
    }

    /// Queues one frame for rendering (copies what it needs: `bytes` and `result` may change
    /// once this returns). Returns false once the output has failed (learnt when a batch is
    /// handed over): the caller stops evaluating, as nothing more can be written.
    func submit(_ meta: FrameMeta, bytes: UnsafeRawBufferPointer, result: FrameResult,
                kind: Kind = .frame, selected: Bool = true) -> Bool {
        if !batch.fits(bytes.count) {
            full.put(batch)
            batch = free.take()
            if outputFailed.isSet { return false }
        }
        batch.append(meta, bytes: bytes, result: result, kind: kind, selected: selected)
        return true
    }

    /// Settled mode: frame `frame` is held; its result comes later (`submit`).
    func submitWaiting(frame: Int) -> Bool {
        if !batch.fits(0) {
            full.put(batch)
            batch = free.take()
            if outputFailed.isSet { return false }
        }
        batch.appendWaiting(frame: frame)
        return true
    }

    /// Renders what is queued and waits for the render thread to end; the sink is the
    /// caller's again afterwards. Safe to call more than once.
    func finish() {
        guard !finished else { return }
        finished = true
        batch.end = true
        full.put(batch)
        done.wait()
    }

    deinit { finish() }

    /// The render thread: renders batches in order until the one marked `end`.
    private static func render(renderer: FrameRenderer, sink: ByteSink, free: HandoffQueue<RenderBatch>,
                               full: HandoffQueue<RenderBatch>, failed: SharedFlag) {
        while true {
            let b = full.take()
            if sink.error == nil {
                for i in 0..<b.count {
                    b.withItem(i) { meta, bytes, result, _, _ in
                        if result.timer != nil { renderer.timerEvent(result, to: sink); return }
                        let decoded = FrameDecoder.decode(bytes, linkType: meta.linkType, wireLength: meta.wireLength)
                        renderer.frame(meta, decoded: decoded, bytes: bytes, result: result, to: sink)
                    }
                }
            }
            if sink.error != nil { failed.set() }
            if b.end { return }
            b.reset()
            free.put(b)
        }
    }
}

extension RenderPipeline {
    /// The render thread in settled mode: frames arrive as their results settle and are put
    /// back in capture order (`RenderedQueue`); `--only-drops` and the filter's choice act here.
    private static func renderSettled(renderer: FrameRenderer, sink: ByteSink, onlyDrops: Bool, free: HandoffQueue<RenderBatch>,
                                      full: HandoffQueue<RenderBatch>, failed: SharedFlag) {
        let queue = RenderedQueue()
        // Every record kept is written (the queue writes it) until the output fails.
        func keep(_ slot: RenderedQueue.Slot) -> Bool { sink.error == nil }
        while true {
            let b = full.take()
            if sink.error == nil {
                for i in 0..<b.count {
                    b.withItem(i) { meta, bytes, result, kind, selected in
                        switch kind {
                        case .waiting:
                            queue.appendWaiting(frame: meta.index)
                        case .timer, .frame:
                            // The filter's choice and --only-drops act here; a timer event always prints.
                            let printed = kind == .timer || (selected && !(onlyDrops && result.fate != .dropped))
                            switch queue.place(frame: meta.index, event: kind == .timer) {
                            case .write:
                                if printed { record(renderer, meta, bytes, result, kind, sink) }
                            case .writeThenDrain:
                                if printed { record(renderer, meta, bytes, result, kind, sink) }
                                queue.drain(to: sink, keep)
                            case .keep:
                                if printed { record(renderer, meta, bytes, result, kind, &queue.scratch) }
                                queue.commit(counts: printed && kind == .frame)
                            }
                        }
                    }
                    if sink.error != nil { break }
                }
            }
            if b.end {
                // Every held frame's result came before the end: nothing is left waiting.
                if sink.error == nil { queue.drainAll(to: sink, keep) }
                if sink.error != nil { failed.set() }
                return
            }
            if sink.error != nil { failed.set() }
            b.reset()
            free.put(b)
        }
    }

    private static func record(_ renderer: FrameRenderer, _ meta: FrameMeta, _ bytes: UnsafeRawBufferPointer,
                               _ result: FrameResult, _ kind: Kind, _ sink: ByteSink) {
        if kind == .timer { renderer.timerEvent(result, to: sink); return }
        let decoded = FrameDecoder.decode(bytes, linkType: meta.linkType, wireLength: meta.wireLength)
        renderer.frame(meta, decoded: decoded, bytes: bytes, result: result, to: sink)
    }

    private static func record(_ renderer: FrameRenderer, _ meta: FrameMeta, _ bytes: UnsafeRawBufferPointer,
                               _ result: FrameResult, _ kind: Kind, _ w: inout ByteWriter) {
        if kind == .timer { renderer.timerEvent(result, to: &w); return }
        let decoded = FrameDecoder.decode(bytes, linkType: meta.linkType, wireLength: meta.wireLength)
        renderer.frame(meta, decoded: decoded, bytes: bytes, result: result, to: &w)
    }
}

/// Frames waiting to be rendered: metadata and a result copy per slot, bytes in one arena.
/// Reused: slots keep their result storage and the arena its size.
final class RenderBatch {
    static let maxFrames = 256
    static let arenaBytes = 1 << 19

    private struct Slot {
        var meta: FrameMeta
        var offset: Int
        var length: Int
        var result: FrameResult
        var kind: RenderPipeline.Kind
        var selected: Bool
    }

    private var slots: [Slot] = []
    private(set) var count = 0
    private var arena: UnsafeMutableRawBufferPointer
    private var used = 0
    /// The last batch: the render thread ends after it.
    var end = false

    init() {
        arena = .allocate(byteCount: Self.arenaBytes, alignment: 16)
        slots.reserveCapacity(Self.maxFrames)
    }

    deinit { arena.deallocate() }

    /// Whether a frame of `length` bytes fits (an empty batch takes any frame, growing).
    func fits(_ length: Int) -> Bool {
        count < Self.maxFrames && (count == 0 || used + length <= arena.count)
    }

    /// Copies a frame in. The caller checked `fits`.
    func append(_ meta: FrameMeta, bytes: UnsafeRawBufferPointer, result: FrameResult,
                kind: RenderPipeline.Kind = .frame, selected: Bool = true) {
        let n = bytes.count
        if used + n > arena.count {
            // Only an empty batch gets here (see `fits`): a frame larger than the arena.
            arena.deallocate()
            arena = .allocate(byteCount: n, alignment: 16)
        }
        if n > 0, let src = bytes.baseAddress {
            (arena.baseAddress! + used).copyMemory(from: src, byteCount: n)
        }
        if count < slots.count {
            slots[count].meta = meta
            slots[count].offset = used
            slots[count].length = n
            slots[count].result.copy(from: result)
            slots[count].kind = kind
            slots[count].selected = selected
        } else {
            var r = FrameResult()
            r.copy(from: result)
            slots.append(Slot(meta: meta, offset: used, length: n, result: r, kind: kind, selected: selected))
        }
        used += n
        count += 1
    }

    /// A held frame's place (settled mode): no bytes, and the slot's result is left as it is.
    func appendWaiting(frame: Int) {
        let meta = FrameMeta(index: frame, timestampNanoseconds: 0, captureLength: 0, wireLength: 0,
                             linkType: .ethernet, captureInterface: nil)
        if count < slots.count {
            slots[count].meta = meta
            slots[count].offset = used
            slots[count].length = 0
            slots[count].kind = .waiting
            slots[count].selected = false
        } else {
            slots.append(Slot(meta: meta, offset: used, length: 0, result: FrameResult(), kind: .waiting, selected: false))
        }
        count += 1
    }

    /// Calls `body` with slot `i`'s frame.
    func withItem(_ i: Int, _ body: (FrameMeta, UnsafeRawBufferPointer, FrameResult, RenderPipeline.Kind, Bool) -> Void) {
        // Borrowed through the buffer: `slots[i]` copied the slot (its result's arrays retained).
        slots.withUnsafeBufferPointer { all in
            body(all[i].meta, UnsafeRawBufferPointer(start: arena.baseAddress! + all[i].offset, count: all[i].length), all[i].result,
                 all[i].kind, all[i].selected)
        }
    }

    /// Empties the batch for reuse. Results are cleared here, on the render thread, so the
    /// stage detail strings they were the last to hold are freed there, not on the evaluating
    /// thread.
    func reset() {
        for i in 0..<count { slots[i].result.reset(frame: 0) }
        count = 0
        used = 0
        end = false
    }
}

extension FrameResult {
    /// Makes this result equal to `r`, reusing this one's array and detail storage (no
    /// allocation once they are large enough).
    mutating func copy(from r: FrameResult) {
        reset(frame: r.frame)
        wantsDetail = r.wantsDetail
        fate = r.fate
        dropReason = r.dropReason
        dropStage = r.dropStage
        egress = r.egress
        nextHop = r.nextHop
        gro = r.gro
        timer = r.timer
        replies.append(contentsOf: r.replies)
        appendStages(of: r)
        for (m, d) in r.counters { count(m, d) }
    }
}

/// A boolean one thread sets and another reads.
final class SharedFlag {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }
}

/// An unbounded FIFO of objects between two threads (its users bound it: a fixed pool of
/// objects circulates).
final class HandoffQueue<T: AnyObject> {
    private let condition = NSCondition()
    private var items: [T] = []
    private var head = 0

    init() { items.reserveCapacity(8) }

    func put(_ x: T) {
        condition.lock()
        items.append(x)
        condition.signal()
        condition.unlock()
    }

    /// The oldest object, waiting for one.
    func take() -> T {
        condition.lock()
        defer { condition.unlock() }
        while head == items.count { condition.wait() }
        let x = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        }
        return x
    }
}
