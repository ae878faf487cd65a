// The lane's behaviour, one tick at a time, as a pure step: the runner (or a test, or the swarm)
// drains the inputs — beam edges, the panels' latest polls, console requests, the time — and
// calls `tick`; the controller runs the engine and its named parts (panel health, beam monitor,
// fault tracker, annunciator, 1-second rate window, VM-250 aggregation) and returns the output
// levels, handing records, events and VM-250 lines to a sink. No clock, no thread, no socket
// here: on simulated time it runs exactly as on the board. Nothing in `tick` allocates.

import LaneCore
import LaneHAL

/// Where the controller's outputs other than the lines go (bounded queues on the board, arrays in
/// tests). Implementations never block.
public protocol LaneSink {
    mutating func record(_ r: Record, monotonicUs: Int64, wallUs: Int64, commit: Bool)
    mutating func event(_ e: AgentEvent)
    mutating func vm250(_ e: VMEvent)
    /// The learned background, to keep on disk (every `BackgroundStore.saveIntervalUs` while the
    /// lane is empty and it is ready, and at the end of the run).
    mutating func keepBackground(_ b: Background, norm: NormLearner, spectral: SpectralState, shielding: ShieldingLearner, wallUs: Int64)
}

extension LaneSink {
    public mutating func keepBackground(_ b: Background, norm: NormLearner, spectral: SpectralState, shielding: ShieldingLearner, wallUs: Int64) {}
}

/// The OCR reads handed to one tick (the runner takes at most `capacity` a tick from the OCR
/// thread's queue; the rest wait for the next tick).
public struct OCRInbox: Sendable {
    public static let capacity = 8
    var reads: InlineArray<8, OCRRead> = InlineArray(repeating: OCRRead())
    public private(set) var count = 0
    public init() {}
    public var isFull: Bool { count == Self.capacity }
    public mutating func append(_ r: OCRRead) -> Bool {
        guard count < Self.capacity else { return false }
        reads[count] = r
        count += 1
        return true
    }
    public mutating func removeAll() { count = 0 }
    public subscript(i: Int) -> OCRRead { reads[i] }
}

/// The time and the runner's own figures for one tick.
public struct TickClock: Sendable {
    public var nowUs: Int64
    public var wallUs: Int64
    public var ticks: Int64 = 0
    public var missedTicks: Int64 = 0
    public var maxLatenessUs: Int64 = 0
    public var latenessP50Us: Int64 = 0
    public var latenessP999Us: Int64 = 0
    public var workP999Us: Int64 = 0
    public init(nowUs: Int64, wallUs: Int64) {
        self.nowUs = nowUs
        self.wallUs = wallUs
    }
}

public struct TickResult: Sendable {
    public var levels: InlineArray<6, Bool> = InlineArray(repeating: false)
    public var faults = Faults()
}

public struct LaneController: Sendable {
    public private(set) var engine: LaneEngine
    public internal(set) var annunciator: Annunciator
    public private(set) var faults = FaultTracker()
    public private(set) var panels: PanelHealth
    public private(set) var beams = BeamMonitor()
    public private(set) var view = LaneView()
    /// What the controller needs of the board profile.
    public struct Config: Sendable {
        public var panelSilentAfterPolls: Int
        public var status: StatusMasks
        public var keepsRecords: Bool
        public var vm250: Bool
        public var profileHash: UInt64
        /// A beam blocked longer than this is stuck.
        public var beamStuckAfterUs: Int64 = 600_000_000
        /// The uplink runs without TLS (`uplink.insecure`): said in every heartbeat.
        public var insecureUplink = false
        /// How OCR reads are attached to occupancies (the profile's `ocr` section).
        public var ocr = OCRSettings()
        public init(panelSilentAfterPolls: Int, status: StatusMasks, keepsRecords: Bool, vm250: Bool, profileHash: UInt64) {
            self.panelSilentAfterPolls = panelSilentAfterPolls
            self.status = status
            self.keepsRecords = keepsRecords
            self.vm250 = vm250
            self.profileHash = profileHash
        }
    }
    let config: Config
    let originUs: Int64
    var used: [PanelSlot]
    var lastSampleUs: Int64 = -1
    /// Multi-window panels: panel readings whose window counts did not add up to their gamma
    /// counts (or whose K was not the profile's); those samples carry no windows.
    public private(set) var windowMismatches = 0
    /// Multi-window panels: the boundaries last sent in a `windows` record.
    var windowsSent: WindowsRecord
    var lastOccupancy: UInt32 = 0
    var alarmReported = (gamma: false, neutron: false)
    var batch: SampleBatch
    /// Attaches the gate OCR's reads to occupancies (docs/OCR.md).
    public private(set) var ocr: OCRMatcher
    var ocrStarted: UInt32 = 0
    var rate = RateWindow()
    var vm = VM250Aggregator()
    var pendingSettings: (EngineSettings, Int64, Int64)? = nil
    var maintenanceUntilUs: Int64 = 0
    /// Maintenance mode: until when, and the settings to go back to.
    var unlockedUntilUs: Int64 = 0
    var unlockFallback: TunableValues? = nil
    var outputFailedUntilUs: Int64 = 0
    /// Set by the runner before each tick: the journal's storage is failing (the writer
    /// thread's flag). Raises `storageFailed`.
    public var storageFailing = false
    /// Each panel's own faults, with the same hysteresis as the lane's (per-panel fault records).
    var panelFaults: InlineArray<8, FaultTracker> = InlineArray(repeating: FaultTracker())
    var k: Int64 = 0
    var decisions = 0
    /// When the background was last handed over to be kept on disk (first: once it is ready).
    var lastBackgroundKeptUs = Int64.min / 2

