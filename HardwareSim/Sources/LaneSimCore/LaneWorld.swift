// The lane's physics: vehicles moving through the portal (steady, stop-and-go, parked, queued),
// occupancy beams, panel counts from background (drift, suppression by vehicles) and sources
// (inverse square with the panel's cosine, cargo attenuation, energy-window split), Poisson
// noise from a seeded generator. Times are seconds from the scenario's start.

import Foundation
import LaneCore

/// Where things are: x along the lane (vehicles drive towards +x), 0 at the portal's centre;
/// y across the lane; z height. Beam 0 at x = -spacing/2, beam 1 at +spacing/2.
struct Panel {
    var y: Double
    var z: Double
}

/// A vehicle's motion as piecewise-constant-speed segments (no acceleration: speeds are exact).
struct Trajectory {
    /// (start time, front position at that time, speed) in time order.
    var segments: [(t: Double, x: Double, v: Double)]

    func front(at t: Double) -> Double {
        var seg = segments[0]
        for s in segments where s.t <= t { seg = s }
        return seg.x + seg.v * (t - seg.t)
    }

    /// The first time the front reaches position x (motion never goes backwards).
    func time(frontAt x: Double) -> Double {
        for (i, s) in segments.enumerated() {
            let end = i + 1 < segments.count ? segments[i + 1].t : Double.infinity
            if x <= s.x { return i == 0 && s.v > 0 ? s.t - (s.x - x) / s.v : s.t }
            if s.v > 0 {
                let t = s.t + (x - s.x) / s.v
                if t <= end { return t }
            }
        }
        return .infinity
    }
}

public struct VehicleTruth: Sendable {
    public var vehicle: Int
    public var container: String?
    /// Every container number on the vehicle (`container` is the first).
    public var containers: [String] = []
    public var plate: String? = nil
    public var ocr: OCRSpec? = nil
    /// When the front reaches beam 0, and when the rear clears beam 1 (scenario seconds).
    public var entryS: Double
    public var exitS: Double
    public var speedMps: Double
    public var motion: Motion
    public var stopS: Double
    public var queueS: Double
    public var sources: [SourceSpec]
    public var threat: Bool { sources.contains { $0.type.isThreat } }
    public var norm: Bool { sources.contains { $0.type == .norm } }

    /// One JSON line for the ground-truth file; times on the same clock as the trace.
    public func json(originUs: Int64) -> String {
        let src = sources.map { "{\"type\":\"\($0.type.rawValue)\",\"strength\":\($0.strength)}" }.joined(separator: ",")
        return "{\"vehicle\":\(vehicle),\"entryUs\":\(originUs + Int64(entryS * 1e6)),\"exitUs\":\(originUs + Int64(exitS * 1e6)),"
            + "\"speedMps\":\(speedMps),\"motion\":\"\(motion.rawValue)\",\"stopS\":\(stopS),\"queueS\":\(queueS),"
            + "\"threat\":\(threat),\"norm\":\(norm),\"container\":\(container.map { "\"\($0)\"" } ?? "null"),\"containers\":[\(containers.map { "\"\($0)\"" }.joined(separator: ","))],\"sources\":[\(src)]}"
    }
}

public final class LaneWorld {
    public let scenario: Scenario
    public var panelCount: Int { scenario.lane.panels }
    let panels: [Panel]
    let trajectories: [Trajectory]
    public let truths: [VehicleTruth]
    /// Every beam edge of the scenario, in time order (seconds).
    public let edges: [(t: Double, beam: Int, blocked: Bool)]
    public let durationS: Double
    var rng: SeededRandom

