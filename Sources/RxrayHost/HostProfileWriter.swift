import RxrayDecode
import RxrayRules

extension HostProfile {
    /// The host as profile YAML (docs/HOST.md). Loading the text gives a `Host` equal to `host`:
    /// what the kernel implies (loopback addresses, per-address routes, default rules, default
    /// sysctls) is left out when the host has exactly that, and written otherwise.
    public static func yaml(for host: Host, comment: String? = nil) -> String {
        var w = YAMLWriter()
        if let comment { for l in comment.split(separator: "\n", omittingEmptySubsequences: false) { w.line("# \(l)") } }
        if let k = host.kernelRelease { w.line("kernel: \(q(k))") }

        w.line("interfaces:")
        for itf in host.interfaces { writeInterface(&w, itf) }

        // Routes: the kernel's own are implied when all present exactly.
        let derived4 = KernelDefaults.routes4(for: host.interfaces), derived6 = KernelDefaults.routes6(for: host.interfaces)
        let implied = derived4.allSatisfy(host.routes4.contains) && derived6.allSatisfy(host.routes6.contains)
        let extra = implied ? host.routes4.filter { !derived4.contains($0) } + host.routes6.filter { !derived6.contains($0) }
                            : host.routes4 + host.routes6
        if !implied { w.line("kernel_routes: false") }
        if !extra.isEmpty {
            w.line("routes:")
            for r in extra { w.line("  - " + flow(routeFields(r))) }
        }

        let rulesImplied = KernelDefaults.rules4.allSatisfy(host.rules4.contains) && KernelDefaults.rules6.allSatisfy(host.rules6.contains)
        if !rulesImplied { w.line("default_rules: false") }
        let r4 = rulesImplied ? host.rules4.filter { !KernelDefaults.rules4.contains($0) } : host.rules4
        let r6 = rulesImplied ? host.rules6.filter { !KernelDefaults.rules6.contains($0) } : host.rules6
        if !r4.isEmpty || !rulesImplied {
            w.line(r4.isEmpty ? "rules: []" : "rules:")
            for r in r4 { w.line("  - " + flow(ruleFields(r))) }
        }
        if !r6.isEmpty || !rulesImplied {
            w.line(r6.isEmpty ? "rules6: []" : "rules6:")
            for r in r6 { w.line("  - " + flow(ruleFields(r))) }
        }

        if !host.neighbours.isEmpty {
            w.line("neighbours:")
            for n in host.neighbours {
                var f: [(String, String)] = [("address", q(n.address.description)), ("dev", q(n.dev))]
                if let l = n.lladdr { f.append(("lladdr", q(l.description))) }
                f.append(("state", "[" + n.state.map(q).joined(separator: ", ") + "]"))
                if n.router { f.append(("router", "true")) }
                w.line("  - " + flow(f))
            }
        }

        let sys = host.sysctls.profileValues()
        if !sys.isEmpty {
            w.line("sysctls:")
            for (k, v) in sys { w.line("  \(q(k)): \(q(v))") }
        }

        let listeners = host.sockets.filter { $0.proto == .tcp }, udp = host.sockets.filter { $0.proto == .udp }
        if !listeners.isEmpty {
            w.line("listeners:")
            for s in listeners { w.line("  - " + flow(socketFields(s))) }
        }
        if !udp.isEmpty {
            w.line("udp:")
            for s in udp { w.line("  - " + flow(socketFields(s))) }
        }
        if !host.multicastGroups.isEmpty {
            w.line("multicast:")
            for g in host.multicastGroups { w.line("  - " + flow([("interface", q(g.interface)), ("group", q(g.group.description))])) }
        }
        if !host.conntrack.isEmpty {
            w.line("conntrack:")
            for e in host.conntrack { w.line("  - " + q(e.line)) }
        }

        var sources = host.rulesets.sources
        // Shadowed nft text is written too so the profile keeps everything the snapshot had.
        for sh in host.rulesets.shadowed {
            if let s = host.rulesetShadowedText(sh) { sources.append(s) }
        }
        if !sources.isEmpty {
            w.line("ruleset:")
            let keyOf: [RulesetSource.Format: String] = [.iptablesSave: "iptables", .ip6tablesSave: "ip6tables", .nftJSON: "nft_json",
                                                         .nftText: "nft", .ipset: "ipset"]
            for s in sources {
                let chomp = s.text.hasSuffix("\n") ? "+" : "-"
                w.line("  \(keyOf[s.format]!): |2\(chomp)")
                var lines = s.text.split(separator: "\n", omittingEmptySubsequences: false)
                if s.text.hasSuffix("\n") { lines.removeLast() }
                for l in lines { w.line(l.isEmpty ? "" : "    " + l) }
            }
        }
        return w.text
    }

