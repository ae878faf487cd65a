// Proves replay on traces the simulator wrote: the planted sources alarm, clean trucks do not,
// NORM is recognised, the hitch gap does not split a truck, speeds are exact; a malformed line
// stops the replay with its line number after the decisions before it.

import Foundation
import LaneAgent
import LaneCore
import LaneSimCore
import LaneTrace
import Testing

/// Writes `lines` to a temporary file and replays it; returns the decisions and the error.
func replay(_ lines: [String], board: BoardProfile? = nil) -> (decisions: [[String: Any]], error: Error?) {
    let path = NSTemporaryDirectory() + "replay-\(UUID().uuidString).jsonl"
    _ = FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let fd = open(path, O_RDONLY)
    defer { close(fd) }
    var out: [[String: Any]] = []
    do {
        try Replay.run(fd: fd, board: board) { out.append(try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]) }
        return (out, nil)
    } catch {
        return (out, error)
    }
}

func simulatedTrace(_ scenario: Scenario) -> (lines: [String], truths: [VehicleTruth]) {
    var lines: [String] = []
    let truths = TraceGenerator.generate(LaneWorld(scenario: scenario)) { lines.append($0) }
    return (lines, truths)
}

@Suite struct ReplayTests {
    @Test("the demo scenario's trace, replayed with the simulator's board (NORM discrimination commissioned): source alarms, NORM recognised, neutron source alarms, clean quiet, speeds exact")
    func demoScenario() throws {
        let scenario = try Scenario.load(path: packageRoot + "/HardwareSim/scenarios/demo.yaml")
        let (lines, truths) = simulatedTrace(scenario)
        // The simulator's board: NORM discrimination commissioned for lane-sim's physics.
        let (decisions, error) = replay(lines, board: try BoardProfile.load(path: packageRoot + "/Boards/sim.yaml"))
        #expect(error == nil)
        #expect(decisions.count == truths.count, "one occupancy per vehicle: hitch gaps must not split trucks")
        for (d, t) in zip(decisions, truths) {
            let gamma = d["gammaAlarm"] as! Bool, neutron = d["neutronAlarm"] as! Bool, norm = d["normSuspect"] as! Bool
            let label = "vehicle \(t.vehicle) \(t.sources.map(\.type.rawValue))"
            #expect(gamma == t.sources.contains { $0.type.isThreat && $0.type.gamma }, "\(label): gamma")
            #expect(neutron == t.sources.contains { $0.type.neutron }, "\(label): neutron")
            #expect(norm == (t.norm && !t.threat), "\(label): NORM")
            let speed = (d["speedMps"] as! NSNumber).doubleValue
            #expect(abs(speed - t.speedMps) / t.speedMps < 0.05, "\(label): speed \(speed) vs \(t.speedMps)")
            #expect((d["container"] as? String) == t.container)
            // Every container of the vehicle, in order (two 20-ft boxes on one chassis; none for a bobtail).
            #expect(((d["containers"] as? [[String: Any]]) ?? []).map { $0["number"] as? String } == t.containers.map { Optional($0) }, "\(label): containers")
            let start = (d["startUs"] as! NSNumber).int64Value
            #expect(abs(start - Int64(t.entryS * 1e6)) < 1_000, "\(label): the occupancy starts at the first beam break")
        }
    }

    @Test("replaying the same trace twice gives byte-identical decisions")
    func deterministic() throws {
        let scenario = try Scenario.load(path: packageRoot + "/HardwareSim/scenarios/demo.yaml")
        let (lines, _) = simulatedTrace(scenario)
        let a = replay(lines).decisions.map { try! JSONSerialization.data(withJSONObject: $0, options: .sortedKeys) }
        let b = replay(lines).decisions.map { try! JSONSerialization.data(withJSONObject: $0, options: .sortedKeys) }
        #expect(a == b && !a.isEmpty)
    }

