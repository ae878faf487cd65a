// Proves the learned background kept on disk: written and read back bit for bit; refused, with
// the reason, when it is damaged, cut short, too old, from the future, for other panels or
// another sample interval, or not a background file at all; and a controller restarted with it
// screens the first truck at once (without it, the truck is "not screened"), also one parked in
// the lane from the start.

import Foundation
import LaneAgent
import LaneCore
import Testing

@Suite struct BackgroundStoreTests {
    /// A background learned by the virtual lane for 60 s.
    func learned() -> (Background, EngineSettings) {
        var lane = VirtualLane()
        lane.ticks(600)
        return (lane.controller.engine.background, lane.controller.engine.settings)
    }

    @Test("written and read back bit for bit, with its age")
    func roundTrip() throws {
        let (b, s) = learned()
        let bytes = BackgroundStore.encode(b, settings: s, savedWallUs: 1_000_000_000)
        let r = try BackgroundStore.decode(bytes, settings: s, nowWallUs: 1_000_000_000 + 90_000_000).get()
        #expect(r.ageUs == 90_000_000)
        #expect(BackgroundStore.encode(r.background, settings: s, savedWallUs: 1_000_000_000) == bytes)
        #expect(r.background.gammaPanelQ16(2) == b.gammaPanelQ16(2) && r.background.samplesLearned == b.samplesLearned)
    }

    @Test("refused with the reason: damaged, cut short, too old, from the future, other panels, another interval, not a background file")
    func refusals() {
        let (b, s) = learned()
        let t: Int64 = 5_000_000_000
        let good = BackgroundStore.encode(b, settings: s, savedWallUs: t)
        func why(_ bytes: [UInt8], settings: EngineSettings? = nil, now: Int64 = t) -> String {
            if case let .failure(e) = BackgroundStore.decode(bytes, settings: settings ?? s, nowWallUs: now) { return e.message }
            return "accepted"
        }
        var damaged = good
        damaged[damaged.count / 2] ^= 0x40
        #expect(why(damaged) == "CRC mismatch: the file is damaged")
        #expect(why(Array(good.dropLast(9))).hasSuffix("(cut short or padded)"))
        #expect(why(good, now: t + 2 * BackgroundStore.maxAgeUs) == "saved 120 min ago, older than 60 min")
        #expect(why(good, now: t - 600_000_000) == "saved 600 s in the future (the clock was set back?)")
        var three = s
        three.panelCount = 3
        #expect(why(good, settings: three) == "for 4 panels, this lane has 3")
        var slow = s
        slow.sampleIntervalUs = 200_000
        #expect(why(good, settings: slow) == "for a sample interval of 100000 us, this lane samples every 200000 us")
        #expect(why(Array("hello\n".utf8)).hasPrefix("not a lane background file"))
        #expect(why([]) == "no header line")
    }

