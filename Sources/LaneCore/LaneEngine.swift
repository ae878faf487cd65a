// The lane's detection engine: occupancy from beam edges, speed from edge times, background
// learned while empty, gross-count and neutron tests over sliding windows, NORM discrimination.
// Fixed point throughout; no allocation after init. `run` and `replay` both drive this type.

public struct LaneEngine: Sendable {
    public enum State: Sendable, Equatable {
        case empty
        /// At least one beam is interrupted.
        case occupied
        /// Both beams are clear; the occupancy ends at `holdInEndUs` unless a beam breaks again.
        case holdIn
    }

    public private(set) var settings: EngineSettings
    public private(set) var state: State = .empty
    public private(set) var background = Background()
    /// The low-window shares of this lane's loads whose gross count passed the threshold (its
    /// NORM, nearly all of them), learned from its own traffic.
    public private(set) var normLearner = NormLearner()
    /// How this lane's vehicles shield the low window against the high one, from its clean
    /// traffic (ShieldingLearner.swift): the corrected tests' low expectation under shielding.
    public private(set) var shieldingLearner = ShieldingLearner()
    /// Occupancies the shielding learner did not take because their spectrum leaned towards the
    /// lane's NORM (`ShieldingLearner.normLikeSigmaQ8`), since the engine started (not kept: the
    /// learner's stored layout is unchanged).
    public private(set) var shieldingNormLikeLeftOut: UInt64 = 0
    /// The shielding learner's low-window kappa (Q16), computed when the learner changes (its
    /// robust estimate costs about 4,000 instructions; every occupancy starts from it).
    public private(set) var shieldingKappaQ16: Int64 = 65_536
    /// What the background's guards remember between samples (the warm-up's hold, the open
    /// lane's level); not kept in the background file.
    var backgroundGuards = BackgroundGuards()
    /// The shielded samples an occupancy needs to teach the shielding learner (1 s).
    static let shieldingSamplesMin = 10
    /// The NORM rule the current (or last) occupancy is judged by, fixed at its start.
    public private(set) var normRule = NormRule.initial
    /// False while a panel has not confirmed the window split the profile asks for (set by the
    /// agent each tick): NORM discrimination is off then (`NormRule.current`).
    public var spectraTrusted = true
    public private(set) var occupancyCount: UInt32 = 0
    /// Faults reported by the hardware side this sample (panel link, status bits, maintenance).
    /// They are carried into the occupancy's decision. Learning stops only for a lane-wide one
    /// (maintenance): a faulted panel is left out of the sample instead (`LaneSample.absentMask`),
    /// so that the healthy panels go on learning.
    public var hardwareFaults = Faults()

    var ring = SampleRing()
    /// Multi-window panels: the lane's energy windows, sample by sample (not pushed otherwise).
    var spectrumRing = SpectrumRing()
    var beamBlocked: InlineArray<2, Bool> = [false, false]
    var firstBlockUs: InlineArray<2, Int64> = [-1, -1]
    var lastClearUs: Int64 = 0
    var current = Decision()
    var groupMask: InlineArray<3, UInt32> = [0, 0, 0]
    var groupCount = 1
    var lastSampleUs: Int64 = -1
    /// The occupancy so far, per group: counts and expected background (Q16), for the
    /// integration that grows with the dwell and for the suppression estimate.
    var occGamma: InlineArray<3, Int64> = [0, 0, 0]
    var occLow: InlineArray<3, Int64> = [0, 0, 0]
    var occExpectedQ16: InlineArray<3, Int64> = [0, 0, 0]
    var occLowExpectedQ16: InlineArray<3, Int64> = [0, 0, 0]
    var occShieldedSamples = 0
    /// Whether the newest sample went into the occupancy's sums (shielded, under the dwell limit):
    /// then so did every shielded sample of the occupancy before it.
    var occLastAccumulated = false
    /// The same from the long averages (spectral shape and panel shares), for the suppression
    /// estimate and the tests it corrects.
    var occShapeQ16: InlineArray<3, Int64> = [0, 0, 0]
    var occLowShapeQ16: InlineArray<3, Int64> = [0, 0, 0]
    /// The background per group while an occupancy lasts (it is frozen then): computed once in
    /// `begin`, not per sample. `bgGamma`/`bgLow`: the larger of the fast and slow averages (the
    /// level, for uncorrected tests); `shapeGamma`/`shapeLow`: the long averages, whose level the
    /// suppression estimate re-measures; `shapeCounts`: the counts the corrected expectation of
    /// the group effectively rests on (its learned spectral ratio and share), see `shapeCounts(group:)`.
    var bgGamma: InlineArray<3, Int64> = [0, 0, 0]
    var bgLow: InlineArray<3, Int64> = [0, 0, 0]
    var shapeGamma: InlineArray<3, Int64> = [0, 0, 0]
    var shapeLow: InlineArray<3, Int64> = [0, 0, 0]
    var shapeCounts: InlineArray<3, Int64> = [0, 0, 0]
    var bgNeutron: Int64 = 0
    var occNeutron: Int64 = 0
    var occNeutronExpectedQ16: Int64 = 0
    /// Panels whose background was not ready when the occupancy began: they stand in their
    /// learned background for the whole occupancy, like an absent panel.
    var occNotReadyMask: UInt32 = 0
    /// Samples of the occupancy in which each panel gave its own counts.
    var occPresentSamples: InlineArray<8, Int> = InlineArray(repeating: 0)
    /// Empty-lane samples the background's learning gate kept out, in all.
    public var gatedSamples: Int { background.gatedTotal }

