// Rendering: a tcpdump-style one-line summary and JSON fields, written as bytes into a
// `ByteWriter` (no Strings on the common paths: TCP, UDP, ICMP echo, ARP, neighbour
// discovery). Rare shapes (errors, unusual link types) fall back to String text.

extension DecodedFrame {
    /// A one-line summary close to `tcpdump -n -t` (no link header, absolute sequence numbers
    /// like `-S`), with VLAN tags as a `vlan 100, p 0, ` prefix and problems as suffixes
    /// (`[truncated tcp]`, `[bad ip cksum]`, `[malformed ip: total_length_exceeds_frame]`).
    ///
    /// - Parameter bytes: the bytes this frame was decoded from.
    public func summaryLine(_ bytes: UnsafeRawBufferPointer) -> String {
        ByteWriter.string(capacity: 192) { writeSummaryLine(bytes, to: &$0) }
    }

    /// Appends the `summaryLine` text to `w`.
    public func writeSummaryLine(_ bytes: UnsafeRawBufferPointer, to w: inout ByteWriter) {
        var options: Range<Int>?
        writeSummaryLine(bytes, to: &w, tcpOptionsText: &options)
    }

    /// Appends the `summaryLine` text to `w` and sets `tcpOptionsText` to where in `w` the TCP
    /// options' text went (`mss 1460,sackOK,nop`, between `options [` and `]`), when it did:
    /// `writeJSONFields` can copy it from there instead of writing the options again.
    ///
    /// - Returns: whether the text is known to need no JSON escape: made only of literals,
    ///   numbers, addresses, TCP flags and options (IPv4 and IPv6 frames without an ICMP error
    ///   text, a protocol name or a problem suffix). False means "not known".
    @discardableResult
    public func writeSummaryLine(_ bytes: UnsafeRawBufferPointer, to w: inout ByteWriter, tcpOptionsText: inout Range<Int>?) -> Bool {
        let start = w.count
        var clean = true
        for tag in vlanTags {
            w.ascii("vlan "); w.decimal(tag.vid)
            w.ascii(", p "); w.decimal(tag.pcp)
            if tag.dei { w.ascii(", DEI") }
            w.ascii(", ")
        }
        switch network {
        case .arp: writeARPSummary(bytes, to: &w); clean = false
        case .ipv4, .ipv6: clean = writeIPSummary(bytes, to: &w, tcpOptionsText: &tcpOptionsText)
        case .none: w.string(linkOnlySummary()); clean = false
        }
        w.trimTrailingSpaces(downTo: start)
        for issue in issues {
            switch issue {
            case .ok: break
            case .truncated(let l): w.string(" [truncated \(l)]"); clean = false
            case .malformed(let l, let p): w.string(" [malformed \(l): \(p)]"); clean = false
            case .badChecksum(let l): w.string(" [bad \(l) cksum]"); clean = false
            case .unsupported(_, let what):
                switch what {
                case .etherType, .ipProtocol, .llcFrame, .encrypted, .linkType, .addressFamily: break
                default: w.string(" [unsupported \(what)]"); clean = false
                }
            }
        }
        return clean
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

    func writeARPSummary(_ bytes: UnsafeRawBufferPointer, to w: inout ByteWriter) {
        guard let a = arp(in: bytes) else { w.ascii("ARP"); return }
        let len = max(0, wireLength - networkOffset)
        guard a.hasEthernetIPv4Addresses else {
            if a.isEthernetIPv4 { w.ascii("ARP"); return }
            w.string("ARP, hardware \(a.hardwareType), proto 0x\(hex(a.protocolType, width: 4)), op \(a.operation), length \(len)")
            return
        }
        switch a.operation {
        case ARPHeader.request:
            w.ascii("ARP, Request who-has "); a.targetIP.write(to: &w)
            w.ascii(" tell "); a.senderIP.write(to: &w)
        case ARPHeader.reply:
            w.ascii("ARP, Reply "); a.senderIP.write(to: &w)
            w.ascii(" is-at "); a.senderMAC.write(to: &w)
        default:
            w.ascii("ARP, op "); w.decimal(a.operation); w.byte(32)
            a.senderIP.write(to: &w); w.ascii(" > "); a.targetIP.write(to: &w)
        }
        w.ascii(", length "); w.decimal(len)
    }

    /// Whether `writeExtensionText` writes anything.
    private var hasExtensionText: Bool {
        for r in ipv6Extensions {
            switch r.type {
            case IPProtocol.hopByHop, IPProtocol.destinationOptions, IPProtocol.routing, IPProtocol.ah, IPProtocol.esp:
                return true
            case IPProtocol.fragment where fragment != nil: return true
            default: break
            }
        }
        return false
    }

    /// tcpdump's IPv6 extension header words (`HBH `, `frag (0|1232) `...), each followed by a space.
    private func writeExtensionText(to w: inout ByteWriter) {
        for r in ipv6Extensions {
            switch r.type {
            case IPProtocol.hopByHop: w.ascii("HBH ")
            case IPProtocol.destinationOptions: w.ascii("DSTOPT ")
            case IPProtocol.routing: w.ascii("srcrt ")
            case IPProtocol.fragment:
                if let f = fragment {
                    w.ascii("frag ("); w.decimal(Int(f.offset) * 8)
                    w.byte(124); w.decimal(ipEnd - Int(r.offset) - 8)
                    w.ascii(") ")
                }
            case IPProtocol.ah: w.ascii("AH ")
            case IPProtocol.esp: w.ascii("ESP ")
            default: break
            }
        }
    }

    /// Returns whether the text is known to need no JSON escape (see `writeSummaryLine`).
    @discardableResult
    func writeIPSummary(_ bytes: UnsafeRawBufferPointer, to w: inout ByteWriter, tcpOptionsText: inout Range<Int>?) -> Bool {
        guard let addrs = ipAddresses(in: bytes) else { w.ascii(network == .ipv4 ? "IP" : "IP6"); return true }
        w.ascii(network == .ipv4 ? "IP " : "IP6 ")
        if let p = self.ports(in: bytes) {
            if network == .ipv6 && hasExtensionText {
                addrs.source.write(to: &w); w.ascii(" > "); addrs.destination.write(to: &w); w.ascii(": ")
                writeExtensionText(to: &w)
                w.decimal(p.source); w.ascii(" > "); w.decimal(p.destination); w.ascii(": ")
            } else {
                addrs.source.write(to: &w); w.byte(46); w.decimal(p.source)
                w.ascii(" > ")
                addrs.destination.write(to: &w); w.byte(46); w.decimal(p.destination)
                w.ascii(": ")
            }
        } else {
            addrs.source.write(to: &w); w.ascii(" > "); addrs.destination.write(to: &w); w.ascii(": ")
            writeExtensionText(to: &w)
        }
        var clean = true
        if let t = tcp(in: bytes) {
            writeTCPSummary(t, bytes, to: &w, tcpOptionsText: &tcpOptionsText)
        } else if let u = udp(in: bytes) {
            w.ascii("UDP, length "); w.decimal(Int(u.length) >= 8 ? Int(u.length) - 8 : payloadLength)
        } else if let i = icmp(in: bytes) {
            w.ascii("ICMP ")
            switch i.type {
            case ICMPType.echoReply, ICMPType.echoRequest:
                w.ascii(i.type == ICMPType.echoReply ? "echo reply, id " : "echo request, id ")
                w.decimal(i.identifier); w.ascii(", seq "); w.decimal(i.sequenceNumber)
            default: w.string(icmpText(i)); clean = false
            }
            w.ascii(", length "); w.decimal(ipEnd - transportOffset)
        } else if let i = icmpv6(in: bytes) {
            w.ascii("ICMP6, ")
            switch i.type {
            case ICMPv6Type.echoRequest, ICMPv6Type.echoReply:
                w.ascii(i.type == ICMPv6Type.echoReply ? "echo reply, id " : "echo request, id ")
                w.decimal(i.identifier); w.ascii(", seq "); w.decimal(i.sequenceNumber)
            case ICMPv6Type.neighborSolicitation:
                w.ascii("neighbor solicitation")
                if let t = i.targetAddress { w.ascii(", who has "); t.write(to: &w) }
            case ICMPv6Type.neighborAdvertisement:
                w.ascii("neighbor advertisement")
                if let t = i.targetAddress { w.ascii(", tgt is "); t.write(to: &w) }
            default: w.string(icmpv6Text(i, bytes)); clean = false
            }
            w.ascii(", length "); w.decimal(ipEnd - transportOffset)
        } else if let proto = transportProtocol {
            if proto == IPProtocol.noNextHeader {
                w.ascii("no next header")
            } else if let f = fragment, f.offset != 0, network == .ipv4 {
                w.ascii("ip-proto-"); w.decimal(proto)
            } else if case .unsupported = outcome {
                w.ascii("ip-proto-"); w.decimal(proto); w.byte(32); w.decimal(max(0, ipEnd - transportOffset))
            } else if let name = IPProtocol.name(proto) {
                w.string(name)
                clean = false
            } else {
                w.ascii("ip-proto-"); w.decimal(proto)
            }
        }
        return clean
    }

    func writeTCPSummary(_ t: TCPHeader, _ bytes: UnsafeRawBufferPointer, to w: inout ByteWriter,
                         tcpOptionsText: inout Range<Int>?) {
        let flags = t.flags
        w.ascii("Flags [")
        flags.write(to: &w)
        w.byte(93)
        let len = payloadLength
        if len > 0 || !flags.isDisjoint(with: [.syn, .fin, .rst]) {
            w.ascii(", seq "); w.decimal(t.sequenceNumber)
            if len > 0 { w.byte(58); w.decimal(t.sequenceNumber &+ UInt32(truncatingIfNeeded: len)) }
        }
        if flags.contains(.ack) { w.ascii(", ack "); w.decimal(t.acknowledgmentNumber) }
        w.ascii(", win "); w.decimal(t.window)
        if flags.contains(.urg) { w.ascii(", urg "); w.decimal(t.urgentPointer) }
        if !tcpOptions.isEmpty {
            w.ascii(", options [")
            let optionsStart = w.count
            for i in tcpOptions.indices {
                if i != tcpOptions.startIndex { w.byte(44) }
                writeTCPOption(i, bytes, to: &w)
            }
            tcpOptionsText = optionsStart..<w.count
            w.byte(93)
        }
        w.ascii(", length "); w.decimal(len)
    }

    /// One TCP option in tcpdump's spelling (`mss 1460`, `sackOK`, `TS val 1 ecr 0`, `nop`, ...).
    public func writeTCPOption(_ index: Int, _ bytes: UnsafeRawBufferPointer, to w: inout ByteWriter) {
        switch tcpOption(index, in: bytes) {
        case .endOfList: w.ascii("eol")
        case .noOperation: w.ascii("nop")
        case .maximumSegmentSize(let v): w.ascii("mss "); w.decimal(v)
        case .windowScale(let v): w.ascii("wscale "); w.decimal(v)
        case .sackPermitted: w.ascii("sackOK")
        case .sack(let b):
            w.ascii("sack "); w.decimal(b.count); w.byte(32)
            for k in 0..<b.count {
                w.byte(123); w.decimal(b[k].left); w.byte(58); w.decimal(b[k].right); w.byte(125)
            }
        case .timestamp(let v, let e): w.ascii("TS val "); w.decimal(v); w.ascii(" ecr "); w.decimal(e)
        case .unknown(let kind, _):
            switch kind {
            case TCPOptionKind.md5Signature: w.ascii("md5")
            case TCPOptionKind.multipath: w.ascii("mptcp")
            case TCPOptionKind.fastOpen: w.ascii("tfo")
            case TCPOptionKind.userTimeout: w.ascii("utolen")
            case TCPOptionKind.authentication: w.ascii("tcp-ao")
            default: w.ascii("opt-"); w.decimal(kind)
            }
        }
    }

    /// The TCP options in tcpdump's spelling (`mss 1460`, `sackOK`, `TS val 1 ecr 0`, `nop`, ...).
    public func tcpOptionStrings(_ bytes: UnsafeRawBufferPointer) -> [String] {
        tcpOptions.indices.map { i in ByteWriter.string(capacity: 64) { writeTCPOption(i, bytes, to: &$0) } }
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
        out += ByteWriter.string(capacity: 512) { writeJSONFields(bytes, to: &$0) }
    }

    /// Writes the members `appendJSONFields` appends, into `w`. `tcpOptionsText`: where `w`
    /// already holds this frame's TCP options as the summary line spells them (set by
    /// `writeSummaryLine(_:to:tcpOptionsText:)`, still unmoved): the `tcp_options` array is
    /// copied from there.
    public func writeJSONFields(_ bytes: UnsafeRawBufferPointer, to w: inout ByteWriter, tcpOptionsText: Range<Int>? = nil) {
        w.ascii("\"link\":")
        linkType.writeJSONName(to: &w)
        if let p = linkPacketType { w.ascii(",\"packet_type\":"); w.decimal(p) }
        if let i = interfaceIndex { w.ascii(",\"ifindex\":"); w.decimal(i) }
        if !vlanTags.isEmpty {
            w.ascii(",\"vlan\":[")
            for (k, t) in vlanTags.enumerated() {
                if k > 0 { w.byte(44) }
                w.ascii("{\"tpid\":\"0x"); w.hex4(t.tpid)
                w.ascii("\",\"vid\":"); w.decimal(t.vid)
                w.ascii(",\"pcp\":"); w.decimal(t.pcp)
                w.ascii(",\"dei\":"); w.bool(t.dei)
                w.byte(125)
            }
            w.byte(93)
        }
        if let e = ethernet(in: bytes) {
            w.ascii(",\"src_mac\":\""); e.source.write(to: &w)
            w.ascii("\",\"dst_mac\":\""); e.destination.write(to: &w); w.byte(34)
        } else if let m = linuxSLL(in: bytes)?.sourceMAC ?? linuxSLL2(in: bytes)?.sourceMAC {
            w.ascii(",\"src_mac\":\""); m.write(to: &w); w.byte(34)
        }
        if let t = etherType { w.ascii(",\"ethertype\":\"0x"); w.hex4(t); w.byte(34) }
        switch network {
        case .arp:
            w.ascii(",\"l3\":\"arp\"")
            if let a = arp(in: bytes) {
                w.ascii(",\"arp_op\":"); w.decimal(a.operation)
                if a.hasEthernetIPv4Addresses {
                    w.ascii(",\"src\":\""); a.senderIP.write(to: &w)
                    w.ascii("\",\"dst\":\""); a.targetIP.write(to: &w)
                    w.ascii("\",\"arp_sha\":\""); a.senderMAC.write(to: &w)
                    w.ascii("\",\"arp_tha\":\""); a.targetMAC.write(to: &w)
                    w.byte(34)
                }
            }
        case .ipv4:
            w.ascii(",\"l3\":\"ipv4\"")
            if let h = ipv4(in: bytes) {
                w.ascii(",\"src\":\""); h.source.write(to: &w)
                w.ascii("\",\"dst\":\""); h.destination.write(to: &w)
                w.ascii("\",\"ttl\":"); w.decimal(h.ttl)
                w.ascii(",\"ip_id\":"); w.decimal(h.identification)
                w.ascii(",\"ip_len\":"); w.decimal(h.totalLength)
                if h.tos != 0 { w.ascii(",\"tos\":"); w.decimal(h.tos) }
            }
            w.ascii(",\"ip_cksum\":"); ipChecksum.writeJSON(to: &w)
            if !ipv4Options.isEmpty {
                w.ascii(",\"ip_options\":[")
                for (k, o) in ipv4Options.enumerated() {
                    if k > 0 { w.byte(44) }
                    w.decimal(o.kind)
                }
                w.byte(93)
            }
        case .ipv6:
            w.ascii(",\"l3\":\"ipv6\"")
            if let h = ipv6(in: bytes) {
                w.ascii(",\"src\":\""); h.source.write(to: &w)
                w.ascii("\",\"dst\":\""); h.destination.write(to: &w)
                w.ascii("\",\"hlim\":"); w.decimal(h.hopLimit)
                if h.flowLabel != 0 { w.ascii(",\"flow\":"); w.decimal(h.flowLabel) }
            }
            if !ipv6Extensions.isEmpty {
                w.ascii(",\"ext\":[")
                for (k, r) in ipv6Extensions.enumerated() {
                    if k > 0 { w.byte(44) }
                    w.decimal(r.type)
                }
                w.byte(93)
            }
        case .none: break
        }
        if let f = fragment {
            w.ascii(",\"frag\":{\"id\":"); w.decimal(f.identification)
            w.ascii(",\"offset\":"); w.decimal(Int(f.offset) * 8)
            w.ascii(",\"mf\":"); w.bool(f.moreFragments)
            w.ascii(",\"df\":"); w.bool(f.dontFragment)
            w.byte(125)
        }
        if let p = transportProtocol {
            switch transport {
            case .tcp: w.ascii(",\"l4\":\"tcp\"")
            case .udp: w.ascii(",\"l4\":\"udp\"")
            case .icmp: w.ascii(",\"l4\":\"icmp\"")
            case .icmpv6: w.ascii(",\"l4\":\"icmpv6\"")
            case .none: w.ascii(",\"l4\":"); w.decimal(p)
            }
        }
        if let p = ports(in: bytes) {
            w.ascii(",\"sport\":"); w.decimal(p.source)
            w.ascii(",\"dport\":"); w.decimal(p.destination)
        }
        if let t = tcp(in: bytes) {
            w.ascii(",\"tcp_flags\":\""); t.flags.write(to: &w)
            w.ascii("\",\"seq\":"); w.decimal(t.sequenceNumber)
            w.ascii(",\"ack\":"); w.decimal(t.acknowledgmentNumber)
            w.ascii(",\"win\":"); w.decimal(t.window)
            if !tcpOptions.isEmpty {
                // Option text is letters, digits, spaces and `{}:`: nothing to escape, and
                // no commas, so the summary's comma-separated list splits back into options.
                w.ascii(",\"tcp_options\":[")
                if let r = tcpOptionsText {
                    w.repeatAsJSONStrings(from: r.lowerBound, to: r.upperBound)
                } else {
                    for i in tcpOptions.indices {
                        if i != tcpOptions.startIndex { w.byte(44) }
                        w.byte(34); writeTCPOption(i, bytes, to: &w); w.byte(34)
                    }
                }
                w.byte(93)
            }
        }
        if let i = icmp(in: bytes) {
            w.ascii(",\"icmp_type\":"); w.decimal(i.type); w.ascii(",\"icmp_code\":"); w.decimal(i.code)
        } else if let i = icmpv6(in: bytes) {
            w.ascii(",\"icmp_type\":"); w.decimal(i.type); w.ascii(",\"icmp_code\":"); w.decimal(i.code)
        }
        if let e = embedded {
            w.ascii(",\"embedded\":{\"src\":\""); e.source.write(to: &w)
            w.ascii("\",\"dst\":\""); e.destination.write(to: &w)
            w.ascii("\",\"proto\":"); w.decimal(e.protocolNumber)
            if let s = e.sourcePort, let d = e.destinationPort {
                w.ascii(",\"sport\":"); w.decimal(s); w.ascii(",\"dport\":"); w.decimal(d)
            }
            w.byte(125)
        }
        if transport != .none { w.ascii(",\"l4_cksum\":"); transportChecksum.writeJSON(to: &w) }
        if network != .none { w.ascii(",\"payload_len\":"); w.decimal(payloadLength) }
        if paddingLength > 0 { w.ascii(",\"padding\":"); w.decimal(paddingLength) }
        w.ascii(",\"outcome\":")
        if case .ok = outcome { w.ascii("\"ok\"") } else { w.jsonString(outcome.description, escapeDEL: false) }
        if issues.count > 1 {
            w.ascii(",\"issues\":[")
            for (k, i) in issues.enumerated() {
                if k > 0 { w.byte(44) }
                w.jsonString(i.description, escapeDEL: false)
            }
            w.byte(93)
        }
    }
}

extension TCPFlags {
    /// Appends `tcpdumpString` (`S.`, `FP.`, `none`).
    @inlinable public func write(to w: inout ByteWriter) {
        if rawValue == 0 { w.ascii("none"); return }
        if contains(.fin) { w.byte(70) }
        if contains(.syn) { w.byte(83) }
        if contains(.rst) { w.byte(82) }
        if contains(.psh) { w.byte(80) }
        if contains(.ack) { w.byte(46) }
        if contains(.urg) { w.byte(85) }
        if contains(.ece) { w.byte(69) }
        if contains(.cwr) { w.byte(87) }
        if contains(.ae) { w.byte(101) }
    }
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

extension LinkType {
    /// Appends `name` as a JSON string (`"EN10MB"`): the known names from literals.
    public func writeJSONName(to w: inout ByteWriter) {
        switch rawValue {
        case 0: w.ascii("\"NULL\"")
        case 1: w.ascii("\"EN10MB\"")
        case 101: w.ascii("\"RAW\"")
        case 108: w.ascii("\"LOOP\"")
        case 113: w.ascii("\"LINUX_SLL\"")
        case 228: w.ascii("\"IPV4\"")
        case 229: w.ascii("\"IPV6\"")
        case 276: w.ascii("\"LINUX_SLL2\"")
        default: w.jsonString(name, escapeDEL: false)
        }
    }
}

extension ChecksumStatus {
    /// Appends `description` as a JSON string (`"good"`), from literals.
    public func writeJSON(to w: inout ByteWriter) {
        switch self {
        case .notApplicable: w.ascii("\"n/a\"")
        case .good: w.ascii("\"good\"")
        case .bad: w.ascii("\"bad\"")
        case .notVerifiable: w.ascii("\"unverified\"")
        case .absent: w.ascii("\"absent\"")
        }
    }
}
