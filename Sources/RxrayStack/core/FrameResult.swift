import RxrayDecode

/// A MIB counter, by the name `nstat` prints (`IpInReceives`, `TcpExtListenDrops`, ...).
///
/// Append-only; the raw value is the nstat name.
public enum MIB: String, Sendable, CaseIterable {
    case ipInReceives = "IpInReceives"
    case ipInHdrErrors = "IpInHdrErrors"
    case ipInAddrErrors = "IpInAddrErrors"
    case ipForwDatagrams = "IpForwDatagrams"
    case ipInUnknownProtos = "IpInUnknownProtos"
    case ipInDiscards = "IpInDiscards"
    case ipInDelivers = "IpInDelivers"
    case ipOutRequests = "IpOutRequests"
    case ipOutTransmits = "IpOutTransmits"
    case ipReasmReqds = "IpReasmReqds"
    case ipReasmOKs = "IpReasmOKs"
    case ipReasmFails = "IpReasmFails"
    case ipReasmTimeout = "IpReasmTimeout"
    case ipFragOKs = "IpFragOKs"
    case ipFragFails = "IpFragFails"
    case ipFragCreates = "IpFragCreates"
    case ipExtInNoRoutes = "IpExtInNoRoutes"
    case ipExtInTruncatedPkts = "IpExtInTruncatedPkts"
    case ipExtInMcastPkts = "IpExtInMcastPkts"
    case ipExtInBcastPkts = "IpExtInBcastPkts"
    case ipExtInOctets = "IpExtInOctets"
    case ipExtInCsumErrors = "IpExtInCsumErrors"
    case ipExtInNoECTPkts = "IpExtInNoECTPkts"
    case ipExtInECT1Pkts = "IpExtInECT1Pkts"
    case ipExtInECT0Pkts = "IpExtInECT0Pkts"
    case ipExtInCEPkts = "IpExtInCEPkts"
    case ipExtReasmOverlaps = "IpExtReasmOverlaps"
    case icmpInMsgs = "IcmpInMsgs"
    case icmpInErrors = "IcmpInErrors"
    case icmpInCsumErrors = "IcmpInCsumErrors"
    case icmpInEchos = "IcmpInEchos"
    case icmpOutMsgs = "IcmpOutMsgs"
    case icmpOutRateLimitGlobal = "IcmpOutRateLimitGlobal"
    case icmpOutRateLimitHost = "IcmpOutRateLimitHost"
    case tcpInSegs = "TcpInSegs"
    case tcpInErrs = "TcpInErrs"
    case tcpInCsumErrors = "TcpInCsumErrors"
    case tcpOutRsts = "TcpOutRsts"
    case tcpOutSegs = "TcpOutSegs"
    case tcpActiveOpens = "TcpActiveOpens"
    case tcpPassiveOpens = "TcpPassiveOpens"
    case tcpAttemptFails = "TcpAttemptFails"
    case tcpEstabResets = "TcpEstabResets"
    case tcpExtListenOverflows = "TcpExtListenOverflows"
    case tcpExtListenDrops = "TcpExtListenDrops"
    case tcpExtSyncookiesSent = "TcpExtSyncookiesSent"
    case tcpExtSyncookiesRecv = "TcpExtSyncookiesRecv"
    case tcpExtSyncookiesFailed = "TcpExtSyncookiesFailed"
    case tcpExtTCPReqQFullDoCookies = "TcpExtTCPReqQFullDoCookies"
    case tcpExtTCPReqQFullDrop = "TcpExtTCPReqQFullDrop"
    case tcpExtIPReversePathFilter = "TcpExtIPReversePathFilter"
    case tcpExtPAWSEstab = "TcpExtPAWSEstab"
    case tcpExtBeyondWindow = "TcpExtBeyondWindow"
    case tcpExtDelayedACKLost = "TcpExtDelayedACKLost"
    case tcpExtTCPChallengeACK = "TcpExtTCPChallengeACK"
    case tcpExtTCPSYNChallenge = "TcpExtTCPSYNChallenge"
    case tcpExtTCPFastOpenPassive = "TcpExtTCPFastOpenPassive"
    case tcpExtTCPACKSkippedSeq = "TcpExtTCPACKSkippedSeq"
    case tcpExtTCPACKSkippedPAWS = "TcpExtTCPACKSkippedPAWS"
    case tcpExtTCPACKSkippedChallenge = "TcpExtTCPACKSkippedChallenge"
    case tcpExtTCPOFOQueue = "TcpExtTCPOFOQueue"
    case tcpExtEmbryonicRsts = "TcpExtEmbryonicRsts"
    case tcpExtTCPAbortOnData = "TcpExtTCPAbortOnData"
    case tcpExtTCPAbortOnClose = "TcpExtTCPAbortOnClose"
    case tcpCurrEstab = "TcpCurrEstab"
    case udpInDatagrams = "UdpInDatagrams"
    case udpNoPorts = "UdpNoPorts"
    case udpInErrors = "UdpInErrors"
    case udpInCsumErrors = "UdpInCsumErrors"
    case udpIgnoredMulti = "UdpIgnoredMulti"
    case udpRcvbufErrors = "UdpRcvbufErrors"
    case ip6InReceives = "Ip6InReceives"
    case ip6InHdrErrors = "Ip6InHdrErrors"
    case ip6InAddrErrors = "Ip6InAddrErrors"
    case ip6InNoRoutes = "Ip6InNoRoutes"
    case ip6InTruncatedPkts = "Ip6InTruncatedPkts"
    case ip6InUnknownProtos = "Ip6InUnknownProtos"
    case ip6InDiscards = "Ip6InDiscards"
    case ip6InDelivers = "Ip6InDelivers"
    case ip6InTooBigErrors = "Ip6InTooBigErrors"
    case ip6OutForwDatagrams = "Ip6OutForwDatagrams"
    case ip6InOctets = "Ip6InOctets"
    case icmp6InMsgs = "Icmp6InMsgs"
    case icmp6InErrors = "Icmp6InErrors"
    case icmp6InCsumErrors = "Icmp6InCsumErrors"
    case icmp6OutMsgs = "Icmp6OutMsgs"
    case udp6InDatagrams = "Udp6InDatagrams"
    case udp6NoPorts = "Udp6NoPorts"
    case udp6InErrors = "Udp6InErrors"
    case udp6InCsumErrors = "Udp6InCsumErrors"
    case ip6ReasmReqds = "Ip6ReasmReqds"
    case ip6ReasmOKs = "Ip6ReasmOKs"
    case udp6IgnoredMulti = "Udp6IgnoredMulti"
    /// A locally generated packet the output path dropped (netfilter at LOCAL_OUT, for ICMP
    /// and TCP RST/ACK replies).
    case ipOutDiscards = "IpOutDiscards"
    /// A SYN-ACK sent again (by the request's timer or for a retransmitted SYN).
    case tcpRetransSegs = "TcpRetransSegs"
    case tcpExtTCPSynRetrans = "TcpExtTCPSynRetrans"
    /// A TCP retransmission timer fired (for request sockets: every SYN-ACK timeout).
    case tcpExtTCPTimeouts = "TcpExtTCPTimeouts"