    /// Multi-window panels: what the spectral test learned (Spectral.swift); fixed at the start
    /// of an occupancy: whether the test decides it, the empty lane's share per window and the
    /// chi^2 limit; the shape of the occupancy's most significant window (for the learner).
    public private(set) var spectral = SpectralState()
    var spectralOn = false
    var spectralBackgroundShareQ16: InlineArray<16, Int64> = InlineArray(repeating: 0)
    var spectralChi2LimitQ16: Int64 = 0
    /// A chi^2 at or below this is a confident NORM verdict: it overrules the two-window rule's
    /// surplus test (-1: never); at or below the second, on a lane with check sources' shapes,
    /// its share test too (which catches the soft sources: -1, never, by default).
    var spectralNormChi2Q16: Int64 = 0
    var spectralNormShareChi2Q16: Int64 = 0
    /// The square roots of the NORM bins' spreads (`SpectralState.spreadQ32`, Q16), taken at the
    /// occupancy's start (the learner changes them only when an occupancy ends): the NORM fit
    /// needs one per bin and window for each window it judges.
    var spreadRootQ16: InlineArray<256, Int64> = InlineArray(repeating: 0)
    /// The learned NORM bins that may explain an excess this occupancy (bit b: bin b;
    /// `beginSpectral` gives them).
    var spectralExplainingBins: UInt32 = 0
    /// The shielding learner's kappa for this occupancy (Q16; 65,536 before it is ready), fixed
    /// at its start: the learner changes only between occupancies, and its median is a loop.
    var occKappaQ16: Int64 = 65_536
    /// Its vehicle-to-vehicle sd (Q16; 0: none learned), fixed with it.
    var occKappaSpreadQ16: Int64 = 0
    /// Multi-window panels, fixed at an occupancy's start: each window's kappa_k (Q16), whether
    /// any is learned (else the spectral tests expect a shadow to keep the spectrum, as before),
    /// m = sum_k b_k kappa_k and, per check source, a_j = sum_k w_jk b_k (kappa_k - 1) (Q16): under
    /// a shadow of 1 - R = s the matched test's sum_k w_k C_k expects -C s a_j / (1 - s m).
    var occWindowKappaQ16: InlineArray<16, Int64> = InlineArray(repeating: 65_536)
    var occWindowShadow = false
    var occShadowMassQ16: Int64 = 65_536
    var matchedShadowQ16: InlineArray<4, Int64> = InlineArray(repeating: 0)
    var maxShapeQ16: InlineArray<16, Int64> = InlineArray(repeating: 0)
    var maxNoiseQ32: InlineArray<16, Int64> = InlineArray(repeating: 0)
    var maxShapeValid = false
    /// The occupancy's windows over its shielded samples (as `occGamma`), and whether every one
    /// of them carried its windows.
    var occSpectrum: InlineArray<16, Int64> = InlineArray(repeating: 0)
    var occSpectrumComplete = true
    /// The matched test's weights for this occupancy (check source j, window k at j x 16 + k:
    /// `beginSpectral` gives them, Q16) and their norms (sum_k b_k w_k^2, Q16), from the empty lane's shares.
    var matchedWeightQ16: InlineArray<64, Int64> = InlineArray(repeating: 0)
    var matchedNormQ16: InlineArray<4, Int64> = InlineArray(repeating: 0)
    /// And each shape's sum of shares, sum_k T_k (Q16), for the held level's test.
    var matchedSumQ16: InlineArray<4, Int64> = InlineArray(repeating: 0)
    /// The check sources (bit j: shape j) whose matched candidates may be judged with the level
    /// held: at most a quarter of the shape above the split (`beginSpectral`), fixed at an
    /// occupancy's start.
    public internal(set) var matchedHeldShapes: UInt32 = 0

    public init(settings: EngineSettings) {
        precondition(settings.firstProblem() == nil, "engine settings must be validated first")
        self.settings = settings
        NormLearner.warmUp()
        // The first use of the spectral learner and of both rings' generic paths, here rather
        // than on the tick (unoptimised builds instantiate their metadata on the heap then; see
        // NormLearner.warmUp).
        var scratch = SpectralState()
        scratch.learn(shape: InlineArray(repeating: 0), noiseQ32: InlineArray(repeating: 0), windows: 3)
        _ = scratch.isReady
        var counts = SampleRing(), windows = SpectrumRing()
        counts.push(WindowEntry())
        windows.push(SpectrumEntry())
        _ = counts.sum(window: 1)
        _ = windows.sum(window: 1)
        var spectralWindow: SpectralWindow? = SpectralWindow(spectrum: InlineArray(repeating: 0), expectedQ16: 0)
        if spectralWindow != nil { evaluate(&spectralWindow!) }
        var all: UInt32 = 0
        var pillars: InlineArray<2, UInt32> = [0, 0]
        for p in 0..<settings.panelCount {
            all |= 1 &<< u32(p)
            pillars[int(settings.pillarOfPanel[p])] |= 1 &<< u32(p)
        }
        groupMask[0] = all
        if pillars[0] != 0 && pillars[1] != 0 {
            groupMask[1] = pillars[0]
            groupMask[2] = pillars[1]
            groupCount = 3
        }
    }

    /// Replaces the tunables (thresholds, hold-in, NORM test, fault limits) while the lane is
    /// empty; false (nothing changed) during an occupancy or if the lane's shape would change
    /// (panel count, pillars, sample interval, window ring). The caller validated `new`.
    public mutating func update(settings new: EngineSettings) -> Bool {
        guard state == .empty, new.firstProblem() == nil, new.panelCount == settings.panelCount,
            new.sampleIntervalUs == settings.sampleIntervalUs
        else { return false }
        for p in 0..<settings.panelCount where new.pillarOfPanel[p] != settings.pillarOfPanel[p] { return false }
        settings = new
        return true
    }

    /// True while an occupancy is in progress and has raised the gamma / neutron alarm.
    public var gammaAlarmActive: Bool { state != .empty && current.gammaAlarm }
    public var neutronAlarmActive: Bool { state != .empty && current.neutronAlarm }
    public var isOccupied: Bool { state != .empty }
    public var currentOccupancyStartUs: Int64? { state == .empty ? nil : current.startUs }
    /// The occupancy in progress: its most significant gamma and neutron windows so far (Q8 sigma; 0 when empty).
    public var currentGammaMaxSigmaQ8: Int64 { state == .empty || current.gammaMaxSigmaQ8 == Int64.min ? 0 : current.gammaMaxSigmaQ8 }
    public var currentNeutronMaxSigmaQ8: Int64 { state == .empty || current.neutronMaxSigmaQ8 == Int64.min ? 0 : current.neutronMaxSigmaQ8 }

    // MARK: inputs

    /// An occupancy beam edge. Returns the decision of an occupancy whose hold-in had already
    /// expired before this edge (the next sample would have closed it).
    public mutating func beamEdge(_ edge: BeamEdge) -> Decision? {
        guard edge.beam == 0 || edge.beam == 1 else { return nil }
        var e = edge
        if e.tUs > EngineSettings.timeUsMax { e.tUs = EngineSettings.timeUsMax }
        if e.tUs < 0 { e.tUs = 0 }
        var finished: Decision? = nil
        if state == .holdIn && e.tUs >= lastClearUs + settings.holdInUs {
            finished = finish(endUs: lastClearUs + settings.holdInUs, truncated: false)
        }
        if beamBlocked[e.beam] == e.blocked { return finished }  // repeated level: no edge
        beamBlocked[e.beam] = e.blocked
        if e.blocked {
            if state == .empty { begin(atUs: e.tUs) }
            state = .occupied
            if firstBlockUs[e.beam] < 0 { firstBlockUs[e.beam] = e.tUs }
            updateSpeed()
        } else if !beamBlocked[0] && !beamBlocked[1] && state == .occupied {
            state = .holdIn
            lastClearUs = e.tUs
        }
        return finished
    }