    public init(settings: EngineSettings, config: Config, sirenUs: Int64, lightHoldUs: Int64, originUs: Int64) {
        engine = LaneEngine(settings: settings)
        annunciator = Annunciator(sirenUs: sirenUs, lightHoldUs: lightHoldUs)
        panels = PanelHealth(panelCount: settings.panelCount)
        self.config = config
        self.originUs = originUs
        beams = BeamMonitor(blockedUsMax: config.beamStuckAfterUs)
        used = Array(repeating: PanelSlot(), count: settings.panelCount)
        batch = SampleBatch(panels: settings.panelCount, nominalIntervalUs: settings.sampleIntervalUs, windows: settings.spectralWindowCount)
        windowsSent = WindowsRecord(panels: settings.panelCount, windows: settings.spectralWindowCount)
        ocr = OCRMatcher(settings: config.ocr)
        view.originUs = originUs
        view.settings = settings
        view.sirenUs = sirenUs
        view.alarmLightHoldUs = lightHoldUs
    }

    var settings: EngineSettings { engine.settings }
    var n: Int { settings.panelCount }

    /// Starts from a background learned before (see `BackgroundStore`); before the first tick.
    public mutating func restore(background b: Background, ageUs: Int64) {
        if engine.restore(background: b) {
            view.background = b
            view.backgroundRestoredAgeUs = ageUs
        }
    }

    /// Starts from what the spectral test learned before (multi-window panels); before the first tick.
    public mutating func restore(spectral s: SpectralState) {
        if engine.restore(spectral: s) { view.spectral = s }
    }

    /// Starts from what the lane learned of its vehicles' shielding before; before the first tick.
    public mutating func restore(shielding l: ShieldingLearner) {
        if engine.restore(shielding: l) { view.shielding = l }
    }

    /// Starts from what the lane learned of its NORM loads before; before the first tick.
    public mutating func restore(normLearner l: NormLearner) {
        if engine.restore(normLearner: l) { view.normLearner = l }
    }

    /// The runner's own figures (tick timing, allocation counts) go into the view here; the
    /// controller never writes those fields.
    public mutating func updateFigures(_ body: (inout LaneView) -> Void) { body(&view) }

    // MARK: console requests

    /// Applies one console request (the runner drains the queue before `tick`).
    public mutating func apply(_ r: ConsoleRequest) {
        view.requestsApplied += 1
        switch r {
        case let .acknowledge(number):
            annunciator.acknowledge(number, occupancy: lastOccupancy, gamma: engine.gammaAlarmActive, neutron: engine.neutronAlarmActive)
        case .resetAlarms:
            annunciator.reset(occupancy: lastOccupancy, gamma: engine.gammaAlarmActive, neutron: engine.neutronAlarmActive)
        case let .forceOutput(o, on, until):
            annunciator.force(o, on: on, untilUs: until)
        case .releaseOutputs:
            annunciator.release()
        case let .maintenance(until):
            maintenanceUntilUs = until
        case let .settings(e, siren, hold):
            pendingSettings = (e, siren, hold)
        case let .unlock(until, fallback):
            unlockedUntilUs = until
            unlockFallback = fallback
            view.unlockedUntilUs = until
        }
    }

    /// The settings the lane runs (or will, once empty): the console's tunables.
    var runningValues: TunableValues {
        let p = pendingSettings
        return TunableValues(engine: p?.0 ?? settings, sirenUs: p?.1 ?? annunciator.sirenUs, alarmLightHoldUs: p?.2 ?? annunciator.lightHoldUs)
    }

    /// Maintenance mode has ended: every setting beyond its floor goes back to the profile's
    /// value (applied when the lane is next empty), and an audit record says so.
    mutating func relock<S: LaneSink>(_ clock: TickClock, _ sink: inout S) {
        guard let fallback = unlockFallback else { return }
        let now = runningValues
        let safe = Tunable.relocked(now, fallback: fallback)
        if !(safe == now) { pendingSettings = (safe.engine, safe.sirenUs, safe.alarmLightHoldUs) }
        unlockFallback = nil
        unlockedUntilUs = 0
        view.unlockedUntilUs = 0
        view.relocks += 1
        sink.record(.audit(AuditRecord(user: ShortText("lane"), action: ShortText("maintenance mode ended"),
                                       oldValue: ShortText(""), newValue: ShortText(safe == now ? "settings within their floors" : "settings beyond their floors restored"))),
                    monotonicUs: clock.nowUs, wallUs: clock.wallUs, commit: true)
    }

