import XCTest
@testable import RxrayNetfilter

/// nft `numgen`: kube-proxy (nftables mode) picks an endpoint with `numgen random mod N vmap`.
final class NumgenTests: XCTestCase {
    let local: [NFHookPoint] = [.prerouting, .input]

    func udp(_ dport: UInt16) -> [UInt8] { Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 1000, dport: dport)) }

    func testIncCountsFromZeroAndWraps() throws {
        let nft = """
        table ip t {
        \tchain input {
        \t\ttype filter hook input priority filter; policy accept;
        \t\tnumgen inc mod 3 vmap { 0 : accept, 1 : drop, 2 : accept }
        \t}
        }
        """
        let rig = Rig(try NetfilterEngine(host: testHost(nft: nft)))
        let verdicts = (0..<7).map { _ in rig.run(udp(53), hooks: local).verdict }
        XCTAssertEqual(verdicts, [.accept, .drop, .accept, .accept, .drop, .accept, .accept])
    }

    func testIncWithOffset() throws {
        let nft = """
        table ip t {
        \tchain input {
        \t\ttype filter hook input priority filter; policy accept;
        \t\tnumgen inc mod 2 offset 5 vmap { 5 : drop, 6 : accept }
        \t}
        }
        """
        let rig = Rig(try NetfilterEngine(host: testHost(nft: nft)))
        XCTAssertEqual((0..<4).map { _ in rig.run(udp(53), hooks: local).verdict }, [.drop, .accept, .drop, .accept])
    }

    func testRandomModOneAlwaysPicksTheOnlyEndpoint() throws {
        let nft = """
        table ip kube-proxy {
        \tchain endpoint-one {
        \t\tdrop
        \t}
        \tchain service {
        \t\tnumgen random mod 1 vmap { 0 : goto endpoint-one }
        \t}
        \tchain input {
        \t\ttype filter hook input priority filter; policy accept;
        \t\tudp dport 80 jump service
        \t}
        }
        """
        let rig = Rig(try NetfilterEngine(host: testHost(nft: nft)))
        for _ in 0..<20 { XCTAssertEqual(rig.run(udp(80), hooks: local).verdict, .drop) }
        XCTAssertEqual(rig.run(udp(81), hooks: local).verdict, .accept)
    }

    func testRandomIsSpreadAndReproducible() throws {
        let nft = """
        table ip t {
        \tchain input {
        \t\ttype filter hook input priority filter; policy accept;
        \t\tnumgen random mod 4 vmap { 0 : accept, 1 : drop, 2 : drop, 3 : accept }
        \t}
        }
        """
        func draws() throws -> [NFVerdict] {
            let rig = Rig(try NetfilterEngine(host: testHost(nft: nft)))
            return (0..<400).map { _ in rig.run(udp(53), hooks: local).verdict }
        }
        let a = try draws(), b = try draws()
        XCTAssertEqual(a, b, "seeded: two runs pick the same endpoints")
        let drops = a.filter { $0 == .drop }.count
        XCTAssertTrue((120...280).contains(drops), "about half of 400 draws land on 1 or 2, got \(drops)")
    }
}
