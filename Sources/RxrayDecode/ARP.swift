/// An ARP header over frame bytes: the 8-byte fixed part, and for Ethernet/IPv4 the
/// sender/target addresses (28 bytes in all).
public struct ARPHeader {
    public static let fixedLength = 8
    public static let ethernetIPv4Length = 28
    public let bytes: UnsafeRawBufferPointer

    /// Nil when the 8-byte fixed part is not captured.
    @inlinable public init?(_ frame: UnsafeRawBufferPointer, at offset: Int) {
        guard offset >= 0, frame.count - offset >= Self.fixedLength else { return nil }
        bytes = UnsafeRawBufferPointer(rebasing: frame[offset...])
    }

    public var hardwareType: UInt16 { bytes.be16(0) }
    public var protocolType: UInt16 { bytes.be16(2) }
    public var hardwareLength: UInt8 { bytes.be8(4) }
    public var protocolLength: UInt8 { bytes.be8(5) }
    /// 1 request, 2 reply (3/4 RARP, 8/9 InARP).
    public var operation: UInt16 { bytes.be16(6) }

    /// The length the header claims: 8 + 2 × (hardware length + protocol length).
    public var claimedLength: Int { 8 + 2 * (Int(hardwareLength) + Int(protocolLength)) }

    /// Whether this is Ethernet (or IEEE 802) hardware with IPv4 protocol addresses.
    public var isEthernetIPv4: Bool {
        (hardwareType == 1 || hardwareType == 6) && protocolType == EtherType.ipv4
            && hardwareLength == 6 && protocolLength == 4
    }
    /// Whether the Ethernet/IPv4 addresses are all captured.
    public var hasEthernetIPv4Addresses: Bool { isEthernetIPv4 && bytes.count >= Self.ethernetIPv4Length }

    /// Sender hardware address. Valid only when `hasEthernetIPv4Addresses`.
    public var senderMAC: MACAddress { precondition(hasEthernetIPv4Addresses); return bytes.mac(8) }
    public var senderIP: IPv4Address { precondition(hasEthernetIPv4Addresses); return bytes.ipv4(14) }
    public var targetMAC: MACAddress { precondition(hasEthernetIPv4Addresses); return bytes.mac(18) }
    public var targetIP: IPv4Address { precondition(hasEthernetIPv4Addresses); return bytes.ipv4(24) }

    public static let request: UInt16 = 1
    public static let reply: UInt16 = 2
}
