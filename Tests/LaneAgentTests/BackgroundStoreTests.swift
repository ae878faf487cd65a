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
