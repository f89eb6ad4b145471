import Foundation
import RxrayRules

/// Collects a host snapshot directory (see DESIGN.md "Host snapshot") from the live host or a
/// named network namespace by running the standard tools and saving their native output.
///
/// Every command's argv, exit status and stderr go to `MANIFEST` in the directory. A tool that
/// is missing or fails is recorded there and never stops the collection: the loader then takes
/// the kernel's defaults for that part.
public struct SnapshotCollector {
    /// One file of the snapshot and the command that produces it.
    public struct Part: Sendable {
        public var file: String
        public var argv: [String]
        public init(file: String, argv: [String]) { self.file = file; self.argv = argv }
    }

    /// The contract files and rxray's single-command extras, in the order they are collected.
    public static let parts: [Part] = [
        Part(file: SnapshotFile.ipLink, argv: ["ip", "-j", "-d", "link", "show"]),
        Part(file: SnapshotFile.ipAddr, argv: ["ip", "-j", "addr", "show"]),
        Part(file: SnapshotFile.ipRoute, argv: ["ip", "-j", "route", "show", "table", "all"]),
        Part(file: SnapshotFile.ip6Route, argv: ["ip", "-j", "-6", "route", "show", "table", "all"]),
        Part(file: SnapshotFile.ipRule, argv: ["ip", "-j", "rule", "show"]),
        Part(file: SnapshotFile.ip6Rule, argv: ["ip", "-j", "-6", "rule", "show"]),
        Part(file: SnapshotFile.ipNeigh, argv: ["ip", "-j", "neigh", "show"]),
        Part(file: SnapshotFile.iptablesSave, argv: ["iptables-save"]),
        Part(file: SnapshotFile.ip6tablesSave, argv: ["ip6tables-save"]),
        Part(file: SnapshotFile.nftText, argv: ["nft", "list", "ruleset"]),
        Part(file: SnapshotFile.nftJSON, argv: ["nft", "-j", "list", "ruleset"]),
        Part(file: SnapshotFile.ipset, argv: ["ipset", "save"]),
        Part(file: SnapshotFile.sockets, argv: ["ss", "-H", "-tuln"]),
        Part(file: SnapshotFile.sysctl, argv: ["sysctl", "-a"]),
        Part(file: SnapshotFile.conntrack, argv: ["conntrack", "-L"]),
        Part(file: SnapshotFile.kernelRelease, argv: ["uname", "-r"]),
        Part(file: SnapshotFile.udpConnected, argv: ["ss", "-H", "-uan", "state", "established"]),
        Part(file: SnapshotFile.ipMaddr, argv: ["ip", "-j", "maddr", "show"]),
    ]

    /// sysctl keys left out of `sysctl.txt`: secrets regenerated at random per boot or per
    /// namespace, which would make every snapshot differ and leak keys.
    public static let omittedSysctls: Set<String> = ["net.ipv4.tcp_fastopen_key", "net.core.netdev_rss_key"]

    public var netns: String?
    /// Written into MANIFEST only (never into the contract files).
    public var recordDate: Bool

    public init(netns: String? = nil, recordDate: Bool = true) {
        self.netns = netns
        self.recordDate = recordDate
    }

    /// What one command did.
    public struct Outcome: Sendable {
        public var file: String
        public var command: String
        public var status: Int32
        public var stderr: String
        public var written: Bool
    }

