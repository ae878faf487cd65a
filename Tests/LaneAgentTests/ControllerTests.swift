// Proves the lane controller's handling of field faults on simulated time: the real
// LaneController, ticked every 100 ms of virtual time with panel polls and beam edges made here
// (seeded Poisson counts), shows each fault within 1 s (lamp, fault record, event), keeps
// screening with the panels that work, never calls an unscreened truck "clear", keeps learning
// from the healthy panels, and recovers by itself.

import LaneAgent
import LaneCore
import LaneHAL
import Foundation
import Testing

struct CollectingSink: LaneSink {
    var records: [Record] = []
    var events: [AgentEvent] = []
    var vm: [VMEvent] = []
    var kept: [(Background, Int64)] = []
    mutating func keepBackground(_ b: Background, norm: NormLearner, spectral: SpectralState, shielding: ShieldingLearner, wallUs: Int64) { kept.append((b, wallUs)) }
    mutating func record(_ r: Record, monotonicUs: Int64, wallUs: Int64, commit: Bool) { records.append(r) }
    mutating func event(_ e: AgentEvent) { events.append(e) }
    mutating func vm250(_ e: VMEvent) { vm.append(e) }

    var decisions: [Decision] { records.compactMap { if case let .occupancy(d) = $0 { return d } else { return nil } } }
    var alarms: [AlarmRecord] { records.compactMap { if case let .alarm(a) = $0 { return a } else { return nil } } }
    var faultRecords: [FaultRecord] { records.compactMap { if case let .fault(f) = $0 { return f } else { return nil } } }
}

/// A lane on virtual time: four panels with free-running counters, polled every tick.
struct VirtualLane {
    var controller: LaneController
    var sink = CollectingSink()
    var slots = Array(repeating: PanelSlot(), count: 4)
    var nowUs: Int64 = 0
    var rng: UInt64
    /// Per panel: gamma counts per second (mean), whether it answers, whether its counters are frozen.
    var gammaCps: [Double] = [2_000, 2_000, 2_000, 2_000]
    var neutronCps: [Double] = [2, 2, 2, 2]
    var answering = [true, true, true, true]
    var frozen = [false, false, false, false]
    var status: UInt16 = 0x0001
    /// A status word for one panel instead of `status`.
    var panelStatus: [UInt16?] = [nil, nil, nil, nil]
    var extraGamma: [Double] = [0, 0, 0, 0]
    /// The low-window share of the extra gamma counts (nil: half, as the background's).
    var extraLowShare: Double? = nil
    var extraNeutron: [Double] = [0, 0, 0, 0]
    var pendingEdges: [BeamEdge] = []
    /// OCR reads handed to the tick once their arrival time has come.
    var pendingReads: [OCRRead] = []
    var outputFailures: UInt32 = 0
    /// Multi-window panels: K windows per reading (0: none), their gamma counts spread over
    /// them, and counts added to a panel's first window beyond its gamma counts (a panel whose
    /// windows do not add up).
    var windows = 0
    var windowExcess = [0, 0, 0, 0]
    /// Counts per window a panel reads each tick, the same on every panel, without noise
    /// (replaces `gammaCps`, `extraGamma` and `windows`' spread; the low window is the lower
    /// half of them; leave `windows` at 0).
    var fixedWindows: [UInt32]? = nil
    var lastLevels = InlineArray<6, Bool>(repeating: false)
    var lastFaults = Faults()

    init(seed: UInt64 = 1, settings configure: (inout EngineSettings) -> Void = { _ in }) {
        rng = seed
        var s = EngineSettings()
        s.gammaBackgroundHighCps = 20_000
        s.gammaBackgroundLowCps = 2_000
        configure(&s)
        controller = LaneController(
            settings: s,
            config: .init(panelSilentAfterPolls: 5, status: StatusMasks(ok: 0x0001, tamper: 0x0004, fault: 0x0010), keepsRecords: true, vm250: true, profileHash: 7),
            sirenUs: 5_000_000, lightHoldUs: 10_000_000, originUs: 0)
    }

    mutating func chance(_ p: Double) -> Bool { uniform() < p }

    mutating func uniform() -> Double {
        rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Double(rng >> 11) / Double(1 << 53)
    }

