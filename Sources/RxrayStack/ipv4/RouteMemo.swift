#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RxrayDecode

/// An exact memo of `ipRouteInputSlow`: the decision (drop reason, the input route attached
/// to the packet) and the stage records it appended, by everything the decision reads.
///
/// The kernel has had no route cache since 3.6: every packet runs the full lookup. Here the
/// namespace model (devices and their sysctls, addresses, routes, rules) is immutable for a
/// `Kernel`'s life (a reload builds a new kernel, and with it an empty memo), so the decision
/// is a pure function of the packet's fields the path reads:
/// daddr, saddr, input device, mark, TOS (the bits the FIB reads, `tos & 0x1C`), and — when
/// some rule selects on them — protocol and ports; plus whether detail text is built. The
/// neighbour table, conntrack and socket state are not read by input routing. A hit returns
/// exactly what the full path returns, detail text included (`RouteMemoTests` compares the
/// two on random tables and addresses). `RXRAY_ROUTE_MEMO=0` in the environment turns the
/// memo off (results never depend on it).
///
/// Direct mapped, `slots` entries; the detail bytes of an entry live in a fixed area of
/// `detailBytesPerSlot` bytes (allocated at the first detail-mode store): a decision whose
/// text is longer, or that appended more than two records, is not stored.
final class RouteInputMemo {
    struct Key: Equatable {
        /// daddr << 32 | saddr
        var addrs: UInt64
        /// mark << 32 | device (16 bits) << 16 | tos << 8 | wantsDetail
        var rest: UInt64
        /// proto << 32 | sport << 16 | dport (zero when no rule reads them)
        var ports: UInt64

        init(daddr: UInt32, saddr: UInt32, mark: UInt32, dev: Int, tos: UInt8, detail: Bool, proto: UInt8, sport: UInt16, dport: UInt16) {
            addrs = UInt64(daddr) << 32 | UInt64(saddr)
            rest = UInt64(mark) << 32 | UInt64(UInt16(truncatingIfNeeded: dev)) << 16 | UInt64(tos) << 8 | (detail ? 1 : 0)
            ports = UInt64(proto) << 32 | UInt64(sport) << 16 | UInt64(dport)
        }
        /// The key of an empty slot (a wantsDetail byte of 0xFF never occurs).
        static let empty = Key(daddr: 0, saddr: 0, mark: 0, dev: 0, tos: 0, detail: false, proto: 0, sport: 0, dport: 0)
            .withRest(0xFF)
        private func withRest(_ r: UInt64) -> Key { var k = self; k.rest = r; return k }
    }

    struct Entry {
        var reason: DropReason?
        /// What the full path attached to `skb.route4` (nil: it left `route4` alone).
        var route: InputRoute4?
        var recordCount: UInt8
        var records: (StageRecord, StageRecord)
        /// Detail bytes in use in the entry's area (the records' ranges index it).
        var detailCount: UInt16
    }

    static let slots = 8192
    static let detailBytesPerSlot = 192

    let enabled: Bool
    /// Whether some policy rule reads the protocol or ports (`FibCache4` keys on them then).
    let usesPorts: Bool
    private let keys: UnsafeMutablePointer<Key>
    private let entries: UnsafeMutablePointer<Entry>
    private var detailArea: UnsafeMutablePointer<UInt8>?
    private(set) var hits = 0
    private(set) var misses = 0

    init(_ ns: Netns, enabled: Bool = RouteInputMemo.enabledByEnvironment) {
        self.enabled = enabled
        usesPorts = ns.rules4.contains { $0.sel.ipproto != nil || $0.sel.sport != nil || $0.sel.dport != nil }
        let n = enabled ? Self.slots : 1
        keys = .allocate(capacity: n)
        keys.initialize(repeating: Key.empty, count: n)
        entries = .allocate(capacity: n)
        let empty = Entry(reason: nil, route: nil, recordCount: 0,
                          records: (StageRecord(stage: .ipRouteInput, verdict: .pass), StageRecord(stage: .ipRouteInput, verdict: .pass)),
                          detailCount: 0)
        entries.initialize(repeating: empty, count: n)
    }

    deinit {
        keys.deallocate()
        entries.deallocate()
        detailArea?.deallocate()
    }

    /// `RXRAY_ROUTE_MEMO=0` turns the memo off.
    static var enabledByEnvironment: Bool {
        guard let v = getenv("RXRAY_ROUTE_MEMO") else { return true }
        return String(cString: v) != "0"
    }

    @inline(__always) static func slot(_ k: Key) -> Int {
        var h = k.addrs &* 0x9E37_79B9_7F4A_7C15
        h ^= k.rest &* 0xC2B2_AE3D_27D4_EB4F
        h ^= k.ports &* 0x1656_67B1_9E37_79F9
        h ^= h >> 29
        return Int(truncatingIfNeeded: h >> 20) & (slots - 1)
    }

