import RxrayDecode

extension Reply.Kind {
    /// A TCP segment the host builds in answer (reset, SYN-ACK, ACK).
    var isTCP: Bool {
        switch self {
        case .tcpRst, .tcpSynAck, .tcpAck: return true
        default: return false
        }
    }
}

extension Reply {
    /// Whether the reply is an IPv4 packet (ARP and IPv6 replies are not).
    var isIPv4Packet: Bool {
        switch kind {
        case .arpReply, .arpRequest, .neighbourSolicit, .icmpv6: return false
        default: break
        }
        if case .v4? = destination { return true }
        if case .v4? = source { return true }
        return false
    }
}

extension Kernel {
    /// The way out of the replies a packet made, once its receive path is done: LOCAL_OUT and
    /// POST_ROUTING (`nfLocalOutReplies`), the IPv4 output counters (`countReplyOutput`) and
    /// the next hop's neighbour (`neighOutputReplies`). For every packet the stack ran: a
    /// frame's own (`Analyzer.process`) and a GRO packet completed later (`groComplete`, whose
    /// `packetFrame` is its first segment).
    func outputReplies(_ r: inout FrameResult, packetFrame: Int? = nil) {
        if netfilter != nil { nfLocalOutReplies(&r, packetFrame: packetFrame) }
        if !r.replies.isEmpty { countReplyOutput(&r) }
        neighOutputReplies(&r)
    }

    /// The IPv4 output counters of the replies in `r.replies`, which have passed LOCAL_OUT and
    /// POST_ROUTING (those a hook dropped are gone): `IpOutRequests` for a TCP segment, counted
    /// when it enters `ip_local_out` (an ICMP message counted it already in `icmp_send`), and
    /// `IpOutTransmits` for every packet that reaches `ip_finish_output2`, before the
    /// neighbour decides whether it leaves now or waits.
    func countReplyOutput(_ r: inout FrameResult) {
        for rep in r.replies where rep.isIPv4Packet {
            if rep.kind.isTCP { r.count(.ipOutRequests) }
            r.count(.ipOutTransmits)
        }
    }
}
