// The nft JSON reader as it was before `JSONDocument`: Foundation's JSONSerialization and
// `as?` casts on the NSDictionary/NSArray tree it builds. Kept here, unchanged but for its
// names, as the reference that `NftJSONEquivalenceTests` holds the byte-level reader to.
import Foundation
import RxrayDecode
@testable import RxrayRules

enum FoundationNftJSONParser {
    static func parse(_ data: Data, file: String, companion: NftRuleset? = nil) throws -> NftRuleset {
        let root: Any
        do {
            root = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw InputError(file: file, "not valid JSON: \(error.localizedDescription)")
        }
        guard let top = root as? [String: Any], let items = top["nftables"] as? [Any] else {
            throw InputError(file: file, "expected an object with an \"nftables\" array (nft -j list ruleset)")
        }
        var p = FoundationNftJSONReader(file: file)
        for (k, item) in items.enumerated() {
            guard let obj = item as? [String: Any], obj.count == 1, let (kind, body) = obj.first else {
                throw InputError(file: file, line: k + 1, "item \(k + 1): expected an object with one key")
            }
            try p.item(kind, body, index: k + 1)
        }
        var rs = p.result
        for ti in rs.tables.indices {
            for ci in rs.tables[ti].chains.indices {
                for ri in rs.tables[ti].chains[ci].rules.indices { rs.tables[ti].chains[ci].rules[ri].position = ri + 1 }
            }
        }
        if let companion { NftJSONParser.borrowText(&rs, from: companion) }
        return rs
    }
}

private struct FoundationJSONUnsupported: Error { var construct: String }

struct FoundationNftJSONReader {
    let file: String
    var result: NftRuleset
    var line = 0
    /// Chain name → index, one map per table of `result.tables` (same order).
    var chainMaps: [[String: Int]] = []

    init(file: String) { self.file = file; result = NftRuleset(file: file) }

    func err(_ m: String) -> InputError { InputError(file: file, line: line, "nftables item \(line): \(m)") }

    func str(_ o: [String: Any], _ k: String) throws -> String {
        guard let v = o[k] as? String else { throw err("expected string \"\(k)\"") }
        return v
    }

    mutating func tableIndex(_ o: [String: Any]) throws -> Int {
        let famText = try str(o, "family")
        guard let fam = NftFamily(rawValue: famText) else { throw err("unknown family \(famText)") }
        let name = try str(o, "table")
        if let k = result.tables.firstIndex(where: { $0.family == fam && $0.name == name }) { return k }
        throw err("table \(famText) \(name) is not declared before use")
    }

