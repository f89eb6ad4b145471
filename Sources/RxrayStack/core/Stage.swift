/// A point on the receive path, named like the kernel function that makes the decision.
///
/// Users grep for these names (pwru, retis and perf print the same symbols), so `symbol` is
/// exactly the kernel's function name.
public enum Stage: Sendable, Hashable {
    case napiPoll
    case devGroReceive
    case ethTypeTrans
    case netifReceiveSkbCore
    case vlanDoReceive
    case arpRcv
    case ipRcvCore
    case ipRcvFinish
    case ipRouteInput
    case fibValidateSource
    case ipError
    case ipLocalDeliver
    case ipDefrag
    case ipLocalDeliverFinish
    case ipForward
    case ipOutput
    case icmpRcv
    case icmpSend
    case tcpV4Rcv
    case tcpV4DoRcv
    case tcpRcvStateProcess
    case tcpCheckReq
    case tcpTimewaitStateProcess
    case udpRcv
    case rawV4Input
    case ipv6Rcv
    case ip6RcvCore
    case ip6RouteInput
    case ip6Input
    case ip6Forward
    case ipv6Defrag
    case icmpv6Rcv
    case ndiscRcv
    case tcpV6Rcv
    case udpv6Rcv
    /// A netfilter hook point with one base chain or table: `nf_hook PREROUTING raw`.
    case nfHook(NFHook, table: UInt16)
    case nfConntrackIn
    case nfNat
    case neighResolveOutput
    case neighUpdate
    case neighTimerHandler
    /// The request socket's SYN-ACK timer (a timer event, not a frame's stage).
    case reqskTimerHandler

    /// The kernel symbol printed in traces.
    public var symbol: String {
        switch self {
        case .napiPoll: return "napi_poll"
        case .devGroReceive: return "dev_gro_receive"
        case .ethTypeTrans: return "eth_type_trans"
        case .netifReceiveSkbCore: return "__netif_receive_skb_core"
        case .vlanDoReceive: return "vlan_do_receive"
        case .arpRcv: return "arp_rcv"
        case .ipRcvCore: return "ip_rcv_core"
        case .ipRcvFinish: return "ip_rcv_finish"
        case .ipRouteInput: return "ip_route_input_slow"
        case .fibValidateSource: return "fib_validate_source"
        case .ipError: return "ip_error"
        case .ipLocalDeliver: return "ip_local_deliver"
        case .ipDefrag: return "ip_defrag"
        case .ipLocalDeliverFinish: return "ip_local_deliver_finish"
        case .ipForward: return "ip_forward"
        case .ipOutput: return "ip_output"
        case .icmpRcv: return "icmp_rcv"
        case .icmpSend: return "icmp_send"
        case .tcpV4Rcv: return "tcp_v4_rcv"
        case .tcpV4DoRcv: return "tcp_v4_do_rcv"
        case .tcpRcvStateProcess: return "tcp_rcv_state_process"
        case .tcpCheckReq: return "tcp_check_req"
        case .tcpTimewaitStateProcess: return "tcp_timewait_state_process"
        case .udpRcv: return "udp_rcv"
        case .rawV4Input: return "raw_v4_input"
        case .ipv6Rcv: return "ipv6_rcv"
        case .ip6RcvCore: return "ip6_rcv_core"
        case .ip6RouteInput: return "ip6_route_input"
        case .ip6Input: return "ip6_input"
        case .ip6Forward: return "ip6_forward"
        case .ipv6Defrag: return "ipv6_frag_rcv"
        case .icmpv6Rcv: return "icmpv6_rcv"
        case .ndiscRcv: return "ndisc_rcv"
        case .tcpV6Rcv: return "tcp_v6_rcv"
        case .udpv6Rcv: return "udpv6_rcv"
        case .nfHook(let hook, _): return "nf_hook \(hook.name)"
        case .nfConntrackIn: return "nf_conntrack_in"
        case .nfNat: return "nf_nat_inet_fn"
        case .neighResolveOutput: return "neigh_resolve_output"
        case .neighUpdate: return "neigh_update"
        case .neighTimerHandler: return "neigh_timer_handler"
        case .reqskTimerHandler: return "reqsk_timer_handler"
        }
    }
}

/// The five netfilter hooks (plus ARP's), as `NF_INET_*`.
public enum NFHook: UInt8, Sendable, Hashable, CaseIterable {
    case prerouting, input, forward, output, postrouting
    case arpIn, arpOut, arpForward

    public var name: String {
        switch self {
        case .prerouting: return "PREROUTING"
        case .input: return "INPUT"
        case .forward: return "FORWARD"
        case .output: return "OUTPUT"
        case .postrouting: return "POSTROUTING"
        case .arpIn: return "ARP_IN"
        case .arpOut: return "ARP_OUT"
        case .arpForward: return "ARP_FORWARD"
        }
    }
}
