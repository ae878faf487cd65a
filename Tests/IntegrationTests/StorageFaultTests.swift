// Proves that storage faults are lane faults, never the end of screening (docs/UPLINK.md,
// "Storage faults"), with the real agent against the simulator and real file systems (tmpfs):
// - a journal directory on a read-only file system at start: the agent screens, raises
//   storageFailed (log, faults), and exits with status 3 (records were lost), not 0;
// (The second test is synchronous on purpose: it must fill the disk at a given moment of the
// agent's run, and an async test's continuation can wait behind other tests for seconds.)
// - the file system fills up mid-run: the Cs-137 truck's decision and alarm are still kept (the
//   reserve), raw samples are refused, and when space returns a gap record names every
//   sequence not kept: the journal holds every sequence or names it lost, nothing silently.

import Foundation
import LaneTestSupport
import Testing

@Suite(.timeLimit(integrationTimeLimit))
struct StorageFaultTests {
    func agentArgs(_ dir: String, _ modbusPort: Int, journal: String, duration: Int) -> [String] {
        ["run", "--board", "Boards/sim.yaml", "--modbus-port", String(modbusPort), "--gpio-socket", dir + "/gpio.sock",
         "--vm250-port", String(freePort()), "--journal", journal, "--duration", String(duration)]
    }

    @Test("a read-only journal at start: the agent screens on with storageFailed raised and exits with status 3")
    func readOnlyAtStart() async throws {
        let dir = scratch("storage-ro")
        let fs = try SmallFilesystem(kib: 1_024)
        defer { fs.close() }
        try FileManager.default.createDirectory(atPath: fs.path + "/journal", withIntermediateDirectories: true)
        #expect(fs.remountReadOnly(true) == 0)
        let modbusPort = freePort()
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", String(modbusPort),
                                         "--gpio-socket", dir + "/gpio.sock", "--linger", "30"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        let agent = try Child("lane-agent", agentArgs(dir, modbusPort, journal: fs.path + "/journal", duration: 32), dir: dir, name: "agent")
        #expect(await agent.finish(timeoutS: 60) == 3, "exit status 3: records were lost: \(agent.stderr.suffix(1_500))")
        #expect(agent.jsonLines().count >= 2, "the trucks were screened: \(agent.stdout)")
        #expect(agent.jsonLines().contains { ($0["gammaAlarm"] as? Bool) == true }, "the Cs-137 truck alarmed")
        #expect(agent.stderr.contains("STORAGE FAULT") && agent.stderr.contains("Read-only file system"), "\(agent.stderr.suffix(1_500))")
        #expect(agent.stderr.contains("storageFailed"), "the fault is raised: \(agent.stderr.suffix(1_500))")
        #expect(agent.stderr.components(separatedBy: "STORAGE FAULT").count <= 8, "log lines are limited per cause")
    }

    @Test("the file system fills up mid-run: the alarm and its decision are kept in the reserve, samples are refused, and a gap record names every sequence not kept")
    func fullMidRun() throws {
        let dir = scratch("storage-full")
        let fs = try SmallFilesystem(kib: 2_048)
        defer { fs.close() }
        let journal = fs.path + "/journal"
        let modbusPort = freePort()
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", String(modbusPort),
                                         "--gpio-socket", dir + "/gpio.sock", "--linger", "30"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        // Segments of 1 KiB: a new segment (a new page of the file system) every few records, so
        // the full file system shows within seconds, not when the current page's slack runs out.
        let profile = try String(contentsOfFile: packageRoot + "/Boards/sim.yaml", encoding: .utf8)
            .replacingOccurrences(of: "  segmentKiB: 1024", with: "  segmentKiB: 1")
        try profile.write(toFile: dir + "/board.yaml", atomically: true, encoding: .utf8)
        var args = agentArgs(dir, modbusPort, journal: journal, duration: 42)
        args[2] = dir + "/board.yaml"
        let agent = try Child("lane-agent", args, dir: dir, name: "agent")
        sleep(4)
        // Before the trucks (the Cs-137 one passes at about 23 s), as a runaway log would.
        let filler = try #require(fs.fill(), "the filler could not be made")
        #expect(filler.bytes > 1_000_000 && fs.freeBytes == 0, "filled with \(filler.bytes) bytes, \(fs.freeBytes) free")
        sleep(32)
        try FileManager.default.removeItem(atPath: filler.path)
        #expect(agent.wait(timeoutS: 60) == 3, "records were lost: \(agent.stderr.suffix(1_500))")
        #expect(agent.stderr.contains("No space left on device"), "\(agent.stderr.suffix(1_500))")
        let dump = try Child("lane-agent", ["journal", journal], dir: dir, name: "dump")
        #expect(dump.wait(timeoutS: 30) == 0, "\(dump.stderr)")
        let records = dump.jsonLines()
        let kept = Set(records.map { ($0["sequence"] as! NSNumber).uint64Value })
        var named: Set<UInt64> = []
        for r in records where r["kind"] as? String == "gap" {
            for pair in (r["sequences"] as? [[NSNumber]]) ?? [] { for s in pair[0].uint64Value...pair[1].uint64Value { named.insert(s) } }
        }
        #expect(!named.isEmpty, "records were lost and named")
        #expect(kept.isDisjoint(with: named))
        let last = kept.union(named).max() ?? 0
        #expect(kept.union(named) == Set(1...last), "every sequence is kept or named lost")
        let alarmDecisions = records.filter { r in
            r["kind"] as? String == "occupancy" && ((r["decision"] as? [String: Any])?["gammaAlarm"] as? Bool) == true
        }
        #expect(alarmDecisions.count >= 1, "the Cs-137 truck's alarmed decision was kept in the reserve")
        #expect(records.contains { $0["kind"] as? String == "alarm" }, "its alarm record too")
        #expect(agent.jsonLines().contains { ($0["gammaAlarm"] as? Bool) == true })
    }
}
