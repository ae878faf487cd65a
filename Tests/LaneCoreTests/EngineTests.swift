// Proves the engine's pieces on hand-made inputs: background gating and warm-up, the occupancy
// state machine (hold-in, hitch gap, repeated levels), speed from edge timestamps, the gross-count
// test with its threshold, NORM discrimination and the neutron test.

import LaneCore
import Testing

/// A lane with a steady background: `cps` per panel, `lowShare` in the low window, exact counts
/// (no noise), so every threshold can be computed by hand.
struct FlatLane {
    var engine: LaneEngine
    var t: Int64 = 0
    var cps: UInt32 = 400
    var lowPercent: UInt32 = 55
    var neutronPerSample: UInt32 = 0
    /// Panels left out of every sample (silent or faulted), with 0 counts.
    var absentMask: UInt32 = 0
    var decisions: [Decision] = []

    init(settings: EngineSettings = EngineSettings()) { engine = LaneEngine(settings: settings) }

    /// The classic fixed-window test alone: no suppression estimate, no dwell integration, no
    /// speed window, so thresholds can be computed by hand.
    static var classic: EngineSettings {
        var s = EngineSettings()
        s.suppressionCountsMin = Int64.max
        s.dwellIntegration = false
        s.viewLengthMm = 0
        s.backgroundUncertainty = false
        s.normDiscrimination = true  // commissioned for these flat spectra (off by default)
        s.gammaCeilingSigmaQ8 = 35 * 256  // a site that raised the ceiling (the default is 20)
        return s
    }

    mutating func tick(extraGamma: UInt32 = 0, extraLowPercent: UInt32 = 80, extraNeutron: UInt32 = 0) {
        t += 100_000
        var s = LaneSample(tUs: t, intervalUs: 100_000)
        for p in 0..<4 {
            let g = cps / 10 + extraGamma
            s.gamma[p] = g
            s.gammaLow[p] = cps / 10 * lowPercent / 100 + extraGamma * extraLowPercent / 100
            s.neutron[p] = neutronPerSample + extraNeutron
            if absentMask & (1 << UInt32(p)) != 0 { s.gamma[p] = 0; s.gammaLow[p] = 0; s.neutron[p] = 0 }
        }
        s.absentMask = absentMask
        if let d = engine.sample(s) { decisions.append(d) }
    }

    mutating func ticks(_ n: Int, extraGamma: UInt32 = 0, extraLowPercent: UInt32 = 80, extraNeutron: UInt32 = 0) {
        for _ in 0..<n { tick(extraGamma: extraGamma, extraLowPercent: extraLowPercent, extraNeutron: extraNeutron) }
    }

    /// After `learn` samples (30 s) of empty lane, a vehicle breaks both beams and stands there for
    /// `samples` samples whose counts per panel `counts(i)` gives (gamma, low), then leaves;
    /// returns the decision once the hold-in is over.
    static func standing(_ settings: EngineSettings, samples: Int, learn: Int = 300, cps: UInt32 = 400,
                         counts: (Int) -> (gamma: UInt32, low: UInt32)) -> Decision {
        var lane = FlatLane(settings: settings)
        lane.cps = cps
        lane.ticks(learn)
        lane.edge(0, true, at: lane.t + 1)
        lane.edge(1, true, at: lane.t + 680_000)
        for i in 0..<samples {
            lane.t += 100_000
            var s = LaneSample(tUs: lane.t, intervalUs: 100_000)
            let c = counts(i)
            for p in 0..<4 {
                s.gamma[p] = c.gamma
                s.gammaLow[p] = c.low
            }
            _ = lane.engine.sample(s)
        }
        lane.edge(0, false, at: lane.t + 1)
        lane.edge(1, false, at: lane.t + 2)
        lane.ticks(25)  // the hold-in: the vehicle has gone, the background is back to normal
        return lane.decisions[0]
    }

    /// A 1.5 s occupancy on beam 0 over the classic test, with `extra` counts per panel per
    /// sample of which `lowPercent` in the low window.
    static func excess(_ settings: EngineSettings = FlatLane.classic, extra: UInt32, lowPercent: UInt32) -> Decision {
        var lane = FlatLane(settings: settings)
        lane.ticks(300)
        lane.edge(0, true, at: lane.t + 1)
        lane.ticks(15, extraGamma: extra, extraLowPercent: lowPercent)
        lane.edge(0, false, at: lane.t + 1)
        lane.ticks(25)
        return lane.decisions[0]
    }

    mutating func edge(_ beam: Int, _ blocked: Bool, at us: Int64) {
        if let d = engine.beamEdge(BeamEdge(tUs: us, beam: beam, blocked: blocked)) { decisions.append(d) }
    }

