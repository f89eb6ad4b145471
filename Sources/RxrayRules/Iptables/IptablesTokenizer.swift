/// One word of an iptables-restore line, after quote removal.
struct IptToken {
    var text: String
    /// 1-based column of the token's first character in its line.
    var column: Int
    /// Whether any part was quoted (a quoted word is never an option name or `!`).
    var quoted: Bool
}

/// Splits a restore line into words the way iptables-restore does: blanks separate words,
/// double (or single) quotes group, and inside quotes a backslash escapes the next character
/// (iptables-save prints `--comment "a \"b\""`).
enum IptTokenizer {
    static func split(_ line: Substring, file: String, lineNumber: Int) throws -> [IptToken] {
        var out: [IptToken] = []
        var cur: [UInt8] = []
        var inWord = false, quoted = false
        var quote: UInt8 = 0
        var escaped = false
        var start = 0
        var col = 0
        for b in line.utf8 {
            col += 1
            if quote != 0 {
                if escaped { cur.append(b); escaped = false; continue }
                if b == UInt8(ascii: "\\") { escaped = true; continue }
                if b == quote { quote = 0; continue }
                cur.append(b)
                continue
            }
            if b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\r") {
                if inWord {
                    out.append(IptToken(text: String(decoding: cur, as: UTF8.self), column: start, quoted: quoted))
                    cur.removeAll(keepingCapacity: true); inWord = false; quoted = false
                }
                continue
            }
            if !inWord { inWord = true; start = col }
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") { quote = b; quoted = true; continue }
            cur.append(b)
        }
        if quote != 0 {
            throw InputError(file: file, line: lineNumber, column: start, "unterminated quote: expected a closing \(quote == 34 ? "\"" : "'")")
        }
        if inWord { out.append(IptToken(text: String(decoding: cur, as: UTF8.self), column: start, quoted: quoted)) }
        return out
    }
}
