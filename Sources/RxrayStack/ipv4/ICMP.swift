import RxrayDecode

/// An inet_peer token bucket (`peer->rate_tokens`, `peer->rate_last`), in nanoseconds.
/// `ip_error` and `icmpv4_xrlim_allow` share it, as in the kernel.
struct PeerBucket {
    var tokens: Int64
    var last: Int64
}

/// The namespace-wide ICMP budget (`icmp_msgs_per_sec`, `icmp_msgs_burst`).
struct GlobalBucket {
    var credit = 50
    var stamp: Int64 = .min
}

extension Kernel {
    /// The per-peer token bucket: refills with elapsed time up to `burst`, spends `cost`.
    ///
    /// Mirrors `inet_peer_xrlim_allow()` (net/ipv4/inetpeer.c) and the bucket in `ip_error()`.
    /// A new peer starts 60 s in the past, so a full burst is available at once.
    func peerAllow(_ addr: IPAddress, cost: Int64, burst: Int64) -> Bool {
        var p = peers[addr] ?? PeerBucket(tokens: 0, last: now &- 60_000_000_000)
        var tokens = p.tokens &+ max(0, now &- p.last)
        if tokens > burst { tokens = burst }
        p.last = now
        var ok = false
        if tokens >= cost {
            tokens -= cost
            ok = true
        }
        p.tokens = tokens
        peers[addr] = p
        if peers.count >= peersSweepAt { sweepPeers() }
        return ok
    }

    /// Global ICMP budget check; the token is spent by `globalConsume`.
    /// Mirrors `icmp_global_allow()` (net/ipv4/icmp.c; 6.18 spends 0–2 tokens at random, modelled as 1).
    func globalAllow(_ g: inout GlobalBucket) -> Bool {
        let perSec = ns.sysctl.icmpMsgsPerSec
        let burst = ns.sysctl.icmpMsgsBurst
        if g.stamp == .min { g.stamp = now; g.credit = burst }
        let elapsed = now &- g.stamp
        if elapsed >= 20_000_000 {
            let add = Int(min(Int64(burst), elapsed / 1_000_000 * Int64(perSec) / 1000))
            g.credit = min(burst, g.credit + add)
            g.stamp = now
        }
        return g.credit > 0
    }

    /// Whether an ICMP type is an error (never answered with another error).
    static func icmpIsError(_ t: UInt8) -> Bool { t == 3 || t == 4 || t == 5 || t == 11 || t == 12 }

    /// Sends an ICMP error about `skb`, unless one of the kernel's silences applies, subject to
    /// the global and per-destination rate limits.
    ///
    /// Mirrors `__icmp_send()` in net/ipv4/icmp.c. `info` is the 32-bit rest-of-header (MTU for
    /// fragmentation needed, pointer for parameter problem, gateway for redirects).
    func icmpSend(_ skb: SKB, type: UInt8, code: UInt8, info: UInt32, _ r: inout FrameResult) {
        guard let rt = skb.route4 else {
            r.record(.icmpSend, .note, "no ICMP: the packet has no route")
            return
        }
        if rt.type == .broadcast || rt.type == .multicast {
            r.record(.icmpSend, .note, "no ICMP: packet was \(rt.type)")
            return
        }
        if skb.pktType != .host {
            r.record(.icmpSend, .note, "no ICMP: pkt_type \(skb.pktType), not HOST")
            return
        }
        if skb.v4Offset != 0 {
            r.record(.icmpSend, .note, "no ICMP about a non-first fragment")
            return
        }
        if skb.v4Proto == 1 {
            let ihl = skb.ihl
            if skb.captured(ihl + 1) {
                let t = skb.buf.u8(ihl)
                if t > 18 || Kernel.icmpIsError(t) {
                    r.record(.icmpSend, .note, "no ICMP error about an ICMP error")
                    return
                }
            }
        }
        let dst = skb.v4Saddr
        if dst.value == 0 || dst.isLimitedBroadcast || dst.isMulticast {
            r.record(.icmpSend, .note, "no ICMP: source \(dst) is not a unicast address")
            return
        }
        // Route back to the sender.
        guard let (outDev, src) = outputRoute(to: dst, preferredSource: rt.type == .local ? skb.v4Daddr : nil,
                                              inbound: skb.dev) else {
            r.record(.icmpSend, .note, "no ICMP: no route back to \(dst)")
            return
        }
        guard rateLimitICMP(type: type, code: code, dst: .v4(dst), outDev: outDev, &r) else { return }
        r.count(.icmpOutMsgs)
        r.count(.ipOutRequests)
        r.replies.append(Reply(kind: .icmp(type: type, code: code), interface: devName(outDev), source: .v4(src),
                               destination: .v4(dst), summary: r.wantsDetail ? icmpText(type, code, info) : ""))
        r.record(.icmpSend, .note, "ICMP \(icmpText(type, code, info)) to \(dst) via \(devName(outDev))")
    }

