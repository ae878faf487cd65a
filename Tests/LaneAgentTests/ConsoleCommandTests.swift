// Proves the console's commands by their results (`ConsoleSession.execute` returns the outcome and
// the lines written), against the real LaneController on virtual time behind the console's one
// seam (`ConsoleLane`): no tick thread, no timing. Answers to a command's questions (a password,
// a confirmation) come through a real socket pair, as a terminal's would.

import Foundation
import LaneAgent
import LaneConsole
import LaneCore
import LaneHAL
import LaneTrace
import Testing

/// A lane on virtual time as the console sees it: requests are applied and the view published
/// by ticking the controller here, synchronously, whenever the console waits for them.
final class VirtualConsoleLane: ConsoleLane, @unchecked Sendable {
    let monitor = LaneMonitor()
    var lane = VirtualLane()
    var busRequests: [BusRequest] = []

    func tick(_ n: Int = 1) {
        for _ in 0..<n {
            while let r = monitor.requests.tryPop() { lane.controller.apply(r) }
            lane.tick()
            lane.controller.updateFigures { $0.published = true }
            _ = monitor.publish(lane.controller.view)
        }
    }

    func awaitApplied(_ sequence: Int, timeoutUs: Int64) -> Bool {
        for _ in 0..<Int(max(1, timeoutUs / 100_000)) {
            tick()
            if lane.controller.view.requestsApplied >= sequence { return true }
        }
        return false
    }

    func panelSlots(into out: inout [PanelSlot]) { for i in 0..<min(out.count, lane.slots.count) { out[i] = lane.slots[i] } }

    /// Reads answer with the panel's counters in the reference layout; anything else is refused.
    func busRequest(_ r: BusRequest) -> BusReply {
        busRequests.append(r)
        guard case let .readInput(unit, address, count) = r, (1...4).contains(unit) else { return .failed("no such unit on the virtual bus") }
        let g = lane.slots[unit - 1].reading.gammaTotal
        let block: [UInt16] = [UInt16(g >> 16), UInt16(g & 0xFFFF), 0, 0, 0, 0, 0, 0, lane.slots[unit - 1].reading.status, 1000, 215, 0x0100]
        return .registers((address..<address + count).map { $0 < block.count ? block[$0] : 0 })
    }

    var busFigures: ConsoleBusFigures { ConsoleBusFigures() }
    var eventQueueFigures: (pushed: Int, dropped: Int) { (lane.sink.events.count, 0) }
}

/// A console session on one end of a socket pair; `answer` types into the other end.
struct ConsoleUnderTest {
    let lane = VirtualConsoleLane()
    let hub: ConsoleHub
    let session: ConsoleSession
    let peer: Int32
    var log: LogRing

    init() throws {
        let profile = try BoardProfile.load(path: packageRoot + "/Boards/sim.yaml")
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        peer = fds[1]
        log = LogRing()
        hub = ConsoleHub(profile: profile, lane: lane, logRing: log, log: { [log] in log.append($0) })
        session = ConsoleSession(hub: hub, fd: fds[0], place: "test", closesOnExit: true, stop: { false })
        lane.tick(300)  // the background is learned
    }

    /// Types `text` for the next question a command asks.
    func answer(_ text: String) { _ = text.withCString { write(peer, $0, strlen($0)) } }

    func run(_ line: String) -> ConsoleResult { session.execute(line) }

    func login() {
        answer("lane-demo-1\r")
        #expect(run("login tech").outcome == .ok)
    }
}

@Suite struct ConsoleCommandTests {
    @Test("status shows the lane idle and fault-free after learning, then a silent panel's fault, as the controller has them")
    func status() throws {
        let c = try ConsoleUnderTest()
        var r = c.run("status")
        #expect(r.outcome == .ok)
        #expect(r.text.contains("idle (lane empty)"), "\(r.text)")
        #expect(r.lines.contains { $0.hasPrefix("faults:") && $0.hasSuffix(" none") }, "\(r.text)")
        #expect(r.lines.contains { $0.hasPrefix("panels:") && $0.hasSuffix("4 of 4 answering") }, "\(r.text)")
        c.lane.lane.answering[2] = false
        c.lane.tick(6)
        r = c.run("status")
        #expect(r.lines.contains { $0.hasPrefix("faults:") && $0.contains("panelSilent") }, "\(r.text)")
        #expect(r.lines.contains { $0.hasPrefix("panels:") && $0.contains("3 of 4 answering") }, "\(r.text)")
    }

