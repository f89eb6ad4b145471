import Foundation
import RxrayDecode
import RxrayHost
#if canImport(Glibc)
import Glibc
#endif

/// A device-under-test namespace rebuilt from a host snapshot, joined by veth pairs to an
/// injector namespace (the harness's topology, docs/RECORDING.md), and torn down without fail.
///
/// Every non-loopback interface of the host becomes a veth with the host's name, MAC and MTU,
/// whose peer (`rxpN`) lives in the injector namespace; then sysctls, addresses, routes, policy
/// rules, permanent neighbours, ipsets and the firewall rulesets are applied, and listeners are
/// bound as `sockets.txt` says (never accepting).
public final class LiveTopology {
    public let dut: String
    public let inj: String
    /// DUT interface name → peer name in the injector namespace.
    public private(set) var peers: [String: String] = [:]
    /// What could not be reproduced (printed as notes).
    public private(set) var notes: [String] = []
    private var socketFDs: [Int32] = []
    private var helper: Process?
    private var built: [String] = []

    static var sequence = 0

    public init() {
        LiveTopology.sequence += 1
        let tag = "\(getpid())-\(LiveTopology.sequence)"
        dut = "rxv-dut-\(tag)"
        inj = "rxv-inj-\(tag)"
        LiveCleanup.register(self)
    }

    /// The DUT namespace's inode number (what the tracer watches).
    public func dutInode() throws -> UInt64 {
        var st = stat()
        guard stat("/run/netns/\(dut)", &st) == 0 else { throw VerifyEnvironmentError("/run/netns/\(dut): \(String(cString: strerror(errno)))") }
        return UInt64(st.st_ino)
    }

    /// The pid of a process inside the DUT (to read its /proc/PID/net counters).
    public var helperPID: Int32? { helper?.processIdentifier }

    func ipn(_ ns: String, _ args: [String]) throws { try Tool.must(["ip", "-n", ns] + args) }
    func exec(_ ns: String, _ args: [String], input: String? = nil) throws -> Tool.Output {
        try Tool.run(["ip", "netns", "exec", ns] + args, input: input)
    }

