// Background learning. Rates are held in Q16 counts per nominal sample interval, per panel and
// channel. Learning happens only while the lane is empty (the engine decides when).

public struct Background: Sendable {
    /// Bumped whenever the stored fields change: a background kept on disk by another layout is
    /// refused rather than misread (the agent's BackgroundStore).
    public static let layoutVersion = 1
    public private(set) var gammaQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    public private(set) var gammaLowQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    public private(set) var neutronQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    /// The slow averages (see `EngineSettings.backgroundSlowShift`).
    public private(set) var gammaSlowQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    public private(set) var gammaLowSlowQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    public private(set) var neutronSlowQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    /// The long averages: a cumulative mean of every empty-lane sample until there are
    /// 2^backgroundSlowShift of them, then an exponential average with that time constant. They
    /// hold the background's spectral shape (low/high) and the panels' shares, which shielding and
    /// queued dips do not change; tests whose level the suppression estimate re-measures use them.
    public private(set) var gammaLongQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    public private(set) var gammaLowLongQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    /// Empty-lane samples learned so far, by any panel (saturates at Int.max, never wraps in practice).
    public private(set) var samplesLearned: Int = 0
    /// Empty-lane samples each panel has learned (a panel absent from a sample learns nothing from it).
    public private(set) var panelSamples: InlineArray<8, Int> = InlineArray(repeating: 0)
    /// Samples in a row the slow averages have held (see `EngineSettings.backgroundHoldDropQ16`),
    /// and how many samples they have held in all.
    public private(set) var slowHeldRun: Int = 0
    public private(set) var slowHeldTotal: Int = 0
    /// Samples in a row the learning gate has kept out, and how many in all.
    public private(set) var gatedRun: Int = 0
    public private(set) var gatedTotal: Int = 0

    public init() {}

    /// The state as numbered 64-bit fields (the start record, docs/RECORDS.md): nine per panel
    /// (fast, slow and long averages), then the five lane-wide counters.
    public static func fieldCount(panels n: Int) -> Int { 9 * n + 5 }

    public func field(_ i: Int, panels n: Int) -> Int64 {
        let array = i / n, p = i % n
        switch array {
        case 0: return gammaQ16[p]
        case 1: return gammaLowQ16[p]
        case 2: return neutronQ16[p]
        case 3: return gammaSlowQ16[p]
        case 4: return gammaLowSlowQ16[p]
        case 5: return neutronSlowQ16[p]
        case 6: return gammaLongQ16[p]
        case 7: return gammaLowLongQ16[p]
        case 8: return i64(panelSamples[p])
        default:
            switch i - 9 * n {
            case 0: return i64(samplesLearned)
            case 1: return i64(slowHeldRun)
            case 2: return i64(slowHeldTotal)
            case 3: return i64(gatedRun)
            default: return i64(gatedTotal)
            }
        }
    }

    /// The state from its fields (`field(_:panels:)`); counters are clamped to 0...Int32.max
    /// (a 32-bit board's Int).
    public init(panels n: Int, field: (Int) -> Int64) {
        func count(_ v: Int64) -> Int { int(v < 0 ? 0 : v > 0x7FFF_FFFF ? 0x7FFF_FFFF : v) }
        for p in 0..<n {
            gammaQ16[p] = field(p)
            gammaLowQ16[p] = field(n + p)
            neutronQ16[p] = field(2 * n + p)
            gammaSlowQ16[p] = field(3 * n + p)
            gammaLowSlowQ16[p] = field(4 * n + p)
            neutronSlowQ16[p] = field(5 * n + p)
            gammaLongQ16[p] = field(6 * n + p)
            gammaLowLongQ16[p] = field(7 * n + p)
            panelSamples[p] = count(field(8 * n + p))
        }
        samplesLearned = count(field(9 * n))
        slowHeldRun = count(field(9 * n + 1))
        slowHeldTotal = count(field(9 * n + 2))
        gatedRun = count(field(9 * n + 3))
        gatedTotal = count(field(9 * n + 4))
    }

