// Proves the uplink's TLS and credentials from the board profile: against a mosquitto listener
// that demands TLS (a test CA made here with openssl) and a password, the agent's records arrive;
// with a wrong password the broker refuses it, the agent says so and keeps screening.

import Foundation
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

@Suite(.timeLimit(.minutes(3)))
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
