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
    /// A late OCR read amended a decision already sent, or a read fitted no occupancy.
    case ocr(OCRRecord)
    /// Lane faults changed (raised and cleared this tick; the panels now left out of detection).
    case faults(active: Faults, raised: Faults, cleared: Faults, excludedPanels: UInt32)
    /// One panel's own faults changed (`panel` counts from 0); its last status word.
    case panelFaults(panel: Int, active: Faults, raised: Faults, cleared: Faults, statusWord: UInt16)
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
    /// The uplink runs without TLS (every heartbeat says so).
    public var insecureUplink = false
    /// When the process started (monotonic), for the start-up time in the log.
    public var processStartUs: Int64? = nil
    /// Whether the journal's storage is failing (the journal writer's atomic flag; nil: no
    /// journal). Read every tick; raises the lane's storageFailed fault.
    public var storageFailing: (@Sendable () -> Bool)? = nil
    /// The VM-250-style text stream (nil: off).
    public var vm250: VM250Server?
    /// The gate OCR's connection (nil: none).
    public var ocr: OCRInput?
    /// Keeps the learned background on disk (nil: learned afresh at every start).
    public var backgroundKeeper: BackgroundKeeper?
    /// The service manager (systemd's notify socket and watchdog; docs/BOARDS.md). Does nothing
    /// when the agent was not started by it.
    public var notifier: SystemdNotifier?
    public private(set) var watchdog: WatchdogPetting?
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
        precondition(LaneOutput.count == 6, "the tick's and the view's output arrays hold 6 outputs")
        self.profile = profile
        self.stopFlag = stop
        lines = try Self.openLines(profile, log: log)
        poller = PanelPoller(profile: profile, log: log)
    }

    /// The board's beams and outputs (the outputs at their safe levels from the moment they are requested).
    public static func openLines(_ profile: BoardProfile, log: (String) -> Void) throws -> DigitalLines {
        switch profile.gpio {
        case let .sim(socket):
            let c = SimGPIOClient(path: socket)
            c.ensureConnected()
            // Not fatal (the simulator may start later; retried every second), but never silent:
            // the log says so now, and the outputFailed fault stays raised until it connects.
            if !c.isConnected { log("gpio: the simulator's GPIO socket \(socket) is not reachable (retrying every second)") }
            return c
        case let .gpiod(cfg):
            do { return try GPIODLines(cfg) } catch { throw ProfileError("\(profile.file): gpio: \(error.message)") }
        }
    }

    /// Sets every output to its safe level and says which writes failed (`lane-agent
    /// safe-outputs`, the unit's ExecStopPost after the agent stopped or was killed).
    public static func setSafeOutputs(_ lines: DigitalLines) -> [LaneOutput] {
        var failed: [LaneOutput] = []
        for o in LaneOutput.allCases where !lines.set(o, o.safeLevel) { failed.append(o) }
        return failed
    }

    /// Runs until `stop` says so or `durationUs` has passed. Blocks the calling thread (the tick).
    /// The lane's behaviour is `LaneController.tick`; this loop only keeps time and moves data:
    /// it drains the edges, the panels' snapshot and the console's requests into the controller
    /// and writes the levels it returns.
    public func run(durationUs: Int64?, log: (String) -> Void = { _ in }) throws {
        if profile.lockMemory { log(RealTime.lockMemory()) }
        if let p = profile.realtimePriority { log(RealTime.fifo(priority: p)) }
        let settings = profile.engine
        let period = settings.sampleIntervalUs
        let origin = MonotonicClock.nowUs()
        try poller.start(originUs: origin, stop: stopFlag)

        // Everything the tick touches is allocated here, before the first tick.
        var config = LaneController.Config(panelSilentAfterPolls: profile.panelSilentAfterPolls, status: profile.registerMap.statusMasks,
                                           keepsRecords: records != nil, vm250: vm250 != nil, profileHash: profile.hash)
        config.beamStuckAfterUs = profile.console.beamStuckAfterUs
        config.insecureUplink = insecureUplink
        if let o = profile.ocr { config.ocr = o.matching }
        var controller = LaneController(
            settings: settings,
            config: config,
            sirenUs: profile.sirenUs, lightHoldUs: profile.alarmLightHoldUs, originUs: origin)
        var sink = QueueSink(records: records, events: events, vm250: vm250, keeper: backgroundKeeper)
        if let keeper = backgroundKeeper {
            let kept = BackgroundStore.load(keeper.path, settings: settings, nowWallUs: wallClockUs())
            switch kept?.background {
            case nil: log("background: no background kept at \(keeper.path); learning afresh")
            case let .failure(e)?: log("background: not restored from \(keeper.path): \(e); learning afresh")
            case let .success((b, age))?:
                controller.restore(background: b, ageUs: age)
                log("background: restored from \(keeper.path), saved \(age / 1_000_000) s ago (\(b.samplesLearned) samples learned)")
            }
            switch kept?.norm {
            case let .success(n?)?:
                controller.restore(normLearner: n)
                log("NORM: restored what the lane learned of \(n.learned) loads (\(n.held) held)")
            case let .failure(e)?: log("NORM: what the lane learned of its NORM loads not restored: \(e); learning afresh")
            default: break
            }
            switch kept?.spectral {
            case let .success(sp?)?:
                controller.restore(spectral: sp)
                log("spectral test: restored what the lane learned of \(sp.loads) NORM loads over \(settings.spectralWindowCount) windows\(sp.isReady ? " (ready)" : "")")
            case let .failure(e)?: log("spectral test: what the lane learned not restored: \(e); learning afresh")
            default: break
            }
            switch kept?.shielding {
            case let .success(sh?)?:
                controller.restore(shielding: sh)
                log("shielding: restored what the lane learned of \(sh.learned) clean vehicles"
                    + (sh.isReady ? String(format: " (the low window takes %.3f of the high window's shielding, vehicle to vehicle sd %.3f)", Double(sh.kappaQ16) / 65_536, Double(sh.kappaSpreadQ16) / 65_536) : " (not ready)")
                    + (settings.spectralWindowCount >= 3
                        ? "; per window " + (0..<settings.spectralWindowCount).map { sh.isReady(window: $0) ? String(format: "%.2f", Double(sh.kappaQ16(window: $0)) / 65_536) : "-" }.joined(separator: " ")
                        : ""))
            case let .failure(e)?: log("shielding: what the lane learned of its vehicles' shielding not restored: \(e); learning afresh")
            default: break
            }
        }
        var slots = Array(repeating: PanelSlot(), count: settings.panelCount)
        var edges = EdgeBuffer()
        var ocrReads = OCRInbox()
        var outputFailures: UInt32 = 0
        var k: Int64 = 0

        outputFailures = writeOutputs(Self.safeLevels)  // the safe state before anything else
        if let n = notifier, n.isActive, let us = n.watchdogUs { watchdog = WatchdogPetting(watchdogUs: us, periodUs: period) }
        if let n = notifier, let problem = n.problem { log("systemd: the notify socket \(n.socketName ?? "") cannot be used: \(problem)") }
        while !stopFlag() {
            k += 1
            let deadline = origin + k * period
            if let d = durationUs, deadline - origin > d { break }
            MonotonicClock.sleep(untilUs: deadline)
            let now = MonotonicClock.nowUs()
            let allocationsBefore = threadAllocations?() ?? 0
            let late = now - deadline
            _ = stats.lateness.record(UInt64(max(0, late)))
            if stats.firstTickUs == 0 {
                stats.firstTickUs = now
                // Before allocation counting starts (tick 1): how long a restart leaves the lane blind.
                log("first tick: screening \((now - (processStartUs ?? origin)) / 1000) ms after the process started")
                notifier?.send("READY=1\nSTATUS=ticking every \(period / 1000) ms")
            }
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

            while let r = monitor.requests.tryPop() { controller.apply(r) }
            edges.removeAll()
            stats.edgeDrops += lines.drainEdges(into: &edges)
            sortEdges(&edges)
            poller.snapshot(into: &slots)
            ocrReads.removeAll()
            if let input = ocr {
                while !ocrReads.isFull, let r = input.reads.tryPop() { _ = ocrReads.append(r) }
            }
            var clock = TickClock(nowUs: now, wallUs: wallClockUs())
            clock.ticks = stats.ticks
            clock.missedTicks = stats.missedTicks
            clock.maxLatenessUs = stats.maxLatenessUs
            clock.latenessP50Us = controller.view.latenessP50Us
            clock.latenessP999Us = controller.view.latenessP999Us
            clock.workP999Us = Int64(stats.duration.valueAtPercentile(99.9))
            let decisionsBefore = controller.view.decisions
            controller.storageFailing = storageFailing?() ?? false
            let result = controller.tick(clock, edges: edges, slots: slots, outputFailures: outputFailures, ocrReads: ocrReads, sink: &sink)
            if controller.view.decisions != decisionsBefore {
                stats.decisions = controller.view.decisions
                if let d = controller.view.lastDecision, d.gammaAlarm || d.neutronAlarm { settledAfterTick = true }
            }
            outputFailures = writeOutputs(result.levels)
            if watchdog != nil, watchdog!.tick(nowUs: deadline, latenessUs: late, missedTicks: late >= period) { notifier!.petWatchdog() }

            // The console's view of this tick: the controller's, with the runner's own figures
            // written into it in place (they persist between ticks; percentiles once a second).
            let refresh = k % 10 == 1
            let allocationTicks = threadAllocations == nil ? -1 : stats.allocationCountedTicks
            controller.updateFigures { v in
                v.ticks = stats.ticks
                v.missedTicks = stats.missedTicks
                v.maxLatenessUs = stats.maxLatenessUs
                if refresh {
                    v.latenessP50Us = Int64(stats.lateness.valueAtPercentile(50))
                    v.latenessP99Us = Int64(stats.lateness.valueAtPercentile(99))
                    v.latenessP999Us = Int64(stats.lateness.valueAtPercentile(99.9))
                    v.durationP50Us = Int64(stats.duration.valueAtPercentile(50))
                    v.durationP99Us = Int64(stats.duration.valueAtPercentile(99))
                    v.durationMaxUs = Int64(stats.duration.max)
                }
                v.edgeDrops = stats.edgeDrops
                v.tickAllocations = stats.tickAllocations
                v.allocationCountedTicks = allocationTicks
                v.published = true
            }
            if !monitor.publish(controller.view) { controller.updateFigures { $0.viewSkips += 1 } }
        }
        controller.finish(TickClock(nowUs: MonotonicClock.nowUs(), wallUs: wallClockUs()), sink: &sink)
        stats.decisions = controller.view.decisions
        _ = writeOutputs(Self.safeLevels)  // nothing screens now: the fault lamp on, the rest off
        notifier?.send("STOPPING=1")
        if let w = watchdog {
            log("systemd: watchdog every \(w.intervalUs / 1000) ms: \(w.pets) times alive, \(w.withheld) withheld for late ticks, \(notifier!.failed) messages not sent")
        }
    }

    /// Every output at its safe level (`LaneOutput.safeLevel`).
    public static var safeLevels: InlineArray<6, Bool> {
        var l = InlineArray<6, Bool>(repeating: false)
        for i in 0..<LaneOutput.count { l[i] = LaneOutput(rawValue: i)!.safeLevel }
        return l
    }

    /// Writes every output; returns the outputs whose write failed (bit per output).
    func writeOutputs(_ levels: InlineArray<6, Bool>) -> UInt32 {
        var failed: UInt32 = 0
        for i in 0..<LaneOutput.count where !lines.set(LaneOutput(rawValue: i)!, levels[i]) {  // not allCases: it builds an array
            failed |= 1 &<< UInt32(i)
        }
        return failed
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

/// The board's sink: the bounded queues to the journal writer, the printer and the VM-250
/// stream (each drops and counts when full; none waits).
struct QueueSink: LaneSink {
    let records: RecordQueue?
    let events: EventQueue
    let vm250: VM250Server?
    let keeper: BackgroundKeeper?

    mutating func record(_ r: Record, monotonicUs: Int64, wallUs: Int64, commit: Bool) {
        records?.push(r, monotonicUs: monotonicUs, wallUs: wallUs, commit: commit)
    }
    mutating func event(_ e: AgentEvent) { events.push(e) }
    mutating func vm250(_ e: VMEvent) { vm250?.push(e) }
    mutating func keepBackground(_ b: Background, norm: NormLearner, spectral: SpectralState, shielding: ShieldingLearner, wallUs: Int64) {
        keeper?.keep(b, norm: norm, spectral: spectral, shielding: shielding, wallUs: wallUs)
    }
}
