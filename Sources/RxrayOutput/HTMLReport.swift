import RxrayStack

/// The `--report FILE.html` page: one self-contained file (inline CSS, JS and SVG; nothing is
/// fetched) with
/// - a diagram of the receive path: stages as nodes, edges weighted by how many frames took
///   them, drops branching off to their reasons, delivered and forwarded as end nodes;
/// - the summary tables (fates, drops by reason and stage, top rules, replies, GRO, counters
///   as nstat prints them, the conntrack table);
/// - the per-frame trace, filterable by fate, drop reason, stage and free text.
///
/// The diagram and the summary count every frame the stack saw; the trace lists the frames
/// selected for output (the BPF filter, `--only-drops`), at most `maxTraceFrames` of them.
public final class HTMLReport {
    /// A node of the flow graph before labels are merged.
    enum Node: Hashable {
        case start
        case stage(Stage)
        case delivered
        case forwarded
        case drop(DropReason?)
    }

    struct Edge: Hashable {
        var from: Node
        var to: Node
    }

    public let maxTraceFrames: Int
    private var nodeFrames: [Node: Int] = [:]
    private var edgeFrames: [Edge: Int] = [:]
    /// The trace's frames as JSON array elements, joined with commas.
    private var traceJSON = ""
    public private(set) var traceFrames = 0
    public private(set) var selectedFrames = 0
    private var reasonsSeen: Set<String> = []
    private var stagesSeen: Set<String> = []

    public init(maxTraceFrames: Int = 20_000) {
        self.maxTraceFrames = maxTraceFrames
        traceJSON.reserveCapacity(1 << 16)
    }

    /// Counts a frame's path through the stages (every frame the stack saw).
    public func addPath(_ r: FrameResult) {
        var prev = Node.start
        nodeFrames[.start, default: 0] += 1
        var visited: [Node] = []
        func step(_ n: Node) {
            if n == prev { return }
            edgeFrames[Edge(from: prev, to: n), default: 0] += 1
            if !visited.contains(n) {
                visited.append(n)
                nodeFrames[n, default: 0] += 1
            }
            prev = n
        }
        // A dropped frame branches off at the stage that dropped it; what the trace holds after
        // (a later note) is not on its path.
        var stages = r.stages[...]
        if r.fate == .dropped, let ds = r.dropStage ?? r.silentDropStage,
           let k = r.stages.firstIndex(where: { $0.stage == ds && ($0.verdict == .drop || $0.verdict == .consume) })
            ?? r.stages.lastIndex(where: { $0.stage == ds }) {
            stages = r.stages[...k]
        }
        for s in stages { step(.stage(s.stage)) }
        switch r.fate {
        case .delivered: step(.delivered)
        case .forwarded: step(.forwarded)
        case .dropped: step(.drop(r.dropReason))
        }
    }

    /// Adds a selected frame to the trace table.
    public func addTrace(_ meta: FrameMeta, summary: String, result r: FrameResult) {
        selectedFrames += 1
        guard traceFrames < maxTraceFrames else { return }
        traceFrames += 1
        var o = traceFrames > 1 ? "," : ""
        o += "{\"n\":\(meta.index),\"t\":"
        o += Self.scriptJSON(Timestamps.timeOfDay(meta.timestampNanoseconds))
        o += ",\"i\":" + Self.scriptJSON(meta.captureInterface ?? "")
        o += ",\"s\":" + Self.scriptJSON(summary)
        o += ",\"f\":\"" + r.fate.rawValue + "\""
        let reason = r.fate == .dropped ? (r.dropReason?.name ?? "NONE") : ""
        o += ",\"r\":\"" + reason + "\""
        if !reason.isEmpty { reasonsSeen.insert(reason) }
        o += ",\"ds\":" + Self.scriptJSON((r.dropStage ?? r.silentDropStage)?.symbol ?? "")
        var where_ = r.egress.map { "via " + $0 } ?? ""
        if let nh = r.nextHop { where_ += " next hop \(nh)" }
        o += ",\"e\":" + Self.scriptJSON(where_)
        o += ",\"st\":["
        for (k, s) in r.stages.enumerated() {
            if k > 0 { o += "," }
            let sym = s.stage.symbol
            stagesSeen.insert(sym)
            o += "[" + Self.scriptJSON(sym) + ",\"" + s.verdict.name + "\"," + Self.scriptJSON(r.detail(of: s)) + "]"
        }
        o += "],\"rp\":["
        for (k, rep) in r.replies.enumerated() {
            if k > 0 { o += "," }
            o += Self.scriptJSON("\(rep.kindName) on \(rep.interface): \(rep.summary)")
        }
        o += "],\"c\":" + Self.scriptJSON(r.counters.map { "\($0.0.name) \($0.1 < 0 ? "" : "+")\($0.1)" }.joined(separator: " "))
        o += "}"
        traceJSON += o
    }

