// Runs the suite on every detector (in parallel over passes, each pass seeded on its own, so
// the result does not depend on scheduling) and aggregates: probability of detection against
// strength, MDS95, false alarms per 1,000 clean occupancies, NORM alarm share.

import Foundation
import LaneCore

public enum DetectorName: String, CaseIterable, Sendable, Codable {
    case engine = "this engine"
    case vm250 = "VM-250-style (1 s, 7 sigma)"
    case percent = "1.2 x background"
    case bound = "matched-filter bound"
}

public struct PassResult: Sendable {
    public var spec: PassSpec
    public var verdicts: [DetectorName: PassVerdict]
    public var boundPd: Double
}

public struct CellKey: Hashable, Sendable {
    public var kind: ThreatKind
    public var profile: SpeedProfile
    public init(kind: ThreatKind, profile: SpeedProfile) {
        self.kind = kind
        self.profile = profile
    }
}

public struct EvalReport: Sendable {
    public var config: EvalConfig
    public var passes: Int
    public var seconds: Double
    /// Pd per detector per cell per strength index.
    public var pd: [CellKey: [DetectorName: [Double]]]
    public var mds95: [CellKey: [DetectorName: Double?]]
    /// Gamma and neutron false alarms per class: (alarms, passes) per detector.
    public var falseAlarms: [CleanClass: [DetectorName: (gamma: Int, neutron: Int, passes: Int)]]
    public var normAlarms: [DetectorName: (alarms: Int, suspect: Int, passes: Int)]
    /// The VM-250-style baseline's neutron test with its threshold raised until it gives this
    /// engine's neutron false-alarm count on the same clean passes (DOMAIN.md: compare at equal
    /// false-alarm rate): the threshold (sd) and Cf-252's Pd and MDS95 per speed.
    public var neutronEqualFAThreshold: Double = 6
    public var neutronEqualFAPd: [SpeedProfile: [Double]] = [:]
    public var neutronEqualFAMds95: [SpeedProfile: Double?] = [:]
    /// The ceiling's trade-off (`EvalConfig.ceilingSweep`): per ceiling, the engine's NORM and
    /// clean gamma alarms and Co-60's MDS95 per speed.
    public var ceilingCurve: [CeilingPoint] = []
    /// The engine's largest gamma significance (sigma) per clean pass, sorted: the threshold n
    /// that 1 false alarm per 1,000 clean occupancies would need is its 99.9th percentile.
    public var cleanMaxSigmas: [Double] = []
    /// The same per class of clean traffic, sorted, each with whether the dwell test (the whole
    /// shielded occupancy, longer than the speed window) gave it.
    public var cleanMaxSigmasByClass: [CleanClass: [(sigma: Double, dwell: Bool)]] = [:]
    /// The engine's NORM alarms per test that raised them (`GammaTests` bit; a load may count
    /// under several).
    public var normAlarmTests: [Int] = Array(repeating: 0, count: GammaTests.bitCount)
    /// The same for the engine's gamma false alarms on clean passes.
    public var cleanAlarmTests: [Int] = Array(repeating: 0, count: GammaTests.bitCount)
    public func cleanSigmaQuantile(_ q: Double) -> Double? {
        cleanMaxSigmas.isEmpty ? nil : cleanMaxSigmas[min(cleanMaxSigmas.count - 1, Int(q * Double(cleanMaxSigmas.count)))]
    }
}

public struct CeilingPoint: Sendable {
    public var sigma: Double
    public var normAlarms = 0, normPasses = 0
    public var cleanGammaAlarms = 0, cleanPasses = 0
    public var co60Mds95: [SpeedProfile: Double?] = [:]
    /// Co-60: the largest engine / VM-250-style MDS95 over speeds (infinity: never reached
    /// where the baseline did).
    public var co60Worst = 0.0
}

extension PassSpec {
    /// The passes the ceiling's trade-off curve counts: Co-60, NORM and clean traffic.
    var entersCeilingCurve: Bool {
        switch kind {
        case .threat(.co60, _), .norm, .clean: return true
        default: return false
        }
    }
}

