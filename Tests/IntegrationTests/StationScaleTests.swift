// Proves the alarm station scaled out (docs/COLLECTOR.md): two lane-collector processes share a
// lane's records through an MQTT shared subscription (mosquitto on loopback) and one PostgreSQL
// store (on loopback); one collector is killed with SIGKILL mid-stream; the other, and the
// lane's re-sending at the store's request, leave every record in the store exactly once, and the
// lane's journal empty. Two collectors with the default client id no longer throw each other off.

import Foundation
import LaneTestSupport
import Testing

@Suite(.timeLimit(integrationTimeLimit))
struct StationScaleTests {
    @Test("two collectors share a lane through a shared subscription and one PostgreSQL store; one is killed mid-stream; every record is stored exactly once and acknowledged")
    func sharedCollectors() throws {
        let dir = scratch("station-scale")
        let modbusPort = freePort(), brokerPort = freePort()
        let conninfo = try PostgresServer.shared.get().createDatabase()
        let broker = try startPlainBroker(port: brokerPort, dir: dir, persistence: false)
        defer { broker.stop() }
        // Default client ids: unique per process.
        func collector(_ name: String) throws -> Child {
            try Child("lane-collector", ["run", "--broker", "127.0.0.1:\(brokerPort)", "--postgres", conninfo, "--share", "station"], dir: dir, name: name)
        }
        let c1 = try collector("collector1")
        let c2 = try collector("collector2")
        defer { c1.stop(); c2.stop() }
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", String(modbusPort),
                                         "--gpio-socket", dir + "/gpio.sock", "--linger", "30"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        let agent = try Child("lane-agent", ["run", "--board", "Boards/sim.yaml", "--modbus-port", String(modbusPort), "--gpio-socket", dir + "/gpio.sock",
                                             "--vm250-port", String(freePort()), "--journal", dir + "/journal", "--broker", "127.0.0.1:\(brokerPort)",
                                             "--duration", "80"], dir: dir, name: "agent")
        defer { agent.stop() }
        sleep(25)
        // Mid-stream: what the broker had handed it is gone with it, and until the broker notices
        // (1.5 keep-alives, 15 s) half the lane's records still go its way. The lane sends them
        // again when the store asks (its gaps) or stays silent.
        kill(c1.process.processIdentifier, SIGKILL)
        #expect(agent.wait(timeoutS: 120) == 0, "\(agent.stderr.suffix(2_000))")
        #expect(c1.stderr.contains("client id lane-collector-") && c2.stderr.contains("client id lane-collector-"), "\(c2.stderr.prefix(500))")
        #expect(!c2.stderr.contains("refused the connection"), "the two did not throw each other off: \(c2.stderr.suffix(1_000))")

        // The lane's journal is empty: the store acknowledged everything (the lane re-sent what
        // the killed collector took with it when the store asked).
        let left = try unacknowledged(dir)
        #expect(left.isEmpty, "\(left.count) records not acknowledged: \(agent.stderr.suffix(1_500))")
        let lanesRun = try Child("lane-collector", ["lanes", "--postgres", conninfo], dir: dir, name: "lanes")
        #expect(lanesRun.wait(timeoutS: 30) == 0, "\(lanesRun.stderr)")
        let lane = try #require(lanesRun.jsonLines().first, "nothing stored: \(c2.stderr.suffix(1_000))")
        let highest = (lane["highest"] as! NSNumber).intValue
        #expect(highest > 40, "the lane's records: \(lane)")
        #expect((lane["contiguousThrough"] as! NSNumber).intValue == highest && (lane["gaps"] as? [Any])?.isEmpty == true, "\(lane)")
        #expect((lane["records"] as! NSNumber).intValue == highest, "every sequence stored once: \(lane)")
        // The store holds each record once.
        let counts = try Child("/usr/bin/psql", [conninfo, "-tA", "-c", "SELECT COUNT(*), COUNT(DISTINCT sequence), MAX(sequence) FROM records"], dir: dir, name: "psql")
        #expect(counts.wait(timeoutS: 30) == 0, "\(counts.stderr)")
        let cols = counts.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|").map { Int($0) ?? -1 }
        #expect(cols == [highest, highest, highest], "records, distinct sequences, highest: \(cols)")
        let decisions = try Child("lane-collector", ["occupancies", "--postgres", conninfo], dir: dir, name: "occ")
        #expect(decisions.wait(timeoutS: 30) == 0)
        #expect(decisions.jsonLines().count == agent.jsonLines().filter { $0["gammaAlarm"] != nil }.count, "every decision, once")
    }
}
