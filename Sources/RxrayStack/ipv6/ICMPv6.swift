import RxrayDecode

/// Identity of an IPv6 reassembly queue (`struct frag_v6_compare_key`).
struct FragKey6: Hashable {
    var saddr: IPv6Address
    var daddr: IPv6Address
    var id: UInt32
    /// Who gathers the fragments (`enum ip6_defrag_users`): 0 local reassembly
    /// (ipv6_frag_rcv), `fragUserConntrackIn` conntrack defrag at PRE_ROUTING
    /// (ipv6/NFDefrag6.swift). Queues of different users are apart.
    var user: UInt8 = 0
}

extension Kernel {
    /// Sends an ICMPv6 error about `skb` unless a silence applies; rate limited per
    /// destination (`icmp/ratelimit`) and globally.
    ///
    /// Mirrors `icmp6_send()` in net/ipv6/icmp.c.
    func icmpv6Send(_ skb: SKB, type: UInt8, code: UInt8, info: UInt32, _ r: inout FrameResult) {
        let s = skb.v6Saddr, d = skb.v6Daddr
        if d.isMulticast || skb.pktType != .host {
            if !(type == 2 || (type == 4 && code == 2)) {
                r.record(.icmpSend, .note, "no ICMPv6: destination multicast or pkt_type \(skb.pktType)")
                return
            }
        }
        if s.isUnspecified || s.isMulticast {
            r.record(.icmpSend, .note, "no ICMPv6: source \(s) is not unicast")
            return
        }
        // Never about an ICMPv6 error.
        if skb.v6NextHeader == 58 && skb.captured(41) && skb.buf.u8(40) < 128 {
            r.record(.icmpSend, .note, "no ICMPv6 error about an ICMPv6 error")
            return
        }
        guard let out = outputRoute6(to: s, inbound: skb.dev) else {
            r.record(.icmpSend, .note, "no ICMPv6: no route back to \(s)")
            return
        }
        if type != 2 && ns.devices[out].kind != .loopback {
            if !globalAllow(&icmp6Global) {
                r.record(.icmpSend, .note, "ICMPv6 suppressed by the global limit")
                return
            }
            let cost = Int64(ns.sysctl.icmpv6RatelimitMs) * 1_000_000
            if cost > 0 && !peerAllow(.v6(s), cost: cost, burst: cost * 6) {
                r.record(.icmpSend, .note, "ICMPv6 suppressed by the per-host limit (icmp/ratelimit)")
                return
            }
            icmp6Global.credit -= 1
        }
        r.count(.icmp6OutMsgs)
        r.replies.append(Reply(kind: .icmpv6(type: type, code: code), interface: devName(out), source: nil,
                               destination: .v6(s), summary: r.wantsDetail ? icmpv6Text(type, code, info) : ""))
        r.record(.icmpSend, .note, "ICMPv6 \(icmpv6Text(type, code, info)) to \(s) via \(devName(out))")
    }

    func icmpv6Text(_ type: UInt8, _ code: UInt8, _ info: UInt32) -> String {
        switch (type, code) {
        case (1, 0): return "destination unreachable (no route)"
        case (1, 1): return "destination unreachable (administratively prohibited)"
        case (1, 2): return "destination unreachable (beyond scope of source)"
        case (1, 3): return "destination unreachable (address unreachable)"
        case (1, 4): return "destination unreachable (port unreachable)"
        case (2, _): return "packet too big, mtu \(info)"
        case (3, 0): return "time exceeded (hop limit)"
        case (3, 1): return "time exceeded (fragment reassembly)"
        case (4, _): return "parameter problem code \(code), pointer \(info)"
        case (129, _): return "echo reply"
        case (136, _): return "neighbour advertisement"
        default: return "type \(type) code \(code)"
        }
    }

