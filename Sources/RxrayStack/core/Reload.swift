import RxrayDecode
import RxrayHost
import RxrayNetfilter

// A new configuration for a running analyzer (rxray live on SIGHUP), keeping what traffic built.
//
// Configuration is what a snapshot says: devices, addresses, routes and policy rules, sysctls,
// listening sockets, multicast memberships, the neighbour entries an administrator set, and the
// netfilter rulesets. State is what the frames built since: the conntrack table (with NAT
// bindings), TCP request and connection sockets and the listeners' queues, fragment queues,
// GRO holds, neighbour entries and their queues, ICMP rate limiters. The kernel keeps its state
// when someone adds a rule or an address; so does `reload`.
//
// Every state field of `Kernel` is moved in `Kernel.takeState(from:devicesChanged:routesChanged:)`:
// a field added to `Kernel` later must be moved there too (or it restarts on every reload).

/// What `Analyzer.reload` kept and what it could not.
public struct ReloadOutcome: Sendable, Equatable {
    /// The device list differs (an interface added, removed or renumbered).
    public var devicesChanged = false
    /// Routes or policy rules differ.
    public var routesChanged = false
    /// Frames held by device-bound state (GRO holds, fragment and neighbour queues) that were
    /// settled under the old configuration because the device list changed.
    public var settledBeforeSwap = 0
    /// Whether limit/hashlimit/statistic state restarted (there was some, and the rules changed).
    public var ruleStateReset = false
    /// Connections in the conntrack table after the swap.
    public var conntrackEntries = 0
    /// TCP request and connection sockets kept.
    public var tcpConnections = 0
    /// Requests and not yet accepted connections of listeners the new configuration no longer
    /// has (the kernel frees them when the listener closes).
    public var tcpConnectionsDropped = 0

    public init() {}
}

extension Analyzer {
    /// Applies a new host configuration to this analyzer, keeping its runtime state.
    ///
    /// - Parameters:
    ///   - host: the new host model.
    ///   - netfilter: whether to compile the host's rulesets (as `init(host:options:netfilter:)`).
    ///   - emit: receives results that settle because of the reload (see `reload(netns:netfilter:emit:)`).
    /// - Throws: `InputError` when a ruleset does not parse; the analyzer is then unchanged.
    @discardableResult
    public func reload(host: Host, netfilter: Bool, emit: (FrameResult) -> Void) throws -> ReloadOutcome {
        let engine = netfilter ? try NetfilterEngine(host: host) : nil
        return reload(netns: Netns(host: host), netfilter: engine, emit: emit)
    }

    /// Applies a namespace model and a compiled netfilter engine (built on any thread) to this
    /// analyzer, keeping its runtime state: later frames see the new configuration and the
    /// connections, queues and timers the earlier frames built.
    ///
    /// When the device list changed, what is bound to a device index (GRO holds, fragment
    /// queues, neighbour entries and their queued packets) is settled first under the old
    /// configuration, as at the end of a capture, and `emit` receives those results; the
    /// neighbour table then restarts from the new model. Everything else is kept. `engine`
    /// takes over the old engine's state (`NetfilterEngine.takeState(from:now:)`).
    ///
    /// Called between frames: not from the `emit` of `process` (which keeps using the kernel
    /// it started with, unretained).
    @discardableResult
    public func reload(netns: Netns, netfilter engine: NetfilterEngine?, emit: (FrameResult) -> Void) -> ReloadOutcome {
        var ns = netns
        ns.addAddressRoutesIfMissing()
        let old = kernel
        var outcome = ReloadOutcome()
        outcome.devicesChanged = !Kernel.sameDevices(old.ns.devices, ns.devices)
        outcome.routesChanged = old.ns.routes4 != ns.routes4 || old.ns.routes6 != ns.routes6
            || old.ns.rules4 != ns.rules4 || old.ns.rules6 != ns.rules6
        if outcome.devicesChanged {
            var settled = 0
            settleHeld { settled += 1; emit($0) }
            outcome.settledBeforeSwap = settled
        }
        // The last packet's netfilter state ends here (an entry it created but never confirmed
        // is freed, as the next packet's first hook would have done).
        if let a = old.netfilter, a.frame >= 0 {
            a.engine.packetDone(&a.state)
            a.frame = -1
        }
        let new = Kernel(ns: ns, napi: old.napiOptions, tcp: old.tcpOptions)
        new.wantsDetail = old.wantsDetail
        new.wantsJSONForm = old.wantsJSONForm
        let tcp = new.takeState(from: old, devicesChanged: outcome.devicesChanged, routesChanged: outcome.routesChanged)
        outcome.tcpConnections = tcp.kept
        outcome.tcpConnectionsDropped = tcp.dropped
        kernel = new
        if let engine {
            if let previous = old.netfilter?.engine {
                outcome.ruleStateReset = engine.takeState(from: previous, now: old.now)
            }
            attachNetfilter(engine)
            outcome.conntrackEntries = engine.conntrack.count
        }
        return outcome
    }
}

