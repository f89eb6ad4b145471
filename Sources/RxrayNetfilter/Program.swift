import RxrayDecode
import RxrayRules

// Compiled rulesets: flat arrays of enum-coded operations, built once at load.
// Mirrors the split between nf_tables_api.c (parse, validate) and nf_tables_core.c (run a
// flat blob); iptables rules compile into the same operations.

/// Where a value is read from.
enum Load: Hashable {
    case saddr, daddr, sport, dport
    /// nft payload: base 0 link, 1 network, 2 transport.
    case payload(base: UInt8, bitOffset: Int, bits: Int)
    case l4proto, nfproto, etherProto, iif, oif, iifName, oifName, mark, pktType, length, iifType, oifType
    case ctState, ctStatus, ctMark, ctDirection, ctL3proto, ctProto, ctExpiration
    case ctSaddr(reply: Bool), ctDaddr(reply: Bool), ctSport(reply: Bool), ctDport(reply: Bool)
    /// `fib daddr type` / `fib saddr type` (address type from the host's local addresses).
    case fibDaddrType, fibSaddrType
    /// `fib saddr . iif oif` style reverse-path lookups: result oif (0 when none).
    case fibOif(saddr: Bool, iif: Bool, mark: Bool)
    case ttl, tcpFlags, icmpType, sourceMAC, random
    /// nft `numgen inc|random mod M offset O`: `slot` indexes the engine's per-expression
    /// counters for `inc` (-1 for `random`, drawn from the engine's seeded generator).
    case numgen(random: Bool, modulus: UInt32, offset: UInt32, slot: Int32)
    case constant(NFValue)
}

/// A comparison.
enum CmpOp: UInt8 { case eq, ne, lt, gt, le, ge, bitsAny, bitsNone }

/// Implicit protocol dependency of a payload field.
enum Dep: Hashable {
    case none, l4(UInt8), transport, nfproto(NFFamily), icmpAny
}

enum NATKind: UInt8 { case snat, dnat, masquerade, redirect }

/// A NAT statement's range.
struct NATSpec {
    var kind: NATKind
    var addrLow: NFValue?
    var addrHigh: NFValue?
    var v6: Bool
    var portLow: UInt16?
    var portHigh: UInt16?
    /// Address taken from a map keyed by a load (`dnat to ip daddr map {...}`).
    var mapKeys: [Load]
    var mapSet: Int
    var random: Bool
    var persistent: Bool
}

/// What a reject sends.
public enum NFRejectKind: Hashable, Sendable {
    case tcpReset
    case icmp(type: UInt8, code: UInt8)
    case icmpv6(type: UInt8, code: UInt8)
    /// nft `icmpx` code: resolved per family when sent.
    case icmpx(code: UInt8)
    /// nft plain `reject`: port unreachable, per family.
    case defaultPortUnreachable
}

enum VerdictCode: Equatable {
    case accept, drop, `return`, `continue`, jump(Int), goto(Int), queue(bypass: Bool)
}

/// A run of loads in the engine's `loadLists` (the key parts of a set lookup, vmap or set
/// update).
struct LoadList {
    var first: Int32
    var count: Int32
}

/// One operation of a rule. Tests end the rule when false; actions run in order.
///
/// Plain data only (no arrays, strings or references): reading an op from the program costs
/// no reference counting. Variable-length payloads live in the engine's side tables
/// (`loadLists`, `multiports`, `u32s`, `ipsetDirs`), referred to by index.
enum Op {
    case cmp(Load, CmpOp, NFValue, mask: NFValue, dep: Dep)
    case range(Load, NFValue, NFValue, negated: Bool, dep: Dep)
    /// Interface name exact/prefix (`mask` covers the compared bytes).
    case set(keys: LoadList, set: Int32, negated: Bool, dep: Dep)
    /// Port ranges at `multiports[ranges]`.
    case multiport(ranges: Int32, which: UInt8, negated: Bool)
    case iprange(src: Bool, low: NFValue, high: NFValue, negated: Bool)
    case addrtype(src: Bool, mask: UInt16, negated: Bool, limitIn: Bool, limitOut: Bool)
    case limit(bucket: Int, over: Bool)
    case hashlimit(bucket: Int)
    case recent(Int)
    case statistic(Int)
    /// The test at `u32s[index]`.
    case u32(Int32)
    /// Source/destination flags at `ipsetDirs[dirs]`.
    case ipsetMatch(set: Int32, dirs: Int32, negated: Bool)
    case fragment(negated: Bool)
    /// A construct rxray does not model: the rule never matches (loaded with --lenient).
    case never
    /// `-m owner` / `meta skuid`: no socket on the receive path, never matches.
    case ownerNeverOnInput
    // Actions.
    case counter
    case setMark(value: UInt32, mask: UInt32)
    case setMarkLoad(Load)
    case connmarkSet(value: UInt32, mask: UInt32)
    case connmarkSave(nfMask: UInt32, ctMask: UInt32)
    case connmarkRestore(nfMask: UInt32, ctMask: UInt32)
    case ctMarkLoad(Load)
    case notrack
    case nftrace
    case log
    case nat(Int)
    case reject(NFRejectKind)
    case verdict(VerdictCode)
    case vmap(keys: LoadList, set: Int32)
    case setAdd(set: Int32, keys: LoadList)
}

