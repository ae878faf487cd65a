// Pins the engine's decisions, byte for byte, on committed traces (Tests/Golden: the demo and
// e2e scenarios, parked and queued traffic). A change to any verdict or figure fails here; an
// intended change is regenerated with scripts/update-golden.sh and reviewed in the diff.

import Foundation
import LaneAgent
import Testing

@Suite struct GoldenTests {
    @Test("replay reproduces the committed decisions exactly", arguments: ["demo", "e2e", "parked", "queued"])
    func golden(name: String) throws {
        let dir = packageRoot + "/Tests/Golden/"
        let fd = open(dir + name + ".trace.jsonl", O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        var lines: [String] = []
        try Replay.run(fd: fd, board: nil) { lines.append($0) }
        let expected = try String(contentsOfFile: dir + name + ".decisions.jsonl", encoding: .utf8)
            .split(separator: "\n").map(String.init)
        #expect(lines.count == expected.count)
        for (i, (got, want)) in zip(lines, expected).enumerated() {
            #expect(got == want, "\(name) occupancy \(i + 1) changed")
        }
    }

    @Test("the golden verdicts are the intended ones: parked weak source found, queued dip no alarm, NORM alarms uncommissioned and is NORM-suspect with the simulator's commissioned board, Co-60 alarms")
    func verdicts() throws {
        func decisions(_ name: String) throws -> [[String: Any]] {
            try String(contentsOfFile: packageRoot + "/Tests/Golden/\(name).decisions.jsonl", encoding: .utf8)
                .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        }
        let parked = try decisions("parked")
        #expect(parked.map { $0["gammaAlarm"] as! Bool } == [true, false, true])
        // The goldens are replayed with the engine's defaults: NORM discrimination off until a
        // lane is commissioned, so the NORM truck (3rd) alarms; with the simulator's board, whose
        // values are commissioned for its physics, it is NORM-suspect instead.
        let queued = try decisions("queued")
        #expect(queued.map { $0["gammaAlarm"] as! Bool } == [false, false, true, true])
        #expect(!(queued[2]["normSuspect"] as! Bool))
        let fd = open(packageRoot + "/Tests/Golden/queued.trace.jsonl", O_RDONLY)
        defer { close(fd) }
        var lines: [String] = []
        try Replay.run(fd: fd, board: try BoardProfile.load(path: packageRoot + "/Boards/sim.yaml")) { lines.append($0) }
        let commissioned = lines.map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(commissioned.map { $0["gammaAlarm"] as! Bool } == [false, false, false, true])
        #expect(commissioned[2]["normSuspect"] as! Bool)
    }
}
