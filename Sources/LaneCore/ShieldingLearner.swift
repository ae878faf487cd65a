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
// Vehicle to vehicle, the shadow's tilt differs (cargo by cargo); the median follows the typical
// vehicle, and a parked truck whose kappa lies 0.06 from it is 8 sd off over its minute's dwell
// (`lane-sim eval --shielding-tilt-spread 0.03`: 1-4.5 false alarms per 1,000 clean vehicles on
// two-window lanes, the largest clean significance 7-12 sd). So the learner also measures that
// spread, net of each occupancy's own counting noise, from the **precise** occupancies only
// (kappa_i's counting sd at most 0.025: parked and slow vehicles; a moving truck's 3 s give
// 0.05-0.09, as large as the spread sought): for 16 candidate sds c_j it counts the occupancies
// within 0.6745 sd of the median at sd sqrt(c_j^2 + var_i); the smallest c_j that holds half of
// them is the spread (a Gaussian's median absolute deviation). A spread under 0.02 counts as none:
// NORM loads below the threshold among the occupancies (their kappa_i lies far off) and an error
// in var_i give a few thousandths without any spread, and a spread that small shifts a parked
// minute by under 2 sd. Where it is learned, the corrected tests carry (B_low (1 - R) sd)^2 in
// their variance. (Session 17 took every occupancy and no floor: on lanes whose vehicles shade
// alike it learned 0.017-0.071 and cost a tenth of the soft sources' Pd; docs/DETECTION.md.)
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

//
// NORM under the threshold (2026-12-05). The median ignores a minority of NORM loads below the
// threshold, not a majority: a lane whose sub-threshold traffic was mostly NORM-bearing (1,000
// NORM passes after 100 clean ones, `lane-sim eval --learn-passes 1000`) took 58-92 of them beside
// 84-89 clean vehicles (most at kappa_i's bound, 1.5), its kappa went to 1.06-1.16 and clean
// vehicles alarmed (3.6-120 per 1,000). On multi-window lanes the engine now leaves out an
// occupancy whose whole spectrum leans towards the lane's learned NORM beyond `normLikeSigmaQ8`
// (`LaneEngine.normLikeZQ8`: the matched test's level-free z with the NORM bins' mean shape, under
// the vehicle's shadow): there clean vehicles gave z within -1.9 ... 2.0 (5th-95th percentile;
// none beyond 3 in 349, a tilted member included), the NORM loads the learner took a median of
// 4-5.5, and 3-10 of 58-92 stayed under 3 (docs/DETECTION.md, "NORM under the threshold kept out
// of the shielding learner").
// Two-window lanes have no such shape: every deviation of an occupancy from the clean line could
// be its own shadow or a load. There the low window's estimate itself is robust: the median of the
// histogram's densest half (the shortest run of bins holding half the occupancies inside kappa's
// bounds) widened by its own span on either side (`robustMedian(_:)`), which a spread-out
// near-half of such loads barely moves, where the median of all followed them (1,000 NORM
// learning passes, seed 1: 1.07-1.11 and 7-49 false alarms per 1,000 clean vehicles).

public struct ShieldingLearner: Sendable, Equatable {
    /// An occupancy whose spectrum leans towards the lane's NORM beyond this (sd, Q8: 3 sd) is
    /// left out (multi-window lanes; see "NORM under the threshold").
    public static let normLikeSigmaQ8: Int64 = 768  // (the engine counts those it left out: `LaneEngine.shieldingNormLikeLeftOut`)

    /// Bumped whenever the stored fields change.
    public static let layoutVersion = 3  // 3: the spread (session 18)
    /// Occupancies it must hold before its median is used (before: 1, the spectrum kept).
    public static let loadsMin: UInt32 = 32
    /// kappa's range (Q16): 0.5 ... 1.5, 64 bins of 1/64.
    public static let kappaMinQ16: Int64 = 32_768
    public static let kappaMaxQ16: Int64 = 98_304