    // MARK: the tick

    /// One tick. `edges` sorted oldest first; `slots` the panels' latest polls; `outputFailures`
    /// the outputs whose last write failed (bit per `LaneOutput`).
    public mutating func tick<S: LaneSink>(_ clock: TickClock, edges: borrowing EdgeBuffer, slots: [PanelSlot],
                                          outputFailures: UInt32, ocrReads: borrowing OCRInbox = OCRInbox(), sink: inout S) -> TickResult {
        k += 1
        let now = clock.nowUs
        if let p = pendingSettings, !engine.isOccupied {
            if engine.update(settings: p.0) {
                annunciator.sirenUs = p.1
                annunciator.lightHoldUs = p.2
                view.settings = p.0
            }
            pendingSettings = nil
        }

        // 0. The first tick tells the record stream how the engine starts (geometry, a restored
        // background): with the beam edges and the samples' flags, a study replays it exactly.
        if k == 1 && config.keepsRecords {
            sink.record(.start(StartRecord(settings, settingsHash: Tunable.hash(runningValues),
                                           background: view.backgroundRestoredAgeUs >= 0 ? engine.background : nil)),
                        monotonicUs: now, wallUs: clock.wallUs, commit: false)
        }

        // 1. Beam edges, oldest first. The samples before them go first (journal order is the
        // engine's order of edges and samples).
        if edges.count > 0 && config.keepsRecords {
            if batch.count > 0 {
                sink.record(.samples(batch), monotonicUs: batch.firstTUs, wallUs: clock.wallUs, commit: false)
                batch.removeAll()
            }
            var b = BeamRecord()
            for i in 0..<edges.count {
                if b.isFull {
                    sink.record(.beams(b), monotonicUs: b[0].tUs, wallUs: clock.wallUs, commit: false)
                    b = BeamRecord()
                }
                _ = b.append(edges.edges[i])
            }
            sink.record(.beams(b), monotonicUs: b[0].tUs, wallUs: clock.wallUs, commit: false)
        }
        for i in 0..<edges.count {
            let e = edges.edges[i]
            beams.edge(e)
            if let d = engine.beamEdge(e) { finished(d, clock, &sink) }
            if engine.isOccupied && engine.occupancyCount != ocrStarted, let t = engine.currentOccupancyStartUs {
                ocrStarted = engine.occupancyCount
                ocr.started(occupancy: ocrStarted, startUs: t)
            }
            recordEdge(e)
        }

        // 1b. The OCR's reads, after the edges (a read that came with the beam break belongs
        // to the new occupancy) and before the samples (one that came before the end, to it).
        for i in 0..<ocrReads.count { read(ocrReads[i], clock, &sink) }

        // 2. Panel health, then counts since the last sample from the panels that answered.
        panels.updateLink(slots, silentAfterPolls: config.panelSilentAfterPolls, masks: config.status, ticksRun: k)
        var splitsConfirmed = true
        for p in 0..<n where !slots[p].windowSplitConfirmed || !slots[p].windowsConfirmed { splitsConfirmed = false }
        engine.spectraTrusted = splitsConfirmed
        var sample = LaneSample(tUs: 0, intervalUs: 0)
        // Multi-window panels: the sample carries their K windows when every panel that answered
        // gave windows that partition its gamma counts (else the spectral test sees a gap).
        let kWindows = settings.spectralWindowCount
        var windowsGood = kWindows >= 3
        var fresh: UInt32 = 0
        var newestUs: Int64 = 0
        for p in 0..<n where slots[p].sequence != used[p].sequence && slots[p].polledUs > newestUs { newestUs = slots[p].polledUs }
        var intervalUs = lastSampleUs < 0 || newestUs <= lastSampleUs ? settings.sampleIntervalUs : newestUs - lastSampleUs
        // More than two periods since the last sample: every panel was away (a bus outage, a
        // stalled gateway). The counts over the gap are not one sample's; this sample starts
        // afresh (its deltas span the gap and are dropped below).
        if intervalUs > 2 * settings.sampleIntervalUs { intervalUs = settings.sampleIntervalUs }
        for p in 0..<n {
            let s = slots[p]
            guard s.sequence != used[p].sequence else { continue }
            // A delta over much more than this sample's interval (the panel was silent for a
            // while) is not this interval's counts: dropped, the panel starts afresh from here.
            let span = s.polledUs - used[p].polledUs
            if used[p].sequence != 0 && s.sequence > used[p].sequence && span <= intervalUs + settings.sampleIntervalUs / 2 {
                let d = CounterDelta(from: used[p].reading, to: s.reading, windows: kWindows)
                sample.gamma[p] = d.gamma
                sample.gammaLow[p] = d.gammaLow
                sample.neutron[p] = d.neutron
                fresh |= 1 &<< UInt32(p)
                if kWindows >= 3 {
                    var sum: UInt64 = 0
                    for w in 0..<kWindows {
                        sample.windows[p * windowCountMax + w] = d.windows[w]
                        sum += UInt64(d.windows[w])
                    }
                    if sum != UInt64(d.gamma) || Int(s.reading.windowCount) != kWindows {
                        windowsGood = false
                        windowMismatches += 1
                    }
                }
            }
            used[p] = s
        }
        // The panels' window boundaries, when they become known or change, before the samples
        // counted with them (a reader of the records turns the windows into spectra with them).
        if kWindows >= 3 && config.keepsRecords {
            var changed = false
            for p in 0..<n { for j in 0...kWindows where slots[p].windowBoundariesKev[j] != UInt16(windowsSent.boundaryKev(panel: p, j)) { changed = true } }
            if changed {
                for p in 0..<n { for j in 0...kWindows { windowsSent.set(panel: p, j, kev: slots[p].windowBoundariesKev[j]) } }
                if batch.count > 0 {
                    sink.record(.samples(batch), monotonicUs: batch.firstTUs, wallUs: clock.wallUs, commit: false)
                    batch.removeAll()
                }
                sink.record(.windows(windowsSent), monotonicUs: now, wallUs: clock.wallUs, commit: false)
            }
        }
        let allPanels: UInt32 = (1 &<< UInt32(n)) &- 1
        if fresh != 0 {
            sample.tUs = newestUs
            sample.intervalUs = intervalUs
            lastSampleUs = newestUs
            let suspect = panels.judge(sample, fresh: fresh, background: engine.background, settings: settings, occupied: engine.isOccupied)
            // A panel taken back after a dead verdict learns its background afresh (what it had
            // learned while dying, or frozen from the start, read 40 % low: 20 sigma on a clean truck).
            for p in 0..<n where panels.takenBack & (1 &<< UInt32(p)) != 0 { engine.forgetBackground(panel: p) }
            sample.absentMask = (~fresh | panels.excludedMask | suspect) & allPanels
            if windowsGood { sample.windowCount = kWindows }
        } else {
            // No panel answered: a sample with every panel absent keeps the occupancy's hold-in
            // running and counts as unscreened time.
            sample.tUs = now
            sample.intervalUs = settings.sampleIntervalUs
            sample.absentMask = allPanels
        }
        // The panels' faults after this sample's verdicts (the per-panel records below use the same).
        var hardware = panels.faults
        if now < maintenanceUntilUs { hardware.insert(.maintenance) }
        // Maintenance mode is marked on every decision taken while it lasts.
        if unlockFallback != nil && now < unlockedUntilUs { hardware.insert(.detectionUnlocked) }
        engine.hardwareFaults = hardware
        if let d = engine.sample(sample) { finished(d, clock, &sink) }
        // The VM-250 stream goes on when no panel answered (zeros; its GL line said which failed).
        if config.vm250 {
            vm.add(sample, panels: n, occupancy: engine.isOccupied ? engine.occupancyCount : 0, gammaAlarm: engine.gammaAlarmActive,
                   neutronAlarm: engine.neutronAlarmActive, sink: &sink)
        }
        if fresh != 0 { rate.push(sample, windows: kWindows) }
        // Every sample the engine took is kept, one no panel answered included (all absent).
        if config.keepsRecords {
            var flags: UInt32 = hardware.contains(.maintenance) ? SampleBatch.maintenanceFlag : 0
            if fresh != 0 { flags |= (panels.takenBack & allPanels) << SampleBatch.forgetShift }
            _ = batch.append(sample, flags: flags)
            if batch.isFull {
                sink.record(.samples(batch), monotonicUs: batch.firstTUs, wallUs: clock.wallUs, commit: false)
                batch.removeAll()
            }
        }

        // 3. Occupancy start, alarms.
        if engine.isOccupied && engine.occupancyCount != lastOccupancy {
            lastOccupancy = engine.occupancyCount
            alarmReported = (false, false)
            annunciator.occupancyStarted(nowUs: now)
            sink.event(.started(occupancy: lastOccupancy, tUs: engine.currentOccupancyStartUs ?? now))
        }
        let newGamma = engine.gammaAlarmActive && !alarmReported.gamma
        let newNeutron = engine.neutronAlarmActive && !alarmReported.neutron
        if newGamma || newNeutron {
            annunciator.alarmRaised(occupancy: lastOccupancy, gamma: newGamma, neutron: newNeutron,
                                    first: !alarmReported.gamma && !alarmReported.neutron, nowUs: now, wallUs: clock.wallUs)
            alarmReported = (alarmReported.gamma || newGamma, alarmReported.neutron || newNeutron)
            sink.event(.alarm(occupancy: lastOccupancy, gamma: newGamma, neutron: newNeutron))
            // One record per kind that is new, each with its own significance.
            if newGamma {
                sink.record(.alarm(AlarmRecord(occupancy: lastOccupancy, kind: 0, tUs: now, sigmaQ8: engine.currentGammaMaxSigmaQ8)),
                            monotonicUs: now, wallUs: clock.wallUs, commit: true)
            }
            if newNeutron {
                sink.record(.alarm(AlarmRecord(occupancy: lastOccupancy, kind: 1, tUs: now, sigmaQ8: engine.currentNeutronMaxSigmaQ8)),
                            monotonicUs: now, wallUs: clock.wallUs, commit: true)
            }
        }

        // 4. Faults: conditions now, hysteresis, one report per change.
        var conditions = hardware
        if engine.background.isReady(settings) {
            if !engine.isOccupied { conditions.insert(engine.backgroundFaults()) }
            else { conditions.insert(faults.active.intersecting(Faults.backgroundHigh.union(.backgroundLow))) }
        } else {
            conditions.insert(.backgroundNotReady)
        }
        if beams.stuck(nowUs: now) { conditions.insert(.beamStuck) }
        if outputFailures != 0 { outputFailedUntilUs = now + 1_000_000 }
        if now < outputFailedUntilUs { conditions.insert(.outputFailed) }
        if storageFailing { conditions.insert(.storageFailed) }
        if unlockFallback != nil && now >= unlockedUntilUs { relock(clock, &sink) }
        let change = faults.update(conditions, nowUs: now)
        if !change.raised.isEmpty || !change.cleared.isEmpty {
            let active = faults.active
            sink.record(.fault(FaultRecord(bits: active.bits, changed: change.raised.bits | change.cleared.bits, panel: 255)),
                        monotonicUs: now, wallUs: clock.wallUs, commit: true)
            sink.event(.faults(active: active, raised: change.raised, cleared: change.cleared, excludedPanels: panels.excludedMask))
            if config.vm250 { vm.faultsChanged(change.raised, change.cleared, background: engine.background, settings: settings,
                                             excluded: panels.excludedMask, sink: &sink) }
        }
        // Which panel: one record per panel whose own faults changed (panel = its index).
        for p in 0..<n {
            let pc = panelFaults[p].update(panels.faults(panel: p), nowUs: now)
            guard !pc.raised.isEmpty || !pc.cleared.isEmpty else { continue }
            let active = panelFaults[p].active
            sink.record(.fault(FaultRecord(bits: active.bits, changed: pc.raised.bits | pc.cleared.bits, panel: UInt8(p))),
                        monotonicUs: now, wallUs: clock.wallUs, commit: true)
            sink.event(.panelFaults(panel: p, active: active, raised: pc.raised, cleared: pc.cleared, statusWord: panels.flags[p].statusWord))
        }
        if !engine.isOccupied && engine.background.isReady(settings) && now >= maintenanceUntilUs
            && now - lastBackgroundKeptUs >= BackgroundStore.saveIntervalUs {
            lastBackgroundKeptUs = now
            sink.keepBackground(engine.background, norm: engine.normLearner, spectral: engine.spectral, shielding: engine.shieldingLearner, wallUs: clock.wallUs)
        }
        if config.vm250 && !engine.isOccupied { vm.backgroundTick(k: k, background: engine.background, settings: settings, excluded: panels.excludedMask, sink: &sink) }
        if config.keepsRecords && (k == 1 || k % (60_000_000 / settings.sampleIntervalUs) == 0) {
            if !engine.isOccupied {
                sink.record(.background(BackgroundRecord(engine.background, panels: n)), monotonicUs: now, wallUs: clock.wallUs, commit: false)
            }
            let rule = engine.nextNormRule
            sink.record(.heartbeat(HeartbeatRecord(
                softwareVersion: ShortText(LaneAgentVersion.string), profileHash: config.profileHash, uptimeS: UInt64((now - originUs) / 1_000_000),
                ticks: UInt64(clock.ticks), missedTicks: UInt64(clock.missedTicks), maxLatenessUs: UInt64(max(0, clock.maxLatenessUs)),
                latenessP50Us: UInt64(max(0, clock.latenessP50Us)), latenessP999Us: UInt64(max(0, clock.latenessP999Us)),
                workP999Us: UInt64(max(0, clock.workP999Us)),
                flags: (now < unlockedUntilUs ? HeartbeatRecord.flagUnlocked : 0) | (config.insecureUplink ? HeartbeatRecord.flagInsecureUplink : 0),
                settingsHash: Tunable.hash(runningValues),
                normLearned: engine.normLearner.learned, normShareQ16: u64(engine.normLearner.quantileQ16(perMille: 900) ?? 0),
                normRule: HeartbeatRecord.normRuleBits(rule), normLowShareMinQ16: u64(max(0, min(65_536, rule.lowShareMinQ16))))),
                monotonicUs: now, wallUs: clock.wallUs, commit: false)
        }

        // 5. Outputs: the fault lamp for any fault but a maintenance test.
        var result = TickResult()
        result.faults = faults.active
        result.levels = annunciator.levels(nowUs: now, occupancy: lastOccupancy, occupied: engine.isOccupied,
                                           gammaAlarm: engine.gammaAlarmActive, neutronAlarm: engine.neutronAlarmActive,
                                           faultLamp: !faults.active.subtracting(.maintenance).isEmpty)
        // The watchdog relay's heartbeat: a square wave at half the tick rate, as long as ticks run.
        result.levels[LaneOutput.heartbeat.rawValue] = k & 1 == 1
        updateView(clock, result, slots)
        return result
    }