    /// ICMPv6 input: checksum, echo, errors, neighbour discovery.
    ///
    /// Mirrors `icmpv6_rcv()` in net/ipv6/icmp.c and `ndisc_rcv()` in net/ipv6/ndisc.c.
    func icmpv6Rcv(_ skb: inout SKB, _ r: inout FrameResult) {
        let off = skb.thoff
        let len = skb.len - off
        guard skb.captured(skb.len) else { _ = snapped(&r, .icmpv6Rcv); return }
        if len < 4 || !skb.buf.checksumOK(off, len, pseudo: Pseudo.v6(skb.v6Saddr, skb.v6Daddr, proto: 58, length: len)) {
            r.count(.icmp6InCsumErrors)
            r.count(.icmp6InErrors)
            r.drop(.icmpCsum, at: .icmpv6Rcv, "ICMPv6 checksum does not verify")
            return
        }
        r.count(.icmp6InMsgs)
        let type = skb.buf.u8(off), code = skb.buf.u8(off + 1)
        switch type {
        case 128:
            // 6.18: an ignored echo leaves icmpv6_rcv with its initial NOT_SPECIFIED reason.
            if ns.sysctl.icmpv6EchoIgnoreAll || (skb.v6Daddr.isMulticast && ns.sysctl.icmpv6EchoIgnoreMulticast) {
                r.drop(.notSpecified, at: .icmpv6Rcv, "echo request ignored (echo_ignore_*)")
                return
            }
            r.fate = .delivered
            if let out = outputRoute6(to: skb.v6Saddr, inbound: skb.dev) {
                r.count(.icmp6OutMsgs)
                r.replies.append(Reply(kind: .icmpv6(type: 129, code: 0), interface: devName(out),
                                       source: skb.v6Daddr.isMulticast ? nil : .v6(skb.v6Daddr),
                                       destination: .v6(skb.v6Saddr), summary: r.wantsDetail ? "echo reply" : ""))
            }
            r.record(.icmpv6Rcv, .deliver, "echo request answered")
        case 129:
            r.drop(.noSocket, at: .icmpv6Rcv, "echo reply and no ping socket")
        case 1, 2, 3, 4:
            r.fate = .delivered
            r.record(.icmpv6Rcv, .deliver, "ICMPv6 error \(icmpv6Text(type, code, 0)) passed to the protocol's error handler")
        case 133, 134, 135, 136, 137:
            ndiscRcv(&skb, type: type, code: code, &r)
        default:
            r.fate = .delivered
            r.record(.icmpv6Rcv, .consume, "ICMPv6 type \(type) consumed")
        }
    }

    /// Neighbour discovery sanity checks and NS → NA. Mirrors `ndisc_rcv()` /
    /// `ndisc_recv_ns()` in net/ipv6/ndisc.c.
    func ndiscRcv(_ skb: inout SKB, type: UInt8, code: UInt8, _ r: inout FrameResult) {
        if skb.reassembled {
            r.drop(.ipv6NdiscFrag, at: .ndiscRcv, "fragmented neighbour discovery message")
            return
        }
        if skb.v6HopLimit != 255 {
            r.drop(.ipv6NdiscHopLimit, at: .ndiscRcv, "hop limit \(skb.v6HopLimit), must be 255")
            return
        }
        if code != 0 {
            r.drop(.ipv6NdiscBadCode, at: .ndiscRcv, "code \(code), must be 0")
            return
        }
        r.fate = .delivered
        if type == 136 {
            ndiscRecvNA(skb, &r)
            return
        }
        guard type == 135 else {
            let names: [UInt8: String] = [133: "router solicitation", 134: "router advertisement",
                                          136: "neighbour advertisement", 137: "redirect"]
            r.record(.ndiscRcv, .consume, "\(names[type] ?? "type \(type)") processed")
            return
        }
        let off = skb.thoff
        guard skb.len - off >= 24 else {
            r.drop(.ipv6NdiscBadOptions, at: .ndiscRcv, "neighbour solicitation too short")
            return
        }
        let target = skb.buf.v6At(off + 8)
        if target.isMulticast {
            r.drop(.notSpecified, at: .ndiscRcv, "NS for multicast target \(target)")
            return
        }
        let dad = skb.v6Saddr.isUnspecified
        if dad && skb.v6Daddr != target.solicitedNode {
            r.drop(.notSpecified, at: .ndiscRcv, "DAD NS not sent to the solicited-node group")
            return
        }
        let ours = ns.devices[skb.dev].v6.contains { $0.address == target }
        guard ours else {
            r.drop(.ipv6NdiscNsOtherhost, at: .icmpv6Rcv, "NS for \(target), not an address of \(devName(skb.dev)) (no proxy NDP)")
            return
        }
        if !dad && ns.neighboursKnown {
            // The source's entry (STALE, with the source link-layer option); a multicast NS
            // without the option creates none.
            let lladdr = ndiscOption(skb, type: 1, from: off + 24)
            let create = !skb.v6Daddr.isMulticast || lladdr != nil
            neighUpdate(NeighKey(address: .v6(skb.v6Saddr), dev: skb.dev), lladdr: lladdr, new: .stale, override: true,
                        weakOverride: true, create: create, &r)
        }
        r.count(.icmp6OutMsgs)
        r.replies.append(Reply(kind: .icmpv6(type: 136, code: 0), interface: devName(skb.dev), source: .v6(target),
                               destination: dad ? .v6(IPv6Address(high: 0xFF02_0000_0000_0000, low: 1)) : .v6(skb.v6Saddr),
                               summary: r.wantsDetail ? "neighbour advertisement \(target) is-at \(ns.devices[skb.dev].mac)" : ""))
        if dad {
            // ndisc_recv_ns answers a DAD probe for an address in use (to all nodes) but reports
            // no reason for the NS itself: icmpv6_rcv frees it as NOT_SPECIFIED.
            r.record(.ndiscRcv, .note, "DAD NS for our \(target): NA to ff02::1 (address in use)")
            r.drop(.notSpecified, at: .icmpv6Rcv, "DAD NS freed after the NA (no reason given)")
            return
        }
        r.record(.ndiscRcv, .deliver, "NS for our \(target): NA sent")
    }

