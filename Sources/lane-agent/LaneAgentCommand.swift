// lane-agent: the lane controller. `run` screens a lane; `replay` runs a trace through the same
// engine; `check-board` validates a board profile.

import ArgumentParser
import Foundation
import LaneAgent
import LaneConsole
import LaneCore
import LaneHAL
import LaneTrace
import LaneUplink
import CAllocCount
import Synchronization

@main
struct LaneAgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lane-agent",
        abstract: "Lane controller agent for radiation portal monitors.",
        subcommands: [Run.self, ReplayCommand.self, CheckBoard.self, JournalCommand.self, Passwd.self, SafeOutputs.self])
}

func loadBoard(_ path: String, enforceFloors: Bool = true) throws -> BoardProfile {
    do { return try BoardProfile.load(path: path, enforceFloors: enforceFloors) } catch let e as ProfileError {
        FileHandle.standardError.write(Data("lane-agent: \(e.message)\n".utf8))
        throw ExitCode(2)
    }
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run a lane trace through the detection engine; print one decision per occupancy (JSON Lines).")

    @Argument(help: "The trace (JSON Lines), or - for standard input.") var trace: String
    @Option(help: "A board profile whose detection settings to use.") var board: String?

    func run() throws {
        // Replay is offline analysis: a profile beyond the safety floors is allowed here.
        let profile = try board.map { try loadBoard($0, enforceFloors: false) }
        let fd: Int32
        if trace == "-" { fd = 0 } else {
            do throws(SysError) { fd = try Sys.open(trace, O_RDONLY) } catch {
                FileHandle.standardError.write(Data("lane-agent: \(trace): cannot open the trace: \(error.reason)\n".utf8))
                throw ExitCode(2)
            }
        }
        var out = Data()
        do {
            try Replay.run(fd: fd, board: profile) { line in
                out.append(contentsOf: line.utf8)
                out.append(0x0A)
                if out.count > 1 << 16 { FileHandle.standardOutput.write(out); out.removeAll(keepingCapacity: true) }
            }
        } catch {
            FileHandle.standardOutput.write(out)
            FileHandle.standardError.write(Data("lane-agent: \(trace == "-" ? "standard input" : trace): \(error)\n".utf8))
            throw ExitCode(1)
        }
        FileHandle.standardOutput.write(out)
    }
}

struct CheckBoard: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-board", abstract: "Validate a board profile and print what it sets.")

    @Argument(help: "The board profile (YAML).") var board: String
    @Flag(help: "Also check the profile against this machine: GPIO chip and lines, the panels (identification, a poll, the bus budget), the journal directory, the console port, the uplink's broker and certificate. Exit status 1 when anything fails.")
    var onTarget = false
    @OptionGroup var overrides: ProfileOverrides

    func run() throws {
        var p = try loadBoard(board)
        print("\(board): OK: board \(p.board), lane \(p.site)/\(p.laneID), \(p.engine.panelCount) panels (\(p.panelLabels.joined(separator: ",")))")
        if let b = p.busBudget {
            print(String(format: "RS-485 bus: one tick's polls take %.1f ms of the %d ms tick (%.0f %%)", b.pollUs / 1000, b.tickUs / 1000, 100 * b.pollUs / Double(b.tickUs)))
        }
        guard onTarget else { return }
        try overrides.apply(to: &p, board: board)
        let check = BoardCheck.run(p)
        print(check.report, terminator: "")
        if !check.passed { throw ExitCode(1) }
    }
}

/// What `run` and `check-board` may take from the command line instead of the profile (the
/// simulator's ports, a scratch journal, another broker): one place that checks they fit it.
struct ProfileOverrides: ParsableArguments {
    @Option(help: "Override the profile's Modbus TCP port.") var modbusPort: Int?
    @Option(help: "Override the profile's Modbus RTU serial device.") var modbusDevice: String?
    @Option(help: "Override the profile's simulator GPIO socket.") var gpioSocket: String?
    @Option(help: "Keep the journal of records in this directory (overrides the profile's journal.directory).") var journal: String?
    @Option(help: "Send records to this MQTT broker, host:port (overrides the profile's uplink).") var broker: String?

