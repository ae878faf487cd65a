// Proves `lane-agent check-board --on-target` (docs/BOARDS.md, "Bring-up"): against the simulator
// and a TLS broker with passwords (a test CA made here), every check passes and says what it
// found (each panel's identification, its poll time, the bus budget, the journal's free space,
// the broker's certificate verified); each fault a technician meets at bring-up fails its own
// check with the reason and what to fix, and the exit status is 1: no simulator (GPIO, Modbus),
// an unwritable journal, a CA that did not sign the broker's certificate, a host name the
// certificate does not name, a wrong password.

import Foundation
import Testing

@Suite(.timeLimit(integrationTimeLimit))
struct BoardCheckTests {
    @Test("check-board --on-target: all checks pass on a working set-up; each bring-up fault fails its own check with the reason and the fix")
    func onTarget() throws {
        let dir = scratch("check-board")
        try makeTestPKI(dir, rogue: true)
        #expect(run("/usr/bin/mosquitto_passwd", ["-b", "-c", dir + "/passwd", "lane", "s3cret"], in: dir) == 0)
        let tlsPort = freePort(), modbusPort = freePort()
        try """
            user root
            listener \(tlsPort) 127.0.0.1
            cafile \(dir)/ca.crt
            certfile \(dir)/server.crt
            keyfile \(dir)/server.key
            allow_anonymous false
            password_file \(dir)/passwd

            """.write(toFile: dir + "/mosquitto.conf", atomically: true, encoding: .utf8)
        let broker = try External("/usr/sbin/mosquitto", ["-c", dir + "/mosquitto.conf"], log: dir + "/broker.log")
        defer { broker.stop() }
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", String(modbusPort),
                                         "--gpio-socket", dir + "/gpio.sock", "--linger", "60"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        usleep(300_000)
        func profile(_ name: String, host: String = "127.0.0.1", password: String = "s3cret", ca: String = "ca.crt") throws -> String {
            let text = try String(contentsOfFile: packageRoot + "/Boards/sim.yaml", encoding: .utf8) + """
                uplink:
                  host: \(host)
                  port: \(tlsPort)
                  username: lane
                  password: \(password)
                  caFile: \(dir)/\(ca)

                """
            try text.write(toFile: dir + "/\(name).yaml", atomically: true, encoding: .utf8)
            return dir + "/\(name).yaml"
        }
        func check(_ board: String, _ extra: [String] = [], name: String) throws -> Child {
            let c = try Child("lane-agent", ["check-board", board, "--on-target", "--modbus-port", String(modbusPort), "--gpio-socket", dir + "/gpio.sock",
                                             "--journal", dir + "/journal"] + extra, dir: dir, name: name)
            c.wait(timeoutS: 60)
            return c
        }
        // Everything works.
        let good = try check(try profile("good"), name: "good")
        #expect(good.exitStatus() == 0, "\(good.stdout) \(good.stderr)")
        for expected in ["ok    gpio: the simulator's GPIO socket", "ok    panel MU (unit 1): 'LANESIM RP-1 1.0'; a poll of 12 registers took",
                         "ok    panel SL (unit 4)", "ok    bus budget: one round of polls took", "ok    journal: \(dir)/journal is writable",
                         "ok    uplink: connected to 127.0.0.1:\(tlsPort) (TLS), its certificate verified, accepted as lane",
                         "check-board: everything the profile names works on this machine"] {
            #expect(good.stdout.contains(expected), "\(expected)\n\(good.stdout)")
        }
        // Each bring-up fault, on its own line with the fix; exit status 1.
        let cases: [(String, [String], String)] = [
            (try profile("rogue", ca: "rogue.crt"), [], "FAIL  uplink: cannot connect to 127.0.0.1:\(tlsPort) (TLS)"),
            (try profile("name", host: "localhost"), [], "FAIL  uplink: cannot connect to localhost:\(tlsPort) (TLS): "),
            (try profile("password", password: "wrong"), [], "refused the connection: Connection Refused: not authorised"),
            (try profile("nosim"), ["--gpio-socket", dir + "/none.sock", "--modbus-port", String(freePort())], "FAIL  gpio: the simulator's GPIO socket"),
            (try profile("journal"), ["--journal", "/proc/lane-journal"], "FAIL  journal: open /proc/lane-journal/.check-board-"),
        ]
        for (i, (board, extra, expected)) in cases.enumerated() {
            let c = try check(board, extra, name: "case\(i)")
            #expect(c.exitStatus() == 1, "case \(i): \(c.stdout)")
            #expect(c.stdout.contains(expected), "case \(i): \(expected)\n\(c.stdout)")
            #expect(c.stdout.contains("      fix: "), "case \(i): a fix is named")
        }
        // A real board's profile on a machine without its GPIO chip: named, with how to find the right one.
        let pi = try Child("lane-agent", ["check-board", "Boards/rpi4-rs485.yaml", "--on-target", "--journal", dir + "/journal"], dir: dir, name: "pi")
        #expect(pi.wait(timeoutS: 60) == 1)
        #expect(pi.stdout.contains("FAIL  gpio: gpio.chip: GPIO chip 'pinctrl-bcm2711' not found (by label or name; gpiodetect lists them)"), "\(pi.stdout)")
        // The certificate's refusal says why (libmosquitto's own words reach the report).
        // (libmosquitto gives it either as the connect's TLS error or as the loop's, depending on
        // when the handshake completes; both carry OpenSSL's reason.)
        let wrongName = try String(contentsOfFile: dir + "/case1.out", encoding: .utf8)
        #expect(wrongName.contains("host name verification failed"), "\(wrongName)")
        let rogue = try String(contentsOfFile: dir + "/case0.out", encoding: .utf8)
        #expect(rogue.contains("certificate verify failed"), "\(rogue)")
        let nosim = try String(contentsOfFile: dir + "/case3.out", encoding: .utf8)
        #expect(nosim.contains("FAIL  modbus: Modbus TCP 127.0.0.1:") && nosim.contains("Connection refused"), "\(nosim)")
    }
}
