// Supervision by the service manager (docs/BOARDS.md, "Supervision and fail-safe outputs"): with
// `WatchdogSec=` in its unit, systemd restarts the agent when it stops saying it is alive. The
// tick says so only while it keeps time: every half watchdog interval, and only when no tick in
// that half interval was missed or ran a whole period late. A lane that falls behind for a whole
// interval is restarted; one hiccup costs one message, not a restart.

public struct WatchdogPetting: Sendable {
    public let intervalUs: Int64
    public let periodUs: Int64
    var windowStartUs: Int64? = nil
    var onTime = true
    /// Pets sent, and half-intervals withheld because a tick was late.
    public private(set) var pets = 0
    public private(set) var withheld = 0

    public init(watchdogUs: Int64, periodUs: Int64) {
        intervalUs = watchdogUs
        self.periodUs = periodUs
    }

    /// One tick (its time, how late it ran, whether ticks were missed before it): true when this
    /// tick should send `WATCHDOG=1`.
    public mutating func tick(nowUs: Int64, latenessUs: Int64, missedTicks: Bool) -> Bool {
        if missedTicks || latenessUs >= periodUs { onTime = false }
        guard let start = windowStartUs else {
            windowStartUs = nowUs
            onTime = true
            pets += 1
            return true
        }
        guard nowUs - start >= intervalUs / 2 else { return false }
        windowStartUs = nowUs
        defer { onTime = true }
        if onTime { pets += 1; return true }
        withheld += 1
        return false
    }
}
