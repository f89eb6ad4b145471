import RxrayDecode
import RxrayStack

/// What the renderer needs to know about a frame besides its decode and its result.
public struct FrameMeta {
    public var index: Int
    public var timestampNanoseconds: Int64
    public var captureLength: Int
    public var wireLength: Int
    public var linkType: LinkType
    /// The interface the frame was captured on (pcapng `if_name`), if known.
    public var captureInterface: String?
    /// The host interface the stack took as the ingress device, if any.
    public var ingress: String?
    public var comment: String?

    public init(index: Int, timestampNanoseconds: Int64, captureLength: Int, wireLength: Int,
                linkType: LinkType, captureInterface: String?, ingress: String? = nil, comment: String? = nil) {
        self.index = index
        self.timestampNanoseconds = timestampNanoseconds
        self.captureLength = captureLength
        self.wireLength = wireLength
        self.linkType = linkType
        self.captureInterface = captureInterface
        self.ingress = ingress
        self.comment = comment
    }
}

/// The output formats of `rxray analyze`.
public enum OutputFormat: String, CaseIterable, Sendable {
    case text
    case jsonl
}

/// Formats capture timestamps deterministically (UTC, never the local zone).
public enum Timestamps {
    /// `1700000000.123456789`.
    public static func epoch(_ ns: Int64) -> String {
        let sec = ns >= 0 ? ns / 1_000_000_000 : (ns - 999_999_999) / 1_000_000_000
        let frac = ns - sec * 1_000_000_000
        let f = String(frac)
        return "\(sec)." + String(repeating: "0", count: 9 - f.count) + f
    }

    /// `12:34:56.123456789` (UTC time of day), as tcpdump prints with `--nano`.
    public static func timeOfDay(_ ns: Int64) -> String {
        let sec = ns >= 0 ? ns / 1_000_000_000 : (ns - 999_999_999) / 1_000_000_000
        let frac = ns - sec * 1_000_000_000
        var day = sec % 86_400
        if day < 0 { day += 86_400 }
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let f = String(frac)
        return "\(two(day / 3600)):\(two(day / 60 % 60)):\(two(day % 60))." + String(repeating: "0", count: 9 - f.count) + f
    }
}

/// Renders one frame per call, in text or JSON lines, to a `ByteSink`.
public struct FrameRenderer {
    public var format: OutputFormat
    /// Text: 0 prints the frame line and the fate; 1 adds every stage; 2 adds counters.
    public var verbosity: Int
    public var color: Bool

    public init(format: OutputFormat, verbosity: Int = 1, color: Bool = false) {
        self.format = format
        self.verbosity = verbosity
        self.color = color
    }

    /// The first line of JSON output, or a text banner.
    public func header(_ fields: [(String, String)], to sink: ByteSink) {
        switch format {
        case .jsonl:
            var b = JSONObjectBuilder()
            for (k, v) in fields {
                if k == "rxray" || k.hasPrefix("{") { b.string(k, v) } else if v.hasPrefix("{") || v.hasPrefix("[") { b.raw(k, v) } else { b.string(k, v) }
            }
            sink.write(b.close())
            sink.endLine()
        case .text:
            var line = "# rxray"
            for (k, v) in fields where k != "rxray" { line += " \(k)=\(v)" }
            sink.write(line)
            sink.endLine()
        }
    }

    public func frame(_ meta: FrameMeta, decoded: DecodedFrame, bytes: UnsafeRawBufferPointer,
                      result: FrameResult?, to sink: ByteSink) {
        switch format {
        case .jsonl: json(meta, decoded: decoded, bytes: bytes, result: result, to: sink)
        case .text: text(meta, decoded: decoded, bytes: bytes, result: result, to: sink)
        }
    }