    /// Free-running counters, as the panels hold them (wrap at 2^32).
    public private(set) var gammaTotal: [UInt32]
    public private(set) var gammaLow: [UInt32]
    public private(set) var neutron: [UInt32]
    public private(set) var timeS: Double = 0
    /// Added to the panels' uptime clock (to test its wrap-around at 2^32 ms).
    public var uptimeOffsetMs: UInt32 = 0
    /// Self-test pulser: end time per panel.
    var pulserUntilS: [Double]
    /// A check source held against a panel (the daily source check), gamma counts/s added;
    /// 70 % in the low energy window (Cs-137-like). Set through the simulator's control socket.
    public var checkSourceCps: [Double]
    /// Low-window shares from the physics: the background per panel, each source per panel.
    private(set) var backgroundLow: [Double]
    private(set) var sourceLow: [[[Double]]]
    /// Each panel's window split (holding register 257), keV: with a physics member the
    /// spectra follow it (`setWindowSplit`); lane-sim's fixed shares ignore it.
    public private(set) var windowSplitKev: [Double]
    /// The low-window share of the check source's counts (a bare Cs-137 source) per panel.
    private(set) var checkSourceLow: [Double]
    /// Multi-window panels (issue 13; `setWindows`): each panel's window boundaries in keV
    /// (empty: a two-window panel), free-running counters per window, and the window shares of
    /// the background, of every source and of the check source.
    public private(set) var energyWindowsKev: [[Double]]
    public private(set) var windowCounts: [[UInt32]]
    private(set) var backgroundWindows: [[Double]]
    private(set) var sourceWindows: [[[[Double]]]]
    private(set) var checkSourceWindows: [[Double]]

    public init(scenario: Scenario, counterStart: UInt32 = 0) {
        self.scenario = scenario
        let lane = scenario.lane
        let half = lane.portalWidthM / 2
        panels = [Panel(y: -half, z: 2.0), Panel(y: -half, z: 0.8), Panel(y: half, z: 2.0), Panel(y: half, z: 0.8)]
        rng = SeededRandom(seed: scenario.seed)
        let b0 = -lane.beamSpacingM / 2
        var trajs: [Trajectory] = []
        var truths: [VehicleTruth] = []
        for v in scenario.vehicles {
            var segs: [(t: Double, x: Double, v: Double)] = []
            var entry = v.at
            if v.queueS > 0 {
                // Drives up to its waiting place 0.5 m short of beam 0, waits, then drives on.
                let wait = b0 - 0.5
                segs.append((v.at - 60, wait - v.speed * 60, v.speed))
                segs.append((v.at, wait, 0))
                segs.append((v.at + v.queueS, wait, v.speed))
                entry = v.at + v.queueS + 0.5 / v.speed
            } else {
                segs.append((v.at - 60, b0 - v.speed * 60, v.speed))
            }
            if v.motion != .steady {
                // stopAndGo: the front stops 2 m past the portal centre; parked: the load is centred.
                let stopFront = v.motion == .parked ? v.cabLengthM + v.gapM + v.trailerLengthM / 2 : 2.0
                let last = segs[segs.count - 1]
                let tStop = last.t + (stopFront - last.x) / last.v
                segs.append((tStop, stopFront, 0))
                segs.append((tStop + v.stopS, stopFront, v.speed))
            }
            let traj = Trajectory(segments: segs)
            trajs.append(traj)
            let exit = traj.time(frontAt: -b0 + v.lengthM)
            var truth = VehicleTruth(
                vehicle: truths.count + 1, container: v.containerNumbers.first, entryS: entry, exitS: exit, speedMps: v.speed,
                motion: v.motion, stopS: v.stopS, queueS: v.queueS, sources: v.sources)
            truth.containers = v.containerNumbers
            truth.plate = v.plate
            truth.ocr = v.ocr
            truths.append(truth)
        }
        trajectories = trajs
        self.truths = truths

        // Beam intervals per vehicle: the cab and the trailer block a beam; the gap does not.
        var intervals: [[(Double, Double)]] = [[], []]
        for (k, v) in scenario.vehicles.enumerated() {
            let traj = trajs[k]
            for beam in 0..<2 {
                let xb = beam == 0 ? b0 : -b0
                let parts: [(Double, Double)] = v.gapM > 0 && v.trailerLengthM > 0
                    ? [(0, v.cabLengthM), (v.cabLengthM + v.gapM, v.lengthM)] : [(0, v.lengthM)]
                for (front, rear) in parts {
                    intervals[beam].append((traj.time(frontAt: xb + front), traj.time(frontAt: xb + rear)))
                }
            }
        }
        var edges: [(t: Double, beam: Int, blocked: Bool)] = []
        for beam in 0..<2 {
            let sorted = intervals[beam].sorted { $0.0 < $1.0 }
            var merged: [(Double, Double)] = []
            for iv in sorted {
                if let last = merged.last, iv.0 <= last.1 { merged[merged.count - 1].1 = max(last.1, iv.1) } else { merged.append(iv) }
            }
            for (a, b) in merged {
                edges.append((a, beam, true))
                if b.isFinite { edges.append((b, beam, false)) }
            }
        }
        self.edges = edges.sorted { $0.t < $1.t || ($0.t == $1.t && $0.beam < $1.beam) }
        durationS = scenario.durationS ?? ((truths.map(\.exitS).max() ?? 0) + 10)
        gammaTotal = Array(repeating: counterStart, count: lane.panels)
        gammaLow = Array(repeating: counterStart, count: lane.panels)
        neutron = Array(repeating: counterStart, count: lane.panels)
        pulserUntilS = Array(repeating: -1, count: lane.panels)
        checkSourceCps = Array(repeating: 0, count: lane.panels)
        windowSplitKev = Array(repeating: lane.physics?.windowSplitKev ?? 250, count: lane.panels)
        energyWindowsKev = Array(repeating: [], count: lane.panels)
        windowCounts = Array(repeating: [], count: lane.panels)
        backgroundWindows = Array(repeating: [], count: lane.panels)
        checkSourceWindows = Array(repeating: [], count: lane.panels)
        sourceWindows = scenario.vehicles.map { v in v.sources.map { _ in Array(repeating: [], count: lane.panels) } }
        checkSourceLow = (0..<lane.panels).map { lane.physics?.sourceLowShare(.cs137, attenuation: 1, panel: $0) ?? 0.7 }
        if let physics = lane.physics {
            backgroundLow = (0..<lane.panels).map { physics.backgroundLowShare(panel: $0) }
            sourceLow = scenario.vehicles.map { v in
                v.sources.map { s in
                    (0..<lane.panels).map { physics.sourceLowShare(s.type, attenuation: v.attenuation, panel: $0, mix: s.normMix, selfScatter: s.selfScatter) }
                }
            }
        } else {
            backgroundLow = Array(repeating: lane.backgroundLowFraction, count: lane.panels)
            sourceLow = scenario.vehicles.map { v in v.sources.map { s in Array(repeating: s.type.lowFraction, count: lane.panels) } }
        }
    }

