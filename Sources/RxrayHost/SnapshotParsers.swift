import RxrayDecode
import RxrayRules

/// Parsers for the snapshot directory's files, exactly as Debian 12's tools print them
/// (iproute2 6.1 JSON, `ss -H -tuln`, `sysctl -a`, `conntrack -L`, `ethtool -k`).
///
/// Each throws `InputError` naming the file, line and column and what was expected. Fields that
/// change what the receive path does and that rxray does not model are errors, never skipped;
/// purely informational fields (qdisc, operstate, lifetimes, statistics) are ignored.
enum SnapshotParsers {

    // MARK: Helpers

    struct Ctx {
        let file: String
        let bytes: [UInt8]
        func fail(_ node: JSONNode, _ message: String) -> InputError {
            let (l, c) = JSONText.location(of: node.offset, in: bytes)
            return InputError(file: file, line: l, column: c, message)
        }
        func root(_ text: [UInt8]) throws -> [JSONNode] {
            let root = try JSONText.parse(file: file, bytes: text)
            guard let arr = root.array else { throw fail(root, "expected a JSON array (the output of `ip -j ...`), got \(root.kindName)") }
            return arr
        }
        func object(_ n: JSONNode, what: String) throws -> JSONNode {
            guard n.isObject else { throw fail(n, "expected an object for \(what), got \(n.kindName)") }
            return n
        }
        func string(_ obj: JSONNode, _ key: String) throws -> String? {
            guard let n = obj[key] else { return nil }
            guard let s = n.string else { throw fail(n, "\"\(key)\": expected a string, got \(n.kindName)") }
            return s
        }
        func requireString(_ obj: JSONNode, _ key: String, what: String) throws -> String {
            guard let s = try string(obj, key) else { throw fail(obj, "\(what): missing \"\(key)\"") }
            return s
        }
        func int(_ obj: JSONNode, _ key: String) throws -> Int? {
            guard let n = obj[key] else { return nil }
            if case .number(let t) = n.value, let v = Int(t) { return v }
            if let s = n.string, let v = Ctx.parseInt(s) { return v }
            throw fail(n, "\"\(key)\": expected an integer, got \(n.kindName)")
        }
        func flag(_ obj: JSONNode, _ key: String) -> Bool {
            guard let n = obj[key] else { return false }
            if let b = n.bool { return b }
            return true  // iproute2 prints presence-only flags as `"key": null`
        }
        func strings(_ obj: JSONNode, _ key: String) throws -> [String] {
            guard let n = obj[key] else { return [] }
            guard let a = n.array else { throw fail(n, "\"\(key)\": expected an array of strings, got \(n.kindName)") }
            return try a.map { e in
                guard let s = e.string else { throw fail(e, "\"\(key)\": expected strings in the array, got \(e.kindName)") }
                return s
            }
        }
        func address(_ obj: JSONNode, _ key: String) throws -> IPAddress? {
            guard let s = try string(obj, key) else { return nil }
            guard let a = IPAddress(s) else { throw fail(obj[key]!, "\"\(key)\": expected an IP address, got \"\(s)\"") }
            return a
        }
        func mac(_ obj: JSONNode, _ key: String) throws -> MACAddress? {
            guard let s = try string(obj, key) else { return nil }
            guard let m = MACAddress(s) else { throw fail(obj[key]!, "\"\(key)\": expected a MAC address, got \"\(s)\"") }
            return m
        }
        static func parseInt(_ s: String) -> Int? {
            if s.hasPrefix("0x") || s.hasPrefix("0X") { return Int(s.dropFirst(2), radix: 16) }
            return Int(s)
        }
    }

    // MARK: ip -j -d link show / ip -j addr show

    /// Parses `ip -j -d link show` into interfaces (no addresses).
    static func links(file: String, bytes: [UInt8]) throws -> [Interface] {
        let c = Ctx(file: file, bytes: bytes)
        return try c.root(bytes).map { try link(c, c.object($0, what: "an interface")) }
    }

