import XCTest
import RxrayDecode
import RxrayHost
@testable import RxrayNetfilter

/// The end-of-run conntrack listing made a row at a time (`listingOrder` + `listingRow`) is the
/// listing the summary printed before, when every row was made, kept and sorted by creation
/// time and then by text; and the compact conntrack index (hash bits and a slot per bucket,
/// tuples read from the entries) finds exactly what a dictionary of the tuples finds.
final class ConntrackListingTests: XCTestCase {
    let rules = """
    table inet filter {
    \tchain input {
    \t\ttype filter hook input priority filter; policy accept;
    \t\tct state invalid drop
    \t}
    }
    """
    let local: [NFHookPoint] = [.prerouting, .input]

    /// The listing as the summary made it before streaming: every entry in use, in slot
    /// order, as (creation time, row), sorted by time and then by the row's text.
    func listedAsBefore(_ table: ConntrackTable, now: Int64) -> [String] {
        var rows: [(Int64, String)] = []
        for slot in 0..<table.slots.count {
            guard let e = table.entry(Int32(slot)) else { continue }
            rows.append((e.createdNs, table.listingRow(Int32(slot), now: now)))
        }
        return rows.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.map(\.1)
    }

    func testStreamedListingIsInTheOldOrderWithCreationTimeTies() throws {
        let rig = Rig(try NetfilterEngine(host: testHost(nft: rules)))
        // Groups of connections created in the same nanosecond (step 0): slot order, creation
        // order and text order all differ inside a group (sport 9 is made before 10 and 8, and
        // "sport=10" < "sport=8" < "sport=9" as text), and protocols are mixed.
        func udp(_ sport: UInt16, step: Int64) {
            _ = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: sport, dport: 53)), hooks: local, step: step)
        }
        func syn(_ sport: UInt16, step: Int64) {
            _ = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: sport, dport: 80, flags: 0x02)), hooks: local, step: step)
        }
        udp(9, step: 1_000_000); udp(10, step: 0); udp(8, step: 0)
        syn(7000, step: 5_000_000)
        syn(99, step: 1_000_000); udp(99, step: 0); syn(100, step: 0)
        _ = rig.run(Pkt.v4(src: peer, dst: me, proto: 1, l4: Pkt.icmp(type: 8, id: 3)), hooks: local, step: 0)
        // Free two slots and fill them with later connections (a reused slot is lower than
        // the slots of earlier connections), one group of three created together.
        let table0 = rig.engine.conntrack
        let reused = (0..<Int32(table0.slots.count)).filter { table0.entry($0) != nil }.prefix(2)
        for s in reused { rig.engine.conntrack.remove(s) }
        udp(30, step: 2_000_000); udp(3, step: 0); udp(300, step: 0)
        XCTAssertEqual(rig.engine.conntrack.count, 9)

        let table = rig.engine.conntrack
        let now = rig.time + 1_000_000_000
        let order = table.listingOrder(now: now)
        let streamed = order.map { table.listingRow($0, now: now) }
        XCTAssertEqual(streamed, listedAsBefore(table, now: now))
        XCTAssertEqual(streamed.count, 9)
        // The ties were ordered by text, not by slot or arrival.
        let sports = streamed.map { row -> String in
            let f = row.split(separator: " ").first { $0.hasPrefix("sport=") || $0.hasPrefix("id=") }
            return f.map(String.init) ?? "?"
        }
        XCTAssertEqual(sports, ["sport=8", "sport=7000", "id=3", "sport=100", "sport=99", "sport=99",
                                "sport=3", "sport=30", "sport=300"])
        XCTAssertNotEqual(order, order.sorted(), "the reused slots make listing order differ from slot order")
    }

    /// The row as the summary spelled it with string interpolation before rows were written
    /// as bytes (`writeListingRow`): the reference the byte form must equal.
    func rowAsInterpolated(_ e: CTEntry, now: Int64) -> String {
        let proto = e.original.proto
        let names: [UInt8: String] = [6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6", 132: "sctp", 136: "udplite", 33: "dccp"]
        let name = names[proto] ?? "unknown"
        var line = name + String(repeating: " ", count: max(1, 9 - name.count)) + "\(proto) "
        line += "\(max(0, (e.timeoutAt - now) / 1_000_000_000)) "
        if proto == 6 { line += e.tcpState.name + " " }
        line += e.original.description + " "
        if e.status & CTStatus.seenReply == 0 { line += "[UNREPLIED] " }
        line += e.reply.description + " "
        if e.status & CTStatus.assured != 0 { line += "[ASSURED] " }
        line += "mark=\(e.mark) use=1"
        return line
    }

    func testRowBytesSpellTheRowAsInterpolatedText() throws {
        let rig = Rig(try NetfilterEngine(host: testHost(nft: rules)))
        _ = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 5353, dport: 53)), hooks: local, step: 1_000_000)
        _ = rig.run(Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 40000, dport: 80, flags: 0x02)), hooks: local, step: 1_000_000)
        _ = rig.run(Pkt.v4(src: peer, dst: me, proto: 1, l4: Pkt.icmp(type: 8, id: 77)), hooks: local, step: 1_000_000)
        _ = rig.run(Pkt.v4(src: peer, dst: me, proto: 47, l4: [0, 0, 0x08, 0]), hooks: local, step: 1_000_000)
        let table = rig.engine.conntrack
        var checked = 0
        // Seconds left: at creation, later, and long after expiry (clamped to 0).
        for now in [rig.time, rig.time + 7_500_000_000, rig.time + 10_000 * 1_000_000_000] {
            for slot in 0..<Int32(table.slots.count) {
                guard let e = table.entry(slot) else { continue }
                XCTAssertEqual(table.listingRow(slot, now: now), rowAsInterpolated(e, now: now))
                checked += 1
            }
        }
        XCTAssertEqual(checked, 12, "four protocols (udp, tcp, icmp, gre as unknown) at three times")
    }

    func testIndexFindsWhatADictionaryFindsThroughInsertsAndRemovals() {
        var table = ConntrackTable(config: CTConfig())
        var reference: [CTTuple: Int32] = [:]
        var live: [Int32] = []
        var rng: UInt64 = 0x1234_5678_9ABC_DEF1
        func next(_ n: Int) -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int((rng >> 33) % UInt64(n))
        }
        func tuple() -> CTTuple {
            // A small space, so that keys collide in their home buckets and clusters form.
            let v6 = next(4) == 0
            let src = v6 ? NFValue(high: 0x2001_0db8 << 32, low: UInt64(next(50))) : NFValue(0xC000_0200 | UInt64(next(50)))
            return CTTuple(src: src, dst: v6 ? NFValue(high: 0x2001_0db8 << 32, low: 1) : NFValue(0xC000_0201),
                           sport: UInt16(next(40)), dport: 80, proto: next(3) == 0 ? 17 : 6, v6: v6)
        }
        for step in 0..<30_000 {
            if live.isEmpty || next(10) < 6 {
                let t = tuple()
                guard let r = ConntrackTable.invert(t), reference[t] == nil, reference[r] == nil else { continue }
                let slot = table.allocate(CTEntry(original: t, reply: r))
                table.confirm(slot)
                reference[t] = slot << 1
                reference[r] = slot << 1 | 1
                live.append(slot)
            } else {
                let k = next(live.count)
                let slot = live.remove(at: k)
                let e = table.slots[Int(slot)]
                table.remove(slot)
                reference[e.original] = nil
                reference[e.reply] = nil
            }
            if step % 1000 == 0 || step == 29_999 {
                XCTAssertEqual(table.count, live.count)
                XCTAssertEqual(table.index.count, reference.count)
                for (t, v) in reference { XCTAssertEqual(table.lookup(t), v, "step \(step): \(t)") }
                for _ in 0..<200 {
                    let t = tuple()
                    XCTAssertEqual(table.lookup(t), reference[t], "step \(step): \(t)")
                }
            }
        }
        XCTAssertGreaterThan(live.count, 100)
    }

    func testEntryIsCompact() {
        // A full default table is 262,144 entries: every 8 bytes here is 2 MB.
        XCTAssertLessThanOrEqual(MemoryLayout<TCPTrack>.size, 56)
        XCTAssertLessThanOrEqual(MemoryLayout<CTEntry>.stride, 168)
        var t = TCPTrack()
        t.lastDir = 1
        t.lastRST.1 = true
        XCTAssertEqual(t.lastDir, 1)
        XCTAssertTrue(t.lastRST == (false, true))
        t.lastRST.0 = true
        t.lastDir = 0
        XCTAssertTrue(t.lastRST == (true, true))
        XCTAssertEqual(t.lastDir, 0)
        t.lastRST = (false, false)
        t.lastDir = 1
        XCTAssertTrue(t.lastRST == (false, false))
        XCTAssertEqual(t.lastDir, 1)
    }

    func testUDPStreamDeadlineOfMadeAndLoadedEntries() throws {
        let rig = Rig(try NetfilterEngine(host: testHost(nft: rules)))
        let q = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 4000, dport: 53)), hooks: local)
        let made = try XCTUnwrap(rig.engine.conntrack.entry(q.state.ct.slot))
        XCTAssertEqual(made.udpStreamAt, made.createdNs + 2_000_000_000)
        var table = ConntrackTable(config: CTConfig())
        let udp = ConntrackEntry(protoName: "udp", protoNumber: 17, timeout: 30,
                                 original: ConntrackTuple(src: IPAddress("192.0.2.1")!, dst: IPAddress("192.0.2.2")!, sport: 53, dport: 4444),
                                 reply: ConntrackTuple(src: IPAddress("192.0.2.2")!, dst: IPAddress("192.0.2.1")!, sport: 4444, dport: 53), status: [])
        var lite = udp
        lite.protoName = "udplite"
        lite.protoNumber = 136
        table.load([udp, lite], start: 5_000_000_000)
        XCTAssertEqual(table.slots[0].udpStreamAt, 5_000_000_000, "a loaded UDP flow is a stream from its load time")
        XCTAssertEqual(table.slots[1].udpStreamAt, 0, "a loaded UDP-Lite flow has no deadline")
        XCTAssertTrue(table.slots[0].inUse && table.slots[0].confirmed)
    }

    func testSlotsAreReservedForTheTableLimitOnce() {
        var config = CTConfig()
        config.max = 5000
        var table = ConntrackTable(config: config)
        for i in 0..<6000 {
            let t = CTTuple(src: NFValue(0x0A00_0000 | UInt64(i)), dst: NFValue(0xC000_0201), sport: 1000, dport: 80, proto: 6, v6: false)
            let slot = table.allocate(CTEntry(original: t, reply: ConntrackTable.invert(t)!))
            table.confirm(slot)
            if i == 0 { XCTAssertGreaterThanOrEqual(table.slots.capacity, 5000 + 64) }
            if i == 4999 { XCTAssertLessThan(table.slots.capacity, 2 * 5000, "no doubling below the limit") }
        }
        XCTAssertEqual(table.count, 6000)
        for i in stride(from: 0, to: 6000, by: 97) {
            let t = CTTuple(src: NFValue(0x0A00_0000 | UInt64(i)), dst: NFValue(0xC000_0201), sport: 1000, dport: 80, proto: 6, v6: false)
            XCTAssertEqual(table.lookup(t), Int32(i) << 1)
            XCTAssertEqual(table.lookup(ConntrackTable.invert(t)!), Int32(i) << 1 | 1)
        }
    }
}

