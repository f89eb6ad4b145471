import RxrayDecode
import RxrayHost

/// Neighbour table parameters of one device and family (`net.ipv4.neigh.DEV.*`,
/// `net.ipv6.neigh.DEV.*`; `struct neigh_parms`). Times in nanoseconds.
public struct NeighParms: Sendable, Equatable {
    public var mcastSolicit = 3
    public var ucastSolicit = 3
    public var appSolicit = 0
    public var mcastResolicit = 0
    public var retransTime: Int64 = 1_000_000_000
    /// `base_reachable_time_ms`. The kernel draws `reachable_time` at random between half and
    /// one and a half times this; rxray uses the base value itself (deterministic output).
    public var baseReachableTime: Int64 = 30_000_000_000
    public var delayFirstProbeTime: Int64 = 5_000_000_000
    public var unresQlenBytes = 212_992
    /// `locktime`: an ARP answer within this time of the last update does not override it.
    public var locktime: Int64 = 1_000_000_000
    public init() {}

    /// The IPv6 defaults (`nd_tbl`): as IPv4 but with no lock time.
    public static var ipv6Defaults: NeighParms {
        var p = NeighParms()
        p.locktime = 0
        return p
    }
}

/// Neighbour Unreachability Detection states (`NUD_*` in include/uapi/linux/neighbour.h).
enum NUDState: UInt8 {
    case none, incomplete, reachable, stale, delay, probe, failed, noarp, permanent

    var name: String {
        switch self {
        case .none: return "NONE"
        case .incomplete: return "INCOMPLETE"
        case .reachable: return "REACHABLE"
        case .stale: return "STALE"
        case .delay: return "DELAY"
        case .probe: return "PROBE"
        case .failed: return "FAILED"
        case .noarp: return "NOARP"
        case .permanent: return "PERMANENT"
        }
    }
    /// `NUD_CONNECTED`: usable without any check.
    var isConnected: Bool { self == .reachable || self == .noarp || self == .permanent }
    /// `NUD_VALID`: has a link-layer address that output may use.
    var isValid: Bool { isConnected || self == .stale || self == .delay || self == .probe }
    /// `NUD_IN_TIMER`: a timer runs in this state.
    var inTimer: Bool { self == .incomplete || self == .reachable || self == .delay || self == .probe }

    /// The state of an `ip neigh` entry (its first state word).
    init(snapshot: String) {
        switch snapshot.uppercased() {
        case "PERMANENT": self = .permanent
        case "NOARP": self = .noarp
        case "REACHABLE": self = .reachable
        case "STALE": self = .stale
        // DELAY and PROBE are moments of a running check whose start the snapshot does not
        // give: they are taken as STALE (usable; the next packet starts a check of its own).
        case "DELAY", "PROBE": self = .stale
        case "FAILED": self = .failed
        default: self = .none
        }
    }
}

/// A neighbour table key: the next hop and the device.
struct NeighKey: Hashable {
    var address: IPAddress
    var dev: Int
}

/// A packet waiting on an unresolved neighbour (`neigh->arp_queue`): a forwarded frame, or a
/// reply the kernel generated for a frame. It keeps the frame's result as it stood, so that
/// the frame's fate can be finished when the neighbour resolves, fails or the input ends.
struct QueuedPacket {
    enum What {
        /// The frame itself, forwarded out of `egress`.
        case forward(egress: String)
        /// A packet the kernel generated because of the frame.
        case reply(Reply)
    }
    var frame: Int
    var what: What
    /// `skb->truesize` estimate (counts against `unres_qlen_bytes`).
    var truesize: Int
    /// Source address and ingress device of the packet, for the error `arp_error_report` /
    /// `ndisc_error_report` sends when resolution fails.
    var source: IPAddress
    var inDev: Int
    /// The frame's result before the neighbour took the packet.
    var fate: Fate
    var reason: DropReason?
    var stage: Stage?
    var egress: String?
    var nextHop: IPAddress?
    /// Whether the frame waits for this packet (its result is held until it settles).
    var holdsFrame: Bool
}

/// One neighbour entry (`struct neighbour`). Times are capture nanoseconds.
struct NeighEntryState {
    var state: NUDState
    var lladdr: MACAddress?
    var confirmed: Int64
    var updated: Int64
    var used: Int64
    /// When the entry's timer fires (`.max`: none).
    var timer: Int64 = .max
    var probes = 0
    /// Solicitations sent since resolution started (for the report when it fails).
    var solicits = 0
    var queue: [QueuedPacket] = []
    var queueBytes = 0
    /// Creation order, for deterministic timer processing.
    var serial: Int
}

/// The namespace's neighbour tables (ARP and ND), loaded from the host's `ip neigh` and
/// updated by ARP/ND frames in the input, with NUD timers run against capture time.
///
/// Mirrors `struct neigh_table` (`arp_tbl`, `nd_tbl`) of net/core/neighbour.c.
struct NeighTable {
    var entries: [NeighKey: NeighEntryState] = [:]
    var loaded = false
    var serial = 0
    /// No timer fires before this (a lower bound; `.max` when no entry has a timer).
    var earliest: Int64 = .max
    /// Entries with a non-empty queue.
    var queued = 0
    /// When the last forced collection ran.
    var lastFlush: Int64 = .min
    /// `gc_thresh1..3` (table-wide, set only in the initial namespace; the defaults).
    static let gcThresh1 = 128
    static let gcThresh2 = 512
    static let gcThresh3 = 1024
}

