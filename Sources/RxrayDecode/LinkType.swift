/// A capture link type, as the `LINKTYPE_*` number stored in pcap/pcapng files.
///
/// The raw value is the LINKTYPE number (what pcap files and pcapng IDBs store), not the
/// platform DLT number; libpcap's `pcap_datalink()` already maps DLT to LINKTYPE for files,
/// and the capture module maps live DLT values through `pcap_datalink_val_to_name`.
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// BSD loopback: a 4-byte host-byte-order address family.
    public static let null = LinkType(rawValue: 0)
    /// Ethernet (`EN10MB`).
    public static let ethernet = LinkType(rawValue: 1)
    /// Raw IP, version from the first nibble (`LINKTYPE_RAW`, DLT 12/14 on some systems).
    public static let raw = LinkType(rawValue: 101)
    /// OpenBSD loopback: a 4-byte network-byte-order address family.
    public static let loop = LinkType(rawValue: 108)
    /// Linux cooked capture v1 (`LINUX_SLL`).
    public static let linuxSLL = LinkType(rawValue: 113)
    /// Raw IPv4.
    public static let ipv4 = LinkType(rawValue: 228)
    /// Raw IPv6.
    public static let ipv6 = LinkType(rawValue: 229)
    /// Linux cooked capture v2 (`LINUX_SLL2`).
    public static let linuxSLL2 = LinkType(rawValue: 276)

    /// The name libpcap and tcpdump use (`EN10MB`, `LINUX_SLL2`, ...), or `LINKTYPE_<n>`.
    public var name: String {
        switch rawValue {
        case 0: return "NULL"
        case 1: return "EN10MB"
        case 101: return "RAW"
        case 108: return "LOOP"
        case 113: return "LINUX_SLL"
        case 228: return "IPV4"
        case 229: return "IPV6"
        case 276: return "LINUX_SLL2"
        default: return "LINKTYPE_\(rawValue)"
        }
    }

    /// Whether the decoder understands this link type.
    public var isSupported: Bool {
        switch rawValue {
        case 0, 1, 101, 108, 113, 228, 229, 276: return true
        default: return false
        }
    }

    public var description: String { name }
}