    /// A vehicle passing both beams at `speedMmPerS`, `lengthMm` long, starting now.
    mutating func pass(speedMmPerS: Int64, lengthMm: Int64 = 16_000, spacingMm: Int64 = 1_500) -> (start: Int64, end: Int64) {
        let t0 = t + 50_000
        let dt1 = spacingMm * 1_000_000 / speedMmPerS
        let dur = lengthMm * 1_000_000 / speedMmPerS
        edge(0, true, at: t0)
        // Advance through the passage, applying edges in time order.
        var pending: [(Int64, Int, Bool)] = [(t0 + dt1, 1, true), (t0 + dur, 0, false), (t0 + dt1 + dur, 1, false)]
        while !pending.isEmpty {
            let next = pending.removeFirst()
            while t + 100_000 <= next.0 { tick() }
            edge(next.1, next.2, at: next.0)
        }
        return (t0, t0 + dt1 + dur)
    }
}

@Suite struct BackgroundTests {
    @Test("background is learned exactly from a flat empty lane and is ready after the ready count")
    func learnsFlatBackground() {
        var lane = FlatLane()
        lane.ticks(19)
        #expect(!lane.engine.background.isReady(lane.engine.settings))
        lane.ticks(300)
        #expect(lane.engine.background.isReady(lane.engine.settings))
        // 400 cps per panel = 40 counts per 100 ms sample, in Q16.
        #expect(lane.engine.background.gammaQ16[0] == 40 << 16)
        #expect(lane.engine.background.gammaLowQ16[0] == 22 << 16)
    }

    @Test("background is frozen during an occupancy and its hold-in, and learned again after")
    func frozenWhileOccupied() {
        var lane = FlatLane()
        lane.ticks(200)
        let before = lane.engine.background.gammaQ16[0]
        lane.edge(0, true, at: lane.t + 10)
        lane.ticks(50, extraGamma: 100)  // a strong source in the portal
        #expect(lane.engine.background.gammaQ16[0] == before)
        lane.edge(0, false, at: lane.t + 10)
        lane.ticks(19, extraGamma: 100)  // still inside the 2 s hold-in
        #expect(lane.engine.background.gammaQ16[0] == before)
        lane.ticks(5)
        #expect(lane.decisions.count == 1)
        #expect(lane.engine.background.gammaQ16[0] == before)  // flat again: nothing to learn
        lane.ticks(5, extraGamma: 10)
        #expect(lane.engine.background.gammaQ16[0] > before)
    }

    @Test("a queued vehicle's dip: the fast average follows it, the slow one holds until the dip has lasted backgroundHoldMaxSamples, then learns it")
    func slowHoldsThroughDip() {
        var settings = EngineSettings()
        settings.backgroundHoldMaxSamples = 1_000
        var lane = FlatLane(settings: settings)
        lane.ticks(2_000)
        #expect(lane.engine.background.gammaSlowQ16[0] == 40 << 16)
        lane.cps = 340  // a vehicle waiting next to the portal shields 15 %
        lane.ticks(900)
        let bg = lane.engine.background
        #expect(bg.gammaQ16[0] < 35 << 16)  // the fast average has followed the dip
        #expect(bg.gammaSlowQ16[0] > 39 << 16)  // the slow one held (a few samples learned before the 3 % drop showed)
        // The fast average shows the 3 % drop after ~57 samples (time constant 256).
        #expect(bg.slowHeldTotal > 800 && bg.slowHeldRun == bg.slowHeldTotal)
        lane.ticks(600)  // the dip outlasts the hold: the slow average learns it
        #expect(lane.engine.background.gammaSlowQ16[0] < 39 << 16)
        #expect(lane.engine.background.slowHeldTotal == 1_000)
        lane.cps = 400  // the vehicle leaves: the run ends
        lane.ticks(300)
        #expect(lane.engine.background.slowHeldRun == 0)
    }

    @Test("a vehicle that comes to wait by the portal inside the warm-up: the fast and slow averages keep the open lane (the warm-up's hold, then the hold), the long ones learn the dip, and the open lane it leaves behind is no excess")
    func warmupHoldsThroughDip() {
        var lane = FlatLane()
        lane.ticks(35)  // ready (20 samples), still inside the 64-sample warm-up
        lane.cps = 280  // a truck queued by the portal shades 30 % for five minutes
        lane.ticks(29)  // the rest of the warm-up: counted, the fast and slow averages keep the open lane
        var bg = lane.engine.background
        #expect(bg.gammaQ16[0] == 40 << 16 && bg.gammaSlowQ16[0] == 40 << 16 && bg.samplesLearned == 64 && bg.slowHeldTotal == 29)
        #expect(bg.gammaLongQ16[0] < 35 << 16)  // the shape's average learns the dip
        lane.ticks(2_971)
        bg = lane.engine.background
        #expect(bg.gammaQ16[0] < 29 << 16)  // after the warm-up the fast average follows the dip ...
        #expect(bg.gammaSlowQ16[0] > 39 << 16)  // ... and the slow one holds (a few samples learned before the 3 % drop showed)
        lane.cps = 290  // it drives in (its own shadow), leaves, and the open lane it leaves is no excess
        _ = lane.pass(speedMmPerS: 2_200)
        lane.cps = 400
        lane.ticks(30)
        #expect(lane.decisions.count == 1 && !lane.decisions[0].gammaAlarm, "\(lane.decisions.map { $0.gammaMaxSigmaQ8 / 256 })")
    }

