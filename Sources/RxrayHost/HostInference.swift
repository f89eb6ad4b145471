import RxrayDecode

/// What rxray needs to know about one decoded frame to guess the receiving host. The CLI fills
/// it from the decoder; it is deliberately plain so the host model does not depend on the
/// decoder's views.
public struct FrameFacts: Sendable {
    /// Capture timestamp in nanoseconds.
    public var timestamp: UInt64
    public var srcMAC: MACAddress?
    public var dstMAC: MACAddress?
    public var srcIP: IPAddress?
    public var dstIP: IPAddress?
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6), nil when not IP.
    public var l4Protocol: UInt8?
    public var srcPort: UInt16?
    public var dstPort: UInt16?
    /// TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10).
    public var tcpFlags: UInt8?
    /// Length of the IP packet (header and payload), when known.
    public var ipLength: Int?

    public init(timestamp: UInt64 = 0, srcMAC: MACAddress? = nil, dstMAC: MACAddress? = nil, srcIP: IPAddress? = nil,
                dstIP: IPAddress? = nil, l4Protocol: UInt8? = nil, srcPort: UInt16? = nil, dstPort: UInt16? = nil,
                tcpFlags: UInt8? = nil, ipLength: Int? = nil) {
        self.timestamp = timestamp; self.srcMAC = srcMAC; self.dstMAC = dstMAC; self.srcIP = srcIP; self.dstIP = dstIP
        self.l4Protocol = l4Protocol; self.srcPort = srcPort; self.dstPort = dstPort; self.tcpFlags = tcpFlags
        self.ipLength = ipLength
    }
}

/// A host guessed from a capture, and its profile text so the CLI can show what it assumed.
public struct InferredHost: Sendable {
    public var host: Host
    public var yaml: String
}

extension HostLoader {
    /// Guesses the receiving host from the traffic itself (used when no `--host` is given).
    ///
    /// - The unicast MAC that receives the most frames becomes `eth0`'s MAC; the IPv4/IPv6
    ///   addresses that MAC receives and also sends from become its addresses (the most
    ///   received one when it never sends), as /24 (IPv4) or /64 (IPv6) — the capture cannot
    ///   show the real prefix.
    /// - A TCP port that answers a SYN with SYN-ACK becomes a listener (backlog 4096, the
    ///   default `somaxconn` cap); a UDP port that sends back to a peer that sent to it becomes
    ///   a bound socket. Listeners bind the wildcard of their family.
    /// - The peer MAC sending the most frames from off-link addresses becomes the default
    ///   gateway; its address is an on-link address that MAC used, else the prefix's first host.
    /// - MTU: 1500, or the largest IP packet seen when larger. No firewall rules.
    ///
    /// - Complexity: O(frames) time, memory bounded by the distinct addresses and ports seen.
    public static func infer<S: Sequence>(from frames: S) -> InferredHost where S.Element == FrameFacts {
        var rxByMAC: [MACAddress: Int] = [:]
        var rxByMACIP: [MACAddress: [IPAddress: Int]] = [:]
        var txByMACIP: [MACAddress: Set<IPAddress>] = [:]
        var synTo: Set<PortKey> = []       // (ip, port) that received a SYN
        var synAckFrom: Set<PortKey> = []  // (ip, port) that sent SYN-ACK
        var udpTo: Set<PortKey> = []
        var udpFrom: Set<PortKey> = []
        var srcIPsByMAC: [MACAddress: [IPAddress: Int]] = [:]
        var maxLen = 0
        var count = 0
        for f in frames {
            count += 1
            if let l = f.ipLength { maxLen = max(maxLen, l) }
            if let d = f.dstMAC, !d.isMulticast {
                rxByMAC[d, default: 0] += 1
                if let ip = f.dstIP, isUnicast(ip) { rxByMACIP[d, default: [:]][ip, default: 0] += 1 }
            }
            if let s = f.srcMAC, let ip = f.srcIP, isUnicast(ip) {
                txByMACIP[s, default: []].insert(ip)
                srcIPsByMAC[s, default: [:]][ip, default: 0] += 1
            }
            if f.l4Protocol == 6, let flags = f.tcpFlags {
                if flags & 0x12 == 0x02, let ip = f.dstIP, let p = f.dstPort { synTo.insert(PortKey(ip: ip, port: p)) }
                if flags & 0x12 == 0x12, let ip = f.srcIP, let p = f.srcPort { synAckFrom.insert(PortKey(ip: ip, port: p)) }
            }
            if f.l4Protocol == 17 {
                if let ip = f.dstIP, let p = f.dstPort { udpTo.insert(PortKey(ip: ip, port: p)) }
                if let ip = f.srcIP, let p = f.srcPort { udpFrom.insert(PortKey(ip: ip, port: p)) }
            }
        }

        var interfaces = [KernelDefaults.loopback()]
        var routes4: [Route] = [], routes6: [Route] = []
        var neighbours: [Neighbour] = []
        var sockets: [Socket] = []
        var notes: [String] = ["inferred from \(count) frame(s); no firewall rules"]

        // Deterministic choice: most frames, then lowest MAC value.
        let localMAC = rxByMAC.max { a, b in a.value != b.value ? a.value < b.value : a.key.value > b.key.value }?.key
        if let mac = localMAC {
            let received = rxByMACIP[mac] ?? [:]
            let sent = txByMACIP[mac] ?? []
            var locals = received.keys.filter { sent.contains($0) }
            if locals.isEmpty, let top = received.max(by: { a, b in a.value != b.value ? a.value < b.value : order(a.key, b.key) > 0 }) {
                locals = [top.key]
            }
            locals.sort { order($0, $1) < 0 }
            let addrs = locals.map { a in
                InterfaceAddress(address: a, prefixLength: a.isV4 ? 24 : 64, scope: HostProfile.defaultScope(a), label: a.isV4 ? "eth0" : nil)
            }
            let eth0 = Interface(name: "eth0", index: 2, mac: mac, mtu: max(1500, maxLen), kind: .ethernet, addresses: addrs)
            interfaces.append(eth0)
            notes.append("eth0 \(mac): the destination MAC of most frames")

            // Gateway: the peer MAC sending most frames from off-link sources.
            let prefixes = addrs.map(\.prefix)
            var offlink: [MACAddress: Int] = [:]
            for (peer, ips) in srcIPsByMAC where peer != mac {
                for (ip, n) in ips where !prefixes.contains(where: { $0.contains(ip) }) { offlink[peer, default: 0] += n }
            }
            if let gw = offlink.max(by: { a, b in a.value != b.value ? a.value < b.value : a.key.value > b.key.value })?.key {
                for fam4 in [true, false] {
                    guard let local = addrs.first(where: { $0.address.isV4 == fam4 && $0.scope == .global }) else { continue }
                    let onlink = (srcIPsByMAC[gw] ?? [:]).keys.filter { local.prefix.contains($0) }.sorted { order($0, $1) < 0 }.first
                    let gwIP = onlink ?? firstHost(local.prefix, avoiding: local.address)
                    let r = Route(destination: IPPrefix(address: fam4 ? .v4(.any) : .v6(.any), length: 0), table: RouteTable.main,
                                  metric: fam4 ? 0 : 1024, gateway: gwIP, dev: "eth0", pref: fam4 ? nil : "medium")
                    if fam4 { routes4.append(r) } else { routes6.append(r) }
                    neighbours.append(Neighbour(address: gwIP, dev: "eth0", lladdr: gw, state: ["REACHABLE"]))
                }
                notes.append("default gateway \(gw): the peer MAC of most off-link traffic")
            }

            let localSet = Set(locals)
            var seen: Set<String> = []
            for k in synAckFrom.sorted(by: PortKey.less) where synTo.contains(k) && localSet.contains(k.ip) {
                let local: Socket.LocalAddress = k.ip.isV4 ? .anyV4 : .anyV6(v6only: false)
                let key = "tcp \(local) \(k.port)"
                if seen.insert(key).inserted { sockets.append(Socket(proto: .tcp, local: local, port: k.port, backlog: 4096)) }
            }
            for k in udpFrom.sorted(by: PortKey.less) where udpTo.contains(k) && localSet.contains(k.ip) {
                let local: Socket.LocalAddress = k.ip.isV4 ? .anyV4 : .anyV6(v6only: false)
                let key = "udp \(local) \(k.port)"
                if seen.insert(key).inserted { sockets.append(Socket(proto: .udp, local: local, port: k.port)) }
            }
        } else {
            notes.append("no unicast frames: only the loopback device is assumed")
        }

        var h = Host(interfaces: interfaces, routes4: KernelDefaults.routes4(for: interfaces) + routes4,
                     routes6: KernelDefaults.routes6(for: interfaces) + routes6, rules4: KernelDefaults.rules4,
                     rules6: KernelDefaults.rules6, neighbours: neighbours, sockets: sockets,
                     source: HostSource(kind: .inferred))
        h = finish(h, given: [.links, .addresses, .routes4, .routes6, .neighbours, .sockets], deriveRoutes4: false, deriveRoutes6: false)
        let yaml = HostProfile.yaml(for: h, comment: notes.joined(separator: "\n"))
        return InferredHost(host: h, yaml: yaml)
    }

