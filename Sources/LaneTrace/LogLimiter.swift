// Log lines limited per cause: a burst of lines of one cause, then silence counted, and one line
// saying how many were suppressed when the window ends. 5 MB of garbage on a collector topic
// once wrote about 78,000 log lines; now it writes a handful and a count.

import Foundation

public final class LogLimiter: @unchecked Sendable {
    public let burst: Int
    public let windowS: Double
    let now: () -> Double
    let sink: (String) -> Void
    let lock = NSLock()
    struct Cause { var windowStart: Double; var written: Int; var suppressed: Int }
    var causes: [String: Cause] = [:]
    public private(set) var suppressedTotal = 0
    /// Distinct causes tracked at most (more are counted under "other").
    public static let causesMax = 256

    public init(burst: Int = 5, windowS: Double = 60, now: @escaping () -> Double = { ProcessInfo.processInfo.systemUptime },
                sink: @escaping (String) -> Void) {
        self.burst = burst; self.windowS = windowS; self.now = now; self.sink = sink
    }

    /// Writes `line` unless `cause` has had `burst` lines in its current window.
    public func log(_ cause: String, _ line: @autoclosure () -> String) {
        lock.lock()
        let t = now()
        var key = cause
        if causes[key] == nil && causes.count >= Self.causesMax { key = "other" }
        var c = causes[key] ?? Cause(windowStart: t, written: 0, suppressed: 0)
        var summary: String? = nil
        if t - c.windowStart >= windowS {
            if c.suppressed > 0 { summary = Self.summary(key, c) }
            c = Cause(windowStart: t, written: 0, suppressed: 0)
        }
        let write = c.written < burst
        if write { c.written += 1 } else { c.suppressed += 1; suppressedTotal += 1 }
        causes[key] = c
        lock.unlock()
        if let summary { sink(summary) }
        if write { sink(line()) }
    }

    /// Reports the causes whose window has ended with lines suppressed (call now and then, and
    /// at exit with `all`).
    public func flush(all: Bool = false) {
        lock.lock()
        let t = now()
        var out: [String] = []
        for (k, c) in causes where c.suppressed > 0 && (all || t - c.windowStart >= windowS) {
            out.append(Self.summary(k, c))
            causes[k] = Cause(windowStart: t, written: 0, suppressed: 0)
        }
        lock.unlock()
        for l in out.sorted() { sink(l) }
    }

    static func summary(_ key: String, _ c: Cause) -> String {
        "(\(c.suppressed) more line\(c.suppressed == 1 ? "" : "s") of the kind '\(key)' suppressed)"
    }
}