    /// The global then per-destination checks of `__icmp_send` / `icmp_reply`.
    func rateLimitICMP(type: UInt8, code: UInt8, dst: IPAddress, outDev: Int, _ r: inout FrameResult) -> Bool {
        let limited = type <= 18 && !(type == 3 && code == 4) && (ns.sysctl.icmpRatemask >> UInt32(type)) & 1 == 1
        guard limited else { return true }
        if !globalAllow(&icmpGlobal) {
            r.count(.icmpOutRateLimitGlobal)
            r.record(.icmpSend, .note, "ICMP suppressed by the global limit (icmp_msgs_per_sec)")
            return false
        }
        if ns.devices[outDev].kind != .loopback {
            let cost = Int64(ns.sysctl.icmpRatelimitMs) * 1_000_000
            if cost > 0 && !peerAllow(dst, cost: cost, burst: cost * 6) {
                r.count(.icmpOutRateLimitHost)
                r.record(.icmpSend, .note, "ICMP suppressed by the per-host limit (icmp_ratelimit)")
                return false
            }
        }
        icmpGlobal.credit -= 1
        return true
    }

    /// The output route for a locally generated packet to `dst`: device and source address.
    /// Mirrors `ip_route_output_key` as `icmp_send`/`icmp_reply` use it.
    func outputRoute(to dst: IPv4Address, preferredSource: IPv4Address?, inbound: Int) -> (Int, IPv4Address)? {
        let fl = Flow4(daddr: dst, saddr: preferredSource ?? IPv4Address(0), iif: ns.loopback, oif: nil)
        // Through the route cache (a reply's route is looked up per reply: every RST and
        // SYN-ACK), and the route's fields read in place (a copy retained its next hops).
        let lk = fibLookupCached(fl)
        guard let res = lk.result else { return nil }
        let out: Int
        if res.type == .local {
            out = ns.loopback ?? inbound
        } else {
            guard let d = ns.routes4[res.route].nexthops.first?.dev else { return nil }
            out = d
        }
        if let s = preferredSource { return (out, s) }
        if ns.sysctl.icmpErrorsUseInboundIfaddr, let a = ns.devices[inbound].v4.first { return (out, a.address) }
        if let p = ns.routes4[res.route].prefsrc { return (out, p) }
        let gw = ns.routes4[res.route].nexthops.first?.gateway ?? dst
        let src = ns.devices[out].v4.first { $0.contains(gw) }?.address ?? ns.devices[out].v4.first?.address
            ?? ns.devices.lazy.flatMap { $0.v4 }.first?.address ?? IPv4Address(0)
        return (out, src)
    }

    func icmpText(_ type: UInt8, _ code: UInt8, _ info: UInt32) -> String {
        switch (type, code) {
        case (0, _): return "echo reply"
        case (3, 0): return "net unreachable"
        case (3, 1): return "host unreachable"
        case (3, 2): return "protocol unreachable"
        case (3, 3): return "port unreachable"
        case (3, 4): return "fragmentation needed, mtu \(info)"
        case (3, 13): return "communication administratively prohibited"
        case (3, _): return "destination unreachable code \(code)"
        case (5, _): return "redirect host"
        case (11, 0): return "time exceeded in transit"
        case (11, 1): return "fragment reassembly time exceeded"
        case (12, _): return "parameter problem, pointer \(info >> 24)"
        default: return "type \(type) code \(code)"
        }
    }

