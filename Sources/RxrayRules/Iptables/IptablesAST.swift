import RxrayDecode

// The syntax tree of an iptables-save / ip6tables-save file (also iptables-restore input).
//
// Every rule keeps its file, line and exact text so a trace can quote it. Matches and the
// target are typed: the netfilter stage compiles them into flat programs. Options rxray
// does not model do not fail the parse; they are listed in `IptablesRuleset.unsupported`
// and the rule carries `isUnsupported`, so the host can refuse to load (default) or
// evaluate the rule as never matching (`--lenient`).

/// A whole iptables-save (or ip6tables-save) file.
public struct IptablesRuleset: Sendable {
    public var file: String
    public var family: RuleFamily
    /// Tables in file order. A table appearing twice (legal in restore input) is merged.
    public var tables: [IptablesTable]
    /// Every construct rxray does not model, in file order.
    public var unsupported: [UnsupportedConstruct]
    /// Chains jumped to (`-j`/`-g`) but not declared in this file, in first-use order. Legal for
    /// files loaded with `iptables-restore --noflush` next to others (ufw's before/user/after
    /// rules); the host merges sources and must find each of these.
    public var undeclaredChains: [String] = []

    public init(file: String, family: RuleFamily, tables: [IptablesTable] = [], unsupported: [UnsupportedConstruct] = []) {
        self.file = file; self.family = family; self.tables = tables; self.unsupported = unsupported
    }

    /// The table named `name` (`filter`, `nat`, `mangle`, `raw`, `security`).
    /// - Complexity: O(tables), at most five.
    public func table(_ name: String) -> IptablesTable? { tables.first { $0.name == name } }

    public var summary: RulesetSummary {
        RulesetSummary(tables: tables.count, chains: tables.reduce(0) { $0 + $1.chains.count },
                       rules: tables.reduce(0) { $0 + $1.chains.reduce(0) { $0 + $1.rules.count } },
                       sets: 0, elements: 0, unsupported: unsupported.count)
    }
}

/// One `*table ... COMMIT` block.
public struct IptablesTable: Sendable {
    public var name: String
    /// Line of the `*name` header.
    public var line: Int
    /// Chains in declaration order (builtin chains first as iptables-save prints them).
    public var chains: [IptablesChain]

    public init(name: String, line: Int, chains: [IptablesChain] = []) { self.name = name; self.line = line; self.chains = chains }

    /// - Complexity: O(chains).
    public func chain(_ name: String) -> IptablesChain? { chains.first { $0.name == name } }
}

/// A chain: builtin with a policy, or user-defined (`-`).
public struct IptablesChain: Sendable {
    public var name: String
    /// `ACCEPT` or `DROP` for builtin chains; nil for user-defined chains.
    public var policy: IptablesPolicy?
    /// The counters printed on the `:CHAIN POLICY [p:b]` line.
    public var counters: Counters?
    /// Line of the `:CHAIN` declaration (or of `-N`).
    public var line: Int
    /// Rules in evaluation order; `rules[i].position == i + 1`.
    public var rules: [IptablesRule]

    public init(name: String, policy: IptablesPolicy?, counters: Counters?, line: Int, rules: [IptablesRule] = []) {
        self.name = name; self.policy = policy; self.counters = counters; self.line = line; self.rules = rules
    }
    public var isBuiltin: Bool { policy != nil }
}

public enum IptablesPolicy: String, Sendable, Hashable {
    case accept = "ACCEPT"
    case drop = "DROP"
}

/// One rule (`-A CHAIN ...`), in the order the kernel evaluates it.
public struct IptablesRule: Sendable {
    public var table: String
    public var chain: String
    /// 1-based position within its chain (what `iptables -L --line-numbers` shows).
    public var position: Int
    public var file: String
    public var line: Int
    /// The rule exactly as written on its line (without a leading `[p:b]` counter prefix).
    public var text: String
    /// `[p:b]` prefix (`iptables-save -c`) or `-c p b`.
    public var counters: Counters?
    /// Matches in the order written; all must match (a logical AND).
    public var matches: [IptablesMatch]
    /// Nil when the rule has no `-j`/`-g` (it only counts).
    public var target: IptablesTarget?
    /// True if any part of this rule is an `UnsupportedConstruct`.
    public var isUnsupported: Bool

