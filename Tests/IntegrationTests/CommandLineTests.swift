// Proves what a technician or integrator sees at the command line: a broken board profile stops
// `run` and `check-board` before anything starts, with the file, line and key; a malformed
// trace stops `replay` with the line number after printing the decisions before it; the
// simulator refuses a broken scenario by file and key; `replay -` reads standard input.

import Foundation
import Testing

@Suite struct CommandLineTests {
    @Test("run and check-board refuse a broken profile with file, line and key, exit status 2")
    func brokenBoard() throws {
        let dir = scratch("cli-board")
        let text = try String(contentsOfFile: packageRoot + "/Boards/sim.yaml", encoding: .utf8)
            .replacingOccurrences(of: "gammaSigma: 6.0", with: "gammaSigma: seven")
        try text.write(toFile: dir + "/broken.yaml", atomically: true, encoding: .utf8)
        for args in [["check-board", dir + "/broken.yaml"], ["run", "--board", dir + "/broken.yaml", "--duration", "5"]] {
            let p = try Child("lane-agent", args, dir: dir, name: args[0])
            #expect(p.wait(timeoutS: 20) == 2)
            #expect(p.stderr.contains("broken.yaml:"), "\(p.stderr)")
            #expect(p.stderr.contains("detection.gammaSigma: expected a number, found 'seven'"), "\(p.stderr)")
            #expect(p.stdout.isEmpty)
        }
        let missing = try Child("lane-agent", ["check-board", dir + "/nope.yaml"], dir: dir, name: "missing")
        #expect(missing.wait(timeoutS: 20) == 2)
        #expect(missing.stderr.contains("nope.yaml: cannot read the board profile"))
    }

    @Test("check-board given a bare file name finds its register maps beside it (it looked in /panels)")
    func bareFileName() throws {
        let dir = scratch("cli-bare")
        let p = try Child("lane-agent", ["check-board", "sim.yaml"], dir: dir, name: "bare", cwd: packageRoot + "/Boards")
        #expect(p.wait(timeoutS: 20) == 0, "\(p.stderr)")
        #expect(!p.stderr.contains("/panels/"), "\(p.stderr)")
    }

