import RxrayDecode

/// A reply's short text (`Reply.summary`) held in the reply itself: up to `inlineCapacity`
/// UTF-8 bytes inline, a longer text as a String. A reply made on every frame (a REJECT's
/// reset, a SYN-ACK, an ARP reply) gets its text from `FrameResult.replyText(_:)`, written with
/// the `ByteWriter` formatters and copied in, so annotating it allocates nothing.
public struct ReplyText: Sendable, Equatable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public static let inlineCapacity = 96
    @usableFromInline var storage: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                                    UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    /// Bytes held inline (0 when the text is in `spill`).
    @usableFromInline var inlineCount: UInt8 = 0
    /// A text longer than `inlineCapacity`.
    @usableFromInline var spill: String = ""

    public init() {}

    /// Holds `bytes` (UTF-8).
    public init(_ bytes: UnsafeBufferPointer<UInt8>) {
        if bytes.count > ReplyText.inlineCapacity {
            spill = String(decoding: bytes, as: UTF8.self)
        } else if let p = bytes.baseAddress {
            withUnsafeMutableBytes(of: &storage) { $0.baseAddress!.copyMemory(from: p, byteCount: bytes.count) }
            inlineCount = UInt8(truncatingIfNeeded: bytes.count)
        }
    }

    public init(_ s: String) {
        var s = s
        self = s.withUTF8 { ReplyText($0) }
    }

    public init(stringLiteral value: String) { self.init(value) }

    public init(stringInterpolation: DefaultStringInterpolation) { self.init(String(stringInterpolation: stringInterpolation)) }

    public var isEmpty: Bool { inlineCount == 0 && spill.isEmpty }

    /// Calls `body` with the text's UTF-8 bytes.
    @inlinable public func withUTF8<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if inlineCount == 0 && !spill.isEmpty {
            var s = spill
            return try s.withUTF8(body)
        }
        return try withUnsafeBytes(of: storage) { raw in
            try body(UnsafeBufferPointer(start: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: Int(inlineCount)))
        }
    }

    public var description: String { withUTF8 { String(decoding: $0, as: UTF8.self) } }

    public static func == (a: ReplyText, b: ReplyText) -> Bool {
        a.withUTF8 { x in b.withUTF8 { y in x.elementsEqual(y) } }
    }
}

extension ByteWriter {
    /// Appends a reply's text.
    @inlinable public mutating func replyText(_ t: ReplyText) { t.withUTF8 { bytes($0) } }

    /// Appends a reply's text as a quoted JSON string (`jsonString`).
    @inlinable public mutating func jsonString(_ t: ReplyText) { t.withUTF8 { jsonString(utf8: $0) } }
}
