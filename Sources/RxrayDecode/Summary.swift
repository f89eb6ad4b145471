// Rendering: a tcpdump-style one-line summary and JSON fields. These allocate (they make text);
// decoding does not.

extension DecodedFrame {
    /// A one-line summary close to `tcpdump -n -t` (no link header, absolute sequence numbers
    /// like `-S`), with VLAN tags as a `vlan 100, p 0, ` prefix and problems as suffixes
    /// (`[truncated tcp]`, `[bad ip cksum]`, `[malformed ip: total_length_exceeds_frame]`).
    ///
    /// - Parameter bytes: the bytes this frame was decoded from.
    public func summaryLine(_ bytes: UnsafeRawBufferPointer) -> String {
        var s = ""
        for tag in vlanTags {
            s += "vlan \(tag.vid), p \(tag.pcp)"
            if tag.dei { s += ", DEI" }
            s += ", "
        }
        switch network {
        case .arp: s += arpSummary(bytes)
        case .ipv4, .ipv6: s += ipSummary(bytes)
        case .none: s += linkOnlySummary()
        }
        while s.hasSuffix(" ") { s.removeLast() }
        for issue in issues {
            switch issue {
            case .ok: break
            case .truncated(let l): s += " [truncated \(l)]"
            case .malformed(let l, let p): s += " [malformed \(l): \(p)]"
            case .badChecksum(let l): s += " [bad \(l) cksum]"
            case .unsupported(_, let what):
                switch what {
                case .etherType, .ipProtocol, .llcFrame, .encrypted, .linkType, .addressFamily: break
                default: s += " [unsupported \(what)]"
                }
            }
        }
        return s
    }

    func linkOnlySummary() -> String {
        if !linkType.isSupported { return "link type \(linkType.name), length \(wireLength)" }
        for issue in issues {
            switch issue {
            case .unsupported(_, .llcFrame(let len)): return "802.3, length \(len): LLC"
            case .unsupported(_, .addressFamily(let f)): return "AF \(f), length \(wireLength)"
            case .unsupported(_, .ipVersion(let v)): return "IP\(v), length \(wireLength)"
            default: break
            }
        }
        if let t = etherType {
            let len = max(0, wireLength - networkOffset)
            if let name = EtherType.name(t), t != EtherType.ipv4, t != EtherType.ipv6, t != EtherType.arp {
                return "\(name), length \(len)"
            }
            if t == EtherType.ipv4 { return "IP" }
            if t == EtherType.ipv6 { return "IP6" }
            if t == EtherType.arp { return "ARP" }
            return "ethertype Unknown (0x\(hex(t, width: 4))), length \(len)"
        }
        return linkType.name
    }

    func arpSummary(_ bytes: UnsafeRawBufferPointer) -> String {
        guard let a = arp(in: bytes) else { return "ARP" }
        let len = max(0, wireLength - networkOffset)
        guard a.hasEthernetIPv4Addresses else {
            if a.isEthernetIPv4 { return "ARP" }
            return "ARP, hardware \(a.hardwareType), proto 0x\(hex(a.protocolType, width: 4)), op \(a.operation), length \(len)"
        }
        switch a.operation {
        case ARPHeader.request:
            return "ARP, Request who-has \(a.targetIP) tell \(a.senderIP), length \(len)"
        case ARPHeader.reply:
            return "ARP, Reply \(a.senderIP) is-at \(a.senderMAC), length \(len)"
        default:
            return "ARP, op \(a.operation) \(a.senderIP) > \(a.targetIP), length \(len)"
        }
    }