    // MARK: rendering

    /// The whole page.
    public func render(header h: RunHeader, summary: RunSummary) -> String {
        var page = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>rxray report: \(Self.escape(h.capture))</title>
            <style>\(Self.css)</style>
            </head>
            <body>
            <header>
            <h1>rxray report</h1>
            <p class="meta"><b>capture</b> \(Self.escape(h.capture)) (\(Self.escape(h.captureFormat)))
             · <b>host</b> \(Self.escape(h.hostPath ?? "inferred from the capture"))
             · <b>capture point</b> \(Self.escape(h.capturePoint)) (\(Self.escape(h.capturePointSource)))
             · <b>kernel model</b> \(Self.escape(h.kernelModel)) · rxray \(Self.escape(h.version))\(h.filter.map { " · <b>filter</b> <code>\(Self.escape($0))</code>" } ?? "")</p>
            </header>
            <main>

            """
        page += fateCards(summary)
        page += "<section id=\"flow\"><h2>Receive path</h2>\n"
        page += "<p class=\"hint\">Every frame enters at the top. Edge width and numbers: frames that took the edge. "
        page += "Red branches end in the kernel's drop reason. Click a stage or a drop to filter the trace.</p>\n"
        page += diagramSVG()
        page += "</section>\n"
        page += summaryTables(summary)
        page += traceSection()
        page += "</main>\n<script>\(Self.script)</script>\n</body>\n</html>\n"
        return page
    }

    private func fateCards(_ s: RunSummary) -> String {
        var o = "<section id=\"fates\" class=\"cards\">"
        o += "<div class=\"card\"><span class=\"num\">\(s.frames)</span><span>frames</span></div>"
        for f in [Fate.delivered, .forwarded, .dropped] {
            o += "<div class=\"card \(f.rawValue)\"><span class=\"num\">\(s.byFate[f] ?? 0)</span><span>\(f.rawValue)</span></div>"
        }
        return o + "</section>\n"
    }

    private func table(id: String, title: String, columns: [String], rows: [[String]], numeric: Set<Int> = [1]) -> String {
        var o = "<section class=\"tbl\" id=\"\(id)\"><h3>\(Self.escape(title))</h3><table><thead><tr>"
        for (k, c) in columns.enumerated() { o += "<th\(numeric.contains(k) ? " class=\"n\"" : "")>\(Self.escape(c))</th>" }
        o += "</tr></thead><tbody>"
        for r in rows {
            o += "<tr>"
            for (k, c) in r.enumerated() { o += "<td\(numeric.contains(k) ? " class=\"n\"" : "")>\(Self.escape(c))</td>" }
            o += "</tr>"
        }
        return o + "</tbody></table></section>\n"
    }

    private func summaryTables(_ s: RunSummary) -> String {
        var o = "<section id=\"summary\"><h2>Summary</h2><div class=\"grid\">\n"
        o += table(id: "t-fates", title: "Frames by fate", columns: ["fate", "frames"],
                   rows: [Fate.delivered, .forwarded, .dropped].map { [$0.rawValue, String(s.byFate[$0] ?? 0)] })
        let reasons = RunSummary.sorted(s.dropsByReason)
        if !reasons.isEmpty {
            o += table(id: "t-reasons", title: "Drops by reason", columns: ["reason", "frames"], rows: reasons.map { [$0.0, String($0.1)] })
            o += table(id: "t-stages", title: "Drops by stage", columns: ["stage", "frames"],
                       rows: RunSummary.sorted(s.dropsByStage).map { [$0.0, String($0.1)] })
        }
        let replies = RunSummary.sorted(s.repliesByKind)
        if !replies.isEmpty {
            o += table(id: "t-replies", title: "Replies by kind", columns: ["kind", "replies"], rows: replies.map { [$0.0, String($0.1)] })
        }
        if let g = s.gro {
            let packets = g.segments - g.merged
            o += table(id: "t-gro", title: "GRO", columns: ["", "frames"], rows: [
                ["segments in", String(g.segments)], ["merged", String(g.merged)], ["held", String(g.held)],
                ["packets up the stack", String(packets)],
                ["merge ratio", packets > 0 ? RunSummary.ratio(g.segments, packets) : "-"],
            ])
        }
        o += "</div>\n"
        let top = s.topRules
        if !top.isEmpty {
            o += table(id: "t-rules", title: "Top rules by hits", columns: ["hits", "table", "chain", "#", "rule"],
                       rows: top.prefix(50).map { [String($0.hits), $0.table, $0.chain, String($0.position), $0.text] },
                       numeric: [0, 3])
        }
        let counters = s.counters.sorted { $0.key < $1.key }
        if !counters.isEmpty {
            let d = s.durationNanoseconds
            o += table(id: "t-counters", title: "Counters (nstat names; rate per second of capture time)",
                       columns: ["counter", "value", "rate"],
                       rows: counters.map { [$0.key, String($0.value), RunSummary.rate($0.value, durationNs: d)] },
                       numeric: [1, 2])
        }
        if let ct = s.conntrackListing {
            o += "<section class=\"tbl\" id=\"t-conntrack\"><h3>Conntrack table at the end</h3><pre>"
            var first = true
            ct.forEach { line in
                if !first { o += "\n" }
                o += Self.escape(line)
                first = false
            }
            o += "</pre></section>\n"
        }
        return o + "</section>\n"
    }

    private func traceSection() -> String {
        var o = "<section id=\"trace\"><h2>Per-frame trace</h2>\n"
        if selectedFrames > traceFrames {
            o += "<p class=\"hint\">The first \(traceFrames) of \(selectedFrames) selected frames are listed.</p>\n"
        }
        o += "<div class=\"filters\">"
        o += "<label>fate <select id=\"f-fate\"><option value=\"\">any</option>"
        for f in ["delivered", "forwarded", "dropped"] { o += "<option>\(f)</option>" }
        o += "</select></label>"
        o += "<label>drop reason <select id=\"f-reason\"><option value=\"\">any</option>"
        for r in reasonsSeen.sorted() { o += "<option>\(Self.escape(r))</option>" }
        o += "</select></label>"
        o += "<label>stage <select id=\"f-stage\"><option value=\"\">any</option>"
        for s in stagesSeen.sorted() { o += "<option>\(Self.escape(s))</option>" }
        o += "</select></label>"
        o += "<label>search <input id=\"f-text\" type=\"search\" placeholder=\"address, port, rule text…\"></label>"
        o += "<span id=\"f-count\"></span></div>\n"
        o += "<table id=\"frames\"><thead><tr><th class=\"n\">#</th><th>time</th><th>if</th><th>frame</th><th>fate</th><th>reason / where</th></tr></thead><tbody></tbody></table>\n"
        o += "<button id=\"more\" hidden>show more</button>\n"
        o += "<script id=\"frame-data\" type=\"application/json\">[" + traceJSON + "]</script>\n"
        return o + "</section>\n"
    }

    // MARK: diagram

    struct Placed {
        var label: String
        var kind: String
        var frames: Int
        var layer = 0
        var x = 0.0
        var width = 0.0
        /// Filter the trace by this when clicked: `stage:SYMBOL`, `reason:NAME`, `fate:NAME`.
        var filter: String
    }

    /// Nodes (labels merged) and edges with frame counts, in a deterministic order.
    func graph() -> (nodes: [Placed], edges: [(Int, Int, Int)]) {
        var index: [String: Int] = [:]
        var nodes: [Placed] = []
        func id(_ n: Node) -> Int {
            let (label, kind, filter): (String, String, String)
            switch n {
            case .start: (label, kind, filter) = ("frames in", "start", "")
            case .stage(let s): (label, kind, filter) = (s.symbol, "stage", "stage:" + s.symbol)
            case .delivered: (label, kind, filter) = ("delivered", "delivered", "fate:delivered")
            case .forwarded: (label, kind, filter) = ("forwarded", "forwarded", "fate:forwarded")
            case .drop(let r):
                let name = r?.name ?? "NONE"
                (label, kind, filter) = ("✕ " + name, "drop", "reason:" + name)
            }
            let key = kind + "|" + label
            if let i = index[key] { return i }
            index[key] = nodes.count
            nodes.append(Placed(label: label, kind: kind, frames: 0, filter: filter))
            return nodes.count - 1
        }
        // Deterministic: visit nodes and edges sorted by their labels.
        let sortedNodes = nodeFrames.map { ($0.key, $0.value) }.sorted { Self.key($0.0) < Self.key($1.0) }
        _ = id(.start)
        for (n, c) in sortedNodes { nodes[id(n)].frames += c }
        var merged: [Int: [Int: Int]] = [:]
        for (e, c) in edgeFrames {
            let a = id(e.from), b = id(e.to)
            if a != b { merged[a, default: [:]][b, default: 0] += c }
        }
        var edges: [(Int, Int, Int)] = []
        for (a, outs) in merged { for (b, c) in outs { edges.append((a, b, c)) } }
        edges.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        return (nodes, edges)
    }

    static func key(_ n: Node) -> String {
        switch n {
        case .start: return "0"
        case .stage(let s): return "1" + s.symbol
        case .delivered: return "2"
        case .forwarded: return "3"
        case .drop(let r): return "4" + (r?.name ?? "")
        }
    }

    /// Lays the graph out in layers (longest path from the entry, back edges ignored) and
    /// draws it as inline SVG.
    func diagramSVG() -> String {
        var (nodes, edges) = graph()
        guard nodes.count > 1 else {
            return "<p class=\"hint\">No frames.</p>\n"
        }
        let n = nodes.count
        var outs = [[(Int, Int)]](repeating: [], count: n)
        for (a, b, c) in edges { outs[a].append((b, c)) }
        for i in 0..<n {
            outs[i].sort { $0.1 != $1.1 ? $0.1 > $1.1 : nodes[$0.0].label < nodes[$1.0].label }
        }
        // Depth-first from the entry: an edge to a node on the stack is a back edge.
        var state = [UInt8](repeating: 0, count: n)  // 0 new, 1 on stack, 2 done
        var back = Set<Int>()  // a * n + b
        var order: [Int] = []  // reverse post-order = a topological order of forward edges
        var stack: [(Int, Int)] = [(0, 0)]
        state[0] = 1
        while let (v, k) = stack.last {
            if k < outs[v].count {
                stack[stack.count - 1].1 += 1
                let w = outs[v][k].0
                if state[w] == 1 { back.insert(v * n + w) } else if state[w] == 0 {
                    state[w] = 1
                    stack.append((w, 0))
                }
            } else {
                state[v] = 2
                order.append(v)
                stack.removeLast()
            }
        }
        for v in 0..<n where state[v] == 0 { order.append(v) }
        order.reverse()
        for v in order {
            for (w, _) in outs[v] where !back.contains(v * n + w) {
                nodes[w].layer = max(nodes[w].layer, nodes[v].layer + 1)
            }
        }
        // Widths from the label and count (monospace 12px ≈ 7.3 px a character).
        for i in 0..<n {
            let chars = nodes[i].label.count + String(nodes[i].frames).count + 3
            nodes[i].width = Double(chars) * 7.3 + 22
        }
        // Order each layer by the weighted x of its predecessors; drops lean right.
        var ins = [[(Int, Int)]](repeating: [], count: n)
        for (a, b, c) in edges where !back.contains(a * n + b) { ins[b].append((a, c)) }
        let layers = (nodes.map(\.layer).max() ?? 0) + 1
        var rows = [[Int]](repeating: [], count: layers)
        for i in 0..<n { rows[nodes[i].layer].append(i) }
        let gap = 26.0
        for l in 0..<layers {
            var desired: [(Int, Double)] = []
            for v in rows[l] {
                var sum = 0.0, weight = 0.0
                for (a, c) in ins[v] where nodes[a].layer < l {
                    sum += nodes[a].x * Double(c)
                    weight += Double(c)
                }
                var x = weight > 0 ? sum / weight : 0
                if nodes[v].kind == "drop", let p = ins[v].max(by: { $0.1 < $1.1 }) {
                    x = nodes[p.0].x + nodes[p.0].width / 2 + nodes[v].width / 2 + 40
                }
                desired.append((v, x))
            }
            desired.sort { $0.1 != $1.1 ? $0.1 < $1.1 : nodes[$0.0].label < nodes[$1.0].label }
            var right = -Double.infinity
            var placed: [(Int, Double)] = []
            for (v, x) in desired {
                let half = nodes[v].width / 2
                let px = max(x, right + gap + half)
                placed.append((v, px))
                right = px + half
            }
            for (v, x) in placed { nodes[v].x = x }
        }
        let minX = nodes.map { $0.x - $0.width / 2 }.min() ?? 0
        let maxX = nodes.map { $0.x + $0.width / 2 }.max() ?? 0
        let margin = 30.0
        let rowH = 74.0, boxH = 28.0
        let width = maxX - minX + 2 * margin + 80
        let height = Double(layers - 1) * rowH + boxH + 2 * margin
        func cx(_ v: Int) -> Double { nodes[v].x - minX + margin }
        func cy(_ v: Int) -> Double { Double(nodes[v].layer) * rowH + margin + boxH / 2 }
        let maxEdge = Double(edges.map(\.2).max() ?? 1)

        var svg = "<div class=\"flowwrap\"><svg id=\"flow-svg\" class=\"flow\" xmlns=\"http://www.w3.org/2000/svg\" "
        svg += "viewBox=\"0 0 \(Self.num(width)) \(Self.num(height))\" width=\"\(Self.num(width))\" height=\"\(Self.num(height))\" role=\"img\" aria-label=\"receive path diagram\">"
        svg += "<defs>"
        for (name, color) in [("a-stage", "#5b6b82"), ("a-drop", "#c62828"), ("a-delivered", "#2e7d32"), ("a-forwarded", "#b26a00")] {
            svg += "<marker id=\"\(name)\" viewBox=\"0 0 10 10\" refX=\"8\" refY=\"5\" markerUnits=\"userSpaceOnUse\" markerWidth=\"11\" markerHeight=\"11\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"\(color)\"/></marker>"
        }
        svg += "</defs><g class=\"edges\">"
        for (a, b, c) in edges {
            let kind = nodes[b].kind == "stage" || nodes[b].kind == "start" ? "stage" : nodes[b].kind
            let w = 1.2 + 6 * (Double(c) / maxEdge).squareRoot()
            let x1 = cx(a), y1 = cy(a) + boxH / 2, x2 = cx(b), y2 = cy(b) - boxH / 2 - 2
            var d: String
            var lx: Double, ly: Double
            if back.contains(a * n + b) || nodes[b].layer <= nodes[a].layer {
                let r1 = cx(a) + nodes[a].width / 2, r2 = cx(b) + nodes[b].width / 2
                let bulge = max(r1, r2) + 50
                d = "M\(Self.num(r1)),\(Self.num(cy(a))) C\(Self.num(bulge)),\(Self.num(cy(a))) \(Self.num(bulge)),\(Self.num(cy(b))) \(Self.num(r2 + 2)),\(Self.num(cy(b)))"
                lx = bulge - 10; ly = (cy(a) + cy(b)) / 2
            } else if kind == "drop" {
                // Branch off from the right part of the dropping stage; the count sits by
                // the arrow, where branches no longer overlap.
                let sx = x1 + nodes[a].width / 4
                let my = (y1 + y2) / 2
                d = "M\(Self.num(sx)),\(Self.num(y1)) C\(Self.num(sx)),\(Self.num(my)) \(Self.num(x2)),\(Self.num(my)) \(Self.num(x2)),\(Self.num(y2))"
                // The label sits on the curve at t = 0.8: near the arrow, apart from the
                // other branches into the same reason.
                let t = 0.8, u = 1 - t
                lx = u * u * u * sx + 3 * u * u * t * sx + 3 * u * t * t * x2 + t * t * t * x2 + 6
                ly = u * u * u * y1 + 3 * u * u * t * my + 3 * u * t * t * my + t * t * t * y2 - 4
            } else {
                let my = (y1 + y2) / 2
                d = "M\(Self.num(x1)),\(Self.num(y1)) C\(Self.num(x1)),\(Self.num(my)) \(Self.num(x2)),\(Self.num(my)) \(Self.num(x2)),\(Self.num(y2))"
                lx = (x1 + x2) / 2 + 8; ly = my + 4
            }
            svg += "<g class=\"edge \(kind)\" data-from=\"\(Self.escape(nodes[a].label))\" data-to=\"\(Self.escape(nodes[b].label))\" data-frames=\"\(c)\">"
            svg += "<title>\(Self.escape(nodes[a].label)) → \(Self.escape(nodes[b].label)): \(c) frame\(c == 1 ? "" : "s")</title>"
            svg += "<path d=\"\(d)\" stroke-width=\"\(Self.num(w))\" marker-end=\"url(#a-\(kind))\"/>"
            svg += "<text x=\"\(Self.num(lx))\" y=\"\(Self.num(ly))\">\(c)</text></g>"
        }
        svg += "</g><g class=\"nodes\">"
        for v in 0..<n {
            let x = cx(v) - nodes[v].width / 2, y = cy(v) - boxH / 2
            svg += "<g class=\"node \(nodes[v].kind)\" data-label=\"\(Self.escape(nodes[v].label))\" data-frames=\"\(nodes[v].frames)\" data-filter=\"\(Self.escape(nodes[v].filter))\" tabindex=\"0\">"
            svg += "<title>\(Self.escape(nodes[v].label)): \(nodes[v].frames) frame\(nodes[v].frames == 1 ? "" : "s")</title>"
            svg += "<rect x=\"\(Self.num(x))\" y=\"\(Self.num(y))\" width=\"\(Self.num(nodes[v].width))\" height=\"\(Self.num(boxH))\" rx=\"6\"/>"
            svg += "<text x=\"\(Self.num(cx(v)))\" y=\"\(Self.num(cy(v) + 4))\">\(Self.escape(nodes[v].label)) <tspan class=\"cnt\">\(nodes[v].frames)</tspan></text></g>"
        }
        svg += "</g></svg></div>\n"
        return svg
    }

    // MARK: escaping

    /// Text for HTML element content and attribute values.
    public static func escape(_ s: String) -> String {
        var o = ""
        o.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&#39;"
            default: o.unicodeScalars.append(c)
            }
        }
        return o
    }

    /// A JSON string literal safe inside `<script type="application/json">`: `<` is written
    /// as `\u003c`, so no `</script>` can end the block early.
    public static func scriptJSON(_ s: String) -> String {
        var o = ""
        JSON.appendString(s, to: &o)
        guard o.contains("<") || o.contains("\u{2028}") || o.contains("\u{2029}") else { return o }
        var e = ""
        for c in o.unicodeScalars {
            switch c {
            case "<": e += "\\u003c"
            case "\u{2028}": e += "\\u2028"
            case "\u{2029}": e += "\\u2029"
            default: e.unicodeScalars.append(c)
            }
        }
        return e
    }

    /// A coordinate with at most one decimal, without Foundation.
    static func num(_ v: Double) -> String {
        let t = Int((v * 10).rounded())
        let sign = t < 0 ? "-" : ""
        return t % 10 == 0 ? "\(sign)\(abs(t) / 10)" : "\(sign)\(abs(t) / 10).\(abs(t) % 10)"
    }

    // MARK: assets

    static let css = """
        :root{--bg:#f6f7f9;--fg:#1d2430;--mute:#5d6878;--line:#d8dde5;--card:#fff;--drop:#c62828;--ok:#2e7d32;--fwd:#b26a00;--acc:#2f5fb3}
        *{box-sizing:border-box}
        body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
        header{padding:18px 28px 10px;background:#1d2430;color:#e9edf3}
        header h1{margin:0 0 4px;font-size:20px;font-weight:600}
        header .meta{margin:0;color:#b9c2cf;font-size:13px}
        header b{color:#e9edf3;font-weight:600}
        main{padding:10px 28px 40px;max-width:1600px}
        h2{font-size:17px;margin:26px 0 8px}
        h3{font-size:14px;margin:0 0 6px;color:var(--mute);font-weight:600}
        code,pre,.mono,td{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12.5px}
        .hint{color:var(--mute);margin:4px 0 10px;font-size:13px}
        .cards{display:flex;gap:12px;margin-top:16px;flex-wrap:wrap}
        .card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 18px;min-width:130px;display:flex;flex-direction:column}
        .card .num{font-size:24px;font-weight:650}
        .card span:last-child{color:var(--mute)}
        .card.delivered .num{color:var(--ok)} .card.forwarded .num{color:var(--fwd)} .card.dropped .num{color:var(--drop)}
        .flowwrap{background:var(--card);border:1px solid var(--line);border-radius:8px;overflow-x:auto;padding:6px}
        svg.flow{display:block;max-width:none;margin:0 auto}
        svg.flow .edge path{fill:none;stroke:#8d9bb0;opacity:.75}
        svg.flow .edge.drop path{stroke:var(--drop);opacity:.7}
        svg.flow .edge.delivered path{stroke:var(--ok)} svg.flow .edge.forwarded path{stroke:var(--fwd)}
        svg.flow .edge text{font:11px ui-monospace,monospace;fill:#3b4656;paint-order:stroke;stroke:#fff;stroke-width:3px}
        svg.flow .node rect{fill:#eef2f8;stroke:#7f8ea6;stroke-width:1}
        svg.flow .node text{font:12px ui-monospace,Menlo,Consolas,monospace;text-anchor:middle;fill:#1d2430}
        svg.flow .node .cnt{fill:#5d6878;font-size:11px}
        svg.flow .node.start rect{fill:#1d2430;stroke:#1d2430} svg.flow .node.start text,svg.flow .node.start .cnt{fill:#fff}
        svg.flow .node.drop rect{fill:#fdecea;stroke:var(--drop)} svg.flow .node.drop text{fill:#8e1c1c}
        svg.flow .node.delivered rect{fill:#e8f5e9;stroke:var(--ok)} svg.flow .node.forwarded rect{fill:#fff4e0;stroke:var(--fwd)}
        svg.flow .node{cursor:pointer} svg.flow .node:hover rect,svg.flow .node.sel rect{stroke-width:2.5}
        #summary .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:14px}
        .tbl{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px;margin-bottom:14px}
        table{border-collapse:collapse;width:100%}
        th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #edf0f4;vertical-align:top}
        th{font-size:12px;color:var(--mute);font-weight:600;background:#fafbfc}
        .n{text-align:right;font-variant-numeric:tabular-nums}
        #t-counters,#t-rules{max-width:900px}
        .filters{display:flex;gap:14px;flex-wrap:wrap;align-items:center;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:8px 12px;margin-bottom:8px}
        .filters label{color:var(--mute);font-size:13px}
        .filters select,.filters input{margin-left:4px;font:inherit;padding:2px 4px}
        .filters input{width:230px}
        #f-count{margin-left:auto;color:var(--mute)}
        #frames{background:var(--card);border:1px solid var(--line)}
        #frames tbody tr.fr{cursor:pointer}
        #frames tbody tr.fr:hover{background:#f3f6fb}
        #frames td.fate{font-weight:600}
        #frames tr.dropped td.fate{color:var(--drop)} #frames tr.delivered td.fate{color:var(--ok)} #frames tr.forwarded td.fate{color:var(--fwd)}
        #frames tr.det td{background:#fbfcfd;padding:4px 8px 8px 48px}
        #frames tr.det div{white-space:pre-wrap}
        #frames .v-drop{color:var(--drop);font-weight:600} #frames .v-deliver{color:var(--ok)} #frames .v-forward{color:var(--fwd)}
        #frames .sym{display:inline-block;min-width:220px}
        #frames .vd{display:inline-block;min-width:70px}
        button#more{margin:10px 0;font:inherit;padding:4px 14px}
        """

    static let script = """
        (function(){
        var data=JSON.parse(document.getElementById('frame-data').textContent);
        var tbody=document.querySelector('#frames tbody');
        var fFate=document.getElementById('f-fate'),fReason=document.getElementById('f-reason'),
            fStage=document.getElementById('f-stage'),fText=document.getElementById('f-text'),
            count=document.getElementById('f-count'),more=document.getElementById('more');
        var PAGE=500,shown=PAGE,matches=[];
        function text(f){
          if(!f._t){var s=[f.n,f.t,f.i,f.s,f.f,f.r,f.ds,f.e,f.c];
            f.st.forEach(function(x){s.push(x[0],x[1],x[2]);});f.rp.forEach(function(x){s.push(x);});
            f._t=s.join(' ').toLowerCase();}
          return f._t;}
        function ok(f){
          if(fFate.value&&f.f!==fFate.value)return false;
          if(fReason.value&&f.r!==fReason.value)return false;
          if(fStage.value&&!f.st.some(function(x){return x[0]===fStage.value;}))return false;
          var q=fText.value.trim().toLowerCase();
          if(q&&q.split(/\\s+/).some(function(w){return text(f).indexOf(w)<0;}))return false;
          return true;}
        function cell(tr,v,cls){var td=document.createElement('td');td.textContent=v;if(cls)td.className=cls;tr.appendChild(td);return td;}
        function details(f){
          var tr=document.createElement('tr');tr.className='det';var td=document.createElement('td');td.colSpan=6;
          f.st.forEach(function(x){var d=document.createElement('div');
            var a=document.createElement('span');a.className='sym';a.textContent=x[0];d.appendChild(a);
            var b=document.createElement('span');b.className='vd v-'+x[1];b.textContent=x[1];d.appendChild(b);
            d.appendChild(document.createTextNode(x[2]));td.appendChild(d);});
          f.rp.forEach(function(x){var d=document.createElement('div');d.textContent='reply '+x;td.appendChild(d);});
          if(f.c){var d=document.createElement('div');d.textContent='counters: '+f.c;td.appendChild(d);}
          tr.appendChild(td);return tr;}
        function render(){
          matches=data.filter(ok);tbody.textContent='';
          var frag=document.createDocumentFragment();
          matches.slice(0,shown).forEach(function(f){
            var tr=document.createElement('tr');tr.className='fr '+f.f;tr.dataset.frame=f.n;
            cell(tr,f.n,'n');cell(tr,f.t);cell(tr,f.i);cell(tr,f.s);cell(tr,f.f,'fate');
            cell(tr,f.f==='dropped'?(f.r+(f.ds?' at '+f.ds:'')):f.e);
            tr.addEventListener('click',function(){
              var n=tr.nextSibling;if(n&&n.className==='det'){n.remove();}else{tr.after(details(f));}});
            frag.appendChild(tr);});
          tbody.appendChild(frag);
          count.textContent=matches.length+' of '+data.length+' frames';
          more.hidden=matches.length<=shown;}
        [fFate,fReason,fStage].forEach(function(e){e.addEventListener('change',function(){shown=PAGE;render();});});
        fText.addEventListener('input',function(){shown=PAGE;render();});
        more.addEventListener('click',function(){shown+=PAGE;render();});
        function choose(sel,v){var has=[].some.call(sel.options,function(o){return o.value===v;});
          if(!has){var o=document.createElement('option');o.textContent=v;sel.appendChild(o);}sel.value=v;}
        document.querySelectorAll('svg.flow .node').forEach(function(g){
          g.addEventListener('click',function(){
            var f=g.getAttribute('data-filter');fFate.value='';fReason.value='';fStage.value='';
            document.querySelectorAll('svg.flow .node.sel').forEach(function(x){x.classList.remove('sel');});
            if(f){g.classList.add('sel');var k=f.slice(0,f.indexOf(':')),v=f.slice(f.indexOf(':')+1);
              if(k==='stage')choose(fStage,v);else if(k==='reason'){fFate.value='dropped';choose(fReason,v);}else choose(fFate,v);}
            shown=PAGE;render();document.getElementById('trace').scrollIntoView({behavior:'smooth'});});});
        render();
        })();
        """
}
