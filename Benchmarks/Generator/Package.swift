// swift-tools-version:6.1
// The benchmark's traffic and host generator: a separate package so that `make bench` can
// build it without touching the main package's targets. It depends on nothing: it writes a
// classic pcap (nanosecond timestamps, Ethernet) and host snapshot directories in the
// formats the real tools print.
import PackageDescription

let package = Package(
    name: "rxray-benchgen",
    products: [.executable(name: "rxray-benchgen", targets: ["rxray-benchgen"])],
    targets: [
        .executableTarget(
            name: "rxray-benchgen",
            swiftSettings: [.unsafeFlags(["-Ounchecked"])]
        )
    ],
    swiftLanguageModes: [.v5]
)
