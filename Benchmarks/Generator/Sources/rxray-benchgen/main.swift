#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let usage = """
    usage: rxray-benchgen [--frames N] [--pcap FILE] [--iptables-host DIR] [--nft-host DIR]
                          [--rules N] [--services N] [--seed N]

    Writes the benchmark's traffic as a pcap (nanosecond timestamps, Ethernet) and the host
    snapshot directories it is analysed against: one with a --rules-rule iptables ruleset
    (default 1000), one with a kube-proxy nftables ruleset of --services services (default 2000).
    Same arguments, same bytes.
    """

func fail(_ s: String) -> Never {
    fputs("rxray-benchgen: \(s)\n", stderr)
    exit(2)
}

var frames = 2_000_000
var pcapPath: String?
var iptHost: String?
var nftHost: String?
var rules = 1_000
var services = 2_000
var seed: UInt64 = 20_240_101

var args = Array(CommandLine.arguments.dropFirst())
func value(_ name: String) -> String {
    guard !args.isEmpty else { fail("\(name) needs a value") }
    return args.removeFirst()
}
func number(_ name: String) -> Int {
    let v = value(name)
    guard let n = Int(String(v.filter { $0 != "_" })), n >= 0 else { fail("\(name): not a count: \(v)") }
    return n
}
while !args.isEmpty {
    let a = args.removeFirst()
    switch a {
    case "--frames": frames = number(a)
    case "--pcap": pcapPath = value(a)
    case "--iptables-host": iptHost = value(a)
    case "--nft-host": nftHost = value(a)
    case "--rules": rules = number(a)
    case "--services": services = max(1, number(a))
    case "--seed": seed = UInt64(number(a))
    case "-h", "--help": print(usage); exit(0)
    default: fail("unknown argument \(a)\n\(usage)")
    }
}
if pcapPath == nil && iptHost == nil && nftHost == nil { fail("nothing to write\n\(usage)") }

/// `v` with `digits` decimals (no Foundation here).
func fixed(_ v: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let n = Int((v * scale).rounded())
    let whole = n / Int(scale), frac = n % Int(scale)
    var f = String(frac)
    while f.count < digits { f = "0" + f }
    return digits == 0 ? String(whole) : "\(whole).\(f)"
}

func seconds(since t0: timespec) -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec - t0.tv_sec) + Double(t.tv_nsec - t0.tv_nsec) / 1e9
}

do {
    if let dir = iptHost {
        try Hosts.writeCommon(dir)
        let (text, n) = Hosts.iptablesSave(rules: rules, services: services)
        try Hosts.write(text, to: dir + "/iptables-save.txt")
        print("host \(dir): iptables-save.txt with \(n) rules")
    }
    if let dir = nftHost {
        try Hosts.writeCommon(dir)
        let (text, st) = Kube.ruleset(services: services)
        try Hosts.write(text, to: dir + "/nft-ruleset.txt")
        print("host \(dir): nft-ruleset.txt (kube-proxy) with \(st.services) services, \(st.endpoints) endpoints, "
              + "\(st.chains) chains, \(st.rules) rules, \(st.elements) set/map elements")
    }
    if let path = pcapPath {
        var t0 = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t0)
        let w = try PcapWriter(path: path)
        let traffic = Traffic(writer: w, seed: seed, services: services)
        traffic.run(frames: frames)
        w.close()
        let dt = seconds(since: t0)
        let mb = w.bytes / 1_000_000
        print("pcap \(path): \(w.frames) frames, \(mb) MB of frames, written in \(fixed(dt, 1)) s")
        var mix: [String] = []
        for k in Kind.allCases where traffic.perKind[k.rawValue] > 0 {
            let share = 100.0 * Double(traffic.perKind[k.rawValue]) / Double(max(1, w.frames))
            mix.append("\(k.label) \(fixed(share, 1))%")
        }
        print("mix: " + mix.joined(separator: ", "))
    }
} catch {
    fail("\(error)")
}
