// Background learning. Rates are held in Q16 counts per nominal sample interval, per panel and
// channel. Learning happens only while the lane is empty (the engine decides when).

public struct Background: Sendable {
    public private(set) var gammaQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    public private(set) var gammaLowQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    public private(set) var neutronQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    /// Empty-lane samples learned so far (saturates at Int.max, never wraps in practice).
    public private(set) var samplesLearned: Int = 0

    public init() {}

    /// Counts scaled to the nominal interval, Q16: (counts << 16) * nominal / interval, truncated.
    @inlinable
    static func normalizedQ16(_ counts: UInt32, intervalUs: Int64, nominalUs: Int64) -> Int64 {
        (Int64(counts) << 16) * nominalUs / intervalUs
    }

    /// Learns one empty-lane sample: a running mean during warm-up, then an exponential average
    /// with time constant 2^shift samples, rounding half up.
    public mutating func learn(_ s: LaneSample, settings: EngineSettings) {
        guard s.intervalUs > 0 else { return }
        let n = samplesLearned
        for p in 0..<settings.panelCount {
            gammaQ16[p] = Self.update(gammaQ16[p], Self.normalizedQ16(s.gamma[p], intervalUs: s.intervalUs, nominalUs: settings.sampleIntervalUs), n, settings)
            gammaLowQ16[p] = Self.update(gammaLowQ16[p], Self.normalizedQ16(s.gammaLow[p], intervalUs: s.intervalUs, nominalUs: settings.sampleIntervalUs), n, settings)
            neutronQ16[p] = Self.update(neutronQ16[p], Self.normalizedQ16(s.neutron[p], intervalUs: s.intervalUs, nominalUs: settings.sampleIntervalUs), n, settings)
        }
        if samplesLearned < Int.max { samplesLearned += 1 }
    }

    @inlinable
    static func update(_ old: Int64, _ x: Int64, _ n: Int, _ settings: EngineSettings) -> Int64 {
        if n < settings.backgroundWarmupSamples {
            return old + (x - old) / Int64(n + 1)
        }
        let shift = Int64(settings.backgroundShift)
        return old + ((x - old + (1 << (shift - 1))) >> shift)
    }

    public func isReady(_ settings: EngineSettings) -> Bool {
        samplesLearned >= settings.backgroundReadySamples
    }

    /// Sum over the panels selected by `mask` (bit p = panel p), Q16 per nominal interval.
    @inlinable
    func sum(_ rates: InlineArray<8, Int64>, mask: UInt32, panelCount: Int) -> Int64 {
        var total: Int64 = 0
        for p in 0..<panelCount where mask & (1 << UInt32(p)) != 0 { total += rates[p] }
        return total
    }

    public func gammaSumQ16(mask: UInt32, panelCount: Int) -> Int64 { sum(gammaQ16, mask: mask, panelCount: panelCount) }
    public func gammaLowSumQ16(mask: UInt32, panelCount: Int) -> Int64 { sum(gammaLowQ16, mask: mask, panelCount: panelCount) }
    public func neutronSumQ16(mask: UInt32, panelCount: Int) -> Int64 { sum(neutronQ16, mask: mask, panelCount: panelCount) }
}
