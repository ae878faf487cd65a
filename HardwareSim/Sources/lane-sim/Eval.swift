import ArgumentParser
import Foundation
import LaneAgent
import LaneCore
import LaneSimCore

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate the detection engine against baselines on a generated suite, on simulated time.")

    @Option(help: "Seed of the suite.") var seed: UInt64 = 1
    @Option(help: "Passes per source type, speed and strength.") var passesPerCell: Int = 25
    @Option(help: "Clean passes (moving, stopped, parked, queued); a tenth as many steel-cargo passes come on top.") var clean: Int = 3000
    @Option(help: "NORM passes.") var norm: Int = 1000
    @Option(name: .customLong("warmup-s"), help: "Seconds of empty lane (the background the engine learns) before each vehicle, 20-3600: 300 is a lane in service, 40 one just started.")
    var warmupS: Double = 300
    @Option(help: "A board profile whose detection settings the engine uses (default: the shipped defaults).") var board: String?
    @Option(help: "Directory for the report (report.md, report.json, pd-*.svg).") var out: String = "out/eval"
    @Option(help: "Write the trace of every clean or NORM pass the engine alarmed on into this directory.") var falseAlarmTraces: String?
    @Option(help: "Members of the physics family drawn besides lane-sim's own (0: lane-sim's physics only, the old report).") var family: Int = 8
    @Option(help: "Seed of the physics family.") var familySeed: UInt64 = 1
    @Option(help: "Only these members of the family, by name separated by commas (lane-sim, m1, m2, ...): a quicker look at the members a change is for; the worst and median rows are then over these only.") var members: String?
    @Flag(help: "Commission each member's lane first: set the window split, measure the Cs-137 check source, learn the NORM loads' share from 200 NORM passes (docs/DETECTION.md).")
    var commission = false
    @Option(help: "Also count NORM alarms and Co-60's MDS95 at each of these gamma ceilings (sigma, comma-separated): the ceiling's trade-off curve.")
    var ceilingSweep: String?
    @Flag(help: "With --commission: learn the NORM loads as the agent does (detection.normFromTraffic: the engine's own learner fed by the lane's traffic, a Cs-137 pass among every 50 NORM loads) instead of the offline quantile.")
    var fromTraffic = false
    @Option(help: "With --commission --from-traffic on multi-window panels: the check sources whose shapes the lane measures for the directed test, separated by commas (cs137, co60, heu, ba133; at most 4).") var checkShapes: String?
    @Option(help: "The directed test's limit in sd (multi-window panels with --check-shapes; default 2.5).") var directedSigma: Double?
    @Option(help: "The matched test's candidate limit in sd (multi-window panels with --check-shapes; 0: off; default 5).") var matchedSigma: Double?
    @Option(help: "The directed test's limit for the matched test's candidates, sd (default 3.5).") var matchedDirectedSigma: Double?
    @Option(help: "The matched test's misfit allowance, sd: where the fit with the check source's shape leaves chi^2 beyond d + n sqrt(2 d), its verdict judges the source's gain in units of that misfit (below 0: off, the default).") var matchedMisfitSigma: Double?
    @Option(help: "The window split the lane asks its panels for, keV (holding register 257; 0: each member's own). Default: 600 with --commission (above Cs-137's Compton edge: docs/DETECTION.md), each member's own without.")
    var splitKev: Double?
    @Option(help: "Multi-window panels: 8 (the contract's default boundaries, reference-panel-mw-v1), 2 (two windows, the default), or the boundaries in keV separated by commas (K + 1 values, K = 3 to 16). The engine's spectral test gets the K windows, and so does the matched-filter bound.")
    var windows: String?
    @Option(help: "The gamma ceiling, sigma (default: the board profile's or the shipped 20).") var ceiling: Double?
    @Option(help: "The gross test's n, sigma (default: the board profile's or the shipped 7).") var gammaSigma: Double?
    @Option(help: "The neutron window's least length, s (the gamma speed window when longer; default: the board profile's or the shipped 2).") var neutronWindow: Double?
    @Option(help: "The significance the lane learns its NORM from (loads over it), sigma (0: the gross n; default: the board profile's or 0).") var learnSigma: Double?
    @Option(help: "The spectral test's limit, in sd of chi^2 with K - 2 degrees of freedom (multi-window panels; default 3).") var spectralSigma: Double?
    @Option(help: "A chi^2 at or below K - 2 + this many sd is a confident NORM verdict that overrules the two-window rule's surplus test (multi-window panels; default -10: never; below -8: never).") var spectralNormSigma: Double?
    @Option(help: "A learned NORM bin harder than the median load's explains once it holds 1/this of all loads (multi-window panels; 20 to 200; default 20, as every bin).") var hardBinDivisor: Int?
    @Option(help: "The confident NORM verdict overrules the share test too at or below K - 2 + this many sd (with --check-shapes; default -10: never; not above --spectral-sigma).") var spectralNormShareSigma: Double?

    @Option(help: "With --commission --from-traffic: clean passes (the suite's traffic mix) interleaved among the learning NORM passes, per NORM pass (0 to 20; default 0: NORM loads only; 1 makes half the learning traffic NORM).") var learnCleanPerNorm: Double?
    @Option(help: "With --commission: the NORM passes the lane learns its NORM from (10 to 20000; default 200, about 130 of them over the threshold: a lane a few hours in service).") var learnPasses: Int?
    @Option(help: "With --commission --from-traffic: clean passes the lane's shielding learner sees first (default 100; 0: none, as every report before 2026-12-03).") var shieldingPasses: Int?
    @Option(help: "Tilt the vehicles' shielding across the spectrum, -1 to 1: the windows below the split lose shielding x (1 + tilt) of the background, those above x (1 - tilt) (default 0: the shape kept; a robustness probe).") var shieldingTilt: Double?

    @Option(help: "Each vehicle's tilt differs: --shielding-tilt plus this sd times a normal draw per pass (0 to 0.5; default 0: every vehicle alike).") var shieldingTiltSpread: Double?
    @Option(help: "With --shielding-tilt, on multi-window panels: step (the default; below and above the split) or smooth (through the windows, +1 at the lowest to -1 at the highest in log energy).") var shieldingTiltShape: String?

    func run() throws {
        guard passesPerCell > 0, clean >= 0, norm >= 0 else { throw ValidationError("counts must be positive") }
        guard warmupS >= 20 && warmupS <= 3600 else { throw ValidationError("--warmup-s must be 20...3600 seconds") }
        var settings = EngineSettings()
        if let board {
            do { settings = try BoardProfile.load(path: board).engine } catch { throw ValidationError("\(error)") }
        }
        if let ceiling {
            guard ceiling >= 1 && ceiling <= 1_000_000 else { throw ValidationError("--ceiling must be 1 to 1000000 sigma") }
            settings.gammaCeilingSigmaQ8 = Int64((ceiling * 256).rounded())
        }
        if let gammaSigma {
            guard gammaSigma >= 1 && gammaSigma <= 50 else { throw ValidationError("--gamma-sigma must be 1 to 50 sigma") }
            settings.gammaSigmaQ8 = Int64((gammaSigma * 256).rounded())
        }
        if let neutronWindow {
            // Checked as seconds first: NaN or a huge value must not reach the conversion to Int.
            let samples = neutronWindow * 1_000_000 / Double(settings.sampleIntervalUs)
            guard samples >= 0.5 && samples < Double(EngineSettings.windowSamplesMax) + 0.5 else {
                throw ValidationError("--neutron-window must be one sample to \(EngineSettings.windowSamplesMax) samples (\(Double(EngineSettings.windowSamplesMax) * Double(settings.sampleIntervalUs) / 1_000_000) s), not \(neutronWindow)")
            }
            settings.neutronWindowSamples = Int(samples.rounded())
        }
        if let learnSigma {
            guard learnSigma == 0 || (learnSigma >= 1 && learnSigma <= 50) else { throw ValidationError("--learn-sigma must be 0 or 1 to 50 sigma") }
            settings.learnSigmaQ8 = Int64((learnSigma * 256).rounded())
        }
        // The spectral settings' ranges are the engine's (`firstProblem`, below); here only what the
        // conversion to Q8 needs: a finite number (NaN or 1e300 trapped in Int64()).
        func q8(_ v: Double, _ option: String) throws -> Int64 {
            guard v.isFinite && abs(v) <= 1_000_000 else { throw ValidationError("--\(option) must be a finite number of sd, not \(v)") }
            return Int64((v * 256).rounded())
        }
        if let spectralSigma { settings.spectralSigmaQ8 = try q8(spectralSigma, "spectral-sigma") }
        if let spectralNormSigma { settings.spectralNormSigmaQ8 = try q8(spectralNormSigma, "spectral-norm-sigma") }
        if let spectralNormShareSigma { settings.spectralNormShareSigmaQ8 = try q8(spectralNormShareSigma, "spectral-norm-share-sigma") }
        if let hardBinDivisor { settings.spectralHardBinDivisor = hardBinDivisor }
        if let directedSigma { settings.spectralDirectedSigmaQ8 = try q8(directedSigma, "directed-sigma") }
        if let matchedSigma { settings.spectralMatchedSigmaQ8 = try q8(matchedSigma, "matched-sigma") }
        if let matchedDirectedSigma { settings.spectralMatchedDirectedSigmaQ8 = try q8(matchedDirectedSigma, "matched-directed-sigma") }
        if let matchedMisfitSigma {
            guard matchedMisfitSigma >= -50 && matchedMisfitSigma <= 50 else { throw ValidationError("--matched-misfit-sigma must be -50 to 50 sd (below 0: off), not \(matchedMisfitSigma)") }
            settings.spectralMatchedMisfitSigmaQ8 = try q8(matchedMisfitSigma, "matched-misfit-sigma")
        }
        var config = EvalConfig()
        if let windows, windows != "2" {
            let b = windows == "8" ? Self.contractWindows : try parseWindows(windows)
            guard b.count >= 4 else { throw ValidationError("--windows: the spectral test needs K = 3 to 16 windows (2: two windows)") }
            config.windows = b
            settings.spectralWindowCount = b.count - 1
        }
        if let p = settings.firstProblem() { throw ValidationError("engine settings: \(p)") }
        config.seed = seed
        config.passesPerCell = passesPerCell
        config.cleanPasses = clean
        config.normPasses = norm
        config.warmupS = warmupS
        if let shieldingTilt {
            guard shieldingTilt >= -1 && shieldingTilt <= 1 else { throw ValidationError("--shielding-tilt must be -1...1") }
            config.shieldingTilt = shieldingTilt
        }
        if let shieldingTiltSpread {
            guard shieldingTiltSpread >= 0 && shieldingTiltSpread <= 0.5 else { throw ValidationError("--shielding-tilt-spread must be 0...0.5") }
            config.shieldingTiltSpread = shieldingTiltSpread
        }
        if let shieldingTiltShape {
            guard let shape = LaneSpec.TiltShape(rawValue: shieldingTiltShape) else {
                throw ValidationError("--shielding-tilt-shape must be step or smooth, not '\(shieldingTiltShape)'")
            }
            config.shieldingTiltShape = shape
        }
        if let dir = falseAlarmTraces {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            config.falseAlarmTraceDirectory = dir
        }
        if let ceilingSweep {
            let xs = ceilingSweep.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !xs.isEmpty, xs.allSatisfy({ $0 != nil && $0! >= 1 && $0! <= 1000 }) else {
                throw ValidationError("--ceiling-sweep: expected sigmas from 1 to 1000 separated by commas, got '\(ceilingSweep)'")
            }
            config.ceilingSweep = xs.map { $0! }
        }
        guard commission || !fromTraffic else { throw ValidationError("--from-traffic needs --commission") }
        guard commission || learnPasses == nil else { throw ValidationError("--learn-passes needs --commission") }
        guard (commission && fromTraffic) || learnCleanPerNorm == nil else { throw ValidationError("--learn-clean-per-norm needs --commission --from-traffic") }
        if let checkShapes {
            guard fromTraffic && settings.spectralWindowCount >= 3 else { throw ValidationError("--check-shapes needs --commission --from-traffic and --windows with 3 to 16 windows") }
            let names = checkShapes.split(separator: ",").map(String.init)
            guard names.count <= EngineSettings.threatShapeCountMax else { throw ValidationError("--check-shapes: at most \(EngineSettings.threatShapeCountMax) sources") }
            for n in names where ThreatKind(rawValue: n) == nil || n == "cs137InNorm" || n == "cf252" {
                throw ValidationError("--check-shapes: '\(n)' is not one of cs137, co60, heu, ba133")
            }
        }
        guard family >= 0 && family <= 64 else { throw ValidationError("--family must be 0...64") }
        guard splitKev.map({ $0 == 0 || (30...3000).contains($0) }) ?? true else { throw ValidationError("--split-kev must be 0 or 30...3000 keV") }
        var members = Physics.family(seed: familySeed, count: family)
        if let only = self.members {
            let names = only.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            let known = members.map(\.name)
            for n in names where !known.contains(n) {
                throw ValidationError("--members: '\(n)' is not a member of this family (\(known.joined(separator: ", ")))")
            }
            members = members.filter { names.contains($0.name) }
        }
        var plan: Commissioning? = nil
        if !commission, let k = splitKev, k > 0 {
            // An uncommissioned lane whose profile sets panels.windowSplitKev.
            for i in members.indices where !members[i].legacy { members[i].windowSplitKev = k }
        }
        if commission {
            var p = Commissioning()
            p.splitKev = splitKev ?? 600
            p.fromTraffic = fromTraffic
            if let learnPasses {
                guard learnPasses >= 10 && learnPasses <= 20_000 else { throw ValidationError("--learn-passes must be 10 to 20000 NORM passes, not \(learnPasses)") }
                p.normPasses = learnPasses
            }
            if let learnCleanPerNorm {
                guard learnCleanPerNorm.isFinite && learnCleanPerNorm >= 0 && learnCleanPerNorm <= 20 else {
                    throw ValidationError("--learn-clean-per-norm must be 0 to 20 clean passes per NORM pass, not \(learnCleanPerNorm)")
                }
                p.cleanPerNormPass = learnCleanPerNorm
            }
            if let shieldingPasses {
                guard shieldingPasses >= 0 && shieldingPasses <= 10_000 else { throw ValidationError("--shielding-passes must be 0...10000") }
                p.shieldingPasses = shieldingPasses
            }
            p.checkShapes = (checkShapes ?? "").split(separator: ",").compactMap { ThreatKind(rawValue: String($0)) }
            plan = p
        }
        let fam = Evaluation.runFamily(config: config, settings: settings, members: members, commissioning: plan) { name, done, total in
            if done % 2048 < 64 || done == total { FileHandle.standardError.write(Data("eval: \(name): \(done)/\(total) passes\n".utf8)) }
        }
        try FileManager.default.createDirectory(atPath: out + "/members", withIntermediateDirectories: true)
        var command = "lane-sim eval --seed \(seed) --passes-per-cell \(passesPerCell) --clean \(clean) --norm \(norm)"
        command += " --warmup-s \(Int(warmupS)) --family \(family) --family-seed \(familySeed)"
        if let only = self.members { command += " --members \(only)" }
        if commission { command += " --commission" + (fromTraffic ? " --from-traffic" : "") }
        if let splitKev { command += " --split-kev \(Int(splitKev))" }
        if let ceilingSweep { command += " --ceiling-sweep \(ceilingSweep)" }
        if let board { command += " --board \(board)" }
        if let windows { command += " --windows \(windows)" }
        if let ceiling { command += " --ceiling \(ceiling)" }
        if let gammaSigma { command += " --gamma-sigma \(gammaSigma)" }
        if let neutronWindow { command += " --neutron-window \(neutronWindow)" }
        if let learnSigma { command += " --learn-sigma \(learnSigma)" }
        if let shieldingTilt { command += " --shielding-tilt=\(shieldingTilt)" }
        if let shieldingTiltShape { command += " --shielding-tilt-shape \(shieldingTiltShape)" }
        if let shieldingTiltSpread { command += " --shielding-tilt-spread \(shieldingTiltSpread)" }
        if let shieldingPasses { command += " --shielding-passes \(shieldingPasses)" }
        if let learnPasses { command += " --learn-passes \(learnPasses)" }
        if let learnCleanPerNorm { command += " --learn-clean-per-norm \(learnCleanPerNorm)" }
        if let spectralSigma { command += " --spectral-sigma \(spectralSigma)" }
        if let checkShapes { command += " --check-shapes \(checkShapes)" }
        if let directedSigma { command += " --directed-sigma \(directedSigma)" }
        if let matchedSigma { command += " --matched-sigma \(matchedSigma)" }
        if let matchedDirectedSigma { command += " --matched-directed-sigma \(matchedDirectedSigma)" }
        if let matchedMisfitSigma { command += " --matched-misfit-sigma \(matchedMisfitSigma)" }
        if let spectralNormSigma { command += " --spectral-norm-sigma \(spectralNormSigma)" }
        if let spectralNormShareSigma { command += " --spectral-norm-share-sigma \(spectralNormShareSigma)" }
        if let hardBinDivisor { command += " --hard-bin-divisor \(hardBinDivisor)" }
        command += " --out \(out)"
        for (physics, report) in fam.members {
            var pictures: [String] = []
            if physics.legacy {
                // lane-sim's member keeps its curves and its place (old reports stay comparable).
                for kind in ThreatKind.allCases {
                    let name = "pd-\(kind.rawValue).svg"
                    try report.svg(kind: kind).write(toFile: out + "/members/" + name, atomically: true, encoding: .utf8)
                    pictures.append(name)
                }
            }
            let md = "Physics member **\(physics.name)**: \(physics.summary).\n\n"
                + report.markdown(settingsText: describe(settings), command: command, pictures: pictures)
            try md.write(toFile: out + "/members/\(physics.name).md", atomically: true, encoding: .utf8)
            try report.json().write(toFile: out + "/members/\(physics.name).json", atomically: true, encoding: .utf8)
        }
        let md = fam.markdown(command: command, gammaSigma: Double(settings.gammaSigmaQ8) / 256)
        try md.write(toFile: out + "/report.md", atomically: true, encoding: .utf8)
        print(md.components(separatedBy: "## Members")[0])
        print("report: \(out)/report.md, one report per member in \(out)/members/")
    }

    /// reference-panel-mw-v1's default boundaries (K = 8), keV.
    static let contractWindows: [Double] = [30, 80, 150, 250, 400, 650, 1000, 1500, 3000]

    func describe(_ e: EngineSettings) -> String {
        "window \(e.gammaWindowSamples) samples, n = \(Double(e.gammaSigmaQ8) / 256)" + (e.learningSigmaQ8 > e.gammaSigmaQ8 ? " (NORM learned at \(Double(e.learningSigmaQ8) / 256))" : "") + ", neutron window \(e.neutronWindowSamples), "
            + "neutron n = \(Double(e.neutronSigmaQ8) / 256), NORM share \(String(format: "%.2f", Double(e.normLowShareMinQ16) / 65536)), "
            + "ceiling \(Double(e.gammaCeilingSigmaQ8) / 256) sigma"
            + (e.spectralWindowCount >= 3 ? ", spectral test on \(e.spectralWindowCount) windows at \(Double(e.spectralSigmaQ8) / 256) sigma"
                + (e.spectralNormSigmaQ8 < -8 * 256 ? ", only adding" : ", overruling the surplus test at \(Double(e.spectralNormSigmaQ8) / 256) sigma"
                    + (e.spectralNormShareSigmaQ8 < -8 * 256 ? "" : " and the share test at \(Double(e.spectralNormShareSigmaQ8) / 256) sigma"))
                + (e.spectralHardBinDivisor != 20 ? ", NORM bins harder than the median load's explaining from 1/\(e.spectralHardBinDivisor) of the loads" : "")
                + (checkShapes.map { ", directed test at \(Double(e.spectralDirectedSigmaQ8) / 256) sigma with the check sources' shapes (\($0)) measured at commissioning" } ?? "") : "")
    }
}
