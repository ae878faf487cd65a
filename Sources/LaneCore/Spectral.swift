// The spectral test of multi-window panels (docs/DETECTION.md, "The spectral test"; issue 13).
//
// Two windows cannot tell Co-60 behind cargo from a potassium-rich load: both put the same share
// of their excess below any one split. Over K windows their shapes differ (Co-60 is harder than
// potassium below 650 keV, softer from 650 to 1000 keV, and has nothing above its Compton edge at
// 1118 keV), but no single split shows it: measured over the physics family, the best split
// separates Co-60 from a potassium load by about 1 sd at the alarm threshold, all K windows
// together by about 5 (docs/DETECTION.md). So the test compares the excess's whole shape with the
// shapes of this lane's NORM loads, learned from its own traffic:
//
// - **What it learns.** Every screened load over the threshold (at a seaport nearly all NORM),
//   as the two-window `NormLearner` does: the shares of its most significant window's excess per
//   energy window, filed by hardness (the share in the lower half of the windows) into 16 bins;
//   per bin the mean share per window and its spread beyond counting noise (exponential averages
//   over 64 loads: bounded memory, a slow drift followed, one rare threat among 64 loads moves a
//   mean by 1/64 of its difference).
// - **What it tests** (`normFit`). The excess x_k over the expected background (its level as the
//   gross test has it, its shape the empty lane's long-average spectrum) against each bin's mean
//   shape m_k and the background's own shape g_k, both scaled freely: chi^2 = min over a, c of
//   sum_k (x_k - a m_k - c g_k)^2 / (C_k + E^2 s_k^2), C_k the window's counts (Poisson), s_k^2
//   the bin's spread, E the excess. The background's level is free because its error is
//   systematic: a NORM load's own high-window counts raise the shielding estimate, and a window
//   entering or leaving the vehicle is not corrected; with the level fixed, such loads were the
//   omnibus test's largest source of NORM alarms (docs/DETECTION.md, "The background's level").
//   An excess that no NORM bin explains (the smallest chi^2 above K - 2 + n sqrt(2 (K - 2)),
//   n = `spectralSigmaQ8`: chi^2 with K - 2 degrees of freedom, in sd) is threat-like. Bins
//   holding fewer than `binLoadsMin` loads, or under a twentieth of all, do not explain.
// - **The directed test** (in `normFit`; with check sources' shapes measured at commissioning,
//   `EngineSettings.spectralThreatShapesQ16`). Does a NORM bin plus one of those shapes explain
//   the excess better than any bin alone, by more than `spectralDirectedSigmaQ8` sd? One degree
//   of freedom where the omnibus chi^2 has K - 2: it sees a Cs-137 or Co-60 source inside a
//   NORM load at a limit that costs few NORM alarms, so the omnibus test can sit higher
//   (docs/DETECTION.md, "The directed test").
// - **Confident NORM** (a site policy, off by default). A smallest chi^2 at or below K - 2 +
//   `spectralNormSigmaQ8` sd, neither test finding a source, overrules the two-window rule's
//   surplus test (a surplus of low counts over the NORM hypothesis: the lane's softer NORM
//   loads); at or below K - 2 + `spectralNormShareSigmaQ8` sd (never by default), on a lane with
//   check sources' shapes, its share test too.
// - **What it decides.** It only adds: an excess over the gross threshold that the two-window
//   rule takes for NORM is threat-like when the spectral test finds it so (computed then only:
//   nothing per sample otherwise), once `NormLearner.loadsMin` loads are learned, over windows
//   whose samples all carried their K windows. Deciding alone it let strong soft sources pass
//   in 4 of 8 physics members (a bin's learned spread makes chi^2 scale-free for strong
//   sources: a shape within a few spreads of a NORM bin stays NORM at any strength), where the
//   two-window rule at a 600 keV split catches them in every member; with the two-window rule
//   off every excess alarms, as before, except where it is off only because the check source's
//   share lies too close to the lane's NORM (`NormRule.tooClose`) on a lane with check sources'
//   shapes: there the rule runs from halfway between the two, the spectral tests behind it
//   (`grossTest`).
//
// Fixed point, no allocation: storage for 8 panels x 16 windows and 16 bins.

/// What the lane learns for the spectral test: the empty lane's spectrum and its NORM shapes.
public struct SpectralState: Sendable {
    public static let binCount = 16
    /// Loads a bin must hold to explain an excess.
    public static let binLoadsMin: UInt32 = 3
    /// The exponential averages' time constant, in loads.
    public static let averagedLoads: Int64 = 64

    /// Per panel and window (panel p, window k at p x 16 + k), the long average of the empty
    /// lane's counts (Q16 per nominal interval), learned from the samples the background learns
    /// and with its long averages' time constant.
    public internal(set) var longQ16: InlineArray<128, Int64> = InlineArray(repeating: 0)
    /// Per hardness bin: loads learned, mean share per window (bin b, window k at b x 16 + k;
    /// Q16), and the spread of those shares beyond counting noise (variance, Q32).
    public internal(set) var binLoads: InlineArray<16, UInt32> = InlineArray(repeating: 0)
    public internal(set) var meanQ16: InlineArray<256, Int64> = InlineArray(repeating: 0)
    public internal(set) var spreadQ32: InlineArray<256, Int64> = InlineArray(repeating: 0)
    /// Loads learned in all.
    public internal(set) var loads: UInt64 = 0

    public init() {}

    /// Learns one window of one panel from an empty-lane sample (index p x 16 + k; the panel's
    /// `n`-th sample as the background counts them; `x` normalized to the nominal interval as
    /// the background's are), with the background's long averages' rule.
    @inline(__always)
    mutating func learn(index i: Int, normalizedQ16 x: Int64, n: Int, slowShift slow: Int) {
        longQ16[i] = Background.update(longQ16[i], x, n, 1 &<< slow, slow)
    }

    /// Forgets panel p's empty-lane spectrum (see `Background.forget`).
    mutating func forget(panel p: Int) {
        for w in 0..<windowCountMax { longQ16[p &* windowCountMax &+ w] = 0 }
    }

    /// The hardness bin of a shape: its share in the lower half of the K windows.
    static func bin(_ shape: InlineArray<16, Int64>, windows k: Int) -> Int {
        var low: Int64 = 0
        for w in 0..<(k / 2) { low += shape[w] }
        let b = low &>> 12  // 65,536 / 16
        return b < 0 ? 0 : b >= i64(binCount) ? binCount - 1 : int(b)
    }