    /// Counts scaled to the nominal interval, Q16: (counts << 16) * nominal / interval, truncated.
    @inlinable
    static func normalizedQ16(_ counts: UInt32, intervalUs: Int64, nominalUs: Int64) -> Int64 {
        (i64(counts) &<< 16) * nominalUs / intervalUs
    }

    /// Learns one empty-lane sample: a running mean during warm-up, then an exponential average
    /// with time constant 2^shift samples, rounding half up. Two guards, each with a limit on how
    /// long it lasts: the **gate** learns nothing from a sample far above the background (see
    /// `EngineSettings.backgroundGateSigmaQ8`), the **hold** keeps the slow averages still while the
    /// fast one shows a queued vehicle's dip (`EngineSettings.backgroundHoldDropQ16`).
    /// Panels in `s.absentMask` are left out: they learn nothing, and the guards' sums are over
    /// the present panels only.
    /// `guards`: what the guards remember between samples (the warm-up's hold, the open lane's
    /// level), kept by the caller.
    public mutating func learn(_ s: LaneSample, settings: EngineSettings, guards q: inout BackgroundGuards) {
        guard s.intervalUs > 0 else { return }
        let n = samplesLearned
        var present: UInt32 = 0
        for p in 0..<settings.panelCount where s.absentMask & (1 &<< u32(p)) == 0 { present |= 1 &<< u32(p) }
        guard present != 0 else { return }
        let nominal = settings.sampleIntervalUs
        let fast = settings.backgroundShift, slow = settings.backgroundSlowShift
        // One pass for the sample (normalized to the nominal interval) and the sums both guards need.
        var g = InlineArray<8, Int64>(repeating: 0), l = InlineArray<8, Int64>(repeating: 0), nn = InlineArray<8, Int64>(repeating: 0)
        var sampleGamma: Int64 = 0, sampleNeutron: Int64 = 0
        var fastSum: Int64 = 0, slowSum: Int64 = 0, levelGamma: Int64 = 0, levelNeutron: Int64 = 0
        var warmSample: Int64 = 0, warmMean: Int64 = 0, openSum: Int64 = 0
        for p in 0..<settings.panelCount where present & (1 &<< u32(p)) != 0 {
            g[p] = Self.normalizedQ16(s.gamma[p], intervalUs: s.intervalUs, nominalUs: nominal)
            l[p] = Self.normalizedQ16(s.gammaLow[p], intervalUs: s.intervalUs, nominalUs: nominal)
            nn[p] = Self.normalizedQ16(s.neutron[p], intervalUs: s.intervalUs, nominalUs: nominal)
            if panelSamples[p] >= settings.backgroundReadySamples {
                warmSample += g[p]
                warmMean += gammaQ16[p]
            }
            // The guards compare like with like: only panels past their own warm-up (a panel that
            // joins late would otherwise look like a source against its empty average).
            guard panelSamples[p] >= settings.backgroundWarmupSamples else { continue }
            sampleGamma += g[p]
            sampleNeutron += nn[p]
            openSum += q.openGammaQ16[p]
            fastSum += gammaQ16[p]
            slowSum += gammaSlowQ16[p]
            levelGamma += gammaQ16[p] > gammaSlowQ16[p] ? gammaQ16[p] : gammaSlowQ16[p]
            levelNeutron += neutronQ16[p] > neutronSlowQ16[p] ? neutronQ16[p] : neutronSlowQ16[p]
        }
        // The open lane's return. A dip that outlasted the hold was learned (a queue of more than
        // backgroundHoldMaxSamples by the portal); when it ends, the level goes back to the open
        // lane's, and the averages, which follow it at their time constants, would make the open
        // lane an excess for the next occupancy (13 sd after a 30 % dip). So once the short
        // average of the sample's gamma against the level kept at the hold's start comes within
        // the hold's drop plus 1 sd of it, the averages go back to that level at once. Forgotten
        // `openMemorySamples` after the dip was learned (the drop was real).
        if q.openSince > 0 {
            q.openSince += 1
            let deviation = sampleGamma - openSum
            q.openReturnQ16 += (deviation - q.openReturnQ16) / 8
            let drop = (openSum &>> 16) * settings.backgroundHoldDropQ16
            if q.openSince > Self.openMemorySamples || openSum <= 0 {
                q.openSince = 0
            } else if q.openReturnQ16 > -drop - Self.warmupShortSigmaQ8 * integerSquareRoot(openSum) {
                reopen(settings, guards: &q)
                q.openSince = 0  // the dip has ended
                return
            }
        }
        // The gate: more than k sd + 10 counts above the learned level, gamma or neutron (Q16 per
        // nominal interval), for at most backgroundGateMaxSamples in a row.
        if settings.backgroundGateSigmaQ8 > 0 && isReady(settings) {
            func above(_ c: Int64, _ b: Int64) -> Bool {
                c - b > settings.backgroundGateSigmaQ8 * integerSquareRoot(b > 65_536 ? b : 65_536) + (10 &<< 16)
            }
            if Self.keepsOut(above(sampleGamma, levelGamma) || above(sampleNeutron, levelNeutron),
                             run: &gatedRun, total: &gatedTotal, max: settings.backgroundGateMaxSamples) { return }
        }
        // The warm-up's hold. Until backgroundWarmupSamples the averages are one running mean, so
        // the hold below (fast against slow) cannot see a dip; a vehicle that comes to wait by the
        // portal a few seconds after the lane starts would leave a mix of the open and the shaded
        // lane in the fast and slow averages, and the open lane it leaves behind would read as an
        // excess. So, once ready, the fast and slow averages do not learn a sample whose gamma (the
        // ready panels) lies below the running mean by more than the hold's drop plus
        // `warmupSampleSigmaQ8` sd, or while a short average of that deviation (time constant 8
        // samples) does by more than the drop plus `warmupShortSigmaQ8` sd; the long averages and
        // the spectrum (the shape, which a shadow barely changes) learn it, and it counts towards
        // the warm-up, whose end hands the dip to the hold below. Counted with the hold's samples.
        var warmHold = false
        if settings.backgroundHoldDropQ16 > 0 && n < settings.backgroundWarmupSamples && warmMean > 0 {
            let deviation = warmSample - warmMean
            q.warmDipQ16 += (deviation - q.warmDipQ16) / 8
            let drop = (warmMean &>> 16) * settings.backgroundHoldDropQ16, sd = integerSquareRoot(warmMean)
            warmHold = Self.keepsOut(deviation < -drop - Self.warmupSampleSigmaQ8 * sd || q.warmDipQ16 < -drop - Self.warmupShortSigmaQ8 * sd,
                                     run: &slowHeldRun, total: &slowHeldTotal, max: settings.backgroundHoldMaxSamples)
        }
        // The hold, for at most backgroundHoldMaxSamples in a row: a dip that lasts longer is
        // learned (the run only ends when the dip does).
        var hold = false
        if settings.backgroundHoldDropQ16 > 0 && n >= settings.backgroundWarmupSamples {
            let dip = fastSum < slowSum - ((slowSum &>> 16) * settings.backgroundHoldDropQ16)
            if dip && slowHeldRun == 0 && q.openSince == 0 {
                // A hold begins: keep the open lane's level (the slow averages) for its return.
                for p in 0..<settings.panelCount {
                    q.openGammaQ16[p] = gammaSlowQ16[p]; q.openGammaLowQ16[p] = gammaLowSlowQ16[p]; q.openNeutronQ16[p] = neutronSlowQ16[p]
                }
            }
            hold = Self.keepsOut(dip, run: &slowHeldRun, total: &slowHeldTotal, max: settings.backgroundHoldMaxSamples)
            // The dip outlasted the hold and is learned from now on: watch for the open lane's return.
            if dip && !hold && q.openSince == 0 && slowHeldRun == settings.backgroundHoldMaxSamples + 1 {
                q.openSince = 1
                q.openReturnQ16 = sampleGamma - openSum
            }
        }
        for p in 0..<settings.panelCount where present & (1 &<< u32(p)) != 0 {
            let np = panelSamples[p]  // a panel's own count: one that joined late warms up on its own
            if !warmHold {
                gammaQ16[p] = Self.update(gammaQ16[p], g[p], np, settings.backgroundWarmupSamples, fast)
                gammaLowQ16[p] = Self.update(gammaLowQ16[p], l[p], np, settings.backgroundWarmupSamples, fast)
                neutronQ16[p] = Self.update(neutronQ16[p], nn[p], np, settings.backgroundWarmupSamples, fast)
            }
            if !hold && !warmHold {
                gammaSlowQ16[p] = Self.update(gammaSlowQ16[p], g[p], np, settings.backgroundWarmupSamples, slow)
                gammaLowSlowQ16[p] = Self.update(gammaLowSlowQ16[p], l[p], np, settings.backgroundWarmupSamples, slow)
                neutronSlowQ16[p] = Self.update(neutronSlowQ16[p], nn[p], np, settings.backgroundWarmupSamples, slow)
            }
            gammaLongQ16[p] = Self.update(gammaLongQ16[p], g[p], np, 1 &<< slow, slow)
            gammaLowLongQ16[p] = Self.update(gammaLowLongQ16[p], l[p], np, 1 &<< slow, slow)
            if panelSamples[p] < Int.max { panelSamples[p] += 1 }
        }
        if samplesLearned < Int.max { samplesLearned += 1 }
    }

