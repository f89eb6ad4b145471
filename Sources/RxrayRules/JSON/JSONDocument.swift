/// A JSON text (RFC 8259) read once into a flat array of nodes over its UTF-8 bytes.
///
/// Built for large machine-written inputs (`nft -j list ruleset` of a kube-proxy host is
/// ~6 MB): one pass validates the whole text and records, per value, its kind, its byte range
/// and where its subtree ends. Nothing else is materialised: strings are decoded when asked
/// for (`JSONValue.string`), numbers are converted when asked for and integers stay exact to
/// 64 bits, object members are found by comparing key bytes. A value is `JSONValue`, a
/// (document, node index) pair.
///
/// Layout: a container's node is followed by its contents in order; an object's members are a
/// key node (always a string) then the value's nodes. `next` of every node is the index just
/// past its subtree, so siblings are reached without looking inside.
///
/// Errors are `InputError`s with the file, 1-based line and column (columns count Unicode
/// scalars) of the first offending byte. Nesting deeper than `maxDepth` containers is an error,
/// as are invalid UTF-8, unpaired UTF-16 surrogates in `\u` escapes, control characters inside
/// strings, leading zeros, and anything after the top-level value but blanks.
public final class JSONDocument {
    public enum Kind: UInt8, Sendable {
        case null, bool, number, string, array, object
    }

    struct Node {
        /// First byte of the value (the quote of a string, the bracket of a container).
        var start: UInt32
        /// One past its last byte (past the closing quote or bracket).
        var end: UInt32
        /// Index of the node after this value's subtree.
        var next: UInt32
        /// Elements of an array, members of an object; 1 for `true`, 0 for `false`.
        var count: UInt32
        var kind: Kind
        /// Strings: bit 0 = contains escapes. Numbers: bit 0 = has a fraction or exponent.
        var flags: UInt8
    }

    public let file: String
    public let bytes: [UInt8]
    let nodes: [Node]

    /// JSONSerialization's limit, the same as Darwin Foundation's.
    public static let defaultMaxDepth = 512

    /// Reads `bytes` (UTF-8, an optional byte order mark is skipped) as one JSON value.
    public init(bytes: [UInt8], file: String, maxDepth: Int = JSONDocument.defaultMaxDepth) throws {
        self.file = file
        self.bytes = bytes
        var nodes: [Node] = []
        // Machine-written JSON has about one value per 8-12 bytes.
        nodes.reserveCapacity(bytes.count / 10 + 16)
        try bytes.withUnsafeBufferPointer { buf in
            var r = JSONTokenizer(buf: buf, file: file, maxDepth: maxDepth)
            try r.document(into: &nodes)
        }
        self.nodes = nodes
    }

    public convenience init(text: String, file: String, maxDepth: Int = JSONDocument.defaultMaxDepth) throws {
        try self.init(bytes: Array(text.utf8), file: file, maxDepth: maxDepth)
    }

    public var root: JSONValue { JSONValue(doc: self, index: 0) }

    /// 1-based line and column (in Unicode scalars) of byte `offset`.
    public func location(ofByte offset: Int) -> (line: Int, column: Int) {
        JSONTokenizer.location(of: offset, in: bytes)
    }
}

/// One value of a `JSONDocument`.
public struct JSONValue: CustomStringConvertible {
    public let doc: JSONDocument
    let index: Int

    @inline(__always) var node: JSONDocument.Node { doc.nodes[index] }

    public var kind: JSONDocument.Kind { node.kind }
    public var isNull: Bool { node.kind == .null }

    /// Where the value starts in the text.
    public var location: (line: Int, column: Int) { doc.location(ofByte: Int(node.start)) }

    /// The value's text as written (the whole subtree for containers).
    public var rawText: String {
        let n = node
        return String(decoding: doc.bytes[Int(n.start)..<Int(n.end)], as: UTF8.self)
    }