extension Kernel {
    /// Whether two device lists are the same devices at the same indices (ifindex, name, kind).
    static func sameDevices(_ a: [NetDevice], _ b: [NetDevice]) -> Bool {
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) where x.ifindex != y.ifindex || x.name != y.name || x.kind != y.kind { return false }
        return true
    }

    /// Moves `old`'s runtime state into this kernel, built for the new configuration.
    ///
    /// Device-bound state (fragment queues, GRO holds, the neighbour table) moves only when
    /// the device list is the same: otherwise the caller settled it first, and the neighbour
    /// table reloads from the new model. Fragment queues' cached input routes lose their
    /// route and rule indices when the tables changed (the decision they carry stays, as the
    /// kernel keeps a queued fragment's `dst`). TCP state is re-keyed to the new socket list.
    ///
    /// - Returns: TCP sockets kept, and those dropped because their listener is gone.
    func takeState(from old: Kernel, devicesChanged: Bool, routesChanged: Bool) -> (kept: Int, dropped: Int) {
        now = old.now
        lastIngressNote = old.lastIngressNote
        fragSerial = old.fragSerial
        peers = old.peers
        redirects = old.redirects
        icmpGlobal = old.icmpGlobal
        icmp6Global = old.icmp6Global
        groSerial = old.groSerial
        resolutions = old.resolutions
        // Resolutions name results of this pool (`HoldResolution.source`).
        groResults = old.groResults
        groResultsUsed = old.groResultsUsed
        heldThisFrame = old.heldThisFrame
        if !devicesChanged {
            frag4 = old.frag4
            frag6 = old.frag6
            frag4Earliest = old.frag4Earliest
            fragMemory = old.fragMemory
            napis = old.napis
            groPool = old.groPool
            if routesChanged {
                for k in Array(frag4.keys) {
                    frag4[k]?.headRoute?.route = nil
                    frag4[k]?.headRoute?.rule = nil
                }
                for k in Array(frag6.keys) { frag6[k]?.headRoute6?.route = nil }
            }
            mergeNeighbours(from: old)
        }
        return takeTCPState(from: old)
    }

    /// The neighbour table: the entries traffic made or changed are kept; entries the new
    /// model lists that the table does not have (added by an administrator) join it.
    private func mergeNeighbours(from old: Kernel) {
        guard old.neigh.loaded else { return }
        neighLoad()
        let listed = neigh.entries
        neigh = old.neigh
        for (key, e) in listed where neigh.entries[key] == nil {
            var entry = e
            entry.serial = neigh.serial
            neigh.serial += 1
            neigh.entries[key] = entry
            if entry.timer < neigh.earliest { neigh.earliest = entry.timer }
        }
    }

    /// Listener queues and connections, keyed by index into `ns.sockets`, re-keyed to the new
    /// socket list by what identifies a socket (protocol, address, port, bound device name,
    /// family, connected peer).
    private func takeTCPState(from old: Kernel) -> (kept: Int, dropped: Int) {
        func identity(_ s: ListeningSocket, _ n: Netns) -> String {
            let dev = s.dev.map { $0 >= 0 && $0 < n.devices.count ? n.devices[$0].name : "#\($0)" } ?? "*"
            return "\(s.proto) \(s.address.map { "\($0)" } ?? "*") \(s.port) \(dev) \(s.isIPv6) \(s.dualStack) \(s.peer.map { "\($0)" } ?? "-") \(s.peerPort)"
        }
        var newIndex: [String: [Int]] = [:]
        for (i, s) in ns.sockets.enumerated() { newIndex[identity(s, ns), default: []].append(i) }
        // Equal sockets (rare: SO_REUSEPORT groups) pair up in order.
        var map: [Int: Int] = [:]
        for (i, s) in old.ns.sockets.enumerated() {
            let key = identity(s, old.ns)
            if var list = newIndex[key], !list.isEmpty {
                map[i] = list.removeFirst()
                newIndex[key] = list
            }
        }
        var state = old.tcpState
        state.listeners = [:]
        for (key, _) in old.tcpState.conns { state.conns.removeValue(forKey: key) }
        for (li, q) in old.tcpState.listeners {
            if let n = map[li] { state.listeners[n] = q }
        }
        var dropped = 0
        for (key, c) in old.tcpState.conns {
            var conn = c
            if let n = map[c.listener] {
                conn.listener = n
            } else if c.state == .synRecv || c.inAcceptQueue {
                dropped += 1
                continue
            } else {
                // An accepted connection lives on without its listener.
                conn.listener = -1
            }
            state.conns[key] = conn
        }
        tcpState = state
        return (state.conns.count, dropped)
    }
}