    /// One sample of counts. Returns the decision of an occupancy that ended before it.
    public mutating func sample(_ input: LaneSample) -> Decision? {
        // The input envelope (EngineSettings.countsPerSampleMax): a broken panel or a counter
        // reset can report billions of counts; the engine clamps rather than overflow.
        var s = input
        let top = EngineSettings.countsPerSampleMax
        for p in 0..<settings.panelCount {
            if s.gamma[p] > top { s.gamma[p] = top }
            if s.gammaLow[p] > s.gamma[p] { s.gammaLow[p] = s.gamma[p] }
            if s.neutron[p] > top { s.neutron[p] = top }
        }
        let k = settings.spectralWindowCount
        let withWindows = k >= 3 && s.windowCount == k
        if withWindows {
            for p in 0..<settings.panelCount {
                for w in 0..<k where s.windows[p * windowCountMax + w] > top { s.windows[p * windowCountMax + w] = top }
            }
        }
        let intervalMax = settings.sampleIntervalUs * 16
        if s.intervalUs > intervalMax { s.intervalUs = intervalMax }
        if s.tUs > EngineSettings.timeUsMax { s.tUs = EngineSettings.timeUsMax }
        if s.tUs < 0 { s.tUs = 0 }
        var finished: Decision? = nil
        if state == .holdIn && s.tUs >= lastClearUs + settings.holdInUs {
            finished = finish(endUs: lastClearUs + settings.holdInUs, truncated: false)
        }
        if state == .empty && !hardwareFaults.contains(.maintenance) {
            // (A `var` kept in memory: a `let` copy was copied again per element read, 4 x 70
            // instructions per sample in the Embedded build.)
            var before = withWindows ? background.panelSamples : InlineArray(repeating: 0)
            before[0] = before[0]
            background.learn(s, settings: settings, guards: &backgroundGuards)
            // The spectrum learns from the samples the background took, panel by panel.
            if withWindows {
                for p in 0..<settings.panelCount where background.panelSamples[p] != before[p] {
                    for w in 0..<k {
                        let i = p * windowCountMax + w
                        spectral.learn(index: i, normalizedQ16: Background.normalizedQ16(s.windows[i], intervalUs: s.intervalUs, nominalUs: settings.sampleIntervalUs),
                                       n: before[p], slowShift: settings.backgroundSlowShift)
                    }
                }
            }
        }
        // A panel without its own counts stands in its learned background (rounded counts over
        // the interval), so that the windows stay unbiased: a silent panel neither hides a
        // source by reading 0 nor raises an alarm by coming back.
        // While a vehicle shields the panels and the suppression estimate corrects the tests,
        // the expectation is the long average times that estimate: a stand-in is that, not the
        // unshielded background (which read as an excess of up to 18 sigma on a clean truck whose
        // panels went silent part-way through).
        let stand = s.absentMask | (state == .empty ? 0 : occNotReadyMask)
        if stand != 0 {
            let (r, high) = state == .occupied ? suppression() : (65_536, 0)
            for p in 0..<settings.panelCount where stand & (1 &<< u32(p)) != 0 {
                if high > 0 {
                    s.gamma[p] = standIn((background.gammaLongQ16[p] &>> 8) * r &>> 8, s.intervalUs)
                    s.gammaLow[p] = standIn((background.gammaLowLongQ16[p] &>> 8) * r &>> 8, s.intervalUs)
                } else {
                    s.gamma[p] = standIn(background.gammaPanelQ16(p), s.intervalUs)
                    s.gammaLow[p] = standIn(background.gammaLowPanelQ16(p), s.intervalUs)
                }
                s.neutron[p] = standIn(background.neutronPanelQ16(p), s.intervalUs)
                if withWindows {
                    // Its windows: the stand-in gamma spread as its empty-lane spectrum is.
                    var total: Int64 = 0
                    for w in 0..<k { total += spectral.longQ16[p * windowCountMax + w] }
                    for w in 0..<k {
                        let part = total > 0 ? i64(s.gamma[p]) * (spectral.longQ16[p * windowCountMax + w] &>> 8) / (total &>> 8 > 0 ? total &>> 8 : 1) : 0
                        s.windows[p * windowCountMax + w] = u32(part > 0 ? part : 0)
                    }
                }
            }
        }
        var entry = WindowEntry()
        for g in 0..<groupCount {
            let mask = groupMask[g]
            for p in 0..<settings.panelCount where mask & (1 &<< u32(p)) != 0 {
                entry.gamma[g] += i64(s.gamma[p])
                entry.gammaLow[g] += i64(s.gammaLow[p])
            }
        }
        for p in 0..<settings.panelCount {
            var n = i64(s.neutron[p])
            if settings.neutronBurstClip > 0 {
                let cap = ((background.neutronPanelQ16(p) + 65_535) &>> 16) + settings.neutronBurstClip
                if n > cap { n = cap }
            }
            entry.neutron += n
        }
        // Multi-window lanes only: a two-window lane builds no window entry on its tick.
        var spectrumEntry = SpectrumEntry()
        if k >= 3 {
            if withWindows {
                for p in 0..<settings.panelCount {
                    for w in 0..<k { spectrumEntry.spectrum[w] += i64(s.windows[p * windowCountMax + w]) }
                }
            } else {
                spectrumEntry.gaps = 1
            }
        }
        entry.intervalUs = s.intervalUs > 0 ? s.intervalUs : settings.sampleIntervalUs
        entry.shielded = state == .occupied ? 1 : 0
        ring.push(entry)
        if k >= 3 { spectrumRing.push(spectrumEntry) }
        lastSampleUs = s.tUs

        if state != .empty {
            current.samples += 1
            for p in 0..<settings.panelCount where stand & (1 &<< u32(p)) == 0 { occPresentSamples[p] += 1 }
            current.faults.insert(hardwareFaults)
            // The dwell integration and the suppression estimate take only the samples while a
            // beam is interrupted: in the hold-in the vehicle is leaving and shields less and less.
            // Past dwellSamplesMax the occupancy sums stop growing (the input envelope).
            let accumulate = entry.shielded == 1 && occShieldedSamples < EngineSettings.dwellSamplesMax
            occLastAccumulated = accumulate
            if accumulate {
                occShieldedSamples += 1
                occNeutron += entry.neutron
                occNeutronExpectedQ16 += scaled(bgNeutron, entry.intervalUs)
                if k >= 3 {
                    for w in 0..<k { occSpectrum[w] += spectrumEntry.spectrum[w] }
                    if spectrumEntry.gaps != 0 { occSpectrumComplete = false }
                }
            }
            for g in 0..<groupCount where accumulate {
                occGamma[g] += entry.gamma[g]
                occLow[g] += entry.gammaLow[g]
                occExpectedQ16[g] += scaled(bgGamma[g], entry.intervalUs)
                occLowExpectedQ16[g] += scaled(bgLow[g], entry.intervalUs)
                occShapeQ16[g] += scaled(shapeGamma[g], entry.intervalUs)
                occLowShapeQ16[g] += scaled(shapeLow[g], entry.intervalUs)
            }
            test()
        }
        return finished
    }

