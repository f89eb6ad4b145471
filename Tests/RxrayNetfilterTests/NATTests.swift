import XCTest
import RxrayDecode
import RxrayHost
@testable import RxrayNetfilter

final class NATTests: XCTestCase {
    let nft = """
    table ip nat {
    \tchain prerouting {
    \t\ttype nat hook prerouting priority dstnat; policy accept;
    \t\tiif "eth0" tcp dport 8080 dnat to 203.0.113.7:80
    \t}
    \tchain postrouting {
    \t\ttype nat hook postrouting priority srcnat; policy accept;
    \t\toif "eth1" ip saddr 192.0.2.0/24 masquerade
    \t}
    }
    table ip filter {
    \tchain forward {
    \t\ttype filter hook forward priority filter; policy drop;
    \t\tct state established,related accept
    \t\tct status dnat accept
    \t}
    }
    """

    func testDnatRewritesBeforeRoutingAndMasqueradesOut() throws {
        let rig = Rig(try NetfilterEngine(host: testHost(nft: nft)))
        let syn = Pkt.v4(src: peer, dst: me, proto: 6, l4: Pkt.tcp(sport: 40001, dport: 8080, flags: fSYN, seq: 7000))
        let out = rig.run(syn, hooks: [.prerouting, .forward, .postrouting])
        XCTAssertEqual(out.verdict, .accept)
        XCTAssertEqual(Array(out.bytes[16..<20]), remote)
        XCTAssertEqual(Array(out.bytes[12..<16]), [198, 51, 100, 1])
        XCTAssertEqual(UInt16(out.bytes[22]) << 8 | UInt16(out.bytes[23]), 80)
        // Checksums still verify after the rewrite.
        var ipc = InternetChecksum(); out.bytes.withUnsafeBytes { ipc.add(UnsafeRawBufferPointer(rebasing: $0[0..<20])) }
        XCTAssertEqual(ipc.folded, 0xFFFF)
        var tc = InternetChecksum()
        tc.add(Array(out.bytes[12..<20]).withUnsafeBytes { b in InternetChecksum.sum(b) }.folded)
        tc.add(UInt16(6)); tc.add(UInt16(20))
        out.bytes.withUnsafeBytes { tc.add(UnsafeRawBufferPointer(rebasing: $0[20..<40])) }
        XCTAssertEqual(tc.folded, 0xFFFF)
        let e = try XCTUnwrap(rig.engine.conntrack.entry(out.state.ct.slot))
        XCTAssertEqual(e.reply.src, NFValue(0xCB00_7107))
        XCTAssertEqual(e.reply.dst, NFValue(0xC633_6401))
        // The reply from the server is translated back in both directions.
        let back = Pkt.v4(src: remote, dst: [198, 51, 100, 1], proto: 6, l4: Pkt.tcp(sport: 80, dport: 40001, flags: fSYN | fACK, seq: 1, ack: 7001))
        let r = rig.run(back, hooks: [.prerouting, .forward, .postrouting], iif: "eth1", oif: "eth0")
        XCTAssertEqual(r.verdict, .accept)
        XCTAssertEqual(r.state.ct.info, .establishedReply)
        XCTAssertEqual(Array(r.bytes[16..<20]), peer)
        XCTAssertEqual(Array(r.bytes[12..<16]), me)
        XCTAssertEqual(UInt16(r.bytes[20]) << 8 | UInt16(r.bytes[21]), 8080)
    }

