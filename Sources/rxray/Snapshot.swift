import ArgumentParser
import Foundation
import RxrayHost
import RxrayRules

/// `rxray snapshot`: collects the host snapshot directory (DESIGN.md "Host snapshot").
struct Snapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Collects a host snapshot directory from this host or a network namespace.",
        discussion: """
            Runs ip, iptables-save, nft, ipset, ss, sysctl, conntrack and ethtool and saves their \
            native output under fixed names. A missing or failing tool is recorded in MANIFEST \
            and never stops the collection.
            """)

    @Option(name: .shortAndLong, help: "The directory to write the snapshot into (created if needed).")
    var output: String?

    @Option(help: "Collect inside this named network namespace (as `ip netns exec NAME`).")
    var netns: String?

    @Flag(help: "Leave the collection date out of MANIFEST.")
    var noDate = false

    func validate() throws {
        if output == nil { throw ValidationError("Give -o DIR for the snapshot directory.") }
    }

    func run() throws {
        guard let output else { return }
        do {
            try SnapshotCollector(netns: netns, recordDate: !noDate).collect(into: output)
        } catch let e as InputError {
            FileHandle.standardError.write(Data("rxray: \(e)\n".utf8))
            throw ExitCode(2)
        }
    }
}