/// What the neighbour did with a packet handed to it.
enum NeighVerdict {
    /// Sent now (resolved, or no resolution needed / modelled).
    case sent
    /// Queued until the neighbour resolves.
    case queued
    /// Freed (`NEIGH_FAILED` when no probes are configured).
    case dropped(DropReason)
}

extension Kernel {
    // MARK: - Table set-up and lookup

    /// Loads the host's `ip neigh` entries once, when the first frame arrives.
    func neighLoad() {
        guard !neigh.loaded else { return }
        neigh.loaded = true
        for n in ns.neighbours {
            let st = NUDState(snapshot: n.state)
            guard st != .none || n.lladdr != nil else { continue }
            let p = neighParms(n.dev, v6: !n.address.isV4)
            // Only a REACHABLE entry was confirmed recently; the others count as confirmed
            // long ago (their next use starts the delay-first-probe check from scratch).
            var e = NeighEntryState(state: st, lladdr: n.lladdr,
                                    confirmed: st == .reachable ? now : now &- p.baseReachableTime &- p.delayFirstProbeTime,
                                    updated: now, used: now, serial: neigh.serial)
            if st == .failed || (st != .noarp && st != .permanent && n.lladdr == nil) { e.state = .failed; e.lladdr = nil }
            if e.state == .reachable { e.timer = now &+ p.baseReachableTime }
            neigh.serial += 1
            neigh.entries[NeighKey(address: n.address, dev: n.dev)] = e
            if e.timer < neigh.earliest { neigh.earliest = e.timer }
        }
    }

    /// The parameters of device `dev` for one family.
    func neighParms(_ dev: Int, v6: Bool) -> NeighParms {
        let list = v6 ? ns.neigh6 : ns.neigh4
        if dev >= 0 && dev < list.count { return list[dev] }
        return v6 ? .ipv6Defaults : NeighParms()
    }

    /// Whether output on `dev` resolves neighbours: devices with ARP (Ethernet and the
    /// devices stacked on it), not loopback or other `IFF_NOARP` devices.
    func neighNeedsResolution(_ dev: Int) -> Bool {
        switch ns.devices[dev].kind {
        case .ethernet, .vlan, .bridge, .bond, .macvlan: return true
        case .loopback, .other: return false
        }
    }

    /// A rough `skb->truesize` for a packet of `len` network bytes: the data buffer (with
    /// headroom and `skb_shared_info`) rounded to a cache line, plus the `sk_buff` itself.
    static func truesize(_ len: Int) -> Int { ((len + 14 + 64 + 320 + 63) & ~63) + 256 }

    // MARK: - Output (`neigh_resolve_output` / `__neigh_event_send`)

    /// Hands a packet to the neighbour `nexthop` on `dev`. Resolved entries send at once
    /// (a STALE entry starts the delay-first-probe check); an entry without a usable address
    /// goes INCOMPLETE, the packet is queued and a solicitation is sent (recorded in `r`).
    ///
    /// Mirrors `neigh_resolve_output()` → `neigh_event_send()` → `__neigh_event_send()` in
    /// net/core/neighbour.c. - Complexity: O(1) for a resolved next hop (one hash lookup).
    func neighOutput(_ nexthop: IPAddress, dev: Int, packet makePacket: @autoclosure () -> QueuedPacket,
                     _ r: inout FrameResult) -> NeighVerdict {
        guard ns.neighboursKnown, neighNeedsResolution(dev) else { return .sent }
        switch nexthop {
        case .v4(let a): if a.isMulticast || a.isLimitedBroadcast || a.value == 0 || isBroadcast4(a, dev: dev) { return .sent }
        case .v6(let a): if a.isMulticast { return .sent }
        }
        neighLoad()
        let key = NeighKey(address: nexthop, dev: dev)
        if let i = neigh.entries.index(forKey: key) {
            // The common case reads the entry in place (through the values' modify accessor:
            // their getter copied the entry, retaining and releasing its queue) and writes only
            // the use time.
            let now = self.now
            let sent = Self.touchIfSendable(&neigh.entries.values[i], now: now)
            if sent { return .sent }
            let p = neighParms(dev, v6: !nexthop.isV4)
            var e = neigh.entries.values[i]
            e.used = now
            if e.state == .stale {
                e.state = .delay
                e.updated = now
                neighSetTimer(&e, now &+ p.delayFirstProbeTime)
                neigh.entries[key] = e
                r.record(.neighResolveOutput, .note, "neighbour \(nexthop) on \(devName(dev)) is STALE (\(e.lladdr.map { "\($0)" } ?? "?")): sent, DELAY for \(p.delayFirstProbeTime / 1_000_000) ms before a unicast probe")
                return .sent
            }
            return neighStartOrQueue(key, &e, p, packet: makePacket(), &r)
        }
        let p = neighParms(dev, v6: !nexthop.isV4)
        guard neighMakeRoom() else {
            r.record(.neighResolveOutput, .note, "the neighbour table is full (gc_thresh3 \(NeighTable.gcThresh3) entries) and nothing could be collected")
            return .dropped(.neighCreatefail)
        }
        var e = NeighEntryState(state: .none, lladdr: nil, confirmed: now &- p.baseReachableTime, updated: now,
                                used: now, serial: neigh.serial)
        neigh.serial += 1
        return neighStartOrQueue(key, &e, p, packet: makePacket(), &r)
    }

