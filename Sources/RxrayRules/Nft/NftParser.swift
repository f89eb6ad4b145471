import RxrayDecode

/// Parses nftables text: `nft list ruleset` output (nftables 1.0.6) and the `nft -f` script
/// forms people keep in files (`add`/`insert`/`flush` commands, `define`).
///
/// Mirrors what nft's parser accepts for the constructs rxray models; anything else inside a
/// rule becomes an `UnsupportedConstruct` (the rule is kept and marked), while structural
/// errors (unbalanced braces, a table without a name, a malformed known statement) throw.
public enum NftParser {
    /// - Throws: `InputError` with line and column and what was expected.
    public static func parse(_ text: String, file: String) throws -> NftRuleset {
        var p = try NftTextParser(bytes: Array(text.utf8), file: file)
        try p.run()
        return p.result
    }

    public static func parse(contentsOf path: String) throws -> NftRuleset {
        try parse(try readTextFile(path), file: path)
    }
}

/// Unsupported construct found while parsing a rule: unwinds to the rule, which is kept marked.
private struct NftUnsupported: Error { var construct: String }

struct NftTextParser {
    let file: String
    let bytes: [UInt8]
    var toks: [NftToken]
    var i = 0
    var result: NftRuleset
    var defines: [String: [NftToken]] = [:]
    /// Unsupported constructs of the rule being parsed.
    var ruleUnsupported: [String] = []
    /// The family of the table holding the rule being parsed.
    var currentFamily: NftFamily = .ip
    /// Chain name → index, one map per table of `result.tables` (same order): kube-proxy
    /// rulesets have thousands of chains, so lookups by name must not scan.
    var chainMaps: [[String: Int]] = []
    /// The values of every named map's keys so far, by (table index, map name): the kernel
    /// refuses an element whose key is already mapped to a different value (EEXIST).
    var mapValues: [MapRef: [NftExpr: NftExpr]] = [:]
    struct MapRef: Hashable { var table: Int; var name: String }

    init(bytes: [UInt8], file: String) throws {
        self.file = file
        self.bytes = bytes
        toks = try NftLexer.tokenize(bytes, file: file)
        result = NftRuleset(file: file)
    }

    // MARK: token helpers

    var tok: NftToken { toks[i] }
    func peek(_ k: Int = 0) -> NftToken { toks[min(i + k, toks.count - 1)] }
    func isWord(_ s: String, _ k: Int = 0) -> Bool { let t = peek(k); return t.kind == .word && t.text == s }
    func isPunct(_ s: String, _ k: Int = 0) -> Bool { let t = peek(k); return t.kind == .punct && t.text == s }
    mutating func advance() -> NftToken { let t = toks[i]; if i < toks.count - 1 { i += 1 }; expandVariable(); return t }

    func err(_ t: NftToken, _ message: String) -> InputError {
        InputError(file: file, line: t.line, column: t.column, message)
    }
    func describe(_ t: NftToken) -> String {
        switch t.kind {
        case .eof: return "end of file"
        case .newline: return "end of line"
        case .string: return "\"\(t.text)\""
        default: return "'\(t.text)'"
        }
    }

    /// Replaces `$name` at the cursor with the define's tokens.
    mutating func expandVariable() {
        var guardCount = 0
        while toks[i].kind == .punct && toks[i].text == "$" && i + 1 < toks.count && toks[i + 1].kind == .word, guardCount < 64 {
            guard let body = defines[toks[i + 1].text] else { return }
            let at = toks[i]
            let spliced = body.map { t -> NftToken in var c = t; c.line = at.line; c.column = at.column; c.start = at.start; c.end = toks[i + 1].end; return c }
            toks.replaceSubrange(i...(i + 1), with: spliced)
            guardCount += 1
        }
    }

    mutating func expectWord(_ what: String) throws -> String {
        let t = tok
        guard t.kind == .word || t.kind == .string else { throw err(t, "expected \(what), got \(describe(t))") }
        _ = advance()
        return t.text
    }
    mutating func expectPunct(_ p: String, _ context: String) throws {
        guard isPunct(p) else { throw err(tok, "expected '\(p)' \(context), got \(describe(tok))") }
        _ = advance()
    }
    mutating func skipNewlines() {
        while tok.kind == .newline || tok.kind == .comment || (tok.kind == .punct && tok.text == ";") { _ = advance() }
    }
    mutating func skipBlanksInBraces() {
        while tok.kind == .newline || tok.kind == .comment { _ = advance() }
    }
    var atStatementEnd: Bool {
        let t = tok
        switch t.kind {
        case .newline, .eof, .comment: return true
        case .punct: return t.text == ";" || t.text == "}"
        default: return false
        }
    }
    mutating func number<T: FixedWidthInteger>(_ what: String, _: T.Type) throws -> T {
        let t = tok
        guard t.kind == .word, let v = Num.parse(Substring(t.text)), let r = T(exactly: v) else {
            throw err(t, "expected \(what), got \(describe(t))")
        }
        _ = advance()
        return r
    }

    // MARK: top level

    mutating func run() throws {
        expandVariable()
        while true {
            skipNewlines()
            let t = tok
            if t.kind == .eof { break }
            guard t.kind == .word else { throw err(t, "expected 'table', 'define' or a command, got \(describe(t))") }
            switch t.text {
            case "table":
                _ = advance()
                try tableBlock(create: true)
            case "define", "redefine", "undefine", "include":
                try defineOrInclude()
            case "add", "create", "insert", "replace", "flush", "delete", "destroy", "list", "reset", "rename":
                try command()
            default:
                throw err(t, "expected 'table', 'define', 'include' or a command (add, insert, flush, ...), got '\(t.text)'")
            }
        }
        // Number rule positions.
        for ti in result.tables.indices {
            for ci in result.tables[ti].chains.indices {
                for ri in result.tables[ti].chains[ci].rules.indices { result.tables[ti].chains[ci].rules[ri].position = ri + 1 }
            }
        }
    }

    /// `define NAME = VALUE`, `redefine`, `undefine NAME`, `include "FILE"` (anywhere a statement may stand).
    mutating func defineOrInclude() throws {
        let t = advance()
        switch t.text {
        case "define", "redefine":
            let name = try expectWord("a variable name")
            try expectPunct("=", "after define \(name)")
            var body: [NftToken] = []
            var depth = 0
            while tok.kind != .eof && !(depth == 0 && (tok.kind == .newline || isPunct(";"))) {
                if isPunct("{") { depth += 1 } else if isPunct("}") { depth -= 1 }
                body.append(tok); i += 1
                expandVariable()
            }
            defines[name] = body
        case "undefine":
            let name = try expectWord("a variable name")
            defines[name] = nil
        default:
            let path = tok.text
            _ = advance()
            // Included files are not read: their content is unknown to this parse.
            result.unsupported.append(UnsupportedConstruct(file: file, line: t.line, construct: "include \"\(path)\"", ruleText: "include \"\(path)\""))
        }
    }

    mutating func family() throws -> NftFamily {
        if tok.kind == .word, let f = NftFamily(rawValue: tok.text), peek(1).kind == .word || peek(1).kind == .string {
            _ = advance()
            return f
        }
        return .ip
    }

    mutating func tableIndex(_ fam: NftFamily, _ name: String, line: Int, create: Bool, at t: NftToken) throws -> Int {
        if let k = result.tables.firstIndex(where: { $0.family == fam && $0.name == name }) { return k }
        guard create else { throw err(t, "table \(fam.rawValue) \(name) does not exist: expected it to be declared first") }
        result.tables.append(NftTable(family: fam, name: name, line: line))
        chainMaps.append([:])
        return result.tables.count - 1
    }

    mutating func chainIndex(_ ti: Int, _ name: String, line: Int, create: Bool, at t: NftToken) throws -> Int {
        if let k = chainMaps[ti][name] { return k }
        guard create else { throw err(t, "chain \(name) does not exist in table \(result.tables[ti].name)") }
        result.tables[ti].chains.append(NftChain(name: name, line: line))
        chainMaps[ti][name] = result.tables[ti].chains.count - 1
        return result.tables[ti].chains.count - 1
    }

