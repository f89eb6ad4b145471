import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failure of the live verifier's machinery (not a kernel decision): a tool that failed, a
/// namespace that could not be built. Carries the command and its own message.
public struct VerifyEnvironmentError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Runs external tools (`ip`, `nft`, `iptables-restore`, `bpftrace`) with Foundation's Process.
enum Tool {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let searchPath = ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"]

    /// The absolute path of `name` on the usual system paths, if installed.
    static func find(_ name: String) -> String? {
        if name.hasPrefix("/") { return FileManager.default.isExecutableFile(atPath: name) ? name : nil }
        let env = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map(String.init) ?? []
        for d in env + searchPath where FileManager.default.isExecutableFile(atPath: d + "/" + name) { return d + "/" + name }
        return nil
    }

    /// Runs `args` (first is the tool name), feeding `input` on standard input.
    @discardableResult
    static func run(_ args: [String], input: String? = nil) throws -> Output {
        guard let exe = find(args[0]) else { throw VerifyEnvironmentError("\(args[0]): not installed") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = Array(args.dropFirst())
        var env = ProcessInfo.processInfo.environment
        env["LC_ALL"] = "C"
        p.environment = env
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input == nil ? FileHandle.nullDevice : inp
        do { try p.run() } catch { throw VerifyEnvironmentError("\(args[0]): cannot start: \(error)") }
        if let s = input {
            let h = inp.fileHandleForWriting
            DispatchQueue.global().async {
                h.write(Data(s.utf8))
                try? h.close()
            }
        }
        final class Box: @unchecked Sendable { var data = Data() }
        let errBox = Box()
        let g = DispatchGroup()
        g.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            g.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        g.wait()
        let errData = errBox.data
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs and throws with the tool's own message when it fails.
    @discardableResult
    static func must(_ args: [String], input: String? = nil) throws -> Output {
        let o = try run(args, input: input)
        guard o.status == 0 else {
            let msg = o.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw VerifyEnvironmentError("command failed (\(o.status)): \(args.joined(separator: " ")): \(msg)")
        }
        return o
    }
}

/// Switches the calling thread into a named network namespace for the duration of `body`
/// (sockets created inside stay in that namespace), then back.
enum NetnsSwitch {
    /// `CLONE_NEWNET` (linux/sched.h).
    static let cloneNewNet: Int32 = 0x4000_0000
    /// glibc's `setns`, which Glibc's module only declares with _GNU_SOURCE: looked up once.
    static let setns: (@convention(c) (Int32, Int32) -> Int32)? = {
        guard let h = dlopen(nil, RTLD_NOW), let sym = dlsym(h, "setns") else { return nil }
        return unsafeBitCast(sym, to: (@convention(c) (Int32, Int32) -> Int32).self)
    }()

    static func inside<T>(_ name: String, _ body: () throws -> T) throws -> T {
        let own = open("/proc/thread-self/ns/net", O_RDONLY)
        guard own >= 0 else { throw VerifyEnvironmentError("cannot open this thread's network namespace: \(String(cString: strerror(errno)))") }
        defer { close(own) }
        let fd = open("/run/netns/\(name)", O_RDONLY)
        guard fd >= 0 else { throw VerifyEnvironmentError("/run/netns/\(name): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard let setns = Self.setns else { throw VerifyEnvironmentError("setns(2) is not available in this C library") }
        guard setns(fd, cloneNewNet) == 0 else {
            throw VerifyEnvironmentError("setns \(name): \(String(cString: strerror(errno)))")
        }
        defer { _ = setns(own, cloneNewNet) }
        return try body()
    }
}

/// Whether this process can build network namespaces, and if not, why.
public enum LiveRequirements {
    /// nil when root, `ip`, `bpftrace` and the kfree_skb tracepoint are available; else the reason.
    public static func missing() -> String? {
        if geteuid() != 0 { return "rxray verify needs root (it builds network namespaces and traces kfree_skb); run it with sudo" }
        for t in ["ip", "bpftrace", "ethtool"] where Tool.find(t) == nil {
            return "rxray verify needs \(t), which is not installed"
        }
        if !FileManager.default.fileExists(atPath: "/proc/self/ns/net") { return "this kernel has no network namespaces" }
        if DropReasons.formatPath() == nil {
            _ = try? Tool.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"])
            if DropReasons.formatPath() == nil {
                return "the skb:kfree_skb tracepoint is not visible (mount tracefs at /sys/kernel/tracing)"
            }
        }
        return nil
    }
}

/// SKB_DROP_REASON_* names by value, from the tracepoint's own format description.
enum DropReasons {
    static func formatPath() -> String? {
        for base in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
            let p = base + "/events/skb/kfree_skb/format"
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        return nil
    }

    /// Parses `{ 2, "NO_SOCKET" }` pairs from the print format.
    static func names() -> [Int: String] {
        guard let p = formatPath(), let text = try? String(contentsOfFile: p, encoding: .utf8) else { return [:] }
        var out: [Int: String] = [:]
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            rest = rest[rest.index(after: open)...]
            guard let close = rest.firstIndex(of: "}") else { break }
            let inner = rest[..<close]
            let parts = inner.split(separator: ",", maxSplits: 1)
            if parts.count == 2, let v = Int(parts[0].trimmingCharacters(in: .whitespaces)) {
                let name = parts[1].trimmingCharacters(in: .whitespaces)
                if name.hasPrefix("\""), name.hasSuffix("\""), name.count > 2 {
                    out[v] = String(name.dropFirst().dropLast())
                }
            }
        }
        return out
    }
}
