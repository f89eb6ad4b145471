import XCTest
import RxrayDecode
@testable import RxrayStack

/// The per-frame fast paths (issue #10) give the same answers as the plain definitions they
/// replace: checksums, RSS hashing, the route cache, counters, timers.
final class HotPathTests: XCTestCase {
    /// The ones'-complement sum one 16-bit network-order word at a time (RFC 1071).
    func referenceSum(_ b: [UInt8], _ offset: Int, _ count: Int, initial: UInt32) -> UInt32 {
        var sum = UInt64(initial)
        var i = offset
        while i + 1 < offset + count { sum += UInt64(b[i]) << 8 | UInt64(b[i + 1]); i += 2 }
        if i < offset + count { sum += UInt64(b[i]) << 8 }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return UInt32(sum)
    }

    func testOnesSumMatchesWordAtATimeSum() {
        var rng = SystemRandomNumberGenerator()
        for length in [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 20, 31, 33, 64, 65, 1480, 1501, 9000] {
            for offset in 0..<4 {
                for fill in 0..<3 {
                    var b = [UInt8](repeating: 0, count: offset + length + 3)
                    for i in b.indices { b[i] = fill == 0 ? 0 : fill == 1 ? 0xFF : UInt8.random(in: 0...255, using: &rng) }
                    for initial: UInt32 in [0, 1, 0xFFFF, 0x1_2345, UInt32.random(in: 0...0xFFFF, using: &rng)] {
                        let got = b.withUnsafeBytes { $0.onesSum(offset, length, initial: initial) }
                        XCTAssertEqual(got, referenceSum(b, offset, length, initial: initial),
                                       "length \(length) offset \(offset) fill \(fill) initial \(initial)")
                    }
                }
            }
        }
    }

    /// `onesSum` / `checksumOK` with the pseudo-header sums the transports pass, against the
    /// word-at-a-time sum: every length 0...2,000 at every start offset 0...7, random bytes
    /// and all 0xFF, without and with IPv4 and IPv6 pseudo-headers and other initial values.
    func testOnesSumWithPseudoHeadersForEveryLengthAndOffset() {
        var rng = SystemRandomNumberGenerator()
        let s4 = IPv4Address(0xC0A8_0001), d4 = IPv4Address(0xFFFF_FFFF)
        let s6 = IPv6Address(high: 0xFE80_0000_0000_0000, low: 0xFFFF_FFFF_FFFF_FFFF)
        let d6 = IPv6Address(high: 0x2001_0DB8_FFFF_0000, low: 0x0000_0000_0000_0001)
        for fill in 0..<2 {
            var b = [UInt8](repeating: 0xFF, count: 2_000 + 8)
            if fill == 0 { for i in b.indices { b[i] = UInt8.random(in: 0...255, using: &rng) } }
            for offset in 0..<8 {
                for length in 0...2_000 {
                    let initials: [UInt32] = [0, Pseudo.v4(s4, d4, proto: 6, length: length),
                                              Pseudo.v6(s6, d6, proto: 17, length: length),
                                              length % 13 == 0 ? 0xFFFF : UInt32.random(in: 0...0x1_FFFF, using: &rng)]
                    for initial in initials {
                        let want = referenceSum(b, offset, length, initial: initial)
                        let got = b.withUnsafeBytes { $0.onesSum(offset, length, initial: initial) }
                        if got != want {
                            XCTFail("fill \(fill) offset \(offset) length \(length) initial \(initial): \(got) != \(want)")
                            return
                        }
                        XCTAssertEqual(b.withUnsafeBytes { $0.checksumOK(offset, length, pseudo: initial) }, want == 0xFFFF)
                    }
                }
            }
        }
    }

