#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import XCTest
import RxrayDecode
@testable import RxrayStack

/// The input-route memo (`RouteInputMemo`) gives exactly what the full `ip_route_input_slow`
/// path gives: drop reason, attached route, stage records and their detail text, on random
/// tables, sysctls and packets.
final class RouteMemoTests: XCTestCase {
    /// A namespace with random sysctls and extra routes and rules of every kind the input
    /// path distinguishes.
    func randomNetns(_ rng: inout SystemRandomNumberGenerator) -> Netns {
        var n = T.netns(forwarding: Bool.random(using: &rng), rpFilter: Int.random(in: 0...2, using: &rng))
        for d in 1...2 {
            n.devices[d].conf4.acceptLocal = Int.random(in: 0..<4, using: &rng) == 0
            n.devices[d].conf4.routeLocalnet = Int.random(in: 0..<4, using: &rng) == 0
            n.devices[d].conf4.bcForwarding = Int.random(in: 0..<4, using: &rng) == 0
            n.devices[d].conf4.srcValidMark = Bool.random(using: &rng)
            n.devices[d].conf4.sendRedirects = Bool.random(using: &rng)
            n.devices[d].conf4.sharedMedia = Bool.random(using: &rng)
        }
        n.routes4.append(Route4(prefix: IPv4Address(10, 0, 0, 0), length: 8, dev: 2, gateway: IPv4Address(198, 51, 100, 9)))
        n.routes4.append(Route4(prefix: IPv4Address(10, 9, 0, 0), length: 16, dev: 1))
        n.routes4.append(Route4(table: 100, type: .blackhole, prefix: IPv4Address(10, 1, 0, 0), length: 16))
        n.routes4.append(Route4(type: .unreachable, prefix: IPv4Address(10, 2, 0, 0), length: 16))
        n.routes4.append(Route4(type: .prohibit, prefix: IPv4Address(10, 3, 0, 0), length: 16))
        n.routes4.append(Route4(prefix: IPv4Address(10, 4, 0, 0), length: 16, dev: 1, tos: 4))
        n.routes4.append(Route4(prefix: IPv4Address(10, 5, 0, 0), length: 16, mtu: 1400,
                                nexthops: [NextHop4(dev: 1, gateway: IPv4Address(192, 0, 2, 7)),
                                           NextHop4(dev: 2, gateway: IPv4Address(198, 51, 100, 7))]))
        if Bool.random(using: &rng) {
            var marked = FibRule4(priority: 100, action: .table(100))
            marked.sel.fwmark = 7
            n.rules4.insert(marked, at: 1)
        }
        if Bool.random(using: &rng) {
            n.rules4.insert(FibRule4(priority: 200, from: (IPv4Address(198, 51, 100, 0), 24), action: .table(100)), at: 1)
        }
        if Bool.random(using: &rng) {
            var web = FibRule4(priority: 300, action: .unreachable)
            web.sel.ipproto = 6
            web.sel.dport = 8080...8080
            n.rules4.insert(web, at: 1)
        }
        n.addAddressRoutesIfMissing()
        return n
    }

    static let addresses: [UInt32] = [
        0, 0xFFFF_FFFF, 0x7F00_0001, 0xE000_0001, 0xE000_00FB,
        0xC000_0201, 0xC000_0202, 0xC000_02FF, 0xC000_0207, 0xC633_6401, 0xC633_6402, 0xC633_64FF,
        0x0A00_0001, 0x0A01_0001, 0x0A02_0001, 0x0A03_0001, 0x0A04_0001, 0x0A05_0001, 0x0A09_0001,
        0x0808_0808, 0xCB00_7101,
    ]

    struct Outcome: Equatable {
        var reason: DropReason?
        var route: String
        var trace: [StageText]
    }

