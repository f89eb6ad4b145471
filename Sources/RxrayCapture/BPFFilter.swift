import CLinkedLibpcap
import RxrayDecode

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A BPF filter expression compiled by libpcap once per link type and applied to frames of
/// any source with `pcap_offline_filter` (so pcapng frames of every interface are filtered by
/// a program made for their own link type). The programs are freed (`pcap_freecode`) with
/// the filter.
public final class BPFFilter {
    /// The expression as given.
    public let expression: String
    private let byteSwapped: Bool
    private var linkTypes: [LinkType] = []
    private var programs: [UnsafeMutablePointer<bpf_program>] = []
    static let compileSnaplen: Int32 = 262_144

    /// Compiles `expression` for each of `linkTypes` right away, so that a bad expression is
    /// reported before any frame is read. Other link types are compiled on first use.
    /// - Parameters:
    ///   - byteSwapped: the frames come from a capture written on a host of the other byte
    ///     order (matters only for NULL, whose address family is in the writer's byte order).
    public init(_ expression: String, linkTypes: [LinkType] = [.ethernet], byteSwapped: Bool = false) throws(CaptureError) {
        self.expression = expression
        self.byteSwapped = byteSwapped
        for linkType in linkTypes { _ = try program(for: linkType) }
    }

    deinit {
        for program in programs {
            pcap_freecode(program)
            program.deallocate()
        }
    }

    private func program(for linkType: LinkType) throws(CaptureError) -> UnsafeMutablePointer<bpf_program> {
        for i in 0 ..< linkTypes.count where linkTypes[i] == linkType { return programs[i] }
        let program = UnsafeMutablePointer<bpf_program>.allocate(capacity: 1)
        program.initialize(to: bpf_program())
        let failure: String? = withCompileHandle(for: linkType) { handle in
            guard let handle else { return "libpcap could not open a handle for this link type" }
            if pcap_compile(handle, program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
                return String(cString: pcap_geterr(handle))  // read right after the failing call
            }
            return nil
        }
        if let failure {
            program.deallocate()
            throw CaptureError.badFilter(filter: expression, linkType: linkType, message: failure)
        }
        linkTypes.append(linkType)
        programs.append(program)
        return program
    }

    /// Calls `body` with a libpcap handle whose code generator targets `linkType` as it would
    /// for a capture file of that link type (what `tcpdump -r` compiles against).
    ///
    /// A handle from `pcap_open_dead` is not enough: for the BSD loopback link types (NULL,
    /// LOOP) libpcap then matches IPv6 only by this host's `AF_INET6` value, while for a
    /// capture file it matches every BSD value (24, 28, 30). So the handle is a savefile
    /// handle over an in-memory pcap header carrying the LINKTYPE number (in the file's byte
    /// order, which also decides how NULL's host-order family is compared); `pcap_open_dead`
    /// is the fallback.
    private func withCompileHandle<T>(for linkType: LinkType, _ body: (OpaquePointer?) -> T) -> T {
        var header = [UInt8](repeating: 0, count: 24)
        func put32(_ value: UInt32, at offset: Int) {
            let v = byteSwapped ? value.byteSwapped : value
            withUnsafeBytes(of: v) { for i in 0 ..< 4 { header[offset + i] = $0[i] } }
        }
        func put16(_ value: UInt16, at offset: Int) {
            let v = byteSwapped ? value.byteSwapped : value
            withUnsafeBytes(of: v) { for i in 0 ..< 2 { header[offset + i] = $0[i] } }
        }
        put32(0xA1B2_C3D4, at: 0)
        put16(2, at: 4)
        put16(4, at: 6)
        put32(UInt32(Self.compileSnaplen), at: 16)
        put32(linkType.rawValue, at: 20)
        return header.withUnsafeMutableBytes { raw -> T in
            var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
            if let file = fmemopen(raw.baseAddress, raw.count, "rb") {
                if let handle = pcap_fopen_offline_with_tstamp_precision(file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) {
                    defer { pcap_close(handle) }  // closes the FILE too
                    return body(handle)
                }
                fclose(file)
            }
            let dead = pcap_open_dead_with_tstamp_precision(
                LinkTypeMapping.dlt(for: linkType), Self.compileSnaplen, UInt32(PCAP_TSTAMP_PRECISION_NANO))
            defer { if let dead { pcap_close(dead) } }
            return body(dead)
        }
    }

    /// Whether the frame passes the filter.
    /// - Throws: `CaptureError.badFilter` when the expression does not compile for this
    ///   frame's link type (e.g. `ether host` on raw IP).
    public func matches(linkType: LinkType, bytes: UnsafeRawBufferPointer, wireLength: Int) throws(CaptureError) -> Bool {
        let program = try program(for: linkType)
        var header = pcap_pkthdr()
        header.caplen = bpf_u_int32(bytes.count)
        header.len = bpf_u_int32(clamping: wireLength)
        if let base = bytes.baseAddress {
            return pcap_offline_filter(program, &header, base.assumingMemoryBound(to: UInt8.self)) != 0
        }
        var empty: UInt8 = 0  // a zero-length frame: the program may read nothing
        return pcap_offline_filter(program, &header, &empty) != 0
    }

    /// Whether `frame` passes the filter.
    public func matches(_ frame: CapturedFrame) throws(CaptureError) -> Bool {
        try matches(linkType: frame.linkType, bytes: frame.bytes, wireLength: frame.wireLength)
    }
}