    var histogram = HalvingHistogram()
    /// Per energy window (multi-window panels): kappa_k's histograms.
    var windowHistograms: InlineArray<16, HalvingHistogram> = InlineArray(repeating: HalvingHistogram())
    /// For each candidate sd c_j (`spreadGridQ16`), the precise occupancies within 0.6745 sd of
    /// the median at sqrt(c_j^2 + their own counting variance); how many were counted (halved with them).
    var spreadWithin: InlineArray<16, UInt32> = InlineArray(repeating: 0)
    var spreadHeld: UInt32 = 0
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
        guard let (kappa, predicted) = Self.kappa(counts: lowCounts, expectedQ16: le, suppressionQ16: r, sigmaMin: 8) else { return false }
        // The spread, against the median as it stands (once there is one), from precise occupancies.
        if isReady {
            // kappa_i's counting variance (Q32): (L + (kappa E_l / E_h)^2 H) / P^2, P the predicted fall.
            let ratio = (le &>> 8) / ((he &>> 16) > 0 ? he &>> 16 : 1)  // E_l / E_h, Q8
            let kr = (kappa * (ratio < (1 &<< 14) ? ratio : (1 &<< 14))) &>> 8  // Q16 (E_l / E_h held under 64)
            let kr2 = ((kr &>> 4) * (kr &>> 4)) &>> 8  // Q16
            let n0 = lowCounts + (((kr2 &>> 8) * highCounts) &>> 8)  // counts
            let noise = n0 < (1 &<< 31) ? n0 : (1 &<< 31)
            let p16 = predicted &>> 16 > 0 ? predicted &>> 16 : 1  // counts
            let v0 = ((((noise &<< 16) / p16) &<< 16) / p16)  // Q32
            if v0 <= Self.spreadNoiseMaxQ32 {
                let dev = kappa - kappaQ16
                let dev2 = dev * dev  // Q32
                for j in 0..<Self.spreadCandidates {
                    let c = Self.spreadGridQ16(j)
                    // |z| <= 0.6745: dev^2 <= 0.455 (c^2 + var_i); 0.455 = 29,819 / 65,536.
                    let bound = ((c * c + v0) &>> 16) * 29_819
                    if dev2 <= bound { spreadWithin[j] &+= 1 }
                }
                spreadHeld &+= 1
                if spreadHeld >= HalvingHistogram.capacity {
                    spreadHeld &>>= 1
                    for j in 0..<Self.spreadCandidates { spreadWithin[j] &>>= 1 }
                }
            }
        }
        histogram.add(bin: Self.bin(ofKappaQ16: kappa))
        return true
    }

    /// An occupancy counts towards the spread when its kappa_i's counting variance is at most
    /// this (Q32): sd 0.025.
    public static let spreadNoiseMaxQ32: Int64 = 2_684_355
    /// A spread under this (Q16, 0.02) counts as none.
    public static let spreadFloorQ16: Int64 = 1_311
    /// The candidate sds of kappa's vehicle-to-vehicle spread: c_j = j^2 x 82 (Q16): 0, 0.0013,
    /// 0.005, 0.011, 0.020 ... 0.28.
    public static let spreadCandidates = 16
    @inline(__always)
    static func spreadGridQ16(_ j: Int) -> Int64 { i64(j * j) * 82 }

    /// The vehicle-to-vehicle sd of kappa (Q16), net of each occupancy's counting noise: the
    /// smallest candidate within which half the precise occupancies lie, interpolated between
    /// candidates; 0 until 32 were counted, or under `spreadFloorQ16`.
    public var kappaSpreadQ16: Int64 {
        guard spreadHeld >= Self.loadsMin else { return 0 }
        let half = u64(spreadHeld)  // compare 2 x within with held
        var previous: UInt64 = 0
        var spread = Self.spreadGridQ16(Self.spreadCandidates - 1)
        for j in 0..<Self.spreadCandidates {
            let w = u64(spreadWithin[j]) * 2
            if w >= half {
                if j == 0 { return 0 }
                let lo = Self.spreadGridQ16(j - 1), hi = Self.spreadGridQ16(j)
                let f = w > previous ? i64((half - previous) * 1_024 / (w - previous)) : 1_024
                spread = lo + (((hi - lo) * f) &>> 10)
                break
            }
            previous = w
        }
        return spread < Self.spreadFloorQ16 ? 0 : spread
    }

    /// Precise occupancies counted towards the spread now (after halvings).
    public var spreadOccupancies: UInt32 { spreadHeld }

    /// The sd (Q16 counts) a corrected expectation of unshielded low counts `bLow` (Q16) under
    /// suppression r (Q16) carries from the spread of kappa `spreadQ16`: B_low (1 - R) sd.
    @inline(__always)
    public static func correctionSpreadQ16(lowExpectedQ16 bLow: Int64, suppressionQ16 r: Int64, spreadQ16: Int64) -> Int64 {
        guard r < 65_536, spreadQ16 > 0, bLow > 0 else { return 0 }
        let factor = ((65_536 - r) * spreadQ16) &>> 16  // Q16
        return ((bLow &>> 8) * factor) &>> 8
    }

    /// A clamped kappa's histogram bin (65,536 / 64 = 1,024 per bin).
    @inline(__always)
    static func bin(ofKappaQ16 c: Int64) -> Int { int((c - kappaMinQ16) &>> 10) }

    /// kappa_i of counts C against their unshielded expectation E (Q16) under suppression R (Q16):
    /// the fall E - C over the fall E (1 - R) that R predicts (Q16, clamped to 0.5 ... 1.5), and
    /// that predicted fall (Q16 counts); nil when it is under `sigmaMin` sd of E.
    @inline(__always)
    static func kappa(counts: Int64, expectedQ16 e: Int64, suppressionQ16 r: Int64, sigmaMin: Int64) -> (Int64, Int64)? {
        let predicted = e - (((e &>> 8) * r) &>> 8)  // Q16 counts
        let d = predicted &>> 16, n = e &>> 16
        guard d > 0, d < (1 &<< 31), d * d >= sigmaMin * sigmaMin * n else { return nil }
        let deficit = e - (counts &<< 16)
        let k = deficit > (1 &<< 46) || deficit < -(1 &<< 46) ? (deficit > 0 ? kappaMaxQ16 : kappaMinQ16) : (deficit &<< 16) / predicted
        return (k < kappaMinQ16 ? kappaMinQ16 : k >= kappaMaxQ16 ? kappaMaxQ16 - 1 : k, predicted)
    }

    /// One clean occupancy's energy window `window` (multi-window panels): its counts over the
    /// shielded samples, their unshielded expectation (Q16) and the occupancy's suppression
    /// estimate R (Q16, at most 1). False when it says nothing (the predicted fall E (1 - R) under
    /// `windowSigmaMin` sd of the window's counts).
    @discardableResult
    public mutating func add(window i: Int, counts c: Int64, expectedQ16 e: Int64, suppressionQ16 r: Int64) -> Bool {
        guard i >= 0, i < windowCountMax, e > 0, c >= 0, c < (1 &<< 30), r >= 0, r < 65_536,
              let (k, _) = Self.kappa(counts: c, expectedQ16: e, suppressionQ16: r, sigmaMin: Self.windowSigmaMin) else { return false }
        windowHistograms[i].add(bin: Self.bin(ofKappaQ16: k))
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

    /// The held occupancies' kappa (`robustMedian(_:)`: the median of the densest half; Q16, interpolated inside its bin as a grouped
    /// median: a bin is 1/64 wide, and its centre alone would put a lane whose shadow keeps the
    /// spectrum at 1.008; 65,536 before it is ready: the spectrum kept).
    public var kappaQ16: Int64 { Self.robustMedian(histogram) }

    /// The low window's kappa from its histogram (Q16; 65,536 while it holds fewer than `loadsMin`, or none inside the
    /// bounds): the interpolated median of its densest half (`HalvingHistogram.densestHalfMedian`) over
    /// the bins inside kappa's bounds, widened by the half's own span on either side; the two bound bins hold the kappa_i clamped there, shadows
    /// the learner cannot describe (most of them NORM loads under the threshold), and take no part
    /// while they are the minority.
    /// Why not the median of all ("NORM under the threshold", two-window lanes): a two-window lane
    /// cannot tell a NORM load under the threshold from a clean vehicle, and where such loads were
    /// 40-48 % of what it took (1,000 NORM learning passes, seed 1, m5/m6/m8) the median went to
    /// 1.07-1.11 (7-49 false alarms per 1,000 clean vehicles); this estimate stayed within 0.016 of
    /// the clean vehicles' own median there, and within 0.008 of it on clean vehicles alone
    /// (offline on the same occupancies; docs/DETECTION.md, "A NORM-heavy lane on two windows").
    /// Where most occupancies lie at a bound (a lane whose shadows kappa cannot describe), the
    /// median of all: that bound, as before. The engine keeps the value between the learner's
    /// changes (`LaneEngine.shieldingKappaQ16`): about 4,000 instructions a call.
    public static func robustMedian(_ h: HalvingHistogram) -> Int64 {
        guard h.held >= loadsMin else { return 65_536 }
        if let (bin, x, total) = h.densestHalfMedian(first: 1, last: HalvingHistogram.binCount - 2), total * 2 >= u64(h.held) {
            return kappaMinQ16 + (i64(bin) &<< 10) + x
        }
        return median(h)
    }

    /// A histogram's interpolated median kappa (Q16; 65,536 while it holds fewer than `loadsMin`):
    /// the energy windows' kappa_k (multi-window lanes, where NORM-like occupancies are left out
    /// before they reach the histograms; the densest half costs about 2,000 instructions more per
    /// call, and the engine would take nine per occupancy), and the low window's where most of
    /// its occupancies lie at a bound.
    public static func median(_ h: HalvingHistogram) -> Int64 {
        guard h.held >= loadsMin, let (bin, below) = h.quantileBin(perMille: 500) else { return 65_536 }
        let f = u64(h.count(inBin: bin))
        let half = u64(h.held) * 512  // held / 2, in 1/1024 of an occupancy
        let x = f > 0 && half > below * 1_024 ? i64((half - below * 1_024) / f) : 0  // 0 ... 1,024
        return kappaMinQ16 + (i64(bin) &<< 10) + (x > 1_024 ? 1_024 : x)
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
        let at = n * (1 + windowCountMax)
        let held = fields(at + Self.spreadCandidates)
        guard held < u64(HalvingHistogram.capacity) else { return nil }
        spreadHeld = u32(held)
        for j in 0..<Self.spreadCandidates {
            let v = fields(at + j)
            guard v <= held else { return nil }
            spreadWithin[j] = u32(v)
        }
    }

    /// The state as numbered fields: the low window's histogram (64 bins, `held`, `learned`), then
    /// each energy window's, in window order, then the spread's 16 counts and how many it held.
    public static let fieldCount = HalvingHistogram.fieldCount * (1 + windowCountMax) + spreadCandidates + 1
    public func field(_ i: Int) -> UInt64 {
        let n = HalvingHistogram.fieldCount
        if i < n { return histogram.field(i) }
        let at = n * (1 + windowCountMax)
        if i >= at {
            let j = i - at
            return j < Self.spreadCandidates ? u64(spreadWithin[j]) : j == Self.spreadCandidates ? u64(spreadHeld) : 0
        }
        return windowHistograms[i / n - 1].field(i % n)
    }

    public static func == (a: ShieldingLearner, b: ShieldingLearner) -> Bool {
        if a.histogram != b.histogram || a.spreadHeld != b.spreadHeld { return false }
        for j in 0..<spreadCandidates where a.spreadWithin[j] != b.spreadWithin[j] { return false }
        for w in 0..<windowCountMax where a.windowHistograms[w] != b.windowHistograms[w] { return false }
        return true
    }
}
