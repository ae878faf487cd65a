// Proves the committed fuzzing corpora (Fuzz/corpus/<target>, docs/FUZZING.md) still pass every
// harness's property with the ordinary build of lane-fuzz, which replays files instead of
// fuzzing: a crash found once and added to a corpus stays fixed. (The libFuzzer smoke run of
// each target is `scripts/fuzz.sh smoke`, in `make test` after the suite.)

import Foundation
import Testing

@Suite struct FuzzCorpusTests {
    @Test("every committed corpus input passes its harness", arguments: [
        "records", "trace", "replay", "console-line", "console-command", "profile", "modbus-reply", "gpio-line", "collector", "station-ack", "ocr-message",
    ])
    func corpus(target: String) throws {
        let dir = scratch("fuzz-\(target)")
        let corpus = packageRoot + "/Fuzz/corpus/" + target
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus)
        #expect(files.count >= 2, "a corpus of at least two seeds")
        let run = try Child("lane-fuzz", [target, corpus], dir: dir, name: "fuzz")
        #expect(run.wait(timeoutS: 120) == 0, "\(run.stderr.suffix(2_000))")
        #expect(run.stderr.contains("replayed \(files.count) inputs without a crash"), "\(run.stderr.suffix(500))")
    }

    @Test("an unknown target and a corpus path that does not exist are errors, never an empty pass")
    func usageErrors() throws {
        let dir = scratch("fuzz-usage")
        let usage = try Child("lane-fuzz", ["no-such-target"], dir: dir, name: "usage")
        #expect(usage.wait(timeoutS: 30) == 2)
        #expect(usage.stderr.contains("usage: lane-fuzz <records|"))
        let missing = try Child("lane-fuzz", ["records", dir + "/nothing-here"], dir: dir, name: "missing")
        #expect(missing.wait(timeoutS: 30) == 2, "a corpus path that does not exist is an error, not an empty pass")
    }
}
