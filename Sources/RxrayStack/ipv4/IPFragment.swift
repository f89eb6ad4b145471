import RxrayDecode

/// Identity of an IPv4 reassembly queue (`struct frag_v4_compare_key`).
struct FragKey4: Hashable {
    var saddr: UInt32
    var daddr: UInt32
    var id: UInt16
    var proto: UInt8
    /// Who gathers the fragments (`enum ip_defrag_users`): 0 local delivery, 1 conntrack at
    /// PRE_ROUTING (netfilter/Core.swift). Queues of different users are apart.
    var user: UInt8 = 0
}

/// A reassembly queue (`struct inet_frag_queue` + `struct ipq`). Fragments are copied in:
/// a queue is the one place where frame bytes outlive their frame. Its arrays come from the
/// kernel's `FragPool` and go back to it when the queue ends, so steady reassembly allocates
/// nothing (issue #10).
struct FragQueue {
    struct Fragment {
        var offset: Int
        var end: Int
        var frame: Int
        /// Where the fragment's payload starts in the queue's `data`, and its length.
        var payloadStart: Int
        var payloadCount: Int
    }
    var serial: Int
    var created: Int64
    var fragments: [Fragment] = []
    /// The queued fragments' payloads, one after another (`Fragment.payloadStart`).
    var data: [UInt8] = []
    /// Contiguous runs of received bytes, as `inet_frag_queue_insert` keeps them.
    var runs: [(start: Int, end: Int)] = []
    /// Index into `runs` of the run holding the most recently appended tail.
    var tailRun: Int? = nil
    var len = 0
    var lastIn = false
    var firstIn = false
    var meat = 0
    var maxSize = 0
    /// The largest fragment that had DF set (`ipq.max_df_size`): the datagram keeps DF only
    /// when the largest fragment had it.
    var maxDFSize = 0
    var memory = 0
    /// Frames whose fate waits on this queue.
    var held: [Int] = []
    /// The first fragment's network header (offset 0), for the rebuilt datagram and for the
    /// timeout ICMP.
    var head: [UInt8] = []
    var headDev = 0
    var headPktType = PktType.host
    var headRoute: InputRoute4? = nil
    var headRoute6: InputRoute6? = nil

    enum Insert { case ok, dup, overlap }

    /// Queues a fragment's payload: `count` bytes of `b` from `from`.
    mutating func append(offset: Int, end: Int, frame: Int, _ b: UnsafeRawBufferPointer, from: Int, count: Int) {
        precondition(from >= 0 && count >= 0 && from + count <= b.count, "fragment payload out of bounds")
        let start = data.count
        Self.appendBytes(&data, b, from: from, count: count)
        fragments.append(Fragment(offset: offset, end: end, frame: frame, payloadStart: start, payloadCount: count))
    }

    /// Sets the head (the first fragment's network header) to `count` bytes of `b` from `from`.
    mutating func setHead(_ b: UnsafeRawBufferPointer, from: Int, count: Int) {
        precondition(from >= 0 && count >= 0 && from + count <= b.count, "fragment head out of bounds")
        head.removeAll(keepingCapacity: true)
        Self.appendBytes(&head, b, from: from, count: count)
    }

    /// Appends `count` bytes of `b` from `from` to `a` (one block copy).
    static func appendBytes(_ a: inout [UInt8], _ b: UnsafeRawBufferPointer, from: Int, count: Int) {
        guard count > 0, let src = b.baseAddress else { return }
        a.append(contentsOf: UnsafeBufferPointer(start: (src + from).assumingMemoryBound(to: UInt8.self), count: count))
    }

    /// Places `[offset, end)` among the runs. Mirrors `inet_frag_queue_insert()`
    /// (net/ipv4/inet_fragment.c): appending past the tail may not overlap it; elsewhere a
    /// fragment inside one run is a duplicate, any other overlap is fatal.
    mutating func insert(_ offset: Int, _ end: Int) -> Insert {
        if let t = tailRun {
            let last = runs[t]
            if last.end < end {
                if offset < last.end { return .overlap }
                if offset == last.end { runs[t].end = end; return .ok }
                runs.append((offset, end))
                tailRun = runs.count - 1
                return .ok
            }
            for run in runs {
                if end <= run.start || offset >= run.end { continue }
                if offset >= run.start && end <= run.end { return .dup }
                return .overlap
            }
            runs.append((offset, end))
            return .ok
        }
        runs.append((offset, end))
        tailRun = 0
        return .ok
    }
}