    /// `rawText`, cut to `limit` bytes (and an ellipsis) for messages.
    public func excerpt(limit: Int = 120) -> String {
        let n = node
        let len = Int(n.end - n.start)
        if len <= limit { return rawText }
        var cut = Int(n.start) + limit
        // Do not cut inside a UTF-8 sequence.
        while cut > Int(n.start) && doc.bytes[cut] & 0xC0 == 0x80 { cut -= 1 }
        return String(decoding: doc.bytes[Int(n.start)..<cut], as: UTF8.self) + "..."
    }

    public var description: String { excerpt() }

    // MARK: scalars

    /// The decoded string, or nil when the value is not a string.
    public var string: String? {
        let n = node
        guard n.kind == .string else { return nil }
        return JSONTokenizer.decodeString(doc.bytes, from: Int(n.start) + 1, to: Int(n.end) - 1, escaped: n.flags & 1 != 0)
    }

    /// `true` or `false`; nil for anything else.
    public var bool: Bool? {
        let n = node
        return n.kind == .bool ? n.count != 0 : nil
    }

    /// The number, or `true`/`false` as 1/0 (the way `NSNumber` holds JSON booleans); nil
    /// for strings, null and containers.
    public var number: JSONNumber? {
        let n = node
        switch n.kind {
        case .bool: return .bool(n.count != 0)
        case .number:
            return doc.bytes.withUnsafeBufferPointer { JSONNumber.parse(UnsafeBufferPointer(rebasing: $0[Int(n.start)..<Int(n.end)]), fraction: n.flags & 1 != 0) }
        default: return nil
        }
    }

    // MARK: containers

    /// The elements when the value is an array.
    public var array: JSONArray? { node.kind == .array ? JSONArray(doc: doc, index: index) : nil }

    /// The members when the value is an object.
    public var object: JSONObject? { node.kind == .object ? JSONObject(doc: doc, index: index) : nil }

    /// The value of member `key` (the last one when a key repeats, as a dictionary would keep);
    /// nil when absent or when this is not an object.
    public subscript(key: String) -> JSONValue? {
        guard node.kind == .object else { return nil }
        return JSONObject(doc: doc, index: index)[key]
    }

    /// The elements when the value is an array whose elements are all strings.
    public var strings: [String]? {
        guard let a = array else { return nil }
        var out: [String] = []
        out.reserveCapacity(a.count)
        for e in a {
            guard let s = e.string else { return nil }
            out.append(s)
        }
        return out
    }
}

/// A JSON number kept the way it was written: integers exact when they fit 64 bits.
public enum JSONNumber: Equatable, Sendable {
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case bool(Bool)

    /// Integers that fit Int64 (then UInt64) stay exact; everything else is a Double.
    static func parse(_ b: UnsafeBufferPointer<UInt8>, fraction: Bool) -> JSONNumber {
        if !fraction {
            let neg = b.first == UInt8(ascii: "-")
            var mag: UInt64 = 0
            var overflow = false
            for c in b.dropFirst(neg ? 1 : 0) {
                let (m1, o1) = mag.multipliedReportingOverflow(by: 10)
                let (m2, o2) = m1.addingReportingOverflow(UInt64(c &- 48))
                if o1 || o2 { overflow = true; break }
                mag = m2
            }
            if !overflow {
                if !neg { return mag <= UInt64(Int64.max) ? .int(Int64(mag)) : .uint(mag) }
                if mag <= UInt64(Int64.max) { return .int(-Int64(mag)) }
                if mag == UInt64(Int64.max) + 1 { return .int(Int64.min) }
            }
        }
        return .double(Double(String(decoding: b, as: UTF8.self)) ?? .nan)
    }

    /// NSNumber's `uint64Value`: integers by their bit pattern, doubles truncated toward zero.
    public var uint64: UInt64 {
        switch self {
        case .int(let v): return UInt64(bitPattern: v)
        case .uint(let v): return v
        case .double(let d): return d.isNaN ? 0 : d <= -9.2233720368547758e18 ? 0 : d < 0 ? UInt64(bitPattern: Int64(d)) : d >= 1.8446744073709552e19 ? .max : UInt64(d)
        case .bool(let b): return b ? 1 : 0
        }
    }