    public init(table: String, chain: String, position: Int, file: String, line: Int, text: String,
                counters: Counters? = nil, matches: [IptablesMatch] = [], target: IptablesTarget? = nil,
                isUnsupported: Bool = false) {
        self.table = table; self.chain = chain; self.position = position; self.file = file; self.line = line
        self.text = text; self.counters = counters; self.matches = matches; self.target = target
        self.isUnsupported = isUnsupported
    }
}

/// A match: one of the builtin ip(6)tables fields, or an `-m` extension.
public enum IptablesMatch: Hashable, Sendable {
    /// `-s` (addresses are masked; several comma-separated addresses expand into several rules, as iptables does).
    case source(Negatable<MaskedAddress>)
    /// `-d`.
    case destination(Negatable<MaskedAddress>)
    /// `-i`; a trailing `+` is a prefix match.
    case inInterface(Negatable<InterfaceName>)
    /// `-o`.
    case outInterface(Negatable<InterfaceName>)
    /// `-p` protocol number (`all` is 0 and is not emitted as a match).
    case `protocol`(Negatable<UInt8>)
    /// `-f`: the packet is a second or later fragment (`! -f`: first fragment or unfragmented).
    case fragment(negated: Bool)
    /// An `-m NAME` extension (also the implicit protocol match `-p tcp --dport 22`).
    case module(IptablesModule)
    /// An `-m NAME` rxray does not model, with its options as written.
    case unsupported(name: String, text: String)
}

/// Typed `-m` extensions.
public enum IptablesModule: Hashable, Sendable {
    case tcp(TCPMatch)
    case udp(UDPMatch)
    case udplite(UDPMatch)
    case sctp(UDPMatch)
    case dccp(UDPMatch)
    case icmp(ICMPMatch)
    case icmp6(ICMPMatch)
    case multiport(MultiportMatch)
    case conntrack(ConntrackMatch)
    case state(Negatable<UInt32>)
    case mark(Negatable<ValueMask>)
    case connmark(Negatable<ValueMask>)
    case comment(String)
    case addrtype(AddrtypeMatch)
    case iprange(IPRangeMatch)
    case limit(LimitMatch)
    case hashlimit(HashlimitMatch)
    case recent(RecentMatch)
    case set(SetMatch)
    case length(Negatable<UInt16Range>)
    case mac(Negatable<MACAddress>)
    case physdev(PhysdevMatch)
    case pkttype(Negatable<UInt8>)
    case statistic(StatisticMatch)
    case owner(OwnerMatch)
    case u32(U32Match)
    case tcpmss(Negatable<UInt16Range>)
    /// `-m ttl` (IPv4) and `-m hl` (IPv6): compare the TTL / hop limit.
    case ttl(TTLMatch)
    case dscp(Negatable<UInt8>)
    case tos(Negatable<ValueMask>)
    case ipv6header(IPv6HeaderMatch)
    case frag(FragMatch)
    case rt(RTMatch)
    case socket(SocketMatch)
    case policy(PolicyMatch)
    case nfacct(name: String)
    case helper(Negatable<String>)
    case devgroup(DevgroupMatch)
    case realm(Negatable<ValueMask>)
    case rpfilter(RPFilterMatch)
    case connlimit(ConnlimitMatch)
    case cpu(Negatable<UInt32>)
    case quota(UInt64)
    case ecn(ECNMatch)
    case ah(Negatable<ClosedRange<UInt32>>)
    case esp(Negatable<ClosedRange<UInt32>>)
    case connbytes(ConnbytesMatch)
    case time(TimeMatch)
}

/// `value/mask` as mark, connmark, tos and realm use it (`mask` all ones when not given).
public struct ValueMask: Hashable, Sendable {
    public var value: UInt32
    public var mask: UInt32
    public init(value: UInt32, mask: UInt32 = .max) { self.value = value; self.mask = mask }
}

public struct TCPMatch: Hashable, Sendable {
    public var sourcePorts: Negatable<UInt16Range>?
    public var destinationPorts: Negatable<UInt16Range>?
    /// `--tcp-flags MASK COMP` (`--syn` is `SYN,RST,ACK,FIN SYN`). Bits: FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128.
    public var flags: Negatable<TCPFlagsTest>?
    public var option: Negatable<UInt8>?
    public init() {}
}