    @Test("a queue that outlasts the hold: the dip is learned, and the open lane's level comes back at once when the waiting truck drives in (no false alarm) or when the lane opens while empty; forgotten after an hour")
    func openLaneReturns() {
        var settings = EngineSettings()
        settings.backgroundHoldMaxSamples = 1_000
        func queued() -> FlatLane {
            var lane = FlatLane(settings: settings)
            lane.ticks(2_000)
            lane.cps = 280  // a truck waits by the portal, shading 30 %, for longer than the hold
            lane.ticks(3_000)
            #expect(lane.engine.background.gammaSlowQ16[0] < 35 << 16 && lane.engine.background.gammaQ16[0] < 29 << 16)
            return lane
        }
        // It drives in (its own shadow), leaves, and the open lane it leaves is no excess.
        var lane = queued()
        lane.cps = 290
        _ = lane.pass(speedMmPerS: 2_200)
        lane.cps = 400
        lane.ticks(30)
        #expect(lane.decisions.count == 1 && !lane.decisions[0].gammaAlarm, "\(lane.decisions.map { $0.gammaMaxSigmaQ8 / 256 })")
        #expect(lane.engine.background.gammaQ16[0] > 39 << 16)
        // The queue clears with the lane empty: back within two seconds.
        var empty = queued()
        empty.cps = 400
        empty.ticks(20)
        #expect(empty.engine.background.gammaQ16[0] > 39 << 16 && empty.engine.background.gammaSlowQ16[0] > 39 << 16)
        // A drop that lasts an hour is real: a later rise to the old level is not taken for the open lane.
        var dropped = queued()
        dropped.ticks(36_100)
        dropped.cps = 400
        dropped.ticks(20)
        #expect(dropped.engine.background.gammaSlowQ16[0] < 30 << 16)
        // A real drop with traffic: each truck that drives in brings the open level back for its
        // occupancy, the hold runs again after it, and once the memory is an hour of empty lane
        // old the drop is learned for good.
        var busy = queued()
        for _ in 0..<20 {  // a truck every 5 minutes for 100 minutes, the lane staying low
            _ = busy.pass(speedMmPerS: 2_200)
            busy.ticks(3_000)
        }
        #expect(busy.decisions.count == 20 && busy.decisions.allSatisfy { !$0.gammaAlarm })
        #expect(busy.engine.background.gammaSlowQ16[0] < 30 << 16 && busy.engine.background.gammaQ16[0] < 29 << 16)
    }

    @Test("the learning gate: one wild empty-lane sample is not learned; a 20 % step is learned at once; a tripled background is learned after 30 s of gated samples")
    func learningGate() {
        var lane = FlatLane()
        lane.ticks(600)
        let before = lane.engine.background.gammaQ16[0]
        lane.cps = 50_000  // one broken reading (or a source passing in the next lane)
        lane.ticks(1)
        #expect(lane.engine.background.gammaQ16[0] == before && lane.engine.gatedSamples == 1)
        lane.cps = 480  // +20 %: 32 counts over 160 per sample, far under 10 sd + 10
        lane.ticks(1)
        #expect(lane.engine.background.gammaQ16[0] > before && lane.engine.gatedSamples == 1)
        lane.cps = 1_200  // tripled and staying: gated for 300 samples, then learned
        lane.ticks(300)
        let held = lane.engine.background.gammaQ16[0]
        #expect(lane.engine.gatedSamples == 301 && held < 49 << 16)
        lane.ticks(100)
        #expect(lane.engine.background.gammaQ16[0] > held + (10 << 16))
    }

    @Test("the long averages are the plain mean of every empty-lane sample until 2^backgroundSlowShift of them")
    func longAverageIsMean() {
        var lane = FlatLane()
        lane.ticks(100)
        lane.cps = 500
        lane.ticks(100)
        // 100 samples of 40 and 100 of 50 counts: mean 45 (the running mean truncates each step:
        // within a thousandth of a count).
        #expect(abs(lane.engine.background.gammaLongQ16[0] - 45 << 16) < 66)
        #expect(lane.engine.background.longSamples(lane.engine.settings) == 200)
    }

    @Test("an absent panel learns nothing (a silent panel must not teach a zero background) while the others go on learning")
    func absentPanelLearnsNothing() {
        var lane = FlatLane()
        lane.ticks(200)
        let before = lane.engine.background.gammaQ16[0]
        let learnedBefore = lane.engine.background.panelSamples[1]
        lane.absentMask = 1  // panel 0 silent
        lane.cps = 600
        lane.ticks(100)
        #expect(lane.engine.background.gammaQ16[0] == before)
        #expect(lane.engine.background.panelSamples[0] == 200)
        #expect(lane.engine.background.panelSamples[1] == learnedBefore + 100)
        #expect(lane.engine.background.gammaQ16[1] > before, "the healthy panels learned the new level")
    }