    mutating func item(_ kind: String, _ body: Any, index: Int) throws {
        line = index
        guard let o = body as? [String: Any] else { throw err("expected an object for \(kind)") }
        switch kind {
        case "metainfo": return
        case "table":
            let famText = try str(o, "family")
            guard let fam = NftFamily(rawValue: famText) else { throw err("unknown family \(famText)") }
            var t = NftTable(family: fam, name: try str(o, "name"), line: index)
            t.handle = (o["handle"] as? NSNumber)?.uint64Value
            if let f = o["flags"] as? [String] { t.flags = f } else if let f = o["flags"] as? String { t.flags = [f] }
            t.comment = o["comment"] as? String
            result.tables.append(t)
            chainMaps.append([:])
        case "chain":
            var o2 = o; o2["table"] = o["table"]
            let ti = try tableIndex(o2)
            var c = NftChain(name: try str(o, "name"), line: index)
            c.handle = (o["handle"] as? NSNumber)?.uint64Value
            c.comment = o["comment"] as? String
            if let type = o["type"] as? String, let hook = o["hook"] as? String {
                guard let ct = NftChainType(rawValue: type) else { throw err("unknown chain type \(type)") }
                guard let h = NftHook(rawValue: hook) else { throw err("unknown hook \(hook)") }
                let prio = (o["prio"] as? NSNumber)?.intValue ?? 0
                var b = NftBaseChain(type: ct, hook: h, priority: prio, priorityText: "\(prio)")
                if let p = o["policy"] as? String { guard let pol = NftPolicy(rawValue: p) else { throw err("bad policy \(p)") }; b.policy = pol }
                if let d = o["dev"] as? String { b.devices = [d] } else if let d = o["dev"] as? [String] { b.devices = d }
                c.base = b
            }
            if chainMaps[ti][c.name] == nil { chainMaps[ti][c.name] = result.tables[ti].chains.count }
            result.tables[ti].chains.append(c)
        case "set", "map":
            let ti = try tableIndex(o)
            var s = NftSet(name: try str(o, "name"), line: index, isMap: kind == "map")
            s.handle = (o["handle"] as? NSNumber)?.uint64Value
            // Concatenated types come as an array, or (typeof sets in 1.0.6) as one "a . b" string.
            func typeList(_ v: Any?) -> [String] {
                (v as? [String]) ?? ((v as? String).map { $0.split(separator: " ").filter { $0 != "." }.map(String.init) } ?? [])
            }
            let types = typeList(o["type"])
            s.keyTypes = types.map { NftDatatype(setTypeName: $0) ?? .integer }
            s.keyText = types.joined(separator: " . ")
            if kind == "map" {
                let vt = typeList(o["map"])
                s.valueTypes = vt.map { NftDatatype(setTypeName: $0) ?? .integer }
                s.valueType = s.valueTypes.first
                s.valueText = vt.joined(separator: " . ")
            }
            if let f = o["flags"] as? [String] { s.flags = f } else if let f = o["flags"] as? String { s.flags = [f] }
            s.timeoutSeconds = (o["timeout"] as? NSNumber)?.doubleValue
            s.gcIntervalSeconds = (o["gc-interval"] as? NSNumber)?.doubleValue
            s.size = (o["size"] as? NSNumber)?.uint32Value
            s.policy = o["policy"] as? String
            s.comment = o["comment"] as? String
            if let elems = o["elem"] as? [Any] {
                for e in elems {
                    do { s.elements.append(try element(e, keyTypes: s.keyTypes, valueTypes: s.valueTypes, isMap: s.isMap)) } catch let u as FoundationJSONUnsupported {
                        result.unsupported.append(UnsupportedConstruct(file: file, line: index, construct: u.construct, ruleText: "\(kind) \(s.name)"))
                    }
                }
            }
            result.tables[ti].sets.append(s)
        case "flowtable":
            let ti = try tableIndex(o)
            var f = NftFlowtable(name: try str(o, "name"), line: index)
            f.hook = o["hook"] as? String ?? "ingress"
            f.priority = (o["prio"] as? NSNumber)?.intValue ?? 0
            if let d = o["dev"] as? [String] { f.devices = d } else if let d = o["dev"] as? String { f.devices = [d] }
            result.tables[ti].flowtables.append(f)
        case "counter", "quota", "limit", "ct helper", "ct timeout", "ct expectation", "secmark", "synproxy":
            let ti = try tableIndex(o)
            var obj = NftObject(kind: kind, name: try str(o, "name"), line: index, body: [])
            if kind == "counter" { obj.counter = Counters(packets: (o["packets"] as? NSNumber)?.uint64Value ?? 0, bytes: (o["bytes"] as? NSNumber)?.uint64Value ?? 0) }
            if kind == "quota" {
                obj.quota = NftQuota(bytes: (o["bytes"] as? NSNumber)?.uint64Value ?? 0, used: (o["used"] as? NSNumber)?.uint64Value ?? 0, over: o["inv"] as? Bool ?? false)
            }
            obj.body = o.keys.sorted().filter { !["family", "table", "name", "handle"].contains($0) }.map { "\($0) \(o[$0]!)" }
            result.tables[ti].objects.append(obj)
        case "rule":
            let ti = try tableIndex(o)
            let chainName = try str(o, "chain")
            guard let ci = chainMaps[ti][chainName] else { throw err("chain \(chainName) is not declared before its rules") }
            guard let exprs = o["expr"] as? [Any] else { throw err("rule without \"expr\"") }
            var stmts: [NftStatement] = []
            var unsupported: [String] = []
            for e in exprs {
                do { stmts.append(try statement(e, family: result.tables[ti].family)) } catch let u as FoundationJSONUnsupported {
                    unsupported.append(u.construct); stmts.append(.unsupported(u.construct))
                }
            }
            let comment = o["comment"] as? String
            var text = stmts.map(\.description).joined(separator: " ")
            if let c = comment { text += " comment \"\(c)\"" }
            // Only the names: a copy of the table would make the append below copy every chain.
            let (family, tableName) = (result.tables[ti].family, result.tables[ti].name)
            let r = NftRule(family: family, table: tableName, chain: chainName, position: 0, handle: (o["handle"] as? NSNumber)?.uint64Value,
                            file: file, line: index, text: text, statements: stmts, comment: comment, isUnsupported: !unsupported.isEmpty)
            for u in unsupported { result.unsupported.append(UnsupportedConstruct(file: file, line: index, construct: u, ruleText: text)) }
            result.tables[ti].chains[ci].rules.append(r)
        default:
            result.unsupported.append(UnsupportedConstruct(file: file, line: index, construct: "object \(kind)", ruleText: kind))
        }
    }

