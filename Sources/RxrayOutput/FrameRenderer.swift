import RxrayDecode
import RxrayStack

/// What the renderer needs to know about a frame besides its decode and its result.
public struct FrameMeta {
    public var index: Int
    public var timestampNanoseconds: Int64
    public var captureLength: Int
    public var wireLength: Int
    public var linkType: LinkType
    /// The capture's interface id (pcapng IDB index; 0 for pcap), for `--write`.
    public var interfaceID: Int
    /// pcapng `epb_flags` direction: 0 unknown, 1 inbound, 2 outbound.
    public var direction: UInt8
    /// The texts, nil when there are none (every classic pcap frame): a meta is copied a few
    /// times per frame, and a copy of three optional strings retained each of them, nil or not.
    @usableFromInline var texts: Texts?

    @usableFromInline struct Texts {
        @usableFromInline var captureInterface: String?
        @usableFromInline var ingress: String?
        @usableFromInline var comment: String?

        @inlinable init(captureInterface: String?, ingress: String?, comment: String?) {
            self.captureInterface = captureInterface
            self.ingress = ingress
            self.comment = comment
        }

        /// The texts, or nil when all three are nil.
        @inlinable static func make(_ captureInterface: String?, _ ingress: String?, _ comment: String?) -> Texts? {
            captureInterface == nil && ingress == nil && comment == nil
                ? nil : Texts(captureInterface: captureInterface, ingress: ingress, comment: comment)
        }
    }

    /// The interface the frame was captured on (pcapng `if_name`), if known.
    @inlinable public var captureInterface: String? {
        get { texts?.captureInterface }
        set { texts = .make(newValue, ingress, comment) }
    }
    /// The host interface the stack took as the ingress device, if any.
    @inlinable public var ingress: String? {
        get { texts?.ingress }
        set { texts = .make(captureInterface, newValue, comment) }
    }
    @inlinable public var comment: String? {
        get { texts?.comment }
        set { texts = .make(captureInterface, ingress, newValue) }
    }

    public init(index: Int, timestampNanoseconds: Int64, captureLength: Int, wireLength: Int,
                linkType: LinkType, captureInterface: String?, ingress: String? = nil, comment: String? = nil,
                interfaceID: Int = 0, direction: UInt8 = 0) {
        self.index = index
        self.timestampNanoseconds = timestampNanoseconds
        self.captureLength = captureLength
        self.wireLength = wireLength
        self.linkType = linkType
        self.interfaceID = interfaceID
        self.direction = direction
        texts = .make(captureInterface, ingress, comment)
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
        let (sec, frac) = ByteSink.split(ns)
        let f = String(frac)
        return "\(sec)." + String(repeating: "0", count: 9 - f.count) + f
    }

    /// `12:34:56.123456789` (UTC time of day), as tcpdump prints with `--nano`.
    public static func timeOfDay(_ ns: Int64) -> String {
        let (sec, frac) = ByteSink.split(ns)
        var day = sec % 86_400
        if day < 0 { day += 86_400 }
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let f = String(frac)
        return "\(two(day / 3600)):\(two(day / 60 % 60)):\(two(day % 60))." + String(repeating: "0", count: 9 - f.count) + f
    }
}

/// Which stages to show (`--stages nf_hook,tcp_v4_rcv`): a stage is shown when its kernel
/// symbol equals an item or starts with it (`nf_hook` picks `nf_hook PREROUTING raw`,
/// `ip_` picks every `ip_*` function).
public struct StageSelection: Sendable, Equatable {
    public private(set) var items: [String]

    /// Every stage symbol rxray prints today, for `--stages` validation and help. Stages added
    /// later are still selectable by name; this list only decides which names draw a warning.
    public static let knownSymbols: [String] = [
        "napi_poll", "dev_gro_receive", "eth_type_trans", "__netif_receive_skb_core", "vlan_do_receive",
        "arp_rcv", "ip_rcv_core", "ip_rcv_finish", "ip_route_input_slow", "fib_validate_source", "ip_error",
        "ip_local_deliver", "ip_defrag", "ip_local_deliver_finish", "ip_forward", "ip_output", "icmp_rcv",
        "icmp_send", "tcp_v4_rcv", "udp_rcv", "raw_v4_input", "ipv6_rcv", "ip6_rcv_core", "ip6_route_input",
        "ip6_input", "ip6_forward", "ipv6_frag_rcv", "icmpv6_rcv", "ndisc_rcv", "tcp_v6_rcv", "udpv6_rcv",
        "nf_hook PREROUTING", "nf_hook INPUT", "nf_hook FORWARD", "nf_hook OUTPUT", "nf_hook POSTROUTING",
        "nf_conntrack_in", "nf_nat_inet_fn",
    ]

