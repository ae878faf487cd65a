// The occupancy beams' health, from their edges: a beam that chatters (more edges in a second
// than any vehicle makes), one blocked far longer than a vehicle stays, and one that never
// changes while the other sees vehicles pass (stuck clear).

import LaneCore

public struct BeamMonitor: Sendable {
    /// Edges on one beam within one second above which it chatters (a truck with a trailer makes 4-6).
    public static let chatterEdgesPerS = 20
    /// A beam blocked this long without a change is stuck (a parked container is flagged too: the
    /// lamp asks a person to look). From the board profile (`console.beamStuckAfterS`, which the
    /// console's `beams` shows against too).
    public let blockedUsMax: Int64
    /// Occupancies in a row in which one beam never changed while the other did.
    public static let stuckClearOccupancies = 2

    var blocked: InlineArray<2, Bool> = [false, false]
    var changedUs: InlineArray<2, Int64> = [0, 0]
    var windowStartUs: InlineArray<2, Int64> = [0, 0]
    var windowEdges: InlineArray<2, Int> = [0, 0]
    var chattering: InlineArray<2, Bool> = [false, false]
    /// Per beam: changed during the occupancy in progress; occupancies in a row it did not.
    var changedThisOccupancy: InlineArray<2, Bool> = [false, false]
    var silentOccupancies: InlineArray<2, Int> = [0, 0]

    public init(blockedUsMax: Int64 = 600_000_000) { self.blockedUsMax = blockedUsMax }

    mutating func edge(_ e: BeamEdge) {
        guard e.beam == 0 || e.beam == 1 else { return }
        let b = e.beam
        if e.tUs - windowStartUs[b] >= 1_000_000 || e.tUs < windowStartUs[b] {
            chattering[b] = windowEdges[b] > Self.chatterEdgesPerS
            windowStartUs[b] = e.tUs
            windowEdges[b] = 0
        }
        windowEdges[b] += 1
        if windowEdges[b] > Self.chatterEdgesPerS { chattering[b] = true }
        if blocked[b] != e.blocked {
            blocked[b] = e.blocked
            changedUs[b] = e.tUs
            changedThisOccupancy[b] = true
            silentOccupancies[b] = 0
        }
    }

    /// An occupancy ended: a beam that never changed during it while the other did is counted.
    mutating func occupancyEnded() {
        for b in 0..<2 where changedThisOccupancy[1 - b] {
            if !changedThisOccupancy[b] { silentOccupancies[b] += 1 }
        }
        changedThisOccupancy = [false, false]
    }

    /// True while either beam is stuck (chatter, blocked too long, or never changing).
    func stuck(nowUs: Int64) -> Bool {
        for b in 0..<2 {
            if chattering[b] && nowUs - windowStartUs[b] < 2_000_000 { return true }
            if blocked[b] && nowUs - changedUs[b] > blockedUsMax { return true }
            if silentOccupancies[b] >= Self.stuckClearOccupancies { return true }
        }
        return false
    }
}
