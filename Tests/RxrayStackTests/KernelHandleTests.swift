import Foundation
import RxrayDecode
import RxrayHost
@testable import RxrayNetfilter
import XCTest

@testable import RxrayStack

/// Objects the kernel owns refer back to it through `KernelHandle` (core/Dev.swift), not a
/// `weak` reference (which would slow every retain of the kernel): the netfilter engine's
/// route lookup for `fib ... oif` must follow the kernel while it lives and answer "no route"
/// (0) once it is gone, as the weak reference did.
final class KernelHandleTests: XCTestCase {
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    private func host() throws -> RxrayHost.Host {
        try HostLoader.loadDirectory(Self.root.appendingPathComponent("Fixtures/scenarios/forward-basic/host").path)
    }

    /// An address of the model's first non-loopback IPv4 device, and the ifindex the kernel's
    /// own output route lookup gives for it (not 0).
    private func addressWithRoute(_ analyzer: Analyzer) throws -> (NFValue, Int) {
        let ns = analyzer.netns
        let dev = try XCTUnwrap(ns.devices.first { $0.kind != .loopback && !$0.v4.isEmpty })
        let a = dev.v4[0].address
        let out = try XCTUnwrap(analyzer.kernel.outputRoute(to: a, preferredSource: nil, inbound: 0))
        let ifindex = ns.devices[out.0].ifindex
        XCTAssertNotEqual(ifindex, 0)
        return (NFValue(UInt64(a.value)), ifindex)
    }

    func testFibOifFollowsTheKernelAndAnswersZeroOnceItIsGone() throws {
        var analyzer: Analyzer? = try Analyzer(host: host(), options: .init(), netfilter: true)
        let engine = try XCTUnwrap(analyzer!.netfilter)
        let lookup = try XCTUnwrap(engine.fibOif)
        let (addr, ifindex) = try addressWithRoute(analyzer!)
        XCTAssertTrue(analyzer!.kernel.handle.kernel === analyzer!.kernel)
        XCTAssertEqual(lookup(addr, false, 0, 0), ifindex, "the engine's lookup is the kernel's")
        weak var kernel = analyzer!.kernel
        analyzer = nil
        XCTAssertNil(kernel, "nothing the engine holds keeps the kernel alive")
        XCTAssertEqual(lookup(addr, false, 0, 0), 0, "no kernel: no route")
    }

    func testReloadMovesTheLookupToTheNewKernel() throws {
        let analyzer = try Analyzer(host: host(), options: .init(), netfilter: true)
        let oldEngine = try XCTUnwrap(analyzer.netfilter)
        let (addr, ifindex) = try addressWithRoute(analyzer)
        weak var oldKernel = analyzer.kernel
        _ = try analyzer.reload(host: host(), netfilter: true) { _ in }
        XCTAssertNil(oldKernel, "the replaced kernel is released")
        XCTAssertEqual(oldEngine.fibOif?(addr, false, 0, 0), 0, "the old engine's lookup no longer reaches a kernel")
        let newEngine = try XCTUnwrap(analyzer.netfilter)
        XCTAssertFalse(newEngine === oldEngine)
        XCTAssertEqual(newEngine.fibOif?(addr, false, 0, 0), ifindex)
        XCTAssertTrue(analyzer.kernel.handle.kernel === analyzer.kernel)
    }
}