    /// A learned rate (Q16 per nominal interval) as whole counts over `intervalUs`, rounded.
    @inline(__always)
    func standIn(_ rateQ16: Int64, _ intervalUs: Int64) -> UInt32 {
        let c = (scaled(rateQ16, intervalUs) + 32_768) &>> 16
        return c <= 0 ? 0 : c >= i64(EngineSettings.countsPerSampleMax) ? EngineSettings.countsPerSampleMax : u32(c)
    }

    /// Takes a background learned before (kept on disk by the agent) as its own. Only while the
    /// lane is empty (the occupancy in progress keeps the background it began with).
    public mutating func restore(background b: Background) -> Bool {
        guard state == .empty else { return false }
        background = b
        backgroundGuards = BackgroundGuards()
        return true
    }

    /// Starts from what the lane learned of its NORM before (kept on disk beside the background).
    public mutating func restore(normLearner l: NormLearner) -> Bool {
        guard state == .empty else { return false }
        normLearner = l
        return true
    }

    /// Starts from what the lane learned of its vehicles' shielding before.
    public mutating func restore(shielding l: ShieldingLearner) -> Bool {
        guard state == .empty else { return false }
        shieldingLearner = l
        shieldingKappaQ16 = l.kappaQ16
        return true
    }

    /// Starts from what the lane learned for its spectral test before (multi-window panels).
    public mutating func restore(spectral s: SpectralState) -> Bool {
        guard state == .empty else { return false }
        spectral = s
        return true
    }

    /// The NORM rule the next occupancy would be judged by (fixed at its start as `normRule`).
    public var nextNormRule: NormRule {
        var copy = self
        return copy.normRuleNow()
    }

    /// `nextNormRule` for `begin` (mutating, though it changes nothing: a non-mutating read copied
    /// 42 KB of the engine in the Embedded build, 21 k instructions per occupancy; a static helper
    /// taking the engine `borrowing` copied it too, measured). The getter above copies the engine
    /// once to call it: it is read once a minute (heartbeat) and by the console.
    mutating func normRuleNow() -> NormRule {
        NormRule.current(settings, learner: normLearner, backgroundLowShareQ16: background.lowShareQ16(mask: groupMask[0], panelCount: settings.panelCount),
                         spectraTrusted: spectraTrusted)
    }

    /// Forgets panel p's learned background (see `Background.forget`).
    public mutating func forgetBackground(panel p: Int) {
        guard p >= 0 && p < settings.panelCount else { return }
        background.forget(panel: p)
        backgroundGuards.openSince = 0  // the open level kept for a dip held this panel's old one
        spectral.forget(panel: p)
    }

    /// Ends an occupancy still in progress when the input ends (the decision says truncated,
    /// unless its hold-in had expired by `atUs`).
    public mutating func finish(atUs t: Int64) -> Decision? {
        let atUs = t > EngineSettings.timeUsMax ? EngineSettings.timeUsMax : t < 0 ? 0 : t
        switch state {
        case .empty: return nil
        case .holdIn:
            let end = lastClearUs + settings.holdInUs
            return finish(endUs: end <= atUs ? end : atUs, truncated: end > atUs)
        case .occupied: return finish(endUs: atUs, truncated: true)
        }
    }

    // MARK: occupancy

    mutating func begin(atUs t: Int64) {
        occupancyCount &+= 1
        current = Decision()
        current.occupancy = occupancyCount
        current.startUs = t
        current.gammaWindowSamples = settings.gammaWindowSamples
        current.neutronWindowSamples = settings.neutronWindowSamples
        background.reopen(settings, guards: &backgroundGuards)  // a queue that outlasted the hold has ended: its truck is here
        for g in 0..<groupCountMax {
            bgGamma[g] = g < groupCount ? background.gammaSumQ16(mask: groupMask[g], panelCount: settings.panelCount) : 0
            bgLow[g] = g < groupCount ? background.gammaLowSumQ16(mask: groupMask[g], panelCount: settings.panelCount) : 0
            shapeGamma[g] = g < groupCount ? background.gammaLongSumQ16(mask: groupMask[g], panelCount: settings.panelCount) : 0
            shapeLow[g] = g < groupCount ? background.gammaLowLongSumQ16(mask: groupMask[g], panelCount: settings.panelCount) : 0
        }
        for g in 0..<groupCountMax { shapeCounts[g] = g < groupCount ? shapeCounts(group: g) : 0 }
        bgNeutron = background.neutronSumQ16(mask: groupMask[0], panelCount: settings.panelCount)
        normRule = normRuleNow()
        current.gammaBackgroundQ16 = bgGamma[0]
        current.faults = backgroundFaults()
        current.gammaMaxSigmaQ8 = Int64.min
        current.neutronMaxSigmaQ8 = Int64.min
        occNotReadyMask = 0
        for p in 0..<settings.panelCount where !background.isReady(panel: p, settings) { occNotReadyMask |= 1 &<< u32(p) }
        occPresentSamples = InlineArray(repeating: 0)
        firstBlockUs = [-1, -1]
        occGamma = [0, 0, 0]
        occLow = [0, 0, 0]
        occExpectedQ16 = [0, 0, 0]
        occLowExpectedQ16 = [0, 0, 0]
        occShapeQ16 = [0, 0, 0]
        occLowShapeQ16 = [0, 0, 0]
        occShieldedSamples = 0
        occLastAccumulated = false
        occNeutron = 0
        occNeutronExpectedQ16 = 0
        occKappaQ16 = shieldingKappaQ16
        occKappaSpreadQ16 = shieldingLearner.isReady ? shieldingLearner.kappaSpreadQ16 : 0
        beginSpectral()
    }