    @Test("status names the last occupancy's alarm and the tests that raised it (here the gross test: the virtual lane's NORM rule is not on)")
    func statusNamesTheTests() throws {
        let c = try ConsoleUnderTest()
        c.lane.lane.truck { $0.extraGamma = [400, 400, 400, 400]; $0.extraLowShare = 0.9 }
        c.lane.tick()
        let d = try #require(c.lane.lane.sink.decisions.last)
        #expect(d.gammaAlarm && d.gammaTests.contains(.gross), "\(d)")
        let names = gammaTestNames(d.gammaTests).joined(separator: ", ")
        let r = c.run("status")
        #expect(r.lines.contains { $0.hasPrefix("occupancies:") && $0.contains("last #1: GAMMA ALARM (\(names)), ") }, "\(r.text)")
    }

    @Test("faults lists each active fault with its age and advice, and each failing panel with its status word and whether it is left out")
    func faults() throws {
        let c = try ConsoleUnderTest()
        #expect(c.run("faults").text == "no faults: the lane screens with every panel")
        c.lane.lane.panelStatus[1] = 0x0000
        c.lane.tick(20)
        let r = c.run("faults")
        #expect(r.outcome == .ok)
        #expect(r.lines.first?.hasPrefix("panelStatus         for 1.9 s: a panel reports a fault in its status word") == true, "\(r.text)")
        #expect(r.lines.contains("panel \(c.hub.profile.panelLabels[1]): status 0x0 (ok bits 0x7 clear); LEFT OUT of detection"), "\(r.text)")
    }

    @Test("unknown commands, wrong argument counts and privileged commands without a login fail with the reason, and change nothing")
    func refusals() throws {
        let c = try ConsoleUnderTest()
        #expect(c.run("stauts").outcome == .failed("unknown command 'stauts' (did you mean 'status' or 'stats'?); 'help' lists the commands"))
        #expect(c.run("log 1 2").failed)
        #expect(c.run("alarms ack").outcome == .failed("alarms ack: needs a technician login ('login'); anyone may look, only technicians may change or test"))
        #expect(c.run("set gammaSigma 5").failed)
        #expect(c.lane.monitor.requests.isEmpty, "nothing was posted to the tick")
        #expect(c.hub.countersSnapshot.refusedNotLoggedIn == 2)
    }

    @Test("an alarm is acknowledged twice from the console: the first press silences the siren, the second clears the lights; both are audited")
    func acknowledge() throws {
        let c = try ConsoleUnderTest()
        c.login()
        c.lane.lane.truck(during: { l in l.extraGamma = [3_000, 3_000, 3_000, 3_000]; l.ticks(30); l.extraGamma = [0, 0, 0, 0] })
        c.lane.tick()
        #expect(c.lane.lane.controller.view.alarmCount == 1)
        #expect(c.run("alarms").lines.contains { $0.hasPrefix("  1 ") && $0.contains("gamma") && $0.contains("ACTIVE") })
        var r = c.run("alarms ack 1")
        #expect(r.outcome == .ok)
        #expect(r.text.contains("alarm #1 silenced (siren off)"), "\(r.text)")
        #expect(c.lane.lane.controller.view.alarm(0).state == .silenced)
        #expect(!c.lane.lane.lastLevels[LaneOutput.siren.rawValue])
        r = c.run("alarms ack 1")
        #expect(r.text.contains("alarm #1 cleared (lights off)"), "\(r.text)")
        #expect(c.lane.lane.controller.view.alarm(0).state == .cleared)
        #expect(c.run("alarms ack 7").outcome == .failed("alarms ack: no recent alarm #7; 'alarms' lists them"))
        #expect(c.log.recent(10).contains { $0.contains("tech: alarms ack #1: active -> silenced") })
    }

