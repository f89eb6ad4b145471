import RxrayDecode

/// The options of one extension being typed, with error helpers.
struct IptExtensionContext {
    let file: String
    let line: Int
    let family: RuleFamily
    let ruleText: String
    let ext: PendingExtension
    var unsupported: [UnsupportedConstruct] = []

    init(builder: RuleBuilder, ext: PendingExtension) {
        file = builder.file; line = builder.line; family = builder.family; ruleText = builder.text; self.ext = ext
    }

    var options: [RawOption] { ext.options }
    func err(_ o: RawOption, _ message: String) -> InputError {
        InputError(file: file, line: line, column: o.column, "\(ext.isTarget ? "-j" : "-m") \(ext.name) \(o.name): \(message)")
    }
    func errExt(_ message: String) -> InputError {
        InputError(file: file, line: line, column: ext.column, "\(ext.isTarget ? "-j" : "-m") \(ext.name): \(message)")
    }
    mutating func unsupported(_ o: RawOption) {
        let text = ([ext.isTarget ? "-j" : "-m", ext.name, o.negated ? "!" : nil, o.name] + o.args).compactMap { $0 }.joined(separator: " ")
        unsupported.append(UnsupportedConstruct(file: file, line: line, construct: text, ruleText: ruleText))
    }

    // MARK: value parsers

    func u32(_ o: RawOption, _ s: String) throws -> UInt32 {
        guard let v = Num.u32(Substring(s)) else { throw err(o, "bad number '\(s)': expected 0 to 4294967295") }
        return v
    }
    func u16(_ o: RawOption, _ s: String) throws -> UInt16 {
        guard let v = Num.u16(Substring(s)) else { throw err(o, "bad number '\(s)': expected 0 to 65535") }
        return v
    }
    func u8(_ o: RawOption, _ s: String) throws -> UInt8 {
        guard let v = Num.u8(Substring(s)) else { throw err(o, "bad number '\(s)': expected 0 to 255") }
        return v
    }
    func port(_ o: RawOption, _ s: Substring) throws -> UInt16 {
        guard let v = Names.port(s) else { throw err(o, "bad port '\(s)': expected a number 0 to 65535 or a service name") }
        return v
    }
    /// `a`, `a:b`, `a:`, `:b` (also `a-b` as multiport and some modules accept).
    func portRange(_ o: RawOption, _ s: Substring) throws -> UInt16Range {
        if let c = s.firstIndex(where: { $0 == ":" || $0 == "-" }) {
            let lo = s[..<c], hi = s[s.index(after: c)...]
            let l = lo.isEmpty ? 0 : try port(o, lo)
            let h = hi.isEmpty ? 65535 : try port(o, hi)
            guard l <= h else { throw err(o, "bad range '\(s)': low end above high end") }
            return UInt16Range(l, h)
        }
        return UInt16Range(single: try port(o, s))
    }
    func u16Range(_ o: RawOption, _ s: String) throws -> UInt16Range {
        if let c = s.firstIndex(of: ":") {
            let lo = s[..<c], hi = s[s.index(after: c)...]
            let l = lo.isEmpty ? 0 : try u16(o, String(lo))
            let h = hi.isEmpty ? 65535 : try u16(o, String(hi))
            guard l <= h else { throw err(o, "bad range '\(s)': low end above high end") }
            return UInt16Range(l, h)
        }
        return UInt16Range(single: try u16(o, s))
    }
    func u32Range(_ o: RawOption, _ s: String, separator: Character = ":") throws -> ClosedRange<UInt32> {
        if let c = s.firstIndex(of: separator) {
            let lo = s[..<c], hi = s[s.index(after: c)...]
            let l = lo.isEmpty ? 0 : try u32(o, String(lo))
            let h = hi.isEmpty ? UInt32.max : try u32(o, String(hi))
            guard l <= h else { throw err(o, "bad range '\(s)': low end above high end") }
            return l...h
        }
        let v = try u32(o, s)
        return v...v
    }
    func valueMask(_ o: RawOption, _ s: String) throws -> ValueMask {
        if let slash = s.firstIndex(of: "/") {
            return ValueMask(value: try u32(o, String(s[..<slash])), mask: try u32(o, String(s[s.index(after: slash)...])))
        }
        return ValueMask(value: try u32(o, s))
    }
    func address(_ o: RawOption, _ s: String) throws -> MaskedAddress {
        guard let a = MaskedAddress(text: Substring(s)), a.address.isV4 == (family == .ipv4) else {
            throw err(o, "bad address '\(s)': expected an \(family == .ipv4 ? "IPv4" : "IPv6") address[/mask]")
        }
        return a
    }
    func plainAddress(_ o: RawOption, _ s: Substring) throws -> IPAddress {
        guard let a = IPAddress(s), a.isV4 == (family == .ipv4) else {
            throw err(o, "bad address '\(s)': expected an \(family == .ipv4 ? "IPv4" : "IPv6") address")
        }
        return a
    }
    func ctStates(_ o: RawOption, _ s: String) throws -> UInt32 {
        var bits: UInt32 = 0
        for p in s.split(separator: ",") {
            guard let b = Names.ctStates[String(p).uppercased()] else {
                throw err(o, "bad state '\(p)': expected INVALID, NEW, ESTABLISHED, RELATED, UNTRACKED, SNAT or DNAT")
            }
            bits |= b
        }
        return bits
    }
    func rate(_ o: RawOption, _ s: String) throws -> (Rate, bytes: Bool) {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard let first = parts.first else { throw err(o, "bad rate '\(s)'") }
        var countText = first
        var bytes = false
        var mult: UInt64 = 1
        for (suffix, m) in [("kb", UInt64(1024)), ("mb", 1 << 20), ("gb", 1 << 30), ("b", 1)] where countText.lowercased().hasSuffix(suffix) {
            countText = countText.dropLast(suffix.count); mult = m; bytes = true; break
        }
        guard let n = UInt64(countText) else { throw err(o, "bad rate '\(s)': expected N/second, N/minute, N/hour or N/day") }
        var per: UInt64 = 1
        if parts.count == 2 {
            let u = parts[1].lowercased()
            if u.isEmpty { throw err(o, "bad rate '\(s)'") }
            if "second".hasPrefix(u) { per = 1 } else if "minute".hasPrefix(u) { per = 60 } else if "hour".hasPrefix(u) { per = 3600 } else if "day".hasPrefix(u) { per = 86400 } else {
                throw err(o, "bad rate unit '\(parts[1])': expected second, minute, hour or day")
            }
        } else if parts.count > 2 {
            throw err(o, "bad rate '\(s)'")
        }
        return (Rate(count: n * mult, per: per), bytes)
    }
    func setFlags(_ o: RawOption, _ s: String) throws -> [SetDirection] {
        try s.split(separator: ",").map {
            guard let d = SetDirection(rawValue: String($0)) else { throw err(o, "bad set flag '\($0)': expected src or dst") }
            return d
        }
    }
    func ifname(_ o: RawOption, _ s: String) throws -> InterfaceName {
        guard !s.isEmpty, s.utf8.count < 16 else { throw err(o, "bad interface name '\(s)'") }
        return InterfaceName(iptables: Substring(s))
    }
}

