import RxrayDecode

/// Parses iptables-save / ip6tables-save output (and iptables-restore input) into an `IptablesRuleset`.
///
/// Accepts both backends' output of iptables 1.8.9 (nf_tables and legacy), with or without
/// `-c` counters, and the restore commands people write by hand (`-A`, `-I`, `-N`, `-P`, `-F`,
/// `-X`). Mirrors what `iptables-restore` accepts (iptables/iptables-restore.c and
/// iptables/xshared.c's option handling); the kernel only ever sees the result.
public enum IptablesParser {
    /// Parses the text of one file.
    ///
    /// - Parameters:
    ///   - text: the whole file.
    ///   - file: the name used in errors and rule locations.
    ///   - family: `.ipv4` for iptables-save, `.ipv6` for ip6tables-save (decides reject kinds,
    ///     ICMP module names and address family checks).
    /// - Throws: `InputError` with line and column for syntax errors (a rule outside a table,
    ///   a missing `COMMIT`, an option without its argument, a bad address or number).
    public static func parse(_ text: String, file: String, family: RuleFamily) throws -> IptablesRuleset {
        var p = Parser(file: file, family: family)
        try p.run(text)
        return p.result
    }

    /// Guesses whether a save file is ip6tables-save output: true when an address, NAT target
    /// or ICMP match in it is IPv6. Files with no addresses at all come out as IPv4.
    public static func detectFamily(_ text: String) -> RuleFamily {
        for line in text.split(separator: "\n") where line.hasPrefix("-") || line.hasPrefix("[") {
            if line.contains("icmpv6") || line.contains("icmp6") || line.contains("ipv6-icmp") || line.contains("-m hl ")
                || line.contains("-m ipv6header") || line.contains("-m rt ") || line.contains("-m frag ") { return .ipv6 }
            let words = line.split(separator: " ")
            for (i, w) in words.enumerated() where i + 1 < words.count {
                if ["-s", "-d", "--source", "--destination", "--to-destination", "--to-source"].contains(w), words[i + 1].contains(":"),
                   IPAddress(words[i + 1].split(separator: "/")[0].split(separator: ",")[0]).map({ !$0.isV4 }) ?? words[i + 1].hasPrefix("[") {
                    return .ipv6
                }
            }
        }
        return .ipv4
    }

    /// Reads and parses a file.
    public static func parse(contentsOf path: String, family: RuleFamily) throws -> IptablesRuleset {
        try parse(try readTextFile(path), file: path, family: family)
    }
}

/// Reads a whole text file, as an `InputError` when it cannot be read.
func readTextFile(_ path: String) throws -> String {
    guard let f = fopen(path, "rb") else { throw InputError(file: path, "cannot open file") }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n > 0 { bytes.append(contentsOf: buf[0..<n]) }
        if n < buf.count { break }
    }
    if ferror(f) != 0 { throw InputError(file: path, "read error") }
    return String(decoding: bytes, as: UTF8.self)
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A raw `--option args` as written, before typing.
struct RawOption {
    var name: String
    var negated: Bool
    var args: [String]
    var column: Int
}

/// An extension (`-m` match or `-j` target) while its options are being gathered.
struct PendingExtension {
    var name: String
    var isTarget: Bool
    var column: Int
    var options: [RawOption] = []
    var negatedModule = false
    /// Index into the rule's match list where this match goes (matches keep written order).
    var matchSlot: Int
    /// Unknown options already reported.
    var unknown: [String] = []
}

private struct Parser {
    let file: String
    let family: RuleFamily
    var result: IptablesRuleset
    var currentTable: Int? = nil
    var tableLine = 0
    var lineNumber = 0
    /// Rules of the current table by chain, before renumbering.
    var chainIndex: [String: Int] = [:]

    init(file: String, family: RuleFamily) {
        self.file = file; self.family = family
        result = IptablesRuleset(file: file, family: family)
    }

    func err(_ column: Int?, _ message: String) -> InputError {
        InputError(file: file, line: lineNumber, column: column, message)
    }

