// `lane-agent run`: the 100 ms tick on an absolute monotonic timer. Each tick drains the beam
// edges, takes the poll thread's latest panel snapshot, runs the engine, sets the outputs and
// hands events to a bounded queue that a writer thread prints. The tick never waits on I/O.

import Foundation
import Histogram
import LaneCore
import LaneHAL
import LaneTrace

public enum AgentEvent: Sendable {
    case started(occupancy: UInt32, tUs: Int64)
    case alarm(occupancy: UInt32, gamma: Bool, neutron: Bool)
    case decision(Decision)
}

/// Events from the tick to the thread that prints them.
public typealias EventQueue = BoundedQueue<AgentEvent>

public struct RunStats: Sendable {
    /// Lateness of each tick against its absolute deadline, and how long its work took,
    /// microseconds (HdrHistogram: recording never allocates).
    public var lateness = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .two)
    public var duration = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .two)
    public var ticks: Int64 = 0
    public var missedTicks: Int64 = 0
    /// Monotonic time of the first tick (for start-up time).
    public var firstTickUs: Int64 = 0

    static func summary(_ h: Histogram<UInt64>) -> String {
        "p50 \(h.valueAtPercentile(50)) us, p99 \(h.valueAtPercentile(99)) us, p99.9 \(h.valueAtPercentile(99.9)) us, max \(h.max) us"
    }
    public var latenessSummary: String { Self.summary(lateness) }
    public var durationSummary: String { Self.summary(duration) }
    public var maxLatenessUs: Int64 = 0
    /// Heap allocations on the tick thread after the warm-up ticks (when counted), the ticks
    /// they were counted over, and the first tick that allocated (0: none).
    public var tickAllocations: UInt64 = 0
    /// Counting starts once the lane has settled: after the warm-up ticks and after the first
    /// occupancy that raised an alarm has been decided (every rare path of the tick has run
    /// once, and the Swift runtime's one-time type metadata for it is in place).
    public var settled = false
    public var allocationCountedTicks: Int64 = 0
    public var firstAllocatingTick: Int64 = 0
    public var edgeDrops = 0
    public var decisions = 0
}

public enum LaneAgentVersion {
    public static let string: StaticString = "0.1.0"
}

public final class LaneRunner: @unchecked Sendable {
    public let profile: BoardProfile
    /// Where records go (nil: the profile keeps no journal).
    public var records: RecordQueue?
    /// The VM-250-style text stream (nil: off).
    public var vm250: VM250Server?
    let lines: DigitalLines
    let poller: PanelPoller
    public let events = EventQueue(capacity: 256)
    /// The console's window on the tick (a view published every tick, a request queue).
    public let monitor = LaneMonitor()
    /// The poll thread (the console's panel figures and its Modbus requests go through it).
    public var panels: PanelPoller { poller }
    public private(set) var stats = RunStats()
    var settledAfterTick = false
    /// One round of panel polls: the last and the longest (the poll thread measures it).
    public var pollCycleUs: (last: Int64, max: Int64) { poller.lock.lock(); defer { poller.lock.unlock() }; return poller.pollCycleUs }
    let stopFlag: @Sendable () -> Bool
    /// Reads the calling thread's allocation count (the lane-agent executable interposes the
    /// allocator); nil: not counted.
    public var threadAllocations: (@convention(c) () -> UInt64)? = nil
    /// Ticks before allocation counting starts (connections, first records, lazy set-up).
    public static let allocationWarmupTicks: Int64 = 50

    public init(profile: BoardProfile, stop: @escaping @Sendable () -> Bool, log: @escaping (String) -> Void) throws {
        precondition(LaneOutput.count == 5, "the tick's and the view's output arrays hold 5 outputs")
        self.profile = profile
        self.stopFlag = stop
        switch profile.gpio {
        case let .sim(socket):
            let c = SimGPIOClient(path: socket)
            c.ensureConnected()
            lines = c
        case let .gpiod(cfg):
            do { lines = try GPIODLines(cfg) } catch { throw ProfileError("\(profile.file): gpio: \(error.message)") }
        }
        poller = PanelPoller(profile: profile, log: log)
    }

