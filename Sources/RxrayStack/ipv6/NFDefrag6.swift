import RxrayDecode

// Conntrack's IPv6 defragmentation (`nf_defrag_ipv6`): a hook function at PRE_ROUTING with
// priority -400 (NF_IP6_PRI_CONNTRACK_DEFRAG) that gathers fragments into whole datagrams
// before conntrack and every rule at a later priority, in queues of its own (the user
// `IP6_DEFRAG_CONNTRACK_IN`, apart from the local reassembly queues of ipv6_frag_rcv). The
// completed datagram goes on without its fragment header, marked as fragmented (ndisc refuses
// it), with `frag_max_size` (IPv6 header plus the largest fragment's payload) and `ignore_df`,
// so ip6_forward judges it by its largest fragment and ip6_output sends it out again in the
// fragments it came in.
//
// Counters: the gathering keeps none (no Ip6ReasmReqds/OKs); an expired queue counts
// Ip6ReasmFails and Ip6ReasmTimeout like a local one (ip6frag_expire_frag_queue).

/// `FragKey6.user` of a conntrack defrag queue at PRE_ROUTING (zone 0).
let fragUserConntrackIn: UInt8 = 1

/// The kernel's defaults for the conntrack defrag queues (`nf_conntrack_frag6_timeout`,
/// `nf_conntrack_frag6_high_thresh`); the host model carries the local reassembly sysctls only.
let nfConntrackFrag6TimeoutSeconds = 60
let nfConntrackFrag6HighThresh = 4 * 1024 * 1024

extension Kernel {
    /// Whether IPv6 fragments are gathered at PRE_ROUTING before conntrack: on whenever this
    /// namespace's rulesets make conntrack run (the same decision as `nfDefragsIPv4`, since
    /// the engine tracks both families together).
    var nfDefragsIPv6: Bool { netfilter?.engine.usesConntrack ?? false }

    /// The offset of the fragment header and of the next-header byte that names it, when `skb`
    /// is a fragment conntrack defrag gathers. Mirrors `find_prev_fhdr()` in
    /// net/ipv6/netfilter/nf_conntrack_reasm.c: only hop-by-hop, routing, destination options
    /// and AH headers may precede it; a jumbogram (payload length 0) is never gathered.
    func nfFrag6Header(_ skb: SKB) -> (fhoff: Int, nhoff: Int)? {
        guard skb.v6PayloadLen != 0 else { return nil }
        var nh = skb.v6NextHeader
        var nhoff = 6
        var start = 40
        while nh != 44 {
            guard nh == 0 || nh == 43 || nh == 60 || nh == 51 else { return nil }
            guard start + 2 <= skb.len, skb.captured(start + 2) else { return nil }
            let hlen = nh == 51 ? (Int(skb.buf.u8(start + 1)) + 2) * 4 : (Int(skb.buf.u8(start + 1)) + 1) * 8
            nhoff = start
            nh = skb.buf.u8(start)
            start += hlen
        }
        guard start <= skb.len else { return nil }
        return (start, nhoff)
    }

    /// Whether the first fragment at `fhoff` stops before its upper-layer header ends (RFC 8200
    /// 4.5; `ipv6frag_thdr_truncated()`): such a fragment is not gathered.
    private func nfFrag6ThdrTruncated(_ skb: SKB, fhoff: Int) -> Bool {
        guard skb.captured(fhoff + 8) else { return false }
        if skb.buf.u16(fhoff + 2) & 0xFFF8 != 0 { return false }
        var nh = skb.buf.u8(fhoff)
        var off = fhoff + 8
        while nh == 0 || nh == 43 || nh == 60 || nh == 51 {
            guard off + 2 <= skb.len, skb.captured(off + 2) else { return false }
            let hlen = nh == 51 ? (Int(skb.buf.u8(off + 1)) + 2) * 4 : (Int(skb.buf.u8(off + 1)) + 1) * 8
            nh = skb.buf.u8(off)
            off += hlen
        }
        switch nh {
        case 6: off += 20
        case 17: off += 8
        case 58: off += 4
        default: off += 1
        }
        return off > skb.len
    }