    /// Ends the run: the occupancy in progress is decided (truncated) and the last samples kept.
    public mutating func finish<S: LaneSink>(_ clock: TickClock, sink: inout S) {
        // The background as it is now (the lane was learning up to here), unless an occupancy
        // or a console test was holding it.
        if !engine.isOccupied && engine.background.isReady(settings) && clock.nowUs >= maintenanceUntilUs {
            sink.keepBackground(engine.background, norm: engine.normLearner, spectral: engine.spectral, shielding: engine.shieldingLearner, wallUs: clock.wallUs)
        }
        if let d = engine.finish(atUs: clock.nowUs) { finished(d, clock, &sink) }
        if config.keepsRecords && batch.count > 0 {
            sink.record(.samples(batch), monotonicUs: batch.firstTUs, wallUs: clock.wallUs, commit: true)
            batch.removeAll()
        }
    }

    /// One OCR read: attached to the occupancy in progress, or amending one decided, or unmatched.
    mutating func read<S: LaneSink>(_ r: OCRRead, _ clock: TickClock, _ sink: inout S) {
        var recent = RecentOCR()
        recent.atUs = r.atUs
        switch ocr.read(r) {
        case let .attached(occupancy, reads):
            recent.outcome = .attached
            recent.occupancy = occupancy
            recent.reads = reads
            view.ocrAttached += 1
        case let .amended(occupancy, startUs, reads):
            recent.outcome = .amended
            recent.occupancy = occupancy
            recent.reads = reads
            view.ocrAmended += 1
            let o = OCRRecord(occupancy: occupancy, occupancyStartUs: startUs, reads: reads, readAtUs: r.atUs, readWallUs: r.readWallUs)
            if config.keepsRecords { sink.record(.ocr(o), monotonicUs: clock.nowUs, wallUs: clock.wallUs, commit: true) }
            sink.event(.ocr(o))
            if config.vm250 { vm.containers(occupancy: occupancy, reads, sink: &sink) }
        case let .unmatched(reads):
            recent.outcome = .unmatched
            recent.reads = reads
            view.ocrUnmatched += 1
            let o = OCRRecord(occupancy: 0, occupancyStartUs: 0, reads: reads, readAtUs: r.atUs, readWallUs: r.readWallUs)
            if config.keepsRecords { sink.record(.ocr(o), monotonicUs: clock.nowUs, wallUs: clock.wallUs, commit: true) }
            sink.event(.ocr(o))
        case let .duplicate(occupancy):
            recent.outcome = .duplicate
            recent.occupancy = occupancy
            view.ocrDuplicates += 1
        case .pending:
            return
        }
        view.ocrRecent[view.ocrCount % LaneView.ocrRecentMax] = recent
        view.ocrCount += 1
    }

