import Foundation
import RxrayDecode

/// Parses `nft -j list ruleset` (nftables 1.0.6, JSON schema version 1) into the same tree
/// as `NftParser`.
///
/// JSON carries no source text or lines. Each rule's `text` is rebuilt from the tree in nft
/// syntax (numbers where nft printed names) and its `line` is the 1-based index of its object
/// in the `nftables` array — unless a `companion` text parse of the same ruleset is given
/// (`nft-ruleset.txt` next to `nft-ruleset.json` in a snapshot): then each rule takes the
/// text, file and line of the rule at the same place (same handle when both have handles,
/// else the same position in a chain with as many rules).
public enum NftJSONParser {
    public static func parse(_ data: Data, file: String, companion: NftRuleset? = nil) throws -> NftRuleset {
        try parse(bytes: [UInt8](data), file: file, companion: companion)
    }

    public static func parse(_ text: String, file: String, companion: NftRuleset? = nil) throws -> NftRuleset {
        try parse(bytes: Array(text.utf8), file: file, companion: companion)
    }

    /// Reads the JSON with `JSONDocument` (a byte-level reader: a kube-proxy-sized listing of
    /// ~6 MB is read in well under a second), then walks it.
    public static func parse(bytes: [UInt8], file: String, companion: NftRuleset? = nil) throws -> NftRuleset {
        let doc = try JSONDocument(bytes: bytes, file: file)
        guard let items = doc.root["nftables"]?.array else {
            throw InputError(file: file, "expected an object with an \"nftables\" array (nft -j list ruleset)")
        }
        var p = NftJSONReader(file: file)
        var k = 0
        for item in items {
            k += 1
            guard let obj = item.object, obj.count == 1, let (kind, body) = obj.first else {
                throw InputError(file: file, line: k, "item \(k): expected an object with one key")
            }
            try p.item(kind, body, index: k)
        }
        var rs = p.result
        for ti in rs.tables.indices {
            for ci in rs.tables[ti].chains.indices {
                for ri in rs.tables[ti].chains[ci].rules.indices { rs.tables[ti].chains[ci].rules[ri].position = ri + 1 }
            }
        }
        if let companion { borrowText(&rs, from: companion) }
        return rs
    }

    public static func parse(contentsOf path: String, companion: NftRuleset? = nil) throws -> NftRuleset {
        guard let d = FileManager.default.contents(atPath: path) else { throw InputError(file: path, "cannot read file") }
        return try parse(d, file: path, companion: companion)
    }

    /// `rs` with each rule's text, file and line taken from the matching rule of a text parse of
    /// the same ruleset (as `parse(_:file:companion:)` does): parse the JSON once, borrow after.
    public static func borrowingText(_ rs: NftRuleset, from companion: NftRuleset) -> NftRuleset {
        var out = rs
        borrowText(&out, from: companion)
        return out
    }

    static func borrowText(_ rs: inout NftRuleset, from text: NftRuleset) {
        for ti in rs.tables.indices {
            guard let tt = text.table(rs.tables[ti].family, rs.tables[ti].name) else { continue }
            // First chain of each name, first rule of each handle (what a scan from the front finds).
            var textChains: [String: Int] = [:]
            for (k, c) in tt.chains.enumerated() where textChains[c.name] == nil { textChains[c.name] = k }
            for ci in rs.tables[ti].chains.indices {
                guard let tci = textChains[rs.tables[ti].chains[ci].name] else { continue }
                let tc = tt.chains[tci]
                let byHandle = tc.rules.allSatisfy { $0.handle != nil }
                var ruleByHandle: [UInt64: Int] = [:]
                if byHandle {
                    for (k, r) in tc.rules.enumerated() where ruleByHandle[r.handle!] == nil { ruleByHandle[r.handle!] = k }
                }
                let sameCount = tc.rules.count == rs.tables[ti].chains[ci].rules.count
                for ri in rs.tables[ti].chains[ci].rules.indices {
                    let match: Int?
                    if byHandle, let h = rs.tables[ti].chains[ci].rules[ri].handle { match = ruleByHandle[h] } else if sameCount {
                        match = ri
                    } else { match = nil }
                    if let m = match {
                        let r = tc.rules[m]
                        rs.tables[ti].chains[ci].rules[ri].text = r.text
                        rs.tables[ti].chains[ci].rules[ri].file = r.file
                        rs.tables[ti].chains[ci].rules[ri].line = r.line
                    }
                }
            }
        }
    }
}

