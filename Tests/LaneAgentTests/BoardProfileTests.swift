// Proves the board profile loader accepts the shipped profiles and refuses every broken one
// before anything starts, naming the file, the line, the key and what is wrong.

import Foundation
import LaneAgent
import LaneCore
import LaneHAL
import Testing

/// The package root (tests run from it under `swift test`; LANE_ROOT overrides).
let packageRoot: String = {
    if let r = ProcessInfo.processInfo.environment["LANE_ROOT"] { return r }
    var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
        dir = dir.deletingLastPathComponent()
    }
    return dir.path
}()

let simProfile = try! String(contentsOfFile: packageRoot + "/Boards/sim.yaml", encoding: .utf8)

func parse(_ text: String) throws -> BoardProfile {
    try BoardProfile.parse(text, file: "test.yaml", mapDirectory: packageRoot + "/Boards/panels")
}

func profileError(_ text: String) -> String? {
    do { _ = try parse(text); return nil } catch { return "\(error)" }
}

@Suite struct BoardProfileTests {
    @Test("every profile in Boards/ loads, and the sim profile says what the simulator serves")
    func shippedProfiles() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: packageRoot + "/Boards").filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 3)
        for f in files { _ = try BoardProfile.load(path: packageRoot + "/Boards/" + f) }
        let sim = try BoardProfile.load(path: packageRoot + "/Boards/sim.yaml")
        #expect(sim.transport == .tcp(host: "127.0.0.1", port: 1502))
        #expect(sim.timeouts == ModbusTimeouts(responseUs: 30_000, byteUs: 10_000))
        #expect(sim.registerMap == .referencePanelV1)
        #expect(sim.engine.gammaSigmaQ8 == 1536 && sim.engine.learnSigmaQ8 == 1792 && sim.engine.gammaWindowSamples == 10 && sim.engine.holdInUs == 2_000_000)
        let pi = try BoardProfile.load(path: packageRoot + "/Boards/rpi4-rs485.yaml")
        guard case let .gpiod(cfg) = pi.gpio else { Issue.record("rpi4 profile does not use libgpiod"); return }
        #expect(cfg.beams == [.offset(17), .offset(27)] && cfg.outputs.count == 6 && cfg.outputs.last == LaneOutputLine(output: .heartbeat, line: .offset(16)))
        guard case .rtu(device: "/dev/ttyAMA0", baud: 115_200, parity: UInt8(ascii: "N"), dataBits: 8, stopBits: 1) = pi.transport else {
            Issue.record("rpi4 transport"); return
        }
    }

    @Test("a broken profile is refused with file, line, key and the problem", arguments: [
        ("  port: 1502", "  port: 70000", "test.yaml:16:9: modbus.port: 70000 is out of range (1 to 65535)"),
        ("  port: 1502", "  port: fifteen", "modbus.port: expected a whole number, found 'fifteen'"),
        ("  port: 1502", "  prot: 1502", "modbus.prot: unknown key (did you mean 'port'?)"),
        ("  gammaSigma: 6.0", "  gammaSigma: -3", "detection.gammaSigma: -3 is out of range"),
        ("  gammaWindowS: 1.0", "  gammaWindowS: 20", "detection.gammaWindowS: 20.0 s is 200 samples at 100 ms; allowed 1 to 128 samples"),
        ("  transport: tcp", "  transport: udp", "modbus.transport: 'udp' is not one of: tcp, rtu"),
        ("  labels: [MU, ML, SU, SL]     # main pillar upper/lower, second pillar upper/lower", "  labels: [MU, ML]", "panels.labels: has 2 labels for 4 panels"),
        ("  pillars: [A, A, B, B]", "  pillars: [A, A, B, C]", "panels.pillars: entry 4 is 'C'"),
        ("  unitIds: [1, 2, 3, 4]", "  unitIds: [1, 2, 2, 4]", "unit ids must be different"),
        ("  registerMap: reference-panel-v1", "  registerMap: acme-9000", "no register map 'acme-9000'"),
        ("  driver: sim", "  driver: gpiod", "gpio.socket: unknown key"),
        ("  gammaCeilingSigma: 35", "  gammaCeilingSigma: 5", "must not be below gammaSigma"),
        ("  learnSigma: 7.0", "  learnSigma: 51", "detection.learnSigma: 51"),
        ("  gammaBackgroundLowCps: 400", "  gammaBackgroundLowCps: 5000", "must be above gammaBackgroundLowCps"),
        ("  normDiscrimination: true", "  normDiscrimination: maybe", "expected true or false, found 'maybe'"),
        ("lane:\n  site: DEMO-PORT", "lane:\n  site: [a, b]", "lane.site: expected text, found a list"),
        ("board: sim", "board: sim\nboard: again", "board: the key appears twice"),
        ("gpio:\n  driver: sim\n  socket: /tmp/lane-sim/gpio.sock", "gpio: 5", "test.yaml:20:7: gpio must be a mapping"),
        ("  host: 127.0.0.1", "  host: 127.0.0.1\n   bad: [", "not valid YAML"),
    ])
    func brokenProfiles(find: String, replace: String, expected: String) throws {
        #expect(simProfile.contains(find), "the fixture lost '\(find)'")
        let message = profileError(simProfile.replacingOccurrences(of: find, with: replace))
        #expect(message?.contains(expected) == true, "got: \(message ?? "accepted")")
        #expect(message?.hasPrefix("test.yaml") == true)
    }

    @Test("GPIO lines by offset or by name, mixed; a line used twice, a name with spaces or an offset out of range is refused naming the key", arguments: [
        ("  beams: [17, 27]              # entry beam, exit beam", "  beams: [BEAM_ENTRY, BEAM_EXIT]", nil as String?),
        ("    siren: 19", "    siren: SIREN_RELAY", nil),
        ("  beams: [17, 27]              # entry beam, exit beam", "  beams: [BEAM_ENTRY, BEAM_ENTRY]", "gpio.beams: the two beams must be on different lines"),
        ("    siren: 19", "    siren: 17", "gpio.outputs.siren: line 17 is already used by another beam or output"),
        ("    siren: 19", "    siren: \"LAMP 2\"", "gpio.outputs.siren: 'LAMP 2' is neither a line offset nor a line name"),
        ("    siren: 19", "    siren: 4096", "gpio.outputs.siren: line 4096 is out of range 0...1023"),
    ])
    func gpioLines(find: String, replace: String, expected: String?) throws {
        let pi = try String(contentsOfFile: packageRoot + "/Boards/rpi4-rs485.yaml", encoding: .utf8)
        #expect(pi.contains(find), "the fixture lost '\(find)'")
        let text = pi.replacingOccurrences(of: find, with: replace)
        guard let expected else {
            let p = try BoardProfile.parse(text, file: "pi.yaml", mapDirectory: packageRoot + "/Boards/panels")
            guard case let .gpiod(cfg) = p.gpio else { Issue.record("not gpiod"); return }
            if replace.contains("BEAM_ENTRY") { #expect(cfg.beams == [.name("BEAM_ENTRY"), .name("BEAM_EXIT")]) }
            if replace.contains("SIREN_RELAY") { #expect(cfg.outputs.contains(LaneOutputLine(output: .siren, line: .name("SIREN_RELAY")))) }
            return
        }
        do {
            _ = try BoardProfile.parse(text, file: "pi.yaml", mapDirectory: packageRoot + "/Boards/panels")
            Issue.record("accepted: \(replace)")
        } catch {
            #expect("\(error)".hasPrefix("pi.yaml:") && "\(error)".contains(expected), "\(error)")
        }
    }

    @Test("a missing section or key is named")
    func missing() {
        let noModbus = simProfile.components(separatedBy: "\n").filter { !$0.hasPrefix("modbus:") && !$0.hasPrefix("  transport") }
            .joined(separator: "\n")
        #expect(profileError(noModbus)?.contains("unknown key") == true || profileError(noModbus)?.contains("modbus") == true)
        #expect(profileError("board: x\n")?.contains("lane: required section is missing") == true)
        #expect(profileError("")?.contains("the file is empty") == true)
        #expect(throws: ProfileError.self) { try BoardProfile.load(path: "/nonexistent/board.yaml") }
    }

    @Test("a register map file with a field outside its block is refused")
    func registerMap() throws {
        let text = try String(contentsOfFile: packageRoot + "/Boards/panels/reference-panel-v1.yaml", encoding: .utf8)
        #expect(try BoardProfile.parseRegisterMap(text, file: "m.yaml") == .referencePanelV1)
        let bad = text.replacingOccurrences(of: "  firmware: 11", with: "  firmware: 12")
        #expect(throws: ProfileError.self) { try BoardProfile.parseRegisterMap(bad, file: "m.yaml") }
        let low = text.replacingOccurrences(of: "wordOrder: highFirst", with: "wordOrder: lowFirst")
        #expect(try BoardProfile.parseRegisterMap(low, file: "m.yaml").wordOrder == .lowFirst)
    }
}

@Suite struct CounterDeltaTests {
    @Test("deltas wrap at 2^32; a panel restart, or counters reset while it runs, gives the counts since, not a huge number")
    func wrapAndRestart() {
        let a = PanelReading(gammaTotal: 4_294_967_290, gammaLow: 4_294_967_295, neutron: 10, uptimeMs: 4_294_967_200)
        let b = PanelReading(gammaTotal: 30, gammaLow: 20, neutron: 12, uptimeMs: 4)
        let d = CounterDelta(from: a, to: b)  // uptime wrapped too: 100 ms later
        #expect(d.gamma == 36 && d.gammaLow == 21 && d.neutron == 2 && d.intervalMs == 100 && !d.restarted)
        let restarted = PanelReading(gammaTotal: 50, gammaLow: 20, neutron: 1, uptimeMs: 120)
        let r = CounterDelta(from: PanelReading(gammaTotal: 9_000_000, gammaLow: 5_000_000, neutron: 70, uptimeMs: 3_600_000), to: restarted)
        #expect(r.restarted && r.gamma == 50 && r.gammaLow == 20 && r.neutron == 1)
        // Counters reset by command (uptime goes on): the wrapped difference would be 4.28 x 10^9
        // counts in 100 ms; the counts since the reset are taken instead.
        let before = PanelReading(gammaTotal: 9_000_000, gammaLow: 5_000_000, neutron: 70, uptimeMs: 3_600_000)
        let reset = CounterDelta(from: before, to: PanelReading(gammaTotal: 40, gammaLow: 22, neutron: 0, uptimeMs: 3_600_100))
        #expect(reset.restarted && reset.gamma == 40 && reset.gammaLow == 22 && reset.neutron == 0 && reset.intervalMs == 100)
        // A busy but possible panel (10^6 counts/s) is not mistaken for a reset.
        let busy = CounterDelta(from: before, to: PanelReading(gammaTotal: 9_100_000, gammaLow: 5_050_000, neutron: 75, uptimeMs: 3_600_100))
        #expect(!busy.restarted && busy.gamma == 100_000 && busy.gammaLow == 50_000 && busy.neutron == 5)
    }

    @Test("the reference map decodes high word first; a low-first map swaps")
    func decode() {
        var regs: [UInt16] = [0x0001, 0x0002, 0, 5, 0, 0, 0xFFFF, 0xFFFE, 7, 1000, UInt16(bitPattern: -15), 0x0100]
        let r = regs.withUnsafeMutableBufferPointer { PanelRegisterMap.referencePanelV1.decode($0.baseAddress!) }
        #expect(r.gammaTotal == 0x0001_0002 && r.gammaLow == 5 && r.uptimeMs == 0xFFFF_FFFE && r.temperatureDeci == -15)
        var m = PanelRegisterMap.referencePanelV1
        m.wordOrder = .lowFirst
        let l = regs.withUnsafeMutableBufferPointer { m.decode($0.baseAddress!) }
        #expect(l.gammaTotal == 0x0002_0001)
    }

    @Test("each console tunable has one definition: the profile accepts its safe range's ends and refuses one step beyond its floor (naming it) and beyond its range, as set does")
    func tunablesOneDefinition() throws {
        /// The sim profile with `key: value` in `section` (replacing the key's line, or added under the section).
        func with(section: String, key: String, _ value: String) -> String {
            var lines = simProfile.components(separatedBy: "\n")
            if let i = lines.firstIndex(where: { $0.hasPrefix("  \(key):") }) {
                lines[i] = "  \(key): \(value)"
            } else {
                let i = lines.firstIndex(of: "\(section):")!
                lines.insert("  \(key): \(value)", at: i + 1)
            }
            return lines.joined(separator: "\n")
        }
        func with(_ t: Tunable, _ value: String) -> String { with(section: t.section, key: t.key, value) }
        for t in Tunable.all where !t.isBool {
            let safe = t.safe ?? t.min...t.max
            var cases: [(Int64, String?)] = [(safe.lowerBound, nil), (safe.upperBound, nil), (t.max + 1, "out of range")]
            if safe.upperBound < t.max { cases.append((safe.upperBound + 1, "safety floor")) }
            if safe.lowerBound > t.min { cases.append((safe.lowerBound - 1, "safety floor")) }
            for (v, refusal) in cases {
                // Crossing rules between settings (ceiling above sigma, high above low) are not ranges.
                if t.key == "gammaBackgroundLowCps" && v > 0 { continue }
                if t.key == "gammaCeilingSigma" && v < 700 { continue }
                let text = t.format(v)
                let error = profileError(with(t, text))
                if let refusal {
                    #expect(error?.contains(refusal) == true || (refusal == "out of range" && error?.contains("range") == true), "\(t.path) = \(text): \(error ?? "accepted")")
                } else {
                    #expect(error == nil, "\(t.path) = \(text): \(error ?? "accepted")")
                }
                // `set` reads the same range; its floor is checked against maintenance mode (ConsoleCommandTests).
                if case .success = t.parse(text) { #expect(refusal != "out of range", "set \(t.key) \(text) accepted") } else { #expect(refusal == "out of range", "set \(t.key) \(text) refused") }
                if refusal != "out of range" { #expect(t.isSafe(v) == (refusal == nil), "\(t.path) \(text)") }
            }
        }
        // The settings only the profile sets have floors too (view length, windows, background).
        for f in ProfileFloor.all {
            #expect(profileError(with(section: "detection", key: f.key, ProfileFloor.number(f.safe.upperBound))) == nil, "\(f.key) at its safe end")
            if f.safe.upperBound < 1_000 {  // (the background's floor is only below: its upper end is the range's)
                let beyond = profileError(with(section: "detection", key: f.key, ProfileFloor.number(f.safe.upperBound + (f.unit == "counts" ? 1 : 0.5))))
                #expect(beyond?.contains("detection.\(f.key)") == true && beyond?.contains("safety floor") == true, "\(f.key): \(beyond ?? "accepted")")
            }
            if f.safe.lowerBound > 0.1 && !f.alsoSafe.contains(f.safe.lowerBound - 1) {
                #expect(profileError(with(section: "detection", key: f.key, ProfileFloor.number(f.safe.lowerBound - 1)))?.contains("safety floor") == true, "\(f.key) below its floor")
            }
            for x in f.alsoSafe { #expect(profileError(with(section: "detection", key: f.key, ProfileFloor.number(x))) == nil, "\(f.key) \(x) is safe") }
        }
        // Offline replay may load a profile beyond the floors; a lane may not.
        let blunt = with(Tunable.named("gammaSigma")!, "20")
        try blunt.write(toFile: NSTemporaryDirectory() + "blunt-\(getpid()).yaml", atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try BoardProfile.parse(blunt, file: "blunt.yaml", mapDirectory: packageRoot + "/Boards/panels") }
        #expect(try BoardProfile.parse(blunt, file: "blunt.yaml", mapDirectory: packageRoot + "/Boards/panels", enforceFloors: false).engine.gammaSigmaQ8 == 20 * 256)
        let tooFine = profileError(with(Tunable.named("gammaSigma")!, "7.125"))
        #expect(tooFine?.contains("at most 2 digits after the decimal point") == true, "\(tooFine ?? "accepted")")
    }
}


/// Proves the closed-transport rules of the board profile and the VM-250 stream's address and
/// allow-list (docs/SECURITY.md): a real board's uplink without TLS is refused unless it says
/// insecure: true; a password never goes without TLS; the stream refuses a peer not allowed.
@Suite struct TransportRulesTests {
    let rpi = try! String(contentsOfFile: packageRoot + "/Boards/rpi4-rs485.yaml", encoding: .utf8)

    @Test("a real board without caFile is refused, naming the key and the way out; with insecure: true it loads; a password without TLS is refused on any board")
    func tlsRequired() throws {
        let noTLS = rpi.replacingOccurrences(of: "  caFile: /etc/lane-agent/tls/ca.crt           # the broker's certificate is checked against this CA\n", with: "")
            .replacingOccurrences(of: "  certFile: /etc/lane-agent/tls/lane.crt       # the lane's client certificate (the broker's ACL names it)\n", with: "")
            .replacingOccurrences(of: "  keyFile: /etc/lane-agent/tls/lane.key\n", with: "")
        let e = profileError(noTLS)
        #expect(e?.contains("uplink.host: a real board sends over TLS: give caFile") == true, "\(e ?? "accepted")")
        #expect(profileError(noTLS.replacingOccurrences(of: "  port: 8883", with: "  port: 8883\n  insecure: true")) == nil)
        #expect(try parse(rpi).uplink?.isInsecure == false)
        let password = simProfile + "uplink:\n  host: 127.0.0.1\n  username: lane\n  password: x\n"
        let p = profileError(password)
        #expect(p?.contains("without TLS would travel in clear") == true, "\(p ?? "accepted")")
        #expect(try parse(simProfile + "uplink:\n  host: 127.0.0.1\n").uplink?.isInsecure == true, "a simulator's uplink may go without TLS (said in the log and heartbeats)")
        #expect(try parse(rpi).vm250Bind == "10.20.0.11" && parse(rpi).vm250Allow == ["10.20.0.2"])
        #expect(try parse(simProfile).vm250Bind == "127.0.0.1", "loopback unless the profile says otherwise")
        #expect(profileError(simProfile.replacingOccurrences(of: "vm250:\n", with: "vm250:\n  bind: everywhere\n"))?.contains("vm250.bind") == true)
    }

    @Test("the VM-250 stream takes a peer in its allow-list and refuses one that is not, counting it")
    func allowList() throws {
        for (allow, taken) in [(["127.0.0.1"], true), (["10.9.9.9"], false)] {
            var lines: [String] = []
            let lock = NSLock()
            let server = try VM250Server(host: "127.0.0.1", port: 0, allow: allow, setupLines: ["SG1,000100,000200,12.0,1"]) { l in lock.lock(); lines.append(l); lock.unlock() }
            nonisolated(unsafe) var stop = false
            server.start(stop: { stop })
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(server.port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            #expect(rc == 0)
            var got = [UInt8](repeating: 0, count: 64)
            var n = 0
            for _ in 0..<100 where n <= 0 { usleep(10_000); n = recv(fd, &got, 64, Int32(MSG_DONTWAIT)) }
            close(fd)
            stop = true
            if taken {
                #expect(n > 0 && String(decoding: got.prefix(max(0, n)), as: UTF8.self).hasPrefix("SG1"), "the allowed peer gets the setup lines")
            } else {
                #expect(n <= 0, "the refused peer gets nothing")
                usleep(200_000)
                #expect(server.clientsRefused == 1)
                lock.lock(); let said = lines.contains { $0.contains("refused: not in vm250.allow") }; lock.unlock()
                #expect(said)
            }
        }
    }
}
