// The evaluation over a family of physics (issue 12): the same suite played in every member, each
// goal reported for every member, for the worst member and for the median. A default that is
// right only for one member is a defect; the table shows where each one stands.

import Foundation
import LaneCore

public struct MemberFigures: Sendable {
    public var name: String
    public var summary: String
    /// Gamma false alarms per 1,000 clean occupancies; neutron per 10,000.
    public var gammaFalseAlarms: Double
    public var neutronFalseAlarms: Double
    /// NORM gamma alarms: fewer than the VM-250-style baseline by this share (negative: more).
    public var normFewer: Double
    /// Soft sources (Cs-137, HEU, Ba-133): the largest engine / baseline MDS95 over speeds
    /// (infinity: the engine never reached 95 % where the baseline did), and how many cells are
    /// worse than the baseline.
    public var softWorst: Double
    public var softWorseCells: [String]
    /// Co-60: the largest engine / baseline MDS95.
    public var co60Worst: Double
    /// Parked Cs-137: baseline / engine MDS95.
    public var parkedGain: Double
    /// Cs-137 in NORM cargo against clean cargo, the worst speed.
    public var inNormWorst: Double
    /// The same ratio for the matched-filter bound (known background, known profile): what the
    /// NORM load's own counts cost an ideal detector on this grid of strengths.
    public var inNormBoundWorst: Double
    /// Cf-252: the largest engine / baseline MDS95, the baseline's neutron threshold raised to
    /// this engine's false-alarm count.
    public var neutronWorst: Double
    /// Soft sources: the largest engine / matched-filter-bound MDS95.
    public var boundWorst: Double
    /// The engine's largest gamma significance on clean passes, 99.9th percentile: the n that
    /// 1 false alarm per 1,000 would need.
    public var cleanSigma999: Double
    /// 95 % intervals of `normFewer` and of `inNormWorst` (at its worst speed) from the passes'
    /// own sampling noise (`SamplingNoise`).
    public var normFewerInterval: ClosedRange<Double> = 0...0
    public var inNormInterval: ClosedRange<Double> = 0...0
}

/// How far a member's figures move with the passes' own sampling noise: 95 % intervals, normal
/// approximation on the log of a ratio (delta method). What they leave out is larger still: the
/// lane's learning history and the member's other draws (docs/DETECTION.md, "The whole 8-window
/// family after 1,000 learning passes").
public enum SamplingNoise {
    static let z95 = 1.959964

    /// NORM alarms fewer than the baseline, 1 - ke / kb, each an alarm count of `passes` NORM
    /// passes (binomial). With no engine alarm, from the Poisson 95 % upper limit (3.69) up to 1.
    public static func fewerInterval(engine ke: Int, baseline kb: Int, passes n: Int) -> ClosedRange<Double> {
        guard kb > 0, n > 0 else { return 0...0 }
        if ke == 0 { return max(0, 1 - 3.689 / Double(kb))...1 }
        let r = Double(ke) / Double(kb)
        let v = (1 - Double(ke) / Double(n)) / Double(ke) + (1 - Double(kb) / Double(n)) / Double(kb)
        let spread = exp(z95 * v.squareRoot())
        return (1 - r * spread)...(1 - r / spread)
    }

    /// The ratio of two sums of detection probabilities (per strength, each the mean of `passes`
    /// passes: binomial), sum load / sum clean.
    public static func ratioInterval(load: [Double], clean: [Double], passes n: Int) -> ClosedRange<Double> {
        let a = load.reduce(0, +), b = clean.reduce(0, +)
        guard a > 0, b > 0, n > 0 else { return 0...0 }
        let va = load.reduce(0) { $0 + $1 * (1 - $1) } / Double(n), vb = clean.reduce(0) { $0 + $1 * (1 - $1) } / Double(n)
        let spread = exp(z95 * (va / (a * a) + vb / (b * b)).squareRoot())
        return (a / b / spread)...(a / b * spread)
    }
}

public struct FamilyReport: Sendable {
    public var members: [(physics: Physics, report: EvalReport)]
    /// How each member's lane was commissioned (empty: the shipped settings as they are).
    public var commissioning: [String: String] = [:]

    static func ratio(_ e: Double??, _ b: Double??) -> Double? {
        let e = e ?? nil, b = b ?? nil
        switch (e, b) {
        case let (e?, b?): return e / b
        case (nil, _?): return .infinity
        default: return nil  // neither reached 95 %: no comparison
        }
    }

