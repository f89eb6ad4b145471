import RxrayDecode

// Candidate-rule index of a chain: which rules could match a packet, so the walk skips the
// ones that provably cannot.
//
// A rule's guard is the conjunction of the tests it makes before its first operation with an
// effect (a limit, counter, log, mark, NAT, verdict...). When the guard fails the rule does
// not match and changes nothing, so leaving it out of the walk is exact; a rule the index
// keeps is still run in full. The index only ever over-approximates: per dimension (a value
// source such as `ip saddr` or `tcp dport`) each rule gets a superset of the values that can
// pass its tests on that dimension.
//
// Per dimension the values are cut into elementary intervals at every bound any rule's
// constraint has; each interval (a "class"), plus one class for "the packet has no such
// value", holds a bitset of the rules it admits. For a packet: one binary search per
// dimension picks the classes, then the walk ANDs their bitsets word by word from the
// current rule on and visits the set bits in order. Only values that no operation changes
// during a chain walk (addresses, ports, protocol, interfaces, lengths...) are indexed; the
// mark and conntrack state are not, as rules before may change them.

/// A union of sorted, disjoint, inclusive intervals, plus whether a packet without the value
/// passes.
struct ValueConstraint: Equatable {
    var intervals: [(NFValue, NFValue)]
    var absentOK: Bool

    static let any = ValueConstraint(intervals: [(.zero, .max128)], absentOK: true)

    static func == (a: ValueConstraint, b: ValueConstraint) -> Bool {
        a.absentOK == b.absentOK && a.intervals.count == b.intervals.count
            && zip(a.intervals, b.intervals).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    var isAny: Bool { absentOK && intervals.count == 1 && intervals[0].0 == .zero && intervals[0].1 == .max128 }

    /// Values in some interval of both; absent only when both allow it.
    func intersected(_ o: ValueConstraint) -> ValueConstraint {
        var out: [(NFValue, NFValue)] = []
        var i = 0, j = 0
        while i < intervals.count && j < o.intervals.count {
            let (a0, a1) = intervals[i], (b0, b1) = o.intervals[j]
            let lo = a0 < b0 ? b0 : a0
            let hi = a1 < b1 ? a1 : b1
            if !(hi < lo) { out.append((lo, hi)) }
            if a1 < b1 { i += 1 } else { j += 1 }
        }
        return ValueConstraint(intervals: out, absentOK: absentOK && o.absentOK)
    }

    /// The values in `[lo, hi]`, or every value outside it when `negated`; a missing value fails.
    static func range(_ lo: NFValue, _ hi: NFValue, negated: Bool) -> ValueConstraint {
        if !negated { return ValueConstraint(intervals: hi < lo ? [] : [(lo, hi)], absentOK: false) }
        if hi < lo { return ValueConstraint(intervals: [(.zero, .max128)], absentOK: false) }
        var iv: [(NFValue, NFValue)] = []
        if lo != .zero { iv.append((.zero, lo.minusOne)) }
        if hi != .max128 { iv.append((hi.plusOne, .max128)) }
        return ValueConstraint(intervals: iv, absentOK: false)
    }

    /// A superset of the values `x` with `(x & mask) == v` (or `!=` when `negated`); nil when
    /// the mask is not one run of ones (nothing is derived).
    ///
    /// With the mask's ones at bits L...H: below 2^(H+1) the equal values are exactly
    /// `[v, v | (2^L - 1)]`; values at or above 2^(H+1) (a 32-bit mask seeing a 128-bit
    /// value) are kept whole. The values unequal are everything but that interval.
    static func masked(_ v: NFValue, mask: NFValue, negated: Bool) -> ValueConstraint? {
        guard !mask.isZero, v.and(mask) == v else { return nil }
        let low = mask.lowestSetBit, high = mask.highestSetBit
        // One run of ones: mask == ones(low...high).
        guard mask == NFValue.ones(upTo: high).and(NFValue.ones(upTo: low - 1).not) else { return nil }
        let top = v.or(NFValue.ones(upTo: low - 1))
        if negated { return range(v, top, negated: true) }
        var iv: [(NFValue, NFValue)] = [(v, top)]
        if high < 127 { iv.append((NFValue.ones(upTo: high).plusOne, .max128)) }
        return ValueConstraint(intervals: iv, absentOK: false)
    }

    /// The values of a set of small numbers (protocol numbers): one point interval each.
    static func points(_ xs: [UInt64]) -> ValueConstraint {
        ValueConstraint(intervals: Set(xs).sorted().map { (NFValue($0), NFValue($0)) }, absentOK: false)
    }
}

extension NFValue {
    static let max128 = NFValue(high: .max, low: .max)
    var not: NFValue { NFValue(high: ~high, low: ~low) }
    var plusOne: NFValue { low == .max ? NFValue(high: high &+ 1, low: 0) : NFValue(high: high, low: low + 1) }
    var minusOne: NFValue { low == 0 ? NFValue(high: high &- 1, low: .max) : NFValue(high: high, low: low - 1) }
    /// Bits 0...n set (none when n < 0).
    static func ones(upTo n: Int) -> NFValue {
        if n < 0 { return .zero }
        if n >= 127 { return .max128 }
        if n >= 63 { return NFValue(high: n == 63 ? 0 : UInt64.max >> UInt64(127 - n), low: .max) }
        return NFValue(UInt64.max >> UInt64(63 - n))
    }
    var lowestSetBit: Int { low != 0 ? low.trailingZeroBitCount : 64 + high.trailingZeroBitCount }
    var highestSetBit: Int { high != 0 ? 127 - high.leadingZeroBitCount : 63 - low.leadingZeroBitCount }
}

/// Building the indexes, once at load.
enum RuleIndexBuilder {
    /// Dimensions per chain at most (each costs a binary search per chain entry and a load
    /// per bitset word).
    static let maxDims = 4
    /// Largest bitset area of one dimension, in 64-bit words.
    static let maxWordsPerDim = 1 << 20

