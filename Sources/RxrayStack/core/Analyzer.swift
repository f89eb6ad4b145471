import RxrayDecode
import RxrayHost

/// One input frame, as the capture layer hands it over. RxrayStack does not depend on
/// RxrayCapture; the CLI fills this from a `CapturedFrame`.
public struct FrameInput {
    public enum Direction: UInt8, Sendable { case unknown, inbound, outbound }
    /// 1-based frame number in the capture.
    public var index: Int
    /// Capture timestamp, nanoseconds since the epoch.
    public var timestampNs: Int64
    /// The captured bytes (valid for the duration of `process`).
    public var bytes: UnsafeRawBufferPointer
    public var linkType: LinkType
    /// Length on the wire (≥ `bytes.count` when the snap length cut the frame).
    public var wireLength: Int
    /// pcapng interface name (`if_name`), when the capture has one.
    public var interfaceName: String?
    public var direction: Direction

    /// Inlinable: made for every frame by the caller, which (through a call) copied the
    /// interface name in and destroyed its own copy again.
    @inlinable
    public init(index: Int, timestampNs: Int64, bytes: UnsafeRawBufferPointer, linkType: LinkType,
                wireLength: Int? = nil, interfaceName: String? = nil, direction: Direction = .unknown) {
        self.index = index
        self.timestampNs = timestampNs
        self.bytes = bytes
        self.linkType = linkType
        self.wireLength = wireLength ?? bytes.count
        self.interfaceName = interfaceName
        self.direction = direction
    }
}

/// Where the capture was taken (DESIGN.md "Capture point").
public enum CapturePoint: String, Sendable {
    /// As on the wire (a tap or the sending peer).
    case wire
    /// tcpdump on the receiving host itself.
    case host
}

/// In which order an `Analyzer` hands results to `emit`.
public enum EmitOrder: Sendable {
    /// Strictly in capture order: a held frame (fragment, GRO hold) delays the results after it.
    case capture
    /// As soon as each result is final: a held frame's result comes out when it settles, and
    /// frames after it are not kept waiting (live capture). Results are not in frame order.
    case settled
}

/// Runs frames through the receive path and hands back one `FrameResult` per frame, in
/// capture order (or, with `Options.order = .settled`, as soon as each is final).
///
/// Results whose fate is not known yet (a fragment waiting for the rest of its datagram) are
/// held and released, in order, once it is known; `finish()` settles everything still held
/// (fragment queues that never completed are reported as the kernel's timeout would).
public final class Analyzer {
    public struct Options: Sendable {
        public var capturePoint: CapturePoint
        /// Ingress interface for frames that do not name one (`--interface`).
        public var defaultInterface: String?
        /// Whether stage `detail` text is built.
        public var wantsDetail: Bool
        /// Whether writers that can keep each stage detail's JSON form next to it
        /// (`FrameResult.wantsJSONForm`): for JSON lines output. Results do not depend on it.
        public var jsonForm: Bool = false
        /// NAPI poll batching, RSS and GRO limits (wire captures only).
        public var napi: NAPIOptions
        /// TCP behaviour the capture cannot show (what the local applications do).
        public var tcp: TCPOptions
        /// Order in which results are handed to `emit`.
        public var order: EmitOrder
        /// Whether timers the kernel fires between frames (request sockets' SYN-ACK
        /// retransmissions and expiry) are handed to `emit` as results with `timer` set, in time
        /// order: each before the first frame at or after its time, those that fire after the last
        /// frame from `finish` (`TimerEvent.endOfInput`). The timers run either way; without
        /// this their events are not reported (and their counters not in `totals`).
        public var timerEvents: Bool
        public init(capturePoint: CapturePoint = .wire, defaultInterface: String? = nil, wantsDetail: Bool = true,
                    napi: NAPIOptions = NAPIOptions(), tcp: TCPOptions = TCPOptions(), order: EmitOrder = .capture,
                    timerEvents: Bool = false) {
            self.capturePoint = capturePoint
            self.defaultInterface = defaultInterface
            self.wantsDetail = wantsDetail
            self.napi = napi
            self.tcp = tcp
            self.order = order
            self.timerEvents = timerEvents
        }
    }