    /// Runs until `stop` says so or `durationUs` has passed. Blocks the calling thread (the tick).
    public func run(durationUs: Int64?, log: (String) -> Void = { _ in }) throws {
        if profile.lockMemory { log(RealTime.lockMemory()) }
        if let p = profile.realtimePriority { log(RealTime.fifo(priority: p)) }
        let settings = profile.engine
        var engine = LaneEngine(settings: settings)
        let period = settings.sampleIntervalUs
        let origin = MonotonicClock.nowUs()
        try poller.start(originUs: origin, stop: stopFlag)

        // Everything the tick touches is allocated here, before the first tick.
        let n = settings.panelCount
        var slots = Array(repeating: PanelSlot(), count: n)
        var used = Array(repeating: PanelSlot(), count: n)
        var edges = EdgeBuffer()
        var lastSampleUs: Int64 = -1
        var lastOccupancy: UInt32 = 0
        var alarmReported = (gamma: false, neutron: false)
        var gammaLightUntilUs: Int64 = 0, neutronLightUntilUs: Int64 = 0
        var sirenUntilUs: Int64 = 0, cameraUntilUs: Int64 = 0
        var k: Int64 = 0
        var batch = SampleBatch(panels: n, nominalIntervalUs: period)
        var lastFaultBits: UInt32 = 0
        var vmGamma: InlineArray<4, Int64> = [0, 0, 0, 0]
        var vmNeutron: InlineArray<4, Int64> = [0, 0, 0, 0]
        var vmHalf = 0
        var tamper = false
        // The console's view, and the tick's side of alarm acknowledgement and output tests.
        var view = LaneView()
        view.originUs = origin
        view.settings = settings
        var sirenUs = profile.sirenUs, lightHoldUs = profile.alarmLightHoldUs
        var pendingSettings: (EngineSettings, Int64, Int64)? = nil
        var forcedUntilUs: InlineArray<5, Int64> = InlineArray(repeating: 0)
        var forcedLevel: InlineArray<5, Bool> = InlineArray(repeating: false)
        var maintenanceUntilUs: Int64 = 0
        var clearedOccupancy: UInt32 = 0
        var clearedKinds = (gamma: false, neutron: false)
        var ring1s = Array(repeating: PanelValues(repeating: 0), count: 30)  // gamma, low, neutron x 10 samples
        var ring1sUs = InlineArray<10, Int64>(repeating: 0)
        var ring1sNext = 0
        let bgTicks: Int64 = 5_000_000 / period  // GB/NB every 5 s while empty
        let periodicTicks: Int64 = 60_000_000 / period  // background and heartbeat once a minute

        for o in LaneOutput.allCases { lines.set(o, false) }
        while !stopFlag() {
            k += 1
            let deadline = origin + k * period
            if let d = durationUs, deadline - origin > d { break }
            MonotonicClock.sleep(untilUs: deadline)
            let now = MonotonicClock.nowUs()
            let allocationsBefore = threadAllocations?() ?? 0
            let late = now - deadline
            _ = stats.lateness.record(UInt64(max(0, late)))
            if stats.firstTickUs == 0 { stats.firstTickUs = now }
            defer {
                _ = stats.duration.record(UInt64(max(0, MonotonicClock.nowUs() - now)))
                if let count = threadAllocations, k > Self.allocationWarmupTicks && stats.settled {
                    let made = count() &- allocationsBefore
                    stats.tickAllocations &+= made
                    stats.allocationCountedTicks += 1
                    if made > 0 && stats.firstAllocatingTick == 0 { stats.firstAllocatingTick = k }
                }
                if settledAfterTick { stats.settled = true; settledAfterTick = false }
            }
            stats.ticks += 1
            if late > stats.maxLatenessUs { stats.maxLatenessUs = late }
            if late >= period {  // whole periods lost: count them and keep the grid
                stats.missedTicks += late / period
                k += late / period
            }

            func clearLights() {
                gammaLightUntilUs = 0
                neutronLightUntilUs = 0
                clearedOccupancy = lastOccupancy
                clearedKinds = (engine.gammaAlarmActive, engine.neutronAlarmActive)
            }
            // 0. Console requests (a handful at most; the queue is bounded).
            while let r = monitor.requests.tryPop() {
                view.requestsApplied += 1
                switch r {
                case let .acknowledge(number):
                    var silenced = false, cleared = false
                    for i in 0..<view.alarmCount {
                        let j = (view.alarmsTotal - view.alarmCount + i) % LaneView.alarmsMax
                        guard number == nil || view.alarms[j].number == number else { continue }
                        switch view.alarms[j].state {
                        case .active: view.alarms[j].state = .silenced; silenced = true
                        case .silenced: view.alarms[j].state = .cleared; cleared = true
                        case .cleared: break
                        }
                    }
                    if silenced { sirenUntilUs = 0 }
                    if cleared && !silenced { clearLights() }
                case .resetAlarms:
                    for i in 0..<view.alarmCount {
                        view.alarms[(view.alarmsTotal - view.alarmCount + i) % LaneView.alarmsMax].state = .cleared
                    }
                    sirenUntilUs = 0
                    clearLights()
                case let .forceOutput(o, on, until):
                    forcedUntilUs[o.rawValue] = until
                    forcedLevel[o.rawValue] = on
                case .releaseOutputs:
                    for i in 0..<LaneOutput.count { forcedUntilUs[i] = 0 }
                case let .maintenance(until):
                    maintenanceUntilUs = until
                case let .settings(e, siren, hold):
                    pendingSettings = (e, siren, hold)
                }
            }
            if let p = pendingSettings, !engine.isOccupied {
                if engine.update(settings: p.0) {
                    sirenUs = p.1
                    lightHoldUs = p.2
                    view.settings = p.0
                }
                pendingSettings = nil
            }

            // 1. Beam edges, oldest first (two lines may interleave).
            edges.removeAll()
            stats.edgeDrops += lines.drainEdges(into: &edges)
            sortEdges(&edges)
            for i in 0..<edges.count {
                let e = edges.edges[i]
                if let d = engine.beamEdge(e) { finished(d); view.lastDecision = d }
                view.edges[view.edgeCount % LaneView.edgesMax] = RecentEdge(tUs: e.tUs, beam: e.beam, blocked: e.blocked)
                view.edgeCount += 1
                if e.beam >= 0 && e.beam < 2 && view.beamBlocked[e.beam] != e.blocked {
                    view.beamBlocked[e.beam] = e.blocked
                    view.beamChangedUs[e.beam] = e.tUs
                    view.beamChanges[e.beam] += 1
                }
            }

            // 2. Counts since the last sample, from the poll thread's snapshot.
            poller.snapshot(into: &slots)
            var sample = LaneSample(tUs: 0, intervalUs: 0)
            var fresh = 0
            var faults = Faults()
            var newestUs: Int64 = 0
            for p in 0..<n {
                let s = slots[p]
                if s.consecutiveErrors >= profile.panelSilentAfterPolls || s.sequence == 0 { faults.insert(.panelSilent) }
                if s.sequence != 0 && s.reading.status & profile.registerMap.statusOkMask != profile.registerMap.statusOkMask {
                    faults.insert(.panelStatus)
                }
                if s.sequence != used[p].sequence {
                    if used[p].sequence != 0 {
                        let d = CounterDelta(from: used[p].reading, to: s.reading)
                        sample.gamma[p] = d.gamma
                        sample.gammaLow[p] = d.gammaLow
                        sample.neutron[p] = d.neutron
                        fresh += 1
                    }
                    used[p] = s
                    if s.polledUs > newestUs { newestUs = s.polledUs }
                }
            }
            if now < maintenanceUntilUs { faults.insert(.maintenance) }
            engine.hardwareFaults = faults
            if fresh > 0 {
                sample.tUs = newestUs
                sample.intervalUs = lastSampleUs < 0 ? period : newestUs - lastSampleUs
                if sample.intervalUs <= 0 { sample.intervalUs = period }
                lastSampleUs = newestUs
                if let d = engine.sample(sample) { finished(d); view.lastDecision = d }
                ring1s[ring1sNext] = sample.gamma
                ring1s[10 + ring1sNext] = sample.gammaLow
                ring1s[20 + ring1sNext] = sample.neutron
                ring1sUs[ring1sNext] = sample.intervalUs
                ring1sNext = (ring1sNext + 1) % 10
                if let vm250 {
                    for p in 0..<min(4, n) {
                        vmGamma[p] += Int64(sample.gamma[p])
                        vmNeutron[p] += Int64(sample.neutron[p])
                    }
                    vmHalf += 1
                    if vmHalf == 2 {
                        if engine.isOccupied {
                            vm250.push(VMEvent(engine.gammaAlarmActive ? .ga : .gs, vmGamma[0], vmGamma[1], vmGamma[2], vmGamma[3]))
                            vm250.push(VMEvent(engine.neutronAlarmActive ? .na : .ns, vmNeutron[0], vmNeutron[1], vmNeutron[2], vmNeutron[3]))
                        }
                        vmGamma = [0, 0, 0, 0]
                        vmNeutron = [0, 0, 0, 0]
                        vmHalf = 0
                    }
                }
                if let records {
                    _ = batch.append(sample)
                    if batch.isFull {
                        records.push(.samples(batch), monotonicUs: batch.firstTUs, wallUs: wallClockUs(), commit: false)
                        batch.removeAll()
                    }
                }
            } else if let d = engine.sample(LaneSample(tUs: now, intervalUs: period)) {
                // No panel answered: an empty sample keeps the occupancy's hold-in running.
                finished(d)
                view.lastDecision = d
            }

            // 3. Events and outputs.
            if engine.isOccupied && engine.occupancyCount != lastOccupancy {
                lastOccupancy = engine.occupancyCount
                alarmReported = (false, false)
                cameraUntilUs = now + 500_000
                events.push(.started(occupancy: lastOccupancy, tUs: engine.currentOccupancyStartUs ?? now))
            }
            if engine.gammaAlarmActive || engine.neutronAlarmActive {
                if (engine.gammaAlarmActive && !alarmReported.gamma) || (engine.neutronAlarmActive && !alarmReported.neutron) {
                    if !alarmReported.gamma && !alarmReported.neutron { sirenUntilUs = now + sirenUs }
                    // A real alarm ends any output test at once.
                    for i in 0..<LaneOutput.count { forcedUntilUs[i] = 0 }
                    let newGamma = engine.gammaAlarmActive && !alarmReported.gamma
                    let newNeutron = engine.neutronAlarmActive && !alarmReported.neutron
                    if newGamma || newNeutron {
                        view.alarmsTotal += 1
                        view.alarms[(view.alarmsTotal - 1) % LaneView.alarmsMax] = RecentAlarm(
                            number: view.alarmsTotal, occupancy: lastOccupancy, gamma: newGamma, neutron: newNeutron,
                            tUs: now, wallUs: wallClockUs(), state: .active)
                        if view.alarmCount < LaneView.alarmsMax { view.alarmCount += 1 }
                    }
                    alarmReported = (alarmReported.gamma || engine.gammaAlarmActive, alarmReported.neutron || engine.neutronAlarmActive)
                    events.push(.alarm(occupancy: lastOccupancy, gamma: engine.gammaAlarmActive, neutron: engine.neutronAlarmActive))
                    records?.push(.alarm(AlarmRecord(occupancy: lastOccupancy, kind: engine.gammaAlarmActive ? 0 : 1, tUs: now, sigmaQ8: 0)),
                                  monotonicUs: now, wallUs: wallClockUs(), commit: true)
                }
            }
            var allFaults = faults
            if !engine.background.isReady(settings) { allFaults.insert(.backgroundNotReady) }
            if let vm250 {
                func cps(_ q16: Int64) -> Int64 { (q16 * 1_000_000 / period + 32_768) >> 16 }
                let bg = engine.background
                let g0 = cps(bg.gammaQ16[0]), g1 = n > 1 ? cps(bg.gammaQ16[1]) : 0, g2 = n > 2 ? cps(bg.gammaQ16[2]) : 0, g3 = n > 3 ? cps(bg.gammaQ16[3]) : 0
                if !engine.isOccupied && k % bgTicks == 0 && bg.isReady(settings) {
                    vm250.push(VMEvent(.gb, g0, g1, g2, g3))
                    vm250.push(VMEvent(.nb, cps(bg.neutronQ16[0]), n > 1 ? cps(bg.neutronQ16[1]) : 0,
                                       n > 2 ? cps(bg.neutronQ16[2]) : 0, n > 3 ? cps(bg.neutronQ16[3]) : 0))
                }
                let changed = allFaults.bits ^ lastFaultBits
                if changed & Faults.backgroundHigh.bits != 0 && allFaults.contains(.backgroundHigh) { vm250.push(VMEvent(.gh, g0, g1, g2, g3)) }
                if changed & Faults.backgroundLow.bits != 0 && allFaults.contains(.backgroundLow) { vm250.push(VMEvent(.gl, g0, g1, g2, g3)) }
                var tamperNow = false
                for p in 0..<n where slots[p].sequence != 0 && slots[p].reading.status & profile.registerMap.tamperMask != 0 { tamperNow = true }
                if tamperNow != tamper {
                    tamper = tamperNow
                    vm250.push(VMEvent(tamper ? .tt : .tc))
                }
            }
            if allFaults.bits != lastFaultBits {
                records?.push(.fault(FaultRecord(bits: allFaults.bits, changed: allFaults.bits ^ lastFaultBits, panel: 255)),
                              monotonicUs: now, wallUs: wallClockUs(), commit: true)
                lastFaultBits = allFaults.bits
            }
            if let records, k == 1 || k % periodicTicks == 0 {
                if !engine.isOccupied {
                    records.push(.background(BackgroundRecord(engine.background, panels: n)), monotonicUs: now, wallUs: wallClockUs(), commit: false)
                }
                records.push(.heartbeat(HeartbeatRecord(
                    softwareVersion: ShortText(LaneAgentVersion.string), profileHash: profile.hash, uptimeS: UInt64((now - origin) / 1_000_000),
                    ticks: UInt64(stats.ticks), missedTicks: UInt64(stats.missedTicks), maxLatenessUs: UInt64(stats.maxLatenessUs),
                    latenessP50Us: UInt64(view.latenessP50Us), latenessP999Us: UInt64(view.latenessP999Us), workP999Us: stats.duration.valueAtPercentile(99.9))),
                    monotonicUs: now, wallUs: wallClockUs(), commit: false)
            }
            let clearedHere = clearedOccupancy == lastOccupancy && engine.isOccupied
            if engine.gammaAlarmActive && !(clearedHere && clearedKinds.gamma) { gammaLightUntilUs = now + lightHoldUs }
            if engine.neutronAlarmActive && !(clearedHere && clearedKinds.neutron) { neutronLightUntilUs = now + lightHoldUs }
            var levels: InlineArray<5, Bool> = InlineArray(repeating: false)
            levels[LaneOutput.gammaLight.rawValue] = now < gammaLightUntilUs
            levels[LaneOutput.neutronLight.rawValue] = now < neutronLightUntilUs
            levels[LaneOutput.siren.rawValue] = now < sirenUntilUs
            levels[LaneOutput.camera.rawValue] = now < cameraUntilUs
            levels[LaneOutput.faultLight.rawValue] = !allFaults.subtracting(.maintenance).isEmpty
            for i in 0..<LaneOutput.count {  // not allCases: that builds an array every time
                let o = LaneOutput(rawValue: i)!
                view.outputForced[i] = now < forcedUntilUs[i] ? (forcedLevel[i] ? 1 : 0) : -1
                if now < forcedUntilUs[i] { levels[i] = forcedLevel[i] }
                lines.set(o, levels[i])
                view.outputs[i] = levels[i]
            }

            // 4. The console's view of this tick.
            view.nowUs = now
            view.ticks = stats.ticks
            view.missedTicks = stats.missedTicks
            view.maxLatenessUs = stats.maxLatenessUs
            if k % 10 == 1 {
                view.latenessP50Us = Int64(stats.lateness.valueAtPercentile(50))
                view.latenessP99Us = Int64(stats.lateness.valueAtPercentile(99))
                view.latenessP999Us = Int64(stats.lateness.valueAtPercentile(99.9))
                view.durationP50Us = Int64(stats.duration.valueAtPercentile(50))
                view.durationP99Us = Int64(stats.duration.valueAtPercentile(99))
                view.durationMaxUs = Int64(stats.duration.max)
            }
            view.edgeDrops = stats.edgeDrops
            view.tickAllocations = stats.tickAllocations
            view.allocationCountedTicks = threadAllocations == nil ? -1 : stats.allocationCountedTicks
            view.decisions = stats.decisions
            view.occupied = engine.isOccupied
            view.occupancyCount = engine.occupancyCount
            view.occupancyStartUs = engine.currentOccupancyStartUs ?? 0
            view.gammaAlarmActive = engine.gammaAlarmActive
            view.neutronAlarmActive = engine.neutronAlarmActive
            view.faults = allFaults
            view.background = engine.background
            view.sirenUs = sirenUs
            view.alarmLightHoldUs = lightHoldUs
            view.settingsPending = pendingSettings != nil
            view.maintenanceUntilUs = maintenanceUntilUs
            var w: Int64 = 0
            for j in 0..<10 { w += ring1sUs[j] }
            view.window1sUs = w
            for p in 0..<n {
                var g: UInt32 = 0, l: UInt32 = 0, nn: UInt32 = 0
                for j in 0..<10 { g &+= ring1s[j][p]; l &+= ring1s[10 + j][p]; nn &+= ring1s[20 + j][p] }
                view.gamma1s[p] = g
                view.gammaLow1s[p] = l
                view.neutron1s[p] = nn
            }
            view.published = true
            if !monitor.publish(view) { view.viewSkips += 1 }
        }
        if let d = engine.finish(atUs: MonotonicClock.nowUs()) { finished(d) }
        if let records, batch.count > 0 {
            records.push(.samples(batch), monotonicUs: batch.firstTUs, wallUs: wallClockUs(), commit: true)
        }
        for o in LaneOutput.allCases { lines.set(o, false) }
    }

