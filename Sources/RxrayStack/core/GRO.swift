import RxrayDecode

/// NAPI poll batching, RSS queue selection and GRO configuration for wire captures.
///
/// A NIC raises an interrupt, the driver's NAPI poll then takes up to `budget` frames from one
/// RX queue and hands each to GRO. rxray rebuilds the polls from capture timestamps: a frame
/// that arrives within `batchIntervalNs` of the previous frame of the same queue joins its poll.
public struct NAPIOptions: Sendable, Equatable {
    /// Frames closer than this to the previous frame of their RX queue share a NAPI poll (ns).
    public var batchIntervalNs: Int64
    /// Frames per poll (`NAPI_POLL_WEIGHT`, 64), unless `budgets` names the interface.
    public var budget: Int
    /// Per-interface poll budget.
    public var budgets: [String: Int]
    /// Per-interface `gro_flush_timeout` (ns): held packets then survive the end of a poll
    /// until the next jiffy boundary or the timer, whichever comes first.
    public var groFlushTimeoutNs: [String: Int64]
    /// The RSS (Toeplitz) key; nil = the widely used default key (`ethtool -x` shows the real one:
    /// Linux drivers usually fill it at random at boot, so give it when queues matter).
    public var rssKey: [UInt8]?
    /// The kernel tick (`HZ`), for "held since an earlier jiffy".
    public var hz: Int64

    public init(batchIntervalNs: Int64 = 50_000, budget: Int = 64, budgets: [String: Int] = [:],
                groFlushTimeoutNs: [String: Int64] = [:], rssKey: [UInt8]? = nil, hz: Int64 = 1000) {
        self.batchIntervalNs = batchIntervalNs
        self.budget = budget
        self.budgets = budgets
        self.groFlushTimeoutNs = groFlushTimeoutNs
        self.rssKey = rssKey
        self.hz = hz
    }

    /// The 40-byte Toeplitz key most NIC documentation and drivers use as their default.
    public static let defaultRSSKey: [UInt8] = [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
        0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
        0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ]
}

/// Why GRO sent a frame up alone, or completed a held packet.
/// The raw values are written into stage detail claimed JSON-safe (no `"`, `\` or control
/// byte; `GROFlush` cases are checked by OutputByteWriterTests).
public enum GROFlush: String, Sendable, Equatable, CaseIterable {
    case pollEnd = "end of NAPI poll"
    case pollEndOld = "end of a full NAPI poll, held since an earlier jiffy"
    case flushTimer = "gro_flush_timeout timer"
    case bucketFull = "a 9th packet in the GRO bucket completed the oldest"
    case psh = "PSH"
    case fin = "FIN"
    case syn = "SYN"
    case rst = "RST"
    case urg = "URG"
    case cwr = "CWR"
    case flags = "TCP flags differ"
    case window = "TCP window or reserved bits differ"
    case seqGap = "sequence not contiguous"
    case ack = "ACK number differs"
    case options = "TCP options differ"
    case ipID = "IP ID neither incrementing nor fixed"
    case ttl = "TTL/hop limit differs"
    case tos = "TOS/traffic class differs"
    case df = "DF differs"
    case length = "IP length differs from the frame length"
    case tooBig = "would reach gro_max_size"
    case overMSS = "payload longer than the first segment's (gso_size)"
    case shortSegment = "payload shorter than gso_size"
    case noPayload = "no payload"
    case ipOptions = "IPv4 header with options or not version 4"
    case fragment = "IP fragment"
    case ipChecksum = "bad IPv4 header checksum"
    case checksum = "bad transport checksum"
    case tcpHeader = "bad TCP header"
    case noOffload = "no GRO handler for the protocol"
    case udpNotAggregated = "UDP is not aggregated (no UDP_GRO socket, rx-udp-gro-forwarding off)"
    case extHeaders = "IPv6 extension headers"
    case vlan = "VLAN-tagged in the frame"
    case truncated = "headers cut by the snap length"
}