    static func link(_ c: Ctx, _ o: JSONNode) throws -> Interface {
        guard let index = try c.int(o, "ifindex") else { throw c.fail(o, "interface: missing \"ifindex\"") }
        let name = try c.requireString(o, "ifname", what: "interface \(index)")
        let flags = try c.strings(o, "flags")
        let mtu = try c.int(o, "mtu") ?? 1500
        let linkType = try c.string(o, "link_type") ?? "ether"
        var mac: MACAddress? = nil
        if linkType == "ether" || linkType == "loopback" { mac = try c.mac(o, "address") }
        let promiscuity = try c.int(o, "promiscuity") ?? 0
        let master = try c.string(o, "master")
        let linkName = try c.string(o, "link")
        var kind: InterfaceKind = linkType == "loopback" || flags.contains("LOOPBACK") ? .loopback
            : (linkType == "ether" ? .ethernet : .other(linkType))
        var portKind: PortKind? = nil
        if let info = o["linkinfo"] {
            let info = try c.object(info, what: "\"linkinfo\"")
            if let k = try c.string(info, "info_kind") {
                let data = info["info_data"]
                switch k {
                case "vlan":
                    guard let data, data.isObject, let id = try c.int(data, "id") else {
                        throw c.fail(info, "vlan \(name): \"info_data\" with \"id\" expected")
                    }
                    let protoText = try c.string(data, "protocol") ?? "802.1Q"
                    guard let proto = VLANProtocol(rawValue: protoText == "802.1AD" ? "802.1ad" : protoText) else {
                        throw c.fail(data, "vlan \(name): expected protocol 802.1Q or 802.1ad, got \"\(protoText)\"")
                    }
                    guard let parent = linkName else { throw c.fail(o, "vlan \(name): missing \"link\" (the parent device)") }
                    guard id >= 0, id < 4096 else { throw c.fail(data, "vlan \(name): id \(id) out of range 0...4095") }
                    kind = .vlan(parent: parent, id: UInt16(id), proto: proto)
                case "bridge": kind = .bridge
                case "bond": kind = .bond
                case "macvlan", "macvtap":
                    guard let parent = linkName else { throw c.fail(o, "\(k) \(name): missing \"link\" (the parent device)") }
                    let mode = data.flatMap { $0.isObject ? $0 : nil }.flatMap { try? c.string($0, "mode") } ?? "vepa"
                    kind = .macvlan(parent: parent, mode: mode ?? "vepa")
                case "veth": kind = .veth(peer: linkName)
                default: kind = .other(k)
                }
            }
            if let sk = try c.string(info, "info_slave_kind") {
                portKind = sk == "bridge" ? .bridge : (sk == "bond" ? .bond : .other)
            }
        }
        var rxQueues = try c.int(o, "num_rx_queues") ?? 1
        if rxQueues < 1 { rxQueues = 1 }
        return Interface(name: name, index: index, mac: mac, mtu: mtu, kind: kind, master: master,
                         portKind: master != nil ? (portKind ?? .other) : nil,
                         up: flags.contains("UP"), lowerUp: flags.contains("LOWER_UP"),
                         promisc: flags.contains("PROMISC") || promiscuity > 0, noARP: flags.contains("NOARP"),
                         addresses: [], rxQueues: rxQueues)
    }

    /// Parses `ip -j addr show`: per interface (by name) its addresses, plus the interface
    /// itself (so an ip-addr.json without ip-link.json still defines the interfaces).
    static func addresses(file: String, bytes: [UInt8]) throws -> [(Interface, [InterfaceAddress])] {
        let c = Ctx(file: file, bytes: bytes)
        return try c.root(bytes).map { n in
            let o = try c.object(n, what: "an interface")
            let itf = try link(c, o)
            var out: [InterfaceAddress] = []
            if let infos = o["addr_info"] {
                guard let arr = infos.array else { throw c.fail(infos, "\"addr_info\": expected an array, got \(infos.kindName)") }
                for e in arr {
                    let a = try c.object(e, what: "an address")
                    // `ip addr` prints an address-less entry for some devices with only lifetimes.
                    guard a["local"] != nil else { continue }
                    out.append(try address(c, a, interface: itf.name))
                }
            }
            return (itf, out)
        }
    }

    static let addressBoolFlags = ["secondary", "noprefixroute", "nodad", "tentative", "deprecated", "dadfailed",
                                   "optimistic", "home", "mngtmpaddr", "permanent", "dynamic", "stable-privacy", "autojoin"]