    public static func figures(_ p: Physics, _ r: EvalReport) -> MemberFigures {
        let fa = r.falseAlarms.values.reduce((0, 0, 0)) { acc, m in
            let e = m[.engine] ?? (0, 0, 0)
            return (acc.0 + e.gamma, acc.1 + e.neutron, acc.2 + e.passes)
        }
        let ne = r.normAlarms[.engine] ?? (0, 0, 0), nb = r.normAlarms[.vm250] ?? (0, 0, 0)
        var softWorst = 0.0, co60 = 0.0, neutron = 0.0, bound = 0.0
        var worse: [String] = []
        for kind in [ThreatKind.cs137, .heu, .ba133, .co60, .cf252] {
            for profile in SpeedProfile.allCases {
                let m = r.mds95[CellKey(kind: kind, profile: profile)] ?? [:]
                guard let x = ratio(m[.engine], m[.vm250]) else { continue }
                switch kind {
                case .co60: co60 = max(co60, x)
                case .cf252:
                    // Against the baseline at this engine's false-alarm rate.
                    if let eq = ratio(m[.engine], r.neutronEqualFAMds95[profile]) { neutron = max(neutron, eq) } else { neutron = max(neutron, x) }
                default:
                    softWorst = max(softWorst, x)
                    if x > 1 { worse.append("\(kind.label) \(profile.label)") }
                    if let f = ratio(m[.engine], m[.bound]) { bound = max(bound, f) }
                }
            }
        }
        let pk = r.mds95[CellKey(kind: .cs137, profile: .parked)] ?? [:]
        let parked = (ratio(pk[.engine], pk[.vm250])).map { $0 > 0 ? 1 / $0 : 0 } ?? 0
        // Pd summed over the strengths in NORM cargo over the same in clean cargo, worst speed
        // (and the interval of the engine's there).
        var inNormInterval: ClosedRange<Double> = 0...0
        func inNormWorst(_ d: DetectorName) -> Double {
            var worst = Double.infinity
            for profile in SpeedProfile.allCases {
                let clean = r.pd[CellKey(kind: .cs137, profile: profile)]?[d] ?? []
                let load = r.pd[CellKey(kind: .cs137InNorm, profile: profile)]?[d] ?? []
                let a = clean.reduce(0, +)
                guard a > 0 else { continue }
                let ratio = load.reduce(0, +) / a
                if ratio < worst {
                    worst = ratio
                    if d == .engine { inNormInterval = SamplingNoise.ratioInterval(load: load, clean: clean, passes: r.config.passesPerCell) }
                }
            }
            return worst.isFinite ? worst : 0
        }
        let engineInNorm = inNormWorst(.engine)
        return MemberFigures(
            name: p.name, summary: p.summary,
            gammaFalseAlarms: 1000 * Double(fa.0) / Double(max(1, fa.2)), neutronFalseAlarms: 10_000 * Double(fa.1) / Double(max(1, fa.2)),
            normFewer: nb.alarms > 0 ? 1 - Double(ne.alarms) / Double(nb.alarms) : 0,
            softWorst: softWorst, softWorseCells: worse, co60Worst: co60, parkedGain: parked,
            inNormWorst: engineInNorm, inNormBoundWorst: inNormWorst(.bound), neutronWorst: neutron, boundWorst: bound,
            cleanSigma999: r.cleanSigmaQuantile(0.999) ?? .nan,
            normFewerInterval: SamplingNoise.fewerInterval(engine: ne.alarms, baseline: nb.alarms, passes: ne.passes),
            inNormInterval: inNormInterval)
    }

    public var figures: [MemberFigures] { members.map { Self.figures($0.physics, $0.report) } }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func f(_ x: Double, _ digits: Int = 2) -> String { x.isInfinite ? "never" : String(format: "%.\(digits)f", x) }