    static func writeInterface(_ w: inout YAMLWriter, _ itf: Interface) {
        w.line("  - name: \(q(itf.name))")
        w.line("    index: \(itf.index)")
        let defaultKind = itf.name == "lo" ? "loopback" : "ethernet"
        if itf.kind.name != defaultKind { w.line("    kind: \(q(itf.kind.name))") }
        switch itf.kind {
        case .vlan(let parent, let id, let proto):
            w.line("    parent: \(q(parent))")
            w.line("    vlan_id: \(id)")
            if proto != .dot1Q { w.line("    vlan_protocol: \(proto.rawValue)") }
        case .macvlan(let parent, let mode):
            w.line("    parent: \(q(parent))")
            w.line("    macvlan_mode: \(q(mode))")
        case .veth(let peer):
            if let peer { w.line("    peer: \(q(peer))") }
        default: break
        }
        if let mac = itf.mac, !(itf.isLoopback && mac == .zero) { w.line("    mac: \(q(mac.description))") }
        if itf.mac == nil && itf.isLoopback { w.line("    mac: null") }
        if itf.mtu != (itf.isLoopback ? 65536 : 1500) { w.line("    mtu: \(itf.mtu)") }
        if let m = itf.master {
            w.line("    master: \(q(m))")
            if itf.portKind != .bridge { w.line("    port_kind: \((itf.portKind ?? .other).rawValue)") }
        }
        if !itf.up { w.line("    up: false") }
        if !itf.lowerUp { w.line("    lower_up: false") }
        if itf.promisc { w.line("    promisc: true") }
        if itf.noARP { w.line("    noarp: true") }
        if itf.rxQueues != 1 { w.line("    rx_queues: \(itf.rxQueues)") }
        if let g = itf.groEnabled { w.line("    gro: \(g)") }
        if itf.isLoopback && itf.addresses == KernelDefaults.loopback().addresses { return }
        if itf.addresses.isEmpty {
            if itf.isLoopback { w.line("    addresses: []") }
            return
        }
        w.line("    addresses:")
        for a in itf.addresses {
            let plain = a.broadcast == nil && a.peer == nil && a.flags.isEmpty && a.scope == defaultScope(a.address)
                && a.label == (a.address.isV4 ? itf.name : nil)
            if plain { w.line("      - \(q(a.prefix.description))"); continue }
            var f: [(String, String)] = [("address", q(a.prefix.description))]
            if let b = a.broadcast { f.append(("broadcast", q(b.description))) }
            if let p = a.peer { f.append(("peer", q(p.description))) }
            if a.scope != defaultScope(a.address) { f.append(("scope", q(a.scope.description))) }
            if !a.flags.isEmpty { f.append(("flags", "[" + a.flags.map(q).joined(separator: ", ") + "]")) }
            if a.label != (a.address.isV4 ? itf.name : nil) { f.append(("label", a.label.map(q) ?? "null")) }
            w.line("      - " + flow(f))
        }
    }

