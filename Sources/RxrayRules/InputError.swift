/// A problem in a user-supplied input file (snapshot part, profile, ruleset), located exactly.
///
/// Rendered as `file:line:column: message` so editors and humans can jump to it. The CLI
/// prints it on one line and exits 2.
public struct InputError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?
    public var message: String

    public init(file: String, line: Int? = nil, column: Int? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        if let column { s += ":\(column)" }
        return s + ": " + message
    }
}

/// A rule construct (match, target, expression, statement) that rxray does not model.
///
/// By default the host fails to load with the full list of these; with `--lenient` the rule
/// holding it evaluates as never matching and every trace that passes it is marked.
public struct UnsupportedConstruct: Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    /// The construct as written, e.g. `-m cgroup` or `osf name`.
    public var construct: String
    /// The whole rule text it appears in.
    public var ruleText: String

    public init(file: String, line: Int, construct: String, ruleText: String) {
        self.file = file
        self.line = line
        self.construct = construct
        self.ruleText = ruleText
    }

    public var description: String { "\(file):\(line): unsupported \(construct) in: \(ruleText)" }
}

/// The load failed because rules use constructs rxray does not model; lists every one.
public struct UnsupportedRulesError: Error, Sendable, CustomStringConvertible {
    public var items: [UnsupportedConstruct]
    public init(items: [UnsupportedConstruct]) { self.items = items }
    public var description: String {
        "\(items.count) rule construct(s) rxray does not model (use --lenient to evaluate such rules as never matching):\n"
            + items.map { "  " + $0.description }.joined(separator: "\n")
    }
}