    /// How much of the portal vehicle k fills at time t: 0 (outside the +-5 m around the pillars)
    /// to 1 (at least 4 m of it inside).
    func presence(_ k: Int, at t: Double) -> Double {
        let f = trajectories[k].front(at: t)
        let overlap = max(0, min(f, 5) - max(f - scenario.vehicles[k].lengthM, -5))
        return min(1, overlap / 4)
    }

    /// Background suppression at time t: the strongest of the vehicles in or near the portal.
    func suppression(at t: Double) -> Double {
        var s = 0.0
        for (k, v) in scenario.vehicles.enumerated() {
            s = max(s, (v.shielding ?? scenario.lane.shielding) * presence(k, at: t))
        }
        return s
    }

    /// Expected rates (counts/s) at time t for panel p: gamma low, gamma high, neutron.
    public func rates(at t: Double, panel p: Int) -> (low: Double, high: Double, neutron: Double) {
        let lane = scenario.lane
        let drift = 1 + lane.driftFraction * sin(2 * Double.pi * t / lane.driftPeriodS)
        let sup = suppression(at: t), tilt = lane.shieldingTilt
        let bg = lane.backgroundCps[p] * drift * (1 - sup)
        var low = bg * backgroundLow[p]
        var high = bg - low
        if tilt != 0 {
            // The shielding tilted (below the split shielded by sup (1 + tilt), above by sup (1 - tilt));
            // untilted, the arithmetic stays as it was, so old reports reproduce to the count.
            let open = lane.backgroundCps[p] * drift
            low = open * backgroundLow[p] * (1 - sup * (1 + tilt))
            high = open * (1 - backgroundLow[p]) * (1 - sup * (1 - tilt))
        }
        var n = lane.neutronBackgroundCps[p]
        eachSource(at: t, panel: p) { k, si, s, r in
            if s.type.gamma {
                let lowShare = sourceLow[k][si][p]
                let att = r * scenario.vehicles[k].attenuation
                low += att * lowShare
                high += att * (1 - lowShare)
            }
            if s.type.neutron { n += r * 0.9 }
        }
        if t < pulserUntilS[p] { low += 500; high += 500 }
        if checkSourceCps[p] > 0 { low += checkSourceLow[p] * checkSourceCps[p]; high += (1 - checkSourceLow[p]) * checkSourceCps[p] }
        return (low, high, n)
    }

