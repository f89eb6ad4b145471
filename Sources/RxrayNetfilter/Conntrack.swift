import RxrayDecode
import RxrayHost

// Connection tracking: tuples, the table, per-protocol trackers and timeouts.
// Mirrors net/netfilter/nf_conntrack_core.c and nf_conntrack_proto_{tcp,udp,icmp,icmpv6,generic}.c.

/// A connection tuple (`struct nf_conntrack_tuple`): addresses, L4 protocol and the
/// protocol's ids (ports; for ICMP the echo id in `sport` and type<<8|code in `dport`).
public struct CTTuple: Hashable, Sendable, CustomStringConvertible {
    public var src: NFValue
    public var dst: NFValue
    public var sport: UInt16
    public var dport: UInt16
    public var proto: UInt8
    public var v6: Bool

    public var description: String {
        let s = src.address(v6: v6), d = dst.address(v6: v6)
        if proto == 1 || proto == 58 { return "src=\(s) dst=\(d) type=\(dport >> 8) code=\(dport & 0xFF) id=\(sport)" }
        if proto == 6 || proto == 17 || proto == 132 || proto == 136 || proto == 33 {
            return "src=\(s) dst=\(d) sport=\(sport) dport=\(dport)"
        }
        return "src=\(s) dst=\(d) proto=\(proto)"
    }
}

/// `enum ip_conntrack_info`.
public enum CTInfo: UInt8, Sendable {
    case established = 0, related = 1, new = 2, establishedReply = 3, relatedReply = 4, untracked = 7
    @inline(__always) public var isReply: Bool { self == .establishedReply || self == .relatedReply }
    public var name: String {
        switch self {
        case .established: return "ESTABLISHED"
        case .related: return "RELATED"
        case .new: return "NEW"
        case .establishedReply: return "ESTABLISHED_REPLY"
        case .relatedReply: return "RELATED_REPLY"
        case .untracked: return "UNTRACKED"
        }
    }
}

/// IPS_* status bits (include/uapi/linux/netfilter/nf_conntrack_common.h).
public enum CTStatus {
    public static let expected: UInt32 = 1 << 0
    public static let seenReply: UInt32 = 1 << 1
    public static let assured: UInt32 = 1 << 2
    public static let confirmed: UInt32 = 1 << 3
    public static let srcNAT: UInt32 = 1 << 4
    public static let dstNAT: UInt32 = 1 << 5
    public static let srcNATDone: UInt32 = 1 << 7
    public static let dstNATDone: UInt32 = 1 << 8
}

/// TCP conntrack states (`enum tcp_conntrack`).
public enum TCPCTState: UInt8, Sendable {
    case none = 0, synSent, synRecv, established, finWait, closeWait, lastAck, timeWait, close, synSent2
    case ignore = 11, invalid = 12
    public var name: String { staticName.description }
    /// `name` without making a String.
    public var staticName: StaticString {
        switch self {
        case .none: return "NONE"
        case .synSent: return "SYN_SENT"
        case .synRecv: return "SYN_RECV"
        case .established: return "ESTABLISHED"
        case .finWait: return "FIN_WAIT"
        case .closeWait: return "CLOSE_WAIT"
        case .lastAck: return "LAST_ACK"
        case .timeWait: return "TIME_WAIT"
        case .close: return "CLOSE"
        case .synSent2: return "SYN_SENT2"
        case .ignore: return "IGNORE"
        case .invalid: return "INVALID"
        }
    }
    init?(name: String) {
        for s in [TCPCTState.none, .synSent, .synRecv, .established, .finWait, .closeWait, .lastAck, .timeWait, .close, .synSent2]
        where s.name == name { self = s; return }
        return nil
    }
}

/// One direction's window state (`struct ip_ct_tcp_state`).
struct TCPDirState {
    var end: UInt32 = 0
    var maxend: UInt32 = 0
    var maxwin: UInt32 = 0
    var maxack: UInt32 = 0
    var scale: UInt8 = 0
    var flags: UInt8 = 0
    static let windowScale: UInt8 = 0x01
    static let sackPerm: UInt8 = 0x02
    static let closeInit: UInt8 = 0x04
    static let beLiberal: UInt8 = 0x08
    static let dataUnack: UInt8 = 0x10
    static let maxackSet: UInt8 = 0x20
    /// rxray only: this direction's sequence numbers start at an ISN the capture does not show
    /// (the host's own SYN-ACK). The peer's first ACK tells it; the direction is shifted then.
    static let isnUnknown: UInt8 = 0x40
}

/// A connection's TCP tracking state (`struct ip_ct_tcp`). 56 bytes: fields are declared
/// widest-aligned after the window states, and the last direction and the two last-RST flags
/// share one byte.
struct TCPTrack {
    var seen = (TCPDirState(), TCPDirState())
    var state: TCPCTState = .none
    /// Bit 0: the direction of the last packet (`last_dir`); bits 1 and 2: whether the last
    /// packet in the original / reply direction was a RST.
    private var dirBits: UInt8 = 0
    var lastSeq: UInt32 = 0
    var lastAck: UInt32 = 0
    var lastEnd: UInt32 = 0
    var lastWin: UInt16 = 0
    var lastIndex: UInt8 = 5
    var retrans: UInt8 = 0

    var lastDir: UInt8 {
        get { dirBits & 1 }
        set { dirBits = dirBits & ~1 | newValue & 1 }
    }

    var lastRST: (Bool, Bool) {
        get { (dirBits & 2 != 0, dirBits & 4 != 0) }
        set { dirBits = dirBits & 1 | (newValue.0 ? 2 : 0) | (newValue.1 ? 4 : 0) }
    }

    /// Where `seen` lies in the struct: 0 (the window check reads it through the track's
    /// pointer; ConntrackTests checks the offset).
    static let seenOffset = MemoryLayout<TCPTrack>.offset(of: \TCPTrack.seen)!

    subscript(dir: Int) -> TCPDirState {
        get { dir == 0 ? seen.0 : seen.1 }
        set { if dir == 0 { seen.0 = newValue } else { seen.1 = newValue } }
    }
}

/// A tracked connection (`struct nf_conn`): 168 bytes, laid out so that the table of
/// `nf_conntrack_max` entries stays small (the one-byte `bits` sits in the original tuple's
/// tail padding; TCP's state is 56 bytes; the UDP stream deadline is computed, not stored).
public struct CTEntry {
    public var original: CTTuple
    /// `inUseBit`, `confirmedBit`, `loadedBit`.
    var bits: UInt8 = 0
    public var reply: CTTuple
    public var status: UInt32 = 0
    public var mark: UInt32 = 0
    public var timeoutAt: Int64 = 0
    public var createdNs: Int64 = 0
    /// When the timeout was last armed (`nf_ct_refresh`): `timeoutAt - refreshedNs` is the
    /// timeout the last packet set, what `conntrack -L` shows right after it.
    public internal(set) var refreshedNs: Int64 = 0
    var tcp = TCPTrack()
    public var tcpState: TCPCTState { tcp.state }

    static let inUseBit: UInt8 = 1, confirmedBit: UInt8 = 2
    /// Loaded from a starting table (`conntrack -L`), not made by a packet.
    static let loadedBit: UInt8 = 4

    /// The slot holds a connection (unconfirmed ones included).
    var inUse: Bool {
        get { bits & Self.inUseBit != 0 }
        set { if newValue { bits |= Self.inUseBit } else { bits &= ~Self.inUseBit } }
    }

    /// In the hash (`nf_ct_is_confirmed`).
    var confirmed: Bool {
        get { bits & Self.confirmedBit != 0 }
        set { if newValue { bits |= Self.confirmedBit } else { bits &= ~Self.confirmedBit } }
    }