    mutating func finish(endUs: Int64, truncated: Bool) -> Decision {
        var d = current
        d.endUs = endUs
        d.truncated = truncated
        if d.gammaMaxSigmaQ8 == Int64.min { d.gammaMaxSigmaQ8 = 0 }
        // The panels that screened it: their own counts in at least half of its samples.
        d.panelsUsedMask = 0
        for p in 0..<settings.panelCount where d.samples > 0 && occPresentSamples[p] * 2 >= d.samples {
            d.panelsUsedMask |= 1 &<< u32(p)
        }
        d.notScreened = d.faults.contains(.backgroundNotReady) || d.panelsUsedMask == 0
        if d.neutronMaxSigmaQ8 == Int64.min { d.neutronMaxSigmaQ8 = 0 }
        // NORM suspicion only counts when nothing threat-like raised the alarm.
        if d.gammaAlarm { d.normSuspect = false }
        // A screened load whose gross count passed the threshold, without a neutron alarm: what
        // this lane's NORM looks like (at a seaport almost every such load is NORM; the 90th
        // percentile over hundreds of loads does not follow the rare threat). Strong loads count
        // too, whatever the ceiling: leaving out those over a 20-sigma ceiling would learn the
        // weak loads only.
        // A screened occupancy that raised nothing and stayed below the threshold (at a seaport:
        // a clean vehicle) tells how its shadow fell on the low window against the high one.
        if !d.notScreened && !d.truncated && !d.gammaAlarm && !d.neutronAlarm && !d.normSuspect
            && d.gammaMaxSigmaQ8 < settings.gammaSigmaQ8 && occShieldedSamples >= Self.shieldingSamplesMin {
            let k = settings.spectralWindowCount
            let (r, high) = suppression()
            // A NORM load under the threshold is no clean vehicle: on multi-window lanes its
            // spectrum leans towards the lane's NORM (ShieldingLearner.swift, "NORM under the threshold").
            if let z = normLikeZQ8(shadowQ16: 65_536 - r), z > ShieldingLearner.normLikeSigmaQ8 {
                shieldingNormLikeLeftOut &+= 1
            } else {
                if shieldingLearner.add(lowCounts: occLow[0], lowExpectedQ16: occLowShapeQ16[0], highCounts: occGamma[0] - occLow[0],
                                        highExpectedQ16: occShapeQ16[0] - occLowShapeQ16[0]) {
                    shieldingKappaQ16 = shieldingLearner.kappaQ16
                }
                // Multi-window panels: each window's fall against the fall R predicts for it.
                if k >= 3 && occSpectrumComplete && high > 0 {
                    var spectrum = occSpectrum, share = spectralBackgroundShareQ16
                    spectrum[0] = spectrum[0]; share[0] = share[0]  // (kept vars: in memory)
                    for w in 0..<k {
                        shieldingLearner.add(window: w, counts: spectrum[w], expectedQ16: ((occShapeQ16[0] &>> 8) * share[w]) &>> 8, suppressionQ16: r)
                    }
                }
            }
        }
        if !d.notScreened && !d.truncated && !d.neutronAlarm && d.gammaMaxSigmaQ8 > settings.learningSigmaQ8 {
            normLearner.add(shareQ16: d.gammaMaxLowShareQ16)
            if maxShapeValid && settings.spectralWindowCount >= 3 {
                spectral.learn(shape: maxShapeQ16, noiseQ32: maxNoiseQ32, windows: settings.spectralWindowCount)
            }
        }
        state = .empty
        beamBlocked = [false, false]
        return d
    }

    @inline(__always)
    public func backgroundFaults() -> Faults {
        var f = Faults()
        if !background.isReady(settings) { f.insert(.backgroundNotReady); return f }
        // Note: Swift's >> binds tighter than * and /, hence the parentheses.
        let cps = ((background.gammaSumQ16(mask: groupMask[0], panelCount: settings.panelCount) &>> 8)
            * 1_000_000 / settings.sampleIntervalUs) &>> 8
        if settings.gammaBackgroundHighCps > 0 && cps > settings.gammaBackgroundHighCps { f.insert(.backgroundHigh) }
        if settings.gammaBackgroundLowCps > 0 && cps < settings.gammaBackgroundLowCps { f.insert(.backgroundLow) }
        return f
    }

    /// Speed from the front edges: the time between beam 0 and beam 1 being first interrupted,
    /// taken from the edges' own timestamps (never the tick).
    mutating func updateSpeed() {
        guard firstBlockUs[0] >= 0, firstBlockUs[1] >= 0 else { return }
        let dt = firstBlockUs[1] - firstBlockUs[0]
        current.reverse = dt < 0
        let span = dt < 0 ? -dt : dt
        current.speedMmPerS = span == 0 ? nil : settings.beamSpacingMm * 1_000_000 / span
        // Speed compensation: the window covers the time the vehicle takes to travel the view length.
        if let v = current.speedMmPerS, v > 0, settings.viewLengthMm > 0 {
            var w = (settings.viewLengthMm * 1_000_000 / v + settings.sampleIntervalUs / 2) / settings.sampleIntervalUs
            if w < i64(settings.gammaWindowSamplesMin) { w = i64(settings.gammaWindowSamplesMin) }
            if w > i64(EngineSettings.windowSamplesMax) { w = i64(EngineSettings.windowSamplesMax) }
            current.gammaWindowSamples = int(w)
            current.gammaWindowFromSpeed = true
            let nw = current.gammaWindowSamples > settings.neutronWindowSamples ? current.gammaWindowSamples : settings.neutronWindowSamples
            current.neutronWindowSamples = nw
        }
    }

    // MARK: tests

    /// See `EngineSettings.scaled`.
    @inline(__always)
    func scaled(_ rateQ16: Int64, _ intervalUs: Int64) -> Int64 { settings.scaled(rateQ16, intervalUs) }

    /// Background suppression by the vehicle in the portal, Q16 (65536 = none), estimated from
    /// the high energy window over the occupancy so far (sources barely touch it; shielding lowers
    /// both windows alike). Never above 1: an excess in the high window is not shielding. Returns
    /// the high-window counts it rests on (0: too few to use, the factor is then 1).
    @inline(__always)
    func suppression(leavingOutHigh windowHigh: Int64 = 0, expectedQ16 windowExpected: Int64 = 0) -> (factorQ16: Int64, highCounts: Int64) {
        let high = occGamma[0] - occLow[0] - windowHigh
        let expected = occShapeQ16[0] - occLowShapeQ16[0] - windowExpected
        guard high >= settings.suppressionCountsMin, expected > 0 else { return (65_536, 0) }
        // R = high / (expected / 65536), Q16; shifted so that the dividend stays inside Int64.
        let r = high < (1 &<< 30) ? (high &<< 32) / expected : (high &<< 16) / (expected &>> 16 > 0 ? expected &>> 16 : 1)
        return (r < 65_536 ? r : 65_536, high)
    }

    /// The counts the learned background of `group` effectively averages (an exponential average
    /// weighs about 2 x its time constant of samples), for the uncertainty it adds to an
    /// uncorrected test (0: not counted).
    @inline(__always)
    func learnedCounts(group g: Int) -> Int64 {
        if !settings.backgroundUncertainty { return 0 }
        let perSample = bgGamma[g] &>> 16
        let window = i64(1) &<< i64(settings.backgroundShift + 1)
        let n = i64(background.samplesLearned) < window ? i64(background.samplesLearned) : window
        let counts = perSample * n
        return counts > 0 ? counts : 1
    }

