/// The benchmark's traffic mix: many concurrent sessions, each a small state machine that
/// writes one frame per step, interleaved at random (seeded: the same arguments always write
/// the same file). The capture is what a tap in front of the host sees arriving: frames into
/// eth0 from the client side, and, for forwarded flows, the replies arriving on eth1.

/// The benchmark host's addressing (shared with Hosts.swift). Same numbering as the recorded
/// fixtures: DUT eth0 02:..:10 192.0.2.1, eth1 02:..:11 198.51.100.1, peers 02:..:20 / 02:..:21.
enum Topology {
    static let dutMAC0 = MAC(0x10), dutMAC1 = MAC(0x11)
    static let peerMAC0 = MAC(0x20), peerMAC1 = MAC(0x21)
    static let dut4eth0: UInt32 = 0xC000_0201      // 192.0.2.1
    static let dut4eth1: UInt32 = 0xC633_6401      // 198.51.100.1
    static let gw4eth0: UInt32 = 0xC000_02FE       // 192.0.2.254 (clients behind it)
    static let gw4eth1: UInt32 = 0xC633_6402       // 198.51.100.2 (default route)
    static let clients4: UInt32 = 0x0A01_0000       // 10.1.0.0/16 (local services' clients)
    /// Clients of forwarded flows: outside the iptables host's masqueraded 10.0.0.0/9 (replies
    /// come back to the client's own address on both hosts), routed via eth0 (Hosts.swift).
    static let fwdClients4: UInt32 = 0x0AC8_0000    // 10.200.0.0/16
    static let scanners4: UInt32 = 0x0A42_0000      // 10.66.0.0/16
    static let remote4: UInt32 = 0xCB00_7100        // 203.0.113.0/24
    static let clusterIPs4: UInt32 = 0xAC1E_0000    // 172.30.0.0/16
    static let dut6eth0 = IP6(hi: 0x2001_0db8_0001_0000, lo: 1)             // 2001:db8:1::1
    static let clients6hi: UInt64 = 0x2001_0db8_0100_0000                   // 2001:db8:100::/48
    static let remote6hi: UInt64 = 0x2001_0db8_0003_0000                    // 2001:db8:3::/64
    /// Local listeners (sockets.txt): TCP 22, 80, 443 (v4 and v6), UDP 53 and 5000.
    static let tcpPorts: [UInt16] = [80, 443, 22]
    /// NodePorts served by the kube-proxy ruleset start here.
    static let nodePortBase: UInt16 = 30000

    /// The ClusterIP of service `i` (Hosts.swift writes the same).
    static func clusterIP(_ i: Int) -> UInt32 { clusterIPs4 | UInt32((i / 250) << 8) | UInt32(i % 250 + 1) }

    /// The services the traffic's service flows use, with the address of their one endpoint
    /// (the kube-proxy ruleset's numbering, Kube.swift): ClusterIP flows go to the first 100
    /// single-endpoint services (i % 4 == 0); NodePort flows to the services whose NodePort
    /// short-circuits clients in 10.0.0.0/8 without masquerading (i % 60 == 0). With one
    /// endpoint the kernel's choice is known, and the iptables host DNATs these same
    /// addresses (Hosts.swift), so one capture is valid for both hosts.
    static func serviceFlowTargets(services: Int) -> (cluster: [(service: Int, endpoint: UInt32)],
                                                      nodePort: [(service: Int, endpoint: UInt32)]) {
        var cluster: [(service: Int, endpoint: UInt32)] = [], nodePort: [(service: Int, endpoint: UInt32)] = []
        var counter = 0
        for i in 0..<services {
            let first = counter + 1
            counter += Kube.endpointCount(i)
            guard Kube.endpointCount(i) == 1 else { continue }
            if i % 4 == 0 && cluster.count < 100 { cluster.append((i, Kube.endpointAddress(first))) }
            if i % 60 == 0 && i < 2_000 { nodePort.append((i, Kube.endpointAddress(first))) }
        }
        return (cluster, nodePort)
    }
}

