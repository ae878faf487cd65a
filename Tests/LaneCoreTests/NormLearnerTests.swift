// Proves what the lane learns of its NORM loads and the rule it draws from it: the quantile of a
// known distribution to within a bin; bounded memory (halved at capacity) that still follows a
// drift; a handful of threat-like loads among hundreds moves the 90th percentile by a bin at most; the
// stored fields round-trip and inconsistent ones are refused; the rule is off without a check
// source or when the check source is too close to the NORM share, on halfway between them
// otherwise, from the background's share before enough loads are learned; off whenever a panel
// has not confirmed the window split.

import LaneCore
import Testing

@Suite struct NormLearnerTests {
    func q16(_ x: Double) -> Int64 { Int64((x * 65_536).rounded()) }

    @Test("the 90th percentile of 1,000 loads spread evenly over 0.30-0.50 is 0.48 to within one bin (1/64)")
    func quantile() throws {
        var l = NormLearner()
        #expect(l.quantileQ16(perMille: 900) == nil)
        for i in 0..<1_000 { l.add(shareQ16: q16(0.30 + 0.20 * Double(i) / 1_000)) }
        let q = Double(try #require(l.quantileQ16(perMille: 900))) / 65_536
        #expect(abs(q - 0.48) <= 1.0 / 64 + 1e-9, "\(q)")
        let median = Double(try #require(l.quantileQ16(perMille: 500))) / 65_536
        #expect(abs(median - 0.40) <= 1.0 / 64 + 1e-9, "\(median)")
        #expect(l.isReady && l.learned == 1_000)
    }

    @Test("memory is bounded: at 1,024 loads the histogram is halved, and it follows a drift of the NORM share")
    func boundedAndDrifting() throws {
        var l = NormLearner()
        for _ in 0..<5_000 { l.add(shareQ16: q16(0.30)) }
        #expect(l.held < NormLearner.capacity && l.learned == 5_000)
        for _ in 0..<3_000 { l.add(shareQ16: q16(0.45)) }
        let q = Double(try #require(l.quantileQ16(perMille: 900))) / 65_536
        #expect(q > 0.44 && q <= 0.47, "after a drift to 0.45 the 90th percentile follows: \(q)")
    }

    @Test("five threat-like loads (share 0.85) among 500 NORM loads move the 90th percentile by one bin (1/64) at most")
    func rareThreat() throws {
        var l = NormLearner()
        for i in 0..<500 { l.add(shareQ16: q16(0.35 + 0.05 * Double(i % 10) / 10)) }
        let before = try #require(l.quantileQ16(perMille: 900))
        for _ in 0..<5 { l.add(shareQ16: q16(0.85)) }
        let after = try #require(l.quantileQ16(perMille: 900))
        #expect(after - before <= 1_024, "\(before) -> \(after)")
    }

    @Test("shares outside 0...1 are clamped; the stored fields round-trip; counts that do not add up are refused")
    func fields() throws {
        var l = NormLearner()
        l.add(shareQ16: -5)
        l.add(shareQ16: 1 << 20)
        for i in 0..<300 { l.add(shareQ16: Int64(i * 200)) }
        let copy = try #require(NormLearner(fields: { l.field($0) }))
        #expect(copy == l)
        #expect(NormLearner(fields: { $0 == NormLearner.binCount ? l.field($0) + 1 : l.field($0) }) == nil, "held not the sum of the bins")
        #expect(NormLearner(fields: { $0 == 3 ? 5_000 : l.field($0) }) == nil, "a bin beyond the capacity")
        #expect(NormLearner(fields: { $0 == NormLearner.binCount + 1 ? 0 : l.field($0) }) == nil, "fewer learned than held")
    }

    @Test("the rule from traffic: off without a check source or with one too close (tooClose only then: not without a check source, for one harder than the NORM, with an unconfirmed split or from the profile); halfway when they separate; the background's share before 100 loads")
    func rule() {
        var s = EngineSettings()
        s.normDiscrimination = true
        // From the profile when not from traffic.
        var r = NormRule.current(s, learner: NormLearner(), backgroundLowShareQ16: q16(0.55))
        #expect(r.source == .profile && r.on && r.lowShareMinQ16 == s.normLowShareMinQ16 && !r.tooClose)
        s.normDiscrimination = false
        r = NormRule.current(s, learner: NormLearner(), backgroundLowShareQ16: q16(0.55))
        #expect(r.source == .profile && !r.on && !r.tooClose, "switched off by the profile: never tooClose")
        s.normDiscrimination = true
        s.normFromTraffic = true
        // Cold start, no check source: off, and not for being too close.
        r = NormRule.current(s, learner: NormLearner(), backgroundLowShareQ16: q16(0.55))
        #expect(r.source == .coldStart && !r.on && !r.tooClose)
        // Cold start with a check source 0.80: on, NORM share = the background's.
        s.checkSourceLowShareQ16 = q16(0.80)
        r = NormRule.current(s, learner: NormLearner(), backgroundLowShareQ16: q16(0.55))
        #expect(r.on && r.shareMaxQ16 == q16(0.55) && r.lowShareMinQ16 == (q16(0.55) + q16(0.80)) / 2)
        // Learned loads at 0.75 (as hard as the check source): off.
        var l = NormLearner()
        for _ in 0..<200 { l.add(shareQ16: q16(0.745)) }
        r = NormRule.current(s, learner: l, backgroundLowShareQ16: q16(0.55))
        #expect(r.source == .learned && !r.on && r.tooClose, "0.80 against 0.75 is within 0.08")
        #expect(!NormRule.current(s, learner: l, backgroundLowShareQ16: q16(0.55), spectraTrusted: false).tooClose, "the split not confirmed")
        var harder = s
        harder.checkSourceLowShareQ16 = q16(0.70)
        r = NormRule.current(harder, learner: l, backgroundLowShareQ16: q16(0.55))
        #expect(!r.on && !r.tooClose, "a check source harder than the NORM (0.70 against 0.75): off, and not merely too close")
        // Learned loads at 0.35: on, from halfway.
        l = NormLearner()
        for _ in 0..<200 { l.add(shareQ16: q16(0.35)) }
        r = NormRule.current(s, learner: l, backgroundLowShareQ16: q16(0.55))
        #expect(r.on && !r.tooClose && r.shareMaxQ16 == 23 << 10, "the upper edge of 0.35's bin: \(r.shareMaxQ16)")
        #expect(r.lowShareMinQ16 == (Int64(23 << 10) + q16(0.80)) / 2)
        // A panel that has not confirmed the window split: off, from traffic or from the profile.
        #expect(!NormRule.current(s, learner: l, backgroundLowShareQ16: q16(0.55), spectraTrusted: false).on)
        s.normFromTraffic = false
        #expect(!NormRule.current(s, learner: l, backgroundLowShareQ16: q16(0.55), spectraTrusted: false).on)
        #expect(NormRule.current(s, learner: l, backgroundLowShareQ16: q16(0.55), spectraTrusted: true).on)
    }
}

/// Proves that `learnSigma` separates what the lane learns its NORM from and what alarms: with
/// n = 6, a soft-poor load between 6 and 7 sd is learned when the lane learns at n (0, the
/// default) and not when it learns at 7; a load over 7 sd is learned either way; a learning
/// significance below n learns at n (so raising n never needs learnSigma changed first).
@Suite struct LearnSigmaTests {
    /// One 1.5 s NORM-like occupancy (30 % of the excess in the low window) of `extra` counts per
    /// panel and sample, after 30 s of empty lane; the engine after it.
    func load(extra: UInt32, learnSigmaQ8: Int64) -> (Decision, LaneEngine) {
        var s = FlatLane.classic
        s.gammaSigmaQ8 = 6 * 256
        s.learnSigmaQ8 = learnSigmaQ8
        var lane = FlatLane(settings: s)
        lane.cps = 3_200  // 320 counts per panel and sample: a count more moves the significance by about a third of an sd
        lane.ticks(300)
        lane.edge(0, true, at: lane.t + 1)
        lane.ticks(15, extraGamma: extra, extraLowPercent: 30)
        lane.edge(0, false, at: lane.t + 1)
        lane.ticks(25)
        return (lane.decisions[0], lane.engine)
    }

    @Test("n = 6: a NORM load at 6-7 sd is learned at learnSigma 0 (n) and not at 7; one over 7 sd is learned at both; learnSigma below n learns at n; beyond 50 is refused")
    func learnSigma() throws {
        // The strengths whose largest significance lies between 6 and 7 sd, and over 7.
        let between = try #require((1...80).map { UInt32($0) }.first {
            let m = load(extra: $0, learnSigmaQ8: 0).0.gammaMaxSigmaQ8
            return m > 6 * 256 + 32 && m < 7 * 256 - 32
        })
        let over = try #require((1...80).map { UInt32($0) }.first { load(extra: $0, learnSigmaQ8: 0).0.gammaMaxSigmaQ8 > 7 * 256 + 32 })
        #expect(load(extra: between, learnSigmaQ8: 0).1.normLearner.learned == 1, "learned at n = 6")
        #expect(load(extra: between, learnSigmaQ8: 7 * 256).1.normLearner.learned == 0, "not learned at 7")
        #expect(load(extra: over, learnSigmaQ8: 7 * 256).1.normLearner.learned == 1)
        var s = EngineSettings()
        s.gammaSigmaQ8 = 6 * 256
        // learnSigma 5 under n = 6 learns at 6: a load at 5-6 sd is not learned, one at 6-7 is.
        let under = try #require((1...80).map { UInt32($0) }.first {
            let m = load(extra: $0, learnSigmaQ8: 0).0.gammaMaxSigmaQ8
            return m > 5 * 256 + 32 && m < 6 * 256 - 32
        })
        #expect(load(extra: under, learnSigmaQ8: 5 * 256).1.normLearner.learned == 0, "not learned below n")
        #expect(load(extra: between, learnSigmaQ8: 5 * 256).1.normLearner.learned == 1, "learned at n")
        s.learnSigmaQ8 = 5 * 256
        #expect(s.firstProblem() == nil && s.learningSigmaQ8 == 6 * 256)
        s.learnSigmaQ8 = 50 * 256 + 1
        #expect(s.firstProblem() == .learnSigma)
        s.learnSigmaQ8 = 7 * 256
        #expect(s.firstProblem() == nil && s.learningSigmaQ8 == 7 * 256)
        s.learnSigmaQ8 = 0
        #expect(s.learningSigmaQ8 == 6 * 256)
    }
}
