import RxrayDecode
import RxrayRules

/// A token bucket (`xt_limit`, `nft_limit`), refilled from capture time.
struct TokenBucket {
    var rate: UInt64
    var per: UInt64
    var burst: UInt64
    var bytes: Bool
    /// Credit in units of 1/rate of `per` seconds, scaled to nanoseconds.
    var credit: Double = -1
    var last: Int64 = 0

    init(rate: UInt64, per: UInt64, burst: UInt64, bytes: Bool) {
        self.rate = max(rate, 1); self.per = max(per, 1); self.burst = burst; self.bytes = bytes
    }

    /// Takes `cost` tokens (1 per packet, or bytes); true when within the rate.
    mutating func take(now: Int64, cost: UInt64) -> Bool {
        let cap = Double(bytes ? max(burst, rate) : max(burst, 1))
        if credit < 0 { credit = cap; last = now }
        let elapsed = Double(max(0, now - last)) / 1e9
        last = now
        credit = min(cap, credit + elapsed * Double(rate) / Double(per))
        let c = Double(bytes ? cost : 1)
        if credit >= c { credit -= c; return true }
        return false
    }
}

struct HashKey: Hashable { var a: NFValue; var b: NFValue; var p: UInt32 }

/// `-m hashlimit`: one bucket per key.
struct HashlimitState {
    var spec: HashlimitMatch
    var rate: Rate
    var table: [HashKey: TokenBucket] = [:]
    init(spec: HashlimitMatch, rate: Rate) { self.spec = spec; self.rate = rate }

    mutating func match(_ p: NFPacket, now: Int64) -> Bool {
        var k = HashKey(a: .zero, b: .zero, p: 0)
        let w = p.family == .ipv6 ? 128 : 32
        if spec.mode.contains("srcip") { k.a = p.saddr.and(NFValue.prefixMask(spec.sourceMask ?? w, width: w)) }
        if spec.mode.contains("dstip") { k.b = p.daddr.and(NFValue.prefixMask(spec.destinationMask ?? w, width: w)) }
        if spec.mode.contains("srcport") { k.p |= UInt32(p.sport ?? 0) << 16 }
        if spec.mode.contains("dstport") { k.p |= UInt32(p.dport ?? 0) }
        var b = table[k] ?? TokenBucket(rate: rate.count, per: rate.per, burst: UInt64(spec.burst ?? 5), bytes: spec.rateInBytes)
        let ok = b.take(now: now, cost: UInt64(p.length))
        table[k] = b
        return spec.above ? !ok : ok
    }
}

/// `-m recent`: per-list address histories.
struct RecentState {
    var spec: RecentMatch
    init(spec: RecentMatch) { self.spec = spec }
}

/// `-m statistic`: nth counters; random mode uses a seeded generator (said in the notes).
struct StatisticState {
    var spec: StatisticMatch
    var counter: UInt32 = 0
    init(spec: StatisticMatch) { self.spec = spec }
}

/// A deterministic generator for `--mode random` and `meta random` (SplitMix64, fixed seed).
struct SeededRandom {
    var state: UInt64 = 0x5258_5241_5900_0001
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
