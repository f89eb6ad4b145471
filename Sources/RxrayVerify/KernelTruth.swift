/// What the real kernel did with one injected frame, as `rxray verify` observes it (the same
/// observations as Fixtures/lib/record.py: drop events attributed to the namespace, frames the
/// namespace sent, the silent-drop counter).
public struct KernelObservation: Equatable {
    public struct Drop: Equatable {
        /// `SKB_DROP_REASON_` name without the prefix.
        public var reason: String
        /// The freeing function (compiler suffixes removed).
        public var location: String
        public init(reason: String, location: String) { self.reason = reason; self.location = location }
    }
    public struct Sent: Equatable {
        /// The DUT interface it left by.
        public var interface: String
        public var bytes: [UInt8]
        public init(interface: String, bytes: [UInt8]) { self.interface = interface; self.bytes = bytes }
    }
    public var frame: Int
    public var ingress: String
    public var drops: [Drop]
    public var sent: [Sent]
    /// TcpExtListenDrops moved (a SYN refused by a full queue is consumed without a drop event).
    public var silentDrop: Bool

    public init(frame: Int, ingress: String, drops: [Drop], sent: [Sent], silentDrop: Bool) {
        self.frame = frame; self.ingress = ingress; self.drops = drops; self.sent = sent; self.silentDrop = silentDrop
    }
}

/// The kernel's verdict on a frame, in the terms rxray's outcome is compared in.
public struct KernelVerdict: Equatable {
    public var fate: String
    /// The main drop (the first that is not a GRO segment's `skb_release_data`).
    public var drop: KernelObservation.Drop?
    /// Sent frames classified like rxray's replies: `icmp 3/3@eth0`, `tcp_rst@eth0`.
    public var replies: [String]
    public var egress: [String]

    /// Classifies an observation: a sent frame that is the injected datagram with its TTL or hop
    /// limit lowered is a forward, anything else a reply (Fixtures/README.md "truth.jsonl").
    public init(_ o: KernelObservation, injected: [UInt8]) {
        var replies: [String] = [], egress: [String] = []
        for s in o.sent {
            if KernelVerdict.isForward(s.bytes, of: injected) { egress.append(s.interface) } else {
                replies.append(KernelVerdict.replyKey(s.bytes, interface: s.interface))
            }
        }
        self.replies = replies.sorted()
        self.egress = egress
        drop = o.drops.first { $0.location != "skb_release_data" } ?? o.drops.first
        if !egress.isEmpty { fate = "forwarded" } else if !o.drops.isEmpty || o.silentDrop { fate = "dropped" } else { fate = "delivered" }
    }

    public init(fate: String, drop: KernelObservation.Drop?, replies: [String], egress: [String]) {
        self.fate = fate; self.drop = drop; self.replies = replies.sorted(); self.egress = egress
    }

    /// The network-layer offset of an Ethernet frame (one VLAN tag skipped) and its EtherType.
    static func l3(_ b: [UInt8]) -> (Int, Int)? {
        guard b.count >= 14 else { return nil }
        var et = Int(b[12]) << 8 | Int(b[13]), off = 14
        if et == 0x8100 || et == 0x88A8 {
            guard b.count >= 18 else { return nil }
            et = Int(b[16]) << 8 | Int(b[17]); off = 18
        }
        return (off, et)
    }

