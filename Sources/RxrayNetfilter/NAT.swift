import RxrayDecode

// NAT: bindings on a connection's first packet, then per-packet manipulation.
// Mirrors net/netfilter/nf_nat_core.c (`nf_nat_inet_fn`, `nf_nat_setup_info`,
// `get_unique_tuple`, `nf_nat_packet`) and nf_nat_proto.c (header rewrite).

extension NetfilterEngine {
    /// The NAT hook function at one hook: nat-type chains for a new connection with no binding
    /// of this manip type yet, then the packet's rewrite per the connection's bindings.
    func natCore(_ prog: RunProgram, first: Int, count: Int, dst: Bool, _ p: inout NFPacket, _ st: inout NFPacketState, _ out: inout NFHookOutcome, trace: Bool) {
        guard st.ct.slot >= 0, !st.ct.untracked else { return }
        let slot = Int(st.ct.slot)
        guard conntrack.slots[slot].inUse else { return }
        if (st.ct.info == .related || st.ct.info == .relatedReply) && p.isICMPError {
            // nf_nat_ipv4_fn / nf_nat_ipv6_fn: an ICMP error about a connection never consults
            // the nat chains; it is translated like the packet it quotes.
            if !icmpErrorTranslate(dst: dst, &p, st, &out) { out.verdict = .drop }
            return
        }
        let doneBit = dst ? CTStatus.dstNATDone : CTStatus.srcNATDone
        if (st.ct.info == .new || st.ct.info == .related) && conntrack.slots[slot].status & doneBit == 0 {
            var bound = false
            for i in first..<first + count {
                let c = Int(prog.natChains[i])
                let v = withUnsafeMutablePointer(to: &bound) { runChain(prog, c, &p, &st, &out, trace: trace, nat: $0) }
                if v == .drop { out.verdict = .drop; return }
                if bound { break }
            }
            // No rule bound: a null binding, so later packets never consult the chains again.
            conntrack.slots[slot].status |= doneBit
        }
        manip(dst: dst, &p, st, &out)
    }

    /// Whether `natCore` at a hook with manip type `dst` could read or change the packet or
    /// its connection, for a packet in conntrack state `st`: false only when it returns at
    /// once (no connection, or its slot gone), or the connection is past its bindings (not
    /// new, or bound already) and has no binding of this manip in the packet's direction.
    /// A RELATED packet counts as acting (it may be an ICMP error, translated as it quotes).
    /// The state is passed `inout` although only read (by value it was packed into registers
    /// at every call).
    @inline(__always) func natCoreActs(dst: Bool, _ st: inout NFPacketState) -> Bool {
        guard st.ct.slot >= 0, !st.ct.untracked else { return false }
        let slot = Int(st.ct.slot)
        guard conntrack.slots[slot].inUse else { return false }
        if st.ct.info == .related || st.ct.info == .relatedReply { return true }
        let status = conntrack.slots[slot].status
        if st.ct.info == .new && status & (dst ? CTStatus.dstNATDone : CTStatus.srcNATDone) == 0 { return true }
        return status & Self.manipBit(dst: dst, dir: st.ct.direction) != 0
    }

    /// The status bit of the binding `manip` applies at a hook of manip type `dst` to a packet
    /// in direction `dir` (the reply direction undoes the other manip type).
    @inline(__always) static func manipBit(dst: Bool, dir: Int) -> UInt32 {
        dir == 1 ? (dst ? CTStatus.srcNAT : CTStatus.dstNAT) : (dst ? CTStatus.dstNAT : CTStatus.srcNAT)
    }