    /// Whether a packet to `e`'s neighbour goes out at once (PERMANENT, NOARP, a connected
    /// state, DELAY or PROBE); for a connected, DELAY or PROBE entry the use time moves to `now`.
    @inline(__always) private static func touchIfSendable(_ e: inout NeighEntryState, now: Int64) -> Bool {
        let state = e.state
        if state == .permanent || state == .noarp { return true }
        if state.isConnected || state == .delay || state == .probe {
            if e.used != now { e.used = now }
            return true
        }
        return false
    }

    /// Room for one more entry: at `gc_thresh2` (and 5 s after the last flush) or at
    /// `gc_thresh3`, entries that are FAILED, unresolved or not updated for 5 s and hold no
    /// packets are removed (`neigh_forced_gc`); creation fails only when the table stays at
    /// `gc_thresh3`. Mirrors `neigh_alloc()`'s checks in net/core/neighbour.c.
    func neighMakeRoom() -> Bool {
        let n = neigh.entries.count
        guard n >= NeighTable.gcThresh2 else { return true }
        if n >= NeighTable.gcThresh3 || now > neigh.lastFlush &+ 5_000_000_000 {
            let old = now &- 5_000_000_000
            neigh.entries = neigh.entries.filter { _, e in
                e.state == .permanent || e.state == .noarp || !e.queue.isEmpty
                    || !(e.state == .failed || e.state == .none || e.updated < old)
            }
            neigh.lastFlush = now
        }
        return neigh.entries.count < NeighTable.gcThresh3
    }

    /// The periodic collection (`neigh_periodic_work`): above `gc_thresh1`, FAILED entries and
    /// entries unused for `gc_stale_time` (60 s) that hold no packets are removed.
    private func neighPeriodicGC(now t: Int64) {
        guard neigh.entries.count >= NeighTable.gcThresh1 else { return }
        let stale = t &- 60_000_000_000
        neigh.entries = neigh.entries.filter { _, e in
            e.state == .permanent || e.state == .noarp || !e.queue.isEmpty || e.timer != .max
                || !(e.state == .failed || e.used < stale)
        }
    }

    /// The NONE/FAILED/INCOMPLETE half of `__neigh_event_send`: start resolution if needed,
    /// then queue the packet (dropping the oldest ones over `unres_qlen_bytes`).
    private func neighStartOrQueue(_ key: NeighKey, _ e: inout NeighEntryState, _ p: NeighParms,
                                   packet: QueuedPacket, _ r: inout FrameResult) -> NeighVerdict {
        let dev = key.dev
        var solicit = false
        if e.state != .incomplete {
            if p.mcastSolicit + p.appSolicit <= 0 {
                e.state = .failed
                e.updated = now
                neigh.entries[key] = e
                return .dropped(.neighFailed)
            }
            e.probes = p.ucastSolicit
            e.solicits = 0
            e.state = .incomplete
            e.updated = now
            neighSetTimer(&e, now &+ max(p.retransTime, 10_000_000))
            solicit = true
        }
        var evicted: [QueuedPacket] = []
        while e.queueBytes + packet.truesize > p.unresQlenBytes, !e.queue.isEmpty {
            let old = e.queue.removeFirst()
            e.queueBytes -= old.truesize
            evicted.append(old)
        }
        if e.queue.isEmpty { neigh.queued += 1 }
        e.queue.append(packet)
        e.queueBytes += packet.truesize
        if solicit {
            e.solicits += 1
            e.probes += 1
            neighSolicit(key, &e, p, multicast: true, &r)
        }
        neigh.entries[key] = e
        if packet.holdsFrame { heldThisFrame = true }
        if r.wantsDetail {
            let what: String
            switch packet.what {
            case .forward: what = "the packet"
            case .reply(let rep): what = "the \(rep.summary.isEmpty ? rep.kindName : rep.summary)"
            }
            r.record(.neighResolveOutput, .hold, "no usable neighbour entry for \(key.address) on \(devName(dev)): \(what) waits on it (INCOMPLETE, \(e.queue.count) queued, \(e.queueBytes) of \(p.unresQlenBytes) bytes)" + (solicit ? "; \(key.address.isV4 ? "ARP request" : "neighbour solicitation") sent" : ""))
        } else {
            r.record(.neighResolveOutput, .hold)
        }
        for old in evicted {
            let detail = "dropped from the queue of neighbour \(key.address): unres_qlen_bytes \(p.unresQlenBytes) full (frame \(r.frame)'s packet took its place)"
            if old.frame == r.frame {
                // The frame's own earlier packet (e.g. two replies): recorded on it directly.
                r.record(.neighResolveOutput, .drop, detail)
                continue
            }
            settleQueued(old, fate: .dropped, reason: .neighQueuefull, stage: .neighResolveOutput, noteStage: .neighResolveOutput,
                         detail: detail, replies: [])
        }
        return .queued
    }

