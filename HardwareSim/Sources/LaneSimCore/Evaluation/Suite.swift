// The evaluation suite (`lane-sim eval`): single-vehicle passes generated from a seed, for every
// source type, speed profile and strength, plus clean and NORM traffic. Each pass is played on
// simulated time and handed to every detector, so the comparison is side by side on the same
// counts.

import Foundation
import LaneCore

public enum SpeedProfile: Hashable, Sendable, CaseIterable {
    case steady05, steady1, steady22, steady45, stopAndGo, parked

    public var label: String {
        switch self {
        case .steady05: return "0.5 m/s"
        case .steady1: return "1 m/s"
        case .steady22: return "2.2 m/s"
        case .steady45: return "4.5 m/s"
        case .stopAndGo: return "stop-and-go"
        case .parked: return "parked 30-120 s"
        }
    }
}

public enum ThreatKind: String, Hashable, Sendable, CaseIterable {
    case cs137, heu, ba133, co60, cf252, cs137InNorm

    public var label: String {
        switch self {
        case .cs137: return "Cs-137"
        case .heu: return "HEU"
        case .ba133: return "Ba-133"
        case .co60: return "Co-60"
        case .cf252: return "Cf-252 (neutron)"
        case .cs137InNorm: return "Cs-137 in NORM cargo"
        }
    }
    public var isNeutron: Bool { self == .cf252 }
    /// Strengths tried, net counts/s at 1 m from a panel face (geometric, factor 2).
    public var strengths: [Double] {
        isNeutron ? [2.5, 5, 10, 20, 40, 80, 160, 320] : [50, 100, 200, 400, 800, 1600, 3200, 6400]
    }
}

public enum CleanClass: String, Hashable, Sendable, CaseIterable {
    case moving, stopped, parked, queued
    /// Heavy steel cargo: neutron ship-effect bursts (0.1-0.4 per second, 3 counts each on
    /// average: +5-20 % over ~6 counts/s of neutron background, spikes at 0.1 s that 2 s windows
    /// mostly wash out) and stronger gamma shielding.
    case steel
}

public enum PassKind: Hashable, Sendable {
    case threat(ThreatKind, strengthIndex: Int)
    case clean(CleanClass)
    case norm
}

public struct PassSpec: Sendable {
    public var kind: PassKind
    public var profile: SpeedProfile
    public var seed: UInt64
}

public struct EvalConfig: Sendable {
    public var seed: UInt64 = 1
    public var passesPerCell = 25
    public var cleanPasses = 3000
    public var normPasses = 1000
    public var warmupS = 40.0
    /// The vehicles' shielding tilted across the spectrum (LaneSpec.shieldingTilt; 0: shape kept).
    public var shieldingTilt = 0.0
    /// Its shape across the windows (LaneSpec.shieldingTiltShape).
    public var shieldingTiltShape = LaneSpec.TiltShape.step
    /// Vehicle to vehicle: each pass's tilt is `shieldingTilt` plus this sd times a normal draw
    /// (cargo by cargo; 0: every vehicle the same, and no draw, so old reports reproduce).
    public var shieldingTiltSpread = 0.0
    /// Per-occupancy false-alarm probability the matched-filter bound is held to.
    public var boundFalseAlarm = 1e-3
    /// When set, the trace of every clean pass on which this engine alarmed is written here, for
    /// `lane-agent replay` and a look at why.
    public var falseAlarmTraceDirectory: String? = nil
    /// The physics member the passes are played in (lane-sim's own by default).
    public var physics: Physics = .laneSim
    /// Ceilings (sigma) at which the NORM alarms and Co-60's MDS95 are also counted: the
    /// ceiling's trade-off curve (issue 12). Empty: none.
    public var ceilingSweep: [Double] = []
    /// What every pass's lane has learned of its NORM loads before the pass (a lane commissioned
    /// with `normFromTraffic`); nil: nothing.
    public var normLearner: NormLearner? = nil
    /// Multi-window panels (issue 13): every panel counts into the windows between these
    /// boundaries (keV, K + 1 increasing values; the window split is the inner boundary nearest
    /// the member's), and the engine's spectral test has them (`EngineSettings.spectralWindowCount`
    /// must then be K). nil: two windows.
    public var windows: [Double]? = nil
    /// With `windows`: what every pass's lane learned for its spectral test before the pass.
    public var spectral: SpectralState? = nil
    /// What every pass's lane has learned of its vehicles' shielding (`Commissioning.shieldingPasses`).
    public var shielding: ShieldingLearner? = nil
    public init() {}
}

