import RxrayStack

/// The per-frame comment written into an annotated pcapng (`--write`): the decision summary a
/// Wireshark user sees in the frame's comment (`frame.comment`).
///
/// One line, fields separated by `; `:
///
///     rxray: dropped NO_SOCKET at udp_rcv; reply icmp on eth0: ...
///     rxray: dropped NETFILTER_DROP at nf_hook INPUT; rule: -A INPUT -p tcp --dport 22 -j DROP
///     rxray: forwarded via eth1 next hop 192.0.2.254
///     rxray: delivered; udp_rcv: 20001 → 5000: socket udp [::]:5000
///
/// The deciding stage's detail follows: after `rule:` when a netfilter hook decided (the rule
/// text), after `why:` for other drops, after the stage's symbol for deliveries and forwards. The frame's own comment, if it had one, is
/// kept at the end after `| capture comment: `.
public enum Annotation {
    public static func comment(_ r: FrameResult, original: String? = nil) -> String {
        var s = "rxray: " + r.fate.rawValue
        if let reason = r.dropReason { s += " " + reason.name }
        if let st = r.dropStage {
            s += " at " + st.symbol
        } else if let st = r.silentDropStage {
            s += " without a drop reason (consume_skb) at " + st.symbol
        }
        if let e = r.egress { s += " via " + e }
        if let nh = r.nextHop { s += " next hop \(nh)" }
        if let decider = deciding(r), decider.hasDetail {
            if case .nfHook = decider.stage {
                s += "; rule: "
            } else if r.fate == .dropped {
                s += "; why: "
            } else {
                s += "; " + decider.stage.symbol + ": "
            }
            s += r.detail(of: decider)
        }
        for rep in r.replies { s += "; reply \(rep.kindName) on \(rep.interface): \(rep.summary)" }
        if let o = original, !o.isEmpty { s += " | capture comment: " + o }
        return s
    }

    /// The record that decided the frame's fate: the drop record of the drop stage, or the
    /// last deliver/forward record, or nil.
    public static func deciding(_ r: FrameResult) -> StageRecord? {
        switch r.fate {
        case .dropped:
            if let st = r.dropStage ?? r.silentDropStage {
                if let rec = r.stages.last(where: { $0.stage == st && $0.verdict == .drop }) { return rec }
                return r.stages.last { $0.stage == st }
            }
            return r.stages.last { $0.verdict == .drop }
        case .delivered:
            return r.stages.last { $0.verdict == .deliver }
        case .forwarded:
            return r.stages.last { $0.verdict == .forward }
        }
    }
}
