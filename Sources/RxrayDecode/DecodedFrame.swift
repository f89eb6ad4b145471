/// The network layer a frame carries.
public enum NetworkLayer: UInt8, Sendable {
    case none, arp, ipv4, ipv6
}

/// The transport layer a frame carries (decoded header present).
public enum TransportLayer: UInt8, Sendable {
    case none, tcp, udp, icmp, icmpv6
}

/// IPv4 fragment fields, or those of an IPv6 fragment header.
public struct FragmentInfo: Hashable, Sendable {
    /// IPv4 identification (16 bits) or IPv6 fragment identification (32 bits).
    public var identification: UInt32
    /// Offset in 8-byte units.
    public var offset: UInt16
    public var moreFragments: Bool
    /// IPv4 DF (always false for IPv6).
    public var dontFragment: Bool
    /// Whether this is the first fragment (offset 0, more to come).
    public var isFirst: Bool { offset == 0 && moreFragments }
}

/// The IP header (and first transport bytes) quoted inside an ICMP or ICMPv6 error.
public struct EmbeddedPacket: Hashable, Sendable {
    /// 4 or 6.
    public var version: UInt8
    /// Frame offset of the embedded IP header.
    public var offset: Int
    /// IPv4 IHL × 4, or 40 plus the extension headers skipped.
    public var headerLength: Int
    /// The protocol after the IP header (and, for IPv6, its extension headers).
    public var protocolNumber: UInt8
    public var source: IPAddress
    public var destination: IPAddress
    /// Present when the embedded transport is TCP or UDP and its ports are captured.
    public var sourcePort: UInt16?
    public var destinationPort: UInt16?
    /// Echo identifier/sequence of an embedded ICMP/ICMPv6 echo, when captured.
    public var echoIdentifier: UInt16?
    public var transportOffset: Int { offset + headerLength }
}

/// Everything the decoder learned about one frame: offsets and fields of every layer
/// present, stored inline (no references), and how decoding ended.
///
/// Views are re-created from the stored offsets over the same bytes (`ipv4(in:)`, `tcp(in:)`...).
public struct DecodedFrame: Sendable {
    public internal(set) var linkType: LinkType
    public internal(set) var capturedLength: Int
    /// The frame's length on the wire (never less than `capturedLength`).
    public internal(set) var wireLength: Int
    /// Every problem met, in order (up to four).
    public internal(set) var issues = DecodeIssues()

    // Link layer.
    /// Bytes of link header before the first VLAN tag or the network header.
    public internal(set) var linkHeaderLength = 0
    /// Linux cooked captures: the `PACKET_*` type.
    public internal(set) var linkPacketType: UInt16?
    /// Linux cooked v2: the receiving interface index.
    public internal(set) var interfaceIndex: UInt32?
    /// NULL / LOOP: the address family as read.
    public internal(set) var loopbackFamily: UInt32?
    public internal(set) var vlanTags = VLANTagStack()
    /// The protocol of the network layer (EtherType) after VLAN tags; for NULL/LOOP/raw link
    /// types, the EtherType matching the IP version.
    public internal(set) var etherType: UInt16?

    // Network layer.
    public internal(set) var network = NetworkLayer.none
    public internal(set) var networkOffset = 0
    /// IPv4 IHL × 4 or 40 (IPv6 extension headers are in `ipv6Extensions`); ARP: 28.
    public internal(set) var networkHeaderLength = 0
    /// Frame offset where the IP datagram ends according to its length fields.
    public internal(set) var ipEnd = 0
    /// The IP length field was 0 (TSO / BIG TCP / GRO super-packet): the frame's wire length
    /// was taken as the datagram's end.
    public internal(set) var ipLengthFromFrame = false
    /// Bytes on the wire after the network layer's end (Ethernet padding).
    public internal(set) var paddingLength = 0
    public internal(set) var ipv4Options = OptionList()
    public internal(set) var ipv6Extensions = IPv6ExtensionChain()
    /// Set for IPv4 fragments (MF or offset) and for IPv6 packets with a fragment header.
    public internal(set) var fragment: FragmentInfo?
    public internal(set) var ipChecksum = ChecksumStatus.notApplicable
    /// Hop-by-hop router alert value, when present.
    public internal(set) var routerAlert: UInt16?

    // Transport layer.
    /// The IPv4 protocol / final IPv6 next header (50 for ESP, 59 for no next header).
    public internal(set) var transportProtocol: UInt8?
    public internal(set) var transport = TransportLayer.none
    public internal(set) var transportOffset = 0
    public internal(set) var transportHeaderLength = 0
    public internal(set) var tcpOptions = OptionList()
    public internal(set) var ndOptions = NDOptionList()
    public internal(set) var transportChecksum = ChecksumStatus.notApplicable
    public internal(set) var embedded: EmbeddedPacket?