    /// Sends a solicitation for `key` (`arp_solicit` / `ndisc_solicit`): broadcast ARP or an NS
    /// to the solicited-node group while INCOMPLETE, unicast to the known address when probing.
    private func neighSolicit(_ key: NeighKey, _ e: inout NeighEntryState, _ p: NeighParms, multicast: Bool,
                              _ r: inout FrameResult) {
        let dev = key.dev
        switch key.address {
        case .v4(let target):
            let src = neighSource4(target, dev: dev, queued: e.queue.last)
            r.replies.append(Reply(kind: .arpRequest, interface: devName(dev), source: src.map { .v4($0) }, destination: .v4(target),
                                   summary: r.wantsDetail ? "who-has \(target) tell \(src.map { "\($0)" } ?? "0.0.0.0")" + (multicast ? "" : " (unicast to \(e.lladdr.map { "\($0)" } ?? "?"))") : ""))
        case .v6(let target):
            let src = neighSource6(target, dev: dev, queued: e.queue.last)
            r.count(.icmp6OutMsgs)
            r.replies.append(Reply(kind: .neighbourSolicit, interface: devName(dev), source: src.map { .v6($0) },
                                   destination: .v6(multicast ? target.solicitedNode : target),
                                   summary: r.wantsDetail ? "who has \(target)" + (multicast ? " (to \(target.solicitedNode))" : " (unicast)") : ""))
        }
    }

    /// `arp_solicit`'s source address (arp_announce 0): the queued packet's source when it
    /// is local, else an address of `dev` on the target's subnet, else its first address.
    private func neighSource4(_ target: IPv4Address, dev: Int, queued: QueuedPacket?) -> IPv4Address? {
        let d = ns.devices[dev]
        if ns.devices[dev].conf4.arpAnnounce < 2, case .v4(let s)? = queued?.source, ns.isLocalAddress(s),
           ns.devices[dev].conf4.arpAnnounce == 0 || d.v4.contains(where: { $0.contains(s) }) {
            return s
        }
        return d.v4.first { $0.contains(target) }?.address ?? d.v4.first?.address
    }

    /// `ndisc_solicit`'s source: the queued packet's source when it is an address of `dev`,
    /// else the device's link-local address (`ndisc_send_ns` → `ipv6_get_lladdr`).
    private func neighSource6(_ target: IPv6Address, dev: Int, queued: QueuedPacket?) -> IPv6Address? {
        let d = ns.devices[dev]
        if case .v6(let s)? = queued?.source, d.v6.contains(where: { $0.address == s }) { return s }
        return d.v6.first { $0.address.isLinkLocal }?.address
    }

    private func isBroadcast4(_ a: IPv4Address, dev: Int) -> Bool {
        ns.devices[dev].v4.contains { $0.broadcast == a }
    }

    private func neighSetTimer(_ e: inout NeighEntryState, _ t: Int64) {
        e.timer = t
        if t < neigh.earliest { neigh.earliest = t }
    }

    // MARK: - Updates from received ARP / ND (`neigh_update`)

    /// Updates (or fills) an entry with `lladdr` in state `new`. A first valid address
    /// sends everything queued on the entry; the packets are recorded on `r` (the frame that
    /// resolved the neighbour) and their own frames settle.
    ///
    /// Mirrors `neigh_update()` / `__neigh_update()` in net/core/neighbour.c (not as admin).
    /// - Returns: whether the entry changed.
    @discardableResult
    func neighUpdate(_ key: NeighKey, lladdr: MACAddress?, new: NUDState, override: Bool, weakOverride: Bool = false,
                     create: Bool, _ r: inout FrameResult) -> Bool {
        guard ns.neighboursKnown, neighNeedsResolution(key.dev) else { return false }
        neighLoad()
        let p = neighParms(key.dev, v6: !key.address.isV4)
        var e: NeighEntryState
        if let old = neigh.entries[key] {
            e = old
        } else {
            guard create else { return false }
            e = NeighEntryState(state: .none, lladdr: nil, confirmed: now &- p.baseReachableTime, updated: now,
                                used: now &- p.delayFirstProbeTime, serial: neigh.serial)
            neigh.serial += 1
            neigh.entries[key] = e
        }
        let old = e.state
        if old == .noarp || old == .permanent { return false }
        var newState = new
        var addr = lladdr
        if let l = lladdr {
            if old.isValid, e.lladdr == l { addr = e.lladdr }
        } else {
            guard old.isValid else { return false }
            addr = e.lladdr
        }
        if newState.isConnected { e.confirmed = now }
        if old.isValid {
            if addr != e.lladdr && !override {
                if weakOverride && old.isConnected {
                    addr = e.lladdr
                    newState = .stale
                } else {
                    neigh.entries[key] = e
                    return false
                }
            } else if addr == e.lladdr && newState == .stale {
                newState = old
            }
        }
        if newState != old {
            e.timer = .max
            if newState == .probe { e.probes = 0 }
            if newState.inTimer {
                neighSetTimer(&e, newState == .reachable ? now &+ p.baseReachableTime : now)
            }
            e.state = newState
        }
        if addr != e.lladdr {
            e.lladdr = addr
            e.updated = now
        }
        e.updated = now
        let release = !old.isValid && newState.isValid && !e.queue.isEmpty
        let queue = release ? e.queue : []
        if release {
            e.queue.removeAll()
            e.queueBytes = 0
            neigh.queued -= 1
        }
        neigh.entries[key] = e
        if r.wantsDetail {
            r.record(.neighUpdate, .note) { w in
                w.ascii("neighbour "); key.address.write(to: &w)
                w.ascii(" on "); w.string(devName(key.dev))
                w.ascii(": "); w.string(old.name); w.ascii(" → "); w.string(newState.name)
                if let a = addr { w.ascii(" ("); a.write(to: &w); w.byte(41) }
                if release {
                    w.ascii(", "); w.decimal(queue.count)
                    w.ascii(queue.count == 1 ? " queued packet sent" : " queued packets sent")
                }
            }
        } else {
            r.record(.neighUpdate, .note)
        }
        if release { releaseQueue(queue, key: key, lladdr: addr, &r) }
        return true
    }