    /// NSNumber's `intValue`.
    public var int: Int {
        switch self {
        case .int(let v): return Int(v)
        case .uint(let v): return Int(bitPattern: UInt(v))
        case .double(let d): return d.isNaN ? 0 : d >= 9.2233720368547758e18 ? .max : d <= -9.2233720368547758e18 ? .min : Int(d)
        case .bool(let b): return b ? 1 : 0
        }
    }

    /// NSNumber's `uint32Value` (the low 32 bits).
    public var uint32: UInt32 { UInt32(truncatingIfNeeded: uint64) }
    /// NSNumber's `uint16Value` (the low 16 bits).
    public var uint16: UInt16 { UInt16(truncatingIfNeeded: uint64) }

    public var double: Double {
        switch self {
        case .int(let v): return Double(v)
        case .uint(let v): return Double(v)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        }
    }

    /// How `Bool` bridges from NSNumber: booleans, and the numbers 0 and 1.
    public var bridgedBool: Bool? {
        switch self {
        case .bool(let b): return b
        case .int(let v): return v == 0 ? false : v == 1 ? true : nil
        case .uint: return nil
        case .double(let d): return d == 0 ? false : d == 1 ? true : nil
        }
    }

    public var isBool: Bool { if case .bool = self { return true } else { return false } }
}

/// The elements of a JSON array, in order (forward-only, `count` is O(1)).
public struct JSONArray: Collection {
    public let doc: JSONDocument
    let index: Int

    public struct Index: Comparable {
        let node: Int
        public static func < (a: Index, b: Index) -> Bool { a.node < b.node }
    }

    public var startIndex: Index { Index(node: index + 1) }
    public var endIndex: Index { Index(node: Int(doc.nodes[index].next)) }
    public func index(after i: Index) -> Index { Index(node: Int(doc.nodes[i.node].next)) }
    public subscript(i: Index) -> JSONValue { JSONValue(doc: doc, index: i.node) }
    public var count: Int { Int(doc.nodes[index].count) }
    public var isEmpty: Bool { doc.nodes[index].count == 0 }

    /// Element `k` (0-based); walks the `k` elements before it.
    public func element(_ k: Int) -> JSONValue? {
        guard k >= 0 && k < count else { return nil }
        var i = index + 1
        for _ in 0..<k { i = Int(doc.nodes[i].next) }
        return JSONValue(doc: doc, index: i)
    }
}

/// The members of a JSON object, in the order written.
public struct JSONObject: Collection {
    public let doc: JSONDocument
    let index: Int

    public struct Index: Comparable {
        /// The member's key node; its value is the node after it.
        let node: Int
        public static func < (a: Index, b: Index) -> Bool { a.node < b.node }
    }

    public var startIndex: Index { Index(node: index + 1) }
    public var endIndex: Index { Index(node: Int(doc.nodes[index].next)) }
    public func index(after i: Index) -> Index { Index(node: Int(doc.nodes[i.node + 1].next)) }
    public subscript(i: Index) -> (key: String, value: JSONValue) {
        (JSONValue(doc: doc, index: i.node).string ?? "", JSONValue(doc: doc, index: i.node + 1))
    }
    public var count: Int { Int(doc.nodes[index].count) }
    public var isEmpty: Bool { doc.nodes[index].count == 0 }

    /// The members' keys, decoded, in the order written.
    public var keys: [String] { map(\.key) }

    /// The value of the last member named `key`, or nil.
    public subscript(key: String) -> JSONValue? {
        var key = key
        return key.withUTF8 { want -> JSONValue? in
            doc.bytes.withUnsafeBufferPointer { all -> JSONValue? in
                let nodes = doc.nodes
                var found: Int?
                var i = index + 1
                let end = Int(nodes[index].next)
                while i < end {
                    let k = nodes[i]
                    let lo = Int(k.start) + 1, hi = Int(k.end) - 1
                    if k.flags & 1 == 0 {
                        if hi - lo == want.count && (want.isEmpty || memcmpEqual(all.baseAddress! + lo, want.baseAddress!, want.count)) { found = i + 1 }
                    } else if JSONTokenizer.decodeString(doc.bytes, from: lo, to: hi, escaped: true).utf8.elementsEqual(want) {
                        found = i + 1
                    }
                    i = Int(nodes[i + 1].next)
                }
                return found.map { JSONValue(doc: doc, index: $0) }
            }
        }
    }
}