    /// Makes the binding for a NAT statement on the connection of `p`
    /// (`nf_nat_setup_info` with the range the rule gives).
    func bind(_ spec: NATSpec, _ p: inout NFPacket, _ st: NFPacketState) -> Bool {
        let slot = Int(st.ct.slot)
        let e = conntrack.slots[slot]
        // The tuple as already manipulated by an earlier binding (DNAT before SNAT).
        var t = ConntrackTable.invert(e.reply) ?? e.original
        let v6 = t.v6
        let hasPorts = t.proto == 6 || t.proto == 17 || t.proto == 132 || t.proto == 136 || t.proto == 33
        switch spec.kind {
        case .dnat, .redirect:
            if spec.kind == .redirect {
                if p.hook == .output { t.dst = v6 ? NFValue(1) : NFValue(0x7F00_0001) }
                else if let a = (v6 ? primary6 : primary4)[p.iif] { t.dst = a }
                else { return false }  // no address on the input interface: the kernel drops
            } else if spec.mapSet >= 0 {
                var key = SetKey()
                for (i, l) in spec.mapKeys.enumerated() where i < 4 { guard let x = value(l, p, st) else { return false }; key[i] = x }
                guard let vi = sets[spec.mapSet].lookup(key) else { return false }
                switch sets[spec.mapSet].values[Int(vi)] {
                case .nat(let a, let port): t.dst = a; if let port, hasPorts { t.dport = port }
                case .value(let a): t.dst = a
                default: return false
                }
            } else if let a = spec.addrLow {
                t.dst = a
            }
            if let lo = spec.portLow, hasPorts { t.dport = lo }
        case .snat, .masquerade:
            if spec.kind == .masquerade {
                guard let a = (v6 ? primary6 : primary4)[p.oif] else { return false }
                t.src = a
            } else if let a = spec.addrLow {
                t.src = a
            }
            if let lo = spec.portLow, hasPorts { t.sport = lo }
            // get_unique_tuple: keep the port if the resulting reply tuple is free, otherwise
            // walk the allowed range (the kernel starts at a hashed offset; rxray walks in order).
            if hasPorts || t.proto == 1 || t.proto == 58 {
                var cand = t
                var tries = 0
                let (lo, hi): (UInt16, UInt16)
                if let l = spec.portLow { (lo, hi) = (l, spec.portHigh ?? l) }
                else if t.sport < 512 { (lo, hi) = (1, 511) }
                else if t.sport < 1024 { (lo, hi) = (600, 1023) }
                else { (lo, hi) = (1024, 65535) }
                while let r = ConntrackTable.invert(cand), conntrack.isTaken(r), tries < 65536 {
                    tries += 1
                    let span = UInt32(hi) - UInt32(lo) + 1
                    let next = UInt32(lo) + (UInt32(cand.sport &- lo) + 1) % span
                    cand.sport = UInt16(next)
                }
                t = cand
            }
        }
        guard let reply = ConntrackTable.invert(t) else { return false }
        conntrack.alterReply(Int32(slot), reply)
        conntrack.slots[slot].status |= (spec.kind == .dnat || spec.kind == .redirect) ? CTStatus.dstNAT : CTStatus.srcNAT
        return true
    }

    /// Rewrites the packet per the connection's bindings (`nf_nat_packet`).
    func manip(dst: Bool, _ p: inout NFPacket, _ st: NFPacketState, _ out: inout NFHookOutcome) {
        let slot = Int(st.ct.slot)
        let dir = st.ct.direction
        // The status first, the tuple only when bound (not a copy of the whole entry per hook).
        guard conntrack.slots[slot].status & Self.manipBit(dst: dst, dir: dir) != 0 else { return }
        let other = dir == 1 ? conntrack.slots[slot].original : conntrack.slots[slot].reply
        guard let target = ConntrackTable.invert(other) else { return }
        let isICMP = target.proto == 1 || target.proto == 58
        if dst {
            rewrite(&p, src: nil, dst: target.dst, sport: isICMP ? nil : nil, dport: isICMP ? nil : target.dport, icmpID: nil, &out)
        } else {
            rewrite(&p, src: target.src, dst: nil, sport: isICMP ? nil : target.sport, dport: nil, icmpID: isICMP ? target.sport : nil, &out)
        }
    }

