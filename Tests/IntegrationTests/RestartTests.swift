// Proves that the running agent keeps its learned background beside the journal and restores it
// at the next start (the log says so, with its age), so that a restarted lane screens at once.

import Foundation
import Testing

@Suite("restart", .serialized, .timeLimit(integrationTimeLimit))
struct RestartTests {
    func runAgent(_ dir: String, seconds: Int) throws -> String {
        let port = freePort()
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/faults.yaml", "--gpio-socket", dir + "/gpio.sock",
                                         "--control-socket", dir + "/control.sock", "--tcp-port", String(port)], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"), "the simulator did not start: \(sim.stderr)")
        let agent = try Child("lane-agent", ["run", "--board", packageRoot + "/Boards/sim.yaml", "--gpio-socket", dir + "/gpio.sock",
                                             "--journal", dir + "/journal", "--vm250-port", String(freePort()), "--modbus-port", String(port),
                                             "--duration", String(seconds)], dir: dir, name: "agent")
        defer { agent.stop() }
        #expect(agent.wait(timeoutS: Double(seconds) + 20) == 0, "the agent failed: \(agent.stderr.suffix(2_000))")
        try? FileManager.default.removeItem(atPath: dir + "/gpio.sock")
        return agent.stderr
    }

    @Test("a run that learned its background keeps it at the end; the next start restores it and says how old it is")
    func keepsAndRestores() throws {
        let dir = scratch("restart")
        let first = try runAgent(dir, seconds: 5)
        #expect(first.contains("background: no background kept at"), "\(first.suffix(2_000))")
        // Once when it became ready, once at the end.
        #expect(first.contains("background: kept 2 times at \(dir)/journal/background"), "\(first.suffix(2_000))")
        let second = try runAgent(dir, seconds: 3)
        #expect(second.contains("background: restored from \(dir)/journal/background, saved "), "\(second.suffix(2_000))")
        // Restored, the lane is ready from its first tick: no backgroundNotReady fault is raised.
        #expect(!second.contains("raised backgroundNotReady"), "\(second.suffix(2_000))")
    }
}
