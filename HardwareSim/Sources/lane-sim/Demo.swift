// `lane-sim demo`: the simulator and the agent as two processes talking real Modbus TCP and the
// GPIO socket. Shows each occupancy as the agent decides it, with the ground truth beside it,
// and ends with a table of decisions against the truth.

import ArgumentParser
import Foundation
import LaneHAL
import LaneSimCore

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the simulator and lane-agent against each other and compare decisions with the truth.")

    @OptionGroup var sim: ServeOptions
    @Option(help: "The lane-agent executable (default: next to lane-sim).") var agent: String?
    @Option(help: "The board profile the agent runs with.") var board: String = "Boards/sim.yaml"
    @Option(help: "Where to write the agent's log.") var agentLog: String = "out/demo-agent.log"

    func run() throws {
        let agentPath = agent ?? (CommandLine.arguments[0] as NSString).deletingLastPathComponent + "/lane-agent"
        guard FileManager.default.isExecutableFile(atPath: agentPath) else { throw ValidationError("no lane-agent at \(agentPath)") }
        try? FileManager.default.createDirectory(atPath: (agentLog as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        var serve = sim
        // The gate OCR is played too (the simulator's board connects to it on 7070).
        let boardText = (try? String(contentsOfFile: board, encoding: .utf8)) ?? ""
        let boardReadsOCR = boardText.contains("\nocr:")
        if serve.ocrPort == nil && boardReadsOCR { serve.ocrPort = 7070 }
        let simulator = try serve.makeSimulator(quiet: true)
        let view = DemoView()
        simulator.onOutput = { name, on, _ in if on && name != "camera" && name != "faultLight" { view.output(name) } }
        try simulator.start()
        view.simulator = simulator

        let p = Process()
        p.executableURL = URL(fileURLWithPath: agentPath)
        var args = ["run", "--board", board, "--gpio-socket", sim.gpioSocket]
        if sim.tcpPort != 0 { args += ["--modbus-port", String(sim.tcpPort)] }
        if boardReadsOCR, let camera = simulator.ocr { args += ["--ocr-port", String(camera.port)] }
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        FileManager.default.createFile(atPath: agentLog, contents: nil)
        p.standardError = FileHandle(forWritingAtPath: agentLog)
        try p.run()
        print("""
            Lane demo: lane-sim serves 4 gamma/neutron panels over Modbus TCP 127.0.0.1:\(sim.tcpPort) and the beams over \(sim.gpioSocket);
            lane-agent (pid \(p.processIdentifier)) screens the lane with \(board). Agent log: \(agentLog)
            Scenario \(sim.scenario): \(simulator.truths.count) vehicles; the agent learns the background for the first seconds.
            The technician's console (when the board has one): picocom /tmp/lane-agent/LANE-01/console, 'help'; login tech / lane-demo-1 (demo only).

            """)
        startThread(name: "agent-stdout") {
            var pending = Data()
            while true {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let nl = pending.firstIndex(of: 0x0A) {
                    let line = pending[pending.startIndex..<nl]
                    pending.removeSubrange(pending.startIndex...nl)
                    view.decision(Data(line))
                }
            }
        }
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        signal(SIGINT, SIG_IGN)
        let stop = Unchecked(NSCondition())
        nonisolated(unsafe) var interrupted = false
        interrupt.setEventHandler { stop.value.lock(); interrupted = true; stop.value.signal(); stop.value.unlock() }
        interrupt.resume()
        while true {
            stop.value.lock()
            _ = stop.value.wait(until: Date(timeIntervalSinceNow: 0.2))
            let quit = interrupted
            stop.value.unlock()
            if quit || simulator.isFinished { break }
        }
        // Let the last hold-in end, then stop the agent (SIGTERM: it closes its last occupancy).
        if !interrupted { usleep(1_000_000) }
        p.terminate()
        p.waitUntilExit()
        usleep(200_000)
        view.table()
    }
}

final class DemoView: @unchecked Sendable {
    let lock = NSLock()
    var simulator: Simulator!
    var decisions: [[String: Any]] = []
    var outputsSeen: [String] = []

    func output(_ name: String) {
        lock.lock(); outputsSeen.append(name); lock.unlock()
    }

    /// The truth vehicles overlapping the occupancy (two vehicles closer than the hold-in are one
    /// occupancy, as on a real lane), merged into one truth: their sources together.
    func truth(for d: [String: Any]) -> (Int, VehicleTruth)? {
        guard let s = (d["startUs"] as? NSNumber)?.int64Value, let e = (d["endUs"] as? NSNumber)?.int64Value else { return nil }
        var hits: [(Int, VehicleTruth)] = []
        for (i, t) in simulator.truths.enumerated() {
            let o = simulator.truthOrigins[i]
            let a = o + Int64(t.entryS * 1e6), b = o + Int64(t.exitS * 1e6)
            if min(b, e) - max(a, s) > 0 { hits.append((i, t)) }
        }
        guard var merged = hits.first else { return nil }
        for h in hits.dropFirst() {
            merged.1.sources += h.1.sources
            let names = [merged.1.container, h.1.container].compactMap { $0 }
            merged.1.container = names.isEmpty ? nil : names.joined(separator: "+")
            merged.1.containers += h.1.containers
        }
        if hits.count > 1 { mergedVehicles[merged.0] = hits.map { $0.0 } }
        return merged
    }

    var mergedVehicles: [Int: [Int]] = [:]

    func vehicleLabel(_ i: Int) -> String {
        (mergedVehicles[i] ?? [i]).map { String($0 + 1) }.joined(separator: "+")
    }

    static func describe(_ t: VehicleTruth) -> String {
        var parts = t.sources.map { "\($0.type.rawValue) \(Int($0.strength))" }
        if parts.isEmpty { parts = ["clean"] }
        var motion = t.motion == .steady ? "" : " \(t.motion.rawValue) \(Int(t.stopS))s"
        if t.queueS > 0 { motion += " queued \(Int(t.queueS))s" }
        return parts.joined(separator: "+") + motion
    }

    static func outcome(_ d: [String: Any], _ t: VehicleTruth?) -> String {
        let g = d["gammaAlarm"] as? Bool ?? false, n = d["neutronAlarm"] as? Bool ?? false
        let norm = d["normSuspect"] as? Bool ?? false
        guard let t else { return g || n ? "FALSE ALARM (no vehicle)" : "no vehicle" }
        let gammaThreat = t.sources.contains { $0.type.isThreat && $0.type.gamma }
        let neutronThreat = t.sources.contains { $0.type.neutron }
        var r: [String] = []
        if gammaThreat { r.append(g ? "gamma source DETECTED" : "gamma source MISSED") }
        if neutronThreat { r.append(n ? "neutron source DETECTED" : "neutron source MISSED") }
        if !gammaThreat && g { r.append(t.norm ? "NORM nuisance alarm" : "FALSE gamma ALARM") }
        if !neutronThreat && n { r.append("FALSE neutron ALARM") }
        if r.isEmpty { r.append(t.norm ? (norm ? "NORM recognised, no alarm" : "NORM, no alarm") : "clean, no alarm") }
        return r.joined(separator: ", ")
    }

    /// The lane's reads of a decision: `MSCU1234565+TGHU7654323`, `?` after a suspect one.
    static func reads(_ d: [String: Any]) -> String {
        let list = (d["containers"] as? [[String: Any]]) ?? []
        let names = list.map { ($0["number"] as? String ?? "?") + (($0["ocrSuspect"] as? Bool ?? false) ? "?" : "") }
        return names.isEmpty ? "-" : names.joined(separator: "+")
    }

    static func truthContainers(_ t: VehicleTruth?) -> String {
        guard let t, !t.containers.isEmpty else { return "-" }
        return t.containers.joined(separator: "+")
    }

    func decision(_ line: Data) {
        guard let d = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] else { return }
        lock.lock(); defer { lock.unlock() }
        if d["amendment"] as? Bool == true {
            // A late OCR read: the decision already printed gets the lane's reads now.
            let occ = (d["occupancy"] as? NSNumber)?.intValue, start = (d["startUs"] as? NSNumber)?.int64Value
            if let i = decisions.lastIndex(where: { ($0["occupancy"] as? NSNumber)?.intValue == occ && ($0["startUs"] as? NSNumber)?.int64Value == start }) {
                decisions[i]["containers"] = d["containers"]
            }
            print("              late OCR read for occupancy \(occ ?? 0): \(Self.reads(d))")
            fflush(nil)
            return
        }
        decisions.append(d)
        let t = truth(for: d)
        let speed = (d["speedMps"] as? NSNumber).map { String(format: "%.2f", $0.doubleValue) } ?? "?"
        let tests = (d["gammaTests"] as? [String]) ?? []
        let verdict = [(d["gammaAlarm"] as? Bool ?? false) ? "GAMMA ALARM" + (tests.isEmpty ? "" : " (" + tests.joined(separator: ", ") + ")") : nil,
                       (d["neutronAlarm"] as? Bool ?? false) ? "NEUTRON ALARM" : nil,
                       (d["normSuspect"] as? Bool ?? false) ? "NORM suspect" : nil].compactMap { $0 }
        print(String(format: "occupancy %2d  ", (d["occupancy"] as? NSNumber)?.intValue ?? 0) + pad(speed, 5, right: true)
            + String(format: " m/s (true %4.2f)  gamma %5d vs threshold %7.1f (%6.2f sigma)  neutron %3d (%5.2f sigma)  -> ",
                     t?.1.speedMps ?? 0,
                     (d["gammaMaxCounts"] as? NSNumber)?.intValue ?? 0, (d["gammaThreshold"] as? NSNumber)?.doubleValue ?? 0,
                     (d["gammaMaxSigma"] as? NSNumber)?.doubleValue ?? 0, (d["neutronMaxCounts"] as? NSNumber)?.intValue ?? 0,
                     (d["neutronMaxSigma"] as? NSNumber)?.doubleValue ?? 0) + (verdict.isEmpty ? "clear" : verdict.joined(separator: " + ")))
        print("              truth: vehicle \(t.map { vehicleLabel($0.0) } ?? "-"), \(t.map { Self.describe($0.1) } ?? "no vehicle")  =>  \(Self.outcome(d, t?.1))")
        print("              containers: lane read \(Self.reads(d)), truth \(Self.truthContainers(t?.1))")
        fflush(nil)
    }

    func table() {
        lock.lock(); defer { lock.unlock() }
        print("\nDecisions against ground truth")
        print(pad("vehicle", 7) + "  " + pad("containers (truth)", 24) + "  " + pad("lane's OCR read", 24) + "  " + pad("truth", 28) + "  " + pad("true m/s", 8) + "  "
            + pad("measured", 8) + "  " + pad("decision", 23) + "  outcome")
        var matched = Set<Int>()
        var detected = 0, threats = 0, falseAlarms = 0, normQuiet = 0, norms = 0
        var worstSpeedError = 0.0
        for d in decisions {
            let t = truth(for: d)
            if let t { for v in mergedVehicles[t.0] ?? [t.0] { matched.insert(v) } }
            let g = d["gammaAlarm"] as? Bool ?? false, n = d["neutronAlarm"] as? Bool ?? false
            let verdict = [g ? "GAMMA" : nil, n ? "NEUTRON" : nil, (d["normSuspect"] as? Bool ?? false) ? "norm" : nil].compactMap { $0 }
            let measured = (d["speedMps"] as? NSNumber)?.doubleValue
            if let t, let measured, t.1.motion == .steady || t.1.motion == .stopAndGo, t.1.queueS == 0 || true {
                worstSpeedError = max(worstSpeedError, abs(measured - t.1.speedMps) / t.1.speedMps)
            }
            let o = Self.outcome(d, t?.1)
            if let t {
                if t.1.threat { threats += 1; if !o.contains("MISSED") { detected += 1 } }
                if t.1.norm && !t.1.threat { norms += 1; if !g { normQuiet += 1 } }
            }
            if o.contains("FALSE") { falseAlarms += 1 }
            print(pad(t.map { vehicleLabel($0.0) } ?? "-", 7, right: true) + "  " + pad(Self.truthContainers(t?.1), 24) + "  " + pad(Self.reads(d), 24) + "  "
                + pad(t.map { Self.describe($0.1) } ?? "no vehicle", 28) + "  "
                + pad(t.map { String(format: "%.2f", $0.1.speedMps) } ?? "-", 8, right: true) + "  "
                + pad(measured.map { String(format: "%.2f", $0) } ?? "-", 8, right: true) + "  "
                + pad(verdict.isEmpty ? "clear" : verdict.joined(separator: "+"), 23) + "  " + o)
        }
        let unseen = simulator.truths.indices.filter { !matched.contains($0) && simulator.truths[$0].exitS * 1e6 < Double(MonotonicClock.nowUs() - simulator.truthOrigins[$0]) }
        for i in unseen {
            print(pad(String(i + 1), 7, right: true) + "  " + pad(Self.truthContainers(simulator.truths[i]), 24) + "  " + pad("-", 24) + "  "
                + pad(Self.describe(simulator.truths[i]), 28) + "  no occupancy decided")
        }
        let readRight = decisions.filter { d in
            guard let t = truth(for: d)?.1 else { return false }
            return Self.reads(d) == Self.truthContainers(t)
        }.count
        print("\ncontainer numbers read right (every number, none doubted) on \(readRight) of \(decisions.count) occupancies")
        print("threats detected \(detected)/\(threats), false alarms \(falseAlarms), NORM loads without a gamma alarm \(normQuiet)/\(norms), "
            + "vehicles without a decision \(unseen.count), worst speed error \(String(format: "%.1f", worstSpeedError * 100)) %")
    }
}

/// Pads to a column width (String(format:) cannot pad %@ on Linux).
func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - s.count))
    return right ? fill + s : s + fill
}
