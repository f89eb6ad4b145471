import RxrayDecode
import RxrayNetfilter

/// The one owner of cross-packet state: the namespace model, fragment queues, rate-limit
/// buckets, and the resolutions of held frames. Stages are extensions, one file per kernel
/// source file.
final class Kernel {
    let ns: Netns
    var frag4: [FragKey4: FragQueue] = [:]
    var frag6: [FragKey6: FragQueue] = [:]
    var fragSerial = 0
    /// Storage reassembly queues and rebuilt datagrams reuse (ipv4/IPFragment.swift).
    var fragPool = FragPool()
    /// Reused by `ipDefrag` to list a completed datagram's frames in order.
    var fragFramesScratch: [Int] = []
    /// No IPv4 reassembly queue was created before this (a lower bound; `.max`: none).
    var frag4Earliest: Int64 = .max
    var fragMemory = 0
    var peers: [IPAddress: PeerBucket] = [:]
    var redirects: [IPAddress: RedirectState] = [:]
    /// Sizes at which `peers` and `redirects` are next swept for idle entries (ipv4/InetPeer.swift).
    var peersSweepAt = Kernel.defaultSweepFloor
    var redirectsSweepAt = Kernel.defaultSweepFloor
    var sweepFloor = Kernel.defaultSweepFloor
    var icmpGlobal = GlobalBucket()
    var icmp6Global = GlobalBucket()
    var resolutions: [HoldResolution] = []
    /// ARP and ND tables (core/Neighbour.swift).
    var neigh = NeighTable()
    var heldThisFrame = false
    var lastIngressNote: String?
    /// Timestamp of the frame being processed (ns).
    var now: Int64 = 0
    /// The netfilter engine attached to this kernel, if any (netfilter/Core.swift).
    var netfilter: NFAttachment?
    /// How objects this kernel owns refer back to it without keeping it alive (see `KernelHandle`).
    let handle = KernelHandle()

    /// IPv4 policy-routing results by flow (ipv4/FibRules.swift).
    let fibCache4: FibCache4
    /// Input-route decisions by the packet fields they read (ipv4/RouteMemo.swift).
    let routeMemo: RouteInputMemo
    /// Whether policy rules differ from the three defaults (`fib_has_custom_rules`).
    let customRules4: Bool

    /// NAPI/GRO configuration and state (core/GRO.swift).
    let napiOptions: NAPIOptions
    var napis = NAPITable()
    var groPool: [[UInt8]] = []
    /// Results GRO completions ran in (reused; see `groComplete`), and how many are in use.
    var groResults: [FrameResult] = []
    var groResultsUsed = 0
    /// Reused storage: member-frame lists, flushed packets, due NAPI instances.
    var groFramesPool: [[Int]] = []
    var groDoneScratch: [GROHeld] = []
    var napiDueScratch: [(Int64, NAPIKey)] = []
    var groSerial = 0
    /// Toeplitz lookup tables for RSS, from the configured key (core/GRO.swift).
    let rssTable: [UInt32]
    /// TCP: options, listener queues and connections (ipv4/TCPIPv4.swift).
    let tcpOptions: TCPOptions
    var tcpState = TCPState()
    /// Reused by `tcpExpire` for the keys that are due.
    var tcpExpireScratch: [TCPConnKey] = []
    /// Whether stage detail text is built (for results the kernel makes itself, e.g. GRO).
    var wantsDetail = true
    /// Whether such results keep stage detail's JSON form (`FrameResult.wantsJSONForm`).
    var wantsJSONForm = false
    /// Per device index: the ifindex and name as netfilter matches them (built once, so a hook
    /// neither copies the device nor converts its name per packet).
    let nfIfindex: [Int]
    let nfIfName: [IfName]
    /// Per device index: the per-packet flags GRO and RSS read (no device copy per frame).
    let devGRO: [(virtual: Bool, rxQueues: Int, groEnabled: Bool, groMaxSize: Int)]

