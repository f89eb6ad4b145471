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

    @inlinable public var name: String { rawValue }

    /// Position of the case in declaration order (0 ..< `MIB.count`): counters are kept in
    /// fixed arrays indexed by it. A payload-free enum is stored as its case index in
    /// declaration order, so this is a plain load (HotPathTests checks it against `allCases`).
    @inline(__always) public var ordinal: Int { Int(unsafeBitCast(self, to: UInt8.self)) }
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
/// `detail` is rendered text. Stages keep it short and build it only when the renderer asks
/// for traces (`FrameResult.wantsDetail`), so the summary-only fast path does not allocate.
public struct StageRecord: Sendable {
    public var stage: Stage
    public var verdict: Verdict
    public var detail: String

    public init(stage: Stage, verdict: Verdict, detail: String = "") {
        self.stage = stage
        self.verdict = verdict
        self.detail = detail
    }
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
    /// Short human text (`RST+ACK seq 0 ack 1`, `port unreachable`, ...).
    public var summary: String

    public init(kind: Kind, interface: String, source: IPAddress?, destination: IPAddress?, summary: String) {
        self.kind = kind
        self.interface = interface
        self.source = source
        self.destination = destination
        self.summary = summary
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
    public var stages: [StageRecord] = []
    /// The counters the frame moved, in the order first moved (each MIB once). Changed only
    /// through `count(_:_:)`, which keeps `counterSet` in step.
    public private(set) var counters: [(MIB, Int)] = []
    /// Which MIBs `counters` holds (so a first move is an append, not a search).
    @usableFromInline var counterSet = MIBSet()
    /// What GRO did with the frame (wire captures on an interface with GRO on; `applied` for
    /// host captures; nil when the frame never reached GRO).
    public var gro: GROInfo?
    /// Whether stages should spend time building `detail` text.
    public var wantsDetail: Bool = true

    public init() {}

    public mutating func reset(frame: Int) {
        self.frame = frame
        fate = .dropped
        dropReason = nil
        dropStage = nil
        egress = nil
        nextHop = nil
        gro = nil
        // Most frames make no reply: an empty array is left as it is (clearing one still costs a
        // generic replace-subrange call).
        if !replies.isEmpty { replies.removeAll(keepingCapacity: true) }
        if !stages.isEmpty { stages.removeAll(keepingCapacity: true) }
        if !counters.isEmpty { counters.removeAll(keepingCapacity: true) }
        counterSet = MIBSet()
    }

    /// Appends a stage record.
    @inlinable public mutating func record(_ stage: Stage, _ verdict: Verdict, _ detail: @autoclosure () -> String = "") {
        stages.append(StageRecord(stage: stage, verdict: verdict, detail: wantsDetail ? detail() : ""))
    }

    /// Moves a counter by `delta` (merging with an earlier move of the same counter).
    public mutating func count(_ mib: MIB, _ delta: Int = 1) {
        let o = mib.ordinal
        if counterSet.contains(o) {
            for i in counters.indices where counters[i].0 == mib {
                counters[i].1 += delta
                return
            }
        }
        counterSet.insert(o)
        counters.append((mib, delta))
    }

    /// Ends the frame as dropped at `stage` with `reason`.
    public mutating func drop(_ reason: DropReason, at stage: Stage, _ detail: @autoclosure () -> String = "") {
        fate = .dropped
        dropReason = reason
        dropStage = stage
        record(stage, .drop, detail())
    }
}