    /// Every source near the portal at time t, as point sources (a NORM load: 8 sharing its
    /// strength along its length), with its rate at panel p before cargo (counts/s):
    /// `visit(vehicle, source, spec, rate)`. The one geometry `rates` and `windowRates` share.
    func eachSource(at t: Double, panel p: Int, _ visit: (Int, Int, SourceSpec, Double) -> Void) {
        let panel = panels[p]
        for (k, v) in scenario.vehicles.enumerated() where !v.sources.isEmpty {
            let f = trajectories[k].front(at: t)
            if f < -40 || f - v.lengthM > 40 { continue }
            for (si, s) in v.sources.enumerated() {
                let points = s.type == .norm ? 8 : 1
                for i in 0..<points {
                    let along = points == 1 ? s.positionM : s.positionM - s.lengthM / 2 + s.lengthM * (Double(i) + 0.5) / Double(points)
                    let x = f - along
                    let dy = abs(panel.y - s.offsetM), dz = panel.z - s.heightM
                    let d2 = x * x + dy * dy + dz * dz
                    let d = max(d2.squareRoot(), 0.3)
                    let g = (dy / d) / (d * d)
                    visit(k, si, s, s.strength / Double(points) * g)
                }
            }
        }
    }

    /// Gamma rates (counts/s) per energy window at time t for a multi-window panel p: the same
    /// background, sources, pulser and check source as `rates`, spread over the windows by the
    /// physics member's derivation.
    public func windowRates(at t: Double, panel p: Int) -> [Double] {
        let lane = scenario.lane
        let shares = backgroundWindows[p]
        let drift = 1 + lane.driftFraction * sin(2 * Double.pi * t / lane.driftPeriodS)
        let sup = suppression(at: t), tilt = lane.shieldingTilt
        let bg = lane.backgroundCps[p] * drift * (1 - sup)
        var out = shares.map { bg * $0 }
        if tilt != 0 {
            let open = lane.backgroundCps[p] * drift, split = lowWindowCount(panel: p)
            let edges = energyWindowsKev[p], k = shares.count
            if lane.shieldingTiltShape == .smooth && edges.count == k + 1 && k >= 2 {
                // x_j from +1 to -1, linear in the log of the window's centre energy.
                let centre = (0..<k).map { j in log(max(edges[j], 1) * max(edges[j + 1], 1)) / 2 }
                let span = centre[k - 1] - centre[0]
                out = shares.indices.map { j in
                    let x = span > 0 ? 1 - 2 * (centre[j] - centre[0]) / span : 0
                    return open * shares[j] * (1 - sup * (1 + tilt * x))
                }
            } else {
                out = shares.indices.map { j in open * shares[j] * (1 - sup * (j < split ? 1 + tilt : 1 - tilt)) }
            }
        }
        eachSource(at: t, panel: p) { k, si, s, r in
            guard s.type.gamma else { return }
            let w = sourceWindows[k][si][p], att = r * scenario.vehicles[k].attenuation
            for j in out.indices { out[j] += att * w[j] }
        }
        let low = lowWindowCount(panel: p), k = out.count
        if t < pulserUntilS[p] {
            for j in 0..<k { out[j] += 500 / Double(j < low ? low : k - low) }
        }
        if checkSourceCps[p] > 0 { for j in 0..<k { out[j] += checkSourceCps[p] * checkSourceWindows[p][j] } }
        return out
    }

    /// How many of panel p's windows lie below its window split (they make up `gammaLow`).
    public func lowWindowCount(panel p: Int) -> Int {
        energyWindowsKev[p].firstIndex { $0 >= windowSplitKev[p] } ?? 0
    }

    /// The window shares a multi-window panel needs (background, each source, check source),
    /// derived for panel p: slow (a table per boundary set and gain), and touching nothing of the
    /// world's state, so that a server can compute them before taking its lock.
    public struct WindowSetup: Sendable {
        public let panel: Int
        public let boundaries: [Double]
        public let split: Double
        let background: [Double], checkSource: [Double], sources: [[[Double]]]
        /// The two windows' shares at the split, derived here too: `apply` runs under the
        /// server's lock and must not derive (it once held the bus 110 ms: polls timed out).
        let splitSetup: SplitSetup
    }