    /// Parses a comma-separated list. Items are trimmed; empty items are an error.
    /// - Throws: `StageSelection.ParseError` naming the bad item.
    public init(parsing list: String) throws {
        var out: [String] = []
        for raw in list.split(separator: ",", omittingEmptySubsequences: false) {
            let item = String(raw).trimmingSpaces
            guard !item.isEmpty else {
                throw ParseError(message: "--stages: empty stage name in '\(list)'; give kernel symbols separated by commas, e.g. nf_hook,tcp_v4_rcv")
            }
            for u in item.unicodeScalars where !(u.properties.isAlphabetic || u.properties.numericType != nil || u == "_" || u == " ") {
                throw ParseError(message: "--stages: '\(item)' is not a kernel symbol (letters, digits, '_' and, for nf_hook, a space)")
            }
            out.append(item)
        }
        items = out
    }

    public init(items: [String]) { self.items = items }

    /// Items that match none of `knownSymbols` (not an error: the stack grows).
    public var unknownItems: [String] {
        items.filter { item in !Self.knownSymbols.contains { $0.hasPrefix(item) || item.hasPrefix($0) } }
    }

    /// Whether a stage with this symbol is shown.
    public func matches(_ symbol: String) -> Bool {
        for item in items where symbol.hasPrefix(item) { return true }
        return false
    }

    /// Whether `stage` is shown (the same test on its symbol, without building it).
    public func matches(_ stage: Stage) -> Bool {
        guard case .nfHook(let hook, _) = stage else { return matches(stage.symbol) }
        let head = "nf_hook ".utf8, name = hook.name.utf8
        for item in items {
            var i = item.utf8.makeIterator()
            var ok = true
            var consumed = false
            for b in head {
                guard let x = i.next() else { consumed = true; break }
                if x != b { ok = false; break }
            }
            if ok && !consumed {
                for b in name {
                    guard let x = i.next() else { consumed = true; break }
                    if x != b { ok = false; break }
                }
                if ok && !consumed && i.next() != nil { ok = false }
            }
            if ok { return true }
        }
        return false
    }

    public struct ParseError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

/// The header of a run: what was read, against which host, under which assumptions.
///
/// The first line of every output: a JSON object in `jsonl` (docs/schema/header.schema.json),
/// a `#` comment in text.
public struct RunHeader {
    public var version: String
    /// The kernel whose behaviour is modelled (`6.18`).
    public var kernelModel: String
    /// The capture as given (`-` for standard input, `live:eth0`).
    public var capture: String
    public var captureFormat: String
    /// `wire` or `host`.
    public var capturePoint: String
    /// How the capture point was chosen: `option` (given), `assumed` or `inferred`.
    public var capturePointSource: String
    /// The host: a path, or nil when inferred from the capture.
    public var hostPath: String?
    /// The inferred host's YAML profile (only when `hostPath` is nil).
    public var inferredHostYAML: String?
    /// The capture's interfaces: id, name, link type name.
    public var interfaces: [(id: Int, name: String?, linkType: String)]
    public var filter: String?
    /// What `--only-drops`, `--stages` and `-v` chose, so a reader knows what was left out.
    public var onlyDrops: Bool
    public var stages: [String]?

    public init(version: String, kernelModel: String, capture: String, captureFormat: String,
                capturePoint: String, capturePointSource: String, hostPath: String?, inferredHostYAML: String? = nil,
                interfaces: [(id: Int, name: String?, linkType: String)] = [], filter: String? = nil,
                onlyDrops: Bool = false, stages: [String]? = nil) {
        self.version = version
        self.kernelModel = kernelModel
        self.capture = capture
        self.captureFormat = captureFormat
        self.capturePoint = capturePoint
        self.capturePointSource = capturePointSource
        self.hostPath = hostPath
        self.inferredHostYAML = inferredHostYAML
        self.interfaces = interfaces
        self.filter = filter
        self.onlyDrops = onlyDrops
        self.stages = stages
    }
}

/// The version of the JSON lines contract (docs/OUTPUT.md, docs/schema/). Bumped on any
/// incompatible change (a field removed, renamed or retyped); new fields do not bump it.
public let rxrayOutputSchemaVersion = 1

/// Renders one frame per call, in text or JSON lines, to a `ByteSink`.
///
/// Text: a tcpdump-style header line, one indented line per stage (verbosity 1, the default),
/// then the fate line; verbosity 0 leaves out the stages, verbosity 2 adds counters and decode
/// detail. JSON lines: one object per frame (docs/schema/frame.schema.json). Everything is
/// written straight into the sink: the only per-frame strings are the decoder's summary and
/// the stages' detail text, which the stack made already.
public struct FrameRenderer {
    public var format: OutputFormat
    /// Text: 0 prints the frame line and the fate; 1 adds every stage; 2 adds counters and
    /// decode detail.
    public var verbosity: Int
    public var color: Bool
    /// When set, only these stages are shown (text lines and JSON `stages` entries).
    public var stages: StageSelection?

    public init(format: OutputFormat, verbosity: Int = 1, color: Bool = false, stages: StageSelection? = nil) {
        self.format = format
        self.verbosity = verbosity
        self.color = color
        self.stages = stages
    }

    // MARK: header