    mutating func run(_ text: String) throws {
        var n = 0
        // Lines are cut on bytes (a '\n' byte never occurs inside a multi-byte UTF-8 sequence).
        for rawBytes in text.utf8.split(separator: 10, omittingEmptySubsequences: false) {
            n += 1
            lineNumber = n
            var lineBytes = rawBytes
            if lineBytes.last == 13 { lineBytes = lineBytes.dropLast() }
            let body = lineBytes.drop { $0 == 32 || $0 == 9 }
            guard let firstByte = body.first, firstByte != UInt8(ascii: "#") else { continue }
            let trimmed = Substring(body)
            let indent = lineBytes.count - body.count
            switch trimmed.first {
            case "*":
                guard currentTable == nil else {
                    throw err(1, "table \(trimmed.dropFirst()) starts before COMMIT of the previous table")
                }
                let name = String(trimmed.dropFirst()).trimmingTrailingBlanks()
                guard ["filter", "nat", "mangle", "raw", "security"].contains(name) else {
                    throw err(2, "unknown table '\(name)': expected filter, nat, mangle, raw or security")
                }
                if let i = result.tables.firstIndex(where: { $0.name == name }) {
                    currentTable = i
                } else {
                    result.tables.append(IptablesTable(name: name, line: n))
                    currentTable = result.tables.count - 1
                }
                tableLine = n
                chainIndex = [:]
                for (i, c) in result.tables[currentTable!].chains.enumerated() { chainIndex[c.name] = i }
            case ":":
                try chainDeclaration(trimmed)
            default:
                if trimmed.hasPrefix("COMMIT") && trimmed.trimmingTrailingBlanks() == "COMMIT" {
                    guard currentTable != nil else { throw err(1, "COMMIT outside a table: expected *table first") }
                    try commit()
                    currentTable = nil
                } else {
                    try command(trimmed, indent: indent)
                }
            }
        }
        if let t = currentTable {
            throw InputError(file: file, line: tableLine, column: 1, "table \(result.tables[t].name) has no COMMIT: expected COMMIT before end of file")
        }
    }

    mutating func chainDeclaration(_ line: Substring) throws {
        guard let t = currentTable else { throw err(1, "chain declaration before any *table") }
        let toks = try IptTokenizer.split(line.dropFirst(), file: file, lineNumber: lineNumber)
        guard let nameTok = toks.first else { throw err(2, "expected a chain name after ':'") }
        let name = nameTok.text
        guard toks.count >= 2 else { throw err(2 + name.utf8.count, "expected a policy (ACCEPT, DROP or -) after chain \(name)") }
        let pol = toks[1].text
        var policy: IptablesPolicy?
        switch pol {
        case "ACCEPT": policy = .accept
        case "DROP": policy = .drop
        case "-": policy = nil
        default: throw err(toks[1].column + 1, "bad policy '\(pol)': expected ACCEPT, DROP or -")
        }
        var counters: Counters?
        if toks.count >= 3 { counters = try parseCounterBracket(toks[2].text, column: toks[2].column + 1) }
        if let i = chainIndex[name] {
            result.tables[t].chains[i].policy = policy
            result.tables[t].chains[i].counters = counters
        } else {
            chainIndex[name] = result.tables[t].chains.count
            result.tables[t].chains.append(IptablesChain(name: name, policy: policy, counters: counters, line: lineNumber))
        }
    }

    func parseCounterBracket(_ s: String, column: Int) throws -> Counters {
        guard s.hasPrefix("["), s.hasSuffix("]") else { throw err(column, "expected counters [packets:bytes], got '\(s)'") }
        let inner = s.dropFirst().dropLast()
        let parts = inner.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let p = UInt64(parts[0]), let b = UInt64(parts[1]) else {
            throw err(column, "expected counters [packets:bytes], got '\(s)'")
        }
        return Counters(packets: p, bytes: b)
    }

    mutating func ensureChain(_ name: String, column: Int, create: Bool = false) throws -> Int {
        if let i = chainIndex[name] { return i }
        guard create else { throw err(column, "chain '\(name)' does not exist: expected a :\(name) declaration or -N before its rules") }
        let t = currentTable!
        chainIndex[name] = result.tables[t].chains.count
        result.tables[t].chains.append(IptablesChain(name: name, policy: nil, counters: nil, line: lineNumber))
        return chainIndex[name]!
    }