/// xorshift64*: fast, seeded, good enough for a traffic mix.
struct RNG {
    var s: UInt64
    init(seed: UInt64) { s = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    @inline(__always) mutating func next() -> UInt64 {
        s ^= s >> 12; s ^= s << 25; s ^= s >> 27
        return s &* 0x2545_F491_4F6C_DD1D
    }
    /// Uniform in 0..<n.
    @inline(__always) mutating func below(_ n: Int) -> Int { Int((next() >> 11) % UInt64(n)) }
    @inline(__always) mutating func range(_ lo: Int, _ hi: Int) -> Int { lo + below(hi - lo + 1) }
    @inline(__always) mutating func u32() -> UInt32 { UInt32(truncatingIfNeeded: next() >> 17) }
}

enum Kind: Int, CaseIterable {
    case tcpLocal, tcpForward, kubeService, synScan, dns, icmp, fragments, ipv6, arp
    var label: String {
        switch self {
        case .tcpLocal: return "tcp-local-bulk"
        case .tcpForward: return "tcp-forwarded-bulk"
        case .kubeService: return "tcp-to-services"
        case .synScan: return "syn-scan"
        case .dns: return "dns"
        case .icmp: return "icmp"
        case .fragments: return "ip-fragments"
        case .ipv6: return "ipv6"
        case .arp: return "arp"
        }
    }
}

final class Traffic {
    let w: PcapWriter
    var rng: RNG
    var now: UInt64 = 1_704_067_200_000_000_000   // 2024-01-01T00:00:00Z
    var ipID: UInt16 = 1
    var flows: UInt32 = 0
    var perKind = [Int](repeating: 0, count: Kind.allCases.count)
    let services: Int
    let targets: (cluster: [(service: Int, endpoint: UInt32)], nodePort: [(service: Int, endpoint: UInt32)])

    init(writer: PcapWriter, seed: UInt64, services: Int) {
        w = writer
        rng = RNG(seed: seed)
        self.services = max(1, services)
        targets = Topology.serviceFlowTargets(services: self.services)
    }

    /// Writes one frame of `kind` at the next timestamp (2–18 µs after the previous one).
    @inline(__always) func emit(_ kind: Kind, _ build: (UnsafeMutableRawPointer) -> Int) {
        now &+= UInt64(2_000 + rng.below(16_000))
        ipID &+= 1
        perKind[kind.rawValue] += 1
        w.frame(ts: now, build)
    }

    /// A fresh client address and source port (unique per flow for a long time).
    func nextClient4() -> (UInt32, UInt16) {
        flows &+= 1
        let host = flows % 65_000 + 2
        let port = UInt16(32_768 + (flows &* 7 &+ flows / 65_000) % 28_000)
        return (Topology.clients4 | (host & 0xffff), port)
    }

    /// A fresh client of a forwarded flow (10.200.0.0/16) and its source port.
    func nextForwardedClient4() -> (UInt32, UInt16) {
        let (c, p) = nextClient4()
        return (Topology.fwdClients4 | (c & 0xffff), p)
    }

    /// A service flow's destination (ClusterIP:80, or one in five the host's NodePort) and the
    /// endpoint that answers.
    func serviceTarget() -> (dst: UInt32, dport: UInt16, endpoint: UInt32) {
        if !targets.nodePort.isEmpty && rng.below(5) == 0 {
            let s = targets.nodePort[rng.below(targets.nodePort.count)]
            return (Topology.dut4eth0, Topology.nodePortBase + UInt16(s.service % 2_000), s.endpoint)
        }
        let s = targets.cluster[rng.below(targets.cluster.count)]
        return (Topology.clusterIP(s.service), 80, s.endpoint)
    }

    func newSession() -> Session {
        // Weights per session start, tuned so that frame shares over 2,000,000 frames are
        // roughly: local TCP 30%, forwarded TCP 30%, service (kube) flows 8%, scans 7%, DNS 8%,
        // ICMP 5%, fragments 4%, IPv6 6%, ARP 1% (the run prints the shares it reached).
        let r = rng.below(11_540)
        switch r {
        case ..<900: return TCPBulkLocal(self, v6: false)
        case ..<1_680: return TCPBulkForward(self)
        case ..<2_430: return TCPBulkForward(self, service: true)
        case ..<2_446: return SynScan(self)
        case ..<7_746: return DNSQuery(self)
        case ..<8_746: return Echo(self)
        case ..<10_416: return Fragmented(self)
        case ..<10_685: return rng.below(3) == 0 ? Echo6(self) : TCPBulkLocal(self, v6: true)
        default: return ARPWho(self)
        }
    }