/// What rxray knows about each iptables extension: option arities and typing.
enum IptExtensions {
    static let matchOptions: [String: [String: Int]] = [
        "tcp": ["--sport": 1, "--source-port": 1, "--dport": 1, "--destination-port": 1, "--tcp-flags": 2, "--syn": 0, "--tcp-option": 1],
        "udp": ["--sport": 1, "--source-port": 1, "--dport": 1, "--destination-port": 1],
        "udplite": ["--sport": 1, "--source-port": 1, "--dport": 1, "--destination-port": 1],
        "sctp": ["--sport": 1, "--source-port": 1, "--dport": 1, "--destination-port": 1, "--chunk-types": 2],
        "dccp": ["--sport": 1, "--source-port": 1, "--dport": 1, "--destination-port": 1, "--dccp-types": 1, "--dccp-option": 1],
        "icmp": ["--icmp-type": 1],
        "icmp6": ["--icmpv6-type": 1],
        "multiport": ["--sports": 1, "--source-ports": 1, "--dports": 1, "--destination-ports": 1, "--ports": 1],
        "conntrack": ["--ctstate": 1, "--ctstatus": 1, "--ctproto": 1, "--ctorigsrc": 1, "--ctorigdst": 1, "--ctreplsrc": 1,
                      "--ctrepldst": 1, "--ctorigsrcport": 1, "--ctorigdstport": 1, "--ctreplsrcport": 1, "--ctrepldstport": 1,
                      "--ctdir": 1, "--ctexpire": 1],
        "state": ["--state": 1],
        "mark": ["--mark": 1],
        "connmark": ["--mark": 1],
        "comment": ["--comment": 1],
        "addrtype": ["--src-type": 1, "--dst-type": 1, "--limit-iface-in": 0, "--limit-iface-out": 0],
        "iprange": ["--src-range": 1, "--dst-range": 1],
        "limit": ["--limit": 1, "--limit-burst": 1],
        "hashlimit": ["--hashlimit": 1, "--hashlimit-upto": 1, "--hashlimit-above": 1, "--hashlimit-burst": 1, "--hashlimit-mode": 1,
                      "--hashlimit-srcmask": 1, "--hashlimit-dstmask": 1, "--hashlimit-name": 1, "--hashlimit-htable-size": 1,
                      "--hashlimit-htable-max": 1, "--hashlimit-htable-expire": 1, "--hashlimit-htable-gcinterval": 1,
                      "--hashlimit-rate-match": 0, "--hashlimit-rate-interval": 1],
        "recent": ["--set": 0, "--rcheck": 0, "--update": 0, "--remove": 0, "--seconds": 1, "--reap": 0, "--hitcount": 1,
                   "--rttl": 0, "--name": 1, "--rsource": 0, "--rdest": 0, "--mask": 1],
        "set": ["--match-set": 2, "--set": 2, "--return-nomatch": 0, "--update-counters": 0, "--update-subcounters": 0,
                "--packets-eq": 1, "--packets-lt": 1, "--packets-gt": 1, "--bytes-eq": 1, "--bytes-lt": 1, "--bytes-gt": 1],
        "length": ["--length": 1],
        "mac": ["--mac-source": 1],
        "physdev": ["--physdev-in": 1, "--physdev-out": 1, "--physdev-is-in": 0, "--physdev-is-out": 0, "--physdev-is-bridged": 0],
        "pkttype": ["--pkt-type": 1],
        "statistic": ["--mode": 1, "--probability": 1, "--every": 1, "--packet": 1],
        "owner": ["--uid-owner": 1, "--gid-owner": 1, "--socket-exists": 0, "--suppl-groups": 0],
        "u32": ["--u32": 1],
        "tcpmss": ["--mss": 1],
        "ttl": ["--ttl-eq": 1, "--ttl-lt": 1, "--ttl-gt": 1],
        "hl": ["--hl-eq": 1, "--hl-lt": 1, "--hl-gt": 1],
        "dscp": ["--dscp": 1, "--dscp-class": 1],
        "tos": ["--tos": 1],
        "ipv6header": ["--header": 1, "--soft": 0],
        "frag": ["--fragid": 1, "--fraglen": 1, "--fragres": 0, "--fragfirst": 0, "--fragmore": 0, "--fraglast": 0],
        "rt": ["--rt-type": 1, "--rt-segsleft": 1, "--rt-len": 1, "--rt-0-res": 0, "--rt-0-addrs": 1, "--rt-0-not-strict": 0],
        "socket": ["--transparent": 0, "--nowildcard": 0, "--restore-skmark": 0],
        "policy": ["--dir": 1, "--pol": 1, "--strict": 0, "--reqid": 1, "--spi": 1, "--proto": 1, "--mode": 1,
                   "--tunnel-src": 1, "--tunnel-dst": 1, "--next": 0],
        "nfacct": ["--nfacct-name": 1],
        "helper": ["--helper": 1],
        "devgroup": ["--src-group": 1, "--dst-group": 1],
        "realm": ["--realm": 1],
        "rpfilter": ["--loose": 0, "--validmark": 0, "--accept-local": 0, "--invert": 0],
        "connlimit": ["--connlimit-upto": 1, "--connlimit-above": 1, "--connlimit-mask": 1, "--connlimit-saddr": 0, "--connlimit-daddr": 0],
        "cpu": ["--cpu": 1],
        "quota": ["--quota": 1],
        "ecn": ["--ecn-tcp-cwr": 0, "--ecn-tcp-ece": 0, "--ecn-ip-ect": 1],
        "ah": ["--ahspi": 1, "--ahlen": 1, "--ahres": 0],
        "esp": ["--espspi": 1],
        "connbytes": ["--connbytes": 1, "--connbytes-dir": 1, "--connbytes-mode": 1],
        "time": ["--datestart": 1, "--datestop": 1, "--timestart": 1, "--timestop": 1, "--monthdays": 1, "--weekdays": 1,
                 "--contiguous": 0, "--kerneltz": 0, "--utc": 0, "--localtz": 0],
    ]