/// What GRO did with one frame (the per-frame JSON's `gro`).
public struct GROInfo: Sendable, Equatable {
    public enum Action: String, Sendable {
        /// Held as the first segment of a new packet.
        case held
        /// Merged into a held packet (`packet` names its first frame).
        case merged
        /// Passed up alone at once (`flush` says why).
        case normal
        /// GRO is off on the interface.
        case off
        /// Host capture: frames are seen after GRO.
        case applied
    }
    public var action: Action
    /// First frame of the (super-)packet this frame is part of.
    public var packet: Int
    /// Segments in that packet once completed.
    public var segments: Int
    /// Why the frame went up alone, or why its packet was completed.
    public var flush: GROFlush?
    /// The RX queue RSS picked.
    public var queue: Int

    public init(action: Action, packet: Int, segments: Int, flush: GROFlush?, queue: Int) {
        self.action = action
        self.packet = packet
        self.segments = segments
        self.flush = flush
        self.queue = queue
    }

    /// One line for traces: `merged into frame 3`, `held`, `flushed: PSH`.
    public var text: String {
        switch action {
        case .held: return flush.map { "held; completed (\(segments) segments): \($0.rawValue)" } ?? "held"
        case .merged: return "merged into frame \(packet)" + (flush.map { "; completed (\(segments) segments): \($0.rawValue)" } ?? "")
        case .normal: return "passed up alone" + (flush.map { ": \($0.rawValue)" } ?? "")
        case .off: return "GRO off"
        case .applied: return "already applied (host capture)"
        }
    }
}

/// One NAPI instance: an RX queue of a device.
struct NAPIKey: Hashable {
    var dev: Int
    var queue: Int
}

/// The NAPI instances seen so far, in creation order, found by device and queue through a
/// small direct index (no hashing per frame). `states[slot]` is mutated in place.
struct NAPITable {
    private(set) var keys: [NAPIKey] = []
    var states: [NAPIState] = []
    /// `index[dev][queue]`: the instance's slot, or -1.
    private var index: [[Int32]] = []

    var isEmpty: Bool { keys.isEmpty }

    /// The slot of `k`'s instance, if it has one.
    @inline(__always) func slot(_ k: NAPIKey) -> Int? {
        guard k.dev >= 0, k.dev < index.count, k.queue >= 0, k.queue < index[k.dev].count else { return nil }
        let s = index[k.dev][k.queue]
        return s < 0 ? nil : Int(s)
    }

    /// The slot of `k`'s instance, made (idle, nothing held) when it has none.
    mutating func slotCreating(_ k: NAPIKey) -> Int {
        if let s = slot(k) { return s }
        precondition(k.dev >= 0 && k.queue >= 0, "NAPI instance of device \(k.dev) queue \(k.queue)")
        while index.count <= k.dev { index.append([]) }
        while index[k.dev].count <= k.queue { index[k.dev].append(-1) }
        keys.append(k)
        states.append(NAPIState())
        index[k.dev][k.queue] = Int32(keys.count - 1)
        return keys.count - 1
    }
}

/// A held GRO packet (`struct sk_buff` on a `gro_list` with its `napi_gro_cb`).
struct GROHeld {
    /// A placeholder (what a completed entry is swapped with).
    static let empty = GROHeld(id: 0, frames: [], bytes: [], complete: false, len: 0, bucket: 0, hash: 0, dev: 0,
                               pktType: .host, proto: 0, srcMAC: nil, dstMAC: nil,
                               l3: GROL3(v6: false, proto: 0, saddr: .v4(IPv4Address(0)), daddr: .v4(IPv4Address(0)),
                                         ttl: 0, tos: 0, df: false, id: 0, v6Word: 0, hlen: 0, ownFlush: nil),
                               l4: GROL4(ports: 0, seq: 0, ack: 0, flags: 0, word3: 0, doff: 0, off: 0, len: 0),
                               mss: 0, count: 0, payload: 0, fixedID: false, ageJiffy: 0, lastTime: 0)
    var id: Int
    /// Member frame numbers, first segment first.
    var frames: [Int]
    /// The super-packet from the network header on: the first segment's headers and every
    /// captured payload (only while the capture holds everything).
    var bytes: [UInt8]
    var complete: Bool
    /// `p->len`: the super-packet's length from the network header.
    var len: Int
    var bucket: Int
    var hash: UInt32
    var dev: Int
    var pktType: PktType
    var proto: UInt16
    var srcMAC: MACAddress?
    var dstMAC: MACAddress?
    var l3: GROL3
    var l4: GROL4
    /// `gso_size`: the first segment's payload.
    var mss: Int
    var count: Int
    /// Total payload merged (`skb_gro_len(p)` after the headers).
    var payload: Int
    /// IP ID decided fixed at the second segment (6.18 also without DF).
    var fixedID: Bool
    /// Jiffy of the first segment (`NAPI_GRO_CB(p)->age`).
    var ageJiffy: Int64
    var lastTime: Int64
}