    /// Replaced by `reload(netns:netfilter:emit:)` (core/Reload.swift), which moves the runtime state over.
    var kernel: Kernel
    public let options: Options
    private var current = FrameResult()
    /// Frames whose results wait, in capture order: held frames (fragments, GRO holds, frames
    /// queued for a neighbour) and every frame behind the oldest of them (`EmitOrder.capture`).
    /// Every held frame has a slot here until it settles.
    private var pending: [PendingSlot] = []
    /// The first waiting slot of `pending`: slots before it were emitted (capture order emits
    /// from the front). They are dropped in bulk once they are most of the array, not on every
    /// flush: removing the front moved every waiting slot down each time.
    private var pendingHead = 0
    /// Whether no result waits.
    private var noneWaiting: Bool { pendingHead == pending.count }
    /// Results of held frames, which resolutions still change, by `PendingSlot.full`; a slot
    /// whose index is on `fullFree` is unused (its arrays keep their capacity).
    private var fullResults: [FrameResult] = []
    private var fullFree: [Int32] = []
    /// The settled results waiting behind a held frame, packed: a slot's stages, counters and
    /// replies are ranges of these arrays, so a frame waiting behind a fragment that takes
    /// seconds to complete costs no allocation of its own (a capture of 100k frames a second
    /// keeps every one of them waiting behind a fragment whose rest never came).
    private var stageArena: [StageRecord] = []
    private var counterArena: [(MIB, Int)] = []
    private var replyArena: [Reply] = []
    /// The packed results' stage detail bytes: a slot's records index its range of these.
    private var detailArena: [UInt8] = []
    /// The arrays compaction copies the live ranges into (then swapped with the arenas), kept
    /// with their capacity so compaction allocates nothing once they are large enough.
    private var spareStages: [StageRecord] = []
    private var spareCounters: [(MIB, Int)] = []
    private var spareReplies: [Reply] = []
    private var spareDetails: [UInt8] = []
    /// Arena entries of slots already emitted (compaction reclaims them).
    private var arenaDead = 0
    /// Frames a resolution settled in this round (packed after the flush if still waiting).
    private var settledThisRound: [Int] = []
    /// Settled order: the slots of `settledThisRound` that `flush` emits (kept for its capacity).
    private var closedSlots: [Int] = []
    /// The result packed slots are unpacked into for `emit` (its storage is reused).
    private var scratch = FrameResult()
    /// Every counter moved so far, indexed by `MIB.ordinal`.
    private var totalValues = [Int](repeating: 0, count: MIB.count)
    private var totalSet = MIBSet()
    /// How the ingress interface was chosen, for the output header (first frame's choice).
    public private(set) var ingressNote: String?
    /// The number of the last frame processed (0 before the first): a timer event waiting
    /// behind a held frame takes this number in `pending`, after that frame's slot.
    private var lastFrame = 0

    /// How many waiting results keep their full storage (held ones and, while there are
    /// fewer than this, settled ones waiting behind them). A GRO hold keeps a few frames
    /// waiting for a poll or two: they are swapped into full slots and emitted from there,
    /// not packed and unpacked (a copy of every stage record and detail byte each way). A
    /// fragment that never completes keeps thousands waiting: beyond this many, settled
    /// results are packed, so the wait costs no full result per frame.
    static let unpackedWaitingLimit = 64

    /// A waiting result: either a held frame's full result (`full` ≥ 0, an index into
    /// `fullResults`) or a settled one packed into the arenas (`full` = -1, `packed` an index
    /// into `packedResults`). Plain values (24 bytes, nothing reference-counted): slots are
    /// moved, swapped and removed on every flush, which for a 136-byte slot holding a String
    /// cost three `memcpy` calls a swap.
    private struct PendingSlot {
        var frame: Int
        /// Whether the frame's own fate is still unknown.
        var open: Bool
        var full: Int32
        var packed: Int32 = -1
        /// A timer event (always in a full slot), after frame `frame`'s own slot.
        var timer = false

        init(frame: Int, open: Bool, full: Int32, timer: Bool = false) {
            self.frame = frame
            self.open = open
            self.full = full
            self.timer = timer
        }
    }

    /// A settled result packed into the arenas: its scalar fields, and the ranges of the
    /// arenas that hold its stages, counters, replies and detail bytes.
    private struct PackedResult {
        var fate: Fate = .dropped
        var dropReason: DropReason? = nil
        var dropStage: Stage? = nil
        var egress: String? = nil
        var nextHop: IPAddress? = nil
        var gro: GROInfo? = nil
        var stageStart: Int32 = 0, stageCount: Int32 = 0
        var counterStart: Int32 = 0, counterCount: Int32 = 0
        var replyStart: Int32 = 0, replyCount: Int32 = 0
        var detailStart: Int32 = 0, detailCount: Int32 = 0
    }
    /// Packed results of waiting slots (`PendingSlot.packed`); an index on `packedFree` is unused.
    private var packedResults: [PackedResult] = []
    private var packedFree: [Int32] = []