    /// Learns one load: its excess's shares per window (Q16) and their counting noise (Q32).
    mutating func learn(shape: InlineArray<16, Int64>, noiseQ32: InlineArray<16, Int64>, windows k: Int) {
        let b = Self.bin(shape, windows: k)
        let n = i64(binLoads[b])
        for w in 0..<k {
            let i = b * windowCountMax + w
            if n == 0 {
                meanQ16[i] = shape[w]
                spreadQ32[i] = 0
                continue
            }
            let divisor = n + 1 < Self.averagedLoads ? n + 1 : Self.averagedLoads
            var d = shape[w] - meanQ16[i]
            // Robust: once the bin holds a few loads, a deviation counts at most 3 sd of the
            // bin's spread and counting noise (+ 0.02): a rare threat filed among NORM loads
            // moves neither the mean nor the spread by more than that, over 64 loads.
            if n >= 8 {
                let limit = 3 * integerSquareRoot((spreadQ32[i] > 0 ? spreadQ32[i] : 0) + noiseQ32[w]) + 1_311
                if d > limit { d = limit }
                if d < -limit { d = -limit }
            }
            meanQ16[i] += d / divisor
            // The squared deviation beyond what counting alone gives (Q32; shares within +-2).
            let dd = d > 131_072 ? 131_072 : d < -131_072 ? -131_072 : d
            spreadQ32[i] += (dd * dd - noiseQ32[w] - spreadQ32[i]) / divisor
        }
        if binLoads[b] < UInt32.max { binLoads[b] += 1 }
        loads &+= 1
    }

    /// Whether it has learned enough loads to stand for the lane's NORM.
    public var isReady: Bool { loads >= u64(NormLearner.loadsMin) }

    /// The layout of this value's bytes (BackgroundStore keeps it on disk; a build whose layout
    /// differs refuses the file).
    public static let layoutVersion = 1

    /// What a record or a file keeps of it for a lane of `panels` panels with `k` windows, in
    /// this order: loads in all, per bin its loads, per bin and window the mean and the spread,
    /// per panel and window the empty lane's long average.
    public static func fieldCount(panels: Int, windows k: Int) -> Int { 1 + binCount + 2 * binCount * k + panels * k }

    public func field(_ i: Int, panels: Int, windows k: Int) -> Int64 {
        if i == 0 { return loads > u64(Int64.max) ? Int64.max : i64(loads) }
        var j = i - 1
        if j < Self.binCount { return i64(binLoads[j]) }
        j -= Self.binCount
        if j < Self.binCount * k { return meanQ16[(j / k) * windowCountMax + j % k] }
        j -= Self.binCount * k
        if j < Self.binCount * k { return spreadQ32[(j / k) * windowCountMax + j % k] }
        j -= Self.binCount * k
        return longQ16[(j / k) * windowCountMax + j % k]
    }

    /// Rebuilt from its fields (`field(_:panels:windows:)`), or nil when one is out of what the
    /// learner can hold: a bin's loads beyond the loads in all, a mean share beyond +-2, a
    /// spread beyond +-2^36, a long average negative or beyond 2^40.
    public init?(panels: Int, windows k: Int, fields: (Int) -> Int64) {
        guard panels >= 1 && panels <= panelCountMax && k >= 3 && k <= windowCountMax else { return nil }
        let all = fields(0)
        guard all >= 0 else { return nil }
        loads = u64(all)
        var i = 1
        for b in 0..<Self.binCount {
            let n = fields(i); i += 1
            guard n >= 0 && n <= all && n <= i64(UInt32.max) else { return nil }
            binLoads[b] = u32(n)
        }
        for b in 0..<Self.binCount {
            for w in 0..<k {
                let m = fields(i); i += 1
                guard m >= -131_072 && m <= 131_072 else { return nil }
                meanQ16[b * windowCountMax + w] = m
            }
        }
        for b in 0..<Self.binCount {
            for w in 0..<k {
                let v = fields(i); i += 1
                guard v >= -68_719_476_736 && v <= 68_719_476_736 else { return nil }  // 2^36 (a literal: shifts allocate on 32-bit ARM)
                spreadQ32[b * windowCountMax + w] = v
            }
        }
        for p in 0..<panels {
            for w in 0..<k {
                let x = fields(i); i += 1
                guard x >= 0 && x <= 1_099_511_627_776 else { return nil }  // 2^40
                longQ16[p * windowCountMax + w] = x
            }
        }
    }
}

/// One window's spectral test, computed when first needed (an excess over the threshold) and
/// then kept for the other groups' tests of the same window.
struct SpectralWindow {
    var spectrum: InlineArray<16, Int64>
    var expectedQ16: Int64
    var computed = false
    var threat = false
    /// The directed test found it (the omnibus chi^2 did not).
    var directed = false
    /// The directed test's statistic: how much better a NORM bin plus the best check source's
    /// shape explains the excess than a bin alone (chi^2, Q16; 0: no source's part positive).
    var directedChi2Q16: Int64 = 0
    /// The same with the misfit allowance (`EngineSettings.spectralMatchedMisfitSigmaQ8`) applied: the
    /// matched test's verdict.
    var directedJudgedQ16: Int64 = 0
    /// The smallest chi^2 over the bins that explain (Q16; Int64.max: none, or not judged).
    var bestChi2Q16 = Int64.max
    /// At that bin, the free background level's part in sd (Q8): positive when the fit needed
    /// more background-shaped (soft) counts than expected, a soft source's sign.
    var levelZQ8: Int64 = 0
    /// The excess's shares per window (Q16) and their counting noise (Q32), for the learner.
    var shape: InlineArray<16, Int64> = InlineArray(repeating: 0)
    var noiseQ32: InlineArray<16, Int64> = InlineArray(repeating: 0)
    /// The vehicle's shadow on the window, 1 - R (Q16; 0: none, or not corrected): with the
    /// windows' kappa_k learned, the expected spectrum is b_k (1 - kappa_k s), not b_k.
    var shadowQ16: Int64 = 0
    /// What the expected level's own variance rests on (group 0's gross test gives them: the
    /// suppression estimate R, Q16, the high-window counts H behind it, 0: none, the learned
    /// background's counts N and the unshielded low expectation, Q16), for the matched test's
    /// held level (`matchedTest`).
    var levelSuppressionQ16: Int64 = 65_536
    var levelHighCounts: Int64 = 0
    var levelLearnedCounts: Int64 = 0
    var levelLowExpectedQ16: Int64 = 0
    /// The NORM fit's level held to the expectation (Q8: the expected counts over their sd, a
    /// pseudo-window that costs a level error in sd squared; 0: the level is free).
    var levelHeldQ8: Int64 = 0