private struct JSONUnsupported: Error { var construct: String }

/// A member that JSON may give as one string or as an array of strings (`flags`, `dev`).
private func stringOrStrings(_ v: JSONValue?) -> [String]? {
    guard let v else { return nil }
    if let a = v.strings { return a }
    return v.string.map { [$0] }
}

/// How a value prints in messages and in `NftObject.body`: the way the values Foundation's
/// JSONSerialization made print (`<null>`, booleans as 1 and 0, strings bare at the top and
/// quoted inside containers), members in written order.
func jsonAnyDescription(_ v: JSONValue?, nested: Bool = false) -> String {
    guard let v else { return "nil" }
    switch v.kind {
    case .null: return "<null>"
    case .bool: return v.bool == true ? "1" : "0"
    case .number:
        switch v.number! {
        case .int(let n): return String(n)
        case .uint(let n): return String(n)
        case .double(let d): return "\(d)"
        case .bool(let b): return b ? "1" : "0"
        }
    case .string:
        let s = v.string!
        return nested ? s.debugDescription : s
    case .array:
        return "[" + v.array!.map { jsonAnyDescription($0, nested: true) }.joined(separator: ", ") + "]"
    case .object:
        let o = v.object!
        if o.isEmpty { return "[:]" }
        return "[" + o.map { "\($0.key.debugDescription): \(jsonAnyDescription($0.value, nested: true))" }.joined(separator: ", ") + "]"
    }
}

struct NftJSONReader {
    let file: String
    var result: NftRuleset
    var line = 0
    /// Chain name → index, one map per table of `result.tables` (same order).
    var chainMaps: [[String: Int]] = []
    /// (family, name) → index in `result.tables`.
    var tableMap: [NftFamily: [String: Int]] = [:]

    init(file: String) { self.file = file; result = NftRuleset(file: file) }

    func err(_ m: String) -> InputError { InputError(file: file, line: line, "nftables item \(line): \(m)") }

    func str(_ o: JSONValue?, _ k: String) throws -> String {
        guard let v = o?[k]?.string else { throw err("expected string \"\(k)\"") }
        return v
    }

    mutating func tableIndex(_ o: JSONValue) throws -> Int {
        let famText = try str(o, "family")
        guard let fam = NftFamily(rawValue: famText) else { throw err("unknown family \(famText)") }
        let name = try str(o, "table")
        if let k = tableMap[fam]?[name] { return k }
        throw err("table \(famText) \(name) is not declared before use")
    }

