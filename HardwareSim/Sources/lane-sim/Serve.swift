import ArgumentParser
import Foundation
import LaneHAL
import LaneSimCore
import Synchronization

/// Options shared by `serve` and `demo`.
struct ServeOptions: ParsableArguments {
    @Option(help: "Scenario file (YAML).") var scenario: String = "HardwareSim/scenarios/demo.yaml"
    @Option(help: "Modbus TCP port on 127.0.0.1 (0 = no TCP).") var tcpPort: Int = 1502
    @Option(help: "Serve Modbus RTU on a pseudo-terminal and link its agent-side device here.") var rtuLink: String?
    @Option(help: "Unix socket of the virtual GPIO service.") var gpioSocket: String = "/tmp/lane-sim/gpio.sock"
    @Option(help: "Unix socket for control commands (checksource ...; docs/SIMULATOR.md).") var controlSocket: String?
    @Option(help: "Write the lane trace of what was played (JSON Lines).") var trace: String?
    @Option(help: "Write the ground truth, one JSON line per vehicle.") var truth: String?
    @Option(help: "Start the panels' counters at this value (to exercise wrap-around at 2^32).") var counterStart: UInt32 = 0
    @Option(help: "Start the panels' uptime clocks at this many ms.") var uptimeStartMs: UInt32 = 0
    @Option(help: "Override the scenario's seed.") var seed: UInt64?
    @Flag(help: "Play the scenario again (new seed each round) instead of stopping.") var keepRunning = false
    @Option(help: "Play the gate OCR on this TCP port on 127.0.0.1 (the agent connects; docs/SIMULATOR.md).") var ocrPort: Int?
    @Option(help: "The OCR's messages: line or xml.") var ocrFormat: String = "line"

    @Option(help: "Play the spectra of this member of the physics family (m1, m2, ...; docs/SIMULATOR.md): the panels' window split register (257) then moves the boundary between their windows. Default: lane-sim's fixed shares.")
    var physics: String?
    @Option(help: "With --physics: the seed of the family.") var familySeed: UInt64 = 1
    @Option(help: "With --physics: serve multi-window panels (profile reference-panel-mw-v1) with these window boundaries in keV, comma-separated (K + 1 values, 2 <= K <= 16; the contract's default for K = 8: 30,80,150,250,400,650,1000,1500,3000).")
    var windows: String?

    func makeSimulator(quiet: Bool = false) throws -> Simulator {
        var s = try loadScenario(scenario)
        if let seed { s.seed = seed }
        if let physics { s.lane.physics = try familyMember(physics, seed: familySeed) }
        guard (0...65535).contains(tcpPort) else { throw ValidationError("--tcp-port must be 0...65535") }
        let o = SimOptions(
            tcpPort: tcpPort == 0 ? nil : tcpPort, rtuLink: rtuLink, gpioSocket: gpioSocket, controlSocket: controlSocket, tracePath: trace, truthPath: truth,
            counterStart: counterStart, uptimeOffsetMs: uptimeStartMs, keepRunning: keepRunning, quiet: quiet)
        var options = o
        if let ocrPort {
            guard (0...65535).contains(ocrPort) else { throw ValidationError("--ocr-port must be 0...65535") }
            options.ocrPort = ocrPort
        }
        guard let f = OCRCamera.Format(rawValue: ocrFormat) else { throw ValidationError("--ocr-format must be line or xml") }
        options.ocrFormat = f
        if let windows {
            guard s.lane.physics != nil else { throw ValidationError("--windows needs --physics (lane-sim's fixed shares know two windows)") }
            options.windows = try parseWindows(windows)
        }
        return Simulator(scenario: s, options: options)
    }
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play a scenario in real time and serve it over Modbus and the GPIO socket (default).")

    @OptionGroup var options: ServeOptions
    @Option(help: "Stay up this many seconds after the scenario ends.") var linger: Double = 2

    func run() throws {
        unblockStopSignals()  // SIGTERM must stop a simulator whatever mask its parent handed down
        installStopSignals()
        let sim = try options.makeSimulator()
        try sim.start()
        while !sim.isFinished && !stopRequested.load(ordering: .relaxed) { usleep(50_000) }
        if sim.isFinished {
            var left = max(0, linger)
            while left > 0 && !stopRequested.load(ordering: .relaxed) { usleep(50_000); left -= 0.05 }
        }
        sim.flushFiles()
    }
}