    /// Every counter moved so far (also those whose moves summed to zero).
    public var totals: [MIB: Int] {
        var d: [MIB: Int] = [:]
        for m in MIB.allCases where totalSet.contains(m.ordinal) { d[m] = totalValues[m.ordinal] }
        return d
    }

    /// Builds the analyzer for `host`.
    public convenience init(host: Host, options: Options = Options()) {
        self.init(netns: Netns(host: host), options: options)
    }

    /// Builds the analyzer for a namespace model given directly.
    public init(netns: Netns, options: Options = Options()) {
        var ns = netns
        ns.addAddressRoutesIfMissing()
        kernel = Kernel(ns: ns, napi: options.napi, tcp: options.tcp)
        kernel.wantsDetail = options.wantsDetail
        kernel.wantsJSONForm = options.jsonForm
        self.options = options
        current.wantsDetail = options.wantsDetail
        current.wantsJSONForm = options.jsonForm
    }

    /// The namespace model the analyzer runs against.
    public var netns: Netns { kernel.ns }

    /// Processes one frame. `emit` is called zero or more times with results that are final,
    /// in capture order (this frame's, and earlier held ones it settled).
    ///
    /// A result passed to `emit` is valid for the call: the analyzer reuses its storage for
    /// later frames (copy it to keep it; copying is safe, only slower).
    public func process(_ input: FrameInput, emit: (FrameResult) -> Void) {
        // The kernel as a borrowed reference, not retained: the kernel is replaced only by a
        // reload, which runs between frames, never from `emit`. (An `unowned(unsafe)` local
        // still made a retain and a release around each call on it, ten of each a frame.)
        Unmanaged.passUnretained(kernel)._withUnsafeGuaranteedRef { process(input, $0, emit) }
    }

    @inline(__always) private func process(_ input: FrameInput, _ kernel: Kernel, _ emit: (FrameResult) -> Void) {
        if options.capturePoint == .wire { kernel.napiAdvance(now: input.timestampNs) }
        kernel.expire(now: input.timestampNs)
        kernel.neighTimers(now: input.timestampNs)
        if kernel.nextRequestTimer <= input.timestampNs { fireRequestTimers(notAfter: input.timestampNs, endOfInput: false, emit) }
        applyResolutions()
        lastFrame = input.index
        current.reset(frame: input.index)
        kernel.receive(input, options: options, into: &current)
        // The replies the frame made leave through LOCAL_OUT / POST_ROUTING and their neighbour.
        kernel.outputReplies(&current)
        if ingressNote == nil { ingressNote = kernel.lastIngressNote }
        let held = kernel.heldThisFrame
        kernel.heldThisFrame = false
        if !held && (noneWaiting || options.order == .settled) {
            // Handed over from a local the result is moved into and back out of (bitwise, no
            // reference counting): passing the stored property to `emit` would copy it, as
            // `emit` could reach this analyzer.
            withUnsafeMutablePointer(to: &current) { emitMoved($0, emit) }
        } else if held {
            // The held result moves to a full slot; `current` continues with that slot's storage.
            let idx = takeFullSlot()
            swap(&current, &fullResults[Int(idx)])
            current.wantsDetail = options.wantsDetail
            current.wantsJSONForm = options.jsonForm
            pending.append(PendingSlot(frame: fullResults[Int(idx)].frame, open: true, full: idx))
        } else if fullResults.count - fullFree.count < Analyzer.unpackedWaitingLimit {
            // Settled, but waiting behind a held frame, and few results wait: the result moves
            // to a full slot as a held one does (a swap, no copy), and is emitted from there.
            let idx = takeFullSlot()
            swap(&current, &fullResults[Int(idx)])
            current.wantsDetail = options.wantsDetail
            current.wantsJSONForm = options.jsonForm
            pending.append(PendingSlot(frame: fullResults[Int(idx)].frame, open: false, full: idx))
        } else {
            // Settled, but waiting behind a held frame among many: its contents are copied
            // into the arenas (from a local moved out and back: passing the stored property
            // copied the whole result).
            var r = FrameResult()
            swap(&r, &current)
            pending.append(packedSlot(r, frame: r.frame))
            swap(&r, &current)
        }
        applyResolutions()
        flush(emit)
        packSettled()
    }