    /// Sends packets that waited on a neighbour which just resolved: a generated reply goes
    /// out now (on `r`, the frame that resolved it); every queued frame settles.
    private func releaseQueue(_ queue: [QueuedPacket], key: NeighKey, lladdr: MACAddress?, _ r: inout FrameResult) {
        for q in queue {
            switch q.what {
            case .forward(let egress):
                if q.frame == r.frame {
                    r.record(.neighUpdate, .forward, "the packet leaves \(egress) to \(key.address)")
                    continue
                }
                settleQueued(q, fate: .forwarded, reason: nil, stage: nil, egress: egress, nextHop: key.address,
                             noteStage: .neighUpdate,
                             detail: "sent out of \(egress) when frame \(r.frame) resolved \(key.address) (\(lladdr.map { "\($0)" } ?? "?"))",
                             replies: [])
            case .reply(let rep):
                r.replies.append(rep)
                if q.frame == r.frame { continue }
                settleQueued(q, fate: q.fate, reason: q.reason, stage: q.stage, egress: q.egress, nextHop: q.nextHop,
                             noteStage: .neighUpdate,
                             detail: "its \(rep.kindName) was sent when frame \(r.frame) resolved \(key.address)", replies: [])
            }
        }
    }

    /// Finishes a queued packet's frame (if the frame waits for it).
    private func settleQueued(_ q: QueuedPacket, fate: Fate, reason: DropReason?, stage: Stage?, egress: String? = nil,
                              nextHop: IPAddress? = nil, noteStage: Stage, detail: String, replies: [Reply]) {
        guard q.holdsFrame else { return }
        var res = HoldResolution(frames: [q.frame], fate: fate, reason: reason, stage: stage, egress: egress, nextHop: nextHop,
                                 detail: detail, replies: replies)
        res.noteStage = noteStage
        resolutions.append(res)
    }

    // MARK: - Timers (`neigh_timer_handler`)

    /// Runs every neighbour timer due by `t` (capture time), in time order: REACHABLE ages
    /// to STALE (or DELAY), DELAY becomes PROBE unless confirmed, INCOMPLETE and PROBE send
    /// their next solicitation every `retrans_time` and fail after the last one; a failed
    /// entry drops its queue (`NEIGH_FAILED`) and reports each packet unreachable to its
    /// source, as `arp_error_report` / `ndisc_error_report` do.
    ///
    /// Solicitations a timer sends are counted and reported on the waiting frame when
    /// resolution fails; they are not replies of a later frame.
    func neighTimers(now t: Int64) {
        guard neigh.earliest <= t, t != .max else { return }
        let saved = now
        defer { now = saved }
        // Every due entry fires once per round, in time order; entries whose next timer is
        // still due come back in the next round (one scan per round, not per event).
        var due: [(NeighKey, Int64, Int)] = []
        while true {
            due.removeAll(keepingCapacity: true)
            for (k, e) in neigh.entries where e.timer <= t { due.append((k, e.timer, e.serial)) }
            if due.isEmpty { break }
            due.sort { $0.1 != $1.1 ? $0.1 < $1.1 : $0.2 < $1.2 }
            for (key, when, _) in due { neighFire(key, when) }
        }
        neighPeriodicGC(now: t)
        var earliest = Int64.max
        for e in neigh.entries.values where e.timer < earliest { earliest = e.timer }
        neigh.earliest = earliest
    }