    static let targetOptions: [String: [String: Int]] = [
        "ACCEPT": [:], "DROP": [:], "RETURN": [:], "QUEUE": [:], "NOTRACK": [:], "TRACE": [:],
        "REJECT": ["--reject-with": 1],
        "LOG": ["--log-level": 1, "--log-prefix": 1, "--log-tcp-sequence": 0, "--log-tcp-options": 0, "--log-ip-options": 0,
                "--log-uid": 0, "--log-macdecode": 0],
        "NFLOG": ["--nflog-group": 1, "--nflog-prefix": 1, "--nflog-range": 1, "--nflog-size": 1, "--nflog-threshold": 1],
        "MARK": ["--set-mark": 1, "--set-xmark": 1, "--and-mark": 1, "--or-mark": 1, "--xor-mark": 1],
        "CONNMARK": ["--set-mark": 1, "--set-xmark": 1, "--and-mark": 1, "--or-mark": 1, "--xor-mark": 1, "--save-mark": 0,
                     "--restore-mark": 0, "--mask": 1, "--nfmask": 1, "--ctmask": 1],
        "CT": ["--notrack": 0, "--zone": 1, "--zone-orig": 1, "--zone-reply": 1, "--helper": 1, "--timeout": 1, "--ctevents": 1, "--expevents": 1],
        "DNAT": ["--to-destination": 1, "--to": 1, "--random": 0, "--random-fully": 0, "--persistent": 0],
        "SNAT": ["--to-source": 1, "--to": 1, "--random": 0, "--random-fully": 0, "--persistent": 0],
        "MASQUERADE": ["--to-ports": 1, "--random": 0, "--random-fully": 0],
        "REDIRECT": ["--to-ports": 1, "--random": 0],
        "NETMAP": ["--to": 1],
        "TCPMSS": ["--set-mss": 1, "--clamp-mss-to-pmtu": 0],
        "DSCP": ["--set-dscp": 1, "--set-dscp-class": 1],
        "TOS": ["--set-tos": 1, "--and-tos": 1, "--or-tos": 1, "--xor-tos": 1],
        "CHECKSUM": ["--checksum-fill": 0],
        "NFQUEUE": ["--queue-num": 1, "--queue-balance": 1, "--queue-bypass": 0, "--queue-cpu-fanout": 0, "--fail-open": 0],
        "SET": ["--add-set": 2, "--del-set": 2, "--exist": 0, "--timeout": 1, "--map-set": 2],
        "CLASSIFY": ["--set-class": 1],
        "TTL": ["--ttl-set": 1, "--ttl-dec": 1, "--ttl-inc": 1],
        "HL": ["--hl-set": 1, "--hl-dec": 1, "--hl-inc": 1],
        "AUDIT": ["--type": 1],
    ]

    /// Target extensions of xtables that rxray does not model: `-j NAME` with one of these
    /// names is reported as unsupported rather than taken for a jump to an undeclared chain.
    static let unmodelledTargets: Set<String> = [
        "AUDIT", "CLASSIFY", "CLUSTERIP", "CONNSECMARK", "DNPT", "SNPT", "HMARK", "IDLETIMER", "LED", "RATEEST",
        "SECMARK", "SYNPROXY", "TEE", "TPROXY", "ULOG", "ECN", "IPV4OPTSSTRIP", "NETMAP", "HL", "TTL", "TCPOPTSTRIP",
        "MIRROR", "SAME", "CHAOS", "DELUDE", "TARPIT", "JOOL", "JOOL_SIIT", "FULLCONENAT",
    ]

    static func isKnown(_ name: String, isTarget: Bool) -> Bool {
        isTarget ? targetOptions[name] != nil : matchOptions[name] != nil
    }

    static func arity(ext: String, isTarget: Bool, option: String) -> Int? {
        (isTarget ? targetOptions[ext] : matchOptions[ext])?[option]
    }

    /// The match iptables loads implicitly for `-p PROTO` options (`-p tcp --dport 22`).
    static func implicitModule(_ proto: UInt8, family: RuleFamily) -> String? {
        switch proto {
        case 6: return "tcp"
        case 17: return "udp"
        case 136: return "udplite"
        case 132: return "sctp"
        case 33: return "dccp"
        case 1: return family == .ipv4 ? "icmp" : nil
        case 58: return family == .ipv6 ? "icmp6" : nil
        default: return nil
        }
    }

    // MARK: Matches

