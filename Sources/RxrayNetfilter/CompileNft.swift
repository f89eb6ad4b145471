import RxrayDecode
import RxrayRules

struct NftUnsupportedHere: Error { var what: String }

extension NetfilterEngine {
    /// Compiles every table of an nft ruleset except `excluded` (`"ip filter"`).
    func compile(nft rs: NftRuleset, excluded: [String]) {
        for table in rs.tables where !excluded.contains("\(table.family.rawValue) \(table.name)") {
            if table.flags.contains("dormant") { continue }
            let tname = "\(table.family.rawValue) \(table.name)"
            // Named sets first (chains refer to them).
            var setIndex: [String: Int] = [:]
            var chainIndex: [String: Int] = [:]
            for c in table.chains {
                let b = c.base
                let hook: NFHookPoint?
                switch b?.hook {
                case .prerouting: hook = .prerouting
                case .input: hook = .input
                case .forward: hook = .forward
                case .output: hook = .output
                case .postrouting: hook = .postrouting
                default: hook = nil
                }
                if b != nil && hook == nil {
                    notes.append(NFCompileNote(file: rs.file, line: c.line, text: "chain \(c.name)", what: "\(table.family.rawValue) \(b!.hook.rawValue) hook is not on the modelled receive path"))
                }
                if table.family == .bridge || table.family == .netdev {
                    notes.append(NFCompileNote(file: rs.file, line: c.line, text: "chain \(c.name)", what: "\(table.family.rawValue) family chains are noted, not evaluated"))
                }
                let idx = addChain(CChain(name: c.name, table: tname, family: table.family, firstRule: 0, ruleCount: 0, isNft: true,
                                          isBase: b != nil && hook != nil && table.family != .bridge && table.family != .netdev,
                                          hook: hook ?? .input, priority: b?.priority ?? 0, policyDrop: b?.policy == .drop,
                                          isNat: b?.type == .nat, file: rs.file, line: c.line))
                chainIndex[c.name] = idx
            }
            for s in table.sets {
                let store = NFSetStore(name: s.name, parts: max(1, s.keyTypes.count))
                store.isDynamic = s.flags.contains("dynamic")
                for e in s.elements { addElement(e, to: store, chains: chainIndex) }
                store.finish()
                sets.append(store)
                setIndex[s.name] = sets.count - 1
            }
            for c in table.chains {
                let ci = chainIndex[c.name]!
                chains[ci].firstRule = rules.count
                for rule in c.rules {
                    ruleInfo.append(NFRuleInfo(table: tname, chain: c.name, position: rule.position, handle: rule.handle,
                                               text: rule.text, file: rule.file, line: rule.line, isNft: true))
                    let first = ops.count
                    if rule.isUnsupported {
                        emit(.never)
                        notes.append(NFCompileNote(file: rule.file, line: rule.line, text: rule.text, what: "unsupported construct: rule never matches"))
                    } else {
                        do {
                            for st in rule.statements {
                                try compileStatement(st, family: table.family, sets: setIndex, chains: chainIndex)
                            }
                        } catch let e as NftUnsupportedHere {
                            ops.removeSubrange(first...)
                            emit(.never)
                            notes.append(NFCompileNote(file: rule.file, line: rule.line, text: rule.text, what: e.what))
                        } catch {
                            ops.removeSubrange(first...)
                            emit(.never)
                        }
                    }
                    rules.append(CRule(first: Int32(first), count: Int32(ops.count - first), chain: Int32(ci), info: Int32(ruleInfo.count - 1)))
                }
                chains[ci].ruleCount = rules.count - chains[ci].firstRule
            }
        }
    }

    func addElement(_ e: NftSetElement, to store: NFSetStore, chains: [String: Int]) {
        var value: MapValue = .none
        if let v = e.value {
            switch v {
            case .verdict(let vd): value = .verdict(verdictCode(vd, chains) ?? .continue)
            case .integer(let n): value = .value(NFValue(n))
            case .address(let a): value = .nat(NFValue(a), nil)
            case .concat(let parts) where parts.count == 2:
                if case .address(let a) = parts[0], case .integer(let p) = parts[1] { value = .nat(NFValue(a), UInt16(truncatingIfNeeded: p)) }
            default: break
            }
        }
        store.values.append(value)
        let vi = Int32(store.values.count - 1)
        if case .wildcard = e.key { store.hasCatchAll = vi; return }
        var los: [NFValue] = [], his: [NFValue] = []
        let parts: [NftExpr]
        if case .concat(let p) = e.key { parts = p } else { parts = [e.key] }
        for p in parts {
            guard let (lo, hi) = bounds(p) else { return }
            los.append(lo); his.append(hi)
        }
        if los == his {
            var k = SetKey()
            for (i, v) in los.enumerated() where i < 4 { k[i] = v }
            store.exact.insert(k, vi)
        } else if los.count == 1 {
            store.intervals.append((los[0], his[0], vi))
        } else {
            store.rangedConcat.append((los, his, vi))
        }
    }