    // Payload.
    /// Frame offset of the payload after the last decoded header.
    public internal(set) var payloadOffset = 0
    /// Payload length according to the headers (may exceed what was captured).
    public internal(set) var payloadLength = 0

    init(linkType: LinkType, capturedLength: Int, wireLength: Int) {
        self.linkType = linkType
        self.capturedLength = capturedLength
        self.wireLength = max(wireLength, capturedLength)
    }

    /// The first problem met, or `.ok`.
    public var outcome: DecodeOutcome { issues.first ?? .ok }
    /// Whether the capture was cut short by the snap length (captured < wire length).
    public var isSnapped: Bool { capturedLength < wireLength }
    /// The captured part of the payload.
    public var payloadRange: Range<Int> {
        let start = min(payloadOffset, capturedLength)
        return start..<max(start, min(payloadOffset + payloadLength, capturedLength))
    }

    mutating func note(_ o: DecodeOutcome) { issues.append(o) }

    // MARK: Views re-created from stored offsets. Pass the same bytes given to `decode`.

    public func ethernet(in bytes: UnsafeRawBufferPointer) -> EthernetHeader? {
        linkType == .ethernet ? EthernetHeader(bytes, at: 0) : nil
    }
    public func linuxSLL(in bytes: UnsafeRawBufferPointer) -> LinuxSLLHeader? {
        linkType == .linuxSLL ? LinuxSLLHeader(bytes, at: 0) : nil
    }
    public func linuxSLL2(in bytes: UnsafeRawBufferPointer) -> LinuxSLL2Header? {
        linkType == .linuxSLL2 ? LinuxSLL2Header(bytes, at: 0) : nil
    }
    public func arp(in bytes: UnsafeRawBufferPointer) -> ARPHeader? {
        network == .arp ? ARPHeader(bytes, at: networkOffset) : nil
    }
    public func ipv4(in bytes: UnsafeRawBufferPointer) -> IPv4Header? {
        network == .ipv4 ? IPv4Header(bytes, at: networkOffset) : nil
    }
    public func ipv6(in bytes: UnsafeRawBufferPointer) -> IPv6Header? {
        network == .ipv6 ? IPv6Header(bytes, at: networkOffset) : nil
    }
    public func tcp(in bytes: UnsafeRawBufferPointer) -> TCPHeader? {
        transport == .tcp ? TCPHeader(bytes, at: transportOffset) : nil
    }
    public func udp(in bytes: UnsafeRawBufferPointer) -> UDPHeader? {
        transport == .udp ? UDPHeader(bytes, at: transportOffset) : nil
    }
    public func icmp(in bytes: UnsafeRawBufferPointer) -> ICMPHeader? {
        transport == .icmp ? ICMPHeader(bytes, at: transportOffset) : nil
    }
    public func icmpv6(in bytes: UnsafeRawBufferPointer) -> ICMPv6Header? {
        transport == .icmpv6 ? ICMPv6Header(bytes, at: transportOffset) : nil
    }
    /// The embedded IPv4 header of an ICMP error.
    public func embeddedIPv4(in bytes: UnsafeRawBufferPointer) -> IPv4Header? {
        guard let e = embedded, e.version == 4 else { return nil }
        return IPv4Header(bytes, at: e.offset)
    }
    /// The embedded IPv6 header of an ICMPv6 error.
    public func embeddedIPv6(in bytes: UnsafeRawBufferPointer) -> IPv6Header? {
        guard let e = embedded, e.version == 6 else { return nil }
        return IPv6Header(bytes, at: e.offset)
    }

    /// The source and destination IP addresses, when an IP header was decoded.
    public func ipAddresses(in bytes: UnsafeRawBufferPointer) -> (source: IPAddress, destination: IPAddress)? {
        if let h = ipv4(in: bytes) { return (.v4(h.source), .v4(h.destination)) }
        if let h = ipv6(in: bytes) { return (.v6(h.source), .v6(h.destination)) }
        return nil
    }
    /// TCP or UDP ports, when decoded.
    public func ports(in bytes: UnsafeRawBufferPointer) -> (source: UInt16, destination: UInt16)? {
        if let t = tcp(in: bytes) { return (t.sourcePort, t.destinationPort) }
        if let u = udp(in: bytes) { return (u.sourcePort, u.destinationPort) }
        return nil
    }
    /// The TCP option at `index` of `tcpOptions`, read from `bytes`.
    public func tcpOption(_ index: Int, in bytes: UnsafeRawBufferPointer) -> TCPOption {
        TCPOption(tcpOptions[index], in: tcpOptions, frame: bytes)
    }
    /// The neighbour-discovery option at `index` of `ndOptions`.
    public func ndOption(_ index: Int, in bytes: UnsafeRawBufferPointer) -> NDOption {
        NDOption(ndOptions[index], frame: bytes)
    }
}
