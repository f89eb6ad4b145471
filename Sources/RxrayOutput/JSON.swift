/// Appends JSON text without Foundation: string escaping per RFC 8259.
public enum JSON {
    /// Appends `s` as a quoted JSON string to `out`.
    public static func appendString(_ s: String, to out: inout String) {
        out.append("\"")
        for u in s.unicodeScalars {
            switch u {
            case "\"": out.append("\\\"")
            case "\\": out.append("\\\\")
            case "\n": out.append("\\n")
            case "\r": out.append("\\r")
            case "\t": out.append("\\t")
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out.append("\"")
    }

    /// Returns `s` as a quoted JSON string.
    public static func quoted(_ s: String) -> String {
        var out = ""
        appendString(s, to: &out)
        return out
    }
}

/// Builds one JSON object incrementally: `key(...)` calls in order, then `close()`.
public struct JSONObjectBuilder {
    public private(set) var text: String
    private var first = true

    public init(capacity: Int = 256) {
        text = "{"
        text.reserveCapacity(capacity)
    }

    private mutating func keyPrefix(_ k: String) {
        if !first { text.append(",") }
        first = false
        JSON.appendString(k, to: &text)
        text.append(":")
    }

    public mutating func string(_ k: String, _ v: String) { keyPrefix(k); JSON.appendString(v, to: &text) }
    public mutating func int(_ k: String, _ v: Int) { keyPrefix(k); text.append(String(v)) }
    public mutating func bool(_ k: String, _ v: Bool) { keyPrefix(k); text.append(v ? "true" : "false") }
    public mutating func null(_ k: String) { keyPrefix(k); text.append("null") }
    /// Inserts already-serialised JSON (an object, array or number) as the value.
    public mutating func raw(_ k: String, _ json: String) { keyPrefix(k); text.append(json) }
    public mutating func optionalString(_ k: String, _ v: String?) {
        if let v { string(k, v) }
    }

    public mutating func close() -> String {
        text.append("}")
        return text
    }
}