    @inlinable public var name: String { rawValue }

    /// Position of the case in declaration order (0 ..< `MIB.count`): counters are kept in
    /// fixed arrays indexed by it. A payload-free enum is stored as its case index in
    /// declaration order, so this is a plain load (HotPathTests checks it against `allCases`).
    @inline(__always) public var ordinal: Int { Int(unsafeBitCast(self, to: UInt8.self)) }
    /// The case at `ordinal` (which must be below `MIB.count`).
    @inline(__always) @usableFromInline init(ordinal: UInt8) {
        self = unsafeBitCast(ordinal, to: MIB.self)
    }
    /// Number of cases (fits the 128-bit sets below).
    public static let count = MIB.allCases.count
}

/// A set of MIB counters as two 64-bit words, indexed by `MIB.ordinal`.
@usableFromInline struct MIBSet: Sendable {
    @usableFromInline var lo: UInt64 = 0
    @usableFromInline var hi: UInt64 = 0
    @inlinable init() {}
    @inline(__always) @usableFromInline func contains(_ i: Int) -> Bool {
        i < 64 ? lo & (1 << UInt64(i)) != 0 : hi & (1 << UInt64(i - 64)) != 0
    }
    @inline(__always) @usableFromInline mutating func insert(_ i: Int) {
        if i < 64 { lo |= 1 << UInt64(i) } else { hi |= 1 << UInt64(i - 64) }
    }
    @inline(__always) @usableFromInline var isEmpty: Bool { lo == 0 && hi == 0 }
}

