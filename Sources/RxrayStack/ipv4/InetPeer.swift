// Bounds on per-peer state: the ICMP rate-limit buckets, the redirect back-off and the
// syncookies the model remembers. The kernel keeps the first two on inet_peer entries
// (net/ipv4/inetpeer.c), which its garbage collector frees once they have been idle for a
// while, and keeps no state at all for a syncookie. Without a bound these tables grow with
// every distinct peer of a capture, so a long capture with many sources (a scan, a flood)
// would grow without limit.
//
// Each table is swept when it reaches a size that doubles with the live entries left after
// the previous sweep (at least `Kernel.sweepFloor`), so a sweep's cost is spread over the
// insertions that led to it. A sweep removes only entries whose absence cannot change a
// later answer: what stays is bounded by the peers seen within one idle limit.

/// A syncookie SYN-ACK the model sent: the SYN's sequence number, and when.
struct SynCookie {
    var isn: UInt32
    var issued: Int64

    /// The kernel keeps the minute of issue in the cookie and accepts it in that minute and
    /// the next (`MAX_SYNCOOKIE_AGE` periods of `TCP_SYNCOOKIE_PERIOD`, include/net/tcp.h):
    /// a cookie 120 s old or more is refused whatever the phase of the minute counter. Between
    /// 60 and 120 s the answer depends on that phase, which a capture does not show; rxray
    /// accepts such cookies.
    static let maxAge: Int64 = 120_000_000_000
}

extension Kernel {
    /// The smallest size at which a table is swept (`Kernel.sweepFloor` starts there).
    static let defaultSweepFloor = 4096

    /// How long a peer must have been idle before its bucket is the same as a new one.
    ///
    /// A new inet_peer starts with its last-refill time 60 s in the past, so its first
    /// check sees min(burst, 60 s) of tokens. A bucket idle for at least 60 s sees
    /// min(burst, ≥ 60 s): the same, as long as no burst exceeds 60 s. Every burst the
    /// model uses is 5 or 6 s or six times an ICMP rate limit (`XRLIM_BURST_FACTOR`). With a
    /// rate limit over 10 s the buckets are kept for the kernel's usual peer lifetime,
    /// `inet_peer_maxttl` (10 minutes), after which its collector may have freed them too.
    var peerIdleLimit: Int64 {
        let longestRate = Int64(max(ns.sysctl.icmpRatelimitMs, ns.sysctl.icmpv6RatelimitMs))
        let longestBurst = max(6_000_000_000, longestRate * 6_000_000)
        return longestBurst <= 60_000_000_000 ? 60_000_000_000 : 600_000_000_000
    }

    /// Drops rate-limit buckets idle for `peerIdleLimit` or longer.
    func sweepPeers() {
        let limit = peerIdleLimit, t = now
        peers = peers.filter { t &- $0.value.last < limit }
        peersSweepAt = max(sweepFloor, peers.count * 2)
    }

    /// Drops redirect back-off states quiet for longer than `RedirectState.silence`:
    /// `icmpSendRedirect` starts such a state over, exactly as for a peer never seen.
    func sweepRedirects() {
        let t = now
        redirects = redirects.filter { !(t &- $0.value.last > RedirectState.silence) }
        redirectsSweepAt = max(sweepFloor, redirects.count * 2)
    }

    /// Drops syncookies too old to be accepted (`SynCookie.maxAge`).
    func sweepCookies() {
        let t = now
        tcpState.cookies = tcpState.cookies.filter { t &- $0.value.issued < SynCookie.maxAge }
        tcpState.cookiesSweepAt = max(sweepFloor, tcpState.cookies.count * 2)
    }
}
