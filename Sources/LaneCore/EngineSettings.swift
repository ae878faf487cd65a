// Engine settings: every tunable in integer units, validated once at start-up.

public struct EngineSettings: Sendable {
    /// Nominal sample period; background rates are held per nominal interval.
    public var sampleIntervalUs: Int64 = 100_000
    public var panelCount: Int = 4
    /// Pillar (0 or 1) of each panel; a source near one side shows mainly there.
    public var pillarOfPanel: InlineArray<8, UInt8> = [0, 0, 1, 1, 0, 0, 1, 1]
    /// Distance between beam 0 and beam 1.
    public var beamSpacingMm: Int64 = 1_500
    /// The occupancy lasts this long after the last beam clears (VM-250 `SG1` hold-in 10 x 200 ms).
    public var holdInUs: Int64 = 2_000_000

    /// Gross-count test over the sliding window: alarm if C > B + n*sqrt(B). The window is
    /// `gammaWindowSamples` until the speed is measured, then the time the vehicle takes to travel
    /// `viewLengthMm` (the length of lane over which a panel sees a point source well), clamped
    /// to `gammaWindowSamplesMin`...`windowSamplesMax`. 0 turns speed compensation off.
    public var gammaWindowSamples: Int = 10
    public var viewLengthMm: Int64 = 3_000
    public var gammaWindowSamplesMin: Int = 5
    public var gammaSigmaQ8: Int64 = 7 * 256
    /// What the lane learns from, apart from what alarms (Q8 sd; 0: `gammaSigmaQ8`, as every lane
    /// before 2026-12-04): its NORM (the share learner and the spectral test's bins) from loads
    /// whose largest significance passed this. (The shielding learner takes quiet occupancies,
    /// below n: one over n alarmed or was NORM-suspect, whatever this says.) Lowering n alone makes the lane learn NORM from weaker, noisier loads: on the
    /// 8-window family n = 6 learning at 6 cost Co-60 and Cs-137 inside NORM some of their Pd,
    /// learning at 7 gained on every source type (docs/DETECTION.md, "The gross n on 8-window
    /// lanes"). Never below n: a value under `gammaSigmaQ8` (0 above all) learns at n, so that
    /// raising n (a candidate, maintenance) never needs this changed first.
    public var learnSigmaQ8: Int64 = 0
    /// The significance the learners use: the larger of `learnSigmaQ8` and n.
    @inline(__always) public var learningSigmaQ8: Int64 { learnSigmaQ8 > gammaSigmaQ8 ? learnSigmaQ8 : gammaSigmaQ8 }
    /// Neutron test: its own, longer window, its own n, and a minimum excess in counts so that
    /// a near-zero background cannot alarm on a couple of counts.
    public var neutronWindowSamples: Int = 20
    public var neutronSigmaQ8: Int64 = 5 * 256 + 128  // 5.5
    public var neutronExcessMin: Int64 = 4
    /// Burst clipping (0 = off): a panel's neutron counts in one sample count for at most its
    /// learned mean per sample (rounded up) plus this many. Cosmic-ray "ship effect" bursts in
    /// steel cargo put several counts into one panel within one sample; a neutron source near the
    /// threshold gives well under one count per panel per sample, so the clip removes most of a
    /// burst and almost nothing of a source (a strong source, clipped, still alarms).
    public var neutronBurstClip: Int64 = 2