    init(spectrum: InlineArray<16, Int64>, expectedQ16: Int64, shadowQ16: Int64 = 0) {
        self.spectrum = spectrum
        self.expectedQ16 = expectedQ16
        self.shadowQ16 = shadowQ16 > 0 ? shadowQ16 : 0
    }
}

extension LaneEngine {
    /// The surplus test of the two-window rule (`EngineSettings.normShareMaxQ16`): the excess's
    /// low-window counts exceed what a spectrum with share `s` there could give by `sigmaQ8` sd.
    /// L_excess - s C_excess > k sd, var = L (1 - 2 s) + s^2 C (L is part of C), Poisson. Q16;
    /// `lowExcess`, `excess` Q16 counts, `low`, `counts` counts.
    @inline(__always)
    static func surplusExceeds(lowExcess: Int64, excess: Int64, low: Int64, counts c: Int64, shareQ16 s: Int64, sigmaQ8: Int64) -> Bool {
        let surplusQ16 = (lowExcess > 0 ? lowExcess : 0) - ((excess &>> 8) * s &>> 8)
        let lowTotal = low > 0 ? low : 0
        var varianceQ16 = lowTotal * (65_536 - 2 * s) + (((s &>> 4) * (s &>> 4)) &>> 8) * c
        if varianceQ16 < 65_536 { varianceQ16 = 65_536 }
        return surplusQ16 > sigmaQ8 * integerSquareRoot(varianceQ16)
    }

    /// A confident NORM verdict (it overrules the surplus test at `spectralNormSigmaQ8`, the share
    /// test at `spectralNormShareSigmaQ8`) also needs the directed test's statistic at or below
    /// this (chi^2, Q16: 1 sd squared): a hint of a check source's shape inside the load beyond
    /// 1 sd, though below the directed test's own limit, keeps the two-window rule's alarm. Without
    /// it, over the medium family, the overrule cost Cs-137 inside NORM 12.6 of its Pd summed (m6
    /// 0.88 -> 0.71 of clean); docs/DETECTION.md, "Confident NORM overruling the surplus test
    /// only". It was 0.5 sd until 2026-12-04: that held 15 of m2's 36 share-test NORM alarms on a
    /// hint of 0.5-0.87 sd ("What holds m2's NORM alarms on 8 windows").
    static let confidentNormDirectedMaxQ16: Int64 = 65_536

    /// ... and the free background level's part at most this (sd, Q8: 1 sd). The level is free
    /// for the errors of the shielding estimate, which a NORM load's own high counts push up
    /// (the fit then takes background away: negative); a soft source (HEU, Ba-133: no check
    /// source's shape guards them) is explained as more background, positive. Without it,
    /// overruling the share test cost Ba-133 7.7 and HEU 3.4 of their Pd summed over the
    /// medium family (docs/DETECTION.md, "Confident NORM overruling the share test").
    static let confidentNormLevelMaxQ8: Int64 = 256

    /// The confident NORM verdict on `w` (evaluated here if it was not): a NORM bin explains it
    /// within `chi2LimitQ16` (-1: never), neither spectral test finds a source in it, and the
    /// directed test not even a hint of one.
    @inline(__always)
    mutating func confidentNorm(_ w: inout SpectralWindow, chi2LimitQ16: Int64) -> Bool {
        evaluate(&w)
        return !w.threat && w.bestChi2Q16 <= chi2LimitQ16 && w.directedChi2Q16 <= Self.confidentNormDirectedMaxQ16
            && w.levelZQ8 <= Self.confidentNormLevelMaxQ8
    }

    /// Runs the spectral test of `w` (all panels' windows against the level `expectedQ16`) once.
    mutating func evaluate(_ w: inout SpectralWindow) {
        guard !w.computed else { return }
        w.computed = true
        let k = settings.spectralWindowCount
        var c: Int64 = 0
        for i in 0..<k { c += w.spectrum[i] }
        let excess = (c &<< 16) - w.expectedQ16
        guard excess > 65_536 else { return }  // under one count: nothing to judge
        let e = excess &>> 16  // counts
        // The excess per window (Q16) and its shares; under a shadow, once the windows' kappa_k
        // are learned, against the shadowed shape b_k (1 - kappa_k s) / (1 - s m).
        var x = InlineArray<16, Int64>(repeating: 0)
        var share = spectralBackgroundShareQ16
        if occWindowShadow { shadow(&share, shadowQ16: w.shadowQ16) }
        for i in 0..<k {
            x[i] = (w.spectrum[i] &<< 16) - ((w.expectedQ16 &>> 8) * share[i] &>> 8)
            var s = x[i] / e  // Q16 share
            if s > 131_072 { s = 131_072 }
            if s < -131_072 { s = -131_072 }
            w.shape[i] = s
            // Counting noise of the share: C_k / E^2, Q32.
            w.noiseQ32[i] = (((w.spectrum[i] > 0 ? w.spectrum[i] : 1) &<< 16) / e &<< 16) / e
        }
        guard spectralOn else { return }
        let (chi0, directed, judged, level) = normFit(x: x, e: e, spectrum: w.spectrum, total: c, levelHeldQ8: w.levelHeldQ8)
        w.bestChi2Q16 = chi0
        w.levelZQ8 = level
        w.directedChi2Q16 = directed
        w.directedJudgedQ16 = judged
        w.threat = chi0 > spectralChi2LimitQ16  // Int64.max: no bin explains it
        let limit = multiplySaturating(settings.spectralDirectedSigmaQ8, settings.spectralDirectedSigmaQ8)  // Q16
        if !w.threat && directed > limit { w.threat = true; w.directed = true }
    }

