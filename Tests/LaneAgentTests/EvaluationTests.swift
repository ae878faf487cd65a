// Proves the evaluation harness measures what it says: MDS95 interpolates in log strength, the
// suite is reproducible from its seed, the matched-filter bound is at least as sensitive as the
// detectors, and a strong source is found by every detector at every speed.

import Foundation
import LaneCore
@testable import LaneSimCore
import Testing

@Suite struct EvaluationTests {
    @Test("MDS95 is the first 0.95 crossing, interpolated in log strength; nil when never reached")
    func mds95() {
        let s = [100.0, 200, 400, 800]
        #expect(abs(Evaluation.mds95(strengths: s, pd: [0, 0.5, 0.95, 1])! - 400) < 1e-9)
        #expect(Evaluation.mds95(strengths: s, pd: [0.96, 1, 1, 1]) == 100)
        #expect(Evaluation.mds95(strengths: s, pd: [0, 0.1, 0.5, 0.9]) == nil)
        let mid = Evaluation.mds95(strengths: s, pd: [0, 0.9, 1.0, 1.0])!
        #expect(abs(mid - 200 * pow(2, 0.5)) < 1e-9)  // halfway between 0.9 and 1.0, in log strength
    }

    @Test("a small suite: same seed, same report; the bound is never less sensitive; strong sources are found")
    func smallSuite() {
        var c = EvalConfig()
        c.seed = 99
        c.passesPerCell = 4
        c.cleanPasses = 40
        c.normPasses = 20
        let a = Evaluation.run(config: c, settings: EngineSettings())
        // Same seed, same report: on a smaller suite (one pass per cell), run twice.
        var tiny = c
        tiny.passesPerCell = 1
        tiny.cleanPasses = 10
        tiny.normPasses = 5
        let (t1, t2) = (Evaluation.run(config: tiny, settings: EngineSettings()), Evaluation.run(config: tiny, settings: EngineSettings()))
        #expect(t1.json().replacingOccurrences(of: #""seconds" : [0-9.e-]+"#, with: "", options: .regularExpression)
            == t2.json().replacingOccurrences(of: #""seconds" : [0-9.e-]+"#, with: "", options: .regularExpression))
        #expect(t1.json() != a.json(), "a different suite gives a different report")
        for kind in ThreatKind.allCases {
            for profile in SpeedProfile.allCases {
                let pd: [DetectorName: [Double]] = a.pd[CellKey(kind: kind, profile: profile)]!
                let bound: [Double] = pd[DetectorName.bound]!
                let engine: [Double] = pd[DetectorName.engine]!
                #expect(engine.last! == 1, "\(kind.label) at \(profile.label): the strongest source is always detected")
                #expect(bound.last! > 0.99)
                // The bound's Pd sums over the strengths at least as high as any detector's, up to sampling
                // noise (not in NORM cargo, where the baselines alarm on the NORM itself).
                if kind == .cs137InNorm { continue }
                let boundSum: Double = bound.reduce(0, +)
                for d in [DetectorName.engine, DetectorName.vm250, DetectorName.percent] {
                    let detectorSum: Double = pd[d]!.reduce(0, +)
                    #expect(boundSum + 0.5 >= detectorSum, "\(kind.label) \(profile.label) \(d.rawValue)")
                }
            }
        }
        #expect(a.normAlarms[.engine]!.passes == 20)
        // The family table's in-NORM figures: Pd summed in NORM cargo over clean, the worst speed, for
        // the engine and for the bound; the NORM load's own counts cost even the bound something.
        let figures = FamilyReport.figures(c.physics, a)
        func worstRatio(_ d: DetectorName) -> Double {
            SpeedProfile.allCases.map { p -> Double in
                let clean = a.pd[CellKey(kind: .cs137, profile: p)]![d]!.reduce(0, +)
                return a.pd[CellKey(kind: .cs137InNorm, profile: p)]![d]!.reduce(0, +) / clean
            }.min()!
        }
        #expect(abs(figures.inNormWorst - worstRatio(.engine)) < 1e-12)
        #expect(abs(figures.inNormBoundWorst - worstRatio(.bound)) < 1e-12)
        #expect(figures.inNormBoundWorst < 1 && figures.inNormBoundWorst > 0.5, "\(figures.inNormBoundWorst)")
        // Their sampling-noise intervals hold them, and the family table prints them.
        #expect(figures.normFewerInterval.contains(figures.normFewer), "\(figures.normFewerInterval) \(figures.normFewer)")
        #expect(figures.inNormInterval.contains(figures.inNormWorst), "\(figures.inNormInterval) \(figures.inNormWorst)")
        let table = FamilyReport(members: [(c.physics, a)]).markdown(command: "x", gammaSigma: 6)
        #expect(table.contains("## Sampling noise") && table.contains("| \(c.physics.name) | \(FamilyReport.f(figures.normFewer * 100, 0)) % |"), "\(table)")
        // The baseline's neutron test at this engine's false-alarm count: never below its own 6 sd,
        // and no clean pass above it beyond the engine's own false alarms.
        #expect(a.neutronEqualFAThreshold >= 6)
        #expect(a.neutronEqualFAPd[.steady22]?.count == ThreatKind.cf252.strengths.count)
        #expect(a.goals.contains { $0.goal.hasPrefix("neutron MDS95 at most the baseline's at equal false-alarm rate") })
        #expect(a.markdown(settingsText: "x", command: "y", pictures: []).contains("## Goals"))
        #expect(a.svg(kind: .cs137).hasPrefix("<svg"))
    }

    @Test("the family report's sampling-noise intervals cover the true figure in 93-98 % of binomial draws (NORM fewer at a worst member's rates, an in-NORM ratio of 20-pass cells), narrow about by half with four times the passes")
    func samplingNoiseIntervals() {
        var rng = SeededRandom(seed: 26)
        func binomial(_ n: Int, _ p: Double) -> Int { (0..<n).reduce(0) { acc, _ in acc + (rng.unit() < p ? 1 : 0) } }
        // NORM: 500 passes, the engine alarming on 7.6 %, the baseline on 64 % (m4 after 1,000 passes).
        let (pe, pb) = (0.076, 0.642)
        let trueFewer = 1 - pe / pb
        var covered = 0
        for _ in 0..<2_000 {
            let i = SamplingNoise.fewerInterval(engine: binomial(500, pe), baseline: binomial(500, pb), passes: 500)
            if i.contains(trueFewer) { covered += 1 }
        }
        #expect(covered >= 1_860 && covered <= 1_940, "\(covered) of 2,000 intervals hold the true figure")
        let wide = SamplingNoise.fewerInterval(engine: 38, baseline: 321, passes: 500), narrow = SamplingNoise.fewerInterval(engine: 152, baseline: 1_284, passes: 2_000)
        let shrink = (narrow.upperBound - narrow.lowerBound) / (wide.upperBound - wide.lowerBound)
        #expect(shrink > 0.45 && shrink < 0.55, "\(shrink)")
        #expect(wide.contains(1 - 38.0 / 321) && wide.lowerBound > 0.8 && wide.upperBound < 0.95, "\(wide)")
        #expect(SamplingNoise.fewerInterval(engine: 0, baseline: 300, passes: 500) == (1 - 3.689 / 300)...1)
        // In NORM over clean: six strengths, 20 passes each.
        let clean = [0.1, 0.3, 0.6, 0.85, 0.95, 1.0], load = [0.05, 0.25, 0.5, 0.8, 0.95, 1.0]
        let trueRatio = load.reduce(0, +) / clean.reduce(0, +)
        covered = 0
        for _ in 0..<2_000 {
            let l = load.map { Double(binomial(20, $0)) / 20 }, c = clean.map { Double(binomial(20, $0)) / 20 }
            if SamplingNoise.ratioInterval(load: l, clean: c, passes: 20).contains(trueRatio) { covered += 1 }
        }
        #expect(covered >= 1_860 && covered <= 1_960, "\(covered) of 2,000 intervals hold the true ratio")
    }

    @Test("a check source's shape is measured without a vehicle's shadow, as sourcecheck measures it against the empty lane: Co-60's two lowest windows keep a positive share (its own down-scatter) in each of 12 check passes of an 8-window member (8 of 12 went negative with the shadow)")
    func checkShapeWithoutShadow() {
        var c = EvalConfig()
        c.windows = [30, 80, 150, 250, 400, 650, 1000, 1500, 3000]
        var physics = Physics.family(seed: 1, count: 8)[8]  // m8, where a shadow put -0.47 into the lowest window
        physics.windowSplitKev = 600
        c.physics = physics
        var s = EngineSettings()
        s.spectralWindowCount = 8
        s.normFromTraffic = false
        s.normDiscrimination = false
        var rng = SeededRandom(seed: 11)
        var lowest: [Double] = []
        for _ in 0..<12 {
            let shape = Evaluation.checkSourceShape(c, settings: s, kind: .co60, rng: &rng)
            lowest.append(min(Double(shape[0]), Double(shape[1])) / 65_536)
        }
        #expect(lowest.allSatisfy { $0 > 0 }, "the two lowest windows' smaller share per check pass: \(lowest)")
    }

    @Test("commissioning: lane-sim's member gets discrimination (its NORM and check source are apart); a member whose check source is clearly softer than its NORM gets rules between the two; one where they coincide gets discrimination off")
    func commissioning() {
        var c = EvalConfig()
        c.seed = 5
        var plan = Commissioning()
        plan.normPasses = 24
        // lane-sim's own physics: NORM 0.35, the check source 0.80: clearly apart.
        let legacy = Evaluation.commission(.laneSim, settings: EngineSettings(), config: c, plan: plan)
        #expect(legacy.discrimination && legacy.settings.normDiscrimination, "\(legacy.summary)")
        #expect(legacy.checkSourceShare > 0.75 && legacy.normShareHigh < 0.5, "\(legacy.summary)")

        // Separable: a 450 keV split, no scatter in cargo or in the loads, K-40-rich NORM.
        var clear = Physics.family(seed: 3, count: 1)[1]
        clear.cargoScatter = 0
        clear.normSelfScatter = 0...0
        clear.normMixMax = [1, 0.05, 0.05]
        let r = Evaluation.commission(clear, settings: EngineSettings(), config: c, plan: plan)
        #expect(r.normLoadsLearned > 5, "\(r.summary)")
        #expect(r.discrimination, "\(r.summary)")
        let low = Double(r.settings.normLowShareMinQ16) / 65536, hyp = Double(r.settings.normShareMaxQ16) / 65536
        #expect(hyp < low && low < r.checkSourceShare, "\(r.summary)")

        // Not separable: the member as drawn (its NORM scattered in cargo and in itself), the split
        // at 200 keV, under Cs-137's edge. (The stripped member above, its NORM pure K-40 without
        // scatter, stays apart from Cs-137 even there once the check source is measured without a
        // vehicle's shadow: 0.35 against 0.08.)
        plan.splitKev = 200
        let mixed = Evaluation.commission(Physics.family(seed: 3, count: 1)[1], settings: EngineSettings(), config: c, plan: plan)
        #expect(!mixed.discrimination && !mixed.settings.normDiscrimination, "\(mixed.summary)")
    }

    @Test("the ceiling's trade-off: at the engine's own ceiling the curve counts exactly the engine's alarms; a higher ceiling never adds NORM alarms nor finds Co-60 sooner")
    func ceilingCurve() {
        var c = EvalConfig()
        c.seed = 7
        c.passesPerCell = 2
        c.cleanPasses = 30
        c.normPasses = 40
        c.ceilingSweep = [10, 20, 1000]
        // lane-sim's member commissioned: discrimination on, so that the ceiling matters.
        var plan = Commissioning()
        plan.normPasses = 24
        let settings = Evaluation.commission(.laneSim, settings: EngineSettings(), config: c, plan: plan).settings
        #expect(settings.normDiscrimination && settings.gammaCeilingSigmaQ8 == 20 * 256)
        let r = Evaluation.run(config: c, settings: settings)
        #expect(r.ceilingCurve.map(\.sigma) == [10, 20, 1000])
        let own = r.ceilingCurve[1]
        #expect(own.normAlarms == r.normAlarms[.engine]!.alarms && own.normPasses == 40)
        let clean = r.falseAlarms.values.reduce(0) { $0 + ($1[.engine]?.gamma ?? 0) }
        #expect(own.cleanGammaAlarms == clean && own.cleanPasses == 33)
        for profile in SpeedProfile.allCases {
            let engine = r.mds95[CellKey(kind: .co60, profile: profile)]?[.engine] ?? nil
            #expect(own.co60Mds95[profile] ?? nil == engine, "Co-60 \(profile.label)")
        }
        let (low, high) = (r.ceilingCurve[0], r.ceilingCurve[2])
        #expect(low.normAlarms >= own.normAlarms && own.normAlarms >= high.normAlarms)
        #expect(low.normAlarms > high.normAlarms, "lane-sim's NORM loads include some over 10 sigma that the NORM rule lets pass")
        #expect(low.co60Worst <= high.co60Worst)
        #expect(r.markdown(settingsText: "x", command: "y", pictures: []).contains("## The ceiling's trade-off"))
    }

    @Test("commissioning from traffic: the engine's own learner, fed NORM loads with threats among them, holds the loads and gives the rule NormRule.current derives; a split under Cs-137's edge leaves it off")
    func commissioningFromTraffic() {
        var c = EvalConfig()
        c.seed = 5
        var plan = Commissioning()
        plan.fromTraffic = true
        plan.normPasses = 170
        plan.threatEvery = 20
        let r = Evaluation.commission(.laneSim, settings: EngineSettings(), config: c, plan: plan)
        let learner = r.learner!
        #expect(learner.isReady, "\(r.summary)")
        #expect(r.settings.normFromTraffic && r.settings.checkSourceLowShareQ16 == Int64((min(1, r.checkSourceShare) * 65536).rounded()))
        #expect(r.rule == NormRule.current(r.settings, learner: learner, backgroundLowShareQ16: 0), "learned: the background's share does not enter")
        // lane-sim's NORM has a share of 0.35, its check source 0.80; the 8 Cs-137 passes among
        // the loads do not pull the 90th percentile up to them.
        #expect(r.rule!.on && r.rule!.source == .learned, "\(r.summary)")
        #expect(Double(r.rule!.shareMaxQ16) / 65536 < 0.5, "\(r.summary)")

        var clear = Physics.family(seed: 3, count: 1)[1]
        clear.cargoScatter = 0
        plan.normPasses = 30
        plan.splitKev = 200
        let mixed = Evaluation.commission(clear, settings: EngineSettings(), config: c, plan: plan)
        #expect(mixed.rule!.source == .coldStart, "40 NORM loads are too few: the background's own share stands for NORM")
        #expect(!mixed.rule!.on, "\(mixed.summary)")
    }
}