    func ipSummary(_ bytes: UnsafeRawBufferPointer) -> String {
        guard let addrs = ipAddresses(in: bytes) else { return network == .ipv4 ? "IP" : "IP6" }
        var s = network == .ipv4 ? "IP " : "IP6 "
        var ext = ""
        for r in ipv6Extensions {
            switch r.type {
            case IPProtocol.hopByHop: ext += "HBH "
            case IPProtocol.destinationOptions: ext += "DSTOPT "
            case IPProtocol.routing: ext += "srcrt "
            case IPProtocol.fragment:
                if let f = fragment {
                    let fragLen = ipEnd - Int(r.offset) - 8
                    ext += "frag (\(Int(f.offset) * 8)|\(fragLen)) "
                }
            case IPProtocol.ah: ext += "AH "
            case IPProtocol.esp: ext += "ESP "
            default: break
            }
        }
        let ports = self.ports(in: bytes)
        if let p = ports {
            if network == .ipv6 && !ext.isEmpty {
                s += "\(addrs.source) > \(addrs.destination): \(ext)\(p.source) > \(p.destination): "
            } else {
                s += "\(addrs.source).\(p.source) > \(addrs.destination).\(p.destination): "
            }
        } else {
            s += "\(addrs.source) > \(addrs.destination): \(ext)"
        }
        if let t = tcp(in: bytes) {
            s += tcpSummary(t, bytes)
        } else if let u = udp(in: bytes) {
            s += "UDP, length \(Int(u.length) >= 8 ? Int(u.length) - 8 : payloadLength)"
        } else if let i = icmp(in: bytes) {
            s += "ICMP " + icmpText(i) + ", length \(ipEnd - transportOffset)"
        } else if let i = icmpv6(in: bytes) {
            s += "ICMP6, " + icmpv6Text(i, bytes) + ", length \(ipEnd - transportOffset)"
        } else if let proto = transportProtocol {
            if proto == IPProtocol.noNextHeader {
                s += "no next header"
            } else if let f = fragment, f.offset != 0, network == .ipv4 {
                s += "ip-proto-\(proto)"
            } else if case .unsupported = outcome {
                s += "ip-proto-\(proto) \(max(0, ipEnd - transportOffset))"
            } else if let name = IPProtocol.name(proto) {
                s += name
            } else {
                s += "ip-proto-\(proto)"
            }
        }
        return s
    }

    func tcpSummary(_ t: TCPHeader, _ bytes: UnsafeRawBufferPointer) -> String {
        let flags = t.flags
        var s = "Flags [\(flags.tcpdumpString)]"
        let len = payloadLength
        if len > 0 || !flags.isDisjoint(with: [.syn, .fin, .rst]) {
            s += ", seq \(t.sequenceNumber)"
            if len > 0 { s += ":\(t.sequenceNumber &+ UInt32(truncatingIfNeeded: len))" }
        }
        if flags.contains(.ack) { s += ", ack \(t.acknowledgmentNumber)" }
        s += ", win \(t.window)"
        if flags.contains(.urg) { s += ", urg \(t.urgentPointer)" }
        if !tcpOptions.isEmpty {
            s += ", options [" + tcpOptionStrings(bytes).joined(separator: ",") + "]"
        }
        s += ", length \(len)"
        return s
    }

    /// The TCP options in tcpdump's spelling (`mss 1460`, `sackOK`, `TS val 1 ecr 0`, `nop`, ...).
    public func tcpOptionStrings(_ bytes: UnsafeRawBufferPointer) -> [String] {
        var parts: [String] = []
        for i in tcpOptions.indices {
            switch tcpOption(i, in: bytes) {
            case .endOfList: parts.append("eol")
            case .noOperation: parts.append("nop")
            case .maximumSegmentSize(let v): parts.append("mss \(v)")
            case .windowScale(let v): parts.append("wscale \(v)")
            case .sackPermitted: parts.append("sackOK")
            case .sack(let b):
                var x = "sack \(b.count) "
                for k in 0..<b.count { x += "{\(b[k].left):\(b[k].right)}" }
                parts.append(x)
            case .timestamp(let v, let e): parts.append("TS val \(v) ecr \(e)")
            case .unknown(let kind, _):
                switch kind {
                case TCPOptionKind.md5Signature: parts.append("md5")
                case TCPOptionKind.multipath: parts.append("mptcp")
                case TCPOptionKind.fastOpen: parts.append("tfo")
                case TCPOptionKind.userTimeout: parts.append("utolen")
                case TCPOptionKind.authentication: parts.append("tcp-ao")
                default: parts.append("opt-\(kind)")
                }
            }
        }
        return parts
    }

