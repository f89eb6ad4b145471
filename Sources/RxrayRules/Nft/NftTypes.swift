import RxrayDecode

/// Header fields nft knows, with their location (nft's proto_* descriptions: offsets in bits
/// from the start of the header at the given base).
enum NftPayloadTable {
    typealias F = (field: String, offset: Int, length: Int, type: NftDatatype)
    static let headers: [String: (base: NftPayloadBase, dep: NftPayloadDependency?, fields: [F])] = [
        "ether": (.link, nil, [("daddr", 0, 48, .etherAddr), ("saddr", 48, 48, .etherAddr), ("type", 96, 16, .etherType)]),
        "vlan": (.link, .etherType(0x8100), [("pcp", 112, 3, .integer), ("dei", 115, 1, .integer), ("cfi", 115, 1, .integer),
                                           ("id", 116, 12, .integer), ("type", 128, 16, .etherType)]),
        "arp": (.network, .etherType(0x0806), [("htype", 0, 16, .integer), ("ptype", 16, 16, .etherType), ("hlen", 32, 8, .integer),
                                               ("plen", 40, 8, .integer), ("operation", 48, 16, .arpOp)]),
        "ip": (.network, .network(ipv6: false), [("version", 0, 4, .integer), ("hdrlength", 4, 4, .integer), ("dscp", 8, 6, .dscp),
                                                 ("ecn", 14, 2, .ecn), ("length", 16, 16, .integer), ("id", 32, 16, .integer),
                                                 ("frag-off", 48, 16, .integer), ("ttl", 64, 8, .integer), ("protocol", 72, 8, .inetProto),
                                                 ("checksum", 80, 16, .integer), ("saddr", 96, 32, .ipv4Addr), ("daddr", 128, 32, .ipv4Addr)]),
        "ip6": (.network, .network(ipv6: true), [("version", 0, 4, .integer), ("dscp", 4, 6, .dscp), ("ecn", 10, 2, .ecn),
                                                 ("flowlabel", 12, 20, .integer), ("length", 32, 16, .integer), ("nexthdr", 48, 8, .inetProto),
                                                 ("hoplimit", 56, 8, .integer), ("saddr", 64, 128, .ipv6Addr), ("daddr", 192, 128, .ipv6Addr)]),
        "tcp": (.transport, .l4proto(6), [("sport", 0, 16, .inetService), ("dport", 16, 16, .inetService), ("sequence", 32, 32, .integer),
                                          ("ackseq", 64, 32, .integer), ("doff", 96, 4, .integer), ("reserved", 100, 4, .integer),
                                          ("flags", 104, 8, .tcpFlags), ("window", 112, 16, .integer), ("checksum", 128, 16, .integer),
                                          ("urgptr", 144, 16, .integer)]),
        "udp": (.transport, .l4proto(17), [("sport", 0, 16, .inetService), ("dport", 16, 16, .inetService), ("length", 32, 16, .integer),
                                           ("checksum", 48, 16, .integer)]),
        "udplite": (.transport, .l4proto(136), [("sport", 0, 16, .inetService), ("dport", 16, 16, .inetService), ("csumcov", 32, 16, .integer),
                                                ("checksum", 48, 16, .integer)]),
        "sctp": (.transport, .l4proto(132), [("sport", 0, 16, .inetService), ("dport", 16, 16, .inetService), ("vtag", 32, 32, .integer),
                                             ("checksum", 64, 32, .integer)]),
        "dccp": (.transport, .l4proto(33), [("sport", 0, 16, .inetService), ("dport", 16, 16, .inetService), ("type", 68, 4, .integer)]),
        "th": (.transport, .transportHeader, [("sport", 0, 16, .inetService), ("dport", 16, 16, .inetService)]),
        "icmp": (.transport, .l4proto(1), [("type", 0, 8, .icmpType), ("code", 8, 8, .icmpCode), ("checksum", 16, 16, .integer),
                                           ("id", 32, 16, .integer), ("sequence", 48, 16, .integer), ("gateway", 32, 32, .integer),
                                           ("mtu", 48, 16, .integer)]),
        "icmpv6": (.transport, .l4proto(58), [("type", 0, 8, .icmpv6Type), ("code", 8, 8, .icmpv6Code), ("checksum", 16, 16, .integer),
                                              ("parameter-problem", 32, 32, .integer), ("mtu", 32, 32, .integer), ("id", 32, 16, .integer),
                                              ("sequence", 48, 16, .integer), ("max-delay", 32, 16, .integer),
                                              ("taddr", 64, 128, .ipv6Addr), ("daddr", 192, 128, .ipv6Addr)]),
        "igmp": (.transport, .l4proto(2), [("type", 0, 8, .integer), ("mrt", 8, 8, .integer), ("checksum", 16, 16, .integer),
                                           ("group", 32, 32, .integer)]),
        "ah": (.transport, .l4proto(51), [("nexthdr", 0, 8, .inetProto), ("hdrlength", 8, 8, .integer), ("reserved", 16, 16, .integer),
                                          ("spi", 32, 32, .integer), ("sequence", 64, 32, .integer)]),
        "esp": (.transport, .l4proto(50), [("spi", 0, 32, .integer), ("sequence", 32, 32, .integer)]),
        "comp": (.transport, .l4proto(108), [("nexthdr", 0, 8, .inetProto), ("flags", 8, 8, .integer), ("cpi", 16, 16, .integer)]),
        "gre": (.transport, .l4proto(47), [("flags", 0, 5, .integer), ("version", 13, 3, .integer), ("protocol", 16, 16, .etherType)]),
    ]