    /// Writes exactly `frames` frames from a pool of concurrent sessions.
    func run(frames: Int, concurrency: Int = 1024) {
        var pool: [Session] = (0..<concurrency).map { _ in newSession() }
        while w.frames < frames {
            // A session waiting for its peer's answer (a round trip after the frame it answers)
            // is skipped for the next one that is ready.
            var i = rng.below(pool.count), tries = 0
            while pool[i].ready > now && tries < pool.count { i = i + 1 == pool.count ? 0 : i + 1; tries += 1 }
            if !pool[i].step(self) { pool[i] = newSession() }
        }
    }
}

class Session {
    /// The earliest capture time of the session's next frame: when it answers a frame that
    /// crossed the host (a reply, or an ACK of forwarded data), the peer cannot send it before
    /// that frame reached it and its answer came back.
    var ready: UInt64 = 0
    /// Marks the next frame as an answer: at least 150 µs (plus up to 250 µs) after now.
    @inline(__always) func awaitRoundTrip(_ t: Traffic) { ready = t.now &+ 150_000 &+ UInt64(t.rng.below(250_000)) }

    /// Writes the session's next frame; false when that was its last.
    func step(_ t: Traffic) -> Bool { fatalError("abstract") }
}

/// A client's upload to a local listener: handshake, bulk data, FIN, last ACK.
final class TCPBulkLocal: Session {
    let v6: Bool
    let client: Addr, server: Addr
    let sport: UInt16, dport: UInt16
    var seq: UInt32
    let serverISN: UInt32
    var segments: Int
    var phase = 0
    var ts: UInt32
    let mss: Int

    init(_ t: Traffic, v6: Bool) {
        self.v6 = v6
        let (c4, p) = t.nextClient4()
        if v6 {
            client = .v6(IP6(hi: Topology.clients6hi | UInt64(t.flows % 65_000), lo: UInt64(t.rng.u32() | 1)))
            server = .v6(Topology.dut6eth0)
            mss = 1428
        } else {
            client = .v4(c4)
            server = .v4(Topology.dut4eth0)
            mss = 1448
        }
        sport = p
        // IPv6 listeners: 80 and 443 only (sockets.txt).
        dport = Topology.tcpPorts[t.rng.below(8) < 6 || v6 ? t.rng.below(2) : 2]
        seq = t.rng.u32()
        serverISN = t.rng.u32()
        segments = t.rng.range(4, 60)
        ts = t.rng.u32() >> 2
    }

    override func step(_ t: Traffic) -> Bool {
        ts &+= 1
        let kind: Kind = v6 ? .ipv6 : .tcpLocal
        var flags = TCPFlags.ack, payload = 0, ack = serverISN &+ 1
        var more = true
        switch phase {
        case 0: flags = TCPFlags.syn; ack = 0
        case 1: break
        case 2:
            payload = segments == 1 ? t.rng.range(1, mss) : mss
            segments -= 1
            if segments == 0 || segments % 8 == 0 { flags |= TCPFlags.psh }
            if segments > 0 { phase -= 1 }
        // The host ACKs the FIN; its own FIN (and so the client's last ACK) depends on the
        // server application closing, which rxray does not model: the capture ends at the FIN.
        default: flags |= TCPFlags.fin; more = false
        }
        let s = seq
        t.emit(kind) { p in
            tcpFrame(p, dstMAC: Topology.dutMAC0, srcMAC: Topology.peerMAC0, src: client, dst: server, ipID: t.ipID,
                     ttl: 63, sport: sport, dport: dport, seq: s, ack: ack, flags: flags,
                     window: flags == TCPFlags.syn ? 64_240 : 502, tsval: ts, tsecr: flags == TCPFlags.syn ? 0 : 4_000_000, payload: payload)
        }
        seq = seq &+ UInt32(payload) &+ (flags & (TCPFlags.syn | TCPFlags.fin) != 0 ? 1 : 0)
        if phase == 0 { awaitRoundTrip(t) }    // the handshake's ACK answers the host's SYN-ACK
        phase += 1
        return more
    }
}

/// A client on eth0 downloading from a server behind eth1: both directions cross the host.
/// Also a client's short request to a Kubernetes service (`service:`): the client addresses
/// a ClusterIP (or a NodePort on the host's address), the host DNATs it to the service's one
/// endpoint behind eth1, and the endpoint's replies arrive from its own address, to be
/// un-DNAT'ed on the way back. Forwarded clients are outside the iptables host's masqueraded
/// 10.0.0.0/9, so the server replies to the client's own address on both hosts.
final class TCPBulkForward: Session {
    enum Dir { case c, s }
    let client: UInt32, server: UInt32, replyFrom: UInt32
    let sport: UInt16, dport: UInt16, replyPort: UInt16
    let kind: Kind
    var cseq: UInt32, sseq: UInt32
    var cts: UInt32, sts: UInt32
    var script: [(Dir, UInt8, Int)] = []
    var i = 0