    /// Whether `sent` is `injected` forwarded: the same IPv4 ID and protocol with the TTL one
    /// lower (or the same IPv6 flow label and next header, hop limit one lower), and either the
    /// same addresses or, when NAT rewrote them (DNAT, SNAT, masquerade), the same datagram by
    /// what NAT leaves alone: its length and its transport contents (`sameUnderNAT`). The
    /// fixture recorder (Fixtures/lib/rxtruth.py `is_forward_of`) classifies by ID, protocol and
    /// TTL alone; verify replays arbitrary captures, so it also asks for the contents.
    public static func isForward(_ sent: [UInt8], of injected: [UInt8]) -> Bool {
        guard let (so, se) = l3(sent), let (io, ie) = l3(injected), se == ie else { return false }
        if se == 0x0800, sent.count >= so + 20, injected.count >= io + 20 {
            guard sent[so + 4] == injected[io + 4] && sent[so + 5] == injected[io + 5]
                && sent[so + 9] == injected[io + 9] && sent[so + 8] &+ 1 == injected[io + 8] else { return false }
            if sent[(so + 12)..<(so + 20)] == injected[(io + 12)..<(io + 20)] { return true }
            // Total length and fragment offset are NAT's to keep.
            guard sent[(so + 2)..<(so + 4)] == injected[(io + 2)..<(io + 4)],
                  sent[(so + 6)..<(so + 8)] == injected[(io + 6)..<(io + 8)] else { return false }
            let firstFragment = Int(sent[so + 6] & 0x1F) << 8 | Int(sent[so + 7]) == 0
            let sl4 = so + Int(sent[so] & 0xF) * 4, il4 = io + Int(injected[io] & 0xF) * 4
            return sameUnderNAT(proto: firstFragment ? sent[so + 9] : 0, sent, sl4, injected, il4)
        }
        if se == 0x86DD, sent.count >= so + 40, injected.count >= io + 40 {
            guard sent[(so + 1)..<(so + 4)] == injected[(io + 1)..<(io + 4)] && sent[so + 6] == injected[io + 6]
                && sent[so + 7] &+ 1 == injected[io + 7] else { return false }
            if sent[(so + 8)..<(so + 40)] == injected[(io + 8)..<(io + 40)] { return true }
            guard sent[(so + 4)..<(so + 6)] == injected[(io + 4)..<(io + 6)] else { return false }
            return sameUnderNAT(proto: sent[so + 6] == 58 ? 1 : sent[so + 6], sent, so + 40, injected, io + 40)
        }
        return false
    }

    /// Whether two transport segments starting at `s` and `i` are one segment before and after
    /// NAT: NAT rewrites addresses, ports, ICMP echo identifiers and checksums, and mangle rules
    /// such as TCPMSS rewrite TCP options; the rest must be equal. TCP: sequence and
    /// acknowledgement numbers, header length, flags, window and payload. UDP: length and
    /// payload. ICMP (or ICMPv6, passed as 1): type and code, plus the sequence number and data
    /// of an echo request or reply (an error's quoted header is translated too). Anything
    /// else, or a non-first fragment (`proto` 0), is compared whole.
    static func sameUnderNAT(proto: UInt8, _ sent: [UInt8], _ s: Int, _ injected: [UInt8], _ i: Int) -> Bool {
        func equal(_ a: Int, _ b: Int) -> Bool {
            sent.count >= s + b && injected.count >= i + b && sent[(s + a)..<(s + b)] == injected[(i + a)..<(i + b)]
        }
        func rest(from a: Int) -> Bool {
            sent.count - (s + a) == injected.count - (i + a) && sent.count >= s + a
                && sent[(s + a)...] == injected[(i + a)...]
        }
        switch proto {
        case 6:
            guard equal(4, 16) else { return false }
            let hs = Int(sent[s + 12] >> 4) * 4
            return rest(from: hs)
        case 17:
            return equal(4, 6) && rest(from: 8)
        case 1:
            guard equal(0, 2) else { return false }
            let t = sent[s]
            if t == 0 || t == 8 || t == 128 || t == 129 { return rest(from: 6) }
            return true
        default:
            return rest(from: 0)
        }
    }

    /// A sent frame's reply key, in the form `FrameOutcome` replies reduce to (`icmp 3/3@eth0`).
    public static func replyKey(_ b: [UInt8], interface: String) -> String {
        guard let (off, et) = l3(b) else { return "short@\(interface)" }
        if et == 0x0806 {
            // Opcode 1 is a request the kernel sends to resolve a next hop; 2 answers one.
            let op = b.count >= off + 8 ? Int(b[off + 6]) << 8 | Int(b[off + 7]) : 0
            return op == 1 ? "arp_request@\(interface)" : "arp_reply@\(interface)"
        }
        if et == 0x0800 && b.count >= off + 20 {
            let ihl = Int(b[off] & 0xF) * 4
            let p = b[off + 9]
            if p == 1 && b.count >= off + ihl + 2 { return "icmp \(b[off + ihl])/\(b[off + ihl + 1])@\(interface)" }
            if p == 6 && b.count >= off + ihl + 14 { return tcpKey(b[off + ihl + 13], interface) }
            return "ipv4 proto \(p)@\(interface)"
        }
        if et == 0x86DD && b.count >= off + 40 {
            var nh = b[off + 6]
            var o = off + 40
            while (nh == 0 || nh == 60 || nh == 43) && b.count >= o + 2 { nh = b[o]; o += (Int(b[o + 1]) + 1) * 8 }
            if nh == 58 && b.count >= o + 2 { return "icmpv6 \(b[o])/\(b[o + 1])@\(interface)" }
            if nh == 6 && b.count >= o + 14 { return tcpKey(b[o + 13], interface) }
            return "ipv6 nh \(nh)@\(interface)"
        }
        return "ethertype \(et)@\(interface)"
    }