    static func buildMatch(_ c: inout IptExtensionContext) throws -> IptablesMatch {
        let opts = c.options
        switch c.ext.name {
        case "tcp":
            var m = TCPMatch()
            for o in opts {
                switch o.name {
                case "--sport", "--source-port": m.sourcePorts = Negatable(try c.portRange(o, Substring(o.args[0])), negated: o.negated)
                case "--dport", "--destination-port": m.destinationPorts = Negatable(try c.portRange(o, Substring(o.args[0])), negated: o.negated)
                case "--syn": m.flags = Negatable(.syn, negated: o.negated)
                case "--tcp-flags":
                    m.flags = Negatable(TCPFlagsTest(mask: try tcpFlags(&c, o, o.args[0]), comparison: try tcpFlags(&c, o, o.args[1])), negated: o.negated)
                case "--tcp-option": m.option = Negatable(try c.u8(o, o.args[0]), negated: o.negated)
                default: c.unsupported(o)
                }
            }
            return .module(.tcp(m))
        case "udp", "udplite", "sctp", "dccp":
            var m = UDPMatch()
            for o in opts {
                switch o.name {
                case "--sport", "--source-port": m.sourcePorts = Negatable(try c.portRange(o, Substring(o.args[0])), negated: o.negated)
                case "--dport", "--destination-port": m.destinationPorts = Negatable(try c.portRange(o, Substring(o.args[0])), negated: o.negated)
                default: c.unsupported(o)
                }
            }
            switch c.ext.name {
            case "udp": return .module(.udp(m))
            case "udplite": return .module(.udplite(m))
            case "sctp": return .module(.sctp(m))
            default: return .module(.dccp(m))
            }
        case "icmp", "icmp6":
            let v6 = c.ext.name == "icmp6"
            guard let o = opts.last else { return .module(v6 ? .icmp6(ICMPMatch(type: 255, code: nil, negated: false)) : .icmp(ICMPMatch(type: 255, code: nil, negated: false))) }
            let s = o.args[0]
            var t: UInt8, code: UInt8?
            if let named = (v6 ? Names.icmpv6Types : Names.icmpTypes)[s] {
                t = named.type; code = named.code
            } else if let slash = s.firstIndex(of: "/") {
                t = try c.u8(o, String(s[..<slash])); code = try c.u8(o, String(s[s.index(after: slash)...]))
            } else if let n = Num.u8(Substring(s)) {
                t = n; code = nil
            } else {
                throw c.err(o, "unknown \(v6 ? "ICMPv6" : "ICMP") type '\(s)': expected a name (echo-request, ...) or TYPE[/CODE]")
            }
            let m = ICMPMatch(type: t, code: code, negated: o.negated)
            return .module(v6 ? .icmp6(m) : .icmp(m))
        case "multiport":
            guard let o = opts.last else { throw c.errExt("expected --sports, --dports or --ports") }
            let dir: MultiportMatch.Direction = o.name.contains("source") || o.name == "--sports" ? .source
                : (o.name == "--ports" ? .either : .destination)
            let items = o.args[0].split(separator: ",")
            guard !items.isEmpty, items.count <= 15 else { throw c.err(o, "expected 1 to 15 ports (a range counts as two)") }
            let ports = try items.map { try c.portRange(o, $0) }
            return .module(.multiport(MultiportMatch(direction: dir, ports: ports, negated: o.negated)))
        case "conntrack":
            var m = ConntrackMatch()
            for o in opts {
                let a = o.args.first ?? ""
                switch o.name {
                case "--ctstate": m.state = Negatable(try c.ctStates(o, a), negated: o.negated)
                case "--ctstatus":
                    var bits: UInt32 = 0
                    for p in a.split(separator: ",") {
                        guard let b = Names.ctStatus[String(p)] ?? (p == "NONE" ? 0 : nil) else {
                            throw c.err(o, "bad status '\(p)': expected NONE, EXPECTED, SEEN_REPLY, ASSURED or CONFIRMED")
                        }
                        bits |= b
                    }
                    m.status = Negatable(bits, negated: o.negated)
                case "--ctproto":
                    guard let p = Names.ipProtocol(Substring(a)) else { throw c.err(o, "unknown protocol '\(a)'") }
                    m.protocolNumber = Negatable(p, negated: o.negated)
                case "--ctorigsrc": m.origSource = Negatable(try c.address(o, a), negated: o.negated)
                case "--ctorigdst": m.origDestination = Negatable(try c.address(o, a), negated: o.negated)
                case "--ctreplsrc": m.replySource = Negatable(try c.address(o, a), negated: o.negated)
                case "--ctrepldst": m.replyDestination = Negatable(try c.address(o, a), negated: o.negated)
                case "--ctorigsrcport": m.origSourcePort = Negatable(try c.portRange(o, Substring(a)), negated: o.negated)
                case "--ctorigdstport": m.origDestinationPort = Negatable(try c.portRange(o, Substring(a)), negated: o.negated)
                case "--ctreplsrcport": m.replySourcePort = Negatable(try c.portRange(o, Substring(a)), negated: o.negated)
                case "--ctrepldstport": m.replyDestinationPort = Negatable(try c.portRange(o, Substring(a)), negated: o.negated)
                case "--ctdir":
                    switch a.uppercased() {
                    case "ORIGINAL": m.directionOriginal = true
                    case "REPLY": m.directionOriginal = false
                    default: throw c.err(o, "bad direction '\(a)': expected ORIGINAL or REPLY")
                    }
                case "--ctexpire": m.expire = Negatable(try c.u32Range(o, a), negated: o.negated)
                default: c.unsupported(o)
                }
            }
            return .module(.conntrack(m))
        case "state":
            guard let o = opts.last else { throw c.errExt("expected --state") }
            return .module(.state(Negatable(try c.ctStates(o, o.args[0]), negated: o.negated)))
        case "mark", "connmark":
            guard let o = opts.last else { throw c.errExt("expected --mark") }
            let v = Negatable(try c.valueMask(o, o.args[0]), negated: o.negated)
            return .module(c.ext.name == "mark" ? .mark(v) : .connmark(v))
        case "comment":
            guard let o = opts.last else { throw c.errExt("expected --comment") }
            return .module(.comment(o.args[0]))
        case "addrtype":
            var m = AddrtypeMatch()
            for o in opts {
                switch o.name {
                case "--src-type", "--dst-type":
                    var bits: UInt16 = 0
                    for p in o.args[0].split(separator: ",") {
                        guard let n = Names.addrTypes[String(p)] else { throw c.err(o, "unknown address type '\(p)': expected LOCAL, UNICAST, BROADCAST, ...") }
                        bits |= 1 << UInt16(n)
                    }
                    if o.name == "--src-type" { m.sourceTypes = Negatable(bits, negated: o.negated) } else { m.destinationTypes = Negatable(bits, negated: o.negated) }
                case "--limit-iface-in": m.limitIfaceIn = true
                case "--limit-iface-out": m.limitIfaceOut = true
                default: c.unsupported(o)
                }
            }
            return .module(.addrtype(m))
        case "iprange":
            var m = IPRangeMatch()
            for o in opts {
                let parts = o.args[0].split(separator: "-", maxSplits: 1)
                let lo = try c.plainAddress(o, parts[0])
                let hi = parts.count == 2 ? try c.plainAddress(o, parts[1]) : lo
                let r = Negatable(IPAddressOrder(lo)...IPAddressOrder(max(IPAddressOrder(lo), IPAddressOrder(hi)).address), negated: o.negated)
                if o.name == "--src-range" { m.source = r } else { m.destination = r }
            }
            return .module(.iprange(m))
        case "limit":
            var m = LimitMatch()
            for o in opts {
                if o.name == "--limit" { m.rate = try c.rate(o, o.args[0]).0 } else { m.burst = try c.u32(o, o.args[0]) }
            }
            return .module(.limit(m))
        case "hashlimit":
            var m = HashlimitMatch(name: "")
            for o in opts {
                let a = o.args.first ?? ""
                switch o.name {
                case "--hashlimit", "--hashlimit-upto": let r = try c.rate(o, a); m.rate = r.0; m.rateInBytes = r.bytes; m.above = false
                case "--hashlimit-above": let r = try c.rate(o, a); m.rate = r.0; m.rateInBytes = r.bytes; m.above = true
                case "--hashlimit-burst": m.burst = try c.u32(o, a)
                case "--hashlimit-mode": m.mode = a.split(separator: ",").map(String.init)
                case "--hashlimit-srcmask": m.sourceMask = Int(try c.u8(o, a))
                case "--hashlimit-dstmask": m.destinationMask = Int(try c.u8(o, a))
                case "--hashlimit-name": m.name = a
                case "--hashlimit-htable-size": m.htableSize = try c.u32(o, a)
                case "--hashlimit-htable-max": m.htableMax = try c.u32(o, a)
                case "--hashlimit-htable-expire": m.htableExpireMs = try c.u32(o, a)
                case "--hashlimit-htable-gcinterval": m.htableGCIntervalMs = try c.u32(o, a)
                case "--hashlimit-rate-interval": m.rateInterval = try c.u32(o, a)
                default: c.unsupported(o)
                }
            }
            guard !m.name.isEmpty else { throw c.errExt("expected --hashlimit-name") }
            return .module(.hashlimit(m))
        case "recent":
            var m = RecentMatch(command: .set)
            var sawCommand = false
            for o in opts {
                switch o.name {
                case "--set": m.command = .set; m.negated = o.negated; sawCommand = true
                case "--rcheck": m.command = .rcheck; m.negated = o.negated; sawCommand = true
                case "--update": m.command = .update; m.negated = o.negated; sawCommand = true
                case "--remove": m.command = .remove; m.negated = o.negated; sawCommand = true
                case "--seconds": m.seconds = try c.u32(o, o.args[0])
                case "--reap": m.reap = true
                case "--hitcount": m.hitcount = try c.u32(o, o.args[0])
                case "--rttl": m.rttl = true
                case "--name": m.name = o.args[0]
                case "--rsource": m.useDestination = false
                case "--rdest": m.useDestination = true
                case "--mask": m.mask = try c.plainAddress(o, Substring(o.args[0]))
                default: c.unsupported(o)
                }
            }
            guard sawCommand else { throw c.errExt("expected one of --set, --rcheck, --update, --remove") }
            return .module(.recent(m))
        case "set":
            var m: SetMatch?
            for o in opts {
                switch o.name {
                case "--match-set", "--set": m = SetMatch(name: o.args[0], flags: try c.setFlags(o, o.args[1]), negated: o.negated)
                case "--return-nomatch": m?.returnNoMatch = true
                case "--update-counters": m?.updateCounters = !o.negated
                case "--update-subcounters": break
                default:
                    if o.name.hasPrefix("--packets-") || o.name.hasPrefix("--bytes-") { m?.packetsTest = "\(o.name) \(o.args[0])"; c.unsupported(o) } else { c.unsupported(o) }
                }
            }
            guard let m else { throw c.errExt("expected --match-set NAME src|dst[,...]") }
            return .module(.set(m))
        case "length":
            guard let o = opts.last else { throw c.errExt("expected --length") }
            return .module(.length(Negatable(try c.u16Range(o, o.args[0]), negated: o.negated)))
        case "mac":
            guard let o = opts.last else { throw c.errExt("expected --mac-source") }
            guard let mac = MACAddress(Substring(o.args[0])) else { throw c.err(o, "bad MAC address '\(o.args[0])': expected XX:XX:XX:XX:XX:XX") }
            return .module(.mac(Negatable(mac, negated: o.negated)))
        case "physdev":
            var m = PhysdevMatch()
            for o in opts {
                switch o.name {
                case "--physdev-in": m.physdevIn = Negatable(try c.ifname(o, o.args[0]), negated: o.negated)
                case "--physdev-out": m.physdevOut = Negatable(try c.ifname(o, o.args[0]), negated: o.negated)
                case "--physdev-is-in": m.isIn = Negatable(true, negated: o.negated)
                case "--physdev-is-out": m.isOut = Negatable(true, negated: o.negated)
                case "--physdev-is-bridged": m.isBridged = Negatable(true, negated: o.negated)
                default: c.unsupported(o)
                }
            }
            return .module(.physdev(m))
        case "pkttype":
            guard let o = opts.last else { throw c.errExt("expected --pkt-type") }
            guard let t = Names.pktTypes[o.args[0].lowercased()] else { throw c.err(o, "bad packet type '\(o.args[0])': expected unicast, broadcast, multicast or otherhost") }
            return .module(.pkttype(Negatable(t, negated: o.negated)))
        case "statistic":
            var mode = "", every: UInt32 = 0, packet: UInt32 = 0, prob = 0.0, neg = false
            for o in opts {
                switch o.name {
                case "--mode": mode = o.args[0]
                case "--every": every = try c.u32(o, o.args[0]); neg = neg || o.negated
                case "--packet": packet = try c.u32(o, o.args[0])
                case "--probability":
                    guard let p = Double(o.args[0]), p >= 0, p <= 1 else { throw c.err(o, "bad probability '\(o.args[0])': expected 0.0 to 1.0") }
                    prob = p; neg = neg || o.negated
                default: c.unsupported(o)
                }
            }
            switch mode {
            case "nth":
                guard every >= 1 else { throw c.errExt("--mode nth needs --every N (1 or more)") }
                return .module(.statistic(.nth(every: every, packet: packet, negated: neg)))
            case "random": return .module(.statistic(.random(probability: prob, negated: neg)))
            default: throw c.errExt("bad --mode '\(mode)': expected nth or random")
            }
        case "owner":
            var m = OwnerMatch()
            for o in opts {
                switch o.name {
                case "--uid-owner": m.uid = Negatable(try c.u32Range(o, o.args[0], separator: "-"), negated: o.negated)
                case "--gid-owner": m.gid = Negatable(try c.u32Range(o, o.args[0], separator: "-"), negated: o.negated)
                case "--socket-exists": m.socketExists = Negatable(true, negated: o.negated)
                case "--suppl-groups": m.suppGroups = true
                default: c.unsupported(o)
                }
            }
            return .module(.owner(m))
        case "u32":
            guard let o = opts.last else { throw c.errExt("expected --u32") }
            return .module(.u32(U32Match(text: o.args[0], tests: try parseU32(&c, o), negated: o.negated)))
        case "tcpmss":
            guard let o = opts.last else { throw c.errExt("expected --mss") }
            return .module(.tcpmss(Negatable(try c.u16Range(o, o.args[0]), negated: o.negated)))
        case "ttl", "hl":
            guard let o = opts.last else { throw c.errExt("expected a comparison option") }
            let op: TTLMatch.Op = o.name.hasSuffix("-lt") ? .lt : (o.name.hasSuffix("-gt") ? .gt : .eq)
            return .module(.ttl(TTLMatch(op: op, value: try c.u8(o, o.args[0]), negated: o.negated)))
        case "dscp":
            guard let o = opts.last else { throw c.errExt("expected --dscp or --dscp-class") }
            let v: UInt8
            if o.name == "--dscp-class" {
                guard let d = dscpClasses[o.args[0].uppercased()] else { throw c.err(o, "unknown DSCP class '\(o.args[0])'") }
                v = d
            } else {
                v = try c.u8(o, o.args[0])
                guard v <= 63 else { throw c.err(o, "DSCP \(v) out of range: expected 0 to 63") }
            }
            return .module(.dscp(Negatable(v, negated: o.negated)))
        case "tos":
            guard let o = opts.last else { throw c.errExt("expected --tos") }
            let names: [String: UInt32] = ["Minimize-Delay": 0x10, "Maximize-Throughput": 0x08, "Maximize-Reliability": 0x04, "Minimize-Cost": 0x02, "Normal-Service": 0]
            if let n = names[o.args[0]] { return .module(.tos(Negatable(ValueMask(value: n, mask: 0x3F), negated: o.negated))) }
            var vm = try c.valueMask(o, o.args[0])
            if !o.args[0].contains("/") { vm.mask = 0xFF }
            return .module(.tos(Negatable(vm, negated: o.negated)))
        case "ipv6header":
            var headers: [UInt8] = [], soft = false, neg = false
            let names: [String: UInt8] = ["hop": 0, "hop-by-hop": 0, "dst": 60, "ipv6-opts": 60, "route": 43, "ipv6-route": 43,
                                          "frag": 44, "ipv6-frag": 44, "auth": 51, "ah": 51, "esp": 50, "none": 59, "ipv6-nonxt": 59, "prot": 255, "protocol": 255]
            for o in opts {
                if o.name == "--soft" { soft = true; continue }
                neg = o.negated
                for p in o.args[0].split(separator: ",") {
                    guard let h = names[String(p)] ?? Num.u8(p) else { throw c.err(o, "unknown header '\(p)'") }
                    headers.append(h)
                }
            }
            return .module(.ipv6header(IPv6HeaderMatch(headers: headers, soft: soft, negated: neg)))
        case "frag":
            var m = FragMatch()
            for o in opts {
                switch o.name {
                case "--fragid": m.id = Negatable(try c.u32Range(o, o.args[0]), negated: o.negated)
                case "--fraglen": m.length = try c.u32(o, o.args[0])
                case "--fragres": m.reserved = true
                case "--fragfirst": m.first = true
                case "--fragmore": m.more = true
                case "--fraglast": m.last = true
                default: c.unsupported(o)
                }
            }
            return .module(.frag(m))
        case "rt":
            var m = RTMatch()
            for o in opts {
                switch o.name {
                case "--rt-type": m.type = Negatable(try c.u8(o, o.args[0]), negated: o.negated)
                case "--rt-segsleft": m.segsLeft = Negatable(try c.u32Range(o, o.args[0]), negated: o.negated)
                case "--rt-len": m.length = Negatable(try c.u32(o, o.args[0]), negated: o.negated)
                case "--rt-0-res": m.reserved = true
                case "--rt-0-addrs":
                    m.addresses = try o.args[0].split(separator: ",").map {
                        guard let a = IPv6Address($0) else { throw c.err(o, "bad IPv6 address '\($0)'") }
                        return a
                    }
                case "--rt-0-not-strict": m.notStrict = true
                default: c.unsupported(o)
                }
            }
            return .module(.rt(m))
        case "socket":
            var m = SocketMatch()
            for o in opts {
                switch o.name {
                case "--transparent": m.transparent = true
                case "--nowildcard": m.noWildcard = true
                case "--restore-skmark": m.restoreSkmark = true
                default: c.unsupported(o)
                }
            }
            return .module(.socket(m))
        case "policy":
            var dir: PolicyMatch.Direction?
            var pol = ""
            var strict = false
            var elements: [[String: String]] = [[:]]
            for o in opts {
                switch o.name {
                case "--dir":
                    guard let d = PolicyMatch.Direction(rawValue: o.args[0]) else { throw c.err(o, "bad direction '\(o.args[0])': expected in or out") }
                    dir = d
                case "--pol":
                    guard o.args[0] == "ipsec" || o.args[0] == "none" else { throw c.err(o, "bad policy '\(o.args[0])': expected ipsec or none") }
                    pol = o.args[0]
                case "--strict": strict = true
                case "--next": elements.append([:])
                default: elements[elements.count - 1][(o.negated ? "!" : "") + o.name] = o.args.first ?? ""
                }
            }
            guard let dir, !pol.isEmpty else { throw c.errExt("expected --dir in|out and --pol ipsec|none") }
            var m = PolicyMatch(direction: dir, policy: pol)
            m.strict = strict
            m.elements = elements.filter { !$0.isEmpty }
            return .module(.policy(m))
        case "nfacct":
            guard let o = opts.last else { throw c.errExt("expected --nfacct-name") }
            return .module(.nfacct(name: o.args[0]))
        case "helper":
            guard let o = opts.last else { throw c.errExt("expected --helper") }
            return .module(.helper(Negatable(o.args[0], negated: o.negated)))
        case "devgroup":
            var m = DevgroupMatch()
            for o in opts {
                if o.name == "--src-group" { m.sourceGroup = Negatable(try c.valueMask(o, o.args[0]), negated: o.negated) } else { m.destinationGroup = Negatable(try c.valueMask(o, o.args[0]), negated: o.negated) }
            }
            return .module(.devgroup(m))
        case "realm":
            guard let o = opts.last else { throw c.errExt("expected --realm") }
            return .module(.realm(Negatable(try c.valueMask(o, o.args[0]), negated: o.negated)))
        case "rpfilter":
            var m = RPFilterMatch()
            for o in opts {
                switch o.name {
                case "--loose": m.loose = true
                case "--validmark": m.validMark = true
                case "--accept-local": m.acceptLocal = true
                default: m.invert = true
                }
            }
            return .module(.rpfilter(m))
        case "connlimit":
            var m = ConnlimitMatch()
            for o in opts {
                switch o.name {
                case "--connlimit-upto": m.upto = try c.u32(o, o.args[0])
                case "--connlimit-above": if o.negated { m.upto = try c.u32(o, o.args[0]) } else { m.above = try c.u32(o, o.args[0]) }
                case "--connlimit-mask": m.mask = Int(try c.u8(o, o.args[0]))
                case "--connlimit-daddr": m.useDestination = true
                default: m.useDestination = false
                }
            }
            return .module(.connlimit(m))
        case "cpu":
            guard let o = opts.last else { throw c.errExt("expected --cpu") }
            return .module(.cpu(Negatable(try c.u32(o, o.args[0]), negated: o.negated)))
        case "quota":
            guard let o = opts.last, let q = UInt64(o.args[0]) else { throw c.errExt("expected --quota BYTES") }
            return .module(.quota(q))
        case "ecn":
            var m = ECNMatch()
            for o in opts {
                switch o.name {
                case "--ecn-tcp-cwr": m.tcpCWR = Negatable(true, negated: o.negated)
                case "--ecn-tcp-ece": m.tcpECE = Negatable(true, negated: o.negated)
                default: m.ipECT = Negatable(try c.u8(o, o.args[0]), negated: o.negated)
                }
            }
            return .module(.ecn(m))
        case "ah", "esp":
            guard let o = opts.first(where: { $0.name.hasSuffix("spi") }) else { return .module(c.ext.name == "ah" ? .ah(Negatable(0...UInt32.max)) : .esp(Negatable(0...UInt32.max))) }
            for x in opts where !x.name.hasSuffix("spi") { c.unsupported(x) }
            let r = Negatable(try c.u32Range(o, o.args[0]), negated: o.negated)
            return .module(c.ext.name == "ah" ? .ah(r) : .esp(r))
        case "connbytes":
            var range: ClosedRange<UInt64> = 0...UInt64.max, neg = false, dir = "", mode = ""
            for o in opts {
                switch o.name {
                case "--connbytes":
                    let parts = o.args[0].split(separator: ":", omittingEmptySubsequences: false)
                    guard let lo = UInt64(parts[0]) else { throw c.err(o, "bad range '\(o.args[0])'") }
                    let hi = parts.count > 1 && !parts[1].isEmpty ? UInt64(parts[1]) : UInt64.max
                    guard let hi, lo <= hi else { throw c.err(o, "bad range '\(o.args[0])'") }
                    range = lo...hi; neg = o.negated
                case "--connbytes-dir": dir = o.args[0]
                default: mode = o.args[0]
                }
            }
            return .module(.connbytes(ConnbytesMatch(range: range, negated: neg, direction: dir, mode: mode)))
        case "time":
            var d: [String: String] = [:]
            for o in opts { d[(o.negated ? "!" : "") + o.name] = o.args.first ?? "" }
            return .module(.time(TimeMatch(options: d)))
        default:
            throw c.errExt("internal: no builder")
        }
    }

