import RxrayOutput

/// The frames the analyzer holds (a GRO hold, a fragment queue), oldest first, until their
/// results come back, with the bytes of those that will be printed.
///
/// Results come back in capture order, so the frame asked for is almost always the oldest.
/// Metadata sits in a ring of entries; bytes sit in one contiguous FIFO arena: a frame's
/// bytes are appended at the end, and the space of released frames at the front is reused
/// when the queue empties (the usual case: back to offset 0) or is compacted when the arena
/// would otherwise have to grow. So memory follows the bytes actually held at once (which the
/// kernel's own limits bound: GRO flushes every poll, reassembly queues time out), not the
/// largest frame ever held times the deepest hold, and holding a frame allocates nothing once
/// the arena has reached that size. After a burst (the queue empty with an arena above
/// `keepBytes`) the arena shrinks back, so a single deep hold early in a long capture does not
/// keep its memory to the end.
final class HeldFrameQueue {
    private struct Entry {
        /// The frame number (entries are pushed in capture order, so the ring is sorted by it).
        var index: Int
        /// Nil once released (skipped when it reaches the front, dropped by `compact`).
        var meta: FrameMeta?
        var offset: Int
        var length: Int
        var selected: Bool
        var taken: Bool
    }

    private static let taken = Int.min
    /// Released entries not yet at the front: results in settled order (`--summary` alone, or a
    /// fragment that never completes) leave them behind an old held frame; `compact` drops them
    /// once they are most of the ring, so the ring follows the frames actually held.
    private var takenBehind = 0
    /// Arena bytes kept across an empty queue; a larger arena is given back when it empties.
    static let keepBytes = 1 << 20
    private static let initialBytes = 1 << 16

    private var entries: [Entry] = []
    private var head = 0
    /// Entries in use, from `head` (taken ones included until they reach the front).
    private var used = 0
    private var arena: UnsafeMutableRawBufferPointer
    /// Where the next frame's bytes go; the held bytes are `[entries[head].offset, end)`.
    private var end = 0

    init() {
        arena = .allocate(byteCount: Self.initialBytes, alignment: 16)
    }

    deinit { arena.deallocate() }

    var isEmpty: Bool { used == 0 }
    /// Frames held (taken ones not yet at the front included).
    var count: Int { used }
    /// The arena's size in bytes (for tests: it must not grow with the capture).
    var arenaBytes: Int { arena.count }

    /// Holds a frame; `bytes` nil keeps only its metadata (nothing will print it).
    func push(meta: FrameMeta, bytes: UnsafeRawBufferPointer?, selected: Bool) {
        if used == entries.count { growEntries() }
        let n = bytes?.count ?? 0
        if n > 0 && end + n > arena.count { makeRoom(n) }
        if n > 0, let b = bytes, let src = b.baseAddress {
            (arena.baseAddress! + end).copyMemory(from: src, byteCount: n)
        }
        let i = (head + used) % entries.count
        entries[i] = Entry(index: meta.index, meta: meta, offset: end, length: n, selected: selected, taken: false)
        end += n
        used += 1
    }

    /// Calls `body` with held frame `index` and releases it; returns false if it is not held.
    @discardableResult
    func take(_ index: Int, _ body: (FrameMeta, UnsafeRawBufferPointer, Bool) -> Void) -> Bool {
        // The oldest is the usual answer; otherwise a binary search (the ring is sorted).
        var k = 0
        if used == 0 { return false }
        if entries[head].index != index {
            var lo = 0, hi = used - 1
            k = -1
            while lo <= hi {
                let mid = (lo + hi) >> 1
                let v = entries[(head + mid) % entries.count].index
                if v == index { k = mid; break }
                if v < index { lo = mid + 1 } else { hi = mid - 1 }
            }
            if k < 0 { return false }
        }
        let i = (head + k) % entries.count
        // The entry is read in place and its meta moved out (reading `entries[i]` copied the
        // entry, its meta's strings retained, twice per frame).
        var meta: FrameMeta?
        var offset = 0, length = 0, selected = false
        let wasTaken = entries.withUnsafeMutableBufferPointer { es -> Bool in
            if es[i].taken { return true }
            es[i].taken = true
            swap(&meta, &es[i].meta)
            offset = es[i].offset
            length = es[i].length
            selected = es[i].selected
            return false
        }
        if wasTaken { return false }
        if let m = meta {
            body(m, UnsafeRawBufferPointer(start: arena.baseAddress! + offset, count: length), selected)
        }
        takenBehind += 1
        // Release the taken entries at the front.
        while used > 0 && entries[head].taken {
            head = (head + 1) % entries.count
            used -= 1
            takenBehind -= 1
        }
        if takenBehind > 1024 && takenBehind * 2 > used { compact() }
        if used == 0 {
            head = 0
            end = 0
            if arena.count > Self.keepBytes {
                arena.deallocate()
                arena = .allocate(byteCount: Self.initialBytes, alignment: 16)
            }
        }
        return true
    }

    /// Makes `n` more bytes fit at `end`: moves the held bytes to the front of the arena when
    /// released ones take at least half of it, else doubles it (enough for `n`).
    private func makeRoom(_ n: Int) {
        let start = used > 0 ? entries[head].offset : end
        let live = end - start
        var size = arena.count
        if start >= size / 2 && live + n <= size {
            if live > 0 { arena.baseAddress!.copyMemory(from: arena.baseAddress! + start, byteCount: live) }
        } else {
            while live + n > size { size *= 2 }
            let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
            if live > 0 { bigger.baseAddress!.copyMemory(from: arena.baseAddress! + start, byteCount: live) }
            arena.deallocate()
            arena = bigger
        }
        for k in 0..<used { entries[(head + k) % entries.count].offset -= start }
        end = live
    }

    /// Drops the released entries left behind an older held frame and packs the held bytes to
    /// the front of the arena, keeping capture order (so `take` can still search).
    private func compact() {
        var kept: [Entry] = []
        kept.reserveCapacity(max(8, entries.count))
        var offset = 0
        for k in 0..<used {
            var e = entries[(head + k) % entries.count]
            guard !e.taken else { continue }
            if e.length > 0 {
                if e.offset != offset {
                    (arena.baseAddress! + offset).copyMemory(from: arena.baseAddress! + e.offset, byteCount: e.length)
                }
                e.offset = offset
                offset += e.length
            }
            kept.append(e)
        }
        used = kept.count
        while kept.count < entries.count {
            kept.append(Entry(index: Self.taken, meta: nil, offset: 0, length: 0, selected: false, taken: true))
        }
        entries = kept
        head = 0
        end = offset
        takenBehind = 0
    }

    /// Doubles the entry ring (called when every entry is in use), laying it out from 0.
    private func growEntries() {
        let n = entries.count
        let newCount = max(8, n * 2)
        var bigger: [Entry] = []
        bigger.reserveCapacity(newCount)
        for k in 0..<n { bigger.append(entries[(head + k) % n]) }
        while bigger.count < newCount {
            bigger.append(Entry(index: Self.taken, meta: nil, offset: 0, length: 0, selected: false, taken: true))
        }
        entries = bigger
        head = 0
    }
}