    func route(_ k: Kernel, _ packet: [UInt8], dev: Int, mark: UInt32, detail: Bool) -> Outcome {
        packet.withUnsafeBytes { buf in
            var skb = SKB(buf: buf, len: buf.count, dev: dev, origDev: dev, pktType: .host, proto: 0x0800, frame: 1, time: 0)
            skb.mark = mark
            var r = FrameResult()
            r.wantsDetail = detail
            r.record(.ipRcvCore, .pass, "before")
            let reason = k.ipRouteInputNoref(&skb, &r)
            return Outcome(reason: reason, route: String(describing: skb.route4), trace: r.trace)
        }
    }

    func testMemoGivesTheFullPathsDecisionOnRandomTablesAndPackets() {
        var rng = SystemRandomNumberGenerator()
        var hits = 0
        for _ in 0..<40 {
            let n = randomNetns(&rng)
            setenv("RXRAY_ROUTE_MEMO", "0", 1)
            let plain = Kernel(ns: n)
            unsetenv("RXRAY_ROUTE_MEMO")
            let memo = Kernel(ns: n)
            XCTAssertFalse(plain.routeMemo.enabled)
            XCTAssertTrue(memo.routeMemo.enabled)
            var packets: [([UInt8], Int, UInt32, Bool)] = []
            for _ in 0..<150 {
                let s = IPv4Address(Self.addresses.randomElement(using: &rng)!)
                let d = IPv4Address(Self.addresses.randomElement(using: &rng)!)
                let proto: UInt8 = [1, 6, 17].randomElement(using: &rng)!
                let dport: UInt16 = [80, 8080].randomElement(using: &rng)!
                let l4: [UInt8] = [0x30, 0x39, UInt8(dport >> 8), UInt8(dport & 0xFF)] + [UInt8](repeating: 0, count: 16)
                var p = T.ipv4(src: s, dst: d, proto: proto, flags: [0, 0, 0x2000].randomElement(using: &rng)!, l4)
                p[1] = [0, 4, 0x10, 0xB8].randomElement(using: &rng)!
                packets.append((p, Int.random(in: 0...2, using: &rng), [0, 7].randomElement(using: &rng)!, Bool.random(using: &rng)))
            }
            // Each packet several times, in shuffled order: the memo answers the repeats.
            for (p, dev, mark, detail) in (packets + packets + packets).shuffled(using: &rng) {
                let want = route(plain, p, dev: dev, mark: mark, detail: detail)
                let got = route(memo, p, dev: dev, mark: mark, detail: detail)
                XCTAssertEqual(got, want, "packet \(p.prefix(20)) dev \(dev) mark \(mark) detail \(detail)")
            }
            hits += memo.routeMemo.hits
            XCTAssertEqual(plain.routeMemo.hits, 0)
        }
        XCTAssertGreaterThan(hits, 40 * 150, "repeated packets are answered from the memo")
    }

    /// A forwarding decision with detail text (two records, both with text) replays whole,
    /// and the same packet without detail replays as bare records.
    func testForwardingDecisionWithDetailReplays() {
        var n = T.netns(forwarding: true)
        n.devices[2].name = String(repeating: "x", count: 15)
        n.routes4.append(Route4(prefix: IPv4Address(10, 0, 0, 0), length: 8, dev: 2,
                                gateway: IPv4Address(198, 51, 100, 9)))
        n.addAddressRoutesIfMissing()
        setenv("RXRAY_ROUTE_MEMO", "0", 1)
        let plain = Kernel(ns: n)
        unsetenv("RXRAY_ROUTE_MEMO")
        let memo = Kernel(ns: n)
        let p = T.ipv4(src: IPv4Address(192, 0, 2, 2), dst: IPv4Address(10, 1, 2, 3), proto: 17, [UInt8](repeating: 0, count: 8))
        for _ in 0..<3 {
            XCTAssertEqual(route(memo, p, dev: 1, mark: 0, detail: true), route(plain, p, dev: 1, mark: 0, detail: true))
            XCTAssertEqual(route(memo, p, dev: 1, mark: 0, detail: false), route(plain, p, dev: 1, mark: 0, detail: false))
        }
        XCTAssertGreaterThan(memo.routeMemo.hits, 0)
    }
}
