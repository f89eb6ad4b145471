extension Kernel {
    /// A netfilter hook point. The netfilter engine is not built yet: hooks sit at their points
    /// and pass, leaving a trace entry only when details are wanted.
    ///
    /// Mirrors `NF_HOOK()` / `nf_hook_slow()` in net/netfilter/core.c. Returns whether the
    /// packet continues (a DROP verdict would return false with `NETFILTER_DROP`).
    @inline(__always)
    func nfHook(_ hook: NFHook, ipv6: Bool, _ r: inout FrameResult) -> Bool {
        if r.wantsDetail {
            r.record(.nfHook(hook, table: 0), .pass, "no rules evaluated (netfilter not modelled yet)")
        }
        return true
    }
}