    /// Moves the clock to `nowNs` without a frame (live capture on a quiet link): GRO holds whose
    /// poll has ended flush and reassembly timers that are due fire, so held frames are
    /// annotated on time rather than on the next frame. Never moves the clock backwards.
    public func advance(to nowNs: Int64, emit: (FrameResult) -> Void) {
        if options.capturePoint == .wire { kernel.napiAdvance(now: nowNs) }
        kernel.expire(now: nowNs)
        kernel.neighTimers(now: nowNs)
        if kernel.nextRequestTimer <= nowNs { fireRequestTimers(notAfter: nowNs, endOfInput: false, emit) }
        applyResolutions()
        flush(emit)
        packSettled()
    }

    /// Fires the request-socket timers due at or before `t`, in time order, and hands each event to
    /// `emit` (`Options.timerEvents`) — at once when nothing waits, else queued behind the
    /// waiting results as a settled one is.
    private func fireRequestTimers(notAfter t: Int64, endOfInput: Bool, _ emit: (FrameResult) -> Void) {
        let kernel = self.kernel
        while true {
            current.reset(frame: 0)
            guard kernel.reqskTimerFire(notAfter: t, endOfInput: endOfInput, &current) else { break }
            guard options.timerEvents else { continue }
            if noneWaiting || options.order == .settled {
                var out = FrameResult()
                swap(&out, &current)
                account(out)
                emit(out)
                swap(&out, &current)
            } else {
                let idx = takeFullSlot()
                swap(&current, &fullResults[Int(idx)])
                current.wantsDetail = options.wantsDetail
                current.wantsJSONForm = options.jsonForm
                pending.append(PendingSlot(frame: lastFrame, open: false, full: idx, timer: true))
            }
        }
        current.reset(frame: 0)
    }

    /// Settles everything still held (as if the capture were followed by enough quiet time for
    /// every reassembly timer to fire) and emits the remaining results.
    public func finish(emit: (FrameResult) -> Void) {
        settleHeld(emit: emit)
        // Request timers still running fire as if quiet time followed the capture.
        fireRequestTimers(notAfter: .max, endOfInput: true, emit)
    }

    /// Settles every held frame and emits every waiting result (`finish` without the request
    /// timers; a reload that changes devices settles this way and keeps the request sockets).
    func settleHeld(emit: (FrameResult) -> Void) {
        kernel.napiFlushAll()
        kernel.expire(now: .max)
        kernel.neighFinish()
        applyResolutions()
        flush(emit)
        // Anything still open has no resolution left to come: emit as recorded.
        for k in pendingHead..<pending.count { emitSlot(k, emit) }
        pending.removeAll()
        pendingHead = 0
        settledThisRound.removeAll(keepingCapacity: true)
        clearArenas()
    }

    /// Convenience for tests and small inputs: all results of `frames`, in order.
    public func run(_ frames: [FrameInput]) -> [FrameResult] {
        var out: [FrameResult] = []
        for f in frames { process(f) { out.append($0) } }
        finish { out.append($0) }
        return out
    }

    /// How many results wait for a held frame, and how many of them are held frames' full
    /// results (the rest are packed); for tests.
    var pendingCounts: (waiting: Int, full: Int) {
        (pending.count - pendingHead, pending[pendingHead...].reduce(0) { $0 + ($1.full >= 0 ? 1 : 0) })
    }

    private func account(_ r: FrameResult) {
        if r.counters.isEmpty { return }
        var set = totalSet
        // One uniqueness check for the frame, not one per counter.
        totalValues.withUnsafeMutableBufferPointer { totals in
            r.forEachCounter { mib, delta in
                let o = mib.ordinal
                totals[o] += delta
                set.insert(o)
            }
        }
        totalSet = set
    }

    private func applyResolutions() {
        // Not retained: nothing in here replaces the kernel (a reload runs between frames).
        unowned(unsafe) let kernel = self.kernel
        guard !kernel.resolutions.isEmpty else { return }
        // The list is moved out of the kernel for the loop and read through its buffer: each
        // resolution is borrowed in place (reading `kernel.resolutions[ri]` copied it, retaining
        // every array and string it holds, and destroyed the copy). So are the results GRO
        // completions ran in, which resolutions name by `source` (their counters and replies
        // move out of them).
        var list: [HoldResolution] = []
        swap(&list, &kernel.resolutions)
        var sources: [FrameResult] = []
        swap(&sources, &kernel.groResults)
        list.withUnsafeBufferPointer { all in
            sources.withUnsafeMutableBufferPointer { pool in
                for ri in all.indices {
                    let res = all.baseAddress! + ri
                    let s = Int(res.pointee.source)
                    precondition(s < pool.count, "a resolution's source result is not in the pool")
                    let source = s >= 0 ? pool.baseAddress! + s : nil
                    res.pointee.frames.withUnsafeBufferPointer { frames in
                        for f in frames {
                            guard let i = pendingIndex(f) else { continue }
                            if pending[i].full < 0 { unpackToFull(i) }
                            pending[i].open = false
                            Self.apply(res, source: source, frame: f, to: &fullResults[Int(pending[i].full)])
                            settledThisRound.append(f)
                        }
                    }
                }
            }
        }
        swap(&sources, &kernel.groResults)
        swap(&list, &kernel.resolutions)
        kernel.clearResolutions()
    }

