import RxrayDecode

// The syntax tree of an nftables ruleset, from `nft list ruleset` text (also most `nft -f`
// scripts) or from `nft -j list ruleset` JSON. Both parsers produce the same tree.
//
// Values are resolved against the type of what they are compared with: `tcp dport ssh` holds
// the integer 22, `ct state established,related` the bit set 0x6, `meta l4proto tcp` 6, so the
// netfilter stage compares numbers. Every rule keeps its file, line and source text.

public enum NftFamily: String, Hashable, Sendable, CaseIterable {
    case ip, ip6, inet, arp, bridge, netdev
}

/// A whole ruleset (one file).
public struct NftRuleset: Sendable {
    public var file: String
    public var tables: [NftTable]
    /// Every construct rxray does not model, in file order.
    public var unsupported: [UnsupportedConstruct]

    public init(file: String, tables: [NftTable] = [], unsupported: [UnsupportedConstruct] = []) {
        self.file = file; self.tables = tables; self.unsupported = unsupported
    }

    /// - Complexity: O(tables).
    public func table(_ family: NftFamily, _ name: String) -> NftTable? { tables.first { $0.family == family && $0.name == name } }

    public var summary: RulesetSummary {
        var s = RulesetSummary()
        s.tables = tables.count
        for t in tables {
            s.chains += t.chains.count
            s.rules += t.chains.reduce(0) { $0 + $1.rules.count }
            s.sets += t.sets.count
            s.elements += t.sets.reduce(0) { $0 + $1.elements.count }
        }
        s.unsupported = unsupported.count
        return s
    }
}

public struct NftTable: Sendable {
    public var family: NftFamily
    public var name: String
    public var line: Int
    public var handle: UInt64?
    /// `flags dormant` etc.
    public var flags: [String]
    public var comment: String?
    public var chains: [NftChain]
    public var sets: [NftSet]
    public var flowtables: [NftFlowtable]
    /// Named stateful objects: counters, quotas, limits, ct helpers, ...
    public var objects: [NftObject]

    public init(family: NftFamily, name: String, line: Int) {
        self.family = family; self.name = name; self.line = line
        flags = []; chains = []; sets = []; flowtables = []; objects = []
    }

    /// - Complexity: O(chains).
    public func chain(_ name: String) -> NftChain? { chains.first { $0.name == name } }
    /// - Complexity: O(sets).
    public func set(_ name: String) -> NftSet? { sets.first { $0.name == name } }
}

public struct NftChain: Sendable {
    public var name: String
    public var line: Int
    public var handle: UInt64?
    /// Nil for a regular chain (reached only by jump/goto).
    public var base: NftBaseChain?
    public var comment: String?
    /// Rules in evaluation order; `rules[i].position == i + 1`.
    public var rules: [NftRule]

    public init(name: String, line: Int) { self.name = name; self.line = line; rules = [] }
}

public enum NftChainType: String, Hashable, Sendable { case filter, nat, route }

public enum NftHook: String, Hashable, Sendable {
    case prerouting, input, forward, output, postrouting, ingress, egress
}

public enum NftPolicy: String, Hashable, Sendable { case accept, drop }

public struct NftBaseChain: Hashable, Sendable {
    public var type: NftChainType
    public var hook: NftHook
    /// The numeric priority (named priorities resolved for the table's family and hook).
    public var priority: Int
    /// As written (`filter`, `dstnat - 10`, `-150`).
    public var priorityText: String
    /// Default accept.
    public var policy: NftPolicy
    /// `device`/`devices` for netdev and ingress/egress hooks.
    public var devices: [String]

    public init(type: NftChainType, hook: NftHook, priority: Int, priorityText: String, policy: NftPolicy = .accept, devices: [String] = []) {
        self.type = type; self.hook = hook; self.priority = priority; self.priorityText = priorityText; self.policy = policy; self.devices = devices
    }

    /// The value of a named priority (`nft` man page, "PRIORITY"): bridge uses its own scale.
    public static func namedPriority(_ name: String, family: NftFamily) -> Int? {
        if family == .bridge {
            switch name {
            case "dstnat": return -300
            case "filter": return -200
            case "out": return 100
            case "srcnat": return 300
            default: return nil
            }
        }
        switch name {
        case "raw": return -300
        case "mangle": return -150
        case "dstnat": return -100
        case "filter": return 0
        case "security": return 50
        case "srcnat": return 100
        default: return nil
        }
    }
}