    init(ns: Netns, napi: NAPIOptions = NAPIOptions(), tcp: TCPOptions = TCPOptions()) {
        self.ns = ns
        self.napiOptions = napi
        rssTable = Kernel.rssTables(key: napi.rssKey ?? NAPIOptions.defaultRSSKey)
        self.tcpOptions = tcp
        customRules4 = !(ns.rules4 == FibRule4.defaults)
        nfIfindex = ns.devices.map { $0.ifindex }
        nfIfName = ns.devices.map { IfName($0.name) }
        devGRO = ns.devices.map { ($0.isVirtual, $0.rxQueues, $0.groEnabled, $0.groMaxSize) }
        fibCache4 = FibCache4(ns)
        routeMemo = RouteInputMemo(ns)
        icmpGlobal.credit = ns.sysctl.icmpMsgsBurst
        icmp6Global.credit = ns.sysctl.icmpMsgsBurst
        handle.kernel = self
    }

    deinit { handle.kernel = nil }

    func devName(_ i: Int) -> String { ns.devices[i].name }
}

/// A reference back to a `Kernel` that does not keep it alive: the kernel sets it when it is
/// made and clears it in its `deinit`, so it reads nil once the kernel is gone, as a `weak`
/// reference would. A `weak` reference to the kernel itself would give the kernel a side
/// table, and every retain and release of the kernel (several per frame) would then take
/// the runtime's slow path.
final class KernelHandle {
    unowned(unsafe) var kernel: Kernel? = nil
}

/// ARPHRD / link kinds the ingress can be.
private let ethPVLAN: UInt16 = 0x8100
private let ethPQinQ: UInt16 = 0x88A8

extension Kernel {
    /// Entry point for one captured frame: link header, ingress device, then
    /// `__netif_receive_skb_core`.
    func receive(_ input: FrameInput, options: Analyzer.Options, into r: inout FrameResult) {
        now = input.timestampNs
        let b = input.bytes
        let extra = max(0, input.wireLength - b.count)
        var pktType = PktType.host
        var proto: UInt16 = 0
        var l2 = 0
        var dst: MACAddress? = nil
        var src: MACAddress? = nil
        var cookedIfindex: Int? = nil
        var hasEthernet = false

        switch input.linkType {
        case .ethernet:
            guard b.count >= 14 else {
                r.drop(.pktTooSmall, at: .ethTypeTrans, "frame of \(b.count) bytes is shorter than an Ethernet header")
                return
            }
            dst = b.macAt(0); src = b.macAt(6)
            proto = b.u16(12)
            l2 = 14
            hasEthernet = true
        case .linuxSLL:
            guard b.count >= 16 else { r.drop(.pktTooSmall, at: .netifReceiveSkbCore, "short cooked header"); return }
            pktType = PktType(rawValue: UInt8(truncatingIfNeeded: min(b.u16(0), 5))) ?? .host
            if b.u16(4) == 6 { src = b.macAt(6) }
            proto = b.u16(14)
            l2 = 16
        case .linuxSLL2:
            guard b.count >= 20 else { r.drop(.pktTooSmall, at: .netifReceiveSkbCore, "short cooked header"); return }
            proto = b.u16(0)
            cookedIfindex = Int(b.u32(4))
            pktType = PktType(rawValue: min(b.u8(10), 5)) ?? .host
            if b.u8(11) == 6 { src = b.macAt(12) }
            l2 = 20
        case .raw, .ipv4, .ipv6:
            guard b.count >= 1 else { r.drop(.pktTooSmall, at: .netifReceiveSkbCore, "empty frame"); return }
            let v = b.u8(0) >> 4
            proto = input.linkType == .ipv4 ? 0x0800 : input.linkType == .ipv6 ? 0x86DD : (v == 6 ? 0x86DD : 0x0800)
        case .null, .loop:
            guard b.count >= 4 else { r.drop(.pktTooSmall, at: .netifReceiveSkbCore, "short loopback header"); return }
            let famBE = b.u32(0)
            let fam = input.linkType == .loop ? famBE : famBE.byteSwapped
            proto = fam == 2 ? 0x0800 : (fam == 10 || fam == 24 || fam == 28 || fam == 30) ? 0x86DD : 0
            l2 = 4
        default:
            r.drop(.unhandledProto, at: .netifReceiveSkbCore, "link type \(input.linkType) is not modelled")
            return
        }

        // Which device received it.
        guard let dev = ingressDevice(input, options: options, dst: dst, cookedIfindex: cookedIfindex,
                                      l2: l2, proto: proto, wantsDetail: r.wantsDetail) else {
            r.drop(.notSpecified, at: .netifReceiveSkbCore, "the host has no interface to receive the frame")
            return
        }

        if input.direction == .outbound || pktType == .outgoing {
            r.fate = .forwarded
            r.egress = devName(dev)
            r.record(.netifReceiveSkbCore, .note, "outgoing frame (sent by this host on \(devName(dev))): not on the receive path")
            return
        }

        var skb = SKB(buf: b.from(l2), len: b.count - l2 + extra, dev: dev, origDev: dev, pktType: pktType,
                      proto: proto, frame: input.index, time: input.timestampNs)
        skb.srcMAC = src
        skb.dstMAC = dst
        if hasEthernet {
            ethTypeTrans(&skb, &r)
            if options.capturePoint == .wire {
                // napi_gro_receive: the frame may be held or merged; its fate then follows
                // the super-packet it becomes part of.
                if napiGroReceive(&skb, &r) { return }
            } else {
                r.gro = GROInfo(action: .applied, packet: input.index, segments: 1, flush: nil, queue: 0)
                r.record(.devGroReceive, .note, "capture point host: frames are seen after GRO (super-packets longer than the MTU are accepted as the kernel accepts them)")
            }
        }
        netifReceiveSkbCore(&skb, &r)
    }