    func bounds(_ e: NftExpr) -> (NFValue, NFValue)? {
        switch e {
        case .integer(let n): return (NFValue(n), NFValue(n))
        case .address(let a): return (NFValue(a), NFValue(a))
        case .prefix(let p):
            let w = p.address.isV4 ? 32 : 128
            let m = NFValue.prefixMask(p.length, width: w)
            let lo = NFValue(p.address).and(m)
            let full = w == 32 ? NFValue(0xFFFF_FFFF) : NFValue(high: .max, low: .max)
            return (lo, lo.or(full.xor(m)))
        case .range(let a, let b):
            guard let x = bounds(a), let y = bounds(b) else { return nil }
            return (x.0, y.1)
        case .string(let s): let v = NFValue(IfName(s)); return (v, v)
        case .mac(let m): return (NFValue(m.value), NFValue(m.value))
        case .boolean(let b): return (NFValue(b ? 1 : 0), NFValue(b ? 1 : 0))
        default: return nil
        }
    }

    func verdictCode(_ v: NftVerdict, _ chains: [String: Int]) -> VerdictCode? {
        switch v {
        case .accept: return .accept
        case .drop: return .drop
        case .continue: return .continue
        case .return: return .return
        case .queue: return .queue(bypass: false)
        case .jump(let c): return chains[c].map { .jump($0) }
        case .goto(let c): return chains[c].map { .goto($0) }
        }
    }