    /// For a test the suppression estimate corrects, the expectation of group g is
    /// B'_g = H x b_g / h (H: the occupancy's high-window counts, b_g and h the learned rates of
    /// the group and of the lane's high window, from the long averages): its level is re-measured,
    /// but the learned ratio b_g / h is itself an estimate. With l_g, h_g the group's learned low and
    /// high rates, h_o the other panels' high rate and k the samples averaged (relative variance
    /// of a rate x: 1 / (x k)), the relative variance of b_g / h is
    ///     [l_g h^2 + h_g (h - b_g)^2 + h_o b_g^2] / (k b_g^2 h^2),
    /// returned as its inverse, "counts" N with relative variance 1/N (0: not counted). For the
    /// whole lane it is (l/b)^2 (1/N_low + 1/N_high). Rates are scaled to 13 bits first so that the
    /// fourth powers stay inside Int64. (Mutating, though it changes nothing: a non-mutating call
    /// copied 42 KB of the engine in the Embedded build, 21 k instructions per call.)
    mutating func shapeCounts(group g: Int) -> Int64 {
        if !settings.backgroundUncertainty { return 0 }
        let k = background.longSamples(settings)
        var sh: Int64 = 0
        while shapeGamma[0] &>> sh >= 8_192 { sh += 1 }
        let b = shapeGamma[g] &>> sh, l = shapeLow[g] &>> sh
        let hg = (shapeGamma[g] - shapeLow[g]) &>> sh
        let h = (shapeGamma[0] - shapeLow[0]) &>> sh
        let ho = h - hg > 0 ? h - hg : 0
        guard k > 0, b > 0, h > 0 else { return 1 }
        let d = h - b
        let den = l * h * h + hg * d * d + ho * b * b
        guard den > 0 else { return 0 }
        let ratioQ8 = ((b * b * h * h) &<< 8) / den  // a rate, in Q16 >> sh units, Q8
        // counts per sample = ratio x 2^sh / 2^16; N = k x that. A tiny denominator (a lane whose
        // learned spectrum is almost all high or all low) would overflow: N saturates at 2^40
        // counts (a relative variance of 10^-12, nothing), never traps.
        let cap: Int64 = 1 &<< 40
        let (product, overflow) = k.multipliedReportingOverflow(by: ratioQ8)
        if overflow { return cap }
        var n: Int64
        if sh >= 24 {
            if product > cap &>> (sh - 24) { return cap }
            n = product &<< (sh - 24)
        } else {
            n = product &>> (24 - sh)
        }
        if n > cap { n = cap }
        return n > 0 ? n : 1
    }

    /// Runs the gross-count tests (the speed window, and the whole occupancy when it is longer)
    /// on every group and the neutron test on the newest windows.
    mutating func test() {
        let (r, high) = suppression()
        current.suppressionQ16 = r
        let k = settings.spectralWindowCount
        let gw = ring.sum(window: current.gammaWindowSamples)
        if gw.samples == current.gammaWindowSamples {
            // The spectral test of the window (all panels), at the level group 0's test uses:
            // run by the first group whose excess passes the threshold.
            var spectralWindow: SpectralWindow? = nil
            let sw = k >= 3 ? spectrumRing.sum(window: current.gammaWindowSamples) : nil
            let windowsComplete = sw != nil && sw!.totals.gaps == 0 && sw!.samples == gw.samples
            if windowsComplete {
                let corrected = gw.shielded == i64(gw.samples) && high > 0
                let b0 = scaled(corrected ? shapeGamma[0] : bgGamma[0], gw.intervalUs)
                let tilt = corrected ? ShieldingLearner.correctionQ16(lowExpectedQ16: scaled(shapeLow[0], gw.intervalUs), suppressionQ16: r, kappaQ16: occKappaQ16) : 0
                spectralWindow = SpectralWindow(spectrum: sw!.totals.spectrum, expectedQ16: ((b0 &>> 8) * (corrected ? r : 65_536) &>> 8) + tilt,
                                                shadowQ16: corrected ? 65_536 - r : 0)
            }
            for g in 0..<groupCount {
                // Expected background over the window's actual length, Q16 counts.
                // Correct for suppression only when the vehicle shielded the panels for the whole
                // window: the correction must never lower the background below what it was.
                let corrected = gw.shielded == i64(gw.samples) && high > 0
                let b = scaled(corrected ? shapeGamma[g] : bgGamma[g], gw.intervalUs)
                let bLow = scaled(corrected ? shapeLow[g] : bgLow[g], gw.intervalUs)
                grossTest(group: g, counts: gw.gamma[g], low: gw.gammaLow[g], expectedQ16: b, lowExpectedQ16: bLow,
                          suppressionQ16: corrected ? r : 65_536, highCounts: corrected ? high : 0,
                          samples: gw.samples, learnedCounts: corrected ? shapeCounts[g] : learnedCounts(group: g), spectral: &spectralWindow)
            }
            // The hard-source test (multi-window panels, the spectral test on): the same window
            // against a shielding estimate that leaves the window's own counts out. A source's
            // high-window counts lie mostly inside the window that tests it: counted in the
            // estimate they raise it towards "no shielding", and the expected background with it,
            // so a hard source (Co-60) hid part of itself. Left out, the estimate has fewer counts
            // and no longer cancels the window's noise (a soft source is seen better with the
            // window in: the test above), so this one only feeds the spectral tests: an excess
            // over its threshold alarms when they find it threat-like (docs/DETECTION.md, "The
            // shielding estimate"). Not where the window's own test already passed its threshold
            // and had the spectral tests judge it (a NORM load's windows, mostly: half the cost).
            if windowsComplete && spectralOn && gw.shielded == i64(gw.samples) && occLastAccumulated && !current.gammaAlarm
                && !(spectralWindow?.computed ?? false) {
                hardSourceTest(window: gw, spectrum: sw!.totals.spectrum)
            }
            if windowsComplete && !current.gammaAlarm { matchedTest(&spectralWindow!) }
        }
        // The ceiling: a significance above which anything alarms, whatever its spectrum (Co-60 is
        // hard too). Held on the fixed default window, so that a long window over a distributed
        // NORM load does not reach it by length alone.
        let cw = ring.sum(window: settings.gammaWindowSamples)
        if cw.samples == settings.gammaWindowSamples {
            for g in 0..<groupCount {
                let b = scaled(bgGamma[g], cw.intervalUs)
                let sd = integerSquareRoot(b > 0 ? b : 1)
                let sigma = ((cw.gamma[g] &<< 16) - b) / sd
                if sigma > current.gammaCeilingSigmaQ8 { current.gammaCeilingSigmaQ8 = sigma }
                if sigma >= settings.gammaCeilingSigmaQ8 { current.gammaAlarm = true; current.gammaTests.insert(.ceiling) }
            }
        }
        if occShieldedSamples > current.gammaWindowSamples && settings.dwellIntegration {
            let corrected = high > 0
            var spectralWindow: SpectralWindow? = nil
            if k >= 3 && occSpectrumComplete {
                let b0 = corrected ? occShapeQ16[0] : occExpectedQ16[0]
                let tilt = corrected ? ShieldingLearner.correctionQ16(lowExpectedQ16: occLowShapeQ16[0], suppressionQ16: r, kappaQ16: occKappaQ16) : 0
                spectralWindow = SpectralWindow(spectrum: occSpectrum, expectedQ16: ((b0 &>> 8) * r &>> 8) + tilt, shadowQ16: corrected ? 65_536 - r : 0)
            }
            for g in 0..<groupCount {
                grossTest(group: g, counts: occGamma[g], low: occLow[g],
                          expectedQ16: corrected ? occShapeQ16[g] : occExpectedQ16[g],
                          lowExpectedQ16: corrected ? occLowShapeQ16[g] : occLowExpectedQ16[g], suppressionQ16: r, highCounts: high,
                          samples: occShieldedSamples,
                          learnedCounts: corrected ? shapeCounts[g] : learnedCounts(group: g), spectral: &spectralWindow)
            }
            if spectralWindow != nil && !current.gammaAlarm { matchedTest(&spectralWindow!) }
        }
        let nw = ring.sum(window: current.neutronWindowSamples)
        if nw.samples == current.neutronWindowSamples {
            let b = scaled(bgNeutron, nw.intervalUs)
            neutronTest(counts: nw.neutron, expectedQ16: b)
        }
        // The neutron dwell integration: the whole shielded part of the occupancy.
        if settings.dwellIntegration && occShieldedSamples > current.neutronWindowSamples {
            neutronTest(counts: occNeutron, expectedQ16: occNeutronExpectedQ16)
        }
    }

