// The detectors compared in the evaluation, all fed the same events: this engine; a VM-250-style
// baseline; the percent-of-background rule; and the matched-filter bound told the true path.

import Foundation
import LaneCore

public struct PassVerdict: Sendable {
    public var gamma = false
    public var neutron = false
    public var normSuspect = false
    /// Some occupancy of the pass was cut at the dwell limit, or not screened (its background not
    /// ready, no panel's counts in half its samples): the learners take neither.
    public var truncated = false
    public var notScreened = false
    /// The engine only: the most significant gamma window's significance (sigma) and the
    /// low-window share of its excess (what the NORM rules look at).
    public var maxSigma = 0.0
    public var lowShare = 0.0
    /// The baselines only: the largest neutron excess seen, in sd of its background (counts at
    /// least 4 over it), for the comparison at equal false-alarm rate.
    public var maxNeutronSigma = 0.0
    /// The engine only: the largest significance of the fixed 1 s window (what the ceiling
    /// tests), and, when the evaluation sweeps the ceiling, whether the engine alarmed without it.
    public var ceilingSigma = 0.0
    public var gammaWithoutCeiling = false
    /// The engine only: the tests that raised its gamma alarm (`GammaTests` bits, over the
    /// pass's decisions), and the most significant window's length (samples) and group.
    public var gammaTests: UInt8 = 0
    public var maxSigmaSamples = 0
    public var maxSigmaGroup = 0
    public var maxSigmaDwell = false
    /// The engine only: the shielding estimate (1 = none) of the decision with the largest sigma.
    public var suppression = 1.0
}

/// This engine, with the given settings, run exactly as `replay` runs it.
struct EngineDetector {
    let settings: EngineSettings
    /// What the lane learned of its NORM loads before this pass (`detection.normFromTraffic`).
    var learner: NormLearner? = nil
    /// Multi-window panels: what the lane learned for its spectral test before this pass.
    var spectral: SpectralState? = nil
    /// What the lane learned of its vehicles' shielding before this pass.
    var shielding: ShieldingLearner? = nil

    func run(_ events: [LaneEvent]) -> PassVerdict { runLearning(events).verdict }

    /// The pass, what the lane's NORM learner holds after it, and the NORM rule the next
    /// occupancy would be judged by.
    func runLearning(_ events: [LaneEvent]) -> (verdict: PassVerdict, learner: NormLearner, spectral: SpectralState, next: NormRule,
                                                shielding: ShieldingLearner) {
        var engine = LaneEngine(settings: settings)
        if let learner { _ = engine.restore(normLearner: learner) }
        if let spectral { _ = engine.restore(spectral: spectral) }
        if let shielding { _ = engine.restore(shielding: shielding) }
        var v = PassVerdict()
        func take(_ d: Decision?) {
            guard let d else { return }
            v.gamma = v.gamma || d.gammaAlarm
            v.neutron = v.neutron || d.neutronAlarm
            v.normSuspect = v.normSuspect || d.normSuspect
            v.truncated = v.truncated || d.truncated
            v.notScreened = v.notScreened || d.notScreened
            v.gammaTests |= d.gammaTests.bits
            v.ceilingSigma = max(v.ceilingSigma, Double(d.gammaCeilingSigmaQ8) / 256)
            let sigma = Double(d.gammaMaxSigmaQ8) / 256
            if sigma > v.maxSigma {
                v.maxSigma = sigma; v.lowShare = Double(d.gammaMaxLowShareQ16) / 65536
                v.maxSigmaSamples = d.gammaMaxWindowSamples; v.maxSigmaGroup = d.gammaMaxGroup
                v.maxSigmaDwell = d.gammaMaxWindowSamples > d.gammaWindowSamples
                v.suppression = Double(d.suppressionQ16) / 65536
            }
        }
        var last: Int64 = 0
        for e in events {
            switch e {
            case let .beam(b): take(engine.beamEdge(b)); last = b.tUs
            case let .sample(s): take(engine.sample(s)); last = s.tUs
            case .container: break  // container numbers do not bear on detection
            }
        }
        take(engine.finish(atUs: last))
        return (v, engine.normLearner, engine.spectral, engine.nextNormRule, engine.shieldingLearner)
    }
}