    mutating func finished<S: LaneSink>(_ decided: Decision, _ clock: TickClock, _ sink: inout S) {
        var d = decided
        d.ocr = ocr.decided(occupancy: d.occupancy, endUs: d.endUs)
        decisions += 1
        beams.occupancyEnded()
        view.lastDecision = d
        // Committed to the journal before the decision is reported anywhere.
        if config.keepsRecords { sink.record(.occupancy(d), monotonicUs: d.endUs, wallUs: clock.wallUs, commit: true) }
        sink.event(.decision(d))
        if config.vm250 { vm.decision(d, settings: settings, sink: &sink) }
    }

    mutating func recordEdge(_ e: BeamEdge) {
        view.edges[view.edgeCount % LaneView.edgesMax] = RecentEdge(tUs: e.tUs, beam: e.beam, blocked: e.blocked)
        view.edgeCount += 1
        if e.beam >= 0 && e.beam < 2 && view.beamBlocked[e.beam] != e.blocked {
            view.beamBlocked[e.beam] = e.blocked
            view.beamChangedUs[e.beam] = e.tUs
            view.beamChanges[e.beam] += 1
        }
    }

    mutating func updateView(_ clock: TickClock, _ result: TickResult, _ slots: [PanelSlot]) {
        let now = clock.nowUs
        view.nowUs = now
        view.decisions = decisions
        view.occupied = engine.isOccupied
        view.occupancyCount = engine.occupancyCount
        view.occupancyStartUs = engine.currentOccupancyStartUs ?? 0
        view.gammaAlarmActive = engine.gammaAlarmActive
        view.neutronAlarmActive = engine.neutronAlarmActive
        view.faults = result.faults
        view.faultRaisedUs = faults.raisedUs
        view.background = engine.background
        view.normLearner = engine.normLearner
        view.shielding = engine.shieldingLearner
        view.shieldingNormLikeLeftOut = engine.shieldingNormLikeLeftOut
        view.spectraTrusted = engine.spectraTrusted
        if settings.spectralWindowCount >= 3 {
            view.spectral = engine.spectral
            view.windowMismatches = windowMismatches
            for p in 0..<n { view.windowBoundariesKev[p] = slots[p].windowBoundariesKev }
        }
        view.sirenUs = annunciator.sirenUs
        view.alarmLightHoldUs = annunciator.lightHoldUs
        view.settingsPending = pendingSettings != nil
        view.maintenanceUntilUs = maintenanceUntilUs
        view.alarms = annunciator.alarms
        view.alarmCount = annunciator.alarmCount
        view.alarmsTotal = annunciator.alarmsTotal
        for i in 0..<LaneOutput.count {
            view.outputForced[i] = annunciator.forced(i, nowUs: now)
            view.outputs[i] = result.levels[i]
        }
        for p in 0..<n { view.panelFlags[p] = panels.flags[p] }
        view.excludedPanels = panels.excludedMask
        rate.fill(&view, panels: n, windows: settings.spectralWindowCount)
    }
}