    /// The conntrack defrag hook for an IPv6 packet at PRE_ROUTING. Returns false when the
    /// packet was taken (queued, completed and processed, or dropped); true when it is not a
    /// fragment conntrack gathers and goes on through PRE_ROUTING as it is.
    ///
    /// Mirrors `ipv6_defrag()` (net/ipv6/netfilter/nf_defrag_ipv6_hooks.c) →
    /// `nf_ct_frag6_gather()` → `nf_ct_frag6_queue()` → `nf_ct_frag6_reasm()`: -EINPROGRESS
    /// (queued, or a duplicate freed as DUP_FRAG) is NF_STOLEN, an error NF_DROP
    /// (NETFILTER_DROP from nf_hook_slow), a fragment whose non-last length is not a multiple
    /// of 8 kills its queue and goes on ungathered.
    func nfCtFrag6Gather(_ skb: inout SKB, _ r: inout FrameResult) -> Bool {
        guard let (fhoff, nhoff) = nfFrag6Header(skb) else { return true }
        if nfFrag6ThdrTruncated(skb, fhoff: fhoff) {
            r.record(.ipv6Defrag, .note, "nf_defrag_ipv6: first fragment without its whole upper-layer header: not gathered")
            return true
        }
        guard fhoff + 8 <= skb.len, skb.captured(skb.len) else {
            if !skb.captured(skb.len) { return snapped(&r, .ipv6Defrag) }
            r.drop(.netfilterDrop, at: .ipv6Defrag, "nf_defrag_ipv6: fragment header truncated")
            return false
        }
        let fo = skb.buf.u16(fhoff + 2)
        let offset = Int(fo & 0xFFF8)
        let mf = fo & 1 != 0
        let id = skb.buf.u32(fhoff + 4)
        let payloadLen = skb.v6PayloadLen
        let payloadStart = fhoff + 8
        let end = offset + (skb.len - payloadStart)
        let key = FragKey6(saddr: skb.v6Saddr, daddr: skb.v6Daddr, id: id, user: fragUserConntrackIn)
        func ident() -> String { "nf_defrag_ipv6: id 0x\(String(id, radix: 16)) \(skb.v6Saddr) → \(skb.v6Daddr)" }
        let truesize = skb.len + 640
        // Out of the table while this fragment works on it (a copy left there would share the
        // queue's arrays, and appending would copy them); every exit puts it back or ends it.
        var q: FragQueue
        if let existing = frag6.removeValue(forKey: key) {
            q = existing
        } else {
            var used = 0
            for (k, q) in frag6 where k.user == fragUserConntrackIn { used += q.memory }
            if used + truesize > nfConntrackFrag6HighThresh {
                r.drop(.netfilterDrop, at: .ipv6Defrag, "\(ident()): conntrack fragment memory above nf_conntrack_frag6_high_thresh: no new queue")
                return false
            }
            fragSerial += 1
            q = fragPool.queue(serial: fragSerial, created: now, framesPool: &groFramesPool)
        }
        // An error keeps the queue (`goto err`); a conflicting insert kills it first.
        func refuse(_ why: String, kill: Bool, _ r: inout FrameResult) {
            if kill {
                fragMemory -= q.memory
                resolveHeld(q.held, fate: .dropped, reason: .notSpecified, stage: .ipv6Defrag,
                            detail: wantsDetail ? "conntrack defrag queue discarded at frame \(skb.frame): \(why)" : "")
                fragPool.recycle(&q)
            } else {
                frag6[key] = q
            }
            r.drop(.netfilterDrop, at: .ipv6Defrag, "\(ident()): \(why)" + (kill ? "; the whole queue is dropped" : ""))
        }
        if end > 65535 {
            refuse("fragment ends at \(end), beyond the largest payload", kill: false, &r)
            return false
        }
        if !mf {
            if end < q.len || (q.lastIn && end != q.len) {
                refuse("last fragment ends at \(end), conflicting with length \(q.len)", kill: false, &r)
                return false
            }
            q.lastIn = true
            q.len = end
        } else {
            if end & 7 != 0 {
                // The queue dies; the fragment itself goes on as it is (-EPROTO becomes 0).
                fragMemory -= q.memory
                resolveHeld(q.held, fate: .dropped, reason: .notSpecified, stage: .ipv6Defrag,
                            detail: wantsDetail ? "conntrack defrag queue discarded at frame \(skb.frame): a non-last fragment's length is not a multiple of 8" : "")
                fragPool.recycle(&q)
                r.record(.ipv6Defrag, .note, "\(ident()): non-last fragment length not a multiple of 8: queue killed, the fragment goes on ungathered")
                return true
            }
            if end > q.len {
                if q.lastIn {
                    refuse("fragment ends at \(end), past the last fragment's end \(q.len)", kill: false, &r)
                    return false
                }
                q.len = end
            }
        }
        if end == offset {
            refuse("empty fragment", kill: false, &r)
            return false
        }
        switch q.insert(offset, end) {
        case .dup:
            frag6[key] = q
            r.drop(.dupFrag, at: .ipv6Defrag, "\(ident()): bytes \(offset)..<\(end) duplicate ones already queued")
            return false
        case .overlap:
            refuse("bytes \(offset)..<\(end) overlap queued fragments", kill: true, &r)
            return false
        case .ok: break
        }
        q.append(offset: offset, end: end, frame: skb.frame, skb.buf, from: payloadStart, count: end - offset)
        q.meat += end - offset
        q.memory += truesize
        fragMemory += truesize
        q.maxSize = max(q.maxSize, payloadLen)
        if offset == 0 {
            q.firstIn = true
            // The unfragmentable part, with the header before the fragment header naming what
            // the fragment header named.
            q.setHead(skb.buf, from: 0, count: fhoff)
            q.head[nhoff] = skb.buf.u8(fhoff)
            q.headDev = skb.dev
            q.headPktType = skb.pktType
        }
        if !(q.firstIn && q.lastIn && q.meat == q.len) {
            q.held.append(skb.frame)
            frag6[key] = q
            heldThisFrame = true
            r.fate = .dropped
            r.record(.ipv6Defrag, .hold, wantsDetail ? "\(ident()): bytes \(offset)..<\(end) queued by conntrack defrag (\(q.meat) of \(q.lastIn ? String(q.len) : "?") bytes); fate follows the datagram" : "")
            return false
        }
        fragMemory -= q.memory
        let hl = q.head.count
        let total = hl + q.len
        if total - 40 > 65535 {
            // The queue owns the fragment by now: it is freed with the queue.
            resolveHeld(q.held + [skb.frame], fate: .dropped, reason: .notSpecified, stage: .ipv6Defrag,
                        detail: wantsDetail ? "datagram completed at frame \(skb.frame) is oversized and dropped" : "")
            r.drop(.notSpecified, at: .ipv6Defrag, "\(ident()): reassembled payload \(total - 40) exceeds 65535")
            fragPool.recycle(&q)
            return false
        }
        var datagram = fragPool.takeBytes()
        q.assemble(into: &datagram)
        let plen = total - 40
        datagram[4] = UInt8(plen >> 8); datagram[5] = UInt8(plen & 0xFF)
        if r.wantsDetail {
            let frames = q.fragments.map { $0.frame }.sorted()
            r.record(.ipv6Defrag, .pass, "\(ident()): datagram of \(total) bytes completed by this frame from frames \(frames.map(String.init).joined(separator: ", ")) (fragment header removed, frag_max_size \(40 + q.maxSize))")
        } else {
            r.record(.ipv6Defrag, .pass)
        }
        let frameNo = skb.frame
        let dev = skb.dev
        let origDev = skb.origDev
        let mark = skb.mark
        let srcMAC = skb.srcMAC, dstMAC = skb.dstMAC
        datagram.withUnsafeBytes { buf in
            var whole = SKB(buf: buf, len: total, dev: dev, origDev: origDev, pktType: q.headPktType, proto: 0x86DD,
                            frame: frameNo, time: now)
            whole.mark = mark
            whole.srcMAC = srcMAC
            whole.dstMAC = dstMAC
            whole.reassembled = true
            whole.fragMaxSize = 40 + q.maxSize
            // The fragments it came in (the frag_list ip6_fragment sends out again).
            whole.groSegs = q.fragments.count
            whole.thoff = 40
            guard nfHook(.prerouting, ipv6: true, &whole, &r) else { return }
            ip6RouteInput(&whole, &r)
        }
        fragPool.give(&datagram)
        resolveJoined(q.held, completedAt: frameNo, stage: .ipDefrag, r)
        fragPool.recycle(&q)
        return false
    }
}