    /// One run of an entry's timer at `when` (`neigh_timer_handler`).
    private func neighFire(_ key: NeighKey, _ when: Int64) {
        guard var e = neigh.entries[key] else { return }
        now = when
        let p = neighParms(key.dev, v6: !key.address.isV4)
        var nextTimer = when &+ 1_000_000_000
        switch e.state {
        case .reachable:
            if when <= e.confirmed &+ p.baseReachableTime {
                nextTimer = e.confirmed &+ p.baseReachableTime
            } else if when <= e.used &+ p.delayFirstProbeTime {
                e.state = .delay
                e.updated = when
                nextTimer = when &+ p.delayFirstProbeTime
            } else {
                e.state = .stale
                e.updated = when
            }
        case .delay:
            if when <= e.confirmed &+ p.delayFirstProbeTime {
                e.state = .reachable
                e.updated = when
                nextTimer = e.confirmed &+ p.baseReachableTime
            } else {
                e.state = .probe
                e.updated = when
                e.probes = 0
                e.solicits = 0
                nextTimer = when &+ max(p.retransTime, 10_000_000)
            }
        default:
            nextTimer = when &+ max(p.retransTime, 10_000_000)
        }
        let maxProbes = p.ucastSolicit + p.appSolicit + (e.state == .probe ? p.mcastResolicit : p.mcastSolicit)
        if (e.state == .incomplete || e.state == .probe) && e.probes >= maxProbes {
            e.state = .failed
            e.timer = .max
            e.updated = when
            let queue = e.queue
            let sent = e.solicits
            e.queue.removeAll()
            e.queueBytes = 0
            if !queue.isEmpty { neigh.queued -= 1 }
            neigh.entries[key] = e
            neighFailQueue(queue, key: key, solicits: sent, at: when, p)
            return
        }
        if e.state.inTimer {
            e.timer = max(nextTimer, when &+ 10_000_000)
        } else {
            e.timer = .max
        }
        if e.state == .incomplete || e.state == .probe {
            // The solicitation itself: counted for the failure report, not a reply.
            e.probes += 1
            e.solicits += 1
        }
        neigh.entries[key] = e
    }

    /// Drops a failed neighbour's queue: each packet is reported unreachable to its source
    /// (ICMP host unreachable, ICMPv6 address unreachable) and freed with `NEIGH_FAILED`.
    private func neighFailQueue(_ queue: [QueuedPacket], key: NeighKey, solicits: Int, at when: Int64, _ p: NeighParms) {
        var first = true
        for q in queue {
            var scratch = FrameResult()
            scratch.wantsDetail = wantsDetail
            scratch.frame = q.frame
            if first && solicits > 1 {
                // The retransmitted solicitations, reported with the packet that waited for them.
                for _ in 1..<solicits {
                    var e = neigh.entries[key] ?? NeighEntryState(state: .failed, lladdr: nil, confirmed: 0, updated: 0, used: 0, serial: 0)
                    e.queue = [q]
                    neighSolicit(key, &e, p, multicast: true, &scratch)
                }
            }
            first = false
            neighErrorReport(q, &scratch)
            let detail = "neighbour \(key.address) on \(devName(key.dev)) failed after \(solicits) \(key.address.isV4 ? "ARP request" : "neighbour solicitation")\(solicits == 1 ? "" : "s") without an answer: the packet is dropped"
            let keepReason = q.fate == .dropped
            // 6.18 frees an IPv4 packet with NEIGH_FAILED (arp_error_report) and an IPv6 one
            // without a reason (ndisc_error_report leaves it to the queue purge).
            let reason: DropReason = key.address.isV4 ? .neighFailed : .notSpecified
            if q.holdsFrame {
                var res = HoldResolution(frames: [q.frame], fate: .dropped, reason: keepReason ? q.reason : reason,
                                         stage: keepReason ? q.stage : .neighTimerHandler, egress: nil, nextHop: nil,
                                         detail: detail, counters: scratch.counters, replies: scratch.replies)
                res.noteStage = .neighTimerHandler
                res.stages = scratch.stages
                res.stageDetails = scratch.details
                resolutions.append(res)
            }
        }
    }

    /// `arp_error_report` → `ipv4_link_failure` / `ndisc_error_report` → `ip6_link_failure`:
    /// the unreachable error about a packet that could not be delivered to its next hop.
    private func neighErrorReport(_ q: QueuedPacket, _ r: inout FrameResult) {
        switch q.source {
        case .v4(let src):
            // A packet of our own (a reply) would report to ourselves over loopback: nothing
            // leaves the host.
            if ns.isLocalAddress(src) || src.value == 0 || src.isMulticast || src.isLimitedBroadcast { return }
            guard let (out, from) = outputRoute(to: src, preferredSource: nil, inbound: q.inDev) else { return }
            guard rateLimitICMP(type: 3, code: 1, dst: .v4(src), outDev: out, &r) else { return }
            r.count(.icmpOutMsgs)
            r.count(.ipOutRequests)
            r.replies.append(Reply(kind: .icmp(type: 3, code: 1), interface: devName(out), source: .v4(from), destination: .v4(src),
                                   summary: r.wantsDetail ? icmpText(3, 1, 0) : ""))
        case .v6(let src):
            if ns.isLocalAddress(src) || src.isUnspecified || src.isMulticast { return }
            guard let out = outputRoute6(to: src, inbound: q.inDev) else { return }
            guard peerAllow(.v6(src), cost: Int64(ns.sysctl.icmpv6RatelimitMs) * 1_000_000,
                            burst: Int64(ns.sysctl.icmpv6RatelimitMs) * 6_000_000) else { return }
            r.count(.icmp6OutMsgs)
            r.replies.append(Reply(kind: .icmpv6(type: 1, code: 3), interface: devName(out), source: nil, destination: .v6(src),
                                   summary: r.wantsDetail ? "address unreachable" : ""))
        }
    }