    @Test("set: a value out of range is refused with its range; a confirmed change reaches the controller's settings; a 'no' changes nothing")
    func set() throws {
        let c = try ConsoleUnderTest()
        c.login()
        #expect(c.run("set gammaSigma 99").outcome == .failed("set: gammaSigma: 99 is out of range: 1 to 50 sigma"))
        c.answer("n\r")
        #expect(c.run("set gammaSigma 6.5").outcome == .cancelled)
        #expect(c.lane.lane.controller.view.settings.gammaSigmaQ8 != 6 * 256 + 128)
        c.answer("y\r")
        let r = c.run("set gammaSigma 6.5")
        #expect(r.outcome == .ok, "\(r.text)")
        #expect(c.lane.lane.controller.view.settings.gammaSigmaQ8 == 6 * 256 + 128)
        #expect(c.run("config diff").text.contains("gammaSigma"))
    }

    @Test("safety floors: set beyond a floor is refused; maintenance mode lets it pass, lights the fault lamp, marks heartbeats; when it ends the setting goes back to the profile's, audited")
    func floorsAndMaintenance() throws {
        let c = try ConsoleUnderTest()
        c.login()
        let refused = c.run("set gammaSigma 20")
        #expect(refused.outcome == .failed("set: gammaSigma 20 is beyond its safety floor (1 to 12 sigma): the lane would be blind or blunted; only in maintenance mode ('maintenance on MINUTES')"), "\(refused.text)")
        #expect(c.run("set sirenS 0").outcome != .ok, "a siren that does not sound")
        #expect(c.run("maintenance on 500").outcome == .failed("maintenance on: MINUTES must be 1 to 120, found '500'"))
        c.answer("y\r")
        #expect(c.run("maintenance on 2").outcome == .ok)
        c.lane.tick(2)
        #expect(c.lane.lane.controller.view.faults.contains(.detectionUnlocked))
        #expect(c.lane.lane.lastLevels[LaneOutput.faultLight.rawValue], "the fault lamp is lit")
        c.answer("y\r")
        #expect(c.run("set gammaSigma 20").outcome == .ok)
        c.lane.tick(2)
        #expect(c.lane.lane.controller.view.settings.gammaSigmaQ8 == 20 * 256)
        #expect(c.run("maintenance").text.contains("gammaSigma 20"))
        // A truck decided in maintenance mode carries it in its faults.
        c.lane.lane.truck()
        #expect(c.lane.lane.sink.decisions.last?.faults.contains(.detectionUnlocked) == true, "the decision says the lane was unlocked")
        // A heartbeat (once a minute) says so, with the settings' hash.
        c.lane.tick(600)
        let beats = c.lane.lane.sink.records.compactMap { if case let .heartbeat(h) = $0 { return h } else { return nil } }
        #expect(beats.last.map { $0.flags & HeartbeatRecord.flagUnlocked != 0 } == true)
        // Two minutes pass: the mode ends by itself, the threshold goes back to the profile's 6
        // (and the next heartbeat, at 3 minutes, is after that).
        c.lane.tick(1_000)
        #expect(!c.lane.lane.controller.view.faults.contains(.detectionUnlocked))
        #expect(c.lane.lane.controller.view.settings.gammaSigmaQ8 == 6 * 256)
        let audits = c.lane.lane.sink.records.compactMap { if case let .audit(a) = $0 { return a } else { return nil } }
        #expect(audits.contains { $0.action == ShortText("maintenance mode ended") })
        #expect(c.run("config diff").text.contains("running settings match"), "the console's copy went back too")
        #expect(c.run("maintenance").text.contains("off"))
        let after = c.lane.lane.sink.records.compactMap { if case let .heartbeat(h) = $0 { return h } else { return nil } }.last!
        #expect(after.flags & HeartbeatRecord.flagUnlocked == 0)
        #expect(after.settingsHash == Tunable.hash(TunableValues(c.hub.profile)), "the settings' hash is the profile's (the console's set had sent all of the profile's values)")
        #expect(after.settingsHash != beats.last!.settingsHash, "and it differed while gammaSigma was 20")
    }