enum Suite {
    static func passes(_ c: EvalConfig) -> [PassSpec] {
        var out: [PassSpec] = []
        var rng = SeededRandom(seed: c.seed)
        for kind in ThreatKind.allCases {
            for profile in SpeedProfile.allCases {
                for si in kind.strengths.indices {
                    for _ in 0..<c.passesPerCell { out.append(PassSpec(kind: .threat(kind, strengthIndex: si), profile: profile, seed: rng.next())) }
                }
            }
        }
        for i in 0..<c.cleanPasses { out.append(cleanPass(i, seed: rng.next())) }
        // Steel loads on top of the mix, one for every ten clean passes, at every speed and parked.
        let steelProfiles: [SpeedProfile] = [.steady1, .steady22, .steady45, .stopAndGo, .parked]
        for i in 0..<c.cleanPasses / 10 {
            out.append(PassSpec(kind: .clean(.steel), profile: steelProfiles[i % steelProfiles.count], seed: rng.next()))
        }
        for i in 0..<c.normPasses {
            let profiles: [SpeedProfile] = [.steady1, .steady22, .steady22, .steady45, .stopAndGo]
            out.append(PassSpec(kind: .norm, profile: profiles[i % profiles.count], seed: rng.next()))
        }
        return out
    }

    /// The `i`-th clean pass of the traffic mix: 70 % moving, 10 % stop-and-go, 10 % parked,
    /// 10 % queued before entering.
    static func cleanPass(_ i: Int, seed: UInt64) -> PassSpec {
        let moving: [SpeedProfile] = [.steady05, .steady1, .steady22, .steady45]
        let r = i % 10
        let cls: CleanClass = r < 7 ? .moving : r == 7 ? .stopped : r == 8 ? .parked : .queued
        let profile: SpeedProfile = cls == .moving || cls == .queued ? moving[i % 4] : cls == .stopped ? .stopAndGo : .parked
        return PassSpec(kind: .clean(cls), profile: profile, seed: seed)
    }

    /// The scenario of one pass: warm-up with an empty lane (or a vehicle queued near the
    /// portal), then the vehicle; randomized cargo, source position, shielding and background.
    /// The world a pass is played in: the scenario's, with the configuration's energy windows.
    static func world(_ scenario: Scenario, _ c: EvalConfig) -> LaneWorld {
        let w = LaneWorld(scenario: scenario)
        if let b = c.windows, b.count >= 4 { w.useWindows(b) }
        return w
    }