    /// Poisson counts (normal approximation above 30, exact below).
    mutating func poisson(_ mean: Double) -> UInt32 {
        if mean > 30 {
            let u1 = max(uniform(), 1e-12), u2 = uniform()
            let z = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
            return UInt32(max(0, (mean + z * mean.squareRoot()).rounded()))
        }
        let l = exp(-mean)
        var k: UInt32 = 0
        var p = 1.0
        repeat { k += 1; p *= uniform() } while p > l
        return k - 1
    }

    mutating func tick() {
        nowUs += 100_000
        for p in 0..<4 {
            guard answering[p] else { slots[p].consecutiveErrors += 1; slots[p].errors += 1; continue }
            let gammaBefore = slots[p].reading.gammaTotal
            defer {
                if windows >= 3 {
                    // Lower windows get more: window w's share ~ (K - w); the last takes the rest.
                    let g = slots[p].reading.gammaTotal &- gammaBefore
                    var left = g
                    let weights = (0..<windows).reduce(0) { $0 + (windows - $1) }
                    for w in 0..<windows {
                        let part = w == windows - 1 ? left : min(left, UInt32(Int(g) * (windows - w) / weights))
                        slots[p].reading.windows[w] &+= part
                        left -= part
                    }
                    slots[p].reading.windows[0] &+= UInt32(windowExcess[p])
                    slots[p].reading.windowCount = UInt16(windows)
                }
            }
            if let fixed = fixedWindows {
                for (w, c) in fixed.enumerated() {
                    slots[p].reading.windows[w] &+= c
                    slots[p].reading.gammaTotal &+= c
                    if w < fixed.count / 2 { slots[p].reading.gammaLow &+= c }
                }
                slots[p].reading.windowCount = UInt16(fixed.count)
                slots[p].reading.neutron &+= poisson(neutronCps[p] / 10)
            } else if !frozen[p], let share = extraLowShare {
                let g = poisson(gammaCps[p] / 10), x = poisson(extraGamma[p] / 10)
                slots[p].reading.gammaTotal &+= g &+ x
                slots[p].reading.gammaLow &+= g / 2 &+ UInt32((Double(x) * share).rounded())
                slots[p].reading.neutron &+= poisson((neutronCps[p] + extraNeutron[p]) / 10)
            } else if !frozen[p] {
                let g = poisson((gammaCps[p] + extraGamma[p]) / 10)
                slots[p].reading.gammaTotal &+= g
                slots[p].reading.gammaLow &+= g / 2
                slots[p].reading.neutron &+= poisson((neutronCps[p] + extraNeutron[p]) / 10)
            }
            slots[p].reading.status = panelStatus[p] ?? status
            slots[p].sequence += 1
            slots[p].polledUs = nowUs - 20_000
            slots[p].consecutiveErrors = 0
        }
        var edges = EdgeBuffer()
        pendingEdges.sort { $0.tUs < $1.tUs }
        while let e = pendingEdges.first, e.tUs <= nowUs { _ = edges.append(e); pendingEdges.removeFirst() }
        var inbox = OCRInbox()
        while let r = pendingReads.first, r.arrivalUs <= nowUs, !inbox.isFull { _ = inbox.append(r); pendingReads.removeFirst() }
        let r = controller.tick(TickClock(nowUs: nowUs, wallUs: nowUs), edges: edges, slots: slots, outputFailures: outputFailures, ocrReads: inbox, sink: &sink)
        lastLevels = r.levels
        lastFaults = r.faults
    }

    mutating func ticks(_ n: Int) { for _ in 0..<n { tick() } }

    /// A 16 m truck at 2.2 m/s starting now (both beams, 1.5 m apart); the ticks run through it and its hold-in.
    mutating func truck(during: (inout VirtualLane) -> Void = { _ in }) {
        let t0 = nowUs + 10_000
        let dt1: Int64 = 681_818, dur: Int64 = 7_272_727
        pendingEdges += [BeamEdge(tUs: t0, beam: 0, blocked: true), BeamEdge(tUs: t0 + dt1, beam: 1, blocked: true),
                         BeamEdge(tUs: t0 + dur, beam: 0, blocked: false), BeamEdge(tUs: t0 + dt1 + dur, beam: 1, blocked: false)]
        tick()
        during(&self)
        while nowUs < t0 + dt1 + dur + 2_600_000 { tick() }
    }

    var faultLamp: Bool { lastLevels[LaneOutput.faultLight.rawValue] }
}