/// The L3 fields GRO compares.
struct GROL3 {
    var v6: Bool
    var proto: UInt8
    var saddr: IPAddress
    var daddr: IPAddress
    var ttl: UInt8
    var tos: UInt8
    var df: Bool
    var id: UInt16
    /// IPv6 version + flow label word (traffic class masked out).
    var v6Word: UInt32
    /// Header length (IPv4 20, IPv6 40).
    var hlen: Int
    /// Per-packet flush from the header alone (length mismatch, reserved fragment bits).
    var ownFlush: GROFlush?
}

/// The TCP fields GRO compares.
struct GROL4 {
    var ports: UInt32
    var seq: UInt32
    var ack: UInt32
    var flags: UInt8
    /// The header's fourth 32-bit word (data offset, reserved bits, flags, window), which
    /// `tcp_gro_receive` compares whole apart from CWR, FIN and PSH.
    var word3: UInt32
    var doff: Int
    /// Offset of the TCP header from the network header.
    var off: Int
    /// Payload length of this segment.
    var len: Int
}

struct NAPIState {
    var held: [GROHeld] = []
    var polled = 0
    var lastTime: Int64 = .min
    var inPoll = false
    /// When the last poll ended (for `gro_flush_timeout`).
    var pollEnd: Int64 = .min
}

extension Kernel {
    /// The RX queue and flow hash of a frame (RSS). veth and single-queue devices: queue 0;
    /// veth frames carry no hash (all flows share GRO bucket 0).
    ///
    /// Mirrors the NIC's Toeplitz hash with the default indirection table
    /// (`ethtool_rxfh_indir_default`: entry i → queue i mod n, 128 entries).
    ///
    /// Takes the packet's fields, not the `SKB`: a by-value `SKB` (280 bytes) was copied at
    /// every call.
    func rssQueue(dev: Int, buf b: UnsafeRawBufferPointer, proto: UInt16) -> (queue: Int, hash: UInt32) {
        let d = devGRO[dev]
        if d.virtual { return (0, 0) }
        var h: UInt32 = 0
        if proto == 0x0800, b.count >= 20 {
            let ihl = Int(b.u8(0) & 0x0F) * 4
            let p = b.u8(9)
            // Addresses (input bytes 0..<8), then the ports (8..<12) for unfragmented TCP.
            h = toeplitz(b, from: 12, count: 8, position: 0)
            if (p == 6) && b.u16(6) & 0x3FFF == 0 && b.count >= ihl + 4 {
                h ^= toeplitz(b, from: ihl, count: 4, position: 8)
            }
        } else if proto == 0x86DD, b.count >= 40 {
            // IPv6: 32 bytes of addresses, then 4 of ports for TCP.
            h = toeplitz(b, from: 8, count: 32, position: 0)
            if b.u8(6) == 6, b.count >= 44 { h ^= toeplitz(b, from: 40, count: 4, position: 32) }
        } else {
            return (0, 0)
        }
        let q = d.rxQueues > 1 ? Int(h & 127) % d.rxQueues : 0
        return (q, h)
    }

    /// Input positions the Toeplitz tables cover (IPv6 addresses and ports: 36 bytes).
    static let rssPositions = 36

