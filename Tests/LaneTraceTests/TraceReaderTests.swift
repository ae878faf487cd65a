// Proves the trace reader accepts the contract's examples, ignores unknown keys, and refuses
// every malformed line with a message naming the line and the problem; and that the writers
// produce lines the reader reads back unchanged.

import LaneCore
import LaneTrace
import Testing

let header = #"{"format":"lane-trace","version":1,"sampleIntervalMs":100,"panels":4,"beamSpacingM":1.5,"panelLabels":["MU","ML","SU","SL"]}"#

func read(_ lines: [String]) throws(TraceError) -> [TraceEvent] {
    var r = TraceReader()
    var out: [TraceEvent] = []
    for l in lines { if let e = try r.read(line: l) { out.append(e) } }
    return out
}

func error(_ lines: [String]) -> TraceError? {
    do { _ = try read(lines); return nil } catch { return error }
}

@Suite struct TraceReaderTests {
    @Test("the contract's example lines parse to the expected events")
    func contractExamples() throws {
        let events = try read([
            header,
            #"{"tUs":1234567,"beam":0,"blocked":true}"#,
            #"{"tUs":1300000,"gamma":[210,198,205,220],"gammaLow":[130,121,126,139],"neutron":[0,1,0,0]}"#,
            #"{"tUs":1412000,"container":"MSCU1234565"}"#,
        ])
        #expect(events.count == 3)
        guard case let .beam(e) = events[0] else { Issue.record("not a beam line"); return }
        #expect(e == BeamEdge(tUs: 1_234_567, beam: 0, blocked: true))
        guard case let .counts(t, g, l, n) = events[1] else { Issue.record("not a counts line"); return }
        #expect(t == 1_300_000 && g[3] == 220 && l[0] == 130 && n[1] == 1)
        guard case let .container(_, c) = events[2] else { Issue.record("not a container line"); return }
        #expect(c.text == "MSCU1234565")
    }

    @Test("unknown keys, nested values and blank lines are ignored; a line of only unknown keys is skipped")
    func unknownKeys() throws {
        let events = try read([
            #"{"format":"lane-trace","version":1,"site":{"a":[1,{"b":null}]},"sampleIntervalMs":100,"panels":2,"beamSpacingM":1.5}"#,
            "",
            #"{"tUs":5,"beam":1,"blocked":false,"note":"x\"y","weights":[1.5,-2e3,true]}"#,
            #"{"tUs":6,"tamper":true}"#,
        ])
        #expect(events.count == 2)
        guard case .ignored(6) = events[1] else { Issue.record("expected an ignored line"); return }
    }

