import XCTest
import RxrayVerify

/// `rxray verify` tells the kernel's forwards of an injected frame from its replies: a forward
/// is the same datagram with its TTL one lower, addresses and ports possibly rewritten by NAT.
final class ForwardMatchTests: XCTestCase {
    /// An Ethernet/IPv4 frame around a transport segment.
    func v4(src: [UInt8], dst: [UInt8], proto: UInt8, ttl: UInt8, id: UInt16 = 0x1234, frag: UInt16 = 0x4000, _ l4: [UInt8]) -> [UInt8] {
        let eth: [UInt8] = [2, 0, 0, 0, 0, 0x11, 2, 0, 0, 0, 0, 0x21, 0x08, 0x00]
        let tot = 20 + l4.count
        var ip: [UInt8] = [0x45, 0, UInt8(tot >> 8), UInt8(tot & 0xFF), UInt8(id >> 8), UInt8(id & 0xFF),
                           UInt8(frag >> 8), UInt8(frag & 0xFF), ttl, proto, 0xAB, 0xCD]
        ip += src + dst
        return eth + ip + l4
    }

    func tcp(sport: UInt16, dport: UInt16, flags: UInt8 = 0x02, mss: UInt16 = 1460, csum: UInt16 = 0, payload: [UInt8] = []) -> [UInt8] {
        [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
         0, 0, 0x10, 0, 0, 0, 0, 0, 0x60, flags, 0xFA, 0xF0, UInt8(csum >> 8), UInt8(csum & 0xFF), 0, 0,
         2, 4, UInt8(mss >> 8), UInt8(mss & 0xFF)] + payload
    }