    static let dscpClasses: [String: UInt8] = [
        "CS0": 0, "CS1": 8, "CS2": 16, "CS3": 24, "CS4": 32, "CS5": 40, "CS6": 48, "CS7": 56, "BE": 0,
        "AF11": 10, "AF12": 12, "AF13": 14, "AF21": 18, "AF22": 20, "AF23": 22, "AF31": 26, "AF32": 28, "AF33": 30,
        "AF41": 34, "AF42": 36, "AF43": 38, "EF": 46,
    ]

    static func tcpFlags(_ c: inout IptExtensionContext, _ o: RawOption, _ s: String) throws -> UInt8 {
        let bits: [String: UInt8] = ["FIN": 1, "SYN": 2, "RST": 4, "PSH": 8, "ACK": 16, "URG": 32, "ECE": 64, "CWR": 128, "ALL": 0x3F, "NONE": 0]
        var v: UInt8 = 0
        for p in s.split(separator: ",") {
            guard let b = bits[p.uppercased()] else { throw c.err(o, "unknown TCP flag '\(p)': expected FIN, SYN, RST, PSH, ACK, URG, ECE, CWR, ALL or NONE") }
            v |= b
        }
        return v
    }

    /// Parses xt_u32's expression: `test[&&test]...` is one AND list here; tests are separated
    /// by `&&` (all must hold). Each test is `location=range[,range]...`; a location is a number
    /// followed by `&N`, `<<N`, `>>N`, `@N` operators.
    static func parseU32(_ c: inout IptExtensionContext, _ o: RawOption) throws -> [U32Test] {
        var tests: [U32Test] = []
        let text = o.args[0].filter { $0 != " " }
        for t in text.split(separator: "&&", omittingEmptySubsequences: false) {
            guard let eq = t.firstIndex(of: "=") else { throw c.err(o, "bad u32 test '\(t)': expected LOCATION=RANGE") }
            let loc = t[..<eq], rng = t[t.index(after: eq)...]
            var ops: [U32Test.LocationOp] = []
            var i = loc.startIndex
            func number() throws -> UInt32 {
                var j = i
                while j < loc.endIndex, loc[j].isHexDigit || loc[j] == "x" || loc[j] == "X" { j = loc.index(after: j) }
                guard let v = Num.u32(loc[i..<j]) else { throw c.err(o, "bad number in u32 location '\(loc)'") }
                i = j
                return v
            }
            ops.append(.start(try number()))
            while i < loc.endIndex {
                if loc[i...].hasPrefix("&") { i = loc.index(after: i); ops.append(.and(try number())) } else if loc[i...].hasPrefix("<<") {
                    i = loc.index(i, offsetBy: 2); ops.append(.shiftLeft(try number()))
                } else if loc[i...].hasPrefix(">>") { i = loc.index(i, offsetBy: 2); ops.append(.shiftRight(try number())) } else if loc[i...].hasPrefix("@") {
                    i = loc.index(after: i); ops.append(.at(try number()))
                } else { throw c.err(o, "bad operator in u32 location '\(loc)': expected &, <<, >> or @") }
            }
            guard ops.count <= 11 else { throw c.err(o, "u32 location too long: at most 10 operators") }
            var ranges: [ClosedRange<UInt32>] = []
            for r in rng.split(separator: ",") {
                if let colon = r.firstIndex(of: ":") {
                    guard let lo = Num.u32(r[..<colon]), let hi = Num.u32(r[r.index(after: colon)...]), lo <= hi else { throw c.err(o, "bad u32 range '\(r)'") }
                    ranges.append(lo...hi)
                } else {
                    guard let v = Num.u32(r) else { throw c.err(o, "bad u32 value '\(r)'") }
                    ranges.append(v...v)
                }
            }
            guard !ranges.isEmpty, ranges.count <= 10 else { throw c.err(o, "u32 test needs 1 to 10 ranges") }
            tests.append(U32Test(location: ops, ranges: ranges))
        }
        return tests
    }