    /// A neighbour advertisement updates the target's existing entry (REACHABLE when
    /// solicited, else STALE; the override flag decides whether a different address replaces
    /// the known one). No entry is created for an advertisement nobody asked for.
    ///
    /// Mirrors `ndisc_recv_na()` in net/ipv6/ndisc.c (accept_untracked_na 0).
    func ndiscRecvNA(_ skb: SKB, _ r: inout FrameResult) {
        let off = skb.thoff
        guard skb.len - off >= 24, skb.captured(off + 24) else {
            r.drop(.ipv6NdiscBadOptions, at: .ndiscRcv, "neighbour advertisement too short")
            return
        }
        let flags = skb.buf.u8(off + 4)
        let solicited = flags & 0x40 != 0, override = flags & 0x20 != 0
        let target = skb.buf.v6At(off + 8)
        if target.isMulticast {
            r.drop(.notSpecified, at: .ndiscRcv, "NA for multicast target \(target)")
            return
        }
        if skb.v6Daddr.isMulticast && solicited {
            r.record(.ndiscRcv, .consume, "solicited NA sent to a multicast address: ignored")
            return
        }
        let lladdr = ndiscOption(skb, type: 2, from: off + 24)
        var text = "neighbour advertisement \(target)" + (lladdr.map { " is-at \($0)" } ?? "")
        if ns.neighboursKnown {
            neighLoad()
            let key = NeighKey(address: .v6(target), dev: skb.dev)
            if let e = neigh.entries[key] {
                if e.state == .failed {
                    text += ": entry FAILED, not updated"
                } else if !neighUpdate(key, lladdr: lladdr, new: solicited ? .reachable : .stale, override: override,
                                       weakOverride: true, create: false, &r) {
                    text += ": entry kept"
                }
            } else {
                // 6.18's ndisc_recv_na frees an advertisement that updates nothing without a reason.
                r.drop(.notSpecified, at: .ndiscRcv, text + ": no entry for \(target), none created (accept_untracked_na 0)")
                return
            }
        }
        r.record(.ndiscRcv, .consume, text + " processed")
    }

    /// The link-layer address in ND option `type` (1 source, 2 target) of an Ethernet device.
    func ndiscOption(_ skb: SKB, type: UInt8, from start: Int) -> MACAddress? {
        var o = start
        let end = min(skb.len, skb.buf.count)
        while o + 2 <= end {
            let t = skb.buf.u8(o), l = Int(skb.buf.u8(o + 1)) * 8
            if l == 0 || o + l > end { return nil }
            if t == type && l >= 8 { return skb.buf.macAt(o + 2) }
            o += l
        }
        return nil
    }