    static func address(_ c: Ctx, _ a: JSONNode, interface: String) throws -> InterfaceAddress {
        guard let local = try c.address(a, "local") else { throw c.fail(a, "address on \(interface): missing \"local\"") }
        guard let plen = try c.int(a, "prefixlen") else { throw c.fail(a, "address \(local) on \(interface): missing \"prefixlen\"") }
        guard plen >= 0, plen <= (local.isV4 ? 32 : 128) else { throw c.fail(a["prefixlen"]!, "prefix length \(plen) out of range for \(local)") }
        if let fam = try c.string(a, "family") {
            guard (fam == "inet") == local.isV4, fam == "inet" || fam == "inet6" else {
                throw c.fail(a["family"]!, "family \"\(fam)\" does not match address \(local)")
            }
        }
        var broadcast: IPv4Address? = nil
        if let b = try c.address(a, "broadcast") {
            guard case .v4(let v4) = b else { throw c.fail(a["broadcast"]!, "\"broadcast\": expected an IPv4 address") }
            broadcast = v4
        }
        var peer: IPPrefix? = nil
        if let p = try c.address(a, "address"), p != local { peer = IPPrefix(address: p, length: plen) }
        let scopeText = try c.string(a, "scope") ?? "global"
        guard Scope.known(scopeText) else { throw c.fail(a["scope"]!, "unknown address scope \"\(scopeText)\"") }
        let flags = addressBoolFlags.filter { c.flag(a, $0) }
        return InterfaceAddress(address: local, prefixLength: plen, peer: peer, broadcast: broadcast,
                                scope: Scope(name: scopeText), flags: flags, label: try c.string(a, "label"))
    }

    // MARK: ip -j route show table all

    /// Whether a route object from `ip -j route` is IPv6: only IPv6 routes carry `pref`; addresses tell otherwise.
    static func routeIsV6(_ o: JSONNode) -> Bool {
        if o["pref"] != nil { return true }
        for k in ["dst", "gateway", "prefsrc", "src"] { if let s = o[k]?.string, s.contains(":") { return true } }
        if let nh = o["nexthops"]?.array { for h in nh { if let g = h["gateway"]?.string, g.contains(":") { return true } } }
        return false
    }

    /// Parses `ip -j route show table all` (or `-6`). Returns IPv4 and IPv6 routes separately,
    /// since `ip -j route show table all` without `-4` prints both families.
    static func routes(file: String, bytes: [UInt8]) throws -> (v4: [Route], v6: [Route]) {
        let c = Ctx(file: file, bytes: bytes)
        var v4: [Route] = [], v6: [Route] = []
        for n in try c.root(bytes) {
            let o = try c.object(n, what: "a route")
            let isV6 = routeIsV6(o)
            let r = try route(c, o, v6: isV6)
            if isV6 { v6.append(r) } else { v4.append(r) }
        }
        return (v4, v6)
    }

    static let unsupportedRouteKeys: [String: String] = [
        "nhid": "routes through nexthop objects (`nhid`)",
        "encap": "lightweight tunnel encapsulation (`encap`)",
        "newdst": "NAT routes (`newdst`)",
    ]

    static func route(_ c: Ctx, _ o: JSONNode, v6: Bool) throws -> Route {
        for (k, what) in unsupportedRouteKeys where o[k] != nil {
            throw c.fail(o[k]!, "\(what) are not modelled by rxray")
        }
        let typeText = try c.string(o, "type") ?? "unicast"
        guard let type = RouteType(rawValue: typeText) else {
            throw c.fail(o["type"]!, "unknown route type \"\(typeText)\" (expected one of \(RouteType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let dstText = try c.string(o, "dst") else { throw c.fail(o, "route: missing \"dst\"") }
        let dst: IPPrefix
        if dstText == "default" {
            dst = IPPrefix(address: v6 ? .v6(.any) : .v4(.any), length: 0)
        } else {
            guard let p = IPPrefix(dstText) else { throw c.fail(o["dst"]!, "\"dst\": expected a prefix or \"default\", got \"\(dstText)\"") }
            dst = p
        }
        guard dst.address.isV4 != v6 else { throw c.fail(o["dst"]!, "\"dst\" \(dstText) does not match the route's family") }
        var table = RouteTable.main
        if let t = try c.string(o, "table") {
            guard let id = RouteTable.id(t) else { throw c.fail(o["table"]!, "\"table\": expected local, main, default or a number, got \"\(t)\"") }
            table = id
        } else if let t = try? c.int(o, "table") {
            table = UInt32(clamping: t)
        }
        let scopeText = try c.string(o, "scope") ?? "global"
        guard Scope.known(scopeText) else { throw c.fail(o["scope"]!, "unknown route scope \"\(scopeText)\"") }
        var gateway = try c.address(o, "gateway")
        if let via = o["via"] {
            let v = try c.object(via, what: "\"via\"")
            guard let host = try c.address(v, "host") else { throw c.fail(via, "\"via\": missing \"host\"") }
            gateway = host
        }
        let flags = try c.strings(o, "flags")
        var mtu: Int? = nil
        if let metrics = o["metrics"] {
            let items: [JSONNode] = metrics.array ?? [metrics]
            for m in items {
                let mo = try c.object(m, what: "\"metrics\"")
                if let mt = mo["mtu"] {
                    if let v = mt.int { mtu = v }
                    else if mt.isObject, let v = try c.int(mt, "value") { mtu = v }
                    else { throw c.fail(mt, "\"mtu\": expected an integer, got \(mt.kindName)") }
                }
            }
        }
        var nexthops: [NextHop] = []
        if let nh = o["nexthops"] {
            guard let arr = nh.array else { throw c.fail(nh, "\"nexthops\": expected an array, got \(nh.kindName)") }
            for h in arr {
                let ho = try c.object(h, what: "a next hop")
                var g = try c.address(ho, "gateway")
                if let via = ho["via"] {
                    let v = try c.object(via, what: "\"via\""); g = try c.address(v, "host")
                }
                let hf = try c.strings(ho, "flags")
                nexthops.append(NextHop(gateway: g, dev: try c.string(ho, "dev"), weight: try c.int(ho, "weight") ?? 1,
                                        onlink: hf.contains("onlink")))
            }
        }
        var tos: UInt8 = 0
        if let t = try c.string(o, "tos") ?? (try c.string(o, "dsfield")) {
            guard let v = Ctx.parseInt(t), v >= 0, v <= 255 else { throw c.fail(o["tos"] ?? o["dsfield"]!, "\"tos\": expected a number 0-255, got \"\(t)\"") }
            tos = UInt8(v)
        }
        let metric = try c.int(o, "metric") ?? 0
        guard metric >= 0, metric <= Int(UInt32.max) else { throw c.fail(o["metric"]!, "\"metric\" \(metric) out of range") }
        return Route(type: type, destination: dst, table: table, proto: try c.string(o, "protocol"),
                     scope: Scope(name: scopeText), prefsrc: try c.address(o, "prefsrc"), metric: UInt32(metric), tos: tos,
                     gateway: gateway, dev: try c.string(o, "dev"), onlink: flags.contains("onlink"), mtu: mtu,
                     nexthops: nexthops, pref: try c.string(o, "pref"), flags: flags.filter { $0 != "onlink" })
    }

