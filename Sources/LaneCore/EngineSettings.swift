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

    /// Gross-count test over the sliding window: alarm if C > B + n*sqrt(B).
    public var gammaWindowSamples: Int = 10
    public var gammaSigmaQ8: Int64 = 7 * 256
    /// Neutron test: its own, longer window, its own n, and a minimum excess in counts so that
    /// a near-zero background cannot alarm on a couple of counts.
    public var neutronWindowSamples: Int = 20
    public var neutronSigmaQ8: Int64 = 6 * 256
    public var neutronExcessMin: Int64 = 4

    /// Background learning: cumulative mean for the first `backgroundWarmupSamples` empty-lane
    /// samples, then an exponential average with time constant 2^backgroundShift samples.
    public var backgroundWarmupSamples: Int = 64
    public var backgroundReadySamples: Int = 20
    public var backgroundShift: Int = 8

    /// NORM discrimination from the energy windows: an excess whose low-window share is below
    /// this is NORM-like and does not raise the gamma alarm, unless its significance reaches
    /// `gammaCeilingSigmaQ8` (so a hard-spectrum threat such as Co-60 is not waved through).
    public var normDiscrimination: Bool = true
    public var normLowShareMinQ16: Int64 = 39_322  // 0.60
    public var gammaCeilingSigmaQ8: Int64 = 30 * 256

    /// Background fault limits, counts per second summed over all gamma panels (0 = off).
    public var gammaBackgroundHighCps: Int64 = 0
    public var gammaBackgroundLowCps: Int64 = 0

    public init() {}

    /// Ring capacity of the sliding windows, in samples.
    public static let windowSamplesMax = 64

    public enum Problem: Sendable, Equatable {
        case panelCount, pillar, beamSpacing, holdIn, sampleInterval, gammaWindow, gammaSigma,
            neutronWindow, neutronSigma, neutronExcess, background, normShare, ceiling, faultLimits
    }

    /// The first setting out of range, or nil. Messages for people live in the agent.
    public func firstProblem() -> Problem? {
        if panelCount < 1 || panelCount > panelCountMax { return .panelCount }
        for i in 0..<panelCount where pillarOfPanel[i] > 1 { return .pillar }
        if beamSpacingMm < 100 || beamSpacingMm > 20_000 { return .beamSpacing }
        if holdInUs < 0 || holdInUs > 60_000_000 { return .holdIn }
        if sampleIntervalUs < 10_000 || sampleIntervalUs > 1_000_000 { return .sampleInterval }
        if gammaWindowSamples < 1 || gammaWindowSamples > Self.windowSamplesMax { return .gammaWindow }
        if gammaSigmaQ8 < 256 || gammaSigmaQ8 > 50 * 256 { return .gammaSigma }
        if neutronWindowSamples < 1 || neutronWindowSamples > Self.windowSamplesMax { return .neutronWindow }
        if neutronSigmaQ8 < 256 || neutronSigmaQ8 > 50 * 256 { return .neutronSigma }
        if neutronExcessMin < 0 || neutronExcessMin > 10_000 { return .neutronExcess }
        if backgroundReadySamples < 1 || backgroundWarmupSamples < backgroundReadySamples
            || backgroundShift < 1 || backgroundShift > 16
        {
            return .background
        }
        if normLowShareMinQ16 < 0 || normLowShareMinQ16 > 65_536 { return .normShare }
        if gammaCeilingSigmaQ8 < gammaSigmaQ8 { return .ceiling }
        if gammaBackgroundHighCps < 0 || gammaBackgroundLowCps < 0
            || (gammaBackgroundHighCps > 0 && gammaBackgroundHighCps <= gammaBackgroundLowCps)
        {
            return .faultLimits
        }
        return nil
    }
}