@inline(__always)
private func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    for k in 0..<n where a[k] != b[k] { return false }
    return true
}

/// The single validating pass that builds a document's nodes.
struct JSONTokenizer {
    let buf: UnsafeBufferPointer<UInt8>
    let file: String
    let maxDepth: Int
    var pos = 0

    init(buf: UnsafeBufferPointer<UInt8>, file: String, maxDepth: Int) {
        self.buf = buf; self.file = file; self.maxDepth = maxDepth
    }

    /// The byte at `i`, or 0 past the end (0 is never valid where a token is expected, and a
    /// string cannot contain it unescaped, so the end is always reported as an error).
    @inline(__always) func at(_ i: Int) -> UInt8 { i < buf.count ? buf[i] : 0 }

    static func location(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        var line = 1, column = 1
        for k in 0..<min(offset, bytes.count) {
            let b = bytes[k]
            if b == 10 { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        return (line, column)
    }

    func error(_ message: String, at offset: Int) -> InputError {
        var line = 1, column = 1
        for k in 0..<min(offset, buf.count) {
            let b = buf[k]
            if b == 10 { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        return InputError(file: file, line: line, column: column, "not valid JSON: \(message)")
    }

    func describe(_ offset: Int) -> String {
        if offset >= buf.count { return "end of input" }
        let b = buf[offset]
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
    }

    @inline(__always) mutating func skipBlanks() {
        while pos < buf.count {
            let b = buf[pos]
            guard b == 32 || b == 10 || b == 13 || b == 9 else { return }
            pos += 1
        }
    }

    mutating func document(into nodes: inout [Node]) throws {
        guard buf.count < Int(UInt32.max) else { throw InputError(file: file, "not valid JSON: larger than 4 GiB") }
        if buf.count >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF { pos = 3 }
        // Open containers (node indices); their `count` grows as members arrive.
        var open: [Int] = []
        skipBlanks()
        try value(into: &nodes, open: &open)
        while true {
            skipBlanks()
            guard let top = open.last else { break }
            let isObject = nodes[top].kind == .object
            let b = at(pos)
            if b == UInt8(ascii: ",") {
                pos += 1
                nodes[top].count += 1
                skipBlanks()
                if isObject { try member(into: &nodes) }
                try value(into: &nodes, open: &open)
            } else if b == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                pos += 1
                nodes[top].end = UInt32(pos)
                nodes[top].next = UInt32(nodes.count)
                open.removeLast()
            } else {
                let what = isObject ? "',' or '}' after an object member" : "',' or ']' after an array element"
                throw error("expected \(what), found \(describe(pos))", at: pos)
            }
        }
        if pos < buf.count { throw error("unexpected \(describe(pos)) after the top-level value", at: pos) }
    }

    typealias Node = JSONDocument.Node

    /// A member's key and colon; leaves `pos` at the value.
    mutating func member(into nodes: inout [Node]) throws {
        guard at(pos) == UInt8(ascii: "\"") else { throw error("expected a member name in double quotes, found \(describe(pos))", at: pos) }
        try string(into: &nodes)
        skipBlanks()
        guard at(pos) == UInt8(ascii: ":") else { throw error("expected ':' after a member name, found \(describe(pos))", at: pos) }
        pos += 1
        skipBlanks()
    }

    /// One value at `pos`: a scalar is read whole; a container is opened (pushed on `open`)
    /// with its first member or element, if any, read up to that member's value.
    mutating func value(into nodes: inout [Node], open: inout [Int]) throws {
        while true {
            let b = at(pos)
            switch b {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard open.count < maxDepth else { throw error("nested deeper than \(maxDepth) arrays and objects", at: pos) }
                let isObject = b == UInt8(ascii: "{")
                nodes.append(Node(start: UInt32(pos), end: 0, next: 0, count: 0, kind: isObject ? .object : .array, flags: 0))
                let me = nodes.count - 1
                pos += 1
                skipBlanks()
                if at(pos) == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    pos += 1
                    nodes[me].end = UInt32(pos)
                    nodes[me].next = UInt32(nodes.count)
                    return
                }
                open.append(me)
                nodes[me].count = 1
                if isObject { try member(into: &nodes) }
                continue  // the first member's value or element
            case UInt8(ascii: "\""):
                try string(into: &nodes)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                try number(into: &nodes)
            case UInt8(ascii: "t"):
                try literal("true", kind: .bool, count: 1, into: &nodes)
            case UInt8(ascii: "f"):
                try literal("false", kind: .bool, count: 0, into: &nodes)
            case UInt8(ascii: "n"):
                try literal("null", kind: .null, count: 0, into: &nodes)
            default:
                throw error("expected a value, found \(describe(pos))", at: pos)
            }
            return
        }
    }

    mutating func literal(_ word: StaticString, kind: JSONDocument.Kind, count: UInt32, into nodes: inout [Node]) throws {
        let n = word.utf8CodeUnitCount
        for k in 0..<n where at(pos + k) != word.utf8Start[k] {
            throw error("expected '\(word)', found \(describe(pos + k))", at: pos + k)
        }
        nodes.append(Node(start: UInt32(pos), end: UInt32(pos + n), next: UInt32(nodes.count + 1), count: count, kind: kind, flags: 0))
        pos += n
    }

    mutating func number(into nodes: inout [Node]) throws {
        let start = pos
        var fraction = false
        if at(pos) == UInt8(ascii: "-") { pos += 1 }
        func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
        if at(pos) == UInt8(ascii: "0") {
            pos += 1
            if isDigit(at(pos)) { throw error("a number must not have a leading zero", at: start) }
        } else if isDigit(at(pos)) {
            while isDigit(at(pos)) { pos += 1 }
        } else {
            throw error("expected a digit, found \(describe(pos))", at: pos)
        }
        if at(pos) == UInt8(ascii: ".") {
            fraction = true
            pos += 1
            guard isDigit(at(pos)) else { throw error("expected a digit after '.', found \(describe(pos))", at: pos) }
            while isDigit(at(pos)) { pos += 1 }
        }
        if at(pos) == UInt8(ascii: "e") || at(pos) == UInt8(ascii: "E") {
            fraction = true
            pos += 1
            if at(pos) == UInt8(ascii: "+") || at(pos) == UInt8(ascii: "-") { pos += 1 }
            guard isDigit(at(pos)) else { throw error("expected a digit in the exponent, found \(describe(pos))", at: pos) }
            while isDigit(at(pos)) { pos += 1 }
        }
        nodes.append(Node(start: UInt32(start), end: UInt32(pos), next: UInt32(nodes.count + 1), count: 0, kind: .number, flags: fraction ? 1 : 0))
    }

    @inline(__always) static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case 48...57: return UInt32(b - 48)
        case 65...70: return UInt32(b - 55)
        case 97...102: return UInt32(b - 87)
        default: return nil
        }
    }