    /// `[family] NAME { ... }` after `table`.
    mutating func tableBlock(create: Bool) throws {
        let start = tok
        let fam = try family()
        let name = try expectWord("a table name")
        let ti = try tableIndex(fam, name, line: start.line, create: true, at: start)
        guard isPunct("{") else { return }
        _ = advance()
        if let h = handleComment() { result.tables[ti].handle = h }
        while true {
            skipNewlines()
            let t = tok
            if isPunct("}") { _ = advance(); break }
            guard t.kind == .word else { throw err(t, "expected chain, set, map, flowtable or '}' in table \(name), got \(describe(t))") }
            switch t.text {
            case "chain":
                _ = advance()
                let cname = try expectWord("a chain name")
                let ci = try chainIndex(ti, cname, line: t.line, create: true, at: t)
                if isPunct("{") { try chainBody(ti, ci) }
            case "set", "map":
                _ = advance()
                let sname = try expectWord("a set name")
                try setBody(ti, sname, isMap: t.text == "map", line: t.line)
            case "flowtable":
                _ = advance()
                let fname = try expectWord("a flowtable name")
                try flowtableBody(ti, fname, line: t.line)
            case "counter", "quota", "limit", "secmark", "synproxy", "tunnel":
                _ = advance()
                let oname = try expectWord("an object name")
                try objectBody(ti, kind: t.text, name: oname, line: t.line)
            case "ct":
                _ = advance()
                let kind = try expectWord("helper, timeout or expectation")
                let oname = try expectWord("an object name")
                try objectBody(ti, kind: "ct " + kind, name: oname, line: t.line)
            case "define", "redefine", "undefine", "include":
                try defineOrInclude()
            case "flags":
                _ = advance()
                result.tables[ti].flags += try commaWords()
            case "comment":
                _ = advance()
                result.tables[ti].comment = try expectWord("a comment string")
            default:
                throw err(t, "expected chain, set, map, flowtable, counter, quota, limit, ct, flags or comment in table \(name), got '\(t.text)'")
            }
        }
    }

    mutating func commaWords() throws -> [String] {
        var out = [try expectWord("a word")]
        while isPunct(",") { _ = advance(); out.append(try expectWord("a word")) }
        return out
    }

    /// `# handle N` right after an opening brace or a rule.
    func handleComment() -> UInt64? {
        if tok.kind == .comment {
            let words = tok.text.split(separator: " ")
            if let h = words.firstIndex(of: "handle"), h + 1 < words.count, let n = UInt64(words[h + 1]) { return n }
        }
        return nil
    }

    mutating func chainBody(_ ti: Int, _ ci: Int) throws {
        let open = tok
        _ = advance()
        if let h = handleComment() { result.tables[ti].chains[ci].handle = h }
        while true {
            skipNewlines()
            let t = tok
            if t.kind == .eof { throw err(open, "chain body not closed: expected '}'") }
            if isPunct("}") { _ = advance(); break }
            if t.kind == .word {
                switch t.text {
                case "type" where isWord("hook", 2) || (peek(2).kind == .word && peek(1).kind == .word && isWord("hook", 2)):
                    try baseChain(ti, ci)
                    continue
                case "policy":
                    _ = advance()
                    let p = try expectWord("accept or drop")
                    guard let pol = NftPolicy(rawValue: p) else { throw err(t, "bad policy '\(p)': expected accept or drop") }
                    if result.tables[ti].chains[ci].base == nil {
                        result.tables[ti].chains[ci].base = NftBaseChain(type: .filter, hook: .input, priority: 0, priorityText: "0")
                    }
                    result.tables[ti].chains[ci].base?.policy = pol
                    continue
                case "define", "redefine", "undefine", "include":
                    try defineOrInclude()
                    continue
                case "devices", "device":
                    _ = advance()
                    if isPunct("=") { _ = advance() }
                    let devs = try wordList()
                    result.tables[ti].chains[ci].base?.devices = devs
                    continue
                case "comment" where peek(1).kind == .string && (peek(2).kind == .newline || peek(2).text == ";" || peek(2).text == "}"):
                    _ = advance()
                    result.tables[ti].chains[ci].comment = advance().text
                    continue
                default: break
                }
            }
            try rule(ti, ci, insertAt: nil)
        }
    }

    /// `{ a, b }` or a single word.
    mutating func wordList() throws -> [String] {
        if isPunct("{") {
            _ = advance()
            var out: [String] = []
            while true {
                skipBlanksInBraces()
                if isPunct("}") { _ = advance(); break }
                out.append(try expectWord("a device name"))
                skipBlanksInBraces()
                if isPunct(",") { _ = advance() }
            }
            return out
        }
        return [try expectWord("a device name")]
    }

    mutating func baseChain(_ ti: Int, _ ci: Int) throws {
        let t = advance()  // type
        let typeWord = try expectWord("filter, nat or route")
        guard let type = NftChainType(rawValue: typeWord) else { throw err(t, "bad chain type '\(typeWord)': expected filter, nat or route") }
        guard isWord("hook") else { throw err(tok, "expected 'hook' after chain type") }
        _ = advance()
        let hookTok = tok
        let hookWord = try expectWord("a hook name")
        guard let hook = NftHook(rawValue: hookWord) else { throw err(hookTok, "bad hook '\(hookWord)': expected prerouting, input, forward, output, postrouting, ingress or egress") }
        var devices: [String] = []
        if isWord("device") || isWord("devices") {
            _ = advance(); if isPunct("=") { _ = advance() }
            devices = try wordList()
        }
        guard isWord("priority") else { throw err(tok, "expected 'priority' after hook \(hookWord)") }
        _ = advance()
        let prioStart = tok
        var priority = 0
        var text = ""
        // NAME | NUMBER | NAME +/- NUMBER (the minus may be glued: `filter-10` lexes as one word).
        let fam = result.tables[ti].family
        func readTerm() throws -> Int {
            let w = tok
            if w.kind == .word, let v = Int(w.text) { _ = advance(); text += w.text; return v }
            if w.kind == .word, let v = NftBaseChain.namedPriority(w.text, family: fam) { _ = advance(); text += w.text; return v }
            if w.kind == .word, w.text.hasPrefix("-") || w.text.hasPrefix("+"), let v = Int(w.text) { _ = advance(); text += w.text; return v }
            throw err(w, "bad priority \(describe(w)): expected a number or raw, mangle, dstnat, filter, security, srcnat")
        }
        priority = try readTerm()
        while tok.kind == .word, tok.text == "+" || tok.text == "-" || ((tok.text.hasPrefix("-") || tok.text.hasPrefix("+")) && Int(tok.text) != nil) {
            let w = advance()
            if w.text == "+" || w.text == "-" {
                text += " \(w.text) "
                let v = try readTerm()
                priority += w.text == "+" ? v : -v
            } else {
                text += " " + w.text
                priority += Int(w.text)!
            }
        }
        _ = prioStart
        var base = result.tables[ti].chains[ci].base ?? NftBaseChain(type: type, hook: hook, priority: priority, priorityText: text)
        base.type = type; base.hook = hook; base.priority = priority; base.priorityText = text
        if !devices.isEmpty { base.devices = devices }
        result.tables[ti].chains[ci].base = base
    }

    // MARK: sets, flowtables, objects

