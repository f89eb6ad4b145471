/// Well-known EtherType values.
public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let ipv6: UInt16 = 0x86DD
    /// 802.1Q customer tag.
    public static let vlan: UInt16 = 0x8100
    /// 802.1ad service tag (QinQ).
    public static let qinq: UInt16 = 0x88A8
    /// The pre-standard QinQ tag some switches still send.
    public static let qinqLegacy: UInt16 = 0x9100
    public static let lldp: UInt16 = 0x88CC

    /// Whether `type` is a tag protocol identifier the decoder walks through.
    @inlinable public static func isVLANTag(_ type: UInt16) -> Bool {
        type == vlan || type == qinq || type == qinqLegacy
    }

    /// tcpdump's name for an EtherType, if it has a common one.
    public static func name(_ type: UInt16) -> String? {
        switch type {
        case ipv4: return "IPv4"
        case arp: return "ARP"
        case ipv6: return "IPv6"
        case vlan: return "802.1Q"
        case qinq: return "802.1Q-QinQ"
        case qinqLegacy: return "802.1Q-9100"
        case lldp: return "LLDP"
        case 0x8035: return "Reverse ARP"
        case 0x8847: return "MPLS unicast"
        case 0x8848: return "MPLS multicast"
        case 0x8863: return "PPPoE D"
        case 0x8864: return "PPPoE S"
        case 0x888E: return "EAPOL"
        case 0x88F7: return "PTP"
        case 0x8809: return "Slow Protocols"
        case 0x8808: return "MAC control"
        default: return nil
        }
    }
}

/// An Ethernet II / 802.3 header (14 bytes) over frame bytes.
public struct EthernetHeader {
    public static let length = 14
    public let bytes: UnsafeRawBufferPointer

    /// Nil when fewer than 14 bytes are captured from `offset`.
    @inlinable public init?(_ frame: UnsafeRawBufferPointer, at offset: Int = 0) {
        guard offset >= 0, frame.count - offset >= Self.length else { return nil }
        bytes = UnsafeRawBufferPointer(rebasing: frame[offset...])
    }

    public var destination: MACAddress { bytes.mac(0) }
    public var source: MACAddress { bytes.mac(6) }
    /// The EtherType, or an 802.3 length when below 0x0600.
    public var typeOrLength: UInt16 { bytes.be16(12) }
    /// Whether bytes 12–13 hold an 802.3 length rather than an EtherType.
    public var isLengthField: Bool { typeOrLength < 0x0600 }
}

/// One 802.1Q / 802.1ad tag: the tag protocol identifier and the tag control information.
public struct VLANTag: Hashable, Sendable {
    /// The TPID that introduced this tag (0x8100, 0x88a8, 0x9100).
    public var tpid: UInt16
    /// Tag control information: PCP (3 bits), DEI (1 bit), VID (12 bits).
    public var tci: UInt16
    @inlinable public init(tpid: UInt16, tci: UInt16) { self.tpid = tpid; self.tci = tci }
    /// Priority code point.
    @inlinable public var pcp: UInt8 { UInt8(tci >> 13) }
    /// Drop eligible indicator.
    @inlinable public var dei: Bool { tci & 0x1000 != 0 }
    /// VLAN identifier.
    @inlinable public var vid: UInt16 { tci & 0x0FFF }
}

/// Up to eight VLAN tags, outermost first, stored inline.
public struct VLANTagStack: RandomAccessCollection, Sendable {
    public static let capacity = 8
    typealias Storage = (VLANTag, VLANTag, VLANTag, VLANTag, VLANTag, VLANTag, VLANTag, VLANTag)
    var storage: Storage
    public private(set) var count: Int = 0

    public init() {
        let z = VLANTag(tpid: 0, tci: 0)
        storage = (z, z, z, z, z, z, z, z)
    }
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public subscript(index: Int) -> VLANTag {
        precondition(index >= 0 && index < count, "VLANTagStack index out of range")
        return slotLoad(storage, index, as: VLANTag.self)
    }
    /// Appends a tag; returns false when the stack is full.
    @discardableResult public mutating func append(_ tag: VLANTag) -> Bool {
        guard count < Self.capacity else { return false }
        slotStore(&storage, count, tag)
        count += 1
        return true
    }
}