    /// The NORM fit of an excess, for both spectral tests. Per bin, in units of each window's sd
    /// (its counts and the bin's spread): y the excess, u the bin's shape (a direction), g the
    /// expected background's shape (its counts per window); the NORM-only residual chi^2_0 = |y -
    /// (a u + c g)|^2 at the least-squares a and c, both free: the load's strength and an error
    /// of the expected background's level (why the level is free: the file's header). The
    /// omnibus test: min over bins chi^2_0 beyond K - 2 + n
    /// sqrt(2 (K - 2)). The directed test: with a check source's shape t made orthogonal to u
    /// and g (t'), the source's part adds z = t'.y / |t'| sd, and chi^2_1 = chi^2_0 - z^2 where
    /// z > 0; threat-like when min chi^2_0 - min chi^2_1 > `spectralDirectedSigmaQ8`^2 with z > 0
    /// at the latter (a likelihood-ratio test with one degree of freedom). Returns min chi^2_0
    /// (Int64.max: no bin explains), the directed test's verdict and, at the best bin, the
    /// level's part c |g'| in sd (Q8; c is g''s coefficient after Gram-Schmidt too). Fixed point (Q8 per window,
    /// Q16 sums; Gram-Schmidt, each step fused with the sums that follow it: a helper for the
    /// step, unfused, cost 470 instructions per sample more), no allocation.
    ///
    /// With the level held (`levelHeldQ8` = h > 0, the matched test's candidates whose excess
    /// the expected level itself shows, `matchedTest`), c is no longer free: a pseudo-window
    /// with g = h and y = u = t = 0 costs (c h)^2, a level error in its own sd squared, and the
    /// load's strength a is held at 0 or above (a bin whose NORM-only fit wants it negative drops
    /// out of the fit: a load never takes counts away). In the sums only: |g'|^2 gains h^2,
    /// chi^2_0 the pseudo-window's residual (gamma h)^2 and |t'|^2 its (alpha2 h)^2.
    @_spi(Testing) public mutating func normFit(x: InlineArray<16, Int64>, e: Int64, spectrum: InlineArray<16, Int64>, total: Int64,
                          levelHeldQ8 held: Int64 = 0) -> (best0: Int64, directed: Int64, judged: Int64, levelZQ8: Int64) {
        // Mutating and with the settings read once: a non-mutating call copied the engine, and
        // every read of a shape in the loops copied the settings (35 k instructions a call).
        let k = settings.spectralWindowCount
        let shapes = settings.spectralThreatShapeCount
        var shapeQ16 = settings.spectralThreatShapesQ16
        // Local copies, once per call: an element read of a field copied the whole array in the
        // Embedded build (2 KB per bin and window: 700 instructions per sample).
        // (`var`: a `let` copy was copied again per element read; so were the parameters.)
        var mean = spectral.meanQ16
        var root = spreadRootQ16
        let explaining = spectralExplainingBins
        var counts = spectrum, excess = x
        mean[0] = mean[0]; root[0] = root[0]; counts[0] = counts[0]; excess[0] = excess[0]; shapeQ16[0] = shapeQ16[0]  // (kept vars: in memory)
        // The load's and the sources' columns are directions only (their coefficients are free),
        // scaled by the window's counts C, not by the excess E: at a small excess (the matched
        // test's candidates judged at the level their counts give, E down to a few counts of
        // 10^4-10^5) E m_k / sd_k was a few Q8 units, the rounded direction far from the
        // shape, and the sources' part leaked the residual's largest components (a directed
        // statistic of 7,547 sd^2 at chi^2_0 1,453). C (`total`) >= E; at most 2^20 sd a window (clamped).
        let scale = total > e ? total : e
        var best0 = Int64.max
        var bestGR: Int64 = 0, bestGG: Int64 = 0  // at the best bin: the level's sums, for its part in sd
        var best1 = InlineArray<4, Int64>(repeating: Int64.max)
        var positive = InlineArray<4, Bool>(repeating: false)
        // Local arrays, declared once: fields of a struct, or values not in memory, were
        // copied whole per element read or written in the Embedded build (10 k instructions a call).
        var sd = InlineArray<16, Int64>(repeating: 1), u = InlineArray<16, Int64>(repeating: 0), g = InlineArray<16, Int64>(repeating: 0)
        var y = InlineArray<16, Int64>(repeating: 0), r = InlineArray<16, Int64>(repeating: 0)
        for b in 0..<SpectralState.binCount where explaining & (1 &<< u32(b)) != 0 {
            var uu: Int64 = 0, uy: Int64 = 0, ug: Int64 = 0
            for i in 0..<k {
                sd[i] = Self.windowSDQ8(spreadRootQ16: root[b &* windowCountMax &+ i], excess: e, counts: counts[i])
                u[i] = Self.clampQ8(multiplySaturating(scale, mean[b &* windowCountMax &+ i]) / sd[i])  // Q8
                g[i] = Self.clampQ8(((counts[i] &<< 16) - excess[i]) / sd[i])  // the background's counts, Q8
                y[i] = Self.clampQ8(excess[i] / sd[i])  // Q8
                uu += u[i] * u[i]; uy += u[i] * y[i]
            }
            guard uu > 0 else { continue }
            // Gram-Schmidt: r = y less its part along u, g made orthogonal to u, then r less its
            // part along g (a projection's residual is never longer than what it projects:
            // values held within +-2^20, sums of squares in Int64).
            let noLoad = held > 0 && uy < 0  // a held fit keeps a >= 0: this bin explains nothing
            let beta = noLoad ? 0 : Self.ratioQ16(uy, uu)
            for i in 0..<k { r[i] = y[i] - (multiplySaturating(beta, u[i]) &>> 16); ug += u[i] * g[i] }
            let alphaG = noLoad ? 0 : Self.ratioQ16(ug, uu)
            var gg: Int64 = multiplySaturating(held, held), gr: Int64 = 0
            for i in 0..<k { g[i] -= multiplySaturating(alphaG, u[i]) &>> 16; gg += g[i] * g[i]; gr += g[i] * r[i] }
            var chi0: Int64 = 0
            var rp: Int64 = 0  // the pseudo-window's residual (held level), less its sign: -gamma h
            if gg > 0 {
                let gamma = Self.ratioQ16(gr, gg)
                for i in 0..<k { r[i] -= multiplySaturating(gamma, g[i]) &>> 16 }
                if held > 0 { rp = Self.clampQ8(multiplySaturating(gamma, held) &>> 16); chi0 += rp * rp }
            }
            // u.r and g'.r: zero in exact arithmetic, what rounding left (for the sources' z).
            var ur: Int64 = 0, gr0: Int64 = -held * rp
            for i in 0..<k { chi0 += r[i] * r[i]; ur += u[i] * r[i]; gr0 += g[i] * r[i] }
            if chi0 < best0 { best0 = chi0; bestGR = gr; bestGG = gg }
            for j in 0..<shapes {
                // t, the source's shape; t' = t - alpha u - alpha2 g' (g' is orthogonal to u
                // already), never formed: in one pass over the windows, |t'|^2 = |t|^2 - (u.t)^2 /
                // |u|^2 - (g'.t)^2 / |g'|^2 (with the held pseudo-window: |g'|^2 holds h^2, t has
                // no part there) and t'.r = t.r - alpha u.r - alpha2 g'.r. z = t'.r / |t'|: from
                // the residual r, not y, equal in exact arithmetic, but y's part along u, a strong
                // load's, leaked through the rounding (Q8 per window) of a t' formed window by
                // window (docs/DETECTION.md, "The NORM fit's rounding"); and forming it (two
                // passes more) cost 330 instructions per sample more on the NORM-only vector.
                var ut: Int64 = 0, gt: Int64 = 0, tt: Int64 = 0, ty: Int64 = 0
                for i in 0..<k {
                    let ti = Self.clampQ8(multiplySaturating(scale, shapeQ16[j &* windowCountMax &+ i]) / sd[i])
                    ut += u[i] * ti; gt += g[i] * ti; tt += ti * ti; ty += ti * r[i]
                }
                var perp = tt
                if !noLoad { perp -= Self.squareOver(ut, uu); ty -= multiplySaturating(Self.ratioQ16(ut, uu), ur) &>> 16 }
                if gg > 0 { perp -= Self.squareOver(gt, gg); ty -= multiplySaturating(Self.ratioQ16(gt, gg), gr0) &>> 16 }
                // Under 1/4,096 of |t|^2 (t' under 1.6 % of t: rounding's size) the source's shape
                // is NORM's and the background's: nothing to tell.
                guard perp > tt &>> 12 && perp > 0 else { continue }
                let root = integerSquareRoot(perp)  // Q8
                let z = ty / (root > 0 ? root : 1)  // Q16 / Q8 = Q8
                var chi1 = z > 0 ? chi0 - multiplySaturating(z, z) : chi0
                if chi1 < 0 { chi1 = 0 }  // z^2 <= |r|^2 but for rounding
                if chi1 < best1[j] { best1[j] = chi1; positive[j] = z > 0 }
            }
        }
        guard best0 < Int64.max else { return (best0, 0, 0, 0) }
        var directed: Int64 = 0
        // For the matched test's verdict, a load no bin fits (`spectralMatchedMisfitSigmaQ8`): the
        // source's gain in units of the misfit the fit with it leaves, where that is beyond q = d
        // + n sqrt(2 d), d = K - 3 (the load, the level, the source; K - 2 with the level held:
        // its pseudo-window). A few instructions per call, not per bin.
        let misfit = settings.spectralMatchedMisfitSigmaQ8
        let dof = i64(held > 0 ? k - 2 : k - 3)
        let q = misfit >= 0 && dof > 0 ? (dof &<< 16) + misfit * integerSquareRoot((2 * dof) &<< 16) : Int64.max  // Q16
        var judged: Int64 = 0
        for j in 0..<shapes where positive[j] && best1[j] < Int64.max {
            var gain = best0 - best1[j]
            if gain > directed { directed = gain }
            if best1[j] > q { gain = multiplySaturating(Self.ratioQ16(gain, best1[j]), q) &>> 16 }
            if gain > judged { judged = gain }
        }
        // The level's part at the best bin, c |g'| = g'.r / |g'| (Q16 / Q8 = Q8 sd): one root per call.
        let rootG = bestGG > 0 ? integerSquareRoot(bestGG) : 0
        return (best0, directed, judged, rootG > 0 ? bestGR / rootG : 0)
    }

