// Proves the window split the profile asks for (`panels.windowSplitKev`): check-board tries it
// panel by panel; the agent writes it to
// every panel at start-up and reads it back (the panels' register 257 then holds it, as any
// Modbus tool reads it); a panel that refuses the write is named in the log with the reason and
// NORM discrimination is off while it has not taken the split (the console says so); once the
// panel takes it (after it restarts), discrimination is on again.

import CModbus
import Foundation
import Testing

@Suite(.timeLimit(integrationTimeLimit))
struct WindowSplitTests {
    @Test("windowSplitKev 450: written and read back on three panels; the fourth refuses (settings locked): named, NORM discrimination off; after the lock is lifted and the panel restarts, it takes the split and discrimination is on")
    func windowSplit() async throws {
        let dir = scratch("split")
        let port = freePort()
        let base = try simBoardBase().replacingOccurrences(of: "  registerMap: reference-panel-v1", with: "  registerMap: reference-panel-v1\n  windowSplitKev: 450")
        #expect(base.contains("windowSplitKev: 450"))
        let board = dir + "/board.yaml"
        try (base + "\nconsole:\n  socket: \(dir)/console.sock\n  users: \(packageRoot)/Boards/console-users.sim\n").write(toFile: board, atomically: true, encoding: .utf8)
        let sim = try Child("lane-sim", ["serve", "--scenario", try emptyLaneScenario(dir), "--tcp-port", String(port),
                                         "--gpio-socket", dir + "/gpio.sock", "--control-socket", dir + "/control.sock"],
                            dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/control.sock"), "the simulator did not start: \(sim.stderr)")
        func fault(_ command: String) throws { try simulatorFault(dir, command) }
        try fault("2 readonly")

        // check-board does what the agent will do, and names the panel that does not take it.
        let check = try Child("lane-agent", ["check-board", board, "--on-target", "--modbus-port", String(port), "--gpio-socket", dir + "/gpio.sock",
                                             "--journal", dir + "/journal"], dir: dir, name: "check")
        #expect(await check.finish(timeoutS: 30) == 1, "\(check.stdout)")
        #expect(check.stdout.contains("ok    panel MU (unit 1) window split: 450 keV written and read back (register 257)"), "\(check.stdout)")
        #expect(check.stdout.contains("FAIL  panel ML (unit 2) window split: 450 keV not taken (register 257):"), "\(check.stdout)")
        // What the panels hold, read by another Modbus client (the contract's register 257; the
        // simulator serves one client at a time, so before the agent connects and after it ends).
        do {
            let client = try Client(modbus_new_tcp("127.0.0.1", Int32(port))!)
            #expect(client.holding(unit: 1, 257, 1) == .success([450]))
            #expect(client.holding(unit: 2, 257, 1) == .success([250]), "the locked panel kept its own split")
        }

        let agent = try Child("lane-agent", ["run", "--board", board, "--modbus-port", String(port), "--gpio-socket", dir + "/gpio.sock",
                                             "--journal", dir + "/journal", "--vm250-port", String(freePort()), "--duration", "25"], dir: dir, name: "agent")
        defer { agent.stop() }
        #expect(waitFor(dir + "/console.sock"), "the agent did not start: \(agent.stderr)")
        await pause(3)
        for (label, unit) in [("MU", 1), ("SU", 3), ("SL", 4)] {
            #expect(agent.stderr.contains("panel \(label) (unit \(unit)): window split set to 450 keV (register 257, read back)"), "\(agent.stderr)")
        }
        #expect(agent.stderr.contains("panel ML (unit 2): window split 450 keV not taken (register 257):"), "\(agent.stderr)")
        #expect(agent.stderr.contains("NORM discrimination is off until it is"))
        let console = try ConsoleTerminal(socket: dir + "/console.sock")
        #expect(console.run("thresholds").contains("NORM:    discrimination OFF: a panel has not confirmed the window split"))

        // The lock lifted and the panel restarted (its default split again): it takes the split.
        try fault("2 clear")
        try fault("2 restart 1")
        await pause(2)
        #expect(agent.stderr.contains("panel ML (unit 2): window split set to 450 keV (register 257, read back)"), "\(agent.stderr)")
        #expect(console.run("thresholds").contains("NORM:    discrimination on (set in the profile)"))
        #expect(await agent.finish(timeoutS: 40) == 0, "\(agent.stderr)")
        let after = try Client(modbus_new_tcp("127.0.0.1", Int32(port))!)
        for unit: Int32 in 1...4 { #expect(after.holding(unit: unit, 257, 1) == .success([450]), "unit \(unit)") }
    }


    @Test("lane-sim --physics m1: the panels start at the member's split (register 257), and a Modbus write of 700 keV to a panel's register makes its counts softer (its low-window share of the background rises by more than 0.1); another panel keeps its share")
    func simulatorFollowsTheSplit() async throws {
        let dir = scratch("split-physics")
        let port = freePort()
        let sim = try Child("lane-sim", ["serve", "--scenario", try emptyLaneScenario(dir), "--tcp-port", String(port), "--physics", "m1",
                                         "--gpio-socket", dir + "/gpio.sock", "--control-socket", dir + "/control.sock"],
                            dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/control.sock"), "the simulator did not start: \(sim.stderr)")
        let c = try Client(modbus_new_tcp("127.0.0.1", Int32(port))!)
        let own = try c.holding(unit: 1, 257, 1).get()[0]
        #expect(own >= 150 && own <= 450, "m1's split lies in the family's range: \(own)")
        // The low-window share of what panel `unit` counts over 4 s (counters, high word first).
        func share(_ unit: Int32) async throws -> Double {
            let a = try c.input(unit: unit, 0, 4).get()
            await pause(4)
            let b = try c.input(unit: unit, 0, 4).get()
            return Double(u32(b, 2) &- u32(a, 2)) / Double(u32(b, 0) &- u32(a, 0))
        }
        let before1 = try await share(1), before2 = try await share(2)
        #expect(c.write(unit: 1, 257, 700) == nil)
        #expect(c.holding(unit: 1, 257, 1) == .success([700]))
        let after1 = try await share(1), after2 = try await share(2)
        #expect(after1 > before1 + 0.1, "panel 1: \(before1) at \(own) keV, \(after1) at 700 keV")
        #expect(abs(after2 - before2) < 0.06, "panel 2 kept its split: \(before2), \(after2)")
    }
}