    func udp(sport: UInt16, dport: UInt16, csum: UInt16 = 0, payload: [UInt8]) -> [UInt8] {
        let len = 8 + payload.count
        return [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF),
                UInt8(len >> 8), UInt8(len & 0xFF), UInt8(csum >> 8), UInt8(csum & 0xFF)] + payload
    }

    let client: [UInt8] = [10, 1, 0, 5], vip: [UInt8] = [192, 0, 2, 1], backend: [UInt8] = [203, 0, 113, 7], masq: [UInt8] = [198, 51, 100, 1]

    func testPlainForwardIsTheSameDatagramOneHopLater() {
        let injected = v4(src: client, dst: backend, proto: 6, ttl: 64, tcp(sport: 40000, dport: 80))
        let sent = v4(src: client, dst: backend, proto: 6, ttl: 63, tcp(sport: 40000, dport: 80))
        XCTAssertTrue(KernelVerdict.isForward(sent, of: injected))
        XCTAssertFalse(KernelVerdict.isForward(v4(src: client, dst: backend, proto: 6, ttl: 62, tcp(sport: 40000, dport: 80)), of: injected),
                       "two hops lower is not this host's forward")
    }

    func testDNATAndMasqueradeForwardIsStillAForward() {
        // nf-dnat-forward: 192.0.2.1:8080 → 203.0.113.7:80, source masqueraded to 198.51.100.1,
        // a new source port, new checksums, and the MSS clamped by TCPMSS.
        let injected = v4(src: client, dst: vip, proto: 6, ttl: 64, tcp(sport: 40000, dport: 8080, csum: 0x1111, payload: [1, 2, 3]))
        let sent = v4(src: masq, dst: backend, proto: 6, ttl: 63, tcp(sport: 61000, dport: 80, mss: 1400, csum: 0x2222, payload: [1, 2, 3]))
        XCTAssertTrue(KernelVerdict.isForward(sent, of: injected))
        let dnsIn = v4(src: client, dst: vip, proto: 17, ttl: 64, udp(sport: 5353, dport: 5353, csum: 1, payload: Array("query".utf8)))
        let dnsOut = v4(src: masq, dst: backend, proto: 17, ttl: 63, udp(sport: 5353, dport: 53, csum: 2, payload: Array("query".utf8)))
        XCTAssertTrue(KernelVerdict.isForward(dnsOut, of: dnsIn))
        let v = KernelVerdict(KernelObservation(frame: 1, ingress: "eth0", drops: [], sent: [.init(interface: "eth1", bytes: sent)], silentDrop: false), injected: injected)
        XCTAssertEqual(v.fate, "forwarded")
        XCTAssertEqual(v.egress, ["eth1"])
        XCTAssertEqual(v.replies, [])
    }

    func testRepliesAreNotForwardsEvenWithTheSameID() {
        let injected = v4(src: client, dst: vip, proto: 6, ttl: 64, tcp(sport: 40000, dport: 8080))
        // A RST from the host: TCP, same ID by chance, TTL 63 by chance — but its own
        // sequence numbers and flags.
        var rst = tcp(sport: 8080, dport: 40000, flags: 0x14)
        rst[4] = 0x99
        XCTAssertFalse(KernelVerdict.isForward(v4(src: vip, dst: client, proto: 6, ttl: 63, rst), of: injected))
        // An ICMP error quoting the packet: another protocol.
        let quote = Array(injected[14...])
        let icmp = [3, 3, 0, 0, 0, 0, 0, 0] + quote
        XCTAssertFalse(KernelVerdict.isForward(v4(src: vip, dst: client, proto: 1, ttl: 63, icmp), of: injected))
        // The same datagram with other payload bytes, or another length.
        let other = v4(src: masq, dst: backend, proto: 17, ttl: 63, udp(sport: 1, dport: 53, payload: Array("other".utf8)))
        let dnsIn = v4(src: client, dst: vip, proto: 17, ttl: 64, udp(sport: 5353, dport: 5353, payload: Array("query".utf8)))
        XCTAssertFalse(KernelVerdict.isForward(other, of: dnsIn))
        let longer = v4(src: masq, dst: backend, proto: 17, ttl: 63, udp(sport: 1, dport: 53, payload: Array("query!".utf8)))
        XCTAssertFalse(KernelVerdict.isForward(longer, of: dnsIn))
    }

    func testNATedEchoAndNonFirstFragments() {
        let echo: [UInt8] = [8, 0, 0x11, 0x11, 0x00, 0x07, 0x00, 0x01] + Array("ping".utf8)
        var translated = echo
        translated[2] = 0x22; translated[4] = 0x55  // checksum and identifier rewritten by NAT
        XCTAssertTrue(KernelVerdict.isForward(v4(src: masq, dst: backend, proto: 1, ttl: 63, translated),
                                              of: v4(src: client, dst: vip, proto: 1, ttl: 64, echo)))
        translated[6] = 9  // another sequence number: another echo
        XCTAssertFalse(KernelVerdict.isForward(v4(src: masq, dst: backend, proto: 1, ttl: 63, translated),
                                               of: v4(src: client, dst: vip, proto: 1, ttl: 64, echo)))
        // A non-first fragment carries no ports: its bytes are compared whole.
        let data = Array(repeating: UInt8(7), count: 24)
        XCTAssertTrue(KernelVerdict.isForward(v4(src: masq, dst: backend, proto: 17, ttl: 63, frag: 0x0003, data),
                                              of: v4(src: client, dst: vip, proto: 17, ttl: 64, frag: 0x0003, data)))
        XCTAssertFalse(KernelVerdict.isForward(v4(src: masq, dst: backend, proto: 17, ttl: 63, frag: 0x0004, data),
                                               of: v4(src: client, dst: vip, proto: 17, ttl: 64, frag: 0x0003, data)),
                       "another fragment offset")
    }
}

/// The live namespace gets the rules the offline engine reads.
final class LiveRulesetTests: XCTestCase {
    func testIncompatibleIptablesTablesAreLeftOutOfIptablesRestore() {
        let save = """
        # Table `filter' contains incompatible base-chains, use 'nft' tool to list them.
        # Generated by iptables-save v1.8.9 (nf_tables)
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        COMMIT
        # Completed
        *mangle
        :PREROUTING ACCEPT [0:0]
        -A PREROUTING -p tcp -j MARK --set-mark 1
        COMMIT
        """
        let kept = LiveTopology.iptablesTables(save, excluding: ["ip filter"], family: "ip")
        XCTAssertFalse(kept.contains("*filter"))
        XCTAssertFalse(kept.contains(":FORWARD"))
        XCTAssertTrue(kept.contains("*mangle\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j MARK --set-mark 1\nCOMMIT"))
        XCTAssertEqual(LiveTopology.iptablesTables(save, excluding: ["ip6 filter"], family: "ip"), save + "\n", "another family's table is kept")
    }
}