@Suite struct ControllerTests {
    @Test("a truck passing while no panel answers is decided 'not screened', not clear; panelSilent shows within 1 s and clears within 1 s of the panels' return")
    func noPanelAnswers() {
        var lane = VirtualLane()
        lane.ticks(300)
        #expect(lane.lastFaults.isEmpty, "a healthy lane has no fault: \(lane.lastFaults.bits)")
        lane.answering = [false, false, false, false]
        lane.ticks(10)
        #expect(lane.lastFaults.contains(.panelSilent))
        #expect(lane.faultLamp)
        lane.truck()
        let d = lane.sink.decisions.last!
        #expect(d.notScreened)
        #expect(!d.gammaAlarm && !d.neutronAlarm)
        #expect(d.panelsUsedMask == 0)
        lane.answering = [true, true, true, true]
        lane.ticks(10)
        #expect(!lane.lastFaults.contains(.panelSilent))
        #expect(!lane.faultLamp)
        lane.truck()
        #expect(!lane.sink.decisions.last!.notScreened)
        #expect(lane.sink.decisions.last!.panelsUsedMask == 0b1111)
        let silentRecords = lane.sink.faultRecords.filter { $0.panel == 255 && $0.changed & Faults.panelSilent.bits != 0 }
        #expect(silentRecords.count == 2, "one record when raised, one when cleared")
    }

    @Test("at start, panels the poll thread has not read yet are not called silent before panelSilentAfterPolls ticks; panels never read after that are")
    func notReadYetAtStart() {
        var lane = VirtualLane()
        // The poll thread's first round has not come back: no reading, no failed poll either.
        let unread = Array(repeating: PanelSlot(), count: 4)
        for _ in 0..<5 {
            lane.nowUs += 100_000
            let r = lane.controller.tick(TickClock(nowUs: lane.nowUs, wallUs: lane.nowUs), edges: EdgeBuffer(), slots: unread, outputFailures: 0, sink: &lane.sink)
            #expect(!r.faults.contains(.panelSilent), "tick \(lane.nowUs / 100_000): not silent yet")
        }
        lane.nowUs += 100_000
        let r = lane.controller.tick(TickClock(nowUs: lane.nowUs, wallUs: lane.nowUs), edges: EdgeBuffer(), slots: unread, outputFailures: 0, sink: &lane.sink)
        #expect(r.faults.contains(.panelSilent), "a panel never read after 5 ticks is silent")
        // And a lane whose first round comes late but does come shows no panelSilent at all.
        var late = VirtualLane()
        for _ in 0..<3 {
            late.nowUs += 100_000
            _ = late.controller.tick(TickClock(nowUs: late.nowUs, wallUs: late.nowUs), edges: EdgeBuffer(), slots: unread, outputFailures: 0, sink: &late.sink)
        }
        late.ticks(20)
        #expect(!late.sink.faultRecords.contains { $0.changed & Faults.panelSilent.bits != 0 }, "no panelSilent raised or cleared")
    }

    @Test("NORM from traffic: the lane learns its NORM loads' share (0.30) from 120 of them, then waves the next NORM load through as NORM-like and still alarms on a soft source (share 0.80); with the check source too close to the NORM share it alarms on both")
    func normFromTraffic() {
        var lane = VirtualLane(seed: 5) { $0.normFromTraffic = true; $0.checkSourceLowShareQ16 = Int64(0.80 * 65_536) }
        lane.ticks(300)
        // Cold start (share of the background 0.5, check source 0.8): on from the first load.
        #expect(lane.controller.engine.normLearner.learned == 0)
        for _ in 0..<120 {
            lane.extraLowShare = 0.30
            lane.truck { $0.extraGamma = [250, 250, 250, 250] }
            lane.extraGamma = [0, 0, 0, 0]
            lane.ticks(20)
        }
        let learner = lane.controller.engine.normLearner
        #expect(learner.learned >= 110, "nearly every NORM load passed the threshold: \(learner.learned)")
        let rule = lane.controller.engine.nextNormRule
        #expect(rule.source == .learned && rule.on, "\(rule)")
        #expect(rule.shareMaxQ16 > 17_000 && rule.shareMaxQ16 < 24_000, "the 90th percentile near 0.30: \(Double(rule.shareMaxQ16) / 65_536)")
        // The heartbeat records say what it learned (format 5).
        let beats = lane.sink.records.compactMap { r -> HeartbeatRecord? in if case let .heartbeat(h) = r { return h } else { return nil } }
        let beat = beats.last { $0.normLearned >= UInt64(NormLearner.loadsMin) }
        #expect(beat?.normRule == 3 && beat?.normShareQ16 ?? 0 > 17_000 && beat?.normShareQ16 ?? 0 < 24_000, "\(String(describing: beat))")
        #expect(beats.first?.normRule == 4, "the first heartbeat (no background yet): cold start, off: \(String(describing: beats.first))")
        #expect(beats.contains { $0.normRule == 5 }, "cold start, on (the background's share against the check source) before 100 loads")
        lane.truck { $0.extraGamma = [250, 250, 250, 250] }
        var d = lane.sink.decisions.last!
        #expect(!d.gammaAlarm && d.normSuspect, "a NORM load: NORM-like, no alarm")
        lane.extraLowShare = 0.80
        lane.truck { $0.extraGamma = [250, 250, 250, 250] }
        d = lane.sink.decisions.last!
        #expect(d.gammaAlarm, "a soft source alarms")

        // The check source as hard as the NORM: two windows cannot tell them apart; every excess alarms.
        var close = VirtualLane(seed: 6) { $0.normFromTraffic = true; $0.checkSourceLowShareQ16 = Int64(0.33 * 65_536) }
        close.ticks(300)
        close.controller.restore(normLearner: learner)
        close.extraLowShare = 0.30
        close.truck { $0.extraGamma = [250, 250, 250, 250] }
        #expect(!close.controller.engine.nextNormRule.on)
        #expect(close.sink.decisions.last!.gammaAlarm, "discrimination off: the NORM load alarms")
    }