    /// The first line: a JSON object, or a `# rxray ...` comment line (plus, for an inferred
    /// host, its YAML profile as comments).
    public func header(_ h: RunHeader, to sink: ByteSink) {
        switch format {
        case .jsonl:
            var j = JSONEmitter(sink)
            j.beginObject()
            j.field("rxray", h.version)
            j.field("schema", rxrayOutputSchemaVersion)
            j.field("kernel_model", h.kernelModel)
            j.field("capture", h.capture)
            j.field("capture_format", h.captureFormat)
            j.field("capture_point", h.capturePoint)
            j.field("capture_point_source", h.capturePointSource)
            j.key("host")
            j.beginObject()
            j.field("path", orNull: h.hostPath)
            j.field("inferred", h.hostPath == nil)
            if let y = h.inferredHostYAML { j.field("profile_yaml", y) }
            j.endObject()
            j.key("interfaces")
            j.beginArray()
            for i in h.interfaces {
                j.beginObject()
                j.field("id", i.id)
                j.field("name", orNull: i.name)
                j.field("linktype", i.linkType)
                j.endObject()
            }
            j.endArray()
            j.field("filter", orNull: h.filter)
            j.field("only_drops", h.onlyDrops)
            j.key("stages")
            if let s = h.stages {
                j.beginArray()
                for x in s { j.string(x) }
                j.endArray()
            } else {
                j.null()
            }
            j.endObject()
            sink.endLine()
        case .text:
            sink.color("2", color)
            sink.write("# rxray \(h.version) kernel_model=\(h.kernelModel) capture=\(h.capture) (\(h.captureFormat))")
            sink.write(" capture_point=\(h.capturePoint) (\(h.capturePointSource))")
            sink.write(" host=" + (h.hostPath ?? "inferred"))
            if let f = h.filter { sink.write(" filter='\(f)'") }
            if h.onlyDrops { sink.write(" only-drops") }
            if let s = h.stages { sink.write(" stages=" + s.joined(separator: ",")) }
            sink.resetColor(color)
            sink.endLine()
            if let yaml = h.inferredHostYAML {
                sink.color("2", color)
                sink.write("# No --host given: rxray inferred this host from the capture (save it, edit it, pass it back with --host):")
                sink.endLine()
                for line in yaml.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
                    sink.write("#   " + line)
                    sink.endLine()
                }
                sink.resetColor(color)
            }
        }
    }

    /// The header from loose fields (kept for `rxray live`): JSON values that look like JSON
    /// objects or arrays are inserted as they are; everything else is a string.
    public func header(_ fields: [(String, String)], to sink: ByteSink) {
        switch format {
        case .jsonl:
            var j = JSONEmitter(sink)
            j.beginObject()
            for (k, v) in fields {
                j.escapedKey(k)
                if k != "rxray" && (v.hasPrefix("{") || v.hasPrefix("[")) { j.raw(v) } else { j.string(v) }
            }
            j.endObject()
            sink.endLine()
        case .text:
            sink.color("2", color)
            sink.write("# rxray")
            for (k, v) in fields where k != "rxray" { sink.write(" \(k)=\(v)") }
            sink.resetColor(color)
            sink.endLine()
        }
    }

    // MARK: frames

    public func frame(_ meta: FrameMeta, decoded: DecodedFrame, bytes: UnsafeRawBufferPointer,
                      result: FrameResult?, to sink: ByteSink) {
        if let r = result {
            frame(meta, decoded: decoded, bytes: bytes, result: r, to: sink)
            return
        }
        sink.withWriter { w in
            switch format {
            case .jsonl:
                jsonHead(meta, decoded: decoded, bytes: bytes, to: &w)
                w.byte(125)
            case .text: textHead(meta, decoded: decoded, bytes: bytes, to: &w)
            }
        }
        sink.endLine()
    }

    /// The entries of a result's `"counters"` object (frames and timer events).
    private func jsonCounters(_ r: FrameResult, to w: inout ByteWriter) {
        let keys = MIBKeys.table
        var first = true
        for (mib, delta) in r.counters {
            MIBKeys.write(keys, mib, first: first, to: &w)
            first = false
            w.decimal(delta)
        }
    }

    /// A frame with its result. The result is borrowed all the way down: passed as an
    /// optional it was copied (every array and string in it retained, then released).
    public func frame(_ meta: FrameMeta, decoded: DecodedFrame, bytes: UnsafeRawBufferPointer,
                      result: FrameResult, to sink: ByteSink) {
        sink.withWriter { w in frameRecord(meta, decoded: decoded, bytes: bytes, result: result, to: &w) }
        // The last line's end goes through the sink, which flushes when line-buffered.
        sink.endLine()
    }

    /// A frame with its result, appended to `w` with its last newline: the same bytes
    /// `frame(_:decoded:bytes:result:to:)` gives a sink, for output kept until the frames
    /// before it are written (results that settle out of capture order).
    public func frame(_ meta: FrameMeta, decoded: DecodedFrame, bytes: UnsafeRawBufferPointer,
                      result: FrameResult, to w: inout ByteWriter) {
        frameRecord(meta, decoded: decoded, bytes: bytes, result: result, to: &w)
        w.byte(10)
    }

