import Foundation
import RxrayDecode
import RxrayRules

/// Loads a `Host` from a snapshot directory, a YAML profile, or the kernel's defaults.
public enum HostLoader {
    /// Loads `path`: a snapshot directory (any subset of the contract files) or a `.yaml`/`.yml`
    /// profile.
    /// - Parameter lenient: rules using constructs rxray does not model evaluate as never
    ///   matching (and are listed in `rulesets.unsupported`) instead of failing the load.
    /// - Throws: `InputError` (file, line, column, what was expected) or `UnsupportedRulesError`.
    public static func load(path: String, lenient: Bool = false) throws -> Host {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw InputError(file: path, "no such file or directory (expected a snapshot directory or a .yaml/.yml host profile)")
        }
        if isDir.boolValue { return try loadDirectory(path, lenient: lenient) }
        let lower = path.lowercased()
        guard lower.hasSuffix(".yaml") || lower.hasSuffix(".yml") else {
            throw InputError(file: path, "expected a snapshot directory (rxray snapshot -o DIR) or a .yaml/.yml host profile")
        }
        return try HostProfile.load(path: path, lenient: lenient)
    }

    /// The host rxray assumes when told nothing: a fresh namespace's loopback, the kernel's
    /// rules and routes for it, default sysctls, no sockets, no firewall rules.
    public static func defaultHost() -> Host {
        var h = Host(interfaces: [KernelDefaults.loopback()], source: HostSource(kind: .defaults))
        h = finish(h, given: [], deriveRoutes4: true, deriveRoutes6: true)
        h.defaultsApplied = HostPart.allCases
        return h
    }

    // MARK: Directory

    static func readFile(_ path: String) throws -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let d = FileManager.default.contents(atPath: path) else {
            throw InputError(file: path, "cannot read file")
        }
        return [UInt8](d)
    }

    static func isBlank(_ b: [UInt8]) -> Bool { b.allSatisfy { $0 == 32 || $0 == 10 || $0 == 9 || $0 == 13 } }

    /// Loads a snapshot directory. Missing (or empty) files take the kernel's defaults and are
    /// listed in `defaultsApplied`.
    public static func loadDirectory(_ dir: String, lenient: Bool = false) throws -> Host {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw InputError(file: dir, "not a snapshot directory (rxray snapshot -o DIR makes one)")
        }
        let base = dir.hasSuffix("/") ? String(dir.dropLast()) : dir
        func path(_ f: String) -> String { base + "/" + f }
        func read(_ f: String) throws -> [UInt8]? {
            guard let b = try readFile(path(f)), !isBlank(b) else { return nil }
            return b
        }
        var files: [HostPart: String] = [:]
        var given: Set<HostPart> = []

        // Interfaces and addresses.
        var interfaces: [Interface] = []
        if let b = try read(SnapshotFile.ipLink) {
            interfaces = try SnapshotParsers.links(file: path(SnapshotFile.ipLink), bytes: b)
            given.insert(.links); files[.links] = path(SnapshotFile.ipLink)
        }
        if let b = try read(SnapshotFile.ipAddr) {
            let list = try SnapshotParsers.addresses(file: path(SnapshotFile.ipAddr), bytes: b)
            for (itf, addrs) in list {
                if let i = interfaces.firstIndex(where: { $0.name == itf.name }) {
                    interfaces[i].addresses = addrs
                } else {
                    var n = itf; n.addresses = addrs; interfaces.append(n)
                }
            }
            given.insert(.addresses); files[.addresses] = path(SnapshotFile.ipAddr)
            if !given.contains(.links) { given.insert(.links); files[.links] = path(SnapshotFile.ipAddr) }
        }
        if interfaces.isEmpty { interfaces = [KernelDefaults.loopback()] }
        else if !given.contains(.addresses) {
            for i in interfaces.indices where interfaces[i].isLoopback { interfaces[i].addresses = KernelDefaults.loopback().addresses }
        }
        if let b = try read(SnapshotFile.ethtoolFeatures) {
            let feats = try SnapshotParsers.ethtoolFeatures(file: path(SnapshotFile.ethtoolFeatures), bytes: b)
            for i in interfaces.indices { if let gro = feats[interfaces[i].name]?["generic-receive-offload"] { interfaces[i].groEnabled = gro } }
            given.insert(.features); files[.features] = path(SnapshotFile.ethtoolFeatures)
        }

        // Routes.
        var routes4: [Route] = [], routes6: [Route] = []
        var have4 = false, have6 = false
        if let b = try read(SnapshotFile.ipRoute) {
            let r = try SnapshotParsers.routes(file: path(SnapshotFile.ipRoute), bytes: b)
            routes4 = r.v4; have4 = true
            given.insert(.routes4); files[.routes4] = path(SnapshotFile.ipRoute)
            if !r.v6.isEmpty { routes6 = r.v6; have6 = true; files[.routes6] = path(SnapshotFile.ipRoute) }
        }
        if let b = try read(SnapshotFile.ip6Route) {
            let r = try SnapshotParsers.routes(file: path(SnapshotFile.ip6Route), bytes: b)
            if !r.v4.isEmpty {
                throw InputError(file: path(SnapshotFile.ip6Route), "holds IPv4 routes (expected the output of `ip -j -6 route show table all`)")
            }
            routes6 = r.v6; have6 = true; files[.routes6] = path(SnapshotFile.ip6Route)
        }
        if have6 { given.insert(.routes6) }

        // Rules.
        var rules4 = KernelDefaults.rules4, rules6 = KernelDefaults.rules6
        if let b = try read(SnapshotFile.ipRule) {
            rules4 = try SnapshotParsers.rules(file: path(SnapshotFile.ipRule), bytes: b, v6: false)
            given.insert(.rules4); files[.rules4] = path(SnapshotFile.ipRule)
        }
        if let b = try read(SnapshotFile.ip6Rule) {
            rules6 = try SnapshotParsers.rules(file: path(SnapshotFile.ip6Rule), bytes: b, v6: true)
            given.insert(.rules6); files[.rules6] = path(SnapshotFile.ip6Rule)
        }

        var neighbours: [Neighbour] = []
        if let b = try read(SnapshotFile.ipNeigh) {
            neighbours = try SnapshotParsers.neighbours(file: path(SnapshotFile.ipNeigh), bytes: b)
            given.insert(.neighbours); files[.neighbours] = path(SnapshotFile.ipNeigh)
        }
        var sysctls = Sysctls()
        if let b = try read(SnapshotFile.sysctl) {
            sysctls = Sysctls(try SnapshotParsers.sysctls(file: path(SnapshotFile.sysctl), bytes: b))
            given.insert(.sysctls); files[.sysctls] = path(SnapshotFile.sysctl)
        }
        var sockets: [Socket] = []
        if let b = try readFile(path(SnapshotFile.sockets)) {
            // An empty sockets.txt is real data: nothing listens.
            sockets = try SnapshotParsers.sockets(file: path(SnapshotFile.sockets), bytes: b)
            given.insert(.sockets); files[.sockets] = path(SnapshotFile.sockets)
        }
        if let b = try readFile(path(SnapshotFile.udpConnected)) {
            sockets += try SnapshotParsers.connectedUDPSockets(file: path(SnapshotFile.udpConnected), bytes: b)
        }
        var groups: [MulticastMembership] = []
        if let b = try read(SnapshotFile.ipMaddr) {
            groups = try SnapshotParsers.multicastGroups(file: path(SnapshotFile.ipMaddr), bytes: b)
        }
        var conntrack: [ConntrackEntry] = []
        if let b = try readFile(path(SnapshotFile.conntrack)) {
            conntrack = try SnapshotParsers.conntrack(file: path(SnapshotFile.conntrack), bytes: b)
            given.insert(.conntrack); files[.conntrack] = path(SnapshotFile.conntrack)
        }
        var kernel: String? = nil
        if let b = try read(SnapshotFile.kernelRelease) {
            kernel = String(decoding: b, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        // Rulesets: raw texts, deduplicated, then parsed.
        var texts: [RulesetSource] = []
        let rsFiles: [(String, RulesetSource.Format)] = [
            (SnapshotFile.iptablesSave, .iptablesSave), (SnapshotFile.ip6tablesSave, .ip6tablesSave),
            (SnapshotFile.nftJSON, .nftJSON), (SnapshotFile.nftText, .nftText), (SnapshotFile.ipset, .ipset),
        ]
        var anyRulesetFile = false
        for (f, fmt) in rsFiles {
            guard let b = try readFile(path(f)) else { continue }
            anyRulesetFile = true
            if isBlank(b) { continue }
            texts.append(RulesetSource(format: fmt, file: path(f), text: String(decoding: b, as: UTF8.self)))
        }
        if anyRulesetFile { given.insert(.ruleset); files[.ruleset] = base }

        var h = Host(interfaces: interfaces, routes4: routes4, routes6: routes6, rules4: rules4, rules6: rules6,
                     neighbours: neighbours, sysctls: sysctls, sockets: sockets, multicastGroups: groups,
                     conntrack: conntrack, kernelRelease: kernel, source: HostSource(kind: .snapshot, path: dir, files: files))
        h.rulesets = try RulesetLoader.assemble(texts, lenient: lenient)
        return finish(h, given: given, deriveRoutes4: !have4, deriveRoutes6: !have6)
    }

    // MARK: Common finishing

    /// Fills what is missing with the kernel's own state, orders routes canonically and records
    /// which parts took defaults.
    static func finish(_ host: Host, given: Set<HostPart>, deriveRoutes4: Bool, deriveRoutes6: Bool) -> Host {
        var h = host
        h.interfaces.sort { $0.index < $1.index }
        if deriveRoutes4 { h.routes4 = KernelDefaults.routes4(for: h.interfaces) }
        if deriveRoutes6 { h.routes6 = KernelDefaults.routes6(for: h.interfaces) }
        h.routes4 = canonicalOrder(h.routes4)
        h.routes6 = canonicalOrder(h.routes6)
        h.rules4 = stableSorted(h.rules4) { $0.priority < $1.priority }
        h.rules6 = stableSorted(h.rules6) { $0.priority < $1.priority }
        // Sockets: TCP then UDP, by port, then binding (ss's own order depends on hash buckets).
        h.sockets = stableSorted(h.sockets) { a, b in
            if a.proto != b.proto { return a.proto == .tcp }
            if a.port != b.port { return a.port < b.port }
            let ka = a.local.description + "%" + (a.interface ?? "") + ">" + (a.peer.map { "\($0):\(a.peerPort)" } ?? "")
            let kb = b.local.description + "%" + (b.interface ?? "") + ">" + (b.peer.map { "\($0):\(b.peerPort)" } ?? "")
            return ka < kb
        }
        h.defaultsApplied = HostPart.allCases.filter { !given.contains($0) }
        return h
    }

    /// Routes ordered by table, then longest prefix first, then address, then metric; routes
    /// equal in all of these keep their input order (the kernel's insertion order).
    public static func canonicalOrder(_ routes: [Route]) -> [Route] {
        stableSorted(routes) { a, b in
            if a.table != b.table { return a.table > b.table }
            if a.destination.length != b.destination.length { return a.destination.length > b.destination.length }
            let ka = addressKey(a.destination.address), kb = addressKey(b.destination.address)
            if ka != kb { return ka.0 != kb.0 ? ka.0 < kb.0 : ka.1 < kb.1 }
            if a.metric != b.metric { return a.metric < b.metric }
            return false
        }
    }

    static func addressKey(_ a: IPAddress) -> (UInt64, UInt64) {
        switch a {
        case .v4(let v): return (0, UInt64(v.value))
        case .v6(let v): return (v.high, v.low)
        }
    }

    static func stableSorted<T>(_ xs: [T], by less: (T, T) -> Bool) -> [T] {
        xs.enumerated().sorted { a, b in
            if less(a.element, b.element) { return true }
            if less(b.element, a.element) { return false }
            return a.offset < b.offset
        }.map(\.element)
    }
}