    // MARK: elements and values

    func element(_ e: Any, keyTypes: [NftDatatype], valueTypes: [NftDatatype], isMap: Bool) throws -> NftSetElement {
        var keyJSON = e
        var valueJSON: Any?
        if isMap, let pair = e as? [Any], pair.count == 2 { keyJSON = pair[0]; valueJSON = pair[1] }
        var attrs: [String: Any] = [:]
        if let o = keyJSON as? [String: Any], let inner = o["elem"] as? [String: Any] {
            attrs = inner
            keyJSON = inner["val"] ?? NSNull()
        }
        var el = NftSetElement(key: try value(keyJSON, types: keyTypes))
        if let v = valueJSON {
            if valueTypes.first == .verdict || valueTypes.isEmpty, let vd = try? verdict(v) { el.value = .verdict(vd) } else { el.value = try value(v, types: valueTypes) }
        }
        el.timeoutSeconds = (attrs["timeout"] as? NSNumber)?.doubleValue
        el.expiresSeconds = (attrs["expires"] as? NSNumber)?.doubleValue
        if let c = attrs["counter"] as? [String: Any] {
            el.counter = Counters(packets: (c["packets"] as? NSNumber)?.uint64Value ?? 0, bytes: (c["bytes"] as? NSNumber)?.uint64Value ?? 0)
        }
        el.comment = attrs["comment"] as? String
        return el
    }

    func verdict(_ v: Any) throws -> NftVerdict {
        guard let o = v as? [String: Any], let (k, body) = o.first, o.count == 1 else { throw FoundationJSONUnsupported(construct: "verdict \(v)") }
        switch k {
        case "accept": return .accept
        case "drop": return .drop
        case "continue": return .continue
        case "return": return .return
        case "queue": return .queue
        case "jump", "goto":
            guard let t = (body as? [String: Any])?["target"] as? String else { throw err("\(k) without target") }
            return k == "jump" ? .jump(t) : .goto(t)
        default: throw FoundationJSONUnsupported(construct: "verdict \(k)")
        }
    }

