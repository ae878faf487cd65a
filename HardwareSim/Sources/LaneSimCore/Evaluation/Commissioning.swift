// Commissioning a lane in a physics member, as the evaluation plays it (docs/DETECTION.md,
// "Calibrated NORM discrimination"): the lane sets its panels' window split (holding register
// 257), measures its Cs-137 check source's low-window share through a parked pass without cargo,
// and learns where its NORM excesses lie from its own traffic (the low-window shares of the NORM
// loads that passed its gross-count threshold: a high quantile, robust to the odd threat). The
// two NORM rules then take those values, and where the check source's share is not clearly above
// the NORM loads' (the two windows cannot tell them apart) NORM discrimination is switched off:
// the lane alarms, and the NORM goal gives way to safety.

import Foundation
import LaneCore

public struct Commissioning: Sendable, Equatable {
    /// The split the lane asks its panels for (0: the member's own).
    public var splitKev: Double = 0
    /// NORM passes the lane learns from, and the quantile of their shares taken.
    public var normPasses = 200
    public var quantile = 0.9
    /// The least separation between the check source's share and NORM's for discrimination.
    public var separationMin = 0.08
    public init() {}
}

public struct CommissioningResult: Sendable {
    public var physics: Physics
    public var settings: EngineSettings
    public var checkSourceShare: Double
    public var normShareHigh: Double
    public var normLoadsLearned: Int
    public var discrimination: Bool
    public var summary: String {
        String(format: "split %.0f keV; check source share %.3f, NORM loads' share (90th percentile) %.3f over %d loads: ",
               physics.windowSplitKev, checkSourceShare, normShareHigh, normLoadsLearned)
            + (discrimination ? String(format: "NORM rules at share %.3f (threat-like) and %.3f (NORM hypothesis)",
                                       Double(settings.normLowShareMinQ16) / 65536, Double(settings.normShareMaxQ16) / 65536)
                              : "too close to tell apart: NORM discrimination off (alarm)")
    }
}

extension Evaluation {
    public static func commission(_ member: Physics, settings base: EngineSettings, config: EvalConfig, plan: Commissioning) -> CommissioningResult {
        var physics = member
        if plan.splitKev > 0 && !physics.legacy { physics.windowSplitKev = plan.splitKev }
        var c = config
        c.physics = physics
        c.falseAlarmTraceDirectory = nil
        // The NORM loads of its traffic, judged with discrimination off (every excess counts).
        var learning = base
        learning.normDiscrimination = false
        var rng = SeededRandom(seed: config.seed &* 31 &+ 7)
        let profiles: [SpeedProfile] = [.steady1, .steady22, .steady22, .steady45, .stopAndGo]
        var shares: [Double] = []
        for i in 0..<plan.normPasses {
            let spec = PassSpec(kind: .norm, profile: profiles[i % profiles.count], seed: rng.next())
            let (scenario, _) = Suite.scenario(spec, c)
            var events: [LaneEvent] = []
            TraceGenerator.play(LaneWorld(scenario: scenario)) { events.append($0) }
            let v = EngineDetector(settings: learning).run(events)
            if v.gamma { shares.append(v.lowShare) }
        }
        shares.sort()
        let q = shares.isEmpty ? 0 : shares[min(shares.count - 1, Int(plan.quantile * Double(shares.count)))]
        // The check source: Cs-137 on a vehicle without cargo, parked 60 s.
        var check = PassSpec(kind: .threat(.cs137, strengthIndex: 6), profile: .parked, seed: rng.next())
        check.seed = rng.next()
        var (scenario, _) = Suite.scenario(check, c)
        scenario.vehicles[0].attenuation = 1
        scenario.vehicles[0].stopS = 60
        var events: [LaneEvent] = []
        TraceGenerator.play(LaneWorld(scenario: scenario)) { events.append($0) }
        let cs = EngineDetector(settings: learning).run(events).lowShare
        var s = base
        let ok = cs - q >= plan.separationMin && !shares.isEmpty
        if ok {
            s.normShareMaxQ16 = Int64((q * 65536).rounded())
            s.normLowShareMinQ16 = Int64(((q + cs) / 2 * 65536).rounded())
            s.normDiscrimination = true
        } else {
            s.normDiscrimination = false
        }
        return CommissioningResult(physics: physics, settings: s, checkSourceShare: cs, normShareHigh: q,
                                   normLoadsLearned: shares.count, discrimination: ok)
    }
}