    /// Translates an ICMP error RELATED to a NATed connection: the quoted header as the
    /// connection's packets in the other direction are translated, then the outer header as
    /// if it answered the translated packet. False when the packet is dropped (a redirect
    /// about a NATed connection).
    ///
    /// Mirrors `nf_nat_icmp_reply_translation()` / `nf_nat_icmpv6_reply_translation()` in
    /// net/netfilter/nf_nat_proto.c.
    func icmpErrorTranslate(dst: Bool, _ p: inout NFPacket, _ st: NFPacketState, _ out: inout NFHookOutcome) -> Bool {
        let e = conntrack.slots[Int(st.ct.slot)]
        let v6 = p.family == .ipv6
        let inner = p.thoff + 8
        guard p.has(p.thoff, 8), p.has(inner, v6 ? 40 : 20) else { return true }
        let type = p.bytes.u8(p.thoff)
        if (!v6 && type == 5) || (v6 && type == 137) {
            let done = CTStatus.srcNATDone | CTStatus.dstNATDone
            if e.status & done != done { return false }
            if e.status & (CTStatus.srcNAT | CTStatus.dstNAT) != 0 { return false }
        }
        let dir = st.ct.direction
        var bit = dst ? CTStatus.dstNAT : CTStatus.srcNAT
        if dir == 1 { bit = dst ? CTStatus.srcNAT : CTStatus.dstNAT }
        guard e.status & bit != 0 else { return true }
        let t = e.tuple(1 - dir)
        guard let target = ConntrackTable.invert(t) ?? Optional(t) else { return true }
        // Copy into the engine's buffer once, then rewrite in place.
        let n = min(p.bytes.count, scratch.count)
        if p.bytes.baseAddress != UnsafeRawPointer(scratch.baseAddress), n > 0, let b = p.bytes.baseAddress {
            scratch.baseAddress!.copyMemory(from: b, byteCount: n)
        }
        let buf = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<n])
        let ro = UnsafeRawBufferPointer(buf)
        // The quoted header is manipulated the other way (source for a destination hook).
        let innerPkt = NFPacket(family: p.family, hook: p.hook, bytes: UnsafeRawBufferPointer(rebasing: ro[inner...]))
        let ith = innerPkt.thoff
        let iproto = innerPkt.l4proto
        let icmpBefore = NFPacket.sumRange(ro, from: p.thoff + 4, to: n)
        let innerBuf = UnsafeMutableRawBufferPointer(rebasing: buf[inner...])
        let innerBefore = NFPacket.snapshotFields(innerBuf, v6: v6, thoff: ith, proto: iproto)
        if dst {
            // Outer destination hook → quoted source.
            if v6 { NFPacket.put128(innerBuf, 8, t.src) } else { NFPacket.put32(innerBuf, 12, UInt32(truncatingIfNeeded: t.src.low)) }
            if ith >= 0 && ith + 4 <= innerBuf.count {
                if innerPkt.isPortProto { NFPacket.put16(innerBuf, ith, t.sport) }
                else if (iproto == 1 || iproto == 58) && ith + 6 <= innerBuf.count { NFPacket.put16(innerBuf, ith + 4, t.sport) }
            }
        } else {
            if v6 { NFPacket.put128(innerBuf, 24, t.dst) } else { NFPacket.put32(innerBuf, 16, UInt32(truncatingIfNeeded: t.dst.low)) }
            if ith >= 0 && ith + 4 <= innerBuf.count && innerPkt.isPortProto { NFPacket.put16(innerBuf, ith + 2, t.dport) }
        }
        if !v6 {
            let ihl = Int(innerBuf[0] & 0x0F) * 4
            if ihl >= 20 && ihl <= innerBuf.count {
                NFPacket.put16(innerBuf, 10, 0)
                var c = InternetChecksum(); c.add(UnsafeRawBufferPointer(rebasing: innerBuf[0..<ihl]))
                NFPacket.put16(innerBuf, 10, c.checksum)
            }
        }
        // The quoted transport checksum follows only when the quote holds the whole header.
        if ith >= 0 && ith + (iproto == 6 ? 20 : 8) <= innerBuf.count {
            NFPacket.fixL4Checksum(innerBuf, v6: v6, thoff: ith, proto: iproto, before: innerBefore)
        }
        // Outer header: as the reply to the translated packet.
        let outerBefore = NFPacket.snapshotFields(buf, v6: v6, thoff: p.thoff, proto: p.l4proto)
        if dst {
            if v6 { NFPacket.put128(buf, 24, target.dst) } else { NFPacket.put32(buf, 16, UInt32(truncatingIfNeeded: target.dst.low)) }
        } else {
            if v6 { NFPacket.put128(buf, 8, target.src) } else { NFPacket.put32(buf, 12, UInt32(truncatingIfNeeded: target.src.low)) }
        }
        if !v6 {
            let ihl = Int(buf[0] & 0x0F) * 4
            if ihl >= 20 && ihl <= n {
                NFPacket.put16(buf, 10, 0)
                var c = InternetChecksum(); c.add(UnsafeRawBufferPointer(rebasing: buf[0..<ihl]))
                NFPacket.put16(buf, 10, c.checksum)
            }
            // ICMP: no pseudo-header; the body changed inside, fixed incrementally.
            let after = NFPacket.sumRange(UnsafeRawBufferPointer(buf), from: p.thoff + 4, to: n)
            NFPacket.adjust(buf, at: p.thoff + 2, before: icmpBefore, after: after)
        } else {
            // ICMPv6: pseudo-header (outer addresses) and body both changed.
            let after = NFPacket.sumRange(UnsafeRawBufferPointer(buf), from: p.thoff + 4, to: n)
            NFPacket.adjust(buf, at: p.thoff + 2, before: icmpBefore, after: after)
            NFPacket.fixL4Checksum(buf, v6: true, thoff: p.thoff, proto: 58, before: outerBefore)
        }
        p.bytes = UnsafeRawBufferPointer(buf)
        p.parse()
        out.rewritten = true
        return true
    }

    /// Copies the packet into the engine's buffer (once per packet) and rewrites addresses and
    /// ports with checksum fix-ups (`nf_nat_ipv4_manip_pkt`, `l4proto_manip_pkt`).
    func rewrite(_ p: inout NFPacket, src: NFValue?, dst: NFValue?, sport: UInt16?, dport: UInt16?, icmpID: UInt16?, _ out: inout NFHookOutcome) {
        let n = min(p.bytes.count, scratch.count)
        if p.bytes.baseAddress != UnsafeRawPointer(scratch.baseAddress) {
            if n > 0, let b = p.bytes.baseAddress { scratch.baseAddress!.copyMemory(from: b, byteCount: n) }
        }
        let buf = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<n])
        let v6 = p.family == .ipv6
        let before = NFPacket.snapshotFields(buf, v6: v6, thoff: p.thoff, proto: p.l4proto)
        if v6 {
            if let s = src { NFPacket.put128(buf, 8, s) }
            if let d = dst { NFPacket.put128(buf, 24, d) }
        } else {
            if let s = src { NFPacket.put32(buf, 12, UInt32(truncatingIfNeeded: s.low)) }
            if let d = dst { NFPacket.put32(buf, 16, UInt32(truncatingIfNeeded: d.low)) }
            // IPv4 header checksum recomputed.
            let ihl = Int(buf[0] & 0x0F) * 4
            if ihl >= 20 && ihl <= n {
                NFPacket.put16(buf, 10, 0)
                var c = InternetChecksum()
                c.add(UnsafeRawBufferPointer(rebasing: buf[0..<ihl]))
                NFPacket.put16(buf, 10, c.checksum)
            }
        }
        if p.thoff >= 0 && p.thoff + 4 <= n && p.isPortProto {
            if let s = sport { NFPacket.put16(buf, p.thoff, s) }
            if let d = dport { NFPacket.put16(buf, p.thoff + 2, d) }
        }
        if let id = icmpID, p.thoff >= 0, p.thoff + 8 <= n { NFPacket.put16(buf, p.thoff + 4, id) }
        NFPacket.fixL4Checksum(buf, v6: v6, thoff: p.thoff, proto: p.l4proto, before: before)
        p.bytes = UnsafeRawBufferPointer(buf)
        p.parse()
        out.rewritten = true
    }
}

