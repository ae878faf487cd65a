// Proves the uplink's TLS and credentials from the board profile: against a mosquitto listener
// that demands TLS (a test CA made here with openssl) and a password, the agent's records arrive;
// with a wrong password the broker refuses it, the agent says so and keeps screening.

import CMosquitto
import Foundation
import LaneCore
import LaneSeal
import Testing

func run(_ path: String, _ args: [String], in dir: String) -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    p.currentDirectoryURL = URL(fileURLWithPath: dir)
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try? p.run()
    p.waitUntilExit()
    return p.terminationStatus
}

@Suite(.timeLimit(integrationTimeLimit))
struct UplinkSecurityTests {
    @Test("TLS with a username and password from the profile; a wrong password is refused and screening goes on", arguments: [true, false])
    func tlsAndPassword(rightPassword: Bool) throws {
        let dir = scratch("tls-\(rightPassword)")
        // A CA and a server certificate for 127.0.0.1.
        #expect(run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=lane-test-ca",
                                          "-keyout", "ca.key", "-out", "ca.crt"], in: dir) == 0)
        #expect(run("/usr/bin/openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
                                          "-out", "server.csr"], in: dir) == 0)
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: dir + "/san.ext", atomically: true, encoding: .utf8)
        #expect(run("/usr/bin/openssl", ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                                          "-days", "2", "-extfile", "san.ext", "-out", "server.crt"], in: dir) == 0)
        #expect(run("/usr/bin/mosquitto_passwd", ["-b", "-c", dir + "/passwd", "lane", "s3cret"], in: dir) == 0)
        let tlsPort = freePort(), plainPort = freePort(), modbusPort = freePort()
        try """
            per_listener_settings true
            user root
            listener \(tlsPort) 127.0.0.1
            cafile \(dir)/ca.crt
            certfile \(dir)/server.crt
            keyfile \(dir)/server.key
            allow_anonymous false
            password_file \(dir)/passwd
            listener \(plainPort) 127.0.0.1
            allow_anonymous true

            """.write(toFile: dir + "/mosquitto.conf", atomically: true, encoding: .utf8)
        let broker = try External("/usr/sbin/mosquitto", ["-c", dir + "/mosquitto.conf"], log: dir + "/broker.log")
        defer { broker.stop() }
        usleep(400_000)
        let subscriber = Subscriber(port: plainPort)
        defer { subscriber.stop() }

        let profile = try String(contentsOfFile: packageRoot + "/Boards/sim.yaml", encoding: .utf8)
            + """
            uplink:
              host: 127.0.0.1
              port: \(tlsPort)
              username: lane
              password: \(rightPassword ? "s3cret" : "wrong")
              caFile: \(dir)/ca.crt

            """
        try profile.write(toFile: dir + "/board.yaml", atomically: true, encoding: .utf8)
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", String(modbusPort),
                                         "--gpio-socket", dir + "/gpio.sock"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        let agent = try Child("lane-agent", ["run", "--board", dir + "/board.yaml", "--modbus-port", String(modbusPort), "--gpio-socket",
                                             dir + "/gpio.sock", "--journal", dir + "/journal", "--vm250-port", String(freePort()),
                                             "--duration", "12"], dir: dir, name: "agent")
        #expect(agent.wait(timeoutS: 40) == 0, "\(agent.stderr)")
        sleep(1)
        if rightPassword {
            #expect(agent.stderr.contains("uplink: connected"), "\(agent.stderr)")
            #expect(subscriber.snapshot.count >= 5, "records over TLS: \(subscriber.snapshot.count)")
        } else {
            #expect(agent.stderr.contains("refused the connection"), "\(agent.stderr)")
            #expect(subscriber.snapshot.isEmpty)
            // Screening went on without the uplink: the tick ran all along and decided the occupancy.
            let ticks = agent.stderr.range(of: #"stopped: (\d+) ticks"#, options: .regularExpression).map { String(agent.stderr[$0]) } ?? ""
            #expect(Int(ticks.filter(\.isNumber)) ?? 0 >= 100, "\(agent.stderr)")
            #expect(agent.jsonLines().count >= 1)
        }
    }
}