    /// Whether reading `l` has no side effect (`random` and `numgen` draw, `fib ... oif` asks
    /// the routing model).
    static func isPure(_ l: Load) -> Bool {
        switch l {
        case .random, .numgen, .fibOif: return false
        default: return true
        }
    }

    /// Whether `l` is fixed for the whole of one chain walk: it depends on the packet's bytes
    /// and metadata that no rule operation changes (not the mark, not conntrack state).
    static func isIndexable(_ l: Load) -> Bool {
        switch l {
        case .saddr, .daddr, .sport, .dport, .payload, .l4proto, .nfproto, .etherProto, .iif, .oif, .iifName, .oifName,
             .pktType, .length, .iifType, .oifType, .fibDaddrType, .fibSaddrType, .ttl, .tcpFlags, .icmpType, .sourceMAC:
            return true
        default:
            return false
        }
    }

    /// The implicit protocol test of a field, as a constraint on a dimension.
    static func depConstraint(_ d: Dep) -> (Load, ValueConstraint)? {
        switch d {
        case .none: return nil
        case .l4(let x): return (.l4proto, .points([UInt64(x)]))
        case .transport: return (.l4proto, .points([6, 17, 33, 132, 136]))
        case .icmpAny: return (.l4proto, .points([1, 58]))
        case .nfproto(let f): return (.nfproto, .points([UInt64(f.rawValue)]))
        }
    }

    /// The guard of the rule at `ops[first..<first+count]`: per dimension, a superset of the
    /// values its tests before the first operation with an effect let through. Empty when
    /// nothing is known (the rule is a candidate for every packet).
    static func guardOf(_ ops: ContiguousArray<Op>, loads: ContiguousArray<Load>, first: Int, count: Int) -> [(Load, ValueConstraint)] {
        var out: [(Load, ValueConstraint)] = []
        func add(_ l: Load, _ c: ValueConstraint) {
            if let i = out.firstIndex(where: { $0.0 == l }) { out[i].1 = out[i].1.intersected(c) } else { out.append((l, c)) }
        }
        // A rule rxray does not model leaves a trace line when passed: always a candidate.
        if count > 0, case .never = ops[first] { return [] }
        scan: for k in first..<(first + count) {
            switch ops[k] {
            case .cmp(let l, let c, let v, let mask, let dep):
                guard isPure(l) else { break scan }
                if let (dl, dc) = depConstraint(dep) { add(dl, dc) }
                guard isIndexable(l) else { continue }
                // A missing value fails the test whatever the comparison.
                var cons = ValueConstraint(intervals: [(.zero, .max128)], absentOK: false)
                if c == .eq || c == .ne, let m = ValueConstraint.masked(v, mask: mask, negated: c == .ne) { cons = m }
                add(l, cons)
            case .range(let l, let lo, let hi, let neg, let dep):
                guard isPure(l) else { break scan }
                if let (dl, dc) = depConstraint(dep) { add(dl, dc) }
                guard isIndexable(l) else { continue }
                add(l, .range(lo, hi, negated: neg))
            case .set(let keys, _, _, let dep):
                guard (0..<Int(keys.count)).allSatisfy({ isPure(loads[Int(keys.first) + $0]) }) else { break scan }
                if let (dl, dc) = depConstraint(dep) { add(dl, dc) }
            case .multiport, .iprange, .addrtype, .u32, .ipsetMatch, .fragment, .never, .ownerNeverOnInput:
                // Tests without side effects that the index does not model: later tests
                // still belong to the guard.
                continue
            default:
                break scan
            }
        }
        return out.filter { !$0.1.isAny }
    }