    func apply(to profile: inout BoardProfile, board: String) throws {
        if let port = modbusPort {
            guard case let .tcp(host, _) = profile.transport else { throw ValidationError("--modbus-port: \(board) does not use Modbus TCP") }
            guard (1...65535).contains(port) else { throw ValidationError("--modbus-port must be 1...65535") }
            profile.transport = .tcp(host: host, port: port)
        }
        if let dev = modbusDevice {
            guard case let .rtu(_, baud, parity, dataBits, stopBits) = profile.transport else {
                throw ValidationError("--modbus-device: \(board) does not use Modbus RTU")
            }
            profile.transport = .rtu(device: dev, baud: baud, parity: parity, dataBits: dataBits, stopBits: stopBits)
        }
        try Self.gpio(gpioSocket, &profile, board: board)
        if let journal { profile.journalDirectory = journal }
        if let broker {
            let parts = broker.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else {
                throw ValidationError("--broker must be host:port")
            }
            var c = profile.uplink ?? UplinkConfig(host: "", port: 0, site: profile.site, lane: profile.laneID)
            c.host = String(parts[0])
            c.port = port
            profile.uplink = c
        }
    }

    static func gpio(_ socket: String?, _ profile: inout BoardProfile, board: String) throws {
        guard let socket else { return }
        guard case .sim = profile.gpio else { throw ValidationError("--gpio-socket: \(board) does not use the simulator's GPIO") }
        profile.gpio = .sim(socket: socket)
    }
}