    /// Builds the namespaces for `host`.
    public func build(_ host: RxrayHost.Host) throws {
        try Tool.must(["ip", "netns", "add", dut]); built.append(dut)
        try Tool.must(["ip", "netns", "add", inj]); built.append(inj)
        // The DUT sends nothing on its own after link-up (no DAD, no router solicitations, no
        // MLD report timers); the injector has no IPv6 and no addresses.
        _ = try exec(dut, ["sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
                           "net.ipv6.conf.default.dad_transmits=0", "net.ipv6.conf.all.router_solicitations=0",
                           "net.ipv6.conf.default.router_solicitations=0",
                           "net.ipv6.conf.all.mldv1_unsolicited_report_interval=0",
                           "net.ipv6.conf.default.mldv1_unsolicited_report_interval=0",
                           "net.ipv6.conf.all.mldv2_unsolicited_report_interval=0",
                           "net.ipv6.conf.default.mldv2_unsolicited_report_interval=0"])
        _ = try exec(inj, ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
        try ipn(dut, ["link", "set", "lo", "up"])

        var n = 0
        for i in host.interfaces where !i.isLoopback {
            switch i.kind {
            case .ethernet, .veth, .other:
                break
            default:
                notes.append("interface \(i.name) (\(i.kind.name)) is not reproduced: only Ethernet-like interfaces become veths")
                continue
            }
            let peer = "rxp\(n)"
            n += 1
            var args = ["link", "add", i.name]
            if let m = i.mac { args += ["address", m.description] }
            args += ["mtu", String(i.mtu), "type", "veth", "peer", "name", peer, "mtu", String(i.mtu), "netns", inj]
            try ipn(dut, args)
            peers[i.name] = peer
            // veth runs the receiver's GRO only when the sender does not segment.
            _ = try exec(inj, ["ethtool", "-K", peer, "tso", "off", "gso", "off"])
            if let gro = i.groEnabled { _ = try exec(dut, ["ethtool", "-K", i.name, "gro", gro ? "on" : "off"]) }
        }
        try applySysctls(host)
        for i in host.interfaces where peers[i.name] != nil || i.isLoopback {
            for a in i.addresses {
                if i.isLoopback && (a.address.description == "127.0.0.1" || a.address.description == "::1") { continue }
                var args = ["addr", "add", "\(a.address)/\(a.prefixLength)", "dev", i.name]
                if let p = a.peer { args = ["addr", "add", "\(a.address)", "peer", p.description, "dev", i.name] }
                if let b = a.broadcast { args += ["broadcast", b.description] }
                if a.scope != .global { args += ["scope", a.scope.description] }
                if !a.address.isV4 { args.append("nodad") }
                if a.noPrefixRoute { args.append("noprefixroute") }
                let o = try Tool.run(["ip", "-n", dut] + args)
                if o.status != 0 && !o.stderr.contains("File exists") {
                    notes.append("address \(a.address)/\(a.prefixLength) on \(i.name): \(o.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
                }
            }
        }
        for (name, peer) in peers.sorted(by: { $0.key < $1.key }) {
            try ipn(inj, ["link", "set", peer, "up"])
            if host.interfaces.first(where: { $0.name == name })?.up ?? true { try ipn(dut, ["link", "set", name, "up"]) }
        }
        try applyRoutes(host)
        try applyRules(host)
        for nb in host.neighbours where nb.isValid && peers[nb.dev] != nil {
            let o = try Tool.run(["ip", "-n", dut, "neigh", "replace", nb.address.description, "lladdr", nb.lladdr!.description,
                                  "dev", nb.dev, "nud", "permanent"])
            if o.status != 0 { notes.append("neighbour \(nb.address) on \(nb.dev): \(o.stderr.trimmingCharacters(in: .whitespacesAndNewlines))") }
        }
        try applyRulesets(host)
        try bindSockets(host)
        // A process inside the DUT whose /proc/PID/net shows the namespace's counters.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Tool.find("ip") ?? "/usr/sbin/ip")
        p.arguments = ["netns", "exec", dut, "sleep", "100000"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        helper = p
        usleep(50_000)
    }

    /// Sysctls given in the snapshot; forwarding switches first (they reset the per-device
    /// values), then `all`, `default`, then the rest.
    func applySysctls(_ host: RxrayHost.Host) throws {
        let skip = ["net.ipv6.conf.all.disable_ipv6", "net.core.netdev_rss_key", "net.ipv4.tcp_fastopen_key"]
        func rank(_ k: String) -> Int {
            if k == "net.ipv4.ip_forward" { return 0 }
            if k.hasSuffix(".forwarding") && k.contains(".all.") { return 1 }
            if k.contains(".all.") { return 2 }
            if k.contains(".default.") { return 3 }
            return 4
        }
        let keys = host.sysctls.values.keys.filter { !skip.contains($0) && $0.hasPrefix("net.") }.sorted { (rank($0), $0) < (rank($1), $1) }
        var lines = ""
        for k in keys {
            let v = host.sysctls.values[k]!
            // Per-device keys for devices that are not reproduced would fail; so would read-only ones.
            let parts = k.split(separator: ".")
            if parts.count > 3, parts[2] == "conf" || parts[2] == "neigh", !["all", "default", "lo"].contains(String(parts[3])), peers[String(parts[3])] == nil { continue }
            lines += "\(k) = \(v)\n"
        }
        let file = NSTemporaryDirectory() + "rxray-verify-sysctl-\(getpid()).conf"
        try lines.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let o = try exec(dut, ["sysctl", "-e", "-q", "-p", file])
        let failed = o.stderr.split(separator: "\n").filter { !$0.isEmpty }
        if !failed.isEmpty { notes.append("\(failed.count) sysctl(s) could not be set (read-only or unknown here), e.g. \(failed[0])") }
    }

    func applyRoutes(_ host: RxrayHost.Host) throws {
        for r in host.routes4 + host.routes6 {
            if r.proto == "kernel" || r.table == 255 { continue }      // made by the kernel from addresses
            if r.isV6 && (r.destination.address.description.hasPrefix("fe80") || r.destination.address.description.hasPrefix("ff00")) { continue }
            if let d = r.dev, peers[d] == nil, d != "lo" { notes.append("route \(r.destination) via \(d): interface not reproduced"); continue }
            var args = ["route", "replace", r.type.rawValue, r.destination.description]
            if r.table != 254 { args += ["table", String(r.table)] }
            if r.nexthops.isEmpty {
                if let g = r.gateway { args += ["via", g.description] }
                if let d = r.dev { args += ["dev", d] }
                if r.onlink { args.append("onlink") }
            }
            if let p = r.proto, p != "boot" { args += ["proto", p] }
            if r.type == .unicast || r.type == .local { args += ["scope", r.scope.description] }
            if let s = r.prefsrc { args += ["src", s.description] }
            if r.metric != 0 { args += ["metric", String(r.metric)] }
            if r.tos != 0 { args += ["tos", String(r.tos)] }
            if let m = r.mtu { args += ["mtu", String(m)] }
            for nh in r.nexthops {
                args.append("nexthop")
                if let g = nh.gateway { args += ["via", g.description] }
                if let d = nh.dev { args += ["dev", d] }
                args += ["weight", String(nh.weight)]
                if nh.onlink { args.append("onlink") }
            }
            let o = try Tool.run(["ip", "-n", dut] + (r.isV6 ? ["-6"] : ["-4"]) + args)
            if o.status != 0 { notes.append("route \(args.dropFirst(2).joined(separator: " ")): \(o.stderr.trimmingCharacters(in: .whitespacesAndNewlines))") }
        }
    }

    func applyRules(_ host: RxrayHost.Host) throws {
        for (v6, rules) in [(false, host.rules4), (true, host.rules6)] {
            for r in rules {
                // The three rules every namespace starts with.
                if r.src == nil && r.dst == nil && r.iif == nil && r.oif == nil && r.fwmark == nil && !r.invert {
                    if case .table(let t) = r.action, (r.priority == 0 && t == 255) || (r.priority == 32766 && t == 254) || (r.priority == 32767 && t == 253) { continue }
                }
                var args = ["rule", "add", "priority", String(r.priority)]
                if r.invert { args.append("not") }
                if let s = r.src { args += ["from", s.description] }
                if let d = r.dst { args += ["to", d.description] }
                if let i = r.iif { args += ["iif", i] }
                if let o = r.oif { args += ["oif", o] }
                if let m = r.fwmark { args += ["fwmark", r.fwmask.map { "\(m)/\($0)" } ?? String(m)] }
                if let t = r.tos { args += ["tos", String(t)] }
                if let p = r.ipproto { args += ["ipproto", String(p)] }
                if let p = r.sport { args += ["sport", p.lowerBound == p.upperBound ? "\(p.lowerBound)" : "\(p.lowerBound)-\(p.upperBound)"] }
                if let p = r.dport { args += ["dport", p.lowerBound == p.upperBound ? "\(p.lowerBound)" : "\(p.lowerBound)-\(p.upperBound)"] }
                if r.l3mdev { args.append("l3mdev") }
                switch r.action {
                case .table(let t): args += ["table", String(t)]
                case .goto(let t): args += ["goto", String(t)]
                case .nop: args.append("nop")
                case .blackhole: args.append("blackhole")
                case .unreachable: args.append("unreachable")
                case .prohibit: args.append("prohibit")
                }
                if let s = r.suppressPrefixLength { args += ["suppress_prefixlength", String(s)] }
                let o = try Tool.run(["ip", "-n", dut, v6 ? "-6" : "-4"] + args)
                if o.status != 0 { notes.append("rule \(args.dropFirst(2).joined(separator: " ")): \(o.stderr.trimmingCharacters(in: .whitespacesAndNewlines))") }
            }
        }
    }

    /// ipsets, then iptables-restore / ip6tables-restore, then the nft ruleset without the
    /// tables iptables-nft owns (they come from the iptables sources). A table iptables-save
    /// lists only as incompatible (an nft-native table with an iptables name) is loaded from
    /// the nft listing and left out of iptables-restore, whose empty built-in chains for it
    /// would otherwise be all that exists (the offline engine reads it the same way).
    func applyRulesets(_ host: RxrayHost.Host) throws {
        let rs = host.rulesets
        let incompatible = rs.iptablesIncompatibleTables
        if let s = rs.source(.ipset), !s.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            let o = try exec(dut, ["ipset", "restore", "-exist"], input: s.text)
            if o.status != 0 { throw VerifyEnvironmentError("ipset restore of \(s.file) failed: \(o.stderr.trimmingCharacters(in: .whitespacesAndNewlines))") }
        }
        for (fmt, tool) in [(RulesetSourceFormat.iptablesSave, "iptables-restore"), (.ip6tablesSave, "ip6tables-restore")] {
            guard let s = rs.source(fmt), s.text.contains("COMMIT") else { continue }
            let text = Self.iptablesTables(s.text, excluding: incompatible, family: fmt == .iptablesSave ? "ip" : "ip6")
            guard text.contains("COMMIT") else { continue }
            let o = try exec(dut, [tool], input: text)
            if o.status != 0 { throw VerifyEnvironmentError("\(tool) of \(s.file) failed: \(o.stderr.trimmingCharacters(in: .whitespacesAndNewlines))") }
        }
        var nftText: RulesetSource?
        if let t = rs.source(.nftText) { nftText = t } else if rs.source(.nftJSON) != nil {
            nftText = rs.shadowedTexts.values.first { $0.format == .nftText }
        }
        if let t = nftText {
            let excluded = (rs.source(.nftJSON)?.excludedTables ?? t.excludedTables).filter { !incompatible.contains($0) }
            let text = Self.nftTables(t.text, excluding: excluded)
            if !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                let o = try exec(dut, ["nft", "-f", "-"], input: text)
                if o.status != 0 { throw VerifyEnvironmentError("nft -f of \(t.file) failed: \(o.stderr.trimmingCharacters(in: .whitespacesAndNewlines))") }
            }
        } else if let j = rs.source(.nftJSON), !j.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            if !j.excludedTables.isEmpty { notes.append("nft JSON ruleset loaded whole (no text listing to leave out \(j.excludedTables.joined(separator: ", ")))") }
            let o = try exec(dut, ["nft", "-j", "-f", "-"], input: j.text)
            if o.status != 0 { throw VerifyEnvironmentError("nft -j -f of \(j.file) failed: \(o.stderr.trimmingCharacters(in: .whitespacesAndNewlines))") }
        }
    }

