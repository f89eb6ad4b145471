// Emptying small lists that are reused on every frame or hook, shared by the stack and the
// netfilter engine.
extension Array {
    /// Removes every element and keeps the capacity, as `removeAll(keepingCapacity: true)`:
    /// a few elements are taken off the end one at a time, for less than that call's generic
    /// replace-subrange (about 80 instructions even for an array of `Int`s; lists emptied on
    /// every frame or round hold one or two elements). For an array whose storage nothing
    /// else shares: a shared one is copied first, at the capacity its count needs.
    @inlinable @inline(__always)
    public mutating func removeAllKeepingCapacity() {
        if count <= 8 {
            while !isEmpty { removeLast() }
        } else {
            removeAll(keepingCapacity: true)
        }
    }

    /// Removes the last `k` elements (`removeLast(_:)`), keeping the capacity; a few are taken
    /// off one at a time (see `removeAllKeepingCapacity`).
    @inlinable @inline(__always)
    public mutating func removeLastKeepingCapacity(_ k: Int) {
        if k <= 8 {
            for _ in 0..<k { removeLast() }
        } else {
            removeLast(k)
        }
    }
}
