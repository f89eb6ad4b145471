import RxrayDecode

/// Appends JSON text without Foundation: string escaping per RFC 8259.
public enum JSON {
    /// Appends `s` as a quoted JSON string to `out` (DEL is not escaped).
    public static func appendString(_ s: String, to out: inout String) {
        // Most text has nothing to escape: append it whole.
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            out.append("\"")
            out.append(s)
            out.append("\"")
            return
        }
        out.append(ByteWriter.string(capacity: s.utf8.count + 16) { $0.jsonString(s, escapeDEL: false) })
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

/// Streams JSON straight into a `ByteSink`: no intermediate strings, no allocation.
///
/// Nesting is tracked in a 64-bit mask (one bit per open object or array: "a value was
/// written at this depth"), so commas are placed without a stack on the heap.
///
/// ```swift
/// var j = JSONEmitter(sink)
/// j.beginObject()
/// j.key("frame"); j.int(1)
/// j.key("stages"); j.beginArray(); j.string("ip_rcv_core"); j.endArray()
/// j.endObject()
/// ```
public struct JSONEmitter {
    public let sink: ByteSink
    private var depth = 0
    private var written: UInt64 = 0
    private var afterKey = false

    public init(_ sink: ByteSink) { self.sink = sink }

    @inline(__always) private mutating func separate() {
        if afterKey { afterKey = false; return }
        guard depth > 0 else { return }
        let bit: UInt64 = 1 << UInt64((depth - 1) & 63)
        if written & bit != 0 { sink.write(byte: UInt8(ascii: ",")) } else { written |= bit }
    }

    public mutating func beginObject() { separate(); sink.write(byte: UInt8(ascii: "{")); push() }
    public mutating func endObject() { pop(); sink.write(byte: UInt8(ascii: "}")) }
    public mutating func beginArray() { separate(); sink.write(byte: UInt8(ascii: "[")); push() }
    public mutating func endArray() { pop(); sink.write(byte: UInt8(ascii: "]")) }

    private mutating func push() {
        depth += 1
        written &= ~(1 << UInt64((depth - 1) & 63))
    }
    private mutating func pop() { depth -= 1 }

    /// An object key; the next call writes its value. Keys are written as they are (they are
    /// identifiers and counter names: nothing to escape); use `escapedKey` for other text.
    public mutating func key(_ k: String) {
        assert(!k.utf8.contains { $0 < 32 || $0 == 34 || $0 == 92 }, "key needs escaping: use escapedKey")
        separate()
        sink.write(byte: 34)
        sink.write(k)
        sink.write(byte: 34)
        sink.write(byte: UInt8(ascii: ":"))
        afterKey = true
    }

    /// An object key from arbitrary text (escaped).
    public mutating func escapedKey(_ k: String) {
        separate()
        sink.writeJSONString(k)
        sink.write(byte: UInt8(ascii: ":"))
        afterKey = true
    }

    public mutating func string(_ v: String) { separate(); sink.writeJSONString(v) }
    public mutating func int(_ v: Int) { separate(); sink.write(int: v) }
    public mutating func bool(_ v: Bool) { separate(); sink.write(v ? "true" : "false") }
    public mutating func null() { separate(); sink.write("null") }
    /// Already-serialised JSON as a value.
    public mutating func raw(_ json: String) { separate(); sink.write(json) }
    /// Starts a value the caller writes into `sink` directly (places the comma).
    public mutating func customValue() { separate() }

    public mutating func field(_ k: String, _ v: String) { key(k); string(v) }
    public mutating func field(_ k: String, _ v: Int) { key(k); int(v) }
    public mutating func field(_ k: String, _ v: Bool) { key(k); bool(v) }
    /// Writes `k: v`, or `k: null` when `v` is nil.
    public mutating func field(_ k: String, orNull v: String?) {
        key(k)
        if let v { string(v) } else { null() }
    }
}
