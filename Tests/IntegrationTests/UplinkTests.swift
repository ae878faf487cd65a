// Proves store and forward end to end with a real mosquitto broker on loopback: the agent runs
// against the simulator with a journal and the uplink; the broker is stopped and restarted
// during traffic; the agent is killed with SIGKILL and restarted on the same journal. At the
// end the subscriber and lane-collector hold every record the agent committed, in sequence with
// no gap (resends after a kill are dropped as duplicates by sequence), and the journal is empty.

import CMosquitto
import Foundation
import LaneCore
import Testing

/// A test subscriber: persistent session, QoS 1, decodes the frames of every message.
final class Subscriber: @unchecked Sendable {
    let lock = NSLock()
    var sequences: [UInt64] = []
    var kinds: [UInt64: RecordKind] = [:]
    var epochs: Set<UInt64> = []
    var rejected = 0
    var statuses: [String] = []
    /// Every CONNACK code the broker gave (0: accepted; 5: not authorised).
    var connacks: [Int32] = []
    var mosq: OpaquePointer?
    let topic: String

    init(port: Int, clientID: String = "test-collector", topic: String = "rpm/#", username: String? = nil, password: String? = nil, caFile: String? = nil) {
        self.topic = topic
        mosquitto_lib_init()
        mosq = mosquitto_new(clientID, false, nil)
        mosquitto_user_data_set(mosq, Unmanaged.passUnretained(self).toOpaque())
        if let username { mosquitto_username_pw_set(mosq, username, password) }
        if let caFile { mosquitto_tls_set(mosq, caFile, nil, nil, nil, nil) }
        mosquitto_connect_callback_set(mosq) { m, ctx, rc in
            let me = Unmanaged<Subscriber>.fromOpaque(ctx!).takeUnretainedValue()
            me.lock.lock(); me.connacks.append(rc); me.lock.unlock()
            if rc == 0 { mosquitto_subscribe(m, nil, me.topic, 1) }
        }
        mosquitto_message_callback_set(mosq) { _, ctx, msg in
            let me = Unmanaged<Subscriber>.fromOpaque(ctx!).takeUnretainedValue()
            let topic = String(cString: msg!.pointee.topic)
            let bytes = UnsafeBufferPointer(start: msg!.pointee.payload.assumingMemoryBound(to: UInt8.self), count: Int(msg!.pointee.payloadlen))
            me.lock.lock(); defer { me.lock.unlock() }
            if topic.hasSuffix("/status") { me.statuses.append(String(decoding: bytes, as: UTF8.self)); return }
            guard topic.contains("/records/"), let base = bytes.baseAddress else { return }  // acknowledgements are not records
            var reader = FrameReader(base, count: bytes.count)
            while let f = reader.next() {
                switch f {
                case let .record(h, r, _): me.sequences.append(h.sequence); me.kinds[h.sequence] = r.kind; me.epochs.insert(h.epoch)
                case .rejected, .truncated: me.rejected += 1
                }
            }
        }
        mosquitto_reconnect_delay_set(mosq, 1, 2, false)
        // A refused first connection is retried by the loop (the broker may still be starting).
        _ = mosquitto_connect(mosq, "127.0.0.1", Int32(port), 10)
        mosquitto_loop_start(mosq)
    }

    func stop() {
        mosquitto_disconnect(mosq)
        mosquitto_loop_stop(mosq, true)
        mosquitto_destroy(mosq)
    }

    var snapshot: [UInt64] { lock.lock(); defer { lock.unlock() }; return sequences }
    /// Reads the subscriber's state under its lock (from async tests too).
    func withLock<T>(_ body: (Subscriber) -> T) -> T { lock.lock(); defer { lock.unlock() }; return body(self) }
}


/// mosquitto on loopback, its session store in the test's directory (it stays root to write it),
/// saved on every change so that a restart keeps the subscriber's queued messages.
func startBroker(port: Int, dir: String) throws -> External {
    let conf = dir + "/mosquitto.conf"
    try "listener \(port) 127.0.0.1\nallow_anonymous true\nuser root\npersistence true\npersistence_location \(dir)/\nautosave_interval 1\nautosave_on_changes true\n"
        .write(toFile: conf, atomically: true, encoding: .utf8)
    let broker = try External("/usr/sbin/mosquitto", ["-c", conf], log: dir + "/broker.log")
    usleep(300_000)
    return broker
}