/// A compiled rule: `ops[first..<first+count]` of the engine, plus where it came from.
struct CRule {
    var first: Int32
    var count: Int32
    var chain: Int32
    /// Index into `NetfilterEngine.ruleInfo`.
    var info: Int32
}

/// Where a rule or chain came from, for traces and summaries.
public struct NFRuleInfo: Sendable {
    /// `ip filter INPUT` or `inet filter input`.
    public var table: String
    public var chain: String
    /// 1-based position in the chain; for nft also the handle when known.
    public var position: Int
    public var handle: UInt64?
    public var text: String
    public var file: String
    public var line: Int
    public var isNft: Bool
}

struct CChain {
    var name: String
    /// `ip filter` / `inet filter`.
    var table: String
    var family: NftFamily
    var firstRule: Int
    var ruleCount: Int
    var isNft: Bool
    // Base chain attributes.
    var isBase: Bool
    var hook: NFHookPoint
    var priority: Int
    var policyDrop: Bool
    var isNat: Bool
    var file: String
    var line: Int
}

/// One entry on a hook's priority axis.
enum HookEntry {
    case chain(Int)
    case conntrackIn
    case conntrackConfirm
    /// NAT core for this hook: runs the nat-type chains (listed) for a NEW ct, then manipulates.
    case natCore([Int], dst: Bool)
}

/// A `HookEntry` as the per-packet walk reads it: plain data (the NAT core's chain list lives
/// in `RunProgram.natChains`), so reading one costs no reference counting.
struct RunHookEntry {
    enum Kind: UInt8 { case chain, conntrackIn, conntrackConfirm, natCore }
    var kind: Kind
    /// NAT core: destination manipulation (PRE_ROUTING, LOCAL_OUT).
    var dst: Bool = false
    /// The chain (`chain`), or the first of the NAT core's chains in `natChains`.
    var index: Int32 = 0
    /// Number of the NAT core's chains.
    var count: Int32 = 0
}

/// A set or map, by key. Exact keys hash; single-field intervals binary-search.
final class NFSetStore {
    let name: String
    let parts: Int
    var exact = ExactTable()
    /// Sorted disjoint intervals for one-part keys (low, high, value index).
    var intervals: [(NFValue, NFValue, Int32)] = []
    /// Concatenated keys with a range in some part (checked in order).
    var rangedConcat: [([NFValue], [NFValue], Int32)] = []
    var values: [MapValue] = []
    var hasCatchAll: Int32 = -1
    /// For ipsets: which parts are network prefixes (looked up by trying each prefix length used).
    var prefixLengths: [[Int]] = []
    var isDynamic = false

    init(name: String, parts: Int) { self.name = name; self.parts = parts }

    func finish() {
        intervals.sort { $0.0 < $1.0 }
    }

    /// - Complexity: O(1) expected for exact keys, O(log n) for intervals.
    func lookup(_ k: SetKey) -> Int32? {
        if let v = exact[k] { return v }
        if parts == 1, !intervals.isEmpty {
            let x = k.a
            var lo = 0, hi = intervals.count - 1, found = -1
            while lo <= hi {
                let mid = (lo + hi) >> 1
                if intervals[mid].0 <= x { found = mid; lo = mid + 1 } else { hi = mid - 1 }
            }
            if found >= 0, x <= intervals[found].1 { return intervals[found].2 }
        }
        if !rangedConcat.isEmpty {
            for (lo, hi, v) in rangedConcat {
                var ok = true
                for i in 0..<lo.count {
                    let x = k[i]
                    if x < lo[i] || hi[i] < x { ok = false; break }
                }
                if ok { return v }
            }
        }
        return hasCatchAll >= 0 ? hasCatchAll : nil
    }
}

