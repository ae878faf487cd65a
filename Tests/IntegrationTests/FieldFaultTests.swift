// Proves that the running agent survives the Modbus faults a real panel or gateway shows, with
// the simulator misbehaving on command (its control socket): after a late reply, a stalled
// panel, a wrong transaction id or a burst of exceptions, every panel is read again within about
// a second, the fault is shown and cleared in the log, and the trucks that follow are screened
// by all four panels (the decision's panelsUsed), not decided "clear" unscreened.

import Foundation
import Testing

@Suite("field faults", .serialized, .timeLimit(integrationTimeLimit))
struct FieldFaultTests {
    /// Runs the faults scenario with `inject` sent to the simulator 5 s in (background learned at 2.5 s).
    func run(_ name: String, inject: [String], rtu: Bool = false, scenario: String = "faults") throws -> (decisions: [[String: Any]], log: String) {
        let dir = scratch("faults-\(name)")
        let port = freePort()
        var simArgs = ["serve", "--scenario", "HardwareSim/scenarios/\(scenario).yaml", "--gpio-socket", dir + "/gpio.sock",
                       "--control-socket", dir + "/control.sock", "--linger", "10"]
        simArgs += rtu ? ["--rtu-link", dir + "/ttyRTU", "--tcp-port", "0"] : ["--tcp-port", String(port)]
        let sim = try Child("lane-sim", simArgs, dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"), "the simulator did not start: \(sim.stderr)")
        var agentArgs = ["run", "--board", packageRoot + (rtu ? "/Boards/sim-rtu.yaml" : "/Boards/sim.yaml"), "--gpio-socket", dir + "/gpio.sock",
                         "--journal", dir + "/journal", "--vm250-port", String(freePort()), "--duration", "34"]
        agentArgs += rtu ? ["--modbus-device", dir + "/ttyRTU"] : ["--modbus-port", String(port)]
        let agent = try Child("lane-agent", agentArgs, dir: dir, name: "agent")
        defer { agent.stop() }
        usleep(5_000_000)
        for line in inject {
            let c = try ConsoleTerminal(socket: dir + "/control.sock")
            c.send(line + "\n")
            _ = c.expect("OK fault", timeoutS: 5)
            usleep(300_000)
        }
        #expect(agent.wait(timeoutS: 60) == 0, "the agent failed: \(agent.stderr.suffix(2_000))")
        return (agent.jsonLines(), agent.stderr)
    }

    func expectScreened(_ r: (decisions: [[String: Any]], log: String), _ what: String, _ loc: SourceLocation = #_sourceLocation) {
        #expect(r.decisions.count >= 2, "\(what): two trucks decided, got \(r.decisions.count)\n\(r.log.suffix(3_000))", sourceLocation: loc)
        for d in r.decisions.suffix(2) {
            #expect(d["screened"] as? Bool == true, "\(what): occupancy \(d["occupancy"] ?? "?") screened", sourceLocation: loc)
            #expect((d["panelsUsed"] as? [Int]) == [0, 1, 2, 3], "\(what): all four panels used: \(d["panelsUsed"] ?? "?")\n\(r.log.suffix(3_000))",
                    sourceLocation: loc)
            #expect(d["gammaAlarm"] as? Bool == false, "\(what): a clean truck", sourceLocation: loc)
        }
    }

    @Test("one reply 45 ms late (timeout 30 ms) from a server that goes on answering does not blind the lane: the panels are read again, the trucks are screened by all four")
    func lateReply() throws {
        let r = try run("late", inject: ["fault 1 late 45 1", "fault 3 late 130 1"])
        // One lost exchange each, no more: without resynchronisation the stale reply was taken
        // for the next ("Invalid data") poll after poll until a flush happened to catch up, and
        // the panel went silent (on the field's asynchronous peer: for good).
        #expect(!r.log.contains("raised panelSilent"), "\(r.log.suffix(3_000))")
        expectScreened(r, "after one late reply")
    }

    @Test("the panel process stalled for 3.6 s (it answers nothing, accepts no connection): panelSilent raised and cleared, the lane reconnects, and the clean truck right after is screened by all four without alarm (the counts over the gap gave 66 sigma)")
    func stall() throws {
        let r = try run("stall", inject: ["fault 1 stall 3600 1"])
        #expect(r.log.contains("raised panelSilent") && r.log.contains("cleared panelSilent"), "\(r.log.suffix(3_000))")
        expectScreened(r, "after a stall")
    }