    init(_ t: Traffic, service: Bool = false) {
        let (c, p) = t.nextForwardedClient4()
        client = c; sport = p
        let A = TCPFlags.ack, P = TCPFlags.psh, F = TCPFlags.fin
        var n: Int
        if service {
            kind = .kubeService
            let s = t.serviceTarget()
            server = s.dst; dport = s.dport; replyFrom = s.endpoint; replyPort = 80
            n = t.rng.range(1, 3)
        } else {
            kind = .tcpForward
            // Not 203.0.113.100-199: the kube-proxy host's external IPs (port 80 is a service there).
            let host = UInt32(t.rng.range(10, 149))
            server = Topology.remote4 | (host < 100 ? host : host + 100)
            dport = t.rng.below(4) == 0 ? 80 : 443
            replyFrom = server; replyPort = dport
            n = t.rng.range(4, 40)
        }
        cseq = t.rng.u32(); sseq = t.rng.u32()
        cts = t.rng.u32() >> 2; sts = t.rng.u32() >> 2
        super.init()
        script = [(.c, TCPFlags.syn, 0), (.s, TCPFlags.syn | A, 0), (.c, A, 0), (.c, P | A, t.rng.range(120, 600))]
        for k in 1...n {
            script.append((.s, k == n ? P | A : A, k == n ? t.rng.range(1, 1448) : 1448))
            if k % 2 == 0 || k == n { script.append((.c, A, 0)) }
        }
        script += [(.c, F | A, 0), (.s, F | A, 0), (.c, A, 0)]
    }

    override func step(_ t: Traffic) -> Bool {
        let (dir, flags, payload) = script[i]
        i += 1
        let fromClient = dir == .c
        let seq = fromClient ? cseq : sseq
        let ack: UInt32 = flags & TCPFlags.syn != 0 && fromClient ? 0 : (fromClient ? sseq : cseq)
        if fromClient { cts &+= 1 } else { sts &+= 1 }
        let tsval = fromClient ? cts : sts, tsecr = flags == TCPFlags.syn ? 0 : (fromClient ? sts : cts)
        t.emit(kind) { p in
            tcpFrame(p, dstMAC: fromClient ? Topology.dutMAC0 : Topology.dutMAC1,
                     srcMAC: fromClient ? Topology.peerMAC0 : Topology.peerMAC1,
                     src: .v4(fromClient ? client : replyFrom), dst: .v4(fromClient ? server : client), ipID: t.ipID,
                     ttl: fromClient ? 63 : 57, sport: fromClient ? sport : replyPort, dport: fromClient ? dport : sport,
                     seq: seq, ack: ack, flags: flags, window: flags == TCPFlags.syn ? 64_240 : 1_000,
                     tsval: tsval, tsecr: tsecr, payload: payload)
        }
        let adv = UInt32(payload) &+ (flags & (TCPFlags.syn | TCPFlags.fin) != 0 ? 1 : 0)
        if fromClient { cseq &+= adv } else { sseq &+= adv }
        if i < script.count && script[i].0 != dir { awaitRoundTrip(t) }
        return i < script.count
    }
}

/// A SYN scan of the host's low ports from one scanner (nmap -sS: fixed source port).
final class SynScan: Session {
    let scanner: UInt32
    let sport: UInt16
    var port: UInt16
    let last: UInt16
    let seq: UInt32

    init(_ t: Traffic) {
        scanner = Topology.scanners4 | UInt32(t.rng.range(2, 65_000))
        sport = UInt16(t.rng.range(40_000, 60_000))
        port = UInt16(t.rng.range(1, 200))
        last = port + UInt16(t.rng.range(100, 1_000))
        seq = t.rng.u32()
    }

    override func step(_ t: Traffic) -> Bool {
        let dport = port
        t.emit(.synScan) { p in
            tcpFrame(p, dstMAC: Topology.dutMAC0, srcMAC: Topology.peerMAC0, src: .v4(scanner), dst: .v4(Topology.dut4eth0),
                     ipID: t.ipID, ttl: 40, sport: sport, dport: dport, seq: seq, ack: 0, flags: TCPFlags.syn,
                     window: 1_024, tsval: 1, tsecr: 0, payload: 0)
        }
        port += 1
        return port <= last
    }
}

/// A DNS query to the host's resolver, or one forwarded to a remote resolver and its answer.
final class DNSQuery: Session {
    let client: UInt32, sport: UInt16
    let forward: Bool
    var phase = 0