extension FragQueue {
    /// Rebuilds the datagram into `out` (resized to `head.count + len` bytes): `head`, then
    /// every fragment's payload at its offset, copied in blocks. Every queued fragment ends
    /// within `len` (one past the end kills the queue before it is queued).
    ///
    /// The bytes are not zeroed first when the fragments' payloads add up to `len` exactly:
    /// queued fragments never overlap (an overlap kills the queue, a duplicate is not queued),
    /// so they then cover every byte. Otherwise (never for a completed queue) they are zeroed.
    func assemble(into out: inout [UInt8]) {
        let hl = head.count
        let total = hl + len
        var covered = 0
        for k in fragments.indices { covered += fragments[k].payloadCount }
        if out.count < total {
            out.append(contentsOf: repeatElement(0, count: total - out.count))
        } else if out.count > total {
            out.removeLast(out.count - total)
        }
        out.withUnsafeMutableBytes { o in
            guard let base = o.baseAddress else { return }
            if covered != len { base.initializeMemory(as: UInt8.self, repeating: 0, count: total) }
            head.withUnsafeBytes { if let h = $0.baseAddress { base.copyMemory(from: h, byteCount: hl) } }
            data.withUnsafeBytes { d in
                guard let src = d.baseAddress else { return }
                for k in fragments.indices {
                    let f = fragments[k]
                    precondition(f.offset >= 0 && f.offset + f.payloadCount <= len, "fragment outside the datagram")
                    (base + hl + f.offset).copyMemory(from: src + f.payloadStart, byteCount: f.payloadCount)
                }
            }
        }
    }
}

/// Storage that reassembly queues and rebuilt datagrams reuse: a queue takes its arrays from
/// here when it is made and gives them back when it ends (completed or killed), emptied with
/// their capacity kept. The held-frame list goes with the queue's resolution and comes back
/// through the GRO frame-list pool (`Kernel.clearResolutions`).
struct FragPool {
    private var lists: [[FragQueue.Fragment]] = []
    private var runs: [[(start: Int, end: Int)]] = []
    private var bytes: [[UInt8]] = []
    private var heads: [[UInt8]] = []
    /// At most this many arrays of each kind are kept (queues alive at once beyond it allocate).
    static let limit = 64

    /// A new, empty queue with pooled storage (`held` from `framesPool`).
    mutating func queue(serial: Int, created: Int64, framesPool: inout [[Int]]) -> FragQueue {
        var q = FragQueue(serial: serial, created: created)
        if let l = lists.popLast() { q.fragments = l }
        if let r = runs.popLast() { q.runs = r }
        if let b = bytes.popLast() { q.data = b }
        if let h = heads.popLast() { q.head = h }
        if let h = framesPool.popLast() { q.held = h }
        return q
    }

    /// Takes back the storage of a queue that ended (its held list stays: a resolution has it).
    mutating func recycle(_ q: inout FragQueue) {
        var l: [FragQueue.Fragment] = []
        swap(&l, &q.fragments)
        if lists.count < Self.limit { l.removeAll(keepingCapacity: true); lists.append(l) }
        var r: [(start: Int, end: Int)] = []
        swap(&r, &q.runs)
        if runs.count < Self.limit { r.removeAll(keepingCapacity: true); runs.append(r) }
        var d: [UInt8] = []
        swap(&d, &q.data)
        give(&d)
        var h: [UInt8] = []
        swap(&h, &q.head)
        if heads.count < Self.limit { h.removeAll(keepingCapacity: true); heads.append(h) }
        q.held = []
    }

    /// A byte array to fill (for a rebuilt datagram); give it back with `give`.
    mutating func takeBytes() -> [UInt8] { bytes.popLast() ?? [] }