    /// Writes a held frame's settled fate into its (pending) result, in place.
    ///
    /// The resolution is read through a pointer, field by field: passed by value it was
    /// copied (every array and string in it retained, then released) for each frame. With a
    /// `source` (the result the settled packet ran in, `HoldResolution.source`), the packet's
    /// fate, egress, trace, counters and replies are read from there, in place; its counters
    /// and replies move to the frame that carries them.
    private static func apply(_ res: UnsafePointer<HoldResolution>, source: UnsafeMutablePointer<FrameResult>?,
                              frame f: Int, to r: inout FrameResult) {
        let accounted = res.pointee.accountedOn == nil || res.pointee.accountedOn == f
        if let src = source {
            r.fate = src.pointee.fate
            r.dropReason = src.pointee.dropReason
            r.dropStage = src.pointee.dropStage
            r.egress = src.pointee.egress
            r.nextHop = src.pointee.nextHop
            src.pointee.withDetailBytes { recordNote(res, noteBytes: $0, to: &r) }
            r.appendStages(ofResultAt: src)
            if accounted { r.takeCountersAndReplies(from: &src.pointee) }
        } else {
            r.fate = res.pointee.fate
            r.dropReason = res.pointee.reason
            r.dropStage = res.pointee.stage
            r.egress = res.pointee.egress
            r.nextHop = res.pointee.nextHop
            let bytes = res.pointee.stageDetails.map { $0.writer.bytes } ?? UnsafeBufferPointer(start: nil, count: 0)
            recordNote(res, noteBytes: bytes, to: &r)
            r.appendStages(res.pointee.stages, detailBytes: bytes)
            if accounted {
                r.addCounters(res.pointee.counters)
                if !res.pointee.replies.isEmpty { r.replies.append(contentsOf: res.pointee.replies) }
            }
        }
        if let g = res.pointee.gro, var mine = r.gro {
            mine.segments = g.segments
            mine.flush = g.flush
            mine.packet = g.packet
            r.gro = mine
        }
    }

    /// Records the settling note of `res` into `r`: the text at `noteStart` of `noteBytes`
    /// (the bytes the resolution's stages index), the reassembly's "joined" note, or `detail`.
    private static func recordNote(_ res: UnsafePointer<HoldResolution>, noteBytes d: UnsafeBufferPointer<UInt8>,
                                   to r: inout FrameResult) {
        let noteStage = res.pointee.noteStage
        if res.pointee.noteCount > 0 && d.count > 0 {
            let st = Int(res.pointee.noteStart), n = Int(res.pointee.noteCount)
            if res.pointee.noteJSONSafe {
                r.recordJSONSafe(noteStage, .note) { $0.bytes(UnsafeBufferPointer(rebasing: d[st..<(st + n)])); return true }
            } else {
                r.record(noteStage, .note) { $0.bytes(UnsafeBufferPointer(rebasing: d[st..<(st + n)])) }
            }
        } else if res.pointee.joinedAt > 0 {
            let at = res.pointee.joinedAt, fate = res.pointee.fate
            r.recordJSONSafe(noteStage, .note) { w in
                w.ascii("joined into the datagram completed at frame "); w.decimal(at); w.ascii(": "); w.string(fate.rawValue)
                return true
            }
        } else {
            r.record(noteStage, .note, res.pointee.detail)
        }
    }