public struct TCPFlagsTest: Hashable, Sendable {
    public var mask: UInt8
    public var comparison: UInt8
    public init(mask: UInt8, comparison: UInt8) { self.mask = mask; self.comparison = comparison }
    public static let syn = TCPFlagsTest(mask: 0x17, comparison: 0x02)
}

/// `-m udp` (and udplite, sctp, dccp port matches).
public struct UDPMatch: Hashable, Sendable {
    public var sourcePorts: Negatable<UInt16Range>?
    public var destinationPorts: Negatable<UInt16Range>?
    public init() {}
}

/// `--icmp-type` / `--icmpv6-type`: a type and optionally a code; type 255 with no code is `any`.
public struct ICMPMatch: Hashable, Sendable {
    public var type: UInt8
    /// Nil matches every code.
    public var code: UInt8?
    public var negated: Bool
    public init(type: UInt8, code: UInt8?, negated: Bool) { self.type = type; self.code = code; self.negated = negated }
}

public struct MultiportMatch: Hashable, Sendable {
    public enum Direction: Hashable, Sendable { case source, destination, either }
    public var direction: Direction
    public var ports: [UInt16Range]
    public var negated: Bool
    public init(direction: Direction, ports: [UInt16Range], negated: Bool) { self.direction = direction; self.ports = ports; self.negated = negated }
}

public struct ConntrackMatch: Hashable, Sendable {
    /// Bit set of `Names.ctStates`.
    public var state: Negatable<UInt32>?
    public var status: Negatable<UInt32>?
    public var protocolNumber: Negatable<UInt8>?
    public var origSource: Negatable<MaskedAddress>?
    public var origDestination: Negatable<MaskedAddress>?
    public var replySource: Negatable<MaskedAddress>?
    public var replyDestination: Negatable<MaskedAddress>?
    public var origSourcePort: Negatable<UInt16Range>?
    public var origDestinationPort: Negatable<UInt16Range>?
    public var replySourcePort: Negatable<UInt16Range>?
    public var replyDestinationPort: Negatable<UInt16Range>?
    /// `--ctdir ORIGINAL|REPLY`: true for ORIGINAL.
    public var directionOriginal: Bool?
    /// `--ctexpire` remaining lifetime in seconds.
    public var expire: Negatable<ClosedRange<UInt32>>?
    public init() {}
}

public struct AddrtypeMatch: Hashable, Sendable {
    /// Bit set over RTN_* numbers (`1 << Names.addrTypes[...]`).
    public var sourceTypes: Negatable<UInt16>?
    public var destinationTypes: Negatable<UInt16>?
    public var limitIfaceIn: Bool
    public var limitIfaceOut: Bool
    public init() { limitIfaceIn = false; limitIfaceOut = false }
}

public struct IPRangeMatch: Hashable, Sendable {
    public var source: Negatable<ClosedRange<IPAddressOrder>>?
    public var destination: Negatable<ClosedRange<IPAddressOrder>>?
    public init() {}
}

/// An address with the total order iprange uses (v4 before v6; numeric within a family).
public struct IPAddressOrder: Hashable, Sendable, Comparable {
    public var address: IPAddress
    public init(_ a: IPAddress) { address = a }
    public static func < (l: Self, r: Self) -> Bool {
        switch (l.address, r.address) {
        case let (.v4(a), .v4(b)): return a < b
        case let (.v6(a), .v6(b)): return a < b
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        }
    }
}

/// A token-bucket rate: `count` events per `per` seconds.
public struct Rate: Hashable, Sendable, CustomStringConvertible {
    public var count: UInt64
    /// Seconds in the unit: 1, 60, 3600, 86400 (a week is 604800 in nft).
    public var per: UInt64
    public init(count: UInt64, per: UInt64) { self.count = count; self.per = per }
    public var description: String { "\(count)/\(per)s" }
}

public struct LimitMatch: Hashable, Sendable {
    /// Default `3/hour` as iptables.
    public var rate: Rate
    /// Default 5.
    public var burst: UInt32
    public init(rate: Rate = Rate(count: 3, per: 3600), burst: UInt32 = 5) { self.rate = rate; self.burst = burst }
}

