import ArgumentParser
import Foundation
import RxrayHost
import RxrayRules

/// `rxray snapshot`: collects the host snapshot directory (DESIGN.md "Host snapshot") and
/// prints it as a YAML host profile (docs/HOST.md).
struct Snapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Collects a host snapshot directory from this host or a network namespace.",
        discussion: """
            Runs ip, iptables-save, nft, ipset, ss, sysctl, conntrack and ethtool and saves their \
            native output under fixed names. A missing or failing tool is recorded in MANIFEST \
            and never stops the collection. With --yaml the snapshot is printed as a host \
            profile; --from converts an existing snapshot directory instead of collecting.
            """)

    @Option(name: .shortAndLong, help: "The directory to write the snapshot into (created if needed).")
    var output: String?

    @Option(help: "Collect inside this named network namespace (as `ip netns exec NAME`).")
    var netns: String?

    @Flag(help: "Print the snapshot as a YAML host profile on standard output.")
    var yaml = false

    @Option(help: "Convert this snapshot directory (with --yaml) instead of collecting.")
    var from: String?

    @Flag(help: "Load rules using constructs rxray does not model as never matching.")
    var lenient = false

    @Flag(help: "Leave the collection date out of MANIFEST.")
    var noDate = false

    func validate() throws {
        if from != nil {
            guard yaml else { throw ValidationError("--from converts a snapshot directory; give --yaml too.") }
            guard output == nil, netns == nil else { throw ValidationError("--from cannot be combined with -o or --netns.") }
        } else if output == nil && !yaml {
            throw ValidationError("Give -o DIR for the snapshot directory, or --yaml to print a profile.")
        }
    }

    func run() throws {
        do {
            if let from {
                print(HostProfile.yaml(for: try HostLoader.loadDirectory(from, lenient: lenient), comment: "rxray host profile converted from \(from)"), terminator: "")
                return
            }
            var dir = output
            var temporary: String? = nil
            if dir == nil {
                let t = FileManager.default.temporaryDirectory.appendingPathComponent("rxray-snapshot-\(getpid())").path
                temporary = t; dir = t
            }
            defer { if let temporary { try? FileManager.default.removeItem(atPath: temporary) } }
            try SnapshotCollector(netns: netns, recordDate: !noDate).collect(into: dir!)
            if yaml {
                let what = netns.map { "network namespace \($0)" } ?? "this host"
                print(HostProfile.yaml(for: try HostLoader.loadDirectory(dir!, lenient: lenient), comment: "rxray host profile of \(what)"), terminator: "")
            }
        } catch let e as InputError {
            FileHandle.standardError.write(Data("rxray: \(e)\n".utf8))
            throw ExitCode(2)
        } catch let e as UnsupportedRulesError {
            FileHandle.standardError.write(Data("rxray: \(e)\n".utf8))
            throw ExitCode(2)
        }
    }
}