/// One rule.
public struct NftRule: Sendable {
    public var family: NftFamily
    public var table: String
    public var chain: String
    /// 1-based position in its chain.
    public var position: Int
    /// The kernel handle when listed with `-a` (`# handle N`) or from JSON.
    public var handle: UInt64?
    public var file: String
    public var line: Int
    /// The rule's text as written (JSON input: reconstructed, see `NftJSONParser`).
    public var text: String
    /// Statements in order: matches are tests, the rest act.
    public var statements: [NftStatement]
    public var comment: String?
    /// True if any statement or expression is an `UnsupportedConstruct`.
    public var isUnsupported: Bool

    public init(family: NftFamily, table: String, chain: String, position: Int, handle: UInt64?, file: String, line: Int,
                text: String, statements: [NftStatement], comment: String?, isUnsupported: Bool) {
        self.family = family; self.table = table; self.chain = chain; self.position = position; self.handle = handle
        self.file = file; self.line = line; self.text = text; self.statements = statements; self.comment = comment
        self.isUnsupported = isUnsupported
    }
}

// MARK: Expressions

/// Where a payload field lives (nft's payload bases).
public enum NftPayloadBase: String, Hashable, Sendable { case link, network, transport, inner }

/// A header field: `ip saddr`, `tcp dport`, `ether type` ... with its location.
public struct NftPayloadField: Hashable, Sendable, CustomStringConvertible {
    /// `ip`, `ip6`, `tcp`, `udp`, `th`, `icmp`, `icmpv6`, `ether`, `vlan`, `arp`, ...
    public var header: String
    public var field: String
    public var base: NftPayloadBase
    public var offsetBits: Int
    public var lengthBits: Int
    public var type: NftDatatype
    /// The L4 protocol (or, for `ip`/`ip6`/`arp` in inet/bridge/netdev, the nfproto or
    /// ether type) the field implies, which nft adds as a dependency test.
    public var dependency: NftPayloadDependency?

    public init(header: String, field: String, base: NftPayloadBase, offsetBits: Int, lengthBits: Int, type: NftDatatype, dependency: NftPayloadDependency?) {
        self.header = header; self.field = field; self.base = base; self.offsetBits = offsetBits
        self.lengthBits = lengthBits; self.type = type; self.dependency = dependency
    }
    public var description: String { "\(header) \(field)" }
}

public enum NftPayloadDependency: Hashable, Sendable {
    /// `meta l4proto N`.
    case l4proto(UInt8)
    /// Any of TCP, UDP, UDP-Lite, SCTP, DCCP (`th`).
    case transportHeader
    /// `meta nfproto ipv4|ipv6` (inet) / `ether type` (bridge, netdev).
    case network(ipv6: Bool)
    case etherType(UInt16)
}

/// The type of an expression's value, which decides how its literals read and compare.
public enum NftDatatype: String, Hashable, Sendable {
    case integer, ipv4Addr, ipv6Addr, etherAddr, inetProto, inetService, mark, ifname, ifindex
    case ctState, ctStatus, ctDir, ctLabel, icmpType, icmpCode, icmpv6Type, icmpv6Code, icmpxCode
    case nfproto, pktType, etherType, fibAddrType, tcpFlags, ifType, boolean, verdict, string
    case time, day, hour, uid, gid, realm, devgroup, arpOp, dscp, ecn, ipv6Nexthdr, bitmask
    case counterObject

    /// The type named by a set's `type` clause (`ipv4_addr`, `inet_service`, ...).
    public init?(setTypeName s: String) {
        switch s {
        case "ipv4_addr": self = .ipv4Addr
        case "ipv6_addr": self = .ipv6Addr
        case "ether_addr": self = .etherAddr
        case "inet_proto": self = .inetProto
        case "inet_service": self = .inetService
        case "mark": self = .mark
        case "ifname": self = .ifname
        case "iface_index": self = .ifindex
        case "ct_state": self = .ctState
        case "ct_status": self = .ctStatus
        case "ct_dir": self = .ctDir
        case "ct_label": self = .ctLabel
        case "icmp_type": self = .icmpType
        case "icmp_code": self = .icmpCode
        case "icmpv6_type": self = .icmpv6Type
        case "icmpv6_code": self = .icmpv6Code
        case "icmpx_code": self = .icmpxCode
        case "nf_proto": self = .nfproto
        case "pkt_type": self = .pktType
        case "ether_type": self = .etherType
        case "fib_addrtype": self = .fibAddrType
        case "tcp_flag": self = .tcpFlags
        case "iface_type": self = .ifType
        case "boolean": self = .boolean
        case "verdict": self = .verdict
        case "string": self = .string
        case "time": self = .time
        case "day": self = .day
        case "hour": self = .hour
        case "uid": self = .uid
        case "gid": self = .gid
        case "realm": self = .realm
        case "devgroup": self = .devgroup
        case "arp_op": self = .arpOp
        case "dscp": self = .dscp
        case "ecn": self = .ecn
        case "integer", "classid", "cgroupsv2", "ipsec_reqid": self = .integer
        case "counter", "quota", "limit": self = .counterObject
        default: return nil
        }
    }