    /// UDP and UDP-Lite: after this time a replied flow is a stream (2 s after the first
    /// packet, `nf_conntrack_udp_packet`'s `stream_ts`). A loaded UDP entry is a stream from
    /// its load time; a loaded UDP-Lite one from any time (the load set no deadline).
    var udpStreamAt: Int64 {
        if bits & Self.loadedBit == 0 { return createdNs &+ 2_000_000_000 }
        return original.proto == 17 ? createdNs : 0
    }
    public func tuple(_ dir: Int) -> CTTuple { dir == 0 ? original : reply }
}

/// Conntrack settings from sysctls.
struct CTConfig {
    var max = 262144
    var tcpLoose = true
    var beLiberal = false
    var checksum = true
    var maxRetrans = 3
    var ignoreInvalidRST = false
    var tcpTimeouts: [Int64] = []   // by TCPCTState raw value, ns
    var tcpMaxRetrans: Int64 = 300
    var tcpUnack: Int64 = 300
    var udp: Int64 = 30
    var udpStream: Int64 = 120
    var icmp: Int64 = 30
    var icmpv6: Int64 = 30
    var generic: Int64 = 600

    init() { tcpTimeouts = [0, 120, 60, 432000, 120, 60, 30, 120, 10, 120].map { $0 * 1_000_000_000 } }

    init(_ s: Sysctls) {
        self.init()
        func v(_ k: String, _ d: Int) -> Int { s.isGiven(k) || s[k] != nil ? s.int(k, fallback: d) : d }
        max = v("net.netfilter.nf_conntrack_max", 262144)
        tcpLoose = v("net.netfilter.nf_conntrack_tcp_loose", 1) != 0
        beLiberal = v("net.netfilter.nf_conntrack_tcp_be_liberal", 0) != 0
        checksum = v("net.netfilter.nf_conntrack_checksum", 1) != 0
        maxRetrans = v("net.netfilter.nf_conntrack_tcp_max_retrans", 3)
        ignoreInvalidRST = v("net.netfilter.nf_conntrack_tcp_ignore_invalid_rst", 0) != 0
        let names = ["", "syn_sent", "syn_recv", "established", "fin_wait", "close_wait", "last_ack", "time_wait", "close", "syn_sent"]
        let defaults = [0, 120, 60, 432000, 120, 60, 30, 120, 10, 120]
        tcpTimeouts = (0..<10).map { $0 == 0 ? 0 : Int64(v("net.netfilter.nf_conntrack_tcp_timeout_\(names[$0])", defaults[$0])) * 1_000_000_000 }
        tcpMaxRetrans = Int64(v("net.netfilter.nf_conntrack_tcp_timeout_max_retrans", 300)) * 1_000_000_000
        tcpUnack = Int64(v("net.netfilter.nf_conntrack_tcp_timeout_unacknowledged", 300)) * 1_000_000_000
        udp = Int64(v("net.netfilter.nf_conntrack_udp_timeout", 30)) * 1_000_000_000
        udpStream = Int64(v("net.netfilter.nf_conntrack_udp_timeout_stream", 120)) * 1_000_000_000
        icmp = Int64(v("net.netfilter.nf_conntrack_icmp_timeout", 30)) * 1_000_000_000
        icmpv6 = Int64(v("net.netfilter.nf_conntrack_icmpv6_timeout", 30)) * 1_000_000_000
        generic = Int64(v("net.netfilter.nf_conntrack_generic_timeout", 600)) * 1_000_000_000
    }
}

/// The outcome of `nf_conntrack_in` for one packet.
public struct CTResult: Sendable {
    /// Slot of the connection, -1 when none (INVALID or UNTRACKED).
    public var slot: Int32 = -1
    public var info: CTInfo = .new
    /// Set when conntrack declared the packet INVALID: which check failed.
    public var invalidReason: StaticString? = nil
    /// Whether the connection was created by this packet (unconfirmed until the confirm hook).
    public var created = false
    /// Set when the table was full and nothing could be early-dropped: the packet is dropped.
    public var tableFull = false
    public var untracked = false
    public init() {}
    /// The `ct state` bit (invalid 1, established 2, related 4, new 8, untracked 64).
    public var stateBit: UInt32 {
        if untracked { return 64 }
        if slot < 0 { return 1 }
        switch info {
        case .established, .establishedReply: return 2
        case .related, .relatedReply: return 4
        case .new: return 8
        case .untracked: return 64
        }
    }
    @inline(__always) public var direction: Int { info.isReply ? 1 : 0 }
}

// TCP flag bits.
private let fFIN: UInt8 = 0x01, fSYN: UInt8 = 0x02, fRST: UInt8 = 0x04, fPSH: UInt8 = 0x08, fACK: UInt8 = 0x10, fURG: UInt8 = 0x20

private let sNO = TCPCTState.none, sSS = TCPCTState.synSent, sSR = TCPCTState.synRecv, sES = TCPCTState.established,
    sFW = TCPCTState.finWait, sCW = TCPCTState.closeWait, sLA = TCPCTState.lastAck, sTW = TCPCTState.timeWait,
    sCL = TCPCTState.close, sS2 = TCPCTState.synSent2, sIV = TCPCTState.invalid, sIG = TCPCTState.ignore

