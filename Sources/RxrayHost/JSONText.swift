import RxrayRules

/// A JSON value that remembers where it started in the text, so errors name line and column.
///
/// The snapshot's JSON files are small and read once; a located tree gives messages like
/// `ip-route.json:1:233: "dst": expected a prefix, got "10.0.0.0/33"` that Foundation's
/// `JSONSerialization` cannot.
struct JSONNode {
    enum Value {
        case null
        case bool(Bool)
        case number(String)
        case string(String)
        case array([JSONNode])
        case object([(key: String, value: JSONNode)])
    }
    var value: Value
    /// Byte offset of the value's first character.
    var offset: Int

    subscript(key: String) -> JSONNode? {
        guard case .object(let members) = value else { return nil }
        for m in members where m.key == key { return m.value }
        return nil
    }
    var keys: [String] {
        guard case .object(let members) = value else { return [] }
        return members.map(\.key)
    }
    var string: String? { if case .string(let s) = value { return s }; return nil }
    var array: [JSONNode]? { if case .array(let a) = value { return a }; return nil }
    var isObject: Bool { if case .object = value { return true }; return false }
    var isNull: Bool { if case .null = value { return true }; return false }
    var int: Int? {
        switch value {
        case .number(let n): return Int(n)
        case .string(let s): return Int(s)
        default: return nil
        }
    }
    var bool: Bool? { if case .bool(let b) = value { return b }; return nil }
    /// Kind name for error messages.
    var kindName: String {
        switch value {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number(let n): return "the number \(n)"
        case .string(let s): return "the string \"\(s)\""
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

/// Parses JSON text into `JSONNode`s; errors are `InputError`s with line and column.
struct JSONText {
    let file: String
    let bytes: [UInt8]
    var pos = 0

    init(file: String, text: [UInt8]) { self.file = file; self.bytes = text }

    static func parse(file: String, bytes: [UInt8]) throws -> JSONNode {
        var p = JSONText(file: file, text: bytes)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        if p.pos < p.bytes.count { throw p.error(at: p.pos, "unexpected text after the JSON value") }
        return v
    }

    /// Line and column (1-based) of a byte offset.
    static func location(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        var line = 1, col = 1
        var i = 0
        while i < offset && i < bytes.count {
            if bytes[i] == 10 { line += 1; col = 1 } else { col += 1 }
            i += 1
        }
        return (line, col)
    }

    func error(at offset: Int, _ message: String) -> InputError {
        let (l, c) = JSONText.location(of: offset, in: bytes)
        return InputError(file: file, line: l, column: c, message)
    }

    mutating func skipSpace() {
        while pos < bytes.count, bytes[pos] == 32 || bytes[pos] == 9 || bytes[pos] == 10 || bytes[pos] == 13 { pos += 1 }
    }

    mutating func value(depth: Int) throws -> JSONNode {
        guard depth < 200 else { throw error(at: pos, "JSON nested too deeply") }
        guard pos < bytes.count else { throw error(at: pos, "expected a JSON value, found end of file") }
        let start = pos
        switch bytes[pos] {
        case UInt8(ascii: "{"):
            pos += 1
            var members: [(key: String, value: JSONNode)] = []
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return JSONNode(value: .object(members), offset: start) }
            while true {
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw error(at: pos, "expected a quoted member name") }
                let key = try string()
                skipSpace()
                guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw error(at: pos, "expected ':' after member name \"\(key)\"") }
                pos += 1
                skipSpace()
                let v = try value(depth: depth + 1)
                members.append((key, v))
                skipSpace()
                guard pos < bytes.count else { throw error(at: pos, "unterminated object") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "}") { pos += 1; break }
                throw error(at: pos, "expected ',' or '}' in object")
            }
            return JSONNode(value: .object(members), offset: start)
        case UInt8(ascii: "["):
            pos += 1
            var items: [JSONNode] = []
            skipSpace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return JSONNode(value: .array(items), offset: start) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard pos < bytes.count else { throw error(at: pos, "unterminated array") }
                if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if bytes[pos] == UInt8(ascii: "]") { pos += 1; break }
                throw error(at: pos, "expected ',' or ']' in array")
            }
            return JSONNode(value: .array(items), offset: start)
        case UInt8(ascii: "\""):
            return JSONNode(value: .string(try string()), offset: start)
        case UInt8(ascii: "t"): try literal("true"); return JSONNode(value: .bool(true), offset: start)
        case UInt8(ascii: "f"): try literal("false"); return JSONNode(value: .bool(false), offset: start)
        case UInt8(ascii: "n"): try literal("null"); return JSONNode(value: .null, offset: start)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            while pos < bytes.count, bytes[pos] == UInt8(ascii: "-") || bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: ".")
                    || bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") || (bytes[pos] >= 48 && bytes[pos] <= 57) { pos += 1 }
            return JSONNode(value: .number(String(decoding: bytes[start..<pos], as: UTF8.self)), offset: start)
        default:
            throw error(at: pos, "expected a JSON value")
        }
    }

    mutating func literal(_ word: String) throws {
        let w = Array(word.utf8)
        guard pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w else {
            throw error(at: pos, "expected a JSON value")
        }
        pos += w.count
    }

    mutating func string() throws -> String {
        let start = pos
        pos += 1
        var out: [UInt8] = []
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") { pos += 1; return String(decoding: out, as: UTF8.self) }
            if b == UInt8(ascii: "\\") {
                pos += 1
                guard pos < bytes.count else { break }
                let e = bytes[pos]
                switch e {
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "u"):
                    guard pos + 4 < bytes.count, let code = UInt32(String(decoding: bytes[pos + 1...pos + 4], as: UTF8.self), radix: 16) else {
                        throw error(at: pos, "bad \\u escape")
                    }
                    pos += 4
                    let scalar = Unicode.Scalar(code) ?? "?"
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: out.append(e)
                }
                pos += 1
                continue
            }
            out.append(b)
            pos += 1
        }
        throw error(at: start, "unterminated string")
    }
}
