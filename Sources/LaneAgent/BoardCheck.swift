// `lane-agent check-board --on-target`: the profile checked against the machine it will run on,
// as a technician does at bring-up (docs/BOARDS.md): the GPIO chip and lines present and free,
// the panel bus opens and every panel answers its identification and a poll within the tick's
// budget, the journal directory is writable, the console's serial port opens, the uplink's
// broker is reachable and its certificate verifies. Each check says what it found and, when it
// fails, what to fix.

import Foundation
import LaneCore
import LaneHAL
import LaneUplink

public struct BoardCheck: Sendable {
    public struct Line: Sendable {
        public var ok: Bool
        public var subject: String
        public var message: String
        /// What to do about a failure.
        public var fix: String?
    }

    public private(set) var lines: [Line] = []
    public var passed: Bool { lines.allSatisfy(\.ok) }

    mutating func add(_ ok: Bool, _ subject: String, _ message: String, fix: String? = nil) {
        lines.append(Line(ok: ok, subject: subject, message: message, fix: ok ? nil : fix))
    }

    public var report: String {
        lines.map { l in
            (l.ok ? "ok    " : "FAIL  ") + "\(l.subject): \(l.message)" + (l.fix.map { "\n      fix: \($0)" } ?? "")
        }.joined(separator: "\n") + "\n" + (passed ? "check-board: everything the profile names works on this machine\n"
                                                   : "check-board: \(lines.filter { !$0.ok }.count) of \(lines.count) checks failed\n")
    }

    /// Runs every check of `profile` here. `uplinkTimeoutS`: how long the broker may take.
    public static func run(_ profile: BoardProfile, uplinkTimeoutS: Double = 5) -> BoardCheck {
        var c = BoardCheck()
        c.gpio(profile)
        c.panels(profile)
        c.journal(profile)
        c.console(profile)
        if let u = profile.uplink {
            let r = MQTTUplink.probe(u, timeoutS: uplinkTimeoutS)
            c.add(r.ok, "uplink", r.message, fix: "check uplink.host/port, the broker's listener, the CA file and the broker certificate's name (it must match uplink.host), the lane's user and password")
        } else {
            c.add(true, "uplink", "none configured (records stay in the journal)")
        }
        return c
    }

    mutating func gpio(_ profile: BoardProfile) {
        switch profile.gpio {
        case let .sim(socket):
            let client = SimGPIOClient(path: socket)
            client.ensureConnected()
            add(client.isConnected, "gpio", client.isConnected ? "the simulator's GPIO socket \(socket) answers" : "the simulator's GPIO socket \(socket) does not answer",
                fix: "start lane-sim (lane-sim serve --gpio-socket \(socket)) or correct gpio.socket")
        case let .gpiod(cfg):
            do {
                // Requested as the agent requests them (outputs at their safe levels), then released.
                _ = try GPIODLines(cfg, consumer: "lane-agent-check")
                add(true, "gpio", "chip '\(cfg.chip)': beams on \(cfg.beams.map(\.description).joined(separator: " and ")) with edge events, "
                    + "\(cfg.outputs.count) outputs (\(cfg.outputs.map { "\(LaneOutput(rawValue: $0.output)!.name) \($0.line)" }.joined(separator: ", "))) free and requested")
            } catch {
                add(false, "gpio", error.message, fix: "check gpio.chip (gpiodetect lists the chips and their labels), the line offsets (gpioinfo), and that no other program holds the lines")
            }
        }
    }