    /// Whether an implicit comparison with a plain value tests bits (`ct state established`
    /// means `ct state & established != 0`), as nft does for bitmask types.
    public var isBitmask: Bool {
        switch self {
        case .ctState, .ctStatus, .tcpFlags, .bitmask, .ctLabel: return true
        default: return false
        }
    }
}

public indirect enum NftExpr: Hashable, Sendable {
    // Left-hand sides: what the packet or its context has.
    case payload(NftPayloadField)
    /// `@ll,32,16`-style raw payload.
    case rawPayload(base: NftPayloadBase, offsetBits: Int, lengthBits: Int)
    case meta(NftMetaKey)
    /// `ct [original|reply] KEY`; direction nil when not given.
    case ct(key: String, direction: String?)
    /// `fib FLAGS RESULT`: flags from `saddr`, `daddr`, `mark`, `iif`, `oif`; result `oif`, `oifname` or `type`.
    case fib(flags: [String], result: String)
    case rt(key: String, family: String?)
    case socket(key: String, level: Int?)
    case numgen(mode: String, modulus: UInt32, offset: UInt32)
    /// `jhash EXPR mod N seed S offset O` / `symhash mod N offset O`.
    case hash(kind: String, expr: NftExpr?, modulus: UInt32, seed: UInt32?, offset: UInt32)
    /// `ip option`, `tcp option`, `exthdr` ... kept by name with `exists`/value tests.
    case exthdr(header: String, field: String?)

    // Right-hand sides: literals, resolved to numbers where the type says so.
    case integer(UInt64)
    case string(String)
    /// An interface-name pattern `"eth*"`: any name starting with the prefix.
    case stringPrefix(String)
    case address(IPAddress)
    case prefix(IPPrefix)
    case mac(MACAddress)
    case boolean(Bool)
    /// A name that was not resolved against a type (e.g. a value on the left of a map).
    case symbol(String)
    case range(NftExpr, NftExpr)
    /// A comma list of flags (`established,related`), the OR of its items.
    case flags([NftExpr])
    /// `{ a, b, c-d }`.
    case anonymousSet([NftSetElement])
    /// `@name`.
    case setReference(String)
    /// `a . b . c`.
    case concat([NftExpr])
    case binary(NftBinaryOp, NftExpr, NftExpr)
    /// `EXPR map { ... }` / `EXPR map @m` used as a value (`dnat to ip saddr map {...}`).
    case map(key: NftExpr, mapping: NftExpr)
    case verdict(NftVerdict)
    /// `*` in set elements (catch-all).
    case wildcard
}

public enum NftBinaryOp: String, Hashable, Sendable {
    case and = "&", or = "|", xor = "^", shiftLeft = "<<", shiftRight = ">>"
}

/// `meta KEY` (also written without `meta`: `iifname`, `mark`, ...).
public enum NftMetaKey: String, Hashable, Sendable, CaseIterable {
    case length, `protocol`, priority, mark, iif, iifname, iiftype, oif, oifname, oiftype, skuid, skgid
    case nftrace, rtclassid, ibrname, obrname, pkttype, cpu, iifgroup, oifgroup, cgroup, random
    case ipsec, iifkind, oifkind, ibrpvid, ibrvproto, time, day, hour, secmark, sdif, sdifname
    case nfproto, l4proto, broute, secpath