    @Test("what the lane learned of its NORM loads is kept beside the background and restored whatever the background's age; a version-1 file still gives its background; a learner whose counts do not add up is refused")
    func normKept() throws {
        let (b, s) = learned()
        var n = NormLearner()
        for i in 0..<250 { n.add(shareQ16: Int64(20_000 + 40 * i)) }
        let t: Int64 = 5_000_000_000
        let bytes = BackgroundStore.encode(b, norm: n, settings: s, savedWallUs: t)
        #expect(try BackgroundStore.decodeNorm(bytes, settings: s).get() == n)
        // A day later the background is too old, the NORM learner is not.
        let later = t + 24 * 3_600_000_000
        if case .success = BackgroundStore.decode(bytes, settings: s, nowWallUs: later) { Issue.record("a day-old background was restored") }
        #expect(try BackgroundStore.decodeNorm(bytes, settings: s).get() == n)
        // Version 1 (written before the learner was kept): the background, and no learner.
        let header = "lane-background v1 layout=\(Background.layoutVersion) size=\(MemoryLayout<Background>.size) panels=\(s.panelCount) interval=\(s.sampleIntervalUs) saved=\(t)\n"
        var v1 = Array(header.utf8)
        var copy = b
        withUnsafeBytes(of: &copy) { v1.append(contentsOf: $0) }
        let crc = v1.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, $0.count) }
        for i in 0..<4 { v1.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i)))) }
        #expect(try BackgroundStore.decode(v1, settings: s, nowWallUs: t).get().background.samplesLearned == b.samplesLearned)
        #expect(try BackgroundStore.decodeNorm(v1, settings: s).get() == nil)
        // A learner whose held count does not match its bins (CRC recomputed: not damage, a bad writer).
        let nl = bytes.firstIndex(of: 0x0A)! + 1
        var bad = Array(bytes.dropLast(4))
        let heldAt = nl + MemoryLayout<Background>.size + 64 * 4
        bad[heldAt] ^= 0x01
        let crc2 = bad.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, $0.count) }
        for i in 0..<4 { bad.append(UInt8(truncatingIfNeeded: crc2 >> (8 * UInt32(i)))) }
        if case let .failure(e) = BackgroundStore.decodeNorm(bad, settings: s) {
            #expect(e.message == "the NORM learner's counts do not add up")
        } else { Issue.record("an inconsistent learner was accepted") }
    }

    @Test("what the lane learned of its vehicles' shielding (the low window's kappa and each energy window's) is kept last (version 4), on two-window and multi-window lanes, and restored whatever the background's age; a file with the learner's layout 1 (the low window's alone, as session 16 wrote it) restores that, its windows' to learn; a version-3 file gives none; a learner whose bins do not add up is refused; a restarted controller has it")
    func shieldingKept() throws {
        for k in [0, 8] {
            var lane = VirtualLane(settings: { $0.spectralWindowCount = k })
            if k > 0 { lane.windows = k }
            lane.ticks(600)
            let b = lane.controller.engine.background, s = lane.controller.engine.settings
            var sh = ShieldingLearner()
            for _ in 0..<40 {
                sh.add(lowCounts: 1_600, lowExpectedQ16: 2_200 * 65_536, highCounts: 1_200, highExpectedQ16: 1_800 * 65_536)
                for w in 0..<8 { sh.add(window: w, counts: 300 - Int64(w) * 10, expectedQ16: 400 * 65_536, suppressionQ16: 45_000) }
            }
            #expect(sh.isReady(window: 7) && sh.kappaQ16(window: 0) != sh.kappaQ16(window: 7))
            let t: Int64 = 5_000_000_000
            let bytes = BackgroundStore.encode(b, shielding: sh, settings: s, savedWallUs: t)
            #expect(String(decoding: bytes.prefix(18), as: UTF8.self) == "lane-background v4")
            #expect(try BackgroundStore.decodeShielding(bytes, settings: s).get() == sh)
            #expect(try BackgroundStore.decodeShielding(bytes, settings: s).get()?.isReady == true)
            if k > 0 { #expect(try BackgroundStore.decodeSpectral(bytes, settings: s).get() != nil) }
            #expect(try BackgroundStore.decodeShielding(bytes, settings: s).get() == sh, "whatever the background's age")
            // The same file as version 3 wrote it: no shielding fields, no learner at the end.
            let nl = bytes.firstIndex(of: 0x0A)!
            var header = String(decoding: bytes[..<nl], as: UTF8.self).replacingOccurrences(of: "v4", with: "v3")
            header = header.components(separatedBy: " shielding-layout=")[0] + "\n"
            var v3 = Array(header.utf8) + Array(bytes[(nl + 1)..<(bytes.count - 4 - MemoryLayout<ShieldingLearner>.size)])
            let crc = v3.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, $0.count) }
            for i in 0..<4 { v3.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i)))) }
            #expect(try BackgroundStore.decode(v3, settings: s, nowWallUs: t).get().background.samplesLearned == b.samplesLearned)
            #expect(try BackgroundStore.decodeShielding(v3, settings: s).get() == nil)
            // The same file with an older shielding layout: `raw`'s bytes in the learner's place.
            func older<T>(layout: Int, _ raw: T) -> [UInt8] {
                var raw = raw
                let header = String(decoding: bytes[..<nl], as: UTF8.self)
                    .replacingOccurrences(of: "shielding-layout=\(ShieldingLearner.layoutVersion) shielding-size=\(MemoryLayout<ShieldingLearner>.size)",
                                          with: "shielding-layout=\(layout) shielding-size=\(MemoryLayout<T>.size)") + "\n"
                var file = Array(header.utf8) + Array(bytes[(nl + 1)..<(bytes.count - 4 - MemoryLayout<ShieldingLearner>.size)])
                withUnsafeBytes(of: &raw) { file.append(contentsOf: $0) }
                let crc = file.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, $0.count) }
                for i in 0..<4 { file.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i)))) }
                return file
            }
            // Layout 1: the low window's histogram alone (a HalvingHistogram's bytes).
            var h1 = HalvingHistogram()
            for _ in 0..<40 { h1.add(bin: 40) }
            let old = older(layout: 1, h1)
            let fromOld = try BackgroundStore.decodeShielding(old, settings: s).get()
            #expect(fromOld?.isReady == true && fromOld?.kappaQ16 == ShieldingLearner.robustMedian(h1) && fromOld?.isReady(window: 0) == false)
            #expect(try BackgroundStore.decode(old, settings: s, nowWallUs: t).get().background.samplesLearned == b.samplesLearned)
            // Layout 2 (session 17): the 17 histograms without the spread.
            var h2 = InlineArray<17, HalvingHistogram>(repeating: HalvingHistogram())
            for _ in 0..<40 { h2[0].add(bin: 30); h2[8].add(bin: 36) }
            let fromOld2 = try BackgroundStore.decodeShielding(older(layout: 2, h2), settings: s).get()
            #expect(fromOld2?.kappaQ16 == ShieldingLearner.robustMedian(h2[0]) && fromOld2?.kappaQ16(window: 7) == ShieldingLearner.median(h2[8])
                    && fromOld2?.isReady(window: 0) == false && fromOld2?.spreadOccupancies == 0)
            // A bin beyond the learner's capacity (CRC recomputed: a bad writer, not damage).
            var bad = Array(bytes.dropLast(4))
            let at = bad.count - MemoryLayout<ShieldingLearner>.size
            for i in 0..<8 { bad[at + i] = 0xFF }
            let crc2 = bad.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, $0.count) }
            for i in 0..<4 { bad.append(UInt8(truncatingIfNeeded: crc2 >> (8 * UInt32(i)))) }
            if case let .failure(e) = BackgroundStore.decodeShielding(bad, settings: s) {
                #expect(e.message == "the shielding learner's counts do not add up")
            } else { Issue.record("a learner with an impossible bin was accepted") }
            var restarted = VirtualLane(settings: { $0.spectralWindowCount = k })
            restarted.controller.restore(shielding: sh)
            #expect(restarted.controller.engine.shieldingLearner == sh && restarted.controller.view.shielding == sh)
        }
    }

    @Test("multi-window panels: what the spectral test learned is kept beside the background (version 3) and restored whatever the background's age; a file for another K is refused naming both, one without it (two-window, or older) gives none, values no learner holds are refused; a restarted controller has it")
    func spectralKept() throws {
        var lane = VirtualLane(settings: { $0.spectralWindowCount = 8 })
        lane.windows = 8
        lane.ticks(600)
        let b = lane.controller.engine.background, s = lane.controller.engine.settings
        // A learner of 150 loads over 8 windows (its fields made up, within what it holds).
        func field(_ i: Int) -> Int64 {
            if i == 0 { return 150 }
            if i <= 16 { return i == 5 ? 100 : i == 6 ? 50 : 0 }
            if i <= 16 + 128 { return Int64(8_192 + 37 * i) }
            if i <= 16 + 256 { return Int64(1_000 * i) }
            return Int64(200_000 + i)
        }
        let sp = try #require(SpectralState(panels: 4, windows: 8, fields: field))
        #expect(sp.loads == 150 && sp.isReady)
        let t: Int64 = 5_000_000_000
        let bytes = BackgroundStore.encode(b, norm: NormLearner(), spectral: sp, settings: s, savedWallUs: t)
        func fields(_ x: SpectralState) -> [Int64] { (0..<SpectralState.fieldCount(panels: 4, windows: 8)).map { x.field($0, panels: 4, windows: 8) } }
        let back = try #require(try BackgroundStore.decodeSpectral(bytes, settings: s).get())
        #expect(fields(back) == fields(sp))
        #expect(try BackgroundStore.decode(bytes, settings: s, nowWallUs: t).get().background.samplesLearned == b.samplesLearned)
        // A day later: the background is too old, the spectral test's learning is not.
        let later = t + 24 * 3_600_000_000
        if case .success = BackgroundStore.decode(bytes, settings: s, nowWallUs: later) { Issue.record("a day-old background was restored") }
        #expect(try BackgroundStore.decodeSpectral(bytes, settings: s).get() != nil)
        // Another K: refused, naming both.
        var sixteen = s
        sixteen.spectralWindowCount = 16
        if case let .failure(e) = BackgroundStore.decodeSpectral(bytes, settings: sixteen) {
            #expect(e.message == "kept for 8 energy windows, this lane's panels have 16")
        } else { Issue.record("a file for 8 windows was taken by a 16-window lane") }
        // A two-window lane's file keeps none; the background still restores on the 8-window lane.
        var two = s
        two.spectralWindowCount = 0
        let twoBytes = BackgroundStore.encode(b, settings: two, savedWallUs: t)
        #expect(try BackgroundStore.decodeSpectral(twoBytes, settings: s).get() == nil)
        #expect(try BackgroundStore.decode(twoBytes, settings: s, nowWallUs: t).get().background.samplesLearned == b.samplesLearned)
        // A bin holding more loads than the learner in all (CRC recomputed: a bad writer, not damage).
        let nl = bytes.firstIndex(of: 0x0A)! + 1
        var bad = Array(bytes.dropLast(4))
        let loadsAt = nl + MemoryLayout<Background>.size + MemoryLayout<NormLearner>.size
        let binAt = loadsAt + MemoryLayout<SpectralState>.offset(of: \SpectralState.binLoads)!
        bad[binAt + 4 * 4] = 0xFF; bad[binAt + 4 * 4 + 1] = 0xFF  // bin 4: 65,535 loads of 150
        let crc = bad.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, $0.count) }
        for i in 0..<4 { bad.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i)))) }
        if case let .failure(e) = BackgroundStore.decodeSpectral(bad, settings: s) {
            #expect(e.message.hasPrefix("the spectral test's values are out of range"))
        } else { Issue.record("an impossible learner was accepted") }
        // A controller restarted with it: the spectral test's learning is there at once.
        var restarted = VirtualLane(seed: 9, settings: { $0.spectralWindowCount = 8 })
        restarted.controller.restore(spectral: back)
        #expect(restarted.controller.engine.spectral.loads == 150)
        #expect(restarted.controller.view.spectral.loads == 150)
    }

    @Test("a controller restarted with the kept background screens the first truck at once, and one parked in the lane from the start, without alarm")
    func restart() {
        var lane = VirtualLane()
        var sink = CollectingSink()
        lane.ticks(600)
        lane.controller.finish(TickClock(nowUs: lane.nowUs, wallUs: 42_000_000), sink: &sink)
        #expect(sink.kept.count == 1)
        let kept = sink.kept[0].0

        // Without it: a truck right after the start is not screened.
        var fresh = VirtualLane(seed: 2)
        fresh.truck()
        #expect(fresh.sink.decisions.first?.notScreened == true)

        // With it: screened, clean.
        var restored = VirtualLane(seed: 2)
        restored.controller.restore(background: kept, ageUs: 30_000_000)
        #expect(restored.controller.view.backgroundRestoredAgeUs == 30_000_000)
        restored.truck()
        #expect(restored.sink.decisions.count == 1)
        if let d = restored.sink.decisions.first { #expect(!d.notScreened && !d.gammaAlarm && d.panelsUsedMask == 0b1111) }

        // Parked in the lane from the first sample: screened with the kept background, no alarm.
        var parked = VirtualLane(seed: 3)
        parked.controller.restore(background: kept, ageUs: 30_000_000)
        parked.pendingEdges = [BeamEdge(tUs: 1_000, beam: 0, blocked: true), BeamEdge(tUs: 2_000, beam: 1, blocked: true),
                               BeamEdge(tUs: 60_000_000, beam: 0, blocked: false), BeamEdge(tUs: 60_001_000, beam: 1, blocked: false)]
        parked.ticks(700)
        #expect(parked.sink.decisions.count == 1)
        if let d = parked.sink.decisions.first { #expect(!d.notScreened && !d.gammaAlarm && !d.neutronAlarm, "sigma \(Double(d.gammaMaxSigmaQ8) / 256)") }
    }
}