    /// `OpenTable` (the TCP socket table) against a Dictionary over random sets, in-place
    /// replacements (`setValue`), updates and removals, with a hash that collides often so
    /// probing and backward-shift deletion are exercised; values are large (stored in place).
    func testOpenTableMatchesADictionaryUnderRandomUpdates() {
        struct Key: FastHashable {
            var id: Int
            var fastHash: UInt64 { UInt64(id % 5) }
        }
        struct Big: Equatable {
            var a: UInt64, b: UInt64, c: UInt64, d: UInt64, e: UInt64, f: UInt64, g: UInt64, h: UInt64
            var name: String
            init(_ x: UInt64) { a = x; b = ~x; c = x &* 3; d = x >> 1; e = x ^ 0x55; f = x &+ 9; g = 7; h = x; name = "v\(x)" }
        }
        var rng = SystemRandomNumberGenerator()
        var table = OpenTable<Key, Big>()
        var plain: [Int: Big] = [:]
        for step in 0..<20_000 {
            let k = Int.random(in: 0..<300, using: &rng)
            let v = Big(UInt64(step))
            switch Int.random(in: 0..<5, using: &rng) {
            case 0:
                table.setValue(v, forKey: Key(id: k)); plain[k] = v
            case 1:
                XCTAssertEqual(table.updateValue(v, forKey: Key(id: k)), plain.updateValue(v, forKey: k), "step \(step)")
            case 2:
                table[Key(id: k)] = v; plain[k] = v
            case 3:
                XCTAssertEqual(table.removeValue(forKey: Key(id: k)), plain.removeValue(forKey: k), "step \(step)")
            default:
                table[Key(id: k)] = nil; plain[k] = nil
            }
            XCTAssertEqual(table.count, plain.count, "step \(step)")
            let probe = Int.random(in: 0..<300, using: &rng)
            XCTAssertEqual(table[Key(id: probe)], plain[probe], "step \(step) key \(probe)")
        }
        for (k, v) in plain { XCTAssertEqual(table[Key(id: k)], v) }
        XCTAssertEqual(table.entries.count, plain.count)
    }

    func testChecksumOfARealHeaderVerifies() {
        // RFC 1071-style example: an IPv4 header with its checksum filled in verifies; one bit off does not.
        var h = T.ipv4(proto: 17, [UInt8](repeating: 0xAB, count: 8))
        h.withUnsafeBytes { XCTAssertTrue($0.checksumOK(0, 20)) }
        h[8] ^= 1
        h.withUnsafeBytes { XCTAssertFalse($0.checksumOK(0, 20)) }
    }

    func testMIBOrdinalIsTheDeclarationIndex() {
        XCTAssertLessThanOrEqual(MIB.count, 128, "MIBSet holds 128 counters")
        for (i, m) in MIB.allCases.enumerated() { XCTAssertEqual(m.ordinal, i, "\(m)") }
    }

    func testCountMergesRepeatedMovesAndResetClears() {
        var r = FrameResult()
        r.count(.ipInReceives)
        r.count(.tcpInSegs, 2)
        r.count(.ipInReceives, 3)
        r.count(.udp6IgnoredMulti)  // the last case (second word of the set)
        XCTAssertEqual(r.counters.map { $0.0 }, [.ipInReceives, .tcpInSegs, .udp6IgnoredMulti])
        XCTAssertEqual(r.counters.map { $0.1 }, [4, 2, 1])
        r.reset(frame: 2)
        XCTAssertTrue(r.counters.isEmpty)
        r.count(.tcpInSegs)
        XCTAssertEqual(r.counters.map { $0.0 }, [.tcpInSegs])
        XCTAssertEqual(r.counters.map { $0.1 }, [1])
    }