    /// Back to the open lane's level kept at the start of a dip that outlasted the hold (fast and
    /// slow averages; the long ones keep the shape and are left). The engine calls it as an
    /// occupancy begins: the vehicle that waited by the portal is now in it, the lane around it is
    /// open again, and an uncorrected test must expect too much rather than too little (nothing
    /// when no learned dip is remembered). The memory stays, with its age: if the lane is still
    /// low after the occupancy, the hold runs again, and a drop that was real is learned for good
    /// once the memory is an hour old, however many occupancies came meanwhile.
    public mutating func reopen(_ settings: EngineSettings, guards q: inout BackgroundGuards) {
        guard q.openSince > 0 else { return }
        for p in 0..<settings.panelCount where panelSamples[p] >= settings.backgroundWarmupSamples {
            gammaQ16[p] = q.openGammaQ16[p]; gammaSlowQ16[p] = q.openGammaQ16[p]
            gammaLowQ16[p] = q.openGammaLowQ16[p]; gammaLowSlowQ16[p] = q.openGammaLowQ16[p]
            neutronQ16[p] = q.openNeutronQ16[p]; neutronSlowQ16[p] = q.openNeutronQ16[p]
        }
        slowHeldRun = 0
    }

    /// One guard's bookkeeping (the gate, the holds): while `condition` holds, its run grows, and
    /// the sample is kept out (true, counted in `total`) for at most `max` samples in a row; the
    /// run ends when the condition does. Both counters saturate.
    @inline(__always)
    static func keepsOut(_ condition: Bool, run: inout Int, total: inout Int, max: Int) -> Bool {
        guard condition else { run = 0; return false }
        if run < Int.max { run += 1 }
        guard run <= max else { return false }
        if total < Int.max { total += 1 }
        return true
    }