    /// Background learning: cumulative mean for the first `backgroundWarmupSamples` empty-lane
    /// samples, then an exponential average with time constant 2^backgroundShift samples.
    public var backgroundWarmupSamples: Int = 64
    public var backgroundReadySamples: Int = 20
    public var backgroundShift: Int = 8
    /// A second, slow average (time constant 2^backgroundSlowShift samples). Tests use the larger
    /// of the two, per channel: a vehicle queued near the portal depresses the background by
    /// about 15 %, the fast average follows that dip, the slow one barely does, so the dip cannot
    /// turn the next occupancy into a false alarm.
    public var backgroundSlowShift: Int = 11
    /// The slow average holds (learns nothing) while the fast one, summed over the gamma panels,
    /// is more than this fraction below it: a vehicle waiting near the portal shields it, and a
    /// slow average that followed the dip for the minutes a queue lasts would lower the expected
    /// background of the next occupancy's unshielded windows. It resumes after
    /// `backgroundHoldMaxSamples` held samples in a row (a real drop of the background is learned,
    /// late). 0 turns the hold off.
    public var backgroundHoldDropQ16: Int64 = 1_966  // 0.03
    public var backgroundHoldMaxSamples: Int = 6_000  // 10 min
    /// An empty-lane sample whose gamma (all panels) or neutron counts exceed the learned
    /// background by more than `backgroundGateSigmaQ8` standard deviations (plus 10 counts) is
    /// not learned: a source passing in the next lane, or one broken reading, must not raise the
    /// background the next occupancy is tested against. After `backgroundGateMaxSamples` such
    /// samples in a row the step is real (a new source nearby, a panel's gain) and is learned.
    /// 0 turns the gate off.
    public var backgroundGateSigmaQ8: Int64 = 10 * 256
    public var backgroundGateMaxSamples: Int = 300  // 30 s

    /// NORM discrimination from the energy windows: an excess whose low-window share is below
    /// this is NORM-like and does not raise the gamma alarm, unless its significance reaches
    /// `gammaCeilingSigmaQ8` (so a hard-spectrum threat such as Co-60 is not waved through).
    /// Off until the lane is commissioned (docs/DETECTION.md, "Calibrated NORM discrimination"):
    /// the shares depend on the panels' window split, resolution and gain, the cargo and the
    /// local NORM, and shares that are right for one lane hid Cs-137 entirely on 7 of 8 plausible
    /// others (docs/eval/family). An uncommissioned lane alarms on any excess, as a gross-count
    /// lane does.
    public var normDiscrimination: Bool = false
    public var normLowShareMinQ16: Int64 = 39_322  // 0.60
    /// The surplus test, a second way to be threat-like (0 turns it off): the excess's low-window
    /// counts exceed what a NORM spectrum could give by `normTestSigmaQ8` standard deviations,
    /// L_excess - s_N C_excess > k sd, with s_N = `normShareMaxQ16` (the largest low-window share
    /// NORM shows) and sd from Poisson counts (var = L (1 - 2 s_N) + s_N^2 C). A soft source
    /// hidden in a strong NORM load shows as surplus low-window counts long before it pulls the
    /// share of the whole excess up to `normLowShareMinQ16`.
    public var normShareMaxQ16: Int64 = 29_491  // 0.45
    public var normTestSigmaQ8: Int64 = 384  // 1.5
    /// NORM discrimination from the lane's own traffic (`NormRule.current`): the NORM share is
    /// what the lane learned (`NormLearner`), the threat side the check source's share measured
    /// at commissioning (`checkSourceLowShareQ16`, 0 = not measured: discrimination stays off);
    /// `normDiscrimination`, `normLowShareMinQ16` and `normShareMaxQ16` are then not used.
    public var normFromTraffic: Bool = false
    public var checkSourceLowShareQ16: Int64 = 0
    /// The ceiling (only matters while NORM discrimination is on): on two-window panels a hard
    /// point source (Co-60) and a potassium-rich NORM load have the same low-window share, so
    /// only the ceiling catches Co-60 there. 20 sigma is the highest ceiling at which Co-60's
    /// MDS95 stays within 2 x the VM-250-style baseline's at every speed in every member of the
    /// physics family (docs/eval/family-commissioned: the trade-off curve; 25 sigma: 2.14 x,
    /// 35 sigma: never); it costs NORM alarms (54-68 % fewer than the baseline instead of 78-89 %
    /// at 35 sigma). A site policy: raise it where Co-60 is not a concern, measured.
    public var gammaCeilingSigmaQ8: Int64 = 20 * 256

