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
        /// NAPI poll batching, RSS and GRO limits (wire captures only).
        public var napi: NAPIOptions
        /// TCP behaviour the capture cannot show (what the local applications do).
        public var tcp: TCPOptions
        /// Order in which results are handed to `emit`.
        public var order: EmitOrder
        public init(capturePoint: CapturePoint = .wire, defaultInterface: String? = nil, wantsDetail: Bool = true,
                    napi: NAPIOptions = NAPIOptions(), tcp: TCPOptions = TCPOptions(), order: EmitOrder = .capture) {
            self.capturePoint = capturePoint
            self.defaultInterface = defaultInterface
            self.wantsDetail = wantsDetail
            self.napi = napi
            self.tcp = tcp
            self.order = order
        }
    }

    /// Replaced by `reload(netns:netfilter:emit:)` (core/Reload.swift), which moves the runtime state over.
    var kernel: Kernel
    public let options: Options
    private var current = FrameResult()
    /// Results waiting for a held frame's fate, in capture order; `open` marks those whose own
    /// fate is still unknown (every held frame has a slot here until it settles).
    private var pending: [PendingSlot] = []
    /// Emitted results kept for reuse, so their arrays' capacity is reused without
    /// copy-on-write (a result handed to `emit` is not retained by the analyzer).
    private var spare: [FrameResult] = []
    /// Every counter moved so far, indexed by `MIB.ordinal`.
    private var totalValues = [Int](repeating: 0, count: MIB.count)
    private var totalSet = MIBSet()
    /// How the ingress interface was chosen, for the output header (first frame's choice).
    public private(set) var ingressNote: String?

    private struct PendingSlot {
        var result: FrameResult
        var open: Bool
    }

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
        self.options = options
        current.wantsDetail = options.wantsDetail
    }

    /// The namespace model the analyzer runs against.
    public var netns: Netns { kernel.ns }

    /// Processes one frame. `emit` is called zero or more times with results that are final,
    /// in capture order (this frame's, and earlier held ones it settled).
    ///
    /// A result passed to `emit` is valid for the call: the analyzer reuses its storage for
    /// later frames (copy it to keep it; copying is safe, only slower).
    public func process(_ input: FrameInput, emit: (FrameResult) -> Void) {
        let kernel = self.kernel
        if options.capturePoint == .wire { kernel.napiAdvance(now: input.timestampNs) }
        kernel.expire(now: input.timestampNs)
        kernel.neighTimers(now: input.timestampNs)
        applyResolutions()
        current.reset(frame: input.index)
        kernel.receive(input, options: options, into: &current)
        // The replies the frame made leave through LOCAL_OUT / POST_ROUTING (netfilter/Core.swift).
        if kernel.netfilter != nil { kernel.nfLocalOutReplies(&current) }
        kernel.neighOutputReplies(&current)
        if ingressNote == nil { ingressNote = kernel.lastIngressNote }
        let held = kernel.heldThisFrame
        kernel.heldThisFrame = false
        if !held && (pending.isEmpty || options.order == .settled) {
            account(current)
            emit(current)
        } else {
            // The slot takes the result; `current` continues with a spare one's storage.
            var next = spare.popLast() ?? FrameResult()
            next.wantsDetail = options.wantsDetail
            swap(&current, &next)
            pending.append(PendingSlot(result: next, open: held))
        }
        applyResolutions()
        flush(emit)
    }

    /// Moves the clock to `nowNs` without a frame (live capture on a quiet link): GRO holds whose
    /// poll has ended flush and reassembly timers that are due fire, so held frames are
    /// annotated on time rather than on the next frame. Never moves the clock backwards.
    public func advance(to nowNs: Int64, emit: (FrameResult) -> Void) {
        if options.capturePoint == .wire { kernel.napiAdvance(now: nowNs) }
        kernel.expire(now: nowNs)
        kernel.neighTimers(now: nowNs)
        applyResolutions()
        flush(emit)
    }

    /// Settles everything still held (as if the capture were followed by enough quiet time for
    /// every reassembly timer to fire) and emits the remaining results.
    public func finish(emit: (FrameResult) -> Void) {
        kernel.napiFlushAll()
        kernel.expire(now: .max)
        kernel.neighFinish()
        applyResolutions()
        flush(emit)
        // Anything still open has no resolution left to come: emit as recorded.
        for s in pending { account(s.result); emit(s.result) }
        pending.removeAll()
    }

    /// Convenience for tests and small inputs: all results of `frames`, in order.
    public func run(_ frames: [FrameInput]) -> [FrameResult] {
        var out: [FrameResult] = []
        for f in frames { process(f) { out.append($0) } }
        finish { out.append($0) }
        return out
    }

    private func account(_ r: FrameResult) {
        for (m, d) in r.counters {
            let o = m.ordinal
            totalValues[o] += d
            totalSet.insert(o)
        }
    }

    private func applyResolutions() {
        guard !kernel.resolutions.isEmpty else { return }
        for res in kernel.resolutions {
            for f in res.frames {
                guard let i = pendingIndex(f) else { continue }
                pending[i].open = false
                Self.apply(res, frame: f, to: &pending[i].result)
            }
        }
        kernel.clearResolutions()
    }

    /// Writes a held frame's settled fate into its (pending) result, in place.
    private static func apply(_ res: HoldResolution, frame f: Int, to r: inout FrameResult) {
        r.fate = res.fate
        r.dropReason = res.reason
        r.dropStage = res.stage
        r.egress = res.egress
        r.nextHop = res.nextHop
        if r.wantsDetail {
            r.stages.append(StageRecord(stage: res.noteStage, verdict: .note, detail: res.detail))
        } else {
            r.stages.append(StageRecord(stage: res.noteStage, verdict: .note))
        }
        r.stages.append(contentsOf: res.stages)
        if res.accountedOn == nil || res.accountedOn == f {
            for (m, d) in res.counters { r.count(m, d) }
            r.replies.append(contentsOf: res.replies)
        }
        if let g = res.gro, var mine = r.gro {
            mine.segments = g.segments
            mine.flush = g.flush
            mine.packet = g.packet
            r.gro = mine
        }
    }

    private func pendingIndex(_ frame: Int) -> Int? {
        var lo = 0, hi = pending.count - 1
        while lo <= hi {
            let mid = (lo + hi) / 2
            let f = pending[mid].result.frame
            if f == frame { return mid }
            if f < frame { lo = mid + 1 } else { hi = mid - 1 }
        }
        return nil
    }

    /// Keeps an emitted result's storage for a later frame. Bounded, but above the pending
    /// depth of real captures (a fragment waiting for the rest of its datagram keeps every later
    /// result pending: thousands when its fragments are far apart).
    private func recycle(_ r: inout FrameResult) {
        guard spare.count < 16_384 else { return }
        var empty = FrameResult()
        swap(&empty, &r)
        spare.append(empty)
    }

    private func flush(_ emit: (FrameResult) -> Void) {
        if options.order == .settled {
            // Every result whose fate is known goes out now; the held ones keep their order.
            var kept = 0
            for k in pending.indices {
                if pending[k].open {
                    if kept != k { pending.swapAt(kept, k) }
                    kept += 1
                } else {
                    account(pending[k].result)
                    emit(pending[k].result)
                    recycle(&pending[k].result)
                }
            }
            if kept < pending.count { pending.removeLast(pending.count - kept) }
            return
        }
        var k = 0
        while k < pending.count && !pending[k].open {
            account(pending[k].result)
            emit(pending[k].result)
            recycle(&pending[k].result)
            k += 1
        }
        if k > 0 { pending.removeFirst(k) }
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
    var counters: [(MIB, Int)] = []
    var replies: [Reply] = []
    /// The stage the settling note is recorded under.
    var noteStage: Stage = .ipDefrag
    /// The settled packet's own trace (a GRO super-packet's path above GRO), appended to
    /// every held frame's stages.
    var stages: [StageRecord] = []
    /// The one frame that carries `counters` and `replies` (nil: every frame listed).
    var accountedOn: Int? = nil
    /// For GRO: the super-packet's first frame, segment count and why it was completed.
    var gro: GROInfo? = nil
}