    private func pendingIndex(_ frame: Int) -> Int? {
        // Ordered by (frame, timer): a timer event's slot follows its frame's.
        var lo = pendingHead, hi = pending.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            let f = pending[mid].frame
            if f == frame && !pending[mid].timer { return mid }
            if f < frame { lo = mid + 1 } else { hi = mid - 1 }
        }
        return nil
    }

    // MARK: pending storage

    /// An unused full-result slot (its storage reset on the next `reset`).
    private func takeFullSlot() -> Int32 {
        if let i = fullFree.popLast() { return i }
        fullResults.append(FrameResult())
        return Int32(fullResults.count - 1)
    }

    /// A waiting slot for a settled result, packed into the arenas.
    private func packedSlot(_ r: FrameResult, frame: Int) -> PendingSlot {
        var slot = PendingSlot(frame: frame, open: false, full: -1)
        let s = pack(r)
        if let i = packedFree.popLast() {
            packedResults[Int(i)] = s
            slot.packed = i
        } else {
            packedResults.append(s)
            slot.packed = Int32(packedResults.count - 1)
        }
        return slot
    }

    /// Releases slot `k`'s packed result (its arena entries become dead).
    private func releasePacked(_ k: Int) {
        let i = pending[k].packed
        guard i >= 0 else { return }
        let s = packedResults[Int(i)]
        arenaDead += Int(s.stageCount + s.counterCount + s.replyCount)
        packedResults[Int(i)] = PackedResult()
        packedFree.append(i)
        pending[k].packed = -1
    }

    /// Copies a settled result into the arenas.
    private func pack(_ r: FrameResult) -> PackedResult {
        var s = PackedResult()
        s.fate = r.fate
        s.dropReason = r.dropReason
        s.dropStage = r.dropStage
        s.egress = r.egress
        s.nextHop = r.nextHop
        s.gro = r.gro
        s.stageStart = Int32(stageArena.count)
        s.stageCount = Int32(r.stages.count)
        stageArena.append(contentsOf: r.stages)
        s.counterStart = Int32(counterArena.count)
        s.counterCount = Int32(r.counters.count)
        counterArena.append(contentsOf: r.counters)
        s.replyStart = Int32(replyArena.count)
        s.replyCount = Int32(r.replies.count)
        replyArena.append(contentsOf: r.replies)
        s.detailStart = Int32(detailArena.count)
        r.withDetailBytes { detailArena.append(contentsOf: $0) }
        s.detailCount = Int32(detailArena.count) - s.detailStart
        return s
    }

    /// Rebuilds a packed slot's result into `r` (whose storage is reused).
    private func unpack(_ slot: PendingSlot, into r: inout FrameResult) {
        let s = packedResults[Int(slot.packed)]
        r.wantsDetail = options.wantsDetail
        r.wantsJSONForm = options.jsonForm
        r.reset(frame: slot.frame)
        r.fate = s.fate
        r.dropReason = s.dropReason
        r.dropStage = s.dropStage
        r.egress = s.egress
        r.nextHop = s.nextHop
        r.gro = s.gro
        let st = Int(s.stageStart), ct = Int(s.counterStart), rt = Int(s.replyStart)
        let dt = Int(s.detailStart), dn = Int(s.detailCount)
        if r.wantsDetail && dn > 0 && s.stageCount > 0 {
            // The result's detail bytes were packed whole, so its records' ranges index them
            // from 0: copied back whole into the reset (empty) buffer, the records keep their
            // ranges and move in one append (no copy per record).
            let b = r.detailBuffer()
            precondition(b.writer.count == 0, "unpack into a result whose detail bytes are not empty")
            detailArena.withUnsafeBufferPointer { all in
                b.writer.bytes(UnsafeBufferPointer(rebasing: all[dt..<(dt + dn)]))
            }
            r.stages.append(contentsOf: stageArena[st..<(st + Int(s.stageCount))])
        } else {
            r.appendStages(stageArena[st..<(st + Int(s.stageCount))], detailBytes: UnsafeBufferPointer(start: nil, count: 0))
        }
        for k in ct..<(ct + Int(s.counterCount)) { r.count(counterArena[k].0, counterArena[k].1) }
        r.replies.append(contentsOf: replyArena[rt..<(rt + Int(s.replyCount))])
    }

    /// A resolution names a frame whose result was packed: it moves back to a full slot.
    private func unpackToFull(_ i: Int) {
        let idx = takeFullSlot()
        unpack(pending[i], into: &fullResults[Int(idx)])
        releasePacked(i)
        pending[i].full = idx
    }

    /// Hands slot `k`'s result to `emit` and releases its storage (the slot itself stays).
    private func emitSlot(_ k: Int, _ emit: (FrameResult) -> Void) {
        let idx = pending[k].full
        // Emitted from a local moved out of storage and back (see `process`).
        if idx >= 0 {
            fullResults.withUnsafeMutableBufferPointer { emitMoved($0.baseAddress! + Int(idx), emit) }
            fullFree.append(idx)
            pending[k].full = -1
        } else {
            var out = FrameResult()
            swap(&out, &scratch)
            unpack(pending[k], into: &out)
            releasePacked(k)
            account(out)
            emit(out)
            swap(&out, &scratch)
        }
    }

    /// Hands the result at `p` to `emit` from a local it is moved into (a bitwise take, no
    /// copy, no reference counting), then moves it back: `p` keeps its storage for reuse.
    /// `p` is the analyzer's own storage, under exclusive access for the call.
    @inline(__always)
    private func emitMoved(_ p: UnsafeMutablePointer<FrameResult>, _ emit: (FrameResult) -> Void) {
        let out = p.move()
        account(out)
        emit(out)
        p.initialize(to: consume out)
    }

    /// Packs the held results settled this round that still wait behind an open one, so a
    /// long wait keeps no full result (and no allocation) per frame.
    private func packSettled() {
        guard !settledThisRound.isEmpty else {
            if arenaDead >= 4096 { compactArenas() }
            return
        }
        for f in settledThisRound {
            // Packed only while more results than the limit keep full storage.
            guard fullResults.count - fullFree.count > Analyzer.unpackedWaitingLimit else { break }
            guard let i = pendingIndex(f), !pending[i].open, pending[i].full >= 0 else { continue }
            let idx = pending[i].full
            var r = FrameResult()
            swap(&r, &fullResults[Int(idx)])
            pending[i] = packedSlot(r, frame: pending[i].frame)
            swap(&r, &fullResults[Int(idx)])
            fullFree.append(idx)
        }
        settledThisRound.removeAllKeepingCapacity()
        compactArenas()
    }

    private func clearArenas() {
        if !packedResults.isEmpty { packedResults.removeAll(keepingCapacity: true) }
        if !packedFree.isEmpty { packedFree.removeAll(keepingCapacity: true) }
        stageArena.removeAll(keepingCapacity: true)
        counterArena.removeAll(keepingCapacity: true)
        replyArena.removeAll(keepingCapacity: true)
        detailArena.removeAll(keepingCapacity: true)
        arenaDead = 0
    }

    /// Reclaims the arena entries of emitted slots once they are at least half of the arenas:
    /// the live ranges move to the front, in pending order (amortised constant per entry).
    private func compactArenas() {
        if noneWaiting {
            if !stageArena.isEmpty || !counterArena.isEmpty || !replyArena.isEmpty || !detailArena.isEmpty { clearArenas() }
            return
        }
        let total = stageArena.count + counterArena.count + replyArena.count
        guard arenaDead >= 4096, arenaDead * 2 >= total else { return }
        var stages: [StageRecord] = [], counters: [(MIB, Int)] = [], replies: [Reply] = [], details: [UInt8] = []
        swap(&stages, &spareStages)
        swap(&counters, &spareCounters)
        swap(&replies, &spareReplies)
        swap(&details, &spareDetails)
        stages.removeAll(keepingCapacity: true)
        counters.removeAll(keepingCapacity: true)
        replies.removeAll(keepingCapacity: true)
        details.removeAll(keepingCapacity: true)
        for k in pendingHead..<pending.count where pending[k].full < 0 && pending[k].packed >= 0 {
            let p = Int(pending[k].packed)
            let st = Int(packedResults[p].stageStart), ct = Int(packedResults[p].counterStart)
            let rt = Int(packedResults[p].replyStart)
            packedResults[p].stageStart = Int32(stages.count)
            stages.append(contentsOf: stageArena[st..<(st + Int(packedResults[p].stageCount))])
            packedResults[p].counterStart = Int32(counters.count)
            counters.append(contentsOf: counterArena[ct..<(ct + Int(packedResults[p].counterCount))])
            packedResults[p].replyStart = Int32(replies.count)
            replies.append(contentsOf: replyArena[rt..<(rt + Int(packedResults[p].replyCount))])
            let dt = Int(packedResults[p].detailStart)
            packedResults[p].detailStart = Int32(details.count)
            details.append(contentsOf: detailArena[dt..<(dt + Int(packedResults[p].detailCount))])
        }
        swap(&stageArena, &stages)
        swap(&counterArena, &counters)
        swap(&replyArena, &replies)
        swap(&detailArena, &details)
        // The old arenas become the spares (their replies' strings released now).
        stages.removeAll(keepingCapacity: true)
        counters.removeAll(keepingCapacity: true)
        replies.removeAll(keepingCapacity: true)
        details.removeAll(keepingCapacity: true)
        swap(&stages, &spareStages)
        swap(&counters, &spareCounters)
        swap(&replies, &spareReplies)
        swap(&details, &spareDetails)
        arenaDead = 0
    }

    private func flush(_ emit: (FrameResult) -> Void) {
        if options.order == .settled {
            // Every result whose fate is known goes out now; the held ones keep their order.
            // Only a resolution closes a pending slot here (nothing else waits), so with none
            // this round there is nothing to scan: held frames cost nothing per frame.
            guard !settledThisRound.isEmpty else { return }
            // Every waiting slot is a held frame's, open until a resolution closes it, so the
            // slots to emit are those of the frames settled this round: found by search and
            // emitted in slot order, then cut out with the rest moved down in blocks (a scan
            // of every held frame's slot, each round, cost a dozen instructions a slot).
            closedSlots.removeAllKeepingCapacity()
            for f in settledThisRound {
                if let i = pendingIndex(f), !pending[i].open { closedSlots.append(i) }
            }
            guard !closedSlots.isEmpty else { return }
            if closedSlots.count > 1 { closedSlots.sort() }
            var last = -1
            for k in closedSlots where k != last {
                emitSlot(k, emit)
                last = k
            }
            let n = pending.count
            var removed = 0
            pending.withUnsafeMutableBufferPointer { p in
                let base = p.baseAddress!
                var write = closedSlots[0]
                var j = 0
                while j < closedSlots.count {
                    let k = closedSlots[j]
                    j += 1
                    if j < closedSlots.count && closedSlots[j] == k { continue }  // named twice
                    removed += 1
                    let next = j < closedSlots.count ? closedSlots[j] : n
                    let count = next - (k + 1)
                    if count > 0 { (base + write).update(from: base + (k + 1), count: count) }
                    write += count
                }
            }
            pending.removeLastKeepingCapacity(removed)
            if noneWaiting { clearArenas() }
            return
        }
        var k = pendingHead
        while k < pending.count && !pending[k].open {
            emitSlot(k, emit)
            k += 1
        }
        if k > pendingHead {
            pendingHead = k
            if noneWaiting {
                pending.removeAll(keepingCapacity: true)
                pendingHead = 0
                clearArenas()
            } else if pendingHead >= 1024 && pendingHead * 2 >= pending.count {
                // Amortised: the emitted slots are at least half of the array.
                pending.removeFirst(pendingHead)
                pendingHead = 0
            }
        }
    }
}