    init(_ t: Traffic) {
        forward = t.rng.below(2) == 0
        (client, sport) = forward ? t.nextForwardedClient4() : t.nextClient4()
    }

    override func step(_ t: Traffic) -> Bool {
        let server: UInt32 = forward ? Topology.remote4 | 53 : Topology.dut4eth0
        let id = UInt16(truncatingIfNeeded: sport &* 31)
        let name = Int(sport) % 5_000
        if phase == 0 {
            t.emit(.dns) { p in
                dnsFrame(p, dstMAC: Topology.dutMAC0, srcMAC: Topology.peerMAC0, src: client, dst: server, ipID: t.ipID,
                         ttl: 63, sport: sport, dport: 53, id: id, name: name, answers: 0)
            }
        } else {
            let answers = 1 + Int(sport % 4)
            t.emit(.dns) { p in
                dnsFrame(p, dstMAC: Topology.dutMAC1, srcMAC: Topology.peerMAC1, src: server, dst: client, ipID: t.ipID,
                         ttl: 57, sport: 53, dport: sport, id: id, name: name, answers: answers)
            }
        }
        phase += 1
        if forward && phase == 1 { awaitRoundTrip(t) }
        return forward && phase < 2
    }
}

/// A DNS query for `www<name>.example.com` A (answers == 0), or its response with `answers`
/// A records (compressed names), over IPv4 UDP.
@inline(__always)
func dnsFrame(_ p: UnsafeMutableRawPointer, dstMAC: MAC, srcMAC: MAC, src: UInt32, dst: UInt32, ipID: UInt16, ttl: UInt8,
              sport: UInt16, dport: UInt16, id: UInt16, name: Int, answers: Int) -> Int {
    let o = ether(p, dst: dstMAC, src: srcMAC, type: 0x0800)
    let u = o + 20
    var q = u + 8
    be16(p, q, id); be16(p, q + 2, answers == 0 ? 0x0100 : 0x8180)
    be16(p, q + 4, 1); be16(p, q + 6, UInt16(answers)); be16(p, q + 8, 0); be16(p, q + 10, 0)
    q += 12
    let label = Array("www\(name)".utf8)
    p.storeBytes(of: UInt8(label.count), toByteOffset: q, as: UInt8.self); q += 1
    for b in label { p.storeBytes(of: b, toByteOffset: q, as: UInt8.self); q += 1 }
    for part in ["example", "com"] {
        p.storeBytes(of: UInt8(part.utf8.count), toByteOffset: q, as: UInt8.self); q += 1
        for b in part.utf8 { p.storeBytes(of: b, toByteOffset: q, as: UInt8.self); q += 1 }
    }
    p.storeBytes(of: UInt8(0), toByteOffset: q, as: UInt8.self); q += 1
    be16(p, q, 1); be16(p, q + 2, 1); q += 4
    for a in 0..<answers {
        be16(p, q, 0xC00C); be16(p, q + 2, 1); be16(p, q + 4, 1); be32(p, q + 6, 300); be16(p, q + 10, 4)
        be32(p, q + 12, 0xC633_6400 | UInt32(10 + (name + a) % 200))
        q += 16
    }
    let udpLen = q - u
    ipv4(p, o, totalLength: 20 + udpLen, id: ipID, fragField: 0, ttl: ttl, proto: 17, src: src, dst: dst)
    be16(p, u, sport); be16(p, u + 2, dport); be16(p, u + 4, UInt16(udpLen)); be16(p, u + 6, 0)
    var c = fold(pseudoSum(src: .v4(src), dst: .v4(dst), proto: 17, length: udpLen) &+ wordSum(p + u, udpLen))
    if c == 0 { c = 0xffff }
    be16(p, u + 6, c)
    return q
}

/// ping: four echo requests to the host, or three forwarded requests and their replies.
final class Echo: Session {
    let client: UInt32, remote: UInt32
    let forward: Bool
    let ident: UInt16
    var phase = 0

    init(_ t: Traffic) {
        forward = t.rng.below(2) == 0
        let (c, p) = forward ? t.nextForwardedClient4() : t.nextClient4()
        client = c; ident = p
        remote = forward ? Topology.remote4 | UInt32(t.rng.range(10, 250)) : Topology.dut4eth0
    }