    static func routeFields(_ r: Route) -> [(String, String)] {
        var f: [(String, String)] = []
        if r.type != .unicast { f.append(("type", r.type.rawValue)) }
        f.append(("dst", r.destination.length == 0 ? "default" : q(r.destination.description)))
        if r.destination.length == 0 && r.isV6 && r.gateway == nil && r.nexthops.first?.gateway == nil { f.append(("family", "ipv6")) }
        if r.destination.length == 0 && !r.isV6, let g = r.gateway ?? r.nexthops.first?.gateway, !g.isV4 { f.append(("family", "ipv4")) }
        if r.table != RouteTable.main { f.append(("table", q(RouteTable.name(r.table)))) }
        if let g = r.gateway { f.append(("via", q(g.description))) }
        if let d = r.dev { f.append(("dev", q(d))) }
        if let p = r.proto { f.append(("proto", q(p))) }
        if r.scope != .global { f.append(("scope", q(r.scope.description))) }
        if let s = r.prefsrc { f.append(("src", q(s.description))) }
        if r.metric != 0 { f.append(("metric", String(r.metric))) }
        if r.tos != 0 { f.append(("tos", String(r.tos))) }
        if r.onlink { f.append(("onlink", "true")) }
        if let m = r.mtu { f.append(("mtu", String(m))) }
        if !r.nexthops.isEmpty {
            f.append(("nexthops", "[" + r.nexthops.map { h in
                var hf: [(String, String)] = []
                if let g = h.gateway { hf.append(("via", q(g.description))) }
                if let d = h.dev { hf.append(("dev", q(d))) }
                hf.append(("weight", String(h.weight)))
                if h.onlink { hf.append(("onlink", "true")) }
                return flow(hf)
            }.joined(separator: ", ") + "]"))
        }
        if r.pref != (r.isV6 ? "medium" : nil) { f.append(("pref", r.pref.map(q) ?? "null")) }
        if !r.flags.isEmpty { f.append(("flags", "[" + r.flags.map(q).joined(separator: ", ") + "]")) }
        return f
    }

    static func ruleFields(_ r: PolicyRule) -> [(String, String)] {
        var f: [(String, String)] = [("priority", String(r.priority))]
        if r.invert { f.append(("not", "true")) }
        if let s = r.src { f.append(("from", q(s.description))) }
        if let d = r.dst { f.append(("to", q(d.description))) }
        if let i = r.iif { f.append(("iif", q(i))) }
        if let o = r.oif { f.append(("oif", q(o))) }
        if let m = r.fwmark {
            f.append(("fwmark", q("0x" + String(m, radix: 16) + (r.fwmask.map { "/0x" + String($0, radix: 16) } ?? ""))))
        }
        if let t = r.tos { f.append(("tos", String(t))) }
        if let p = r.ipproto { f.append(("ipproto", String(p))) }
        func rng(_ x: ClosedRange<UInt16>) -> String { x.lowerBound == x.upperBound ? String(x.lowerBound) : q("\(x.lowerBound)-\(x.upperBound)") }
        if let s = r.sport { f.append(("sport", rng(s))) }
        if let d = r.dport { f.append(("dport", rng(d))) }
        if let u = r.uidRange { f.append(("uidrange", q("\(u.lowerBound)-\(u.upperBound)"))) }
        if r.l3mdev { f.append(("l3mdev", "true")) }
        switch r.action {
        case .table(let t): if !(r.l3mdev && t == 0) { f.append(("table", q(RouteTable.name(t)))) }
        case .goto(let g): f.append(("goto", String(g)))
        case .nop: f.append(("action", "nop"))
        case .blackhole: f.append(("action", "blackhole"))
        case .unreachable: f.append(("action", "unreachable"))
        case .prohibit: f.append(("action", "prohibit"))
        }
        if let s = r.suppressPrefixLength { f.append(("suppress_prefixlength", String(s))) }
        if let s = r.suppressIfgroup { f.append(("suppress_ifgroup", String(s))) }
        if let p = r.proto { f.append(("proto", q(p))) }
        return f
    }

    static func socketFields(_ s: Socket) -> [(String, String)] {
        var f: [(String, String)] = [("address", q(s.local.description)), ("port", String(s.port))]
        if let b = s.backlog { f.append(("backlog", String(b))) }
        if let i = s.interface { f.append(("interface", q(i))) }
        if s.recvQ != 0 { f.append(("recv_q", String(s.recvQ))) }
        if let p = s.peer { f.append(("peer", q(p.description))) }
        if s.peerPort != 0 { f.append(("peer_port", String(s.peerPort))) }
        return f
    }