    mutating func panels(_ profile: BoardProfile) {
        let client: ModbusClient
        do {
            client = try ModbusClient(profile.transport, timeouts: profile.timeouts)
            try client.connect()
        } catch {
            add(false, "modbus", "\(describe(profile.transport)): \(error)",
                fix: "check modbus.device or modbus.host/port, the cable and the RS-485 adapter (and the agent's user in the dialout group)")
            return
        }
        defer { client.close() }
        add(true, "modbus", "\(describe(profile.transport)) opened")
        let map = profile.registerMap
        var regs = [UInt16](repeating: 0, count: map.readCount)
        var slowestUs: Int64 = 0
        var totalUs: Int64 = 0
        for (i, unit) in profile.unitIDs.enumerated() {
            let label = i < profile.panelLabels.count ? profile.panelLabels[i] : "\(i + 1)"
            let subject = "panel \(label) (unit \(unit))"
            var identity = "no identification (function 0x11 not answered)"
            if let id = try? client.reportServerID(unit: unit) {
                identity = "'" + String(decoding: id.filter { $0 >= 0x20 && $0 < 0x7F }, as: UTF8.self) + "'"
            }
            let start = MonotonicClock.nowUs()
            do {
                try regs.withUnsafeMutableBufferPointer { b throws(ModbusError) in
                    try client.readInputRegisters(unit: unit, address: map.readStart, count: map.readCount, into: b.baseAddress!)
                }
                let us = MonotonicClock.nowUs() - start
                totalUs += us
                slowestUs = max(slowestUs, us)
                let status = regs[map.status]  // offsets are inside the block read
                let statusOK = status & map.statusOkMask == map.statusOkMask && status & map.statusFaultMask == 0
                add(statusOK, subject, "\(identity); a poll of \(map.readCount) registers took " + String(format: "%.1f ms", Double(us) / 1000) + "; status 0x\(String(status, radix: 16))"
                    + (statusOK ? "" : " (not OK: see the panel's manual for the bits)"), fix: "the panel reports a fault: high voltage, temperature or tamper (console 'panels' shows the bits)")
                if let block = map.windowBlock, map.windowCount >= 3 {
                    // What the agent does at start-up: K checked, the boundaries set and read back.
                    let k = map.windowCount
                    let panelK = Int(regs[block.countOffset])
                    var read = [UInt16](repeating: 0, count: k + 1)
                    let why = panelK != k ? "the panel counts into \(panelK) windows (register \(map.readStart + block.countOffset)), the profile reads \(k)"
                        : PanelPoller.writeWindowBoundaries(client, unit: unit, register: block.boundaryRegister, kev: profile.windowBoundariesKev, count: k + 1,
                                                            split: (profile.windowSplitKev, map.windowSplitRegister), into: &read, quietUs: profile.timeouts.responseUs)
                    add(why == nil, subject + " windows", why.map { "\(k) energy windows not usable: \($0)" }
                        ?? "\(k) energy windows, boundaries \(read.map(String.init).joined(separator: ", ")) keV\(profile.windowBoundariesKev != nil ? " (written and read back)" : "")",
                        fix: "panels.windows must be the panel's K (input register \(map.readStart + block.countOffset)); its settings may be locked (see its manual); the spectral test stays off while a panel's windows are not usable")
                }
                if let kev = profile.windowSplitKev, let register = map.windowSplitRegister {
                    // What the agent does at start-up: the split written, then read back.
                    let why = PanelPoller.writeWindowSplit(client, unit: unit, register: register, kev: kev, quietUs: profile.timeouts.responseUs)
                    add(why == nil, subject + " window split", why.map { "\(kev) keV not taken (register \(register)): \($0)" } ?? "\(kev) keV written and read back (register \(register))",
                        fix: "the panel's settings may be locked (see its manual), or it does not take this split; NORM discrimination stays off while a panel has not taken it")
                }
            } catch {
                add(false, subject, "\(identity); poll failed: \(error)",
                    fix: "check the panel's unit id (panels.unitIds), its power and its bus termination; the register map (panels.registerMap)")
                _ = client.resynchronize(quietUs: profile.timeouts.responseUs)
            }
        }
        let tickUs = profile.engine.sampleIntervalUs
        if totalUs > 0 {
            let share = Double(totalUs) / Double(tickUs)
            add(share <= 0.8, "bus budget", String(format: "one round of polls took %.1f ms of the %d ms tick (%.0f %%)", Double(totalUs) / 1000, tickUs / 1000, share * 100)
                + (profile.busBudget.map { String(format: "; the profile's budget says %.1f ms", $0.pollUs / 1000) } ?? ""),
                fix: "raise modbus.baud, lower the response timeout, or put fewer panels on this bus")
        }
    }

    mutating func journal(_ profile: BoardProfile) {
        guard let dir = profile.journalDirectory else { add(true, "journal", "none configured (records are not kept)"); return }
        do {
            try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let probe = dir + "/.check-board-\(getpid())"
            let fd = try Sys.open(probe, O_CREAT | O_WRONLY | O_TRUNC)
            Sys.close(fd)
            try? Sys.unlink(probe)
            var st = statvfs()
            let free = statvfs(dir, &st) == 0 ? Int64(st.f_bavail) * Int64(st.f_frsize) : -1
            add(true, "journal", "\(dir) is writable" + (free >= 0 ? ", \(free / 1_048_576) MiB free" : ""))
        } catch {
            add(false, "journal", "\(error)", fix: "create \(dir) on persistent storage, owned by the agent's user (the unit's StateDirectory does this)")
        }
    }

    mutating func console(_ profile: BoardProfile) {
        guard case let .serial(device, baud)? = profile.console.port else { return }
        do {
            let fd = try Terminal.openSerial(device, baud: baud)
            Sys.close(fd)
            add(true, "console", "serial \(device) opens at \(baud) baud")
        } catch {
            add(false, "console", "\(error)", fix: "check console.device; mask the login getty on that port (systemctl mask serial-getty@...); the agent's user needs the dialout group")
        }
    }

    func describe(_ t: ModbusTransport) -> String {
        switch t {
        case let .tcp(host, port): return "Modbus TCP \(host):\(port)"
        case let .rtu(device, baud, _, _, _): return "Modbus RTU \(device) at \(baud) baud"
        }
    }
}