    mutating func command(_ line: Substring, indent: Int) throws {
        guard let t = currentTable else { throw err(indent + 1, "rule before any *table: expected *filter, *nat, *mangle, *raw or *security") }
        var toks = try IptTokenizer.split(line, file: file, lineNumber: lineNumber)
        for i in toks.indices { toks[i].column += indent }
        var counters: Counters?
        var ruleTextStart = line.startIndex
        if let f = toks.first, f.text.hasPrefix("["), !f.quoted {
            counters = try parseCounterBracket(f.text, column: f.column)
            toks.removeFirst()
            // The rule text starts at the command word.
            var idx = line.startIndex
            var c = indent + 1
            let target = toks.first?.column ?? c
            while c < target && idx < line.endIndex { idx = line.index(after: idx); c += 1 }
            ruleTextStart = idx
        }
        guard let cmd = toks.first else { return }
        let ruleText = String(line[ruleTextStart...]).trimmingTrailingBlanks()
        func chainArg() throws -> String {
            guard toks.count >= 2, !toks[1].text.isEmpty else { throw err(cmd.column + cmd.text.utf8.count, "expected a chain name after \(cmd.text)") }
            return toks[1].text
        }
        switch cmd.text {
        case "-A", "--append":
            let chain = try chainArg()
            let ci = try ensureChain(chain, column: toks[1].column)
            try rule(Array(toks.dropFirst(2)), table: t, chain: ci, insertAt: nil, text: ruleText, counters: counters)
        case "-I", "--insert":
            let chain = try chainArg()
            let ci = try ensureChain(chain, column: toks[1].column)
            var rest = Array(toks.dropFirst(2))
            var pos = 1
            if let f = rest.first, !f.quoted, let n = Int(f.text) {
                guard n >= 1 else { throw err(f.column, "bad rule number \(n): expected 1 or more") }
                pos = n; rest.removeFirst()
            }
            let count = result.tables[t].chains[ci].rules.count
            guard pos <= count + 1 else { throw err(toks[2].column, "index of insertion too big: chain \(chain) has \(count) rules") }
            try rule(rest, table: t, chain: ci, insertAt: pos - 1, text: ruleText, counters: counters)
        case "-N", "--new-chain":
            let chain = try chainArg()
            if chainIndex[chain] != nil { throw err(toks[1].column, "chain '\(chain)' already exists") }
            _ = try ensureChain(chain, column: toks[1].column, create: true)
        case "-P", "--policy":
            let chain = try chainArg()
            let ci = try ensureChain(chain, column: toks[1].column)
            guard toks.count >= 3 else { throw err(nil, "expected a policy after -P \(chain)") }
            switch toks[2].text {
            case "ACCEPT": result.tables[t].chains[ci].policy = .accept
            case "DROP": result.tables[t].chains[ci].policy = .drop
            default: throw err(toks[2].column, "bad policy '\(toks[2].text)': expected ACCEPT or DROP")
            }
        case "-F", "--flush":
            if toks.count >= 2 {
                let ci = try ensureChain(toks[1].text, column: toks[1].column)
                result.tables[t].chains[ci].rules.removeAll()
            } else {
                for i in result.tables[t].chains.indices { result.tables[t].chains[i].rules.removeAll() }
            }
        case "-X", "--delete-chain":
            if toks.count >= 2 {
                let ci = try ensureChain(toks[1].text, column: toks[1].column)
                result.tables[t].chains.remove(at: ci)
            } else {
                result.tables[t].chains.removeAll { $0.policy == nil }
            }
            chainIndex = [:]
            for (i, c) in result.tables[t].chains.enumerated() { chainIndex[c.name] = i }
        case "-Z", "--zero":
            break
        default:
            if cmd.text.hasPrefix("-") {
                result.unsupported.append(UnsupportedConstruct(file: file, line: lineNumber, construct: "command \(cmd.text)", ruleText: ruleText))
            } else {
                throw err(cmd.column, "expected a command (-A, -I, -N, -P, -F, -X), ':CHAIN', '*table' or COMMIT, got '\(cmd.text)'")
            }
        }
    }

