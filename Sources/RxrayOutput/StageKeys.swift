import RxrayDecode
import RxrayStack

// The start of each JSON stage entry, `"},{"stage":"<symbol>","decision":"<verdict>","detail":"`
// (the previous entry's end included), made once per (stage, verdict) and copied with one
// `memcpy` per record: a frame has about fourteen stage records, and writing the symbol, the
// keys and the verdict piece by piece cost more than the copy.

extension Stage {
    /// A dense number per stage for output tables: the stages without a payload in declaration
    /// order, then `nf_hook` by hook (its table number is not part of the text).
    @inline(__always) var outputOrdinal: Int {
        switch self {
        case .napiPoll: return 0
        case .devGroReceive: return 1
        case .ethTypeTrans: return 2
        case .netifReceiveSkbCore: return 3
        case .vlanDoReceive: return 4
        case .arpRcv: return 5
        case .ipRcvCore: return 6
        case .ipRcvFinish: return 7
        case .ipRouteInput: return 8
        case .fibValidateSource: return 9
        case .ipError: return 10
        case .ipLocalDeliver: return 11
        case .ipDefrag: return 12
        case .ipLocalDeliverFinish: return 13
        case .ipForward: return 14
        case .ipOutput: return 15
        case .icmpRcv: return 16
        case .icmpSend: return 17
        case .tcpV4Rcv: return 18
        case .tcpV4DoRcv: return 19
        case .tcpRcvStateProcess: return 20
        case .tcpCheckReq: return 21
        case .tcpTimewaitStateProcess: return 22
        case .udpRcv: return 23
        case .rawV4Input: return 24
        case .ipv6Rcv: return 25
        case .ip6RcvCore: return 26
        case .ip6RouteInput: return 27
        case .ip6Input: return 28
        case .ip6Forward: return 29
        case .ipv6Defrag: return 30
        case .icmpv6Rcv: return 31
        case .ndiscRcv: return 32
        case .tcpV6Rcv: return 33
        case .udpv6Rcv: return 34
        case .nfConntrackIn: return 35
        case .nfNat: return 36
        case .neighResolveOutput: return 37
        case .neighUpdate: return 38
        case .neighTimerHandler: return 39
        case .reqskTimerHandler: return 40
        case .nfHook(let hook, _): return 41 &+ Int(hook.rawValue)
        }
    }

    /// One stage per `outputOrdinal` (index = ordinal).
    static let outputRepresentatives: [Stage] = [
        .napiPoll, .devGroReceive, .ethTypeTrans, .netifReceiveSkbCore, .vlanDoReceive,
        .arpRcv, .ipRcvCore, .ipRcvFinish, .ipRouteInput, .fibValidateSource, .ipError,
        .ipLocalDeliver, .ipDefrag, .ipLocalDeliverFinish, .ipForward, .ipOutput, .icmpRcv,
        .icmpSend, .tcpV4Rcv, .tcpV4DoRcv, .tcpRcvStateProcess, .tcpCheckReq,
        .tcpTimewaitStateProcess, .udpRcv, .rawV4Input, .ipv6Rcv, .ip6RcvCore, .ip6RouteInput,
        .ip6Input, .ip6Forward, .ipv6Defrag, .icmpv6Rcv, .ndiscRcv, .tcpV6Rcv, .udpv6Rcv,
        .nfConntrackIn, .nfNat, .neighResolveOutput, .neighUpdate, .neighTimerHandler,
        .reqskTimerHandler,
    ] + NFHook.allCases.map { .nfHook($0, table: 0) }
}

/// The stage entries' starts for every stage and verdict, never freed (raw memory, so reading
/// it costs no reference counting).
enum StageKeys {
    /// Verdicts per stage in the table (`Verdict.rawValue` < this).
    static let verdictSlots = 8

    /// The entries back to back, and where each starts (index `ordinal * verdictSlots +
    /// verdict.rawValue`; one more at the end).
    static let table: (bytes: UnsafeMutablePointer<UInt8>, starts: UnsafeMutablePointer<Int>) = {
        var w = ByteWriter(capacity: 16_384)
        defer { w.deallocate() }
        var starts: [Int] = []
        for (i, stage) in Stage.outputRepresentatives.enumerated() {
            precondition(stage.outputOrdinal == i, "Stage.outputRepresentatives is not in outputOrdinal order")
            for v in 0..<verdictSlots {
                starts.append(w.count)
                guard let verdict = Verdict(rawValue: UInt8(v)) else { continue }
                w.ascii("\"},{\"stage\":\"")
                stage.writeSymbol(to: &w)
                w.ascii("\",\"decision\":\"")
                verdict.writeDecisionAndDetailKey(to: &w)
            }
        }
        starts.append(w.count)
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: w.count)
        b.initialize(from: w.bytes.baseAddress!, count: w.count)
        let s = UnsafeMutablePointer<Int>.allocate(capacity: starts.count)
        s.initialize(from: starts, count: starts.count)
        return (b, s)
    }()

    /// Appends `"},{"stage":"<symbol>","decision":"<verdict>","detail":"`: the end of the entry
    /// before, then this one's start (without the end and the comma when `first`: the caller
    /// ends the last entry). `t` is `table`, read once by the caller.
    @inline(__always) static func write(_ t: (bytes: UnsafeMutablePointer<UInt8>, starts: UnsafeMutablePointer<Int>),
                                        _ stage: Stage, _ verdict: Verdict, first: Bool, to w: inout ByteWriter) {
        let i = stage.outputOrdinal &* verdictSlots &+ Int(verdict.rawValue)
        let start = t.starts[i] &+ (first ? 3 : 0)
        w.bytes(UnsafeBufferPointer(start: t.bytes + start, count: t.starts[i &+ 1] &- start))
    }
}