    /// The interface a frame arrived on (DESIGN.md "Which interface received a frame").
    func ingressDevice(_ input: FrameInput, options: Analyzer.Options, dst: MACAddress?, cookedIfindex: Int?,
                               l2: Int, proto: UInt16, wantsDetail: Bool) -> Int? {
        if let name = input.interfaceName, let i = ns.device(named: name) {
            noteIngress("pcapng interface name \(name)")
            return i
        }
        if let name = options.defaultInterface, let i = ns.device(named: name) {
            noteIngress("--interface \(name)")
            return i
        }
        if let ifx = cookedIfindex, let i = ns.device(ifindex: ifx) {
            noteIngress("cooked header ifindex")
            return i
        }
        if let d = dst, !d.isMulticast {
            if let i = ns.devices.firstIndex(where: { $0.mac == d && $0.kind != .loopback && $0.kind != .bridge && !$0.isVLAN }) {
                noteIngress("destination MAC")
                return i
            }
        }
        // The device whose subnet holds the destination address.
        let b = input.bytes
        if proto == 0x0800 && b.count >= l2 + 20 {
            let daddr = b.v4At(l2 + 16)
            let saddr = b.v4At(l2 + 12)
            for k in 0..<2 {
                let probe = k == 0 ? daddr : saddr
                if let i = ns.devices.firstIndex(where: { d in d.kind != .loopback && d.v4.contains { $0.contains(probe) } }) {
                    noteIngress("subnet of the \(probe == daddr ? "destination" : "source") address")
                    return underlying(i)
                }
            }
        } else if proto == 0x86DD && b.count >= l2 + 40 {
            let daddr = b.v6At(l2 + 24)
            let saddr = b.v6At(l2 + 8)
            for k in 0..<2 {
                let probe = k == 0 ? daddr : saddr
                if probe.isMulticast || probe.isLinkLocal { continue }
                if let i = ns.devices.firstIndex(where: { d in d.kind != .loopback && d.v6.contains { probe.matches($0.address, $0.prefixLength) } }) {
                    noteIngress("subnet of the \(probe == daddr ? "destination" : "source") address")
                    return underlying(i)
                }
            }
        }
        if let i = ns.devices.firstIndex(where: { $0.kind != .loopback && $0.kind != .bridge && !$0.isVLAN && $0.up }) {
            noteIngress("first non-loopback interface")
            return i
        }
        lastIngressNote = nil
        return ns.devices.isEmpty ? nil : 0
    }