    /// A frame's record without its last newline.
    private func frameRecord(_ meta: FrameMeta, decoded: DecodedFrame, bytes: UnsafeRawBufferPointer,
                             result: FrameResult, to w: inout ByteWriter) {
        switch format {
        case .jsonl:
            jsonHead(meta, decoded: decoded, bytes: bytes, to: &w)
            jsonResult(result, to: &w)
            w.byte(125)
        case .text:
            textHead(meta, decoded: decoded, bytes: bytes, to: &w)
            textResult(result, to: &w)
        }
    }

    @inline(__always) private func shows(_ s: Stage) -> Bool {
        guard let sel = stages else { return true }
        return sel.matches(s)
    }

    /// `"text"` or `null`.
    @inline(__always) private func stringOrNull(_ v: String?, _ w: inout ByteWriter) {
        if let v { w.jsonString(v) } else { w.ascii("null") }
    }

    /// One JSON object per frame (docs/schema/frame.schema.json), without the newline: this
    /// is its start (frame, capture fields, summary, decode); `jsonResult` adds the result's
    /// members, the caller the closing brace.
    private func jsonHead(_ meta: FrameMeta, decoded: DecodedFrame, bytes: UnsafeRawBufferPointer,
                          to w: inout ByteWriter) {
        w.ascii("{\"frame\":"); w.decimal(meta.index)
        w.ascii(",\"ts\":\""); w.epoch(meta.timestampNanoseconds)
        w.ascii("\",\"interface\":"); stringOrNull(meta.captureInterface, &w)
        if let i = meta.ingress { w.ascii(",\"ingress\":"); w.jsonString(i) }
        w.ascii(",\"linktype\":"); meta.linkType.writeJSONName(to: &w)
        w.ascii(",\"caplen\":"); w.decimal(meta.captureLength)
        w.ascii(",\"len\":"); w.decimal(meta.wireLength)
        if let c = meta.comment { w.ascii(",\"comment\":"); w.jsonString(c) }
        w.ascii(",\"summary\":\"")
        let summaryStart = w.count
        var options: Range<Int>?
        let clean = decoded.writeSummaryLine(bytes, to: &w, tcpOptionsText: &options)
        let summaryEnd = w.count
        // A summary its writer knows to be clean is not scanned (debug builds check the claim).
        assert(!clean || ByteWriter.jsonCleanPrefix(UnsafeBufferPointer(rebasing: w.bytes[summaryStart...])) == summaryEnd - summaryStart,
               "a summary line claimed JSON-safe needs an escape")
        if !clean { w.escapeJSON(from: summaryStart) }
        // Escaping moved the summary's bytes: write the options again rather than copy them.
        if w.count != summaryEnd { options = nil }
        w.ascii("\",\"decode\":{")
        decoded.writeJSONFields(bytes, to: &w, tcpOptionsText: options)
        w.byte(125)
    }

    /// The result's members of a frame's JSON object (`,"fate":...` to the counters).
    private func jsonResult(_ r: FrameResult, to w: inout ByteWriter) {
        switch r.fate {
        case .delivered: w.ascii(",\"fate\":\"delivered\"")
        case .forwarded: w.ascii(",\"fate\":\"forwarded\"")
        case .dropped: w.ascii(",\"fate\":\"dropped\"")
        }
        w.ascii(",\"drop_reason\":")
        if let d = r.dropReason { w.jsonString(d.name) } else { w.ascii("null") }
        w.ascii(",\"drop_stage\":")
        if let st = r.dropStage { w.byte(34); st.writeSymbol(to: &w); w.byte(34) } else { w.ascii("null") }
        w.ascii(",\"egress\":"); stringOrNull(r.egress, &w)
        w.ascii(",\"next_hop\":")
        if let nh = r.nextHop { w.byte(34); nh.write(to: &w); w.byte(34) } else { w.ascii("null") }
        w.ascii(",\"replies\":")
        jsonReplies(r, to: &w)
        w.ascii(",\"stages\":[")
        var first = true
        // GRO and conntrack: the decision of the last record of their stage, if any.
        var gro: Int?
        var conntrack: Int?
        // Where the escaped detail of record `gro` / `conntrack` was written in this stage list
        // (nil: not written, the stage is not shown): copied from there, not escaped again.
        var groText: (start: Int, count: Int)?
        var conntrackText: (start: Int, count: Int)?
        let keys = StageKeys.table
        // The detail bytes are looked up once for all records, not once per record.
        r.withDetailBytes { all in
            for (i, s) in r.stages.enumerated() {
                let tracked: Bool
                switch s.stage {
                case .devGroReceive: gro = i; groText = nil; tracked = true
                case .nfConntrackIn: conntrack = i; conntrackText = nil; tracked = true
                default: tracked = false
                }
                guard shows(s.stage) else { continue }
                StageKeys.write(keys, s.stage, s.verdict, first: first, to: &w)
                first = false
                let textStart = w.count
                let n = Int(s.detailCount)
                if n > 0, let p = all.baseAddress {
                    let st = Int(s.detailStart), m = Int(s.jsonCount)
                    precondition(st >= 0 && st + n + m <= all.count, "stage detail range outside the result's detail bytes")
                    // A detail its writer knew to need no escape is copied (the same bytes), and
                    // so is the JSON form a writer kept (the detail escaped).
                    if s.jsonSafe {
                        w.bytes(UnsafeBufferPointer(start: p + st, count: n))
                    } else if m > 0 {
                        w.bytes(UnsafeBufferPointer(start: p + st + n, count: m))
                    } else {
                        w.jsonEscaped(UnsafeBufferPointer(start: p + st, count: n))
                    }
                }
                if tracked {
                    if case .devGroReceive = s.stage { groText = (textStart, w.count - textStart) } else { conntrackText = (textStart, w.count - textStart) }
                }
                // The entry's end comes with the next entry's start (`StageKeys`), or below.
            }
        }
        w.ascii(first ? "],\"gro\":" : "\"}],\"gro\":")
        stageObject(r, gro, groText, &w)
        w.ascii(",\"conntrack\":")
        stageObject(r, conntrack, conntrackText, &w)
        w.ascii(",\"counters\":{")
        jsonCounters(r, to: &w)
        w.byte(125)
    }

