// The lane's detection engine: occupancy from beam edges, speed from edge times, background
// learned while empty, gross-count and neutron tests over sliding windows, NORM discrimination.
// Fixed point throughout; no allocation after init. `run` and `replay` both drive this type.

public struct LaneEngine: Sendable {
    public enum State: Sendable, Equatable {
        case empty
        /// At least one beam is interrupted.
        case occupied
        /// Both beams are clear; the occupancy ends at `holdInEndUs` unless a beam breaks again.
        case holdIn
    }

    public let settings: EngineSettings
    public private(set) var state: State = .empty
    public private(set) var background = Background()
    public private(set) var occupancyCount: UInt32 = 0
    /// Faults reported by the hardware side this sample (panel link, status bits).
    public var hardwareFaults = Faults()

    var ring = SampleRing()
    var beamBlocked: InlineArray<2, Bool> = [false, false]
    var firstBlockUs: InlineArray<2, Int64> = [-1, -1]
    var lastClearUs: Int64 = 0
    var current = Decision()
    var pendingContainer: ContainerNumber? = nil
    var groupMask: InlineArray<3, UInt32> = [0, 0, 0]
    var groupCount = 1
    var lastSampleUs: Int64 = -1

    public init(settings: EngineSettings) {
        precondition(settings.firstProblem() == nil, "engine settings must be validated first")
        self.settings = settings
        var all: UInt32 = 0
        var pillars: InlineArray<2, UInt32> = [0, 0]
        for p in 0..<settings.panelCount {
            all |= 1 << UInt32(p)
            pillars[Int(settings.pillarOfPanel[p])] |= 1 << UInt32(p)
        }
        groupMask[0] = all
        if pillars[0] != 0 && pillars[1] != 0 {
            groupMask[1] = pillars[0]
            groupMask[2] = pillars[1]
            groupCount = 3
        }
    }

    /// True while an occupancy is in progress and has raised the gamma / neutron alarm.
    public var gammaAlarmActive: Bool { state != .empty && current.gammaAlarm }
    public var neutronAlarmActive: Bool { state != .empty && current.neutronAlarm }
    public var isOccupied: Bool { state != .empty }
    public var currentOccupancyStartUs: Int64? { state == .empty ? nil : current.startUs }

    // MARK: inputs

    /// An occupancy beam edge. Returns the decision of an occupancy whose hold-in had already
    /// expired before this edge (the next sample would have closed it).
    public mutating func beamEdge(_ e: BeamEdge) -> Decision? {
        guard e.beam == 0 || e.beam == 1 else { return nil }
        var finished: Decision? = nil
        if state == .holdIn && e.tUs >= lastClearUs + settings.holdInUs {
            finished = finish(endUs: lastClearUs + settings.holdInUs, truncated: false)
        }
        if beamBlocked[e.beam] == e.blocked { return finished }  // repeated level: no edge
        beamBlocked[e.beam] = e.blocked
        if e.blocked {
            if state == .empty { begin(atUs: e.tUs) }
            state = .occupied
            if firstBlockUs[e.beam] < 0 { firstBlockUs[e.beam] = e.tUs }
            updateSpeed()
        } else if !beamBlocked[0] && !beamBlocked[1] && state == .occupied {
            state = .holdIn
            lastClearUs = e.tUs
        }
        return finished
    }

    /// A container number from the gate OCR: attached to the occupancy in progress, else the next.
    public mutating func container(_ c: ContainerNumber) {
        if state == .empty { pendingContainer = c } else { current.container = c }
    }

    /// One sample of counts. Returns the decision of an occupancy that ended before it.
    public mutating func sample(_ s: LaneSample) -> Decision? {
        var finished: Decision? = nil
        if state == .holdIn && s.tUs >= lastClearUs + settings.holdInUs {
            finished = finish(endUs: lastClearUs + settings.holdInUs, truncated: false)
        }
        var entry = WindowEntry()
        for g in 0..<groupCount {
            let mask = groupMask[g]
            for p in 0..<settings.panelCount where mask & (1 << UInt32(p)) != 0 {
                entry.gamma[g] += Int64(s.gamma[p])
                entry.gammaLow[g] += Int64(s.gammaLow[p])
            }
        }
        for p in 0..<settings.panelCount { entry.neutron += Int64(s.neutron[p]) }
        entry.intervalUs = s.intervalUs > 0 ? s.intervalUs : settings.sampleIntervalUs
        ring.push(entry)
        lastSampleUs = s.tUs

        if state == .empty {
            if hardwareFaults.isEmpty { background.learn(s, settings: settings) }
        } else {
            current.samples += 1
            current.faults.insert(hardwareFaults)
            test()
        }
        return finished
    }

    /// Ends an occupancy still in progress when the input ends (the decision says truncated,
    /// unless its hold-in had expired by `atUs`).
    public mutating func finish(atUs: Int64) -> Decision? {
        switch state {
        case .empty: return nil
        case .holdIn:
            let end = lastClearUs + settings.holdInUs
            return finish(endUs: end <= atUs ? end : atUs, truncated: end > atUs)
        case .occupied: return finish(endUs: atUs, truncated: true)
        }
    }

    // MARK: occupancy