    // MARK: - End of input

    /// Settles frames whose packets still wait on a neighbour when the input ends: the
    /// capture does not say what came next, so they keep the fate they had when their packet
    /// was queued (a forwarded one counts as neither dropped nor sent: `delivered`).
    func neighFinish() {
        guard neigh.queued > 0 else { return }
        let keys = neigh.entries.filter { !$0.value.queue.isEmpty }.sorted { $0.value.serial < $1.value.serial }
        for (key, e) in keys {
            let p = neighParms(key.dev, v6: !key.address.isV4)
            let failAt = e.updated &+ Int64(max(0, p.mcastSolicit + p.appSolicit)) * p.retransTime
            for q in e.queue {
                let fate: Fate
                switch q.what {
                case .forward: fate = .delivered
                case .reply: fate = q.fate
                }
                settleQueued(q, fate: fate, reason: fate == .dropped ? q.reason : nil, stage: fate == .dropped ? q.stage : nil,
                             egress: fate == .forwarded ? q.egress : nil, nextHop: fate == .forwarded ? q.nextHop : nil,
                             noteStage: .neighResolveOutput,
                             detail: "still queued on neighbour \(key.address) (INCOMPLETE) when the input ends: sent if an answer comes, else dropped (NEIGH_FAILED) about \(Double(failAt &- e.updated) / 1e9) s after resolution started",
                             replies: [])
            }
            neigh.entries[key]?.queue.removeAll()
            neigh.entries[key]?.queueBytes = 0
        }
        neigh.queued = 0
    }
}

extension NeighParms {
    /// The parameters of interface `dev` from the host's sysctls (`net.ipv4.neigh.DEV.*` or
    /// `net.ipv6.neigh.DEV.*`), kernel defaults for what is missing.
    init(sysctls: Sysctls, dev: String, v6: Bool) {
        self = v6 ? .ipv6Defaults : NeighParms()
        let k = "net.\(v6 ? "ipv6" : "ipv4").neigh.\(dev.replacingOccurrences(of: ".", with: "/"))."
        mcastSolicit = sysctls.int(k + "mcast_solicit", fallback: mcastSolicit)
        ucastSolicit = sysctls.int(k + "ucast_solicit", fallback: ucastSolicit)
        appSolicit = sysctls.int(k + "app_solicit", fallback: appSolicit)
        mcastResolicit = sysctls.int(k + "mcast_resolicit", fallback: mcastResolicit)
        retransTime = Int64(sysctls.int(k + "retrans_time_ms", fallback: Int(retransTime / 1_000_000))) * 1_000_000
        baseReachableTime = Int64(sysctls.int(k + "base_reachable_time_ms", fallback: Int(baseReachableTime / 1_000_000))) * 1_000_000
        delayFirstProbeTime = Int64(sysctls.int(k + "delay_first_probe_time", fallback: Int(delayFirstProbeTime / 1_000_000_000))) * 1_000_000_000
        unresQlenBytes = sysctls.int(k + "unres_qlen_bytes", fallback: unresQlenBytes)
        // `locktime` is in USER_HZ (1/100 s).
        locktime = Int64(sysctls.int(k + "locktime", fallback: Int(locktime / 10_000_000))) * 10_000_000
    }
}