    /// Per input byte position and value, the XOR of the 32-bit key windows its set bits
    /// select: the Toeplitz hash is the XOR of one entry per input byte. Built once from
    /// the key (Microsoft RSS: bit i of the input selects the key window at bit i).
    static func rssTables(key: [UInt8]) -> [UInt32] {
        func bit(_ i: Int) -> UInt32 {
            let byte = i / 8
            guard byte < key.count else { return 0 }
            return UInt32(key[byte] >> UInt8(7 - i % 8)) & 1
        }
        func window(_ i: Int) -> UInt32 {
            var w: UInt32 = 0
            for k in 0..<32 { w = w << 1 | bit(i + k) }
            return w
        }
        var t = [UInt32](repeating: 0, count: rssPositions * 256)
        for pos in 0..<rssPositions {
            var windows = [UInt32](repeating: 0, count: 8)
            for k in 0..<8 { windows[k] = window(pos * 8 + k) }
            for v in 0..<256 {
                var h: UInt32 = 0
                for k in 0..<8 where (v >> (7 - k)) & 1 == 1 { h ^= windows[k] }
                t[pos * 256 + v] = h
            }
        }
        return t
    }

    /// Toeplitz over `count` bytes of `b` from `from`, as input bytes `position...` of the hash.
    private func toeplitz(_ b: UnsafeRawBufferPointer, from: Int, count: Int, position: Int) -> UInt32 {
        precondition(position + count <= Kernel.rssPositions && from + count <= b.count)
        var h: UInt32 = 0
        rssTable.withUnsafeBufferPointer { t in
            for i in 0..<count {
                h ^= t[(position + i) &* 256 &+ Int(b.u8(from + i))]
            }
        }
        return h
    }

    func jiffy(_ t: Int64) -> Int64 { t / (1_000_000_000 / max(1, napiOptions.hz)) }

    func budget(_ dev: Int) -> Int {
        napiOptions.budgets.isEmpty ? napiOptions.budget : napiOptions.budgets[ns.devices[dev].name] ?? napiOptions.budget
    }

    /// Ends the NAPI polls that are over by `t` (no frame of their queue within the batch
    /// interval), oldest first, and fires due `gro_flush_timeout` timers.
    ///
    /// Mirrors `napi_complete_done()` (net/core/dev.c): without `gro_flush_timeout` every held
    /// packet is completed; with it only those held since an earlier jiffy, the rest when the
    /// timer fires.
    func napiAdvance(now t: Int64) {
        guard !napis.isEmpty else { return }
        // Most frames end no poll: find that out before taking the scratch list (putting it
        // back cleared cost a generic remove-all on every frame).
        var anyDue = false
        for i in napis.states.indices {
            let inPoll = napis.states[i].inPoll
            if (inPoll && t &- napis.states[i].lastTime > napiOptions.batchIntervalNs) || (!inPoll && !napis.states[i].held.isEmpty) {
                anyDue = true
                break
            }
        }
        if !anyDue { return }
        var due = napiDueScratch
        napiDueScratch = []
        defer { due.removeAll(keepingCapacity: true); napiDueScratch = due }
        for i in napis.states.indices {
            let inPoll = napis.states[i].inPoll, last = napis.states[i].lastTime
            if (inPoll && t &- last > napiOptions.batchIntervalNs) || (!inPoll && !napis.states[i].held.isEmpty) {
                due.append((last, napis.keys[i]))
            }
        }
        if due.isEmpty { return }
        if due.count > 1 {
            due.sort { $0.0 != $1.0 ? $0.0 < $1.0 : ($0.1.dev, $0.1.queue) < ($1.1.dev, $1.1.queue) }
        }
        for (_, k) in due {
            guard let s = napis.slot(k) else { continue }
            let timeout = napiOptions.groFlushTimeoutNs.isEmpty ? 0 : napiOptions.groFlushTimeoutNs[ns.devices[k.dev].name] ?? 0
            var pollEnd = napis.states[s].pollEnd
            if napis.states[s].inPoll {
                let last = napis.states[s].lastTime
                pollEnd = last
                napis.states[s].inPoll = false
                napis.states[s].pollEnd = last
                napis.states[s].polled = 0
                groFlush(k, at: last, oldOnly: timeout > 0, reason: .pollEnd)
            }
            if timeout > 0, !napis.states[s].held.isEmpty, t >= pollEnd &+ timeout {
                groFlush(k, at: pollEnd &+ timeout, oldOnly: false, reason: .flushTimer)
            }
        }
    }