    /// Queues an IPv6 fragment. Mirrors `ipv6_frag_rcv()` / `ip6_frag_queue()` in
    /// net/ipv6/reassembly.c (overlaps are always fatal, RFC 5722; atomic fragments pass).
    /// Every fragment counts a reassembly request; none counts a delivery (the fragment
    /// handler queues it), the completed datagram counts one when its protocol takes it.
    func ipv6FragRcv(_ skb: inout SKB, fragOffset off: Int, nhoff: Int, _ r: inout FrameResult) {
        r.count(.ip6ReasmReqds)
        guard off + 8 <= skb.len, skb.captured(skb.len) else {
            r.count(.ip6InHdrErrors)
            r.drop(.notSpecified, at: .ipv6Defrag, "fragment header truncated")
            return
        }
        let fo = skb.buf.u16(off + 2)
        let offset = Int(fo & 0xFFF8)
        let mf = fo & 1 != 0
        let id = skb.buf.u32(off + 4)
        if offset == 0 && !mf {
            r.record(.ipv6Defrag, .pass, "atomic fragment: processed as unfragmented")
            r.drop(.notSpecified, at: .ipv6Defrag, "atomic fragment delivery beyond the fragment header is not modelled")
            return
        }
        let key = FragKey6(saddr: skb.v6Saddr, daddr: skb.v6Daddr, id: id)
        let payloadStart = off + 8
        var end = offset + skb.len - payloadStart
        if mf && end & 7 != 0 {
            r.count(.ip6InHdrErrors)
            icmpv6Send(skb, type: 4, code: 0, info: 4, &r)
            r.drop(.notSpecified, at: .ipv6Defrag, "non-last fragment length not a multiple of 8")
            return
        }
        // Out of the table while this fragment works on it (a copy left there would share the
        // queue's arrays, and appending would copy them); every exit puts it back or ends it.
        var q: FragQueue
        if let existing = frag6.removeValue(forKey: key) {
            q = existing
        } else {
            fragSerial += 1
            q = fragPool.queue(serial: fragSerial, created: now, framesPool: &groFramesPool)
        }
        func kill(_ why: String, _ r: inout FrameResult) {
            fragMemory -= q.memory
            resolveHeld(q.held, fate: .dropped, reason: .notSpecified, stage: .ipv6Defrag, detail: "queue discarded at frame \(skb.frame): \(why)")
            r.drop(.notSpecified, at: .ipv6Defrag, why + "; the whole queue is dropped")
            fragPool.recycle(&q)
        }
        if !mf {
            if end < q.len || (q.lastIn && end != q.len) { kill("conflicting last fragment", &r); return }
            q.lastIn = true
            q.len = end
        } else if end > q.len {
            if q.lastIn { kill("fragment past the last fragment", &r); return }
            q.len = end
        }
        if end == offset { kill("empty fragment", &r); return }
        switch q.insert(offset, end) {
        case .dup, .overlap:
            kill("overlapping fragment (RFC 5722)", &r)
            return
        case .ok: break
        }
        end = min(end, offset + skb.buf.count - payloadStart)
        q.append(offset: offset, end: end, frame: skb.frame, skb.buf, from: payloadStart, count: end - offset)
        q.meat += end - offset
        q.memory += skb.len + 640
        fragMemory += skb.len + 640
        if offset == 0 {
            q.firstIn = true
            // Unfragmentable part with the fragment header's next header patched in.
            q.setHead(skb.buf, from: 0, count: off)
            q.head[nhoff == 6 ? 6 : nhoff] = skb.buf.u8(off)
            q.headDev = skb.dev
            q.headPktType = skb.pktType
            q.headRoute6 = skb.route6
        }
        if !(q.firstIn && q.lastIn && q.meat == q.len) {
            q.held.append(skb.frame)
            frag6[key] = q
            heldThisFrame = true
            r.fate = .dropped
            r.record(.ipv6Defrag, .hold, "id 0x\(String(id, radix: 16)): bytes \(offset)..<\(end) queued; fate follows the datagram")
            return
        }
        fragMemory -= q.memory
        let hl = q.head.count
        let total = hl + q.len
        var datagram = fragPool.takeBytes()
        q.assemble(into: &datagram)
        let plen = total - 40
        datagram[4] = UInt8(plen >> 8); datagram[5] = UInt8(plen & 0xFF)
        r.count(.ip6ReasmOKs)
        r.record(.ipv6Defrag, .pass, "datagram of \(total) bytes completed by this frame from frames \(q.fragments.map { String($0.frame) }.joined(separator: ", "))")
        let frameNo = skb.frame
        let route = skb.route6
        let dev = skb.dev
        datagram.withUnsafeBytes { buf in
            var whole = SKB(buf: buf, len: total, dev: dev, origDev: dev, pktType: q.headPktType, proto: 0x86DD,
                            frame: frameNo, time: now)
            whole.route6 = route
            whole.reassembled = true
            ip6ProtocolDeliver(&whole, &r)
        }
        fragPool.give(&datagram)
        resolveJoined(q.held, completedAt: frameNo, stage: .ipDefrag, r)
        fragPool.recycle(&q)
    }