    static func tcpKey(_ flags: UInt8, _ i: String) -> String {
        if flags & 0x04 != 0 { return "tcp_rst@\(i)" }
        if flags & 0x12 == 0x12 { return "tcp_synack@\(i)" }
        return "tcp_ack@\(i)"
    }

    /// rxray's replies reduced to the same keys (`icmp 3/3 port-unreachable on eth0` → `icmp 3/3@eth0`).
    public static func replyKeys(of o: FrameOutcome) -> [String] {
        o.replies.map { r in
            let w = r.split(separator: " ")
            let iface = w.last.map(String.init) ?? ""
            guard let k = w.first else { return r }
            if k == "icmp" || k == "icmpv6", w.count > 1 { return "\(k) \(w[1])@\(iface)" }
            if k.hasPrefix("tcp_synack") { return "tcp_synack@\(iface)" }
            if k == "tcp_challenge_ack" { return "tcp_ack@\(iface)" }
            // A neighbour solicitation is ICMPv6 type 135 on the wire.
            if k == "nd_neighbour_solicit" { return "icmpv6 135/0@\(iface)" }
            return "\(k)@\(iface)"
        }.sorted()
    }

    /// Where rxray and the kernel disagree, as short sentences; empty when they agree (fate,
    /// drop reason when dropped, replies by kind/type/code and interface, egress when forwarded
    /// — the comparison FixtureScenarioTests makes against recorded truth).
    public func disagreements(with o: FrameOutcome) -> [String] {
        var p: [String] = []
        if o.fate != fate { p.append("fate: kernel \(fate), rxray \(o.fate)") }
        if fate == "dropped", let d = drop, o.dropReason != d.reason {
            p.append("drop reason: kernel \(d.reason)@\(d.location), rxray \(o.dropReason ?? "none")@\(o.dropStage ?? "-")")
        }
        let ours = Self.replyKeys(of: o)
        if ours != replies {
            p.append("replies: kernel [\(replies.joined(separator: ", "))], rxray [\(ours.joined(separator: ", "))]")
        }
        if fate == "forwarded", let e = egress.first, o.egress != e { p.append("egress: kernel \(e), rxray \(o.egress ?? "none")") }
        return p
    }

    /// The verdicts of a whole run, by frame. A forwarded packet that waited for neighbour
    /// resolution leaves in the window of a later frame (the one whose ARP reply or NA resolved
    /// its next hop), where it is not the injected datagram: it is moved back to the frame it
    /// belongs to, which counts as forwarded (rxray reports the packet's own fate the same way).
    /// Live observations are not normalised, so the IPv4 ID / flow label still identify it.
    public static func verdicts(_ observations: [KernelObservation], injected: [Int: [UInt8]]) -> [Int: KernelVerdict] {
        var out: [Int: KernelVerdict] = [:]
        var late: [Int: String] = [:]
        let order = injected.keys.sorted()
        for o in observations {
            var kept = o
            kept.sent = o.sent.filter { s in
                if isForward(s.bytes, of: injected[o.frame] ?? []) { return true }
                for n in order where n < o.frame {
                    if let i = injected[n], isForward(s.bytes, of: i) { late[n] = s.interface; return false }
                }
                return true
            }
            out[o.frame] = KernelVerdict(kept, injected: injected[o.frame] ?? [])
        }
        for (n, iface) in late {
            guard var v = out[n], v.fate == "delivered" else { continue }
            v.fate = "forwarded"
            v.egress.append(iface)
            out[n] = v
        }
        return out
    }

    /// `dropped NO_SOCKET@__udp4_lib_rcv`, `forwarded via eth1`, `delivered`, plus replies.
    public var phrase: String {
        var s = fate
        if fate == "dropped", let d = drop { s += " \(d.reason)@\(d.location)" }
        if fate == "forwarded", let e = egress.first { s += " via \(e)" }
        if !replies.isEmpty { s += " +" + replies.joined(separator: ",") }
        return s
    }
}