/// The TCP transition table `[dir][flag index][old state]` (written from the behaviour
/// documented in KERNEL-RX.md 8.2; flag index SYN, SYNACK, FIN, ACK, RST, NONE).
let tcpTable: [[[TCPCTState]]] = [
    [
        [sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2],
        [sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR],
        [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
        [sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV],
        [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
        [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
    ],
    [
        [sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2],
        [sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR],
        [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
        [sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG],
        [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
        [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
    ],
]

/// `tcpTable` flat, `[dir * 60 + flag index * 10 + old state]`, one byte per state's raw
/// value: a constant (a global array is made lazily, and every packet checked that it had
/// been). ConntrackTests compares it with `tcpTable`.
@inline(__always) private var tcpTransitionCodes: StaticString {
    "\u{1}\u{1}\u{B}\u{B}\u{B}\u{B}\u{B}\u{1}\u{1}\u{9}\u{C}\u{C}\u{2}\u{C}\u{C}\u{C}\u{C}\u{C}\u{C}\u{2}\u{C}\u{C}\u{4}\u{4}\u{6}\u{6}\u{6}\u{7}\u{8}\u{C}\u{3}\u{C}\u{3}\u{3}\u{5}\u{5}\u{7}\u{7}\u{8}\u{C}\u{C}\u{8}\u{8}\u{8}\u{8}\u{8}\u{8}\u{8}\u{8}\u{8}\u{C}\u{C}\u{C}\u{C}\u{C}\u{C}\u{C}\u{C}\u{C}\u{C}\u{C}\u{9}\u{C}\u{C}\u{C}\u{C}\u{C}\u{1}\u{C}\u{9}\u{C}\u{2}\u{B}\u{B}\u{B}\u{B}\u{B}\u{B}\u{B}\u{2}\u{C}\u{C}\u{4}\u{4}\u{6}\u{6}\u{6}\u{7}\u{8}\u{C}\u{C}\u{B}\u{2}\u{3}\u{5}\u{5}\u{7}\u{7}\u{8}\u{B}\u{C}\u{8}\u{8}\u{8}\u{8}\u{8}\u{8}\u{8}\u{8}\u{8}\u{C}\u{C}\u{C}\u{C}\u{C}\u{C}\u{C}\u{C}\u{C}\u{C}"
}

@inline(__always) func tcpTransition(_ dir: Int, _ idx: Int, _ old: Int) -> TCPCTState {
    precondition(old < 10, "TCP conntrack states index the transition table below 10")
    let i = dir * 60 + idx * 10 + old
    precondition(i >= 0 && i < 120, "TCP transition index out of the table")
    return TCPCTState(rawValue: tcpTransitionCodes.utf8Start[i]).unsafelyUnwrapped
}

@inline(__always) private func before(_ a: UInt32, _ b: UInt32) -> Bool { Int32(bitPattern: a &- b) < 0 }
@inline(__always) private func after(_ a: UInt32, _ b: UInt32) -> Bool { before(b, a) }

/// The conntrack hash: tuple → `slot << 1 | direction`, open addressing with linear probing
/// and a fixed multiply-xorshift hash of the tuple's words (Swift's `Hasher` seeds and runs
/// SipHash on every lookup, a few percent of a frame). Deletion shifts the following entries
/// back, so there are no tombstones and a lookup stops at the first empty bucket. Nothing
/// iterates it, so its order never reaches the output.
///
/// A bucket is one word: the low 32 bits of the tuple's hash (whose low bits are the home
/// bucket) above `value + 1` (0 is an empty bucket). The tuple itself is not stored: the
/// entry in the table's slot `value >> 1` holds it (its original or reply tuple), so a full
/// comparison reads the entry, and only when the 32 hash bits agree. 8 bytes a bucket
/// instead of 44 (a 40-byte tuple and its value): a full table of 262,144 connections has
/// 524,288 keys in 1,048,576 buckets, 8 MB instead of 46 MB.
struct CTIndex {
    private(set) var buckets: [UInt64] = []
    private(set) var mask = -1
    private(set) var count = 0

    init() {}

    @inline(__always) static func hash(_ t: CTTuple) -> UInt32 {
        var h = (t.src.low ^ (t.src.high &* 0x9E37_79B9_7F4A_7C15)) &* 0xFF51_AFD7_ED55_8CCD
        h ^= (t.dst.low ^ (t.dst.high &* 0xC2B2_AE3D_27D4_EB4F)) &* 0xC4CE_B9FE_1A85_EC53
        h ^= (UInt64(t.sport) << 32 | UInt64(t.dport) << 16 | UInt64(t.proto) << 8 | (t.v6 ? 1 : 0)) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
        return UInt32(truncatingIfNeeded: h ^ (h >> 32))
    }

    @inline(__always) static func same(_ a: CTTuple, _ b: CTTuple) -> Bool {
        a.src.low == b.src.low && a.dst.low == b.dst.low && a.sport == b.sport && a.dport == b.dport
            && a.src.high == b.src.high && a.dst.high == b.dst.high && a.proto == b.proto && a.v6 == b.v6
    }

    @inline(__always) static func bucket(hash: UInt32, value: Int32) -> UInt64 {
        UInt64(hash) << 32 | UInt64(UInt32(bitPattern: value) &+ 1)
    }

    @inline(__always) static func value(_ b: UInt64) -> Int32 { Int32(bitPattern: UInt32(truncatingIfNeeded: b) &- 1) }

    /// The bucket holding `t` (whose hash is `h`), or the empty bucket where it would go;
    /// `key(value)` is the tuple a stored value stands for.
    @inline(__always) func find(_ t: CTTuple, hash h: UInt32, key: (Int32) -> CTTuple) -> (Int, Bool) {
        var i = Int(h) & mask
        return buckets.withUnsafeBufferPointer { b in
            while true {
                let x = b[i]
                if x == 0 { return (i, false) }
                if UInt32(truncatingIfNeeded: x >> 32) == h && Self.same(key(Self.value(x)), t) { return (i, true) }
                i = (i &+ 1) & mask
            }
        }
    }

    /// The value stored for `t`, nil when absent.
    @inline(__always) func lookup(_ t: CTTuple, key: (Int32) -> CTTuple) -> Int32? {
        guard count > 0 else { return nil }
        let (i, found) = find(t, hash: Self.hash(t), key: key)
        return found ? Self.value(buckets[i]) : nil
    }

    /// Stores `v` for `t` (replacing the value of an equal key).
    mutating func insert(_ t: CTTuple, _ v: Int32, key: (Int32) -> CTTuple) {
        precondition(v >= 0 && v < Int32.max, "conntrack index values are slot << 1 | direction")
        if mask < 0 || (count + 1) * 2 > mask + 1 { grow() }
        let h = Self.hash(t)
        let (i, found) = find(t, hash: h, key: key)
        if !found { count += 1 }
        buckets[i] = Self.bucket(hash: h, value: v)
    }

    /// Removes `t` if it is stored with the value `v`; true when it was.
    @discardableResult
    mutating func remove(_ t: CTTuple, ifValue v: Int32, key: (Int32) -> CTTuple) -> Bool {
        guard count > 0 else { return false }
        let (i, found) = find(t, hash: Self.hash(t), key: key)
        guard found, Self.value(buckets[i]) == v else { return false }
        remove(at: i)
        return true
    }

    /// Empties bucket `i`, moving back the entries after it that probed past it.
    private mutating func remove(at start: Int) {
        let mask = self.mask
        buckets.withUnsafeMutableBufferPointer { b in
            var hole = start
            var j = start
            while true {
                j = (j &+ 1) & mask
                let x = b[j]
                if x == 0 { break }
                let home = Int(truncatingIfNeeded: x >> 32) & mask
                // The entry at j may fill the hole unless its home lies cyclically in (hole, j].
                let stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j)
                if stays { continue }
                b[hole] = x
                hole = j
            }
            b[hole] = 0
        }
        count -= 1
    }

    /// Doubles the buckets (16 at first) and reinserts every entry (the stored hash gives
    /// each one's home bucket: no tuple is read).
    private mutating func grow() {
        let old = buckets
        let n = mask < 0 ? 16 : (mask + 1) * 2
        buckets = [UInt64](repeating: 0, count: n)
        mask = n - 1
        let m = mask
        buckets.withUnsafeMutableBufferPointer { b in
            for x in old where x != 0 {
                var i = Int(truncatingIfNeeded: x >> 32) & m
                while b[i] != 0 { i = (i &+ 1) & m }
                b[i] = x
            }
        }
    }
}

/// The connection table, owned by the engine.
public struct ConntrackTable {
    public internal(set) var slots: [CTEntry] = []
    var free: [Int32] = []
    var index = CTIndex()
    /// Confirmed entries.
    public internal(set) var count = 0
    var config = CTConfig()
    var evictCursor = 0
    /// `conntrack -S` counters: invalid, drop, early_drop (plain counters: a dictionary keyed
    /// by String hashed the name on every invalid packet and every new connection).
    var invalidCount = 0, dropCount = 0, earlyDropCount = 0

    init(config: CTConfig) { self.config = config }

    /// Counters as `conntrack -S` names them (those that moved).
    public var stats: [String: Int] {
        var d: [String: Int] = [:]
        if invalidCount > 0 { d["invalid"] = invalidCount }
        if dropCount > 0 { d["drop"] = dropCount }
        if earlyDropCount > 0 { d["early_drop"] = earlyDropCount }
        return d
    }

    /// The tuple an index value (`slot << 1 | direction`) stands for.
    @inline(__always) func key(_ v: Int32) -> CTTuple {
        v & 1 == 0 ? slots[Int(v >> 1)].original : slots[Int(v >> 1)].reply
    }

    /// The index value (`slot << 1 | direction`) of a confirmed connection's tuple.
    @inline(__always) func lookup(_ t: CTTuple) -> Int32? { index.lookup(t, key: key) }

    /// Slots to reserve at the first connection: the table never holds more than
    /// `nf_conntrack_max` confirmed entries and the few unconfirmed ones of the frame in
    /// flight, so reserving that once (address space: pages are touched only as slots are
    /// used) spares the copies of doubling, and their peak of old and new arrays side by side,
    /// and the last doubling's 2x capacity. Above 4M entries the array grows as usual.
    var reservation: Int { min(max(config.max, 0), 1 << 22) + 64 }

    /// The confirmed connections (what `conntrack -L` lists), in slot order.
    public var confirmedEntries: [CTEntry] { slots.filter { $0.inUse && $0.confirmed } }

    /// The entry as a `conntrack -L` line, its timeout column in whole seconds (`timeout`).
    public static func listLine(_ e: CTEntry, timeout: Int64) -> String {
        let names: [UInt8: String] = [1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp", 136: "udplite", 33: "dccp", 47: "gre"]
        var s = "\(names[e.original.proto] ?? "unknown") \(e.original.proto) \(timeout) "
        if e.original.proto == 6 { s += "\(e.tcpState.name) " }
        s += e.original.description
        if e.status & CTStatus.seenReply == 0 { s += " [UNREPLIED]" }
        s += " " + e.reply.description
        if e.status & CTStatus.assured != 0 { s += " [ASSURED]" }
        s += " mark=\(e.mark) use=1"
        return s
    }

    /// The entry in `slot`.
    public func entry(_ slot: Int32) -> CTEntry? { slot >= 0 && Int(slot) < slots.count && slots[Int(slot)].inUse ? slots[Int(slot)] : nil }

    /// Finds the connection a tuple belongs to, dropping it first if it has expired.
    /// - Complexity: O(1) expected.
    @inline(__always) mutating func find(_ t: CTTuple, now: Int64) -> (slot: Int32, dir: Int)? {
        guard let v = lookup(t) else { return nil }
        let slot = v >> 1
        if slots[Int(slot)].timeoutAt <= now {
            remove(slot)
            return nil
        }
        return (slot, Int(v & 1))
    }

    mutating func allocate(_ e: CTEntry) -> Int32 {
        var e = e
        e.inUse = true
        if let s = free.popLast() { slots[Int(s)] = e; return s }
        if slots.capacity == 0 { slots.reserveCapacity(reservation) }
        slots.append(e)
        return Int32(slots.count - 1)
    }

    /// Inserts an allocated entry into the hash (`__nf_conntrack_confirm`).
    mutating func confirm(_ slot: Int32) {
        guard slot >= 0, slots[Int(slot)].inUse, !slots[Int(slot)].confirmed else { return }
        slots[Int(slot)].confirmed = true
        slots[Int(slot)].status |= CTStatus.confirmed
        let original = slots[Int(slot)].original, reply = slots[Int(slot)].reply
        // The index reads tuples from the slots while it changes: it gets a reference to the
        // same storage (no copy, since the slots are not written while it lives), and each
        // key function is a closure literal passed straight down (non-escaping, no context).
        let entries = slots
        index.insert(original, slot << 1) { v in v & 1 == 0 ? entries[Int(v >> 1)].original : entries[Int(v >> 1)].reply }
        index.insert(reply, slot << 1 | 1) { v in v & 1 == 0 ? entries[Int(v >> 1)].original : entries[Int(v >> 1)].reply }
        count += 1
    }

    /// Removes an entry (expired, killed, or an unconfirmed one whose packet died).
    mutating func remove(_ slot: Int32) {
        guard slot >= 0, Int(slot) < slots.count, slots[Int(slot)].inUse else { return }
        let e = slots[Int(slot)]
        // The slot is marked free before the index is told, so that the slots are not written
        // while `entries` shares their storage (a write then would copy the whole table).
        slots[Int(slot)].inUse = false
        slots[Int(slot)].confirmed = false
        if e.confirmed {
            let entries = slots
            _ = index.remove(e.original, ifValue: slot << 1) { v in v & 1 == 0 ? entries[Int(v >> 1)].original : entries[Int(v >> 1)].reply }
            _ = index.remove(e.reply, ifValue: slot << 1 | 1) { v in v & 1 == 0 ? entries[Int(v >> 1)].original : entries[Int(v >> 1)].reply }
            count -= 1
        }
        free.append(slot)
    }

    /// Changes the reply tuple of an unconfirmed entry (NAT binding: `nf_conntrack_alter_reply`).
    mutating func alterReply(_ slot: Int32, _ t: CTTuple) {
        slots[Int(slot)].reply = t
    }

    /// Whether a tuple is taken by a confirmed connection (`nf_nat_used_tuple`).
    func isTaken(_ t: CTTuple) -> Bool { lookup(t) != nil }

    /// Early drop (`early_drop`): frees one non-assured connection. The kernel looks in the
    /// buckets near the new tuple's hash; rxray scans from a rotating cursor (deterministic)
    /// and first reaps expired entries.
    mutating func earlyDrop(now: Int64) -> Bool {
        guard !slots.isEmpty else { return false }
        var n = 0
        while n < slots.count {
            let s = evictCursor % slots.count
            evictCursor = s + 1
            n += 1
            let e = slots[s]
            guard e.inUse, e.confirmed else { continue }
            if e.timeoutAt <= now || e.status & CTStatus.assured == 0 {
                remove(Int32(s))
                if e.timeoutAt > now { earlyDropCount += 1 }
                return true
            }
        }
        return false
    }

    // MARK: - nf_conntrack_in

    /// Builds the tuple of a packet (`nf_ct_get_tuple`); nil with the reason when it cannot.
    /// Inlined: returned through memory, the tuple was copied out again at every packet.
    @inline(__always) static func tuple(of p: NFPacket) -> (CTTuple?, StaticString?) {
        let v6 = p.family == .ipv6
        let proto = p.l4proto
        // The addresses as `saddr` / `daddr` read them, inline.
        let b = p.bytes
        var t = v6 ? CTTuple(src: NFValue(high: b.be64(8), low: b.be64(16)), dst: NFValue(high: b.be64(24), low: b.be64(32)),
                             sport: 0, dport: 0, proto: proto, v6: true)
                   : CTTuple(src: NFValue(UInt64(b.be32(12))), dst: NFValue(UInt64(b.be32(16))), sport: 0, dport: 0, proto: proto, v6: false)
        switch proto {
        case 6, 17, 136, 132, 33:
            guard p.thoff >= 0 else { return p.laterFragment ? (t, nil) : (nil, "truncated transport header") }
            guard p.has(p.thoff, 4) else { return (nil, "truncated transport header") }
            t.sport = p.bytes.u16(p.thoff); t.dport = p.bytes.u16(p.thoff + 2)
        case 1, 58:
            guard p.thoff >= 0, p.has(p.thoff, 8) else { return (nil, "truncated ICMP header") }
            t.dport = UInt16(p.bytes.u8(p.thoff)) << 8 | UInt16(p.bytes.u8(p.thoff + 1))
            t.sport = p.bytes.u16(p.thoff + 4)
        default:
            break
        }
        return (t, nil)
    }

    /// The TCP flag combinations conntrack accepts (`tcp_valid_flags`), FIN, SYN, RST, ACK
    /// and URG only (the caller masks out PSH, ECE and CWR).
    @inline(__always) static func validTCPFlags(_ fl: UInt8) -> Bool {
        switch fl {
        case fSYN, fSYN | fURG, fSYN | fACK, fRST, fRST | fACK, fFIN | fACK, fFIN | fACK | fURG, fACK, fACK | fURG: return true
        default: return false
        }
    }

    /// ICMP and ICMPv6 request types that may start a connection.
    @inline(__always) static func isICMPRequest(_ type: UInt8) -> Bool {
        switch type {
        case 8, 13, 15, 17, 128, 139: return true
        default: return false
        }
    }

    static func icmpReplyType(_ type: UInt8, v6: Bool) -> UInt8? {
        if v6 {
            switch type { case 128: return 129; case 129: return 128; case 139: return 140; case 140: return 139; default: return nil }
        }
        switch type {
        case 8: return 0; case 0: return 8; case 13: return 14; case 14: return 13
        case 15: return 16; case 16: return 15; case 17: return 18; case 18: return 17
        default: return nil
        }
    }

    static func invert(_ t: CTTuple) -> CTTuple? {
        var r = CTTuple(src: t.dst, dst: t.src, sport: t.dport, dport: t.sport, proto: t.proto, v6: t.v6)
        if t.proto == 1 || t.proto == 58 {
            guard let rt = icmpReplyType(UInt8(t.dport >> 8), v6: t.v6) else { return nil }
            r.sport = t.sport
            r.dport = UInt16(rt) << 8 | (t.dport & 0xFF)
        }
        return r
    }

    /// Runs conntrack for a packet at PRE_ROUTING / LOCAL_OUT.
    ///
    /// Mirrors `nf_conntrack_in()` → `resolve_normal_ct()` and the protocol `packet()` callbacks.
    mutating func conntrackIn(_ p: NFPacket, now: Int64, verifyChecksum: Bool) -> CTResult {
        var r = CTResult()
        let (tOpt, why) = ConntrackTable.tuple(of: p)
        guard var t = tOpt else { r.invalidReason = why; invalidCount += 1; return r }
        // ICMP errors: RELATED to the connection of the quoted packet, never a new ct.
        if t.proto == 1 || t.proto == 58 {
            let type = UInt8(t.dport >> 8)
            let isError: Bool
            if t.proto == 1 {
                switch type { case 3, 4, 5, 11, 12: isError = true; default: isError = false }
            } else {
                isError = type < 128
            }
            if isError { return icmpError(p, type: type, now: now) }
            if t.proto == 1 && type > 18 { r.invalidReason = "ICMP type above 18"; invalidCount += 1; return r }
            if t.proto == 58 && (133...137).contains(type) {
                r.invalidReason = "ICMPv6 neighbour discovery is not tracked"; return r
            }
            if t.proto == 58 && (130...132).contains(type) || t.proto == 58 && type == 143 {
                r.invalidReason = "ICMPv6 multicast listener message is not tracked"; return r
            }
        }
        if t.proto == 6 {
            guard p.has(p.thoff, 20) else { r.invalidReason = "truncated packet"; invalidCount += 1; return r }
            let doff = Int(p.bytes.u8(p.thoff + 12) >> 4) * 4
            let tcplen = l4Length(p)
            if doff < 20 || doff > tcplen { r.invalidReason = "truncated packet (bad data offset)"; invalidCount += 1; return r }
            if verifyChecksum && !l4ChecksumOK(p) { r.invalidReason = "bad checksum"; invalidCount += 1; return r }
            let fl = p.bytes.u8(p.thoff + 13) & ~(0x40 | 0x80 | fPSH)
            if !ConntrackTable.validTCPFlags(fl) { r.invalidReason = "invalid tcp flag combination"; invalidCount += 1; return r }
        }
        if t.proto == 17 || t.proto == 136 {
            let ulen = p.has(p.thoff, 8) ? Int(p.bytes.u16(p.thoff + 4)) : 0
            let avail = l4Length(p)
            if t.proto == 17 && (ulen < 8 || ulen > avail) { r.invalidReason = "truncated/malformed packet (bad UDP length)"; invalidCount += 1; return r }
            if verifyChecksum && p.bytes.u16(p.thoff + 6) != 0 && !l4ChecksumOK(p) {
                r.invalidReason = "bad checksum"; invalidCount += 1; return r
            }
        }
        if t.proto == 1 && verifyChecksum && !l4ChecksumOK(p) {
            r.invalidReason = "bad checksum"; invalidCount += 1; return r
        }
        var hit = find(t, now: now)
        if hit == nil {
            // A new connection.
            if t.proto == 1 || t.proto == 58 {
                guard ConntrackTable.icmpReplyType(UInt8(t.dport >> 8), v6: t.v6) != nil,
                      ConntrackTable.isICMPRequest(UInt8(t.dport >> 8)) else {
                    r.invalidReason = "ICMP message that is not a request and matches no connection"
                    invalidCount += 1
                    return r
                }
            }
            guard let rt = ConntrackTable.invert(t) else { r.invalidReason = "no reply tuple"; return r }
            if count >= config.max {
                if !earlyDrop(now: now) {
                    r.tableFull = true
                    dropCount += 1
                    return r
                }
            }
            var e = CTEntry(original: t, reply: rt)
            e.createdNs = now
            let slot = allocate(e)
            if t.proto == 6 {
                if let why = tcpNew(slot, p) {
                    remove(slot)
                    r.invalidReason = why
                    invalidCount += 1
                    return r
                }
            }
            r.created = true
            hit = (slot, 0)
        }
        let (slot, dir) = hit!
        if dir == 1 {
            // IPS_SEEN_REPLY is set after the protocol tracker has seen the packet (the
            // trackers read it as it was before this reply).
            r.info = .establishedReply
        } else if slots[Int(slot)].status & CTStatus.seenReply != 0 {
            r.info = .established
        } else if slots[Int(slot)].status & CTStatus.expected != 0 {
            r.info = .related
        } else {
            r.info = .new
        }
        r.slot = slot
        // Every return below notes when the tracker armed the timeout (`noteRefresh`).
        let armedBefore = slots[Int(slot)].timeoutAt
        // Protocol tracker.
        switch t.proto {
        case 6:
            let (ok, why, repeatAsNew) = tcpPacket(slot, dir: dir, p, now: now)
            if repeatAsNew {
                remove(slot)
                t = ConntrackTable.tuple(of: p).0!
                let again = conntrackIn(p, now: now, verifyChecksum: verifyChecksum)
                noteRefresh(slot, armedBefore: armedBefore, now: now)
                return again
            }
            if !ok {
                if r.created { remove(slot) }
                r.slot = -1
                r.invalidReason = why
                invalidCount += 1
                noteRefresh(slot, armedBefore: armedBefore, now: now)
                return r
            }
        case 17, 136:
            // In place (a copy of the 168-byte entry out and back cost every datagram).
            let i = Int(slot)
            if slots[i].status & CTStatus.seenReply != 0 && now > slots[i].udpStreamAt {
                slots[i].timeoutAt = now + config.udpStream
                slots[i].status |= CTStatus.assured
            } else {
                slots[i].timeoutAt = now + config.udp
            }
        case 1:
            slots[Int(slot)].timeoutAt = now + config.icmp
        case 58:
            slots[Int(slot)].timeoutAt = now + config.icmpv6
        default:
            slots[Int(slot)].timeoutAt = now + config.generic
            if slots[Int(slot)].status & CTStatus.seenReply != 0 || dir == 1 { slots[Int(slot)].status |= CTStatus.assured }
        }
        if dir == 1 && slots[Int(slot)].inUse { slots[Int(slot)].status |= CTStatus.seenReply }
        noteRefresh(slot, armedBefore: armedBefore, now: now)
        return r
    }

    /// Remembers `now` as when the timeout of the connection in `slot` was last armed
    /// (`nf_ct_refresh`), when the packet's tracker changed it from `armedBefore` (and the
    /// connection is still there). Written out at `conntrackIn`'s returns: a `defer` there was
    /// a call of its own, with a uniqueness check of the slots, on every packet.
    @inline(__always) private mutating func noteRefresh(_ slot: Int32, armedBefore: Int64, now: Int64) {
        let i = Int(slot)
        if slots[i].inUse && slots[i].timeoutAt != armedBefore { slots[i].refreshedNs = now }
    }

    /// Bytes of the transport segment (IP payload from the transport header on).
    @inline(__always) func l4Length(_ p: NFPacket) -> Int {
        guard p.thoff >= 0 else { return 0 }
        if p.family == .ipv6 { return 40 + Int(p.bytes.u16(4)) - p.thoff }
        return Int(p.bytes.u16(2)) - p.thoff
    }

    /// Verifies the transport checksum over the captured bytes (true when not fully captured).
    func l4ChecksumOK(_ p: NFPacket) -> Bool {
        let n = l4Length(p)
        guard n > 0, p.thoff + n <= p.bytes.count else { return true }
        var c = InternetChecksum()
        if p.family == .ipv6 {
            c.add(IPv6Address(high: p.bytes.u64(8), low: p.bytes.u64(16)))
            c.add(IPv6Address(high: p.bytes.u64(24), low: p.bytes.u64(32)))
            c.add(UInt32(n)); c.add(UInt16(p.l4proto))
        } else if p.l4proto != 1 {
            c.add(IPv4Address(p.bytes.u32(12))); c.add(IPv4Address(p.bytes.u32(16)))
            c.add(UInt16(p.l4proto)); c.add(UInt16(n))
        }
        c.add(UnsafeRawBufferPointer(rebasing: p.bytes[p.thoff..<(p.thoff + n)]))
        return c.folded == 0xFFFF
    }

    /// ICMP/ICMPv6 error: RELATED to the connection of the embedded packet, else INVALID.
    ///
    /// Mirrors `nf_conntrack_inet_error()` in net/netfilter/nf_conntrack_proto_icmp.c.
    mutating func icmpError(_ p: NFPacket, type: UInt8, now: Int64) -> CTResult {
        var r = CTResult()
        let inner = p.thoff + 8
        let v6 = p.family == .ipv6
        guard p.has(inner, v6 ? 40 : 20) else { r.invalidReason = "ICMP error too short to quote a header"; return r }
        let sub = UnsafeRawBufferPointer(rebasing: p.bytes[inner...])
        let ip = NFPacket(family: p.family, hook: p.hook, bytes: sub, length: sub.count)
        // The quoted header may be cut after 8 transport bytes; that is enough for ports.
        guard let t = ConntrackTable.tuple(of: ip).0, let inv = ConntrackTable.invert(t) ?? Optional(t) else {
            r.invalidReason = "ICMP error quoting an untrackable packet"; invalidCount += 1; return r
        }
        guard let (slot, dir) = find(inv, now: now) else {
            r.invalidReason = "ICMP error quoting a packet of no known connection"
            invalidCount += 1
            return r
        }
        r.slot = slot
        r.info = dir == 1 ? .relatedReply : .related
        return r
    }

    // MARK: TCP

    struct TCPSeg {
        var seq: UInt32, ack: UInt32, win: UInt16, flags: UInt8, dataLen: UInt32
        var wscale: UInt8?, sackPerm: Bool, sackMax: UInt32?
        var seqUnknown = false
    }

    /// The segment's fields the tracker reads. The caller has checked the 20-byte header is
    /// captured.
    @inline(__always) func segment(_ p: NFPacket) -> TCPSeg {
        let o = p.thoff
        let doff = Int(p.bytes.u8(o &+ 12) >> 4) &* 4
        var s = TCPSeg(seq: p.bytes.be32(o &+ 4), ack: p.bytes.be32(o &+ 8), win: p.bytes.be16(o &+ 14), flags: p.bytes.u8(o &+ 13),
                       dataLen: UInt32(max(0, l4Length(p) - doff)), wscale: nil, sackPerm: false, sackMax: nil,
                       seqUnknown: p.localSeqUnknown)
        var i = o &+ 20
        let end = min(o &+ doff, p.bytes.count)
        // The usual layouts hold nothing the tracker reads: no options, or NOP NOP timestamps
        // (what the loop below would skip over).
        if end <= i || (end &- i == 12 && p.bytes.be32(i) == 0x0101_080A) { return s }
        while i < end {
            let kind = p.bytes.u8(i)
            if kind == 0 { break }
            if kind == 1 { i += 1; continue }
            guard i + 1 < end else { break }
            let len = Int(p.bytes.u8(i + 1))
            guard len >= 2, i + len <= end else { break }
            switch kind {
            case 3 where len == 3: s.wscale = min(p.bytes.u8(i + 2), 14)
            case 4 where len == 2: s.sackPerm = true
            case 5 where len >= 10:
                var j = i + 2
                while j + 8 <= i + len {
                    let right = p.bytes.u32(j + 4)
                    if s.sackMax == nil || after(right, s.sackMax!) { s.sackMax = right }
                    j += 8
                }
            default: break
            }
            i += len
        }
        return s
    }

    static func flagIndex(_ f: UInt8) -> Int {
        if f & fRST != 0 { return 4 }
        if f & fSYN != 0 { return f & fACK != 0 ? 1 : 0 }
        if f & fFIN != 0 { return 2 }
        if f & fACK != 0 { return 3 }
        return 5
    }

    /// First packet of a TCP connection (`tcp_new`): nil when accepted, else why not.
    mutating func tcpNew(_ slot: Int32, _ p: NFPacket) -> StaticString? {
        let s = segment(p)
        let idx = ConntrackTable.flagIndex(s.flags)
        let new = tcpTransition(0, idx, 0)
        guard new != .invalid else { return "invalid new: the first packet must be a SYN (or an ACK picked up mid-stream)" }
        var t = TCPTrack()
        let end = s.seq &+ s.dataLen &+ (s.flags & fSYN != 0 ? 1 : 0) &+ (s.flags & fFIN != 0 ? 1 : 0)
        if new == .synSent {
            var d = TCPDirState()
            d.end = end; d.maxend = end
            d.maxwin = max(UInt32(s.win), 1)
            if let w = s.wscale { d.scale = w; d.flags |= TCPDirState.windowScale }
            if s.sackPerm { d.flags |= TCPDirState.sackPerm }
            t[0] = d
        } else {
            guard config.tcpLoose else { return "invalid new: not a SYN and nf_conntrack_tcp_loose is 0" }
            var d = TCPDirState()
            d.end = end
            d.maxwin = max(UInt32(s.win), 1)
            d.maxend = end &+ d.maxwin
            d.flags = TCPDirState.beLiberal | TCPDirState.sackPerm
            t[0] = d
            var rcv = TCPDirState()
            rcv.flags = TCPDirState.beLiberal | TCPDirState.sackPerm
            t[1] = rcv
        }
        t.state = .none
        slots[Int(slot)].tcp = t
        return nil
    }

    /// Window check (`tcp_in_window`) on a connection's TCP state, updated in place: 0 accept,
    /// 1 ignore, 2 invalid, with the reason. The direction states are written back whatever
    /// the outcome (the kernel updates them as it goes).
    static func tcpInWindow(_ t: UnsafeMutablePointer<TCPTrack>, dir: Int, _ s: TCPSeg, state: TCPCTState,
                            beLiberal: Bool) -> (Int, StaticString?) {
        // The two direction states as an array of two (a homogeneous tuple is laid out as one).
        // `seen` is the first field (TCPTrack.seenOffset is 0, ConntrackTests checks it): the
        // pointer is the track's own (reading the static offset cost a `swift_once` a packet).
        let seen = UnsafeMutableRawPointer(t).assumingMemoryBound(to: TCPDirState.self)
        var snd = seen[dir], rcv = seen[1 - dir]
        if rcv.flags & TCPDirState.isnUnknown != 0 && s.flags & fACK != 0 && s.flags & fRST == 0 {
            // The host's ISN, learnt from the peer's acknowledgment of it.
            let delta = s.ack &- rcv.end
            rcv.end &+= delta; rcv.maxend &+= delta
            rcv.flags &= ~TCPDirState.isnUnknown
        }
        var seq = s.seq, ack = s.ack
        var sack = s.sackMax.map { after($0, ack) ? $0 : ack } ?? ack
        var end = seq &+ s.dataLen &+ (s.flags & fSYN != 0 ? 1 : 0) &+ (s.flags & fFIN != 0 ? 1 : 0)
        var win = UInt32(s.win)
        if snd.maxwin == 0 {
            if s.flags & fSYN != 0 {
                snd.end = end; snd.maxend = end
                snd.maxwin = max(win, 1)
                if let w = s.wscale { snd.scale = w; snd.flags |= TCPDirState.windowScale } else { snd.scale = 0 }
                if s.sackPerm { snd.flags |= TCPDirState.sackPerm }
                if s.flags & fACK != 0 && !(snd.flags & TCPDirState.windowScale != 0 && rcv.flags & TCPDirState.windowScale != 0) {
                    snd.scale = 0; rcv.scale = 0
                }
                if s.seqUnknown { snd.flags |= TCPDirState.isnUnknown }
            } else {
                snd.end = end
                win <<= UInt32(snd.scale)
                snd.maxwin = max(win, 1)
                snd.maxend = end &+ snd.maxwin
                if rcv.maxwin == 0 { rcv.end = sack; rcv.maxend = sack }
            }
        } else if s.flags & fSYN != 0 && ((state == .synSent && dir == 0) || (state == .synRecv && dir == 1)) && after(end, snd.end) {
            snd.end = end; snd.maxend = end
            snd.maxwin = max(win, 1)
            snd.scale = s.wscale ?? 0
            snd.flags = (s.wscale != nil ? TCPDirState.windowScale : 0) | (s.sackPerm ? TCPDirState.sackPerm : 0)
        }
        if s.flags & fACK == 0 {
            ack = rcv.end; sack = ack
        } else if s.flags & (fACK | fRST) == (fACK | fRST) && ack == 0 {
            ack = rcv.end; sack = ack
        }
        if s.flags & fRST != 0 && seq == 0 && state == .synSent {
            seq = snd.end; end = snd.end
        }
        if s.flags & fSYN == 0 { win = UInt32(s.win) << UInt32(snd.scale) }
        let maxAckWin = max(snd.maxwin, 66000)
        let liberal = beLiberal || snd.flags & TCPDirState.beLiberal != 0
        var outcome = 0
        var why: StaticString? = nil
        if !before(seq, snd.maxend &+ 1) {
            outcome = 2; why = "SEQ is over the upper bound (over the window of the receiver)"
        } else if rcv.maxwin != 0 && !before(sack, rcv.end &+ 1) {
            outcome = 2; why = "ACK is over the upper bound (ACKed data not seen yet)"
        } else if rcv.maxwin != 0 && !after(end, snd.end &- rcv.maxwin &- 1) {
            outcome = 1; why = "SEQ is under the lower bound (already ACKed data retransmitted)"
        } else if rcv.maxwin != 0 && !after(sack, rcv.end &- maxAckWin &- 1) {
            outcome = 1; why = "ignored ACK under the lower bound (possible overly delayed)"
        }
        if outcome != 0 && liberal { outcome = 0; why = nil }
        if outcome == 0 {
            let swin = win &+ (sack &- ack)
            if snd.maxwin < swin { snd.maxwin = swin }
            if after(end, snd.end) { snd.end = end; snd.flags |= TCPDirState.dataUnack }
            if s.flags & fACK != 0 {
                if snd.flags & TCPDirState.maxackSet == 0 { snd.maxack = ack; snd.flags |= TCPDirState.maxackSet }
                else if after(ack, snd.maxack) { snd.maxack = ack }
            }
            if rcv.maxwin != 0 && after(end, snd.maxend) { rcv.maxwin &+= end &- snd.maxend }
            if after(sack &+ win, rcv.maxend &- 1) {
                rcv.maxend = sack &+ win
                if win == 0 { rcv.maxend &+= 1 }
            }
            if ack == rcv.end { rcv.flags &= ~TCPDirState.dataUnack }
            if ConntrackTable.flagIndex(s.flags) == 3 {
                if t.pointee.lastDir == UInt8(dir) && t.pointee.lastSeq == seq && t.pointee.lastAck == ack && t.pointee.lastEnd == end
                    && t.pointee.lastWin == UInt16(truncatingIfNeeded: win) {
                    t.pointee.retrans &+= 1
                } else {
                    t.pointee.lastDir = UInt8(dir); t.pointee.lastSeq = seq; t.pointee.lastAck = ack; t.pointee.lastEnd = end
                    t.pointee.lastWin = UInt16(truncatingIfNeeded: win); t.pointee.retrans = 0
                }
            }
        }
        seen[dir] = snd; seen[1 - dir] = rcv
        return (outcome, why)
    }

    /// The settings the TCP tracker reads, copied out of `config` before the slots are
    /// borrowed (the tracker then runs on the entry in place, with no copy of the 168-byte
    /// entry out and back and one uniqueness check of the slots per packet).
    struct TCPSettings {
        var beLiberal: Bool, ignoreInvalidRST: Bool, maxRetrans: Int
        var tcpMaxRetrans: Int64, tcpUnack: Int64
    }

    /// What `tcpPacket` does after the in-place part: keep, or remove the never-answered
    /// connection a RST closed.
    private enum TCPAfter { case keep, remove }

    /// `nf_conntrack_tcp_packet`: returns (accepted, invalid reason, kill-and-repeat).
    mutating func tcpPacket(_ slot: Int32, dir: Int, _ p: NFPacket, now: Int64) -> (Bool, StaticString?, Bool) {
        let s = segment(p)
        let set = TCPSettings(beLiberal: config.beLiberal, ignoreInvalidRST: config.ignoreInvalidRST, maxRetrans: config.maxRetrans,
                              tcpMaxRetrans: config.tcpMaxRetrans, tcpUnack: config.tcpUnack)
        let timeouts = config.tcpTimeouts
        var after = TCPAfter.keep
        let result: (Bool, StaticString?, Bool) = timeouts.withUnsafeBufferPointer { tmo in
            slots.withUnsafeMutableBufferPointer { b in
                precondition(slot >= 0 && Int(slot) < b.count, "conntrack slot out of range")
                return Self.tcpPacket(b.baseAddress! + Int(slot), dir: dir, s, now: now, set, tmo, &after)
            }
        }
        if after == .remove { remove(slot) }
        return result
    }

    /// The body of `tcpPacket` on the entry `e` in place.
    private static func tcpPacket(_ e: UnsafeMutablePointer<CTEntry>, dir: Int, _ s: TCPSeg, now: Int64, _ set: TCPSettings,
                                  _ timeouts: UnsafeBufferPointer<Int64>, _ after: inout TCPAfter) -> (Bool, StaticString?, Bool) {
        let idx = ConntrackTable.flagIndex(s.flags)
        let old = e.pointee.tcp.state
        var new = tcpTransition(dir, idx, Int(old.rawValue))
        if old == .none {
            // The packet that created the ct: the table's NONE column gave SYN_SENT or ESTABLISHED.
            new = tcpTransition(0, idx, 0)
        }
        switch new {
        case .synSent:
            if old.rawValue >= TCPCTState.timeWait.rawValue && old != .none && old != .synSent2 {
                let closeInit = e.pointee.tcp[0].flags & TCPDirState.closeInit != 0 || e.pointee.tcp[1].flags & TCPDirState.closeInit != 0
                let lastRST = dir == 0 ? e.pointee.tcp.lastRST.0 : e.pointee.tcp.lastRST.1
                if closeInit || lastRST { return (true, nil, true) }
                return (true, nil, false)  // ignored
            }
        case .ignore:
            // Remember the packet; accept it without changing state.
            e.pointee.tcp.lastDir = UInt8(dir); e.pointee.tcp.lastIndex = UInt8(idx)
            e.pointee.tcp.lastSeq = s.seq; e.pointee.tcp.lastAck = s.ack
            e.pointee.tcp.lastEnd = s.seq &+ s.dataLen &+ (s.flags & fSYN != 0 ? 1 : 0)
            e.pointee.tcp.lastWin = s.win
            return (true, nil, false)
        case .invalid:
            return (false, invalidStateReason(old), false)
        case .close:
            let rcv = e.pointee.tcp[1 - dir]
            if rcv.flags & TCPDirState.maxackSet != 0 && e.pointee.tcp.lastIndex != 0 && s.flags & fRST != 0 {
                if before(s.seq, rcv.maxack) && !(s.seq == 0 && old != .established) && !set.ignoreInvalidRST {
                    return (false, "invalid RST (sequence before the peer's last ACK)", false)
                }
            }
        default:
            break
        }
        if old != .none || new != .none {
            let (w, why) = withUnsafeMutablePointer(to: &e.pointee.tcp) {
                tcpInWindow($0, dir: dir, s, state: old, beLiberal: set.beLiberal)
            }
            if w == 2 { return (false, why, false) }
            if w == 1 { return (true, nil, false) }
        }
        e.pointee.tcp.lastIndex = UInt8(idx)
        e.pointee.tcp.lastDir = UInt8(dir)
        if dir == 0 { e.pointee.tcp.lastRST.0 = s.flags & fRST != 0 } else { e.pointee.tcp.lastRST.1 = s.flags & fRST != 0 }
        if idx == 2 { e.pointee.tcp[dir].flags |= TCPDirState.closeInit }
        if new == .synSent2 { e.pointee.status |= 1 << 14 }
        e.pointee.tcp.state = new
        if new == .close && e.pointee.status & CTStatus.seenReply == 0 {
            // A RST on a never-answered connection: it goes away at once.
            after = .remove
            return (true, nil, false)
        }
        // Timeout selection.
        var timeout = timeouts[Int(new.rawValue)]
        if Int(e.pointee.tcp.retrans) >= set.maxRetrans && timeout > set.tcpMaxRetrans { timeout = set.tcpMaxRetrans }
        else if s.flags & fRST != 0 { timeout = timeouts[Int(TCPCTState.close.rawValue)] }
        else if (e.pointee.tcp[0].flags | e.pointee.tcp[1].flags) & TCPDirState.dataUnack != 0 && timeout > set.tcpUnack { timeout = set.tcpUnack }
        else if s.win == 0 && s.flags & fSYN == 0 && timeout > set.tcpUnack { timeout = set.tcpUnack }
        if e.pointee.status & CTStatus.seenReply == 0 && new == .established && timeout > set.tcpUnack { timeout = set.tcpUnack }
        // A SYN retransmitted in SYN_SENT does not refresh the timeout.
        if !(old == .synSent && new == .synSent && e.pointee.timeoutAt != 0) { e.pointee.timeoutAt = now + timeout }
        if (old == .synRecv || old == .established) && new == .established && e.pointee.status & CTStatus.seenReply != 0 {
            e.pointee.status |= CTStatus.assured
        }
        return (true, nil, false)
    }

    static func invalidStateReason(_ old: TCPCTState) -> StaticString {
        switch old {
        case .none: return "invalid state NONE"
        case .synSent: return "invalid state SYN_SENT"
        case .synRecv: return "invalid state SYN_RECV"
        case .established: return "invalid state ESTABLISHED"
        case .finWait: return "invalid state FIN_WAIT"
        case .closeWait: return "invalid state CLOSE_WAIT"
        case .lastAck: return "invalid state LAST_ACK"
        case .timeWait: return "invalid state TIME_WAIT"
        case .close: return "invalid state CLOSE"
        case .synSent2: return "invalid state SYN_SENT2"
        default: return "invalid state"
        }
    }

    // MARK: Starting table

    /// Loads `conntrack -L` entries as confirmed connections whose timeouts run from `start`.
    mutating func load(_ entries: [ConntrackEntry], start: Int64) {
        for ce in entries {
            let v6 = !ce.original.src.isV4
            func tup(_ x: ConntrackTuple) -> CTTuple {
                var t = CTTuple(src: NFValue(x.src), dst: NFValue(x.dst), sport: x.sport ?? 0, dport: x.dport ?? 0, proto: ce.protoNumber, v6: v6)
                if let ty = x.icmpType { t.dport = UInt16(ty) << 8 | UInt16(x.icmpCode ?? 0); t.sport = x.icmpID ?? 0 }
                return t
            }
            var e = CTEntry(original: tup(ce.original), reply: tup(ce.reply))
            e.mark = ce.mark
            e.timeoutAt = start + Int64(ce.timeout) * 1_000_000_000
            e.createdNs = start
            e.refreshedNs = start
            if !ce.status.contains("UNREPLIED") { e.status |= CTStatus.seenReply }
            if ce.status.contains("ASSURED") { e.status |= CTStatus.assured }
            if e.original.dst != e.reply.src || e.original.dport != e.reply.sport { e.status |= CTStatus.dstNAT | CTStatus.dstNATDone }
            if e.original.src != e.reply.dst || e.original.sport != e.reply.dport { e.status |= CTStatus.srcNAT | CTStatus.srcNATDone }
            e.status |= CTStatus.srcNATDone | CTStatus.dstNATDone
            if ce.protoNumber == 6 {
                e.tcp.state = TCPCTState(name: ce.tcpState ?? "ESTABLISHED") ?? .established
                var d = TCPDirState(); d.flags = TCPDirState.beLiberal | TCPDirState.sackPerm
                e.tcp[0] = d; e.tcp[1] = d
            }
            e.bits |= CTEntry.loadedBit
            let s = allocate(e)
            confirm(s)
        }
    }
}

// MARK: - The end-of-run listing

extension ConntrackTable {
    /// The entry in `slot` as the summary lists it (`conntrack -L`): protocol name padded to
    /// 9 columns and number, seconds left counted from `now`, TCP state, original tuple,
    /// `[UNREPLIED]`, reply tuple, `[ASSURED]`, mark, use.
    public func listingRow(_ slot: Int32, now: Int64) -> String {
        ByteWriter.string(capacity: 256) { writeListingRow(slot, now: now, to: &$0) }
    }

    /// Appends `listingRow(slot, now:)`'s text (no String is made).
    public func writeListingRow(_ slot: Int32, now: Int64, to w: inout ByteWriter) {
        let e = slots[Int(slot)]
        let proto = e.original.proto
        let name: StaticString
        switch proto {
        case 6: name = "tcp"
        case 17: name = "udp"
        case 1: name = "icmp"
        case 58: name = "icmpv6"
        case 132: name = "sctp"
        case 136: name = "udplite"
        case 33: name = "dccp"
        default: name = "unknown"
        }
        w.ascii(name)
        w.spaces(max(1, 9 - name.utf8CodeUnitCount))
        w.decimal(Int(proto))
        w.byte(32)
        w.decimal(Int(max(0, (e.timeoutAt - now) / 1_000_000_000)))
        w.byte(32)
        if proto == 6 { w.ascii(e.tcpState.staticName); w.byte(32) }
        e.original.write(to: &w)
        w.byte(32)
        if e.status & CTStatus.seenReply == 0 { w.ascii("[UNREPLIED] ") }
        e.reply.write(to: &w)
        w.byte(32)
        if e.status & CTStatus.assured != 0 { w.ascii("[ASSURED] ") }
        w.ascii("mark=")
        w.decimal(UInt64(e.mark))
        w.ascii(" use=1")
    }

    /// The slots in use in the listing's order: by creation time, and entries created at the
    /// same nanosecond by their rows' text (so the order does not depend on slots or hashing).
    /// Rows are made only for such ties, and only to order them: the caller makes each row
    /// again as it writes it (`listingRow`), so the listing is never in memory as text.
    public func listingOrder(now: Int64) -> [Int32] {
        var keyed: [(created: Int64, slot: Int32)] = []
        for s in slots.indices where slots[s].inUse { keyed.append((slots[s].createdNs, Int32(s))) }
        keyed.sort { $0.created != $1.created ? $0.created < $1.created : $0.slot < $1.slot }
        var order: [Int32] = []
        order.reserveCapacity(keyed.count)
        var i = 0
        while i < keyed.count {
            var j = i + 1
            while j < keyed.count && keyed[j].created == keyed[i].created { j += 1 }
            if j - i == 1 {
                order.append(keyed[i].slot)
            } else {
                let tied = keyed[i..<j].map { (text: listingRow($0.slot, now: now), slot: $0.slot) }
                order.append(contentsOf: tied.sorted { $0.text < $1.text }.map(\.slot))
            }
            i = j
        }
        return order
    }
}
