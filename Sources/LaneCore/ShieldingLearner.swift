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
// its unshielded expectation (the deficit) against the fall the high window's R predicts for it;
// their ratio kappa_i goes into a `HalvingHistogram`, and its median kappa is the lane's: the low window's
// expected counts under shielding are then B_low (1 - kappa (1 - R)) instead of B_low R.
//
// Why a median and not a ratio of averages (built first, 2026-12-03): a NORM load below the
// threshold adds high-window counts, so R overstates the shielding's fall and kappa_i grows; an
// average of a few such occupancies drove kappa to its bound (1.5) in the evaluation and the
// lowered expectation then alarmed on most clean vehicles, which in turn left the learner only
// the occupancies that fitted it. A median does not follow a minority. Only occupancies whose
// predicted deficit is at least 8 sd of the low window's counting noise are taken (a light shadow
// says nothing of the ratio). Fixed point, bounded memory (64 bins, halved at 1,024 occupancies
// as the NORM learner's histogram), no allocation.
//
// Multi-window panels: the same ratio per energy window, kappa_k = window k's fall over the fall R
// predicts for it (taken where that predicted fall is at least 4 sd of the window's counts), one
// histogram per window. The spectral tests then expect window k's counts under a shadow at
// b_k (1 - kappa_k (1 - R)): the matched test's statistic, level-free by construction, was still
// biased by a shadow that changes the shape (its weights assume the empty lane's shape at any
// level), and over a parked truck's minute that bias passed its limit (`--shielding-tilt -0.05`,
// eight windows: 1-2 false alarms per 1,000 clean vehicles in three of eight members). Per window,
// not one low/high ratio: a real shadow's tilt is smooth in energy (attenuation falls with it,
// down-scatter piles up low), and the engine need not know where the panel splits its windows.

public struct ShieldingLearner: Sendable, Equatable {
    /// Bumped whenever the stored fields change.
    public static let layoutVersion = 2
    /// Occupancies it must hold before its median is used (before: 1, the spectrum kept).
    public static let loadsMin: UInt32 = 32
    /// kappa's range (Q16): 0.5 ... 1.5, 64 bins of 1/64.
    public static let kappaMinQ16: Int64 = 32_768
    public static let kappaMaxQ16: Int64 = 98_304

    var histogram = HalvingHistogram()
    /// Per energy window (multi-window panels): kappa_k's histograms.
    var windowHistograms: InlineArray<16, HalvingHistogram> = InlineArray(repeating: HalvingHistogram())
    /// A window's predicted fall must be at least this many sd of its counts to be taken.
    public static let windowSigmaMin: Int64 = 4
    /// Occupancies held now (after halvings).
    public var held: UInt32 { histogram.held }
    /// Occupancies ever learned.
    public var learned: UInt64 { histogram.learned }

    public init() {}

    /// One clean occupancy's shielded samples: the low window's counts and unshielded expectation
    /// (Q16), the high window's. False when it says nothing of the ratio (too light a shadow).
    @discardableResult
    public mutating func add(lowCounts: Int64, lowExpectedQ16 le: Int64, highCounts: Int64, highExpectedQ16 he: Int64) -> Bool {
        guard le > 0, he > 0, lowCounts >= 0, highCounts >= 0, highCounts < (1 &<< 30) else { return false }
        // R = H / (H_expected / 65536), Q16 (as the engine's suppression estimate), at most 4.
        let r0 = (highCounts &<< 32) / he
        let r = r0 > 262_144 ? 262_144 : r0
        // The predicted deficit must be at least 8 sd of the low window's counts: D^2 >= 64 L.
        guard let b = Self.bin(counts: lowCounts, expectedQ16: le, suppressionQ16: r, sigmaMin: 8) else { return false }
        histogram.add(bin: b)
        return true
    }

    /// kappa_i of counts C against their unshielded expectation E (Q16) under suppression R (Q16):
    /// the fall E - C over the fall E (1 - R) that R predicts, as its histogram bin (clamped to
    /// 0.5 ... 1.5; 1,024 Q16 per bin); nil when that predicted fall is under `sigmaMin` sd of E.
    @inline(__always)
    static func bin(counts: Int64, expectedQ16 e: Int64, suppressionQ16 r: Int64, sigmaMin: Int64) -> Int? {
        let predicted = e - (((e &>> 8) * r) &>> 8)  // Q16 counts
        let d = predicted &>> 16, n = e &>> 16
        guard d > 0, d < (1 &<< 31), d * d >= sigmaMin * sigmaMin * n else { return nil }
        let deficit = e - (counts &<< 16)
        let k = deficit > (1 &<< 46) || deficit < -(1 &<< 46) ? (deficit > 0 ? kappaMaxQ16 : kappaMinQ16) : (deficit &<< 16) / predicted
        let c = k < kappaMinQ16 ? kappaMinQ16 : k >= kappaMaxQ16 ? kappaMaxQ16 - 1 : k
        return int((c - kappaMinQ16) &>> 10)
    }

