// Proves supervision and the fail-safe outputs (docs/BOARDS.md, "Supervision and fail-safe
// outputs") with the real agent and simulator: under a service manager's notify socket (played
// here by a datagram socket, as systemd's is) the agent says READY=1 at its first tick, WATCHDOG=1
// every half interval while its ticks keep time and STOPPING=1 at the end; its heartbeat output
// energizes the simulator's watchdog relay; killed with SIGKILL while the siren sounds, the relay
// drops within its timeout and `lane-agent safe-outputs` (the unit's ExecStopPost) leaves the fault
// lamp lit and the siren off; the systemd unit verifies.

import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A service manager's notify socket: a bound Unix datagram socket; what arrives, with when.
final class NotifySocket {
    let path: String
    let fd: Int32
    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in path.utf8.enumerated() { p[i] = b }
        }
        let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard r == 0 else { throw CollectorTestError("bind \(path): \(String(cString: strerror(errno)))") }
    }
    deinit { close(fd) }

    /// Messages until `until` says stop (checked every 50 ms), each with its arrival (seconds).
    func collect(until done: () -> Bool) -> [(Double, String)] {
        var out: [(Double, String)] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        let start = Date()
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 50) == 1 {
                let n = recv(fd, &buf, buf.count, 0)
                if n > 0 { out.append((Date().timeIntervalSince(start), String(decoding: buf[0..<n], as: UTF8.self))) }
                continue
            }
            if done() { return out }
        }
    }
}

struct CollectorTestError: Error, CustomStringConvertible {
    var description: String
    init(_ s: String) { description = s }
}

