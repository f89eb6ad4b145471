import CLinkedLibpcap
import RxrayDecode

/// A BPF filter expression compiled by libpcap once per link type and applied to frames of
/// any source with `pcap_offline_filter` (so pcapng frames of every interface are filtered by
/// a program made for their own link type).
public final class BPFFilter {
    /// The expression as given.
    public let expression: String
    private var linkTypes: [LinkType] = []
    private var programs: [UnsafeMutablePointer<bpf_program>] = []
    static let compileSnaplen: Int32 = 262_144

    /// Compiles `expression` for each of `linkTypes` right away, so that a bad expression is
    /// reported before any frame is read. Other link types are compiled on first use.
    public init(_ expression: String, linkTypes: [LinkType] = [.ethernet]) throws(CaptureError) {
        self.expression = expression
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
        guard let dead = pcap_open_dead_with_tstamp_precision(
            LinkTypeMapping.dlt(for: linkType), Self.compileSnaplen, UInt32(PCAP_TSTAMP_PRECISION_NANO))
        else {
            throw CaptureError.badFilter(filter: expression, linkType: linkType, message: "libpcap could not open a handle for this link type")
        }
        defer { pcap_close(dead) }
        let program = UnsafeMutablePointer<bpf_program>.allocate(capacity: 1)
        program.initialize(to: bpf_program())
        if pcap_compile(dead, program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            let message = String(cString: pcap_geterr(dead))
            program.deallocate()
            throw CaptureError.badFilter(filter: expression, linkType: linkType, message: message)
        }
        linkTypes.append(linkType)
        programs.append(program)
        return program
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