/// The storage of a result's counters (`FrameResult.counters`): each moved counter's value
/// at its `MIB.ordinal`, and after them the ordinals in the order first moved. Fixed size
/// (each MIB is moved at most once per result, so the order never outgrows 128), shared
/// between copies of a result until one of them counts (copy on write). Values are never
/// cleared: a first move writes its value, and only the first `count` ordinals of the order
/// are read.
@usableFromInline final class CounterStore: @unchecked Sendable {
    @usableFromInline static let capacity = 128
    /// `capacity` values, then `capacity` bytes of order (`order(_:)`).
    @usableFromInline let values: UnsafeMutablePointer<Int>

    @usableFromInline init() {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Self.capacity * (MemoryLayout<Int>.stride + 1),
                                                   alignment: MemoryLayout<Int>.alignment)
        values = raw.bindMemory(to: Int.self, capacity: Self.capacity)
        (raw + Self.capacity * MemoryLayout<Int>.stride).bindMemory(to: UInt8.self, capacity: Self.capacity)
    }

    /// The order list of the store whose values are at `values`.
    @inline(__always) @usableFromInline static func order(_ values: UnsafeMutablePointer<Int>) -> UnsafeMutablePointer<UInt8> {
        UnsafeMutableRawPointer(values + capacity).assumingMemoryBound(to: UInt8.self)
    }

    /// Merges a move of `delta` to the counter with ordinal `o` into the store at `values`,
    /// which holds `count` counters, those in `set`: added to an earlier move of the same
    /// counter, else appended to the order with its value. Both `FrameResult.count(_:_:)` and
    /// `FrameResult.addCounters(_:)` move counters through it.
    @inline(__always) @usableFromInline
    static func merge(_ o: Int, _ delta: Int, into values: UnsafeMutablePointer<Int>, set: inout MIBSet, count: inout Int32) {
        if set.contains(o) {
            values[o] += delta
            return
        }
        set.insert(o)
        order(values)[Int(count)] = UInt8(truncatingIfNeeded: o)
        values[o] = delta
        count &+= 1
    }

    /// A store holding the first `count` counters of this one.
    @usableFromInline func copy(count: Int) -> CounterStore {
        let c = CounterStore()
        let from = Self.order(values), to = Self.order(c.values)
        for k in 0..<count {
            let o = Int(from[k])
            to[k] = from[k]
            c.values[o] = values[o]
        }
        return c
    }

    deinit { UnsafeMutableRawPointer(values).deallocate() }
}

/// The counters a result moved, in the order first moved, each MIB once with the sum of its
/// moves (`FrameResult.counters`). A view of the result's counter storage: reading it copies
/// nothing.
public struct MIBCounters: RandomAccessCollection, Sendable {
    @usableFromInline let store: CounterStore?
    public let count: Int

    @inlinable init(store: CounterStore?, count: Int) {
        self.store = store
        self.count = count
    }

    /// No counters.
    @inlinable public init() {
        store = nil
        count = 0
    }

    public typealias Index = Int
    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { count }

    @inlinable public subscript(position: Int) -> (MIB, Int) {
        precondition(position >= 0 && position < count, "counter index out of range")
        let values = store.unsafelyUnwrapped.values
        let o = CounterStore.order(values)[position]
        return (MIB(ordinal: o), values[Int(o)])
    }
}

/// What a stage decided for the frame.
public enum Verdict: UInt8, Sendable {
    /// Checked and passed on to the next stage.
    case pass
    /// Freed here (the frame's `dropReason` says why).
    case drop
    /// Consumed by the kernel without a drop event (e.g. a refused SYN, a GRO merge shell).
    case consume
    /// Held for later (GRO hold, fragment queue).
    case hold
    /// Handed to a local endpoint.
    case deliver
    /// Sent out of an interface.
    case forward
    /// Informational only.
    case note
}

/// One stage's entry in the per-frame trace.
///
/// The `detail` text lives in the owning `FrameResult`'s detail bytes (`FrameResult.detail(of:)`,
/// `withDetail(of:_:)`); the record holds its range, so records are plain values (no String,
/// no reference count) and a frame's trace costs no allocation once the result's buffers are
/// large enough. Stages build detail only when the renderer asks for traces
/// (`FrameResult.wantsDetail`).
public struct StageRecord: Sendable {
    public var stage: Stage
    public var verdict: Verdict
    /// Set when no byte of the detail needs a JSON escape (no control byte, `"`, `\` or DEL),
    /// as known by the writer that made it (`FrameResult.recordJSONSafe(_:_:writing:)`): JSON
    /// output copies such a detail instead of escaping it. False only means "not known".
    public var jsonSafe: Bool
    /// The length of the detail's JSON form (the detail JSON-escaped: the bytes JSON output
    /// writes between the quotes), kept right after the detail in the owning result's detail
    /// bytes; 0 when there is none (JSON output then escapes the detail, or copies it when
    /// `jsonSafe`). Written by writers that hold their text's pieces escaped already, for a
    /// result that `wantsJSONForm` (`FrameResult.recordWithJSONForm(_:_:writing:)`).
    public var jsonCount: UInt16
    /// Range of the owning result's detail bytes (UTF-8).
    public var detailStart: Int32
    public var detailCount: Int32