    /// A window's sd under a bin's NORM hypothesis (Q8 counts, at least 1): its counts (Poisson)
    /// and the bin's spread scaled to the excess, E^2 s^2 = (e x sqrt(spread))^2 (Q16 -> counts;
    /// `spreadRootQ16` the spread's square root, 0 for none).
    @inline(__always)
    static func windowSDQ8(spreadRootQ16 rootQ16: Int64, excess e: Int64, counts c: Int64) -> Int64 {
        let es = rootQ16 > 0 ? multiplySaturating(e, rootQ16) &>> 16 : 0
        let variance = (c > 1 ? c : 1) + multiplySaturating(es, es)
        let sd = integerSquareRoot(multiplySaturating(variance, 65_536))
        return sd > 0 ? sd : 1
    }

    /// The empty lane's shares per window `share` put under a vehicle's shadow s = 1 - R (Q16; 0:
    /// none, left as they are), once the windows' kappa_k are learned: b_k (1 - kappa_k s) / (1 - s m).
    @inline(__always)
    func shadow(_ share: inout InlineArray<16, Int64>, shadowQ16 s: Int64) {
        guard s > 0 else { return }
        var kappa = occWindowKappaQ16
        kappa[0] = kappa[0]  // (kept var: in memory)
        let den = Self.shadowDenominatorQ16(shadowQ16: s, massQ16: occShadowMassQ16)
        for i in 0..<settings.spectralWindowCount { share[i] = (((share[i] * (65_536 - ((kappa[i] * s) &>> 16))) &>> 16) &<< 16) / den }
    }

    /// 1 - s m (Q16), the shadowed spectrum's total over the empty lane's (s = 1 - R, m =
    /// sum_k b_k kappa_k), never below 1/16 (a shadow beyond what kappa can describe).
    @inline(__always)
    static func shadowDenominatorQ16(shadowQ16 s: Int64, massQ16 m: Int64) -> Int64 {
        let d = 65_536 - ((s * m) &>> 16)
        return d > 4_096 ? d : 4_096
    }

    /// A value in sd (Q8) held within +-4096 sd: its square, summed over 16 windows, stays in Int64.
    @inline(__always)
    static func clampQ8(_ v: Int64) -> Int64 { v > (1 &<< 20) ? (1 &<< 20) : v < -(1 &<< 20) ? -(1 &<< 20) : v }