    /// A right-hand value typed by `types` (one per concatenated part).
    func value(_ v: Any, types: [NftDatatype]) throws -> NftExpr {
        let type = types.first ?? .integer
        if let n = v as? NSNumber {
            if type == .boolean || String(cString: n.objCType) == "c" { return .boolean(n.boolValue) }
            return .integer(n.uint64Value)
        }
        if let b = v as? Bool { return .boolean(b) }
        if let s = v as? String {
            if s.hasPrefix("@") { return .setReference(String(s.dropFirst())) }
            if s == "*" { return .wildcard }
            let quoted = type == .ifname || type == .ifindex || type == .string
            if let r = NftValues.value(s, type, quoted: quoted) { return r }
            if let g = NftValues.guess(s) { return g }
            throw FoundationJSONUnsupported(construct: "value '\(s)' for \(type.rawValue)")
        }
        if let arr = v as? [Any] {
            // A list of flags (`["established", "related"]`): their OR.
            var acc: UInt64 = 0
            var items: [NftExpr] = []
            for x in arr { items.append(try value(x, types: types)) }
            for it in items { guard case .integer(let n) = it else { return .flags(items) }; acc |= n }
            return .integer(acc)
        }
        guard let o = v as? [String: Any], o.count == 1, let (k, body) = o.first else { throw err("unexpected value \(v)") }
        switch k {
        case "prefix":
            guard let p = body as? [String: Any], let a = p["addr"] as? String, let l = (p["len"] as? NSNumber)?.intValue,
                  let addr = IPAddress(a) else { throw err("bad prefix \(body)") }
            return .prefix(IPPrefix(address: addr, length: l))
        case "range":
            guard let r = body as? [Any], r.count == 2 else { throw err("bad range \(body)") }
            return .range(try value(r[0], types: types), try value(r[1], types: types))
        case "concat":
            guard let parts = body as? [Any] else { throw err("bad concat") }
            return .concat(try parts.enumerated().map { k, p in try value(p, types: [k < types.count ? types[k] : (types.last ?? .integer)]) })
        case "set":
            let els: [Any] = (body as? [Any]) ?? [body]
            return .anonymousSet(try els.map { try element($0, keyTypes: types, valueTypes: [], isMap: false) })
        case "elem":
            return try element(v, keyTypes: types, valueTypes: [], isMap: false).key
        case "&", "|", "^", "<<", ">>":
            guard let pair = body as? [Any], pair.count == 2 else { throw err("bad \(k)") }
            let l = try expr(pair[0], valueTypes: types)
            return .binary(NftBinaryOp(rawValue: k)!, l, try value(pair[1], types: [l.datatype]))
        default:
            if let vd = try? verdict(v) { return .verdict(vd) }
            return try expr(v, valueTypes: types)
        }
    }

    /// A left-hand expression (payload, meta, ct, ...); literals are read with `valueTypes`.
    func expr(_ v: Any, valueTypes: [NftDatatype] = [.integer]) throws -> NftExpr {
        guard let o = v as? [String: Any], o.count == 1, let (k, body) = o.first else { return try value(v, types: valueTypes) }
        let b = body as? [String: Any] ?? [:]
        switch k {
        case "payload":
            if let proto = b["protocol"] as? String, let field = b["field"] as? String {
                guard let f = NftPayloadTable.field(proto, field) else { throw FoundationJSONUnsupported(construct: "\(proto) \(field)") }
                return .payload(f)
            }
            guard let base = b["base"] as? String, let off = (b["offset"] as? NSNumber)?.intValue, let len = (b["len"] as? NSNumber)?.intValue else { throw err("bad payload") }
            let bases: [String: NftPayloadBase] = ["ll": .link, "nh": .network, "th": .transport, "ih": .inner]
            guard let pb = bases[base] else { throw err("bad payload base \(base)") }
            return .rawPayload(base: pb, offsetBits: off, lengthBits: len)
        case "meta":
            let key = try str(b, "key")
            guard let mk = NftMetaKey(rawValue: key) else { throw FoundationJSONUnsupported(construct: "meta \(key)") }
            return .meta(mk)
        case "ct":
            let key = try str(b, "key")
            var k2 = key
            if let fam = b["family"] as? String { k2 = "\(fam) \(key)" }
            return .ct(key: k2, direction: b["dir"] as? String)
        case "fib":
            let flags = (b["flags"] as? [String]) ?? ((b["flags"] as? String).map { [$0] } ?? [])
            return .fib(flags: flags, result: try str(b, "result"))
        case "rt":
            return .rt(key: try str(b, "key"), family: b["family"] as? String)
        case "socket":
            return .socket(key: try str(b, "key"), level: (b["level"] as? NSNumber)?.intValue)
        case "numgen":
            return .numgen(mode: try str(b, "mode"), modulus: (b["mod"] as? NSNumber)?.uint32Value ?? 0, offset: (b["offset"] as? NSNumber)?.uint32Value ?? 0)
        case "jhash", "symhash":
            return .hash(kind: k, expr: try b["expr"].map { try expr($0) }, modulus: (b["mod"] as? NSNumber)?.uint32Value ?? 0,
                         seed: (b["seed"] as? NSNumber)?.uint32Value, offset: (b["offset"] as? NSNumber)?.uint32Value ?? 0)
        case "tcp option":
            return .exthdr(header: "tcp option \(try str(b, "name"))", field: b["field"] as? String)
        case "concat":
            guard let parts = body as? [Any] else { throw err("bad concat") }
            return .concat(try parts.map { try expr($0) })
        case "map":
            let key = try expr(b["key"] as Any)
            let data = b["data"] as Any
            if let s = data as? String, s.hasPrefix("@") { return .map(key: key, mapping: .setReference(String(s.dropFirst()))) }
            guard let d = data as? [String: Any], let els = d["set"] as? [Any] else { throw err("bad map data") }
            return .map(key: key, mapping: .anonymousSet(try els.map { try element($0, keyTypes: key.keyTypes, valueTypes: valueTypes, isMap: true) }))
        case "&", "|", "^", "<<", ">>":
            guard let pair = body as? [Any], pair.count == 2 else { throw err("bad \(k)") }
            let l = try expr(pair[0], valueTypes: valueTypes)
            return .binary(NftBinaryOp(rawValue: k)!, l, try value(pair[1], types: [l.datatype]))
        default:
            if ["prefix", "range", "set", "elem"].contains(k) { return try value(v, types: valueTypes) }
            throw FoundationJSONUnsupported(construct: k)
        }
    }