    /// One chain's index, appended to the flat arrays; nil when no dimension is worth it.
    struct Built {
        var dims: [(load: Load, points: [NFValue], bits: [UInt64])] = []
        var words = 0
    }

    /// - Parameter everyRuleGuarded: build only when every rule's guard constrains one of the
    ///   chosen dimensions (for small chains, where an unguarded rule leaves too little to skip).
    static func build(_ ops: ContiguousArray<Op>, loads: ContiguousArray<Load>, rules: ArraySlice<CRule>,
                      everyRuleGuarded: Bool = false) -> Built? {
        let n = rules.count
        guard n > 0 else { return nil }
        let guards = rules.map { guardOf(ops, loads: loads, first: Int($0.first), count: Int($0.count)) }
        // Dimensions by how many rules they constrain.
        var tally: [Load: Int] = [:]
        var order: [Load] = []
        for g in guards { for (l, _) in g { if tally[l] == nil { order.append(l) }; tally[l, default: 0] += 1 } }
        let minRules = max(2, n / 16)
        let chosen = order.filter { tally[$0]! >= minRules }
            .enumerated().sorted { tally[$0.element]! != tally[$1.element]! ? tally[$0.element]! > tally[$1.element]! : $0.offset < $1.offset }
            .map(\.element)
        let words = (n + 63) / 64
        var built = Built(dims: [], words: words)
        for load in pruned(Array(chosen.prefix(maxDims)), guards) {
            if built.dims.count >= maxDims { break }
            let cons: [ValueConstraint?] = guards.map { g in g.first { $0.0 == load }?.1 }
            // Bounds: every interval start and every end + 1.
            var pts = Set<NFValue>()
            for c in cons { for (a, b) in c?.intervals ?? [] { pts.insert(a); if b != .max128 { pts.insert(b.plusOne) } } }
            let points = pts.sorted()
            let classes = points.count + 2
            guard classes * words <= maxWordsPerDim else { continue }
            var bits = [UInt64](repeating: 0, count: classes * words)
            let absent = classes - 1
            for (i, c) in cons.enumerated() {
                let bit = UInt64(1) << UInt64(i & 63), w = i >> 6
                guard let c else {
                    for k in 0..<classes { bits[k * words + w] |= bit }
                    continue
                }
                if c.absentOK { bits[absent * words + w] |= bit }
                for (a, b) in c.intervals {
                    let ca = classOf(a, points), cb = classOf(b, points)
                    if ca > cb { continue }
                    for k in ca...cb { bits[k * words + w] |= bit }
                }
            }
            built.dims.append((load, points, bits))
        }
        if everyRuleGuarded {
            let dims = built.dims.map(\.load)
            guard guards.allSatisfy({ g in g.contains { dims.contains($0.0) } }) else { return nil }
        }
        return built.dims.isEmpty ? nil : built
    }

    /// `dims` without the dimensions that only filter: every rule constraining such a
    /// dimension has the same constraint on it (one test shared by the rules, such as
    /// `-i eth0 -p tcp` before each port), and another dimension kept tells those same rules
    /// apart. Each dimension costs a class search per chain entry; one that only filters saves
    /// a walk only of the few rules the others still admit, for a packet failing its one test.
    /// Leaving a dimension out keeps the index exact (it admits more rules, which run in full).
    static func pruned(_ dims: [Load], _ guards: [[(Load, ValueConstraint)]]) -> [Load] {
        func constraints(_ l: Load) -> [ValueConstraint?] { guards.map { g in g.first { $0.0 == l }?.1 } }
        func distinct(_ cs: [ValueConstraint?]) -> Int {
            var seen: [ValueConstraint] = []
            for c in cs { if let c, !seen.contains(c) { seen.append(c); if seen.count > 1 { break } } }
            return seen.count
        }
        let cons = dims.map(constraints)
        let splits = cons.map { distinct($0) > 1 }
        var keep = Array(repeating: true, count: dims.count)
        for d in dims.indices.reversed() where !splits[d] {
            // Another kept dimension that tells apart every rule this one constrains.
            let covered = dims.indices.contains { e in
                e != d && keep[e] && splits[e] && cons[d].indices.allSatisfy { cons[d][$0] == nil || cons[e][$0] != nil }
            }
            if covered { keep[d] = false }
        }
        return dims.indices.filter { keep[$0] }.map { dims[$0] }
    }

    /// Number of points ≤ x: the elementary interval holding x.
    static func classOf(_ x: NFValue, _ points: [NFValue]) -> Int {
        var lo = 0, hi = points.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if x < points[mid] { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}