    static func scenario(_ p: PassSpec, _ c: EvalConfig) -> (Scenario, withoutSources: Scenario) {
        var rng = SeededRandom(seed: p.seed)
        func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * rng.unit() }
        var lane = LaneSpec()
        let physics = c.physics
        // lane-sim's member draws exactly what it always drew (old reports stay comparable).
        let level = uniform(physics.backgroundLevel.lowerBound, physics.backgroundLevel.upperBound)
        lane.backgroundCps = lane.backgroundCps.map { $0 * level * uniform(0.9, 1.1) }
        lane.neutronBackgroundCps = lane.neutronBackgroundCps.map { $0 * uniform(0.7, 1.3) }
        lane.driftPeriodS = uniform(300, 900)
        lane.shieldingTilt = c.shieldingTilt
        lane.shieldingTiltShape = c.shieldingTiltShape
        if !physics.legacy { lane.physics = physics }
        var v = VehicleSpec(at: c.warmupS, speed: 2.2)
        v.attenuation = uniform(0.5, 0.9)
        v.shielding = uniform(physics.shielding.lowerBound, physics.shielding.upperBound)
        v.trailerLengthM = rng.unit() < 0.5 ? 6.1 : 12.2
        switch p.profile {
        case .steady05: v.speed = 0.5
        case .steady1: v.speed = 1
        case .steady22: v.speed = 2.2
        case .steady45: v.speed = 4.5
        case .stopAndGo: v.speed = 2.2; v.motion = .stopAndGo; v.stopS = uniform(5, 20)
        case .parked: v.speed = 1.5; v.motion = .parked; v.stopS = uniform(30, 120)
        }
        let cargoStart = v.cabLengthM + v.gapM
        func pointSource(_ type: SourceType, _ strength: Double) -> SourceSpec {
            SourceSpec(type: type, strength: strength, positionM: cargoStart + uniform(0.5, v.trailerLengthM - 0.5),
                       offsetM: uniform(-1.5, 1.5), heightM: uniform(0.8, 2.4))
        }
        func normLoad() -> SourceSpec {
            var load = SourceSpec(type: .norm, strength: uniform(1500, 6000), positionM: cargoStart + v.trailerLengthM / 2,
                                  lengthM: v.trailerLengthM * 0.9)
            if !physics.legacy {
                // This load's own K/U/Th mixture and self-scatter, inside the member's ranges.
                var mix = physics.normMixMax.map { $0 * (0.05 + 0.95 * rng.unit()) }
                let total = mix.reduce(0, +)
                mix = mix.map { $0 / total }
                load.normMix = mix
                load.selfScatter = uniform(physics.normSelfScatter.lowerBound, physics.normSelfScatter.upperBound)
            }
            return load
        }
        switch p.kind {
        case let .threat(kind, si):
            let s = kind.strengths[si]
            switch kind {
            case .cs137: v.sources = [pointSource(.cs137, s)]
            case .heu: v.sources = [pointSource(.heu, s)]
            case .ba133: v.sources = [pointSource(.ba133, s)]
            case .co60: v.sources = [pointSource(.co60, s)]
            case .cf252: v.sources = [pointSource(.cf252, s)]
            case .cs137InNorm: v.sources = [normLoad(), pointSource(.cs137, s)]
            }
        case .norm:
            v.sources = [normLoad()]
        case .clean(.queued):
            // Waits just short of beam 0 from 5 s: the lane learns a depressed background.
            v.at = 5
            v.queueS = c.warmupS - 5
        case .clean(.steel):
            v.neutronBurstsPerS = uniform(0.1, 0.4)
            v.shielding = uniform(0.15, 0.3)
        case .clean:
            break
        }
        if c.shieldingTiltSpread > 0 {
            // Drawn last: every other draw of the pass stays what it was.
            lane.shieldingTilt = max(-1, min(1, c.shieldingTilt + c.shieldingTiltSpread * rng.normal()))
        }
        var s = Scenario(name: "eval", seed: p.seed &+ 1, lane: lane, vehicles: [v])
        s.durationS = passDurationS(s, c)
        var bare = s
        bare.vehicles[0].sources = p.kind == .norm || { if case .threat(.cs137InNorm, _) = p.kind { return true } else { return false } }()
            ? v.sources.filter { $0.type == .norm } : []
        return (s, bare)
    }

    /// A pass lasts until its vehicle has left the lane, and 4 s more (its hold-in and decision).
    static func passDurationS(_ s: Scenario, _ c: EvalConfig) -> Double {
        (LaneWorld(scenario: s).truths.first?.exitS ?? c.warmupS) + 4
    }
}
