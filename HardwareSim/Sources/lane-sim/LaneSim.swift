// lane-sim: the hardware simulator. It plays a scenario's lane physics and serves the panels
// over Modbus (TCP and RTU on a pseudo-terminal) and the beams and outputs over its virtual
// GPIO service; or writes the scenario's lane trace on simulated time.

import ArgumentParser
import Foundation
import LaneSimCore

@main
struct LaneSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lane-sim",
        abstract: "Hardware simulator for the lane controller: panels over Modbus, beams and outputs over a GPIO socket.",
        subcommands: [Serve.self, Trace.self, Demo.self, Eval.self],
        defaultSubcommand: Serve.self)
}

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play a scenario on simulated time and write its lane trace (no waiting).")

    @Option(help: "Scenario file (YAML).") var scenario: String
    @Option(help: "Where to write the trace (JSON Lines); - for standard output.") var out: String = "-"
    @Option(help: "Where to write the ground truth, one JSON line per vehicle.") var truth: String?
    @Option(help: "Override the scenario's seed.") var seed: UInt64?

    func run() throws {
        var s = try loadScenario(scenario)
        if let seed { s.seed = seed }
        let world = LaneWorld(scenario: s)
        let sink = try LineSink(path: out)
        let truths = TraceGenerator.generate(world) { sink.write($0) }
        sink.close()
        if let truth {
            let t = try LineSink(path: truth)
            for v in truths { t.write(v.json(originUs: 0)) }
            t.close()
        }
    }
}

func loadScenario(_ path: String) throws -> Scenario {
    do { return try Scenario.load(path: path) } catch let e as ScenarioError {
        throw ValidationError(e.message)
    }
}

/// Buffered line output to a file or standard output.
final class LineSink: @unchecked Sendable {
    let handle: FileHandle
    var buffer = Data()
    let lock = NSLock()

    init(path: String) throws {
        if path == "-" {
            handle = FileHandle.standardOutput
        } else {
            guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
                throw ValidationError("cannot write \(path)")
            }
            handle = h
        }
    }

    func write(_ line: String) {
        lock.lock(); defer { lock.unlock() }
        buffer.append(contentsOf: line.utf8)
        buffer.append(0x0A)
        if buffer.count > 1 << 16 { handle.write(buffer); buffer.removeAll(keepingCapacity: true) }
    }

    func flush() {
        lock.lock(); defer { lock.unlock() }
        if !buffer.isEmpty { handle.write(buffer); buffer.removeAll(keepingCapacity: true) }
    }

    func close() {
        flush()
        if handle !== FileHandle.standardOutput { try? handle.close() }
    }
}
