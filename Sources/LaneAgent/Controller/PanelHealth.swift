// Each panel's health, judged every tick from its polls and its counts: silent (no answer),
// status fault, tamper, and a dead detector (counting far below its own learned background, or
// not at all, while the lane is empty). The panels that cannot be trusted this tick form the
// sample's absent mask: the engine learns nothing from them and stands in their background.

import LaneCore
import LaneHAL

/// How a panel's status word is read (from its register map).
public struct StatusMasks: Sendable, Equatable {
    public var ok: UInt16
    public var tamper: UInt16
    public var fault: UInt16
    public init(ok: UInt16, tamper: UInt16, fault: UInt16) { self.ok = ok; self.tamper = tamper; self.fault = fault }
}

public struct PanelHealth: Sendable {
    /// Per panel, what is wrong with it now (for the console and the fault tracker).
    public struct Flags: Sendable, Equatable {
        public var silent = false
        public var status = false
        public var tamper = false
        public var dead = false
        /// The panel's last status word (what a status fault or tamper was read from).
        public var statusWord: UInt16 = 0
        public init() {}
        /// Left out of detection (tamper alone is not: the panel still counts).
        public var excluded: Bool { silent || status || dead }
    }

    /// Expected counts a dead-detector verdict rests on: with 30 expected counts, 0 counts has a
    /// probability of e^-30, and "below 30 % and 5 sd under" is as improbable for a live panel.
    static let verdictCountsQ16: Int64 = 30 &<< 16
    /// Verdicts in a row that clear a dead detector (hysteresis).
    static let recoveryVerdicts = 2

    public private(set) var flags: InlineArray<8, Flags> = InlineArray(repeating: Flags())
    /// Panels taken back after a dead verdict by the last `judge` (their background is relearned).
    public private(set) var takenBack: UInt32 = 0
    var countsSum: InlineArray<8, Int64> = InlineArray(repeating: 0)
    var expectedSumQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    /// The other panels' mean expectation over the same samples (Q16).
    var peerSumQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    var goodVerdicts: InlineArray<8, Int> = InlineArray(repeating: 0)
    let panelCount: Int

    public init(panelCount: Int) {
        precondition(panelCount >= 1 && panelCount <= panelCountMax)
        self.panelCount = panelCount
    }

    /// Link and status, from the poll thread's slots.
    /// `masks`: status bits that must be set, the tamper bit, bits that are faults when set.
    /// `ticksRun`: this tick's number, from 1. A panel never read yet is silent only once as many
    /// ticks have run as it takes failed polls to call it so: at start the poll thread's first
    /// round may come after the first tick (on a loaded machine it did, and four healthy panels
    /// were logged silent for half a second).
    mutating func updateLink(_ slots: [PanelSlot], silentAfterPolls: Int, masks: StatusMasks, ticksRun: Int64) {
        precondition(slots.count >= panelCount)
        for p in 0..<panelCount {
            let s = slots[p]
            let w = s.reading.status
            flags[p].silent = (s.sequence == 0 && ticksRun > Int64(silentAfterPolls)) || s.consecutiveErrors >= silentAfterPolls
            flags[p].status = s.sequence != 0 && (w & masks.ok != masks.ok || w & masks.fault != 0)
            flags[p].tamper = s.sequence != 0 && w & masks.tamper != 0
            flags[p].statusWord = w
        }
    }