    @Test("one silent panel of four: the lane learns its background from the other three, screens with them, and a source still alarms")
    func oneSilentPanel() {
        var lane = VirtualLane()
        lane.answering[3] = false
        lane.ticks(300)
        #expect(lane.controller.engine.background.isReady(lane.controller.engine.settings))
        #expect(!lane.lastFaults.contains(.backgroundNotReady))
        #expect(lane.lastFaults.contains(.panelSilent))
        lane.truck { $0.extraGamma = [3_000, 3_000, 3_000, 0] }
        let d = lane.sink.decisions.last!
        #expect(!d.notScreened)
        #expect(d.panelsUsedMask == 0b0111)
        #expect(d.gammaAlarm)
    }

    @Test("a dead detector (counters frozen, status OK) is flagged within 1 s, left out, does not drag its background down, and is taken back within 1 s of counting again")
    func deadDetector() {
        var lane = VirtualLane()
        lane.ticks(300)
        let before = lane.controller.engine.background.gammaPanelQ16(2)
        lane.frozen[2] = true
        lane.ticks(10)
        #expect(lane.lastFaults.contains(.detectorDead))
        #expect(lane.controller.panels.excludedMask == 0b0100)
        #expect(lane.faultLamp)
        lane.ticks(600)
        let after = lane.controller.engine.background.gammaPanelQ16(2)
        #expect(after * 100 >= before * 97, "panel 2's background held: \(before >> 16) -> \(after >> 16) counts per sample")
        // A clean truck afterwards raises no alarm, and was screened by the three live panels.
        lane.truck()
        #expect(!lane.sink.decisions.last!.gammaAlarm)
        #expect(lane.sink.decisions.last!.panelsUsedMask == 0b1011)
        lane.frozen[2] = false
        lane.ticks(10)
        #expect(!lane.lastFaults.contains(.detectorDead))
        #expect(lane.controller.panels.excludedMask == 0)
    }

    @Test("a panel far below its own background while the others are not is dead; the whole lane dipping together (a shielding queue) is not")
    func deadVersusDip() {
        var lane = VirtualLane()
        lane.ticks(300)
        lane.gammaCps = [2_000, 2_000, 2_000, 200]
        lane.ticks(10)
        #expect(lane.lastFaults.contains(.detectorDead))
        var dip = VirtualLane(seed: 2)
        dip.ticks(300)
        dip.gammaCps = [1_200, 1_200, 1_200, 1_200]
        dip.ticks(50)
        #expect(!dip.lastFaults.contains(.detectorDead))
    }

    @Test("background high is raised at lane level on an empty lane: a fault record, a GH line, the lamp; cleared when it falls back")
    func backgroundHigh() {
        var lane = VirtualLane()
        lane.ticks(300)
        lane.gammaCps = [6_000, 6_000, 6_000, 6_000]
        lane.ticks(3_000)  // the fast average follows within a few minutes; the gate lets it after 30 s
        #expect(lane.lastFaults.contains(.backgroundHigh))
        #expect(lane.faultLamp)
        #expect(lane.sink.vm.contains { $0.tag == .gh })
        #expect(lane.sink.faultRecords.contains { $0.bits & Faults.backgroundHigh.bits != 0 })
    }