    /// A load for an nft expression, its bit width and implicit dependency.
    func load(_ e: NftExpr, family: NftFamily) throws -> (Load, Int, Dep, mask: NFValue?) {
        switch e {
        case .payload(let f):
            var dep: Dep = .none
            switch f.dependency {
            case .l4proto(let p)?: dep = .l4(p)
            case .transportHeader?: dep = .transport
            case .network(let v6)?: dep = .nfproto(v6 ? .ipv6 : .ipv4)
            default: break
            }
            if f.header == "ip" || f.header == "ip6" {
                if family == .inet || family == .bridge || family == .netdev { dep = .nfproto(f.header == "ip6" ? .ipv6 : .ipv4) }
                if f.field == "saddr" { return (.saddr, f.header == "ip" ? 32 : 128, dep, nil) }
                if f.field == "daddr" { return (.daddr, f.header == "ip" ? 32 : 128, dep, nil) }
            }
            if (f.header == "icmp" || f.header == "icmpv6") && dep == .none { dep = .l4(f.header == "icmp" ? 1 : 58) }
            let base: UInt8
            switch f.base { case .link: base = 0; case .network: base = 1; case .transport: base = 2; case .inner: throw NftUnsupportedHere(what: "inner payload") }
            if f.lengthBits > 64 {
                guard f.lengthBits == 128, f.offsetBits % 8 == 0 else { throw NftUnsupportedHere(what: "payload field wider than 64 bits") }
                return (.payload(base: base, bitOffset: f.offsetBits, bits: 128), 128, dep, nil)
            }
            return (.payload(base: base, bitOffset: f.offsetBits, bits: f.lengthBits), f.lengthBits, dep, nil)
        case .rawPayload(let b, let off, let len):
            guard len <= 64 else { throw NftUnsupportedHere(what: "raw payload wider than 64 bits") }
            let base: UInt8 = b == .link ? 0 : (b == .network ? 1 : 2)
            return (.payload(base: base, bitOffset: off, bits: len), len, .none, nil)
        case .meta(let k):
            switch k {
            case .l4proto: return (.l4proto, 8, .none, nil)
            case .nfproto: return (.nfproto, 8, .none, nil)
            case .protocol: return (.etherProto, 16, .none, nil)
            case .iif: return (.iif, 32, .none, nil)
            case .oif: return (.oif, 32, .none, nil)
            case .iifname: return (.iifName, 128, .none, nil)
            case .oifname: return (.oifName, 128, .none, nil)
            case .mark: return (.mark, 32, .none, nil)
            case .pkttype: return (.pktType, 8, .none, nil)
            case .length: return (.length, 32, .none, nil)
            case .iiftype: return (.iifType, 16, .none, nil)
            case .oiftype: return (.oifType, 16, .none, nil)
            case .skuid, .skgid: throw NftUnsupportedHere(what: "meta \(k.rawValue): no socket owner on the receive path")
            case .random: return (.random, 32, .none, nil)
            default: throw NftUnsupportedHere(what: "meta \(k.rawValue) is not modelled")
            }
        case .ct(let key, let dir):
            usesConntrack = true
            let reply = dir == "reply"
            switch key {
            case "state": return (.ctState, 32, .none, nil)
            case "status": return (.ctStatus, 32, .none, nil)
            case "mark": return (.ctMark, 32, .none, nil)
            case "direction": return (.ctDirection, 8, .none, nil)
            case "l3proto": return (.ctL3proto, 8, .none, nil)
            case "protocol": return (.ctProto, 8, .none, nil)
            case "expiration": return (.ctExpiration, 32, .none, nil)
            case "saddr", "ip saddr", "ip6 saddr": return (.ctSaddr(reply: reply), 128, .none, nil)
            case "daddr", "ip daddr", "ip6 daddr": return (.ctDaddr(reply: reply), 128, .none, nil)
            case "proto-src": return (.ctSport(reply: reply), 16, .none, nil)
            case "proto-dst": return (.ctDport(reply: reply), 16, .none, nil)
            default: throw NftUnsupportedHere(what: "ct \(key) is not modelled")
            }
        case .fib(let flags, let result):
            if result == "type" {
                if flags.contains("daddr") { return (.fibDaddrType, 32, .none, nil) }
                if flags.contains("saddr") { return (.fibSaddrType, 32, .none, nil) }
            }
            if result == "oif" || result == "oifname" {
                return (.fibOif(saddr: flags.contains("saddr"), iif: flags.contains("iif"), mark: flags.contains("mark")), 32, .none, nil)
            }
            throw NftUnsupportedHere(what: "fib \(flags.joined(separator: " . ")) \(result) is not modelled")
        case .numgen(let mode, let modulus, let offset):
            guard modulus > 0 else { throw NftUnsupportedHere(what: "numgen with modulus 0") }
            switch mode {
            case "inc":
                // The kernel starts the counter at modulus-1, so the first packet gets 0.
                numgenCounters.append(modulus - 1)
                return (.numgen(random: false, modulus: modulus, offset: offset, slot: Int32(numgenCounters.count - 1)), 32, .none, nil)
            case "random":
                return (.numgen(random: true, modulus: modulus, offset: offset, slot: -1), 32, .none, nil)
            default:
                throw NftUnsupportedHere(what: "numgen \(mode) is not modelled")
            }
        case .binary(.and, let l, let r):
            let (ld, w, dep, _) = try load(l, family: family)
            guard let (m, _) = bounds(r) ?? flagsValue(r) else { throw NftUnsupportedHere(what: "non-constant mask") }
            return (ld, w, dep, m)
        default:
            throw NftUnsupportedHere(what: "expression \(e) is not modelled as a value source")
        }
    }

    func flagsValue(_ e: NftExpr) -> (NFValue, NFValue)? {
        if case .flags(let items) = e {
            var v = NFValue.zero
            for i in items { guard let (x, _) = bounds(i) else { return nil }; v = v.or(x) }
            return (v, v)
        }
        return nil
    }

    func fullMask(_ w: Int) -> NFValue { w >= 128 ? NFValue(high: .max, low: .max) : (w >= 64 ? NFValue(.max) : NFValue((1 << UInt64(w)) - 1)) }

