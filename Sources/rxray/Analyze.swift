import ArgumentParser

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decodes a capture and annotates every frame with the receive path's decisions.")
    @Argument(help: "The pcap or pcapng file to read, or - for standard input.")
    var capture: String
    func run() throws {}
}