    func icmpText(_ i: ICMPHeader) -> String {
        let e = embedded
        let dst = e.map { "\($0.destination)" } ?? "?"
        switch i.type {
        case ICMPType.echoReply: return "echo reply, id \(i.identifier), seq \(i.sequenceNumber)"
        case ICMPType.echoRequest: return "echo request, id \(i.identifier), seq \(i.sequenceNumber)"
        case ICMPType.destinationUnreachable:
            switch i.code {
            case 0: return "net \(dst) unreachable"
            case 1: return "host \(dst) unreachable"
            case 2: return "\(dst) protocol \(e?.protocolNumber ?? 0) unreachable"
            case 3:
                let proto = e.flatMap { IPProtocol.name($0.protocolNumber) } ?? "ip"
                if let p = e?.destinationPort { return "\(dst) \(proto) port \(p) unreachable" }
                return "\(dst) \(proto) port unreachable"
            case 4: return "\(dst) unreachable - need to frag (mtu \(i.nextHopMTU))"
            case 9: return "net \(dst) unreachable - admin prohibited"
            case 10: return "host \(dst) unreachable - admin prohibited"
            case 13: return "host \(dst) unreachable - admin prohibited filter"
            default: return "\(dst) unreachable - code \(i.code)"
            }
        case ICMPType.sourceQuench: return "source quench"
        case ICMPType.redirect:
            return "redirect \(dst) to \(i.code == 0 || i.code == 2 ? "net" : "host") \(i.gateway)"
        case ICMPType.timeExceeded:
            return i.code == 0 ? "time exceeded in-transit" : "ip reassembly time exceeded"
        case ICMPType.parameterProblem: return "parameter problem - octet \(i.pointer)"
        case ICMPType.timestampRequest: return "time stamp query id \(i.identifier) seq \(i.sequenceNumber)"
        case ICMPType.timestampReply: return "time stamp reply id \(i.identifier) seq \(i.sequenceNumber)"
        default: return "type-#\(i.type)"
        }
    }

    func icmpv6Text(_ i: ICMPv6Header, _ bytes: UnsafeRawBufferPointer) -> String {
        let dst = embedded.map { "\($0.destination)" } ?? "?"
        switch i.type {
        case ICMPv6Type.destinationUnreachable:
            switch i.code {
            case 0: return "destination unreachable, unreachable route \(dst)"
            case 1: return "destination unreachable, unreachable prohibited \(dst)"
            case 3: return "destination unreachable, unreachable address \(dst)"
            case 4:
                let proto = embedded.flatMap { IPProtocol.name($0.protocolNumber) } ?? "ip"
                let port = embedded?.destinationPort.map { "\($0)" } ?? "?"
                return "destination unreachable, unreachable port, \(dst) \(proto) port \(port)"
            default: return "destination unreachable, code \(i.code) \(dst)"
            }
        case ICMPv6Type.packetTooBig: return "packet too big, mtu \(i.mtuOrPointer)"
        case ICMPv6Type.timeExceeded:
            return i.code == 0 ? "time exceeded in-transit for \(dst)" : "ip6 reassembly time exceeded"
        case ICMPv6Type.parameterProblem: return "parameter problem, code \(i.code), pointer \(i.mtuOrPointer)"
        case ICMPv6Type.echoRequest: return "echo request, id \(i.identifier), seq \(i.sequenceNumber)"
        case ICMPv6Type.echoReply: return "echo reply, id \(i.identifier), seq \(i.sequenceNumber)"
        case ICMPv6Type.mldQuery: return "multicast listener query"
        case ICMPv6Type.mldReport: return "multicast listener report"
        case ICMPv6Type.mldDone: return "multicast listener done"
        case ICMPv6Type.mldv2Report: return "multicast listener report v2"
        case ICMPv6Type.routerSolicitation: return "router solicitation"
        case ICMPv6Type.routerAdvertisement: return "router advertisement"
        case ICMPv6Type.neighborSolicitation:
            return i.targetAddress.map { "neighbor solicitation, who has \($0)" } ?? "neighbor solicitation"
        case ICMPv6Type.neighborAdvertisement:
            return i.targetAddress.map { "neighbor advertisement, tgt is \($0)" } ?? "neighbor advertisement"
        case ICMPv6Type.redirect:
            if let t = i.targetAddress, let d = i.redirectDestination { return "redirect, \(d) to \(t)" }
            return "redirect"
        default: return "type-#\(i.type)"
        }
    }
}