    func finished(_ d: Decision) {
        stats.decisions += 1
        if d.gammaAlarm || d.neutronAlarm { settledAfterTick = true }
        // Committed to the journal before the decision is reported anywhere.
        records?.push(.occupancy(d), monotonicUs: d.endUs, wallUs: wallClockUs(), commit: true)
        events.push(.decision(d))
        if let vm250 {
            if let v = d.speedMmPerS { vm250.push(VMEvent(.sp, v)) }
            let neutronBgMilliCps = d.neutronMaxBackgroundQ16 > 0 && d.neutronWindowSamples > 0
                ? (d.neutronMaxBackgroundQ16 * 1_000 / Int64(d.neutronWindowSamples) * 1_000_000 / profile.engine.sampleIntervalUs) >> 16 : 0
            vm250.push(VMEvent(.gx, Int64(d.occupancy), neutronBgMilliCps, max(0, Q8.hundredths(d.gammaMaxSigmaQ8)), 0))
        }
    }

    /// Insertion sort by time: at most a few edges per tick, no allocation.
    func sortEdges(_ b: inout EdgeBuffer) {
        guard b.count > 1 else { return }
        var tmp = EdgeBuffer()
        for i in 0..<b.count {
            let e = b.edges[i]
            _ = tmp.append(e)
            var j = tmp.count - 1
            while j > 0 && tmp.edges[j - 1].tUs > e.tUs {
                tmp.swapAt(j, j - 1)
                j -= 1
            }
        }
        b = tmp
    }
}
