import ArgumentParser

/// `rxray snapshot`: owned by the host-model work; replaced there.
struct Snapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Collects a host snapshot directory from this host or a network namespace.")
    func run() throws { throw ValidationError("snapshot is being built") }
}