    @Test("maintenance (a lane-wide fault) stops all learning")
    func maintenanceStopsLearning() {
        var lane = FlatLane()
        lane.ticks(200)
        let before = lane.engine.background.gammaQ16[1]
        lane.engine.hardwareFaults = .maintenance
        lane.cps = 0
        lane.ticks(100)
        #expect(lane.engine.background.gammaQ16[1] == before)
    }
}

@Suite struct ScreeningTests {
    @Test("an occupancy with every panel absent is 'not screened', never clear; with panels it names the panels used")
    func notScreened() {
        var lane = FlatLane()
        lane.ticks(300)
        lane.absentMask = 0b1111
        _ = lane.pass(speedMmPerS: 2_200)
        lane.ticks(30)
        #expect(lane.decisions.count == 1)
        #expect(lane.decisions[0].notScreened)
        #expect(lane.decisions[0].panelsUsedMask == 0)
        #expect(!lane.decisions[0].gammaAlarm)
        lane.absentMask = 0b0100
        _ = lane.pass(speedMmPerS: 2_200)
        lane.ticks(30)
        #expect(lane.decisions.count == 2)
        #expect(!lane.decisions[1].notScreened)
        #expect(lane.decisions[1].panelsUsedMask == 0b1011)
    }

    @Test("a panel whose background was never learned stands in and does not count as used; the decision before the background is ready is not screened")
    func notReady() {
        var lane = FlatLane()
        lane.ticks(5)
        _ = lane.pass(speedMmPerS: 2_200)
        lane.ticks(30)
        #expect(lane.decisions.count == 1)
        #expect(lane.decisions[0].notScreened)
        #expect(!lane.decisions[0].gammaAlarm && !lane.decisions[0].neutronAlarm)
    }

    @Test("a source next to a lane with one panel absent still alarms on the other panels; the absent panel's return raises nothing")
    func absentPanelKeepsScreening() {
        var lane = FlatLane()
        lane.ticks(300)
        lane.absentMask = 0b0001
        lane.ticks(50)
        lane.absentMask = 0
        lane.ticks(50)  // the panel is back: no occupancy, no alarm
        #expect(lane.decisions.isEmpty)
        // A source beside panels 1-3 while panel 0 is silent: the excess is found by the others,
        // and panel 0 stands in its background (it neither hides nor adds anything).
        lane.absentMask = 0b0001
        lane.edge(0, true, at: lane.t + 1)
        lane.ticks(15, extraGamma: 30, extraLowPercent: 80)
        lane.edge(0, false, at: lane.t + 1)
        lane.ticks(25)
        #expect(lane.decisions.count == 1)
        #expect(lane.decisions[0].gammaAlarm)
        #expect(lane.decisions[0].panelsUsedMask == 0b1110)
    }

    @Test("a lane that starts with a parked vehicle in it (beams blocked from the first sample) raises no alarm and decides it not screened")
    func startsOccupied() {
        var lane = FlatLane()
        lane.cps = 2_000
        lane.neutronPerSample = 1
        lane.edge(0, true, at: 1)
        lane.edge(1, true, at: 2)
        lane.ticks(600)  // 60 s parked, counting
        lane.edge(0, false, at: lane.t + 1)
        lane.edge(1, false, at: lane.t + 2)
        lane.ticks(40)
        #expect(lane.decisions.count == 1)
        if let d = lane.decisions.first {
            #expect(!d.gammaAlarm && !d.neutronAlarm)
            #expect(d.notScreened && d.faults.contains(.backgroundNotReady))
        }
    }

    @Test("a panel absent while a vehicle shields the others by 30 % stands in the shielded expectation: a clean vehicle stays under 5 sigma (it reached 9)")
    func standInUnderShielding() {
        var lane = FlatLane()
        lane.cps = 2_000
        lane.ticks(300)
        lane.edge(0, true, at: lane.t + 1)
        lane.edge(1, true, at: lane.t + 680_000)
        lane.cps = 1_400
        lane.absentMask = 0b1000
        lane.ticks(80)
        lane.edge(0, false, at: lane.t + 1)
        lane.edge(1, false, at: lane.t + 680_000)
        lane.ticks(40)
        #expect(lane.decisions.count == 1)
        if let d = lane.decisions.first {
            #expect(d.gammaMaxSigmaQ8 < 5 * 256 && !d.gammaAlarm && !d.normSuspect, "sigma \(Double(d.gammaMaxSigmaQ8) / 256)")
            #expect(d.panelsUsedMask == 0b0111)
        }
    }

    @Test("edge and sample times near 2^63 are clamped into the input envelope instead of trapping")
    func hugeTimes() {
        var e = LaneEngine(settings: EngineSettings())
        _ = e.beamEdge(BeamEdge(tUs: Int64.max - 5, beam: 0, blocked: true))
        _ = e.beamEdge(BeamEdge(tUs: Int64.max, beam: 0, blocked: false))
        var s = LaneSample(tUs: Int64.max, intervalUs: 100_000)
        s.gamma[0] = 5
        _ = e.sample(s)
        _ = e.beamEdge(BeamEdge(tUs: Int64.min, beam: 1, blocked: true))
        let d = e.finish(atUs: Int64.max)
        #expect(d != nil)
    }
}

