import RxrayDecode

/// A frame's headers as GRO reads them.
struct GROSegment {
    var l3 = GROL3(v6: false, proto: 0, saddr: .v4(IPv4Address(0)), daddr: .v4(IPv4Address(0)), ttl: 0, tos: 0,
                   df: false, id: 0, v6Word: 0, hlen: 20, ownFlush: nil)
    var l4 = GROL4(ports: 0, seq: 0, ack: 0, flags: 0, word3: 0, doff: 20, off: 20, len: 0)
}

// The protocol GRO handlers. One file for the four kernel files that hold them:
// net/ipv4/af_inet.c (`inet_gro_receive`), net/ipv6/ip6_offload.c (`ipv6_gro_receive`),
// net/ipv4/tcp_offload.c (`tcp_gro_receive`), net/ipv4/udp_offload.c (`udp_gro_receive`).
extension Kernel {
    /// Reads the L3 and TCP headers GRO compares. Returns why the frame goes up alone at
    /// once, without looking for a held packet of its flow (the `goto out` exits of
    /// `inet_gro_receive`, `ipv6_gro_receive`, `tcp4_gro_receive` and `udp_gro_receive`).
    ///
    /// Takes the packet's bytes, length and protocol, not the `SKB` (a by-value `SKB` was
    /// copied at every call).
    func groParse(_ b: UnsafeRawBufferPointer, len frameLen: Int, proto ethProto: UInt16, _ seg: inout GROSegment) -> GROFlush? {
        var proto: UInt8
        switch ethProto {
        case 0x0800:
            guard frameLen >= 20 else { return .ipOptions }
            guard b.count >= 20 else { return .truncated }
            if b.u8(0) != 0x45 { return .ipOptions }
            proto = b.u8(9)
            if proto != 6 && proto != 17 { return .noOffload }
            if b.u16(6) & 0x3FFF != 0 { return .fragment }
            if !b.checksumOK(0, 20) { return .ipChecksum }
            let tot = Int(b.u16(2))
            let fo = b.u16(6)
            seg.l3 = GROL3(v6: false, proto: proto, saddr: .v4(b.v4At(12)), daddr: .v4(b.v4At(16)), ttl: b.u8(8),
                           tos: b.u8(1), df: fo & 0x4000 != 0, id: b.u16(4), v6Word: 0, hlen: 20,
                           ownFlush: tot != frameLen ? .length : (fo & 0x8000 != 0 ? .fragment : nil))
        case 0x86DD:
            guard frameLen >= 40 else { return .noOffload }
            guard b.count >= 40 else { return .truncated }
            proto = b.u8(6)
            if proto == 0 || proto == 43 || proto == 60 || proto == 44 { return .extHeaders }
            if proto != 6 && proto != 17 { return .noOffload }
            let w = b.u32(0)
            seg.l3 = GROL3(v6: true, proto: proto, saddr: .v6(b.v6At(8)), daddr: .v6(b.v6At(24)), ttl: b.u8(7),
                           tos: UInt8(truncatingIfNeeded: w >> 20), df: true, id: 0, v6Word: w & 0xF00F_FFFF, hlen: 40,
                           ownFlush: Int(b.u16(4)) + 40 != frameLen ? .length : nil)
        case 0x8100, 0x88A8:
            return .vlan
        default:
            return .noOffload
        }
        let off = seg.l3.hlen
        if proto == 17 {
            // udp_gro_receive: segments are aggregated only for UDP_GRO sockets, with
            // rx-udp-gro-forwarding or rx-gro-list; none of these is on by default.
            return .udpNotAggregated
        }
        guard frameLen >= off + 20 else { return .tcpHeader }
        guard b.count >= off + 20 else { return .truncated }
        let doff = Int(b.u8(off + 12) >> 4) * 4
        if doff < 20 || off + doff > frameLen { return .tcpHeader }
        guard b.count >= off + doff else { return .truncated }
        seg.l4 = GROL4(ports: b.u32(off), seq: b.u32(off + 4), ack: b.u32(off + 8), flags: b.u8(off + 13), word3: b.u32(off + 12),
                       doff: doff, off: off, len: frameLen - off - doff)
        // tcp4/tcp6_gro_receive: the checksum is validated first (not when already flushed).
        if seg.l3.ownFlush == nil && b.count >= frameLen {
            let l4len = frameLen - off
            let pseudo: UInt32
            switch (seg.l3.saddr, seg.l3.daddr) {
            case (.v4(let s), .v4(let d)): pseudo = Pseudo.v4(s, d, proto: 6, length: l4len)
            case (.v6(let s), .v6(let d)): pseudo = Pseudo.v6(s, d, proto: 6, length: l4len)
            default: pseudo = 0
            }
            if !b.checksumOK(off, l4len, pseudo: pseudo) { return .checksum }
        }
        return nil
    }

    /// Whether a segment may join held packet `p` of its flow; nil = merge, else why not.
    /// Updates `p.fixedID` (decided at the second segment).
    ///
    /// Mirrors the L3 checks of `inet_gro_receive` / `ipv6_gro_receive` (6.18:
    /// `gro_receive_network_flush`, where a repeated IP ID at the second segment makes the
    /// flow fixed-ID with or without DF) and `tcp_gro_receive`'s checks, in the kernel's order.
    func groMergeCheck(_ p: inout GROHeld, _ seg: GROSegment, _ b: UnsafeRawBufferPointer, groMaxSize: Int) -> GROFlush? {
        // Network header.
        if p.l3.ttl != seg.l3.ttl { return .ttl }
        if p.l3.tos != seg.l3.tos { return .tos }
        if p.l3.df != seg.l3.df { return .df }
        if let f = seg.l3.ownFlush { return f }
        if !seg.l3.v6 {
            let offset = seg.l3.id &- p.l3.id
            if p.count == 1 && offset == 0 { p.fixedID = true }
            let want: UInt16 = p.fixedID ? 0 : UInt16(truncatingIfNeeded: p.count)
            if offset != want { return .ipID }
        }
        // TCP header.
        let f = seg.l4.flags
        if f & 0x80 != 0 { return .cwr }
        if (f ^ p.l4.flags) & ~UInt8(0x80 | 0x01 | 0x08) != 0 { return .flags }
        // The rest of the flag word: reserved bits and the window (data offset is below).
        if (seg.l4.word3 ^ p.l4.word3) & 0x0FFF_FFFF & ~UInt32(0x00FF_0000) != 0 { return .window }
        if seg.l4.ack != p.l4.ack { return .ack }
        if seg.l4.doff != p.l4.doff { return .options }
        if seg.l4.doff > 20 {
            let start = seg.l4.off + 20, end = seg.l4.off + seg.l4.doff
            if p.bytes.count < end { return .options }
            // groParse checked that the segment's options were captured.
            var i = start
            while i < end {
                if p.bytes[i] != b.u8(i) { return .options }
                i += 1
            }
        }
        if seg.l4.len == 0 { return .noPayload }
        if seg.l4.len > p.mss { return .overMSS }
        if p.l4.seq &+ UInt32(truncatingIfNeeded: p.payload) != seg.l4.seq { return .seqGap }
        if p.len + seg.l4.len >= groMaxSize { return .tooBig }
        return nil
    }
}