    /// Completes everything still held (end of the input: the poll ends, timers fire).
    func napiFlushAll() {
        let keys = napis.keys.sorted { ($0.dev, $0.queue) < ($1.dev, $1.queue) }
        for k in keys {
            guard let s = napis.slot(k) else { continue }
            napis.states[s].inPoll = false
            groFlush(k, at: napis.states[s].lastTime, oldOnly: false, reason: .pollEnd)
        }
    }

    /// `napi_gro_flush`: completes held packets, oldest first (all, or those held since a
    /// jiffy before `at`).
    func groFlush(_ k: NAPIKey, at: Int64, oldOnly: Bool, reason: GROFlush) {
        guard let s = napis.slot(k), !napis.states[s].held.isEmpty else { return }
        let j = jiffy(at)
        // Take the list out (so its elements are uniquely owned), keep the young ones in order.
        var list: [GROHeld] = []
        swap(&list, &napis.states[s].held)
        var done = groDoneScratch
        groDoneScratch = []
        var kept = 0
        if !oldOnly {
            // Everything goes, in order: the lists trade places (the empty scratch list becomes
            // the instance's held list), no packet is copied.
            swap(&list, &done)
        } else {
            for i in list.indices {
                if list[i].ageJiffy >= j {
                    if kept != i { list.swapAt(kept, i) }
                    kept += 1
                } else {
                    done.append(GROHeld.empty)
                    swap(&done[done.count - 1], &list[i])
                }
            }
        }
        if kept < list.count { list.removeLast(list.count - kept) }
        swap(&list, &napis.states[s].held)
        let saved = now
        now = max(now, at)
        for i in done.indices { groComplete(&done[i], reason: oldOnly ? .pollEndOld : reason) }
        now = saved
        done.removeAll(keepingCapacity: true)
        groDoneScratch = done
    }