@Suite struct OccupancyTests {
    @Test("one vehicle gives one decision whose end is the last clear plus the hold-in")
    func holdIn() {
        var lane = FlatLane()
        lane.ticks(100)
        let (start, lastClear) = lane.pass(speedMmPerS: 2_200)
        lane.ticks(25)
        #expect(lane.decisions.count == 1)
        #expect(lane.decisions[0].startUs == start)
        #expect(lane.decisions[0].endUs == lastClear + 2_000_000)
        #expect(!lane.decisions[0].truncated)
    }

    @Test("a hitch gap that clears both beams for less than the hold-in does not split the vehicle")
    func hitchGap() {
        var lane = FlatLane()
        lane.ticks(100)
        let t0 = lane.t + 10_000
        lane.edge(0, true, at: t0)
        lane.edge(1, true, at: t0 + 680_000)
        lane.ticks(30)
        lane.edge(0, false, at: lane.t + 1)
        lane.edge(1, false, at: lane.t + 2)    // cab gone: both beams clear
        lane.ticks(8)                           // 0.8 s gap
        lane.edge(0, true, at: lane.t + 1)      // trailer
        lane.edge(1, true, at: lane.t + 600_000)
        lane.ticks(60)
        lane.edge(0, false, at: lane.t + 1)
        lane.edge(1, false, at: lane.t + 2)
        lane.ticks(25)
        #expect(lane.decisions.count == 1)
        let expected: Int64 = 1_500 * 1_000_000 / 680_000
        #expect(lane.decisions[0].speedMmPerS == expected)
    }

    @Test("a clear longer than the hold-in ends the occupancy; the next break starts a new one")
    func twoVehicles() {
        var lane = FlatLane()
        lane.ticks(100)
        _ = lane.pass(speedMmPerS: 3_000)
        lane.ticks(30)
        _ = lane.pass(speedMmPerS: 3_000)
        lane.ticks(30)
        #expect(lane.decisions.map(\.occupancy) == [1, 2])
    }

    @Test("a beam break after the hold-in expired, before the next sample, closes the old occupancy first")
    func breakAfterExpiry() {
        var lane = FlatLane()
        lane.ticks(100)
        lane.edge(0, true, at: lane.t + 1)
        lane.ticks(5)
        lane.edge(0, false, at: lane.t + 1)
        let clear = lane.t + 1
        lane.ticks(19)
        lane.edge(0, true, at: clear + 2_000_000)  // exactly at the end of the hold-in
        #expect(lane.decisions.count == 1)
        #expect(lane.decisions[0].endUs == clear + 2_000_000)
        #expect(lane.engine.isOccupied)
    }

    @Test("repeated levels are not edges; an unknown beam is ignored")
    func repeatedLevels() {
        var lane = FlatLane()
        lane.ticks(100)
        lane.edge(0, false, at: lane.t)
        lane.edge(2, true, at: lane.t)
        #expect(!lane.engine.isOccupied)
        lane.edge(0, true, at: lane.t + 1)
        lane.edge(0, true, at: lane.t + 2)
        #expect(lane.engine.occupancyCount == 1)
    }

    @Test("input that ends inside an occupancy gives a truncated decision")
    func truncated() {
        var lane = FlatLane()
        lane.ticks(100)
        lane.edge(0, true, at: lane.t + 1)
        lane.ticks(10)
        let d = lane.engine.finish(atUs: lane.t)
        #expect(d?.truncated == true && d?.endUs == lane.t)
    }
}

@Suite struct SpeedTests {
    @Test("speed comes from the edge timestamps, not the tick, within 1 mm/s at 0.5 to 30 m/s")
    func speedFromEdges() {
        for mmPerS: Int64 in [500, 1_000, 2_200, 4_500, 30_000] {
            var lane = FlatLane()
            lane.ticks(100)
            _ = lane.pass(speedMmPerS: mmPerS)
            lane.ticks(30)
            let measured = lane.decisions[0].speedMmPerS!
            #expect(abs(measured - mmPerS) <= 1, "\(mmPerS) mm/s measured as \(measured)")
            #expect(!lane.decisions[0].reverse)
        }
    }

    @Test("a vehicle breaking beam 1 first is reversing; one beam only gives no speed")
    func reverseAndUnknown() {
        var lane = FlatLane()
        lane.ticks(100)
        lane.edge(1, true, at: lane.t + 1)
        lane.edge(0, true, at: lane.t + 750_001)
        lane.ticks(20)
        lane.edge(1, false, at: lane.t)
        lane.edge(0, false, at: lane.t + 1)
        lane.ticks(25)
        #expect(lane.decisions[0].reverse)
        #expect(lane.decisions[0].speedMmPerS == 2_000)
        lane.edge(0, true, at: lane.t + 1)
        lane.ticks(20)
        lane.edge(0, false, at: lane.t + 1)
        lane.ticks(25)
        #expect(lane.decisions[1].speedMmPerS == nil)
    }
}

