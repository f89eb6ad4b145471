/// The protocol layer a decode outcome refers to.
public enum DecodeLayer: UInt8, Sendable, CustomStringConvertible {
    /// The capture's link header (Ethernet, Linux cooked, loopback family, raw IP version).
    case link
    /// An 802.1Q / 802.1ad tag.
    case vlan
    case arp
    case ipv4
    case ipv6
    /// An IPv6 extension header (hop-by-hop, routing, fragment, destination options, AH).
    case ipv6Extension
    case tcp
    case udp
    case icmp
    case icmpv6
    /// The IP header (and first transport bytes) embedded in an ICMP or ICMPv6 error.
    case embedded

    /// Short lower-case name used in summaries and JSON (`ip`, `ip6`, `tcp`, ...).
    public var description: String {
        switch self {
        case .link: return "link"
        case .vlan: return "vlan"
        case .arp: return "arp"
        case .ipv4: return "ip"
        case .ipv6: return "ip6"
        case .ipv6Extension: return "ip6-ext"
        case .tcp: return "tcp"
        case .udp: return "udp"
        case .icmp: return "icmp"
        case .icmpv6: return "icmp6"
        case .embedded: return "embedded-ip"
        }
    }
}

/// What is wrong with a header whose bytes are all present.
public enum DecodeProblem: UInt8, Sendable, CustomStringConvertible {
    /// The IP version nibble does not match the protocol the link layer announced.
    case versionMismatch
    /// IPv4 IHL below 5 words.
    case headerLengthTooShort
    /// IPv4 total length below the header length.
    case totalLengthTooShort
    /// The IP length claims more bytes than the frame carried on the wire.
    case totalLengthExceedsFrame
    /// An IPv4, IPv6 or TCP option whose length byte is below 2 or runs past the option area.
    case badOptionLength
    /// A known IPv4 option with a length its definition forbids, or a bad RR/TS pointer.
    case badOptionContent
    /// An IPv6 extension header that extends past the IPv6 payload length, or an AH length of 0.
    case badExtensionHeaderLength
    /// A hop-by-hop header anywhere but directly after the fixed IPv6 header.
    case hopByHopNotFirst
    /// A jumbo payload option where it is not allowed, or with a value under 65536.
    case badJumboPayload
    /// TCP data offset below 5 words.
    case dataOffsetTooSmall
    /// TCP data offset beyond the segment.
    case dataOffsetBeyondSegment
    /// UDP length field below 8.
    case udpLengthTooShort
    /// UDP length field larger than the IP payload.
    case udpLengthExceedsPayload
    /// An ICMP error whose embedded IP header is missing or invalid.
    case badEmbeddedPacket
    /// A neighbour-discovery option of length 0 or running past the message.
    case badNDOptionLength
    /// Ethernet/IPv4 ARP whose hardware or protocol address length is not 6 / 4.
    case badARPAddressLength
    /// A TCP, UDP, ICMP or ICMPv6 header that does not fit in the IP payload.
    case headerBeyondPayload

    public var description: String {
        switch self {
        case .versionMismatch: return "version_mismatch"
        case .headerLengthTooShort: return "header_length_too_short"
        case .totalLengthTooShort: return "total_length_too_short"
        case .totalLengthExceedsFrame: return "total_length_exceeds_frame"
        case .badOptionLength: return "bad_option_length"
        case .badOptionContent: return "bad_option_content"
        case .badExtensionHeaderLength: return "bad_extension_header_length"
        case .hopByHopNotFirst: return "hop_by_hop_not_first"
        case .badJumboPayload: return "bad_jumbo_payload"
        case .dataOffsetTooSmall: return "data_offset_too_small"
        case .dataOffsetBeyondSegment: return "data_offset_beyond_segment"
        case .udpLengthTooShort: return "udp_length_too_short"
        case .udpLengthExceedsPayload: return "udp_length_exceeds_payload"
        case .badEmbeddedPacket: return "bad_embedded_packet"
        case .badNDOptionLength: return "bad_nd_option_length"
        case .badARPAddressLength: return "bad_arp_address_length"
        case .headerBeyondPayload: return "header_beyond_payload"
        }
    }
}