    mutating func setBody(_ ti: Int, _ name: String, isMap: Bool, line: Int) throws {
        var set = result.tables[ti].sets.first(where: { $0.name == name }) ?? NftSet(name: name, line: line, isMap: isMap)
        let open = tok
        try expectPunct("{", "after set \(name)")
        if let h = handleComment() { set.handle = h }
        while true {
            skipNewlines()
            let t = tok
            if t.kind == .eof { throw err(open, "set body not closed: expected '}'") }
            if isPunct("}") { _ = advance(); break }
            guard t.kind == .word else { throw err(t, "expected a set property, got \(describe(t))") }
            _ = advance()
            switch t.text {
            case "type":
                let startOff = tok.start
                var keyTypes: [NftDatatype] = []
                var valueTypes: [NftDatatype] = []
                var valueType: NftDatatype? { valueTypes.first }
                var afterColon = false
                while !atStatementEnd {
                    let w = tok
                    if isPunct(":") || (w.kind == .word && w.text == ":") { afterColon = true; _ = advance(); continue }
                    if w.kind == .word && w.text == "." { _ = advance(); continue }
                    guard w.kind == .word else { throw err(w, "expected a type name, got \(describe(w))") }
                    _ = advance()
                    if w.text == "interval" { continue }
                    guard let dt = NftDatatype(setTypeName: w.text) else {
                        result.unsupported.append(UnsupportedConstruct(file: file, line: w.line, construct: "set type \(w.text)", ruleText: "set \(name)"))
                        if afterColon { valueTypes.append(.integer) } else { keyTypes.append(.integer) }
                        continue
                    }
                    if afterColon { valueTypes.append(dt) } else { keyTypes.append(dt) }
                }
                set.keyTypes = keyTypes
                set.valueType = valueType
                set.valueTypes = valueTypes
                let txt = String(decoding: bytes[startOff..<max(startOff, toks[i - 1].end)], as: UTF8.self)
                if let colon = txt.firstRange(of: " : ") { set.keyText = String(txt[..<colon.lowerBound]); set.valueText = String(txt[colon.upperBound...]) } else { set.keyText = txt }
            case "typeof":
                let startOff = tok.start
                var parts: [NftExpr] = []
                var valueTypes: [NftDatatype] = []
                var afterColon = false
                ruleUnsupported = []
                while !atStatementEnd {
                    if tok.kind == .word && tok.text == "." { _ = advance(); continue }
                    if tok.kind == .word && tok.text == ":" { afterColon = true; _ = advance(); continue }
                    if tok.kind == .word && tok.text == "interval" { _ = advance(); continue }
                    if tok.kind == .word && tok.text == "verdict" && afterColon { _ = advance(); valueTypes.append(.verdict); continue }
                    do {
                        let e = try primary()
                        if afterColon { valueTypes.append(e.datatype) } else { parts.append(e) }
                    } catch let u as NftUnsupported {
                        result.unsupported.append(UnsupportedConstruct(file: file, line: t.line, construct: "set typeof \(u.construct)", ruleText: "set \(name)"))
                        while !atStatementEnd { _ = advance() }
                    }
                }
                set.keyTypes = parts.map(\.datatype)
                set.valueType = valueTypes.first
                set.valueTypes = valueTypes
                let txt = String(decoding: bytes[startOff..<max(startOff, toks[i - 1].end)], as: UTF8.self)
                if let colon = txt.firstRange(of: " : ") { set.keyText = "typeof " + txt[..<colon.lowerBound]; set.valueText = String(txt[colon.upperBound...]) } else { set.keyText = "typeof " + txt }
            case "flags":
                set.flags += try commaWords()
            case "timeout": set.timeoutSeconds = try duration()
            case "gc-interval": set.gcIntervalSeconds = try duration()
            case "size": set.size = try number("a set size", UInt32.self)
            case "policy": set.policy = try expectWord("performance or memory")
            case "counter": set.counter = true
            case "auto-merge": set.autoMerge = true
            case "comment": set.comment = try expectWord("a comment string")
            case "elements":
                try expectPunct("=", "after elements")
                set.elements += try elements(keyTypes: set.keyTypes, valueTypes: set.valueTypes, isMap: set.isMap, line: t.line,
                                             context: "\(set.isMap ? "map" : "set") \(name)", into: MapRef(table: ti, name: name))
            default:
                // Unknown set property (quota, limit, stateful per-element defaults): keep going.
                result.unsupported.append(UnsupportedConstruct(file: file, line: t.line, construct: "set property \(t.text)", ruleText: "set \(name)"))
                while !atStatementEnd { if isPunct("{") { try skipBraces() } else { _ = advance() } }
            }
        }
        if let k = result.tables[ti].sets.firstIndex(where: { $0.name == name }) { result.tables[ti].sets[k] = set } else { result.tables[ti].sets.append(set) }
    }

    mutating func skipBraces() throws {
        let open = tok
        var depth = 0
        repeat {
            if tok.kind == .eof { throw err(open, "unbalanced '{': expected '}'") }
            if isPunct("{") { depth += 1 } else if isPunct("}") { depth -= 1 }
            _ = advance()
        } while depth > 0
    }

    /// `{ elem, elem : value, ... }`. `map`, when given, names the set the elements go into:
    /// a key already mapped to a different value, or any key already present when `exclusive`
    /// (`create element`), is an error, as the kernel answers EEXIST ("File exists").
    mutating func elements(keyTypes: [NftDatatype], valueTypes: [NftDatatype], isMap: Bool, line: Int, context: String,
                           into map: MapRef? = nil, exclusive: Bool = false) throws -> [NftSetElement] {
        let open = tok
        try expectPunct("{", "to open the elements")
        var out: [NftSetElement] = []
        while true {
            skipBlanksInBraces()
            if tok.kind == .eof { throw err(open, "elements not closed: expected '}'") }
            if isPunct("}") { _ = advance(); break }
            let at = tok
            do {
                let e = try element(keyTypes: keyTypes, valueTypes: valueTypes, isMap: isMap)
                if let ref = map {
                    let value = e.value ?? .boolean(true)
                    if let old = mapValues[ref]?[e.key] {
                        let keyText = String(decoding: bytes[at.start..<max(at.start, toks[max(i - 1, 0)].end)], as: UTF8.self)
                        if exclusive {
                            throw err(at, "\(context): element \(keyText) already exists (create element refuses it; nft: File exists)")
                        }
                        if old != value {
                            throw err(at, "\(context): key already mapped to a different value: \(keyText) (the kernel refuses the ruleset; nft: File exists)")
                        }
                    }
                    mapValues[ref, default: [:]][e.key] = value
                }
                out.append(e)
            } catch let u as NftUnsupported {
                result.unsupported.append(UnsupportedConstruct(file: file, line: tok.line, construct: u.construct, ruleText: context))
                while !(isPunct(",") || isPunct("}") || tok.kind == .eof) { if isPunct("{") { try skipBraces() } else { _ = advance() } }
            }
            skipBlanksInBraces()
            if isPunct(",") { _ = advance(); continue }
            if isPunct("}") { continue }
            throw err(tok, "expected ',' or '}' in elements, got \(describe(tok))")
        }
        return out
    }

    mutating func element(keyTypes: [NftDatatype], valueTypes: [NftDatatype], isMap: Bool) throws -> NftSetElement {
        var parts: [NftExpr] = []
        var k = 0
        repeat {
            if k > 0 { _ = advance() }  // the '.'
            let type = k < keyTypes.count ? keyTypes[k] : (keyTypes.last ?? .integer)
            parts.append(type.isBitmask ? try flagValue(type, allowComma: false) : try value(type))
            k += 1
        } while tok.kind == .word && tok.text == "."
        var e = NftSetElement(key: parts.count == 1 ? parts[0] : .concat(parts))
        // Element attributes.
        while tok.kind == .word {
            switch tok.text {
            case "timeout": _ = advance(); e.timeoutSeconds = try duration()
            case "expires": _ = advance(); e.expiresSeconds = try duration()
            case "counter":
                _ = advance()
                if isWord("packets") {
                    _ = advance(); let p = try number("a packet count", UInt64.self)
                    guard isWord("bytes") else { throw err(tok, "expected 'bytes'") }
                    _ = advance(); let b = try number("a byte count", UInt64.self)
                    e.counter = Counters(packets: p, bytes: b)
                } else { e.counter = Counters(packets: 0, bytes: 0) }
            case "comment": _ = advance(); e.comment = try expectWord("a comment string")
            case ":":
                _ = advance()
                e.value = try mapValue(valueTypes)
            default:
                throw NftUnsupported(construct: "element attribute \(tok.text)")
            }
        }
        if isPunct(":") { _ = advance(); e.value = try mapValue(valueTypes) }
        return e
    }

    mutating func mapValue(_ types: [NftDatatype]) throws -> NftExpr {
        if types.first == .verdict || types.isEmpty, let v = try verdictIfAny() { return .verdict(v) }
        func type(_ k: Int) -> NftDatatype { k < types.count ? types[k] : (types.last ?? .integer) }
        var parts: [NftExpr] = [try value(type(0))]
        while tok.kind == .word && tok.text == "." { _ = advance(); parts.append(try value(type(parts.count))) }
        return parts.count == 1 ? parts[0] : .concat(parts)
    }

    mutating func verdictIfAny() throws -> NftVerdict? {
        guard tok.kind == .word else { return nil }
        switch tok.text {
        case "accept": _ = advance(); return .accept
        case "drop": _ = advance(); return .drop
        case "continue": _ = advance(); return .continue
        case "return": _ = advance(); return .return
        case "jump", "goto":
            if isPunct("{", 1) { throw NftUnsupported(construct: "\(tok.text) { anonymous chain }") }
            let w = advance()
            let target = try expectWord("a chain name")
            return w.text == "jump" ? .jump(target) : .goto(target)
        default: return nil
        }
    }