@Suite struct AlarmTests {
    /// Background 4 x 40 counts per sample: a 10-sample window expects B = 1600, sqrt 40, so the
    /// 7-sigma threshold is 1880 counts: an excess of 280, 7 per panel per sample.
    @Test("the gross-count test alarms just above B + 7 sqrt(B) and not at it")
    func threshold() {
        var quiet = FlatLane(settings: FlatLane.classic)
        quiet.ticks(300)
        quiet.edge(0, true, at: quiet.t + 1)
        quiet.ticks(15, extraGamma: 7)  // 10 x 4 x 7 = 280: C = 1880, not above
        quiet.edge(0, false, at: quiet.t + 1)
        quiet.ticks(25)
        #expect(!quiet.decisions[0].gammaAlarm)
        #expect(quiet.decisions[0].gammaMaxCounts == 1880)
        #expect(quiet.decisions[0].gammaMaxThresholdQ16 == 1880 << 16)

        var loud = FlatLane(settings: FlatLane.classic)
        loud.ticks(300)
        loud.edge(0, true, at: loud.t + 1)
        loud.ticks(15, extraGamma: 8)  // C = 1920 > 1880
        loud.edge(0, false, at: loud.t + 1)
        loud.ticks(25)
        #expect(loud.decisions[0].gammaAlarm)
        #expect(loud.decisions[0].gammaMaxSigmaQ8 == (320 << 16) / (40 << 8))  // 8.0 sigma
    }

    @Test("a source on one pillar alarms on that pillar's test before the sum's")
    func pillarTest() {
        var lane = FlatLane(settings: FlatLane.classic)
        lane.ticks(300)
        lane.edge(0, true, at: lane.t + 1)
        // Pillar A: B = 800, sqrt 28.28, threshold 998; add 200 counts per window on panels 0 and 1.
        for _ in 0..<15 {
            lane.t += 100_000
            var s = LaneSample(tUs: lane.t, intervalUs: 100_000)
            for p in 0..<4 {
                s.gamma[p] = 40 + (p < 2 ? 10 : 0)
                s.gammaLow[p] = 22 + (p < 2 ? 8 : 0)
            }
            _ = lane.engine.sample(s)
        }
        #expect(lane.engine.gammaAlarmActive)  // sum: 1800 < 1880, pillar A: 1000 > 998
    }

    @Test("a hard-spectrum excess is NORM-suspect without alarm; a soft one alarms; a huge hard one alarms")
    func normDiscrimination() {
        func run(extra: UInt32, lowPercent: UInt32) -> Decision { FlatLane.excess(extra: extra, lowPercent: lowPercent) }
        let norm = run(extra: 20, lowPercent: 35)
        #expect(!norm.gammaAlarm && norm.normSuspect && norm.gammaTests.isEmpty)
        let cs = run(extra: 20, lowPercent: 80)
        #expect(cs.gammaAlarm && !cs.normSuspect && cs.gammaTests == .share, "the share test raised it: \(cs.gammaTests)")
        let hot = run(extra: 40, lowPercent: 35)  // 1600 excess = 40 sigma, above the 35-sigma ceiling
        #expect(hot.gammaAlarm && !hot.normSuspect && hot.gammaTests == .ceiling, "the ceiling alone raised it: \(hot.gammaTests)")
        // The shipped ceiling, 20 sigma: a 25-sigma hard excess (Co-60 looks like this on two
        // windows) alarms; at 35 it is NORM-like.
        var shipped = FlatLane.classic
        shipped.gammaCeilingSigmaQ8 = EngineSettings().gammaCeilingSigmaQ8
        #expect(shipped.gammaCeilingSigmaQ8 == 20 * 256)
        let hard = FlatLane.excess(shipped, extra: 25, lowPercent: 35)
        #expect(hard.gammaAlarm && !hard.normSuspect && hard.gammaCeilingSigmaQ8 >= 20 * 256, "\(hard.gammaCeilingSigmaQ8)")
        #expect(!run(extra: 25, lowPercent: 35).gammaAlarm)
    }