    /// The neutron test: C - B > n sqrt(V) + (n^2 - 1)/6 and C - B >= the minimum excess, with
    /// V = B (floored at one count, so a near-zero learned rate cannot alarm on a couple of counts)
    /// plus the learned background's own uncertainty over long windows; (n^2 - 1)/6 is the
    /// Poisson skewness correction.
    mutating func neutronTest(counts c: Int64, expectedQ16 b: Int64) {
        var variance = b > 65_536 ? b : 65_536
        if settings.backgroundUncertainty {
            let window = i64(1) &<< i64(settings.backgroundShift + 1)
            let learned = i64(background.samplesLearned) < window ? i64(background.samplesLearned) : window
            let perSample = bgNeutron
            // Relative variance of the learned rate: 1 / (counts averaged) = 65536 / (perSampleQ16 x n).
            let averagedQ16 = perSample * learned
            let averaged = averagedQ16 &>> 16 > 0 ? averagedQ16 &>> 16 : 1
            if averagedQ16 > 0 { variance += multiplySaturating(b &>> 8, (b / averaged) &>> 8) }
        }
        let sd = integerSquareRoot(variance)
        let excess = (c &<< 16) - b
        let sigma = excess / sd
        if sigma > current.neutronMaxSigmaQ8 {
            current.neutronMaxSigmaQ8 = sigma
            current.neutronMaxCounts = c
            current.neutronMaxBackgroundQ16 = b
        }
        // Poisson counts are skewed: at a few tens of counts the upper tail is far heavier than the
        // normal one. The Cornish-Fisher term (n^2 - 1) / 6 counts moves the threshold to the
        // Poisson quantile (n = 6: +5.8 counts; B = 28 counts: 65 instead of 60).
        let skewQ16 = (settings.neutronSigmaQ8 * settings.neutronSigmaQ8 - 65_536) / 6
        if excess > settings.neutronSigmaQ8 * sd + skewQ16 && excess >= settings.neutronExcessMin &<< 16 {
            current.neutronAlarm = true
        }
    }

    /// The hard-source test of the speed window `w` (all panels): its counts against the
    /// expectation with the shielding estimated from the occupancy's high-window counts outside
    /// it, V = B' + B'^2 / H_out + the learned ratio's uncertainty; over the threshold, the
    /// spectral tests judge the excess (only they: the two-window rule's tests are for soft
    /// sources, which the window's own test sees better).
    mutating func hardSourceTest(window w: RingSum<WindowEntry>, spectrum: InlineArray<16, Int64>) {
        let (r, high) = suppression(leavingOutHigh: w.gamma[0] - w.gammaLow[0],
                                    expectedQ16: scaled(shapeGamma[0], w.intervalUs) - scaled(shapeLow[0], w.intervalUs))
        guard high > 0 else { return }
        let b = ((scaled(shapeGamma[0], w.intervalUs) &>> 8) * r &>> 8)
            + ShieldingLearner.correctionQ16(lowExpectedQ16: scaled(shapeLow[0], w.intervalUs), suppressionQ16: r, kappaQ16: occKappaQ16)
        let threshold = b + settings.gammaSigmaQ8 * integerSquareRoot(variance(expectedQ16: b, suppressionQ16: r, highCounts: high,
                                                                               windowInEstimate: false, learnedCounts: shapeCounts[0],
                                                                               lowExpectedQ16: scaled(shapeLow[0], w.intervalUs)))
        guard (w.gamma[0] &<< 16) > threshold else { return }
        var window = SpectralWindow(spectrum: spectrum, expectedQ16: b, shadowQ16: 65_536 - r)
        evaluate(&window)
        if window.threat {
            current.gammaAlarm = true
            current.gammaTests.insert(window.directed ? .directed : .spectral)
        }
    }

    /// The variance of C - B' for a window of expected counts B' (Q16; R the suppression
    /// estimate it was scaled by, H the high-window counts the estimate rests on, 0: none):
    /// B' + B'^2 / H - 2 B'^2 / Bo' when the window's counts are in the estimate (the window's
    /// own tests), B' + B'^2 / H when they are left out (the hard-source test), never below B'/4
    /// with an estimate; plus B'^2 / N for the learned background's own uncertainty (N counts);
    /// plus, with an estimate, (B_low (1 - R) sd)^2 for the vehicle-to-vehicle spread of the
    /// shadow's kappa (`ShieldingLearner.kappaSpreadQ16`; B_low the unshielded low expectation).
    @inline(__always)
    func variance(expectedQ16 b: Int64, suppressionQ16 r: Int64, highCounts high: Int64, windowInEstimate: Bool, learnedCounts: Int64,
                  lowExpectedQ16 bLow: Int64 = 0) -> Int64 {
        var v = b > 0 ? b : 1
        if high > 0 {
            // B'^2 / H and 2 B'^2 / Bo' as B' x (B' / H): never squared whole, so that a long
            // dwell at a high rate stays inside Int64 (Q16 throughout).
            v += multiplySaturating(b &>> 8, (b / high) &>> 8)
            if windowInEstimate {
                let occupancyExpected = ((occShapeQ16[0] &>> 8) * r &>> 8) &>> 16  // counts, all panels
                if occupancyExpected > 0 { v -= 2 * multiplySaturating(b &>> 8, (b / occupancyExpected) &>> 8) }
            }
            if v < (b > 0 ? b : 1) / 4 { v = (b > 0 ? b : 1) / 4 }  // guard: never below B/4
            if occKappaSpreadQ16 > 0 {
                let t = ShieldingLearner.correctionSpreadQ16(lowExpectedQ16: bLow, suppressionQ16: r, spreadQ16: occKappaSpreadQ16) &>> 8  // Q8
                v += multiplySaturating(t, t)
            }
        }
        // The learned background is itself an estimate: its relative variance is 1 / (the counts
        // it averaged), and a window of B counts carries B^2 times that.
        if learnedCounts > 0 { v += multiplySaturating(b &>> 8, (b / learnedCounts) &>> 8) }
        return v
    }