    mutating func flowtableBody(_ ti: Int, _ name: String, line: Int) throws {
        var ft = NftFlowtable(name: name, line: line)
        try expectPunct("{", "after flowtable \(name)")
        while true {
            skipNewlines()
            if isPunct("}") { _ = advance(); break }
            let t = tok
            if t.kind == .eof { throw err(t, "flowtable body not closed: expected '}'") }
            let w = try expectWord("hook, devices, counter or flags")
            switch w {
            case "hook":
                ft.hook = try expectWord("a hook")
                if isWord("priority") {
                    _ = advance()
                    let p = try expectWord("a priority")
                    ft.priority = Int(p) ?? NftBaseChain.namedPriority(p, family: result.tables[ti].family) ?? 0
                    while tok.kind == .word && (tok.text == "+" || tok.text == "-") { let s = advance().text; let v = Int(try expectWord("a number")) ?? 0; ft.priority += s == "+" ? v : -v }
                }
            case "devices", "device":
                if isPunct("=") { _ = advance() }
                ft.devices = try wordList()
            case "flags": ft.flags += try commaWords()
            case "counter": ft.flags.append("counter")
            default: throw err(t, "unexpected '\(w)' in flowtable: expected hook, devices, counter or flags")
            }
        }
        result.tables[ti].flowtables.append(ft)
    }

    mutating func objectBody(_ ti: Int, kind: String, name: String, line: Int) throws {
        try expectPunct("{", "after \(kind) \(name)")
        var body: [String] = []
        var cur: [String] = []
        var depth = 0
        while true {
            let t = tok
            if t.kind == .eof { throw err(t, "\(kind) body not closed: expected '}'") }
            if isPunct("{") { depth += 1 }
            if isPunct("}") {
                _ = advance()
                if depth == 0 { break }
                depth -= 1; cur.append("}"); continue
            }
            if t.kind == .newline || t.kind == .comment || isPunct(";") {
                if !cur.isEmpty { body.append(cur.joined(separator: " ")); cur = [] }
                _ = advance(); continue
            }
            cur.append(t.kind == .string ? "\"\(t.text)\"" : t.text)
            _ = advance()
        }
        if !cur.isEmpty { body.append(cur.joined(separator: " ")) }
        var o = NftObject(kind: kind, name: name, line: line, body: body)
        let words = body.joined(separator: " ").split(separator: " ").map(String.init)
        switch kind {
        case "counter":
            if let p = words.firstIndex(of: "packets"), let b = words.firstIndex(of: "bytes"), p + 1 < words.count, b + 1 < words.count,
               let pv = UInt64(words[p + 1]), let bv = UInt64(words[b + 1]) { o.counter = Counters(packets: pv, bytes: bv) }
        case "quota":
            var over = false, amount: UInt64 = 0, used: UInt64 = 0
            var k = 0
            while k < words.count {
                if words[k] == "over" { over = true } else if words[k] == "until" { over = false } else if words[k] == "used", k + 2 < words.count + 1, k + 1 < words.count {
                    used = (UInt64(words[k + 1]) ?? 0) * (k + 2 < words.count ? byteUnit(words[k + 2]) : 1); k += 2
                } else if let v = UInt64(words[k]), amount == 0 {
                    amount = v * (k + 1 < words.count ? byteUnit(words[k + 1]) : 1)
                }
                k += 1
            }
            o.quota = NftQuota(bytes: amount, used: used, over: over)
        default: break
        }
        result.tables[ti].objects.append(o)
    }

    func byteUnit(_ w: String) -> UInt64 {
        switch w { case "kbytes": return 1024; case "mbytes": return 1 << 20; case "gbytes": return 1 << 30; default: return 1 }
    }

    /// `1h2m3s`, `3600s`, `500ms`, `1d`, or a bare number of seconds.
    mutating func duration() throws -> Double {
        let t = tok
        guard t.kind == .word else { throw err(t, "expected a duration (e.g. 1h30m), got \(describe(t))") }
        guard let d = NftTextParser.parseDuration(t.text) else { throw err(t, "bad duration '\(t.text)': expected e.g. 30s, 5m, 1h, 2d, 100ms") }
        _ = advance()
        return d
    }

    static func parseDuration(_ s: String) -> Double? {
        if let v = Double(s) { return v }
        var total = 0.0
        var num = ""
        var chars = Array(s)
        var k = 0
        chars.append(" ")
        while k < chars.count - 1 {
            let c = chars[k]
            if c.isNumber { num.append(c); k += 1; continue }
            guard let v = Double(num) else { return nil }
            num = ""
            if c == "m" && chars[k + 1] == "s" { total += v / 1000; k += 2; continue }
            switch c {
            case "d": total += v * 86400
            case "h": total += v * 3600
            case "m": total += v * 60
            case "s": total += v
            default: return nil
            }
            k += 1
        }
        return num.isEmpty ? total : nil
    }

    // MARK: commands (`nft -f` scripts)

    mutating func command() throws {
        let cmd = advance()
        let objTok = tok
        let obj = try expectWord("an object kind (table, chain, rule, set, map, element, ...)")
        switch (cmd.text, obj) {
        case ("add", "table"), ("create", "table"):
            try tableBlock(create: true)
        case ("add", "chain"), ("create", "chain"):
            let fam = try family()
            let tname = try expectWord("a table name")
            let ti = try tableIndex(fam, tname, line: objTok.line, create: false, at: objTok)
            let cname = try expectWord("a chain name")
            let ci = try chainIndex(ti, cname, line: objTok.line, create: true, at: objTok)
            if isPunct("{") { try chainBody(ti, ci) }
        case ("add", "rule"), ("insert", "rule"):
            let fam = try family()
            let tname = try expectWord("a table name")
            let ti = try tableIndex(fam, tname, line: objTok.line, create: false, at: objTok)
            let cname = try expectWord("a chain name")
            let ci = try chainIndex(ti, cname, line: objTok.line, create: false, at: objTok)
            if isWord("position") || isWord("handle") || isWord("index") {
                let w = advance()
                _ = try expectWord("a number")
                result.unsupported.append(UnsupportedConstruct(file: file, line: cmd.line, construct: "\(cmd.text) rule \(w.text)", ruleText: cmd.text + " rule"))
            }
            try rule(ti, ci, insertAt: cmd.text == "insert" ? 0 : nil)
        case ("add", "set"), ("add", "map"), ("create", "set"), ("create", "map"):
            let fam = try family()
            let tname = try expectWord("a table name")
            let ti = try tableIndex(fam, tname, line: objTok.line, create: false, at: objTok)
            let sname = try expectWord("a set name")
            try setBody(ti, sname, isMap: obj == "map", line: objTok.line)
        case ("add", "element"), ("create", "element"):
            let fam = try family()
            let tname = try expectWord("a table name")
            let ti = try tableIndex(fam, tname, line: objTok.line, create: false, at: objTok)
            let sname = try expectWord("a set name")
            guard let si = result.tables[ti].sets.firstIndex(where: { $0.name == sname }) else { throw err(objTok, "set \(sname) does not exist in table \(tname)") }
            // Only the types are read here: a copy of the whole set would make the append below
            // copy every element (kube-proxy scripts add elements one command at a time).
            let (keyTypes, valueTypes, isMap) = (result.tables[ti].sets[si].keyTypes, result.tables[ti].sets[si].valueTypes, result.tables[ti].sets[si].isMap)
            let added = try elements(keyTypes: keyTypes, valueTypes: valueTypes, isMap: isMap, line: objTok.line,
                                     context: "\(cmd.text) element \(sname)", into: MapRef(table: ti, name: sname), exclusive: cmd.text == "create")
            result.tables[ti].sets[si].elements += added
        case ("add", "flowtable"), ("create", "flowtable"):
            let fam = try family()
            let tname = try expectWord("a table name")
            let ti = try tableIndex(fam, tname, line: objTok.line, create: false, at: objTok)
            let fname = try expectWord("a flowtable name")
            try flowtableBody(ti, fname, line: objTok.line)
        case ("add", "counter"), ("add", "quota"), ("add", "limit"):
            let fam = try family()
            let tname = try expectWord("a table name")
            let ti = try tableIndex(fam, tname, line: objTok.line, create: false, at: objTok)
            let oname = try expectWord("an object name")
            try objectBody(ti, kind: obj, name: oname, line: objTok.line)
        case ("flush", "ruleset"):
            result.tables.removeAll()
            chainMaps.removeAll()
            mapValues.removeAll()
        case ("flush", "table"):
            let fam = try family()
            let tname = try expectWord("a table name")
            if let ti = result.tables.firstIndex(where: { $0.family == fam && $0.name == tname }) {
                for ci in result.tables[ti].chains.indices { result.tables[ti].chains[ci].rules.removeAll() }
            }
        case ("flush", "chain"):
            let fam = try family()
            let tname = try expectWord("a table name")
            let cname = try expectWord("a chain name")
            if let ti = result.tables.firstIndex(where: { $0.family == fam && $0.name == tname }), let ci = chainMaps[ti][cname] {
                result.tables[ti].chains[ci].rules.removeAll()
            }
        case ("flush", "set"), ("flush", "map"):
            let fam = try family()
            let tname = try expectWord("a table name")
            let sname = try expectWord("a set name")
            if let ti = result.tables.firstIndex(where: { $0.family == fam && $0.name == tname }),
               let si = result.tables[ti].sets.firstIndex(where: { $0.name == sname }) {
                result.tables[ti].sets[si].elements.removeAll()
                mapValues[MapRef(table: ti, name: sname)] = nil
            }
        case ("delete", "table"), ("destroy", "table"):
            let fam = try family()
            let tname = try expectWord("a table name")
            if let ti = result.tables.firstIndex(where: { $0.family == fam && $0.name == tname }) {
                result.tables.remove(at: ti)
                chainMaps.remove(at: ti)
                // Table indices after it shift: forget what was seen (a missed error, never a false one).
                mapValues.removeAll()
            }
        default:
            // Other commands change state we do not track (delete rule by handle, rename, list, reset).
            var words = [cmd.text, obj]
            while !atStatementEnd { words.append(advance().text) }
            result.unsupported.append(UnsupportedConstruct(file: file, line: cmd.line, construct: "command \(cmd.text) \(obj)", ruleText: words.joined(separator: " ")))
        }
    }