    mutating func give(_ b: inout [UInt8]) {
        guard bytes.count < Self.limit * 2, b.capacity > 0 else { return }
        var t: [UInt8] = []
        swap(&t, &b)
        t.removeAll(keepingCapacity: true)
        bytes.append(t)
    }
}

extension Kernel {
    /// Queues an IPv4 fragment; completes the datagram when every byte is there.
    ///
    /// Mirrors `ip_defrag()` → `ip_frag_queue()` → `ip_frag_reasm()` in
    /// net/ipv4/ip_fragment.c (6.18: duplicates are `DUP_FRAG`, overlaps kill the queue).
    func ipDefrag(_ skb: inout SKB, _ r: inout FrameResult, user: UInt8 = 0) {
        r.count(.ipReasmReqds)
        guard skb.captured(skb.len) else { _ = snapped(&r, .ipDefrag); return }
        let key = FragKey4(saddr: skb.v4Saddr.value, daddr: skb.v4Daddr.value, id: skb.buf.u16(4), proto: skb.v4Proto, user: user)
        let ihl = skb.ihl
        let offset = skb.v4Offset
        let mf = skb.v4MF
        var end = offset + skb.len - ihl
        let truesize = skb.len + 640
        // The queue is taken out of the table while this fragment works on it, and every exit
        // below puts it back or ends it: a copy left in the table shared the queue's arrays,
        // so appending a fragment copied the whole fragment list (retaining every payload).
        var q: FragQueue
        if let existing = frag4.removeValue(forKey: key) {
            q = existing
        } else {
            if fragMemory + truesize > ns.sysctl.ipfragHighThresh {
                r.count(.ipReasmFails)
                r.drop(.notSpecified, at: .ipDefrag, "fragment memory above ipfrag_high_thresh: no new queue")
                return
            }
            fragSerial += 1
            q = fragPool.queue(serial: fragSerial, created: now, framesPool: &groFramesPool)
            frag4Earliest = min(frag4Earliest, now)
        }
        func ident() -> String { "id 0x\(String(key.id, radix: 16)) \(skb.v4Saddr) → \(skb.v4Daddr)" }
        /// `ident()`, written as bytes.
        func writeIdent(_ w: inout ByteWriter) {
            w.ascii("id 0x"); w.hex(UInt64(key.id)); w.byte(32)
            skb.v4Saddr.write(to: &w); w.ascii(" → "); skb.v4Daddr.write(to: &w)
        }
        func discard(_ why: String, _ reason: DropReason, overlap: Bool, _ r: inout FrameResult) {
            if overlap { r.count(.ipExtReasmOverlaps) }
            r.count(.ipReasmFails)
            killQueue4(key, q, reason: .notSpecified, why: wantsDetail ? "queue discarded at frame \(skb.frame): \(why)" : "")
            fragPool.recycle(&q)
            r.drop(reason, at: .ipDefrag, "\(ident()): \(why); the whole queue is dropped")
        }
        if !mf {
            if end < q.len || (q.lastIn && end != q.len) {
                discard("last fragment ends at \(end), conflicting with length \(q.len)", .notSpecified, overlap: false, &r)
                return
            }
            q.lastIn = true
            q.len = end
        } else {
            if end & 7 != 0 { end &= ~7 }
            if end > q.len {
                if q.lastIn {
                    discard("fragment ends at \(end), past the last fragment's end \(q.len)", .notSpecified, overlap: false, &r)
                    return
                }
                q.len = end
            }
        }
        if end == offset {
            discard("empty fragment", .notSpecified, overlap: false, &r)
            return
        }
        switch q.insert(offset, end) {
        case .dup:
            frag4[key] = q
            r.drop(.dupFrag, at: .ipDefrag, "\(ident()): bytes \(offset)..<\(end) duplicate ones already queued")
            return
        case .overlap:
            discard("bytes \(offset)..<\(end) partially overlap queued fragments", .notSpecified, overlap: true, &r)
            return
        case .ok: break
        }
        q.append(offset: offset, end: end, frame: skb.frame, skb.buf, from: ihl, count: end - offset)
        q.meat += end - offset
        q.memory += truesize
        fragMemory += truesize
        if offset == 0 {
            q.firstIn = true
            q.setHead(skb.buf, from: 0, count: ihl)
            q.headDev = skb.dev
            q.headPktType = skb.pktType
            q.headRoute = skb.route4
        }
        q.maxSize = max(q.maxSize, skb.len)
        if skb.v4DF { q.maxDFSize = max(q.maxDFSize, skb.len) }
        if !(q.firstIn && q.lastIn && q.meat == q.len) {
            q.held.append(skb.frame)
            frag4[key] = q
            heldThisFrame = true
            r.fate = .dropped
            r.recordJSONSafe(.ipDefrag, .hold) { w in
                writeIdent(&w)
                w.ascii(": bytes "); w.decimal(offset); w.ascii("..<"); w.decimal(end)
                w.ascii(" queued ("); w.decimal(q.meat); w.ascii(" of ")
                if q.lastIn { w.decimal(q.len) } else { w.byte(63) }
                w.ascii(" bytes); fate follows the datagram")
                return true
            }
            return
        }
        // Complete: rebuild the datagram.
        frag4[key] = nil
        fragMemory -= q.memory
        let hl = q.head.count
        let total = hl + q.len
        if total > 65535 {
            r.count(.ipReasmFails)
            resolveHeld(q.held, fate: .dropped, reason: .notSpecified, stage: .ipDefrag,
                        detail: "datagram completed at frame \(skb.frame) is oversized (\(total) bytes) and dropped")
            r.drop(.notSpecified, at: .ipDefrag, "\(ident()): reassembled size \(total) exceeds 65535")
            fragPool.recycle(&q)
            return
        }
        var datagram = fragPool.takeBytes()
        q.assemble(into: &datagram)
        datagram[2] = UInt8(total >> 8)
        datagram[3] = UInt8(total & 0xFF)
        // DF only when the largest fragment had it (`ip_frag_reasm`); MF and offset cleared.
        datagram[6] = q.maxDFSize == q.maxSize ? 0x40 : 0
        datagram[7] = 0
        datagram[10] = 0; datagram[11] = 0
        r.count(.ipReasmOKs)
        if r.wantsDetail {
            // The fragments' frames in order, sorted in a reused array (few: insertion sort).
            var frames = fragFramesScratch
            fragFramesScratch = []
            frames.removeAll(keepingCapacity: true)
            for k in q.fragments.indices {
                let f = q.fragments[k].frame
                var at = frames.count
                frames.append(f)
                while at > 0 && frames[at - 1] > f { frames[at] = frames[at - 1]; at -= 1 }
                frames[at] = f
            }
            r.recordJSONSafe(.ipDefrag, .pass) { w in
                writeIdent(&w)
                w.ascii(": datagram of "); w.decimal(total); w.ascii(" bytes completed by this frame from frames ")
                for k in frames.indices {
                    if k > 0 { w.bytes(44, 32) }
                    w.decimal(frames[k])
                }
                return true
            }
            fragFramesScratch = frames
        } else {
            r.record(.ipDefrag, .pass)
        }
        let frameNo = skb.frame
        let savedRoute = skb.route4
        let dev = skb.dev
        datagram.withUnsafeBytes { buf in
            var whole = SKB(buf: buf, len: total, dev: dev, origDev: skb.origDev, pktType: q.headPktType,
                            proto: 0x0800, frame: frameNo, time: now)
            whole.route4 = savedRoute
            whole.reassembled = true
            whole.fragMaxSize = q.maxSize
            // The fragments it came in: the frag_list ip_do_fragment's fast path sends again.
            whole.groSegs = q.fragments.count
            whole.thoff = hl
            if user == 0 { ipLocalDeliverContinue(&whole, &r) } else { nfDefragContinue(&whole, &r) }
        }
        fragPool.give(&datagram)
        resolveJoined(q.held, completedAt: frameNo, stage: .ipDefrag, r)
        fragPool.recycle(&q)
    }