    /// One gross-count test: C > B' + n sqrt(V), where B' = B x R (R the suppression estimate)
    /// and V the variance of C - B' when R comes from the occupancy's high-window counts H over
    /// samples that include the window's (Poisson, first order):
    ///     V = B' + B'^2 / H - 2 B'^2 / Bo',
    /// Bo' the occupancy's corrected expected counts (the window's high counts are part of H, so
    /// their noise partly cancels; `variance`). Without an estimate (H = 0) V = B'.
    /// An excess over threshold raises the gamma alarm when threat-like (low-window share of the
    /// excess at least `normLowShareMin`, or the surplus test), else NORM suspicion; the ceiling
    /// is tested apart, in `test()`.
    mutating func grossTest(group g: Int, counts c: Int64, low: Int64, expectedQ16 b0: Int64, lowExpectedQ16 bLow0: Int64,
                            suppressionQ16 r: Int64, highCounts high: Int64, samples: Int, learnedCounts: Int64,
                            spectral: inout SpectralWindow?) {
        // Under an estimated shielding the low window's expectation is B_low (1 - kappa (1 - R)):
        // R plus the learned tilt's correction (0 until learned, or with R at 1).
        let tilt = high > 0 ? ShieldingLearner.correctionQ16(lowExpectedQ16: bLow0, suppressionQ16: r, kappaQ16: occKappaQ16) : 0
        let b = ((b0 &>> 8) * r &>> 8) + tilt
        let bLow = ((bLow0 &>> 8) * r &>> 8) + tilt
        let sd = integerSquareRoot(variance(expectedQ16: b, suppressionQ16: r, highCounts: high, windowInEstimate: true,
                                            learnedCounts: learnedCounts, lowExpectedQ16: bLow0))  // Q8
        let threshold = b + settings.gammaSigmaQ8 * sd
        let excess = (c &<< 16) - b
        let sigma = excess / sd
        if g == 0 && spectral != nil {
            // What the expected level's own variance rests on, for the matched test (all panels).
            spectral!.levelSuppressionQ16 = r
            spectral!.levelHighCounts = high
            spectral!.levelLearnedCounts = learnedCounts
            spectral!.levelLowExpectedQ16 = bLow0
        }
        let lowExcess = (low &<< 16) - bLow
        let lowPart = lowExcess > 0 ? lowExcess : 0
        let lowShare = excess <= 0 ? 0 : lowPart < (1 &<< 46) ? lowPart * 65_536 / excess : lowPart / (excess &>> 16 > 0 ? excess &>> 16 : 1)
        if sigma > current.gammaMaxSigmaQ8 {
            current.gammaMaxSigmaQ8 = sigma
            current.gammaMaxGroup = g
            current.gammaMaxCounts = c
            current.gammaMaxBackgroundQ16 = b
            current.gammaMaxThresholdQ16 = threshold
            current.gammaMaxLowShareQ16 = lowShare
            current.gammaMaxWindowSamples = samples
            // The shape the learner takes if this stays the most significant window: only for
            // an excess over the learning significance (`learningSigmaQ8`: n unless learnSigma
            // sets it higher; the learner takes no other).
            maxShapeValid = false
            if (c &<< 16) > b + settings.learningSigmaQ8 * sd, spectral != nil {
                evaluate(&spectral!)
                maxShapeQ16 = spectral!.shape
                maxNoiseQ32 = spectral!.noiseQ32
                maxShapeValid = true
            }
        }
        if (c &<< 16) > threshold {
            // The two-window rule (off: every excess is threat-like) ... Off only because the
            // check source's share lies within `NormRule.separationMinQ16` of the lane's NORM
            // (`NormRule.tooClose`), it still runs where the spectral tests with the check
            // sources' shapes stand behind it (multi-window panels): two windows alone cannot
            // tell a Cs-137 source from this lane's NORM, the K windows can (the directed test
            // looks for the source's shape in every load the rule takes for NORM). The
            // shadow-free check source of 2026-12-05 left m2 of seed 2 with its rule off and 24 %
            // more NORM alarms than the baseline (docs/DETECTION.md, "A lane whose two windows
            // cannot separate").
            let ruleOn = normRule.on || (normRule.tooClose && spectralOn && settings.spectralThreatShapeCount > 0 && spectral != nil)
            var threatLike = !ruleOn || lowShare >= normRule.lowShareMinQ16
            var test: GammaTests = !ruleOn ? .gross : .share
            if threatLike && ruleOn && settings.spectralThreatShapeCount > 0 && spectralNormShareChi2Q16 >= 0 && spectralOn
                && spectral != nil
            {
                // Multi-window panels with the check sources' shapes: an excess softer than the
                // share limit whose whole shape a NORM bin explains as well as chi^2 expects, and
                // in which neither spectral test finds a source (the directed test: no check
                // source's shape inside it), is one of the lane's softest NORM loads (heavy cargo
                // scatter). Without the shapes the share test is never overruled: the omnibus
                // test alone let strong soft sources pass (a bin's spread makes it scale-free).
                if confidentNorm(&spectral!, chi2LimitQ16: spectralNormShareChi2Q16) { threatLike = false }
            }
            if !threatLike && settings.normTestSigmaQ8 > 0 {
                test = .surplus
                // Surplus of low-window counts over the NORM hypothesis.
                threatLike = Self.surplusExceeds(lowExcess: lowExcess, excess: excess, low: low, counts: c,
                                                 shareQ16: normRule.shareMaxQ16, sigmaQ8: settings.normTestSigmaQ8)
                if threatLike && spectralOn && spectral != nil {
                    // Multi-window panels: a surplus of low counts over the NORM hypothesis whose
                    // whole shape a NORM bin explains as well as chi^2 expects (at or below its
                    // mean), and in which neither spectral test finds a source nor the directed
                    // test a hint of one (`confidentNorm`), is one of the lane's softer NORM
                    // loads, not a threat.
                    if confidentNorm(&spectral!, chi2LimitQ16: spectralNormChi2Q16) { threatLike = false }
                }
            }
            if !threatLike && spectralOn && spectral != nil {
                // ... and, where it takes the excess for NORM, the spectral test (multi-window
                // panels, Spectral.swift). It only adds: alone it let strong soft sources pass
                // in 4 of 8 members (a bin's learned spread makes chi^2 scale-free for strong
                // sources), while the two-window rule at 600 keV catches them everywhere.
                evaluate(&spectral!)
                threatLike = spectral!.threat
                test = spectral!.directed ? .directed : .spectral
            }
            if threatLike { current.gammaAlarm = true; current.gammaTests.insert(test) } else { current.normSuspect = true }
        }
    }
}