    /// a^2 / b for b > 0 (Q16 sums: a projection's length squared, (u.t)^2 / |u|^2), without
    /// overflowing: a is halved (b quartered) until a^2 fits. Int64.max when b runs out.
    @inline(__always)
    static func squareOver(_ a: Int64, _ b: Int64) -> Int64 {
        var x = a < 0 ? -a : a, d = b
        while x >= 3_037_000_499 { x &>>= 1; d &>>= 2 }  // x^2 < 2^63
        return d > 0 ? x * x / d : Int64.max
    }

    /// a / b in Q16 for a, b of the same scale (b > 0), without overflow for |a| up to 2^47.
    @inline(__always)
    static func ratioQ16(_ a: Int64, _ b: Int64) -> Int64 {
        if a < (1 &<< 46) && a > -(1 &<< 46) { return a * 65_536 / b }
        return a / ((b &>> 16) > 0 ? b &>> 16 : 1)
    }

    /// At the start of an occupancy: the empty lane's share per window (long averages, all
    /// panels), the chi^2 limit, and whether the spectral test decides this occupancy.
    @_spi(Testing) public mutating func beginSpectral() {
        let k = settings.spectralWindowCount
        maxShapeValid = false
        occSpectrum = InlineArray(repeating: 0)
        occSpectrumComplete = true
        guard k >= 3 else { spectralOn = false; return }
        var total: Int64 = 0
        var perWindow = InlineArray<16, Int64>(repeating: 0)
        for p in 0..<settings.panelCount {
            for w in 0..<k { perWindow[w] += spectral.longQ16[p * windowCountMax + w] }
        }
        for w in 0..<k { total += perWindow[w] }
        for w in 0..<k {
            spectralBackgroundShareQ16[w] = total > 0 ? (perWindow[w] < (1 &<< 46) ? perWindow[w] * 65_536 / total : perWindow[w] / ((total &>> 16) > 0 ? total &>> 16 : 1)) : 0
        }
        let dof = i64(k - 2)  // the NORM fit's two free parameters (the load's strength, the background's level)
        spectralChi2LimitQ16 = (dof &<< 16) + settings.spectralSigmaQ8 * integerSquareRoot((2 * dof) &<< 16)
        let normLimit = (dof &<< 16) + settings.spectralNormSigmaQ8 * integerSquareRoot((2 * dof) &<< 16)
        spectralNormChi2Q16 = settings.spectralNormSigmaQ8 < -8 * 256 ? -1 : normLimit
        let shareLimit = (dof &<< 16) + settings.spectralNormShareSigmaQ8 * integerSquareRoot((2 * dof) &<< 16)
        spectralNormShareChi2Q16 = settings.spectralNormShareSigmaQ8 < -8 * 256 ? -1 : shareLimit
        spectralOn = spectralTestReady
        var spread = spectral.spreadQ32
        spread[0] = spread[0]  // (a var kept in memory: a `let` copy was copied again per element read)
        var roots = InlineArray<256, Int64>(repeating: 0)
        for b in 0..<SpectralState.binCount where spectral.binLoads[b] > 0 {
            for i in 0..<k { roots[b &* windowCountMax &+ i] = spread[b &* windowCountMax &+ i] > 0 ? integerSquareRoot(spread[b &* windowCountMax &+ i]) : 0 }
        }
        spreadRootQ16 = roots
        // The bins that may explain an excess this occupancy (the learner changes only between
        // occupancies). A bin explains only when it holds `binLoadsMin` loads and a twentieth of
        // them all: the rare threat among the lane's loads (the check source passing, a real one)
        // does not make a bin of its own that explains the next one. Bins harder than the median
        // load's explain from 1 / `spectralHardBinDivisor` of them (a site policy; 20 by
        // default): the lane's hardest NORM (potassium-rich, little cargo scatter) had no bin of
        // its own and the directed test took it for Co-60 (m4: 11 of its 24 NORM alarms). Never
        // the soft side: there a fiftieth let the tail bins explain Cs-137 inside NORM (0.85-0.88
        // of clean in six of eight members; docs/DETECTION.md).
        let loads = spectral.loads
        let loadsMin = u64(SpectralState.binLoadsMin) > loads / 20 ? u64(SpectralState.binLoadsMin) : loads / 20
        let hardShare = loads / u64(settings.spectralHardBinDivisor > 0 ? settings.spectralHardBinDivisor : 20)
        let hardMin = u64(SpectralState.binLoadsMin) > hardShare ? u64(SpectralState.binLoadsMin) : hardShare
        var held: UInt64 = 0, cumulative: UInt64 = 0, medianBin = 0
        for b in 0..<SpectralState.binCount { held += u64(spectral.binLoads[b]) }
        for b in 0..<SpectralState.binCount {
            cumulative += u64(spectral.binLoads[b])
            if cumulative * 2 >= held { medianBin = b; break }
        }
        var explaining: UInt32 = 0
        for b in 0..<SpectralState.binCount where u64(spectral.binLoads[b]) >= (b < medianBin ? hardMin : loadsMin) { explaining |= 1 &<< u32(b) }
        spectralExplainingBins = explaining
        // The matched test's weights: w_k = T_k / b_k - sum T / sum b (so that sum_k b_k w_k = 0:
        // the empty lane's spectrum at any level gives z = 0 on average), b_k at least 0.1 %.
        let shapes = settings.spectralMatchedSigmaQ8 > 0 ? settings.spectralThreatShapeCount : 0
        // Local copies, once (see `matchedTest`).
        var shapeQ16 = settings.spectralThreatShapesQ16
        shapeQ16[0] = shapeQ16[0]  // (a var kept in memory: a `let` copy was copied again per element read)
        var share = spectralBackgroundShareQ16
        for w in 0..<k where share[w] < 66 { share[w] = 66 }
        // The shapes whose candidates may be judged with the level held: those with at most a
        // quarter of their counts above the split, in the windows the shielding estimate rests on
        // (the low window is the first L windows: L where their learned shares sum closest to the
        // learned low window's share). A harder source's own counts move that estimate, and the
        // lane's NORM is hard too: with every shape held the matched test raised 4-18 NORM alarms
        // in 300 loads per member, against 1-8 with the soft ones only (docs/DETECTION.md, "The
        // held level").
        let lowShare = shapeGamma[0] > 0 ? Self.ratioQ16(shapeLow[0], shapeGamma[0]) : 0
        var lowSum: Int64 = 0, nearest = Int64.max, split = k
        for w in 0..<k {
            lowSum += share[w]
            let d = lowSum > lowShare ? lowSum - lowShare : lowShare - lowSum
            if d < nearest { nearest = d; split = w + 1 }
        }
        var heldMask: UInt32 = 0
        var weights = InlineArray<64, Int64>(repeating: 0)
        for j in 0..<shapes {
            var sumT: Int64 = 0, above: Int64 = 0
            var t = InlineArray<16, Int64>(repeating: 0)
            for w in 0..<k {
                t[w] = shapeQ16[j * windowCountMax + w]
                sumT += t[w]
                if w >= split { above += t[w] }
            }
            if sumT > 0 && above * 4 <= sumT { heldMask |= 1 &<< u32(j) }
            let (weight, norm) = Self.matchedWeights(shape: t, shares: share, windows: k)
            for w in 0..<k { weights[j * windowCountMax + w] = weight[w] }
            matchedNormQ16[j] = norm
            matchedSumQ16[j] = sumT
        }
        matchedWeightQ16 = weights
        matchedHeldShapes = heldMask
        // The windows' kappa_k (shielding learner), and what a shadow does to the matched test.
        var kappa = InlineArray<16, Int64>(repeating: 65_536)
        var anyLearned = false
        var mass: Int64 = 0
        for w in 0..<k {
            if shieldingLearner.isReady(window: w) { kappa[w] = shieldingLearner.kappaQ16(window: w); anyLearned = true }
            mass += (share[w] * kappa[w]) &>> 16
        }
        occWindowKappaQ16 = kappa
        occWindowShadow = anyLearned
        occShadowMassQ16 = mass
        var tilt = InlineArray<4, Int64>(repeating: 0)
        for j in 0..<shapes where anyLearned {
            var a: Int64 = 0
            for w in 0..<k { a += (((weights[j * windowCountMax + w] * share[w]) &>> 16) * (kappa[w] - 65_536)) &>> 16 }
            tilt[j] = a
        }
        matchedShadowQ16 = tilt
    }