/// What a held frame's fate turned out to be (fragment queue completed, failed or timed out).
struct HoldResolution {
    var frames: [Int]
    var fate: Fate
    var reason: DropReason?
    var stage: Stage?
    var egress: String?
    var nextHop: IPAddress?
    var detail: String
    /// The settled packet's counters (its result's storage, shared).
    var counters = MIBCounters()
    var replies: [Reply] = []
    /// The stage the settling note is recorded under.
    var noteStage: Stage = .ipDefrag
    /// The settled packet's own trace (a GRO super-packet's path above GRO), appended to
    /// every held frame's stages.
    var stages = StageList()
    /// The bytes `stages`' detail ranges index (the settled packet's result's buffer, shared).
    var stageDetails: DetailBuffer? = nil
    /// The one frame that carries `counters` and `replies` (nil: every frame listed).
    var accountedOn: Int? = nil
    /// For GRO: the super-packet's first frame, segment count and why it was completed.
    var gro: GROInfo? = nil
    /// When `noteCount` > 0, the note's text is this range of `stageDetails` (`detail` is unused).
    var noteStart: Int32 = 0
    var noteCount: Int32 = 0
    /// Set when the note (`noteStart`/`noteCount`) is known to need no JSON escape (GRO's
    /// completion note: literals, frame numbers and a `GROFlush` text).
    var noteJSONSafe = false
    /// When > 0 (and `noteCount` is 0), the note says the frame was joined into the datagram
    /// completed at this frame, with the settled fate (reassembly; written, not kept as a String).
    var joinedAt: Int = 0
    /// When ≥ 0, the index in `Kernel.groResults` of the result the settled packet ran in (a
    /// GRO completion's): its fate, drop reason and stage, egress, next hop, trace (with the
    /// note's bytes) are read from there, and its counters and replies move from there to
    /// the frame `accountedOn` (those fields here are unused). The result stays in the pool,
    /// untouched, until the analyzer has applied the resolution (`Kernel.clearResolutions`).
    var source: Int32 = -1
}
