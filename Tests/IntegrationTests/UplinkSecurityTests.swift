// Proves the uplink's TLS and credentials from the board profile: against a mosquitto listener
// that demands TLS (a test CA made here with openssl) and a password, the agent's records arrive;
// with a wrong password the broker refuses it, the agent says so and keeps screening.

import CMosquitto
import Foundation
import LaneCore
import LaneSeal
import LaneTrace
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

/// A test CA (`ca.crt`, `ca.key`), a broker certificate for 127.0.0.1 signed by it (`server.crt`,
/// `server.key`) and, with `rogue`, a CA that signed nothing (`rogue.crt`), in `dir`.
func makeTestPKI(_ dir: String, rogue: Bool = false) throws {
    var requests = [["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=lane-test-ca", "-keyout", "ca.key", "-out", "ca.crt"],
                    ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr"]]
    if rogue { requests.append(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=rogue-ca", "-keyout", "rogue.key", "-out", "rogue.crt"]) }
    for args in requests { #expect(run("/usr/bin/openssl", args, in: dir) == 0, "openssl \(args.prefix(2))") }
    try "subjectAltName=IP:127.0.0.1\n".write(toFile: dir + "/san.ext", atomically: true, encoding: .utf8)
    #expect(run("/usr/bin/openssl", ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                                      "-days", "2", "-extfile", "san.ext", "-out", "server.crt"], in: dir) == 0)
}

@Suite(.timeLimit(integrationTimeLimit))
struct UplinkSecurityTests {
    @Test("TLS with a username and password from the profile; a wrong password is refused and screening goes on", arguments: [true, false])
    func tlsAndPassword(rightPassword: Bool) throws {
        let dir = scratch("tls-\(rightPassword)")
        try makeTestPKI(dir)
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
    func sealedEndToEnd() throws {
        let dir = scratch("sealed")
        let add = try Child("lane-collector", ["keys", "add", "--keys", dir + "/station.keys", "--lane", "DEMO-PORT/LANE-01", "--lane-file", dir + "/lane.keys"],
                            dir: dir, name: "keys")
        #expect(add.wait(timeoutS: 30) == 0, "\(add.stderr)")
        #expect(add.stdout.contains("key 1 added for DEMO-PORT/LANE-01"))
        var st = stat()
        #expect(stat(dir + "/lane.keys", &st) == 0 && st.st_mode & 0o077 == 0, "the lane's key file is private")
        let brokerPort = freePort(), modbusPort = freePort()
        let broker = try startPlainBroker(port: brokerPort, dir: dir, persistence: false)
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
        sleep(3)
        var d = Decision()
        d.occupancy = 1
        var enc = RecordEncoder()
        var out = [UInt8](repeating: 0, count: RecordFormat.frameMax)
        let n = out.withUnsafeMutableBufferPointer { enc.encode(.occupancy(d), header: FrameHeader(epoch: 1, sequence: 3, monotonicUs: 0, wallUs: 0), into: $0.baseAddress!, capacity: $0.count) }!
        let frame = Array(out.prefix(n))
        let forged = frame + Seal.seal(lane: "DEMO-PORT/LANE-01", frame: frame[...], key: LaneKey.generate(id: 1))
        mosquitto_publish(forger.mosq, nil, "rpm/DEMO-PORT/LANE-01/records/occupancy", Int32(forged.count), forged, 1, false)
        #expect(agent.wait(timeoutS: 60) == 0, "\(agent.stderr)")
        #expect(agent.stderr.contains("records sealed with key 1"), "\(agent.stderr)")
        sleep(1)
        collector.stop()
        #expect(collector.stderr.contains("1 forged or altered"), "\(collector.stderr.suffix(800))")
        let lanes = try collectorLanes(dir)
        let lane = try #require(lanes.first, "nothing stored: \(collector.stderr.suffix(800))")
        let highest = (lane["highest"] as! NSNumber).uint64Value
        #expect(highest >= 5 && (lane["contiguousThrough"] as! NSNumber).uint64Value == highest && (lane["records"] as! NSNumber).uint64Value == highest, "\(lane)")
        let left = try unacknowledged(dir)
        #expect(left.isEmpty, "the collector acknowledged every sealed record")
    }
}

/// Proves the shipped broker configuration (deploy/mosquitto, docs/SECURITY.md): TLS, one user
/// per lane and per collector made by the scripts, and the ACL: the lane's records reach the
/// collector; another lane cannot publish on its topics or read them; a client without
/// credentials is refused; an agent that does not trust the broker's certificate says why.
@Suite(.timeLimit(integrationTimeLimit))
struct BrokerACLTests {
    @Test("per-lane credentials and ACLs: records flow lane -> collector; another lane can neither publish as it nor read it; no credentials, no connection; a wrong CA is refused with the reason")
    func acl() throws {
        let dir = scratch("acl")
        try makeTestPKI(dir, rogue: true)
        func script(_ name: String, _ args: [String]) throws -> [String: String] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: packageRoot + "/deploy/mosquitto/" + name)
            p.arguments = args
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\(name) \(args)")
            var out: [String: String] = [:]
            for line in text.split(separator: "\n") {
                let kv = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if kv.count == 2 { out[kv[0]] = kv[1] }
            }
            return out
        }
        let laneA = try script("add-lane.sh", [dir + "/lanes", "DEMO-PORT", "LANE-01"])
        let laneB = try script("add-lane.sh", [dir + "/lanes", "OTHER", "LANE-02"])
        let station = try script("add-collector.sh", [dir + "/lanes", "station"])
        try #require(laneA["username"] == "lane-DEMO-PORT-LANE-01" && laneB["password"] != nil && station["password"] != nil, "\(laneA) \(laneB) \(station)")
        try station["password"]!.write(toFile: dir + "/station.pw", atomically: true, encoding: .utf8)
        let port = freePort(), modbusPort = freePort()
        let conf = try String(contentsOfFile: packageRoot + "/deploy/mosquitto/mosquitto.conf", encoding: .utf8)
            .replacingOccurrences(of: "/etc/mosquitto/lanes/", with: dir + "/lanes/")
            .replacingOccurrences(of: "listener 8883", with: "listener \(port) 127.0.0.1")
            .replacingOccurrences(of: "persistence true", with: "persistence false")
            .replacingOccurrences(of: "/var/lib/mosquitto/", with: dir + "/")
        try (conf + "\nuser root\n").write(toFile: dir + "/mosquitto.conf", atomically: true, encoding: .utf8)
        for f in ["ca.crt", "server.crt", "server.key"] { try FileManager.default.copyItem(atPath: dir + "/" + f, toPath: dir + "/lanes/" + f.replacingOccurrences(of: "server", with: "broker")) }
        let broker = try External("/usr/sbin/mosquitto", ["-c", dir + "/mosquitto.conf"], log: dir + "/broker.log")
        defer { broker.stop() }
        usleep(400000)
        let collector = try Child("lane-collector", ["run", "--broker", "127.0.0.1:\(port)", "--db", dir + "/cas.sqlite", "--client-id", "station",
                                                     "--username", "collector-station", "--password-file", dir + "/station.pw", "--ca-file", dir + "/ca.crt"],
                                  dir: dir, name: "collector")
        defer { collector.stop() }
        // Lane B's user, trying to read lane A's records; nobody's credentials at all.
        let snoop = Subscriber(port: port, clientID: "snoop", topic: "rpm/DEMO-PORT/LANE-01/records/#", username: laneB["username"], password: laneB["password"], caFile: dir + "/ca.crt")
        defer { snoop.stop() }
        let anonymous = Subscriber(port: port, clientID: "anonymous", caFile: dir + "/ca.crt")
        defer { anonymous.stop() }
        let profile = try String(contentsOfFile: packageRoot + "/Boards/sim.yaml", encoding: .utf8) + """
            uplink:
              host: 127.0.0.1
              port: \(port)
              username: \(laneA["username"]!)
              password: \(laneA["password"]!)
              caFile: \(dir)/ca.crt

            """
        try profile.write(toFile: dir + "/board.yaml", atomically: true, encoding: .utf8)
        try profile.replacingOccurrences(of: "caFile: \(dir)/ca.crt", with: "caFile: \(dir)/rogue.crt").write(toFile: dir + "/rogue.yaml", atomically: true, encoding: .utf8)
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", String(modbusPort),
                                         "--gpio-socket", dir + "/gpio.sock"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        let agent = try Child("lane-agent", ["run", "--board", dir + "/board.yaml", "--modbus-port", String(modbusPort), "--gpio-socket", dir + "/gpio.sock",
                                             "--journal", dir + "/journal", "--vm250-port", String(freePort()), "--duration", "12"], dir: dir, name: "agent")
        sleep(3)
        // Lane B publishes a "clear" decision as lane A: the broker drops it (ACL).
        var d = Decision()
        d.occupancy = 77
        var enc = RecordEncoder()
        var out = [UInt8](repeating: 0, count: RecordFormat.frameMax)
        let n = out.withUnsafeMutableBufferPointer { enc.encode(.occupancy(d), header: FrameHeader(epoch: 4242, sequence: 1, monotonicUs: 0, wallUs: 0), into: $0.baseAddress!, capacity: $0.count) }!
        mosquitto_publish(snoop.mosq, nil, "rpm/DEMO-PORT/LANE-01/records/occupancy", Int32(n), out, 1, false)
        // And tries to send lane A an acknowledgement (only collectors may): dropped too.
        let ack = StationAck(epoch: 1, through: 0, collector: "forger").json()
        mosquitto_publish(snoop.mosq, nil, "rpm/DEMO-PORT/LANE-01/ack", Int32(ack.count), ack, 1, false)
        #expect(agent.wait(timeoutS: 60) == 0, "\(agent.stderr)")
        let rogue = try Child("lane-agent", ["run", "--board", dir + "/rogue.yaml", "--modbus-port", String(modbusPort), "--gpio-socket", dir + "/gpio.sock",
                                             "--journal", dir + "/journal-rogue", "--vm250-port", String(freePort()), "--duration", "4"], dir: dir, name: "rogue")
        _ = rogue.wait(timeoutS: 30)
        sleep(1)
        collector.stop()
        #expect(agent.stderr.contains("uplink: connected"), "\(agent.stderr)")
        let lanes = try collectorLanes(dir)
        #expect(lanes.count == 1 && (lanes.first?["epoch"] as? String) != epochHex(4242), "only the lane's own epoch: \(lanes)")
        #expect(((lanes.first?["records"] as? NSNumber)?.intValue ?? 0) >= 5, "\(lanes)")
        #expect(snoop.snapshot.isEmpty, "lane B read \(snoop.snapshot.count) of lane A's records")
        #expect(snoop.withLock { $0.connacks.first } == 0, "lane B did connect")
        #expect(anonymous.withLock { $0.connacks.contains { $0 != 0 } } && anonymous.snapshot.isEmpty, "no credentials, no connection: \(anonymous.withLock { $0.connacks })")
        #expect(!agent.stderr.contains("refused: not a JSON object") && !agent.stderr.contains("forger"), "the forged acknowledgement never reached the lane")
        #expect(rogue.stderr.contains("certificate verify failed"), "the reason is in the log: \(rogue.stderr)")
    }
}