    struct PortKey: Hashable {
        var ip: IPAddress
        var port: UInt16
        static func less(_ a: PortKey, _ b: PortKey) -> Bool {
            let o = order(a.ip, b.ip)
            return o != 0 ? o < 0 : a.port < b.port
        }
    }

    static func isUnicast(_ ip: IPAddress) -> Bool {
        switch ip {
        case .v4(let a): return !a.isMulticast && !a.isLimitedBroadcast && !a.isZeronet
        case .v6(let a): return !a.isMulticast && !a.isUnspecified
        }
    }

    /// Total order on addresses (IPv4 before IPv6): -1, 0, 1.
    static func order(_ a: IPAddress, _ b: IPAddress) -> Int {
        let ka = addressKey(a), kb = addressKey(b)
        let fa = a.isV4 ? 0 : 1, fb = b.isV4 ? 0 : 1
        if fa != fb { return fa < fb ? -1 : 1 }
        if ka.0 != kb.0 { return ka.0 < kb.0 ? -1 : 1 }
        if ka.1 != kb.1 { return ka.1 < kb.1 ? -1 : 1 }
        return 0
    }

    static func firstHost(_ p: IPPrefix, avoiding: IPAddress) -> IPAddress {
        switch p.address {
        case .v4(let a):
            let mask: UInt32 = p.length == 0 ? 0 : ~(UInt32.max >> UInt32(p.length))
            var c = IPAddress.v4(IPv4Address((a.value & mask) + 1))
            if c == avoiding { c = .v4(IPv4Address((a.value & mask) + 2)) }
            return c
        case .v6(let a):
            let m = KernelDefaults.mask6(a, p.length)
            var c = IPAddress.v6(IPv6Address(high: m.high, low: m.low + 1))
            if c == avoiding { c = .v6(IPv6Address(high: m.high, low: m.low + 2)) }
            return c
        }
    }
}