extension Kernel {
    /// A short description of the neighbour entry for `addr` on `dev`, for traces.
    func neighDescription(_ addr: IPAddress, dev: Int) -> String {
        if ns.neighboursKnown && neighNeedsResolution(dev) {
            if let e = neigh.entries[NeighKey(address: addr, dev: dev)] {
                return "neighbour \(addr) is \(e.lladdr.map { "\($0)" } ?? "unresolved") (\(e.state.name))"
            }
            return "neighbour \(addr) needs no resolution"
        }
        if !neighNeedsResolution(dev) { return "\(devName(dev)) needs no neighbour resolution" }
        if let n = ns.neighbours.first(where: { $0.address == addr && $0.dev == dev }) {
            return n.isUsable ? "neighbour \(addr) is \(n.lladdr!) (\(n.state))" : "neighbour \(addr) is \(n.state)"
        }
        return "no neighbour entry for \(addr) (the host's neighbour table is not known: resolution not modelled)"
    }
    /// Hands a forwarded packet (IPv4 or IPv6) to its next hop: the frame is forwarded out of
    /// `dev` at once when the neighbour is resolved, waits on it while resolution runs, or is
    /// dropped when it cannot be resolved. `stage` is the stage that records the transmission.
    ///
    /// Takes the packet's source, length and input device, not the `SKB` (a by-value `SKB`,
    /// 280 bytes, was copied at every call).
    func neighForward(to nexthop: IPAddress, dev out: Int, source: IPAddress, len: Int, inDev: Int, stage: Stage,
                      _ r: inout FrameResult) {
        let egress = devName(out)
        r.fate = .forwarded
        r.egress = egress
        r.nextHop = nexthop
        // Built only if the packet must wait for the neighbour (the argument is an autoclosure):
        // a reachable next hop, almost every forwarded packet, makes no queue entry.
        let frame = r.frame
        switch neighOutput(nexthop, dev: out, packet: QueuedPacket(
            frame: frame, what: .forward(egress: egress), truesize: Kernel.truesize(len),
            source: source, inDev: inDev, fate: .forwarded, reason: nil, stage: nil,
            egress: egress, nextHop: nexthop, holdsFrame: true), &r) {
        case .sent:
            r.recordJSONSafe(stage, .forward, writing: { w in
                w.ascii("out "); w.string(egress); w.ascii(" to "); nexthop.write(to: &w); w.ascii("; ")
                return writeNeighDescription(nexthop, dev: out, to: &w) && ns.devices[out].nameJSONSafe
            })
        case .queued:
            break
        case .dropped(let reason):
            r.egress = nil
            r.nextHop = nil
            r.drop(reason, at: .neighResolveOutput, "neighbour \(nexthop) cannot be resolved: no probes are configured")
        }
    }


    /// Passes the replies the frame generated through their next hop's neighbour: replies
    /// whose next hop is not resolved are queued on it (the solicitation goes out instead).
    /// ARP replies are exempt (`arp_send` addresses the asker directly).
    ///
    /// Mirrors the `ip_finish_output2` / `ip6_finish_output2` step of locally generated
    /// packets (`icmp_reply`, `icmp_send`, `tcp_v4_send_reset`, `ndisc_send_na`, ...).
    func neighOutputReplies(_ r: inout FrameResult) {
        guard ns.neighboursKnown, !r.replies.isEmpty else { return }
        var i = 0
        while i < r.replies.count {
            let rep = r.replies[i]
            guard let (dev, nexthop) = replyNextHop(rep) else { i += 1; continue }
            let src: IPAddress = rep.source ?? (nexthop.isV4 ? .v4(IPv4Address(0)) : .v6(IPv6Address(high: 0, low: 0)))
            // The queue entry is built only if the reply must wait (the argument is an
            // autoclosure): a resolved next hop, almost every reply, makes none.
            let frame = r.frame, fate = r.fate, reason = r.dropReason, stage = r.dropStage
            let egress = r.egress, hop = r.nextHop
            switch neighOutput(nexthop, dev: dev, packet: QueuedPacket(
                frame: frame, what: .reply(rep), truesize: Kernel.truesize(64), source: src, inDev: dev,
                fate: fate, reason: reason, stage: stage, egress: egress, nextHop: hop, holdsFrame: true), &r) {
            case .sent:
                i += 1
            case .queued:
                r.replies.remove(at: i)
            case .dropped(let reason):
                r.replies.remove(at: i)
                r.record(.neighResolveOutput, .drop, "the \(rep.kindName) to \(nexthop) is dropped (\(reason.name)): no probes are configured")
            }
        }
    }

    /// The device and next hop a generated reply leaves by, or nil when it needs no neighbour
    /// (ARP, solicitations, loopback, multicast) or has no route.
    private func replyNextHop(_ rep: Reply) -> (Int, IPAddress)? {
        switch rep.kind {
        case .arpReply, .arpRequest, .neighbourSolicit: return nil
        default: break
        }
        guard let dst = rep.destination, let dev = ns.device(named: rep.interface), neighNeedsResolution(dev) else { return nil }
        switch dst {
        case .v4(let a):
            if a.isMulticast || a.isLimitedBroadcast { return nil }
            // Through the route cache; the next hop read in place (a copy of the route retained
            // its next hops).
            let lk = fibLookupCached(Flow4(daddr: a, saddr: IPv4Address(0), iif: ns.loopback, oif: nil))
            guard let res = lk.result else { return (dev, dst) }
            if res.type != .unicast { return nil }
            let hops = ns.routes4[res.route].nexthops.count
            let hop = res.nexthop < hops ? ns.routes4[res.route].nexthops[res.nexthop] : ns.routes4[res.route].nexthops.first
            return (hop?.dev ?? dev, .v4(hop?.gateway ?? a))
        case .v6(let a):
            if a.isMulticast { return nil }
            if a.isLinkLocal { return (dev, dst) }
            let lk = ns.fib6Lookup(Flow6(daddr: a, saddr: IPv6Address(high: 0, low: 0), iif: ns.loopback))
            guard let rt = lk.route, lk.error == nil else { return (dev, dst) }
            let route = ns.routes6[rt]
            if route.type != .unicast { return nil }
            return (route.dev ?? dev, .v6(route.gateway ?? a))
        }
    }
}