public struct HashlimitMatch: Hashable, Sendable {
    public var name: String
    /// `--hashlimit-upto` (match below the rate) or `--hashlimit-above` (match above).
    public var rate: Rate?
    /// Bytes rates (`--hashlimit-upto 1kb/s`) keep the byte count in `rate.count` and set this.
    public var rateInBytes: Bool
    public var above: Bool
    public var burst: UInt32?
    /// `srcip,dstip,srcport,dstport` subset.
    public var mode: [String]
    public var sourceMask: Int?
    public var destinationMask: Int?
    public var htableSize: UInt32?
    public var htableMax: UInt32?
    public var htableExpireMs: UInt32?
    public var htableGCIntervalMs: UInt32?
    public var rateInterval: UInt32?
    public init(name: String) { self.name = name; rateInBytes = false; above = false; mode = [] }
}

public struct RecentMatch: Hashable, Sendable {
    public enum Command: String, Hashable, Sendable { case set, rcheck, update, remove }
    public var command: Command
    public var negated: Bool
    /// Default `DEFAULT`.
    public var name: String
    public var seconds: UInt32?
    public var reap: Bool
    public var hitcount: UInt32?
    public var rttl: Bool
    /// `--rdest` uses the destination address; default (`--rsource`) the source.
    public var useDestination: Bool
    public var mask: IPAddress?
    public init(command: Command) { self.command = command; negated = false; name = "DEFAULT"; reap = false; rttl = false; useDestination = false }
}

public struct SetMatch: Hashable, Sendable {
    public var name: String
    /// `src`/`dst` per dimension of the set.
    public var flags: [SetDirection]
    public var negated: Bool
    public var returnNoMatch: Bool
    public var updateCounters: Bool
    public var packetsTest: String?
    public init(name: String, flags: [SetDirection], negated: Bool) { self.name = name; self.flags = flags; self.negated = negated; returnNoMatch = false; updateCounters = true }
}

public enum SetDirection: String, Hashable, Sendable { case src, dst }

public struct PhysdevMatch: Hashable, Sendable {
    public var physdevIn: Negatable<InterfaceName>?
    public var physdevOut: Negatable<InterfaceName>?
    public var isIn: Negatable<Bool>?
    public var isOut: Negatable<Bool>?
    public var isBridged: Negatable<Bool>?
    public init() {}
}

public enum StatisticMatch: Hashable, Sendable {
    /// Every `every`-th packet, starting at counter `packet`.
    case nth(every: UInt32, packet: UInt32, negated: Bool)
    /// Matches with this probability (0...1), `--probability`.
    case random(probability: Double, negated: Bool)
}

public struct OwnerMatch: Hashable, Sendable {
    public var uid: Negatable<ClosedRange<UInt32>>?
    public var gid: Negatable<ClosedRange<UInt32>>?
    public var socketExists: Negatable<Bool>?
    public var suppGroups: Bool
    public init() { suppGroups = false }
}

/// `-m u32 --u32 EXPR`: tests are ORed (`||`), each a sequence of location ops and ranges.
public struct U32Match: Hashable, Sendable {
    public var text: String
    public var tests: [U32Test]
    public var negated: Bool
    public init(text: String, tests: [U32Test], negated: Bool) { self.text = text; self.tests = tests; self.negated = negated }
}

public struct U32Test: Hashable, Sendable {
    public enum LocationOp: Hashable, Sendable {
        /// Read 4 bytes at `value` (the first term).
        case start(UInt32)
        case and(UInt32)
        case shiftLeft(UInt32)
        case shiftRight(UInt32)
        /// `@`: move the base to the current value, then read at the offset.
        case at(UInt32)
    }
    public var location: [LocationOp]
    public var ranges: [ClosedRange<UInt32>]
    public init(location: [LocationOp], ranges: [ClosedRange<UInt32>]) { self.location = location; self.ranges = ranges }
}

public struct TTLMatch: Hashable, Sendable {
    public enum Op: String, Hashable, Sendable { case eq, lt, gt }
    public var op: Op
    public var value: UInt8
    public var negated: Bool
    public init(op: Op, value: UInt8, negated: Bool) { self.op = op; self.value = value; self.negated = negated }
}