    /// `{"decision", "detail"}` of stage record `index`, or null. `written` is where the
    /// record's escaped detail already is in `w` (copied from there), if it is.
    private func stageObject(_ r: FrameResult, _ index: Int?, _ written: (start: Int, count: Int)?, _ w: inout ByteWriter) {
        guard let i = index else { w.ascii("null"); return }
        let s = r.stages[i]
        w.ascii("{\"decision\":\"")
        s.verdict.writeDecisionAndDetailKey(to: &w)
        if let t = written {
            w.repeatBytes(from: t.start, count: t.count)
        } else {
            r.withJSONDetail(of: s) { if s.jsonSafe || $1 { w.bytes($0) } else { w.jsonEscaped($0) } }
        }
        w.ascii("\"}")
    }

    @inline(__always) private func color(_ code: StaticString, _ w: inout ByteWriter) {
        guard color else { return }
        w.bytes(27, 91); w.ascii(code); w.byte(109)
    }

    @inline(__always) private func resetColor(_ w: inout ByteWriter) {
        if color { w.resetColor() }
    }

    /// The text lines of one frame, without the last newline: the frame line (and, with -vv,
    /// the decode line); `textResult` adds the stages, replies, counters and fate.
    private func textHead(_ meta: FrameMeta, decoded: DecodedFrame, bytes: UnsafeRawBufferPointer,
                          to w: inout ByteWriter) {
        color("1", &w)
        w.decimal(meta.index)
        w.byte(32)
        w.timeOfDay(meta.timestampNanoseconds)
        if let i = meta.captureInterface { w.byte(32); w.string(i) }
        w.byte(32)
        decoded.writeSummaryLine(bytes, to: &w)
        resetColor(&w)
        if verbosity >= 2 { w.byte(10); decodeDetail(decoded, bytes: bytes, to: &w) }
    }

    private func textResult(_ r: FrameResult, to w: inout ByteWriter) {
        if verbosity >= 1 {
            for s in r.stages where shows(s.stage) {
                w.byte(10)
                let code: StaticString?
                switch s.verdict {
                case .drop: code = "31"
                case .hold, .consume: code = "35"
                case .forward: code = "33"
                case .deliver: code = "32"
                case .note: code = "2"
                case .pass:
                    if case .nfHook = s.stage { code = "36" } else { code = nil }
                }
                if let code { color(code, &w) }
                w.ascii("    ")
                let start = w.count
                s.stage.writeSymbol(to: &w)
                w.pad(from: start, to: 26)
                if !s.hasDetail {
                    w.string(s.verdict.name)
                } else {
                    w.padded(s.verdict.name, 8)
                    r.withDetail(of: s) { w.bytes($0) }
                }
                if code != nil { resetColor(&w) }
            }
        }
        textRepliesAndCounters(r, to: &w)
        w.byte(10)
        switch r.fate {
        case .dropped: color("31;1", &w)
        case .forwarded: color("33;1", &w)
        case .delivered: color("32;1", &w)
        }
        w.ascii("    => ")
        switch r.fate {
        case .delivered: w.ascii("DELIVERED")
        case .forwarded: w.ascii("FORWARDED")
        case .dropped: w.ascii("DROPPED")
        }
        if let reason = r.dropReason { w.byte(32); w.string(reason.name) }
        if let st = r.dropStage {
            w.ascii(" at "); st.writeSymbol(to: &w)
        } else if let st = r.silentDropStage {
            w.ascii(" without a drop reason (consume_skb) at "); st.writeSymbol(to: &w)
        }
        if let e = r.egress { w.ascii(" via "); w.string(e) }
        if let nh = r.nextHop { w.ascii(" next hop "); nh.write(to: &w) }
        resetColor(&w)
    }