    // MARK: statements

    func statement(_ v: Any, family: NftFamily) throws -> NftStatement {
        if let text = v as? String {
            // nft 1.0.6 has no JSON form for some statements (map updates) and prints their text.
            let wrapped = "table \(family.rawValue) t {\n\tchain c {\n\t\t\(text)\n\t}\n}\n"
            guard let rs = try? NftParser.parse(wrapped, file: file), rs.unsupported.isEmpty,
                  let stmts = rs.tables.first?.chains.first?.rules.first?.statements, stmts.count == 1 else {
                throw FoundationJSONUnsupported(construct: text)
            }
            return stmts[0]
        }
        guard let o = v as? [String: Any], o.count == 1, let (k, body) = o.first else { throw err("expected a statement object") }
        let b = body as? [String: Any] ?? [:]
        switch k {
        case "match":
            let left = try expr(b["left"] as Any)
            let right = try value(b["right"] as Any, types: left.keyTypes)
            let opText = b["op"] as? String ?? "=="
            let op: NftRelOp
            switch opText {
            case "==": op = .eq
            case "in": op = NftTextParser.normalize(.implicit, left: left, right: right)
            default:
                guard let o = NftRelOp(rawValue: opText) else { throw FoundationJSONUnsupported(construct: "operator \(opText)") }
                op = o
            }
            return .match(NftMatch(left: left, op: op, right: right))
        case "accept", "drop", "continue", "return", "jump", "goto":
            return .verdict(try verdict(v))
        case "counter":
            if let name = body as? String { return .counterReference(name) }
            if body is NSNull { return .counter(nil) }
            return .counter(Counters(packets: (b["packets"] as? NSNumber)?.uint64Value ?? 0, bytes: (b["bytes"] as? NSNumber)?.uint64Value ?? 0))
        case "limit":
            let per = NftTextParser.ratePer(b["per"] as? String ?? "second") ?? 1
            let unit = b["rate_unit"] as? String
            let mult: UInt64 = ["kbytes": 1024, "mbytes": 1 << 20, "gbytes": 1 << 30][unit ?? ""] ?? 1
            let bytes = unit != nil && unit != "packets"
            let burstMult: UInt64 = ["kbytes": 1024, "mbytes": 1 << 20, "gbytes": 1 << 30][b["burst_unit"] as? String ?? ""] ?? 1
            return .limit(NftLimit(rate: ((b["rate"] as? NSNumber)?.uint64Value ?? 0) * mult, per: per, bytes: bytes,
                                   burst: ((b["burst"] as? NSNumber)?.uint64Value ?? (bytes ? 0 : 5)) * burstMult, over: b["inv"] as? Bool ?? false))
        case "quota":
            return .quota(NftQuota(bytes: (b["val"] as? NSNumber)?.uint64Value ?? 0, used: (b["used"] as? NSNumber)?.uint64Value ?? 0, over: b["inv"] as? Bool ?? false))
        case "log":
            var l = NftLog()
            l.prefix = b["prefix"] as? String
            l.level = b["level"] as? String
            l.group = (b["group"] as? NSNumber)?.uint16Value
            l.snaplen = (b["snaplen"] as? NSNumber)?.uint32Value
            l.queueThreshold = (b["queue-threshold"] as? NSNumber)?.uint32Value
            l.flags = (b["flags"] as? [String]) ?? ((b["flags"] as? String).map { [$0] } ?? [])
            return .log(l)
        case "reject":
            guard let type = b["type"] as? String else { return .reject(.familyDefault(family)) }
            if type == "tcp reset" { return .reject(.tcpReset) }
            let codeName = b["expr"] as? String ?? "port-unreachable"
            switch type {
            case "icmp": return .reject(.icmp(code: UInt8(truncatingIfNeeded: NftValues.icmpCodes[codeName] ?? 3)))
            case "icmpv6": return .reject(.icmpv6(code: UInt8(truncatingIfNeeded: NftValues.icmpv6Codes[codeName] ?? 4)))
            case "icmpx": return .reject(.icmpx(code: UInt8(truncatingIfNeeded: NftValues.icmpxCodes[codeName] ?? 1)))
            default: throw FoundationJSONUnsupported(construct: "reject type \(type)")
            }
        case "snat", "dnat", "masquerade", "redirect":
            var n = NftNat(kind: NftNat.Kind(rawValue: k)!)
            n.family = b["family"] as? String
            let at: NftDatatype = n.family == "ip6" ? .ipv6Addr : .ipv4Addr
            if let a = b["addr"] { n.address = try value(a, types: [at]) }
            if let p = b["port"] { n.port = try value(p, types: [.inetService]) }
            n.flags = (b["flags"] as? [String]) ?? ((b["flags"] as? String).map { [$0] } ?? [])
            if let tf = b["type_flags"] as? [String] { n.flags += tf } else if let tf = b["type_flags"] as? String { n.flags.append(tf) }
            // `prefix` (written) is printed in JSON as the netmap flag plus the prefix type flag.
            if n.flags.contains("prefix") { n.flags.removeAll { $0 == "netmap" } }
            return .nat(n)
        case "mangle":
            let key = try expr(b["key"] as Any)
            return .set(target: key, value: try expr(b["value"] as Any, valueTypes: [key.datatype]))
        case "notrack":
            return .notrack
        case "vmap":
            let key = try expr(b["key"] as Any)
            let data = b["data"] as Any
            if let s = data as? String, s.hasPrefix("@") { return .vmap(key: key, mapping: .setReference(String(s.dropFirst()))) }
            guard let d = data as? [String: Any], let els = d["set"] as? [Any] else { throw err("bad vmap data") }
            return .vmap(key: key, mapping: .anonymousSet(try els.map { try element($0, keyTypes: key.keyTypes, valueTypes: [.verdict], isMap: true) }))
        case "queue":
            var q = NftQueue()
            if let n = b["num"] { q.number = try expr(n) }
            q.flags = (b["flags"] as? [String]) ?? ((b["flags"] as? String).map { [$0] } ?? [])
            return .queue(q)
        case "set", "map":
            let op = try str(b, "op")
            let name = (b[k] as? String).map { $0.hasPrefix("@") ? String($0.dropFirst()) : $0 } ?? ""
            let key = try expr(b["elem"] as Any)
            var data: NftExpr?
            if let d = b["data"] { data = try expr(d) }
            let stmts = try ((b["stmt"] as? [Any]) ?? []).map { try statement($0, family: family) }
            let timeout = ((b["elem"] as? [String: Any])?["elem"] as? [String: Any])?["timeout"] as? NSNumber
            return .setUpdate(NftSetUpdate(op: op, set: name, key: key, value: data, timeoutSeconds: timeout?.doubleValue, statements: stmts))
        case "ct count":
            return .ctCount(count: (b["val"] as? NSNumber)?.uint32Value ?? 0, over: b["inv"] as? Bool ?? false)
        case "flow":
            return .flowOffload(((b["flowtable"] as? String) ?? "").replacingOccurrences(of: "@", with: ""))
        case "ct helper", "ct timeout", "ct expectation":
            guard let name = body as? String else { throw FoundationJSONUnsupported(construct: "\(k) set EXPRESSION map") }
            return .objectReference(kind: k, name: name)
        default:
            throw FoundationJSONUnsupported(construct: k)
        }
    }
}