@Suite(.timeLimit(integrationTimeLimit)) struct SupervisionTests {
    @Test("under a notify socket: READY=1 at the first tick, WATCHDOG=1 every half interval while ticks keep time, STOPPING=1 at the end; the heartbeat energizes the watchdog relay")
    func notifyAndWatchdog() throws {
        let dir = scratch("notify")
        let port = freePort()
        let manager = try NotifySocket(path: dir + "/notify.sock")
        let sim = try Child("lane-sim", ["serve", "--scenario", "HardwareSim/scenarios/e2e.yaml", "--tcp-port", String(port),
                                         "--gpio-socket", dir + "/gpio.sock", "--linger", "10"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        let agent = try Child("lane-agent", ["run", "--board", "Boards/sim.yaml", "--modbus-port", String(port), "--gpio-socket", dir + "/gpio.sock",
                                             "--vm250-port", String(freePort()), "--ocr-port", String(freePort()), "--duration", "5"],
                              dir: dir, name: "agent", environment: ["NOTIFY_SOCKET": dir + "/notify.sock", "WATCHDOG_USEC": "1000000"])
        let messages = manager.collect { agent.hasExited }
        #expect(agent.wait(timeoutS: 20) == 0, "\(agent.stderr)")
        let texts = messages.map(\.1)
        #expect(texts.first == "READY=1\nSTATUS=ticking every 100 ms", "\(texts.prefix(3))")
        #expect(texts.last == "STOPPING=1", "\(texts.suffix(3))")
        let pets = messages.filter { $0.1 == "WATCHDOG=1" }.map(\.0)
        // 5 s of ticks, a pet at the first tick and every 0.5 s after: 10 or 11.
        #expect(pets.count >= 9 && pets.count <= 11, "\(pets.count) WATCHDOG=1 in 5 s")
        let gaps = zip(pets.dropFirst(), pets).map { $0 - $1 }
        #expect((gaps.max() ?? 9) < 0.8, "the longest silence between two pets: \(gaps.max() ?? -1) s (systemd fires at 1 s)")
        #expect(agent.stderr.contains("systemd: watchdog every 1000 ms: \(pets.count) times alive, 0 withheld for late ticks"), "\(agent.stderr)")
        #expect(sim.stderr.contains("watchdog relay: energized"), "\(sim.stderr)")
        // The clean stop left the lines safe: the fault lamp lit after the last tick.
        #expect(sim.stderr.components(separatedBy: "output faultLight").last?.hasPrefix(" ON") == true, "\(sim.stderr)")
    }

    @Test("killed with SIGKILL while its siren sounds: the watchdog relay drops within 1.5 s; safe-outputs (the unit's ExecStopPost) lights the fault lamp and stops the siren")
    func killedDuringAlarm() throws {
        let dir = scratch("killed")
        let port = freePort()
        // A source truck 9 s in (the lane has learned its background by then).
        try """
            name: killed
            seed: 7
            vehicles:
              - at: 9
                speed: 2.2
                sources: [{type: cs137, strength: 4000, positionM: 8, offsetM: 0.5}]
            durationS: 30
            """.write(toFile: dir + "/killed.yaml", atomically: true, encoding: .utf8)
        let sim = try Child("lane-sim", ["serve", "--scenario", dir + "/killed.yaml", "--tcp-port", String(port),
                                         "--gpio-socket", dir + "/gpio.sock", "--linger", "60"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"))
        let agent = try Child("lane-agent", ["run", "--board", "Boards/sim.yaml", "--modbus-port", String(port), "--gpio-socket", dir + "/gpio.sock",
                                             "--vm250-port", String(freePort()), "--ocr-port", String(freePort()), "--duration", "60"], dir: dir, name: "agent")
        defer { agent.stop() }
        var waited = 0.0
        while !sim.stderr.contains("output siren ON") && waited < 40 { usleep(50_000); waited += 0.05 }
        try #require(sim.stderr.contains("output siren ON"), "no alarm in 40 s: \(sim.stderr)")
        kill(agent.process.processIdentifier, SIGKILL)
        let killedAt = Date()
        agent.wait(timeoutS: 10)
        // The siren was left on by the dead agent; the relay notices the heartbeat stopped.
        #expect(sim.stderr.components(separatedBy: "output siren").last?.hasPrefix(" ON") == true)
        while !sim.stderr.contains("watchdog relay: dropped") && Date().timeIntervalSince(killedAt) < 5 { usleep(20_000) }
        let dropAfter = Date().timeIntervalSince(killedAt)
        #expect(sim.stderr.contains("watchdog relay: dropped: no heartbeat for 1 s"), "\(sim.stderr)")
        #expect(dropAfter < 1.5, "the relay dropped \(dropAfter) s after the kill")
        // ExecStopPost: the lines to their safe state.
        let safe = try Child("lane-agent", ["safe-outputs", "--board", "Boards/sim.yaml", "--gpio-socket", dir + "/gpio.sock"], dir: dir, name: "safe")
        #expect(safe.wait(timeoutS: 20) == 0, "\(safe.stderr)")
        #expect(safe.stdout.contains("safe-outputs: gammaLight off, neutronLight off, faultLight on, siren off, camera off, heartbeat off"), "\(safe.stdout)")
        var settled = 0.0
        while !(sim.stderr.components(separatedBy: "output siren").last?.hasPrefix(" off") ?? false) && settled < 5 { usleep(20_000); settled += 0.02 }
        #expect(sim.stderr.components(separatedBy: "output siren").last?.hasPrefix(" off") == true, "\(sim.stderr)")
        #expect(sim.stderr.components(separatedBy: "output faultLight").last?.hasPrefix(" ON") == true, "\(sim.stderr)")
        // A board whose GPIO cannot be reached says so and fails.
        let nowhere = try Child("lane-agent", ["safe-outputs", "--board", "Boards/sim.yaml", "--gpio-socket", dir + "/none.sock"], dir: dir, name: "nowhere")
        #expect(nowhere.wait(timeoutS: 20) == 1)
        #expect(nowhere.stderr.contains("safe-outputs: could not set"), "\(nowhere.stderr)")
    }

    @Test("a GPIO client that sets its lines and leaves at once is heard even when the simulator writes to it first (a chattering beam): none of 12 settings lost")
    func leavingClientHeard() throws {
        let dir = scratch("leaving")
        try "name: quiet\nseed: 3\nvehicles: []\ndurationS: 60\n".write(toFile: dir + "/quiet.yaml", atomically: true, encoding: .utf8)
        let sim = try Child("lane-sim", ["serve", "--scenario", dir + "/quiet.yaml", "--tcp-port", String(freePort()), "--gpio-socket", dir + "/gpio.sock",
                                         "--control-socket", dir + "/control.sock"], dir: dir, name: "sim")
        defer { sim.stop() }
        #expect(waitFor(dir + "/gpio.sock"), "the simulator did not start: \(sim.stderr)")
        // 200 Hz: every 10 ms poll writes an EDGE to the client before it reads the client.
        let control = try ConsoleTerminal(socket: dir + "/control.sock")
        control.send("fault beam 0 chatter 200\n")
        control.expect("OK fault", timeoutS: 5)
        for i in 0..<12 {
            do {
                let client = try ConsoleTerminal(socket: dir + "/gpio.sock")
                client.expect("HELLO lane-sim-gpio 1", timeoutS: 5)  // accepted and greeted: what follows comes after
                client.send("SET siren \(i % 2 == 0 ? 1 : 0)\n")
            }  // it leaves at once without reading more, as safe-outputs does
            usleep(60_000)
        }
        var waited = 0.0
        while sim.stderr.components(separatedBy: "output siren").count - 1 < 12 && waited < 5 { usleep(50_000); waited += 0.05 }
        #expect(sim.stderr.components(separatedBy: "output siren").count - 1 == 12, "\(sim.stderr)")
    }

    @Test("the systemd unit verifies with systemd-analyze (its binaries where they will be)")
    func unitVerifies() throws {
        let dir = scratch("unit")
        let unit = try String(contentsOfFile: packageRoot + "/deploy/lane-agent.service", encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/lane-agent", with: binDir + "/lane-agent")
        try unit.write(toFile: dir + "/lane-agent.service", atomically: true, encoding: .utf8)
        let v = try Child("/usr/bin/systemd-analyze", ["verify", dir + "/lane-agent.service"], dir: dir, name: "verify")
        #expect(v.wait(timeoutS: 30) == 0, "\(v.stderr)")
        #expect(v.stderr.isEmpty, "systemd-analyze has something to say: \(v.stderr)")
        for key in ["Type=notify", "WatchdogSec=", "Restart=always", "ExecStopPost=/usr/local/bin/lane-agent safe-outputs", "NoNewPrivileges=yes", "DevicePolicy=closed"] {
            #expect(unit.contains(key.replacingOccurrences(of: "/usr/local/bin/lane-agent", with: binDir + "/lane-agent")), "\(key)")
        }
    }
}