@Suite(.timeLimit(integrationTimeLimit))
struct UplinkTests {
    @Test("every committed record reaches the subscriber exactly once in sequence, through a broker restart and an agent SIGKILL")
    func storeAndForward() throws {
        let dir = scratch("uplink")
        let modbusPort = freePort(), brokerPort = freePort()
        var broker = try startBroker(port: brokerPort, dir: dir)
        let subscriber = Subscriber(port: brokerPort)
        defer { subscriber.stop() }
        // The real receiving end too: lane-collector into SQLite.
        let collector = try Child("lane-collector", ["run", "--broker", "127.0.0.1:\(brokerPort)", "--db", dir + "/cas.sqlite"], dir: dir, name: "collector")
        defer { collector.stop() }
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", String(modbusPort),
                                         "--gpio-socket", dir + "/gpio.sock", "--linger", "30"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        let agentArgs = ["run", "--board", "Boards/sim.yaml", "--modbus-port", String(modbusPort), "--gpio-socket", dir + "/gpio.sock",
                         "--vm250-port", String(freePort()),
                         "--journal", dir + "/journal", "--broker", "127.0.0.1:\(brokerPort)"]

        // Run 1: the broker goes away for 5 s in the middle.
        let a1 = try Child("lane-agent", agentArgs + ["--duration", "22"], dir: dir, name: "agent1")
        sleep(7)
        broker.stop()
        sleep(5)
        broker = try startBroker(port: brokerPort, dir: dir)
        #expect(a1.wait(timeoutS: 40) == 0, "\(a1.stderr)")
        // Screening did not wait for the broker: the occupancies were decided while it was away
        // (missed ticks are measured in the benchmarks, not asserted on a shared machine).
        #expect(a1.jsonLines().count >= 1, "\(a1.stderr)")
        // Each message published is acknowledged by the broker at most once, through the broker's
        // restart ("35 messages published, 38 acknowledged" once counted late PUBACKs of old sends).
        let counts = a1.stderr.split(separator: "\n").first { $0.contains("messages published") }.map { line in
            line.split(separator: " ").enumerated().compactMap { i, w in Int(w) }
        } ?? []
        #expect(counts.count >= 2 && counts[1] <= counts[0], "published, then taken by the broker: \(counts)")
        // Run 2: killed without warning.
        let a2 = try Child("lane-agent", agentArgs + ["--duration", "30"], dir: dir, name: "agent2")
        sleep(6)
        kill(a2.process.processIdentifier, SIGKILL)
        a2.wait(timeoutS: 10)
        // Run 3: recovers the journal and drains it.
        let a3 = try Child("lane-agent", agentArgs + ["--duration", "12"], dir: dir, name: "agent3")
        #expect(a3.wait(timeoutS: 40) == 0, "\(a3.stderr)")
        sleep(2)
        collector.stop()
        broker.stop()

        let received = subscriber.snapshot
        let unique = Array(Set(received)).sorted()
        #expect(!unique.isEmpty)
        // No gap in what arrived: 1, 2, 3 ... the highest.
        #expect(unique == Array(1...(unique.last ?? 0)), "gaps in \(unique.count) records")
        // What did not arrive is still in the journal, and nothing else is missing.
        let dump = try Child("lane-agent", ["journal", dir + "/journal", "--unacknowledged"], dir: dir, name: "dump")
        #expect(dump.wait(timeoutS: 30) == 0)
        let remaining = dump.jsonLines().map { ($0["sequence"] as! NSNumber).uint64Value }
        let all = Set(unique).union(remaining)
        #expect(Array(all).sorted() == Array(1...(all.max() ?? 0)), "a committed record was lost")
        // The last, clean stop handed everything over and the collector acknowledged it all.
        #expect(remaining.isEmpty, "\(remaining.count) records still in the journal: \(a3.stderr)")
        #expect(subscriber.rejected == 0)
        // Decisions made it upstream.
        #expect(subscriber.kinds.values.contains(.occupancy))
        #expect(a3.stderr.contains("next sequence"))
        // The collector holds the same records, checked in sequence, duplicates dropped.
        let lanes = try Child("lane-collector", ["lanes", "--db", dir + "/cas.sqlite"], dir: dir, name: "lanes")
        #expect(lanes.wait(timeoutS: 30) == 0, "\(lanes.stderr)")
        let lane = try #require(lanes.jsonLines().first, "the collector stored nothing: \(collector.stderr)")
        #expect(lane["lane"] as? String == "DEMO-PORT/LANE-01")
        #expect((lane["highest"] as! NSNumber).uint64Value == unique.last)
        #expect((lane["contiguousThrough"] as! NSNumber).uint64Value == unique.last)
        #expect((lane["gaps"] as? [Any])?.isEmpty == true)
        #expect((lane["records"] as! NSNumber).intValue == unique.count)
        let occupancies = try Child("lane-collector", ["occupancies", "--db", dir + "/cas.sqlite"], dir: dir, name: "occ")
        #expect(occupancies.wait(timeoutS: 30) == 0)
        #expect(occupancies.jsonLines().count == subscriber.kinds.values.filter { $0 == .occupancy }.count)
        // The stored records replay exactly: the study with the lane's own settings (its board
        // profile) gives every decision of the three runs (one killed, two restoring the
        // background kept on disk) the lane's own verdict.
        try "candidates:\n  - name: sigma-5\n    detection: {gammaSigma: 5}\n".write(toFile: dir + "/candidates.yaml", atomically: true, encoding: .utf8)
        let study = try Child("lane-collector", ["study", "--db", dir + "/cas.sqlite", "--lane", "DEMO-PORT/LANE-01", "--from", "2000-01-01", "--to", "2099-12-31",
                                                 "--settings", dir + "/candidates.yaml", "--board", "Boards/sim.yaml", "--out", dir + "/study"], dir: dir, name: "study")
        #expect(study.wait(timeoutS: 60) == 0, "\(study.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/study/study.json"))) as? [String: Any])
        let shipped = try #require((report["candidates"] as? [[String: Any]])?.first)
        #expect(shipped["name"] as? String == "lane")
        #expect(study.stdout.contains("The lane ran its board profile's settings throughout"), "\(study.stdout)")
        let laneFigures = try #require(report["decidedByLane"] as? [String: Any])
        let decided = (laneFigures["occupancies"] as! NSNumber).intValue
        #expect(decided == occupancies.jsonLines().count && decided > 0)
        #expect((shipped["matched"] as! NSNumber).intValue == decided, "every decision of the lane replayed: \(study.stdout)")
        #expect((shipped["sameVerdict"] as! NSNumber).intValue == decided, "each with the lane's verdict: \(study.stdout)")
        #expect(report["exact"] as? Bool == true)
        print("uplink: \(received.count) received, \(unique.count) unique, \(received.count - unique.count) duplicates dropped, \(remaining.count) unacknowledged in the journal")
    }
}