    /// The setup for panel p with these boundaries (K + 1 values, increasing; the split one of
    /// the inner ones), or nil when they are not valid or the world has no physics member
    /// (lane-sim's fixed shares know two windows only).
    public func prepareWindows(panel p: Int, boundaries b: [Double], split: Double) -> WindowSetup? {
        guard p >= 0 && p < panelCount, let physics = scenario.lane.physics, !physics.legacy, b.count >= 3,
              zip(b, b.dropFirst()).allSatisfy({ $0 < $1 }), let i = b.firstIndex(of: split), i > 0, i < b.count - 1 else { return nil }
        var m = physics
        m.windowSplitKev = split
        return WindowSetup(
            panel: p, boundaries: b, split: split, background: m.backgroundWindowShares(panel: p, boundaries: b),
            checkSource: m.sourceWindowShares(.cs137, attenuation: 1, panel: p, boundaries: b),
            sources: scenario.vehicles.map { v in
                v.sources.map { src in
                    m.sourceWindowShares(src.type, attenuation: v.attenuation, panel: p, boundaries: b, mix: src.normMix, selfScatter: src.selfScatter)
                }
            },
            splitSetup: prepareSplit(panel: p, kev: split))
    }

    /// Panel p counts per window from now on (its counters start at 0 when K changes).
    public func apply(_ w: WindowSetup) {
        let p = w.panel
        if energyWindowsKev[p].count != w.boundaries.count { windowCounts[p] = Array(repeating: 0, count: w.boundaries.count - 1) }
        energyWindowsKev[p] = w.boundaries
        apply(w.splitSetup)
        backgroundWindows[p] = w.background
        checkSourceWindows[p] = w.checkSource
        for k in w.sources.indices { for si in w.sources[k].indices { sourceWindows[k][si][p] = w.sources[k][si] } }
    }

    /// Makes every panel a multi-window panel with boundaries `b`, split at `split` or, by
    /// default, at the inner boundary nearest the physics member's own split (the one choice
    /// `lane-sim serve`, `trace` and `eval` make). False when they are not valid.
    @discardableResult
    public func useWindows(_ b: [Double], split: Double? = nil) -> Bool {
        let own = windowSplitKev.first ?? 0
        guard b.count >= 3, let s = split ?? b.dropFirst().dropLast().min(by: { abs($0 - own) < abs($1 - own) }) else { return false }
        var ok = true
        for p in 0..<panelCount { ok = setWindows(panel: p, boundaries: b, split: s) && ok }
        return ok
    }

    /// Makes panel p a multi-window panel with these boundaries (`prepareWindows`), or a
    /// two-window one again (empty). False and nothing changed when they are not valid.
    @discardableResult
    public func setWindows(panel p: Int, boundaries b: [Double], split: Double) -> Bool {
        guard p >= 0 && p < panelCount else { return false }
        if b.isEmpty {
            energyWindowsKev[p] = []; windowCounts[p] = []
            setWindowSplit(panel: p, kev: split)
            return true
        }
        guard let w = prepareWindows(panel: p, boundaries: b, split: split) else { return false }
        apply(w)
        return true
    }

    /// Advances to time t, adding Poisson counts for the interval (rates at its midpoint).
    public func advance(to t: Double) {
        let dt = t - timeS
        guard dt > 0 else { return }
        let mid = timeS + dt / 2
        for p in 0..<panelCount {
            if !energyWindowsKev[p].isEmpty {
                // A multi-window panel: counts per window; the low window is the windows below
                // the split, the total all of them.
                let low = lowWindowCount(panel: p)
                var all: UInt32 = 0, lo: UInt32 = 0
                for (j, r) in windowRates(at: mid, panel: p).enumerated() {
                    let c = rng.poisson(r * dt)
                    windowCounts[p][j] &+= c
                    all &+= c
                    if j < low { lo &+= c }
                }
                gammaLow[p] &+= lo
                gammaTotal[p] &+= all
                neutron[p] &+= rng.poisson(rates(at: mid, panel: p).neutron * dt)
                continue
            }
            let r = rates(at: mid, panel: p)
            let lo = rng.poisson(r.low * dt)
            let hi = rng.poisson(r.high * dt)
            gammaLow[p] &+= lo
            gammaTotal[p] &+= lo &+ hi
            neutron[p] &+= rng.poisson(r.neutron * dt)
        }
        // Ship-effect bursts: a few counts at once in one panel (the random draws happen only
        // for vehicles that have them, so other scenarios' counts do not change).
        for (k, v) in scenario.vehicles.enumerated() where v.neutronBurstsPerS > 0 {
            let presence = presence(k, at: mid)
            guard presence > 0 else { continue }
            for _ in 0..<rng.poisson(v.neutronBurstsPerS * presence * dt) {
                // Geometric counts >= 1 with mean 3: P(m) = p (1 - p)^(m - 1), p = 1/3.
                let m = 1 + UInt32(min(50, (log(rng.unit()) / log(2.0 / 3.0)).rounded(.down)))
                let p = min(panelCount - 1, Int(rng.unit() * Double(panelCount)))
                neutron[p] &+= m
            }
        }
        timeS = t
    }

