// Proves the delivery guarantee end to end (docs/UPLINK.md): a lane forgets a record only when
// the alarm station's collector has stored it. Real processes throughout: lane-sim, lane-agent
// with its journal and uplink, mosquitto on loopback, lane-collector into SQLite.
// - The broker crashes (SIGKILL, no persistence) while the collector is away: what the broker
//   held is gone, yet every record reaches the collector, because the lane re-sends from the
//   collector's point.
// - The agent is killed with SIGKILL at random moments 50 times in a row and restarted: the
//   collector ends with every sequence of the epoch, no hole, no false alarm; start-up after a
//   crash is measured.

import CMosquitto
import Foundation
import LaneTrace
import Testing

func startPlainBroker(port: Int, dir: String, persistence: Bool) throws -> External {
    let conf = dir + "/mosquitto-\(port).conf"
    var text = "listener \(port) 127.0.0.1\nallow_anonymous true\nuser root\n"
    if persistence { text += "persistence true\npersistence_location \(dir)/\nautosave_interval 1\n" }
    try text.write(toFile: conf, atomically: true, encoding: .utf8)
    let broker = try External("/usr/sbin/mosquitto", ["-c", conf], log: dir + "/broker.log")
    usleep(300_000)
    return broker
}

/// The collector's listing of one lane's epochs.
func collectorLanes(_ dir: String) throws -> [[String: Any]] {
    let lanes = try Child("lane-collector", ["lanes", "--db", dir + "/cas.sqlite"], dir: dir, name: "lanes-\(UInt32.random(in: 0...UInt32.max))")
    _ = lanes.wait(timeoutS: 30)
    return lanes.jsonLines()
}

/// Sequences still in the journal that the collector has not acknowledged.
func unacknowledged(_ dir: String) throws -> [UInt64] {
    let dump = try Child("lane-agent", ["journal", dir + "/journal", "--unacknowledged"], dir: dir, name: "dump-\(UInt32.random(in: 0...UInt32.max))")
    _ = dump.wait(timeoutS: 30)
    return dump.jsonLines().map { ($0["sequence"] as! NSNumber).uint64Value }
}

@Suite(.serialized, .timeLimit(integrationTimeLimit))
struct NothingLostTests {
    @Test("the broker crashes while the collector is away (its queue is lost): the lane re-sends from the collector's point and the collector ends with every record, the alarm among them")
    func brokerCrash() throws {
        let dir = scratch("brokercrash")
        let modbusPort = freePort(), brokerPort = freePort()
        var broker = try startPlainBroker(port: brokerPort, dir: dir, persistence: false)
        defer { broker.stop() }
        let collectorArgs = ["run", "--broker", "127.0.0.1:\(brokerPort)", "--db", dir + "/cas.sqlite", "--client-id", "station-1"]
        var collector = try Child("lane-collector", collectorArgs, dir: dir, name: "collector1")
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", String(modbusPort),
                                         "--gpio-socket", dir + "/gpio.sock", "--linger", "30"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        let agent = try Child("lane-agent", ["run", "--board", "Boards/sim.yaml", "--modbus-port", String(modbusPort), "--gpio-socket", dir + "/gpio.sock",
                                             "--vm250-port", String(freePort()), "--journal", dir + "/journal", "--broker", "127.0.0.1:\(brokerPort)", "--duration", "55"],
                              dir: dir, name: "agent")
        defer { agent.stop() }
        sleep(6)
        collector.stop()            // the collector goes away; the broker queues for its session
        sleep(25)                   // the trucks pass, the Cs-137 one with its alarm
        kill(broker.pid, SIGKILL)   // the broker crashes: everything it queued is gone
        var status: Int32 = 0
        waitpid(broker.pid, &status, 0)
        sleep(2)
        broker = try startPlainBroker(port: brokerPort, dir: dir, persistence: false)
        collector = try Child("lane-collector", collectorArgs, dir: dir, name: "collector2")
        #expect(agent.wait(timeoutS: 90) == 0, "\(agent.stderr)")
        sleep(1)
        collector.stop()
        let lanes = try collectorLanes(dir)
        let lane = try #require(lanes.first, "the collector stored nothing: \(collector.stderr)")
        let highest = (lane["highest"] as! NSNumber).uint64Value
        #expect(lanes.count == 1, "one epoch")
        #expect((lane["contiguousThrough"] as! NSNumber).uint64Value == highest, "\(lane)")
        #expect((lane["gaps"] as? [Any])?.isEmpty == true && (lane["lost"] as? [Any])?.isEmpty == true, "\(lane)")
        #expect((lane["records"] as! NSNumber).uint64Value == highest)
        let left = try unacknowledged(dir)
        #expect(left.isEmpty, "the lane kept \(left.count) records the collector never acknowledged")
        let journalNext = agent.stderr.components(separatedBy: "stored through sequence ").last.flatMap { UInt64($0.prefix { $0.isNumber }) }
        #expect(journalNext == highest, "the collector has every record the lane wrote: \(agent.stderr.suffix(600))")
        let occ = try Child("lane-collector", ["occupancies", "--db", dir + "/cas.sqlite", "--alarm", "gamma"], dir: dir, name: "occ")
        _ = occ.wait(timeoutS: 30)
        #expect(occ.jsonLines().count >= 1, "the Cs-137 truck's alarm reached the collector")
        #expect(agent.stderr.contains("sending again") || agent.stderr.contains("connected to"), "\(agent.stderr)")
    }

