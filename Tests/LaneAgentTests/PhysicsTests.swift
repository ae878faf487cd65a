// Proves the physics family's spectral derivation behaves as the physics does (DOMAIN.md, NORM
// discrimination): where each source's Compton continuum ends decides its low-window share, so
// HEU and Ba-133 are softer than NORM at any split, Cs-137 turns hard when the split drops below
// its 477 keV edge, Co-60 is harder than Cs-137, cargo scatters counts down, a panel with more
// gain reads harder; and lane-sim's member keeps its fixed shares.

import LaneSimCore
import Testing

@Suite struct PhysicsTests {
    func member(split: Double) -> Physics {
        var m = Physics.family(seed: 1, count: 1)[1]
        m.windowSplitKev = split
        m.gains = [1, 1, 1, 1]
        return m
    }

    @Test("shares follow the continua's edges at splits 150, 250 and 450 keV (at 250 keV Cs-137 is as hard as NORM)")
    func edges() {
        for split in [150.0, 250, 450] {
            let m = member(split: split)
            let s = { (t: SourceType) in m.sourceLowShare(t, attenuation: 0.8, panel: 0) }
            let norm = m.sourceLowShare(.norm, attenuation: 0.8, panel: 0, mix: [0.5, 0.25, 0.25], selfScatter: 0.3)
            #expect(s(.heu) > norm + 0.2 && s(.ba133) > norm + 0.1, "split \(split): HEU \(s(.heu)), Ba \(s(.ba133)), NORM \(norm)")
            #expect(s(.co60) < s(.cs137), "split \(split): Co-60 \(s(.co60)) harder than Cs-137 \(s(.cs137))")
            #expect(m.backgroundLowShare(panel: 0) > norm, "split \(split): the background is softer than NORM")
        }
        // With the split near its 477 keV edge Cs-137 is far softer than NORM; at 250 keV it is not.
        let high = member(split: 450), mid = member(split: 250)
        let normHigh = high.sourceLowShare(.norm, attenuation: 0.8, panel: 0, mix: [0.5, 0.25, 0.25], selfScatter: 0.3)
        #expect(high.sourceLowShare(.cs137, attenuation: 0.8, panel: 0) > normHigh + 0.15)
        let normMid = mid.sourceLowShare(.norm, attenuation: 0.8, panel: 0, mix: [0.5, 0.25, 0.25], selfScatter: 0.3)
        #expect(abs(mid.sourceLowShare(.cs137, attenuation: 0.8, panel: 0) - normMid) < 0.1)
        let low = member(split: 150)
        #expect(low.sourceLowShare(.cs137, attenuation: 0.8, panel: 0) < low.backgroundLowShare(panel: 0),
                "with the split under its edge Cs-137 is harder than the background")
    }

    @Test("more cargo scatters Cs-137 down; more gain reads harder; lane-sim's member keeps its fixed shares")
    func cargoAndGain() {
        let m = member(split: 250)
        #expect(m.sourceLowShare(.cs137, attenuation: 0.4, panel: 0) > m.sourceLowShare(.cs137, attenuation: 0.95, panel: 0))
        var g = m
        g.gains = [1.1, 0.9, 1, 1]
        #expect(g.sourceLowShare(.cs137, attenuation: 0.8, panel: 0) < g.sourceLowShare(.cs137, attenuation: 0.8, panel: 1))
        let legacy = Physics.laneSim
        #expect(legacy.sourceLowShare(.cs137, attenuation: 0.5, panel: 3) == 0.80 && legacy.backgroundLowShare(panel: 0) == 0.55)
        #expect(legacy.sourceLowShare(.norm, attenuation: 0.5, panel: 0) == 0.35)
    }
}