    static func field(_ header: String, _ name: String) -> NftPayloadField? {
        guard let h = headers[header], let f = h.fields.first(where: { $0.field == name }) else { return nil }
        return NftPayloadField(header: header, field: name, base: h.base, offsetBits: f.offset, lengthBits: f.length, type: f.type, dependency: h.dep)
    }
}

extension NftExpr {
    /// The datatype of a left-hand expression, which decides how the right-hand side reads.
    var datatype: NftDatatype {
        switch self {
        case .payload(let p): return p.type
        case .rawPayload: return .integer
        case .meta(let k): return k.type
        case .ct(let key, _):
            switch key {
            case "state": return .ctState
            case "status": return .ctStatus
            case "direction": return .ctDir
            case "mark": return .mark
            case "label": return .ctLabel
            case "l3proto": return .nfproto
            case "protocol": return .inetProto
            case "saddr", "daddr":  return .integer
            case "ip saddr", "ip daddr": return .ipv4Addr
            case "ip6 saddr", "ip6 daddr": return .ipv6Addr
            case "proto-src", "proto-dst": return .inetService
            case "expiration": return .time
            default: return .integer
            }
        case .fib(_, let result):
            switch result {
            case "type": return .fibAddrType
            case "check": return .boolean
            case "oifname": return .ifname
            default: return .ifindex
            }
        case .rt(let key, _): return key == "nexthop" ? .ipv4Addr : .integer
        case .socket(let key, _): return key == "transparent" || key == "wildcard" ? .boolean : (key == "mark" ? .mark : .integer)
        case .concat(let parts): return parts.first?.datatype ?? .integer
        case .binary(_, let l, _): return l.datatype
        case .exthdr: return .integer
        default: return .integer
        }
    }

    /// Per-part types of a (possibly concatenated) key.
    var keyTypes: [NftDatatype] {
        if case .concat(let parts) = self { return parts.map(\.datatype) }
        return [datatype]
    }
}

/// Reads literal words for a datatype (the symbol tables nft uses for each type).
enum NftValues {
    static let ctDirs: [String: UInt64] = ["original": 0, "reply": 1]
    static let nfprotos: [String: UInt64] = ["ipv4": 2, "ipv6": 10, "inet": 1, "arp": 3, "bridge": 7, "netdev": 5]
    static let tcpFlagBits: [String: UInt64] = ["fin": 1, "syn": 2, "rst": 4, "psh": 8, "ack": 16, "urg": 32, "ecn": 64, "cwr": 128]
    static let ifTypes: [String: UInt64] = ["ether": 1, "ppp": 512, "ipip": 768, "ipip6": 769, "loopback": 772, "sit": 776, "ipgre": 778]
    static let icmpCodes: [String: UInt64] = [
        "net-unreachable": 0, "host-unreachable": 1, "prot-unreachable": 2, "port-unreachable": 3, "frag-needed": 4,
        "net-prohibited": 9, "host-prohibited": 10, "admin-prohibited": 13,
    ]
    static let icmpv6Codes: [String: UInt64] = [
        "no-route": 0, "admin-prohibited": 1, "addr-unreachable": 3, "port-unreachable": 4, "policy-fail": 5, "reject-route": 6,
    ]
    static let icmpxCodes: [String: UInt64] = ["no-route": 0, "port-unreachable": 1, "host-unreachable": 2, "admin-prohibited": 3]
    /// nft's icmp_type names (they differ from iptables' in places).
    static let icmpTypes: [String: UInt64] = [
        "echo-reply": 0, "destination-unreachable": 3, "source-quench": 4, "redirect": 5, "echo-request": 8,
        "router-advertisement": 9, "router-solicitation": 10, "time-exceeded": 11, "parameter-problem": 12,
        "timestamp-request": 13, "timestamp-reply": 14, "info-request": 15, "info-reply": 16,
        "address-mask-request": 17, "address-mask-reply": 18,
    ]
    static let dscpNames: [String: UInt64] = [
        "cs0": 0, "cs1": 8, "cs2": 16, "cs3": 24, "cs4": 32, "cs5": 40, "cs6": 48, "cs7": 56, "df": 0, "be": 0, "lephb": 1,
        "af11": 10, "af12": 12, "af13": 14, "af21": 18, "af22": 20, "af23": 22, "af31": 26, "af32": 28, "af33": 30,
        "af41": 34, "af42": 36, "af43": 38, "va": 44, "ef": 46,
    ]
    static let ecnNames: [String: UInt64] = ["not-ect": 0, "ect1": 1, "ect0": 2, "ce": 3]
    static let arpOps: [String: UInt64] = ["request": 1, "reply": 2, "rrequest": 3, "rreply": 4, "inrequest": 8, "inreply": 9, "nak": 10]
    static let days: [String: UInt64] = ["Sunday": 0, "Monday": 1, "Tuesday": 2, "Wednesday": 3, "Thursday": 4, "Friday": 5, "Saturday": 6]