/// Proves authentic records end to end (docs/SECURITY.md): keys made by `lane-collector keys add`,
/// the agent sealing every frame with its key file, the collector checking every seal; a forger
/// on the broker with a key of its own gets nothing stored, and the lane's records all are.
@Suite(.timeLimit(integrationTimeLimit))
struct SealedUplinkTests {
    @Test("sealed records from the agent are all stored; a forged frame published beside them is refused and counted")
    func sealedEndToEnd() async throws {
        let dir = scratch("sealed")
        let add = try Child("lane-collector", ["keys", "add", "--keys", dir + "/station.keys", "--lane", "DEMO-PORT/LANE-01", "--lane-file", dir + "/lane.keys"],
                            dir: dir, name: "keys")
        #expect(await add.finish(timeoutS: 30) == 0, "\(add.stderr)")
        #expect(add.stdout.contains("key 1 added for DEMO-PORT/LANE-01"))
        var st = stat()
        #expect(stat(dir + "/lane.keys", &st) == 0 && st.st_mode & 0o077 == 0, "the lane's key file is private")
        let brokerPort = freePort(), modbusPort = freePort()
        let broker = try await startPlainBroker(port: brokerPort, dir: dir, persistence: false)
        defer { broker.stop() }
        let collector = try Child("lane-collector", ["run", "--broker", "127.0.0.1:\(brokerPort)", "--db", dir + "/cas.sqlite", "--keys", dir + "/station.keys",
                                                     "--client-id", "station-1"], dir: dir, name: "collector")
        defer { collector.stop() }
        let profile = try String(contentsOfFile: packageRoot + "/Boards/sim.yaml", encoding: .utf8) + """
            uplink:
              host: 127.0.0.1
              port: \(brokerPort)
              sealKeyFile: \(dir)/lane.keys

            """
        try profile.write(toFile: dir + "/board.yaml", atomically: true, encoding: .utf8)
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", String(modbusPort),
                                         "--gpio-socket", dir + "/gpio.sock"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        let agent = try Child("lane-agent", ["run", "--board", dir + "/board.yaml", "--modbus-port", String(modbusPort), "--gpio-socket", dir + "/gpio.sock",
                                             "--journal", dir + "/journal", "--vm250-port", String(freePort()), "--duration", "14"], dir: dir, name: "agent")
        // A forger on the same broker, with a key of its own: a "clear" decision for sequence 3.
        let forger = Subscriber(port: brokerPort, clientID: "forger")
        defer { forger.stop() }
        await pause(3)
        var d = Decision()
        d.occupancy = 1
        var enc = RecordEncoder()
        var out = [UInt8](repeating: 0, count: RecordFormat.frameMax)
        let n = out.withUnsafeMutableBufferPointer { enc.encode(.occupancy(d), header: FrameHeader(epoch: 1, sequence: 3, monotonicUs: 0, wallUs: 0), into: $0.baseAddress!, capacity: $0.count) }!
        let frame = Array(out.prefix(n))
        let forged = frame + Seal.seal(lane: "DEMO-PORT/LANE-01", frame: frame[...], key: LaneKey.generate(id: 1))
        mosquitto_publish(forger.mosq, nil, "rpm/DEMO-PORT/LANE-01/records/occupancy", Int32(forged.count), forged, 1, false)
        #expect(await agent.finish(timeoutS: 60) == 0, "\(agent.stderr)")
        #expect(agent.stderr.contains("records sealed with key 1"), "\(agent.stderr)")
        await pause(1)
        collector.stop()
        #expect(collector.stderr.contains("1 forged or altered"), "\(collector.stderr.suffix(800))")
        let lanes = try await collectorLanes(dir)
        let lane = try #require(lanes.first, "nothing stored: \(collector.stderr.suffix(800))")
        let highest = (lane["highest"] as! NSNumber).uint64Value
        #expect(highest >= 5 && (lane["contiguousThrough"] as! NSNumber).uint64Value == highest && (lane["records"] as! NSNumber).uint64Value == highest, "\(lane)")
        let left = try await unacknowledged(dir)
        #expect(left.isEmpty, "the collector acknowledged every sealed record")
    }
}
