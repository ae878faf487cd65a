// Lane-level faults with hysteresis: a fault is raised on the tick its condition appears and
// cleared once the condition has been absent for `clearTicks` in a row (so a panel that answers
// one poll in two does not toggle the lamp and the records every tick). Each change is reported
// once: the controller turns it into a fault record, a log line and VM-250 lines.

import LaneCore

public struct FaultTracker: Sendable {
    /// Ticks a condition must stay absent before its fault clears (0.5 s at 100 ms).
    public static let clearTicks = 5

    public private(set) var active = Faults()
    /// When each active fault was raised (microseconds, the tick's clock).
    public private(set) var raisedUs: InlineArray<16, Int64> = InlineArray(repeating: 0)
    var absentTicks: InlineArray<16, Int> = InlineArray(repeating: 0)

    public init() {}

    /// Folds this tick's conditions in; returns the faults raised and cleared by it.
    mutating func update(_ conditions: Faults, nowUs: Int64) -> (raised: Faults, cleared: Faults) {
        var raised = Faults(), cleared = Faults()
        for bit in 0..<Faults.bitCount {
            let f = Faults(bits: 1 &<< UInt32(bit))
            if conditions.contains(f) {
                absentTicks[bit] = 0
                if !active.contains(f) { active.insert(f); raised.insert(f); raisedUs[bit] = nowUs }
            } else if active.contains(f) {
                absentTicks[bit] += 1
                if absentTicks[bit] >= Self.clearTicks {
                    active = active.subtracting(f)
                    cleared.insert(f)
                }
            }
        }
        return (raised, cleared)
    }
}
