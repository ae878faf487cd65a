// What the console needs of the running lane, and nothing more: the tick's published view and
// its request queue, the poll thread's panel slots and bus requests, and a few queue figures.
// `LaneRunner` is one (the agent); a lane on virtual time in the tests is another, so that every
// command's result can be asserted on without threads or a terminal's timing.

import LaneAgent
import LaneCore
import LaneHAL

public protocol ConsoleLane: AnyObject, Sendable {
    /// The tick's published view and the console's request queue.
    var monitor: LaneMonitor { get }
    /// Waits (at most `timeoutUs`) until the tick has applied the request numbered `sequence`.
    func awaitApplied(_ sequence: Int, timeoutUs: Int64) -> Bool
    /// Each panel's latest poll.
    func panelSlots(into out: inout [PanelSlot])
    /// A raw Modbus request through the poll thread (it owns the bus).
    func busRequest(_ r: BusRequest) -> BusReply
    /// Poll round timing, console bus requests served, the poll thread's allocations.
    var busFigures: ConsoleBusFigures { get }
    /// The tick's event queue: pushed and dropped.
    var eventQueueFigures: (pushed: Int, dropped: Int) { get }
}

public struct ConsoleBusFigures: Sendable {
    public var lastRoundUs: Int64 = 0, longestRoundUs: Int64 = 0
    public var requestsServed = 0
    public var allocations: UInt64 = 0, allocationRounds: Int64 = 0
    public init() {}
}

extension LaneRunner: ConsoleLane {
    public func awaitApplied(_ sequence: Int, timeoutUs: Int64) -> Bool {
        let deadline = MonotonicClock.nowUs() + timeoutUs
        while MonotonicClock.nowUs() < deadline {
            // The view is published after the tick applied its requests.
            if monitor.snapshot().requestsApplied >= sequence { return true }
            MonotonicClock.sleep(untilUs: MonotonicClock.nowUs() + 10_000)
        }
        return false
    }

    public func panelSlots(into out: inout [PanelSlot]) { panels.snapshot(into: &out) }

    public func busRequest(_ r: BusRequest) -> BusReply { panels.perform(r) }

    public var busFigures: ConsoleBusFigures {
        var f = ConsoleBusFigures()
        let c = pollCycleUs
        f.lastRoundUs = c.last
        f.longestRoundUs = c.max
        f.requestsServed = panels.busRequestsServed
        let a = panels.allocationsPerRound
        f.allocations = a.total
        f.allocationRounds = a.rounds
        return f
    }

    public var eventQueueFigures: (pushed: Int, dropped: Int) { (events.pushed, events.dropped) }
}