    func compileMatch(_ m: NftMatch, family: NftFamily, sets: [String: Int], chains: [String: Int]) throws {
        // Concatenated keys only go into set lookups.
        if case .concat(let parts) = m.left {
            var loads: [Load] = []
            var dep: Dep = .none
            for p in parts { let (l, _, d, _) = try load(p, family: family); loads.append(l); if dep == .none { dep = d } }
            let si = try setFor(m.right, sets: sets, chains: chains)
            emit(.set(keys: loadList(loads), set: Int32(si), negated: m.op == .ne, dep: dep))
            return
        }
        var (ld, width, dep, mask) = try load(m.left, family: family)
        // `iif "eth0"`: interface given by name.
        if case .string = m.right, ld == .iif { ld = .iifName; width = 128 }
        if case .string = m.right, ld == .oif { ld = .oifName; width = 128 }
        if case .stringPrefix = m.right, ld == .iif { ld = .iifName; width = 128 }
        if case .stringPrefix = m.right, ld == .oif { ld = .oifName; width = 128 }
        let fm = mask ?? fullMask(width)
        let isBitmask: Bool
        switch ld { case .ctState, .ctStatus, .tcpFlags: isBitmask = true; default: isBitmask = false }
        switch m.right {
        case .anonymousSet, .setReference:
            let si = try setFor(m.right, sets: sets, chains: chains)
            if mask != nil { throw NftUnsupportedHere(what: "masked set lookup") }
            emit(.set(keys: loadList([ld]), set: Int32(si), negated: m.op == .ne, dep: dep))
        case .range(let a, let b):
            guard let (lo, _) = bounds(a), let (_, hi) = bounds(b) else { throw NftUnsupportedHere(what: "range bounds") }
            emit(.range(ld, lo, hi, negated: m.op == .ne, dep: dep))
        case .prefix(let p):
            let w = p.address.isV4 ? 32 : 128
            let pm = NFValue.prefixMask(p.length, width: w)
            emit(.cmp(ld, m.op == .ne ? .ne : .eq, NFValue(p.address).and(pm), mask: pm, dep: dep))
        case .stringPrefix(let s):
            let pm = NFValue(IfName.prefixMask(s.utf8.count))
            emit(.cmp(ld, m.op == .ne ? .ne : .eq, NFValue(IfName(s)).and(pm), mask: pm, dep: dep))
        default:
            guard let (v, _) = bounds(m.right) ?? flagsValue(m.right) else {
                throw NftUnsupportedHere(what: "value \(m.right) is not modelled")
            }
            let op: CmpOp
            switch m.op {
            case .implicit: op = isBitmask ? .bitsAny : .eq
            case .eq: op = (isBitmask && mask == nil && (ld == .ctState || ld == .ctStatus)) ? .eq : .eq
            case .ne: op = .ne
            case .lt: op = .lt
            case .gt: op = .gt
            case .le: op = .le
            case .ge: op = .ge
            }
            // `ct state established,related` style flag lists test any bit.
            if case .flags = m.right, m.op == .implicit { emit(.cmp(ld, .bitsAny, v, mask: fm, dep: dep)); return }
            // `tcp flags & (syn|ack) == syn`: masked equality.
            emit(.cmp(ld, op, v, mask: fm, dep: dep))
        }
    }

    func setFor(_ e: NftExpr, sets: [String: Int], chains: [String: Int]) throws -> Int {
        switch e {
        case .setReference(let n):
            guard let i = sets[n] else { throw NftUnsupportedHere(what: "unknown set @\(n)") }
            return i
        case .anonymousSet(let elems):
            let parts: Int
            if case .concat(let p)? = elems.first?.key { parts = p.count } else { parts = 1 }
            let store = NFSetStore(name: "{anonymous}", parts: parts)
            for el in elems { addElement(el, to: store, chains: chains) }
            store.finish()
            self.sets.append(store)
            return self.sets.count - 1
        default:
            throw NftUnsupportedHere(what: "not a set: \(e)")
        }
    }