/// Counts over the last second (up to 10 samples) per panel, for the console's live figures.
struct RateWindow: Sendable {
    var gamma = InlineArray<10, PanelValues>(repeating: PanelValues(repeating: 0))
    var low = InlineArray<10, PanelValues>(repeating: PanelValues(repeating: 0))
    var neutron = InlineArray<10, PanelValues>(repeating: PanelValues(repeating: 0))
    var intervalUs = InlineArray<10, Int64>(repeating: 0)
    /// Multi-window panels: each sample's windows (zeros for a sample without usable windows).
    var windows = InlineArray<10, PanelWindows>(repeating: PanelWindows(repeating: 0))
    var next = 0

    mutating func push(_ s: LaneSample, windows k: Int) {
        gamma[next] = s.gamma
        low[next] = s.gammaLow
        neutron[next] = s.neutron
        intervalUs[next] = s.intervalUs
        if k >= 3 {
            for i in 0..<(panelCountMax * windowCountMax) { windows[next][i] = s.windowCount == k ? s.windows[i] : 0 }
        }
        next = (next + 1) % 10
    }

    func fill(_ view: inout LaneView, panels n: Int, windows k: Int) {
        if k >= 3 {
            for p in 0..<n {
                for w in 0..<k {
                    var c: UInt32 = 0
                    for j in 0..<10 { c &+= windows[j][p * windowCountMax + w] }
                    view.windows1s[p * windowCountMax + w] = c
                }
            }
        }
        var w: Int64 = 0
        for j in 0..<10 { w += intervalUs[j] }
        view.window1sUs = w
        for p in 0..<n {
            var g: UInt32 = 0, l: UInt32 = 0, nn: UInt32 = 0
            for j in 0..<10 { g &+= gamma[j][p]; l &+= low[j][p]; nn &+= neutron[j][p] }
            view.gamma1s[p] = g
            view.gammaLow1s[p] = l
            view.neutron1s[p] = nn
        }
    }
}