    /// Judges the counts of one sample (the panels with a fresh reading: `fresh`), on an empty
    /// lane only (a vehicle shields every panel). Returns the panels to leave out of this sample
    /// beyond the excluded ones: a reading far under the panel's own background is not learned
    /// even before the verdict (so that a dying panel cannot drag its background down).
    mutating func judge(_ s: LaneSample, fresh: UInt32, background: Background, settings: EngineSettings, occupied: Bool) -> UInt32 {
        var suspect: UInt32 = 0
        takenBack = 0
        if occupied {
            // A vehicle shields every panel (by up to about 40 %), so no verdict now; but a panel
            // reading nothing where it expects 15 counts or more has stopped, not been shielded:
            // it stands in for this sample instead of counting as a screening panel.
            for p in 0..<panelCount where fresh & (1 &<< UInt32(p)) != 0 && background.isReady(panel: p, settings) {
                if s.gamma[p] == 0 && settings.scaled(background.gammaPanelQ16(p), s.intervalUs) >= 15 &<< 16 { suspect |= 1 &<< UInt32(p) }
            }
            return suspect
        }
        // The other panels' ratio tells a dead panel from a lane-wide dip (heavy rain, a shielding
        // queue): a dead panel is low while the others are not. Against its own background when it
        // has one; against the other panels' mean too, so that a panel dead from power-on (which
        // learned a background of nothing) is found as well.
        for p in 0..<panelCount where fresh & (1 &<< UInt32(p)) != 0 {
            let ready = background.isReady(panel: p, settings)
            let expected = ready ? settings.scaled(background.gammaPanelQ16(p), s.intervalUs) : 0
            let counts = Int64(s.gamma[p])
            // Far below this sample's expectation (3 sd, when it means something): not learned.
            if expected >= 9 &<< 16 && (counts &<< 16) < expected - 3 * integerSquareRoot(expected) * 256 { suspect |= 1 &<< UInt32(p) }
            var peers: Int64 = 0, peerCount: Int64 = 0
            for q in 0..<panelCount where q != p && fresh & (1 &<< UInt32(q)) != 0 && !flags[q].excluded && background.isReady(panel: q, settings) {
                peers += settings.scaled(background.gammaPanelQ16(q), s.intervalUs)
                peerCount += 1
            }
            countsSum[p] += counts
            expectedSumQ16[p] += expected
            peerSumQ16[p] += peerCount > 0 ? peers / peerCount : 0
            guard expectedSumQ16[p] >= Self.verdictCountsQ16 || peerSumQ16[p] >= 10 * Self.verdictCountsQ16 else { continue }
            let e = expectedSumQ16[p], c = countsSum[p] &<< 16, peer = peerSumQ16[p]
            let sd = integerSquareRoot(e) * 256  // Q16
            // Under a tenth of the peers' mean over at least 300 of their counts: far beyond any
            // difference between a lane's panels, and about 8 sd below it for the panel itself.
            let lowAgainstPeers = peer >= 10 * Self.verdictCountsQ16 && c * 10 < peer
            let low = (e >= Self.verdictCountsQ16 && c == 0) || (e > 0 && c < e * 3 / 10 && c < e - 5 * sd && !othersLow(p, s, background, settings))
                || lowAgainstPeers
            let good = c * 10 >= e * 7 && (peer == 0 || c * 10 >= peer * 3)
            if low {
                flags[p].dead = true
                goodVerdicts[p] = 0
            } else if good {
                goodVerdicts[p] += 1
                if goodVerdicts[p] >= Self.recoveryVerdicts && flags[p].dead {
                    flags[p].dead = false
                    takenBack |= 1 &<< UInt32(p)
                }
            }
            countsSum[p] = 0
            expectedSumQ16[p] = 0
            peerSumQ16[p] = 0
        }
        return suspect
    }

    /// True when the other fresh panels together read under 70 % of their background too.
    func othersLow(_ q: Int, _ s: LaneSample, _ background: Background, _ settings: EngineSettings) -> Bool {
        var c: Int64 = 0, e: Int64 = 0
        for p in 0..<panelCount where p != q && !flags[p].excluded && background.isReady(panel: p, settings) {
            c += Int64(s.gamma[p]) &<< 16
            e += settings.scaled(background.gammaPanelQ16(p), s.intervalUs)
        }
        return e > 0 && c * 10 < e * 7
    }

    /// Panels left out of detection now.
    public var excludedMask: UInt32 {
        var m: UInt32 = 0
        for p in 0..<panelCount where flags[p].excluded { m |= 1 &<< UInt32(p) }
        return m
    }

    /// The lane-level faults these flags raise.
    public var faults: Faults {
        var f = Faults()
        for p in 0..<panelCount { f.insert(faults(panel: p)) }
        return f
    }

    /// One panel's faults.
    public func faults(panel p: Int) -> Faults {
        var f = Faults()
        if flags[p].silent { f.insert(.panelSilent) }
        if flags[p].status { f.insert(.panelStatus) }
        if flags[p].tamper { f.insert(.tamper) }
        if flags[p].dead { f.insert(.detectorDead) }
        return f
    }
}

extension PanelRegisterMap {
    public var statusMasks: StatusMasks { StatusMasks(ok: statusOkMask, tamper: tamperMask, fault: statusFaultMask) }
}