    // MARK: rules

    mutating func rule(_ ti: Int, _ ci: Int, insertAt: Int?) throws {
        currentFamily = result.tables[ti].family
        let first = tok
        ruleUnsupported = []
        var statements: [NftStatement] = []
        var comment: String?
        var lastEnd = first.start
        while !atStatementEnd {
            let before = i
            do {
                if isWord("comment") && (peek(1).kind == .string || peek(1).kind == .word) {
                    _ = advance()
                    comment = advance().text
                } else {
                    statements.append(try statement())
                }
            } catch let u as NftUnsupported {
                ruleUnsupported.append(u.construct)
                // Skip the rest of the rule, rescanning from the statement's start to keep braces balanced.
                i = before
                var depth = 0
                while tok.kind != .eof && !(depth == 0 && atStatementEnd) {
                    if isPunct("{") || isPunct("(") { depth += 1 } else if isPunct("}") || isPunct(")") { depth -= 1 }
                    _ = advance()
                }
                statements.append(.unsupported(u.construct))
            }
            if i == before { throw err(tok, "unexpected \(describe(tok))") }
            lastEnd = toks[i - 1].end
        }
        let handle = handleComment()
        let text = String(decoding: bytes[first.start..<max(first.start, lastEnd)], as: UTF8.self)
        // Copy only the names: a copy of the table would keep its chains array shared and make
        // the append below copy every chain.
        let (family, tableName, chainName) = (result.tables[ti].family, result.tables[ti].name, result.tables[ti].chains[ci].name)
        let r = NftRule(family: family, table: tableName, chain: chainName, position: 0, handle: handle, file: file,
                        line: first.line, text: text, statements: statements, comment: comment, isUnsupported: !ruleUnsupported.isEmpty)
        for u in ruleUnsupported {
            result.unsupported.append(UnsupportedConstruct(file: file, line: first.line, construct: u, ruleText: text))
        }
        if let at = insertAt { result.tables[ti].chains[ci].rules.insert(r, at: at) } else { result.tables[ti].chains[ci].rules.append(r) }
    }

    static let bareMetaKeys: Set<String> = [
        "iifname", "oifname", "iif", "oif", "mark", "iiftype", "oiftype", "skuid", "skgid", "nftrace", "rtclassid",
        "ibrname", "obrname", "pkttype", "cpu", "iifgroup", "oifgroup", "cgroup", "ipsec", "iifkind", "oifkind",
    ]

    mutating func statement() throws -> NftStatement {
        let t = tok
        if t.kind == .punct && t.text == "@" { return try matchOrSet() }
        guard t.kind == .word else { throw err(t, "expected a statement, got \(describe(t))") }
        switch t.text {
        case "accept", "drop", "continue", "return", "jump", "goto":
            return .verdict(try verdictIfAny()!)
        case "queue":
            _ = advance()
            var q = NftQueue()
            while tok.kind == .word {
                switch tok.text {
                case "num", "to":
                    _ = advance()
                    if startsLHS() { q.number = try expression(valueType: .integer); continue }
                    let w = try expectWord("a queue number")
                    q.number = NftValues.value(w, .integer, quoted: false) ?? .symbol(w)
                case "flags":
                    _ = advance(); q.flags += try commaWords()
                case "bypass", "fanout":
                    q.flags.append(advance().text)
                    while isPunct(",") { _ = advance(); q.flags.append(try expectWord("a queue flag")) }
                default: return .queue(q)
                }
            }
            return .queue(q)
        case "counter":
            _ = advance()
            if isWord("packets") {
                _ = advance(); let p = try number("a packet count", UInt64.self)
                guard isWord("bytes") else { throw err(tok, "expected 'bytes' after the packet count") }
                _ = advance(); let b = try number("a byte count", UInt64.self)
                return .counter(Counters(packets: p, bytes: b))
            }
            if isWord("name") {
                _ = advance()
                if startsLHS() { throw NftUnsupported(construct: "counter name EXPRESSION map") }
                return .counterReference(try expectWord("a counter name"))
            }
            return .counter(nil)
        case "limit":
            _ = advance()
            if isWord("name") {
                _ = advance()
                if startsLHS() { throw NftUnsupported(construct: "limit name EXPRESSION map") }
                return .objectReference(kind: "limit", name: try expectWord("a limit name"))
            }
            guard isWord("rate") else { throw err(tok, "expected 'rate' after limit") }
            _ = advance()
            var over = false
            if isWord("over") { over = true; _ = advance() } else if isWord("until") { _ = advance() }
            let rateTok = tok
            var w = try expectWord("a rate like 10/second")
            var bytesRate = false
            var mult: UInt64 = 1
            if !w.contains("/"), tok.kind == .word {
                // `10 mbytes/second`
                let unit = try expectWord("a unit")
                guard let slash = unit.firstIndex(of: "/") else { throw err(rateTok, "expected N/unit") }
                mult = byteUnit(String(unit[..<slash])); bytesRate = true
                w += "/" + unit[unit.index(after: slash)...]
            }
            let parts = w.split(separator: "/")
            guard parts.count == 2, let n = UInt64(parts[0]), let per = NftTextParser.ratePer(String(parts[1])) else {
                throw err(rateTok, "bad rate '\(w)': expected N/second, N/minute, N/hour, N/day or N/week")
            }
            // nft's default burst is 5 packets (not printed when it is the default); 0 for byte rates.
            var burst: UInt64? = 5
            let burstGiven = isWord("burst")
            if isWord("burst") {
                _ = advance()
                burst = try number("a burst size", UInt64.self)
                if isWord("packets") || isWord("bytes") { _ = advance() } else if tok.kind == .word, ["kbytes", "mbytes", "gbytes"].contains(tok.text) { burst = burst! * byteUnit(advance().text) }
            }
            if bytesRate && !burstGiven { burst = 0 }
            return .limit(NftLimit(rate: n * mult, per: per, bytes: bytesRate, burst: burst, over: over))
        case "quota":
            _ = advance()
            if isWord("name") {
                _ = advance()
                if startsLHS() { throw NftUnsupported(construct: "quota name EXPRESSION map") }
                return .objectReference(kind: "quota", name: try expectWord("a quota name"))
            }
            var over = false
            if isWord("over") { over = true; _ = advance() } else if isWord("until") { _ = advance() }
            let n = try number("a byte count", UInt64.self)
            let unit = tok.kind == .word ? byteUnit(tok.text) : 1
            if tok.kind == .word, ["bytes", "kbytes", "mbytes", "gbytes"].contains(tok.text) { _ = advance() }
            var used: UInt64 = 0
            if isWord("used") {
                _ = advance(); used = try number("a byte count", UInt64.self)
                if tok.kind == .word, ["bytes", "kbytes", "mbytes", "gbytes"].contains(tok.text) { used *= byteUnit(advance().text) }
            }
            return .quota(NftQuota(bytes: n * unit, used: used, over: over))
        case "log":
            _ = advance()
            var l = NftLog()
            loop: while tok.kind == .word {
                switch tok.text {
                case "prefix": _ = advance(); l.prefix = try expectWord("a prefix string")
                case "level": _ = advance(); l.level = try expectWord("a log level")
                case "group": _ = advance(); l.group = try number("a group number", UInt16.self)
                case "snaplen": _ = advance(); l.snaplen = try number("a snap length", UInt32.self)
                case "queue-threshold": _ = advance(); l.queueThreshold = try number("a threshold", UInt32.self)
                case "flags":
                    _ = advance()
                    // `flags tcp sequence,options`, `flags ip options`, `flags skuid`, `flags ether`, `flags all`.
                    let first = try expectWord("a log flag")
                    if first == "tcp" || first == "ip" {
                        l.flags += try commaWords().map { "\(first) \($0)" }
                    } else {
                        l.flags.append(first)
                    }
                default: break loop
                }
            }
            return .log(l)
        case "reject":
            _ = advance()
            guard isWord("with") else { return .reject(.familyDefault(currentFamily)) }
            _ = advance()
            let kindTok = tok
            let kind = try expectWord("icmp, icmpv6, icmpx or tcp")
            if kind == "tcp" {
                guard isWord("reset") else { throw err(tok, "expected 'reset' after 'with tcp'") }
                _ = advance(); return .reject(.tcpReset)
            }
            if isWord("type") { _ = advance() }
            let codeTok = tok
            let code = try expectWord("an ICMP code name")
            switch kind {
            case "icmp":
                guard let c = NftValues.icmpCodes[code] ?? Num.parse(Substring(code)) else { throw err(codeTok, "unknown icmp code '\(code)'") }
                return .reject(.icmp(code: UInt8(truncatingIfNeeded: c)))
            case "icmpv6":
                guard let c = NftValues.icmpv6Codes[code] ?? Num.parse(Substring(code)) else { throw err(codeTok, "unknown icmpv6 code '\(code)'") }
                return .reject(.icmpv6(code: UInt8(truncatingIfNeeded: c)))
            case "icmpx":
                guard let c = NftValues.icmpxCodes[code] ?? Num.parse(Substring(code)) else { throw err(codeTok, "unknown icmpx code '\(code)'") }
                return .reject(.icmpx(code: UInt8(truncatingIfNeeded: c)))
            default:
                throw err(kindTok, "bad reject type '\(kind)': expected icmp, icmpv6, icmpx or tcp")
            }
        case "snat", "dnat", "masquerade", "redirect":
            return try nat()
        case "notrack":
            _ = advance(); return .notrack
        case "flow":
            _ = advance()
            if isWord("add") || isWord("offload") { _ = advance() }
            try expectPunct("@", "before the flowtable name")
            return .flowOffload(try expectWord("a flowtable name"))
        case "add", "update", "delete":
            if isPunct("@", 1) {
                let op = advance().text
                _ = advance()
                let name = try expectWord("a set name")
                try expectPunct("{", "after @\(name)")
                skipBlanksInBraces()
                let key = try expression()
                var data: NftExpr?
                var timeout: Double?
                var stmts: [NftStatement] = []
                while !isPunct("}") {
                    skipBlanksInBraces()
                    if isPunct("}") { break }
                    if isWord("timeout") { _ = advance(); timeout = try duration(); continue }
                    if isWord("expires") { _ = advance(); _ = try duration(); continue }
                    if isWord(":") { _ = advance(); data = try expression(valueType: .integer); continue }
                    if tok.kind == .eof { throw err(tok, "expected '}'") }
                    stmts.append(try statement())
                }
                _ = advance()
                return .setUpdate(NftSetUpdate(op: op, set: name, key: key, value: data, timeoutSeconds: timeout, statements: stmts))
            }
            throw NftUnsupported(construct: t.text)
        case "ct":
            if isWord("count", 1) {
                _ = advance(); _ = advance()
                var over = false
                if isWord("over") { over = true; _ = advance() }
                return .ctCount(count: try number("a connection count", UInt32.self), over: over)
            }
            if (isWord("helper", 1) || isWord("timeout", 1) || isWord("expectation", 1)) && isWord("set", 2) {
                _ = advance(); let kind = advance().text; _ = advance()
                if startsLHS() { throw NftUnsupported(construct: "ct \(kind) set EXPRESSION map") }
                return .objectReference(kind: "ct " + kind, name: try expectWord("an object name"))
            }
            return try matchOrSet()
        case "meta" where isWord("nftrace", 1) || isWord("mark", 1) || isWord("priority", 1) || isWord("pkttype", 1):
            return try matchOrSet()
        case "tproxy", "synproxy", "fwd", "dup", "xt", "osf", "meter", "secmark", "exthdr", "ipsec", "last", "inner", "vxlan", "geneve", "gretap":
            throw NftUnsupported(construct: t.text)
        default:
            return try matchOrSet()
        }
    }

