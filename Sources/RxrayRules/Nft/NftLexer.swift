/// A token of nft's text syntax.
struct NftToken {
    enum Kind: Equatable { case word, string, punct, newline, comment, eof }
    var kind: Kind
    var text: String
    var line: Int
    var column: Int
    /// Byte offsets of the token in the source (for rule text).
    var start: Int
    var end: Int
}

/// Splits nft text into words, quoted strings, punctuation, newlines and `#` comments.
///
/// Words are runs of anything but blanks and `{ } ( ) [ ] ; , " @ $ # < > = ! & | ^`, so
/// addresses (`fe80::/64`, `10.0.0.1-10.0.0.9`), rates (`10/second`), MACs and names with
/// `-`, `.`, `/`, `:` stay whole; the parser splits ranges by type. Strings have no escapes:
/// nft's scanner ends a string at the next `"` (a backslash is an ordinary character).
enum NftLexer {
    static func tokenize(_ bytes: [UInt8], file: String) throws -> [NftToken] {
        var out: [NftToken] = []
        out.reserveCapacity(bytes.count / 4)
        var i = 0
        var line = 1
        var lineStart = 0
        let n = bytes.count
        @inline(__always) func isDelim(_ b: UInt8) -> Bool {
            switch b {
            case 32, 9, 10, 13, 0x7B, 0x7D, 0x28, 0x29, 0x5B, 0x5D, 0x3B, 0x2C, 0x22, 0x40, 0x24, 0x23, 0x3C, 0x3E, 0x3D, 0x21, 0x26, 0x7C, 0x5E:
                return true
            default: return false
            }
        }
        while i < n {
            let b = bytes[i]
            let col = i - lineStart + 1
            switch b {
            case 32, 9, 13:
                i += 1
            case 10:
                out.append(NftToken(kind: .newline, text: "\n", line: line, column: col, start: i, end: i + 1))
                i += 1; line += 1; lineStart = i
            case 0x5C where i + 1 < n && bytes[i + 1] == 10:
                // Line continuation.
                i += 2; line += 1; lineStart = i
            case 0x23:  // '#'
                var j = i + 1
                while j < n && bytes[j] != 10 { j += 1 }
                out.append(NftToken(kind: .comment, text: String(decoding: bytes[(i + 1)..<j], as: UTF8.self), line: line, column: col, start: i, end: j))
                i = j
            case 0x22:  // '"'
                var j = i + 1
                var s: [UInt8] = []
                while j < n && bytes[j] != 0x22 {
                    if bytes[j] == 10 { break }
                    s.append(bytes[j]); j += 1
                }
                guard j < n && bytes[j] == 0x22 else {
                    throw InputError(file: file, line: line, column: col, "unterminated string: expected a closing \"")
                }
                out.append(NftToken(kind: .string, text: String(decoding: s, as: UTF8.self), line: line, column: col, start: i, end: j + 1))
                i = j + 1
            case 0x3D, 0x21, 0x3C, 0x3E:  // = ! < >
                var t = String(UnicodeScalar(b))
                var j = i + 1
                if j < n {
                    let c = bytes[j]
                    if c == 0x3D { t.append("="); j += 1 } else if (b == 0x3C && c == 0x3C) || (b == 0x3E && c == 0x3E) { t.append(Character(UnicodeScalar(c))); j += 1 }
                }
                out.append(NftToken(kind: .punct, text: t, line: line, column: col, start: i, end: j))
                i = j
            default:
                if isDelim(b) {
                    out.append(NftToken(kind: .punct, text: String(UnicodeScalar(b)), line: line, column: col, start: i, end: i + 1))
                    i += 1
                } else {
                    var j = i + 1
                    while j < n && !isDelim(bytes[j]) { j += 1 }
                    out.append(NftToken(kind: .word, text: String(decoding: bytes[i..<j], as: UTF8.self), line: line, column: col, start: i, end: j))
                    i = j
                }
            }
        }
        out.append(NftToken(kind: .eof, text: "", line: line, column: n - lineStart + 1, start: n, end: n))
        return out
    }
}
