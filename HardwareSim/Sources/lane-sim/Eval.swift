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

    func run() throws {
        guard passesPerCell > 0, clean >= 0, norm >= 0 else { throw ValidationError("counts must be positive") }
        guard warmupS >= 20 && warmupS <= 3600 else { throw ValidationError("--warmup-s must be 20...3600 seconds") }
        var settings = EngineSettings()
        if let board {
            do { settings = try BoardProfile.load(path: board).engine } catch { throw ValidationError("\(error)") }
        }
        var config = EvalConfig()
        config.seed = seed
        config.passesPerCell = passesPerCell
        config.cleanPasses = clean
        config.normPasses = norm
        config.warmupS = warmupS
        if let dir = falseAlarmTraces {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            config.falseAlarmTraceDirectory = dir
        }
        let report = Evaluation.run(config: config, settings: settings) { done, total in
            if done % 2048 < 64 || done == total { FileHandle.standardError.write(Data("eval: \(done)/\(total) passes\n".utf8)) }
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        var pictures: [String] = []
        for kind in ThreatKind.allCases {
            let name = "pd-\(kind.rawValue).svg"
            try report.svg(kind: kind).write(toFile: out + "/" + name, atomically: true, encoding: .utf8)
            pictures.append(name)
        }
        var command = "lane-sim eval --seed \(seed) --passes-per-cell \(passesPerCell) --clean \(clean) --norm \(norm)"
        command += " --warmup-s \(Int(warmupS))"
        if let board { command += " --board \(board)" }
        command += " --out \(out)"
        let md = report.markdown(settingsText: describe(settings), command: command, pictures: pictures)
        try md.write(toFile: out + "/report.md", atomically: true, encoding: .utf8)
        try report.json().write(toFile: out + "/report.json", atomically: true, encoding: .utf8)
        print(md.components(separatedBy: "## MDS95")[0])
        print("report: \(out)/report.md, \(out)/report.json, \(pictures.count) pictures")
    }

    func describe(_ e: EngineSettings) -> String {
        "window \(e.gammaWindowSamples) samples, n = \(Double(e.gammaSigmaQ8) / 256), neutron window \(e.neutronWindowSamples), "
            + "neutron n = \(Double(e.neutronSigmaQ8) / 256), NORM share \(String(format: "%.2f", Double(e.normLowShareMinQ16) / 65536)), "
            + "ceiling \(Double(e.gammaCeilingSigmaQ8) / 256) sigma"
    }
}