    /// One word (no ranges) as a value of `type`; nil when it does not read as one.
    static func scalar(_ w: String, _ type: NftDatatype, quoted: Bool) -> NftExpr? {
        let s = Substring(w)
        if quoted {
            switch type {
            case .ifname, .ifindex, .string, .integer, .ctLabel:
                if w.hasSuffix("*") && !w.hasSuffix("\\*") { return .stringPrefix(String(w.dropLast())) }
                return .string(w)
            case .time, .hour: return .string(w)
            case .day: return days[w].map { .integer($0) } ?? .string(w)
            default: break
            }
        }
        if let n = Num.parse(s) {
            switch type {
            case .ipv4Addr, .ipv6Addr, .etherAddr: break
            default: return .integer(n)
            }
        }
        switch type {
        case .ipv4Addr, .ipv6Addr:
            if let a = IPAddress(s) { return .address(a) }
            if s.contains("/"), let p = IPPrefix(s) { return .prefix(p) }
            return nil
        case .etherAddr:
            return MACAddress(s).map { .mac($0) }
        case .inetService:
            return Names.services[w].map { .integer(UInt64($0)) }
        case .inetProto:
            return Names.ipProtocols[w].map { .integer(UInt64($0)) }
        case .ctState:
            return Names.ctStates[w].map { .integer(UInt64($0)) }
        case .ctStatus:
            return Names.ctStatus[w].map { .integer(UInt64($0)) }
        case .ctDir: return ctDirs[w].map { .integer($0) }
        case .icmpType: return icmpTypes[w].map { .integer($0) }
        case .icmpv6Type: return Names.icmpv6Types[w].map { .integer(UInt64($0.type)) }
        case .icmpCode: return icmpCodes[w].map { .integer($0) }
        case .icmpv6Code: return icmpv6Codes[w].map { .integer($0) }
        case .icmpxCode: return icmpxCodes[w].map { .integer($0) }
        case .nfproto: return nfprotos[w].map { .integer($0) }
        case .pktType: return Names.pktTypes[w].map { .integer(UInt64($0)) }
        case .etherType: return Names.etherTypes[w].map { .integer(UInt64($0)) }
        case .fibAddrType: return Names.addrTypes[w].map { .integer(UInt64($0)) }
        case .tcpFlags: return tcpFlagBits[w].map { .integer($0) }
        case .ifType: return ifTypes[w].map { .integer($0) }
        case .boolean:
            switch w {
            case "exists", "true", "yes": return .boolean(true)
            case "missing", "false", "no": return .boolean(false)
            default: return nil
            }
        case .ifname, .ifindex, .string: return .string(w)
        case .dscp: return dscpNames[w].map { .integer($0) }
        case .ecn: return ecnNames[w].map { .integer($0) }
        case .arpOp: return arpOps[w].map { .integer($0) }
        case .day: return days[w].map { .integer($0) }
        case .time, .hour: return .string(w)
        case .counterObject: return .string(w)
        case .mark, .integer, .uid, .gid, .realm, .devgroup, .bitmask, .ipv6Nexthdr, .ctLabel: return nil
        case .verdict: return nil
        }
    }

    /// A word of unknown type: an address, prefix, MAC, number, or a range of those.
    static func guess(_ w: String) -> NftExpr? {
        for t in [NftDatatype.ipv4Addr, .ipv6Addr, .etherAddr] {
            if let v = value(w, t, quoted: false) { return v }
        }
        if let n = Num.parse(Substring(w)) { return .integer(n) }
        if let dash = w.firstIndex(of: "-"), let a = Num.parse(w[..<dash]), let b = Num.parse(w[w.index(after: dash)...]) {
            return .range(.integer(a), .integer(b))
        }
        return nil
    }

    /// A word as a value, range (`a-b`) or prefix of `type`.
    static func value(_ w: String, _ type: NftDatatype, quoted: Bool) -> NftExpr? {
        if let v = scalar(w, type, quoted: quoted) { return v }
        if quoted { return nil }
        // `exists` / `missing` work on any type as presence tests.
        if w == "exists" { return .boolean(true) }
        if w == "missing" { return .boolean(false) }
        if let dash = w.firstIndex(of: "-"), dash != w.startIndex {
            // Try every dash: names contain dashes (`echo-request-...`), ranges have one separating dash.
            var idx = dash
            while true {
                let lo = String(w[..<idx]), hi = String(w[w.index(after: idx)...])
                if !hi.isEmpty, let l = scalar(lo, type, quoted: false), let h = scalar(hi, type, quoted: false) { return .range(l, h) }
                guard let next = w[w.index(after: idx)...].firstIndex(of: "-") else { break }
                idx = next
            }
        }
        return nil
    }
}
