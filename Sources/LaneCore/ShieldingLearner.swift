// How this lane's vehicles shield the low window against the high one, learned from its own
// clean traffic (docs/DETECTION.md, "Shielding that changes the spectrum").
//
// A corrected test takes the vehicle's shielding from the occupancy's high-window counts (R) and
// scales the learned background by it, low window included: it assumes the shadow keeps the
// background's spectrum. A real vehicle's need not (the blocked flux is attenuated more at low
// energies, its down-scatter adds low-energy counts), and a long dwell tests so many counts that a
// shadow 5 % heavier on the high window than on the low one raised 10 % false alarms on parked
// trucks (`lane-sim eval --shielding-tilt -0.05`). So the lane measures, on every screened
// occupancy that raised nothing and stayed below the threshold, how far its low window fell below
// its unshielded expectation (the deficit) against the fall the high window's R predicts for it,
// and takes the ratio kappa of the two averages: the low window's expected counts under shielding
// are then B_low (1 - kappa (1 - R)) instead of B_low R. Contamination is conservative: a weak
// source or NORM below the threshold adds low counts, lowers the deficit and kappa, and raises
// the expectation. Fixed point, bounded, no allocation.

public struct ShieldingLearner: Sendable, Equatable {
    /// Bumped whenever the stored fields change.
    public static let layoutVersion = 1
    /// Occupancies averaged (exponential, once this many are held).
    public static let averaged: Int64 = 64
    /// Occupancies it must hold before its ratio is used (before: 1, the spectrum kept).
    public static let loadsMin: UInt32 = 32
    /// kappa's bounds (Q16): 0.5 ... 1.5.
    public static let kappaMinQ16: Int64 = 32_768
    public static let kappaMaxQ16: Int64 = 98_304

    /// Per shielded sample (Q16 counts, averaged over occupancies): the low window's expected
    /// counts without shielding, its deficit below them, and the deficit R predicts.
    public private(set) var lowExpectedQ16: Int64 = 0
    public private(set) var deficitQ16: Int64 = 0
    public private(set) var predictedQ16: Int64 = 0
    /// Occupancies learned (saturating).
    public private(set) var learned: UInt32 = 0

    public init() {}

    /// One clean occupancy's shielded samples: the low window's counts and unshielded expectation
    /// (Q16), the high window's, and how many samples they cover.
    public mutating func add(lowCounts: Int64, lowExpectedQ16 le: Int64, highCounts: Int64, highExpectedQ16 he: Int64, samples: Int64) {
        guard samples > 0, le > 0, he > 0, lowCounts >= 0, highCounts >= 0, highCounts < (1 &<< 30) else { return }
        // R = H / (H_expected / 65536), Q16 (as the engine's suppression estimate), not capped.
        let r0 = (highCounts &<< 32) / he
        let r = r0 > 262_144 ? 262_144 : r0  // at most 4: the product below stays inside Int64
        let predicted = le - (((le &>> 8) * r) &>> 8)
        let deficit = le - (lowCounts &<< 16)
        let n = i64(learned) + 1 < Self.averaged ? i64(learned) + 1 : Self.averaged
        lowExpectedQ16 += (le / samples - lowExpectedQ16) / n
        deficitQ16 += (deficit / samples - deficitQ16) / n
        predictedQ16 += (predicted / samples - predictedQ16) / n
        if learned < UInt32.max { learned += 1 }
    }

    /// True once it holds enough occupancies, and their shielding predicted a deficit of at least
    /// 2 % of the low window (lighter shadows say nothing of the ratio).
    public var isReady: Bool { learned >= Self.loadsMin && predictedQ16 > 0 && predictedQ16 * 50 >= lowExpectedQ16 }

    /// The low window's share of the shielding relative to the high window's (Q16; 65,536: the
    /// spectrum kept, the value before it is ready), within `kappaMinQ16` ... `kappaMaxQ16`.
    public var kappaQ16: Int64 {
        guard isReady else { return 65_536 }
        let k = deficitQ16 > (1 &<< 46) ? Self.kappaMaxQ16 : deficitQ16 < -(1 &<< 46) ? Self.kappaMinQ16 : (deficitQ16 &<< 16) / predictedQ16
        return k < Self.kappaMinQ16 ? Self.kappaMinQ16 : k > Self.kappaMaxQ16 ? Self.kappaMaxQ16 : k
    }

    /// The correction a corrected test adds to its expectation (low window and total alike) for a
    /// window whose unshielded low expectation is `lowExpectedQ16` and whose suppression estimate
    /// is `r` (Q16): B_low (1 - kappa) (1 - R); 0 with R at 1 or kappa at 1.
    @inline(__always)
    public func correctionQ16(lowExpectedQ16 bLow: Int64, suppressionQ16 r: Int64) -> Int64 {
        let k = kappaQ16
        guard r < 65_536, k != 65_536 else { return 0 }
        let factor = ((65_536 - k) * (65_536 - r)) &>> 16  // Q16, |factor| < 0.5
        return ((bLow &>> 8) * factor) &>> 8
    }

    /// Rebuilds a learner from stored fields (`field(_:)` order), or nil when they do not describe
    /// one (negative expectations).
    public init?(fields: (Int) -> Int64) {
        lowExpectedQ16 = fields(0)
        deficitQ16 = fields(1)
        predictedQ16 = fields(2)
        let l = fields(3)
        guard lowExpectedQ16 >= 0, l >= 0, l <= i64(UInt32.max) else { return nil }
        learned = u32(l)
    }

    /// The state as numbered fields: low expectation, deficit, predicted deficit, occupancies.
    public static let fieldCount = 4
    public func field(_ i: Int) -> Int64 {
        switch i {
        case 0: return lowExpectedQ16
        case 1: return deficitQ16
        case 2: return predictedQ16
        default: return i64(learned)
        }
    }
}