    /// Records how the ingress device was chosen; only the first choice is reported, so the
    /// text is built only while none is recorded.
    @inline(__always) private func noteIngress(_ text: @autoclosure () -> String) {
        if lastIngressNote == nil { lastIngressNote = text() }
    }

    /// The physical device beneath a VLAN or macvlan device (frames arrive there first).
    private func underlying(_ i: Int) -> Int {
        switch ns.devices[i].kind {
        case .vlan(let p, _, _), .macvlan(let p): return p
        default: return i
        }
    }

    /// Sets `pkt_type` from the destination MAC.
    ///
    /// Mirrors `eth_type_trans()` in net/ethernet/eth.c (`eth_skb_pkt_type`).
    func ethTypeTrans(_ skb: inout SKB, _ r: inout FrameResult) {
        guard let dst = skb.dstMAC else { return }
        // The device's fields are read in place (a copy of the device retained its name and
        // address lists every frame).
        if dst == ns.devices[skb.dev].mac {
            skb.pktType = .host
        } else if dst.isMulticast {
            skb.pktType = dst.isBroadcast ? .broadcast : .multicast
        } else {
            skb.pktType = .otherhost
        }
        if r.wantsDetail {
            // The fields read in place (a copy of the device retained its name and arrays).
            let dev = skb.dev
            let pkt = skb.pktType
            let filtered = pkt == .otherhost && !ns.devices[dev].promisc && ns.devices[dev].kind == .ethernet
                && !ns.devices[dev].isVirtual
            r.recordJSONSafe(.ethTypeTrans, .pass, writing: { w in
                w.string(ns.devices[dev].name); w.ascii(": "); dst.write(to: &w); w.ascii(" → "); pkt.write(to: &w)
                if filtered { w.ascii(" (a NIC not in promiscuous mode filters this before the kernel)") }
                return ns.devices[dev].nameJSONSafe
            })
        } else {
            r.record(.ethTypeTrans, .pass)
        }
    }