    // MARK: ip -j rule show

    static let knownRuleKeys: Set<String> = [
        "priority", "not", "src", "srclen", "dst", "dstlen", "iif", "oif", "iif_detached", "oif_detached",
        "fwmark", "fwmask", "tos", "dsfield", "table", "goto", "action", "l3mdev", "suppress_prefixlen",
        "suppress_ifgroup", "ipproto", "sport", "sport_start", "sport_end", "dport", "dport_start", "dport_end",
        "uid_start", "uid_end", "protocol", "flags",
    ]

    /// Parses `ip -j rule show` (or `-6`).
    static func rules(file: String, bytes: [UInt8], v6: Bool) throws -> [PolicyRule] {
        let c = Ctx(file: file, bytes: bytes)
        return try c.root(bytes).map { try rule(c, c.object($0, what: "a rule"), v6: v6) }
    }

    static func rule(_ c: Ctx, _ o: JSONNode, v6: Bool) throws -> PolicyRule {
        for k in o.keys where !knownRuleKeys.contains(k) {
            throw c.fail(o[k]!, "rule selector or action \"\(k)\" is not modelled by rxray")
        }
        guard let prio = try c.int(o, "priority"), prio >= 0, prio <= Int(UInt32.max) else {
            throw c.fail(o, "rule: missing or bad \"priority\"")
        }
        func prefix(_ key: String, _ lenKey: String) throws -> IPPrefix? {
            guard let s = try c.string(o, key), s != "all" else { return nil }
            guard let a = IPAddress(s) else { throw c.fail(o[key]!, "\"\(key)\": expected an address or \"all\", got \"\(s)\"") }
            guard a.isV4 != v6 else { throw c.fail(o[key]!, "\"\(key)\" \(s) is not an IPv\(v6 ? 6 : 4) address") }
            let len = try c.int(o, lenKey) ?? (a.isV4 ? 32 : 128)
            guard len >= 0, len <= (a.isV4 ? 32 : 128) else { throw c.fail(o[lenKey]!, "\"\(lenKey)\" \(len) out of range") }
            return IPPrefix(address: a, length: len)
        }
        func u32(_ key: String) throws -> UInt32? {
            guard let n = o[key] else { return nil }
            let v: Int?
            if let s = n.string { v = Ctx.parseInt(s) } else { v = n.int }
            guard let v, v >= 0, v <= Int(UInt32.max) else { throw c.fail(n, "\"\(key)\": expected a 32-bit number, got \(n.kindName)") }
            return UInt32(v)
        }
        func range(_ single: String, _ lo: String, _ hi: String) throws -> ClosedRange<UInt16>? {
            if let v = try c.int(o, single) {
                guard v >= 0, v <= 65535 else { throw c.fail(o[single]!, "\"\(single)\" \(v) out of range") }
                return UInt16(v)...UInt16(v)
            }
            guard let a = try c.int(o, lo) else { return nil }
            let b = try c.int(o, hi) ?? a
            guard a >= 0, b <= 65535, a <= b else { throw c.fail(o[lo]!, "port range \(a)-\(b) invalid") }
            return UInt16(a)...UInt16(b)
        }
        var tos: UInt8? = nil
        if let n = o["tos"] ?? o["dsfield"] {
            let s = n.string ?? ""
            guard let v = Ctx.parseInt(s) ?? n.int, v >= 0, v <= 255 else { throw c.fail(n, "\"tos\": expected a number 0-255") }
            tos = UInt8(v)
        }
        var ipproto: UInt8? = nil
        if let n = o["ipproto"] {
            if let s = n.string {
                let t = s.hasPrefix("ipproto-") ? String(s.dropFirst(8)) : s
                guard let p = Names.ipProtocol(Substring(t)) ?? UInt8(t) else { throw c.fail(n, "\"ipproto\": unknown protocol \"\(s)\"") }
                ipproto = p
            } else if let v = n.int, v >= 0, v <= 255 { ipproto = UInt8(v) }
            else { throw c.fail(n, "\"ipproto\": expected a protocol name or number") }
        }
        var uid: ClosedRange<UInt32>? = nil
        if let a = try u32("uid_start") {
            let b = try u32("uid_end") ?? a
            guard a <= b else { throw c.fail(o["uid_start"]!, "uid range \(a)-\(b) invalid") }
            uid = a...b
        }
        let action: PolicyRule.Action
        if let g = try u32("goto") {
            action = .goto(g)
        } else if let a = try c.string(o, "action") {
            switch a {
            case "unreachable": action = .unreachable
            case "prohibit": action = .prohibit
            case "blackhole": action = .blackhole
            case "nop": action = .nop
            case "goto":
                throw c.fail(o["action"]!, "goto rule without a target")
            default: throw c.fail(o["action"]!, "unknown rule action \"\(a)\"")
            }
        } else if let t = try c.string(o, "table") {
            guard let id = RouteTable.id(t) else { throw c.fail(o["table"]!, "\"table\": expected a table name or number, got \"\(t)\"") }
            action = .table(id)
        } else if c.flag(o, "l3mdev") {
            action = .table(0)
        } else {
            throw c.fail(o, "rule \(prio): no table, goto or action")
        }
        let supp = try c.int(o, "suppress_prefixlen")
        return PolicyRule(priority: UInt32(prio), invert: c.flag(o, "not"), src: try prefix("src", "srclen"),
                          dst: try prefix("dst", "dstlen"), iif: try c.string(o, "iif"), oif: try c.string(o, "oif"),
                          fwmark: try u32("fwmark"), fwmask: try u32("fwmask"), tos: tos, ipproto: ipproto,
                          sport: try range("sport", "sport_start", "sport_end"), dport: try range("dport", "dport_start", "dport_end"),
                          uidRange: uid, l3mdev: c.flag(o, "l3mdev"), action: action,
                          suppressPrefixLength: supp.flatMap { $0 < 0 ? nil : $0 },
                          suppressIfgroup: try c.int(o, "suppress_ifgroup"), proto: try c.string(o, "protocol"))
    }