    public var type: NftDatatype {
        switch self {
        case .protocol: return .etherType
        case .mark: return .mark
        case .iif, .oif: return .ifindex
        case .iifname, .oifname, .ibrname, .obrname, .sdifname, .iifkind, .oifkind: return .ifname
        case .iiftype, .oiftype: return .ifType
        case .skuid: return .uid
        case .skgid: return .gid
        case .pkttype: return .pktType
        case .nfproto: return .nfproto
        case .l4proto: return .inetProto
        case .time: return .time
        case .day: return .day
        case .hour: return .hour
        case .iifgroup, .oifgroup: return .devgroup
        case .rtclassid: return .realm
        case .ipsec, .secpath, .broute, .nftrace: return .boolean
        default: return .integer
        }
    }
}

public enum NftRelOp: String, Hashable, Sendable {
    /// A bit test on a bitmask type (`ct state established,related`): `(left & right) != 0`.
    /// Both parsers turn an implicit comparison on any other type into `.eq`, so `.eq`
    /// with a set (anonymous or `@name`) on the right is membership and `.ne` non-membership.
    case implicit = ""
    case eq = "==", ne = "!=", lt = "<", gt = ">", le = "<=", ge = ">="
}

public enum NftVerdict: Hashable, Sendable {
    case accept, drop, `continue`, `return`
    case jump(String)
    case goto(String)
    /// `queue` as a verdict (with its options in `NftStatement.queue`).
    case queue
}

/// One element of a set or map (or of an anonymous set).
public struct NftSetElement: Hashable, Sendable {
    /// A value, range, prefix or concatenation.
    public var key: NftExpr
    /// For maps: the value mapped to.
    public var value: NftExpr?
    public var timeoutSeconds: Double?
    public var expiresSeconds: Double?
    public var counter: Counters?
    public var comment: String?
    public init(key: NftExpr, value: NftExpr? = nil) { self.key = key; self.value = value }
}

public struct NftSet: Sendable {
    public var name: String
    public var line: Int
    public var handle: UInt64?
    public var isMap: Bool
    /// The key's types, one per concatenated part.
    public var keyTypes: [NftDatatype]
    /// As written (`ipv4_addr . inet_service`, or `typeof ip saddr`).
    public var keyText: String
    /// For maps: the value's type (the first part when the value is a concatenation).
    public var valueType: NftDatatype?
    /// For maps: every part of the value's type (`ipv4_addr . inet_service`).
    public var valueTypes: [NftDatatype] = []
    public var valueText: String?
    /// `interval`, `constant`, `timeout`, `dynamic`, ...
    public var flags: [String]
    public var timeoutSeconds: Double?
    public var gcIntervalSeconds: Double?
    public var size: UInt32?
    public var policy: String?
    public var counter: Bool
    public var autoMerge: Bool
    public var comment: String?
    public var elements: [NftSetElement]

    public init(name: String, line: Int, isMap: Bool) {
        self.name = name; self.line = line; self.isMap = isMap
        keyTypes = []; keyText = ""; flags = []; counter = false; autoMerge = false; elements = []
    }
}

public struct NftFlowtable: Sendable {
    public var name: String
    public var line: Int
    public var hook: String
    public var priority: Int
    public var devices: [String]
    public var flags: [String]
    public init(name: String, line: Int) { self.name = name; self.line = line; hook = "ingress"; priority = 0; devices = []; flags = [] }
}

/// A named stateful object (`counter NAME { ... }`, `quota`, `limit`, `ct helper`, ...).
public struct NftObject: Sendable {
    /// `counter`, `quota`, `limit`, `ct helper`, `ct timeout`, `ct expectation`, `secmark`, `synproxy`.
    public var kind: String
    public var name: String
    public var line: Int
    /// The body's statements as written, one per entry.
    public var body: [String]
    public var counter: Counters?
    public var limit: NftLimit?
    public var quota: NftQuota?
    public init(kind: String, name: String, line: Int, body: [String]) { self.kind = kind; self.name = name; self.line = line; self.body = body }
}

// MARK: Statements