    /// Checks jumps against the table's chains and renumbers positions.
    mutating func commit() throws {
        let t = currentTable!
        let names = Set(result.tables[t].chains.map(\.name))
        for ci in result.tables[t].chains.indices {
            for ri in result.tables[t].chains[ci].rules.indices {
                result.tables[t].chains[ci].rules[ri].position = ri + 1
                let r = result.tables[t].chains[ci].rules[ri]
                switch r.target {
                case .jump(let name)?, .goto(let name)?:
                    if !names.contains(name) {
                        if case .jump = r.target!, IptExtensions.unmodelledTargets.contains(name) {
                            // A target extension rxray does not model (not a chain of this table).
                            result.tables[t].chains[ci].rules[ri].target = .unsupported(name: name, text: "-j \(name)")
                        } else {
                            // A chain declared by another file loaded with `iptables-restore -n` (ufw does this).
                            if !result.undeclaredChains.contains(name) { result.undeclaredChains.append(name) }
                            continue
                        }
                        result.tables[t].chains[ci].rules[ri].isUnsupported = true
                        result.unsupported.append(UnsupportedConstruct(file: file, line: r.line, construct: "-j \(name)", ruleText: r.text))
                    }
                default: break
                }
            }
        }
    }

    // MARK: One rule

    mutating func rule(_ toks: [IptToken], table t: Int, chain ci: Int, insertAt: Int?, text: String, counters: Counters?) throws {
        var b = RuleBuilder(file: file, line: lineNumber, family: family, text: text)
        b.counters = counters
        try b.consume(toks)
        let chainName = result.tables[t].chains[ci].name
        let tableName = result.tables[t].name
        // Multiple -s / -d addresses expand into one rule each (iptables' cartesian order: source outer).
        var built: [IptablesRule] = []
        let srcs: [Negatable<MaskedAddress>?] = b.sources.isEmpty ? [nil] : b.sources.map { Optional($0) }
        let dsts: [Negatable<MaskedAddress>?] = b.destinations.isEmpty ? [nil] : b.destinations.map { Optional($0) }
        for s in srcs {
            for d in dsts {
                var m = b.matches
                // -s/-d go first: the kernel checks the ipt_ip part before any extension.
                var head: [IptablesMatch] = []
                if let s { head.append(.source(s)) }
                if let d { head.append(.destination(d)) }
                m.insert(contentsOf: head, at: 0)
                built.append(IptablesRule(table: tableName, chain: chainName, position: 0, file: file, line: lineNumber, text: text,
                                          counters: b.counters, matches: m, target: b.target, isUnsupported: !b.unsupported.isEmpty))
            }
        }
        for u in b.unsupported { result.unsupported.append(u) }
        if let at = insertAt {
            result.tables[t].chains[ci].rules.insert(contentsOf: built, at: at)
        } else {
            result.tables[t].chains[ci].rules.append(contentsOf: built)
        }
    }
}

extension StringProtocol {
    func trimmingTrailingBlanks() -> String {
        var s = Substring(self)
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}

/// Builds one rule from its words (after `-A CHAIN`).
struct RuleBuilder {
    let file: String
    let line: Int
    let family: RuleFamily
    let text: String
    var counters: Counters?
    var sources: [Negatable<MaskedAddress>] = []
    var destinations: [Negatable<MaskedAddress>] = []
    var matches: [IptablesMatch] = []
    var target: IptablesTarget?
    var unsupported: [UnsupportedConstruct] = []
    var protocolNumber: UInt8 = 0
    var protocolNegated = false
    var extensions: [PendingExtension] = []
    var targetExt: Int?

    init(file: String, line: Int, family: RuleFamily, text: String) {
        self.file = file; self.line = line; self.family = family; self.text = text
    }

    func err(_ column: Int?, _ message: String) -> InputError {
        InputError(file: file, line: line, column: column, message)
    }

