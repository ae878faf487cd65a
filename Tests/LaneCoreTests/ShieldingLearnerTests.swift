// Proves the lane learns how its vehicles shield the low window against the high one from its own
// clean traffic, and that a parked vehicle whose shadow falls harder on the high window then no
// longer raises a false alarm (it did: the corrected tests assumed the shadow keeps the spectrum).

import LaneCore
import Testing

@Suite struct ShieldingLearnerTests {
    /// One synthetic occupancy: the low window falls by `lowFall`, the high window by `highFall`
    /// (fractions) below their unshielded expectations of 2,200 and 1,800 counts.
    @discardableResult
    func add(_ l: inout ShieldingLearner, lowFall: Double, highFall: Double, extraLow: Int64 = 0, extraHigh: Int64 = 0) -> Bool {
        l.add(lowCounts: Int64((2_200 * (1 - lowFall)).rounded()) + extraLow, lowExpectedQ16: 2_200 * 65_536,
              highCounts: Int64((1_800 * (1 - highFall)).rounded()) + extraHigh, highExpectedQ16: 1_800 * 65_536)
    }

    @Test("kappa is the median of the low window's fall over the fall the high window predicts for it, once 32 occupancies are held; 1 before; shadows too light to tell are not taken")
    func learns() {
        var l = ShieldingLearner()
        for _ in 0..<31 { add(&l, lowFall: 0.27, highFall: 0.33) }
        #expect(l.kappaQ16 == 65_536 && !l.isReady)
        add(&l, lowFall: 0.27, highFall: 0.33)
        #expect(l.isReady)
        #expect(abs(Double(l.kappaQ16) / 65_536 - 0.27 / 0.33) < 0.01, "kappa \(Double(l.kappaQ16) / 65_536)")
        // The correction for a window of 1,000 expected low counts (Q16) at R = 0.67: 1000 (1 - kappa) 0.33.
        let k = Double(l.kappaQ16) / 65_536
        let c = Double(ShieldingLearner.correctionQ16(lowExpectedQ16: 1_000 * 65_536, suppressionQ16: 43_909, kappaQ16: l.kappaQ16)) / 65_536
        #expect(abs(c - 1_000 * (1 - k) * (1 - 43_909.0 / 65_536)) < 1, "correction \(c)")
        #expect(ShieldingLearner.correctionQ16(lowExpectedQ16: 1_000 * 65_536, suppressionQ16: 65_536, kappaQ16: l.kappaQ16) == 0, "no shielding, no correction")

        var light = ShieldingLearner()
        // 1 % of 2,200 counts: 22, under 8 sd (375): not taken.
        #expect(!add(&light, lowFall: 0.005, highFall: 0.01))
        #expect(light.held == 0 && light.kappaQ16 == 65_536)
    }

    @Test("a shadow that keeps the spectrum learns kappa 1; NORM loads below the threshold among the clean vehicles (their high counts make R overstate the shadow, kappa_i large) do not move the median while a minority; kappa stays within 0.5 ... 1.5; stored fields read back")
    func robust() {
        var l = ShieldingLearner()
        for _ in 0..<64 { add(&l, lowFall: 0.3, highFall: 0.3) }
        #expect(abs(l.kappaQ16 - 65_536) <= 512, "\(Double(l.kappaQ16) / 65_536)")
        // 20 hard sub-threshold loads (+60 high, +20 low counts): each alone reads kappa 1.09.
        var contaminated = l
        for _ in 0..<20 { #expect(add(&contaminated, lowFall: 0.3, highFall: 0.3, extraLow: 20, extraHigh: 60)) }
        var alone = ShieldingLearner()
        for _ in 0..<40 { add(&alone, lowFall: 0.3, highFall: 0.3, extraLow: 20, extraHigh: 60) }
        #expect(alone.kappaQ16 > 70_000, "such loads alone: \(Double(alone.kappaQ16) / 65_536)")
        #expect(abs(contaminated.kappaQ16 - l.kappaQ16) <= 1_024, "median \(Double(contaminated.kappaQ16) / 65_536): within one bin (1/64) of where it was")
        var odd = ShieldingLearner()
        for _ in 0..<64 { add(&odd, lowFall: -0.5, highFall: 0.2) }  // low rising under a shadow
        #expect(odd.kappaQ16 == ShieldingLearner.kappaMinQ16 + 512)
        var steep = ShieldingLearner()
        for _ in 0..<64 { add(&steep, lowFall: 0.9, highFall: 0.2) }
        #expect(steep.kappaQ16 == ShieldingLearner.kappaMaxQ16 - 512)
        let back = ShieldingLearner(fields: { l.field($0) })
        #expect(back == l)
        #expect(ShieldingLearner(fields: { $0 == 0 ? 5_000 : 0 }) == nil)
    }

    @Test("a parked vehicle whose shadow takes 33 % of the high window and 27 % of the low one false-alarms on its minute's dwell; after the lane has learned from 40 clean vehicles (3 s each) it does not, and a real 1.5-count source in the same dwell is still found")
    func parkedTilt() {
        // Low 22 -> 16 (27 %), high 18 -> 12 (33 %) per panel and sample.
        let tilted: (Int) -> (gamma: UInt32, low: UInt32) = { _ in (28, 16) }
        #expect(FlatLane.standing(EngineSettings(), samples: 600, learn: 3_000, counts: tilted).gammaAlarm, "the defect: a clean parked truck alarms")

        var lane = FlatLane()
        lane.ticks(3_000)
        func stand(_ samples: Int, extraLow: UInt32 = 0) -> Decision? {
            let before = lane.decisions.count
            lane.edge(0, true, at: lane.t + 1)
            lane.edge(1, true, at: lane.t + 680_000)
            for i in 0..<samples {
                lane.t += 100_000
                var s = LaneSample(tUs: lane.t, intervalUs: 100_000)
                let extra = extraLow == 0 ? 0 : (i % 2 == 0 ? extraLow + 1 : extraLow)
                for p in 0..<4 { s.gamma[p] = 28 + extra; s.gammaLow[p] = 16 + extra }
                _ = lane.engine.sample(s)
            }
            lane.edge(0, false, at: lane.t + 1)
            lane.edge(1, false, at: lane.t + 2)
            lane.ticks(25)
            lane.ticks(100)  // empty lane before the next vehicle
            return lane.decisions.count > before ? lane.decisions[before] : nil
        }
        for _ in 0..<40 {
            let d = stand(30)
            #expect(d != nil && !d!.gammaAlarm, "a 3 s clean vehicle stays below the threshold and teaches the learner")
        }
        #expect(lane.engine.shieldingLearner.isReady)
        let kappa: Double = Double(lane.engine.shieldingLearner.kappaQ16) / 65_536
        let truth: Double = (6.0 / 22) / (6.0 / 18)
        #expect(abs(kappa - truth) < 0.03, "kappa \(kappa)")
        let parked = stand(600)
        #expect(parked != nil && !parked!.gammaAlarm, "sigma \(Double(parked?.gammaMaxSigmaQ8 ?? 0) / 256)")
        let source = stand(600, extraLow: 1)  // 1.5 counts per panel and sample, all low
        #expect(source != nil && source!.gammaAlarm)
    }
}