public struct IPv6HeaderMatch: Hashable, Sendable {
    /// Next-header numbers named (`hop`, `dst`, `route`, `frag`, `auth`, `esp`, `none`, `prot`).
    public var headers: [UInt8]
    public var soft: Bool
    public var negated: Bool
    public init(headers: [UInt8], soft: Bool, negated: Bool) { self.headers = headers; self.soft = soft; self.negated = negated }
}

public struct FragMatch: Hashable, Sendable {
    public var id: Negatable<ClosedRange<UInt32>>?
    public var length: UInt32?
    public var reserved: Bool
    public var first: Bool
    public var more: Bool
    public var last: Bool
    public init() { reserved = false; first = false; more = false; last = false }
}

public struct RTMatch: Hashable, Sendable {
    public var type: Negatable<UInt8>?
    public var segsLeft: Negatable<ClosedRange<UInt32>>?
    public var length: Negatable<UInt32>?
    public var reserved: Bool
    public var addresses: [IPv6Address]
    public var notStrict: Bool
    public init() { reserved = false; addresses = []; notStrict = false }
}

public struct SocketMatch: Hashable, Sendable {
    public var transparent: Bool
    public var noWildcard: Bool
    public var restoreSkmark: Bool
    public init() { transparent = false; noWildcard = false; restoreSkmark = false }
}

public struct PolicyMatch: Hashable, Sendable {
    public enum Direction: String, Hashable, Sendable { case `in`, out }
    public var direction: Direction
    /// `ipsec` or `none`.
    public var policy: String
    public var strict: Bool
    /// Per-element options in order (`--reqid`, `--spi`, `--proto`, `--mode`, `--tunnel-src/dst`, `--next`).
    public var elements: [[String: String]]
    public init(direction: Direction, policy: String) { self.direction = direction; self.policy = policy; strict = false; elements = [] }
}

public struct DevgroupMatch: Hashable, Sendable {
    public var sourceGroup: Negatable<ValueMask>?
    public var destinationGroup: Negatable<ValueMask>?
    public init() {}
}

public struct RPFilterMatch: Hashable, Sendable {
    public var loose: Bool
    public var validMark: Bool
    public var acceptLocal: Bool
    public var invert: Bool
    public init() { loose = false; validMark = false; acceptLocal = false; invert = false }
}

public struct ConnlimitMatch: Hashable, Sendable {
    public var upto: UInt32?
    public var above: UInt32?
    public var mask: Int?
    public var useDestination: Bool
    public init() { useDestination = false }
}

public struct ECNMatch: Hashable, Sendable {
    public var tcpCWR: Negatable<Bool>?
    public var tcpECE: Negatable<Bool>?
    public var ipECT: Negatable<UInt8>?
    public init() {}
}

public struct ConnbytesMatch: Hashable, Sendable {
    public var range: ClosedRange<UInt64>
    public var negated: Bool
    /// `original`, `reply`, `both`.
    public var direction: String
    /// `packets`, `bytes`, `avgpkt`.
    public var mode: String
    public init(range: ClosedRange<UInt64>, negated: Bool, direction: String, mode: String) {
        self.range = range; self.negated = negated; self.direction = direction; self.mode = mode
    }
}

/// `-m time`: kept as the option strings; evaluated against capture timestamps.
public struct TimeMatch: Hashable, Sendable {
    public var options: [String: String]
    public init(options: [String: String]) { self.options = options }
}

// MARK: Targets

public enum IptablesTarget: Hashable, Sendable {
    case accept
    case drop
    /// `-j RETURN`.
    case `return`
    case queue
    /// `-j CHAIN` (user-defined chain; returns here).
    case jump(String)
    /// `-g CHAIN` (does not return here; a RETURN there returns to our caller).
    case goto(String)
    case reject(RejectKind)
    case log(LogTarget)
    case nflog(NFLogTarget)
    case mark(MarkTarget)
    case connmark(ConnmarkTarget)
    case ct(CTTarget)
    case notrack
    case dnat(NATTarget)
    case snat(NATTarget)
    case masquerade(NATTarget)
    case redirect(NATTarget)
    case netmap(MaskedAddress)
    case trace
    case tcpmss(TCPMSSTarget)
    case dscp(UInt8)
    case tos(ValueMask)
    case checksumFill
    case nfqueue(NFQueueTarget)
    case set(SetTarget)
    case classify(UInt32)
    case ttl(op: String, value: UInt8)
    case audit(String)
    /// A `-j NAME` rxray does not model (neither a known target nor a chain of the table).
    case unsupported(name: String, text: String)
}

