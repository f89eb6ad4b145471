import RxrayDecode

/// `skb->pkt_type`, as `eth_type_trans` and the cooked headers set it.
public enum PktType: UInt8, Sendable, CustomStringConvertible {
    case host = 0, broadcast = 1, multicast = 2, otherhost = 3, outgoing = 4, loopback = 5

    public var description: String {
        switch self {
        case .host: return "HOST"
        case .broadcast: return "BROADCAST"
        case .multicast: return "MULTICAST"
        case .otherhost: return "OTHERHOST"
        case .outgoing: return "OUTGOING"
        case .loopback: return "LOOPBACK"
        }
    }

    /// Appends `description` from literals (no String is made).
    func write(to w: inout ByteWriter) {
        switch self {
        case .host: w.ascii("HOST")
        case .broadcast: w.ascii("BROADCAST")
        case .multicast: w.ascii("MULTICAST")
        case .otherhost: w.ascii("OTHERHOST")
        case .outgoing: w.ascii("OUTGOING")
        case .loopback: w.ascii("LOOPBACK")
        }
    }
}

/// The route an input lookup attached (`skb_dst` → `struct rtable`).
struct InputRoute4 {
    enum Input { case localDeliver, forward, error(RouteError), multicastLocal }
    var input: Input
    var type: RTNType
    /// Route and rule that decided (indices into `Netns`), when a table lookup ran.
    var route: Int?
    var rule: Int?
    /// Egress device and next hop, for forwarding.
    var outDev: Int?
    var gateway: IPv4Address?
    var mtu: Int = 1500
    var doRedirect = false
    var isBroadcast: Bool { type == .broadcast }
    var isMulticast: Bool { type == .multicast }
}

/// The per-frame packet state the stages pass along (`struct sk_buff` + control blocks).
///
/// `buf` holds the captured bytes from the network header on; `len` is `skb->len` (what the
/// kernel had, from the wire length), which can exceed `buf.count` when the capture was cut by
/// its snap length. Stages read only after checking `buf.count` (`captured(_:)`).
struct SKB {
    var buf: UnsafeRawBufferPointer
    var len: Int
    var dev: Int
    var origDev: Int
    var pktType: PktType
    var proto: UInt16
    var mark: UInt32 = 0
    var srcMAC: MACAddress? = nil
    var dstMAC: MACAddress? = nil
    var frame: Int
    var time: Int64
    /// Set once the datagram was rebuilt from fragments.
    var reassembled = false
    /// Frames joined into this datagram (reassembly), the current one last.
    var fragMaxSize = 0
    var route4: InputRoute4? = nil
    var route6: InputRoute6? = nil
    /// Offset of the transport header in `buf`.
    var thoff = 0
    /// Segments GRO merged into this packet (`gso_segs`; 1 for a plain frame).
    var groSegs = 1
    /// GRO already verified the transport checksum (`CHECKSUM_UNNECESSARY` / partial).
    var csumVerified = false

    /// Whether the first `n` bytes from the network header were captured.
    @inline(__always) func captured(_ n: Int) -> Bool { buf.count >= n }

    // IPv4 header fields (valid after `ip_rcv_core`).
    var ihl: Int { Int(buf.u8(0) & 0x0F) * 4 }
    var v4Saddr: IPv4Address { buf.v4At(12) }
    var v4Daddr: IPv4Address { buf.v4At(16) }
    var v4Proto: UInt8 { buf.u8(9) }
    var v4TTL: UInt8 { buf.u8(8) }
    var v4TotLen: Int { Int(buf.u16(2)) }
    var v4FragOff: UInt16 { buf.u16(6) }
    var v4DF: Bool { v4FragOff & 0x4000 != 0 }
    var v4MF: Bool { v4FragOff & 0x2000 != 0 }
    var v4Offset: Int { Int(v4FragOff & 0x1FFF) * 8 }
    var v4IsFragment: Bool { v4FragOff & 0x3FFF != 0 }
    var v4TOS: UInt8 { buf.u8(1) }

    // IPv6 header fields (valid after `ip6_rcv_core`).
    var v6Saddr: IPv6Address { buf.v6At(8) }
    var v6Daddr: IPv6Address { buf.v6At(24) }
    var v6HopLimit: UInt8 { buf.u8(7) }
    var v6NextHeader: UInt8 { buf.u8(6) }
    var v6PayloadLen: Int { Int(buf.u16(4)) }
}