    // MARK: ip -j neigh show

    static func neighbours(file: String, bytes: [UInt8]) throws -> [Neighbour] {
        let c = Ctx(file: file, bytes: bytes)
        return try c.root(bytes).map { n in
            let o = try c.object(n, what: "a neighbour")
            guard let dst = try c.address(o, "dst") else { throw c.fail(o, "neighbour: missing \"dst\"") }
            let dev = try c.requireString(o, "dev", what: "neighbour \(dst)")
            var lladdr: MACAddress? = nil
            if let s = try c.string(o, "lladdr") {
                lladdr = MACAddress(s)  // non-Ethernet link-layer addresses (e.g. tunnels) stay nil
            }
            return Neighbour(address: dst, dev: dev, lladdr: lladdr, state: try c.strings(o, "state"), router: c.flag(o, "router"))
        }
    }

    // MARK: ip -j maddr show

    /// Joined IPv4 and IPv6 multicast groups per interface (rxray extra `ip-maddr.json`).
    /// Link-layer (`"link"`) entries are filters of the NIC, not group memberships, and are skipped.
    static func multicastGroups(file: String, bytes: [UInt8]) throws -> [MulticastMembership] {
        let c = Ctx(file: file, bytes: bytes)
        var out: [MulticastMembership] = []
        for n in try c.root(bytes) {
            let o = try c.object(n, what: "an interface of `ip -j maddr show`")
            let name = try c.requireString(o, "ifname", what: "interface")
            guard let list = o["maddr"] else { continue }
            guard let entries = list.array else { throw c.fail(list, "\"maddr\": expected an array, got \(list.kindName)") }
            for e in entries {
                let m = try c.object(e, what: "a multicast address of \(name)")
                guard let family = try c.string(m, "family") else {
                    if m["link"] != nil { continue }
                    throw c.fail(m, "multicast address of \(name): expected \"family\" and \"address\", or \"link\"")
                }
                guard family == "inet" || family == "inet6" else { continue }
                guard let a = try c.address(m, "address") else { throw c.fail(m, "multicast address of \(name): missing \"address\"") }
                guard a.isV4 == (family == "inet") else {
                    throw c.fail(m, "multicast address \(a) of \(name): family \"\(family)\" does not match the address")
                }
                let isGroup: Bool
                switch a { case .v4(let v): isGroup = v.isMulticast; case .v6(let v): isGroup = v.isMulticast }
                guard isGroup else { throw c.fail(m, "\(a) on \(name) is not a multicast address") }
                out.append(MulticastMembership(interface: name, group: a))
            }
        }
        return out
    }

