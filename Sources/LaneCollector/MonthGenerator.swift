// A simulated month of one lane, straight into a store (`lane-collector simulate`): the real
// LaneController ticked on virtual time with Poisson counts from four panels, trucks through the
// beams (clean, NORM loads, a few Cs-137 and Cf-252 sources), a panel that falls silent now and
// then, an agent restart that restores its kept background; every record it writes is framed and
// stored exactly as the collector stores what arrives. For trying the threshold study without a
// lane, for its tests, and for measuring it on a full month (docs/SHARING.md, docs/PERFORMANCE.md).

import Foundation
import LaneAgent
import LaneCore
import LaneHAL

public struct MonthGenerator {
    public struct Options: Sendable {
        public var lane = "PORT/LANE-01"
        public var epoch: UInt64 = 0x5EED_0000_0000_0001
        /// Wall clock of the first day's start (Unix µs).
        public var startWallUs: Int64 = 1_793_491_200_000_000  // 2026-11-01T00:00:00Z
        public var days = 30
        public var trucksPerDay = 288
        /// Lane time per day, seconds: 86,400 runs the lane all day; less compresses each day's
        /// traffic into that much lane time from 08:00 (the wall clock then jumps to the next day).
        public var laneSecondsPerDay = 86_400
        public var seed: UInt64 = 1
        /// NORM load every n-th truck, a Cs-137 source every n-th, a Cf-252 every n-th.
        public var normEvery = 15
        public var cesiumEvery = 61
        public var californiumEvery = 97
        /// The day (1-based) the agent restarts, restoring the background it kept (0: never).
        public var restartDay = 15
        /// Panel 4 falls silent for `silentMinutes` on these days (1-based).
        public var silentDays: [Int] = [7, 14, 21, 28]
        public var silentMinutes = 5
        public init() {}
    }

    public struct Summary: Sendable {
        public var records = 0
        public var samples = 0
        public var occupancies = 0
        public var alarms = 0
        public var normSuspect = 0
    }

    struct Sink: LaneSink {
        var out: [(Record, Int64, Int64)] = []
        var kept: Background? = nil
        mutating func record(_ r: Record, monotonicUs: Int64, wallUs: Int64, commit: Bool) { out.append((r, monotonicUs, wallUs)) }
        mutating func event(_ e: AgentEvent) {}
        mutating func vm250(_ e: VMEvent) {}
        mutating func keepBackground(_ b: Background, norm: NormLearner, spectral: SpectralState, shielding: ShieldingLearner, wallUs: Int64) { kept = b }
    }

    var o: Options
    var rng: UInt64
    var controller: LaneController
    var sink = Sink()
    var slots = Array(repeating: PanelSlot(), count: 4)
    var nowUs: Int64 = 0
    var wallOffsetUs: Int64 = 0
    var sequence: UInt64 = 0
    var encoder = RecordEncoder()
    var frame = [UInt8](repeating: 0, count: RecordFormat.frameMax)
    var summary = Summary()
    let db: Database

    static let settings: EngineSettings = EngineSettings()
    static func makeController(originUs: Int64) -> LaneController {
        LaneController(settings: settings,
                       config: .init(panelSilentAfterPolls: 5, status: StatusMasks(ok: 0x0001, tamper: 0x0004, fault: 0x0010),
                                     keepsRecords: true, vm250: false, profileHash: 0x51),
                       sirenUs: 5_000_000, lightHoldUs: 10_000_000, originUs: originUs)
    }

    public init(db: Database, options: Options) {
        self.db = db
        o = options
        rng = options.seed &* 0x9E37_79B9_7F4A_7C15 | 1
        controller = Self.makeController(originUs: 0)
    }

    // Its own small generator, not LaneSimCore's SeededRandom: the collector library does not pull
    // the simulator's physics into every build that links it (the fuzz build's time in make test).
    mutating func uniform() -> Double {
        rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(rng >> 11) / Double(1 << 53)
    }

    mutating func poisson(_ mean: Double) -> UInt32 {
        if mean > 30 {
            let u1 = max(uniform(), 1e-12), u2 = uniform()
            return UInt32(max(0, (mean + (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2) * mean.squareRoot()).rounded()))
        }
        let l = exp(-mean)
        var k: UInt32 = 0
        var p = 1.0
        repeat { k += 1; p *= uniform() } while p > l
        return k - 1
    }

    /// Frames and stores what the controller wrote this tick (one transaction per `flush`).
    mutating func drain() throws {
        for (r, mono, wall) in sink.out {
            sequence += 1
            let h = FrameHeader(epoch: o.epoch, sequence: sequence, monotonicUs: mono, wallUs: wall)
            let n = frame.withUnsafeMutableBufferPointer { encoder.encode(r, header: h, into: $0.baseAddress!, capacity: $0.count) }!
            _ = try db.store(lane: o.lane, header: h, record: r, frame: Array(frame.prefix(n)))
            summary.records += 1
            switch r {
            case let .samples(b): summary.samples += b.count
            case let .occupancy(d):
                summary.occupancies += 1
                if d.gammaAlarm || d.neutronAlarm { summary.alarms += 1 }
                if d.normSuspect { summary.normSuspect += 1 }
            default: break
            }
        }
        sink.out.removeAll(keepingCapacity: true)
    }

