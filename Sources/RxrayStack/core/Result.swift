import RxrayDecode

/// What finally happened to a frame, as the per-frame JSON's `fate`.
public enum Fate: String, Sendable {
    /// Reached a local socket, or a kernel protocol handler consumed it (ICMP echo, ARP, NDISC).
    case delivered
    /// Left the host through another (or the same) interface.
    case forwarded
    /// Freed without being delivered or forwarded; `dropReason` says why.
    case dropped
}

/// The kernel's `enum skb_drop_reason`, by name (without `SKB_DROP_REASON_`).
///
/// Append-only. The names are those of the 6.18 kernel these machines run; numbers are not
/// stable across kernels, so only names are stored and printed.
public enum DropReason: String, Sendable, CaseIterable {
    case notSpecified = "NOT_SPECIFIED"
    case noSocket = "NO_SOCKET"
    case pktTooSmall = "PKT_TOO_SMALL"
    case tcpCsum = "TCP_CSUM"
    case socketFilter = "SOCKET_FILTER"
    case udpCsum = "UDP_CSUM"
    case netfilterDrop = "NETFILTER_DROP"
    case otherhost = "OTHERHOST"
    case ipCsum = "IP_CSUM"
    case ipInhdr = "IP_INHDR"
    case ipRpfilter = "IP_RPFILTER"
    case unicastInL2Multicast = "UNICAST_IN_L2_MULTICAST"
    case xfrmPolicy = "XFRM_POLICY"
    case ipNoproto = "IP_NOPROTO"
    case socketRcvbuff = "SOCKET_RCVBUFF"
    case protoMem = "PROTO_MEM"
    case tcpMd5NotFound = "TCP_MD5NOTFOUND"
    case tcpMd5Unexpected = "TCP_MD5UNEXPECTED"
    case tcpMd5Failure = "TCP_MD5FAILURE"
    case socketBacklog = "SOCKET_BACKLOG"
    case tcpFlags = "TCP_FLAGS"
    case tcpAbortOnData = "TCP_ABORT_ON_DATA"
    case tcpZeroWindow = "TCP_ZEROWINDOW"
    case tcpOldData = "TCP_OLD_DATA"
    case tcpOverWindow = "TCP_OVERWINDOW"
    case tcpOfoMerge = "TCP_OFOMERGE"
    case tcpRfc7323Paws = "TCP_RFC7323_PAWS"
    case tcpRfc7323PawsAck = "TCP_RFC7323_PAWS_ACK"
    case tcpRfc7323Tsecr = "TCP_RFC7323_TSECR"
    case tcpListenOverflow = "TCP_LISTEN_OVERFLOW"
    case tcpOldSequence = "TCP_OLD_SEQUENCE"
    case tcpInvalidSequence = "TCP_INVALID_SEQUENCE"
    case tcpInvalidEndSequence = "TCP_INVALID_END_SEQUENCE"
    case tcpInvalidAckSequence = "TCP_INVALID_ACK_SEQUENCE"
    case tcpReset = "TCP_RESET"
    case tcpInvalidSyn = "TCP_INVALID_SYN"
    case tcpClose = "TCP_CLOSE"
    case tcpFastopen = "TCP_FASTOPEN"
    case tcpOldAck = "TCP_OLD_ACK"
    case tcpTooOldAck = "TCP_TOO_OLD_ACK"
    case tcpAckUnsentData = "TCP_ACK_UNSENT_DATA"
    case tcpOfoQueuePrune = "TCP_OFO_QUEUE_PRUNE"
    case tcpOfoDrop = "TCP_OFO_DROP"
    case ipOutnoroutes = "IP_OUTNOROUTES"
    case bpfCgroupEgress = "BPF_CGROUP_EGRESS"
    case ipv6Disabled = "IPV6DISABLED"
    case neighCreatefail = "NEIGH_CREATEFAIL"
    case neighFailed = "NEIGH_FAILED"
    case neighQueuefull = "NEIGH_QUEUEFULL"
    case neighDead = "NEIGH_DEAD"
    case tcEgress = "TC_EGRESS"
    case qdiscDrop = "QDISC_DROP"
    case cpuBacklog = "CPU_BACKLOG"
    case xdp = "XDP"
    case tcIngress = "TC_INGRESS"
    case unhandledProto = "UNHANDLED_PROTO"
    case skbCsum = "SKB_CSUM"
    case skbGsoSeg = "SKB_GSO_SEG"
    case skbUcopyFault = "SKB_UCOPY_FAULT"
    case devHdr = "DEV_HDR"
    case devReady = "DEV_READY"
    case full_ring = "FULL_RING"
    case nomem = "NOMEM"
    case hdrTrunc = "HDR_TRUNC"
    case tapFilter = "TAP_FILTER"
    case tapTxfilter = "TAP_TXFILTER"
    case icmpCsum = "ICMP_CSUM"
    case invalidProto = "INVALID_PROTO"
    case ipInaddrerrors = "IP_INADDRERRORS"
    case ipInnoroutes = "IP_INNOROUTES"
    case ipLocalSource = "IP_LOCAL_SOURCE"
    case ipInvalidSource = "IP_INVALID_SOURCE"
    case ipLocalnet = "IP_LOCALNET"
    case ipInvalidDest = "IP_INVALID_DEST"
    case pktTooBig = "PKT_TOO_BIG"
    case dupFrag = "DUP_FRAG"
    case fragReasmTimeout = "FRAG_REASM_TIMEOUT"
    case fragTooFar = "FRAG_TOO_FAR"
    case tcpMinttl = "TCP_MINTTL"
    case ipv6BadExthdr = "IPV6_BAD_EXTHDR"
    case ipv6NdiscFrag = "IPV6_NDISC_FRAG"
    case ipv6NdiscHopLimit = "IPV6_NDISC_HOP_LIMIT"
    case ipv6NdiscBadCode = "IPV6_NDISC_BAD_CODE"
    case ipv6NdiscBadOptions = "IPV6_NDISC_BAD_OPTIONS"
    case ipv6NdiscNsOtherhost = "IPV6_NDISC_NS_OTHERHOST"
    case queuePurge = "QUEUE_PURGE"
    case socketClose = "SOCKET_CLOSE"
    case pfmemalloc = "PFMEMALLOC"

    /// The name as `skb:kfree_skb` prints it.
    @inlinable public var name: String { rawValue }
}
