import RxrayDecode

/// Why reading, filtering, capturing or writing frames failed.
///
/// Every case renders as one line that names the file (or interface) and the problem, with
/// libpcap's own message where libpcap reported it. Kernel drops are never errors: these are
/// tool failures only.
public enum CaptureError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The path does not exist.
    case fileNotFound(path: String)
    /// The file exists but could not be opened or read (permissions, a directory, I/O error).
    case cannotOpen(path: String, reason: String)
    /// The file is empty: no capture header at all.
    case emptyFile(path: String)
    /// The first bytes are not a pcap or pcapng magic number.
    case notACaptureFile(path: String, firstBytes: [UInt8])
    /// The file ends inside a header or a frame. Frames before `frame` were already returned.
    case truncated(path: String, frame: Int, offset: Int64, detail: String)
    /// A link type the decoder does not understand.
    case unsupportedLinkType(path: String, linkType: LinkType, interfaceID: Int)
    /// A pcapng block that cannot be parsed.
    case corruptBlock(path: String, offset: Int64, blockType: UInt32, problem: String)
    /// libpcap rejected a BPF filter expression.
    case badFilter(filter: String, linkType: LinkType, message: String)
    /// libpcap reported an error while reading a file.
    case readFailed(path: String, message: String)
    /// Opening, configuring or reading a live interface failed.
    case liveCaptureFailed(interface: String, operation: String, message: String)
    /// Writing a capture file failed.
    case writeFailed(path: String, message: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): file not found"
        case .cannotOpen(let path, let reason):
            return "\(path): cannot open: \(reason)"
        case .emptyFile(let path):
            return "\(path): not a capture file: the file is empty"
        case .notACaptureFile(let path, let bytes):
            return "\(path): not a capture file: it starts with \(Self.render(bytes)), "
                + "not a pcap (a1b2c3d4, a1b23c4d, either byte order) or pcapng (0a0d0d0a) magic number"
        case .truncated(let path, let frame, let offset, let detail):
            return "\(path): truncated capture file: frame \(frame) at byte offset \(offset): \(detail)"
        case .unsupportedLinkType(let path, let linkType, let interfaceID):
            return "\(path): unsupported link type \(linkType.name) (\(linkType.rawValue)) on interface \(interfaceID)"
        case .corruptBlock(let path, let offset, let blockType, let problem):
            return "\(path): corrupt pcapng block of type 0x\(Self.hex32(blockType)) at byte offset \(offset): \(problem)"
        case .badFilter(let filter, let linkType, let message):
            return "bad capture filter '\(filter)' for link type \(linkType.name): \(message)"
        case .readFailed(let path, let message):
            return "\(path): read failed: \(message)"
        case .liveCaptureFailed(let interface, let operation, let message):
            return "live capture on \(interface): \(operation) failed: \(message)"
        case .writeFailed(let path, let message):
            return "\(path): write failed: \(message)"
        }
    }

    static func hex32(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    /// Hex of the bytes plus a quoted printable rendering, e.g. `3c 68 74 6d ("<htm")`.
    static func render(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return "nothing" }
        let hex = bytes.map { b -> String in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined(separator: " ")
        let text = String(decoding: bytes.map { (0x20...0x7e).contains($0) ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
        return "\(hex) (\"\(text)\")"
    }
}
