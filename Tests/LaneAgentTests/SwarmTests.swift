// Proves the controller's invariants under random traffic and random faults (a seeded swarm, in
// the manner of TigerBeetle's simulator): the real LaneController on virtual time, with trucks at
// random speeds and lengths, some carrying gamma or neutron sources, while panels fall silent,
// freeze, report tamper, miss polls, and outputs fail, at random times and rates. Every tick the
// invariants are checked; a failing seed is printed and replays exactly (`LANE_SWARM_SEED=N`). A
// planted bug (the canary: a sink that loses the first alarm record) must be caught.

import Foundation
import LaneAgent
import LaneCore
import LaneHAL
import Testing

struct SwarmFailure: Error, CustomStringConvertible {
    var description: String
}

/// What one run went through (so that a test can demand the swarm actually reached each path).
struct SwarmSummary {
    var decisions = 0, gammaAlarms = 0, neutronAlarms = 0, notScreened = 0, faultRaised = Faults()
}

/// One swarm run: `ticks` ticks of virtual time from `seed`. Throws the first broken invariant.
@discardableResult
func swarm(seed: UInt64, ticks: Int, canary: Bool = false) throws -> SwarmSummary {
    var summary = SwarmSummary()
    var lane = VirtualLane(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 1)
    var tick = 0
    func fail(_ what: String) -> SwarmFailure {
        SwarmFailure(description: "swarm seed \(seed) (LANE_SWARM_SEED=\(seed)), tick \(tick): \(what)")
    }
    // Fault state the harness keeps, with when each ends (virtual microseconds).
    var silentUntil = [Int64](repeating: 0, count: 4)
    var frozenUntil = [Int64](repeating: 0, count: 4)
    var tamperUntil: Int64 = 0, outputFailUntil: Int64 = 0
    var truckEndsUs: Int64 = 0
    // Per occupancy: did any panel answer with live counts while it lasted?
    var occupancyHadLivePanel = false
    var occupancyHadSource = false
    var alarmState = (gamma: false, neutron: false, occupancy: UInt32(0))
    var lostCanaryRecord = false
    var faultBits: UInt32 = 0
    var panelFaultBits: [UInt32] = [0, 0, 0, 0]

    for t in 0..<ticks {
        tick = t + 1
        let now = lane.nowUs + 100_000
        // Traffic: a truck now and then when the lane is clear.
        if now > truckEndsUs + 3_000_000 && lane.pendingEdges.isEmpty && lane.chance(0.01) {
            let speed = 0.5 + lane.uniform() * 4.5, length = 6.0 + lane.uniform() * 14
            let t0 = now + 10_000
            let dt1 = Int64(1.5 / speed * 1e6), dur = Int64(length / speed * 1e6)
            let reverse = lane.chance(0.05)
            let (a, b) = reverse ? (1, 0) : (0, 1)
            lane.pendingEdges += [BeamEdge(tUs: t0, beam: a, blocked: true), BeamEdge(tUs: t0 + dt1, beam: b, blocked: true),
                                  BeamEdge(tUs: t0 + dur, beam: a, blocked: false), BeamEdge(tUs: t0 + dt1 + dur, beam: b, blocked: false)]
            truckEndsUs = t0 + dt1 + dur
            let source = lane.chance(0.1) ? 500 + lane.uniform() * 8_000 : 0
            var extra = [Double](repeating: 0, count: 4)
            for p in 0..<4 { extra[p] = source * (0.5 + lane.uniform()) }
            lane.extraGamma = extra
            let neutron = lane.chance(0.05)
            lane.extraNeutron = neutron ? [40, 40, 40, 40] : [0, 0, 0, 0]
        }
        if now > truckEndsUs { lane.extraGamma = [0, 0, 0, 0]; lane.extraNeutron = [0, 0, 0, 0] }
        // Faults, each at its own random rate and length.
        if lane.chance(0.0002) {  // the whole bus down (a gateway or a cable): every panel at once
            let until = now + Int64(lane.uniform() * 25e6)
            for p in 0..<4 { silentUntil[p] = max(silentUntil[p], until) }
        }
        if lane.chance(0.0002) {  // a beam chatters for a second
            let beam = lane.chance(0.5) ? 1 : 0
            for i in 0..<40 { lane.pendingEdges.append(BeamEdge(tUs: now + 1_000 + Int64(i) * 25_000, beam: beam, blocked: i % 2 == 0)) }
        }
        for p in 0..<4 {
            if lane.chance(0.0005) { silentUntil[p] = now + Int64(lane.uniform() * 20e6) }
            if lane.chance(0.0002) { frozenUntil[p] = now + Int64(lane.uniform() * 30e6) }
            let missed = lane.chance(0.01)  // and a missed poll now and then
            lane.answering[p] = now >= silentUntil[p] && !missed
            lane.frozen[p] = now < frozenUntil[p]
        }
        if lane.chance(0.0003) { tamperUntil = now + Int64(lane.uniform() * 5e6) }
        lane.status = now < tamperUntil ? 0x0005 : 0x0001
        if lane.chance(0.0003) { outputFailUntil = now + Int64(lane.uniform() * 3e6) }
        lane.outputFailures = now < outputFailUntil ? 1 << UInt32(LaneOutput.siren.rawValue) : 0

        let recordsBefore = lane.sink.records.count
        let wasOccupied = lane.controller.engine.isOccupied
        lane.tick()
        if ProcessInfo.processInfo.environment["LANE_SWARM_TRACE"] != nil { print("T\(tick) occ=\(lane.controller.engine.isOccupied) ans=\(lane.answering) frz=\(lane.frozen) st=\(lane.status) faults=\(lane.lastFaults.bits) excl=\(lane.controller.panels.excludedMask) g=\(lane.slots.map { $0.reading.gammaTotal % 100000 }) xg=\(lane.extraGamma.map { Int($0) }) bg=\((0..<4).map { lane.controller.engine.background.gammaPanelQ16($0) >> 16 }) long=\((0..<4).map { lane.controller.engine.background.gammaLongQ16[$0] >> 16 }) n=\(lane.controller.engine.background.samplesLearned) sig=\(lane.controller.engine.currentGammaMaxSigmaQ8 / 256)") }
        let c = lane.controller
        if canary {  // the planted bug: the first alarm record never reaches the journal
            for i in recordsBefore..<lane.sink.records.count where !lostCanaryRecord {
                if case .alarm = lane.sink.records[i] {
                    lane.sink.records.remove(at: i)
                    lostCanaryRecord = true
                }
            }
        }
        let newRecords = Array(lane.sink.records[recordsBefore...])

        // 1. The fault lamp is lit exactly when a fault other than maintenance is active.
        if lane.faultLamp != !lane.lastFaults.subtracting(.maintenance).isEmpty { throw fail("fault lamp \(lane.faultLamp) with faults \(lane.lastFaults.bits)") }
        // 2. An active alarm lights its light, and a new alarm has its record in the same tick.
        if c.engine.gammaAlarmActive && !lane.lastLevels[LaneOutput.gammaLight.rawValue] { throw fail("gamma alarm without the gamma light") }
        if c.engine.neutronAlarmActive && !lane.lastLevels[LaneOutput.neutronLight.rawValue] { throw fail("neutron alarm without the neutron light") }
        if c.engine.occupancyCount != alarmState.occupancy { alarmState = (false, false, c.engine.occupancyCount) }
        for (active, kind) in [(c.engine.gammaAlarmActive, UInt8(0)), (c.engine.neutronAlarmActive, UInt8(1))] where active {
            let was = kind == 0 ? alarmState.gamma : alarmState.neutron
            if !was && !newRecords.contains(where: { if case let .alarm(a) = $0 { return a.kind == kind && a.occupancy == c.engine.occupancyCount }; return false }) {
                throw fail("a new \(kind == 0 ? "gamma" : "neutron") alarm in occupancy \(c.engine.occupancyCount) without its alarm record in the same tick")
            }
        }
        alarmState.gamma = alarmState.gamma || c.engine.gammaAlarmActive
        alarmState.neutron = alarmState.neutron || c.engine.neutronAlarmActive
        // 3. Fault records chain: each one's bits are the previous bits with its changes applied.
        // The lane's records (panel 255) chain, and so does each panel's; the panels' faults
        // together are the lane's panel faults.
        for case let .fault(f) in newRecords {
            if f.panel == 255 {
                if f.bits != faultBits ^ f.changed { throw fail("fault record \(f.bits) does not follow \(faultBits) changed by \(f.changed)") }
                faultBits = f.bits
                summary.faultRaised.insert(Faults(bits: f.bits))
            } else {
                let p = Int(f.panel)
                if p >= 4 || f.bits != panelFaultBits[p] ^ f.changed { throw fail("panel \(p) fault record \(f.bits) does not follow \(p < 4 ? panelFaultBits[p] : 0)") }
                panelFaultBits[p] = f.bits
            }
        }
        if faultBits != lane.lastFaults.bits { throw fail("the last fault record says \(faultBits), the lane \(lane.lastFaults.bits)") }
        let panelBits = Faults.panelSilent.union(.panelStatus).union(.tamper).union(.detectorDead).bits
        if panelFaultBits.reduce(0, |) != faultBits & panelBits {
            throw fail("the panels' fault records say \(panelFaultBits), the lane's panel faults \(faultBits & panelBits)")
        }
        // 4. A decision is screened only if some panel gave live counts during it.
        if c.engine.isOccupied {
            if !wasOccupied { occupancyHadLivePanel = false; occupancyHadSource = false }
            for p in 0..<4 where lane.answering[p] && !lane.frozen[p] { occupancyHadLivePanel = true }
            if lane.extraGamma.contains(where: { $0 > 0 }) { occupancyHadSource = true }
        }
        // 4b. No gamma significance out of nothing: a truck without a source never reaches 12
        // sigma (a gap in the counts taken for one sample's did: 66 sigma).
        for case let .occupancy(d) in newRecords where !occupancyHadSource && d.gammaMaxSigmaQ8 > 12 * 256 {
            throw fail("occupancy \(d.occupancy) without a source reached \(Double(d.gammaMaxSigmaQ8) / 256) sigma (faults \(d.faults.bits), panels \(d.panelsUsedMask), \(d.samples) samples, max window \(d.gammaMaxCounts) counts, background \(d.gammaMaxBackgroundQ16 >> 16), group \(d.gammaMaxGroup), low share \(d.gammaMaxLowShareQ16))")
        }
        for case let .occupancy(d) in newRecords where !d.notScreened && !occupancyHadLivePanel && d.panelsUsedMask != 0 {
            throw fail("occupancy \(d.occupancy) decided screened (panels \(d.panelsUsedMask)) while no panel gave live counts")
        }
    }
    lane.controller.finish(TickClock(nowUs: lane.nowUs, wallUs: lane.nowUs), sink: &lane.sink)
    // 5. Every occupancy is decided once, in order, with no hole.
    let numbers = lane.sink.decisions.map(\.occupancy)
    if numbers != Array(1...max(1, numbers.count)).map(UInt32.init) && !(numbers.isEmpty && lane.controller.engine.occupancyCount == 0) {
        throw fail("decisions \(numbers) are not 1...\(numbers.count)")
    }
    if UInt32(numbers.count) != lane.controller.engine.occupancyCount { throw fail("\(lane.controller.engine.occupancyCount) occupancies, \(numbers.count) decisions") }
    // 6. Every alarmed decision has its alarm records (the canary breaks this).
    for d in lane.sink.decisions {
        for (alarmed, kind) in [(d.gammaAlarm, UInt8(0)), (d.neutronAlarm, UInt8(1))] where alarmed {
            if !lane.sink.alarms.contains(where: { $0.occupancy == d.occupancy && $0.kind == kind }) {
                throw fail("occupancy \(d.occupancy) alarmed (\(kind == 0 ? "gamma" : "neutron")) without an alarm record")
            }
        }
    }
    let decisions = lane.sink.decisions
    summary.decisions = decisions.count
    summary.gammaAlarms = decisions.filter(\.gammaAlarm).count
    summary.neutronAlarms = decisions.filter(\.neutronAlarm).count
    summary.notScreened = decisions.filter(\.notScreened).count
    return summary
}