public enum NftStatement: Hashable, Sendable {
    /// `LHS [op] RHS`: a test; the rule stops here when it fails.
    case match(NftMatch)
    case verdict(NftVerdict)
    /// `counter [packets N bytes M]`.
    case counter(Counters?)
    /// `counter name NAME`.
    case counterReference(String)
    case limit(NftLimit)
    case quota(NftQuota)
    case log(NftLog)
    case reject(NftReject)
    case nat(NftNat)
    /// `meta KEY set EXPR`, `ct KEY set EXPR`, payload mangling.
    case set(target: NftExpr, value: NftExpr)
    /// `add|update|delete @set { KEY [: VALUE] [timeout T] [stmts] }`.
    case setUpdate(NftSetUpdate)
    case notrack
    /// `KEY vmap MAPPING`: look KEY up, apply the verdict found (nothing when not found).
    case vmap(key: NftExpr, mapping: NftExpr)
    case queue(NftQueue)
    /// `ct count [over] N`.
    case ctCount(count: UInt32, over: Bool)
    /// `flow add @ft` / `flow offload @ft`.
    case flowOffload(String)
    /// `ct helper set "name"` and other object references by name.
    case objectReference(kind: String, name: String)
    /// Something rxray does not model, as written.
    case unsupported(String)
}

public struct NftMatch: Hashable, Sendable {
    public var left: NftExpr
    public var op: NftRelOp
    public var right: NftExpr
    public init(left: NftExpr, op: NftRelOp, right: NftExpr) { self.left = left; self.op = op; self.right = right }
}

public struct NftLimit: Hashable, Sendable {
    public var rate: UInt64
    /// Seconds per unit: 1, 60, 3600, 86400, 604800.
    public var per: UInt64
    /// True for byte rates (`10 mbytes/second`); rate is then in bytes.
    public var bytes: Bool
    public var burst: UInt64?
    public var over: Bool
    public init(rate: UInt64, per: UInt64, bytes: Bool, burst: UInt64?, over: Bool) {
        self.rate = rate; self.per = per; self.bytes = bytes; self.burst = burst; self.over = over
    }
}

public struct NftQuota: Hashable, Sendable {
    public var bytes: UInt64
    public var used: UInt64
    public var over: Bool
    public init(bytes: UInt64, used: UInt64, over: Bool) { self.bytes = bytes; self.used = used; self.over = over }
}

public struct NftLog: Hashable, Sendable {
    public var prefix: String?
    /// syslog level name (`warn`, `info`, `audit`, ...).
    public var level: String?
    public var group: UInt16?
    public var snaplen: UInt32?
    public var queueThreshold: UInt32?
    public var flags: [String]
    public init() { flags = [] }
}

/// What `reject` sends. A plain `reject` is resolved by table family as nft does: `ip` →
/// ICMP port unreachable, `ip6` → ICMPv6 port unreachable, `inet`/`bridge`/`netdev` → icmpx
/// port unreachable (ICMP or ICMPv6 by the packet's family).
public enum NftReject: Hashable, Sendable {
    case tcpReset
    /// `with icmp [type] NAME`.
    case icmp(code: UInt8)
    case icmpv6(code: UInt8)
    /// `with icmpx [type] NAME`: port-unreachable 1, admin-prohibited 3, no-route 0, host-unreachable 2.
    case icmpx(code: UInt8)

    /// Plain `reject` in a table of `family`.
    public static func familyDefault(_ family: NftFamily) -> NftReject {
        switch family {
        case .ip: return .icmp(code: 3)
        case .ip6: return .icmpv6(code: 4)
        default: return .icmpx(code: 1)
        }
    }
}

public struct NftNat: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable { case snat, dnat, masquerade, redirect }
    public var kind: Kind
    /// `dnat ip to ...` / `dnat ip6 to ...` in inet tables.
    public var family: String?
    /// Address, range, prefix, or a map expression; nil for masquerade/redirect without one.
    public var address: NftExpr?
    public var port: NftExpr?
    public var flags: [String]
    public init(kind: Kind) { self.kind = kind; flags = [] }
}

public struct NftQueue: Hashable, Sendable {
    public var number: NftExpr?
    public var flags: [String]
    public init() { flags = [] }
}

/// A rule's update of a named set or map from the packet path.
public struct NftSetUpdate: Hashable, Sendable {
    /// `add`, `update` or `delete`.
    public var op: String
    public var set: String
    public var key: NftExpr
    /// For maps: the data stored with the key.
    public var value: NftExpr?
    public var timeoutSeconds: Double?
    /// Per-element statements (`counter`, `limit rate ...`), as in meters.
    public var statements: [NftStatement]
    public init(op: String, set: String, key: NftExpr, value: NftExpr?, timeoutSeconds: Double?, statements: [NftStatement]) {
        self.op = op; self.set = set; self.key = key; self.value = value; self.timeoutSeconds = timeoutSeconds; self.statements = statements
    }
}