    /// One clean occupancy's energy window `window` (multi-window panels): its counts over the
    /// shielded samples, their unshielded expectation (Q16) and the occupancy's suppression
    /// estimate R (Q16, at most 1). False when it says nothing (the predicted fall E (1 - R) under
    /// `windowSigmaMin` sd of the window's counts).
    @discardableResult
    public mutating func add(window i: Int, counts c: Int64, expectedQ16 e: Int64, suppressionQ16 r: Int64) -> Bool {
        guard i >= 0, i < windowCountMax, e > 0, c >= 0, c < (1 &<< 30), r >= 0, r < 65_536,
              let b = Self.bin(counts: c, expectedQ16: e, suppressionQ16: r, sigmaMin: Self.windowSigmaMin) else { return false }
        windowHistograms[i].add(bin: b)
        return true
    }

    /// Window i's kappa_k (Q16; 65,536 until its histogram holds `loadsMin` occupancies).
    public func kappaQ16(window i: Int) -> Int64 {
        i >= 0 && i < windowCountMax ? Self.median(windowHistograms[i]) : 65_536
    }

    /// Whether window i's kappa_k is learned.
    public func isReady(window i: Int) -> Bool { i >= 0 && i < windowCountMax && windowHistograms[i].held >= Self.loadsMin }

    /// True once it holds enough occupancies to stand for the lane.
    public var isReady: Bool { held >= Self.loadsMin }

    /// The median of the held occupancies' kappa (Q16, interpolated inside its bin as a grouped
    /// median: a bin is 1/64 wide, and its centre alone would put a lane whose shadow keeps the
    /// spectrum at 1.008; 65,536 before it is ready: the spectrum kept).
    public var kappaQ16: Int64 { Self.median(histogram) }

    /// A histogram's interpolated median kappa (Q16; 65,536 while it holds fewer than `loadsMin`).
    public static func median(_ h: HalvingHistogram) -> Int64 {
        guard h.held >= loadsMin, let (bin, below) = h.quantileBin(perMille: 500) else { return 65_536 }
        let f = u64(h.count(inBin: bin))
        let half = u64(h.held) * 512  // held / 2, in 1/1024 of an occupancy
        let inside = f > 0 && half > below * 1_024 ? i64((half - below * 1_024) / f) : 0  // 0 ... 1,024
        return kappaMinQ16 + (i64(bin) &<< 10) + (inside > 1_024 ? 1_024 : inside)
    }

    /// The held occupancies in one bin (for the console).
    public func loads(inBin i: Int) -> UInt32 { histogram.count(inBin: i) }

    /// The correction a corrected test adds to its expectation (low window and total alike) for a
    /// window whose unshielded low expectation is `lowExpectedQ16` and whose suppression estimate
    /// is `r` (Q16), at `kappaQ16` (the engine fixes it at an occupancy's start):
    /// B_low (1 - kappa) (1 - R); 0 with R or kappa at 1.
    @inline(__always)
    public static func correctionQ16(lowExpectedQ16 bLow: Int64, suppressionQ16 r: Int64, kappaQ16: Int64) -> Int64 {
        guard r < 65_536, kappaQ16 != 65_536 else { return 0 }
        let factor = ((65_536 - kappaQ16) * (65_536 - r)) &>> 16  // Q16, |factor| < 0.5
        return ((bLow &>> 8) * factor) &>> 8
    }

    /// Rebuilds a learner from stored fields (`field(_:)` order), or nil when they do not
    /// describe one (a bin beyond the capacity, bins that do not add up to `held`).
    public init?(fields: (Int) -> UInt64) {
        let n = HalvingHistogram.fieldCount
        guard let h = HalvingHistogram(fields: fields) else { return nil }
        histogram = h
        for w in 0..<windowCountMax {
            guard let hw = HalvingHistogram(fields: { fields(n * (1 + w) + $0) }) else { return nil }
            windowHistograms[w] = hw
        }
    }

    /// The state as numbered fields: the low window's histogram (64 bins, `held`, `learned`), then
    /// each energy window's, in window order.
    public static let fieldCount = HalvingHistogram.fieldCount * (1 + windowCountMax)
    public func field(_ i: Int) -> UInt64 {
        let n = HalvingHistogram.fieldCount
        if i < n { return histogram.field(i) }
        let w = i / n - 1
        return w < windowCountMax ? windowHistograms[w].field(i % n) : 0
    }

    public static func == (a: ShieldingLearner, b: ShieldingLearner) -> Bool {
        if a.histogram != b.histogram { return false }
        for w in 0..<windowCountMax where a.windowHistograms[w] != b.windowHistograms[w] { return false }
        return true
    }
}