    public init(stage: Stage, verdict: Verdict, detailStart: Int32 = 0, detailCount: Int32 = 0, jsonSafe: Bool = false,
                jsonCount: UInt16 = 0) {
        self.stage = stage
        self.verdict = verdict
        self.jsonSafe = jsonSafe
        self.jsonCount = jsonCount
        self.detailStart = detailStart
        self.detailCount = detailCount
    }

    /// Whether the record has no detail text.
    @inlinable public var hasDetail: Bool { detailCount > 0 }
}

/// A stage record with its detail as a String (`FrameResult.trace`), for tests and output
/// that is not per-frame hot.
public struct StageText: Sendable, Equatable, CustomStringConvertible {
    public var stage: Stage
    public var verdict: Verdict
    public var detail: String
    public var description: String { "\(stage) \(verdict) \(detail)" }
}

/// The detail bytes of a `FrameResult`: a growable buffer kept across frames. Shared between
/// copies of a result until one of them writes (copy on write, see `FrameResult.detailWriter`).
public final class DetailBuffer: @unchecked Sendable {
    @exclusivity(unchecked) @usableFromInline var writer: ByteWriter

    @usableFromInline init(capacity: Int) { writer = ByteWriter(capacity: capacity) }

    @usableFromInline func copy() -> DetailBuffer {
        let c = DetailBuffer(capacity: max(writer.count, 256))
        c.writer.bytes(writer.bytes)
        return c
    }

    deinit { writer.deallocate() }
}

/// A packet the kernel would send because of the frame.
public struct Reply: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case tcpRst
        case tcpSynAck(cookie: Bool)
        case tcpAck(challenge: Bool)
        case icmp(type: UInt8, code: UInt8)
        case icmpv6(type: UInt8, code: UInt8)
        case arpReply
        /// An ARP request the kernel sends to resolve a next hop (the packet waits for the answer).
        case arpRequest
        /// An IPv6 neighbour solicitation sent to resolve a next hop.
        case neighbourSolicit
    }
    public var kind: Kind
    /// Interface the reply leaves through.
    public var interface: String
    /// Source and destination of the reply.
    public var source: IPAddress?
    public var destination: IPAddress?
    /// Short human text (`RST+ACK seq 0 ack 1`, `port unreachable`, ...), held without a
    /// String when it is short (`ReplyText`).
    public var summaryText: ReplyText
    /// `summaryText` as a String.
    public var summary: String {
        get { summaryText.description }
        set { summaryText = ReplyText(newValue) }
    }

    public init(kind: Kind, interface: String, source: IPAddress?, destination: IPAddress?, summary: String) {
        self.init(kind: kind, interface: interface, source: source, destination: destination, summaryText: ReplyText(summary))
    }

    public init(kind: Kind, interface: String, source: IPAddress?, destination: IPAddress?, summaryText: ReplyText) {
        self.kind = kind
        self.interface = interface
        self.source = source
        self.destination = destination
        self.summaryText = summaryText
    }

    /// A stable name for the kind, used in JSON and summaries.
    public var kindName: String {
        switch kind {
        case .tcpRst: return "tcp_rst"
        case .tcpSynAck(let cookie): return cookie ? "tcp_synack_cookie" : "tcp_synack"
        case .tcpAck(let challenge): return challenge ? "tcp_challenge_ack" : "tcp_ack"
        case .icmp: return "icmp"
        case .icmpv6: return "icmpv6"
        case .arpReply: return "arp_reply"
        case .arpRequest: return "arp_request"
        case .neighbourSolicit: return "nd_neighbour_solicit"
        }
    }
}