    private func json(_ meta: FrameMeta, decoded: DecodedFrame, bytes: UnsafeRawBufferPointer,
                      result: FrameResult?, to sink: ByteSink) {
        var b = JSONObjectBuilder(capacity: 512)
        b.int("frame", meta.index)
        b.string("ts", Timestamps.epoch(meta.timestampNanoseconds))
        b.optionalString("interface", meta.captureInterface)
        b.optionalString("ingress", meta.ingress)
        b.string("linktype", meta.linkType.name)
        b.int("caplen", meta.captureLength)
        b.int("len", meta.wireLength)
        b.optionalString("comment", meta.comment)
        b.string("summary", decoded.summaryLine(bytes))
        var fields = ""
        decoded.appendJSONFields(to: &fields, bytes)
        b.raw("decode", "{" + fields + "}")
        if let r = result {
            b.string("fate", r.fate.rawValue)
            if let reason = r.dropReason { b.string("drop_reason", reason.name) }
            if let st = r.dropStage { b.string("drop_stage", st.symbol) }
            if let e = r.egress { b.string("egress", e) }
            if let nh = r.nextHop { b.string("next_hop", nh.description) }
            var replies = "["
            for (i, rep) in r.replies.enumerated() {
                if i > 0 { replies += "," }
                var o = JSONObjectBuilder()
                o.string("kind", rep.kindName)
                switch rep.kind {
                case .icmp(let t, let c), .icmpv6(let t, let c):
                    o.int("type", Int(t)); o.int("code", Int(c))
                default: break
                }
                o.string("interface", rep.interface)
                if let s = rep.source { o.string("src", s.description) }
                if let d = rep.destination { o.string("dst", d.description) }
                o.string("summary", rep.summary)
                replies += o.close()
            }
            b.raw("replies", replies + "]")
            var stages = "["
            for (i, s) in r.stages.enumerated() {
                if i > 0 { stages += "," }
                var o = JSONObjectBuilder()
                o.string("stage", s.stage.symbol)
                o.string("decision", s.verdict.name)
                if !s.detail.isEmpty { o.string("detail", s.detail) }
                stages += o.close()
            }
            b.raw("stages", stages + "]")
            var counters = "{"
            for (i, (mib, delta)) in r.counters.enumerated() {
                if i > 0 { counters += "," }
                counters += JSON.quoted(mib.name) + ":" + String(delta)
            }
            b.raw("counters", counters + "}")
        }
        sink.write(b.close())
        sink.endLine()
    }

    private func paint(_ s: String, _ code: String) -> String {
        color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s
    }

    private func text(_ meta: FrameMeta, decoded: DecodedFrame, bytes: UnsafeRawBufferPointer,
                      result: FrameResult?, to sink: ByteSink) {
        var line = "\(meta.index) \(Timestamps.timeOfDay(meta.timestampNanoseconds))"
        if let i = meta.captureInterface { line += " \(i)" }
        line += " " + decoded.summaryLine(bytes)
        sink.write(paint(line, "1"))
        sink.endLine()
        guard let r = result else { return }
        if verbosity >= 1 {
            for s in r.stages {
                var l = "    " + s.stage.symbol + ": " + s.verdict.name
                if !s.detail.isEmpty { l += " — " + s.detail }
                sink.write(s.verdict == .drop ? paint(l, "31") : l)
                sink.endLine()
            }
        }
        for rep in r.replies {
            sink.write("    reply on \(rep.interface): \(rep.summary)")
            sink.endLine()
        }
        if verbosity >= 2 && !r.counters.isEmpty {
            sink.write("    counters: " + r.counters.map { "\($0.0.name) +\($0.1)" }.joined(separator: ", "))
            sink.endLine()
        }
        var fate = "    => " + r.fate.rawValue.uppercased()
        if let reason = r.dropReason { fate += " \(reason.name)" }
        if let st = r.dropStage { fate += " at \(st.symbol)" }
        if let e = r.egress { fate += " via \(e)" }
        if let nh = r.nextHop { fate += " next hop \(nh)" }
        let code = r.fate == .dropped ? "31;1" : (r.fate == .forwarded ? "33;1" : "32;1")
        sink.write(paint(fate, code))
        sink.endLine()
    }
}

extension Verdict {
    /// Lower-case name used in traces and JSON.
    public var name: String {
        switch self {
        case .pass: return "pass"
        case .drop: return "drop"
        case .consume: return "consume"
        case .hold: return "hold"
        case .deliver: return "deliver"
        case .forward: return "forward"
        case .note: return "note"
        }
    }
}
