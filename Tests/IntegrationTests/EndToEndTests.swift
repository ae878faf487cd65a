// Proves the whole lane end to end: lane-sim and lane-agent as separate processes, over Modbus
// TCP and over Modbus RTU on the simulator's pseudo-terminal, with the GPIO socket. The planted
// source alarms, the clean trucks do not, the hitch gap does not split a truck, the measured
// speed is within 5 % of the simulated one, and the trace the simulator wrote replays to the
// same verdicts.

import Foundation
import LaneTestSupport
import Testing

@Suite(.timeLimit(integrationTimeLimit))
struct EndToEndTests {
    enum Link: String, CaseIterable { case tcp, rtu }

    @Test("agent against simulator: detections, quiet clean trucks, no split at the hitch gap, speed within 5 %", arguments: Link.allCases)
    func lane(link: Link) throws {
        let dir = scratch("e2e-\(link.rawValue)")
        let vmPort = freePort()
        let socketPath = dir + "/gpio.sock"
        var simArgs = ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--gpio-socket", socketPath,
                       "--truth", dir + "/truth.jsonl", "--trace", dir + "/trace.jsonl", "--linger", "3",
                       "--counter-start", "4294900000"]  // the counters wrap during the run
        var agentArgs = ["run", "--gpio-socket", socketPath, "--duration", "63", "--journal", dir + "/journal"]
        switch link {
        case .tcp:
            let port = freePort()
            simArgs += ["--tcp-port", String(port)]
            agentArgs += ["--board", "Boards/sim.yaml", "--modbus-port", String(port), "--vm250-port", String(vmPort)]
        case .rtu:
            simArgs += ["--tcp-port", "0", "--rtu-link", dir + "/ttyRTU"]
            agentArgs += ["--board", "Boards/sim-rtu.yaml", "--modbus-device", dir + "/ttyRTU"]
        }
        let sim = try Child("lane-sim", simArgs, dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(socketPath), "the simulator did not start: \(sim.stderr)")
        if link == .rtu { #expect(waitFor(dir + "/ttyRTU")) }
        let agent = try Child("lane-agent", agentArgs, dir: dir, name: "agent")
        let stream = link == .tcp ? LineReader(port: vmPort) : nil
        let status = agent.wait(timeoutS: 90)
        sim.wait(timeoutS: 10)
        #expect(status == 0, "agent exit \(status): \(agent.stderr)")

        let truths = readJSONLines(dir + "/truth.jsonl")
        let decisions = agent.jsonLines()
        #expect(truths.count == 4)
        #expect(decisions.count == truths.count, "one occupancy per truck; got \(decisions.count):\n\(agent.stdout)\n\(agent.stderr)")
        for t in truths {
            let entry = int64(t["entryUs"]), exit = int64(t["exitUs"])
            let matching = decisions.filter { int64($0["startUs"]) < exit && int64($0["endUs"]) > entry }
            #expect(matching.count == 1, "vehicle \(t["vehicle"]!) overlaps \(matching.count) occupancies")
            guard let d = matching.first else { continue }
            let threat = t["threat"] as! Bool, norm = t["norm"] as! Bool
            #expect(d["gammaAlarm"] as? Bool == threat, "vehicle \(t["vehicle"]!): \(d)")
            #expect(d["neutronAlarm"] as? Bool == false)
            if norm { #expect(d["normSuspect"] as? Bool == true, "NORM load not recognised: \(d)") }
            let measured = double(d["speedMps"]), truth = double(t["speedMps"])
            #expect(abs(measured - truth) / truth <= 0.05, "speed \(measured) vs \(truth)")
            // Beam edges carry the simulator's own timestamps: the occupancy starts at the break.
            #expect(abs(int64(d["startUs"]) - entry) < 2_000)
            #expect((d["faults"] as? [String])?.isEmpty == true, "faults during vehicle \(t["vehicle"]!): \(d)")
        }
        // The agent's outputs reached the simulator: the gamma light went on for the source.
        #expect(sim.stderr.contains("output gammaLight ON"))
        #expect(sim.stderr.contains("output siren ON"))

        // Every decision was committed to the journal, in sequence, with the raw samples beside it.
        let dump = try Child("lane-agent", ["journal", dir + "/journal"], dir: dir, name: "journal")
        #expect(dump.wait(timeoutS: 30) == 0, "\(dump.stderr)")
        let records = dump.jsonLines()
        #expect(records.map { ($0["sequence"] as! NSNumber).uint64Value } == Array(1...UInt64(records.count)))
        let journaled = records.filter { $0["kind"] as? String == "occupancy" }.map { ($0["decision"] as! [String: Any])["gammaAlarm"] as! Bool }
        #expect(journaled == decisions.map { $0["gammaAlarm"] as! Bool })
        let sampleCount = records.filter { $0["kind"] as? String == "samples" }.reduce(0) { $0 + ($1["samples"] as! [Any]).count }
        #expect(sampleCount > 550, "about 10 samples a second for 63 s: \(sampleCount)")
        // Heartbeats carry the tick's timing from the agent's histograms.
        let beats = records.filter { $0["kind"] as? String == "heartbeat" }
        #expect(!beats.isEmpty)
        #expect(beats.allSatisfy { int64($0["latenessP999Us"]) >= 0 && int64($0["workP999Us"]) >= 0 && $0["latenessP50Us"] != nil })
        #expect(beats.contains { int64($0["ticks"]) > 0 && int64($0["workP999Us"]) > 0 }, "a heartbeat after the first tick has figures: \(beats)")

        // The VM-250-style stream, line by line against the format, and as the field's readers
        // (OpenSensorHub's Rapiscan driver, LLNL's ERNIE) take it: Tests/Support/VM250Reader.swift.
        if let stream {
            let text = stream.finish()
            #expect(text.hasSuffix("\r\n") && !text.isEmpty)
            let lines = text.components(separatedBy: "\r\n").dropLast()
            #expect(Array(lines.prefix(5)).map { String($0.prefix(3)) } == ["SG1", "SG2", "SG3", "SN1", "SN2"], "\(lines.prefix(5))")
            #expect(lines.first?.range(of: #"^SG1,\d{6},\d{6},\d\d,\d\d,\d\d\.\d,P$"#, options: .regularExpression) != nil, "\(lines.first ?? "")")
            var reader = VM250Reader()
            for line in lines {
                reader.read(line)
                let tag = String(line.prefix(while: { $0 != "," }))
                switch tag {
                case "SG1", "SG2", "SG3", "SN1", "SN2", "CN": continue
                case "SP":
                    #expect(line.range(of: #"^SP,\d\.\d{4},\d\d\.\d\d,\d\d\.\d\d,000000$"#, options: .regularExpression) != nil, "\(line)")
                default:
                    #expect(line.range(of: #"^(GB|NB|GS|GA|NS|NA|GX|GH|GL|NH|TT|TC),\d{6},\d{6},\d{6},\d{6}$"#, options: .regularExpression) != nil, "\(line)")
                }
            }
            #expect(reader.problems.isEmpty, "\(reader.problems.prefix(10))")
            #expect(reader.cadenceProblems().isEmpty, "\(reader.cadenceProblems())")
            #expect(reader.setupGamma != nil && reader.setupNeutron != nil, "OpenSensorHub's setup outputs were filled")
            let tags = reader.tags
            #expect(tags["GX"] == decisions.count)
            #expect((tags["GA"] ?? 0) > 0 && (tags["GS"] ?? 0) > 0 && (tags["GB"] ?? 0) > 0 && (tags["NS"] ?? 0) > 0)
            #expect(reader.occupancies.map(\.number) == decisions.map { ($0["occupancy"] as! NSNumber).intValue })
            #expect(reader.occupancies.map(\.gammaAlarm) == decisions.map { $0["gammaAlarm"] as! Bool }, "GA lines in exactly the alarmed occupancies")
            let mph = lines.filter { $0.hasPrefix("SP,") }.map { Double($0.split(separator: ",")[2])! }
            #expect(mph.contains { abs($0 - 2.2 * 2.236936) < 0.2 }, "\(mph)")
        }

        // The trace the simulator wrote replays through the same engine to the same verdicts.
        // (With the same board's detection settings: its NORM discrimination is commissioned.)
        let replay = try Child("lane-agent", ["replay", dir + "/trace.jsonl", "--board", packageRoot + "/Boards/sim.yaml"], dir: dir, name: "replay")
        #expect(replay.wait(timeoutS: 30) == 0, "\(replay.stderr)")
        let replayed = replay.jsonLines()
        #expect(replayed.map { $0["gammaAlarm"] as! Bool } == decisions.map { $0["gammaAlarm"] as! Bool })
        #expect(replayed.map { $0["normSuspect"] as! Bool } == decisions.map { $0["normSuspect"] as! Bool })
    }
}