/// Everything the stack decided for one input frame. Reused across frames (`reset`), so
/// its arrays keep their capacity and the steady state does not allocate.
public struct FrameResult: Sendable {
    /// 1-based frame number in the capture.
    public var frame: Int = 0
    public var fate: Fate = .dropped
    public var dropReason: DropReason?
    public var dropStage: Stage?
    /// Egress interface name and next hop, when forwarded.
    public var egress: String?
    public var nextHop: IPAddress?
    public var replies: [Reply] = []
    public var stages = StageList()
    /// The number of `counters` (after `stages`, in the 4 bytes its layout leaves free).
    @usableFromInline var counterCount: Int32 = 0
    /// The counters the frame moved, in the order first moved (each MIB once). Changed only
    /// through `count(_:_:)`.
    @inlinable public var counters: MIBCounters { MIBCounters(store: counterStore, count: Int(counterCount)) }
    /// Calls `body` with each counter the frame moved and its sum, in the order first moved:
    /// `counters` without making the view (a retain and release of the storage).
    @inlinable @inline(__always) public func forEachCounter(_ body: (MIB, Int) -> Void) {
        let n = Int(counterCount)
        if n == 0 { return }
        let values = counterStore.unsafelyUnwrapped.values
        let order = CounterStore.order(values)
        for k in 0..<n {
            let o = order[k]
            body(MIB(ordinal: o), values[Int(o)])
        }
    }
    /// Storage of `counters` (nil until the first move), and which MIBs it holds (so a move
    /// finds its counter without a search).
    @usableFromInline var counterStore: CounterStore?
    @usableFromInline var counterSet = MIBSet()
    /// What GRO did with the frame (wire captures on an interface with GRO on; `applied` for
    /// host captures; nil when the frame never reached GRO).
    public var gro: GROInfo?
    /// Whether stages should spend time building `detail` text.
    public var wantsDetail: Bool = true
    /// Whether writers that can should keep each detail's JSON form next to it
    /// (`StageRecord.jsonCount`): set when the output is JSON lines. Only a matter of speed.
    public var wantsJSONForm: Bool = false
    /// Storage of the stage records' detail text (nil until the first detail is written).
    @usableFromInline var details: DetailBuffer?
    /// Set when this is not a frame's result but a timer the kernel fired between frames
    /// (`frame` is 0; replies, counters and stages are the timer's; `fate` means nothing).
    public var timer: TimerEvent?

    public init() {}

    public mutating func reset(frame: Int) {
        self.frame = frame
        fate = .dropped
        dropReason = nil
        dropStage = nil
        // Assigned only when set: storing nil over nil still calls the release of the String.
        if egress != nil { egress = nil }
        nextHop = nil
        gro = nil
        if timer != nil { timer = nil }
        // Most frames make no reply: an empty array is left as it is (clearing one still costs a
        // generic replace-subrange call); the few replies of the others are taken off the end.
        if !replies.isEmpty { replies.removeAllKeepingCapacity() }
        // A count reset (the records are plain values; a copy sharing them keeps its own).
        stages.removeAll()
        // The counter storage is left as it is: a first move writes its value.
        counterCount = 0
        counterSet = MIBSet()
        if details != nil {
            // A copy of this result still reads the old bytes: leave them to it.
            if isKnownUniquelyReferenced(&details) { details!.writer.removeAll() } else { details = nil }
        }
    }

    /// The detail buffer, made unique to this result (copied if a copy of it shares it).
    @inlinable @inline(__always) mutating func detailBuffer() -> DetailBuffer {
        if details == nil {
            details = DetailBuffer(capacity: 4096)
        } else if !isKnownUniquelyReferenced(&details) {
            details = details!.copy()
        }
        return details.unsafelyUnwrapped
    }

    /// A reply's text written by `write` with the `ByteWriter` formatters (empty unless
    /// `wantsDetail`): written after the detail bytes, copied into the text and taken off
    /// again, so no String is made.
    @inlinable public mutating func replyText(_ write: (inout ByteWriter) -> Void) -> ReplyText {
        guard wantsDetail else { return ReplyText() }
        let written = detailAhead(write)
        let b = details.unsafelyUnwrapped
        let text = ReplyText(UnsafeBufferPointer(rebasing: b.writer.bytes[written]))
        b.writer.truncate(to: written.lowerBound)
        return text
    }

    /// Writes a detail text into the detail buffer with no stage record, for a record made
    /// later, after others (its `write` then calls `repeatBytes` with the range returned).
    @inlinable public mutating func detailAhead(_ write: (inout ByteWriter) -> Void) -> Range<Int> {
        let b = detailBuffer()
        let start = b.writer.count
        write(&b.writer)
        return start..<b.writer.count
    }

    /// Appends a stage record.
    @inlinable public mutating func record(_ stage: Stage, _ verdict: Verdict, _ detail: @autoclosure () -> String = "") {
        guard wantsDetail else {
            stages.append(StageRecord(stage: stage, verdict: verdict))
            return
        }
        var text = detail()
        if text.isEmpty {
            stages.append(StageRecord(stage: stage, verdict: verdict))
            return
        }
        text.withUTF8 { u in record(stage, verdict) { $0.bytes(u) } }
    }