    // MARK: timer events

    /// A timer the kernel fired between frames (`FrameResult.timer`): in JSON lines one object
    /// with `"event":"timer"` (docs/schema/timer.schema.json), in text a `timer` line, its
    /// stages (verbosity 1), replies, counters (verbosity 2). Not a frame: no frame number,
    /// no decode, no fate.
    /// JSON: the `replies` array (`[{"kind":…,"interface":…,"src":…,"dst":…,"summary":…}]`,
    /// ICMP replies with their type and code) — shared by frames and timer events.
    private func jsonReplies(_ r: FrameResult, to w: inout ByteWriter) {
        w.byte(91)
        var first = true
        for rep in r.replies {
            if !first { w.byte(44) }
            first = false
            w.ascii("{\"kind\":"); rep.writeKindJSON(to: &w)
            switch rep.kind {
            case .icmp(let t, let c), .icmpv6(let t, let c):
                w.ascii(",\"type\":"); w.decimal(t); w.ascii(",\"code\":"); w.decimal(c)
            default: break
            }
            w.ascii(",\"interface\":"); w.jsonString(rep.interface)
            w.ascii(",\"src\":")
            if let a = rep.source { w.byte(34); a.write(to: &w); w.byte(34) } else { w.ascii("null") }
            w.ascii(",\"dst\":")
            if let a = rep.destination { w.byte(34); a.write(to: &w); w.byte(34) } else { w.ascii("null") }
            w.ascii(",\"summary\":"); w.jsonString(rep.summaryText)
            w.byte(125)
        }
        w.byte(93)
    }

    /// Text: one `reply` line per reply, then (`-vv`) the counters line — shared by frames and
    /// timer events.
    private func textRepliesAndCounters(_ r: FrameResult, to w: inout ByteWriter) {
        for rep in r.replies {
            w.byte(10)
            color("34", &w)
            w.ascii("    reply ")
            w.string(rep.kindName)
            w.ascii(" on ")
            w.string(rep.interface)
            w.ascii(": ")
            w.replyText(rep.summaryText)
            resetColor(&w)
        }
        if verbosity >= 2 && !r.counters.isEmpty {
            w.byte(10)
            color("2", &w)
            w.ascii("    counters:")
            for (m, d) in r.counters {
                w.byte(32)
                w.string(m.name)
                if d < 0 { w.byte(32) } else { w.bytes(32, 43) }
                w.decimal(d)
            }
            resetColor(&w)
        }
    }

    public func timerEvent(_ r: FrameResult, to sink: ByteSink) {
        guard let t = r.timer else { return }
        sink.withWriter { w in
            switch format {
            case .jsonl: timerJSON(t, r, to: &w)
            case .text: timerText(t, r, to: &w)
            }
        }
        sink.endLine()
    }

    /// A timer event appended to `w` with its last newline (the bytes `timerEvent(_:to:)`
    /// gives a sink); nothing for a result that is not a timer event.
    public func timerEvent(_ r: FrameResult, to w: inout ByteWriter) {
        guard let t = r.timer else { return }
        switch format {
        case .jsonl: timerJSON(t, r, to: &w)
        case .text: timerText(t, r, to: &w)
        }
        w.byte(10)
    }

    private func timerFlow(_ t: TimerEvent, to w: inout ByteWriter) {
        w.ascii("{\"local\":\""); t.local.write(to: &w)
        w.ascii("\",\"local_port\":"); w.decimal(Int(t.localPort))
        w.ascii(",\"remote\":\""); t.remote.write(to: &w)
        w.ascii("\",\"remote_port\":"); w.decimal(Int(t.remotePort))
        w.byte(125)
    }

    private func timerJSON(_ t: TimerEvent, _ r: FrameResult, to w: inout ByteWriter) {
        w.ascii("{\"event\":\"timer\",\"ts\":\""); w.epoch(t.time)
        w.ascii("\",\"timer\":\""); w.string(TimerEvent.timerName)
        w.ascii("\",\"action\":\""); w.string(t.action.name)
        w.ascii("\",\"end_of_input\":"); w.ascii(t.endOfInput ? "true" : "false")
        w.ascii(",\"flow\":"); timerFlow(t, to: &w)
        w.ascii(",\"timeouts\":"); w.decimal(t.timeouts)
        w.ascii(",\"max_retries\":"); w.decimal(t.maxRetries)
        w.ascii(",\"retransmits\":"); w.decimal(t.retransmits)
        w.ascii(",\"replies\":")
        jsonReplies(r, to: &w)
        w.ascii(",\"stages\":[")
        var first = true
        for s in r.stages where shows(s.stage) || s.stage == .reqskTimerHandler {
            w.ascii(first ? "{\"stage\":\"" : ",{\"stage\":\"")
            first = false
            s.stage.writeSymbol(to: &w)
            w.ascii("\",\"decision\":\"")
            s.verdict.writeDecisionAndDetailKey(to: &w)
            r.withJSONDetail(of: s) { if s.jsonSafe || $1 { w.bytes($0) } else { w.jsonEscaped($0) } }
            w.ascii("\"}")
        }
        w.ascii("],\"counters\":{")
        jsonCounters(r, to: &w)
        w.ascii("}}")
    }