    /// The panel's pulser adds 1,000 gamma counts/s for 2 s (reference panel command 0xA5A5).
    public func startSelfTest(panel p: Int) { pulserUntilS[p] = timeS + 2 }

    /// Carries another world's counters over (a scenario played again keeps counting), and the
    /// panels' window splits.
    public func continueCounters(from other: LaneWorld) {
        gammaTotal = other.gammaTotal; gammaLow = other.gammaLow; neutron = other.neutron
        uptimeOffsetMs = other.uptimeOffsetMs
        checkSourceCps = other.checkSourceCps
        for p in 0..<min(panelCount, other.panelCount) {
            if !other.energyWindowsKev[p].isEmpty {
                setWindows(panel: p, boundaries: other.energyWindowsKev[p], split: other.windowSplitKev[p])
                windowCounts[p] = other.windowCounts[p]
            } else if other.windowSplitKev[p] != windowSplitKev[p] {
                setWindowSplit(panel: p, kev: other.windowSplitKev[p])
            }
        }
    }

    /// A panel's window split changed (a write to holding register 257): with a physics member
    /// its low and high windows now divide the background's and every source's counts at the
    /// new boundary; lane-sim's fixed shares do not change (only the register does).
    public func setWindowSplit(panel p: Int, kev: Double) {
        guard p >= 0 && p < panelCount else { return }
        apply(prepareSplit(panel: p, kev: kev))
    }

    /// The two windows' shares for panel p at a new split (slow: see `WindowSetup`).
    public struct SplitSetup: Sendable {
        public let panel: Int
        public let kev: Double
        let background: Double?
        let checkSource: Double
        let sources: [[Double]]
    }

    public func prepareSplit(panel p: Int, kev: Double) -> SplitSetup {
        guard var physics = scenario.lane.physics else { return SplitSetup(panel: p, kev: kev, background: nil, checkSource: 0, sources: []) }
        physics.windowSplitKev = kev
        var sources: [[Double]] = []
        for v in scenario.vehicles {
            var row: [Double] = []
            for src in v.sources {
                row.append(physics.sourceLowShare(src.type, attenuation: v.attenuation, panel: p, mix: src.normMix, selfScatter: src.selfScatter))
            }
            sources.append(row)
        }
        return SplitSetup(panel: p, kev: kev, background: physics.backgroundLowShare(panel: p),
                          checkSource: physics.sourceLowShare(.cs137, attenuation: 1, panel: p), sources: sources)
    }

    public func apply(_ w: SplitSetup) {
        guard w.panel >= 0 && w.panel < panelCount else { return }
        windowSplitKev[w.panel] = w.kev
        guard let background = w.background else { return }
        backgroundLow[w.panel] = background
        checkSourceLow[w.panel] = w.checkSource
        for k in w.sources.indices { for si in w.sources[k].indices { sourceLow[k][si][w.panel] = w.sources[k][si] } }
    }

    /// Command 0x5A5A: the counters start again from zero.
    public func resetCounters(panel p: Int) {
        gammaTotal[p] = 0; gammaLow[p] = 0; neutron[p] = 0
        for j in windowCounts[p].indices { windowCounts[p][j] = 0 }
    }

    /// Beam states at time t (true = interrupted).
    public func beams(at t: Double) -> (Bool, Bool) {
        var state = (false, false)
        for e in edges where e.t <= t {
            if e.beam == 0 { state.0 = e.blocked } else { state.1 = e.blocked }
        }
        return state
    }

    public func traceHeader(sampleIntervalMs: Int64 = 100) -> TraceHeaderInfo {
        TraceHeaderInfo(sampleIntervalMs: sampleIntervalMs, panels: panelCount,
                        beamSpacingMm: Int64((scenario.lane.beamSpacingM * 1000).rounded()), panelLabels: scenario.lane.panelLabels)
    }
}

public struct TraceHeaderInfo: Sendable {
    public var sampleIntervalMs: Int64
    public var panels: Int
    public var beamSpacingMm: Int64
    public var panelLabels: [String]
}