    @Test("the agent killed with SIGKILL at random moments 50 times and restarted each time: no committed record lost, no hole at the collector, no false alarm; start-up measured")
    func killFifty() async throws {
        let dir = scratch("kill50")
        let modbusPort = freePort(), brokerPort = freePort()
        let broker = try startPlainBroker(port: brokerPort, dir: dir, persistence: false)
        defer { broker.stop() }
        let collector = try Child("lane-collector", ["run", "--broker", "127.0.0.1:\(brokerPort)", "--db", dir + "/cas.sqlite", "--client-id", "station-1"],
                                  dir: dir, name: "collector")
        defer { collector.stop() }
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/clean-traffic.yaml", "--tcp-port", String(modbusPort),
                                         "--gpio-socket", dir + "/gpio.sock", "--linger", "60"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        let args = ["run", "--board", "Boards/sim.yaml", "--modbus-port", String(modbusPort), "--gpio-socket", dir + "/gpio.sock",
                    "--vm250-port", String(freePort()), "--journal", dir + "/journal", "--broker", "127.0.0.1:\(brokerPort)"]
        var rng = SystemRandomNumberGenerator()
        var startups: [Double] = []
        for round in 1...50 {
            let a = try Child("lane-agent", args, dir: dir, name: "agent\(round)")
            let t0 = Date()
            // Killed at a random moment: often before its first tick, often mid-write.
            let lifeMs = UInt32.random(in: 300...5_000, using: &rng)
            var sawFirstTick = false
            while Date().timeIntervalSince(t0) * 1_000 < Double(lifeMs) {
                if !sawFirstTick, a.stderr.contains("first tick:") { sawFirstTick = true; startups.append(Date().timeIntervalSince(t0)) }
                await pause(0.02)
            }
            kill(a.process.processIdentifier, SIGKILL)
            _ = await a.finish(timeoutS: 10)
        }
        // A last, clean run hands everything over.
        let last = try Child("lane-agent", args + ["--duration", "25"], dir: dir, name: "agent-last")
        #expect(await last.finish(timeoutS: 60) == 0, "\(last.stderr)")
        await pause(1)
        collector.stop()
        let lanes = try collectorLanes(dir)
        #expect(lanes.count == 1, "one journal, one epoch: \(lanes)")
        let lane = try #require(lanes.first, "the collector stored nothing: \(collector.stderr)")
        let highest = (lane["highest"] as! NSNumber).uint64Value
        #expect((lane["contiguousThrough"] as! NSNumber).uint64Value == highest, "\(lane)")
        #expect((lane["gaps"] as? [Any])?.isEmpty == true, "holes at the collector: \(lane)")
        #expect((lane["lost"] as? [Any])?.isEmpty == true, "records reported lost: \(lane)")
        #expect((lane["records"] as! NSNumber).uint64Value == highest)
        let left = try unacknowledged(dir)
        #expect(left.isEmpty)
        let alarms = try Child("lane-collector", ["occupancies", "--db", dir + "/cas.sqlite", "--alarm", "any"], dir: dir, name: "alarms")
        _ = await alarms.finish(timeoutS: 30)
        #expect(alarms.jsonLines().isEmpty, "clean trucks only: every alarm is false: \(alarms.stdout)")
        let all = try Child("lane-collector", ["occupancies", "--db", dir + "/cas.sqlite"], dir: dir, name: "all")
        _ = await all.finish(timeoutS: 30)
        #expect(all.jsonLines().count >= 2, "trucks were decided (mostly in the last run: a truck takes longer than most lives): \(all.jsonLines().count)")
        let sorted = startups.sorted()
        #expect(sorted.count >= 25, "most runs reached their first tick before being killed: \(sorted.count)")
        if !sorted.isEmpty {
            print(String(format: "kill50: %d records, start-up to the first tick after a SIGKILL: median %.0f ms, max %.0f ms (%d runs)",
                         highest, sorted[sorted.count / 2] * 1_000, sorted.last! * 1_000, sorted.count))
        }
    }