    @Test("the surplus test: a mixed excess (share 0.56, under 0.60) with low-window counts 4 sd over a NORM spectrum alarms; pure NORM does not; off, the same excess is NORM-suspect")
    func normSurplus() {
        func run(extra: UInt32, lowPercent: UInt32, surplusSigmaQ8: Int64) -> Decision {
            var settings = FlatLane.classic
            settings.normTestSigmaQ8 = surplusSigmaQ8
            return FlatLane.excess(settings, extra: extra, lowPercent: lowPercent)
        }
        // 1 s window, 4 panels: background C = 1600, L = 880; excess 1000 (25 sigma, under the
        // ceiling), low excess 560: surplus 560 - 0.45 x 1000 = 110 counts; sd = sqrt(1440 x 0.1 +
        // 0.2025 x 2600) = 25.9, so 4.2 sd.
        let mixed = run(extra: 25, lowPercent: 56, surplusSigmaQ8: 3 * 256)
        #expect(mixed.gammaAlarm && !mixed.normSuspect && mixed.gammaTests == .surplus, "\(mixed.gammaTests)")
        let off = run(extra: 25, lowPercent: 56, surplusSigmaQ8: 0)
        #expect(!off.gammaAlarm && off.normSuspect)
        let strict = run(extra: 25, lowPercent: 56, surplusSigmaQ8: 5 * 256)
        #expect(!strict.gammaAlarm && strict.normSuspect, "4.2 sd is under a 5 sd test")
        let norm = run(extra: 25, lowPercent: 35, surplusSigmaQ8: 3 * 256)
        #expect(!norm.gammaAlarm && norm.normSuspect)
    }

    @Test("the neutron test needs both the sigma and the minimum excess")
    func neutron() {
        var lane = FlatLane()
        lane.neutronPerSample = 0
        lane.ticks(300)
        lane.edge(0, true, at: lane.t + 1)
        lane.ticks(3, extraNeutron: 1)  // 12 counts over a zero background (floor 1): alarms
        lane.edge(0, false, at: lane.t + 1)
        lane.ticks(25)
        #expect(lane.decisions[0].neutronAlarm)

        var few = FlatLane()
        few.ticks(300)
        few.edge(0, true, at: few.t + 1)
        few.t += 100_000
        var s = LaneSample(tUs: few.t, intervalUs: 100_000)
        for p in 0..<4 { s.gamma[p] = 40; s.gammaLow[p] = 22 }
        s.neutron[0] = 3  // 3 counts: below the minimum excess of 4
        _ = few.engine.sample(s)
        few.edge(0, false, at: few.t + 1)
        few.ticks(25)
        #expect(!few.decisions[0].neutronAlarm)
    }

    @Test("the neutron threshold carries the Poisson skewness term: at n = 6 over B = 80 counts (sd 9.2 with the learned rate's share) 138 counts do not alarm, where n sqrt(V) alone would (135.4); 144 do")
    func neutronSkew() {
        func run(extra: UInt32) -> Decision {
            var settings = EngineSettings()
            settings.neutronSigmaQ8 = 6 * 256  // n = 6: skewness term 35/6 = 5.8 counts
            settings.neutronBurstClip = 0  // the extra counts sit on one panel; no clipping here
            var lane = FlatLane(settings: settings)
            lane.neutronPerSample = 1  // 4 counts per sample over the four panels
            lane.ticks(300)
            lane.edge(0, true, at: lane.t + 1)
            var left = extra
            for _ in 0..<20 {  // exactly one neutron window
                lane.t += 100_000
                var s = LaneSample(tUs: lane.t, intervalUs: 100_000)
                for p in 0..<4 { s.gamma[p] = 40; s.gammaLow[p] = 22; s.neutron[p] = 1 }
                let add = min(left, 4)
                s.neutron[0] += add
                left -= add
                _ = lane.engine.sample(s)
            }
            lane.edge(0, false, at: lane.t + 1)
            lane.ticks(25)
            return lane.decisions[0]
        }
        let below = run(extra: 58)
        #expect(!below.neutronAlarm && below.neutronMaxCounts == 138)
        #expect(below.neutronMaxSigmaQ8 > 6 * 256)  // over n sd: the skewness term held it
        #expect(run(extra: 64).neutronAlarm)
    }

    @Test("burst clipping: 12 counts in one panel in one sample (a ship-effect burst) count for 2 over a zero background and do not alarm; off, they do")
    func neutronBurst() {
        func run(clip: Int64) -> Decision {
            var settings = EngineSettings()
            settings.neutronBurstClip = clip
            var lane = FlatLane(settings: settings)
            lane.ticks(300)
            lane.edge(0, true, at: lane.t + 1)
            lane.t += 100_000
            var s = LaneSample(tUs: lane.t, intervalUs: 100_000)
            for p in 0..<4 { s.gamma[p] = 40; s.gammaLow[p] = 22 }
            s.neutron[2] = 12
            _ = lane.engine.sample(s)
            lane.ticks(20)
            lane.edge(0, false, at: lane.t + 1)
            lane.ticks(25)
            return lane.decisions[0]
        }
        let clipped = run(clip: 2)
        #expect(!clipped.neutronAlarm && clipped.neutronMaxCounts == 2)
        let raw = run(clip: 0)
        #expect(raw.neutronAlarm && raw.neutronMaxCounts == 12)
    }

    @Test("the same input gives the same decisions, field for field")
    func deterministic() {
        func run() -> [Decision] {
            var lane = FlatLane()
            lane.ticks(300)
            _ = lane.pass(speedMmPerS: 2_200)
            lane.ticks(30)
            _ = lane.pass(speedMmPerS: 1_000)
            lane.ticks(30)
            return lane.decisions
        }
        #expect(run() == run())
    }
}