    /// GRO entry for one Ethernet frame. Returns true when the frame was held or merged (its
    /// result then waits for the super-packet); false when it continues up the stack now.
    ///
    /// Mirrors `napi_gro_receive()` → `dev_gro_receive()` in net/core/gro.c.
    func napiGroReceive(_ skb: inout SKB, _ r: inout FrameResult) -> Bool {
        let dev = devGRO[skb.dev]
        let (queue, hash) = rssQueue(dev: skb.dev, buf: skb.buf, proto: skb.proto)
        let key = NAPIKey(dev: skb.dev, queue: queue)
        // The poll this frame belongs to.
        // (Mutated in place: a copy of the state would share, and so copy, its held list.)
        let n = napis.slotCreating(key)
        if napis.states[n].inPoll && napis.states[n].polled >= budget(skb.dev) {
            // A full poll: the driver is rescheduled; only packets from an earlier jiffy go.
            napis.states[n].polled = 0
            groFlush(key, at: napis.states[n].lastTime, oldOnly: true, reason: .pollEndOld)
        }
        napis.states[n].inPoll = true
        napis.states[n].polled += 1
        napis.states[n].lastTime = skb.time

        if !dev.groEnabled {
            r.gro = GROInfo(action: .off, packet: skb.frame, segments: 1, flush: nil, queue: queue)
            r.record(.devGroReceive, .pass, "GRO is off on \(devName(skb.dev)) (ethtool -k: generic-receive-offload off)")
            return false
        }
        var seg = GROSegment()
        if let why = groParse(skb.buf, len: skb.len, proto: skb.proto, &seg) {
            r.gro = GROInfo(action: .normal, packet: skb.frame, segments: 1, flush: why, queue: queue)
            r.recordJSONSafe(.devGroReceive, .pass, writing: { w in
                w.ascii("passed up alone (queue "); w.decimal(queue); w.ascii("): "); w.string(why.rawValue)
                return true
            })
            return false
        }
        let bucket = Int(hash & 7)
        // gro_list_prepare + inet/ipv6 + tcp flow match: the newest held packet of the flow.
        var found: Int? = nil
        var i = napis.states[n].held.count - 1
        while i >= 0 {
            let hit = napis.states[n].held.withUnsafeBufferPointer { list -> Bool in
                let p = list[i]
                return p.bucket == bucket && p.hash == hash && p.dev == skb.dev && p.srcMAC == skb.srcMAC && p.dstMAC == skb.dstMAC
                    && p.proto == skb.proto && p.l3.v6 == seg.l3.v6 && p.l3.proto == seg.l3.proto
                    && p.l3.saddr == seg.l3.saddr && p.l3.daddr == seg.l3.daddr
                    && (!seg.l3.v6 || p.l3.v6Word == seg.l3.v6Word) && p.l4.ports == seg.l4.ports
            }
            if hit {
                found = i
                break
            }
            i -= 1
        }
        var flushReason: GROFlush? = nil
        var merged = false
        var mss = 1
        // First frame of the packet found (for the trace, once it may be gone from the list).
        var foundFrame = 0
        if let fi = found {
            foundFrame = napis.states[n].held[fi].frames[0]
            let why = groMergeCheck(&napis.states[n].held[fi], seg, skb.buf, groMaxSize: dev.groMaxSize)
            if let why = why {
                flushReason = why
            } else {
                merged = true
                mss = napis.states[n].held[fi].mss
                groAppend(&napis.states[n].held[fi], skb.buf, frame: skb.frame, time: skb.time, seg)
            }
        }
        // Flush after: a short segment or a flag that ends the burst. CWR is among them on
        // 6.18 (a CWR segment goes up alone: 200 + 100 + 300 observed for CWR on segment 3).
        let f = seg.l4.flags
        var after: GROFlush? = nil
        if f & 0x80 != 0 { after = .cwr } else if f & 0x20 != 0 { after = .urg } else if f & 0x08 != 0 { after = .psh } else if f & 0x04 != 0 { after = .rst }
        else if f & 0x02 != 0 { after = .syn } else if f & 0x01 != 0 { after = .fin }
        else if seg.l4.len < mss { after = seg.l4.len == 0 ? .noPayload : .shortSegment }

        if let fi = found, !merged || after != nil {
            var p = napis.states[n].held.remove(at: fi)
            if merged {
                // This frame completes the packet it joined.
                heldThisFrame = true
                r.gro = GROInfo(action: .merged, packet: p.frames[0], segments: p.count, flush: after, queue: queue)
                let first = p.frames[0], count = p.count, len = p.len, why = after!
                r.recordJSONSafe(.devGroReceive, .hold, writing: { w in
                    w.ascii("merged into frame "); w.decimal(first); w.ascii(" ("); w.decimal(count); w.ascii(" segments, ")
                    w.decimal(len); w.ascii(" bytes); completed: "); w.string(why.rawValue)
                    return true
                })
                groComplete(&p, reason: after!)
                return true
            }
            groComplete(&p, reason: flushReason ?? .flags)
        }
        if merged {
            heldThisFrame = true
            let p = napis.states[n].held[found!]
            r.gro = GROInfo(action: .merged, packet: p.frames[0], segments: p.count, flush: nil, queue: queue)
            let first = p.frames[0], count = p.count, len = p.len
            r.recordJSONSafe(.devGroReceive, .hold, writing: { w in
                w.ascii("merged into frame "); w.decimal(first); w.ascii(" (now "); w.decimal(count); w.ascii(" segments, ")
                w.decimal(len); w.ascii(" bytes)")
                return true
            })
            return true
        }
        // Not merged: up alone when its own flush is set, else held as a new packet.
        let own = seg.l3.ownFlush ?? after
        if let why = own {
            let completed = found != nil, fr = foundFrame, fReason = flushReason ?? .flags
            r.gro = GROInfo(action: .normal, packet: skb.frame, segments: 1, flush: why, queue: queue)
            r.recordJSONSafe(.devGroReceive, .pass, writing: { w in
                w.ascii("passed up alone (queue "); w.decimal(queue); w.ascii("): "); w.string(why.rawValue)
                if completed {
                    w.ascii(" (and completed frame "); w.decimal(fr); w.ascii("'s packet: "); w.string(fReason.rawValue); w.byte(41)
                }
                return true
            })
            return false
        }
        var inBucket = 0
        for h in napis.states[n].held where h.bucket == bucket { inBucket += 1 }
        if inBucket >= 8,
           let oldest = napis.states[n].held.firstIndex(where: { $0.bucket == bucket }) {
            var p = napis.states[n].held.remove(at: oldest)
            groComplete(&p, reason: .bucketFull)
        }
        groSerial += 1
        var buf = groPool.popLast() ?? []
        // Pooled buffers were emptied when pooled (clearing an empty one still cost a call).
        if !buf.isEmpty { buf.removeAll(keepingCapacity: true) }
        let total = seg.l3.hlen + seg.l4.doff + seg.l4.len
        let have = min(skb.buf.count, total)
        buf.append(contentsOf: UnsafeRawBufferPointer(rebasing: skb.buf[0..<have]))
        var frames = groFramesPool.popLast() ?? []
        frames.append(skb.frame)
        let h = GROHeld(id: groSerial, frames: frames, bytes: buf, complete: have == total, len: total, bucket: bucket,
                        hash: hash, dev: skb.dev, pktType: skb.pktType, proto: skb.proto, srcMAC: skb.srcMAC,
                        dstMAC: skb.dstMAC, l3: seg.l3, l4: seg.l4, mss: seg.l4.len, count: 1, payload: seg.l4.len,
                        fixedID: false, ageJiffy: jiffy(skb.time), lastTime: skb.time)
        napis.states[n].held.append(h)
        heldThisFrame = true
        let completed = found != nil, fr = foundFrame, fReason = flushReason ?? .flags, gso = seg.l4.len
        r.gro = GROInfo(action: .held, packet: skb.frame, segments: 1, flush: nil, queue: queue)
        r.recordJSONSafe(.devGroReceive, .hold) { w in
            w.ascii("held as a new packet (queue "); w.decimal(queue); w.ascii(", bucket "); w.decimal(bucket)
            w.ascii(", gso_size "); w.decimal(gso); w.byte(41)
            if completed { w.ascii("; completed frame "); w.decimal(fr); w.ascii("'s packet: "); w.string(fReason.rawValue) }
            // Literals, numbers and a GROFlush text (all clean: GROTests checks them).
            return true
        }
        return true
    }