    /// Forgets what panel p learned: it warms up again from its next empty-lane sample and is not
    /// tested against (it stands in) until it is ready again. For a panel taken back after it was
    /// found dead: what it learned while dying (or frozen from the start) is not its background.
    public mutating func forget(panel p: Int) {
        gammaQ16[p] = 0; gammaLowQ16[p] = 0; neutronQ16[p] = 0
        gammaSlowQ16[p] = 0; gammaLowSlowQ16[p] = 0; neutronSlowQ16[p] = 0
        gammaLongQ16[p] = 0; gammaLowLongQ16[p] = 0
        panelSamples[p] = 0
    }

    /// The warm-up's hold (see `learn`): a sample this many sample sd (Q8) below the running mean
    /// beyond the hold's drop, or the short average of the deviation this many (the short
    /// average's own sd is a sample's over 3.9). At 300 counts per sample the drop is 0.5 sd: one
    /// open-lane sample in 4,000 is kept out, a 27 % shadow's samples (5 sd) at once, a 15 %
    /// shadow's once the short average has seen four or five of them.
    static let warmupSampleSigmaQ8: Int64 = 3 * 256
    static let warmupShortSigmaQ8: Int64 = 256
    /// How long the open lane's level is kept once a dip has outlasted the hold: 36,000 empty-lane
    /// samples (an hour of empty lane at 100 ms).
    static let openMemorySamples = 36_000

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