extension NFPacket {
    static func put16(_ b: UnsafeMutableRawBufferPointer, _ o: Int, _ v: UInt16) { b[o] = UInt8(v >> 8); b[o + 1] = UInt8(v & 0xFF) }
    static func put32(_ b: UnsafeMutableRawBufferPointer, _ o: Int, _ v: UInt32) { put16(b, o, UInt16(v >> 16)); put16(b, o + 2, UInt16(v & 0xFFFF)) }
    static func put128(_ b: UnsafeMutableRawBufferPointer, _ o: Int, _ v: NFValue) {
        put32(b, o, UInt32(v.high >> 32)); put32(b, o + 4, UInt32(v.high & 0xFFFF_FFFF))
        put32(b, o + 8, UInt32(v.low >> 32)); put32(b, o + 12, UInt32(v.low & 0xFFFF_FFFF))
    }

    /// The 16-bit words covered by the pseudo-header and ports, before a rewrite (for the
    /// incremental checksum update of RFC 1624).
    struct Words { var w: (UInt64, UInt64) }

    static func snapshotFields(_ b: UnsafeMutableRawBufferPointer, v6: Bool, thoff: Int, proto: UInt8) -> UInt64 {
        sumWords(UnsafeRawBufferPointer(b), v6: v6, thoff: thoff, proto: proto)
    }

