// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "rxray",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "rxray", targets: ["rxray"]),
        .library(name: "RxrayDecode", targets: ["RxrayDecode"]),
        .library(name: "RxrayHost", targets: ["RxrayHost"]),
        .library(name: "RxrayStack", targets: ["RxrayStack"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        // The one place that touches libpcap's C API.
        .systemLibrary(
            name: "CLinkedLibpcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"]), .brew(["libpcap"])]
        ),
        // Offline and live capture, BPF filters, pcapng writer. Only module importing libpcap.
        // Release builds of the per-frame targets (capture, stack, netfilter, output, CLI) run
        // without dynamic exclusivity checks: each access to a class property or captured
        // variable otherwise calls swift_beginAccess (debug builds and tests keep the checks).
        .target(name: "RxrayCapture", dependencies: ["CLinkedLibpcap", "RxrayDecode"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        // SSE2 byte scanning for the JSON escaper (header-only static inline C: Swift's SIMD
        // comparisons do not vectorise yet). Portable C fallback elsewhere.
        .target(name: "CRxrayText"),
        // The Internet checksum's ones'-complement sum: an add-with-carry chain on x86_64
        // (header-only static inline C with inline assembly), a portable C loop elsewhere.
        .target(name: "CRxrayChecksum"),
        // Non-allocating header views over frame bytes. Swift plus the CRxrayText scan and the
        // CRxrayChecksum sum, no libpcap, no root.
        .target(name: "RxrayDecode", dependencies: ["CRxrayText", "CRxrayChecksum"]),
        // Firewall rule sources parsed into syntax trees with file:line: iptables-save, nft
        // (text and JSON), ipset. Compiled into programs by the netfilter stage.
        .target(name: "RxrayRules", dependencies: ["RxrayDecode"]),
        // Host model: snapshot parsing, YAML profile, defaults, inferred host.
        .target(name: "RxrayHost", dependencies: ["RxrayDecode", "RxrayRules", "Yams"]),
        // Netfilter: rulesets compiled into flat programs, hook evaluation, conntrack, NAT.
        .target(name: "RxrayNetfilter", dependencies: ["RxrayDecode", "RxrayRules", "RxrayHost"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        // The receive-path stages, mirroring the kernel's functions.
        // Release builds without dynamic exclusivity checks, as RxrayNetfilter (debug builds keep them).
        .target(name: "RxrayStack", dependencies: ["RxrayDecode", "RxrayHost", "RxrayNetfilter"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        // Renderers: text, JSON lines, summary, annotated pcapng comments.
        .target(name: "RxrayOutput", dependencies: ["RxrayDecode", "RxrayHost", "RxrayStack"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        // Saved cases, expectations, configuration diffs and live verification against the kernel.
        .target(name: "RxrayVerify", dependencies: ["RxrayCapture", "RxrayDecode", "RxrayHost", "RxrayStack", "RxrayOutput"]),
        // The thin CLI.
        .executableTarget(
            name: "rxray",
            dependencies: [
                "RxrayCapture", "RxrayDecode", "RxrayRules", "RxrayHost", "RxrayStack", "RxrayOutput", "RxrayVerify",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        .testTarget(name: "RxrayDecodeTests", dependencies: ["RxrayDecode"]),
        .testTarget(name: "RxrayCaptureTests", dependencies: ["RxrayCapture", "RxrayDecode"]),
        .testTarget(name: "RxrayRulesTests", dependencies: ["RxrayRules", "RxrayDecode"]),
        .testTarget(name: "RxrayHostTests", dependencies: ["RxrayHost", "RxrayRules"]),
        .testTarget(name: "RxrayNetfilterTests", dependencies: ["RxrayNetfilter", "RxrayRules", "RxrayHost", "RxrayDecode"]),
        .testTarget(name: "RxrayStackTests", dependencies: ["RxrayStack", "RxrayHost", "RxrayDecode", "RxrayCapture"]),
        .testTarget(name: "RxrayCLITests", dependencies: ["RxrayOutput", "RxrayDecode"]),
        .testTarget(name: "RxrayVerifyTests", dependencies: ["RxrayVerify"]),
    ],
    swiftLanguageModes: [.v5]
)
