import ArgumentParser
import Foundation

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
        subcommands: [Analyze.self, Snapshot.self, Live.self, Check.self, Diff.self, Verify.self]
    )

    /// Runs the command; usage and input errors print one line and exit 2 (not
    /// argument-parser's 64), as DESIGN.md's exit codes say.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help, --version: argument-parser's text on standard output.
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            if let exit = error as? ExitCode {
                Foundation.exit(exit.rawValue)
            }
            let message = fullMessage(for: error)
            FileHandleStderr.write((message.hasPrefix("Error: ") ? "rxray: " + message.dropFirst(7) : "rxray: " + message) + "\n")
            Foundation.exit(2)
        }
    }
}

enum RxrayVersion {
    static let string = "0.1.0"
}
