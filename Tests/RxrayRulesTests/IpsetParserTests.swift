import Foundation
import RxrayDecode
import XCTest
@testable import RxrayRules

final class IpsetParserTests: XCTestCase {
    /// Text as `ipset save` (ipset 7.17) prints it.
    static let saved = """
    create blocked hash:net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x532436c9
    add blocked 10.0.0.0/8
    add blocked 192.0.2.7
    add blocked 10.1.0.0/16 nomatch
    create svc hash:ip,port family inet6 hashsize 1024 maxelem 65536 timeout 300 counters comment
    add svc fd00::1,tcp:80 timeout 120 packets 3 bytes 180 comment "web"
    add svc fd00::2,udp:53-54
    create ports bitmap:port range 1-1000
    add ports 22
    create ifs hash:net,iface family inet
    add ifs 10.0.0.0/24,eth0
    add ifs 10.0.1.0/24,physdev:veth1
    create all list:set size 8
    add all blocked
    """

    func testCreateAndAddLinesAreTyped() throws {
        let f = try IpsetParser.parse(Self.saved, file: "ipset.txt")
        XCTAssertEqual(f.sets.map(\.typeName), ["hash:net", "hash:ip,port", "bitmap:port", "hash:net,iface", "list:set"])
        let b = try XCTUnwrap(f.set("blocked"))
        XCTAssertEqual(b.family, .ipv4)
        XCTAssertEqual(b.options["hashsize"], "1024")
        XCTAssertEqual(b.members.map(\.parts), [[.network(IPPrefix("10.0.0.0/8")!)], [.address(IPAddress("192.0.2.7")!)], [.network(IPPrefix("10.1.0.0/16")!)]])
        XCTAssertEqual(b.members.map(\.noMatch), [false, false, true])
        XCTAssertEqual(b.members[1].line, 3)
        let s = try XCTUnwrap(f.set("svc"))
        XCTAssertEqual(s.family, .ipv6)
        XCTAssertEqual(s.options["counters"], "")
        XCTAssertEqual(s.members[0].parts, [.address(IPAddress("fd00::1")!), .port(proto: 6, range: UInt16Range(single: 80))])
        XCTAssertEqual(s.members[0].timeoutSeconds, 120)
        XCTAssertEqual(s.members[0].packets, 3)
        XCTAssertEqual(s.members[0].comment, "web")
        XCTAssertEqual(s.members[1].parts[1], .port(proto: 17, range: UInt16Range(53, 54)))
        XCTAssertEqual(f.set("ports")?.members.first?.parts, [.port(proto: 6, range: UInt16Range(single: 22))])
        XCTAssertEqual(f.set("ifs")?.members.map { $0.parts[1] }, [.interface(name: "eth0", physdev: false), .interface(name: "veth1", physdev: true)])
        XCTAssertEqual(f.set("all")?.members.first?.parts, [.setName("blocked")])
        XCTAssertEqual(f.summary.elements, 9)
    }

    func testErrorsNameTheLineAndProblem() {
        func check(_ text: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try IpsetParser.parse(text, file: "ipset.txt"), file: file, line: line) { e in
                XCTAssertEqual((e as? InputError)?.description, expected, file: file, line: line)
            }
        }
        check("add nope 1.2.3.4\n", "ipset.txt:1:5: set nope is not created before its members")
        check("create a hash:ip,port\nadd a 1.2.3.4\n", "ipset.txt:2:7: member '1.2.3.4' has 1 part(s); set a of type hash:ip,port needs 2")
        check("create a hash:ip\nadd a 1.2.3.999\n", "ipset.txt:2:7: bad ip '1.2.3.999' in member of a")
        check("create a hash:ip family inet6\nadd a 1.2.3.4\n", "ipset.txt:2:7: bad ip '1.2.3.4' in member of a")
        check("create a hash:bogus\n", "ipset.txt:1:10: bad set type 'hash:bogus'")
        check("flush a\n", "ipset.txt:1:1: expected create or add, got 'flush'")
    }

    /// The real `ipset save` output round-trips through a scratch namespace when ipset is usable.
    func testRealIpsetSaveOutputParses() throws {
        let script = "ipset create a hash:net,port family inet && ipset add a 10.0.0.0/8,tcp:80 && ipset create b bitmap:port range 1-1000 && ipset add b 22 && ipset save"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["unshare", "-rn", "sh", "-c", script]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw XCTSkip("cannot run unshare: \(error)") }
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            print("ipset or unprivileged namespaces unavailable: skipping")
            throw XCTSkip("ipset or unprivileged namespaces unavailable")
        }
        let f = try IpsetParser.parse(out, file: "ipset save")
        XCTAssertEqual(f.set("a")?.members.first?.parts, [.network(IPPrefix("10.0.0.0/8")!), .port(proto: 6, range: UInt16Range(single: 80))])
        XCTAssertEqual(f.set("b")?.options["range"], "1-1000")
    }
}