/// What the decoder met and does not decode further.
public enum UnsupportedFeature: Hashable, Sendable, CustomStringConvertible {
    /// A link type other than the ones `LinkType.isSupported` lists.
    case linkType(UInt32)
    /// An 802.3 frame (length field instead of an EtherType): LLC/SNAP is not decoded.
    case llcFrame(length: UInt16)
    /// An EtherType (or Linux cooked protocol) other than ARP, IPv4, IPv6 and VLAN tags.
    case etherType(UInt16)
    /// A loopback (NULL/LOOP) address family other than IPv4/IPv6.
    case addressFamily(UInt32)
    /// A raw-IP version nibble other than 4 or 6.
    case ipVersion(UInt8)
    /// More VLAN tags than `VLANTagStack.capacity`.
    case tooManyVLANTags
    /// ARP for a hardware/protocol pair other than Ethernet/IPv4.
    case arpFormat(hardware: UInt16, protocol: UInt16)
    /// An IP protocol / IPv6 next header with no decoder (GRE 47, SCTP 132, ...).
    case ipProtocol(UInt8)
    /// ESP: the payload is encrypted.
    case encrypted
    /// More IPv6 extension headers than `IPv6ExtensionChain.capacity`.
    case tooManyExtensionHeaders

    public var description: String {
        switch self {
        case .linkType(let v): return "link_type_\(v)"
        case .llcFrame: return "llc_frame"
        case .etherType(let v): return "ethertype_0x" + hex(v, width: 4)
        case .addressFamily(let v): return "address_family_\(v)"
        case .ipVersion(let v): return "ip_version_\(v)"
        case .tooManyVLANTags: return "too_many_vlan_tags"
        case .arpFormat(let h, let p): return "arp_hw_\(h)_proto_0x" + hex(p, width: 4)
        case .ipProtocol(let v): return "ip_protocol_\(v)"
        case .encrypted: return "esp_encrypted"
        case .tooManyExtensionHeaders: return "too_many_extension_headers"
        }
    }
}

/// How far a frame decoded, and why it stopped or what was wrong on the way.
///
/// Four kinds of problem stay apart (gopacket keeps Truncated / error / Unsupported apart):
/// the capture ended, a header is malformed, a checksum is wrong, a protocol is not decoded.
public enum DecodeOutcome: Hashable, Sendable, CustomStringConvertible {
    case ok
    /// The captured bytes ended before the layer's header did. Whether the capture was cut
    /// by the snap length is `DecodedFrame.isSnapped` (captured length < wire length).
    case truncated(DecodeLayer)
    case malformed(DecodeLayer, DecodeProblem)
    /// The IPv4 header checksum (`.ipv4`) or a transport checksum (`.tcp`, `.udp`, `.icmp`,
    /// `.icmpv6`) does not verify. Decoding continues past it.
    case badChecksum(DecodeLayer)
    case unsupported(DecodeLayer, UnsupportedFeature)

    public var isOK: Bool { self == .ok }

    /// `ok`, `truncated:tcp`, `malformed:ip:total_length_exceeds_frame`, `bad_checksum:udp`,
    /// `unsupported:link:ethertype_0x88cc`.
    public var description: String {
        switch self {
        case .ok: return "ok"
        case .truncated(let l): return "truncated:\(l)"
        case .malformed(let l, let p): return "malformed:\(l):\(p)"
        case .badChecksum(let l): return "bad_checksum:\(l)"
        case .unsupported(let l, let w): return "unsupported:\(l):\(w)"
        }
    }
}

/// Whether a checksum was checked and how it came out.
public enum ChecksumStatus: UInt8, Sendable, CustomStringConvertible {
    /// No such checksum in this frame (no IPv4 header, no transport layer, a later fragment).
    case notApplicable
    case good
    case bad
    /// The covered bytes were not all captured, or the datagram is a first fragment.
    case notVerifiable
    /// UDP over IPv4 with checksum 0: the sender did not compute one.
    case absent

    public var description: String {
        switch self {
        case .notApplicable: return "n/a"
        case .good: return "good"
        case .bad: return "bad"
        case .notVerifiable: return "unverified"
        case .absent: return "absent"
        }
    }
}

/// Up to four outcomes met while decoding one frame, in the order met.
public struct DecodeIssues: RandomAccessCollection, Sendable {
    public static let capacity = 4
    var storage: (DecodeOutcome, DecodeOutcome, DecodeOutcome, DecodeOutcome) = (.ok, .ok, .ok, .ok)
    public private(set) var count: Int = 0
    public init() {}
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(index: Int) -> DecodeOutcome {
        precondition(index >= 0 && index < count, "DecodeIssues index out of range")
        switch index {
        case 0: return storage.0
        case 1: return storage.1
        case 2: return storage.2
        default: return storage.3
        }
    }
    mutating func append(_ o: DecodeOutcome) {
        guard count < Self.capacity else { return }
        switch count {
        case 0: storage.0 = o
        case 1: storage.1 = o
        case 2: storage.2 = o
        default: storage.3 = o
        }
        count += 1
    }
}

@usableFromInline func hex<T: FixedWidthInteger>(_ v: T, width: Int) -> String {
    let s = String(v, radix: 16)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}