    mutating func begin(atUs t: Int64) {
        occupancyCount &+= 1
        current = Decision()
        current.occupancy = occupancyCount
        current.startUs = t
        current.gammaWindowSamples = settings.gammaWindowSamples
        current.neutronWindowSamples = settings.neutronWindowSamples
        current.gammaBackgroundQ16 = background.gammaSumQ16(mask: groupMask[0], panelCount: settings.panelCount)
        current.container = pendingContainer
        current.faults = backgroundFaults()
        current.gammaMaxSigmaQ8 = Int64.min
        current.neutronMaxSigmaQ8 = Int64.min
        pendingContainer = nil
        firstBlockUs = [-1, -1]
    }

    mutating func finish(endUs: Int64, truncated: Bool) -> Decision {
        var d = current
        d.endUs = endUs
        d.truncated = truncated
        if d.gammaMaxSigmaQ8 == Int64.min { d.gammaMaxSigmaQ8 = 0 }
        if d.neutronMaxSigmaQ8 == Int64.min { d.neutronMaxSigmaQ8 = 0 }
        // NORM suspicion only counts when nothing threat-like raised the alarm.
        if d.gammaAlarm { d.normSuspect = false }
        state = .empty
        beamBlocked = [false, false]
        return d
    }

    func backgroundFaults() -> Faults {
        var f = Faults()
        if !background.isReady(settings) { f.insert(.backgroundNotReady); return f }
        // Note: Swift's >> binds tighter than * and /, hence the parentheses.
        let cps = (background.gammaSumQ16(mask: groupMask[0], panelCount: settings.panelCount)
            * 1_000_000 / settings.sampleIntervalUs) >> 16
        if settings.gammaBackgroundHighCps > 0 && cps > settings.gammaBackgroundHighCps { f.insert(.backgroundHigh) }
        if settings.gammaBackgroundLowCps > 0 && cps < settings.gammaBackgroundLowCps { f.insert(.backgroundLow) }
        return f
    }

    /// Speed from the front edges: the time between beam 0 and beam 1 being first interrupted,
    /// taken from the edges' own timestamps (never the tick).
    mutating func updateSpeed() {
        guard firstBlockUs[0] >= 0, firstBlockUs[1] >= 0 else { return }
        let dt = firstBlockUs[1] - firstBlockUs[0]
        current.reverse = dt < 0
        let span = dt < 0 ? -dt : dt
        current.speedMmPerS = span == 0 ? nil : settings.beamSpacingMm * 1_000_000 / span
    }

    // MARK: tests

    /// Runs the gross-count test on every group and the neutron test on the newest windows.
    mutating func test() {
        let n = settings.panelCount
        let nominal = settings.sampleIntervalUs
        let gw = ring.sum(window: settings.gammaWindowSamples)
        if gw.samples == settings.gammaWindowSamples {
            for g in 0..<groupCount {
                let mask = groupMask[g]
                // Expected background over the window's actual length, Q16 counts.
                let b = background.gammaSumQ16(mask: mask, panelCount: n) * gw.intervalUs / nominal
                let bLow = background.gammaLowSumQ16(mask: mask, panelCount: n) * gw.intervalUs / nominal
                let c = gw.gamma[g]
                let sqrtB = integerSquareRoot(b > 0 ? b : 1)  // Q8
                let threshold = b + settings.gammaSigmaQ8 * sqrtB
                let excess = (c << 16) - b
                let sigma = excess / sqrtB
                if sigma > current.gammaMaxSigmaQ8 {
                    current.gammaMaxSigmaQ8 = sigma
                    current.gammaMaxGroup = g
                    current.gammaMaxCounts = c
                    current.gammaMaxBackgroundQ16 = b
                    current.gammaMaxThresholdQ16 = threshold
                    let lowExcess = (gw.gammaLow[g] << 16) - bLow
                    current.gammaMaxLowShareQ16 = excess > 0 ? max(0, lowExcess) * 65_536 / excess : 0
                }
                if (c << 16) > threshold {
                    let lowExcess = (gw.gammaLow[g] << 16) - bLow
                    let lowShare = max(0, lowExcess) * 65_536 / excess
                    let threatLike = !settings.normDiscrimination
                        || lowShare >= settings.normLowShareMinQ16
                        || sigma >= settings.gammaCeilingSigmaQ8
                    if threatLike { current.gammaAlarm = true } else { current.normSuspect = true }
                }
            }
        }
        let nw = ring.sum(window: settings.neutronWindowSamples)
        if nw.samples == settings.neutronWindowSamples {
            let b = background.neutronSumQ16(mask: groupMask[0], panelCount: n) * nw.intervalUs / nominal
            // A floor of one count keeps the test meaningful while the learned rate is near zero.
            let bFloor = b > 65_536 ? b : 65_536
            let sqrtB = integerSquareRoot(bFloor)
            let excess = (nw.neutron << 16) - b
            let sigma = excess / sqrtB
            if sigma > current.neutronMaxSigmaQ8 {
                current.neutronMaxSigmaQ8 = sigma
                current.neutronMaxCounts = nw.neutron
                current.neutronMaxBackgroundQ16 = b
            }
            if excess > settings.neutronSigmaQ8 * sqrtB && excess >= settings.neutronExcessMin << 16 {
                current.neutronAlarm = true
            }
        }
    }
}