    /// The matched test's weights for a shape T (Q16 per window) against shares b (Q16, each at
    /// least 66): w_k = T_k / b_k - sum T / sum b, within +-1,024 (Q16), so that sum_k b_k w_k = 0
    /// (the shares' spectrum at any level gives z = 0 on average); and their norm sum_k b_k w_k^2
    /// (Q16), z's variance per count.
    @inline(__always)
    static func matchedWeights(shape t: InlineArray<16, Int64>, shares share: InlineArray<16, Int64>, windows k: Int)
        -> (weights: InlineArray<16, Int64>, norm: Int64) {
        var sumT: Int64 = 0, sumB: Int64 = 0
        for w in 0..<k { sumT += t[w]; sumB += share[w] }
        let mean = sumB > 0 ? sumT * 65_536 / sumB : 0  // Q16
        var weights = InlineArray<16, Int64>(repeating: 0)
        var norm: Int64 = 0
        for w in 0..<k {
            var weight = t[w] * 65_536 / share[w] - mean
            if weight > (1 &<< 26) { weight = 1 &<< 26 }
            if weight < -(1 &<< 26) { weight = -(1 &<< 26) }
            weights[w] = weight
            norm += ((share[w] * weight) &>> 16) * weight &>> 16
        }
        return (weights, norm)
    }

    /// How far the whole occupancy's spectrum leans towards the lane's own NORM, in sd (Q8), for
    /// the shielding learner (ShieldingLearner.swift, "NORM under the threshold"): the matched
    /// test's level-free z with the lane's learned NORM for the shape (the explaining bins' mean
    /// shares, weighted by their loads) against the empty lane's shape under the vehicle's
    /// shadow s = 1 - R (Q16; 0: none), b_k (1 - kappa_k s) / (1 - s m) once the windows' kappa_k
    /// are learned. A clean vehicle's shadow gives z = 0 on average at any level (N(0, 1) from
    /// its counts); a NORM load below the threshold adds counts of that shape. nil where there is
    /// nothing to judge with: fewer than 3 windows, the spectral test not deciding this occupancy
    /// (not ready, spectra untrusted), the windows' kappa_k not learned yet (a shadow that hardens
    /// the spectrum would read as NORM, and a parked truck's minute beyond 3 sd: left out, the
    /// vehicles that would teach kappa_k could all be), a window missing in a sample, no
    /// explaining bin, no counts.
    func normLikeZQ8(shadowQ16 s: Int64) -> Int64? {
        let k = settings.spectralWindowCount
        guard k >= 3 && spectralOn && occSpectrumComplete && occWindowShadow else { return nil }
        var u = InlineArray<16, Int64>(repeating: 0)
        var loads: Int64 = 0
        for b in 0..<SpectralState.binCount where spectralExplainingBins & (1 &<< u32(b)) != 0 {
            let n = i64(spectral.binLoads[b])
            loads += n
            for w in 0..<k { u[w] += n * spectral.meanQ16[b &* windowCountMax &+ w] }
        }
        guard loads > 0 else { return nil }
        for w in 0..<k { u[w] /= loads }
        var share = spectralBackgroundShareQ16
        shadow(&share, shadowQ16: s)
        for w in 0..<k where share[w] < 66 { share[w] = 66 }
        let (weights, norm) = Self.matchedWeights(shape: u, shares: share, windows: k)
        var c: Int64 = 0, num: Int64 = 0
        for w in 0..<k {
            let x = occSpectrum[w] > 0 ? occSpectrum[w] : 0
            c += x
            let term = multiplySaturating(weights[w], x)
            num &+= term > (1 &<< 58) ? (1 &<< 58) : term < -(1 &<< 58) ? -(1 &<< 58) : term
        }
        guard c > 0 && norm > 0 else { return nil }
        let den = multiplySaturating(integerSquareRoot(norm), integerSquareRoot(multiplySaturating(c, 65_536)))  // Q8 x Q8
        return den > 0 ? Self.ratioQ16(num, den) &>> 8 : nil
    }