    @Test("the collector's acknowledgement releases the journal only through its point, a range it asks for is sent again, and a forged acknowledgement beyond what was written is refused")
    func requestedRanges() throws {
        let dir = scratch("requested")
        let modbusPort = freePort(), brokerPort = freePort()
        let broker = try startPlainBroker(port: brokerPort, dir: dir, persistence: false)
        defer { broker.stop() }
        let station = Subscriber(port: brokerPort, clientID: "test-station")
        defer { station.stop() }
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/clean-traffic.yaml", "--tcp-port", String(modbusPort),
                                         "--gpio-socket", dir + "/gpio.sock", "--linger", "30"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        let agent = try Child("lane-agent", ["run", "--board", "Boards/sim.yaml", "--modbus-port", String(modbusPort), "--gpio-socket", dir + "/gpio.sock",
                                             "--vm250-port", String(freePort()), "--journal", dir + "/journal", "--broker", "127.0.0.1:\(brokerPort)", "--duration", "24"],
                              dir: dir, name: "agent")
        defer { agent.stop() }
        let deadline = Date(timeIntervalSinceNow: 20)
        while station.snapshot.count < 8 && Date() < deadline { usleep(100000) }
        let seen = station.snapshot
        try #require(seen.count >= 8, "the lane sent \(seen.count) records: \(agent.stderr)")
        let epoch = station.withLock { $0.epochs.first ?? 0 }
        let topic = "rpm/DEMO-PORT/LANE-01/ack"
        func send(_ a: StationAck) {
            let bytes = a.json()
            mosquitto_publish(station.mosq, nil, topic, Int32(bytes.count), bytes, 1, false)
        }
        // A forged acknowledgement far beyond what the lane wrote: refused, nothing released.
        send(StationAck(epoch: epoch, through: 1_000_000, collector: "forger"))
        // Garbage on the topic: refused with its reason.
        mosquitto_publish(station.mosq, nil, topic, 5, "hello", 1, false)
        // The station has 1-2, lacks 4-5.
        send(StationAck(epoch: epoch, through: 2, missing: [4...5], collector: "test-station"))
        let again = Date(timeIntervalSinceNow: 5)
        while station.snapshot.filter({ $0 == 4 || $0 == 5 }).count < 4 && Date() < again { usleep(100000) }
        #expect(station.snapshot.filter { $0 == 4 }.count >= 2 && station.snapshot.filter { $0 == 5 }.count >= 2, "4 and 5 were sent again")
        #expect(agent.wait(timeoutS: 60) == 0, "\(agent.stderr)")
        // Only 1-2 were acknowledged: everything after stays in the journal for the station.
        let left = try unacknowledged(dir)
        #expect(left.first == 3, "the journal keeps from 3 on: \(left.prefix(5))")
        #expect(agent.stderr.contains("the journal has written only through"), "the forged acknowledgement was refused: \(agent.stderr)")
        #expect(agent.stderr.contains("was refused: not a JSON object"), "\(agent.stderr)")
        #expect(agent.stderr.contains("1 ranges sent again"), "\(agent.stderr)")
    }
}
