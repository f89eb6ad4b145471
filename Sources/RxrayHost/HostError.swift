import RxrayRules

/// Helpers that build the `InputError`s the host loader throws.
enum HostError {
    static func input(_ file: String, line: Int? = nil, column: Int? = nil, _ message: String) -> InputError {
        InputError(file: file, line: line, column: column, message)
    }
}
