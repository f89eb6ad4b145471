#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A one-line progress meter on standard error for long inputs: frames, frames per second,
/// and (when the input's size is known) percent done and time left, from the byte offset.
///
/// It prints only when standard error is a terminal (`enabledIfTerminal`), redraws at most
/// every `interval` (default 250 ms; `RXRAY_PROGRESS_INTERVAL_MS` overrides, 0 redraws on
/// every frame) and only after the first `delay` (default 500 ms, so short runs show
/// nothing), and erases its line when done. Wall-clock time is used here and only here:
/// it never reaches the results.
public final class ProgressMeter {
    private let totalBytes: Int64?
    private let intervalNs: UInt64
    private let delayNs: UInt64
    private let start: UInt64
    private var nextDraw: UInt64
    private var drawn = false
    private var sinceCheck = 0
    private let stream: UnsafeMutablePointer<FILE>

    /// A meter if standard error is a terminal, else nil.
    /// - Parameter totalBytes: the input's size (nil for a pipe).
    public static func enabledIfTerminal(totalBytes: Int64?) -> ProgressMeter? {
        guard isatty(STDERR_FILENO) == 1 else { return nil }
        var interval: UInt64 = 250_000_000
        var delay: UInt64 = 500_000_000
        if let env = getenv("RXRAY_PROGRESS_INTERVAL_MS"), let ms = UInt64(String(cString: env)) {
            interval = ms * 1_000_000
            delay = min(delay, interval)
        }
        return ProgressMeter(totalBytes: totalBytes, intervalNs: interval, delayNs: delay, stream: stderr)
    }

    init(totalBytes: Int64?, intervalNs: UInt64, delayNs: UInt64, stream: UnsafeMutablePointer<FILE>) {
        self.totalBytes = (totalBytes ?? 0) > 0 ? totalBytes : nil
        self.intervalNs = intervalNs
        self.delayNs = delayNs
        self.stream = stream
        start = Self.now()
        nextDraw = start + delayNs
    }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Reports `frames` read so far and the input's byte offset. Cheap: the clock is read
    /// every 256 frames (every frame when the interval is 0).
    public func update(frames: Int, offset: Int64) {
        sinceCheck += 1
        if intervalNs > 0 && sinceCheck < 256 { return }
        sinceCheck = 0
        let t = Self.now()
        guard t >= nextDraw else { return }
        nextDraw = t + intervalNs
        draw(frames: frames, offset: offset, at: t)
    }

    private func draw(frames: Int, offset: Int64, at t: UInt64) {
        let elapsed = Double(t - start) / 1e9
        let rate = elapsed > 0 ? Double(frames) / elapsed : 0
        var line = "\r\u{1B}[2Krxray: \(frames) frames, \(Self.short(rate)) frames/s"
        if let total = totalBytes {
            let done = min(1, max(0, Double(offset) / Double(total)))
            line += ", \(Int(done * 100))%"
            if done > 0.001 && elapsed > 0 {
                let left = elapsed * (1 - done) / done
                line += ", ETA " + Self.duration(left)
            }
        }
        var s = line
        s.withUTF8 { _ = fwrite($0.baseAddress, 1, $0.count, stream) }
        fflush(stream)
        drawn = true
    }

    /// Erases the meter's line (when it drew one).
    public func finish() {
        guard drawn else { return }
        var s = "\r\u{1B}[2K"
        s.withUTF8 { _ = fwrite($0.baseAddress, 1, $0.count, stream) }
        fflush(stream)
        drawn = false
    }

    /// `1234`, `12.3k`, `1.2M`.
    static func short(_ v: Double) -> String {
        if v < 10_000 { return String(Int(v)) }
        if v < 10_000_000 { return "\(Int(v / 1000))k" }
        return "\(Int(v / 1_000_000))M"
    }

    /// `42s`, `3m05s`, `1h02m`.
    static func duration(_ s: Double) -> String {
        let x = Int(s.rounded())
        if x < 60 { return "\(x)s" }
        if x < 3600 { return "\(x / 60)m" + (x % 60 < 10 ? "0" : "") + "\(x % 60)s" }
        return "\(x / 3600)h" + (x / 60 % 60 < 10 ? "0" : "") + "\(x / 60 % 60)m"
    }
}