/// The VM-250-style stream's figures (docs/VM250.md), with the timing its readers expect
/// (OpenSensorHub's Rapiscan driver sums five GS lines to a second; LLNL's ERNIE takes one NS
/// line a second): gamma summed over 200 ms while occupied, neutron over 1 s; background lines
/// every 5 s while empty, whatever the lane's state (a reader takes silence for a lost link);
/// fault lines on change; per occupancy its speed and summary.
struct VM250Aggregator: Sendable {
    var gamma: InlineArray<4, Int64> = [0, 0, 0, 0]
    var neutron: InlineArray<4, Int64> = [0, 0, 0, 0]
    var gammaIntervalUs: Int64 = 0
    var neutronIntervalUs: Int64 = 0
    var neutronAlarmSeen = false

    var occupancy: UInt32 = 0

    /// One sample (zeros when no panel answered: the lines go on, the fault lines say why), in
    /// `occupancy` (0: the lane is empty). An occupancy's first lines cover its own counts only.
    mutating func add<S: LaneSink>(_ s: LaneSample, panels n: Int, occupancy occ: UInt32, gammaAlarm: Bool, neutronAlarm: Bool, sink: inout S) {
        if occ != occupancy {
            occupancy = occ
            gamma = [0, 0, 0, 0]
            neutron = [0, 0, 0, 0]
            gammaIntervalUs = 0
            neutronIntervalUs = 0
            neutronAlarmSeen = false
        }
        let occupied = occ != 0
        for p in 0..<min(4, n) {
            gamma[p] += Int64(s.gamma[p])
            neutron[p] += Int64(s.neutron[p])
        }
        gammaIntervalUs += s.intervalUs
        neutronIntervalUs += s.intervalUs
        neutronAlarmSeen = neutronAlarmSeen || neutronAlarm
        if gammaIntervalUs >= 200_000 - 20_000 {
            if occupied { sink.vm250(VMEvent(gammaAlarm ? .ga : .gs, gamma[0], gamma[1], gamma[2], gamma[3])) }
            gamma = [0, 0, 0, 0]
            gammaIntervalUs = 0
        }
        if neutronIntervalUs >= 1_000_000 - 20_000 {
            if occupied { sink.vm250(VMEvent(neutronAlarmSeen ? .na : .ns, neutron[0], neutron[1], neutron[2], neutron[3])) }
            neutron = [0, 0, 0, 0]
            neutronIntervalUs = 0
            neutronAlarmSeen = false
        }
    }