    mutating func unsupported(_ construct: String) {
        unsupported.append(UnsupportedConstruct(file: file, line: line, construct: construct, ruleText: text))
    }

    mutating func consume(_ toks: [IptToken]) throws {
        var i = 0
        var negate = false
        var negateColumn = 0
        func arg(_ what: String, _ opt: IptToken) throws -> IptToken {
            guard i < toks.count else { throw err(opt.column + opt.text.utf8.count, "option \(opt.text) requires an argument: expected \(what)") }
            let t = toks[i]; i += 1
            return t
        }
        while i < toks.count {
            let tok = toks[i]; i += 1
            if tok.text == "!" && !tok.quoted {
                guard !negate else { throw err(tok.column, "multiple '!' flags not allowed") }
                negate = true; negateColumn = tok.column
                continue
            }
            let neg = negate
            negate = false
            if tok.quoted || !tok.text.hasPrefix("-") {
                throw err(tok.column, "unexpected word '\(tok.text)': expected an option")
            }
            switch tok.text {
            case "-s", "--source", "--src", "-d", "--destination", "--dst":
                let a = try arg("an address", tok)
                var list: [Negatable<MaskedAddress>] = []
                for piece in a.text.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let m = MaskedAddress(text: piece) else {
                        throw err(a.column, "bad address '\(piece)': expected an \(family == .ipv4 ? "IPv4" : "IPv6") address, address/length or address/mask")
                    }
                    guard m.address.isV4 == (family == .ipv4) else {
                        throw err(a.column, "address '\(piece)' is not \(family == .ipv4 ? "IPv4" : "IPv6")")
                    }
                    list.append(Negatable(m, negated: neg))
                }
                if tok.text.hasPrefix("-s") || tok.text == "--src" { sources += list } else { destinations += list }
            case "-i", "--in-interface", "-o", "--out-interface":
                let a = try arg("an interface name", tok)
                guard !a.text.isEmpty, a.text.utf8.count < 16 else { throw err(a.column, "bad interface name '\(a.text)': expected 1 to 15 characters") }
                let n = Negatable(InterfaceName(iptables: Substring(a.text)), negated: neg)
                matches.append(tok.text.hasPrefix("-i") || tok.text == "--in-interface" ? .inInterface(n) : .outInterface(n))
            case "-p", "--protocol":
                let a = try arg("a protocol name or number", tok)
                guard let p = Names.ipProtocol(Substring(a.text)) else { throw err(a.column, "unknown protocol '\(a.text)': expected a name from /etc/protocols or a number") }
                protocolNumber = p; protocolNegated = neg
                if p != 0 || neg { matches.append(.protocol(Negatable(p, negated: neg))) }
            case "-f", "--fragment":
                guard family == .ipv4 else { unsupported("-f"); continue }
                matches.append(.fragment(negated: neg))
            case "-c", "--set-counters":
                let p = try arg("a packet count", tok), bt = try arg("a byte count", tok)
                guard let pv = UInt64(p.text), let bv = UInt64(bt.text) else { throw err(p.column, "bad counters: expected two numbers") }
                counters = Counters(packets: pv, bytes: bv)
            case "-4", "--ipv4", "-6", "--ipv6":
                break
            case "-m", "--match":
                let a = try arg("a match name", tok)
                if neg { throw err(negateColumn, "unexpected '!' before -m") }
                extensions.append(PendingExtension(name: a.text, isTarget: false, column: tok.column, matchSlot: matches.count))
                matches.append(.module(.comment("")))  // placeholder slot, replaced in finish()
            case "-j", "--jump", "-g", "--goto":
                let a = try arg("a target or chain name", tok)
                guard targetExt == nil && target == nil else { throw err(tok.column, "multiple targets: only one -j or -g per rule") }
                if tok.text == "-g" || tok.text == "--goto" {
                    target = .goto(a.text)
                } else {
                    extensions.append(PendingExtension(name: a.text, isTarget: true, column: tok.column, matchSlot: -1))
                    targetExt = extensions.count - 1
                }
            default:
                guard tok.text.hasPrefix("--") else {
                    throw err(tok.column, "unknown option '\(tok.text)'")
                }
                try extensionOption(tok, negated: neg, toks: toks, index: &i)
            }
        }
        if negate { throw err(negateColumn, "'!' at end of rule: expected an option after it") }
        try finish()
    }

