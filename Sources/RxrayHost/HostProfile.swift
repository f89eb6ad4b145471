import Foundation
import RxrayDecode
import RxrayRules
import Yams

/// The hand-written host profile: one YAML file describing a host compactly (docs/HOST.md).
///
/// `load` reads it into a `Host`; `yaml(for:)` writes a `Host` in that form so that a snapshot
/// directory converts to a profile and back to an equal model. What the kernel creates by
/// itself (loopback, per-address routes, rules 0/32766/32767, default sysctls) is implied
/// and written only when it differs.
public enum HostProfile {

    // MARK: Reading

    struct Ctx {
        let file: String
        func fail(_ node: Node?, _ message: String) -> InputError {
            InputError(file: file, line: node?.mark?.line, column: node?.mark?.column, message)
        }
        func mapping(_ n: Node, what: String, keys: Set<String>) throws -> Node.Mapping {
            guard let m = n.mapping else { throw fail(n, "\(what): expected a mapping") }
            for (k, _) in m {
                guard let ks = k.string, keys.contains(ks) else {
                    throw fail(k, "\(what): unknown key \"\(k.string ?? "?")\" (expected one of: \(keys.sorted().joined(separator: ", ")))")
                }
            }
            return m
        }
        func sequence(_ n: Node, what: String) throws -> [Node] {
            guard let s = n.sequence else { throw fail(n, "\(what): expected a list") }
            return Array(s)
        }
        func string(_ m: Node.Mapping, _ key: String) throws -> String? {
            guard let n = m[key] else { return nil }
            guard let s = n.scalar?.string else { throw fail(n, "\"\(key)\": expected a scalar") }
            return s
        }
        func int(_ m: Node.Mapping, _ key: String) throws -> Int? {
            guard let s = try string(m, key) else { return nil }
            guard let v = SnapshotParsers.Ctx.parseInt(s) else { throw fail(m[key], "\"\(key)\": expected an integer, got \"\(s)\"") }
            return v
        }
        func bool(_ m: Node.Mapping, _ key: String) throws -> Bool? {
            guard let s = try string(m, key) else { return nil }
            switch s.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: throw fail(m[key], "\"\(key)\": expected true or false, got \"\(s)\"")
            }
        }
        func address(_ m: Node.Mapping, _ key: String) throws -> IPAddress? {
            guard let s = try string(m, key) else { return nil }
            guard let a = IPAddress(s) else { throw fail(m[key], "\"\(key)\": expected an IP address, got \"\(s)\"") }
            return a
        }
        func prefix(_ m: Node.Mapping, _ key: String) throws -> IPPrefix? {
            guard let s = try string(m, key) else { return nil }
            guard let p = IPPrefix(s) else { throw fail(m[key], "\"\(key)\": expected ADDRESS/LENGTH, got \"\(s)\"") }
            return p
        }
        func strings(_ m: Node.Mapping, _ key: String) throws -> [String] {
            guard let n = m[key] else { return [] }
            if let s = n.scalar?.string { return [s] }
            return try sequence(n, what: "\"\(key)\"").map { e in
                guard let s = e.scalar?.string else { throw fail(e, "\"\(key)\": expected scalars") }
                return s
            }
        }
        func range16(_ m: Node.Mapping, _ key: String) throws -> ClosedRange<UInt16>? {
            guard let s = try string(m, key) else { return nil }
            let parts = s.split(separator: "-", maxSplits: 1)
            guard let a = UInt16(parts[0]), let b = parts.count == 2 ? UInt16(parts[1]) : a, a <= b else {
                throw fail(m[key], "\"\(key)\": expected PORT or LOW-HIGH, got \"\(s)\"")
            }
            return a...b
        }
    }

    static let topKeys: Set<String> = ["kernel", "interfaces", "routes", "kernel_routes", "rules", "rules6", "default_rules",
                                       "neighbours", "sysctls", "listeners", "udp", "multicast", "conntrack", "ruleset"]

    /// Loads a profile file.
    public static func load(path: String, lenient: Bool = false) throws -> Host {
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError(file: path, "cannot read file") }
        let text = String(decoding: data, as: UTF8.self)
        return try parse(text, file: path, lenient: lenient, baseDirectory: (path as NSString).deletingLastPathComponent)
    }

    /// Parses profile text. `baseDirectory` resolves relative ruleset file paths.
    public static func parse(_ text: String, file: String, lenient: Bool = false, baseDirectory: String = ".") throws -> Host {
        let c = Ctx(file: file)
        let root: Node
        do {
            guard let r = try Yams.compose(yaml: text) else { throw InputError(file: file, line: 1, "empty host profile") }
            root = r
        } catch let e as YamlError {
            throw yamlError(e, file: file)
        }
        let top = try c.mapping(root, what: "host profile", keys: topKeys)
        var given: Set<HostPart> = []
        var files: [HostPart: String] = [:]

        var interfaces: [Interface] = []
        if let n = top["interfaces"] {
            for (i, e) in try c.sequence(n, what: "interfaces").enumerated() {
                interfaces.append(try interface(c, e, position: i))
            }
            given.formUnion([.links, .addresses])
        }
        if !interfaces.contains(where: { $0.isLoopback }) {
            var lo = KernelDefaults.loopback()
            if interfaces.contains(where: { $0.index == 1 }) { lo.index = (interfaces.map(\.index).max() ?? 0) + 1 }
            interfaces.insert(lo, at: 0)
        }
        var seen: [Int: String] = [:]
        for itf in interfaces {
            if let other = seen[itf.index] { throw InputError(file: file, "interfaces \(other) and \(itf.name) share index \(itf.index)") }
            seen[itf.index] = itf.name
        }
        if interfaces.contains(where: { $0.groEnabled != nil }) { given.insert(.features) }

        var routes4: [Route] = [], routes6: [Route] = []
        if let n = top["routes"] {
            for e in try c.sequence(n, what: "routes") {
                let r = try route(c, e)
                if r.isV6 { routes6.append(r) } else { routes4.append(r) }
            }
            given.formUnion([.routes4, .routes6])
        }
        if try c.bool(top, "kernel_routes") ?? true {
            for r in KernelDefaults.routes4(for: interfaces) where !routes4.contains(r) { routes4.append(r) }
            for r in KernelDefaults.routes6(for: interfaces) where !routes6.contains(r) { routes6.append(r) }
        }
        let defaultRules = try c.bool(top, "default_rules") ?? true
        var rules4: [PolicyRule] = defaultRules ? KernelDefaults.rules4 : []
        var rules6: [PolicyRule] = defaultRules ? KernelDefaults.rules6 : []
        if let n = top["rules"] {
            for e in try c.sequence(n, what: "rules") {
                let r = try rule(c, e, v6: false)
                if !rules4.contains(r) { rules4.append(r) }
            }
            given.insert(.rules4)
        }
        if let n = top["rules6"] {
            for e in try c.sequence(n, what: "rules6") {
                let r = try rule(c, e, v6: true)
                if !rules6.contains(r) { rules6.append(r) }
            }
            given.insert(.rules6)
        }
        var neighbours: [Neighbour] = []
        if let n = top["neighbours"] {
            for e in try c.sequence(n, what: "neighbours") {
                let m = try c.mapping(e, what: "neighbour", keys: ["address", "dev", "lladdr", "state", "router"])
                guard let a = try c.address(m, "address") else { throw c.fail(e, "neighbour: missing \"address\"") }
                guard let dev = try c.string(m, "dev") else { throw c.fail(e, "neighbour: missing \"dev\"") }
                var ll: MACAddress? = nil
                if let s = try c.string(m, "lladdr") {
                    guard let mac = MACAddress(s) else { throw c.fail(m["lladdr"], "\"lladdr\": expected a MAC address") }
                    ll = mac
                }
                let st = try c.strings(m, "state")
                neighbours.append(Neighbour(address: a, dev: dev, lladdr: ll, state: st.isEmpty ? ["PERMANENT"] : st,
                                            router: try c.bool(m, "router") ?? false))
            }
            given.insert(.neighbours)
        }
        var sysctls: [String: String] = [:]
        if let n = top["sysctls"] {
            guard let m = n.mapping else { throw c.fail(n, "sysctls: expected a mapping of name: value") }
            for (k, v) in m {
                guard let ks = k.string, ks.contains(".") else { throw c.fail(k, "sysctls: expected a dotted sysctl name") }
                guard let vs = v.scalar?.string else { throw c.fail(v, "sysctl \(ks): expected a scalar value") }
                sysctls[ks] = vs
            }
            given.insert(.sysctls)
        }
        var sockets: [Socket] = []
        if let n = top["listeners"] {
            for e in try c.sequence(n, what: "listeners") { sockets.append(try socket(c, e, proto: .tcp)) }
            given.insert(.sockets)
        }
        if let n = top["udp"] {
            for e in try c.sequence(n, what: "udp") { sockets.append(try socket(c, e, proto: .udp)) }
            given.insert(.sockets)
        }
        var groups: [MulticastMembership] = []
        if let n = top["multicast"] {
            for e in try c.sequence(n, what: "multicast") {
                let m = try c.mapping(e, what: "multicast membership", keys: ["interface", "group"])
                guard let itf = try c.string(m, "interface") else { throw c.fail(e, "multicast: missing \"interface\"") }
                guard let gs = try c.string(m, "group"), let g = IPAddress(gs) else {
                    throw c.fail(m["group"] ?? e, "multicast: \"group\": expected a multicast address")
                }
                let isGroup: Bool
                switch g { case .v4(let v): isGroup = v.isMulticast; case .v6(let v): isGroup = v.isMulticast }
                guard isGroup else { throw c.fail(m["group"] ?? e, "multicast: \(g) is not a multicast address") }
                groups.append(MulticastMembership(interface: itf, group: g))
            }
        }
        var conntrack: [ConntrackEntry] = []
        if let n = top["conntrack"] {
            for e in try c.sequence(n, what: "conntrack") {
                guard let s = e.scalar?.string else { throw c.fail(e, "conntrack: expected `conntrack -L` lines as strings") }
                do {
                    conntrack += try SnapshotParsers.conntrack(file: file, bytes: Array(s.utf8))
                } catch let err as InputError {
                    throw InputError(file: file, line: e.mark?.line, column: e.mark?.column, "conntrack entry: \(err.message)")
                }
            }
            given.insert(.conntrack)
        }
        var sources: [RulesetSource] = []
        if let n = top["ruleset"] {
            let keys: [(String, RulesetSource.Format)] = [
                ("iptables", .iptablesSave), ("ip6tables", .ip6tablesSave), ("nft_json", .nftJSON), ("nft", .nftText), ("ipset", .ipset),
            ]
            let allowed = Set(keys.flatMap { [$0.0, $0.0 + "_file"] })
            let m = try c.mapping(n, what: "ruleset", keys: allowed)
            for (k, fmt) in keys {
                if let v = m[k] {
                    guard let s = v.scalar?.string else { throw c.fail(v, "ruleset \(k): expected the rules as a text block (|)") }
                    // A block scalar's content starts on the line after its indicator.
                    let first = (v.mark?.line ?? 0) + 1
                    if !LoaderText.isBlank(s) { sources.append(RulesetSource(format: fmt, file: file, firstLine: first, text: s)) }
                }
                if let v = m[k + "_file"] {
                    guard let p = v.scalar?.string else { throw c.fail(v, "ruleset \(k)_file: expected a path") }
                    let full = p.hasPrefix("/") ? p : baseDirectory + "/" + p
                    guard let d = FileManager.default.contents(atPath: full) else { throw c.fail(v, "ruleset \(k)_file: cannot read \(full)") }
                    let s = String(decoding: d, as: UTF8.self)
                    if !LoaderText.isBlank(s) { sources.append(RulesetSource(format: fmt, file: full, text: s)) }
                }
            }
            given.insert(.ruleset); files[.ruleset] = file
        }
        for p in given where files[p] == nil { files[p] = file }
        var h = Host(interfaces: interfaces, routes4: routes4, routes6: routes6, rules4: rules4, rules6: rules6,
                     neighbours: neighbours, sysctls: Sysctls(sysctls), sockets: sockets, multicastGroups: groups,
                     conntrack: conntrack, kernelRelease: try c.string(top, "kernel"), source: HostSource(kind: .profile, path: file, files: files))
        h.rulesets = try RulesetLoader.assemble(sources, lenient: lenient)
        return HostLoader.finish(h, given: given, deriveRoutes4: false, deriveRoutes6: false)
    }

    static func yamlError(_ e: YamlError, file: String) -> InputError {
        switch e {
        case .scanner(let ctx, let problem, let mark, _), .parser(let ctx, let problem, let mark, _):
            return InputError(file: file, line: mark.line, column: mark.column, "invalid YAML: \(problem)" + (ctx.map { " (\($0.text))" } ?? ""))
        default:
            return InputError(file: file, "invalid YAML: \(e)")
        }
    }

    static let interfaceKeys: Set<String> = ["name", "index", "mac", "mtu", "kind", "parent", "vlan_id", "vlan_protocol",
                                             "macvlan_mode", "peer", "master", "port_kind", "up", "lower_up", "promisc",
                                             "noarp", "rx_queues", "gro", "addresses"]

    static func interface(_ c: Ctx, _ n: Node, position: Int) throws -> Interface {
        let m = try c.mapping(n, what: "interface", keys: interfaceKeys)
        guard let name = try c.string(m, "name") else { throw c.fail(n, "interface: missing \"name\"") }
        let kindName = try c.string(m, "kind") ?? (name == "lo" ? "loopback" : "ethernet")
        let parent = try c.string(m, "parent")
        func needParent() throws -> String {
            guard let parent else { throw c.fail(n, "interface \(name): kind \(kindName) needs \"parent\"") }
            return parent
        }
        let kind: InterfaceKind
        switch kindName {
        case "ethernet": kind = .ethernet
        case "loopback": kind = .loopback
        case "vlan":
            guard let id = try c.int(m, "vlan_id"), id >= 0, id < 4096 else { throw c.fail(n, "interface \(name): vlan needs \"vlan_id\" 0-4095") }
            let p = try c.string(m, "vlan_protocol") ?? "802.1Q"
            guard let proto = VLANProtocol(rawValue: p) else { throw c.fail(m["vlan_protocol"], "\"vlan_protocol\": expected 802.1Q or 802.1ad") }
            kind = .vlan(parent: try needParent(), id: UInt16(id), proto: proto)
        case "bridge": kind = .bridge
        case "bond": kind = .bond
        case "macvlan": kind = .macvlan(parent: try needParent(), mode: try c.string(m, "macvlan_mode") ?? "vepa")
        case "veth": kind = .veth(peer: try c.string(m, "peer"))
        default: kind = .other(kindName)
        }
        var mac: MACAddress? = nil
        if let s = try c.string(m, "mac") {
            guard let v = MACAddress(s) else { throw c.fail(m["mac"], "\"mac\": expected aa:bb:cc:dd:ee:ff, got \"\(s)\"") }
            mac = v
        } else if kind == .loopback { mac = .zero }
        var addrs: [InterfaceAddress] = []
        if let an = m["addresses"] {
            for e in try c.sequence(an, what: "addresses") { addrs.append(try address(c, e, interface: name)) }
        } else if kind == .loopback {
            addrs = KernelDefaults.loopback().addresses
        }
        let master = try c.string(m, "master")
        var portKind: PortKind? = nil
        if let pk = try c.string(m, "port_kind") {
            guard let v = PortKind(rawValue: pk) else { throw c.fail(m["port_kind"], "\"port_kind\": expected bridge, bond or other") }
            portKind = v
        } else if master != nil { portKind = .bridge }
        return Interface(name: name, index: try c.int(m, "index") ?? (kind == .loopback ? 1 : position + 2), mac: mac,
                         mtu: try c.int(m, "mtu") ?? (kind == .loopback ? 65536 : 1500), kind: kind, master: master,
                         portKind: portKind, up: try c.bool(m, "up") ?? true, lowerUp: try c.bool(m, "lower_up") ?? true,
                         promisc: try c.bool(m, "promisc") ?? false, noARP: try c.bool(m, "noarp") ?? false,
                         addresses: addrs, rxQueues: try c.int(m, "rx_queues") ?? 1, groEnabled: try c.bool(m, "gro"))
    }

    static func defaultScope(_ a: IPAddress) -> Scope {
        switch a {
        case .v4(let v): return v.isLoopback ? .host : .global
        case .v6(let v): return v.isLoopback ? .host : (v.isLinkLocal ? .link : .global)
        }
    }

    static func address(_ c: Ctx, _ n: Node, interface: String) throws -> InterfaceAddress {
        if let s = n.scalar?.string {
            guard let p = IPPrefix(s), s.contains("/") else { throw c.fail(n, "address: expected ADDRESS/LENGTH, got \"\(s)\"") }
            return InterfaceAddress(address: p.address, prefixLength: p.length, scope: defaultScope(p.address),
                                    label: p.address.isV4 ? interface : nil)
        }
        let m = try c.mapping(n, what: "address", keys: ["address", "broadcast", "scope", "flags", "label", "peer"])
        guard let p = try c.prefix(m, "address") else { throw c.fail(n, "address: missing \"address\"") }
        var brd: IPv4Address? = nil
        if let b = try c.address(m, "broadcast") {
            guard case .v4(let v) = b else { throw c.fail(m["broadcast"], "\"broadcast\": expected an IPv4 address") }
            brd = v
        }
        var scope = defaultScope(p.address)
        if let s = try c.string(m, "scope") {
            guard Scope.known(s) else { throw c.fail(m["scope"], "\"scope\": expected global, site, link, host or nowhere") }
            scope = Scope(name: s)
        }
        let label = m["label"] != nil ? try c.string(m, "label") : (p.address.isV4 ? interface : nil)
        return InterfaceAddress(address: p.address, prefixLength: p.length, peer: try c.prefix(m, "peer"), broadcast: brd,
                                scope: scope, flags: try c.strings(m, "flags"), label: label)
    }

    static let routeKeys: Set<String> = ["dst", "family", "type", "table", "proto", "scope", "src", "metric", "tos", "via", "dev",
                                         "onlink", "mtu", "nexthops", "pref", "flags"]

    static func route(_ c: Ctx, _ n: Node) throws -> Route {
        let m = try c.mapping(n, what: "route", keys: routeKeys)
        guard let dstText = try c.string(m, "dst") else { throw c.fail(n, "route: missing \"dst\"") }
        let via = try c.address(m, "via")
        var nexthops: [NextHop] = []
        if let nn = m["nexthops"] {
            for e in try c.sequence(nn, what: "nexthops") {
                let hm = try c.mapping(e, what: "next hop", keys: ["via", "dev", "weight", "onlink"])
                nexthops.append(NextHop(gateway: try c.address(hm, "via"), dev: try c.string(hm, "dev"),
                                        weight: try c.int(hm, "weight") ?? 1, onlink: try c.bool(hm, "onlink") ?? false))
            }
        }
        let dst: IPPrefix
        if dstText == "default" {
            var v6 = false
            if let f = try c.string(m, "family") {
                guard f == "ipv4" || f == "ipv6" else { throw c.fail(m["family"], "\"family\": expected ipv4 or ipv6") }
                v6 = f == "ipv6"
            } else if let g = via ?? nexthops.first?.gateway { v6 = !g.isV4 }
            dst = IPPrefix(address: v6 ? .v6(.any) : .v4(.any), length: 0)
        } else {
            guard let p = IPPrefix(dstText) else { throw c.fail(m["dst"], "\"dst\": expected a prefix or \"default\", got \"\(dstText)\"") }
            dst = p
        }
        let typeText = try c.string(m, "type") ?? "unicast"
        guard let type = RouteType(rawValue: typeText) else {
            throw c.fail(m["type"], "\"type\": expected one of \(RouteType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var table = RouteTable.main
        if let t = try c.string(m, "table") {
            guard let id = RouteTable.id(t) else { throw c.fail(m["table"], "\"table\": expected local, main, default or a number") }
            table = id
        }
        var scope = Scope.global
        if let s = try c.string(m, "scope") {
            guard Scope.known(s) else { throw c.fail(m["scope"], "\"scope\": expected global, site, link, host or nowhere") }
            scope = Scope(name: s)
        }
        let metric = try c.int(m, "metric") ?? 0
        guard metric >= 0, metric <= Int(UInt32.max) else { throw c.fail(m["metric"], "\"metric\" out of range") }
        let tos = try c.int(m, "tos") ?? 0
        guard tos >= 0, tos <= 255 else { throw c.fail(m["tos"], "\"tos\" out of range 0-255") }
        let isV6 = !dst.address.isV4
        return Route(type: type, destination: dst, table: table, proto: try c.string(m, "proto"), scope: scope,
                     prefsrc: try c.address(m, "src"), metric: UInt32(metric), tos: UInt8(tos), gateway: via,
                     dev: try c.string(m, "dev"), onlink: try c.bool(m, "onlink") ?? false, mtu: try c.int(m, "mtu"),
                     nexthops: nexthops, pref: try c.string(m, "pref") ?? (isV6 ? "medium" : nil), flags: try c.strings(m, "flags"))
    }

    static let ruleKeys: Set<String> = ["priority", "not", "from", "to", "iif", "oif", "fwmark", "tos", "ipproto", "sport", "dport",
                                        "uidrange", "l3mdev", "table", "goto", "action", "suppress_prefixlength", "suppress_ifgroup", "proto"]

    static func rule(_ c: Ctx, _ n: Node, v6: Bool) throws -> PolicyRule {
        let m = try c.mapping(n, what: "rule", keys: ruleKeys)
        guard let prio = try c.int(m, "priority"), prio >= 0, prio <= Int(UInt32.max) else { throw c.fail(n, "rule: missing or bad \"priority\"") }
        func fam(_ key: String) throws -> IPPrefix? {
            guard let p = try c.prefix(m, key) else { return nil }
            guard p.address.isV4 != v6 else { throw c.fail(m[key], "\"\(key)\": not an IPv\(v6 ? 6 : 4) prefix (IPv6 rules go under rules6)") }
            return p
        }
        var fwmark: UInt32? = nil, fwmask: UInt32? = nil
        if let s = try c.string(m, "fwmark") {
            let parts = s.split(separator: "/", maxSplits: 1).map(String.init)
            guard let v = SnapshotParsers.Ctx.parseInt(parts[0]), v >= 0, v <= Int(UInt32.max) else { throw c.fail(m["fwmark"], "\"fwmark\": expected MARK or MARK/MASK") }
            fwmark = UInt32(v)
            if parts.count == 2 {
                guard let k = SnapshotParsers.Ctx.parseInt(parts[1]), k >= 0, k <= Int(UInt32.max) else { throw c.fail(m["fwmark"], "\"fwmark\": bad mask") }
                fwmask = UInt32(k)
            }
        }
        var ipproto: UInt8? = nil
        if let s = try c.string(m, "ipproto") {
            guard let p = Names.ipProtocol(Substring(s)) ?? UInt8(s) else { throw c.fail(m["ipproto"], "\"ipproto\": unknown protocol \"\(s)\"") }
            ipproto = p
        }
        var uid: ClosedRange<UInt32>? = nil
        if let s = try c.string(m, "uidrange") {
            let p = s.split(separator: "-", maxSplits: 1)
            guard let a = UInt32(p[0]), let b = p.count == 2 ? UInt32(p[1]) : a, a <= b else { throw c.fail(m["uidrange"], "\"uidrange\": expected LOW-HIGH") }
            uid = a...b
        }
        let l3mdev = try c.bool(m, "l3mdev") ?? false
        let action: PolicyRule.Action
        if let g = try c.int(m, "goto") {
            guard g >= 0 else { throw c.fail(m["goto"], "\"goto\": expected a priority") }
            action = .goto(UInt32(g))
        } else if let a = try c.string(m, "action") {
            switch a {
            case "blackhole": action = .blackhole
            case "unreachable": action = .unreachable
            case "prohibit": action = .prohibit
            case "nop": action = .nop
            default: throw c.fail(m["action"], "\"action\": expected blackhole, unreachable, prohibit or nop")
            }
        } else if let t = try c.string(m, "table") {
            guard let id = RouteTable.id(t) else { throw c.fail(m["table"], "\"table\": expected local, main, default or a number") }
            action = .table(id)
        } else if l3mdev {
            action = .table(0)
        } else {
            throw c.fail(n, "rule \(prio): needs table, goto or action")
        }
        var tos: UInt8? = nil
        if let t = try c.int(m, "tos") {
            guard t >= 0, t <= 255 else { throw c.fail(m["tos"], "\"tos\" out of range 0-255") }
            tos = UInt8(t)
        }
        return PolicyRule(priority: UInt32(prio), invert: try c.bool(m, "not") ?? false, src: try fam("from"), dst: try fam("to"),
                          iif: try c.string(m, "iif"), oif: try c.string(m, "oif"), fwmark: fwmark, fwmask: fwmask, tos: tos,
                          ipproto: ipproto, sport: try c.range16(m, "sport"), dport: try c.range16(m, "dport"), uidRange: uid,
                          l3mdev: l3mdev, action: action, suppressPrefixLength: try c.int(m, "suppress_prefixlength"),
                          suppressIfgroup: try c.int(m, "suppress_ifgroup"), proto: try c.string(m, "proto"))
    }

    static func socket(_ c: Ctx, _ n: Node, proto: Socket.Proto) throws -> Socket {
        let keys: Set<String> = proto == .tcp ? ["address", "port", "backlog", "interface", "v6only", "recv_q"]
                                              : ["address", "port", "interface", "v6only", "recv_q", "peer", "peer_port"]
        let m = try c.mapping(n, what: proto == .tcp ? "listener" : "udp socket", keys: keys)
        guard let port = try c.int(m, "port"), port >= 0, port <= 65535 else { throw c.fail(n, "socket: missing or bad \"port\"") }
        let text = try c.string(m, "address") ?? "*"
        let local: Socket.LocalAddress
        switch text {
        case "*": local = .anyV6(v6only: false)
        case "0.0.0.0": local = .anyV4
        case "[::]": local = .anyV6(v6only: true)
        case "::": local = .anyV6(v6only: try c.bool(m, "v6only") ?? false)
        default:
            let t = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
            guard let a = IPAddress(t) else { throw c.fail(m["address"], "\"address\": expected an address, 0.0.0.0, * (:: dual-stack) or [::] (v6only)") }
            local = .address(a)
        }
        var backlog: Int? = nil
        if proto == .tcp {
            backlog = try c.int(m, "backlog") ?? 4096
            guard backlog! >= 0 else { throw c.fail(m["backlog"], "\"backlog\": expected a non-negative number") }
        }
        var peer: IPAddress? = nil
        if let ps = try c.string(m, "peer") {
            let t = ps.hasPrefix("[") && ps.hasSuffix("]") ? String(ps.dropFirst().dropLast()) : ps
            guard let a = IPAddress(t) else { throw c.fail(m["peer"], "\"peer\": expected the connected peer's address") }
            peer = a
        }
        let peerPort = try c.int(m, "peer_port") ?? 0
        guard peerPort >= 0, peerPort <= 65535 else { throw c.fail(m["peer_port"], "\"peer_port\": expected a port number") }
        if peerPort != 0 && peer == nil { throw c.fail(m["peer_port"], "\"peer_port\" needs \"peer\"") }
        return Socket(proto: proto, local: local, port: UInt16(port), interface: try c.string(m, "interface"), backlog: backlog,
                      recvQ: try c.int(m, "recv_q") ?? 0, peer: peer, peerPort: UInt16(peerPort))
    }
}

enum LoaderText {
    static func isBlank(_ s: String) -> Bool { s.allSatisfy { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" } }
}