    /// Four hex digits at `i`, or nil.
    func hex4(_ i: Int) -> UInt32? {
        var v: UInt32 = 0
        for k in 0..<4 {
            guard let h = Self.hexValue(at(i + k)) else { return nil }
            v = v << 4 | h
        }
        return v
    }

    /// A string at `pos` (its opening quote), validated: escapes, surrogate pairs, UTF-8.
    mutating func string(into nodes: inout [Node]) throws {
        let start = pos
        pos += 1
        var escaped = false
        let n = buf.count
        while true {
            // Plain ASCII runs first: the common case.
            while pos < n {
                let b = buf[pos]
                if b == 34 || b == 92 || b < 0x20 || b >= 0x80 { break }
                pos += 1
            }
            guard pos < n else { throw error("unterminated string (it starts here)", at: start) }
            let b = buf[pos]
            if b == 34 { pos += 1; break }
            if b == 92 {
                escaped = true
                let e = at(pos + 1)
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    pos += 2
                case UInt8(ascii: "u"):
                    guard let u = hex4(pos + 2) else { throw error("\\u must be followed by four hex digits", at: pos) }
                    if u >= 0xD800 && u < 0xDC00 {
                        guard at(pos + 6) == 92, at(pos + 7) == UInt8(ascii: "u"), let lo = hex4(pos + 8), lo >= 0xDC00 && lo < 0xE000 else {
                            throw error("UTF-16 high surrogate \\u\(String(u, radix: 16, uppercase: true)) is not followed by a low surrogate", at: pos)
                        }
                        pos += 12
                    } else if u >= 0xDC00 && u < 0xE000 {
                        throw error("UTF-16 low surrogate \\u\(String(u, radix: 16, uppercase: true)) without a high surrogate before it", at: pos)
                    } else {
                        pos += 6
                    }
                default:
                    throw error(pos + 1 >= n ? "unterminated string (it starts here)" : "invalid escape: \(describe(pos + 1)) after '\\'", at: pos + 1 >= n ? start : pos)
                }
                continue
            }
            if b < 0x20 { throw error("unescaped control character (\(describe(pos))) in a string", at: pos) }
            // A multi-byte UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
            let len: Int
            var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
            switch b {
            case 0xC2...0xDF: len = 2
            case 0xE0: len = 3; lo = 0xA0
            case 0xE1...0xEC, 0xEE, 0xEF: len = 3
            case 0xED: len = 3; hi = 0x9F
            case 0xF0: len = 4; lo = 0x90
            case 0xF1...0xF3: len = 4
            case 0xF4: len = 4; hi = 0x8F
            default: throw error("invalid UTF-8 (\(describe(pos)))", at: pos)
            }
            let second = at(pos + 1)
            guard second >= lo && second <= hi else { throw error("invalid UTF-8 sequence", at: pos) }
            for k in 2..<max(2, len) where at(pos + k) & 0xC0 != 0x80 { throw error("invalid UTF-8 sequence", at: pos) }
            pos += len
        }
        nodes.append(Node(start: UInt32(start), end: UInt32(pos), next: UInt32(nodes.count + 1), count: 0, kind: .string, flags: escaped ? 1 : 0))
    }

    /// The text of a validated string's content `from..<to` with its escapes resolved.
    static func decodeString(_ bytes: [UInt8], from: Int, to: Int, escaped: Bool) -> String {
        if !escaped { return String(decoding: bytes[from..<to], as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(to - from)
        var i = from
        func hex(_ i: Int) -> UInt32 {
            var v: UInt32 = 0
            for k in 0..<4 { v = v << 4 | (hexValue(bytes[i + k]) ?? 0) }
            return v
        }
        while i < to {
            let b = bytes[i]
            if b != 92 { out.append(b); i += 1; continue }
            let e = bytes[i + 1]
            switch e {
            case UInt8(ascii: "b"): out.append(8); i += 2
            case UInt8(ascii: "f"): out.append(12); i += 2
            case UInt8(ascii: "n"): out.append(10); i += 2
            case UInt8(ascii: "r"): out.append(13); i += 2
            case UInt8(ascii: "t"): out.append(9); i += 2
            case UInt8(ascii: "u"):
                var u = hex(i + 2)
                i += 6
                if u >= 0xD800 && u < 0xDC00 {
                    // Validated: a low surrogate escape follows.
                    let low = hex(i + 2)
                    u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                }
                let scalar = Unicode.Scalar(u) ?? "\u{FFFD}"
                out.append(contentsOf: UTF8.encode(scalar)!)
            default: out.append(e); i += 2  // \" \\ \/
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