    @Test("a malformed line ends the replay with its line number, after the decisions before it")
    func malformedMidway() throws {
        let scenario = try Scenario.load(path: packageRoot + "/HardwareSim/scenarios/demo.yaml")
        var (lines, _) = simulatedTrace(scenario)
        let cut = lines.count * 3 / 5
        lines.insert(#"{"tUs":1,"gamma":[1,2,3,4]}"#, at: cut)
        let (decisions, error) = replay(lines)
        #expect(!decisions.isEmpty && decisions.count < 10)
        let e = try #require(error as? TraceError)
        #expect(e.line == cut + 1)
    }

    /// The demo trace as a 16-window panel would have written it: each panel's low-window counts
    /// spread over the first 6 windows, its high-window counts over the other 10 (the contract's
    /// keys, added the way an outside tool writes them).
    static func sixteenWindows(_ lines: [String]) -> [String] {
        lines.enumerated().map { i, line in
            var o = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            if i == 0 {
                o["energyWindowsKev"] = [30, 60, 90, 120, 160, 200, 250, 320, 400, 500, 650, 800, 1000, 1300, 1700, 2200, 3000]
                o["gammaLowWindows"] = 6
            } else if let g = o["gamma"] as? [Int], let l = o["gammaLow"] as? [Int] {
                o["gammaWindows"] = zip(g, l).map { all, low -> [Int] in
                    func spread(_ n: Int, _ k: Int) -> [Int] { (0..<k).map { n / k + ($0 < n % k ? 1 : 0) } }
                    return spread(low, 6) + spread(all - low, 10)
                }
            }
            return String(data: try! JSONSerialization.data(withJSONObject: o, options: .sortedKeys), encoding: .utf8)!
        }
    }

    @Test("a 16-window trace written to the contract by another tool replays to the same decisions as its two-window form; one whose windows do not sum stops at that line with the reason")
    func sixteenWindowTrace() throws {
        let scenario = try Scenario.load(path: packageRoot + "/HardwareSim/scenarios/demo.yaml")
        let (lines, _) = simulatedTrace(scenario)
        let wide = Self.sixteenWindows(lines)
        #expect(wide[0].contains("\"gammaLowWindows\":6") && wide.contains { $0.contains("\"gammaWindows\":[[") })
        let a = replay(lines), b = replay(wide)
        #expect(a.error == nil && b.error == nil, "\(String(describing: b.error))")
        let json = { (d: [[String: Any]]) in d.map { try! JSONSerialization.data(withJSONObject: $0, options: .sortedKeys) } }
        #expect(json(a.decisions) == json(b.decisions) && !a.decisions.isEmpty)

        var broken = wide
        let at = try #require(broken.indices.dropFirst(broken.count / 2).first { broken[$0].contains("gammaWindows") })
        broken[at] = broken[at].replacingOccurrences(of: "\"gammaWindows\":[[", with: "\"gammaWindows\":[[1000,")
            .replacingOccurrences(of: #"(\[\[1000,[0-9]+),"#, with: "$1", options: .regularExpression)
        let (decisions, error) = replay(broken)
        let e = try #require(error as? TraceError)
        #expect(e.line == at + 1 && e.message.contains("gammaWindows[0] sums to"), "\(e)")
        #expect(decisions.count < a.decisions.count)
    }

    @Test("lane-sim writes multi-window traces (a physics member, the contract's 8 default windows, split 650 keV): the reader takes every line (windows summing to gamma and gammaLow), the empty lane's counts per window follow the member's derived background shares, replay decides from it; lane-sim's fixed shares refuse windows")
    func simulatorWritesWindows() throws {
        var scenario = try Scenario.load(path: packageRoot + "/HardwareSim/scenarios/demo.yaml")
        let member = Physics.family(seed: 1, count: 2)[2]
        scenario.lane.physics = member
        let b: [Double] = [30, 80, 150, 250, 400, 650, 1000, 1500, 3000]
        let world = LaneWorld(scenario: scenario)
        for p in 0..<4 { #expect(world.setWindows(panel: p, boundaries: b, split: 650)) }
        #expect(!world.setWindows(panel: 0, boundaries: b, split: 700), "the split must be a boundary")
        #expect(!world.setWindows(panel: 0, boundaries: [30, 650, 400, 3000], split: 650), "boundaries must increase")
        var lines: [String] = []
        TraceGenerator.generate(world) { lines.append($0) }
        var reader = TraceReader()
        var sums = [Double](repeating: 0, count: 8)
        for line in lines {
            let e = try reader.read(line: line)
            // The empty lane before the first vehicle (10 s): panel 0's counts per window.
            if case let .counts(t, _, _, _) = e, t < 9_000_000 { for j in 0..<8 { sums[j] += Double(reader.windows[j]) } }
        }
        #expect(reader.header?.energyWindowsKev == b && reader.header?.gammaLowWindows == 5)
        let expected = member.backgroundWindowShares(panel: 0, boundaries: b), total = sums.reduce(0, +)
        for j in 0..<8 { #expect(abs(sums[j] / total - expected[j]) < 0.02, "window \(j): \(sums[j] / total) against \(expected[j])") }
        let r = replay(lines)
        #expect(r.error == nil && r.decisions.count >= 5, "\(String(describing: r.error))")

        let legacy = LaneWorld(scenario: try Scenario.load(path: packageRoot + "/HardwareSim/scenarios/demo.yaml"))
        #expect(!legacy.setWindows(panel: 0, boundaries: b, split: 650))
    }

    @Test("beam and count times near 2^63 are refused with the line and the reason, not a trap in the engine")
    func hugeTimes() throws {
        let header = #"{"format":"lane-trace","version":1,"sampleIntervalMs":100,"panels":4,"beamSpacingM":1.5}"#
        let (decisions, error) = replay([header, #"{"tUs":100,"beam":0,"blocked":true}"#, #"{"tUs":9223372036854775000,"beam":0,"blocked":false}"#])
        #expect(decisions.isEmpty)
        let e = try #require(error as? TraceError)
        #expect(e.line == 3)
        #expect(e.message.contains("beyond"), "\(e.message)")
    }

    @Test("an empty trace and a trace without header are refused")
    func empty() {
        #expect((replay([]).error as? TraceError)?.message.contains("empty") == true)
        #expect((replay([#"{"tUs":1}"#]).error as? TraceError)?.message.contains("header") == true)
    }

    @Test("a board profile's detection settings apply to replay: a 50-sigma threshold (beyond the safety floor: replay is offline analysis) silences the planted source")
    func boardSettings() throws {
        let scenario = try Scenario.load(path: packageRoot + "/HardwareSim/scenarios/demo.yaml")
        let (lines, _) = simulatedTrace(scenario)
        let deaf = try BoardProfile.parse(simProfile.replacingOccurrences(of: "gammaSigma: 6.0", with: "gammaSigma: 50")
            .replacingOccurrences(of: "gammaCeilingSigma: 35", with: "gammaCeilingSigma: 60"), file: "deaf.yaml", mapDirectory: packageRoot + "/Boards/panels",
            enforceFloors: false)
        let decisions = replay(lines, board: deaf).decisions
        #expect(decisions.count == 10)
        #expect(!decisions.contains { $0["gammaAlarm"] as! Bool })
    }
}