    static func ratePer(_ u: String) -> UInt64? {
        switch u {
        case "second": return 1
        case "minute": return 60
        case "hour": return 3600
        case "day": return 86400
        case "week": return 604800
        default: return nil
        }
    }

    mutating func nat() throws -> NftStatement {
        let kw = advance()
        var n = NftNat(kind: NftNat.Kind(rawValue: kw.text)!)
        if isWord("ip") || isWord("ip6") { n.family = advance().text }
        if isWord("prefix") && isWord("to", 1) { n.flags.append(advance().text) }
        let addressType: NftDatatype = n.family == "ip6" ? .ipv6Addr : .ipv4Addr
        let bareTarget = (kw.text == "dnat" || kw.text == "snat") && !isWord("to")
            && (isPunct("[") || (tok.kind == .word && (IPAddress(Substring(tok.text.split(separator: ":").first ?? "")) != nil || IPAddress(Substring(tok.text)) != nil)))
        if isWord("to") || bareTarget {
            if !bareTarget { _ = advance() }
            if kw.text == "masquerade" || kw.text == "redirect" {
                // `to :PORT[-PORT]`
                let w = try expectWord(":PORT")
                // nft also takes the port without the colon (`redirect to 26`).
                guard w.hasPrefix(":") || Num.parse(Substring(w.split(separator: "-").first ?? "")) != nil else {
                    throw err(kw, "bad port '\(w)': expected :PORT or :PORT-PORT")
                }
                guard let v = NftValues.value(w.hasPrefix(":") ? String(w.dropFirst()) : w, .inetService, quoted: false) else {
                    throw NftUnsupported(construct: "\(kw.text) to :EXPRESSION")
                }
                n.port = v
            } else {
                try natTarget(&n, addressType)
            }
        }
        while tok.kind == .word, ["random", "fully-random", "persistent", "netmap", "prefix"].contains(tok.text) {
            n.flags.append(advance().text)
            while isPunct(",") { _ = advance(); n.flags.append(try expectWord("a NAT flag")) }
        }
        return .nat(n)
    }

    /// `ADDR`, `ADDR:PORT`, `[v6]:PORT`, `ADDR-ADDR`, `:PORT`, or an expression with `map`.
    mutating func natTarget(_ n: inout NftNat, _ addressType: NftDatatype) throws {
        let t = tok
        if t.kind == .punct && t.text == "[" {
            _ = advance()
            let a = try expectWord("an IPv6 address")
            try expectPunct("]", "after the IPv6 address")
            guard let addr = NftValues.value(a, .ipv6Addr, quoted: false) else { throw err(t, "bad IPv6 address '\(a)'") }
            n.address = addr
            if tok.kind == .word, tok.text.hasPrefix(":") {
                let p = advance().text.dropFirst()
                guard let pv = NftValues.value(String(p), .inetService, quoted: false) else { throw err(t, "bad port '\(p)'") }
                n.port = pv
            }
            return
        }
        if t.kind == .word {
            let w = t.text
            if w.hasPrefix(":") && !w.hasPrefix("::") {
                guard NftValues.value(String(w.dropFirst()), .inetService, quoted: false) != nil else {
                    throw NftUnsupported(construct: "\(n.kind.rawValue) to :EXPRESSION")
                }
                _ = advance()
                guard let pv = NftValues.value(String(w.dropFirst()), .inetService, quoted: false) else { throw err(t, "bad port '\(w)'") }
                n.port = pv; return
            }
            // v4 address with :port, or a v6 address/range without port.
            if addressType == .ipv4Addr || w.contains("."), let colon = w.firstIndex(of: ":"), !w.contains("::"), w.filter({ $0 == ":" }).count == 1 {
                let a = String(w[..<colon]), p = String(w[w.index(after: colon)...])
                if let av = NftValues.value(a, .ipv4Addr, quoted: false), let pv = NftValues.value(p, .inetService, quoted: false) {
                    _ = advance(); n.address = av; n.port = pv; return
                }
            }
            let type: NftDatatype = w.contains(":") ? .ipv6Addr : (w.contains(".") ? .ipv4Addr : addressType)
            if let av = NftValues.value(w, type, quoted: false) {
                _ = advance(); n.address = av
                if tok.kind == .word && tok.text.hasPrefix(":") { n.port = try natPortAfterColon() }
                return
            }
        }
        // An expression, usually `KEY map { ... }` or `KEY map @m`, maybe `. port`.
        let e = try expression()
        n.address = e
    }