    /// The matched test of one window (`EngineSettings.spectralMatchedSigmaQ8`): for each check
    /// source's shape T, z = sum_k w_k C_k / sqrt(sum_k C_k x sum_k b_k w_k^2), w_k = T_k / b_k -
    /// sum T / sum b (`beginSpectral`). The weights are the source's likelihood ratio against the empty
    /// lane's shape b less its mean, so the background's level drops out (a vehicle's shielding,
    /// a NORM load's high counts raising the estimate: the error the level-free fit frees) and
    /// the counts' own total scales the variance: for the empty lane's spectrum at any level z is
    /// N(0, 1). A z beyond the limit makes the window a candidate, whatever the gross test said;
    /// the directed test then judges it (NORM loads are hard too), at its own limit.
    mutating func matchedTest(_ w: inout SpectralWindow) {
        let shapes = settings.spectralThreatShapeCount
        let limit = settings.spectralMatchedSigmaQ8
        guard limit > 0 && spectralOn && shapes > 0 && !w.computed else { return }
        let k = settings.spectralWindowCount
        // Local copies, once (element reads of a field or parameter copied it whole in the Embedded build).
        // (`var`, kept in memory: a `let` copy was copied again per element read.)
        var weight = matchedWeightQ16
        var norm = matchedNormQ16
        var spectrum = w.spectrum
        var shadowTilt = matchedShadowQ16
        weight[0] = weight[0]; norm[0] = norm[0]; spectrum[0] = spectrum[0]; shadowTilt[0] = shadowTilt[0]
        var c: Int64 = 0
        for i in 0..<k { c += spectrum[i] > 0 ? spectrum[i] : 0 }
        guard c > 0 else { return }
        let root = integerSquareRoot(multiplySaturating(c, 65_536))  // Q8
        // Under a shadow that changes the shape (the windows' kappa_k learned), sum_k w_k C_k
        // expects -C s a_j / (1 - s m): added back, so that a clean vehicle gives z = 0 again.
        let shadowed = occWindowShadow && w.shadowQ16 > 0
        let shadowDen = shadowed ? Self.shadowDenominatorQ16(shadowQ16: w.shadowQ16, massQ16: occShadowMassQ16) : 65_536
        var candidate = false
        var held = false
        var sourceQ16: Int64 = 0
        var sums = matchedSumQ16
        sums[0] = sums[0]
        for j in 0..<shapes where norm[j] > 0 {
            var num: Int64 = 0  // Q16 counts
            for i in 0..<k {
                let term = multiplySaturating(weight[j &* windowCountMax &+ i], spectrum[i])
                num &+= term > (1 &<< 58) ? (1 &<< 58) : term < -(1 &<< 58) ? -(1 &<< 58) : term  // 16 terms stay in Int64
            }
            if shadowed { num &+= multiplySaturating(c, (((w.shadowQ16 * shadowTilt[j]) &>> 16) &<< 16) / shadowDen) }
            let den = multiplySaturating(integerSquareRoot(norm[j]), root)  // Q8 x Q8
            if den > 0 && Self.ratioQ16(num, den) &>> 8 > limit {
                candidate = true
                // The source's counts, s = num / sum_k w_k T_k (= the norm, as sum_k b_k w_k = 0).
                sourceQ16 = Self.ratioQ16(num, norm[j])
                // Does the expected level itself show the excess? The same shape with the level
                // known: sum_k (T_k / b_k) (C_k - E b_k) = num + sum T (C - E), of variance
                // E (|w|^2_b + (sum T)^2) + (sum T)^2 V, V the expected level's own variance (the
                // suppression estimate's, the learned background's, the shielding's spread).
                // Beyond the same limit the candidate is judged with its level held to E within
                // V; below it (a hard source that raised the shielding estimate, which lowers E;
                // a NORM load whose level the estimate overstates) with the level free, as before.
                guard matchedHeldShapes & (1 &<< u32(j)) != 0 else { break }
                let st = sums[j]
                let st2 = (st * st) &>> 16
                let e = w.expectedQ16 > 65_536 ? w.expectedQ16 : 65_536
                let v0 = variance(expectedQ16: e, suppressionQ16: w.levelSuppressionQ16, highCounts: w.levelHighCounts, windowInEstimate: false,
                                  learnedCounts: w.levelLearnedCounts, lowExpectedQ16: w.levelLowExpectedQ16) - e
                let vLevel = v0 > 65_536 ? v0 : 65_536  // at least one count squared
                let known = num &+ (multiplySaturating(st &>> 4, (c &<< 16) - w.expectedQ16) &>> 12)
                let vKnown = multiplySaturating(e &>> 8, (norm[j] + st2) &>> 8) + multiplySaturating(st2 &>> 8, vLevel &>> 8)
                let sdKnown = integerSquareRoot(vKnown > 0 ? vKnown : 1)  // Q8
                if known / sdKnown > limit {
                    held = true
                    w.levelHeldQ8 = Self.clampQ8(e / integerSquareRoot(vLevel))
                }
                break
            }
        }
        guard candidate else { return }
        // With the level free, the spectral tests judge the excess over the background at the
        // level the counts give with the source's part taken out (C - s), where that is lower
        // than the window's expectation: a shielding the estimate missed would otherwise leave
        // no excess to judge. With the level held, over the expectation itself.
        let level = multiplySaturating(c, 65_536) - sourceQ16
        if !held && level < w.expectedQ16 { w.expectedQ16 = level > 0 ? level : 0 }
        evaluate(&w)
        // The verdict is the directed test's alone, at its own limit: a NORM bin plus the source's
        // shape must explain the window better than any bin alone by more than
        // `spectralMatchedDirectedSigmaQ8` sd. Candidates below the gross threshold are many
        // windows of a NORM load each: judged as an excess over the threshold is (the omnibus
        // test at its limit, the directed at 2.5 sd) they raised 6-35 NORM alarms in 300 loads
        // per member, the omnibus test most of them; this way 0-2 (docs/DETECTION.md). With the
        // misfit allowance set, the directed statistic judged in units of a misfit no NORM bin
        // explains (`normFit`).
        let verdict = multiplySaturating(settings.spectralMatchedDirectedSigmaQ8, settings.spectralMatchedDirectedSigmaQ8)  // Q16
        if w.directedJudgedQ16 > verdict {
            current.gammaAlarm = true
            current.gammaTests.insert(.matched)
        }
    }

    /// Whether the spectral test decides the next occupancy (multi-window panels, enough loads
    /// learned, the split confirmed, the background ready).
    public var spectralTestReady: Bool {
        settings.spectralWindowCount >= 3 && spectraTrusted && background.isReady(settings) && spectral.isReady
    }
}