    // MARK: Targets

    static func buildTarget(_ c: inout IptExtensionContext) throws -> IptablesTarget {
        let opts = c.options
        switch c.ext.name {
        case "ACCEPT": return .accept
        case "DROP": return .drop
        case "RETURN": return .return
        case "QUEUE": return .queue
        case "NOTRACK": return .notrack
        case "TRACE": return .trace
        case "REJECT":
            var kind: RejectKind = c.family == .ipv4 ? .icmpPortUnreachable : .icmp6PortUnreachable
            for o in opts {
                guard let k = RejectKind(option: Substring(o.args[0]), family: c.family) else {
                    throw c.err(o, "unknown reject type '\(o.args[0])' for \(c.family == .ipv4 ? "iptables" : "ip6tables")")
                }
                kind = k
            }
            return .reject(kind)
        case "LOG":
            var l = LogTarget()
            for o in opts {
                switch o.name {
                case "--log-level":
                    let levels = ["emerg": 0, "alert": 1, "crit": 2, "error": 3, "err": 3, "warning": 4, "warn": 4, "notice": 5, "info": 6, "debug": 7]
                    if let n = levels[o.args[0].lowercased()] { l.level = UInt8(n) } else {
                        let v = try c.u8(o, o.args[0]); guard v <= 7 else { throw c.err(o, "log level \(v) out of range: expected 0 to 7") }
                        l.level = v
                    }
                case "--log-prefix":
                    guard o.args[0].utf8.count <= 29 else { throw c.err(o, "prefix longer than 29 characters") }
                    l.prefix = o.args[0]
                case "--log-tcp-sequence": l.tcpSequence = true
                case "--log-tcp-options": l.tcpOptions = true
                case "--log-ip-options": l.ipOptions = true
                case "--log-uid": l.uid = true
                default: l.macDecode = true
                }
            }
            return .log(l)
        case "NFLOG":
            var l = NFLogTarget()
            for o in opts {
                switch o.name {
                case "--nflog-group": l.group = try c.u16(o, o.args[0])
                case "--nflog-prefix": l.prefix = o.args[0]
                case "--nflog-range": l.range = try c.u32(o, o.args[0])
                case "--nflog-size": l.size = try c.u32(o, o.args[0])
                default: l.threshold = try c.u16(o, o.args[0])
                }
            }
            return .nflog(l)
        case "MARK":
            guard let o = opts.last else { throw c.errExt("expected --set-mark, --set-xmark, --and-mark, --or-mark or --xor-mark") }
            return .mark(try markOp(&c, o))
        case "CONNMARK":
            var nfmask: UInt32 = .max, ctmask: UInt32 = .max
            var mode = ""
            var set: MarkTarget?
            for o in opts {
                switch o.name {
                case "--save-mark", "--restore-mark": mode = o.name
                case "--mask": nfmask = try c.u32(o, o.args[0]); ctmask = nfmask
                case "--nfmask": nfmask = try c.u32(o, o.args[0])
                case "--ctmask": ctmask = try c.u32(o, o.args[0])
                default: set = try markOp(&c, o)
                }
            }
            if mode == "--save-mark" { return .connmark(.save(nfMask: nfmask, ctMask: ctmask)) }
            if mode == "--restore-mark" { return .connmark(.restore(nfMask: nfmask, ctMask: ctmask)) }
            guard let set else { throw c.errExt("expected --set-mark, --save-mark or --restore-mark") }
            return .connmark(.set(set))
        case "CT":
            var t = CTTarget()
            for o in opts {
                switch o.name {
                case "--notrack": t.notrack = true
                case "--zone", "--zone-orig", "--zone-reply":
                    t.zone = try c.u16(o, o.args[0])
                    if o.name != "--zone" { t.zoneDirection = String(o.name.dropFirst(7)) }
                case "--helper": t.helper = o.args[0]
                case "--timeout": t.timeout = o.args[0]
                case "--ctevents": t.ctevents = o.args[0].split(separator: ",").map(String.init)
                default: t.expevents = o.args[0].split(separator: ",").map(String.init)
                }
            }
            return .ct(t)
        case "DNAT", "SNAT", "MASQUERADE", "REDIRECT":
            var n = NATTarget()
            for o in opts {
                switch o.name {
                case "--to-destination", "--to-source", "--to": try natRange(&c, o, into: &n)
                case "--to-ports":
                    let r = try c.portRange(o, Substring(o.args[0]))
                    n.portLow = r.low; n.portHigh = r.high
                case "--random": n.random = true
                case "--random-fully": n.randomFully = true
                default: n.persistent = true
                }
            }
            switch c.ext.name {
            case "DNAT": return .dnat(n)
            case "SNAT":
                guard n.addressLow != nil || n.portLow != nil else { throw c.errExt("expected --to-source") }
                return .snat(n)
            case "MASQUERADE": return .masquerade(n)
            default: return .redirect(n)
            }
        case "NETMAP":
            guard let o = opts.last else { throw c.errExt("expected --to") }
            return .netmap(try c.address(o, o.args[0]))
        case "TCPMSS":
            guard let o = opts.last else { throw c.errExt("expected --set-mss or --clamp-mss-to-pmtu") }
            return .tcpmss(TCPMSSTarget(mss: o.name == "--set-mss" ? try c.u16(o, o.args[0]) : nil))
        case "DSCP":
            guard let o = opts.last else { throw c.errExt("expected --set-dscp") }
            if o.name == "--set-dscp-class" {
                guard let d = dscpClasses[o.args[0].uppercased()] else { throw c.err(o, "unknown DSCP class '\(o.args[0])'") }
                return .dscp(d)
            }
            let v = try c.u8(o, o.args[0])
            guard v <= 63 else { throw c.err(o, "DSCP \(v) out of range: expected 0 to 63") }
            return .dscp(v)
        case "TOS":
            guard let o = opts.last else { throw c.errExt("expected --set-tos") }
            let a = try c.valueMask(o, o.args[0])
            switch o.name {
            case "--and-tos": return .tos(ValueMask(value: 0, mask: ~a.value & 0xFF))
            case "--or-tos": return .tos(ValueMask(value: a.value, mask: a.value))
            case "--xor-tos": return .tos(ValueMask(value: a.value, mask: 0))
            default: return .tos(ValueMask(value: a.value, mask: o.args[0].contains("/") ? a.mask : 0xFF))
            }
        case "CHECKSUM": return .checksumFill
        case "NFQUEUE":
            var q = NFQueueTarget()
            for o in opts {
                switch o.name {
                case "--queue-num": q.queue = try c.u16(o, o.args[0])
                case "--queue-balance":
                    let r = try c.u16Range(o, o.args[0])
                    q.queue = r.low; q.queueCount = r.high - r.low + 1
                case "--queue-bypass", "--fail-open": q.bypass = true
                default: q.cpuFanout = true
                }
            }
            return .nfqueue(q)
        case "SET":
            var s = SetTarget()
            for o in opts {
                switch o.name {
                case "--add-set": s.addSet = (o.args[0], try c.setFlags(o, o.args[1]))
                case "--del-set": s.delSet = (o.args[0], try c.setFlags(o, o.args[1]))
                case "--exist": s.exist = true
                case "--timeout": s.timeout = try c.u32(o, o.args[0])
                default: c.unsupported(o)
                }
            }
            return .set(s)
        case "CLASSIFY":
            guard let o = opts.last else { throw c.errExt("expected --set-class") }
            let parts = o.args[0].split(separator: ":")
            guard parts.count == 2, let maj = UInt32(parts[0], radix: 16), let min = UInt32(parts[1], radix: 16) else { throw c.err(o, "expected MAJOR:MINOR in hex") }
            return .classify(maj << 16 | min)
        case "TTL", "HL":
            guard let o = opts.last else { throw c.errExt("expected a set, dec or inc option") }
            return .ttl(op: String(o.name.split(separator: "-").last ?? "set"), value: try c.u8(o, o.args[0]))
        case "AUDIT":
            return .audit(opts.last?.args.first ?? "")
        default:
            throw c.errExt("internal: no builder")
        }
    }