    // MARK: Text files

    static func lines(_ bytes: [UInt8]) -> [(number: Int, text: Substring)] {
        let text = String(decoding: bytes, as: UTF8.self)
        var out: [(Int, Substring)] = []
        var n = 0
        for l in text.split(separator: "\n", omittingEmptySubsequences: false) {
            n += 1
            out.append((n, l.hasSuffix("\r") ? l.dropLast() : l))
        }
        return out
    }

    /// Fields split on blanks, with their 1-based columns.
    static func fields(_ line: Substring) -> [(col: Int, text: Substring)] {
        var out: [(Int, Substring)] = []
        var i = line.startIndex
        var col = 1
        while i < line.endIndex {
            while i < line.endIndex, line[i] == " " || line[i] == "\t" { i = line.index(after: i); col += 1 }
            guard i < line.endIndex else { break }
            let start = i, startCol = col
            while i < line.endIndex, line[i] != " " && line[i] != "\t" { i = line.index(after: i); col += 1 }
            out.append((startCol, line[start..<i]))
        }
        return out
    }

    /// Parses `ss -H -tuln` (a header line, as printed without -H, is accepted).
    static func sockets(file: String, bytes: [UInt8]) throws -> [Socket] {
        var out: [Socket] = []
        for (n, line) in lines(bytes) {
            let f = fields(line)
            if f.isEmpty { continue }
            if n == 1, f[0].text == "Netid" { continue }
            guard f.count >= 6 else {
                throw InputError(file: file, line: n, column: 1, "expected `Netid State Recv-Q Send-Q Local:Port Peer:Port` (ss -H -tuln), got \(f.count) fields")
            }
            let proto: Socket.Proto
            switch f[0].text {
            case "tcp": proto = .tcp
            case "udp": proto = .udp
            default: throw InputError(file: file, line: n, column: f[0].col, "expected tcp or udp, got \"\(f[0].text)\" (sockets.txt holds `ss -H -tuln`)")
            }
            let state = f[1].text
            guard let recvQ = Int(f[2].text) else { throw InputError(file: file, line: n, column: f[2].col, "Recv-Q: expected a number, got \"\(f[2].text)\"") }
            guard let sendQ = Int(f[3].text) else { throw InputError(file: file, line: n, column: f[3].col, "Send-Q: expected a number, got \"\(f[3].text)\"") }
            if proto == .tcp && state != "LISTEN" { continue }  // only listeners take new connections
            if proto == .udp && state != "UNCONN" { continue }  // connected UDP sockets are not wildcard receivers; ss -l omits them anyway
            let (local, port, iface) = try socketAddress(f[4].text, file: file, line: n, column: f[4].col)
            out.append(Socket(proto: proto, local: local, port: port, interface: iface,
                              backlog: proto == .tcp ? sendQ : nil, recvQ: recvQ))
        }
        return out
    }

