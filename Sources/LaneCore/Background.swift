// Background learning. Rates are held in Q16 counts per nominal sample interval, per panel and
// channel. Learning happens only while the lane is empty (the engine decides when).

public struct Background: Sendable {
    public private(set) var gammaQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    public private(set) var gammaLowQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    public private(set) var neutronQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    /// The slow averages (see `EngineSettings.backgroundSlowShift`).
    public private(set) var gammaSlowQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    public private(set) var gammaLowSlowQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    public private(set) var neutronSlowQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    /// Empty-lane samples learned so far (saturates at Int.max, never wraps in practice).
    public private(set) var samplesLearned: Int = 0

    public init() {}

    /// Counts scaled to the nominal interval, Q16: (counts << 16) * nominal / interval, truncated.
    @inlinable
    static func normalizedQ16(_ counts: UInt32, intervalUs: Int64, nominalUs: Int64) -> Int64 {
        (i64(counts) &<< 16) * nominalUs / intervalUs
    }

    /// Learns one empty-lane sample: a running mean during warm-up, then an exponential average
    /// with time constant 2^shift samples, rounding half up.
    public mutating func learn(_ s: LaneSample, settings: EngineSettings) {
        guard s.intervalUs > 0 else { return }
        let n = samplesLearned
        let nominal = settings.sampleIntervalUs
        let fast = settings.backgroundShift, slow = settings.backgroundSlowShift
        for p in 0..<settings.panelCount {
            let g = Self.normalizedQ16(s.gamma[p], intervalUs: s.intervalUs, nominalUs: nominal)
            let l = Self.normalizedQ16(s.gammaLow[p], intervalUs: s.intervalUs, nominalUs: nominal)
            let nn = Self.normalizedQ16(s.neutron[p], intervalUs: s.intervalUs, nominalUs: nominal)
            gammaQ16[p] = Self.update(gammaQ16[p], g, n, settings.backgroundWarmupSamples, fast)
            gammaLowQ16[p] = Self.update(gammaLowQ16[p], l, n, settings.backgroundWarmupSamples, fast)
            neutronQ16[p] = Self.update(neutronQ16[p], nn, n, settings.backgroundWarmupSamples, fast)
            gammaSlowQ16[p] = Self.update(gammaSlowQ16[p], g, n, settings.backgroundWarmupSamples, slow)
            gammaLowSlowQ16[p] = Self.update(gammaLowSlowQ16[p], l, n, settings.backgroundWarmupSamples, slow)
            neutronSlowQ16[p] = Self.update(neutronSlowQ16[p], nn, n, settings.backgroundWarmupSamples, slow)
        }
        if samplesLearned < Int.max { samplesLearned += 1 }
    }

    @inlinable
    static func update(_ old: Int64, _ x: Int64, _ n: Int, _ warmup: Int, _ shift: Int) -> Int64 {
        if n < warmup {
            return old + (x - old) / i64(n + 1)
        }
        let s = i64(shift)
        return old + ((x - old + (1 &<< (s - 1))) &>> s)
    }

    public func isReady(_ settings: EngineSettings) -> Bool {
        samplesLearned >= settings.backgroundReadySamples
    }

    /// Sum over the panels selected by `mask` (bit p = panel p) of the larger of the fast and the
    /// slow average, Q16 per nominal interval.
    @inlinable
    func sum(_ fast: InlineArray<8, Int64>, _ slow: InlineArray<8, Int64>, mask: UInt32, panelCount: Int) -> Int64 {
        var total: Int64 = 0
        for p in 0..<panelCount where mask & (1 &<< u32(p)) != 0 { total += fast[p] > slow[p] ? fast[p] : slow[p] }
        return total
    }

    public func gammaSumQ16(mask: UInt32, panelCount: Int) -> Int64 { sum(gammaQ16, gammaSlowQ16, mask: mask, panelCount: panelCount) }
    public func gammaLowSumQ16(mask: UInt32, panelCount: Int) -> Int64 { sum(gammaLowQ16, gammaLowSlowQ16, mask: mask, panelCount: panelCount) }
    public func neutronSumQ16(mask: UInt32, panelCount: Int) -> Int64 { sum(neutronQ16, neutronSlowQ16, mask: mask, panelCount: panelCount) }
}