    @Test("every malformed header is refused with a reason", arguments: [
        (#"{"tUs":1,"beam":0,"blocked":true}"#, "first line must be the trace header"),
        (#"{"format":"other","version":1}"#, "expected \"lane-trace\""),
        (#"{"format":"lane-trace","version":2,"sampleIntervalMs":100,"panels":4,"beamSpacingM":1.5}"#, "version 2 is not supported"),
        (#"{"format":"lane-trace","version":1,"panels":4,"beamSpacingM":1.5}"#, "sampleIntervalMs"),
        (#"{"format":"lane-trace","version":1,"sampleIntervalMs":100,"panels":9,"beamSpacingM":1.5}"#, "\"panels\" must be"),
        (#"{"format":"lane-trace","version":1,"sampleIntervalMs":100,"panels":4}"#, "beamSpacingM\" is missing"),
        (#"{"format":"lane-trace","version":1,"sampleIntervalMs":100,"panels":2,"beamSpacingM":1.5,"panelLabels":["a"]}"#, "1 labels for 2 panels"),
        (#"{"format":"lane-trace","version":1.5}"#, "whole number"),
        ("not json", "expected '{'"),
    ])
    func badHeaders(line: String, expected: String) {
        let e = error([line])
        #expect(e?.line == 1)
        #expect(e?.message.contains(expected) == true, "\(e?.message ?? "accepted")")
    }

    @Test("every malformed event line is refused with its line number and a reason", arguments: [
        (#"{"beam":0,"blocked":true}"#, "\"tUs\" is missing"),
        (#"{"tUs":-5,"beam":0,"blocked":true}"#, "negative"),
        (#"{"tUs":10,"beam":2,"blocked":true}"#, "beam 2 does not exist"),
        (#"{"tUs":10,"beam":0}"#, "without \"blocked\""),
        (#"{"tUs":10,"beam":0,"blocked":"yes"}"#, "expected true or false"),
        (#"{"tUs":10,"gamma":[1,2,3],"gammaLow":[1,2,3],"neutron":[0,0,0]}"#, "gamma has 3 values"),
        (#"{"tUs":10,"gamma":[1,2,3,4],"gammaLow":[1,2,3,5],"neutron":[0,0,0,0]}"#, "gammaLow[3] = 5 exceeds"),
        (#"{"tUs":10,"gamma":[1,2,3,4],"neutron":[0,0,0,0]}"#, "without \"gammaLow\""),
        (#"{"tUs":10,"gamma":[1,2,3,-4],"gammaLow":[1,2,3,0],"neutron":[0,0,0,0]}"#, "is not a count"),
        (#"{"tUs":10,"gamma":[1,2,3,4.5],"gammaLow":[1,2,3,0],"neutron":[0,0,0,0]}"#, "whole number"),
        (#"{"tUs":10,"gamma":[1,2,3,4],"gammaLow":[1,2,3,4],"neutron":[0,0,0,0],"beam":0,"blocked":true}"#, "not several"),
        (#"{"tUs":10,"container":"ABC DEF"}"#, "printable ASCII"),
        (#"{"tUs":10,"beam":0,"blocked":true"#, "unterminated object"),
        (#"{"tUs":10,"beam":0,"blocked":true} x"#, "after the object"),
        (#"{"tUs":99999999999999999999}"#, "too large"),
        (#"{"tUs":5,"beam":0,"blocked":true}"#, "goes back in time"),
    ])
    func badEvents(line: String, expected: String) {
        let e = error([header, #"{"tUs":7,"beam":1,"blocked":false}"#, line])
        #expect(e?.line == 3)
        #expect(e?.message.contains(expected) == true, "\(e?.message ?? "accepted")")
    }

    @Test("a multi-window trace (the contract's example: 2 panels, 4 windows) reads its boundaries and each counts line's windows")
    func multiWindowExample() throws {
        var r = TraceReader()
        _ = try r.read(line: #"{"format":"lane-trace","version":1,"sampleIntervalMs":100,"panels":2,"beamSpacingM":1.5,"energyWindowsKev":[30,150,400,1000,3000],"gammaLowWindows":2}"#)
        #expect(r.header?.energyWindowsKev == [30, 150, 400, 1000, 3000] && r.header?.windowCount == 4 && r.header?.gammaLowWindows == 2)
        let e = try r.read(line: #"{"tUs":1300000,"gamma":[210,198],"gammaLow":[130,121],"gammaWindows":[[70,60,50,30],[66,55,47,30]],"neutron":[0,1]}"#)
        guard case let .counts(_, g, l, _) = e else { Issue.record("not a counts line"); return }
        #expect(g[0] == 210 && l[1] == 121)
        #expect(r.windows == [70, 60, 50, 30, 66, 55, 47, 30])
        // Two-window traces have none.
        var two = TraceReader()
        _ = try two.read(line: header)
        #expect(two.header?.windowCount == 0 && two.windows.isEmpty)
    }

    static let mwHeader = #"{"format":"lane-trace","version":1,"sampleIntervalMs":100,"panels":2,"beamSpacingM":1.5,"energyWindowsKev":[30,150,400,1000,3000],"gammaLowWindows":2}"#

    @Test("every malformed multi-window header is refused with a reason", arguments: [
        (#""energyWindowsKev":[30,3000],"gammaLowWindows":1"#, "2 boundaries; K + 1 for K = 2 to 16"),
        (#""energyWindowsKev":[30,80,150,250,400,650,1000,1250,1500,1750,2000,2250,2500,2750,3000,3500,4000,5000],"gammaLowWindows":2"#, "more than 17 boundaries"),
        (#""energyWindowsKev":[30,150,150,3000],"gammaLowWindows":1"#, "strictly increasing: [1] = 150.0, [2] = 150.0"),
        (#""energyWindowsKev":[-30,150,400,3000],"gammaLowWindows":1"#, "[0] = -30.0 is not an energy"),
        (#""energyWindowsKev":[30,150,400,3000],"gammaLowWindows":3"#, "gammaLowWindows 3 must be 1 to 2"),
        (#""energyWindowsKev":[30,150,400,3000],"gammaLowWindows":0"#, "gammaLowWindows 0 must be"),
        (#""energyWindowsKev":[30,150,400,3000]"#, "energyWindowsKev without gammaLowWindows"),
        (#""gammaLowWindows":2"#, "gammaLowWindows without energyWindowsKev"),
        (#""energyWindowsKev":[30,"x"],"gammaLowWindows":1"#, "expected a number"),
    ])
    func badMultiWindowHeaders(keys: String, expected: String) {
        let e = error([#"{"format":"lane-trace","version":1,"sampleIntervalMs":100,"panels":2,"beamSpacingM":1.5,"# + keys + "}"])
        #expect(e?.line == 1)
        #expect(e?.message.contains(expected) == true, "\(e?.message ?? "accepted")")
    }

    @Test("every malformed multi-window counts line is refused with its line number and a reason", arguments: [
        (#"{"tUs":10,"gamma":[210,198],"gammaLow":[130,121],"neutron":[0,1]}"#, "without \"gammaWindows\" (the header gives 4 energy windows)"),
        (#"{"tUs":10,"gamma":[210,198],"gammaLow":[130,121],"gammaWindows":[[70,60,50,31],[66,55,47,30]],"neutron":[0,1]}"#, "gammaWindows[0] sums to 211, gamma[0] is 210"),
        (#"{"tUs":10,"gamma":[210,198],"gammaLow":[130,121],"gammaWindows":[[70,60,50,30],[65,55,48,30]],"neutron":[0,1]}"#, "the first 2 of gammaWindows[1] sum to 120, gammaLow[1] is 121"),
        (#"{"tUs":10,"gamma":[210,198],"gammaLow":[130,121],"gammaWindows":[[70,60,50,30]],"neutron":[0,1]}"#, "gammaWindows has 1 panels, the header says 2"),
        (#"{"tUs":10,"gamma":[210,198],"gammaLow":[130,121],"gammaWindows":[[70,60,80],[66,55,47,30]],"neutron":[0,1]}"#, "gammaWindows[0] has 3 values, the header gives 4 windows"),
        (#"{"tUs":10,"gamma":[210,198],"gammaLow":[130,121],"gammaWindows":[[70,60,50,20,10],[66,55,47,30]],"neutron":[0,1]}"#, "gammaWindows[0] has more than 4 values"),
        (#"{"tUs":10,"gamma":[210,198],"gammaLow":[130,121],"gammaWindows":[[70,60,50,30],[66,55,47,30],[1,1,1,1]],"neutron":[0,1]}"#, "more than 2 panels"),
        (#"{"tUs":10,"gamma":[210,198],"gammaLow":[130,121],"gammaWindows":[[70,60,50,-30],[66,55,47,30]],"neutron":[0,1]}"#, "gammaWindows[0][3] = -30 is not a count"),
        (#"{"tUs":10,"gamma":[210,198],"gammaLow":[130,121],"gammaWindows":[70,60,50,30],"neutron":[0,1]}"#, "'[' for gammaWindows[0]"),
        (#"{"tUs":10,"gammaWindows":[[70,60,50,30],[66,55,47,30]]}"#, "counts line without \"gamma\""),
        (#"{"tUs":10,"beam":0,"blocked":true,"gammaWindows":[[70,60,50,30],[66,55,47,30]]}"#, "not several"),
    ])
    func badMultiWindowEvents(line: String, expected: String) {
        let e = error([Self.mwHeader, #"{"tUs":7,"beam":1,"blocked":false}"#, line])
        #expect(e?.line == 3)
        #expect(e?.message.contains(expected) == true, "\(e?.message ?? "accepted")")
    }

    @Test("gammaWindows in a trace whose header has no windows is refused")
    func windowsWithoutHeader() {
        let e = error([header, #"{"tUs":10,"gamma":[1,2,3,4],"gammaLow":[1,2,3,4],"gammaWindows":[[1,0],[2,0],[3,0],[4,0]],"neutron":[0,0,0,0]}"#])
        #expect(e?.line == 2 && e?.message.contains("the header has no energyWindowsKev") == true, "\(e?.message ?? "accepted")")
    }

    @Test("binary garbage in a line is refused, not crashed on")
    func garbage() {
        var r = TraceReader()
        _ = try? r.read(line: header)
        let bytes: [UInt8] = [0x7B, 0x22, 0x00, 0xFF, 0x22, 0x3A, 0x01]
        do {
            _ = try bytes.withUnsafeBufferPointer { p throws(TraceError) in try r.read(line: p) }
            Issue.record("garbage accepted")
        } catch {
            #expect(error.line == 2)
        }
    }

    @Test("writers produce lines the reader reads back to the same events")
    func roundTrip() throws {
        var g = PanelValues(repeating: 0), l = PanelValues(repeating: 0), n = PanelValues(repeating: 0)
        g[0] = 4_294_967_295; l[0] = 7; n[3] = 2
        let lines = [
            TraceWriter.header(TraceHeader(sampleIntervalMs: 100, panels: 4, beamSpacingMm: 1_525, panelLabels: ["a", "b\"", "c", "d"])),
            TraceWriter.beam(BeamEdge(tUs: 1, beam: 1, blocked: true)),
            TraceWriter.counts(tUs: 2, panels: 4, gamma: g, gammaLow: l, neutron: n),
            TraceWriter.container(tUs: 3, ContainerNumber(ascii: Array("CSQU3054383".utf8))!),
        ]
        var r = TraceReader()
        var events: [TraceEvent] = []
        for line in lines { if let e = try r.read(line: line) { events.append(e) } }
        #expect(r.header == TraceHeader(sampleIntervalMs: 100, panels: 4, beamSpacingMm: 1_525, panelLabels: ["a", "b\"", "c", "d"]))
        guard case let .counts(_, g2, l2, n2) = events[1] else { Issue.record("counts lost"); return }
        #expect(g2[0] == 4_294_967_295 && l2[0] == 7 && n2[3] == 2)
    }
}

@Suite struct DecisionWriterTests {
    @Test("a decision with every figure at the ends of Int64 is written, not trapped on (fuzzed replays crashed here)")
    func extremes() {
        var d = Decision()
        for v in [Int64.max, Int64.min, Int64.min + 1] {
            d.gammaMaxSigmaQ8 = v; d.neutronMaxSigmaQ8 = v; d.gammaMaxBackgroundQ16 = v; d.gammaMaxThresholdQ16 = v
            d.gammaMaxLowShareQ16 = v; d.suppressionQ16 = v; d.gammaBackgroundQ16 = v; d.gammaMaxCounts = v
            d.speedMmPerS = v; d.startUs = v; d.endUs = v
            let line = DecisionWriter.json(d, settings: EngineSettings())
            #expect(line.hasPrefix("{\"occupancy\":0"))
        }
    }

    @Test("a decision line carries the contract's fields first, in order, with the stated formats")
    func contractFields() {
        var d = Decision()
        d.occupancy = 1
        d.startUs = 1_234_567
        d.endUs = 9_876_543
        d.speedMmPerS = 2_214
        d.gammaAlarm = true
        d.setContainer(ContainerNumber(ascii: Array("MSCU1234565".utf8)))
        let line = DecisionWriter.json(d, settings: EngineSettings())
        #expect(line.hasPrefix(#"{"occupancy":1,"startUs":1234567,"endUs":9876543,"speedMps":2.21,"gammaAlarm":true,"neutronAlarm":false,"normSuspect":false,"container":"MSCU1234565","#))
        d.speedMmPerS = nil
        d.setContainer(nil)
        let line2 = DecisionWriter.json(d, settings: EngineSettings())
        #expect(line2.contains(#""speedMps":null"#) && line2.contains(#""container":null"#))
    }

    @Test("a decision line names the tests that raised the gamma alarm, in bit order, and an empty list without one")
    func gammaTests() {
        var d = Decision()
        #expect(DecisionWriter.json(d, settings: EngineSettings()).contains(#""gammaTests":[]"#))
        d.gammaAlarm = true
        d.gammaTests.insert(.ceiling)
        d.gammaTests.insert(.share)
        d.gammaTests.insert(.directed)
        #expect(DecisionWriter.json(d, settings: EngineSettings()).contains(#""gammaTests":["share","directed","ceiling"]"#))
    }

    @Test("decimal2 prints hundredths exactly")
    func decimals() {
        #expect(decimal2(221) == "2.21")
        #expect(decimal2(5) == "0.05")
        #expect(decimal2(-5) == "-0.05")
        #expect(decimal2(100) == "1.00")
    }
}