/// The Linux cooked-capture v1 header (`LINUX_SLL`, 16 bytes).
public struct LinuxSLLHeader {
    public static let length = 16
    public let bytes: UnsafeRawBufferPointer
    @inlinable public init?(_ frame: UnsafeRawBufferPointer, at offset: Int = 0) {
        guard offset >= 0, frame.count - offset >= Self.length else { return nil }
        bytes = UnsafeRawBufferPointer(rebasing: frame[offset...])
    }
    /// `PACKET_HOST` 0, `PACKET_BROADCAST` 1, `PACKET_MULTICAST` 2, `PACKET_OTHERHOST` 3,
    /// `PACKET_OUTGOING` 4.
    public var packetType: UInt16 { bytes.be16(0) }
    /// The device's `ARPHRD_*` type (1 Ethernet, 772 loopback, 65534 none, ...).
    public var hardwareType: UInt16 { bytes.be16(2) }
    public var addressLength: UInt16 { bytes.be16(4) }
    /// The link-layer source address when it is 6 bytes long.
    public var sourceMAC: MACAddress? { addressLength == 6 ? bytes.mac(6) : nil }
    /// The protocol (an EtherType, or a small Linux `ETH_P_*` value such as 0x0004 for 802.2).
    public var protocolType: UInt16 { bytes.be16(14) }
}

/// The Linux cooked-capture v2 header (`LINUX_SLL2`, 20 bytes).
public struct LinuxSLL2Header {
    public static let length = 20
    public let bytes: UnsafeRawBufferPointer
    @inlinable public init?(_ frame: UnsafeRawBufferPointer, at offset: Int = 0) {
        guard offset >= 0, frame.count - offset >= Self.length else { return nil }
        bytes = UnsafeRawBufferPointer(rebasing: frame[offset...])
    }
    public var protocolType: UInt16 { bytes.be16(0) }
    public var interfaceIndex: UInt32 { bytes.be32(4) }
    public var hardwareType: UInt16 { bytes.be16(8) }
    public var packetType: UInt8 { bytes.be8(10) }
    public var addressLength: UInt8 { bytes.be8(11) }
    public var sourceMAC: MACAddress? { addressLength == 6 ? bytes.mac(12) : nil }
}

/// Linux `PACKET_*` packet types as they appear in cooked headers.
public enum LinuxPacketType {
    public static let host: UInt16 = 0
    public static let broadcast: UInt16 = 1
    public static let multicast: UInt16 = 2
    public static let otherHost: UInt16 = 3
    public static let outgoing: UInt16 = 4

    /// tcpdump's word for a packet type (`In`, `B`, `M`, `P`, `Out`).
    public static func tcpdumpName(_ t: UInt16) -> String {
        switch t {
        case host: return "In"
        case broadcast: return "B"
        case multicast: return "M"
        case otherHost: return "P"
        case outgoing: return "Out"
        default: return "#\(t)"
        }
    }
}

/// Address families seen in NULL / LOOP link headers.
public enum LoopbackFamily {
    public static let inet: UInt32 = 2
    /// `AF_INET6` on Linux.
    public static let inet6Linux: UInt32 = 10
    /// `AF_INET6` on Windows (and what some tools write).
    public static let inet6Windows: UInt32 = 23
    /// `AF_INET6` on NetBSD, OpenBSD, BSD/OS.
    public static let inet6BSD: UInt32 = 24
    /// `AF_INET6` on FreeBSD and DragonFly.
    public static let inet6FreeBSD: UInt32 = 28
    /// `AF_INET6` on macOS / Darwin.
    public static let inet6Darwin: UInt32 = 30

    @inlinable public static func isInet6(_ f: UInt32) -> Bool {
        f == inet6Linux || f == inet6Windows || f == inet6BSD || f == inet6FreeBSD || f == inet6Darwin
    }

    /// Reads a NULL header's family, which is in the capturing host's byte order: the
    /// interpretation that gives a small value (families are all below 256) wins.
    @inlinable public static func nullFamily(_ frame: UnsafeRawBufferPointer) -> UInt32 {
        let little = UInt32(littleEndian: frame.loadUnaligned(as: UInt32.self))
        if little & 0xFFFF_0000 == 0 { return little }
        return little.byteSwapped
    }
}