/// `--reject-with`: what the kernel sends back. Short aliases resolve to these.
public enum RejectKind: String, Hashable, Sendable, CaseIterable {
    case icmpNetUnreachable = "icmp-net-unreachable"
    case icmpHostUnreachable = "icmp-host-unreachable"
    case icmpPortUnreachable = "icmp-port-unreachable"
    case icmpProtoUnreachable = "icmp-proto-unreachable"
    case icmpNetProhibited = "icmp-net-prohibited"
    case icmpHostProhibited = "icmp-host-prohibited"
    case icmpAdminProhibited = "icmp-admin-prohibited"
    case tcpReset = "tcp-reset"
    case icmp6NoRoute = "icmp6-no-route"
    case icmp6AdmProhibited = "icmp6-adm-prohibited"
    case icmp6AddrUnreachable = "icmp6-addr-unreachable"
    case icmp6PortUnreachable = "icmp6-port-unreachable"
    case icmp6PolicyFail = "icmp6-policy-fail"
    case icmp6RejectRoute = "icmp6-reject-route"

    /// Parses the option value for `family` (iptables and ip6tables accept different sets and aliases).
    public init?(option: Substring, family: RuleFamily) {
        let s = String(option)
        if family == .ipv4 {
            switch s {
            case "icmp-net-unreachable", "net-unreach": self = .icmpNetUnreachable
            case "icmp-host-unreachable", "host-unreach": self = .icmpHostUnreachable
            case "icmp-port-unreachable", "port-unreach": self = .icmpPortUnreachable
            case "icmp-proto-unreachable", "proto-unreach": self = .icmpProtoUnreachable
            case "icmp-net-prohibited", "net-prohib": self = .icmpNetProhibited
            case "icmp-host-prohibited", "host-prohib": self = .icmpHostProhibited
            case "icmp-admin-prohibited", "admin-prohib": self = .icmpAdminProhibited
            case "tcp-reset", "tcp-rst": self = .tcpReset
            default: return nil
            }
        } else {
            switch s {
            case "icmp6-no-route", "no-route": self = .icmp6NoRoute
            case "icmp6-adm-prohibited", "adm-prohibited": self = .icmp6AdmProhibited
            case "icmp6-addr-unreachable", "addr-unreach": self = .icmp6AddrUnreachable
            case "icmp6-port-unreachable", "port-unreach": self = .icmp6PortUnreachable
            case "icmp6-policy-fail", "policy-fail": self = .icmp6PolicyFail
            case "icmp6-reject-route", "reject-route": self = .icmp6RejectRoute
            case "tcp-reset", "tcp-rst": self = .tcpReset
            default: return nil
            }
        }
    }

    /// The ICMP (v4) or ICMPv6 type and code sent; nil for a TCP reset.
    public var icmp: (type: UInt8, code: UInt8)? {
        switch self {
        case .icmpNetUnreachable: return (3, 0)
        case .icmpHostUnreachable: return (3, 1)
        case .icmpProtoUnreachable: return (3, 2)
        case .icmpPortUnreachable: return (3, 3)
        case .icmpNetProhibited: return (3, 9)
        case .icmpHostProhibited: return (3, 10)
        case .icmpAdminProhibited: return (3, 13)
        case .tcpReset: return nil
        case .icmp6NoRoute: return (1, 0)
        case .icmp6AdmProhibited: return (1, 1)
        case .icmp6AddrUnreachable: return (1, 3)
        case .icmp6PortUnreachable: return (1, 4)
        case .icmp6PolicyFail: return (1, 5)
        case .icmp6RejectRoute: return (1, 6)
        }
    }
}