    /// Appends a stage record whose detail `write` appends to the writer (called only when
    /// `wantsDetail`): the text goes straight into the result's detail bytes, no String built.
    /// The detail is not known to be JSON-safe (`recordJSONSafe` with a writer that says no).
    @inlinable @inline(__always)
    public mutating func record(_ stage: Stage, _ verdict: Verdict, writing write: (inout ByteWriter) -> Void) {
        recordJSONSafe(stage, verdict) { w in
            write(&w)
            return false
        }
    }

    /// Appends a stage record whose detail `write` appends to the writer and returns whether
    /// every byte it wrote is known to need no JSON escape (`StageRecord.jsonSafe`): a writer
    /// returns true only for text made of pieces it knows (its own literals, numbers,
    /// addresses, texts checked once when they were made). Debug builds check the claim.
    @inlinable public mutating func recordJSONSafe(_ stage: Stage, _ verdict: Verdict, writing write: (inout ByteWriter) -> Bool) {
        guard wantsDetail else {
            stages.append(StageRecord(stage: stage, verdict: verdict))
            return
        }
        let b = detailBuffer()
        let start = b.writer.count
        let safe = write(&b.writer)
        let n = b.writer.count &- start
        assert(!safe || ByteWriter.jsonCleanPrefix(UnsafeBufferPointer(rebasing: b.writer.bytes[start...])) == n,
               "a detail claimed JSON-safe needs an escape")
        stages.append(StageRecord(stage: stage, verdict: verdict, detailStart: Int32(truncatingIfNeeded: start),
                                  detailCount: Int32(truncatingIfNeeded: n), jsonSafe: safe && n > 0))
    }

    /// Appends a stage record whose `write` appends the detail and then, when `jsonForm` is
    /// true (the result `wantsJSONForm`), may append the detail's JSON form right after it
    /// (`StageRecord.jsonCount`); it returns the detail's length (the bytes before the JSON
    /// form) and whether the detail needs no JSON escape (as for `recordJSONSafe`). The JSON
    /// form is kept only for a detail that needs an escape; debug builds check that it is the
    /// detail escaped, byte for byte.
    @inlinable public mutating func recordWithJSONForm(_ stage: Stage, _ verdict: Verdict,
                                                       writing write: (inout ByteWriter, _ jsonForm: Bool) -> (count: Int, jsonSafe: Bool)) {
        guard wantsDetail else {
            stages.append(StageRecord(stage: stage, verdict: verdict))
            return
        }
        appendWithJSONForm(stage, verdict, to: detailBuffer(), writing: write)
    }

    /// `recordWithJSONForm` for a result that `wantsDetail`, writing into `b`, its
    /// `detailBuffer()` fetched once for several records (each fetch is a uniqueness check and
    /// a retain).
    @inlinable mutating func appendWithJSONForm(_ stage: Stage, _ verdict: Verdict, to b: DetailBuffer,
                                                writing write: (inout ByteWriter, _ jsonForm: Bool) -> (count: Int, jsonSafe: Bool)) {
        assert(wantsDetail && b === details, "a detail written outside this result's own buffer")
        let start = b.writer.count
        let (n, safe) = write(&b.writer, wantsJSONForm)
        let form = b.writer.count &- start &- n
        var jsonCount: UInt16 = 0
        if form > 0 {
            if safe || n == 0 || form > Int(UInt16.max) {
                b.writer.truncate(to: start &+ n)
            } else {
                jsonCount = UInt16(truncatingIfNeeded: form)
            }
        }
        assert(!safe || ByteWriter.jsonCleanPrefix(UnsafeBufferPointer(rebasing: b.writer.bytes[start..<(start &+ n)])) == n,
               "a detail claimed JSON-safe needs an escape")
        assert(jsonCount == 0 || FrameResult.isJSONForm(b.writer.bytes, detail: start..<(start &+ n),
                                                        form: (start &+ n)..<(start &+ n &+ Int(jsonCount))),
               "a detail's JSON form is not the detail escaped")
        stages.append(StageRecord(stage: stage, verdict: verdict, detailStart: Int32(truncatingIfNeeded: start),
                                  detailCount: Int32(truncatingIfNeeded: n), jsonSafe: safe && n > 0, jsonCount: jsonCount))
    }