    mutating func natPortAfterColon() throws -> NftExpr {
        if tok.kind == .word && tok.text == ":" {
            _ = advance()
            if startsLHS() { return try expression(valueType: .inetService) }
        }
        let t = tok
        var w = try expectWord("a port")
        if w.hasPrefix(":") { w.removeFirst() }
        guard let v = NftValues.value(w, .inetService, quoted: false) else { throw err(t, "bad port '\(w)'") }
        return v
    }

    /// `LHS [op] RHS`, `LHS set VALUE`, `LHS vmap MAPPING`.
    mutating func matchOrSet() throws -> NftStatement {
        // `icmp echo-request` / `icmpv6 nd-neighbor-solicit`: newer nft's shorthand for `... type NAME`.
        if tok.kind == .word, tok.text == "icmp" || tok.text == "icmpv6", peek(1).kind == .word,
           NftPayloadTable.field(tok.text, peek(1).text) == nil || (peek(2).kind == .word && Num.parse(Substring(peek(2).text)) == nil && !peek(2).text.contains(":")),
           let field = NftPayloadTable.field(tok.text, "type"),
           let v = NftValues.value(peek(1).text, field.type, quoted: false) {
            _ = advance(); _ = advance()
            return .match(NftMatch(left: .payload(field), op: .eq, right: v))
        }
        let lhs = try expression()
        if isWord("set") {
            _ = advance()
            let v = try expression(valueType: lhs.datatype)
            return .set(target: lhs, value: v)
        }
        if isWord("vmap") {
            _ = advance()
            return .vmap(key: lhs, mapping: try mapping(keyTypes: lhs.keyTypes, valueType: .verdict))
        }
        var op = NftRelOp.implicit
        if tok.kind == .punct, let o = NftRelOp(rawValue: tok.text), o != .implicit {
            op = o; _ = advance()
        } else if tok.kind == .word, let o = ["eq": NftRelOp.eq, "ne": .ne, "lt": .lt, "gt": .gt, "le": .le, "ge": .ge][tok.text] {
            op = o; _ = advance()
        } else if tok.kind == .punct && tok.text == "!" {
            throw NftUnsupported(construct: "!")
        }
        if atStatementEnd {
            throw NftUnsupported(construct: "\(lhs) without a value")
        }
        let rhs = try rightHandSide(lhs.keyTypes)
        var left = lhs
        // `tcp flags syn / fin,syn,rst,ack`: a masked comparison.
        if tok.kind == .word && tok.text == "/" {
            _ = advance()
            let mask = try rightHandSide(lhs.keyTypes)
            left = .binary(.and, lhs, mask)
            if op == .implicit { op = .eq }
        }
        return .match(NftMatch(left: left, op: NftTextParser.normalize(op, left: left, right: rhs), right: rhs))
    }

    /// An implicit comparison is a bit test only for a bitmask type against a plain value.
    static func normalize(_ op: NftRelOp, left: NftExpr, right: NftExpr) -> NftRelOp {
        guard op == .implicit else { return op }
        switch right {
        case .anonymousSet, .setReference: return .eq
        default: return left.datatype.isBitmask ? .implicit : .eq
        }
    }

    /// An expression: a primary LHS with `.` concatenation and bit operations, optionally `map`.
    mutating func expression(valueType: NftDatatype? = nil) throws -> NftExpr {
        var parts: [NftExpr] = [try binaryExpr(valueType: valueType)]
        while tok.kind == .word && tok.text == "." {
            _ = advance()
            parts.append(try binaryExpr(valueType: valueType))
        }
        var e = parts.count == 1 ? parts[0] : .concat(parts)
        if isWord("map") {
            _ = advance()
            e = .map(key: e, mapping: try mapping(keyTypes: e.keyTypes, valueType: valueType))
        }
        return e
    }

    mutating func binaryExpr(valueType: NftDatatype?) throws -> NftExpr {
        var e: NftExpr
        if !startsLHS() {
            // A literal where an expression may stand (`ip saddr . 22` in a set update, a `set` value).
            e = try rightHandSide([valueType ?? .integer])
        } else {
            e = try primary()
        }
        while true {
            let op: NftBinaryOp?
            if tok.kind == .punct { op = NftBinaryOp(rawValue: tok.text) } else if tok.kind == .word {
                op = ["and": .and, "or": .or, "xor": .xor, "lshift": .shiftLeft, "rshift": .shiftRight][tok.text]
            } else { op = nil }
            guard let o = op else { break }
            // The right operand is one value (or a parenthesised group): `ct mark & 0xff00 | 0x1`
            // is `(ct mark & 0xff00) | 0x1`.
            _ = advance()
            let r = try value(e.datatype)
            e = .binary(o, e, r)
        }
        return e
    }

    /// Whether the cursor starts a packet/context expression (as opposed to a literal).
    func startsLHS() -> Bool {
        let t = tok
        if t.kind == .punct { return t.text == "@" || t.text == "(" }
        guard t.kind == .word else { return false }
        if NftPayloadTable.headers[t.text] != nil, peek(1).kind == .word { return true }
        switch t.text {
        case "meta", "ct", "fib", "rt", "socket", "numgen", "jhash", "symhash": return true
        default: return NftTextParser.bareMetaKeys.contains(t.text)
        }
    }

