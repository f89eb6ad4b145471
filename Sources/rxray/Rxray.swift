import ArgumentParser

@main
struct Rxray: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rxray",
        abstract: "Shows what the Linux receive path would do with each captured frame, and why.",
        discussion: """
            rxray reads a pcap or pcapng capture (or live traffic) and runs every frame through a \
            user-space model of the Linux receive path, against a snapshot of the receiving host. \
            Each frame is annotated with the decision of every stage, the kernel's drop reason, \
            the counters that move and the replies the kernel would send.
            """,
        version: RxrayVersion.string,
        subcommands: [Analyze.self, Snapshot.self]
    )
}

enum RxrayVersion {
    static let string = "0.1.0"
}