public enum Evaluation {
    public static func run(config: EvalConfig, settings: EngineSettings, progress: @escaping @Sendable (Int, Int) -> Void = { _, _ in }) -> EvalReport {
        let started = Date()
        let specs = Suite.passes(config)
        let results = UnsafeMutableBufferPointer<PassResult?>.allocate(capacity: specs.count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        let box = ResultsBox(results)
        let done = ProgressCounter()
        // Worker threads with a large stack: the engine keeps its windows inline (no heap), and
        // debug builds copy it around; dispatch's worker stacks are too small for that.
        let chunk = 64
        let chunks = (specs.count + chunk - 1) / chunk
        let next = ProgressCounter()
        let finished = DispatchGroup()
        for _ in 0..<max(1, ProcessInfo.processInfo.activeProcessorCount) {
            finished.enter()
            let t = Thread {
                while true {
                    let c = next.add(1) - 1
                    if c >= chunks { break }
                    for i in (c * chunk)..<min(specs.count, (c + 1) * chunk) {
                        box.set(i, runPass(specs[i], config: config, settings: settings))
                    }
                    progress(done.add(min(chunk, specs.count - c * chunk)), specs.count)
                }
                finished.leave()
            }
            t.stackSize = 64 << 20
            t.start()
        }
        finished.wait()
        let all = results.map { $0! }
        return aggregate(all, config: config, seconds: Date().timeIntervalSince(started))
    }

    static func runPass(_ spec: PassSpec, config: EvalConfig, settings: EngineSettings) -> PassResult {
        let (scenario, bare) = Suite.scenario(spec, config)
        var events: [LaneEvent] = []
        events.reserveCapacity(Int(scenario.durationS ?? 100) * 10 + 16)
        TraceGenerator.play(Suite.world(scenario, config)) { events.append($0) }
        var verdicts: [DetectorName: PassVerdict] = [:]
        verdicts[.engine] = EngineDetector(settings: settings, learner: config.normLearner, spectral: config.spectral, shielding: config.shielding).run(events)
        if !config.ceilingSweep.isEmpty && spec.entersCeilingCurve {
            // The same pass with the ceiling out of reach: the ceiling only adds alarms, so the
            // verdict at any ceiling c is this one or the 1 s window's significance reaching c.
            var off = settings
            off.gammaCeilingSigmaQ8 = 1 << 40
            verdicts[.engine]!.gammaWithoutCeiling = EngineDetector(settings: off, learner: config.normLearner, spectral: config.spectral, shielding: config.shielding).run(events).gamma
        }
        verdicts[.vm250] = SimpleBaseline(rule: .sigma(7)).run(events)
        verdicts[.percent] = SimpleBaseline(rule: .percent(1.2)).run(events)
        if let dir = config.falseAlarmTraceDirectory, verdicts[.engine]!.gamma || verdicts[.engine]!.neutron {
            var name: String? = nil
            if case let .clean(cls) = spec.kind { name = "false-alarm-\(cls.rawValue)" }
            if case .norm = spec.kind { name = "norm-alarm" }
            if let name {
                var text = ""
                TraceGenerator.generate(Suite.world(scenario, config)) { text += $0 + "\n" }
                try? text.write(toFile: dir + "/\(name)-\(spec.seed).jsonl", atomically: true, encoding: .utf8)
            }
        }
        var bound = 0.0
        if case let .threat(kind, _) = spec.kind {
            bound = MatchedFilter.pd(world: Suite.world(scenario, config), bare: Suite.world(bare, config),
                                     neutron: kind.isNeutron, falseAlarm: config.boundFalseAlarm)
        }
        if let explain = ProcessInfo.processInfo.environment["LANE_SIM_EXPLAIN"], case let .threat(kind, si) = spec.kind,
           explain == "\(kind.rawValue):\(spec.profile)" {
            // A developer's look at one cell (LANE_SIM_EXPLAIN=co60:steady05): every pass's draw
            // and what each detector made of it, on standard error.
            let v = verdicts[.engine]!, veh = scenario.vehicles[0], src = veh.sources.last!
            let line = String(format: "explain %@ %@ strength %.0f: engine %@ (sigma %.2f over %d samples%@, shielding %.3f, low share %.2f, tests %d, NORM %@), baseline %@, bound Pd %.2f; attenuation %.2f, shielding drawn %.2f, offset %.2f m, height %.2f m, stop %.0f s\n",
                              config.physics.name, "\(spec.profile)", kind.strengths[si], v.gamma ? "ALARM" : "clear", v.maxSigma, v.maxSigmaSamples,
                              v.maxSigmaDwell ? " (dwell)" : "", v.suppression, v.lowShare, Int(v.gammaTests), v.normSuspect ? "yes" : "no",
                              verdicts[.vm250]!.gamma ? "ALARM" : "clear", bound, veh.attenuation, veh.shielding ?? -1, src.offsetM, src.heightM, veh.stopS)
            FileHandle.standardError.write(Data(line.utf8))
        }
        return PassResult(spec: spec, verdicts: verdicts, boundPd: bound)
    }

    static func aggregate(_ results: [PassResult], config: EvalConfig, seconds: Double) -> EvalReport {
        var pd: [CellKey: [DetectorName: [Double]]] = [:]
        var counts: [CellKey: [DetectorName: [(Double, Int)]]] = [:]
        var fa: [CleanClass: [DetectorName: (gamma: Int, neutron: Int, passes: Int)]] = [:]
        var norm: [DetectorName: (alarms: Int, suspect: Int, passes: Int)] = [:]
        for r in results {
            switch r.spec.kind {
            case let .threat(kind, si):
                let key = CellKey(kind: kind, profile: r.spec.profile)
                for d in DetectorName.allCases {
                    var row = counts[key, default: [:]][d, default: Array(repeating: (0, 0), count: kind.strengths.count)]
                    let hit: Double
                    if d == .bound { hit = r.boundPd } else {
                        let v = r.verdicts[d]!
                        hit = (kind.isNeutron ? v.neutron : v.gamma) ? 1 : 0
                    }
                    row[si].0 += hit
                    row[si].1 += 1
                    counts[key, default: [:]][d] = row
                }
            case let .clean(cls):
                for d in DetectorName.allCases where d != .bound {
                    let v = r.verdicts[d]!
                    var x = fa[cls, default: [:]][d, default: (0, 0, 0)]
                    x.gamma += v.gamma ? 1 : 0
                    x.neutron += v.neutron ? 1 : 0
                    x.passes += 1
                    fa[cls, default: [:]][d] = x
                }
            case .norm:
                for d in DetectorName.allCases where d != .bound {
                    let v = r.verdicts[d]!
                    var x = norm[d, default: (0, 0, 0)]
                    x.alarms += v.gamma ? 1 : 0
                    x.suspect += v.normSuspect ? 1 : 0
                    x.passes += 1
                    norm[d] = x
                }
            }
        }
        // The baseline's neutron test at this engine's false-alarm count on the clean passes.
        var cleanSigmas: [Double] = []
        var engineNeutronFA = 0
        for r in results {
            guard case .clean = r.spec.kind else { continue }
            cleanSigmas.append(r.verdicts[.vm250]!.maxNeutronSigma)
            if r.verdicts[.engine]!.neutron { engineNeutronFA += 1 }
        }
        cleanSigmas.sort(by: >)
        let threshold = max(6, engineNeutronFA < cleanSigmas.count ? cleanSigmas[engineNeutronFA] : 0)
        var eqCounts: [SpeedProfile: [(Double, Int)]] = [:]
        for r in results {
            guard case let .threat(.cf252, si) = r.spec.kind else { continue }
            var row = eqCounts[r.spec.profile, default: Array(repeating: (0, 0), count: ThreatKind.cf252.strengths.count)]
            row[si].0 += r.verdicts[.vm250]!.maxNeutronSigma > threshold ? 1 : 0
            row[si].1 += 1
            eqCounts[r.spec.profile] = row
        }
        var eqPd: [SpeedProfile: [Double]] = [:], eqMds: [SpeedProfile: Double?] = [:]
        for (profile, row) in eqCounts {
            let p = row.map { $0.1 > 0 ? $0.0 / Double($0.1) : 0 }
            eqPd[profile] = p
            eqMds[profile] = mds95(strengths: ThreatKind.cf252.strengths, pd: p)
        }
        var mds: [CellKey: [DetectorName: Double?]] = [:]
        for (key, rows) in counts {
            for (d, row) in rows {
                let p = row.map { $0.1 > 0 ? $0.0 / Double($0.1) : 0 }
                pd[key, default: [:]][d] = p
                mds[key, default: [:]][d] = mds95(strengths: key.kind.strengths, pd: p)
            }
        }
        var report = EvalReport(config: config, passes: results.count, seconds: seconds, pd: pd, mds95: mds, falseAlarms: fa, normAlarms: norm)
        report.ceilingCurve = config.ceilingSweep.map { ceilingPoint($0, results, mds) }
        report.cleanMaxSigmas = results.compactMap { r in
            if case .clean = r.spec.kind { return r.verdicts[.engine]!.maxSigma }
            return nil
        }.sorted()
        for r in results {
            let v = r.verdicts[.engine]!
            switch r.spec.kind {
            case let .clean(cls):
                report.cleanMaxSigmasByClass[cls, default: []].append((v.maxSigma, v.maxSigmaDwell))
                if v.gamma { for b in 0..<GammaTests.bitCount where v.gammaTests & (1 << UInt8(b)) != 0 { report.cleanAlarmTests[b] += 1 } }
            case .norm where v.gamma:
                for b in 0..<GammaTests.bitCount where v.gammaTests & (1 << UInt8(b)) != 0 { report.normAlarmTests[b] += 1 }
            default: break
            }
        }
        for c in report.cleanMaxSigmasByClass.keys { report.cleanMaxSigmasByClass[c]!.sort { $0.sigma < $1.sigma } }
        report.neutronEqualFAThreshold = threshold
        report.neutronEqualFAPd = eqPd
        report.neutronEqualFAMds95 = eqMds
        return report
    }

    /// The engine's alarms had its ceiling been `sigma`: NORM, clean, and Co-60 per speed.
    static func ceilingPoint(_ sigma: Double, _ results: [PassResult], _ mds: [CellKey: [DetectorName: Double?]]) -> CeilingPoint {
        var p = CeilingPoint(sigma: sigma)
        var co60: [SpeedProfile: [(Double, Int)]] = [:]
        for r in results where r.spec.entersCeilingCurve {
            let v = r.verdicts[.engine]!
            let alarm = v.gammaWithoutCeiling || v.ceilingSigma >= sigma
            switch r.spec.kind {
            case .norm: p.normAlarms += alarm ? 1 : 0; p.normPasses += 1
            case .clean: p.cleanGammaAlarms += alarm ? 1 : 0; p.cleanPasses += 1
            case let .threat(_, si):
                var row = co60[r.spec.profile, default: Array(repeating: (0, 0), count: ThreatKind.co60.strengths.count)]
                row[si].0 += alarm ? 1 : 0
                row[si].1 += 1
                co60[r.spec.profile] = row
            }
        }
        for (profile, row) in co60 {
            let m = mds95(strengths: ThreatKind.co60.strengths, pd: row.map { $0.1 > 0 ? $0.0 / Double($0.1) : 0 })
            p.co60Mds95[profile] = m
            let b = mds[CellKey(kind: .co60, profile: profile)]?[.vm250] ?? nil
            switch (m, b) {
            case let (m?, b?): p.co60Worst = max(p.co60Worst, m / b)
            case (nil, _?): p.co60Worst = .infinity
            default: break
            }
        }
        return p
    }

    /// The smallest strength detected 95 % of the time: the first crossing of 0.95, interpolated
    /// in log strength between the tested strengths (DOMAIN.md). nil when never reached.
    public static func mds95(strengths: [Double], pd: [Double]) -> Double? {
        guard let i = pd.firstIndex(where: { $0 >= 0.95 }) else { return nil }
        if i == 0 { return strengths[0] }
        let (p0, p1) = (pd[i - 1], pd[i])
        let f = p1 > p0 ? (0.95 - p0) / (p1 - p0) : 1
        return exp(log(strengths[i - 1]) + f * (log(strengths[i]) - log(strengths[i - 1])))
    }
}

final class ResultsBox: @unchecked Sendable {
    let p: UnsafeMutableBufferPointer<PassResult?>
    init(_ p: UnsafeMutableBufferPointer<PassResult?>) { self.p = p }
    func set(_ i: Int, _ r: PassResult) { p[i] = r }  // each index written by one thread only
}

final class ProgressCounter: @unchecked Sendable {
    let lock = NSLock()
    var n = 0
    func add(_ k: Int) -> Int { lock.lock(); defer { lock.unlock() }; n += k; return n }
}