    /// Records the fate of held frames (the analyzer applies it to their results).
    func resolveHeld(_ frames: [Int], fate: Fate, reason: DropReason?, stage: Stage?, egress: String? = nil,
                     nextHop: IPAddress? = nil, detail: String, counters: MIBCounters = MIBCounters(), replies: [Reply] = []) {
        guard !frames.isEmpty else { return }
        resolutions.append(HoldResolution(frames: frames, fate: fate, reason: reason, stage: stage, egress: egress,
                                          nextHop: nextHop, detail: detail, counters: counters, replies: replies))
    }

    /// Settles the frames held by a reassembly queue with the fate of the datagram they were
    /// joined into, completed at frame `completedAt` (the note is written when rendered).
    func resolveJoined(_ frames: [Int], completedAt: Int, stage: Stage, _ r: FrameResult) {
        guard !frames.isEmpty else { return }
        var res = HoldResolution(frames: frames, fate: r.fate, reason: r.dropReason, stage: r.dropStage, egress: r.egress,
                                 nextHop: r.nextHop, detail: "")
        res.noteStage = stage
        res.joinedAt = completedAt
        resolutions.append(res)
    }

    private func killQueue4(_ key: FragKey4, _ q: FragQueue, reason: DropReason, why: String) {
        frag4[key] = nil
        fragMemory -= q.memory
        resolveHeld(q.held, fate: .dropped, reason: reason, stage: .ipDefrag, detail: why)
    }

