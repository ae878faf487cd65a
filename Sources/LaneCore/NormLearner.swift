// What the lane learns from its own traffic about its NORM loads (docs/DETECTION.md,
// "Calibrated NORM discrimination"): the low-window share of the excess of every screened
// occupancy whose gross count passed the threshold. At a seaport almost every such occupancy is
// NORM (fertiliser, ceramics, granite), so a high quantile of these shares is where this lane's
// NORM excesses lie: its panels' window split, gain and resolution, its cargo's down-scatter and
// its local NORM mix included, none of which a fixed number can know.
//
// A `HalvingHistogram` of 64 bins over shares 0...1 (halved at 1,024 loads: it follows a gain
// drift over weeks while one rare threat among hundreds of loads moves a 90th percentile by one
// bin, 1/64, at most).

public struct NormLearner: Sendable, Equatable {
    /// Bumped whenever the stored fields change (kept on disk beside the background).
    public static let layoutVersion = 1
    public static let binCount = HalvingHistogram.binCount
    /// Loads held before the histogram is halved.
    public static let capacity = HalvingHistogram.capacity
    /// Loads it must hold before its quantile stands for the lane (below: the cold-start rule).
    public static let loadsMin: UInt32 = 100

    var histogram = HalvingHistogram()
    /// Loads held now (after halvings).
    public var held: UInt32 { histogram.held }
    /// Loads ever learned.
    public var learned: UInt64 { histogram.learned }

    public init() {}

    /// One load's low-window share of its excess (Q16, clamped to 0...1).
    public mutating func add(shareQ16: Int64) {
        let s = shareQ16 < 0 ? 0 : shareQ16 > 65_535 ? 65_535 : shareQ16
        histogram.add(bin: int(s &>> 10))  // 65,536 / 64 = 1,024 per bin
    }

    /// Halves every bin (the learner forgets half its weight).
    mutating func halve() { histogram.halve() }

    /// Runs every path of a learner once on a scratch one, at start-up: in unoptimised builds the
    /// first use of the histogram's generic operations instantiates type metadata on the heap
    /// (6 allocations, measured), which must not happen on the tick when the first NORM load
    /// comes, nor at the first halving months later (AllocationTests).
    public static func warmUp() {
        var scratch = NormLearner()
        scratch.add(shareQ16: 30_000)
        scratch.halve()
        scratch.add(shareQ16: 30_000)
        _ = scratch.quantileQ16(perMille: 900)
        _ = scratch.loads(inBin: 0)
        _ = scratch == NormLearner()
        var shielding = ShieldingLearner()
        shielding.add(lowCounts: 1_600, lowExpectedQ16: 2_200 * 65_536, highCounts: 1_200, highExpectedQ16: 1_800 * 65_536)
        _ = shielding.kappaQ16
        shielding.add(window: 0, counts: 400, expectedQ16: 600 * 65_536, suppressionQ16: 40_000)
        _ = shielding.kappaQ16(window: 0)
        _ = shielding.kappaSpreadQ16
        _ = shielding == ShieldingLearner()
    }

    /// True once it holds enough loads to stand for the lane.
    public var isReady: Bool { held >= Self.loadsMin }

    /// The share below which `perMille` of the held loads lie (Q16, the upper edge of the bin
    /// where the quantile falls: conservative, never below it); nil while empty.
    public func quantileQ16(perMille: Int) -> Int64? {
        guard let (bin, _) = histogram.quantileBin(perMille: perMille) else { return nil }
        return i64(bin + 1) &<< 10
    }

    /// The held loads in one bin (for the console's histogram).
    public func loads(inBin i: Int) -> UInt32 { histogram.count(inBin: i) }

    /// Rebuilds a learner from stored fields (`field(_:)` order), or nil when they do not
    /// describe one (a bin count beyond what `held` says, a share histogram of another size).
    public init?(fields: (Int) -> UInt64) {
        guard let h = HalvingHistogram(fields: fields) else { return nil }
        histogram = h
    }

    /// The state as numbered fields: the 64 bins, then `held`, then `learned`.
    public static let fieldCount = HalvingHistogram.fieldCount
    public func field(_ i: Int) -> UInt64 { histogram.field(i) }
}

/// The NORM rule one occupancy is judged by: fixed from the profile, or derived from what the
/// lane learned and the check source's share measured at commissioning.
public struct NormRule: Sendable, Equatable {
    public var on: Bool
    public var lowShareMinQ16: Int64
    public var shareMaxQ16: Int64
    /// Where the NORM share came from, for the console and the log.
    public enum Source: Sendable, Equatable { case profile, learned, coldStart }
    public var source: Source
    /// Off only because the check source's share lies above the lane's NORM's but within
    /// `separationMinQ16` of it (learned from traffic, the check source measured, the window
    /// split confirmed): the two windows alone cannot tell them apart, but on multi-window panels
    /// with the check sources' shapes the rule still runs, the spectral tests behind it
    /// (`grossTest`, docs/DETECTION.md, "A lane whose two windows cannot separate"). Never for a
    /// rule the profile switched off, nor for a check source no softer than the NORM.
    public var tooClose: Bool

    /// The rule of a lane before its first occupancy: off, from the profile.
    public static let initial = NormRule(on: false, lowShareMinQ16: 0, shareMaxQ16: 0, source: .profile)

    public init(on: Bool, lowShareMinQ16: Int64, shareMaxQ16: Int64, source: Source, tooClose: Bool = false) {
        self.on = on; self.lowShareMinQ16 = lowShareMinQ16; self.shareMaxQ16 = shareMaxQ16; self.source = source
        self.tooClose = tooClose
    }

    /// Two windows can tell the check source from NORM on this lane only when its share is at
    /// least this far above the NORM loads' (0.08: the family's spread, docs/DETECTION.md).
    public static let separationMinQ16: Int64 = 5_243

    /// The rule for the next occupancy. From traffic: the NORM share is the learner's 90th
    /// percentile once it holds `NormLearner.loadsMin` loads, before that the background's own
    /// low-window share (the cold start: NORM and the site's background are both terrestrial
    /// K/U/Th, the background the more down-scattered and so the softer); discrimination is on
    /// only when the check source's share is at least `separationMinQ16` above it, and then an
    /// excess is threat-like from halfway between the two. Without a measured check source it
    /// stays off: the lane alarms on any excess (safety first).
    ///
    /// `spectraTrusted` false (a panel has not confirmed the window split the profile asks
    /// for): the shares were measured at another split; off, either way.
    public static func current(_ s: EngineSettings, learner: NormLearner, backgroundLowShareQ16: Int64, spectraTrusted: Bool = true) -> NormRule {
        guard s.normFromTraffic else {
            return NormRule(on: s.normDiscrimination && spectraTrusted, lowShareMinQ16: s.normLowShareMinQ16, shareMaxQ16: s.normShareMaxQ16, source: .profile)
        }
        let learned = learner.isReady ? learner.quantileQ16(perMille: 900) : nil
        let norm = learned ?? backgroundLowShareQ16
        let check = s.checkSourceLowShareQ16
        let measured = spectraTrusted && check > 0 && norm > 0
        let on = measured && check - norm >= separationMinQ16
        return NormRule(on: on, lowShareMinQ16: (norm + check) / 2, shareMaxQ16: norm, source: learned != nil ? .learned : .coldStart,
                        tooClose: measured && check > norm && !on)
    }
}
