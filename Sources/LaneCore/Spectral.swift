// The spectral test of multi-window panels (docs/DETECTION.md, "The spectral test"; issue 13).
//
// Two windows cannot tell Co-60 behind cargo from a potassium-rich load: both put the same share
// of their excess below any one split. With K windows every inner boundary is a split, and the
// threats and NORM part at one of them or another: Cs-137, HEU and Ba-133 put almost all of
// their excess below 650 keV, Co-60's Compton continuum ends at 1118 keV where potassium's goes
// on to 1243 keV (and thorium's to 2382 keV). So, at every split j, the share of the excess
// below it is compared with where this lane's NORM loads lie there: the `spectralQuantilePerMille`
// quantile of the shares the lane learned from its own traffic (a `NormLearner` per split, fed
// exactly as the two-window one: every screened load over the threshold). An excess with more
// counts below some split than a NORM spectrum could give, by `spectralSigmaQ8` standard
// deviations (the surplus test of the two-window rule, per split), is threat-like.
//
// The expected background per window is the learned background of the test (its level, with
// the suppression estimate where the test uses it) times the lane's long-average spectrum: the
// shape of the empty lane's spectrum, learned over the same samples as the background.
//
// Fixed point, no allocation: storage for 8 panels x 16 windows, 15 splits.

/// The inner boundaries of K windows: at most 15.
public let splitCountMax = 15

/// What the lane learns for the spectral test: the empty lane's spectrum and its NORM.
public struct SpectralState: Sendable {
    /// Per panel and window (panel p, window k at p x 16 + k), the long average of the empty
    /// lane's counts (Q16 per nominal interval), learned from the samples the background learns
    /// and with its long averages' time constant.
    public internal(set) var longQ16: InlineArray<128, Int64> = InlineArray(repeating: 0)
    /// Per split (index j - 1 for the boundary above window j - 1), the shares below it of the
    /// loads over the threshold.
    public internal(set) var learners: InlineArray<15, NormLearner> = InlineArray(repeating: NormLearner())

    public init() {}

    /// Learns panel p's windows of one empty-lane sample (the panel's `n`-th, as the background
    /// counts them). Normalized to the nominal interval as the background is.
    mutating func learn(panel p: Int, windows: PanelWindows, count k: Int, intervalUs: Int64, settings: EngineSettings, n: Int) {
        let slow = settings.backgroundSlowShift
        for w in 0..<k {
            let x = Background.normalizedQ16(windows[p &* windowCountMax &+ w], intervalUs: intervalUs, nominalUs: settings.sampleIntervalUs)
            longQ16[p &* windowCountMax &+ w] = Background.update(longQ16[p &* windowCountMax &+ w], x, n, 1 &<< slow, slow)
        }
    }

    /// Forgets panel p (see `Background.forget`).
    mutating func forget(panel p: Int) {
        for w in 0..<windowCountMax { longQ16[p &* windowCountMax &+ w] = 0 }
    }

    /// Whether every split's learner holds enough loads to stand for the lane.
    public func isReady(windows k: Int) -> Bool {
        guard k >= 3 else { return false }
        for j in 0..<(k - 1) where !learners[j].isReady { return false }
        return true
    }
}

extension LaneEngine {
    /// The surplus test (`EngineSettings.normShareMaxQ16`, and the spectral test per split):
    /// the excess's counts below the split exceed what a spectrum with share `s` there could
    /// give by `sigmaQ8` sd. L_excess - s C_excess > k sd, var = L (1 - 2 s) + s^2 C (L is part
    /// of C), Poisson. Q16 throughout; `lowExcess`, `excess` Q16 counts, `low`, `counts` counts.
    @inline(__always)
    static func surplusExceeds(lowExcess: Int64, excess: Int64, low: Int64, counts c: Int64, shareQ16 s: Int64, sigmaQ8: Int64) -> Bool {
        let surplusQ16 = (lowExcess > 0 ? lowExcess : 0) - ((excess &>> 8) * s &>> 8)
        let lowTotal = low > 0 ? low : 0
        var varianceQ16 = lowTotal * (65_536 - 2 * s) + (((s &>> 4) * (s &>> 4)) &>> 8) * c
        if varianceQ16 < 65_536 { varianceQ16 = 65_536 }
        return surplusQ16 > sigmaQ8 * integerSquareRoot(varianceQ16)
    }

    /// A share of an excess, Q16, clamped to 0...1 (0 for no excess).
    @inline(__always)
    static func shareQ16(_ part: Int64, of excess: Int64) -> Int64 {
        guard excess > 0 else { return 0 }
        let p = part > 0 ? (part < excess ? part : excess) : 0
        return p < (1 &<< 46) ? p * 65_536 / excess : p / (excess &>> 16 > 0 ? excess &>> 16 : 1)
    }

    /// The spectral test on the lane's windows `spectrum` (all panels) against the expected
    /// background `expectedQ16` (Q16 counts, the test's own level): true when the excess is
    /// threat-like at some split. Sets `windowSplitShareQ16` to the excess's share below each
    /// split (what the lane learns when this window is the occupancy's most significant).
    mutating func spectralThreat(_ spectrum: InlineArray<16, Int64>, expectedQ16 b: Int64) -> Bool {
        let k = settings.spectralWindowCount
        var c: Int64 = 0
        for w in 0..<k { c += spectrum[w] }
        let excess = (c &<< 16) - b
        var below: Int64 = 0
        var threat = false
        for j in 1..<k {
            below += spectrum[j - 1]
            let lowExcess = (below &<< 16) - ((b &>> 8) * spectralBackgroundBelowQ16[j - 1] &>> 8)
            windowSplitShareQ16[j - 1] = Self.shareQ16(lowExcess, of: excess)
            if spectralOn && excess > 0
                && Self.surplusExceeds(lowExcess: lowExcess, excess: excess, low: below, counts: c,
                                       shareQ16: spectralNormQ16[j - 1], sigmaQ8: settings.spectralSigmaQ8)
            {
                threat = true
            }
        }
        return threat
    }

    /// At the start of an occupancy: the lane's background below each split as a share of its
    /// total (long averages, all panels), and the spectral rule the occupancy is judged by.
    mutating func beginSpectral() {
        let k = settings.spectralWindowCount
        occSpectrum = InlineArray(repeating: 0)
        occSpectrumComplete = true
        maxSplitShareQ16 = InlineArray(repeating: 0)
        guard k >= 3 else { spectralOn = false; return }
        var total: Int64 = 0
        var perWindow = InlineArray<16, Int64>(repeating: 0)
        for p in 0..<settings.panelCount {
            for w in 0..<k { perWindow[w] += spectral.longQ16[p * windowCountMax + w] }
        }
        for w in 0..<k { total += perWindow[w] }
        var below: Int64 = 0
        for j in 1..<k {
            below += perWindow[j - 1]
            spectralBackgroundBelowQ16[j - 1] = Self.shareQ16(below, of: total)
        }
        spectralOn = spectraTrusted && background.isReady(settings) && spectral.isReady(windows: k)
        for j in 0..<(k - 1) {
            spectralNormQ16[j] = spectral.learners[j].quantileQ16(perMille: settings.spectralQuantilePerMille) ?? 65_536
        }
    }

    /// Whether the spectral test decides the next occupancy (multi-window panels, every split's
    /// NORM learned, the split confirmed, the background ready).
    public var spectralTestReady: Bool {
        let k = settings.spectralWindowCount
        return k >= 3 && spectraTrusted && background.isReady(settings) && spectral.isReady(windows: k)
    }
}