    /// ICMP input: checksum, broadcast rules, echo, errors, echo replies.
    ///
    /// Mirrors `icmp_rcv()` in net/ipv4/icmp.c with `icmp_echo()`, `icmp_unreach()` and
    /// `ping_rcv()`.
    func icmpRcv(_ skb: inout SKB, _ r: inout FrameResult) {
        let off = skb.thoff
        let len = skb.len - off
        r.count(.icmpInMsgs)
        guard skb.captured(skb.len) else { _ = snapped(&r, .icmpRcv); return }
        if len < 8 || !skb.buf.checksumOK(off, len) {
            if len >= 8 || len >= 2 {
                if len >= 2 && !skb.buf.checksumOK(off, len) {
                    r.count(.icmpInCsumErrors)
                    r.count(.icmpInErrors)
                    r.drop(.icmpCsum, at: .icmpRcv, "ICMP checksum does not verify")
                    return
                }
            }
            r.count(.icmpInErrors)
            r.drop(.notSpecified, at: .icmpRcv, "ICMP message shorter than 8 bytes")
            return
        }
        let type = skb.buf.u8(off)
        let code = skb.buf.u8(off + 1)
        let rt = skb.route4
        // Extended echo (PROBE, RFC 8335): answered only with icmp_echo_enable_probe (off by
        // default), consumed either way; an extended echo reply goes to ping_rcv.
        if type == 42 {
            r.fate = .delivered
            r.record(.icmpRcv, .consume, "extended echo request (PROBE): icmp_echo_enable_probe is off, consumed")
            return
        }
        if type == 43 {
            r.drop(.noSocket, at: .icmpRcv, "extended echo reply and no ping socket (ping_rcv)")
            return
        }
        if let rt = rt, rt.type == .broadcast || rt.type == .multicast {
            if (type == 8 || type == 13) && ns.sysctl.icmpEchoIgnoreBroadcasts {
                r.count(.icmpInErrors)
                r.drop(.invalidProto, at: .icmpRcv, "echo to a \(rt.type) address ignored (icmp_echo_ignore_broadcasts)")
                return
            }
            if type != 8 && type != 13 && type != 17 && type != 18 {
                r.count(.icmpInErrors)
                r.drop(.invalidProto, at: .icmpRcv, "ICMP type \(type) to a \(rt.type) address")
                return
            }
        }
        if type > 18 {
            r.count(.icmpInErrors)
            r.drop(.unhandledProto, at: .icmpRcv, "unknown ICMP type \(type)")
            return
        }
        switch type {
        case 8, 13:
            if type == 8 { r.count(.icmpInEchos) }
            r.fate = .delivered
            if ns.sysctl.icmpEchoIgnoreAll {
                r.record(.icmpRcv, .consume, "echo request ignored (icmp_echo_ignore_all)")
                return
            }
            icmpReply(skb, type: type == 8 ? 0 : 14, &r)
            r.record(.icmpRcv, .deliver, type == 8 ? "echo request answered" : "timestamp request answered")
        case 0:
            r.drop(.noSocket, at: .icmpRcv, "echo reply and no ping socket (ping_rcv)")
        case 3, 4, 11, 12:
            // icmp_unreach: the embedded header must be present and sane.
            let inner = off + 8
            if len < 8 + 20 || Int(skb.buf.u8(inner) & 0x0F) < 5 {
                r.count(.icmpInErrors)
                r.fate = .delivered
                r.record(.icmpRcv, .consume, "ICMP error without a valid embedded IP header")
                return
            }
            r.fate = .delivered
            r.record(.icmpRcv, .deliver, "ICMP error (\(icmpText(type, code, 0))) about \(skb.buf.v4At(inner + 12)) → \(skb.buf.v4At(inner + 16)) proto \(skb.buf.u8(inner + 9)), passed to the protocol's error handler")
        case 5:
            r.fate = .delivered
            r.record(.icmpRcv, .consume, "redirect (accept_redirects decides; no route cache is modelled)")
        default:
            r.fate = .delivered
            r.record(.icmpRcv, .consume, "ICMP type \(type) discarded by its handler")
        }
    }

    /// The answer to an echo or timestamp request. Mirrors `icmp_reply()`.
    func icmpReply(_ skb: SKB, type: UInt8, _ r: inout FrameResult) {
        let dst = skb.v4Saddr
        let rt = skb.route4
        var src: IPv4Address? = skb.v4Daddr
        if let rt = rt, rt.type == .broadcast || rt.type == .multicast { src = ns.devices[skb.dev].v4.first?.address }
        guard let (out, s) = outputRoute(to: dst, preferredSource: src, inbound: skb.dev) else {
            r.record(.icmpSend, .note, "no reply: no route back to \(dst)")
            return
        }
        guard rateLimitICMP(type: type, code: 0, dst: .v4(dst), outDev: out, &r) else { return }
        r.count(.icmpOutMsgs)
        r.count(.ipOutRequests)
        r.replies.append(Reply(kind: .icmp(type: type, code: 0), interface: devName(out), source: .v4(s),
                               destination: .v4(dst), summary: r.wantsDetail ? icmpText(type, 0, 0) : ""))
    }
}