    /// IPv6 reassembly timers: `ip6frag_time` for local reassembly queues,
    /// `nf_conntrack_frag6_timeout` for conntrack defrag queues. Mirrors `ip6_frag_expire()` /
    /// `nf_ct_frag6_expire()` → `ip6frag_expire_frag_queue()`: the held fragments are freed as
    /// FRAG_REASM_TIMEOUT, and ICMPv6 time exceeded (fragment reassembly) goes back when the first
    /// fragment had arrived, for either kind of queue.
    func expire6(now t: Int64) {
        let local = Int64(ns.sysctl.ip6fragTimeSeconds) * 1_000_000_000
        let conntrack = Int64(nfConntrackFrag6TimeoutSeconds) * 1_000_000_000
        func timeout(_ k: FragKey6) -> Int64 { k.user == 0 ? local : conntrack }
        if t != .max {
            // Nothing is due on most calls: look before building the list (no allocation).
            var any = false
            for (k, q) in frag6 where q.created + timeout(k) < t { any = true; break }
            if !any { return }
        }
        let due = frag6.filter { t == .max || $0.value.created + timeout($0.key) < t }.sorted { $0.value.serial < $1.value.serial }
        for (key, q) in due {
            frag6[key] = nil
            fragMemory -= q.memory
            var r = FrameResult()
            r.wantsDetail = wantsDetail
            if q.firstIn {
                let saved = now
                now = q.created + timeout(key)
                q.head.withUnsafeBytes { buf in
                    var skb = SKB(buf: buf, len: buf.count, dev: q.headDev, origDev: q.headDev, pktType: q.headPktType,
                                  proto: 0x86DD, frame: q.held.first ?? 0, time: now)
                    skb.route6 = q.headRoute6
                    icmpv6Send(skb, type: 3, code: 1, info: 0, &r)
                    nfLocalOutTimerReplies(answering: skb, ipv6: true, &r)
                }
                now = saved
            }
            let limit = key.user == 0 ? "ip6frag_time \(ns.sysctl.ip6fragTimeSeconds) s" : "nf_conntrack_frag6_timeout \(nfConntrackFrag6TimeoutSeconds) s"
            resolveHeld(q.held, fate: .dropped, reason: .fragReasmTimeout, stage: .ipv6Defrag,
                        detail: t == .max ? "end of input: the reassembly timer (\(limit)) would expire" : "reassembly timed out (\(limit))")
            if let first = q.held.first, !r.replies.isEmpty || !r.counters.isEmpty {
                // An ICMPv6 a rule at OUTPUT dropped was freed first: the frame's first drop.
                let replyDropped = r.dropReason == .netfilterDrop
                resolutions.append(HoldResolution(frames: [first], fate: .dropped, reason: replyDropped ? r.dropReason : .fragReasmTimeout,
                                                  stage: replyDropped ? r.dropStage : .ipv6Defrag,
                                                  detail: "timer fired", counters: r.counters, replies: r.replies,
                                                  noteStage: .ipv6Defrag, stages: r.stages, stageDetails: r.details))
            }
        }
    }