    @Test("modbus read goes through the lane's bus and prints the registers; bad arguments name what is wrong")
    func modbusRead() throws {
        let c = try ConsoleUnderTest()
        c.login()
        let r = c.run("modbus read 2 8 1")
        #expect(r.outcome == .ok, "\(r.text)")
        #expect(r.text.contains("0x0001"), "\(r.text)")
        #expect(c.lane.busRequests.count == 1)
        #expect(c.run("modbus read 300 0 1").outcome == .failed("modbus read: UNIT 300 is out of range 1 to 247"))
        #expect(c.run("modbus read 1 0 1 coils").outcome == .failed("modbus read: expected input or holding, found 'coils'"))
        #expect(c.lane.busRequests.count == 1)
    }

    @Test("a wrong password fails the login with the reason and is audited; the session stays logged out")
    func wrongPassword() throws {
        let c = try ConsoleUnderTest()
        c.answer("guess\r")
        #expect(c.run("login tech").outcome == .failed("login: wrong user name or password"))
        #expect(c.run("whoami").text.contains("not logged in"))
        #expect(c.log.recent(10).contains { $0.contains("tech: login failed") })
    }

    @Test("background on a 4-window lane: after NORM loads, clean shadowed vehicles and NORM under the threshold, it counts the NORM-like vehicles the shielding learner left out (none before them)")
    func backgroundCountsNormLikeLeftOut() throws {
        let c = try ConsoleUnderTest()
        let background: [UInt32] = [20, 10, 6, 4], norm: [UInt32] = [4, 6, 6, 4], shadow: [UInt32] = [16, 8, 4, 3]
        var lane = VirtualLane { s in
            s.gammaBackgroundLowCps = 0
            s.viewLengthMm = 0
            s.backgroundUncertainty = false
            s.dwellIntegration = true
            s.normDiscrimination = true
            s.normLowShareMinQ16 = 39_322
            s.normShareMaxQ16 = 36_045
            s.gammaCeilingSigmaQ8 = 1_000 * 256
            s.spectralWindowCount = 4
        }
        lane.fixedWindows = background
        c.lane.lane = lane
        c.lane.tick(300)
        /// A vehicle in both beams for `samples` ticks, its windows given per tick; then 3 s empty.
        func vehicle(samples: Int, _ windows: (Int) -> [UInt32]) {
            let t = c.lane.lane.nowUs + 50_000
            c.lane.lane.pendingEdges += [BeamEdge(tUs: t, beam: 0, blocked: true), BeamEdge(tUs: t, beam: 1, blocked: true)]
            for i in 0..<samples { c.lane.lane.fixedWindows = windows(i); c.lane.tick() }
            let u = c.lane.lane.nowUs + 50_000
            c.lane.lane.pendingEdges += [BeamEdge(tUs: u, beam: 0, blocked: false), BeamEdge(tUs: u, beam: 1, blocked: false)]
            c.lane.lane.fixedWindows = background
            c.lane.tick(30)
        }
        for _ in 0..<110 { vehicle(samples: 15) { _ in zip(background, norm).map { $0 + $1 } } }
        #expect(c.lane.lane.controller.engine.spectralTestReady)
        for _ in 0..<40 { vehicle(samples: 30) { _ in shadow } }
        let learned = c.lane.lane.controller.engine.shieldingLearner
        #expect(learned.isReady, "\(learned.learned) clean vehicles")
        var r = c.run("background")
        #expect(r.lines.contains { $0.hasPrefix("vehicle shielding: the low window takes 0.6") && !$0.contains("NORM-like") }, "\(r.text)")
        let decided = c.lane.lane.sink.decisions.count
        for _ in 0..<6 { vehicle(samples: 120) { i in i % 8 == 0 ? zip(shadow, norm).map { $0 + $1 } : shadow } }
        let loads = c.lane.lane.sink.decisions[decided...]
        #expect(loads.count == 6 && loads.allSatisfy { !$0.gammaAlarm }, "\(Array(loads))")
        #expect(c.lane.lane.controller.engine.shieldingLearner.learned == learned.learned)
        r = c.run("background")
        #expect(r.lines.contains { $0.hasPrefix("vehicle shielding: the low window takes 0.6") && $0.hasSuffix("; 6 NORM-like vehicles under the threshold left out since start") }, "\(r.text)")
    }
}