    static func cps(_ q16: Int64, _ settings: EngineSettings) -> Int64 { (q16 * 1_000_000 / settings.sampleIntervalUs + 32_768) >> 16 }

    static func rates(_ values: InlineArray<8, Int64>, _ settings: EngineSettings) -> InlineArray<4, Int64> {
        var r: InlineArray<4, Int64> = [0, 0, 0, 0]
        for p in 0..<min(4, settings.panelCount) { r[p] = cps(values[p], settings) }
        return r
    }

    /// Every 5 s while the lane is empty: the background as the lane has it now (learning or
    /// learned; a panel left out of detection reads 0), so that a reader always hears the lane.
    mutating func backgroundTick<S: LaneSink>(k: Int64, background bg: Background, settings: EngineSettings, excluded: UInt32, sink: inout S) {
        guard k % (5_000_000 / settings.sampleIntervalUs) == 0 else { return }
        var g = Self.rates(bg.gammaQ16, settings), nn = Self.rates(bg.neutronQ16, settings)
        for p in 0..<4 where excluded & (1 &<< UInt32(p)) != 0 { g[p] = 0; nn[p] = 0 }
        sink.vm250(VMEvent(.gb, g[0], g[1], g[2], g[3]))
        sink.vm250(VMEvent(.nb, nn[0], nn[1], nn[2], nn[3]))
    }

    /// The stream has fault lines for gamma high and low, neutron high and tamper only (the
    /// VM-250 protocol as OpenSensorHub's driver reads it). A panel that fails (silent, a status
    /// fault, a dead detector) reads as a gamma-low fault there, as a failed detector does on a
    /// VM-250, with that panel's rate 0.
    mutating func faultsChanged<S: LaneSink>(_ raised: Faults, _ cleared: Faults, background bg: Background, settings: EngineSettings,
                                             excluded: UInt32, sink: inout S) {
        var g = Self.rates(bg.gammaQ16, settings)
        if raised.contains(.backgroundHigh) { sink.vm250(VMEvent(.gh, g[0], g[1], g[2], g[3])) }
        let panelFailed = raised.contains(.panelSilent) || raised.contains(.panelStatus) || raised.contains(.detectorDead)
        if raised.contains(.backgroundLow) || panelFailed {
            for p in 0..<4 where excluded & (1 &<< UInt32(p)) != 0 { g[p] = 0 }
            sink.vm250(VMEvent(.gl, g[0], g[1], g[2], g[3]))
        }
        if raised.contains(.tamper) { sink.vm250(VMEvent(.tt)) }
        if cleared.contains(.tamper) { sink.vm250(VMEvent(.tc)) }
    }

    mutating func decision<S: LaneSink>(_ d: Decision, settings: EngineSettings, sink: inout S) {
        if let v = d.speedMmPerS { sink.vm250(VMEvent(.sp, v)) }
        let neutronBgMilliCps = d.neutronMaxBackgroundQ16 > 0 && d.neutronWindowSamples > 0
            ? (d.neutronMaxBackgroundQ16 * 1_000 / Int64(d.neutronWindowSamples) * 1_000_000 / settings.sampleIntervalUs) >> 16 : 0
        // GX: occupancy, neutron background (counts/s x 1000), the rail-car index (0: a truck;
        // LLD's ERNIE reads field 3 as that), 0.
        sink.vm250(VMEvent(.gx, Int64(d.occupancy), neutronBgMilliCps, 0, 0))
        containers(occupancy: d.occupancy, d.ocr, sink: &sink)
    }

    /// One `CN` line per container number read (after the occupancy's `GX`, or later for a late read).
    mutating func containers<S: LaneSink>(occupancy: UInt32, _ a: OCRAttachment, sink: inout S) {
        for i in 0..<a.count {
            let r = a[i]
            var e = VMEvent(.cn, i64(occupancy), r.confidence == ContainerRead.unknownConfidence ? 999 : i64(r.confidence), r.suspect ? 1 : 0)
            e.container = r.number
            sink.vm250(e)
        }
    }
}