    mutating func item(_ kind: String, _ o: JSONValue, index: Int) throws {
        line = index
        guard o.kind == .object else { throw err("expected an object for \(kind)") }
        switch kind {
        case "metainfo": return
        case "table":
            let famText = try str(o, "family")
            guard let fam = NftFamily(rawValue: famText) else { throw err("unknown family \(famText)") }
            var t = NftTable(family: fam, name: try str(o, "name"), line: index)
            t.handle = o["handle"]?.number?.uint64
            if let f = stringOrStrings(o["flags"]) { t.flags = f }
            t.comment = o["comment"]?.string
            // The first table of a name is the one a lookup finds (as a scan from the front would).
            if tableMap[fam]?[t.name] == nil { tableMap[fam, default: [:]][t.name] = result.tables.count }
            result.tables.append(t)
            chainMaps.append([:])
        case "chain":
            let ti = try tableIndex(o)
            var c = NftChain(name: try str(o, "name"), line: index)
            c.handle = o["handle"]?.number?.uint64
            c.comment = o["comment"]?.string
            if let type = o["type"]?.string, let hook = o["hook"]?.string {
                guard let ct = NftChainType(rawValue: type) else { throw err("unknown chain type \(type)") }
                guard let h = NftHook(rawValue: hook) else { throw err("unknown hook \(hook)") }
                let prio = o["prio"]?.number?.int ?? 0
                var b = NftBaseChain(type: ct, hook: h, priority: prio, priorityText: "\(prio)")
                if let p = o["policy"]?.string { guard let pol = NftPolicy(rawValue: p) else { throw err("bad policy \(p)") }; b.policy = pol }
                if let d = stringOrStrings(o["dev"]) { b.devices = d }
                c.base = b
            }
            if chainMaps[ti][c.name] == nil { chainMaps[ti][c.name] = result.tables[ti].chains.count }
            result.tables[ti].chains.append(c)
        case "set", "map":
            let ti = try tableIndex(o)
            var s = NftSet(name: try str(o, "name"), line: index, isMap: kind == "map")
            s.handle = o["handle"]?.number?.uint64
            // Concatenated types come as an array, or (typeof sets in 1.0.6) as one "a . b" string.
            func typeList(_ v: JSONValue?) -> [String] {
                v?.strings ?? (v?.string.map { $0.split(separator: " ").filter { $0 != "." }.map(String.init) } ?? [])
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
            if let f = stringOrStrings(o["flags"]) { s.flags = f }
            s.timeoutSeconds = o["timeout"]?.number?.double
            s.gcIntervalSeconds = o["gc-interval"]?.number?.double
            s.size = o["size"]?.number?.uint32
            s.policy = o["policy"]?.string
            s.comment = o["comment"]?.string
            if let elems = o["elem"]?.array {
                s.elements.reserveCapacity(elems.count)
                for e in elems {
                    do { s.elements.append(try element(e, keyTypes: s.keyTypes, valueTypes: s.valueTypes, isMap: s.isMap)) } catch let u as JSONUnsupported {
                        result.unsupported.append(UnsupportedConstruct(file: file, line: index, construct: u.construct, ruleText: "\(kind) \(s.name)"))
                    }
                }
            }
            result.tables[ti].sets.append(s)
        case "flowtable":
            let ti = try tableIndex(o)
            var f = NftFlowtable(name: try str(o, "name"), line: index)
            f.hook = o["hook"]?.string ?? "ingress"
            f.priority = o["prio"]?.number?.int ?? 0
            if let d = stringOrStrings(o["dev"]) { f.devices = d }
            result.tables[ti].flowtables.append(f)
        case "counter", "quota", "limit", "ct helper", "ct timeout", "ct expectation", "secmark", "synproxy":
            let ti = try tableIndex(o)
            var obj = NftObject(kind: kind, name: try str(o, "name"), line: index, body: [])
            if kind == "counter" { obj.counter = Counters(packets: o["packets"]?.number?.uint64 ?? 0, bytes: o["bytes"]?.number?.uint64 ?? 0) }
            if kind == "quota" {
                obj.quota = NftQuota(bytes: o["bytes"]?.number?.uint64 ?? 0, used: o["used"]?.number?.uint64 ?? 0, over: o["inv"]?.number?.bridgedBool ?? false)
            }
            obj.body = Set(o.object!.keys).sorted().filter { !["family", "table", "name", "handle"].contains($0) }.map { "\($0) \(jsonAnyDescription(o[$0]))" }
            result.tables[ti].objects.append(obj)
        case "rule":
            let ti = try tableIndex(o)
            let chainName = try str(o, "chain")
            guard let ci = chainMaps[ti][chainName] else { throw err("chain \(chainName) is not declared before its rules") }
            guard let exprs = o["expr"]?.array else { throw err("rule without \"expr\"") }
            var stmts: [NftStatement] = []
            stmts.reserveCapacity(exprs.count)
            var unsupported: [String] = []
            for e in exprs {
                do { stmts.append(try statement(e, family: result.tables[ti].family)) } catch let u as JSONUnsupported {
                    unsupported.append(u.construct); stmts.append(.unsupported(u.construct))
                }
            }
            let comment = o["comment"]?.string
            var text = stmts.map(\.description).joined(separator: " ")
            if let c = comment { text += " comment \"\(c)\"" }
            // Only the names: a copy of the table would make the append below copy every chain.
            let (family, tableName) = (result.tables[ti].family, result.tables[ti].name)
            let r = NftRule(family: family, table: tableName, chain: chainName, position: 0, handle: o["handle"]?.number?.uint64,
                            file: file, line: index, text: text, statements: stmts, comment: comment, isUnsupported: !unsupported.isEmpty)
            for u in unsupported { result.unsupported.append(UnsupportedConstruct(file: file, line: index, construct: u, ruleText: text)) }
            result.tables[ti].chains[ci].rules.append(r)
        default:
            result.unsupported.append(UnsupportedConstruct(file: file, line: index, construct: "object \(kind)", ruleText: kind))
        }
    }

    // MARK: elements and values

    /// The one member of a one-member object.
    func single(_ v: JSONValue?) -> (key: String, value: JSONValue)? {
        guard let o = v?.object, o.count == 1 else { return nil }
        return o.first
    }

    func element(_ e: JSONValue, keyTypes: [NftDatatype], valueTypes: [NftDatatype], isMap: Bool) throws -> NftSetElement {
        var keyJSON: JSONValue? = e
        var valueJSON: JSONValue?
        if isMap, let pair = e.array, pair.count == 2 { keyJSON = pair.element(0); valueJSON = pair.element(1) }
        var attrs: JSONValue?
        if let inner = keyJSON?["elem"], inner.kind == .object {
            attrs = inner
            guard let val = inner["val"] else { throw err("unexpected value <null>") }
            keyJSON = val
        }
        var el = NftSetElement(key: try value(keyJSON, types: keyTypes))
        if let v = valueJSON {
            if valueTypes.first == .verdict || valueTypes.isEmpty, let vd = try? verdict(v) { el.value = .verdict(vd) } else { el.value = try value(v, types: valueTypes) }
        }
        if let attrs {
            el.timeoutSeconds = attrs["timeout"]?.number?.double
            el.expiresSeconds = attrs["expires"]?.number?.double
            if let c = attrs["counter"], c.kind == .object {
                el.counter = Counters(packets: c["packets"]?.number?.uint64 ?? 0, bytes: c["bytes"]?.number?.uint64 ?? 0)
            }
            el.comment = attrs["comment"]?.string
        }
        return el
    }

    func verdict(_ v: JSONValue) throws -> NftVerdict {
        guard let (k, body) = single(v) else { throw JSONUnsupported(construct: "verdict \(jsonAnyDescription(v))") }
        switch k {
        case "accept": return .accept
        case "drop": return .drop
        case "continue": return .continue
        case "return": return .return
        case "queue": return .queue
        case "jump", "goto":
            guard let t = body["target"]?.string else { throw err("\(k) without target") }
            return k == "jump" ? .jump(t) : .goto(t)
        default: throw JSONUnsupported(construct: "verdict \(k)")
        }
    }

    /// A right-hand value typed by `types` (one per concatenated part); nil is a missing member.
    func value(_ v: JSONValue?, types: [NftDatatype]) throws -> NftExpr {
        let type = types.first ?? .integer
        guard let v else { throw err("unexpected value nil") }
        switch v.kind {
        case .number, .bool:
            let n = v.number!
            if type == .boolean || n.isBool { return .boolean(n.uint64 != 0) }
            return .integer(n.uint64)
        case .string:
            let s = v.string!
            if s.hasPrefix("@") { return .setReference(String(s.dropFirst())) }
            if s == "*" { return .wildcard }
            let quoted = type == .ifname || type == .ifindex || type == .string
            if let r = NftValues.value(s, type, quoted: quoted) { return r }
            if let g = NftValues.guess(s) { return g }
            throw JSONUnsupported(construct: "value '\(s)' for \(type.rawValue)")
        case .array:
            // A list of flags (`["established", "related"]`): their OR.
            var acc: UInt64 = 0
            var items: [NftExpr] = []
            for x in v.array! { items.append(try value(x, types: types)) }
            for it in items { guard case .integer(let n) = it else { return .flags(items) }; acc |= n }
            return .integer(acc)
        case .null, .object:
            break
        }
        guard let (k, body) = single(v) else { throw err("unexpected value \(jsonAnyDescription(v))") }
        switch k {
        case "prefix":
            guard let a = body["addr"]?.string, let l = body["len"]?.number?.int, let addr = IPAddress(a) else {
                throw err("bad prefix \(jsonAnyDescription(body))")
            }
            return .prefix(IPPrefix(address: addr, length: l))
        case "range":
            guard let r = body.array, r.count == 2 else { throw err("bad range \(jsonAnyDescription(body))") }
            return .range(try value(r.element(0), types: types), try value(r.element(1), types: types))
        case "concat":
            guard let parts = body.array else { throw err("bad concat") }
            return .concat(try parts.enumerated().map { k, p in try value(p, types: [k < types.count ? types[k] : (types.last ?? .integer)]) })
        case "set":
            if let els = body.array { return .anonymousSet(try els.map { try element($0, keyTypes: types, valueTypes: [], isMap: false) }) }
            return .anonymousSet([try element(body, keyTypes: types, valueTypes: [], isMap: false)])
        case "elem":
            return try element(v, keyTypes: types, valueTypes: [], isMap: false).key
        case "&", "|", "^", "<<", ">>":
            guard let pair = body.array, pair.count == 2 else { throw err("bad \(k)") }
            let l = try expr(pair.element(0), valueTypes: types)
            return .binary(NftBinaryOp(rawValue: k)!, l, try value(pair.element(1), types: [l.datatype]))
        default:
            if let vd = try? verdict(v) { return .verdict(vd) }
            return try expr(v, valueTypes: types)
        }
    }

    /// A left-hand expression (payload, meta, ct, ...); literals are read with `valueTypes`.
    func expr(_ v: JSONValue?, valueTypes: [NftDatatype] = [.integer]) throws -> NftExpr {
        guard let (k, body) = single(v) else { return try value(v, types: valueTypes) }
        let b = body
        switch k {
        case "payload":
            if let proto = b["protocol"]?.string, let field = b["field"]?.string {
                guard let f = NftPayloadTable.field(proto, field) else { throw JSONUnsupported(construct: "\(proto) \(field)") }
                return .payload(f)
            }
            guard let base = b["base"]?.string, let off = b["offset"]?.number?.int, let len = b["len"]?.number?.int else { throw err("bad payload") }
            let pb: NftPayloadBase
            switch base {
            case "ll": pb = .link
            case "nh": pb = .network
            case "th": pb = .transport
            case "ih": pb = .inner
            default: throw err("bad payload base \(base)")
            }
            return .rawPayload(base: pb, offsetBits: off, lengthBits: len)
        case "meta":
            let key = try str(b, "key")
            guard let mk = NftMetaKey(rawValue: key) else { throw JSONUnsupported(construct: "meta \(key)") }
            return .meta(mk)
        case "ct":
            let key = try str(b, "key")
            var k2 = key
            if let fam = b["family"]?.string { k2 = "\(fam) \(key)" }
            return .ct(key: k2, direction: b["dir"]?.string)
        case "fib":
            return .fib(flags: stringOrStrings(b["flags"]) ?? [], result: try str(b, "result"))
        case "rt":
            return .rt(key: try str(b, "key"), family: b["family"]?.string)
        case "socket":
            return .socket(key: try str(b, "key"), level: b["level"]?.number?.int)
        case "numgen":
            return .numgen(mode: try str(b, "mode"), modulus: b["mod"]?.number?.uint32 ?? 0, offset: b["offset"]?.number?.uint32 ?? 0)
        case "jhash", "symhash":
            return .hash(kind: k, expr: try b["expr"].map { try expr($0) }, modulus: b["mod"]?.number?.uint32 ?? 0,
                         seed: b["seed"]?.number?.uint32, offset: b["offset"]?.number?.uint32 ?? 0)
        case "tcp option":
            return .exthdr(header: "tcp option \(try str(b, "name"))", field: b["field"]?.string)
        case "concat":
            guard let parts = body.array else { throw err("bad concat") }
            return .concat(try parts.map { try expr($0) })
        case "map":
            let key = try expr(b["key"])
            let data = b["data"]
            if let s = data?.string, s.hasPrefix("@") { return .map(key: key, mapping: .setReference(String(s.dropFirst()))) }
            guard let els = data?["set"]?.array else { throw err("bad map data") }
            return .map(key: key, mapping: .anonymousSet(try els.map { try element($0, keyTypes: key.keyTypes, valueTypes: valueTypes, isMap: true) }))
        case "&", "|", "^", "<<", ">>":
            guard let pair = body.array, pair.count == 2 else { throw err("bad \(k)") }
            let l = try expr(pair.element(0), valueTypes: valueTypes)
            return .binary(NftBinaryOp(rawValue: k)!, l, try value(pair.element(1), types: [l.datatype]))
        case "prefix", "range", "set", "elem":
            return try value(v, types: valueTypes)
        default:
            throw JSONUnsupported(construct: k)
        }
    }

    // MARK: statements

    func statement(_ v: JSONValue, family: NftFamily) throws -> NftStatement {
        if let text = v.string {
            // nft 1.0.6 has no JSON form for some statements (map updates) and prints their text.
            let wrapped = "table \(family.rawValue) t {\n\tchain c {\n\t\t\(text)\n\t}\n}\n"
            guard let rs = try? NftParser.parse(wrapped, file: file), rs.unsupported.isEmpty,
                  let stmts = rs.tables.first?.chains.first?.rules.first?.statements, stmts.count == 1 else {
                throw JSONUnsupported(construct: text)
            }
            return stmts[0]
        }
        guard let (k, body) = single(v) else { throw err("expected a statement object") }
        let b = body
        switch k {
        case "match":
            let left = try expr(b["left"])
            let right = try value(b["right"], types: left.keyTypes)
            let opText = b["op"]?.string ?? "=="
            let op: NftRelOp
            switch opText {
            case "==": op = .eq
            case "in": op = NftTextParser.normalize(.implicit, left: left, right: right)
            default:
                guard let o = NftRelOp(rawValue: opText) else { throw JSONUnsupported(construct: "operator \(opText)") }
                op = o
            }
            return .match(NftMatch(left: left, op: op, right: right))
        case "accept", "drop", "continue", "return", "jump", "goto":
            return .verdict(try verdict(v))
        case "counter":
            if let name = body.string { return .counterReference(name) }
            if body.isNull { return .counter(nil) }
            return .counter(Counters(packets: b["packets"]?.number?.uint64 ?? 0, bytes: b["bytes"]?.number?.uint64 ?? 0))
        case "limit":
            let per = NftTextParser.ratePer(b["per"]?.string ?? "second") ?? 1
            let unit = b["rate_unit"]?.string
            func unitMultiplier(_ u: String?) -> UInt64 {
                switch u {
                case "kbytes": return 1024
                case "mbytes": return 1 << 20
                case "gbytes": return 1 << 30
                default: return 1
                }
            }
            let mult = unitMultiplier(unit)
            let bytes = unit != nil && unit != "packets"
            let burstMult = unitMultiplier(b["burst_unit"]?.string)
            // Saturating: a rate beyond 2^64 bytes is as good as no limit.
            func scaled(_ v: UInt64, _ m: UInt64) -> UInt64 { let (r, o) = v.multipliedReportingOverflow(by: m); return o ? .max : r }
            return .limit(NftLimit(rate: scaled(b["rate"]?.number?.uint64 ?? 0, mult), per: per, bytes: bytes,
                                   burst: scaled(b["burst"]?.number?.uint64 ?? (bytes ? 0 : 5), burstMult), over: b["inv"]?.number?.bridgedBool ?? false))
        case "quota":
            return .quota(NftQuota(bytes: b["val"]?.number?.uint64 ?? 0, used: b["used"]?.number?.uint64 ?? 0, over: b["inv"]?.number?.bridgedBool ?? false))
        case "log":
            var l = NftLog()
            l.prefix = b["prefix"]?.string
            l.level = b["level"]?.string
            l.group = b["group"]?.number?.uint16
            l.snaplen = b["snaplen"]?.number?.uint32
            l.queueThreshold = b["queue-threshold"]?.number?.uint32
            l.flags = stringOrStrings(b["flags"]) ?? []
            return .log(l)
        case "reject":
            guard let type = b["type"]?.string else { return .reject(.familyDefault(family)) }
            if type == "tcp reset" { return .reject(.tcpReset) }
            let codeName = b["expr"]?.string ?? "port-unreachable"
            switch type {
            case "icmp": return .reject(.icmp(code: UInt8(truncatingIfNeeded: NftValues.icmpCodes[codeName] ?? 3)))
            case "icmpv6": return .reject(.icmpv6(code: UInt8(truncatingIfNeeded: NftValues.icmpv6Codes[codeName] ?? 4)))
            case "icmpx": return .reject(.icmpx(code: UInt8(truncatingIfNeeded: NftValues.icmpxCodes[codeName] ?? 1)))
            default: throw JSONUnsupported(construct: "reject type \(type)")
            }
        case "snat", "dnat", "masquerade", "redirect":
            var n = NftNat(kind: NftNat.Kind(rawValue: k)!)
            n.family = b["family"]?.string
            let at: NftDatatype = n.family == "ip6" ? .ipv6Addr : .ipv4Addr
            if let a = b["addr"] { n.address = try value(a, types: [at]) }
            if let p = b["port"] { n.port = try value(p, types: [.inetService]) }
            n.flags = stringOrStrings(b["flags"]) ?? []
            if let tf = stringOrStrings(b["type_flags"]) { n.flags += tf }
            // `prefix` (written) is printed in JSON as the netmap flag plus the prefix type flag.
            if n.flags.contains("prefix") { n.flags.removeAll { $0 == "netmap" } }
            return .nat(n)
        case "mangle":
            let key = try expr(b["key"])
            return .set(target: key, value: try expr(b["value"], valueTypes: [key.datatype]))
        case "notrack":
            return .notrack
        case "vmap":
            let key = try expr(b["key"])
            let data = b["data"]
            if let s = data?.string, s.hasPrefix("@") { return .vmap(key: key, mapping: .setReference(String(s.dropFirst()))) }
            guard let els = data?["set"]?.array else { throw err("bad vmap data") }
            return .vmap(key: key, mapping: .anonymousSet(try els.map { try element($0, keyTypes: key.keyTypes, valueTypes: [.verdict], isMap: true) }))
        case "queue":
            var q = NftQueue()
            if let n = b["num"] { q.number = try expr(n) }
            q.flags = stringOrStrings(b["flags"]) ?? []
            return .queue(q)
        case "set", "map":
            let op = try str(b, "op")
            let name = b[k]?.string.map { $0.hasPrefix("@") ? String($0.dropFirst()) : $0 } ?? ""
            let key = try expr(b["elem"])
            var data: NftExpr?
            if let d = b["data"] { data = try expr(d) }
            let stmts = try (b["stmt"]?.array.map(Array.init) ?? []).map { try statement($0, family: family) }
            let timeout = b["elem"]?["elem"]?["timeout"]?.number
            return .setUpdate(NftSetUpdate(op: op, set: name, key: key, value: data, timeoutSeconds: timeout?.double, statements: stmts))
        case "ct count":
            return .ctCount(count: b["val"]?.number?.uint32 ?? 0, over: b["inv"]?.number?.bridgedBool ?? false)
        case "flow":
            return .flowOffload((b["flowtable"]?.string ?? "").replacingOccurrences(of: "@", with: ""))
        case "ct helper", "ct timeout", "ct expectation":
            guard let name = body.string else { throw JSONUnsupported(construct: "\(k) set EXPRESSION map") }
            return .objectReference(kind: k, name: name)
        default:
            throw JSONUnsupported(construct: k)
        }
    }
}