public struct LogTarget: Hashable, Sendable {
    /// syslog level 0...7; default 4 (warning).
    public var level: UInt8
    public var prefix: String
    public var tcpSequence: Bool
    public var tcpOptions: Bool
    public var ipOptions: Bool
    public var uid: Bool
    public var macDecode: Bool
    public init() { level = 4; prefix = ""; tcpSequence = false; tcpOptions = false; ipOptions = false; uid = false; macDecode = false }
}

public struct NFLogTarget: Hashable, Sendable {
    public var group: UInt16
    public var prefix: String
    public var range: UInt32?
    public var size: UInt32?
    public var threshold: UInt16?
    public init() { group = 0; prefix = "" }
}

/// MARK: `mark = (mark & ~mask) ^ value` covers every form (xt_MARK's xset).
public struct MarkTarget: Hashable, Sendable {
    public var value: UInt32
    public var mask: UInt32
    public init(value: UInt32, mask: UInt32) { self.value = value; self.mask = mask }
    /// `--set-xmark v/m`.
    public static func xset(_ v: UInt32, _ m: UInt32) -> MarkTarget { MarkTarget(value: v, mask: m) }
    /// `--set-mark v/m` is `--set-xmark v/(m|v)`.
    public static func set(_ v: UInt32, _ m: UInt32) -> MarkTarget { MarkTarget(value: v, mask: m | v) }
    public static func and(_ v: UInt32) -> MarkTarget { MarkTarget(value: 0, mask: ~v) }
    public static func or(_ v: UInt32) -> MarkTarget { MarkTarget(value: v, mask: v) }
    public static func xor(_ v: UInt32) -> MarkTarget { MarkTarget(value: v, mask: 0) }
    public func apply(_ mark: UInt32) -> UInt32 { (mark & ~mask) ^ value }
}

public enum ConnmarkTarget: Hashable, Sendable {
    /// ctmark = (ctmark & ~mask) ^ value.
    case set(MarkTarget)
    /// ctmark = (ctmark & ~ctMask) ^ (nfmark & nfMask) (`--save-mark`).
    case save(nfMask: UInt32, ctMask: UInt32)
    /// nfmark = (nfmark & ~nfMask) ^ (ctmark & ctMask) (`--restore-mark`).
    case restore(nfMask: UInt32, ctMask: UInt32)
}

public struct CTTarget: Hashable, Sendable {
    public var notrack: Bool
    public var zone: UInt16?
    public var zoneDirection: String?
    public var helper: String?
    public var timeout: String?
    public var ctevents: [String]
    public var expevents: [String]
    public init() { notrack = false; ctevents = []; expevents = [] }
}

/// The address/port range of a NAT target (`--to-destination 10.0.0.1-10.0.0.9:80-90`).
public struct NATTarget: Hashable, Sendable {
    public var addressLow: IPAddress?
    public var addressHigh: IPAddress?
    public var portLow: UInt16?
    public var portHigh: UInt16?
    public var random: Bool
    public var randomFully: Bool
    public var persistent: Bool
    public init() { random = false; randomFully = false; persistent = false }
}

public struct TCPMSSTarget: Hashable, Sendable {
    /// `--set-mss N`, or nil for `--clamp-mss-to-pmtu`.
    public var mss: UInt16?
    public init(mss: UInt16?) { self.mss = mss }
}

public struct NFQueueTarget: Hashable, Sendable {
    public var queue: UInt16
    public var queueCount: UInt16
    public var bypass: Bool
    public var cpuFanout: Bool
    public init() { queue = 0; queueCount = 1; bypass = false; cpuFanout = false }
}

public struct SetTarget: Hashable, Sendable {
    public var addSet: (name: String, flags: [SetDirection])?
    public var delSet: (name: String, flags: [SetDirection])?
    public var exist: Bool
    public var timeout: UInt32?
    public init() { exist = false }
    public static func == (l: Self, r: Self) -> Bool {
        l.addSet?.name == r.addSet?.name && l.addSet?.flags == r.addSet?.flags && l.delSet?.name == r.delSet?.name
            && l.delSet?.flags == r.delSet?.flags && l.exist == r.exist && l.timeout == r.timeout
    }
    public func hash(into h: inout Hasher) { h.combine(addSet?.name); h.combine(delSet?.name); h.combine(timeout) }
}