    /// Adds a segment to a held packet (`skb_gro_receive`) and carries FIN/PSH into its header.
    private func groAppend(_ p: inout GROHeld, _ buf: UnsafeRawBufferPointer, frame: Int, time: Int64, _ seg: GROSegment) {
        p.frames.append(frame)
        p.count += 1
        p.payload += seg.l4.len
        p.len += seg.l4.len
        p.lastTime = time
        p.l4.flags |= seg.l4.flags & 0x09
        let start = seg.l3.hlen + seg.l4.doff
        if p.complete && buf.count >= start + seg.l4.len {
            p.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[start..<(start + seg.l4.len)]))
        } else {
            p.complete = false
        }
    }

    /// Completes a held packet: fixes its headers and runs it up the stack
    /// (`napi_gro_complete` → `inet_gro_complete` / `tcp_gro_complete` → `gro_normal_one`).
    /// Every member frame takes the super-packet's fate; counters and replies go to the last.
    func groComplete(_ h: inout GROHeld, reason: GROFlush) {
        var bytes: [UInt8] = []
        swap(&bytes, &h.bytes)
        let l3 = h.l3
        if bytes.count >= l3.hlen {
            if !l3.v6 {
                bytes[2] = UInt8(truncatingIfNeeded: h.len >> 8)
                bytes[3] = UInt8(truncatingIfNeeded: h.len)
                bytes[10] = 0; bytes[11] = 0
                let sum = bytes.withUnsafeBytes { InternetChecksum.foldedSum($0.baseAddress!, count: 20) }
                let c = ~UInt16(truncatingIfNeeded: sum)
                bytes[10] = UInt8(c >> 8); bytes[11] = UInt8(c & 0xFF)
            } else {
                let pl = h.len - 40
                bytes[4] = UInt8(truncatingIfNeeded: pl >> 8)
                bytes[5] = UInt8(truncatingIfNeeded: pl)
            }
            if bytes.count >= h.l4.off + 14 { bytes[h.l4.off + 13] = h.l4.flags }
        }
        // A result from the pool: slot `groResultsUsed` is read by the resolution made from it
        // (`HoldResolution.source`), which the analyzer applies and drops before the pool is
        // used again (`clearResolutions`). The packet runs in it in place (moved out and back,
        // it cost six copies of the result and the destruction of an empty one).
        if groResultsUsed == groResults.count { groResults.append(FrameResult()) }
        let slot = groResultsUsed
        groResultsUsed += 1
        let saved = heldThisFrame
        let note = groRun(&h, bytes, reason: reason, into: &groResults[slot])
        // Its replies (the ACK of a data segment, above all) leave as a frame's do: LOCAL_OUT
        // and POST_ROUTING, the output counters, the neighbour.
        outputReplies(&groResults[slot], packetFrame: h.frames[0])
        heldThisFrame = saved
        var frames: [Int] = []
        swap(&frames, &h.frames)
        // The resolution names the result (`source`) instead of holding copies of its egress,
        // trace, counters and replies (a retain of each here and a release when it is dropped).
        resolutions.append(HoldResolution(frames: frames, fate: groResults[slot].fate, reason: groResults[slot].dropReason,
                                          stage: groResults[slot].dropStage, egress: nil, nextHop: nil, detail: "",
                                          noteStage: .devGroReceive, accountedOn: frames[frames.count - 1],
                                          gro: GROInfo(action: .held, packet: frames[0], segments: h.count, flush: reason, queue: 0),
                                          noteStart: note.start, noteCount: note.count, noteJSONSafe: true,
                                          source: Int32(truncatingIfNeeded: slot)))
        bytes.removeAll(keepingCapacity: true)
        if groPool.count < 64 { groPool.append(bytes) }
    }

    /// Runs a completed packet (its fixed-up `bytes`) up the stack in `res`, and writes the
    /// completion note into `res`'s detail bytes; returns the note's range.
    private func groRun(_ h: inout GROHeld, _ bytes: [UInt8], reason: GROFlush, into res: inout FrameResult) -> (start: Int32, count: Int32) {
        res.wantsDetail = wantsDetail
        res.wantsJSONForm = wantsJSONForm
        res.reset(frame: h.frames[h.frames.count - 1])
        let frame0 = h.frames[0]
        bytes.withUnsafeBytes { buf in
            var skb = SKB(buf: buf, len: h.len, dev: h.dev, origDev: h.dev, pktType: h.pktType, proto: h.proto,
                          frame: frame0, time: now)
            skb.srcMAC = h.srcMAC
            skb.dstMAC = h.dstMAC
            skb.groSegs = h.count
            skb.csumVerified = true
            netifReceiveSkbCore(&skb, &res)
        }
        // The note goes into the result's detail bytes, next to its stages' text.
        guard wantsDetail else { return (0, 0) }
        let many = h.count > 1
        return res.writeDetail { w in
            w.ascii(many ? "GRO completed the packet of frames " : "GRO completed the packet of frame ")
            for (i, f) in h.frames.enumerated() {
                if i > 0 { w.ascii(", ") }
                w.decimal(f)
            }
            w.ascii(" ("); w.decimal(h.count); w.ascii(many ? " segments, " : " segment, ")
            w.decimal(h.len); w.ascii(" bytes): "); w.string(reason.rawValue)
        }
    }

    /// Drops the resolutions the analyzer has applied, keeping their storage for reuse.
    func clearResolutions() {
        // Taken off the end one at a time: a few a round, for less than the generic
        // replace-subrange call of `removeAll` (which destroyed each through the type's witness).
        while var res = resolutions.popLast() {
            var f: [Int] = []
            swap(&f, &res.frames)
            if groFramesPool.count < 64 && f.capacity <= 64 {
                f.removeAllKeepingCapacity()
                groFramesPool.append(f)
            }
        }
        groResultsUsed = 0
    }
}
