// Proves the agent's side of multi-window panels (issue 13): the register map's window block
// (reference-panel-mw-v1: 14 + 2K registers, K read from the panel), the window counters'
// deltas (wrap, restart), the board profile's keys with their errors and the bus budget of the
// longer read, the controller handing the windows to the engine and keeping them in the sample
// records (a panel whose windows do not add up makes a sample without windows, counted), and
// the record format's multi-window batches (round trip, frames within their limit, size).

import Foundation
import LaneAgent
import LaneCore
import LaneHAL
import Testing

@Suite struct MultiWindowAgentTests {
    /// Boards/sim-8w.yaml made a two-window lane: no windows, no boundaries, and (unless
    /// `shapes`) no check-source shapes.
    /// Boards/sim-8w.yaml's text with `from` replaced by `to`, parsed: the error, or "loaded".
    static func profileError(_ base: String, _ from: String, _ to: String) -> String {
        #expect(base.contains(from), "the profile has '\(from)'")
        do {
            _ = try BoardProfile.parse(base.replacingOccurrences(of: from, with: to), file: "b.yaml", mapDirectory: packageRoot + "/Boards/panels")
            return "loaded"
        } catch { return "\(error)" }
    }

    static func twoWindows(_ text: String, shapes: Bool) -> String {
        var t = text.replacingOccurrences(of: "  windows: 8 ", with: "  #windows: 8 ").replacingOccurrences(of: "  windowBoundariesKev", with: "  #windowBoundariesKev")
        if !shapes, let a = t.range(of: "  checkSourceShapes:"), let b = t.range(of: "  gammaCeilingSigma") { t.removeSubrange(a.lowerBound..<b.lowerBound) }
        return t
    }