    /// Runs every command and writes the directory (created if needed).
    /// - Throws: `InputError` when the directory cannot be written or the namespace does not exist.
    @discardableResult
    public func collect(into dir: String) throws -> [Outcome] {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: dir, isDirectory: &isDir) {
            guard isDir.boolValue else { throw HostError.input(dir, "exists and is not a directory") }
        } else {
            do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                throw HostError.input(dir, "cannot create directory: \(error.localizedDescription)")
            }
        }
        if let netns {
            let probe = run(["true"])
            if probe.status != 0 {
                throw HostError.input("--netns \(netns)", "cannot enter network namespace: "
                    + String(decoding: probe.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        var outcomes: [Outcome] = []
        var interfaceNames: [String] = []
        for part in Self.parts {
            let r = run(part.argv)
            var out = r.stdout
            if part.file == SnapshotFile.sysctl {
                out = Self.filterSysctl(out)
            }
            if part.file == SnapshotFile.iptablesSave || part.file == SnapshotFile.ip6tablesSave {
                out = Self.stripSaveDates(out)
            }
            if part.file == SnapshotFile.ipset {
                out = Self.stripIpsetInitval(out)
            }
            let written = r.status == 0 || !out.isEmpty
            if written {
                try write(out, to: dir + "/" + part.file)
            } else {
                try? fm.removeItem(atPath: dir + "/" + part.file)
            }
            if part.file == SnapshotFile.ipLink, r.status == 0 {
                interfaceNames = Self.interfaceNames(fromLinkJSON: out)
            }
            outcomes.append(Outcome(file: part.file, command: part.argv.joined(separator: " "), status: r.status,
                                    stderr: String(decoding: r.stderr, as: UTF8.self), written: written))
        }
        // Optional extra: per-interface offload features (`ethtool -k`), concatenated.
        var features = Data()
        var anyFeature = false
        for name in interfaceNames {
            let argv = ["ethtool", "-k", name]
            let r = run(argv)
            if r.status == 0 { features.append(r.stdout); anyFeature = true }
            outcomes.append(Outcome(file: SnapshotFile.ethtoolFeatures, command: argv.joined(separator: " "), status: r.status,
                                    stderr: String(decoding: r.stderr, as: UTF8.self), written: r.status == 0))
        }
        if anyFeature { try write(features, to: dir + "/" + SnapshotFile.ethtoolFeatures) }
        else { try? fm.removeItem(atPath: dir + "/" + SnapshotFile.ethtoolFeatures) }

        try write(Data(manifest(outcomes).utf8), to: dir + "/" + SnapshotFile.manifest)
        return outcomes
    }

    func manifest(_ outcomes: [Outcome]) -> String {
        var m = "# rxray host snapshot: one block per command run; informational, never compared by tests.\n"
        m += "rxray-snapshot: 1\n"
        if let netns { m += "netns: \(netns)\n" }
        if recordDate {
            let f = ISO8601DateFormatter()
            m += "date: \(f.string(from: Date()))\n"
        }
        m += "omitted-sysctls: \(Self.omittedSysctls.sorted().joined(separator: " "))\n"
        for o in outcomes {
            m += "\n[\(o.file)]\n"
            m += "command: \(o.command)\n"
            m += "exit: \(o.status)\n"
            m += "written: \(o.written ? "yes" : "no")\n"
            let err = o.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            if !err.isEmpty {
                for l in err.split(separator: "\n", omittingEmptySubsequences: false) { m += "stderr: \(l)\n" }
            }
        }
        return m
    }

    static func filterSysctl(_ data: Data) -> Data {
        let text = String(decoding: data, as: UTF8.self)
        var out = ""
        for line in text.split(separator: "\n") where line.hasPrefix("net.") {
            let key = line.split(separator: "=", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if omittedSysctls.contains(key) { continue }
            out += line
            out += "\n"
        }
        return Data(out.utf8)
    }

    /// Drops the wall-clock date from iptables-save's `# Generated by ... on DATE` and
    /// `# Completed on DATE` comment lines, so equal rulesets give equal files.
    static func stripSaveDates(_ data: Data) -> Data {
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            guard line.hasPrefix("# Generated by ") || line.hasPrefix("# Completed on "),
                  let r = line.range(of: " on ", options: .backwards) else { return line }
            return line[..<r.lowerBound]
        }
        return Data(lines.joined(separator: "\n").utf8)
    }

    /// Drops `initval 0x...` (a random hash seed) from `ipset save` lines.
    static func stripIpsetInitval(_ data: Data) -> Data {
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard line.hasPrefix("create "), let r = line.range(of: " initval ") else { return String(line) }
            let rest = line[r.upperBound...]
            let end = rest.firstIndex(of: " ") ?? rest.endIndex
            return String(line[..<r.lowerBound] + rest[end...])
        }
        return Data(lines.joined(separator: "\n").utf8)
    }

    static func interfaceNames(fromLinkJSON data: Data) -> [String] {
        guard let arr = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return [] }
        return arr.compactMap { $0["ifname"] as? String }
    }

    func write(_ data: Data, to path: String) throws {
        do { try data.write(to: URL(fileURLWithPath: path)) } catch {
            throw HostError.input(path, "cannot write: \(error.localizedDescription)")
        }
    }

    struct RunResult { var status: Int32; var stdout: Data; var stderr: Data }

    /// Runs argv (inside the namespace when set) via /usr/bin/env so PATH is searched.
    /// Output goes to temporary files, so large outputs cannot deadlock on pipes.
    func run(_ argv: [String]) -> RunResult {
        var full = argv
        if let netns { full = ["ip", "netns", "exec", netns] + argv }
        let fm = FileManager.default
        let tmp = fm.temporaryDirectory.appendingPathComponent("rxray-snap-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let outURL = tmp.appendingPathExtension("out"), errURL = tmp.appendingPathExtension("err")
        fm.createFile(atPath: outURL.path, contents: nil)
        fm.createFile(atPath: errURL.path, contents: nil)
        defer { try? fm.removeItem(at: outURL); try? fm.removeItem(at: errURL) }
        guard let outH = try? FileHandle(forWritingTo: outURL), let errH = try? FileHandle(forWritingTo: errURL) else {
            return RunResult(status: 127, stdout: Data(), stderr: Data("cannot create temporary files".utf8))
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = full
        p.standardOutput = outH
        p.standardError = errH
        p.standardInput = FileHandle.nullDevice
        var env = ProcessInfo.processInfo.environment
        env["LC_ALL"] = "C"
        p.environment = env
        do { try p.run() } catch {
            return RunResult(status: 127, stdout: Data(), stderr: Data("cannot run \(full[0]): \(error.localizedDescription)".utf8))
        }
        p.waitUntilExit()
        try? outH.close(); try? errH.close()
        let out = (try? Data(contentsOf: outURL)) ?? Data()
        let err = (try? Data(contentsOf: errURL)) ?? Data()
        return RunResult(status: p.terminationStatus, stdout: out, stderr: err)
    }
}

/// The names of the snapshot directory's files (a contract: DESIGN.md "Host snapshot").
public enum SnapshotFile {
    public static let ipLink = "ip-link.json"
    public static let ipAddr = "ip-addr.json"
    public static let ipRoute = "ip-route.json"
    public static let ip6Route = "ip6-route.json"
    public static let ipRule = "ip-rule.json"
    public static let ip6Rule = "ip6-rule.json"
    public static let ipNeigh = "ip-neigh.json"
    public static let iptablesSave = "iptables-save.txt"
    public static let ip6tablesSave = "ip6tables-save.txt"
    public static let nftText = "nft-ruleset.txt"
    public static let nftJSON = "nft-ruleset.json"
    public static let ipset = "ipset.txt"
    public static let sockets = "sockets.txt"
    public static let sysctl = "sysctl.txt"
    public static let conntrack = "conntrack.txt"
    /// `uname -r` (rxray extra).
    public static let kernelRelease = "kernel-release.txt"
    /// `ss -H -uan state established`: connected UDP sockets, which `ss -l` omits (rxray extra, optional).
    public static let udpConnected = "sockets-udp-connected.txt"
    /// `ip -j maddr show`: joined multicast groups per interface (rxray extra, optional).
    public static let ipMaddr = "ip-maddr.json"
    /// Concatenated `ethtool -k IFACE` outputs (rxray extra, optional).
    public static let ethtoolFeatures = "ethtool-features.txt"
    public static let manifest = "MANIFEST"
}