struct SafeOutputs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "safe-outputs",
        abstract: "Set the board's outputs to their safe state (fault lamp on, siren, lights, camera and heartbeat off) and exit: the systemd unit's ExecStopPost, after the agent stopped, crashed or was killed.")
    @Option(help: "The board profile (YAML).") var board: String
    @Option(help: "Override the profile's simulator GPIO socket.") var gpioSocket: String?

    func run() throws {
        var p = try loadBoard(board)
        try ProfileOverrides.gpio(gpioSocket, &p, board: board)
        let lines: DigitalLines
        do { lines = try LaneRunner.openLines(p) { FileHandle.standardError.write(Data("lane-agent: \($0)\n".utf8)) } } catch {
            FileHandle.standardError.write(Data("lane-agent: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let failed = LaneRunner.setSafeOutputs(lines)
        guard failed.isEmpty else {
            FileHandle.standardError.write(Data("lane-agent: safe-outputs: could not set \(failed.map(\.name).joined(separator: ", "))\n".utf8))
            throw ExitCode(1)
        }
        print("safe-outputs: \(LaneOutput.allCases.map { "\($0.name) \($0.safeLevel ? "on" : "off")" }.joined(separator: ", "))")
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Screen the lane described by a board profile: decisions as JSON Lines on standard output, the log on standard error.")

    @Option(help: "The board profile (YAML).") var board: String
    @Option(help: "Stop after this many seconds (default: run until SIGINT or SIGTERM).") var duration: Double?
    @OptionGroup var overrides: ProfileOverrides
    @Option(help: "Serve the VM-250-style text stream on this TCP port (overrides the profile's vm250.port).") var vm250Port: Int?
    @Option(help: "Override the port of the profile's OCR connection (ocr.connect or ocr.listen; 0 with listen: any free port, logged).") var ocrPort: Int?
    @Option(help: "Serve the console on a pseudo-terminal linked here (overrides the profile's console device).") var consoleLink: String?
    @Option(help: "Serve the console on this Unix socket as well (overrides the profile's console.socket).") var consoleSocket: String?

    func run() throws {
        let startUs = MonotonicClock.nowUs()
        var recordsLost = false
        var profile = try loadBoard(board)
        try overrides.apply(to: &profile, board: board)
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive") }
        if let consoleLink { profile.console.port = .pty(link: consoleLink) }
        if let consoleSocket { profile.console.socket = consoleSocket }
        if (consoleLink != nil || consoleSocket != nil) && profile.console.usersFile == nil {
            throw ValidationError("--console-link/--console-socket: \(board) names no console password file (console.users)")
        }
        installStopSignals()
        let log = AgentLog()
        let runner: LaneRunner
        do {
            runner = try LaneRunner(profile: profile, stop: { stopRequested.load(ordering: .relaxed) }, log: log.line)
        } catch let e as ProfileError {
            log.line(e.message)
            throw ExitCode(2)
        }
        var journalWriter: JournalWriter? = nil
        if let dir = profile.journalDirectory {
            // Storage that fails (full, read-only) does not stop the lane: it screens on with
            // the storageFailed fault raised, and the exit status says records were lost.
            let w = JournalWriter(directory: dir, segmentBytesMax: profile.journalSegmentBytes, bytesMax: profile.journalBytesMax,
                                  reserveBytes: profile.journalReserveBytes, log: log.line)
            journalWriter = w
            w.start()
            runner.records = w.queue
            runner.storageFailing = { w.storageFaulted }
            // The learned background is kept beside the journal (docs/DETECTION.md, "A restart").
            let keeper = BackgroundKeeper(path: dir + "/background", settings: profile.engine, log: log.line)
            keeper.start(stop: { stopRequested.load(ordering: .relaxed) })
            runner.backgroundKeeper = keeper
        }
        if let vm250Port {
            guard (1...65535).contains(vm250Port) else { throw ValidationError("--vm250-port must be 1...65535") }
            profile.vm250Port = vm250Port
        }
        if let port = profile.vm250Port {
            do {
                let server = try VM250Server(host: profile.vm250Bind, port: port, allow: profile.vm250Allow,
                                             setupLines: VM250Server.setupLines(profile.engine, panels: profile.engine.panelCount, softwareVersion: LaneAgentVersion.string.description), log: log.line)
                server.start(stop: { stopRequested.load(ordering: .relaxed) || writerStop.load(ordering: .relaxed) })
                runner.vm250 = server
                log.line("vm250: text stream on \(profile.vm250Bind):\(port)" + (profile.vm250Allow.isEmpty ? "" : " for \(profile.vm250Allow.joined(separator: ", ")) only"))
            } catch {
                log.line("\(error)")
                throw ExitCode(2)
            }
        }
        if let port = ocrPort {
            guard var c = profile.ocr else { throw ValidationError("--ocr-port: \(board) has no ocr section") }
            switch c.endpoint {
            case let .connect(h, _):
                guard (1...65535).contains(port) else { throw ValidationError("--ocr-port must be 1...65535 (the agent connects to it)") }
                c.endpoint = .connect(host: h, port: port)
            case let .listen(h, _, allow):
                guard (0...65535).contains(port) else { throw ValidationError("--ocr-port must be 0...65535") }
                c.endpoint = .listen(host: h, port: port, allow: allow)
            }
            profile.ocr = c
        }
        if let c = profile.ocr {
            do {
                let input = try OCRInput(config: c, log: log.line)
                input.start(stop: { stopRequested.load(ordering: .relaxed) || writerStop.load(ordering: .relaxed) })
                runner.ocr = input
                if let p = input.listenPort, case let .listen(host, _, allow) = c.endpoint {
                    log.line("ocr: listening for the OCR system on \(host):\(p)" + (allow.isEmpty ? "" : " (from \(allow.joined(separator: ", ")) only)"))
                } else {
                    log.line("ocr: reads from the OCR system at \(c.place)")
                }
            } catch {
                log.line("\(error)")
                throw ExitCode(2)
            }
        }
        var uplink: MQTTUplink? = nil
        if let c = profile.uplink {
            guard let journalWriter else {
                log.line("uplink: needs a journal (journal.directory or --journal)")
                throw ExitCode(2)
            }
            uplink = MQTTUplink(config: c, journal: journalWriter.journal, log: log.line)
            do { try uplink!.start() } catch {
                log.line("\(error)")
                throw ExitCode(2)
            }
        }
        let gpioText: String
        switch profile.gpio {
        case let .sim(socket): gpioText = "simulator GPIO at \(socket)"
        case let .gpiod(c): gpioText = "GPIO chip \(c.chip), beams on \(c.beams.map(\.description).joined(separator: " and "))"
        }
        if let b = profile.busBudget {
            log.line(String(format: "RS-485 bus: one tick's polls should take %.1f ms of the %d ms tick", b.pollUs / 1000, b.tickUs / 1000))
        }
        log.line("board \(profile.board) (\(profile.site)/\(profile.laneID)): \(profile.engine.panelCount) panels, \(describe(profile.transport)), \(gpioText); tick \(profile.engine.sampleIntervalUs / 1000) ms")
        runner.threadAllocations = lane_thread_allocations
        runner.processStartUs = startUs
        runner.insecureUplink = profile.uplink?.isInsecure ?? false
        runner.panels.threadAllocations = lane_thread_allocations
        if profile.console.port != nil || profile.console.socket != nil {
            let hub = ConsoleHub(profile: profile, lane: runner, logRing: log.ring, log: log.line)
            hub.journal = journalWriter
            hub.uplink = uplink
            hub.vm250 = runner.vm250
            hub.ocr = runner.ocr
            let console = ConsoleServer(hub: hub, stop: { stopRequested.load(ordering: .relaxed) })
            do { try console.start() } catch {
                log.line("\(error)")
                throw ExitCode(2)
            }
        }
        let writerDone = DispatchSemaphore(value: 0)
        let writer = DecisionPrinter(settings: profile.engine, log: log)
        let queue = runner.events
        startThread(name: "decisions") {
            while true {
                if let e = queue.pop(timeoutS: 0.2) { writer.handle(e); continue }
                if writerStop.load(ordering: .relaxed) { break }
            }
            writerDone.signal()
        }
        do {
            runner.notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
            try runner.run(durationUs: duration.map { Int64($0 * 1e6) }, log: log.line)
        } catch {
            log.line("\(error)")
            throw ExitCode(1)
        }
        writerStop.store(true, ordering: .relaxed)
        writerDone.wait()
        if let keeper = runner.backgroundKeeper {
            keeper.flush()
            log.line("background: kept \(keeper.written) times at \(keeper.path)\(keeper.failures > 0 ? ", \(keeper.failures) writes failed" : "")")
        }
        if let journalWriter {
            journalWriter.stop()
            let j = journalWriter.stats
            log.line("journal: \(journalWriter.queue.pushed) records queued, \(journalWriter.queue.dropped) dropped before the journal, \(j.recordsLost) lost to storage failures, \(j.bytes) bytes in \(j.segments) segments, \(j.samplesEvicted) sample records evicted, \(j.samplesRefused) refused, \(j.gapRecords) gap records"
                + (journalWriter.journal.storageProblem.map { "; STORAGE FAULT at exit: \($0)" } ?? ""))
            if j.recordsLost > 0 || journalWriter.journal.storageProblem != nil || journalWriter.queue.dropped > 0 { recordsLost = true }
        }
        if let uplink {
            // A clean stop hands the broker what the journal holds and waits for the alarm
            // station to acknowledge it (3 s at most in all; the rest stays in the journal).
            let until = Date(timeIntervalSinceNow: 3)
            let drained = uplink.drain(timeoutS: 3) && uplink.waitForStation(timeoutS: max(0, until.timeIntervalSinceNow))
            uplink.stop()
            let u = uplink.stats
            log.line("uplink: \(u.messagesPublished) messages published, \(u.messagesAcknowledged) taken by the broker; the alarm station has stored through sequence \(uplink.journal.ackedThrough) of \(uplink.journal.nextSequence - 1) (\(u.stationAcks) acknowledgements, \(u.rangesResent) ranges sent again at its request, \(u.tailResends) re-sends after silence), \(u.connects) connects\(drained ? "" : "; the rest stays in the journal for the next start")")
        }
        if let o = runner.ocr {
            let st = o.stats
            let v = runner.monitor.snapshot()
            log.line("ocr: \(st.messages) messages (\(st.malformed) malformed, \(st.emptyReads) with nothing read, \(o.dropped) dropped); reads \(v.ocrAttached) attached, \(v.ocrAmended) late (decision amended), \(v.ocrUnmatched) unmatched, \(v.ocrDuplicates) duplicates; \(st.connects) connects, \(st.disconnects) disconnects")
        }
        let s = runner.stats
        log.line("tick lateness: \(s.latenessSummary); tick work: \(s.durationSummary)")
        log.line("tick thread: \(s.tickAllocations) heap allocations in \(s.allocationCountedTicks) ticks counted (from the first alarm occupancy's end, and not before tick \(LaneRunner.allocationWarmupTicks))"
            + (s.firstAllocatingTick > 0 ? " (first in tick \(s.firstAllocatingTick))" : "")
            + "; \(lane_thread_allocations()) on this thread since the process started")
        let pa = runner.panels.allocationsPerRound
        log.line("poll thread: \(pa.total) heap allocations in \(pa.rounds) rounds of polls (after the first 50, every panel answering)")
        log.line("start-up to the first tick \(s.firstTickUs > 0 ? (s.firstTickUs - startUs) / 1000 : -1) ms; resident memory \(residentMemoryBytes() >> 20) MiB")
        log.line("stopped: \(s.ticks) ticks, \(s.missedTicks) missed, max lateness \(s.maxLatenessUs) us, \(s.decisions) occupancies, \(queue.dropped) events dropped, \(s.edgeDrops) edges dropped, poll cycle \(runner.pollCycleUs.last) us last, \(runner.pollCycleUs.max) us max")
        if recordsLost {
            // Screening went on, but not every record was kept: a supervisor must hear of it.
            log.line("exit status 3: records were lost (see the journal line above)")
            throw ExitCode(3)
        }
    }
}

func describe(_ t: ModbusTransport) -> String {
    switch t {
    case let .tcp(host, port): return "Modbus TCP \(host):\(port)"
    case let .rtu(device, baud, parity, dataBits, stopBits):
        return "Modbus RTU \(device) \(baud) \(dataBits)\(Character(Unicode.Scalar(parity)))\(stopBits)"
    }
}

struct JournalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal", abstract: "Print the records of a journal directory as JSON Lines.")

    @Argument(help: "The journal directory.") var directory: String
    @Option(help: "Only records after this sequence number.") var after: UInt64 = 0
    @Flag(help: "Only records the alarm station has not acknowledged yet.") var unacknowledged = false

    func run() throws {
        guard FileManager.default.fileExists(atPath: directory) else {
            FileHandle.standardError.write(Data("lane-agent: \(directory): no such journal directory\n".utf8))
            throw ExitCode(2)
        }
        let j: Journal
        do { j = try Journal(directory: directory, readOnly: true) } catch {
            FileHandle.standardError.write(Data("lane-agent: \(error)\n".utf8))
            throw ExitCode(1)
        }
        var out = Data()
        j.read(after: unacknowledged ? max(after, j.ackedThrough) : after, limit: Int.max) { h, r, _ in
            out.append(contentsOf: (RecordJSON.line(h, r) + "\n").utf8)
        }
        FileHandle.standardOutput.write(out)
        let s = j.stats
        var notes: [String] = ["epoch \(epochHex(j.epoch))", "stored by the alarm station through \(j.ackedThrough)"]
        if s.tornBytesTruncated > 0 { notes.append("a torn tail of \(s.tornBytesTruncated) bytes (left as it is: this command changes nothing)") }
        if s.corruptFramesSkipped > 0 { notes.append("\(s.corruptFramesSkipped) corrupt stretches skipped") }
        if let why = s.ackRefusedReason { notes.append("acknowledgement refused: \(why)") }
        if s.segmentsSetAside > 0 { notes.append("\(s.segmentsSetAside) segments with impossible sequences (not shown)") }
        FileHandle.standardError.write(Data("lane-agent: \(directory): \(notes.joined(separator: "; "))\n".utf8))
    }
}

struct Passwd: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add a technician to a console password file, or change their password (read twice from the terminal, never echoed).")

    @Argument(help: "The technician's user name (letters, digits, '-', '_').") var user: String
    @Option(help: "The password file (the board profile's console.users).") var file: String
    @Flag(help: "Read the password once from standard input (for scripts), not from the terminal.") var stdin = false

    func run() throws {
        guard ConsoleUsersFile.isValidName(user) else { throw ValidationError("the user name must be 1 to 32 letters, digits, '-' or '_'") }
        let existing = FileManager.default.contents(atPath: file).flatMap { String(data: $0, encoding: .utf8) } ?? ""
        if !existing.isEmpty {
            do { _ = try ConsoleUsersFile.parse(existing, file: file) } catch {
                FileHandle.standardError.write(Data("lane-agent: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        let password: String
        if stdin {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw ValidationError("no password on standard input") }
            password = line
        } else {
            guard let a = getpass("new password for \(user): ").map({ String(cString: $0) }), !a.isEmpty else { throw ValidationError("empty password") }
            guard let b = getpass("again: ").map({ String(cString: $0) }), a == b else { throw ValidationError("the two passwords differ; nothing changed") }
            password = a
        }
        guard password.count >= 8 else { throw ValidationError("use at least 8 characters") }
        guard let hash = PasswordHash.make(password) else { throw ValidationError("libcrypt could not hash the password") }
        let text = ConsoleUsersFile.setting(user, hash: hash, in: existing)
        do throws(SysError) { try Sys.writeFileAtomically(file, Array(text.utf8), mode: 0o600) } catch {
            FileHandle.standardError.write(Data("lane-agent: \(file): cannot write: \(error)\n".utf8))
            throw ExitCode(1)
        }
        print("\(file): password for \(user) \(existing.contains(user + ":") ? "changed" : "added")")
    }
}