    /// The family table: one row per member, then the worst member and the median per column.
    /// `gammaSigma`: the gross test's n the engine ran with, for the text.
    public func markdown(command: String, gammaSigma: Double) -> String {
        let fs = figures
        var s = "# Detection evaluation over a family of physics\n\n"
        s += "Reproduce with `\(command)`.\n\n"
        s += "Each member is a plausible PVT lane (docs/SIMULATOR.md, \"The physics family\"); the same suite is played in each. "
        s += "Ratios are this engine's MDS95 over the VM-250-style baseline's (below 1 is better), except parked (baseline over engine: above 3 is the goal) "
        s += "and NORM (the share of the baseline's NORM alarms the engine avoids). "
        s += "The last column is the engine's largest gamma significance on clean passes at its 99.9th percentile: the threshold n that 1 false alarm per 1,000 would need (the engine uses \(String(format: "%g", gammaSigma))). "
        s += "\"Cs-137 in NORM / clean\" adds the probability of detection over the strengths in NORM cargo and divides by the same in clean cargo (worst speed); "
        s += "\"bound, in NORM / clean\" is that ratio for the matched-filter bound: what the NORM load's own counts cost an ideal detector on this grid.\n\n"
        s += "| member | gamma FA / 1,000 | neutron FA / 10,000 | NORM alarms fewer | soft sources, worst | soft cells worse than baseline | Co-60, worst | parked Cs-137 gain | Cs-137 in NORM / clean | bound, in NORM / clean | Cf-252 at equal FA, worst | soft / bound, worst | clean sigma, 99.9 % |\n"
        s += "| --- |" + String(repeating: " ---: |", count: 12) + "\n"
        func row(_ name: String, _ g: [Double]) -> String {
            "| \(name) | \(Self.f(g[0], 1)) | \(Self.f(g[1], 1)) | \(Self.f(g[2] * 100, 0)) % | \(Self.f(g[3])) | \(Self.f(g[4], 0)) | \(Self.f(g[5])) | \(Self.f(g[6])) | \(Self.f(g[7], 3)) | \(Self.f(g[11], 3)) | \(Self.f(g[8])) | \(Self.f(g[9])) | \(Self.f(g[10])) |\n"
        }
        // Column indices stay as before (the goals below name them); the bound's in-NORM ratio is 11.
        func columns(_ m: MemberFigures) -> [Double] {
            [m.gammaFalseAlarms, m.neutronFalseAlarms, m.normFewer, m.softWorst, Double(m.softWorseCells.count), m.co60Worst, m.parkedGain,
             m.inNormWorst, m.neutronWorst, m.boundWorst, m.cleanSigma999, m.inNormBoundWorst]
        }
        for m in fs { s += row(m.name, columns(m)) }
        // Worst: the largest where larger is worse, the smallest where smaller is (NORM, parked, in NORM).
        let lowerIsWorse: Set<Int> = [2, 6, 7, 11]
        var worst: [Double] = [], med: [Double] = []
        for c in 0..<12 {
            let xs = fs.map { columns($0)[c] }
            worst.append(lowerIsWorse.contains(c) ? (xs.min() ?? .nan) : (xs.max() ?? .nan))
            med.append(Self.median(xs))
        }
        s += row("**worst member**", worst)
        s += row("**median**", med)
        s += "\n## Goals over the family\n\n| goal | worst member | median | met |\n| --- | ---: | ---: | --- |\n"
        func goal(_ text: String, _ c: Int, _ ok: (Double) -> Bool, _ pct: Bool = false) {
            let w = pct ? Self.f(worst[c] * 100, 0) + " %" : Self.f(worst[c]), md = pct ? Self.f(med[c] * 100, 0) + " %" : Self.f(med[c])
            s += "| \(text) | \(w) | \(md) | \(ok(worst[c]) ? "yes" : "**no**") |\n"
        }
        goal("gamma false alarms <= 1 per 1,000 clean", 0) { $0 <= 1 }
        goal("neutron false alarms <= 1 per 10,000 clean (estimate; the upper bound needs 30,000 passes per member)", 1) { $0 <= 1 }
        goal("safety: no soft-source cell worse than the baseline", 4) { $0 == 0 }
        goal("soft sources at most 0.7 x the baseline's MDS95", 3) { $0 <= 0.7 }
        goal("NORM alarms at least 78 % fewer (worst member)", 2, { $0 >= 0.78 }, true)
        s += "| NORM alarms at least 90 % fewer (median) | | \(Self.f(med[2] * 100, 0)) % | \(med[2] >= 0.9 ? "yes" : "**no**") |\n"
        goal("Co-60 at most 2 x the baseline's MDS95", 5) { $0 <= 2 }
        goal("parked Cs-137: baseline / engine at least 3", 6) { $0 >= 3 }
        goal("Cs-137 in NORM at least 0.9 of clean", 7) { $0 >= 0.9 }
        s += "| (the matched-filter bound's own Cs-137 in NORM / clean) | \(Self.f(worst[11], 3)) | \(Self.f(med[11], 3)) | \(worst[11] >= 0.9 ? "yes" : "**no**") |\n"
        goal("Cf-252 at most the baseline's MDS95 at equal false-alarm rate", 8) { $0 <= 1 }
        goal("soft sources within 2 x of the matched-filter bound", 9) { $0 <= 2 }
        s += "\n## Sampling noise\n\n"
        s += "The passes' own noise: 95 % intervals (normal approximation on the log of the ratio) of the two figures whose goals lie closest to them. "
        s += "They leave out what moves a member more: the lane's learning history and the member's other draws (docs/DETECTION.md, \"The whole 8-window family after 1,000 learning passes\").\n\n"
        s += "| member | NORM alarms fewer | 95 % interval | Cs-137 in NORM / clean (worst speed) | 95 % interval |\n| --- | ---: | ---: | ---: | ---: |\n"
        for m in fs {
            let a = m.normFewerInterval, b = m.inNormInterval
            s += "| \(m.name) | \(Self.f(m.normFewer * 100, 0)) % | \(Self.f(a.lowerBound * 100, 0))-\(Self.f(a.upperBound * 100, 0)) % | \(Self.f(m.inNormWorst, 3)) | \(Self.f(b.lowerBound, 3))-\(Self.f(b.upperBound, 3)) |\n"
        }
        if let sweep = members.first?.report.ceilingCurve, !sweep.isEmpty {
            s += "\n## The ceiling's trade-off over the family (NORM alarms against Co-60)\n\n"
            s += "Per gamma ceiling (1 s window, whatever the spectrum): the NORM alarms the engine avoids against the baseline, and Co-60's MDS95 over the baseline's at the worst speed. "
            s += "Where NORM discrimination is off every excess alarms and the ceiling changes nothing.\n\n"
            s += "| ceiling (sigma) | NORM fewer, worst member | NORM fewer, median | Co-60 / baseline, worst member | Co-60 / baseline, median | Co-60 at most 2 x everywhere |\n"
            s += "| ---: | ---: | ---: | ---: | ---: | --- |\n"
            for (i, point) in sweep.enumerated() {
                var fewer: [Double] = [], co60: [Double] = []
                for (_, r) in members where i < r.ceilingCurve.count {
                    let nb = r.normAlarms[.vm250] ?? (0, 0, 0)
                    fewer.append(nb.alarms > 0 ? 1 - Double(r.ceilingCurve[i].normAlarms) / Double(nb.alarms) : 0)
                    co60.append(r.ceilingCurve[i].co60Worst)
                }
                let worstCo60 = co60.max() ?? .nan
                s += "| \(Self.f(point.sigma, 0)) | \(Self.f((fewer.min() ?? .nan) * 100, 0)) % | \(Self.f(Self.median(fewer) * 100, 0)) % | "
                s += "\(Self.f(worstCo60)) | \(Self.f(Self.median(co60))) | \(worstCo60 <= 2 ? "yes" : "**no**") |\n"
            }
        }
        s += "\n## Members\n\n"
        for m in fs {
            s += "- **\(m.name)**: \(m.summary)" + (commissioning[m.name].map { "; commissioned: \($0)" } ?? "")
            if !m.softWorseCells.isEmpty { s += "; soft cells worse than the baseline: " + m.softWorseCells.joined(separator: ", ") }
            s += " ([full report](members/\(m.name).md))\n"
        }
        return s
    }
}

extension Evaluation {
    /// The suite in every member of the family, one after the other.
    public static func runFamily(config: EvalConfig, settings: EngineSettings, members: [Physics], commissioning plan: Commissioning? = nil,
                                 progress: @escaping @Sendable (String, Int, Int) -> Void = { _, _, _ in }) -> FamilyReport {
        var out: [(Physics, EvalReport)] = []
        var notes: [String: String] = [:]
        for m in members {
            var c = config
            var s = settings
            c.physics = m
            if let plan {
                let r = commission(m, settings: settings, config: config, plan: plan)
                c.physics = r.physics
                c.normLearner = r.learner
                c.spectral = r.spectral
                c.shielding = r.shielding
                s = r.settings
                notes[m.name] = r.summary
            }
            let name = m.name
            out.append((c.physics, run(config: c, settings: s) { progress(name, $0, $1) }))
        }
        return FamilyReport(members: out, commissioning: notes)
    }
}