enum MapValue {
    case none
    case value(NFValue)
    case verdict(VerdictCode)
    case nat(NFValue, UInt16?)
}

/// A set key of up to four concatenated parts.
struct SetKey: Hashable {
    var a: NFValue = .zero, b: NFValue = .zero, c: NFValue = .zero, d: NFValue = .zero
    subscript(i: Int) -> NFValue {
        get { switch i { case 0: return a; case 1: return b; case 2: return c; default: return d } }
        set { switch i { case 0: a = newValue; case 1: b = newValue; case 2: c = newValue; default: d = newValue } }
    }
}

/// The exact keys of a set: open addressing with linear probing over a power-of-two table,
/// hashed by multiply-and-xorshift over the key's words. A lookup costs a few multiplies and
/// usually one probe (no per-lookup seeded SipHash as a `Dictionary` would do). The table is
/// at most half full.
struct ExactTable {
    private var keys: [SetKey] = []
    /// Value per slot; -1 marks an empty slot.
    private var vals: [Int32] = []
    private var mask = 0
    private(set) var count = 0

    @inline(__always) static func hash(_ k: SetKey) -> Int {
        var h: UInt64 = 0x243F_6A88_85A3_08D3
        @inline(__always) func mix(_ w: UInt64) { h = (h ^ w) &* 0x9E37_79B9_7F4A_7C15; h ^= h >> 29 }
        mix(k.a.high); mix(k.a.low)
        if !(k.b.isZero && k.c.isZero && k.d.isZero) {
            mix(k.b.high); mix(k.b.low); mix(k.c.high); mix(k.c.low); mix(k.d.high); mix(k.d.low)
        }
        h ^= h >> 32
        return Int(truncatingIfNeeded: h)
    }

    /// The value stored for `k`.
    ///
    /// - Complexity: O(1) expected.
    subscript(_ k: SetKey) -> Int32? {
        guard count > 0 else { return nil }
        return keys.withUnsafeBufferPointer { kp in
            vals.withUnsafeBufferPointer { vp -> Int32? in
                var i = ExactTable.hash(k) & mask
                while true {
                    let v = vp[i]
                    if v < 0 { return nil }
                    if kp[i] == k { return v }
                    i = (i + 1) & mask
                }
            }
        }
    }

    /// Stores `v` (≥ 0) for `k`, replacing an earlier value.
    mutating func insert(_ k: SetKey, _ v: Int32) {
        precondition(v >= 0, "set values are indexes")
        if (count + 1) * 2 > keys.count { grow() }
        var i = ExactTable.hash(k) & mask
        while vals[i] >= 0 {
            if keys[i] == k { vals[i] = v; return }
            i = (i + 1) & mask
        }
        keys[i] = k; vals[i] = v
        count += 1
    }

    private mutating func grow() {
        let oldKeys = keys, oldVals = vals
        let cap = max(16, keys.count * 2)
        keys = [SetKey](repeating: SetKey(), count: cap)
        vals = [Int32](repeating: -1, count: cap)
        mask = cap - 1
        count = 0
        for i in oldVals.indices where oldVals[i] >= 0 { insert(oldKeys[i], oldVals[i]) }
    }
}

/// The loads nearly every rule tests, read by the walk inline (`NetfilterEngine.fastValue`)
/// instead of through the general `value` switch; `other` is every other load.
enum FastLoad: UInt8 {
    case saddr, daddr, sport, dport, l4proto, iifName, oifName, mark, ctState
    /// nft `tcp sport` / `th dport` style: the transport header's first or second 16 bits
    /// (`payload(base: 2, bitOffset: 0 or 16, bits: 16)`; the protocol is the op's dependency).
    case thSport, thDport
    case other

    init(_ l: Load) {
        switch l {
        case .saddr: self = .saddr
        case .daddr: self = .daddr
        case .sport: self = .sport
        case .dport: self = .dport
        case .l4proto: self = .l4proto
        case .iifName: self = .iifName
        case .oifName: self = .oifName
        case .mark: self = .mark
        case .ctState: self = .ctState
        case .payload(2, 0, 16): self = .thSport
        case .payload(2, 16, 16): self = .thDport
        default: self = .other
        }
    }
}

