/// A key with a cheap, fixed 64-bit hash of its fields (no per-process seed: the tables that
/// use it are never iterated into the output, so the order their buckets give is never seen).
protocol FastHashable: Equatable {
    var fastHash: UInt64 { get }
}

/// A hash table for the per-frame lookups of the receive path (TCP sockets): open addressing
/// with linear probing over one array of entries, at most half full, and deletion by moving
/// back the entries after the removed one (no tombstones, a lookup ends at the first empty
/// bucket). Swift's `Dictionary` seeds and runs SipHash for every lookup; this hashes with a
/// couple of multiplies.
struct OpenTable<Key: FastHashable, Value> {
    private var buckets: [(key: Key, value: Value)?] = []
    private var mask = -1
    private(set) var count = 0

    init() {}

    var isEmpty: Bool { count == 0 }

    @inline(__always) private func home(_ k: Key) -> Int {
        var h = k.fastHash
        h ^= h >> 31
        h = h &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 29
        return Int(truncatingIfNeeded: h) & mask
    }

    /// The bucket holding `k`, or the empty bucket where it would go.
    @inline(__always) private func find(_ k: Key) -> (index: Int, found: Bool) {
        var i = home(k)
        while let e = buckets[i] {
            if e.key == k { return (i, true) }
            i = (i &+ 1) & mask
        }
        return (i, false)
    }

    subscript(_ k: Key) -> Value? {
        get {
            guard count > 0 else { return nil }
            let (i, found) = find(k)
            return found ? buckets[i]!.value : nil
        }
        set {
            if let v = newValue { setValue(v, forKey: k) } else { removeValue(forKey: k) }
        }
    }

    /// Where `k` is or would go (`find`), after growing the table if one more key would fill
    /// it past half: the start of every store.
    @inline(__always) private mutating func findGrowing(_ k: Key) -> (index: Int, found: Bool) {
        if mask < 0 || (count + 1) * 2 > mask + 1 { grow() }
        return find(k)
    }

    /// Sets the value of `k`, storing over the one it replaces in place (`updateValue` without
    /// handing back the old value: a large value was copied out only to be thrown away, and
    /// a new bucket built to be copied in).
    mutating func setValue(_ v: Value, forKey k: Key) {
        let (i, found) = findGrowing(k)
        if found {
            buckets[i]!.value = v
        } else {
            buckets[i] = (k, v)
            count += 1
        }
    }

    /// Sets the value of `k`; returns the value it replaced.
    @discardableResult
    mutating func updateValue(_ v: Value, forKey k: Key) -> Value? {
        let (i, found) = findGrowing(k)
        if found {
            let old = buckets[i]!.value
            buckets[i] = (k, v)
            return old
        }
        buckets[i] = (k, v)
        count += 1
        return nil
    }

    /// Removes `k`; returns its value.
    @discardableResult
    mutating func removeValue(forKey k: Key) -> Value? {
        guard count > 0 else { return nil }
        let (start, found) = find(k)
        guard found else { return nil }
        let old = buckets[start]!.value
        var hole = start
        var j = start
        while true {
            j = (j &+ 1) & mask
            guard let e = buckets[j] else { break }
            let h = home(e.key)
            // The entry at j stays unless the hole lies on its probe path (home cyclically
            // outside (hole, j]).
            let stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if stays { continue }
            buckets[hole] = e
            hole = j
        }
        buckets[hole] = nil
        count -= 1
        return old
    }

    /// Every entry, in bucket order (for reloads and tests, not per frame).
    var entries: [(key: Key, value: Value)] { buckets.compactMap { $0 } }

    /// Doubles the buckets (16 at first) and reinserts every entry.
    private mutating func grow() {
        let old = buckets
        let n = mask < 0 ? 16 : (mask + 1) * 2
        buckets = [(key: Key, value: Value)?](repeating: nil, count: n)
        mask = n - 1
        for case let e? in old {
            let (i, _) = find(e.key)
            buckets[i] = e
        }
    }
}