    /// Multi-window panels (docs/DETECTION.md, "The spectral test"; LaneCore/Spectral.swift):
    /// K energy windows per panel (3 to 16; 0: two-window panels, the test is off). An excess
    /// over the threshold whose shape (its share per window) no NORM shape this lane learned from
    /// its traffic explains, by chi^2 over K - 2 degrees of freedom beyond `spectralSigmaQ8` sd,
    /// is threat-like even where the two-window rule takes it for NORM: Co-60 differs from
    /// potassium, uranium and thorium across the windows where no single split tells them apart.
    /// It only adds alarms, once the lane has learned `NormLearner.loadsMin` loads.
    public var spectralWindowCount: Int = 0
    public var spectralSigmaQ8: Int64 = 3 * 256
    /// A confident NORM verdict of the spectral test (the smallest chi^2 at or below K - 2 +
    /// `spectralNormSigmaQ8` sd, and neither the omnibus nor the directed test finding a source)
    /// overrules the two-window rule's surplus test. Below -8 sd: never, the default (without the
    /// directed test's guard, at 0 sd Cs-137 inside NORM fell under 0.9 of clean in three of eight
    /// members; with it, docs/DETECTION.md, "Confident NORM"). A site policy, measured.
    public var spectralNormSigmaQ8: Int64 = -10 * 256
    /// The same verdict at or below K - 2 + `spectralNormShareSigmaQ8` sd overrules the share test
    /// too, on a lane with check sources' shapes (`spectralThreatShapeCount` > 0) only. Below -8 sd:
    /// never, the default. The share test is what catches HEU and Ba-133 inside the lane's softer
    /// NORM, which the check sources' shapes do not guard: the verdict also needs the fit's free
    /// background level not to have taken more background-shaped counts than expected (at most 1
    /// sd; without that guard the overrule cost Ba-133 and HEU their Pd, with it nothing on the
    /// medium family: docs/DETECTION.md, "Confident NORM overruling the share test"). A site
    /// policy, measured. Not above `spectralSigmaQ8`.
    public var spectralNormShareSigmaQ8: Int64 = -10 * 256
    /// A learned NORM bin explains once it holds `SpectralState.binLoadsMin` loads and a
    /// twentieth of all; a bin harder than the median load's, once it holds 1 / this of all (20:
    /// as every bin, the default). Higher gives the lane's hardest NORM (potassium-rich, little
    /// cargo scatter) bins of its own, which the directed test otherwise takes for Co-60; it
    /// costs some Co-60 (docs/DETECTION.md, "The hard tail's bins"). 20 to 200; a site policy.
    public var spectralHardBinDivisor: Int = 20
    /// The directed test (multi-window panels; LaneCore/Spectral.swift `directedThreat`): up to
    /// `threatShapeCountMax` check sources' shapes over the K windows (source s, window k at
    /// s x 16 + k; Q16 shares of the source's net counts, measured at commissioning with
    /// `sourcecheck`). An excess the two-window rule takes for NORM is threat-like when a NORM
    /// bin plus one of these shapes (a positive part) explains it better than any bin alone by
    /// more than `spectralDirectedSigmaQ8` sd: one degree of freedom instead of K - 2, so it
    /// sees a Cs-137 or Co-60 source in NORM that the omnibus test sees only at a limit that
    /// costs NORM alarms (docs/DETECTION.md, "The directed test").
    public static let threatShapeCountMax = 4
    public var spectralThreatShapeCount: Int = 0
    public var spectralThreatShapesQ16: InlineArray<64, Int64> = InlineArray(repeating: 0)
    public var spectralDirectedSigmaQ8: Int64 = 640  // 2.5
    /// The matched test (multi-window panels with check sources' shapes; 0: off): each window
    /// the gross test tests, and the occupancy, is also tested for each check source's shape
    /// against the empty lane's, with the background's level free (z = sum_k w_k C_k
    /// / sqrt(sum_k C_k x sum_k b_k w_k^2), w_k = T_k / b_k less its mean, T the source's shares, b the empty
    /// lane's, C the counts); z beyond `spectralMatchedSigmaQ8` sd is a candidate, below the gross
    /// threshold too, and it alarms when the directed test finds the source's shape beyond
    /// `spectralMatchedDirectedSigmaQ8` sd over the lane's NORM (docs/DETECTION.md, "The matched
    /// test": Co-60's MDS95 about half the baseline's, parked Cs-137 4-16 x smaller). A candidate
    /// that the same shape with the level known (the window's expectation, within its own sd) also
    /// puts beyond the limit is judged with the level held there ("The held level").
    public var spectralMatchedSigmaQ8: Int64 = 5 * 256
    public var spectralMatchedDirectedSigmaQ8: Int64 = 896  // 3.5
    /// The matched test's verdict on a load no NORM bin fits (below 0: off, the default): where
    /// the fit with the check source's shape still leaves chi^2_1 beyond q = d + n sqrt(2 d) (d its
    /// degrees of freedom, n this in sd), the lane's NORM model does not describe the window, and
    /// the source's gain is judged in units of that misfit, (chi^2_0 - chi^2_1) q / chi^2_1 (a
    /// quasi-likelihood test, the dispersion estimated from the residual). The directed test over
    /// the gross threshold keeps its own limit. A site policy: at 0 it held 12-18 NORM alarms per
    /// member and cost 6.6 % of Cs-137's Pd inside NORM (docs/DETECTION.md, "A load no bin fits").
    public var spectralMatchedMisfitSigmaQ8: Int64 = -256