    /// Parses `ss -H -uan state established` (rxray extra `sockets-udp-connected.txt`): connected
    /// UDP sockets, one per line as `Recv-Q Send-Q Local:Port Peer:Port` (a single-state filter
    /// makes ss drop its Netid and State columns). A header line, as printed without -H, is accepted.
    static func connectedUDPSockets(file: String, bytes: [UInt8]) throws -> [Socket] {
        var out: [Socket] = []
        for (n, line) in lines(bytes) {
            let f = fields(line)
            if f.isEmpty { continue }
            if n == 1, f[0].text == "Recv-Q" { continue }
            guard f.count >= 4 else {
                throw InputError(file: file, line: n, column: 1, "expected `Recv-Q Send-Q Local:Port Peer:Port` (ss -H -uan state established), got \(f.count) fields")
            }
            guard let recvQ = Int(f[0].text) else {
                throw InputError(file: file, line: n, column: f[0].col, "Recv-Q: expected a number, got \"\(f[0].text)\" (this file holds `ss -H -uan state established`, without Netid/State columns)")
            }
            guard Int(f[1].text) != nil else { throw InputError(file: file, line: n, column: f[1].col, "Send-Q: expected a number, got \"\(f[1].text)\"") }
            let (local, port, iface) = try socketAddress(f[2].text, file: file, line: n, column: f[2].col)
            let (peerLocal, peerPort, _) = try socketAddress(f[3].text, file: file, line: n, column: f[3].col)
            guard case .address(let peer) = peerLocal else {
                throw InputError(file: file, line: n, column: f[3].col, "a connected socket's peer must be an address, got \"\(f[3].text)\"")
            }
            out.append(Socket(proto: .udp, local: local, port: port, interface: iface, recvQ: recvQ, peer: peer, peerPort: peerPort))
        }
        return out
    }

    /// `0.0.0.0:80`, `*:80`, `[::]:80`, `10.0.0.1%eth0:22`, `[2001:db8::1]%eth0:22`, `*%eth0:5353`.
    static func socketAddress(_ text: Substring, file: String, line: Int, column: Int) throws -> (Socket.LocalAddress, UInt16, String?) {
        guard let colon = text.lastIndex(of: ":") else {
            throw InputError(file: file, line: line, column: column, "expected ADDRESS:PORT, got \"\(text)\"")
        }
        let portText = text[text.index(after: colon)...]
        guard let port = UInt16(portText) else {
            throw InputError(file: file, line: line, column: column, "expected a numeric port (ss -n), got \"\(portText)\"")
        }
        var host = text[..<colon]
        var iface: String? = nil
        if let pct = host.lastIndex(of: "%"), !host[pct...].contains("]") {
            iface = String(host[host.index(after: pct)...])
            host = host[..<pct]
        }
        let local: Socket.LocalAddress
        if host == "*" {
            local = .anyV6(v6only: false)
        } else if host == "0.0.0.0" {
            local = .anyV4
        } else if host == "[::]" {
            local = .anyV6(v6only: true)
        } else if host.hasPrefix("["), host.hasSuffix("]"), let a = IPv6Address(host.dropFirst().dropLast()) {
            local = a.isUnspecified ? .anyV6(v6only: true) : .address(.v6(a))
        } else if let a = IPv4Address(host) {
            local = .address(.v4(a))
        } else {
            throw InputError(file: file, line: line, column: column, "expected an IPv4 address, [IPv6] or *, got \"\(host)\"")
        }
        return (local, port, iface)
    }