    /// Whether `bytes[form]` is `bytes[detail]` JSON-escaped as the JSON output escapes stage
    /// detail (for debug checks).
    @usableFromInline static func isJSONForm(_ bytes: UnsafeBufferPointer<UInt8>, detail: Range<Int>, form: Range<Int>) -> Bool {
        var w = ByteWriter(capacity: detail.count * 6 + 16)
        defer { w.deallocate() }
        w.jsonEscaped(UnsafeBufferPointer(rebasing: bytes[detail]))
        return w.bytes.elementsEqual(UnsafeBufferPointer(rebasing: bytes[form]))
    }

    /// Calls `body` with what JSON output writes between the quotes for `s`'s detail (a record
    /// of this result): its JSON form when it has one (`escaped` true), else the detail itself
    /// (`escaped` false: to be escaped unless `s.jsonSafe`).
    @inlinable public func withJSONDetail<R>(of s: StageRecord, _ body: (UnsafeBufferPointer<UInt8>, _ escaped: Bool) throws -> R) rethrows -> R {
        let n = Int(s.detailCount)
        guard n > 0, let d = details else { return try body(UnsafeBufferPointer(start: nil, count: 0), false) }
        let all = d.writer.bytes
        let st = Int(s.detailStart), m = Int(s.jsonCount)
        precondition(st >= 0 && st + n + m <= all.count, "stage detail range outside the result's detail bytes")
        if m > 0 { return try body(UnsafeBufferPointer(rebasing: all[(st + n)..<(st + n + m)]), true) }
        return try body(UnsafeBufferPointer(rebasing: all[st..<(st + n)]), false)
    }

    /// Appends text to the detail bytes without a record; returns its range (for text a
    /// resolution carries with this result's records, e.g. GRO's completion note).
    @inlinable mutating func writeDetail(_ write: (inout ByteWriter) -> Void) -> (start: Int32, count: Int32) {
        let b = detailBuffer()
        let start = b.writer.count
        write(&b.writer)
        return (Int32(truncatingIfNeeded: start), Int32(truncatingIfNeeded: b.writer.count &- start))
    }

    /// Appends records of another result (or a resolution) whose detail ranges index `bytes`.
    public mutating func appendStages<C: Collection>(_ records: C, detailBytes bytes: UnsafeBufferPointer<UInt8>) where C.Element == StageRecord {
        guard !records.isEmpty else { return }
        if records.withContiguousStorageIfAvailable({ appendStageRecords($0, detailBytes: bytes) }) == nil {
            Array(records).withUnsafeBufferPointer { appendStageRecords($0, detailBytes: bytes) }
        }
    }

    /// `appendStages(_:detailBytes:)` for records in contiguous memory: without detail (a
    /// result that does not want it, or no bytes to copy from) they are copied in one pass
    /// after one capacity check, not appended one by one through the collection's iterator.
    @usableFromInline mutating func appendStageRecords(_ records: UnsafeBufferPointer<StageRecord>, detailBytes bytes: UnsafeBufferPointer<UInt8>) {
        guard records.count > 0 else { return }
        guard wantsDetail, bytes.count > 0 else {
            stages.appendWithoutDetail(records)
            return
        }
        let b = detailBuffer()
        for s in records {
            let st = Int(s.detailStart), n = Int(s.detailCount)
            guard n > 0, st >= 0, st + n <= bytes.count else {
                stages.append(StageRecord(stage: s.stage, verdict: s.verdict))
                continue
            }
            let start = b.writer.count
            // The JSON form, if any, follows the detail and moves with it.
            let m = st + n + Int(s.jsonCount) <= bytes.count ? Int(s.jsonCount) : 0
            b.writer.bytes(UnsafeBufferPointer(rebasing: bytes[st..<(st + n + m)]))
            stages.append(StageRecord(stage: s.stage, verdict: s.verdict, detailStart: Int32(truncatingIfNeeded: start),
                                      detailCount: Int32(n), jsonSafe: s.jsonSafe, jsonCount: UInt16(truncatingIfNeeded: m)))
        }
    }

    /// Appends records of `other` (its detail copied into this result's bytes).
    public mutating func appendStages(of other: FrameResult) {
        other.withDetailBytes { appendStages(other.stages, detailBytes: $0) }
    }

    /// Appends the records of the result at `other` (its detail copied into this result's
    /// bytes), read in place: nothing of it is copied or retained. `other` is not this result.
    @usableFromInline mutating func appendStages(ofResultAt other: UnsafePointer<FrameResult>) {
        guard other.pointee.stages.count > 0 else { return }
        other.pointee.stages.withUnsafeBufferPointer { records in
            other.pointee.withDetailBytes { appendStageRecords(records, detailBytes: $0) }
        }
    }