    /// Fires reassembly timers that are due at `now` (in creation order, for determinism).
    ///
    /// Mirrors `ip_expire()` in net/ipv4/ip_fragment.c: `IpReasmFails` and `IpReasmTimeout`,
    /// and ICMP time exceeded (fragment reassembly) when the first fragment had arrived.
    func expire(now t: Int64) {
        defer { if !frag6.isEmpty { expire6(now: t) } }
        if frag4.isEmpty { frag4Earliest = .max; return }
        let timeout4 = Int64(ns.sysctl.ipfragTimeSeconds) * 1_000_000_000
        // Every queue was created at or after `frag4Earliest`: none is due before its deadline.
        if t != .max && !(frag4Earliest &+ timeout4 < t) { return }
        let due4 = frag4.filter { t == .max || $0.value.created + timeout4 < t }.sorted { $0.value.serial < $1.value.serial }
        frag4Earliest = .max
        for q in frag4.values where !(t == .max || q.created + timeout4 < t) {
            frag4Earliest = min(frag4Earliest, q.created)
        }
        for (key, q) in due4 {
            frag4[key] = nil
            fragMemory -= q.memory
            let saved = now
            now = q.created + timeout4
            var r = FrameResult()
            r.wantsDetail = true
            r.count(.ipReasmFails)
            r.count(.ipReasmTimeout)
            if q.firstIn && !q.head.isEmpty {
                q.head.withUnsafeBytes { buf in
                    var skb = SKB(buf: buf, len: buf.count, dev: q.headDev, origDev: q.headDev, pktType: q.headPktType,
                                  proto: 0x0800, frame: q.held.first ?? 0, time: now)
                    skb.route4 = q.headRoute
                    if key.user == 0 || nfDefragExpiryAnswers(&skb) {
                        icmpSend(skb, type: 11, code: 1, info: 0, &r)
                        nfLocalOutTimerReplies(answering: skb, ipv6: false, &r)
                    }
                }
            }
            now = saved
            resolveHeld(q.held, fate: .dropped, reason: .fragReasmTimeout, stage: .ipDefrag,
                        detail: t == .max ? "end of input: the reassembly timer (ipfrag_time \(ns.sysctl.ipfragTimeSeconds) s) would expire" :
                            "reassembly timed out after ipfrag_time \(ns.sysctl.ipfragTimeSeconds) s",
                        replies: [])
            // Counters and the ICMP belong to the first held frame. A rule at OUTPUT that drops
            // the ICMP frees it before the fragment is freed: the frame's first drop.
            if let first = q.held.first {
                let replyDropped = r.dropReason == .netfilterDrop
                resolutions.append(HoldResolution(frames: [first], fate: .dropped,
                                                  reason: replyDropped ? r.dropReason : .fragReasmTimeout,
                                                  stage: replyDropped ? r.dropStage : .ipDefrag, detail: "timer fired", counters: r.counters,
                                                  replies: r.replies, stages: r.stages, stageDetails: r.details))
            }
        }
    }
}
