import RxrayDecode
import RxrayNetfilter

extension Kernel {
    /// The ICMP time exceeded (fragment reassembly) that an expiring reassembly queue sends is a
    /// packet this host builds: like every other reply it passes LOCAL_OUT and POST_ROUTING
    /// (`icmp_send` / `icmp6_send` → `ip_local_out` / `ip6_local_out`) before it leaves, and a
    /// rule there may drop it. The held first fragment `skb` is what it quotes. The fragment
    /// never reached conntrack (conntrack defrag holds fragments before it, and without
    /// conntrack there is none), so the reply carries no connection and conntrack looks it up
    /// at LOCAL_OUT. Replies a hook drops are taken out of `r.replies`.
    ///
    /// The replies that leave count their output counters (`countReplyOutput`).
    /// Allocates nothing when no reply was made.
    func nfLocalOutTimerReplies(answering skb: SKB, ipv6: Bool, _ r: inout FrameResult) {
        guard !r.replies.isEmpty else { return }
        if netfilter != nil {
            var i = 0
            while i < r.replies.count {
                if nfLocalOut(at: i, answering: skb, ipv6: ipv6, state: NFPacketState(), &r) { i += 1 }
            }
        }
        countReplyOutput(&r)
    }
}