    /// One tick of 100 ms: each panel's counters advance by Poisson counts of the background
    /// (shielded by the truck in the lane) plus the source at its distance.
    mutating func tick(edges: [BeamEdge], extraGamma: Double, lowShare: Double, extraNeutron: Double, shielding: Double, silent: Bool) throws {
        nowUs += 100_000
        for p in 0..<4 {
            if silent && p == 3 { slots[p].consecutiveErrors += 1; slots[p].errors += 1; continue }
            let bgLow = 1_000.0 * shielding / 10, bgHigh = 800.0 * shielding / 10
            let low = poisson(bgLow + extraGamma * lowShare / 10), high = poisson(bgHigh + extraGamma * (1 - lowShare) / 10)
            slots[p].reading.gammaTotal &+= low + high
            slots[p].reading.gammaLow &+= low
            slots[p].reading.neutron &+= poisson((2.5 + extraNeutron) / 10)
            slots[p].reading.status = 0x0001
            slots[p].sequence += 1
            slots[p].polledUs = nowUs - 20_000
            slots[p].consecutiveErrors = 0
        }
        var buffer = EdgeBuffer()
        for e in edges { _ = buffer.append(e) }
        _ = controller.tick(TickClock(nowUs: nowUs, wallUs: nowUs + wallOffsetUs), edges: buffer, slots: slots, outputFailures: 0, sink: &sink)
        try drain()
    }

    /// Runs the month; returns what it stored.
    public mutating func run() throws -> Summary {
        let dayUs: Int64 = 86_400_000_000
        let laneDayUs = Int64(o.laneSecondsPerDay) * 1_000_000
        let gapUs = laneDayUs / Int64(max(1, o.trucksPerDay))
        var truck = 0
        for day in 0..<o.days {
            // The wall clock of this day's first tick: midnight (a whole day) or 08:00.
            let dayStartWall = o.startWallUs + Int64(day) * dayUs + (laneDayUs >= dayUs ? 0 : 8 * 3_600_000_000)
            try db.begin(partitionsFor: [dayStartWall, dayStartWall + laneDayUs])
            do {
                wallOffsetUs = dayStartWall - nowUs
                if day + 1 == o.restartDay {
                    // The agent stops (deciding what is in progress) and starts again with the
                    // background it kept on disk, as a power cut and a restart do.
                    controller.finish(TickClock(nowUs: nowUs, wallUs: nowUs + wallOffsetUs), sink: &sink)
                    try drain()
                    let kept = sink.kept
                    nowUs += 30_000_000
                    controller = Self.makeController(originUs: nowUs)
                    if let kept { controller.restore(background: kept, ageUs: 30_000_000) }
                }
                let dayEndUs = nowUs + laneDayUs
                let silentFromUs = o.silentDays.contains(day + 1) ? nowUs + laneDayUs / 3 : Int64.max
                let silentToUs = silentFromUs == Int64.max ? Int64.max : silentFromUs + Int64(o.silentMinutes) * 60_000_000
                var nextTruckUs = nowUs + gapUs / 2
                while nowUs + 100_000 <= dayEndUs {
                    let silent = nowUs >= silentFromUs && nowUs < silentToUs
                    guard nowUs + 100_000 >= nextTruckUs, nextTruckUs + 12_000_000 <= dayEndUs else {
                        try tick(edges: [], extraGamma: 0, lowShare: 0.55, extraNeutron: 0, shielding: 1, silent: silent)
                        continue
                    }
                    // A truck: 2.2 m/s, 16 m, beams 1.5 m apart; its load's counts rise and fall
                    // as it passes (a triangle over its length).
                    truck += 1
                    let speed = 1.6 + uniform() * 1.4
                    let t0 = nowUs + 50_000, dt1 = Int64(1.5 / speed * 1e6), dur = Int64(16 / speed * 1e6)
                    var edges = [BeamEdge(tUs: t0, beam: 0, blocked: true), BeamEdge(tUs: t0 + dt1, beam: 1, blocked: true),
                                 BeamEdge(tUs: t0 + dur, beam: 0, blocked: false), BeamEdge(tUs: t0 + dt1 + dur, beam: 1, blocked: false)]
                    var peak = 0.0, share = 0.55, neutron = 0.0
                    if truck % o.cesiumEvery == 0 { peak = 400 + uniform() * 500; share = 0.75 }
                    else if truck % o.californiumEvery == 0 { neutron = 30 + uniform() * 40 }
                    else if truck % o.normEvery == 0 { peak = 80 + uniform() * 400; share = 0.30 + uniform() * 0.15 }
                    let end = t0 + dt1 + dur + 2_500_000
                    while nowUs < end {
                        let now = nowUs + 100_000
                        var due: [BeamEdge] = []
                        while let e = edges.first, e.tUs <= now { due.append(e); edges.removeFirst() }
                        let x = Double(now - t0) / Double(dur)
                        let inside = x >= 0 && x <= 1
                        let shape = inside ? 1 - abs(2 * x - 1) : 0
                        try tick(edges: due, extraGamma: peak * shape, lowShare: share, extraNeutron: neutron * shape, shielding: inside ? 0.9 : 1,
                                 silent: now >= silentFromUs && now < silentToUs)
                    }
                    nextTruckUs += gapUs
                }
                try db.commit()
            } catch {
                db.rollback()
                throw error
            }
        }
        try db.begin(partitionsFor: [nowUs + wallOffsetUs])
        controller.finish(TickClock(nowUs: nowUs, wallUs: nowUs + wallOffsetUs), sink: &sink)
        try drain()
        try db.commit()
        return summary
    }
}