    /// Parses `sysctl -a` lines (`key = value`); non-`net.` keys are kept too (harmless).
    static func sysctls(file: String, bytes: [UInt8]) throws -> [String: String] {
        var out: [String: String] = [:]
        for (n, line) in lines(bytes) {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty || t.hasPrefix("#") || t.hasPrefix(";") { continue }
            guard let eq = line.firstIndex(of: "=") else {
                throw InputError(file: file, line: n, column: 1, "expected `key = value` (sysctl -a), got \"\(line)\"")
            }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, !key.contains(" ") else {
                throw InputError(file: file, line: n, column: 1, "expected a sysctl name before '='")
            }
            var value = line[line.index(after: eq)...]
            if value.hasPrefix(" ") { value = value.dropFirst() }
            out[key] = String(value).trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    /// Parses `conntrack -L` (default or `-o extended` format).
    static func conntrack(file: String, bytes: [UInt8]) throws -> [ConntrackEntry] {
        var out: [ConntrackEntry] = []
        for (n, line) in lines(bytes) {
            var f = fields(line)
            if f.isEmpty { continue }
            if f[0].text.hasPrefix("conntrack") { continue }  // the summary line, when stderr was merged
            func fail(_ col: Int, _ m: String) -> InputError { InputError(file: file, line: n, column: col, m) }
            var l3: String? = nil
            if f[0].text == "ipv4" || f[0].text == "ipv6" {
                guard f.count > 2 else { throw fail(f[0].col, "truncated conntrack entry") }
                l3 = String(f[0].text); f.removeFirst(2)
            }
            guard f.count >= 4 else { throw fail(1, "expected `PROTO NUMBER TIMEOUT [STATE] src=... dst=...` (conntrack -L)") }
            let protoName = String(f[0].text)
            guard let protoNum = UInt8(f[1].text) else { throw fail(f[1].col, "expected the protocol number, got \"\(f[1].text)\"") }
            guard let timeout = Int(f[2].text) else { throw fail(f[2].col, "expected the timeout in seconds, got \"\(f[2].text)\"") }
            var i = 3
            var state: String? = nil
            if !f[i].text.contains("="), !f[i].text.hasPrefix("[") { state = String(f[i].text); i += 1 }
            var tuples: [[String: (Substring, Int)]] = []
            var status: [String] = []
            var mark: UInt32 = 0
            var zone: UInt16? = nil
            while i < f.count {
                let t = f[i].text
                if t.hasPrefix("[") && t.hasSuffix("]") {
                    status.append(String(t.dropFirst().dropLast()))
                } else if let eq = t.firstIndex(of: "=") {
                    let k = String(t[..<eq]), v = t[t.index(after: eq)...]
                    switch k {
                    case "src":
                        guard tuples.count < 2 else { throw fail(f[i].col, "more than two tuples in one entry") }
                        tuples.append([k: (v, f[i].col)])
                    case "dst", "sport", "dport", "type", "code", "id":
                        guard !tuples.isEmpty else { throw fail(f[i].col, "\(k)= before src=") }
                        tuples[tuples.count - 1][k] = (v, f[i].col)
                    case "mark":
                        guard let m = UInt32(v) else { throw fail(f[i].col, "mark: expected a number") }
                        mark = m
                    case "zone":
                        guard let z = UInt16(v) else { throw fail(f[i].col, "zone: expected a number") }
                        zone = z
                    default:
                        break  // use=, secctx=, labels=, helper=, timestamps: bookkeeping
                    }
                } else {
                    throw fail(f[i].col, "unexpected \"\(t)\" in conntrack entry")
                }
                i += 1
            }
            guard tuples.count == 2 else { throw fail(1, "expected an original and a reply tuple (src= ... src= ...)") }
            func tuple(_ d: [String: (Substring, Int)]) throws -> ConntrackTuple {
                guard let (s, sc) = d["src"], let src = IPAddress(s) else { throw fail(d["src"]?.1 ?? 1, "src: expected an address") }
                guard let (ds, dc) = d["dst"], let dst = IPAddress(ds) else { throw fail(d["dst"]?.1 ?? sc, "dst: expected an address") }
                _ = dc
                func num<T: FixedWidthInteger>(_ k: String, _: T.Type) throws -> T? {
                    guard let (v, col) = d[k] else { return nil }
                    guard let x = T(v) else { throw fail(col, "\(k): expected a number, got \"\(v)\"") }
                    return x
                }
                return ConntrackTuple(src: src, dst: dst, sport: try num("sport", UInt16.self), dport: try num("dport", UInt16.self),
                                      icmpType: try num("type", UInt8.self), icmpCode: try num("code", UInt8.self),
                                      icmpID: try num("id", UInt16.self))
            }
            out.append(ConntrackEntry(l3proto: l3, protoName: protoName, protoNumber: protoNum, timeout: timeout,
                                      tcpState: state, original: try tuple(tuples[0]), reply: try tuple(tuples[1]),
                                      status: status, mark: mark, zone: zone))
        }
        return out
    }

    /// Parses concatenated `ethtool -k IFACE` outputs: interface → feature → on.
    static func ethtoolFeatures(file: String, bytes: [UInt8]) throws -> [String: [String: Bool]] {
        var out: [String: [String: Bool]] = [:]
        var current: String? = nil
        for (n, line) in lines(bytes) {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            if line.hasPrefix("Features for "), line.hasSuffix(":") {
                current = String(line.dropFirst("Features for ".count).dropLast())
                out[current!] = [:]
                continue
            }
            guard let cur = current else {
                throw InputError(file: file, line: n, column: 1, "expected `Features for IFACE:` (ethtool -k) before feature lines")
            }
            guard let colon = t.firstIndex(of: ":") else {
                throw InputError(file: file, line: n, column: 1, "expected `feature: on|off`, got \"\(t)\"")
            }
            let name = String(t[..<colon])
            let rest = t[t.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if rest.hasPrefix("on") { out[cur]![name] = true }
            else if rest.hasPrefix("off") { out[cur]![name] = false }
            else {
                throw InputError(file: file, line: n, column: colon.utf16Offset(in: t) + 2, "expected on or off, got \"\(rest)\"")
            }
        }
        return out
    }
}

import Foundation