    /// UDP over IPv6. Mirrors `udpv6_rcv()` → `__udp6_lib_rcv()` (zero checksum is illegal).
    func udpv6Rcv(_ skb: inout SKB, _ r: inout FrameResult) {
        let off = skb.thoff
        let avail = skb.len - off
        guard avail >= 8, skb.captured(off + 8) else {
            r.count(.udp6InErrors)
            r.drop(.notSpecified, at: .udpv6Rcv, "UDP header truncated")
            return
        }
        var ulen = Int(skb.buf.u16(off + 4))
        if ulen == 0 { ulen = avail }
        if ulen > avail || ulen < 8 {
            r.count(.udp6InErrors)
            r.drop(.pktTooSmall, at: .udpv6Rcv, "UDP length \(ulen) vs \(avail) bytes")
            return
        }
        let dport = skb.buf.u16(off + 2)
        let csumOK = skb.captured(off + ulen) ? (skb.buf.u16(off + 6) != 0 &&
            skb.buf.checksumOK(off, ulen, pseudo: Pseudo.v6(skb.v6Saddr, skb.v6Daddr, proto: 17, length: ulen))) : true
        if skb.v6Daddr.isMulticast {
            if findUDPSocket(.v6(skb.v6Daddr), port: dport, dev: skb.dev, multicast: true) != nil
                || findUDPSocket(.v6(skb.v6Daddr), port: dport, dev: skb.dev, multicast: false) != nil {
                r.fate = .delivered
                r.record(.udpv6Rcv, .deliver, "multicast to port \(dport): delivered")
            } else {
                r.drop(.notSpecified, at: .udpv6Rcv, "multicast to port \(dport) and no socket")
            }
            return
        }
        if !csumOK {
            r.count(.udp6InCsumErrors)
            r.count(.udp6InErrors)
            r.drop(.udpCsum, at: .udpv6Rcv, "UDP checksum does not verify")
            return
        }
        if let s = findUDPSocket(.v6(skb.v6Daddr), port: dport, dev: skb.dev, multicast: false) {
            r.count(.udp6InDatagrams)
            r.fate = .delivered
            r.recordJSONSafe(.udpv6Rcv, .deliver) { w in
                w.ascii("port "); w.decimal(dport); w.ascii(": socket ")
                return writeSocket(s, to: &w)
            }
            return
        }
        r.count(.udp6NoPorts)
        icmpv6Send(skb, type: 1, code: 4, info: 0, &r)
        r.drop(.noSocket, at: .udpv6Rcv, "no socket on port \(dport): port unreachable")
    }

    /// TCP over IPv6. Mirrors `tcp_v6_rcv()` up to the socket lookup.
    func tcpV6Rcv(_ skb: inout SKB, _ r: inout FrameResult) {
        if skb.pktType != .host {
            r.drop(.notSpecified, at: .tcpV6Rcv, "pkt_type \(skb.pktType), not HOST")
            return
        }
        r.count(.tcpInSegs)
        let off = skb.thoff
        let seglen = skb.len - off
        guard seglen >= 20, skb.captured(off + 20) else {
            r.drop(.notSpecified, at: .tcpV6Rcv, "TCP header truncated")
            return
        }
        let doff = Int(skb.buf.u8(off + 12) >> 4) * 4
        if doff < 20 {
            r.count(.tcpInErrs)
            r.drop(.pktTooSmall, at: .tcpV6Rcv, "data offset below 5")
            return
        }
        if doff > seglen {
            r.drop(.notSpecified, at: .tcpV6Rcv, "data offset beyond the segment")
            return
        }
        // GRO already verified the checksum (CHECKSUM_UNNECESSARY): not summed a second time.
        let csumOK: Bool? = skb.csumVerified ? true : skb.captured(skb.len)
            ? skb.buf.checksumOK(off, seglen, pseudo: Pseudo.v6(skb.v6Saddr, skb.v6Daddr, proto: 6, length: seglen)) : nil
        let tcp = TCPSegment(skb.buf, off: off, doff: doff, payload: seglen - doff)
        tcpCommon(skb, tcp, csumOK: csumOK, v6: true, &r)
    }
}