    /// The stored decision for `key` (nil on a miss).
    @inline(__always) func entry(_ key: Key) -> UnsafeMutablePointer<Entry>? {
        let i = Self.slot(key)
        if keys[i] == key {
            hits &+= 1
            return entries + i
        }
        misses &+= 1
        return nil
    }

    /// The detail bytes of entry `e`.
    func detailBytes(_ e: UnsafeMutablePointer<Entry>) -> UnsafeBufferPointer<UInt8> {
        guard let area = detailArea, e.pointee.detailCount > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: area + (e - entries) * Self.detailBytesPerSlot, count: Int(e.pointee.detailCount))
    }

    /// Stores the decision the full path made: `r`'s records from `firstRecord` on.
    @inline(__always) func store(_ key: Key, reason: DropReason?, route: InputRoute4?, _ r: FrameResult, firstRecord: Int) {
        let n = r.stages.count - firstRecord
        guard n >= 0 && n <= 2 else { return }
        let i = Self.slot(key)
        let e = entries + i
        // Invalid until the entry is complete.
        keys[i] = Key.empty
        var recs = (StageRecord(stage: .ipRouteInput, verdict: .pass), StageRecord(stage: .ipRouteInput, verdict: .pass))
        var used = 0
        var area: UnsafeMutablePointer<UInt8>? = nil
        for k in 0..<n {
            var s = r.stages[firstRecord + k]
            if s.detailCount > 0 {
                let count = Int(s.detailCount)
                guard used + count <= Self.detailBytesPerSlot else { return }
                if detailArea == nil {
                    detailArea = .allocate(capacity: Self.slots * Self.detailBytesPerSlot)
                }
                if area == nil { area = detailArea! + (e - entries) * Self.detailBytesPerSlot }
                r.withDetail(of: s) { src in
                    UnsafeMutableRawPointer(area! + used).copyMemory(from: src.baseAddress!, byteCount: count)
                }
                // Checked once here, so each replay's JSON copies the text instead of escaping it.
                s.jsonSafe = ByteWriter.jsonCleanPrefix(UnsafeBufferPointer(start: area! + used, count: count)) == count
                // (Only the detail is kept, not a JSON form.)
                s.jsonCount = 0
                s.detailStart = Int32(used)
                used += count
            } else {
                s.detailStart = 0
            }
            if k == 0 { recs.0 = s } else { recs.1 = s }
        }
        e.pointee = Entry(reason: reason, route: route, recordCount: UInt8(n), records: recs, detailCount: UInt16(used))
        keys[i] = key
    }
}

extension Kernel {
    /// Unicast and broadcast input routing through the memo (`RouteInputMemo`): a hit replays
    /// the decision the full path (`ipRouteInputSlowFull`) made for the same inputs.
    func ipRouteInputSlow(_ skb: inout SKB, _ r: inout FrameResult) -> DropReason? {
        let memo = routeMemo
        // (The key holds 16 bits of the device index.)
        guard memo.enabled, skb.dev >= 0 && skb.dev <= 0xFFFF else { return ipRouteInputSlowFull(&skb, &r) }
        var proto: UInt8 = 0, sport: UInt16 = 0, dport: UInt16 = 0
        if memo.usesPorts {
            // The flow fields ipRouteInputSlowFull gives the FIB.
            proto = skb.v4Proto
            if skb.captured(skb.ihl + 4) && (proto == 6 || proto == 17) && !skb.v4IsFragment {
                sport = skb.buf.u16(skb.ihl)
                dport = skb.buf.u16(skb.ihl + 2)
            }
        }
        let key = RouteInputMemo.Key(daddr: skb.v4Daddr.value, saddr: skb.v4Saddr.value, mark: skb.mark, dev: skb.dev,
                                     tos: skb.v4TOS & 0x1C, detail: r.wantsDetail, proto: proto, sport: sport, dport: dport)
        if let e = memo.entry(key) {
            if let rt = e.pointee.route { skb.route4 = rt }
            let n = Int(e.pointee.recordCount)
            if n > 0 {
                if e.pointee.detailCount == 0 {
                    r.stages.append(StageRecord(stage: e.pointee.records.0.stage, verdict: e.pointee.records.0.verdict))
                    if n > 1 {
                        r.stages.append(StageRecord(stage: e.pointee.records.1.stage, verdict: e.pointee.records.1.verdict))
                    }
                } else {
                    let recs = e.pointee.records
                    let bytes = memo.detailBytes(e)
                    withUnsafeBytes(of: recs) { raw in
                        r.appendStages(UnsafeBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: StageRecord.self), count: n),
                                       detailBytes: bytes)
                    }
                }
            }
            return e.pointee.reason
        }
        let before = skb.route4
        skb.route4 = nil
        let first = r.stages.count
        let reason = ipRouteInputSlowFull(&skb, &r)
        let route = skb.route4
        if route == nil { skb.route4 = before }
        memo.store(key, reason: reason, route: route, r, firstRecord: first)
        return reason
    }
}