    /// Whether panel p has learned enough empty-lane samples to be tested against.
    public func isReady(panel p: Int, _ settings: EngineSettings) -> Bool {
        panelSamples[p] >= settings.backgroundReadySamples
    }

    /// The larger of the fast and slow gamma (all / low window) averages of panel p, Q16 per nominal interval.
    public func gammaPanelQ16(_ p: Int) -> Int64 { gammaQ16[p] > gammaSlowQ16[p] ? gammaQ16[p] : gammaSlowQ16[p] }
    public func gammaLowPanelQ16(_ p: Int) -> Int64 { gammaLowQ16[p] > gammaLowSlowQ16[p] ? gammaLowQ16[p] : gammaLowSlowQ16[p] }

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
    /// Sums of the long averages (see `gammaLongQ16`).
    public func gammaLongSumQ16(mask: UInt32, panelCount: Int) -> Int64 { sum(gammaLongQ16, gammaLongQ16, mask: mask, panelCount: panelCount) }
    public func gammaLowLongSumQ16(mask: UInt32, panelCount: Int) -> Int64 { sum(gammaLowLongQ16, gammaLowLongQ16, mask: mask, panelCount: panelCount) }
    /// The background's own low-window share over the panels in `mask` (its long averages; Q16),
    /// 0 before it has any.
    public func lowShareQ16(mask: UInt32, panelCount: Int) -> Int64 {
        let all = gammaLongSumQ16(mask: mask, panelCount: panelCount)
        let low = gammaLowLongSumQ16(mask: mask, panelCount: panelCount)
        return all <= 0 ? 0 : (low < (1 &<< 46) ? low * 65_536 / all : low / (all &>> 16 > 0 ? all &>> 16 : 1))
    }
    /// Empty-lane samples the long averages effectively weigh (an exponential average weighs
    /// about twice its time constant).
    public func longSamples(_ settings: EngineSettings) -> Int64 {
        let cap = i64(1) &<< i64(settings.backgroundSlowShift + 1)
        return i64(samplesLearned) < cap ? i64(samplesLearned) : cap
    }
    /// The larger of the fast and slow neutron averages of panel p, Q16 per nominal interval.
    public func neutronPanelQ16(_ p: Int) -> Int64 { neutronQ16[p] > neutronSlowQ16[p] ? neutronQ16[p] : neutronSlowQ16[p] }
    public func neutronSumQ16(mask: UInt32, panelCount: Int) -> Int64 { sum(neutronQ16, neutronSlowQ16, mask: mask, panelCount: panelCount) }
}

/// What the background's guards remember between samples beyond the averages: not part of
/// `Background` (whose bytes the background file keeps, and whose layout older files share), so
/// a restart forgets it. The engine holds one and hands it to `Background.learn`.
public struct BackgroundGuards: Sendable {
    /// The warm-up's hold: a short average of the ready panels' gamma deviation from the running
    /// mean (Q16 counts per nominal interval). Only used before backgroundWarmupSamples.
    var warmDipQ16: Int64 = 0
    /// The open lane's level, kept from the start of a hold, for when the dip outlasts it (the
    /// hold's limit): the slow averages at that start, per panel; how many empty-lane samples ago
    /// the dip was learned (0: none remembered; forgotten at `Background.openMemorySamples`); a
    /// short average of the sample's gamma against that open level (Q16, as `warmDipQ16`).
    var openGammaQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    var openGammaLowQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    var openNeutronQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    var openSince: Int = 0
    var openReturnQ16: Int64 = 0

    public init() {}
}