    private func timerText(_ t: TimerEvent, _ r: FrameResult, to w: inout ByteWriter) {
        color("1;35", &w)
        w.ascii("timer ")
        w.timeOfDay(t.time)
        w.ascii(t.endOfInput ? " (end of input) " : " ")
        w.string(TimerEvent.timerName); w.byte(32); w.string(t.action.name)
        w.ascii(" request "); w.string(t.local.description); w.byte(58); w.decimal(Int(t.localPort))
        w.ascii(" <- "); w.string(t.remote.description); w.byte(58); w.decimal(Int(t.remotePort))
        w.ascii(" (timeout "); w.decimal(t.timeouts); w.ascii(" of "); w.decimal(t.maxRetries); w.byte(41)
        resetColor(&w)
        if verbosity >= 1 {
            for s in r.stages where shows(s.stage) || s.stage == .reqskTimerHandler {
                w.byte(10)
                let dropped = s.verdict == .drop
                color(dropped ? "31" : "2", &w)
                w.ascii("    ")
                let start = w.count
                s.stage.writeSymbol(to: &w)
                w.pad(from: start, to: 26)
                w.padded(s.verdict.name, 8)
                r.withDetail(of: s) { w.bytes($0) }
                resetColor(&w)
            }
        }
        textRepliesAndCounters(r, to: &w)
    }

    /// `-vv`: the decoder's view: outcome, checksums, lengths, TTL, fragment (one line,
    /// newline included).
    private func decodeDetail(_ d: DecodedFrame, bytes: UnsafeRawBufferPointer, to w: inout ByteWriter) {
        color("2", &w)
        w.ascii("    decode: outcome=")
        w.string(d.outcome.description)
        if d.issues.count > 1 {
            w.ascii(" issues=")
            for (k, i) in d.issues.enumerated() {
                if k > 0 { w.byte(44) }
                w.string(i.description)
            }
        }
        w.ascii(" caplen=")
        w.decimal(d.capturedLength)
        w.ascii(" len=")
        w.decimal(d.wireLength)
        if let h = d.ipv4(in: bytes) {
            w.ascii(" ttl="); w.decimal(h.ttl)
            w.ascii(" id="); w.decimal(h.identification)
            w.ascii(" ip_len="); w.decimal(h.totalLength)
        } else if let h = d.ipv6(in: bytes) {
            w.ascii(" hlim="); w.decimal(h.hopLimit)
        }
        if d.ipChecksum != .notApplicable { w.ascii(" ip_cksum="); w.string(d.ipChecksum.description) }
        if d.transportChecksum != .notApplicable { w.ascii(" l4_cksum="); w.string(d.transportChecksum.description) }
        if let f = d.fragment {
            w.ascii(" frag=id "); w.decimal(f.identification)
            w.ascii(" offset "); w.decimal(Int(f.offset) * 8)
            if f.moreFragments { w.ascii(" MF") }
            if f.dontFragment { w.ascii(" DF") }
        }
        if d.network != .none { w.ascii(" payload="); w.decimal(d.payloadLength) }
        if d.paddingLength > 0 { w.ascii(" padding="); w.decimal(d.paddingLength) }
        resetColor(&w)
    }
}