@Suite struct SuppressionTests {
    /// The vehicle shields the panels by 15 % (both windows) while a beam is interrupted, and
    /// carries a small soft source: an excess of 4 counts per panel per sample, 3.2 in the low
    /// window. Uncorrected, the shielding deficit (6 per panel per sample) hides it.
    func pass(_ settings: EngineSettings) -> Decision {
        // 40 x 0.85 plus the source; 22 x 0.85 rounded down plus 80 % of the source.
        FlatLane.standing(settings, samples: 120) { _ in (34 + 4, 19 + 3) }
    }

    @Test("the suppression estimate from the high window recovers a source the shielding hides")
    func recovers() {
        let corrected = pass(EngineSettings())
        #expect(corrected.gammaAlarm)
        #expect(corrected.suppressionQ16 < 60_000 && corrected.suppressionQ16 > 55_000)  // 15 / 18 = 0.83
        let classic = pass(FlatLane.classic)
        #expect(!classic.gammaAlarm)
    }

    @Test("a shielding vehicle with no source never alarms, through its hold-in, corrected or not")
    func noFalseAlarm() {
        let d = FlatLane.standing(EngineSettings(), samples: 600) { _ in (34, 19) }  // a minute parked
        #expect(!d.gammaAlarm && !d.normSuspect)
    }

    @Test("a parked vehicle is integrated over its dwell: a source too weak for any 1 s window is found (background learned for 5 min)")
    func dwell() {
        func parked(_ settings: EngineSettings, learn: Int = 3_000) -> Decision {
            FlatLane.standing(settings, samples: 600, learn: learn) { i in
                let extra: UInt32 = i % 2 == 0 ? 2 : 1  // 1.5 counts per panel per sample, all low
                return (40 + extra, 22 + extra)
            }
        }
        var noDwell = EngineSettings()
        noDwell.dwellIntegration = false
        #expect(!parked(noDwell).gammaAlarm)
        let d = parked(EngineSettings())
        #expect(d.gammaAlarm)
        #expect(d.gammaMaxWindowSamples > 500)
    }

    @Test("the input envelope: an hour parked at the largest counts a panel can report (clamped to 2^18 per sample), a counter reset's 4 x 10^9 counts and an hour-long sample interval neither trap nor alarm a flat lane")
    func extremeInputs() {
        var settings = EngineSettings()
        settings.gammaBackgroundHighCps = 0
        // 36,000 samples: past dwellSamplesMax (32,768), at rates far above the clamp.
        let d = FlatLane.standing(settings, samples: 36_000, learn: 600, cps: 700_000_000) { _ in (70_000_000, 38_500_000) }
        #expect(!d.gammaAlarm && !d.neutronAlarm && d.samples > 36_000)
        // A realistic background with one garbage sample and one very long interval in the dwell.
        var lane = FlatLane(settings: settings)
        lane.ticks(600)
        lane.edge(0, true, at: lane.t + 1)
        lane.edge(1, true, at: lane.t + 680_000)
        lane.ticks(100)
        lane.t += 3_600_000_000
        var s = LaneSample(tUs: lane.t, intervalUs: 3_600_000_000)
        for p in 0..<4 { s.gamma[p] = UInt32.max; s.gammaLow[p] = UInt32.max; s.neutron[p] = UInt32.max }
        _ = lane.engine.sample(s)
        lane.ticks(100)
        lane.edge(0, false, at: lane.t + 1)
        lane.edge(1, false, at: lane.t + 2)
        lane.ticks(25)
        #expect(lane.decisions.count == 1)
        #expect(lane.decisions[0].gammaAlarm, "a sample of 4 x 10^9 counts is an excess (clamped), not a crash")
    }

    @Test("a dwell test corrected for suppression counts the learned spectral ratio's uncertainty: after only 30 s of learning, the same 3.7 % excess over a minute is not enough")
    func dwellNeedsLearnedShape() {
        let d = FlatLane.standing(EngineSettings(), samples: 600, learn: 300) { i in
            let extra: UInt32 = i % 2 == 0 ? 2 : 1
            return (40 + extra, 22 + extra)
        }
        #expect(!d.gammaAlarm)
        #expect(d.gammaMaxWindowSamples > 500 && d.gammaMaxSigmaQ8 > 4 * 256)
    }
}

@Suite struct SpeedWindowTests {
    @Test("the window follows the measured speed: view length / speed, clamped")
    func window() {
        // 3 m of travel: 6 s, 1.36 s, 0.67 s, then the 0.5 s minimum.
        for (mmPerS, samples) in [(500, 60), (2_200, 14), (4_500, 7), (30_000, 5)] as [(Int64, Int)] {
            var lane = FlatLane()
            lane.ticks(100)
            _ = lane.pass(speedMmPerS: mmPerS)
            lane.ticks(30)
            #expect(lane.decisions[0].gammaWindowSamples == samples, "\(mmPerS) mm/s")
            #expect(lane.decisions[0].gammaWindowFromSpeed)
        }
    }
}
