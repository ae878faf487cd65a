// Proves that the whole agent's tick (and its Modbus poll thread) allocates nothing in steady state: `lane-agent run` (whose
// executable interposes malloc & co. and counts allocations per thread) screens a minute of
// traffic from the simulator at a 20 ms tick (about 3,000 ticks), with alarms, a NORM load,
// records journaled, the VM-250 stream, the gate OCR's reads (attached, a duplicate, a late one
// amending a decision, a malformed message) and a console session asking for `stats` all the while;
// from the end of the first alarm occupancy on, the tick thread's count must not move. The same
// counter must show the allocations start-up made on that thread, so a dead counter cannot pass.

import Foundation
import Testing

@Suite struct AllocationTests {
    @Test("the tick thread makes 0 heap allocations over thousands of ticks with traffic, alarms, records, VM-250, the OCR input and the console")
    func tickAllocatesNothing() throws {
        try countAllocations(base: try simBoardBase(), simulator: [], name: "alloc", normExpected: true)
    }
}

/// Apart, so that it runs in another shard than the two-window one.
@Suite struct AllocationMultiWindowTests {
    @Test("8-window panels (Boards/sim-8w.yaml, lane-sim --physics m1 --windows): the tick and the poll thread make 0 heap allocations in steady state, the windows, the spectral test and the windows records included")
    func tickAllocatesNothingEightWindows() throws {
        let base = withoutVM250(try String(contentsOfFile: packageRoot + "/Boards/sim-8w.yaml", encoding: .utf8).components(separatedBy: "\nconsole:")[0])
        try countAllocations(base: base, simulator: ["--physics", "m1", "--windows", "30,80,150,250,400,650,1000,1500,3000"], name: "alloc8w", normExpected: false)
    }
}

/// `lane-agent run` over alloc.yaml at a 20 ms tick with `base` as its board (the console added),
/// lane-sim given `simulator` too; the tick's and the poll thread's allocation counts.
func countAllocations(base: String, simulator: [String], name: String, normExpected: Bool) throws {
    do {
        let dir = scratch(name)
        #expect(base.contains("sampleIntervalMs: 100"))
        let board = dir + "/board.yaml"
        try (base.replacingOccurrences(of: "sampleIntervalMs: 100", with: "sampleIntervalMs: 20")
            + "\nconsole:\n  socket: \(dir)/console.sock\n  users: \(packageRoot)/Boards/console-users.sim\n")
            .write(toFile: board, atomically: true, encoding: .utf8)
        let port = freePort(), vmPort = freePort(), ocrPort = freePort()
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/alloc.yaml", "--tcp-port", String(port),
                                         "--gpio-socket", dir + "/gpio.sock", "--ocr-port", String(ocrPort), "--linger", "20"] + simulator, dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"), "the simulator did not start: \(sim.stderr)")
        let agent = try Child("lane-agent", ["run", "--board", board, "--modbus-port", String(port), "--gpio-socket", dir + "/gpio.sock",
                                             "--journal", dir + "/journal", "--vm250-port", String(vmPort), "--ocr-port", String(ocrPort), "--duration", "65"],
                              dir: dir, name: "agent")
        let stream = LineReader(port: vmPort)
        #expect(waitFor(dir + "/console.sock"), "the agent did not start: \(agent.stderr)")
        let console = try ConsoleTerminal(socket: dir + "/console.sock")
        for _ in 0..<58 {
            console.run("stats", timeoutS: 5)
            usleep(1_000_000)
        }
        #expect(agent.wait(timeoutS: 30) == 0, "\(agent.stderr)")
        _ = stream.finish()

        let decisions = agent.jsonLines()
        #expect(decisions.filter { $0["gammaAlarm"] as? Bool == true || $0["neutronAlarm"] as? Bool == true }.count >= 3 && decisions.count >= 5,
                "alarms while counting: \(agent.stdout)")
        if normExpected { #expect(decisions.contains { $0["normSuspect"] as? Bool == true }) }
        // The OCR's paths ran while the allocations were counted.
        let ocr = agent.stderr.split(separator: "\n").first { $0.contains("ocr: ") && $0.contains("messages (") } ?? ""
        #expect(ocr.contains("1 malformed") && ocr.contains("1 late (decision amended)") && ocr.contains("1 duplicates") && ocr.contains("reads 4 attached"), "\(ocr)")
        let line = agent.stderr.split(separator: "\n").first { $0.contains("tick thread: ") && $0.contains("heap allocations") } ?? ""
        let words = line.split(separator: " ")
        func number(before word: String) -> Int? {
            guard let i = words.firstIndex(where: { $0.hasPrefix(word) }), i > 0 else { return nil }
            return Int(words[i - 1])
        }
        let made = number(before: "heap"), counted = number(before: "ticks")
        let startUp = number(before: "on")
        #expect(made == 0, "the tick allocated: \(line)")
        #expect((counted ?? 0) >= 1_500, "too few ticks counted: \(line)")
        #expect((startUp ?? 0) > 100, "the counter saw start-up's allocations on the tick thread: \(line)")
        // The poll thread, which owns the Modbus bus, allocates nothing per round either (rounds
        // where every panel answered: an error message is built when a poll fails).
        let poll = agent.stderr.split(separator: "\n").first { $0.contains("poll thread: ") } ?? ""
        let pw = poll.split(separator: " ")
        let pollMade = pw.firstIndex(of: "heap").flatMap { Int(pw[$0 - 1]) }
        let rounds = pw.firstIndex(of: "rounds").flatMap { Int(pw[$0 - 1]) }
        #expect(pollMade == 0 && (rounds ?? 0) > 1_500, "poll thread: \(poll)")
    }
}