    /// VLAN untagging and VLAN devices, rx handlers (bridge, bond, macvlan) and protocol demux.
    ///
    /// Mirrors `__netif_receive_skb_core()` in net/core/dev.c with `vlan_do_receive()`
    /// (net/8021q/vlan_core.c).
    func netifReceiveSkbCore(_ skb: inout SKB, _ r: inout FrameResult) {
        var rounds = 0
        while rounds < 8 {
            rounds += 1
            if !ns.devices[skb.dev].up {
                r.drop(.devReady, at: .netifReceiveSkbCore, "\(devName(skb.dev)) is down")
                return
            }
            // Tag in the payload → untag (outer tag only), then VLAN device lookup.
            if skb.proto == ethPVLAN || skb.proto == ethPQinQ {
                guard skb.captured(4) else {
                    r.drop(.notSpecified, at: .vlanDoReceive, "VLAN tag truncated")
                    return
                }
                let tpid = skb.proto
                let tci = skb.buf.u16(0)
                let vid = tci & 0x0FFF
                skb.proto = skb.buf.u16(2)
                skb.buf = skb.buf.from(4)
                skb.len -= 4
                if let v = ns.devices.firstIndex(where: {
                    if case .vlan(let p, let id, let pr) = $0.kind { return p == skb.dev && id == vid && pr == tpid }
                    return false
                }) {
                    if !ns.devices[v].up {
                        r.drop(.notSpecified, at: .vlanDoReceive, "VLAN device \(devName(v)) is down")
                        return
                    }
                    if skb.pktType == .otherhost, let d = skb.dstMAC, d == ns.devices[v].mac { skb.pktType = .host }
                    r.record(.vlanDoReceive, .pass, "VLAN \(vid) → \(self.devName(v)) (\(skb.pktType))")
                    skb.dev = v
                    continue
                }
                if vid != 0 {
                    skb.pktType = .otherhost
                    r.record(.vlanDoReceive, .note, "no VLAN device for VID \(vid) on \(self.devName(skb.dev)): pkt_type OTHERHOST")
                } else {
                    r.record(.vlanDoReceive, .note, "priority tag (VID 0) cleared")
                    continue
                }
            }
            // rx_handler of the device.
            if let m = ns.devices[skb.dev].master {
                let master = ns.devices[m]
                if master.kind == .bridge {
                    let d = skb.dstMAC
                    let local = d == nil || d == master.mac || ns.devices.contains { $0.master == m && $0.mac == d }
                    if let d = d, d.isMulticast {
                        r.record(.netifReceiveSkbCore, .note, "bridge port of \(master.name): flooded and passed up to \(master.name)")
                        skb.dev = m
                        continue
                    }
                    if local {
                        skb.pktType = .host
                        r.record(.netifReceiveSkbCore, .pass, "bridge port of \(master.name): for the bridge, passed up")
                        skb.dev = m
                        continue
                    }
                    r.fate = .forwarded
                    r.egress = master.name
                    r.record(.netifReceiveSkbCore, .forward, "bridge port of \(master.name): forwarded at layer 2 (FDB not modelled)")
                    return
                }
                if master.kind == .bond {
                    r.record(.netifReceiveSkbCore, .pass, "bond slave of \(master.name)")
                    skb.dev = m
                    if let d = skb.dstMAC, d == master.mac { skb.pktType = .host }
                    continue
                }
            }
            if let d = skb.dstMAC, !d.isMulticast, skb.pktType == .otherhost,
               let mv = ns.devices.firstIndex(where: { if case .macvlan(let p) = $0.kind { return p == skb.dev && $0.mac == d }; return false }) {
                r.record(.netifReceiveSkbCore, .pass, "macvlan \(self.devName(mv)) takes \(d)")
                skb.dev = mv
                skb.pktType = .host
                continue
            }
            break
        }
        switch skb.proto {
        case 0x0800:
            let dev = skb.dev, pkt = skb.pktType
            r.recordJSONSafe(.netifReceiveSkbCore, .pass, writing: { w in
                w.ascii("IPv4 on "); w.string(ns.devices[dev].name); w.ascii(" ("); pkt.write(to: &w); w.byte(41)
                return ns.devices[dev].nameJSONSafe
            })
            ipRcv(&skb, &r)
        case 0x86DD:
            let dev = skb.dev, pkt = skb.pktType
            r.recordJSONSafe(.netifReceiveSkbCore, .pass, writing: { w in
                w.ascii("IPv6 on "); w.string(ns.devices[dev].name); w.ascii(" ("); pkt.write(to: &w); w.byte(41)
                return ns.devices[dev].nameJSONSafe
            })
            ipv6Rcv(&skb, &r)
        case 0x0806:
            let name = self.devName(skb.dev), pkt = skb.pktType
            r.recordJSONSafe(.netifReceiveSkbCore, .pass, writing: { w in
                w.ascii("ARP on "); let safe = w.stringJSONSafe(name); w.ascii(" ("); w.string(pkt.description); w.byte(41)
                return safe
            })
            arpRcv(&skb, &r)
        default:
            r.drop(.unhandledProto, at: .netifReceiveSkbCore,
                   skb.proto < 0x0600 ? "802.3 length field \(skb.proto) (LLC): no handler" :
                   "EtherType 0x\(String(skb.proto, radix: 16)): no protocol handler")
        }
    }
}

extension NetDevice {
    var isVLAN: Bool { if case .vlan = kind { return true } else { return false } }
}