extension Stage {
    /// Appends `symbol` from literals (no String is made).
    public func writeSymbol(to w: inout ByteWriter) {
        switch self {
        case .napiPoll: w.ascii("napi_poll")
        case .devGroReceive: w.ascii("dev_gro_receive")
        case .ethTypeTrans: w.ascii("eth_type_trans")
        case .netifReceiveSkbCore: w.ascii("__netif_receive_skb_core")
        case .vlanDoReceive: w.ascii("vlan_do_receive")
        case .arpRcv: w.ascii("arp_rcv")
        case .ipRcvCore: w.ascii("ip_rcv_core")
        case .ipRcvFinish: w.ascii("ip_rcv_finish")
        case .ipRouteInput: w.ascii("ip_route_input_slow")
        case .fibValidateSource: w.ascii("fib_validate_source")
        case .ipError: w.ascii("ip_error")
        case .ipLocalDeliver: w.ascii("ip_local_deliver")
        case .ipDefrag: w.ascii("ip_defrag")
        case .ipLocalDeliverFinish: w.ascii("ip_local_deliver_finish")
        case .ipForward: w.ascii("ip_forward")
        case .ipOutput: w.ascii("ip_output")
        case .icmpRcv: w.ascii("icmp_rcv")
        case .icmpSend: w.ascii("icmp_send")
        case .tcpV4Rcv: w.ascii("tcp_v4_rcv")
        case .tcpV4DoRcv: w.ascii("tcp_v4_do_rcv")
        case .tcpRcvStateProcess: w.ascii("tcp_rcv_state_process")
        case .tcpCheckReq: w.ascii("tcp_check_req")
        case .tcpTimewaitStateProcess: w.ascii("tcp_timewait_state_process")
        case .udpRcv: w.ascii("udp_rcv")
        case .rawV4Input: w.ascii("raw_v4_input")
        case .ipv6Rcv: w.ascii("ipv6_rcv")
        case .ip6RcvCore: w.ascii("ip6_rcv_core")
        case .ip6RouteInput: w.ascii("ip6_route_input")
        case .ip6Input: w.ascii("ip6_input")
        case .ip6Forward: w.ascii("ip6_forward")
        case .ipv6Defrag: w.ascii("ipv6_frag_rcv")
        case .icmpv6Rcv: w.ascii("icmpv6_rcv")
        case .ndiscRcv: w.ascii("ndisc_rcv")
        case .tcpV6Rcv: w.ascii("tcp_v6_rcv")
        case .udpv6Rcv: w.ascii("udpv6_rcv")
        case .nfConntrackIn: w.ascii("nf_conntrack_in")
        case .nfNat: w.ascii("nf_nat_inet_fn")
        case .neighResolveOutput: w.ascii("neigh_resolve_output")
        case .neighUpdate: w.ascii("neigh_update")
        case .neighTimerHandler: w.ascii("neigh_timer_handler")
        case .reqskTimerHandler: w.ascii("reqsk_timer_handler")
        case .nfHook(let hook, _):
            switch hook {
            case .prerouting: w.ascii("nf_hook PREROUTING")
            case .input: w.ascii("nf_hook INPUT")
            case .forward: w.ascii("nf_hook FORWARD")
            case .output: w.ascii("nf_hook OUTPUT")
            case .postrouting: w.ascii("nf_hook POSTROUTING")
            case .arpIn: w.ascii("nf_hook ARP_IN")
            case .arpOut: w.ascii("nf_hook ARP_OUT")
            case .arpForward: w.ascii("nf_hook ARP_FORWARD")
            }
        }
    }
}

/// The JSON keys of the counters (`,"IpInReceives":`), made once from `MIB.name` and never
/// freed (raw memory, so reading it costs no reference counting).
enum MIBKeys {
    /// The keys back to back, each after a comma, and where each starts (index `MIB.ordinal`;
    /// one more at the end).
    static let table: (bytes: UnsafeMutablePointer<UInt8>, starts: UnsafeMutablePointer<Int>) = {
        var bytes: [UInt8] = []
        var starts: [Int] = []
        for m in MIB.allCases {
            precondition(m.ordinal == starts.count, "MIB.ordinal is not the declaration order")
            starts.append(bytes.count)
            bytes.append(44)
            bytes.append(34)
            bytes += Array(m.name.utf8)
            bytes += [34, 58]
        }
        starts.append(bytes.count)
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count)
        b.initialize(from: bytes, count: bytes.count)
        let s = UnsafeMutablePointer<Int>.allocate(capacity: starts.count)
        s.initialize(from: starts, count: starts.count)
        return (b, s)
    }()

    /// Appends `,"<name>":` (without the comma when `first`). `t` is `table`, read once by
    /// the caller.
    @inline(__always) static func write(_ t: (bytes: UnsafeMutablePointer<UInt8>, starts: UnsafeMutablePointer<Int>),
                                        _ m: MIB, first: Bool, to w: inout ByteWriter) {
        let i = m.ordinal
        let start = t.starts[i] &+ (first ? 1 : 0)
        w.bytes(UnsafeBufferPointer(start: t.bytes + start, count: t.starts[i &+ 1] &- start))
    }
}

extension Verdict {
    /// Appends `name`, the closing quote and the next key: `pass","detail":"`.
    @inline(__always) func writeDecisionAndDetailKey(to w: inout ByteWriter) {
        switch self {
        case .pass: w.ascii("pass\",\"detail\":\"")
        case .drop: w.ascii("drop\",\"detail\":\"")
        case .consume: w.ascii("consume\",\"detail\":\"")
        case .hold: w.ascii("hold\",\"detail\":\"")
        case .deliver: w.ascii("deliver\",\"detail\":\"")
        case .forward: w.ascii("forward\",\"detail\":\"")
        case .note: w.ascii("note\",\"detail\":\"")
        }
    }

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

extension Reply {
    /// Appends `kindName` as a JSON string, from literals.
    func writeKindJSON(to w: inout ByteWriter) {
        switch kind {
        case .tcpRst: w.ascii("\"tcp_rst\"")
        case .tcpSynAck(let cookie): w.ascii(cookie ? "\"tcp_synack_cookie\"" : "\"tcp_synack\"")
        case .tcpAck(let challenge): w.ascii(challenge ? "\"tcp_challenge_ack\"" : "\"tcp_ack\"")
        case .icmp: w.ascii("\"icmp\"")
        case .icmpv6: w.ascii("\"icmpv6\"")
        case .arpReply: w.ascii("\"arp_reply\"")
        case .arpRequest: w.ascii("\"arp_request\"")
        case .neighbourSolicit: w.ascii("\"nd_neighbour_solicit\"")
        }
    }
}