    /// `host` as this topology reproduced it, for analyzing what the live kernel saw over a
    /// replay's time: the neighbours installed on reproduced interfaces are PERMANENT there
    /// (the injector does not answer the DUT's probes), so they never age. Call after `build`.
    public func reproduced(_ host: RxrayHost.Host) -> RxrayHost.Host {
        var h = host
        for i in h.neighbours.indices where h.neighbours[i].isValid && peers[h.neighbours[i].dev] != nil {
            h.neighbours[i].state = ["PERMANENT"]
        }
        return h
    }

    /// The `*NAME` ... `COMMIT` blocks of an iptables-save file, minus the tables in
    /// `excluding` (`"ip filter"`) of `family` ("ip" or "ip6").
    public static func iptablesTables(_ text: String, excluding: Set<String>, family: String) -> String {
        var out = ""
        var keep = true
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("*") { keep = !excluding.contains("\(family) \(line.dropFirst().trimmingCharacters(in: .whitespaces))") }
            if keep { out += line + "\n" }
            if line.hasPrefix("COMMIT") { keep = true }
        }
        return out
    }

    /// The `table FAMILY NAME { ... }` blocks of an `nft list ruleset` listing, minus `excluding`
    /// (`"ip filter"`).
    static func nftTables(_ text: String, excluding: [String]) -> String {
        var out = ""
        var keep = true
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("table ") {
                let w = line.split(separator: " ")
                let id = w.count >= 3 ? "\(w[1]) \(w[2])" : ""
                keep = !excluding.contains(id)
            }
            if keep { out += line + "\n" }
            if line.hasPrefix("}") { keep = true }
        }
        return out
    }

    /// TCP listeners (listen with the snapshot's backlog, never accept) and bound UDP sockets,
    /// created inside the DUT.
    func bindSockets(_ host: RxrayHost.Host) throws {
        try NetnsSwitch.inside(dut) {
            for s in host.sockets {
                let v6 = s.local.isV6
                let fd = socket(v6 ? AF_INET6 : AF_INET, Int32(s.proto == .tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue), 0)
                guard fd >= 0 else { notes.append("socket for \(s.proto) \(s.local):\(s.port): \(String(cString: strerror(errno)))"); continue }
                var one: Int32 = 1
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(4))
                if let dev = s.interface {
                    _ = dev.withCString { setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, $0, socklen_t(dev.utf8.count + 1)) }
                }
                var ok: Int32
                if v6 {
                    var only: Int32 = 0
                    var addr = in6_addr()
                    switch s.local {
                    case .anyV6(let v6only): only = v6only ? 1 : 0
                    case .address(let a): only = 1; _ = inet_pton(AF_INET6, a.description, &addr)
                    default: break
                    }
                    setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &only, socklen_t(4))
                    var sa = sockaddr_in6()
                    sa.sin6_family = sa_family_t(AF_INET6)
                    sa.sin6_port = s.port.bigEndian
                    sa.sin6_addr = addr
                    ok = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
                } else {
                    var sa = sockaddr_in()
                    sa.sin_family = sa_family_t(AF_INET)
                    sa.sin_port = s.port.bigEndian
                    if case .address(let a) = s.local { _ = inet_pton(AF_INET, a.description, &sa.sin_addr) }
                    ok = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                }
                if ok != 0 {
                    notes.append("bind \(s.proto) \(s.local):\(s.port): \(String(cString: strerror(errno)))")
                    close(fd)
                    continue
                }
                if s.proto == .tcp && listen(fd, Int32(s.backlog ?? 128)) != 0 {
                    notes.append("listen \(s.local):\(s.port): \(String(cString: strerror(errno)))")
                }
                socketFDs.append(fd)
            }
        }
    }

    /// Kills every process in the namespaces (by pid), closes the sockets and deletes both
    /// namespaces. Safe to call more than once.
    public func teardown() {
        for fd in socketFDs { close(fd) }
        socketFDs.removeAll()
        if let h = helper, h.isRunning { kill(h.processIdentifier, SIGKILL); h.waitUntilExit() }
        helper = nil
        for ns in built.reversed() {
            if let pids = try? Tool.run(["ip", "netns", "pids", ns]).stdout {
                for p in pids.split(separator: "\n") { if let pid = Int32(p) { kill(pid, SIGKILL) } }
            }
            _ = try? Tool.run(["ip", "netns", "del", ns])
        }
        built.removeAll()
        LiveCleanup.unregister(self)
    }

    deinit { teardown() }
}

typealias RulesetSourceFormat = RulesetSource.Format

/// Namespaces to delete if the process is interrupted (SIGINT/SIGTERM): the handler only sets
/// a flag; the verifier's wait loops check it and unwind, running teardown.
public enum LiveCleanup {
    nonisolated(unsafe) static var live: [ObjectIdentifier: LiveTopology] = [:]
    nonisolated(unsafe) public static var interrupted: Int32 = 0

    static func register(_ t: LiveTopology) { live[ObjectIdentifier(t)] = t }
    static func unregister(_ t: LiveTopology) { live[ObjectIdentifier(t)] = nil }

    /// Installs SIGINT/SIGTERM handlers that set `interrupted`.
    public static func installSignalHandlers() {
        signal(SIGINT) { _ in LiveCleanup.interrupted = 1 }
        signal(SIGTERM) { _ in LiveCleanup.interrupted = 1 }
    }

    /// Tears down every live topology (used on the way out after an interruption or error).
    public static func teardownAll() {
        for t in Array(live.values) { t.teardown() }
    }
}