    @Test("replies with a wrong transaction id, and Modbus exceptions: counted, recovered from")
    func wrongTransactionAndExceptions() throws {
        let r = try run("tid", inject: ["fault 2 wrongtid 3", "fault 3 exception 6 5"])
        expectScreened(r, "after wrong transaction ids and exceptions")
    }

    @Test("a silent panel raises panelSilent within a second and clears it once it answers; the log says both")
    func silentPanel() throws {
        let r = try run("silent", inject: ["fault 4 silent 20"])
        #expect(r.log.contains("raised panelSilent"), "\(r.log.suffix(3_000))")
        #expect(r.log.contains("cleared panelSilent"), "\(r.log.suffix(3_000))")
        expectScreened(r, "after a silent panel")
    }

    @Test("frozen counters with status OK: detectorDead is raised, the panel left out, and the trucks are screened by the other three without alarm")
    func frozenPanel() throws {
        let r = try run("frozen", inject: ["fault 2 frozen"])
        #expect(r.log.contains("raised detectorDead"), "\(r.log.suffix(3_000))")
        #expect(r.decisions.count == 2)
        for d in r.decisions {
            #expect((d["panelsUsed"] as? [Int]) == [0, 2, 3], "\(d["panelsUsed"] ?? "?")")
            #expect(d["gammaAlarm"] as? Bool == false)
        }
    }

    @Test("RTU: a late reply, a bad CRC, a truncated frame and 25 bytes lost on the line are recovered from; the trucks are screened by all four")
    func rtuGarbled() throws {
        let r = try run("rtu", inject: ["fault 1 late 45 1", "fault 2 badcrc 2", "fault 3 truncated 2", "fault rtu dropbytes 25"], rtu: true)
        expectScreened(r, "RTU after garbled replies")
    }

    @Test("RTU: the serial device hangs up for 0.5 s and comes back as a new device behind the same path: the agent reopens it and screens with all four")
    func rtuHangup() throws {
        let r = try run("rtu-hangup", inject: ["fault rtu hangup 500"], rtu: true)
        #expect(r.log.contains("raised panelSilent"), "\(r.log.suffix(3_000))")
        #expect(r.log.contains("cleared panelSilent"), "\(r.log.suffix(3_000))")
        expectScreened(r, "after the RTU device hung up")
    }

    @Test("high voltage out of range, an open door and a temperature fault: panelStatus and tamper raised, the first truck screened by the two healthy panels and the tampered one, all cleared after the faults end, the second truck screened by all four")
    func healthFaults() throws {
        let r = try run("health", inject: [], scenario: "faults-health")
        for line in ["raised panelStatus", "raised tamper", "cleared panelStatus", "cleared tamper",
                     "panel 0 faults raised panelStatus; active: panelStatus; status 0x3", "panel 1 faults raised tamper",
                     "panel 2 faults raised panelStatus; active: panelStatus; status 0x17", "panel 0 faults cleared panelStatus"] {
            #expect(r.log.contains(line), "\(line)\n\(r.log.suffix(3_000))")
        }
        #expect(r.decisions.count == 2, "\(r.log.suffix(3_000))")
        if r.decisions.count == 2 {
            #expect((r.decisions[0]["panelsUsed"] as? [Int]) == [1, 3], "\(r.decisions[0]["panelsUsed"] ?? "?")")
            #expect((r.decisions[1]["panelsUsed"] as? [Int]) == [0, 1, 2, 3], "\(r.decisions[1]["panelsUsed"] ?? "?")")
            for d in r.decisions { #expect(d["gammaAlarm"] as? Bool == false) }
        }
    }

    @Test("a beam stuck clear while the other sees two trucks raises beamStuck; the trucks are still decided")
    func beamStuckClear() throws {
        let r = try run("stuckclear", inject: ["fault beam 1 stuckclear"])
        #expect(r.log.contains("raised beamStuck"), "\(r.log.suffix(3_000))")
        #expect(r.decisions.count == 2)
    }

    @Test("faults timed by the scenario (a silent panel, a chattering beam) are shown and cleared, and the trucks after them screened by all four")
    func scenarioTimed() throws {
        let r = try run("timed", inject: [], scenario: "faults-timed")
        for line in ["raised panelSilent", "cleared panelSilent", "raised beamStuck", "cleared beamStuck"] {
            #expect(r.log.contains(line), "\(line)\n\(r.log.suffix(3_000))")
        }
        expectScreened(r, "after scenario faults")
    }
}