    static func markOp(_ c: inout IptExtensionContext, _ o: RawOption) throws -> MarkTarget {
        let vm = try c.valueMask(o, o.args[0])
        let hasMask = o.args[0].contains("/")
        switch o.name {
        case "--set-xmark": return .xset(vm.value, hasMask ? vm.mask : .max)
        case "--set-mark": return .set(vm.value, hasMask ? vm.mask : .max)
        case "--and-mark": return .and(vm.value)
        case "--or-mark": return .or(vm.value)
        case "--xor-mark": return .xor(vm.value)
        default: throw c.err(o, "not a mark operation")
        }
    }

    /// `addr[-addr][:port[-port]]`; IPv6 addresses are bracketed when a port follows (`[::1]:80`).
    static func natRange(_ c: inout IptExtensionContext, _ o: RawOption, into n: inout NATTarget) throws {
        var s = Substring(o.args[0])
        var portPart: Substring?
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { throw c.err(o, "missing ']' in '\(s)'") }
            let after = s[s.index(after: close)...]
            if after.hasPrefix(":") { portPart = after.dropFirst() } else if !after.isEmpty { throw c.err(o, "unexpected text after ']' in '\(s)'") }
            s = s[s.index(after: s.startIndex)..<close]
        } else if c.family == .ipv4, let colon = s.firstIndex(of: ":") {
            portPart = s[s.index(after: colon)...]
            s = s[..<colon]
        } else if c.family == .ipv6, s.hasPrefix(":") == false, s.filter({ $0 == ":" }).count == 0, let colon = s.firstIndex(of: ":") {
            portPart = s[s.index(after: colon)...]; s = s[..<colon]
        }
        if !s.isEmpty {
            let parts = s.split(separator: "-", maxSplits: 1)
            n.addressLow = try c.plainAddress(o, parts[0])
            n.addressHigh = parts.count == 2 ? try c.plainAddress(o, parts[1]) : n.addressLow
        }
        if let p = portPart {
            let r = try c.portRange(o, p)
            n.portLow = r.low; n.portHigh = r.high
        }
    }
}