    override func step(_ t: Traffic) -> Bool {
        let reply = forward && phase % 2 == 1
        let sequence = UInt16(forward ? phase / 2 + 1 : phase + 1)
        t.emit(.icmp) { p in
            echoFrame(p, dstMAC: reply ? Topology.dutMAC1 : Topology.dutMAC0, srcMAC: reply ? Topology.peerMAC1 : Topology.peerMAC0,
                      src: .v4(reply ? remote : client), dst: .v4(reply ? client : remote), ipID: t.ipID,
                      ttl: reply ? 57 : 63, reply: reply, ident: ident, sequence: sequence, payload: 56)
        }
        phase += 1
        awaitRoundTrip(t)    // the reply answers the request; the next request follows the reply
        return phase < (forward ? 6 : 4)
    }
}

/// ping6 to the host's address on eth0.
final class Echo6: Session {
    let client: IP6
    let ident: UInt16
    var phase = 0

    init(_ t: Traffic) {
        t.flows &+= 1
        client = IP6(hi: Topology.clients6hi | UInt64(t.flows % 65_000), lo: UInt64(t.rng.u32() | 1))
        ident = UInt16(truncatingIfNeeded: t.flows)
    }

    override func step(_ t: Traffic) -> Bool {
        let sequence = UInt16(phase + 1)
        t.emit(.ipv6) { p in
            echoFrame(p, dstMAC: Topology.dutMAC0, srcMAC: Topology.peerMAC0, src: .v6(client), dst: .v6(Topology.dut6eth0),
                      ipID: 0, ttl: 63, reply: false, ident: ident, sequence: sequence, payload: 56)
        }
        phase += 1
        return phase < 4
    }
}

/// A UDP datagram larger than the MTU, fragmented by its sender (1480-byte fragments), to the
/// host's port 5000 or forwarded to a remote host; one in ten arrives last fragment first.
final class Fragmented: Session {
    let client: UInt32, dst: UInt32, sport: UInt16
    let datagram: Int          // UDP length (header + data)
    let id: UInt16
    let order: [Int]
    var i = 0
    var checksum: UInt16 = 0

    init(_ t: Traffic) {
        let local = t.rng.below(2) == 0
        (client, sport) = local ? t.nextClient4() : t.nextForwardedClient4()
        dst = local ? Topology.dut4eth0 : Topology.remote4 | UInt32(t.rng.range(10, 250))
        datagram = 8 + t.rng.range(1_600, 4_400)
        id = UInt16(truncatingIfNeeded: t.rng.u32())
        let n = (datagram + 1_479) / 1_480
        order = t.rng.below(10) == 0 ? Array((0..<n).reversed()) : Array(0..<n)
        super.init()
        let sum = pseudoSum(src: .v4(client), dst: .v4(dst), proto: 17, length: datagram)
            &+ UInt64(sport) &+ 5_000 &+ UInt64(datagram) &+ Payload.sum(datagram - 8)
        checksum = fold(sum)
        if checksum == 0 { checksum = 0xffff }
    }

    override func step(_ t: Traffic) -> Bool {
        let k = order[i]
        i += 1
        let off = k * 1_480
        let len = min(1_480, datagram - off)
        let more = off + len < datagram
        t.emit(.fragments) { p in
            let o = ether(p, dst: Topology.dutMAC0, src: Topology.peerMAC0, type: 0x0800)
            ipv4(p, o, totalLength: 20 + len, id: id, fragField: (more ? 0x2000 : 0) | UInt16(off / 8), ttl: 63, proto: 17,
                 src: client, dst: dst)
            var q = o + 20
            var dataOff = off - 8
            var dataLen = len
            if k == 0 {
                be16(p, q, sport); be16(p, q + 2, 5_000); be16(p, q + 4, UInt16(datagram)); be16(p, q + 6, checksum)
                q += 8; dataOff = 0; dataLen -= 8
            }
            (p + q).copyMemory(from: Payload.bytes + dataOff, byteCount: dataLen)
            return q + dataLen
        }
        return i < order.count
    }
}

/// The gateway asking for the host's address.
final class ARPWho: Session {
    override func step(_ t: Traffic) -> Bool {
        t.emit(.arp) { p in
            arpRequest(p, srcMAC: Topology.peerMAC0, sender: Topology.gw4eth0, target: Topology.dut4eth0)
        }
        return false
    }
    init(_ t: Traffic) {}
}