    /// Background suppression is estimated from the high energy window once the occupancy has
    /// this many high-window counts (below, no correction).
    public var suppressionCountsMin: Int64 = 200
    /// Integrate the whole occupancy as well as the speed window: a vehicle standing in the
    /// portal is tested over its whole dwell, with the threshold growing as sqrt(B).
    public var dwellIntegration: Bool = true
    /// Count the learned background's own statistical uncertainty in the threshold (it matters
    /// for long windows: a dwell of a minute holds ~100,000 counts).
    public var backgroundUncertainty: Bool = true

    /// Background fault limits, counts per second summed over all gamma panels (0 = off).
    public var gammaBackgroundHighCps: Int64 = 0
    public var gammaBackgroundLowCps: Int64 = 0

    public init() {}

    /// Ring capacity of the sliding windows, in samples.
    public static let windowSamplesMax = 128

    /// The engine's input envelope, inside which every product stays within Int64 (proved by
    /// EngineTests' extreme-input test): counts per panel per sample above this are taken as this
    /// (2.6 million counts/s at 100 ms, beyond any panel); a sample's interval counts as at most 16
    /// nominal intervals; the dwell integration and the suppression estimate rest on at most the
    /// first `dwellSamplesMax` shielded samples of an occupancy (55 min at 100 ms; a container left
    /// for hours stays tested by the sliding windows).
    public static let countsPerSampleMax: UInt32 = 1 << 18
    /// Times (microseconds) are clamped into 0...2^62 (146,000 years): sums of a time and any
    /// setting's duration then stay inside Int64 (a trace or a GPIO line with a time near 2^63
    /// trapped the engine).
    public static let timeUsMax: Int64 = 1 &<< 62
    public static let dwellSamplesMax = 1 << 15

    public enum Problem: Sendable, Equatable {
        case panelCount, pillar, beamSpacing, holdIn, sampleInterval, gammaWindow, gammaSigma,
            learnSigma, neutronWindow, neutronSigma, neutronExcess, background, normShare, ceiling, spectral, checkSourceShapes, faultLimits
    }