    /// Counters against the plain definition (an array of pairs in first-moved order, a move of
    /// a counter already there added to it), over random moves of every MIB across resets: the
    /// order and sums are the same, and a reset forgets the values of the previous frame.
    func testCountersKeepFirstMovedOrderAndMergeAcrossResets() {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((seed >> 33) % UInt64(n))
        }
        var r = FrameResult()
        for frame in 1...200 {
            r.reset(frame: frame)
            var want: [(MIB, Int)] = []
            // Mostly few moves, sometimes every MIB (the storage's whole order list).
            let moves = frame % 50 == 0 ? 400 : next(12)
            for _ in 0..<moves {
                let m = MIB.allCases[next(MIB.count)]
                let d = next(7) - 3
                r.count(m, d)
                if let i = want.firstIndex(where: { $0.0 == m }) { want[i].1 += d } else { want.append((m, d)) }
            }
            XCTAssertEqual(r.counters.map { $0.0 }, want.map { $0.0 }, "frame \(frame)")
            XCTAssertEqual(r.counters.map { $0.1 }, want.map { $0.1 }, "frame \(frame)")
            XCTAssertEqual(r.counters.count, want.count)
        }
    }

    /// A copy of a result keeps its counters when the original is reset and counts again (and
    /// the other way round): the storage is shared only until one of them writes.
    func testCountersOfACopyStayApart() {
        var r = FrameResult()
        r.count(.ipInReceives)
        r.count(.tcpInSegs, 5)
        let copy = r
        r.reset(frame: 2)
        r.count(.tcpInSegs)
        r.count(.udpInDatagrams, 2)
        XCTAssertEqual(copy.counters.map { "\($0.0)=\($0.1)" }, ["ipInReceives=1", "tcpInSegs=5"])
        XCTAssertEqual(r.counters.map { "\($0.0)=\($0.1)" }, ["tcpInSegs=1", "udpInDatagrams=2"])
        var other = copy
        other.count(.ipInReceives, 2)
        other.count(.ipInDelivers)
        XCTAssertEqual(copy.counters.map { "\($0.0)=\($0.1)" }, ["ipInReceives=1", "tcpInSegs=5"])
        XCTAssertEqual(other.counters.map { "\($0.0)=\($0.1)" }, ["ipInReceives=3", "tcpInSegs=5", "ipInDelivers=1"])
        XCTAssertTrue(FrameResult().counters.isEmpty)
    }

    /// Emptying a reused array (`removeAllKeepingCapacity`, `removeLastKeepingCapacity`): the
    /// elements go, in any number, the capacity of an array nothing shares stays, and a copy
    /// keeps its elements.
    func testArraysEmptiedForReuseKeepTheirCapacity() {
        for n in [0, 1, 2, 8, 9, 100] {
            var a = Array(0..<n)
            a.reserveCapacity(128)
            let capacity = a.capacity
            a.removeAllKeepingCapacity()
            XCTAssertTrue(a.isEmpty, "\(n)")
            XCTAssertEqual(a.capacity, capacity, "\(n)")
            a.append(contentsOf: 0..<n)
            let copy = a
            a.removeAllKeepingCapacity()
            XCTAssertTrue(a.isEmpty, "\(n)")
            XCTAssertEqual(copy, Array(0..<n))
            for k in [0, 1, n / 2, n] where k <= n {
                var b = Array(0..<n)
                b.reserveCapacity(128)
                let c = b.capacity
                b.removeLastKeepingCapacity(k)
                XCTAssertEqual(b, Array(0..<(n - k)), "\(n) - \(k)")
                XCTAssertEqual(b.capacity, c, "\(n) - \(k)")
            }
        }
    }

    // MARK: RSS

    /// Microsoft's RSS verification vectors for the default key ("Verifying the RSS Hash
    /// Calculation"): source and destination address and port, hash over the addresses only
    /// and over addresses and ports.
    func testToeplitzMatchesPublishedIPv4Vectors() {
        let vectors: [(String, UInt16, String, UInt16, UInt32, UInt32)] = [
            ("66.9.149.187", 2794, "161.142.100.80", 1766, 0x323e8fc2, 0x51ccc178),
            ("199.92.111.2", 14230, "65.69.140.83", 4739, 0xd718262a, 0xc626b0ea),
            ("24.19.198.95", 12898, "12.22.207.184", 38024, 0xd2d0a5de, 0x5c2b394a),
            ("38.27.205.30", 48228, "209.142.163.6", 2217, 0x82989176, 0xafc7327f),
            ("153.39.163.191", 44251, "202.188.127.2", 1303, 0x5d1809c5, 0x10e828a2),
        ]
        let k = kernelWithNIC()
        for (s, sp, d, dp, addrOnly, withPorts) in vectors {
            let src = IPv4Address(s)!, dst = IPv4Address(d)!
            let ports = [UInt8(sp >> 8), UInt8(sp & 0xFF), UInt8(dp >> 8), UInt8(dp & 0xFF)]
            let tcp = T.ipv4(src: src, dst: dst, proto: 6, ports + [UInt8](repeating: 0, count: 16))
            let udp = T.ipv4(src: src, dst: dst, proto: 17, ports + [0, 8, 0, 0])
            XCTAssertEqual(hash(k, tcp, proto: 0x0800), withPorts, "\(s) → \(d) TCP")
            XCTAssertEqual(hash(k, udp, proto: 0x0800), addrOnly, "\(s) → \(d) addresses only")
        }
    }

    func testToeplitzMatchesPublishedIPv6Vectors() {
        let vectors: [(String, UInt16, String, UInt16, UInt32, UInt32)] = [
            ("3ffe:2501:200:1fff::7", 2794, "3ffe:2501:200:3::1", 1766, 0x2cc18cd5, 0x40207d3d),
            ("3ffe:501:8::260:97ff:fe40:efab", 14230, "ff02::1", 4739, 0x0f0c461c, 0xdde51bbf),
            ("3ffe:1900:4545:3:200:f8ff:fe21:67cf", 44251, "fe80::200:f8ff:fe21:67cf", 38024, 0x4b61e985, 0x02d1feef),
        ]
        let k = kernelWithNIC()
        for (s, sp, d, dp, addrOnly, withPorts) in vectors {
            let src = IPv6Address(s)!, dst = IPv6Address(d)!
            let ports = [UInt8(sp >> 8), UInt8(sp & 0xFF), UInt8(dp >> 8), UInt8(dp & 0xFF)]
            let tcp = T.ipv6(src: src, dst: dst, nh: 6, ports + [UInt8](repeating: 0, count: 16))
            let udp = T.ipv6(src: src, dst: dst, nh: 17, ports + [0, 8, 0, 0])
            XCTAssertEqual(hash(k, tcp, proto: 0x86DD), withPorts, "\(s) → \(d) TCP")
            XCTAssertEqual(hash(k, udp, proto: 0x86DD), addrOnly, "\(s) → \(d) addresses only")
        }
    }

    func kernelWithNIC() -> Kernel {
        var n = T.netns()
        n.devices[1].isVirtual = false
        n.devices[1].rxQueues = 4
        return Kernel(ns: n)
    }

    func hash(_ k: Kernel, _ packet: [UInt8], proto: UInt16) -> UInt32 {
        packet.withUnsafeBytes { buf in
            k.rssQueue(dev: 1, buf: buf, proto: proto).hash
        }
    }

    // MARK: route cache

    func testRouteCacheGivesTheUncachedResult() {
        var n = T.netns(forwarding: true)
        n.routes4.append(Route4(table: FibTableID.main, type: .unicast, prefix: IPv4Address(10, 0, 0, 0), length: 8, dev: 1))
        n.routes4.append(Route4(table: 100, type: .blackhole, prefix: IPv4Address(10, 1, 0, 0), length: 16))
        n.routes4.append(Route4(prefix: IPv4Address(10, 2, 0, 0), length: 16, dev: 2, tos: 4))
        var marked = FibRule4(priority: 100, action: .table(100))
        marked.sel.fwmark = 7
        n.rules4.insert(marked, at: 1)
        n.rules4.insert(FibRule4(priority: 200, from: (IPv4Address(198, 51, 100, 0), 24), action: .table(100)), at: 2)
        n.addAddressRoutesIfMissing()
        let k = Kernel(ns: n)
        var rng = SystemRandomNumberGenerator()
        var flows: [Flow4] = []
        for _ in 0..<3000 {
            let d: UInt32 = [0x0A01_0000, 0x0A02_0000, 0xC000_0200, 0xC633_6400, 0x0808_0800].randomElement(using: &rng)!
                | UInt32.random(in: 0...3, using: &rng)
            let s: UInt32 = [0xC633_6402, 0xC000_0202, 0x0A00_0001].randomElement(using: &rng)!
            flows.append(Flow4(daddr: IPv4Address(d), saddr: IPv4Address(s), iif: Int.random(in: 0...1, using: &rng),
                               oif: [nil, 1].randomElement(using: &rng)!, mark: [0, 7].randomElement(using: &rng)!,
                               tos: [0, 4].randomElement(using: &rng)!, proto: 6,
                               sport: UInt16.random(in: 1000...1003, using: &rng), dport: 80))
        }
        for fl in flows + flows {
            let want = n.fibLookup(fl), got = k.fibLookupCached(fl)
            XCTAssertEqual(got.result?.route, want.result?.route)
            XCTAssertEqual(got.result?.nexthop, want.result?.nexthop)
            XCTAssertEqual(got.result?.table, want.result?.table)
            XCTAssertEqual(got.rule, want.rule)
            XCTAssertEqual(got.route, want.route)
            XCTAssertEqual(got.error, want.error)
        }
        XCTAssertGreaterThan(k.fibCache4.hits, 3000, "repeated flows are answered from the cache")
    }

    // MARK: Reassembly

    /// Queues `payload` as a fragment at `offset` (the way the defrag stages do, from frame bytes).
    private func queue(_ q: inout FragQueue, offset: Int, frame: Int, _ payload: [UInt8]) {
        let framed = [UInt8](repeating: 0xEE, count: 14) + payload
        framed.withUnsafeBytes { q.append(offset: offset, end: offset + payload.count, frame: frame, $0, from: 14, count: payload.count) }
    }

    func testFragmentQueueAssemblesHeadAndPayloadsAtTheirOffsets() {
        var q = FragQueue(serial: 1, created: 0)
        let head: [UInt8] = Array(0..<20)
        head.withUnsafeBytes { q.setHead($0, from: 0, count: 20) }
        q.len = 40
        // Out of order, one byte-gap left unfilled (it stays zero), an empty payload ignored.
        queue(&q, offset: 24, frame: 3, Array(repeating: 0xCC, count: 16))
        queue(&q, offset: 0, frame: 1, (0..<16).map { UInt8(0xA0 + $0) })
        queue(&q, offset: 16, frame: 2, [])
        queue(&q, offset: 16, frame: 4, Array(repeating: 0xBB, count: 7))
        var want = [UInt8](repeating: 0, count: 60)
        for i in 0..<20 { want[i] = UInt8(i) }
        for k in 0..<16 { want[20 + k] = UInt8(0xA0 + k) }
        for k in 16..<23 { want[20 + k] = 0xBB }
        for k in 24..<40 { want[20 + k] = 0xCC }
        // Into an empty array, and into reused ones that are longer or shorter and hold other bytes.
        for start in [[UInt8](), [UInt8](repeating: 0x55, count: 100), [UInt8](repeating: 0x66, count: 7)] {
            var out = start
            q.assemble(into: &out)
            XCTAssertEqual(out, want, "assembled into an array of \(start.count) bytes")
        }
    }

    func testFragmentQueueCoveringEveryByteAssemblesWithoutZeroFill() {
        // Payloads that add up to `len` (no gap): the buffer is not zeroed first, so every byte
        // must come from the head or a fragment, whatever the reused buffer held before.
        var pool = FragPool()
        var frames: [[Int]] = []
        var out = [UInt8](repeating: 0x77, count: 4000)
        for round in 0..<50 {
            var q = pool.queue(serial: round, created: 0, framesPool: &frames)
            let head = (0..<20).map { UInt8(truncatingIfNeeded: $0 &+ round) }
            head.withUnsafeBytes { q.setHead($0, from: 0, count: 20) }
            let sizes = [8, 1480, 16, 8 * (round + 1), 3]
            q.len = sizes.reduce(0, +)
            var want = head
            var off = 0
            var frags: [(Int, [UInt8])] = []
            for (i, n) in sizes.enumerated() {
                let payload = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i &+ round) }
                frags.append((off, payload))
                want += payload
                off += n
            }
            for (k, f) in frags.reversed().enumerated() { queue(&q, offset: f.0, frame: k + 1, f.1) }
            q.assemble(into: &out)
            XCTAssertEqual(out, want, "round \(round)")
            XCTAssertEqual(q.fragments.map(\.frame), Array(1...sizes.count))
            pool.recycle(&q)
            XCTAssertTrue(q.fragments.isEmpty && q.data.isEmpty && q.head.isEmpty && q.runs.isEmpty, "recycled storage leaves the queue")
        }
    }

    func testFragmentPoolGivesBackEmptiedStorageWithItsCapacity() {
        var pool = FragPool()
        var frames: [[Int]] = [[]]
        frames[0].reserveCapacity(8)
        var q = pool.queue(serial: 1, created: 5, framesPool: &frames)
        XCTAssertTrue(frames.isEmpty, "the held list comes from the frame-list pool")
        XCTAssertGreaterThanOrEqual(q.held.capacity, 8)
        XCTAssertEqual(q.serial, 1)
        XCTAssertEqual(q.created, 5)
        queue(&q, offset: 0, frame: 1, [UInt8](repeating: 1, count: 3000))
        _ = q.insert(0, 3000)
        [UInt8](repeating: 2, count: 60).withUnsafeBytes { q.setHead($0, from: 0, count: 60) }
        pool.recycle(&q)
        let again = pool.queue(serial: 2, created: 6, framesPool: &frames)
        XCTAssertEqual(again.serial, 2)
        XCTAssertTrue(again.fragments.isEmpty && again.data.isEmpty && again.head.isEmpty && again.runs.isEmpty && again.held.isEmpty)
        XCTAssertFalse(again.lastIn || again.firstIn)
        XCTAssertEqual(again.len, 0)
        XCTAssertGreaterThanOrEqual(again.fragments.capacity, 1, "the fragment list's storage is reused")
        XCTAssertGreaterThanOrEqual(again.data.capacity, 3000, "the payload bytes' storage is reused")
        XCTAssertGreaterThanOrEqual(again.head.capacity, 60, "the head's storage is reused")
    }

    // MARK: TCP timers

    func testRequestSocketTimersFireOnlyWhenDue() {
        var table = TCPConnTable()
        func key(_ p: UInt16) -> TCPConnKey {
            TCPConnKey(laddr: .v4(IPv4Address(192, 0, 2, 1)), lport: 80, raddr: .v4(IPv4Address(192, 0, 2, 2)), rport: p)
        }
        func request(due: Int64) -> TCPConn {
            var c = TCPConn(state: .synRecv, listener: 0, irs: 1, rcvNxt: 2, iss: nil, created: due - 1_000)
            c.timerDue = due
            return c
        }
        let tw: Int64 = 60_000_000_000
        table[key(1)] = request(due: 1_000)
        table[key(2)] = request(due: 5_000)
        var est = request(due: 2_000)
        table[key(3)] = est
        est.state = .established
        table[key(3)] = est  // left SYN_RECV: its timer entry is stale
        var moved = request(due: 3_000)
        table[key(5)] = moved
        moved.timerDue = 6_000
        table[key(5)] = moved  // re-armed: the entry for 3000 is stale
        var t = TCPConn(state: .established, listener: 0, irs: 1, rcvNxt: 2, iss: nil, created: 0)
        t.state = .timeWait
        t.timeWaitSince = 3_000
        table[key(4)] = t
        var gone: [TCPConnKey] = []
        table.dueTimeWaits(now: 3_000 + tw - 1, timeWaitLife: tw, into: &gone)
        XCTAssertEqual(gone, [], "TIME_WAIT since 3000 is due only after 60 s")
        table.dueTimeWaits(now: 3_000 + tw, timeWaitLife: tw, into: &gone)
        XCTAssertEqual(gone, [key(4)])
        XCTAssertEqual(table.nextRequestTimer, 1_000)
        XCTAssertNil(table.popDueRequest(notAfter: 999), "due at 1000: not yet at 999")
        XCTAssertEqual(table.popDueRequest(notAfter: 5_000)?.key.rport, 1)
        XCTAssertEqual(table.popDueRequest(notAfter: 5_000)?.key.rport, 2, "the established one and the moved timer's old entry are skipped")
        XCTAssertNil(table.popDueRequest(notAfter: 5_000))
        XCTAssertEqual(table.popDueRequest(notAfter: .max)?.due, 6_000)
        XCTAssertNotNil(table[key(3)])
    }
}