    @Test("a neutron alarm after a gamma alarm in the same occupancy gives two alarm records, gamma then neutron, each with its sigma")
    func alarmRecordsByKind() {
        var lane = VirtualLane()
        lane.ticks(300)
        lane.truck { l in
            l.extraGamma = [8_000, 8_000, 8_000, 8_000]
            l.ticks(30)
            l.extraNeutron = [60, 60, 60, 60]
        }
        let alarms = lane.sink.alarms
        #expect(alarms.map(\.kind) == [0, 1])
        #expect(alarms.allSatisfy { $0.sigmaQ8 > 5 * 256 })
        let d = lane.sink.decisions.last!
        #expect(d.gammaAlarm && d.neutronAlarm)
    }

    @Test("a failed output write raises outputFailed (lamp and record) and clears a second after writes succeed again")
    func outputFailure() {
        var lane = VirtualLane()
        lane.ticks(300)
        lane.outputFailures = 1 << UInt32(LaneOutput.siren.rawValue)
        lane.tick()
        #expect(lane.lastFaults.contains(.outputFailed))
        lane.outputFailures = 0
        lane.ticks(20)
        #expect(!lane.lastFaults.contains(.outputFailed))
    }

    @Test("a beam that chatters raises beamStuck; a beam that never changes while the other sees two trucks raises it too")
    func beamStuck() {
        var lane = VirtualLane()
        lane.ticks(300)
        for i in 0..<40 { lane.pendingEdges.append(BeamEdge(tUs: lane.nowUs + 1_000 + Int64(i) * 20_000, beam: 1, blocked: i % 2 == 0)) }
        lane.ticks(10)
        #expect(lane.lastFaults.contains(.beamStuck))
        lane.ticks(40)
        #expect(!lane.lastFaults.contains(.beamStuck))
        var stuck = VirtualLane()
        stuck.ticks(300)
        for _ in 0..<2 {
            let t0 = stuck.nowUs + 10_000
            stuck.pendingEdges += [BeamEdge(tUs: t0, beam: 0, blocked: true), BeamEdge(tUs: t0 + 7_000_000, beam: 0, blocked: false)]
            stuck.ticks(100)
        }
        #expect(stuck.lastFaults.contains(.beamStuck))
    }

    @Test("every panel silent for 4 s, back during a clean truck: the counts over the gap are not taken for one sample's (it alarmed at 66 sigma)")
    func gapAcrossAllPanels() {
        var lane = VirtualLane()
        lane.ticks(300)
        lane.answering = [false, false, false, false]
        lane.ticks(40)
        lane.truck(during: { l in
            l.ticks(5)
            l.answering = [true, true, true, true]
        })
        #expect(lane.sink.decisions.count == 1)
        if let d = lane.sink.decisions.first {
            #expect(!d.gammaAlarm, "sigma \(Double(d.gammaMaxSigmaQ8) / 256)")
            #expect(!d.notScreened && d.panelsUsedMask == 0b1111)
        }
    }