    func testIptablesRedirectGoesToTheInputInterfaceAddress() throws {
        let ipt = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A PREROUTING -i eth0 -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 8080
        COMMIT
        """
        let rig = Rig(try NetfilterEngine(host: testHost(iptables: ipt)))
        let out = rig.run(Pkt.v4(src: peer, dst: remote, proto: 6, l4: Pkt.tcp(sport: 1234, dport: 80, flags: fSYN)), hooks: [.prerouting, .input])
        XCTAssertEqual(Array(out.bytes[16..<20]), me)
        XCTAssertEqual(UInt16(out.bytes[22]) << 8 | UInt16(out.bytes[23]), 8080)
    }

    func testSnatPortClashPicksAnotherPort() throws {
        let ipt = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A POSTROUTING -o eth1 -j SNAT --to-source 198.51.100.1
        COMMIT
        """
        let rig = Rig(try NetfilterEngine(host: testHost(iptables: ipt)))
        let a = rig.run(Pkt.v4(src: peer, dst: remote, proto: 17, l4: Pkt.udp(sport: 5000, dport: 53)), hooks: [.prerouting, .forward, .postrouting])
        let b = rig.run(Pkt.v4(src: [192, 0, 2, 3], dst: remote, proto: 17, l4: Pkt.udp(sport: 5000, dport: 53)), hooks: [.prerouting, .forward, .postrouting])
        XCTAssertEqual(UInt16(a.bytes[20]) << 8 | UInt16(a.bytes[21]), 5000)
        XCTAssertNotEqual(UInt16(b.bytes[20]) << 8 | UInt16(b.bytes[21]), 5000)
        XCTAssertEqual(Array(b.bytes[12..<16]), [198, 51, 100, 1])
    }

    /// IPv4 header checksum and ICMP checksum of a packet both verify.
    func checksumsVerify(_ b: [UInt8], _ msg: String) {
        var ip = InternetChecksum(); b.withUnsafeBytes { ip.add(UnsafeRawBufferPointer(rebasing: $0[0..<20])) }
        XCTAssertEqual(ip.folded, 0xFFFF, "outer IP checksum: \(msg)")
        var ic = InternetChecksum(); b.withUnsafeBytes { ic.add(UnsafeRawBufferPointer(rebasing: $0[20...])) }
        XCTAssertEqual(ic.folded, 0xFFFF, "ICMP checksum: \(msg)")
        var inner = InternetChecksum(); b.withUnsafeBytes { inner.add(UnsafeRawBufferPointer(rebasing: $0[28..<48])) }
        XCTAssertEqual(inner.folded, 0xFFFF, "quoted IP checksum: \(msg)")
    }

    func testIcmpErrorAboutANatedFlowIsTranslatedBackWithItsQuote() throws {
        let ipt = """
        *nat
        :PREROUTING ACCEPT [0:0]
        :INPUT ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        :POSTROUTING ACCEPT [0:0]
        -A PREROUTING -i eth0 -p udp -m udp --dport 5353 -j DNAT --to-destination 203.0.113.7:53
        -A POSTROUTING -s 192.0.2.0/24 -o eth1 -j MASQUERADE
        COMMIT
        """
        let rig = Rig(try NetfilterEngine(host: testHost(iptables: ipt)))
        let out = rig.run(Pkt.v4(src: peer, dst: me, proto: 17, l4: Pkt.udp(sport: 40002, dport: 5353)), hooks: [.prerouting, .forward, .postrouting])
        XCTAssertEqual(Array(out.bytes[12..<20]), [198, 51, 100, 1] + remote)
        // The far side's port unreachable quotes the translated datagram.
        let err = Pkt.v4(src: remote, dst: [198, 51, 100, 1], proto: 1, l4: Pkt.icmp(type: 3, code: 3, id: 0, seq: 0, rest: Array(out.bytes.prefix(28))))
        let back = rig.run(err, hooks: [.prerouting, .forward, .postrouting], iif: "eth1", oif: "eth0")
        XCTAssertEqual(back.state.ct.info, .relatedReply)
        XCTAssertEqual(Array(back.bytes[12..<20]), me + peer, "outer: as the answer to the original datagram")
        XCTAssertEqual(Array(back.bytes[40..<48]), peer + me, "quoted addresses as the peer sent them")
        XCTAssertEqual(UInt16(back.bytes[48]) << 8 | UInt16(back.bytes[49]), 40002)
        XCTAssertEqual(UInt16(back.bytes[50]) << 8 | UInt16(back.bytes[51]), 5353)
        checksumsVerify(back.bytes, "translated error")
        // A redirect about a NATed flow is dropped rather than translated.
        let redirect = Pkt.v4(src: remote, dst: [198, 51, 100, 1], proto: 1, l4: Pkt.icmp(type: 5, code: 1, id: 0, seq: 0, rest: Array(out.bytes.prefix(28))))
        XCTAssertEqual(rig.run(redirect, hooks: [.prerouting], iif: "eth1").verdict, .drop)
    }
}