@Suite struct SwarmTests {
    /// The fixed seeds of `make test`; `LANE_SWARM_SEED=N` replays one, `LANE_SWARM_SEEDS=N` runs 1...N.
    static let seeds: [UInt64] = {
        let env = ProcessInfo.processInfo.environment
        if let one = env["LANE_SWARM_SEED"].flatMap(UInt64.init) { return [one] }
        if let n = env["LANE_SWARM_SEEDS"].flatMap(UInt64.init), n >= 1 { return Array(1...n) }
        return Array(1...12)
    }()

    @Test("random traffic and random faults, 30 minutes of lane time per seed: every invariant holds every tick, and the run reached trucks, alarms and faults", arguments: seeds)
    func invariants(seed: UInt64) throws {
        let s = try swarm(seed: seed, ticks: 18_000)
        #expect(s.decisions >= 50, "seed \(seed): \(s)")
        #expect(s.gammaAlarms >= 1, "seed \(seed): \(s)")
        #expect(s.faultRaised.contains(.panelSilent) && s.faultRaised.contains(.detectorDead), "seed \(seed): \(s)")
    }

    @Test("over the fixed seeds the swarm reaches neutron alarms, unscreened trucks, tamper, output and beam faults")
    func coverage() throws {
        var all = SwarmSummary()
        for seed in UInt64(1)...12 {
            let s = try swarm(seed: seed, ticks: 18_000)
            all.neutronAlarms += s.neutronAlarms
            all.notScreened += s.notScreened
            all.faultRaised.insert(s.faultRaised)
        }
        #expect(all.neutronAlarms >= 1 && all.notScreened >= 1, "\(all)")
        #expect(all.faultRaised.contains(.tamper) && all.faultRaised.contains(.outputFailed) && all.faultRaised.contains(.beamStuck), "\(all)")
    }

    @Test("the canary: a planted bug (an alarm record lost) is caught by the swarm and names its seed")
    func canary() {
        var caught = 0
        for seed in UInt64(1)...12 {
            do { try swarm(seed: seed, ticks: 18_000, canary: true) } catch {
                caught += 1
                #expect("\(error)".contains("LANE_SWARM_SEED=\(seed)"))
            }
        }
        #expect(caught > 0, "no seed of twelve caught the planted bug")
    }
}