/// An op as the per-rule loop runs it: comparisons and ranges on a `FastLoad`, no-op actions
/// and verdicts in a small fixed form; everything else `general` (the loop runs `Op` itself).
/// Built once per op at load (`init(_:)`); the walk reads it by index beside `ops`.
struct FastOp {
    enum Code: UInt8 {
        /// Run the general `Op` at the same index.
        case general
        /// `(load & mask) cmp value`, after the dependency check.
        case cmp
        /// `value <= load <= mask` (`negated`: outside), after the dependency check.
        case range
        /// An action with no effect on the walk (`counter`, `log`).
        case nop
        case verdict
    }
    var code: Code
    var load: FastLoad = .other
    var cmp: CmpOp = .eq
    var negated = false
    var dep: Dep = .none
    var verdict: VerdictCode = .continue
    /// Compared value, or the range's low end.
    var value: NFValue = .zero
    /// Mask, or the range's high end.
    var mask: NFValue = .zero

    /// The specialised form of `op`, or `general`.
    init(_ op: Op, specialize: Bool = true) {
        code = .general
        guard specialize else { return }
        switch op {
        case .cmp(let l, let c, let v, let m, let d):
            let f = FastLoad(l)
            guard f != .other else { return }
            code = .cmp; load = f; cmp = c; dep = d; value = v; mask = m
        case .range(let l, let lo, let hi, let neg, let d):
            let f = FastLoad(l)
            guard f != .other else { return }
            code = .range; load = f; negated = neg; dep = d; value = lo; mask = hi
        case .counter, .log:
            code = .nop
        case .verdict(let v):
            code = .verdict; verdict = v
        default:
            return
        }
    }
}

extension FastLoad {
    /// `NetfilterEngine.value` for this load (nil for `other`): the same answers, inline.
    /// Transparent (always inlined), so the packet and state are read where they are: an
    /// out-of-line call copied both for each test.
    @_transparent func read(_ p: NFPacket, _ st: NFPacketState) -> NFValue? {
        switch self {
        case .saddr:
            if p.family == .ipv4 { return p.bytes.count >= 20 ? NFValue(UInt64(p.bytes.be32(12))) : nil }
            if p.family == .ipv6 { return p.bytes.count >= 40 ? NFValue(high: p.bytes.be64(8), low: p.bytes.be64(16)) : nil }
            return nil
        case .daddr:
            if p.family == .ipv4 { return p.bytes.count >= 20 ? NFValue(UInt64(p.bytes.be32(16))) : nil }
            if p.family == .ipv6 { return p.bytes.count >= 40 ? NFValue(high: p.bytes.be64(24), low: p.bytes.be64(32)) : nil }
            return nil
        case .sport: return p.isPortProto && p.has(p.thoff, 4) ? NFValue(UInt64(p.bytes.be16(p.thoff))) : nil
        case .dport: return p.isPortProto && p.has(p.thoff, 4) ? NFValue(UInt64(p.bytes.be16(p.thoff + 2))) : nil
        case .l4proto: return p.family == .arp ? nil : NFValue(UInt64(p.l4proto))
        case .iifName: return p.iifName.isEmpty ? (p.hook == .output || p.hook == .postrouting ? nil : NFValue.zero) : NFValue(p.iifName)
        case .oifName: return p.oifName.isEmpty ? (p.hook == .prerouting || p.hook == .input ? nil : NFValue.zero) : NFValue(p.oifName)
        case .mark: return NFValue(UInt64(p.mark))
        case .ctState: return NFValue(UInt64(st.ct.stateBit))
        case .thSport: return p.thoff >= 0 && p.thoff + 2 <= p.bytes.count ? NFValue(UInt64(p.bytes.be16(p.thoff))) : nil
        case .thDport: return p.thoff >= 0 && p.thoff + 4 <= p.bytes.count ? NFValue(UInt64(p.bytes.be16(p.thoff + 2))) : nil
        case .other: return nil
        }
    }
}

extension CmpOp {
    /// Whether `m cmp v` holds (`m` already masked).
    @_transparent func holds(_ m: NFValue, _ v: NFValue) -> Bool {
        switch self {
        case .eq: return m == v
        case .ne: return m != v
        case .lt: return m < v
        case .gt: return v < m
        case .le: return !(v < m)
        case .ge: return !(m < v)
        case .bitsAny: return !m.and(v).isZero
        case .bitsNone: return m.and(v).isZero
        }
    }
}