    @Test("replay stops at a malformed line with its number, after the decisions before it; - reads stdin")
    func replayErrors() throws {
        let dir = scratch("cli-replay")
        let gen = try Child("lane-sim", ["trace", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--out", dir + "/t.jsonl"], dir: dir, name: "gen")
        #expect(gen.wait(timeoutS: 30) == 0, "\(gen.stderr)")
        var lines = try String(contentsOfFile: dir + "/t.jsonl", encoding: .utf8).split(separator: "\n").map(String.init)
        let whole = try Child("lane-agent", ["replay", "-"], dir: dir, name: "stdin", stdin: dir + "/t.jsonl")
        #expect(whole.wait(timeoutS: 30) == 0)
        #expect(whole.jsonLines().count == 4)
        #expect(whole.stderr.isEmpty)
        lines.insert(#"{"tUs":99000000,"beam":7,"blocked":true}"#, at: 400)
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/bad.jsonl", atomically: true, encoding: .utf8)
        let bad = try Child("lane-agent", ["replay", dir + "/bad.jsonl"], dir: dir, name: "bad")
        #expect(bad.wait(timeoutS: 30) == 1)
        #expect(bad.stderr.contains("line 401: beam 7 does not exist"), "\(bad.stderr)")
        #expect(bad.jsonLines().count == 2, "the decisions before line 401 are printed")
        let none = try Child("lane-agent", ["replay", dir + "/absent.jsonl"], dir: dir, name: "absent")
        #expect(none.wait(timeoutS: 20) == 2)
        #expect(none.stderr.contains("cannot open the trace"))
    }

    @Test("the simulator refuses a broken scenario naming the file and the key")
    func brokenScenario() throws {
        let dir = scratch("cli-scenario")
        try "seed: 1\nvehicles:\n  - {at: 5, speed: 99}\n".write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let p = try Child("lane-sim", ["trace", "--scenario", dir + "/s.yaml"], dir: dir, name: "sim")
        #expect(p.wait(timeoutS: 20) != 0)
        #expect(p.stderr.contains("s.yaml: vehicles[0].speed: must be 0.1...30 m/s"), "\(p.stderr)")
        try "seed: 1\nvehicles:\n  - {speed: 2}\n".write(toFile: dir + "/m.yaml", atomically: true, encoding: .utf8)
        let q = try Child("lane-sim", ["trace", "--scenario", dir + "/m.yaml"], dir: dir, name: "sim2")
        #expect(q.wait(timeoutS: 20) != 0)
        #expect(q.stderr.contains("vehicles[0].at: required key is missing"), "\(q.stderr)")
    }

    @Test("lane-sim vectors writes the 8-window profile's policies after the matched test's settings, refuses them out of order and a shape of the wrong length")
    func vectorsSettings() throws {
        let dir = scratch("cli-vectors")
        try "seed: 1\ndurationS: 20\nvehicles:\n  - {at: 5, speed: 2.2}\n".write(toFile: dir + "/s.yaml", atomically: true, encoding: .utf8)
        let gen = try Child("lane-sim", ["trace", "--scenario", dir + "/s.yaml", "--physics", "m1", "--windows", "30,80,150,250,400,650,1000,1500,3000",
                                         "--out", dir + "/t.jsonl"], dir: dir, name: "gen")
        #expect(gen.wait(timeoutS: 60) == 0, "\(gen.stderr)")
        let shape = "--check-shape=0.170,0.109,0.145,0.236,0.300,0.039,0.001,0.000"
        func vectors(_ extra: [String], _ out: String) throws -> (status: Int32, stderr: String) {
            let c = try Child("lane-sim", ["vectors", "--trace", dir + "/t.jsonl", "--out", dir + "/" + out, shape] + extra, dir: dir, name: out)
            let status = c.wait(timeoutS: 30)
            return (status, c.stderr)
        }
        let plain = try vectors(["--matched-sigma", "5"], "plain.bin")
        let all = try vectors(["--matched-sigma", "5", "--spectral-norm-sigma", "0", "--spectral-norm-share-sigma", "0", "--hard-bin-divisor", "50"], "all.bin")
        #expect(plain.status == 0 && all.status == 0, "\(plain.stderr) \(all.stderr)")
        // Three Int64 fields more in the 'T' record: the two overrules (Q8) and the divisor.
        let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/all.bin")), p = try Data(contentsOf: URL(fileURLWithPath: dir + "/plain.bin"))
        #expect(a.count == p.count + 24)
        for bad in [["--spectral-norm-sigma", "0"], ["--matched-sigma", "5", "--hard-bin-divisor", "50"],
                    ["--matched-sigma", "5", "--spectral-norm-share-sigma", "0"]] {
            let c = try vectors(bad, "bad.bin")
            #expect(c.status != 0 && c.stderr.contains("follow --matched-sigma and each other"), "\(bad): \(c.stderr)")
        }
        let short = try Child("lane-sim", ["vectors", "--trace", dir + "/t.jsonl", "--out", dir + "/s.bin", "--check-shape=0.5,0.5"], dir: dir, name: "short")
        #expect(short.wait(timeoutS: 30) != 0 && short.stderr.contains("--check-shape: 2 shares for 8 windows"), "\(short.stderr)")
    }

    @Test("lane-sim eval refuses a neutron window that is not one to 128 samples (NaN, 0, negative, huge, 13 s) with the option, its range and the value, before it plays a pass (NaN and 1e300 trapped in the conversion to Int)")
    func evalNeutronWindow() throws {
        let dir = scratch("cli-eval")
        for bad in ["nan", "0", "-1", "1e300", "13"] {
            let c = try Child("lane-sim", ["eval", "--neutron-window=\(bad)", "--family", "0", "--out", dir + "/out"], dir: dir, name: "eval-\(bad)")
            let status = c.wait(timeoutS: 30)
            #expect(status != 0 && c.stderr.contains("--neutron-window must be one sample to 128 samples (12.8 s), not"), "\(bad): \(status) \(c.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/out/report.md"))
        }
    }

    @Test("lane-sim eval refuses --learn-passes outside 10 to 20000 or without --commission, --learn-clean-per-norm outside 0 to 20 (NaN too) or without --commission --from-traffic, and --matched-misfit-sigma outside -50 to 50 (NaN too), and a spectral sigma that is not a finite number (NaN, 1e300, -inf trapped in the conversion before), each with a message naming the option and the value, and writes no report")
    func evalLearningOptions() throws {
        let dir = scratch("cli-eval-learn")
        let cases: [([String], String)] = [
            (["--commission", "--learn-passes", "9"], "--learn-passes must be 10 to 20000 NORM passes, not 9"),
            (["--commission", "--learn-passes", "20001"], "--learn-passes must be 10 to 20000 NORM passes, not 20001"),
            (["--learn-passes", "500"], "--learn-passes needs --commission"),
            (["--commission", "--learn-clean-per-norm", "1"], "--learn-clean-per-norm needs --commission --from-traffic"),
            (["--commission", "--from-traffic", "--learn-clean-per-norm=-1"], "--learn-clean-per-norm must be 0 to 20 clean passes per NORM pass, not -1.0"),
            (["--commission", "--from-traffic", "--learn-clean-per-norm=nan"], "--learn-clean-per-norm must be 0 to 20 clean passes per NORM pass, not nan"),
            (["--matched-misfit-sigma=nan"], "--matched-misfit-sigma must be -50 to 50 sd (below 0: off), not nan"),
            (["--matched-misfit-sigma=51"], "--matched-misfit-sigma must be -50 to 50 sd (below 0: off), not 51.0"),
            (["--directed-sigma=nan"], "--directed-sigma must be a finite number of sd, not nan"),
            (["--spectral-sigma=1e300"], "--spectral-sigma must be a finite number of sd, not 1e+300"),
            (["--matched-directed-sigma=-inf"], "--matched-directed-sigma must be a finite number of sd, not -inf"),
        ]
        for (args, message) in cases {
            let c = try Child("lane-sim", ["eval"] + args + ["--family", "0", "--out", dir + "/out"], dir: dir, name: "eval-\(args.joined(separator: "_"))")
            let status = c.wait(timeoutS: 30)
            #expect(status != 0 && c.stderr.contains(message), "\(args): \(status) \(c.stderr)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/out/report.md"))
        }
    }

    @Test("lane-collector decode reads a journal segment; a corrupt one is refused frame by frame with exit status 1")
    func decode() throws {
        let dir = scratch("cli-decode")
        let port = freePort()
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", String(port),
                                         "--gpio-socket", dir + "/gpio.sock"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        let agent = try Child("lane-agent", ["run", "--board", "Boards/sim.yaml", "--modbus-port", String(port), "--gpio-socket", dir + "/gpio.sock",
                                             "--journal", dir + "/journal", "--vm250-port", String(freePort()), "--duration", "4"], dir: dir, name: "agent")
        #expect(agent.wait(timeoutS: 30) == 0, "\(agent.stderr)")
        let seg = dir + "/journal/" + (try FileManager.default.contentsOfDirectory(atPath: dir + "/journal").first { $0.hasSuffix(".seg") }!)
        let good = try Child("lane-collector", ["decode", seg], dir: dir, name: "decode")
        #expect(good.wait(timeoutS: 20) == 0, "\(good.stderr)")
        let records = good.jsonLines()
        #expect(records.count >= 3 && records.first?["sequence"] as? Int == 1)
        #expect(records.contains { $0["kind"] as? String == "samples" })
        var bytes = try Data(contentsOf: URL(fileURLWithPath: seg))
        bytes[12] ^= 0x55
        try bytes.write(to: URL(fileURLWithPath: dir + "/bad.seg"))
        let bad = try Child("lane-collector", ["decode", dir + "/bad.seg"], dir: dir, name: "bad")
        #expect(bad.wait(timeoutS: 20) == 1)
        #expect(bad.stderr.contains("bad.seg: frame 1 refused:"), "\(bad.stderr)")
        #expect(bad.jsonLines().count >= records.count - 2, "the frames after the corrupt one are still decoded")
        let missing = try Child("lane-collector", ["decode", dir + "/none.seg"], dir: dir, name: "none")
        #expect(missing.wait(timeoutS: 20) == 2)
        #expect(missing.stderr.contains("none.seg: cannot read the file"))
    }
}