    /// The first setting out of range, or nil. Messages for people live in the agent.
    public func firstProblem() -> Problem? {
        if panelCount < 1 || panelCount > panelCountMax { return .panelCount }
        for i in 0..<panelCount where pillarOfPanel[i] > 1 { return .pillar }
        if beamSpacingMm < 100 || beamSpacingMm > 20_000 { return .beamSpacing }
        if holdInUs < 0 || holdInUs > 60_000_000 { return .holdIn }
        if sampleIntervalUs < 10_000 || sampleIntervalUs > 1_000_000 { return .sampleInterval }
        if gammaWindowSamples < 1 || gammaWindowSamples > Self.windowSamplesMax { return .gammaWindow }
        if viewLengthMm < 0 || viewLengthMm > 50_000 || gammaWindowSamplesMin < 1 || gammaWindowSamplesMin > Self.windowSamplesMax {
            return .gammaWindow
        }
        if gammaSigmaQ8 < 256 || gammaSigmaQ8 > 50 * 256 { return .gammaSigma }
        if learnSigmaQ8 < 0 || learnSigmaQ8 > 50 * 256 { return .learnSigma }
        if neutronWindowSamples < 1 || neutronWindowSamples > Self.windowSamplesMax { return .neutronWindow }
        if neutronSigmaQ8 < 256 || neutronSigmaQ8 > 50 * 256 { return .neutronSigma }
        if neutronExcessMin < 0 || neutronExcessMin > 10_000 || neutronBurstClip < 0 || neutronBurstClip > 1_000_000 { return .neutronExcess }
        if backgroundReadySamples < 1 || backgroundWarmupSamples < backgroundReadySamples
            || backgroundShift < 1 || backgroundShift > 16 || backgroundSlowShift < backgroundShift || backgroundSlowShift > 20
            || backgroundHoldDropQ16 < 0 || backgroundHoldDropQ16 > 65_536 || backgroundHoldMaxSamples < 0
            || backgroundGateSigmaQ8 < 0 || backgroundGateSigmaQ8 > 1_000 * 256 || backgroundGateMaxSamples < 0
        {
            return .background
        }
        if normLowShareMinQ16 < 0 || normLowShareMinQ16 > 65_536 || normShareMaxQ16 < 0 || normShareMaxQ16 > 62_259
            || normTestSigmaQ8 < 0 || normTestSigmaQ8 > 50 * 256
            || checkSourceLowShareQ16 < 0 || checkSourceLowShareQ16 > 65_536
        {
            return .normShare
        }
        if gammaCeilingSigmaQ8 < gammaSigmaQ8 { return .ceiling }
        if (spectralWindowCount != 0 && (spectralWindowCount < 3 || spectralWindowCount > windowCountMax))
            || spectralSigmaQ8 < 0 || spectralSigmaQ8 > 50 * 256 || spectralNormSigmaQ8 < -50 * 256 || spectralNormSigmaQ8 > spectralSigmaQ8
            || spectralNormShareSigmaQ8 < -50 * 256 || spectralNormShareSigmaQ8 > spectralSigmaQ8
            || spectralHardBinDivisor < 20 || spectralHardBinDivisor > 200
        {
            return .spectral
        }
        if spectralThreatShapeCount < 0 || spectralThreatShapeCount > Self.threatShapeCountMax
            || (spectralThreatShapeCount > 0 && spectralWindowCount < 3)
            || spectralDirectedSigmaQ8 < 0 || spectralDirectedSigmaQ8 > 50 * 256
            || spectralMatchedSigmaQ8 < 0 || spectralMatchedSigmaQ8 > 50 * 256
            || spectralMatchedDirectedSigmaQ8 < 0 || spectralMatchedDirectedSigmaQ8 > 50 * 256
            || spectralMatchedMisfitSigmaQ8 < -50 * 256 || spectralMatchedMisfitSigmaQ8 > 50 * 256
        {
            return .checkSourceShapes
        }
        for i in 0..<(spectralThreatShapeCount * windowCountMax) {
            let v = spectralThreatShapesQ16[i]
            if i % windowCountMax >= spectralWindowCount ? v != 0 : (v < -131_072 || v > 131_072) { return .checkSourceShapes }
        }
        if gammaBackgroundHighCps < 0 || gammaBackgroundLowCps < 0
            || (gammaBackgroundHighCps > 0 && gammaBackgroundHighCps <= gammaBackgroundLowCps)
        {
            return .faultLimits
        }
        return nil
    }
}

extension EngineSettings {
    /// rate x interval / nominal (a rate per nominal interval, Q16, over `intervalUs`), exact to
    /// the floor and inside Int64 for any window of the input envelope: the whole intervals and
    /// the remainder are scaled apart.
    @inline(__always)
    public func scaled(_ rateQ16: Int64, _ intervalUs: Int64) -> Int64 {
        let nominal = sampleIntervalUs
        return rateQ16 * (intervalUs / nominal) + rateQ16 * (intervalUs % nominal) / nominal
    }
}
