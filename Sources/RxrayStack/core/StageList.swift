/// A result's stage records (`FrameResult.stages`): a growable buffer of plain values kept
/// across frames, shared between copies of a result until one of them writes (copy on write).
/// The count is the list's own, not the buffer's: emptying it for the next frame is a store
/// (an `Array` paid a uniqueness check and a generic replace-subrange call), and a copy keeps
/// its records whatever the original does after.
public struct StageList: RandomAccessCollection, MutableCollection, Sendable, CustomStringConvertible {
    /// The records' memory. Records are plain values (`StageRecord` holds no reference), so
    /// nothing is destroyed when the count drops.
    @usableFromInline final class Storage: @unchecked Sendable {
        @usableFromInline let base: UnsafeMutablePointer<StageRecord>
        @usableFromInline let capacity: Int

        @usableFromInline init(capacity: Int) {
            self.capacity = capacity
            base = .allocate(capacity: capacity)
        }

        deinit { base.deallocate() }
    }

    @usableFromInline var storage: Storage?
    /// 32 bits, so that the list takes 12 bytes and a result's next small field fits after it
    /// (a result above 256 bytes cost a slower `memcpy` at each of its moves).
    @usableFromInline var stored: Int32

    @inlinable public init() {
        storage = nil
        stored = 0
    }

    /// Number of records.
    @inlinable public var count: Int { Int(stored) }

    public init<S: Sequence>(_ records: S) where S.Element == StageRecord {
        self.init()
        append(contentsOf: records)
    }

    public typealias Index = Int
    public typealias Indices = Range<Int>
    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { count }
    @inlinable public var isEmpty: Bool { count == 0 }

    @inlinable public subscript(position: Int) -> StageRecord {
        get {
            precondition(UInt(bitPattern: position) < UInt(bitPattern: count), "stage index out of range")
            return storage.unsafelyUnwrapped.base[position]
        }
        set {
            precondition(UInt(bitPattern: position) < UInt(bitPattern: count), "stage index out of range")
            if !isKnownUniquelyReferenced(&storage) { reallocate(minimumCapacity: count) }
            storage.unsafelyUnwrapped.base[position] = newValue
        }
    }

    /// Appends a record. Inlined (a call cost as much as the append).
    @inlinable @inline(__always) public mutating func append(_ record: StageRecord) {
        if !isKnownUniquelyReferenced(&storage) || storage.unsafelyUnwrapped.capacity == count {
            reallocate(minimumCapacity: count &+ 1)
        }
        storage.unsafelyUnwrapped.base[count] = record
        stored &+= 1
    }

    /// Appends records (copied at once when they are contiguous).
    public mutating func append<S: Sequence>(contentsOf records: S) where S.Element == StageRecord {
        let done: Bool? = records.withContiguousStorageIfAvailable { src in
            guard let from = src.baseAddress, src.count > 0 else { return true }
            if !isKnownUniquelyReferenced(&storage) || storage.unsafelyUnwrapped.capacity - count < src.count {
                reallocate(minimumCapacity: count + src.count)
            }
            (storage.unsafelyUnwrapped.base + count).update(from: from, count: src.count)
            stored += Int32(src.count)
            return true
        }
        if done == nil { for r in records { append(r) } }
    }

    /// Appends the stage and verdict of each of `records` (their detail left out), after one
    /// uniqueness and capacity check.
    @inlinable public mutating func appendWithoutDetail(_ records: UnsafeBufferPointer<StageRecord>) {
        let n = records.count
        guard n > 0 else { return }
        if !isKnownUniquelyReferenced(&storage) || storage.unsafelyUnwrapped.capacity &- count < n {
            reallocate(minimumCapacity: count &+ n)
        }
        let to = storage.unsafelyUnwrapped.base + count
        for k in 0..<n { to[k] = StageRecord(stage: records[k].stage, verdict: records[k].verdict) }
        stored &+= Int32(truncatingIfNeeded: n)
    }

    /// Removes and returns the last record.
    @inlinable @discardableResult public mutating func removeLast() -> StageRecord {
        precondition(count > 0, "removeLast from an empty stage list")
        stored &-= 1
        return storage.unsafelyUnwrapped.base[Int(stored)]
    }

    /// Removes every record, keeping the storage (a copy sharing it keeps its records).
    @inlinable public mutating func removeAll() { stored = 0 }

    /// Calls `body` with the records.
    @inlinable public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<StageRecord>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: count == 0 ? nil : storage.unsafelyUnwrapped.base, count: count))
    }

    @inlinable public func withContiguousStorageIfAvailable<R>(_ body: (UnsafeBufferPointer<StageRecord>) throws -> R) rethrows -> R? {
        try withUnsafeBufferPointer(body)
    }

    public var description: String { Array(self).description }

    /// New storage of at least `minimumCapacity` (doubling), holding the current records.
    @usableFromInline @inline(never) mutating func reallocate(minimumCapacity: Int) {
        let old = storage
        var capacity = old?.capacity ?? 16
        if capacity < minimumCapacity { capacity = Swift.max(minimumCapacity, capacity * 2) }
        let s = Storage(capacity: capacity)
        if let old, count > 0 { s.base.initialize(from: old.base, count: count) }
        storage = s
    }
}