    static func flow(_ fields: [(String, String)]) -> String {
        "{" + fields.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "}"
    }

    /// A YAML scalar: plain when unambiguous, otherwise double-quoted.
    static func q(_ s: String) -> String {
        let safe = !s.isEmpty && s.unicodeScalars.allSatisfy { c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "." || c == "_" || c == "/" || c == "-"
        } && !s.hasPrefix("-") && !["true", "false", "yes", "no", "on", "off", "null", "y", "n"].contains(s.lowercased())
        if safe { return s }
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if c.value < 0x20 { out += String(format: "\\x%02x", c.value) } else { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }
}

struct YAMLWriter {
    var text = ""
    mutating func line(_ s: String) { text += s; text += "\n" }
    mutating func line(_ s: Substring) { text += s; text += "\n" }
}

extension Host {
    /// The source text of a shadowed ruleset file, when it is still readable.
    func rulesetShadowedText(_ sh: ShadowedSource) -> RulesetSource? {
        guard let t = rulesets.shadowedTexts[sh.file] else { return nil }
        return t
    }
}

extension ConntrackEntry {
    /// The entry as `conntrack -L` prints it (parsed back by the snapshot parser).
    public var line: String {
        var parts: [String] = []
        if let l3 = l3proto { parts += [l3, l3 == "ipv6" ? "10" : "2"] }
        parts += [protoName, String(protoNumber), String(timeout)]
        if let s = tcpState { parts.append(s) }
        func tuple(_ t: ConntrackTuple) -> [String] {
            var p = ["src=\(t.src)", "dst=\(t.dst)"]
            if let v = t.sport { p.append("sport=\(v)") }
            if let v = t.dport { p.append("dport=\(v)") }
            if let v = t.icmpType { p.append("type=\(v)") }
            if let v = t.icmpCode { p.append("code=\(v)") }
            if let v = t.icmpID { p.append("id=\(v)") }
            return p
        }
        parts += tuple(original)
        // conntrack prints [UNREPLIED] between the tuples and [ASSURED] after the reply tuple.
        parts += status.filter { $0 == "UNREPLIED" }.map { "[\($0)]" }
        parts += tuple(reply)
        parts += status.filter { $0 != "UNREPLIED" }.map { "[\($0)]" }
        parts.append("mark=\(mark)")
        if let z = zone { parts.append("zone=\(z)") }
        return parts.joined(separator: " ")
    }
}

import Foundation

extension Sysctls {
    /// The values a profile needs to reproduce this host's behaviour, sorted by name: given
    /// values that differ from what rxray would use without them (the kernel default, or for
    /// per-interface keys the `default` entry). Sysctls rxray has no default for (it does not
    /// read them) are left out.
    public func profileValues() -> [(String, String)] {
        var out: [(String, String)] = []
        for (k, v) in values {
            let norm = v.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            if let d = Sysctls.defaults[k] {
                if norm != d.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ") { out.append((k, v)) }
                continue
            }
            let parts = k.split(separator: ".")
            if parts.count == 5, parts[0] == "net", parts[1] == "ipv4" || parts[1] == "ipv6", parts[2] == "conf",
               parts[3] != "all", parts[3] != "default" {
                let attr = String(parts[4])
                guard Sysctls.defaults["net.\(parts[1]).conf.default.\(attr)"] != nil else { continue }
                let itf = String(parts[3]).replacingOccurrences(of: "/", with: ".")
                var without = values
                without[k] = nil
                let s = Sysctls(without)
                let fallback = parts[1] == "ipv4" ? s.ipv4DeviceValue(itf, attr) : s.ipv6DeviceValue(itf, attr)
                if Int(norm) != fallback { out.append((k, v)) }
            }
        }
        return out.sorted { $0.0 < $1.0 }
    }

    /// Equal when they give rxray the same behaviour: the same `profileValues()`.
    public static func == (a: Sysctls, b: Sysctls) -> Bool {
        let x = a.profileValues(), y = b.profileValues()
        return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}