/// Shared shape of the two simple baselines: 200 ms intervals (two samples), all panels summed,
/// background the mean of the last 20 s of unoccupied intervals, occupancy from the beams with
/// a 2 s hold-in, a 5-interval (1 s) sliding sum tested during the occupancy.
struct SimpleBaseline {
    enum Rule { case sigma(Double), percent(Double) }
    let rule: Rule

    func run(_ events: [LaneEvent]) -> PassVerdict {
        var v = PassVerdict()
        var blocked = [false, false]
        var lastClearUs: Int64 = -1
        var occupied = false
        var g = 0.0, n = 0.0, half = 0
        var intervals: [(g: Double, n: Double, occ: Bool)] = []
        var bgG: [Double] = [], bgN: [Double] = []
        for e in events {
            switch e {
            case let .beam(b):
                blocked[b.beam] = b.blocked
                if b.blocked { occupied = true } else if !blocked[0] && !blocked[1] { lastClearUs = b.tUs }
            case let .sample(s):
                for p in 0..<4 { g += Double(s.gamma[p]); n += Double(s.neutron[p]) }
                half += 1
                if half < 2 { continue }
                let inPortal = blocked[0] || blocked[1] || (occupied && s.tUs < lastClearUs + 2_000_000)
                if !inPortal { occupied = false }
                intervals.append((g, n, inPortal))
                if !inPortal {
                    bgG.append(g); bgN.append(n)
                    if bgG.count > 100 { bgG.removeFirst(); bgN.removeFirst() }
                } else if intervals.count >= 5 && bgG.count >= 10 {
                    let c = intervals.suffix(5).reduce(0) { $0 + $1.g }
                    let cn = intervals.suffix(5).reduce(0) { $0 + $1.n }
                    let b = bgG.reduce(0, +) / Double(bgG.count) * 5
                    let bn = max(1, bgN.reduce(0, +) / Double(bgN.count) * 5)
                    switch rule {
                    case let .sigma(k): if c > b + k * b.squareRoot() { v.gamma = true }
                    case let .percent(f): if c > f * b { v.gamma = true }
                    }
                    if cn > bn + 6 * bn.squareRoot() && cn - bn >= 4 { v.neutron = true }
                    if cn - bn >= 4 { v.maxNeutronSigma = max(v.maxNeutronSigma, (cn - bn) / bn.squareRoot()) }
                }
                g = 0; n = 0; half = 0
            case .container: break
            }
        }
        return v
    }
}

/// The Neyman-Pearson bound (DOMAIN.md): a detector told, per sample, panel and energy window,
/// the background `b` and the source's expected counts `s`. Gaussian approximation of the
/// log-likelihood-ratio statistic; the probability of detection at false-alarm probability `a`.
enum MatchedFilter {
    static func pd(world: LaneWorld, bare: LaneWorld, neutron: Bool, falseAlarm: Double) -> Double {
        var m0 = 0.0, v0 = 0.0, m1 = 0.0, v1 = 0.0
        let dt = 0.1
        var t = dt / 2
        while t < world.durationS {
            for p in 0..<world.panelCount {
                let with = world.rates(at: t, panel: p), without = bare.rates(at: t, panel: p)
                let channels: [(Double, Double)]
                if neutron {
                    channels = [(with.neutron * dt, without.neutron * dt)]
                } else if !world.energyWindowsKev[p].isEmpty {
                    // Multi-window panels: the bound is told the same K windows.
                    channels = Array(zip(world.windowRates(at: t, panel: p).map { $0 * dt }, bare.windowRates(at: t, panel: p).map { $0 * dt }))
                } else {
                    channels = [(with.low * dt, without.low * dt), (with.high * dt, without.high * dt)]
                }
                for (w, b0) in channels {
                    let s = w - b0
                    guard s > 1e-9, b0 > 1e-12 else { continue }
                    let l = log(1 + s / b0)
                    m0 += b0 * l - s
                    v0 += b0 * l * l
                    m1 += (b0 + s) * l - s
                    v1 += (b0 + s) * l * l
                }
            }
            t += dt
        }
        guard v1 > 0 else { return 0 }
        let z = normalQuantile(1 - falseAlarm)
        return normalCDF((m1 - m0 - z * v0.squareRoot()) / v1.squareRoot())
    }

    static func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// Inverse of the normal CDF by bisection (only a few calls).
    static func normalQuantile(_ p: Double) -> Double {
        var lo = -10.0, hi = 10.0
        for _ in 0..<100 {
            let mid = (lo + hi) / 2
            if normalCDF(mid) < p { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }
}