// MARK: JSON

extension DecodedFrame {
    /// Appends the decoded layers as JSON object members (`"key":value` pairs separated by
    /// commas, no braces, no leading or trailing comma) to `out`.
    ///
    /// Keys, present when the layer is: `link`, `packet_type`, `ifindex`, `vlan`
    /// (`[{"tpid","vid","pcp","dei"}]`), `src_mac`, `dst_mac`, `ethertype` (`"0x0800"`), `l3`
    /// (`arp`/`ipv4`/`ipv6`), `arp_op`, `src`, `dst`, `ttl` / `hlim`, `ip_id`, `frag`
    /// (`{"id","offset","mf","df"}`), `ip_cksum`, `ext` (IPv6 header types in order), `l4`
    /// (`tcp`/`udp`/`icmp`/`icmpv6`/protocol number), `sport`, `dport`, `tcp_flags`, `seq`,
    /// `ack`, `win`, `tcp_options` (tcpdump spelling), `icmp_type`, `icmp_code`, `l4_cksum`,
    /// `payload_len`, `padding`, and always `outcome` (`DecodeOutcome.description`) and, when
    /// there is more than one, `issues`.
    public func appendJSONFields(to out: inout String, _ bytes: UnsafeRawBufferPointer) {
        var w = JSONFieldWriter(out: out)
        w.string("link", linkType.name)
        if let p = linkPacketType { w.raw("packet_type", "\(p)") }
        if let i = interfaceIndex { w.raw("ifindex", "\(i)") }
        if !vlanTags.isEmpty {
            var v = "["
            for (k, t) in vlanTags.enumerated() {
                if k > 0 { v += "," }
                v += "{\"tpid\":\"0x\(hex(t.tpid, width: 4))\",\"vid\":\(t.vid),\"pcp\":\(t.pcp),\"dei\":\(t.dei)}"
            }
            w.raw("vlan", v + "]")
        }
        if let e = ethernet(in: bytes) {
            w.string("src_mac", e.source.description)
            w.string("dst_mac", e.destination.description)
        } else if let m = linuxSLL(in: bytes)?.sourceMAC ?? linuxSLL2(in: bytes)?.sourceMAC {
            w.string("src_mac", m.description)
        }
        if let t = etherType { w.string("ethertype", "0x" + hex(t, width: 4)) }
        switch network {
        case .arp:
            w.string("l3", "arp")
            if let a = arp(in: bytes) {
                w.raw("arp_op", "\(a.operation)")
                if a.hasEthernetIPv4Addresses {
                    w.string("src", a.senderIP.description)
                    w.string("dst", a.targetIP.description)
                    w.string("arp_sha", a.senderMAC.description)
                    w.string("arp_tha", a.targetMAC.description)
                }
            }
        case .ipv4:
            w.string("l3", "ipv4")
            if let h = ipv4(in: bytes) {
                w.string("src", h.source.description)
                w.string("dst", h.destination.description)
                w.raw("ttl", "\(h.ttl)")
                w.raw("ip_id", "\(h.identification)")
                w.raw("ip_len", "\(h.totalLength)")
                if h.tos != 0 { w.raw("tos", "\(h.tos)") }
            }
            w.string("ip_cksum", ipChecksum.description)
            if !ipv4Options.isEmpty {
                w.raw("ip_options", "[" + ipv4Options.map { "\($0.kind)" }.joined(separator: ",") + "]")
            }
        case .ipv6:
            w.string("l3", "ipv6")
            if let h = ipv6(in: bytes) {
                w.string("src", h.source.description)
                w.string("dst", h.destination.description)
                w.raw("hlim", "\(h.hopLimit)")
                if h.flowLabel != 0 { w.raw("flow", "\(h.flowLabel)") }
            }
            if !ipv6Extensions.isEmpty {
                w.raw("ext", "[" + ipv6Extensions.map { "\($0.type)" }.joined(separator: ",") + "]")
            }
        case .none: break
        }
        if let f = fragment {
            w.raw("frag", "{\"id\":\(f.identification),\"offset\":\(Int(f.offset) * 8),\"mf\":\(f.moreFragments),\"df\":\(f.dontFragment)}")
        }
        if let p = transportProtocol {
            switch transport {
            case .tcp: w.string("l4", "tcp")
            case .udp: w.string("l4", "udp")
            case .icmp: w.string("l4", "icmp")
            case .icmpv6: w.string("l4", "icmpv6")
            case .none: w.raw("l4", "\(p)")
            }
        }
        if let p = ports(in: bytes) {
            w.raw("sport", "\(p.source)")
            w.raw("dport", "\(p.destination)")
        }
        if let t = tcp(in: bytes) {
            w.string("tcp_flags", t.flags.tcpdumpString)
            w.raw("seq", "\(t.sequenceNumber)")
            w.raw("ack", "\(t.acknowledgmentNumber)")
            w.raw("win", "\(t.window)")
            if !tcpOptions.isEmpty {
                w.raw("tcp_options", "[" + tcpOptionStrings(bytes).map(jsonQuoted).joined(separator: ",") + "]")
            }
        }
        if let i = icmp(in: bytes) {
            w.raw("icmp_type", "\(i.type)"); w.raw("icmp_code", "\(i.code)")
        } else if let i = icmpv6(in: bytes) {
            w.raw("icmp_type", "\(i.type)"); w.raw("icmp_code", "\(i.code)")
        }
        if let e = embedded {
            var v = "{\"src\":\(jsonQuoted(e.source.description)),\"dst\":\(jsonQuoted(e.destination.description)),\"proto\":\(e.protocolNumber)"
            if let s = e.sourcePort, let d = e.destinationPort { v += ",\"sport\":\(s),\"dport\":\(d)" }
            w.raw("embedded", v + "}")
        }
        if transport != .none { w.string("l4_cksum", transportChecksum.description) }
        if network != .none { w.raw("payload_len", "\(payloadLength)") }
        if paddingLength > 0 { w.raw("padding", "\(paddingLength)") }
        w.string("outcome", outcome.description)
        if issues.count > 1 {
            w.raw("issues", "[" + issues.map { jsonQuoted($0.description) }.joined(separator: ",") + "]")
        }
        out = w.out
    }
}

struct JSONFieldWriter {
    var out: String
    var first = true
    init(out: String) { self.out = out }
    mutating func key(_ k: String) {
        if !first { out += "," }
        first = false
        out += "\"" + k + "\":"
    }
    mutating func raw(_ k: String, _ v: String) { key(k); out += v }
    mutating func string(_ k: String, _ v: String) { key(k); out += jsonQuoted(v) }
}

/// `text` as a JSON string literal (quotes, backslashes and control characters escaped).
public func jsonQuoted(_ text: String) -> String {
    var s = "\""
    for u in text.unicodeScalars {
        switch u {
        case "\"": s += "\\\""
        case "\\": s += "\\\\"
        case "\n": s += "\\n"
        case "\r": s += "\\r"
        case "\t": s += "\\t"
        default:
            if u.value < 0x20 {
                s += "\\u00" + hex(UInt8(u.value), width: 2)
            } else {
                s.unicodeScalars.append(u)
            }
        }
    }
    return s + "\""
}