    /// Calls `body` with all the detail bytes (what the records' ranges index).
    @inlinable public func withDetailBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let d = details { return try body(d.writer.bytes) }
        return try body(UnsafeBufferPointer(start: nil, count: 0))
    }

    /// Calls `body` with the UTF-8 detail of `s` (a record of this result).
    @inlinable public func withDetail<R>(of s: StageRecord, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let n = Int(s.detailCount)
        guard n > 0, let d = details else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        let all = d.writer.bytes
        let st = Int(s.detailStart)
        precondition(st >= 0 && st + n <= all.count, "stage detail range outside the result's detail bytes")
        return try body(UnsafeBufferPointer(rebasing: all[st..<(st + n)]))
    }

    /// The detail text of `s` (a record of this result).
    public func detail(of s: StageRecord) -> String {
        withDetail(of: s) { String(decoding: $0, as: UTF8.self) }
    }

    /// The stage records with their detail text.
    public var trace: [StageText] {
        stages.map { StageText(stage: $0.stage, verdict: $0.verdict, detail: detail(of: $0)) }
    }

    /// Moves a counter by `delta` (merging with an earlier move of the same counter).
    ///
    /// Inlined: callers name the counter with a constant, so its word and bit in `counterSet`
    /// are known where it is counted (a call cost some 40 instructions a move, a dozen of them
    /// finding the bit).
    @inline(__always)
    public mutating func count(_ mib: MIB, _ delta: Int = 1) {
        if !isKnownUniquelyReferenced(&counterStore) { makeCounterStoreUnique() }
        // The storage's pointer, read before anything else of `self` is written (holding the
        // store itself in a local retained and released it on every move).
        let values = counterStore.unsafelyUnwrapped.values
        CounterStore.merge(mib.ordinal, delta, into: values, set: &counterSet, count: &counterCount)
    }

    /// Adds the counters of a `counters` view, each merged with an earlier move of the same
    /// counter, in the view's order: `count(_:_:)` for each, with one uniqueness check.
    @usableFromInline mutating func addCounters(_ other: MIBCounters) {
        let n = other.count
        guard n > 0 else { return }
        if !isKnownUniquelyReferenced(&counterStore) { makeCounterStoreUnique() }
        let values = counterStore.unsafelyUnwrapped.values
        let from = other.store.unsafelyUnwrapped.values
        let fromOrder = CounterStore.order(from)
        var set = counterSet
        var c = counterCount
        for k in 0..<n {
            let o = Int(fromOrder[k])
            CounterStore.merge(o, from[o], into: values, set: &set, count: &c)
        }
        counterSet = set
        counterCount = c
    }

    /// Moves the counters and replies of `other` into this result, as if each counter were
    /// counted here (`count(_:_:)`, in `other`'s order) and the replies appended; `other` is
    /// left with none. Storage this result has nothing in trades places with `other`'s (no
    /// copy, no reference counting); otherwise the counters are added and the replies copied.
    @usableFromInline mutating func takeCountersAndReplies(from other: inout FrameResult) {
        if other.counterCount > 0 {
            if counterCount == 0 {
                swap(&counterStore, &other.counterStore)
                counterSet = other.counterSet
                counterCount = other.counterCount
            } else {
                addCounters(other.counters)
            }
            other.counterCount = 0
            other.counterSet = MIBSet()
        }
        if !other.replies.isEmpty {
            if replies.isEmpty {
                swap(&replies, &other.replies)
            } else {
                replies.append(contentsOf: other.replies)
                other.replies.removeAllKeepingCapacity()
            }
        }
    }

    /// Gives this result counter storage of its own (a copy of the shared one, or a new one).
    @inline(never) mutating func makeCounterStoreUnique() {
        counterStore = counterStore.map { $0.copy(count: Int(counterCount)) } ?? CounterStore()
    }

    /// Ends the frame as dropped at `stage` with `reason`.
    public mutating func drop(_ reason: DropReason, at stage: Stage, _ detail: @autoclosure () -> String = "") {
        fate = .dropped
        dropReason = reason
        dropStage = stage
        record(stage, .drop, detail())
    }

    /// Ends the frame as dropped at `stage` with `reason`; `write` appends the detail text.
    @inlinable public mutating func drop(_ reason: DropReason, at stage: Stage, writing write: (inout ByteWriter) -> Void) {
        fate = .dropped
        dropReason = reason
        dropStage = stage
        record(stage, .drop, writing: write)
    }
}