    /// Finds the extension that owns `--option` and gathers its arguments.
    mutating func extensionOption(_ tok: IptToken, negated: Bool, toks: [IptToken], index i: inout Int) throws {
        let name = tok.text
        var owner: Int? = nil
        for k in extensions.indices.reversed() where IptExtensions.arity(ext: extensions[k].name, isTarget: extensions[k].isTarget, option: name) != nil {
            owner = k; break
        }
        if owner == nil, protocolNumber != 0, !protocolNegated, let proto = IptExtensions.implicitModule(protocolNumber, family: family),
           IptExtensions.arity(ext: proto, isTarget: false, option: name) != nil,
           !extensions.contains(where: { !$0.isTarget && $0.name == proto }) {
            extensions.append(PendingExtension(name: proto, isTarget: false, column: tok.column, matchSlot: matches.count))
            matches.append(.module(.comment("")))
            owner = extensions.count - 1
        }
        var negated = negated
        if let k = owner {
            let arity = IptExtensions.arity(ext: extensions[k].name, isTarget: extensions[k].isTarget, option: name)!
            var args: [String] = []
            // Old placement: `--dport ! 22`.
            if arity > 0, i < toks.count, toks[i].text == "!", !toks[i].quoted { negated = true; i += 1 }
            for _ in 0..<arity {
                guard i < toks.count else {
                    throw err(tok.column + name.utf8.count, "option \(name) of \(extensions[k].name) requires \(arity == 1 ? "an argument" : "\(arity) arguments")")
                }
                args.append(toks[i].text); i += 1
            }
            extensions[k].options.append(RawOption(name: name, negated: negated, args: args, column: tok.column))
            return
        }
        // Nobody knows it: an option of an unmodelled extension, or an unknown option of a modelled one.
        var args: [String] = []
        while i < toks.count, toks[i].quoted || !(toks[i].text.hasPrefix("-") && toks[i].text.count > 1) && toks[i].text != "!" {
            args.append(toks[i].text); i += 1
        }
        if let k = extensions.indices.last {
            extensions[k].options.append(RawOption(name: name, negated: negated, args: args, column: tok.column))
            if IptExtensions.isKnown(extensions[k].name, isTarget: extensions[k].isTarget) {
                extensions[k].unknown.append(name)
            }
        } else {
            unsupported(([negated ? "!" : nil, name] + args).compactMap { $0 }.joined(separator: " "))
        }
    }

    /// Types every gathered extension.
    mutating func finish() throws {
        for ext in extensions {
            let display = (ext.isTarget ? "-j " : "-m ") + ext.name
            if !IptExtensions.isKnown(ext.name, isTarget: ext.isTarget) {
                let text = ([display] + ext.options.map { o in ([o.negated ? "!" : nil, o.name] + o.args).compactMap { $0 }.joined(separator: " ") }).joined(separator: " ")
                if ext.isTarget {
                    // Maybe a user chain: decided at COMMIT when the table's chains are known.
                    if ext.options.isEmpty { target = .jump(ext.name) } else {
                        target = .unsupported(name: ext.name, text: text)
                        unsupported(text)
                    }
                } else {
                    matches[ext.matchSlot] = .unsupported(name: ext.name, text: text)
                    unsupported(display)
                }
                continue
            }
            for u in ext.unknown { unsupported("\(display) \(u)") }
            // Builders see only the options they declare (with their arities guaranteed).
            var known = ext
            known.options = ext.options.filter { IptExtensions.arity(ext: ext.name, isTarget: ext.isTarget, option: $0.name) != nil }
            var ctx = IptExtensionContext(builder: self, ext: known)
            if ext.isTarget {
                let t = try IptExtensions.buildTarget(&ctx)
                target = t
            } else {
                matches[ext.matchSlot] = try IptExtensions.buildMatch(&ctx)
            }
            unsupported += ctx.unsupported
        }
    }
}