    @Test("reference-panel-mw-v1 with K = 8: one read of 30 registers; K and the 8 window counters decoded, high word first")
    func mapDecodes() {
        let map = PanelRegisterMap.referencePanelMwV1.withWindows(8)
        #expect(map.readCount == 30)
        #expect(PanelRegisterMap.referencePanelMwV1.withWindows(16).readCount == 46)
        #expect(PanelRegisterMap.referencePanelV1.withWindows(8).readCount == 12, "a map without a window block reads no windows")
        var regs = [UInt16](repeating: 0, count: 30)
        regs[1] = 1000; regs[3] = 400; regs[12] = 8
        for i in 0..<8 { regs[14 + 2 * i] = UInt16(i); regs[15 + 2 * i] = UInt16(100 + i) }
        let r = regs.withUnsafeBufferPointer { map.decode($0.baseAddress!) }
        #expect(r.gammaTotal == 1000 && r.gammaLow == 400)
        #expect(r.windowCount == 8)
        for i in 0..<8 { #expect(r.windows[i] == UInt32(i) << 16 | UInt32(100 + i)) }
    }

    @Test("window deltas: wrapping differences like the other counters; after a panel restart the new values; a counter reset taken as a restart")
    func windowDeltas() {
        var a = PanelReading(gammaTotal: 4_294_967_290, gammaLow: 10, neutron: 0, uptimeMs: 1_000)
        a.windows[0] = 4_294_967_295; a.windows[1] = 7; a.windows[2] = 4_294_967_290
        var b = PanelReading(gammaTotal: 20, gammaLow: 12, neutron: 0, uptimeMs: 1_100)
        b.windows[0] = 3; b.windows[1] = 9; b.windows[2] = 12
        let d = CounterDelta(from: a, to: b, windows: 3)
        #expect(!d.restarted && d.gamma == 26)
        #expect(d.windows[0] == 4 && d.windows[1] == 2 && d.windows[2] == 18)
        var restarted = b
        restarted.uptimeMs = 50
        let r = CounterDelta(from: a, to: restarted, windows: 3)
        #expect(r.restarted && r.windows[0] == 3 && r.windows[1] == 9 && r.windows[2] == 12)
        // A window counter that went back without a restart (reset command): no huge delta.
        var reset = a
        reset.uptimeMs = 1_100; reset.gammaTotal = 4_294_967_295; reset.windows[1] = 2
        let z = CounterDelta(from: a, to: reset, windows: 3)
        #expect(z.restarted && z.windows[1] == 2)
        #expect(CounterDelta(from: a, to: b).windows[0] == 0, "no windows asked: none taken")
    }

    @Test("the 8-window board profile loads: the map reads 30 registers, the engine takes 8 windows, the boundaries are kept")
    func boardProfile() throws {
        let p = try BoardProfile.load(path: packageRoot + "/Boards/sim-8w.yaml")
        #expect(p.registerMap.name == "reference-panel-mw-v1")
        #expect(p.registerMap.readCount == 30 && p.registerMap.windowCount == 8)
        #expect(p.engine.spectralWindowCount == 8)
        #expect(p.engine.spectralSigmaQ8 == 4 * 256 && p.engine.spectralDirectedSigmaQ8 == 640)
        #expect(p.checkSourceNames == ["Cs-137", "Co-60"] && p.engine.spectralThreatShapeCount == 2)
        #expect(p.engine.spectralThreatShapesQ16[4] == Int64((0.300 * 65536).rounded()))
        #expect(p.engine.spectralThreatShapesQ16[windowCountMax + 5] == Int64((0.424 * 65536).rounded()))
        #expect(p.windowBoundariesKev == [30, 80, 150, 250, 400, 650, 1000, 1500, 3000])
        #expect(p.windowSplitKev == 650)
        // The built-in map and the file agree.
        let file = try BoardProfile.parseRegisterMap(String(contentsOfFile: packageRoot + "/Boards/panels/reference-panel-mw-v1.yaml", encoding: .utf8), file: "map")
        #expect(file == .referencePanelMwV1)
    }

    @Test("profile errors name the key and say what is wrong: windows on a map without a window block, boundaries of the wrong count, not rising, a split off the boundaries, boundaries without windows, K out of range")
    func profileErrors() throws {
        let base = try String(contentsOfFile: packageRoot + "/Boards/sim-8w.yaml", encoding: .utf8)
        func error(_ from: String, _ to: String) -> String { Self.profileError(base, from, to) }
        let noBlock = error("registerMap: reference-panel-mw-v1", "registerMap: reference-panel-v1")
        #expect(noBlock.contains("b.yaml") && noBlock.contains("panels.windows") && noBlock.contains("has no window block"), "\(noBlock)")
        let count = error("[30, 80, 150, 250, 400, 650, 1000, 1500, 3000]", "[30, 80, 150, 250, 400, 650, 1000, 1500]")
        #expect(count.contains("windowBoundariesKev") && count.contains("has 8 boundaries for 8 windows"), "\(count)")
        let rising = error("[30, 80, 150, 250, 400, 650, 1000, 1500, 3000]", "[30, 80, 150, 250, 400, 650, 1000, 1000, 3000]")
        #expect(rising.contains("boundary 8 (1000 keV) is not above boundary 7 (1000 keV)"), "\(rising)")
        let split = error("windowSplitKev: 650", "windowSplitKev: 600")
        #expect(split.contains("windowSplitKev") && split.contains("600 keV is not one of the inner window boundaries"), "\(split)")
        let bare = error("  windows: 8 ", "  #windows: 8 ")
        #expect(bare.contains("windowBoundariesKev") && bare.contains("needs panels.windows"), "\(bare)")
        let big = error("  windows: 8 ", "  windows: 17 ")
        #expect(big.contains("panels.windows") && big.contains("17"), "\(big)")
    }

    @Test("check-source shapes in the profile: errors name the entry and say what is wrong (share count, range, sum, a name twice, too many, unknown key, text for a number, two-window panels)")
    func checkSourceShapeErrors() throws {
        let base = try String(contentsOfFile: packageRoot + "/Boards/sim-8w.yaml", encoding: .utf8)
        let cs = "{source: Cs-137, shares: [0.170, 0.109, 0.145, 0.236, 0.300, 0.039, 0.001, 0.000]}"
        func error(_ from: String, _ to: String) -> String { Self.profileError(base, from, to) }
        let count = error(cs, "{source: Cs-137, shares: [0.170, 0.109, 0.145, 0.236, 0.300, 0.039, 0.001]}")
        #expect(count.contains("b.yaml:") && count.contains("detection.checkSourceShapes[1].shares: has 7 shares for 8 windows"), "\(count)")
        let range = error(cs, "{source: Cs-137, shares: [0.170, 0.109, 0.145, 0.236, 0.300, 2.5, 0.001, 0.000]}")
        #expect(range.contains("checkSourceShapes[1].shares: share 6: 2.5 is out of range (-2 to 2)"), "\(range)")
        let sum = error(cs, "{source: Cs-137, shares: [0.170, 0.109, 0.145, 0.236, 0.300, 0.539, 0.001, 0.000]}")
        #expect(sum.contains("checkSourceShapes[1].shares: add up to 1.500"), "\(sum)")
        let text = error(cs, "{source: Cs-137, shares: [0.170, x, 0.145, 0.236, 0.300, 0.039, 0.001, 0.000]}")
        #expect(text.contains("share 2: expected a number, found 'x'"), "\(text)")
        let twice = error("{source: Co-60,", "{source: Cs-137,")
        #expect(twice.contains("checkSourceShapes[2].source: 'Cs-137' appears twice"), "\(twice)")
        let key = error("{source: Co-60,", "{isotope: Co-60,")
        #expect(key.contains("checkSourceShapes[2].isotope: unknown key"), "\(key)")
        let many = error("    - \(cs)\n", String(repeating: "    - \(cs)\n".replacingOccurrences(of: "Cs-137", with: "X"), count: 1)
            + (1...3).map { "    - \(cs.replacingOccurrences(of: "Cs-137", with: "S\($0)"))\n" }.joined())
        #expect(many.contains("detection.checkSourceShapes: has 5 sources; at most 4"), "\(many)")
        do {
            _ = try BoardProfile.parse(Self.twoWindows(base, shapes: true), file: "b.yaml", mapDirectory: packageRoot + "/Boards/panels")
            Issue.record("check-source shapes on two-window panels loaded")
        } catch {
            #expect("\(error)".contains("detection.checkSourceShapes: needs multi-window panels (panels.windows)"), "\(error)")
        }
    }

    @Test("the RS-485 bus budget counts the longer read: 4 panels at 38400 baud fit a 100 ms tick with 12 registers, not with 30")
    func busBudget() throws {
        let rtu = "modbus:\n  transport: rtu\n  device: /dev/ttyUSB0\n  baud: 38400\n  responseTimeoutMs: 30\n"
        let base = try String(contentsOfFile: packageRoot + "/Boards/sim-8w.yaml", encoding: .utf8)
        let tcp = base[base.range(of: "modbus:")!.lowerBound..<base.range(of: "  panelSilentAfterPolls")!.lowerBound]
        let onRTU = base.replacingOccurrences(of: String(tcp), with: rtu)
        do {
            _ = try BoardProfile.parse(onRTU, file: "b.yaml", mapDirectory: packageRoot + "/Boards/panels")
            Issue.record("30 registers x 4 panels at 38400 baud fit?")
        } catch {
            #expect("\(error)".contains("the RS-485 bus cannot poll 4 panels") && "\(error)".contains("(73 characters at 38400 baud"), "\(error)")
        }
        let p = try BoardProfile.parse(Self.twoWindows(onRTU, shapes: false), file: "b.yaml", mapDirectory: packageRoot + "/Boards/panels")
        #expect(p.busBudget?.registers == 14)
    }

    @Test("the controller hands every panel's 8 windows to the engine and keeps them in the sample records; a reading whose windows do not add up makes a sample without windows (flagged, counted); an unconfirmed panel turns the spectral test off")
    func controllerKeepsWindows() {
        var lane = VirtualLane(settings: { $0.spectralWindowCount = 8 })
        lane.windows = 8
        lane.ticks(40)
        func batches() -> [SampleBatch] { lane.sink.records.compactMap { if case let .samples(b) = $0 { return b } else { return nil } } }
        let kept = batches()
        #expect(!kept.isEmpty)
        var samples = 0
        for b in kept {
            #expect(b.windowCount == 8)
            for k in 0..<b.count {
                let s = b.sample(k)
                if s.absentMask == 0x0F { continue }  // the first sample: no delta yet
                samples += 1
                #expect(s.windowCount == 8, "sample \(k) carries its windows")
                for p in 0..<4 {
                    let sum = (0..<8).reduce(UInt32(0)) { $0 + s.windows[p * windowCountMax + $1] }
                    #expect(sum == s.gamma[p], "panel \(p): windows partition gamma")
                }
            }
        }
        #expect(samples >= 30)
        #expect(lane.controller.windowMismatches == 0)
        // Panel 3 reports a window count its gamma does not have, for one tick.
        let before = lane.sink.records.count
        lane.windowExcess[2] = 5
        lane.tick()
        lane.windowExcess[2] = 0
        lane.ticks(20)
        #expect(lane.controller.windowMismatches == 1)
        let after = lane.sink.records[before...].compactMap { if case let .samples(b) = $0 { return b } else { return nil } }
        var flagged = 0
        for b in after { for k in 0..<b.count where b.flags(sample: k) & SampleBatch.noWindowsFlag != 0 { flagged += 1; #expect(b.sample(k).windowCount == 0) } }
        #expect(flagged == 1, "exactly the bad sample is kept without usable windows")
        // The records round-trip through the codec with their windows.
        var enc = RecordEncoder()
        var out = [UInt8](repeating: 0, count: RecordFormat.frameMax)
        for b in after {
            let n = out.withUnsafeMutableBufferPointer { enc.encode(.samples(b), header: FrameHeader(sequence: 1, monotonicUs: 0, wallUs: 0), into: $0.baseAddress!, capacity: $0.count) }!
            let found = out.withUnsafeBufferPointer { b -> FrameFound? in var r = FrameReader(b.baseAddress!, count: n); return r.next() }
            guard case let .record(_, .samples(back), _)? = found else { Issue.record("frame not read back: \(String(describing: found))"); continue }
            #expect(back.windowCount == 8 && back.count == b.count)
            for k in 0..<b.count {
                #expect(back.flags(sample: k) == b.flags(sample: k))
                for p in 0..<4 { for w in 0..<8 { #expect(back.window(sample: k, panel: p, window: w) == b.window(sample: k, panel: p, window: w)) } }
            }
        }
        // A panel that has not confirmed its windows: the spectral test is off.
        #expect(lane.controller.view.spectraTrusted)
        lane.slots[1].windowsConfirmed = false
        lane.tick()
        #expect(!lane.controller.view.spectraTrusted)
        lane.slots[1].windowsConfirmed = true
        lane.tick()
        #expect(lane.controller.view.spectraTrusted)
    }
}