    @Test("a panel frozen from start-up, then counting again: taken back, it learns its background afresh, and a clean truck stays under 6 sigma (it reached 20)")
    func deadFromStart() {
        var lane = VirtualLane()
        lane.frozen[1] = true
        lane.ticks(100)
        #expect(lane.lastFaults.contains(.detectorDead))
        lane.frozen[1] = false
        lane.ticks(200)
        #expect(!lane.lastFaults.contains(.detectorDead))
        let bg = Double(lane.controller.engine.background.gammaPanelQ16(1)) / 65536
        #expect(bg > 190 && bg < 210, "panel 1 background \(bg) counts per sample (200 expected)")
        lane.truck()
        #expect(lane.sink.decisions.count == 1)
        if let d = lane.sink.decisions.first { #expect(d.gammaMaxSigmaQ8 < 6 * 256 && !d.gammaAlarm, "sigma \(Double(d.gammaMaxSigmaQ8) / 256)") }
    }

    @Test("a beam blocked for more than 600 s raises beamStuck (not at 590 s), and it clears within 1 s of the beam changing")
    func beamStuckBlocked() {
        var lane = VirtualLane()
        lane.ticks(300)
        lane.pendingEdges.append(BeamEdge(tUs: lane.nowUs + 10_000, beam: 0, blocked: true))
        lane.ticks(5_900)
        #expect(!lane.lastFaults.contains(.beamStuck), "blocked 590 s")
        lane.ticks(110)
        #expect(lane.lastFaults.contains(.beamStuck), "blocked 601 s")
        #expect(lane.faultLamp)
        #expect(lane.sink.faultRecords.contains { $0.panel == 255 && $0.bits & Faults.beamStuck.bits != 0 })
        lane.pendingEdges.append(BeamEdge(tUs: lane.nowUs + 10_000, beam: 0, blocked: false))
        lane.ticks(10)
        #expect(!lane.lastFaults.contains(.beamStuck), "cleared within 1 s of the beam changing")
    }

    @Test("a status word with a fault bit (temperature) or a missing ok bit (high voltage) leaves only that panel out; its own fault record names it; both clear")
    func panelStatusFaults() {
        var lane = VirtualLane()
        lane.ticks(300)
        lane.panelStatus[2] = 0x0011  // temperature-fault bit set
        lane.tick()
        #expect(lane.lastFaults.contains(.panelStatus))
        #expect(lane.controller.panels.excludedMask == 0b0100)
        #expect(lane.sink.faultRecords.contains { $0.panel == 2 && $0.bits == Faults.panelStatus.bits && $0.changed == Faults.panelStatus.bits })
        // The VM-250 stream: a gamma-low fault line with the failed panel's rate 0.
        #expect(lane.sink.vm.contains { $0.tag == .gl && $0.fields[2] == 0 && $0.fields[0] > 0 }, "\(lane.sink.vm.filter { $0.tag == .gl })")
        #expect(!lane.sink.faultRecords.contains { $0.panel != 2 && $0.panel != 255 })
        #expect(lane.sink.events.contains { if case let .panelFaults(2, _, raised, _, word) = $0 { return raised == .panelStatus && word == 0x0011 }; return false })
        lane.panelStatus[2] = nil
        lane.panelStatus[0] = 0x0000  // the ok bit missing
        lane.ticks(10)
        #expect(lane.controller.panels.excludedMask == 0b0001)
        #expect(lane.sink.faultRecords.contains { $0.panel == 2 && $0.bits == 0 && $0.changed == Faults.panelStatus.bits })
        lane.panelStatus[0] = nil
        lane.ticks(10)
        #expect(!lane.lastFaults.contains(.panelStatus))
        #expect(lane.controller.panels.excludedMask == 0)
    }

    @Test("tamper is a lane fault (record, TT/TC lines) but the panel keeps counting")
    func tamper() {
        var lane = VirtualLane()
        lane.ticks(300)
        lane.status = 0x0005
        lane.tick()
        #expect(lane.lastFaults.contains(.tamper))
        #expect(lane.controller.panels.excludedMask == 0)
        #expect(lane.sink.vm.contains { $0.tag == .tt })
        lane.status = 0x0001
        lane.ticks(10)
        #expect(!lane.lastFaults.contains(.tamper))
        #expect(lane.sink.vm.contains { $0.tag == .tc })
    }
}

/// Proves the heartbeat tells the alarm station when the uplink runs without TLS (a profile
/// with `insecure: true`, or a bench without caFile): docs/SECURITY.md.
@Suite struct HeartbeatFlagTests {
    @Test("an insecure uplink is flagged in every heartbeat; a TLS one is not")
    func insecureFlag() {
        for insecure in [false, true] {
            var lane = VirtualLane()
            lane.controller = LaneController(
                settings: EngineSettings(),
                config: {
                    var c = LaneController.Config(panelSilentAfterPolls: 5, status: StatusMasks(ok: 0x0001, tamper: 0x0004, fault: 0x0010), keepsRecords: true, vm250: false, profileHash: 7)
                    c.insecureUplink = insecure
                    return c
                }(),
                sirenUs: 5_000_000, lightHoldUs: 10_000_000, originUs: 0)
            lane.ticks(601)
            let beats = lane.sink.records.compactMap { if case let .heartbeat(h) = $0 { return h } else { return nil } }
            #expect(beats.count == 2, "at start and after a minute")
            #expect(beats.allSatisfy { ($0.flags & HeartbeatRecord.flagInsecureUplink != 0) == insecure })
        }
    }
}