    /// One's-complement sum of the fields NAT may change: addresses (pseudo-header) and ports
    /// (ICMP: the echo id; ICMP has no pseudo-header).
    static func sumWords(_ b: UnsafeRawBufferPointer, v6: Bool, thoff: Int, proto: UInt8) -> UInt64 {
        var c = InternetChecksum()
        if proto != 1 {
            if v6 { c.add(UnsafeRawBufferPointer(rebasing: b[8..<40])) } else if b.count >= 20 { c.add(UnsafeRawBufferPointer(rebasing: b[12..<20])) }
        }
        if thoff >= 0 && thoff + 4 <= b.count && proto != 1 && proto != 58 { c.add(UnsafeRawBufferPointer(rebasing: b[thoff..<(thoff + 4)])) }
        if (proto == 1 || proto == 58) && thoff >= 0 && thoff + 6 <= b.count { c.add(b.u16(thoff + 4)) }
        return UInt64(c.folded)
    }

    /// One's-complement sum of bytes `from..<to` (an odd start is aligned to the word it is in).
    static func sumRange(_ b: UnsafeRawBufferPointer, from: Int, to: Int) -> UInt64 {
        guard from >= 0, from < to, to <= b.count else { return 0 }
        var c = InternetChecksum()
        c.add(UnsafeRawBufferPointer(rebasing: b[from..<to]))
        return UInt64(c.folded)
    }

    /// Updates the checksum at `at` for a change of the covered sum from `before` to `after`.
    static func adjust(_ b: UnsafeMutableRawBufferPointer, at: Int, before: UInt64, after: UInt64) {
        guard at >= 0, at + 2 <= b.count else { return }
        let old = UInt16(b[at]) << 8 | UInt16(b[at + 1])
        var s = UInt64(~old) + UInt64(~UInt16(truncatingIfNeeded: before)) + after
        while s >> 16 != 0 { s = (s & 0xFFFF) + (s >> 16) }
        put16(b, at, ~UInt16(s))
    }

    static func fixL4Checksum(_ b: UnsafeMutableRawBufferPointer, v6: Bool, thoff: Int, proto: UInt8, before: UInt64) {
        let at: Int
        switch proto {
        case 6: at = thoff + 16
        case 17, 136: at = thoff + 6
        case 1, 58: at = thoff + 2
        default: return
        }
        guard thoff >= 0, at + 2 <= b.count else { return }
        let old = b.load(fromByteOffset: at, as: UInt8.self)
        let oldSum = UInt16(old) << 8 | UInt16(b[at + 1])
        if proto == 17 && oldSum == 0 && !v6 { return }  // no UDP checksum
        let after = sumWords(UnsafeRawBufferPointer(b), v6: v6, thoff: thoff, proto: proto)
        // HC' = ~(~HC + ~m + m')
        var s = UInt64(~oldSum) + UInt64(~UInt16(before)) + after
        while s >> 16 != 0 { s = (s & 0xFFFF) + (s >> 16) }
        var n = ~UInt16(s)
        if proto == 17 && n == 0 { n = 0xFFFF }
        put16(b, at, n)
    }
}