    func compileStatement(_ st: NftStatement, family: NftFamily, sets: [String: Int], chains: [String: Int]) throws {
        switch st {
        case .match(let m): try compileMatch(m, family: family, sets: sets, chains: chains)
        case .verdict(let v):
            guard let c = verdictCode(v, chains) else { throw NftUnsupportedHere(what: "verdict to an unknown chain") }
            emit(.verdict(c))
        case .counter, .counterReference: emit(.counter)
        case .limit(let l):
            buckets.append(TokenBucket(rate: l.rate, per: l.per, burst: l.burst ?? (l.bytes ? 0 : 5), bytes: l.bytes))
            if l.burst == nil && !l.bytes { buckets[buckets.count - 1].burst = 5 }
            emit(.limit(bucket: buckets.count - 1, over: l.over))
        case .log: emit(.log)
        case .reject(let r):
            switch r {
            case .tcpReset: emit(.cmp(.l4proto, .eq, NFValue(6), mask: NFValue(0xFF), dep: .none)); emit(.reject(.tcpReset))
            case .icmp(let c): emit(.reject(.icmp(type: 3, code: c)))
            case .icmpv6(let c): emit(.reject(.icmpv6(type: 1, code: c)))
            case .icmpx(let c): emit(.reject(.icmpx(code: c)))
            }
            emit(.verdict(.drop))
        case .nat(let n):
            usesConntrack = true
            let kind: NATKind
            switch n.kind { case .snat: kind = .snat; case .dnat: kind = .dnat; case .masquerade: kind = .masquerade; case .redirect: kind = .redirect }
            var spec = NATSpec(kind: kind, addrLow: nil, addrHigh: nil, v6: n.family == "ip6" || family == .ip6, portLow: nil, portHigh: nil,
                               mapKeys: [], mapSet: -1, random: n.flags.contains("random") || n.flags.contains("fully-random"),
                               persistent: n.flags.contains("persistent"))
            if let a = n.address {
                if case .map(let key, let mapping) = a {
                    let (l, _, _, _) = try load(key, family: family)
                    spec.mapKeys = [l]
                    spec.mapSet = try setFor(mapping, sets: sets, chains: chains)
                } else {
                    guard let (lo, hi) = bounds(a) else { throw NftUnsupportedHere(what: "NAT address \(a)") }
                    spec.addrLow = lo; spec.addrHigh = hi
                    if case .address(let x) = a { spec.v6 = !x.isV4 }
                    if case .range(.address(let x), _) = a { spec.v6 = !x.isV4 }
                }
            }
            if let p = n.port {
                guard let (lo, hi) = bounds(p) else { throw NftUnsupportedHere(what: "NAT port \(p)") }
                spec.portLow = UInt16(truncatingIfNeeded: lo.low); spec.portHigh = UInt16(truncatingIfNeeded: hi.low)
            }
            nats.append(spec)
            emit(.nat(nats.count - 1))
            emit(.verdict(.accept))
        case .set(let target, let value):
            switch target {
            case .meta(.mark):
                if let (v, _) = bounds(value) { emit(.setMark(value: UInt32(truncatingIfNeeded: v.low), mask: .max)) }
                else { let (l, _, _, _) = try load(value, family: family); emit(.setMarkLoad(l)) }
            case .meta(.nftrace): emit(.nftrace)
            case .ct(key: "mark", _):
                usesConntrack = true
                if let (v, _) = bounds(value) { emit(.connmarkSet(value: UInt32(truncatingIfNeeded: v.low), mask: .max)) }
                else { let (l, _, _, _) = try load(value, family: family); emit(.ctMarkLoad(l)) }
            default:
                // Header mangling (`ip dscp set`, `tcp option maxseg size set`): noted, not rewritten.
                emit(.log)
            }
        case .setUpdate(let u):
            guard let si = sets[u.set] else { throw NftUnsupportedHere(what: "unknown set @\(u.set)") }
            var loads: [Load] = []
            let parts: [NftExpr]
            if case .concat(let p) = u.key { parts = p } else { parts = [u.key] }
            for p in parts { let (l, _, _, _) = try load(p, family: family); loads.append(l) }
            emit(.setAdd(set: Int32(si), keys: loadList(loads)))
        case .notrack: usesConntrack = true; emit(.notrack)
        case .vmap(let key, let mapping):
            var loads: [Load] = []
            let parts: [NftExpr]
            if case .concat(let p) = key { parts = p } else { parts = [key] }
            for p in parts { let (l, _, _, _) = try load(p, family: family); loads.append(l) }
            let si = try setFor(mapping, sets: sets, chains: chains)
            emit(.vmap(keys: loadList(loads), set: Int32(si)))
        case .queue(let q): emit(.verdict(.queue(bypass: q.flags.contains("bypass"))))
        case .quota, .ctCount, .flowOffload, .objectReference, .unsupported:
            throw NftUnsupportedHere(what: "statement \(st) is not modelled")
        }
    }
}