    mutating func primary() throws -> NftExpr {
        let t = tok
        if t.kind == .punct && t.text == "(" {
            _ = advance()
            let e = try expression()
            try expectPunct(")", "to close '('")
            return e
        }
        if t.kind == .punct && t.text == "@" {
            // Raw payload `@ll,OFF,LEN` / `@nh,...` / `@th,...`.
            _ = advance()
            let baseWord = try expectWord("ll, nh, th or ih")
            try expectPunct(",", "in raw payload")
            let off = try number("a bit offset", Int.self)
            try expectPunct(",", "in raw payload")
            let len = try number("a bit length", Int.self)
            let base: NftPayloadBase
            switch baseWord {
            case "ll": base = .link
            case "nh": base = .network
            case "th": base = .transport
            case "ih": base = .inner
            default: throw err(t, "bad raw payload base '\(baseWord)': expected ll, nh, th or ih")
            }
            return .rawPayload(base: base, offsetBits: off, lengthBits: len)
        }
        guard t.kind == .word else { throw NftUnsupported(construct: "expression starting with \(describe(t))") }
        let w = t.text
        if let h = NftPayloadTable.headers[w] {
            _ = h
            let f = peek(1)
            guard f.kind == .word else { throw NftUnsupported(construct: "\(w) \(f.text)") }
            if let field = NftPayloadTable.field(w, f.text) {
                _ = advance(); _ = advance()
                return .payload(field)
            }
            if w == "tcp" && f.text == "option" {
                // `tcp option NAME [FIELD]`: the options rxray reads (maxseg for MSS clamping).
                let name = peek(2)
                let fields: [String: [String]] = ["maxseg": ["size", "length", "kind"], "window": ["count", "length", "kind"],
                                                  "sack-perm": ["length", "kind"], "timestamp": ["tsval", "tsecr", "length", "kind"],
                                                  "sack": ["left", "right", "length", "kind"], "sack0": ["left", "right"],
                                                  "sack1": ["left", "right"], "sack2": ["left", "right"], "sack3": ["left", "right"],
                                                  "eol": ["kind"], "nop": ["kind"], "mptcp": ["subtype"], "fastopen": ["length"], "md5sig": ["length"]]
                guard name.kind == .word, let known = fields[name.text] else { throw NftUnsupported(construct: "tcp option \(name.text)") }
                _ = advance(); _ = advance(); _ = advance()
                var field: String?
                if tok.kind == .word, known.contains(tok.text) { field = advance().text }
                return .exthdr(header: "tcp option \(name.text)", field: field)
            }
            if ["option", "hbh", "rt", "rt0", "rt2", "srh", "frag", "dst", "mh"].contains(f.text) {
                throw NftUnsupported(construct: "\(w) \(f.text)")
            }
            if w == "arp" && (f.text == "saddr" || f.text == "daddr") {
                // `arp saddr ip` / `arp daddr ether`.
                let g = peek(2)
                _ = advance(); _ = advance(); _ = advance()
                let isIP = g.text == "ip"
                let off = f.text == "saddr" ? 64 : (isIP ? 160 : 128)
                let field = NftPayloadField(header: "arp", field: "\(f.text) \(g.text)", base: .network, offsetBits: isIP ? (f.text == "saddr" ? 112 : 192) : off,
                                            lengthBits: isIP ? 32 : 48, type: isIP ? .ipv4Addr : .etherAddr, dependency: .etherType(0x0806))
                return .payload(field)
            }
            throw NftUnsupported(construct: "\(w) \(f.text)")
        }
        switch w {
        case "meta":
            _ = advance()
            let kt = tok
            let k = try expectWord("a meta key")
            guard let key = NftMetaKey(rawValue: k) else { throw NftUnsupported(construct: "meta \(k)") }
            _ = kt
            return .meta(key)
        case "ct":
            _ = advance()
            var dir: String?
            if isWord("original") || isWord("reply") { dir = advance().text }
            let k = try expectWord("a ct key")
            switch k {
            case "state", "status", "mark", "direction", "zone", "label", "expiration", "helper", "l3proto", "protocol",
                 "proto-src", "proto-dst", "saddr", "daddr", "bytes", "packets", "avgpkt", "id", "secmark", "event":
                return .ct(key: k, direction: dir)
            case "ip", "ip6":
                let f = try expectWord("saddr or daddr")
                return .ct(key: "\(k) \(f)", direction: dir)
            default:
                throw NftUnsupported(construct: "ct \(k)")
            }
        case "fib":
            _ = advance()
            var flags = [try expectWord("saddr, daddr, mark, iif or oif")]
            while tok.kind == .word && tok.text == "." { _ = advance(); flags.append(try expectWord("a fib flag")) }
            let result = try expectWord("oif, oifname or type")
            guard ["oif", "oifname", "type", "check"].contains(result) else { throw NftUnsupported(construct: "fib result \(result)") }
            return .fib(flags: flags, result: result)
        case "rt":
            _ = advance()
            var fam: String?
            if isWord("ip") || isWord("ip6") { fam = advance().text }
            let k = try expectWord("an rt key")
            guard ["classid", "nexthop", "mtu", "ipsec"].contains(k) else { throw NftUnsupported(construct: "rt \(k)") }
            return .rt(key: k, family: fam)
        case "socket":
            _ = advance()
            let k = try expectWord("a socket key")
            var level: Int?
            if k == "cgroupv2" { guard isWord("level") else { throw err(tok, "expected 'level'") }; _ = advance(); level = try number("a level", Int.self) }
            guard ["transparent", "mark", "wildcard", "cgroupv2"].contains(k) else { throw NftUnsupported(construct: "socket \(k)") }
            return .socket(key: k, level: level)
        case "numgen":
            _ = advance()
            let mode = try expectWord("inc or random")
            guard isWord("mod") else { throw err(tok, "expected 'mod' after numgen \(mode)") }
            _ = advance()
            let m = try number("a modulus", UInt32.self)
            var off: UInt32 = 0
            if isWord("offset") { _ = advance(); off = try number("an offset", UInt32.self) }
            return .numgen(mode: mode, modulus: m, offset: off)
        case "jhash", "symhash":
            _ = advance()
            var inner: NftExpr?
            if w == "jhash" {
                var parts = [try primary()]
                while tok.kind == .word && tok.text == "." { _ = advance(); parts.append(try primary()) }
                inner = parts.count == 1 ? parts[0] : .concat(parts)
            }
            guard isWord("mod") else { throw err(tok, "expected 'mod' in \(w)") }
            _ = advance()
            let m = try number("a modulus", UInt32.self)
            var seed: UInt32?
            var off: UInt32 = 0
            while isWord("seed") || isWord("offset") {
                if advance().text == "seed" { seed = try number("a seed", UInt32.self) } else { off = try number("an offset", UInt32.self) }
            }
            return .hash(kind: w, expr: inner, modulus: m, seed: seed, offset: off)
        default:
            if NftTextParser.bareMetaKeys.contains(w), let key = NftMetaKey(rawValue: w) {
                _ = advance()
                return .meta(key)
            }
            throw NftUnsupported(construct: w)
        }
    }

    /// `{ ... }`, `@set`, or a value (with `.` concatenation and `,` flag lists).
    mutating func mapping(keyTypes: [NftDatatype], valueType: NftDatatype?) throws -> NftExpr {
        if isPunct("@") { _ = advance(); return .setReference(try expectWord("a map name")) }
        guard isPunct("{") else { throw err(tok, "expected '{' or @map after map/vmap, got \(describe(tok))") }
        return .anonymousSet(try elements(keyTypes: keyTypes, valueTypes: valueType.map { [$0] } ?? [], isMap: true, line: tok.line, context: "map"))
    }

    mutating func rightHandSide(_ types: [NftDatatype]) throws -> NftExpr {
        if isPunct("{") {
            return .anonymousSet(try elements(keyTypes: types, valueTypes: [], isMap: false, line: tok.line, context: "anonymous set"))
        }
        if isPunct("@") { _ = advance(); return .setReference(try expectWord("a set name")) }
        var parts: [NftExpr] = []
        var k = 0
        repeat {
            if k > 0 { _ = advance() }
            let type = k < types.count ? types[k] : (types.last ?? .integer)
            parts.append(try flagValue(type))
            k += 1
        } while tok.kind == .word && tok.text == "." && !startsLHSAfterDot()
        return parts.count == 1 ? parts[0] : .concat(parts)
    }

    /// After `VALUE .` the next part is a value unless it is an expression (`jhash ip saddr . tcp dport`).
    func startsLHSAfterDot() -> Bool { false }

    /// A value, a `(a | b)` group, or an `a,b,c` / `a | b` list of flags for bitmask types.
    mutating func flagValue(_ type: NftDatatype, allowComma: Bool = true) throws -> NftExpr {
        var items = [try value(type)]
        while (allowComma && isPunct(",")) || (isPunct("|") && type.isBitmask) {
            _ = advance()
            items.append(try value(type))
        }
        if items.count == 1 { return items[0] }
        // Fold integers into one bit set (`established,related`, `fin | syn`).
        var acc: UInt64 = 0
        for it in items { guard case .integer(let v) = it else { return .flags(items) }; acc |= v }
        return .integer(acc)
    }

    mutating func value(_ type: NftDatatype) throws -> NftExpr {
        let t = tok
        if t.kind == .punct && t.text == "(" {
            _ = advance()
            let inner = try flagValue(type)
            try expectPunct(")", "to close '('")
            return inner
        }
        if t.kind == .punct && t.text == "@" { _ = advance(); return .setReference(try expectWord("a set name")) }
        if t.kind == .punct && t.text == "[" {
            _ = advance()
            let w = try expectWord("an IPv6 address")
            try expectPunct("]", "after the address")
            guard let v = NftValues.value(w, .ipv6Addr, quoted: false) else { throw err(t, "bad IPv6 address '\(w)'") }
            return v
        }
        if t.kind == .punct && t.text == "{" {
            return .anonymousSet(try elements(keyTypes: [type], valueTypes: [], isMap: false, line: t.line, context: "set"))
        }
        guard t.kind == .word || t.kind == .string else {
            throw err(t, "expected a value, got \(describe(t))")
        }
        if t.kind == .word && t.text == "*" { _ = advance(); return .wildcard }
        if type == .verdict, let v = try verdictIfAny() { return .verdict(v) }
        if t.kind == .word && (t.text == "exists" || t.text == "missing") {
            _ = advance()
            return .boolean(t.text == "exists")
        }
        if let v = NftValues.value(t.text, type, quoted: t.kind == .string) {
            _ = advance()
            // `"2022-05-30 21:51:23"-"2022-06-01 23:51:23"`: a range of quoted values.
            if t.kind == .string, tok.kind == .word, tok.text == "-", peek(1).kind == .string,
               let hi = NftValues.value(peek(1).text, type, quoted: true) {
                _ = advance(); _ = advance()
                return .range(v, hi)
            }
            return v
        }
        if type == .integer, t.kind == .word, let v = NftValues.guess(t.text) {
            // A value whose type is not known here (map data in NAT statements, typeless sets).
            _ = advance()
            return v
        }
        // A prefix of a non-address type, or a value of an unknown type.
        if t.kind == .word, type == .mark || type == .integer {
            if t.text.hasPrefix("-"), let n = Int64(t.text) { _ = advance(); return .integer(UInt64(bitPattern: n)) }
        }
        if t.kind == .word, (type == .ipv4Addr || type == .ipv6Addr), let p = IPPrefix(Substring(t.text)) { _ = advance(); return .prefix(p) }
        if t.kind == .word, startsLHS() { return try primary() }
        // An unknown name for this type (a service or symbol not in rxray's tables).
        _ = advance()
        throw NftUnsupported(construct: "value '\(t.text)' for \(type.rawValue)")
    }

}
