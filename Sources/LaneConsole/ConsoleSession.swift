// One console session on one terminal: reads bytes, edits the line, runs commands from the
// table, writes answers. Its own thread; it only reads the tick's published view and posts
// requests, so nothing typed here can delay a tick, and a terminal that stops reading only costs
// this session its output (bounded waits, dropped bytes counted).

import Foundation
import LaneAgent
import LaneCore
import LaneHAL

struct ConsoleOutput: ConsoleByteSink {
    var bytes: [UInt8] = []
    init() { bytes.reserveCapacity(16_384) }
    mutating func put(_ byte: UInt8) { bytes.append(byte) }
}

/// What one command did, for its caller: whether it succeeded, failed (with the message the
/// technician saw after "error: ") or was cancelled at its confirmation, and the lines it wrote.
public struct ConsoleResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        case ok
        case failed(String)
        case cancelled
    }
    public var outcome: Outcome = .ok
    public var lines: [String] = []
    public var text: String { lines.joined(separator: "\n") }
    public var failed: Bool { if case .failed = outcome { return true }; return false }
}

public final class ConsoleSession: @unchecked Sendable {
    let hub: ConsoleHub
    let fd: Int32
    /// Where this session is (for the log and audit): "serial /dev/ttyS0", "pty", "socket".
    let place: String
    let closesOnExit: Bool
    let stop: @Sendable () -> Bool
    var editor = LineEditor()
    var out = ConsoleOutput()
    var inbox = [UInt8](repeating: 0, count: 512)
    var inboxStart = 0, inboxEnd = 0
    var closed = false
    var user: String? = nil
    var lastInputUs = MonotonicClock.nowUs()
    /// Longest a terminal may hold up one flush before its output is dropped.
    let writeTimeoutMs: Int32 = 500

    public init(hub: ConsoleHub, fd: Int32, place: String, closesOnExit: Bool, stop: @escaping @Sendable () -> Bool) {
        self.hub = hub
        self.fd = fd
        self.place = place
        self.closesOnExit = closesOnExit
        self.stop = stop
    }

    // MARK: Output

    /// The command being run: its outcome and the lines it wrote (see `execute`).
    var result: ConsoleResult? = nil
    var partialLine = ""

    /// Text for the terminal; "\n" becomes "\r\n" (the line is raw).
    func say(_ s: String = "") {
        if result != nil {
            for l in (partialLine + s).split(separator: "\n", omittingEmptySubsequences: false) { result!.lines.append(String(l)) }
            partialLine = ""
        }
        for b in s.utf8 {
            if b == 0x0A { out.put(0x0D) }
            out.put(b)
        }
        out.put(0x0D); out.put(0x0A)
    }

    func sayRaw(_ s: String) {
        if result != nil { partialLine += s }
        for b in s.utf8 { out.put(b) }
    }

    /// The terminal stopped taking output at the last flush: until it takes a whole flush again,
    /// write only what fits at once (a silent terminal costs no more waiting).
    var stalled = false

    func flush() {
        guard !out.bytes.isEmpty else { return }
        let n = out.bytes.withUnsafeBytes { Terminal.write(fd, $0, timeoutMs: stalled ? 0 : writeTimeoutMs) }
        if n < out.bytes.count {
            let lost = out.bytes.count - n
            hub.count { $0.outputBytesDropped += lost }
            stalled = true
        } else {
            stalled = false
        }
        out.bytes.removeAll(keepingCapacity: true)
    }

    // MARK: Input

    /// The next byte from the terminal, or nil after `timeoutMs` without one (or if it is gone).
    func nextByte(timeoutMs: Int32) -> UInt8? {
        if inboxStart < inboxEnd {
            inboxStart += 1
            return inbox[inboxStart - 1]
        }
        let n = inbox.withUnsafeMutableBytes { Terminal.read(fd, into: $0, timeoutMs: timeoutMs) }
        if n < 0 {
            // A socket peer has gone: the session ends. A serial line or pty that reports a
            // hang-up ends this session too; the server opens the device again.
            closed = true
            return nil
        }
        if n == 0 { return nil }
        inboxStart = 1
        inboxEnd = n
        lastInputUs = MonotonicClock.nowUs()
        return inbox[0]
    }

    var prompt: String {
        let v = hub.lane.monitor.snapshot()
        var state = "idle"
        if v.gammaAlarmActive || v.neutronAlarmActive {
            state = [v.gammaAlarmActive ? "GAMMA" : nil, v.neutronAlarmActive ? "NEUTRON" : nil].compactMap { $0 }.joined(separator: "+") + " ALARM"
        } else if (0..<v.alarmCount).contains(where: { v.alarm($0).state != .cleared }) {
            state = "alarm not cleared"
        } else if v.occupied {
            state = "occupied"
        } else if !v.faults.subtracting(.maintenance).isEmpty {
            state = "FAULT"
        }
        return "\(hub.profile.laneID) [\(state)] \(user.map { $0 + "#" } ?? ">") "
    }

    func newLine() {
        let p = Array(prompt.utf8)
        p.withUnsafeBufferPointer { editor.setPrompt($0) }
        editor.begin(&out)
    }

    /// Runs until the terminal goes away (a socket) or the agent stops.
    public func run() {
        hub.count { $0.sessions += 1 }
        say("")
        say("lane-agent \(LaneAgentVersion.string) console, lane \(hub.profile.site)/\(hub.profile.laneID) (\(place)). Type 'help'.")
        newLine()
        flush()
        while !closed && !stop() {
            guard let b = nextByte(timeoutMs: 250) else {
                checkIdle()
                continue
            }
            if let e = editor.feed(b, &out) { handle(e) }
            flush()
        }
        if let u = user { hub.audit(user: u, action: "logout (\(place) closed)") }
        flush()
    }

    func checkIdle() {
        if let u = user, MonotonicClock.nowUs() - lastInputUs > hub.profile.console.idleLogoutUs {
            user = nil
            hub.audit(user: u, action: "logout (idle)")
            say("\r\n(logged out after \(hub.profile.console.idleLogoutUs / 1_000_000) s without input)")
            newLine()
            flush()
        }
    }

    func handle(_ e: LineEditorEvent) {
        switch e {
        case .line:
            let text = lineText()
            if !text.isEmpty { execute(text) }
            if !closed { newLine() }
        case .lineTooLong:
            say("error: line too long (more than \(LineEditor.lineMax) characters): ignored")
            hub.count { $0.linesTooLong += 1 }
            newLine()
        case .interrupt:
            newLine()
        case .endOfInput:
            if closesOnExit { say("bye"); closed = true } else if let u = user {
                say("logout")
                hub.audit(user: u, action: "logout")
                user = nil
                newLine()
            }
        case .complete:
            complete()
        case .garbage:
            hub.count { $0.garbageBytes += 1 }
            say("")
            say("(non-text input ignored: the console takes plain ASCII text\(baudHint); check the terminal's speed and settings)")
            editor.reprint(&out)
        case .serialBreak:
            hub.count { $0.breaks += 1 }
            say("")
            say("(break received on the line: ignored)")
            editor.reprint(&out)
        }
    }

    var baudHint: String {
        if case let .serial(_, baud)? = hub.profile.console.port, place.hasPrefix("serial") { return " at \(baud) baud, 8N1" }
        return ""
    }

    func lineText() -> String {
        let l = editor.line
        var b = [UInt8]()
        b.reserveCapacity(l.count)
        for i in 0..<l.count { b.append(l.bytes[i]) }
        return String(decoding: b, as: UTF8.self)
    }

    /// Splits a line into words (strictly ASCII: the editor let nothing else in).
    func words(_ s: String) -> [String] {
        let bytes = Array(s.utf8)
        let w = bytes.withUnsafeBufferPointer { ConsoleWords($0) }
        var r: [String] = []
        for i in 0..<w.count { r.append(String(decoding: bytes[w.starts[i]..<w.ends[i]], as: UTF8.self)) }
        if w.tooMany { r.append(contentsOf: Array(repeating: "…", count: 1)) }
        return r
    }

    // MARK: Interaction inside a command

    /// Reads a line with its own prompt (Ctrl-C, a closed terminal or `timeoutS` of silence: nil).
    func ask(_ question: String, secret: Bool = false, timeoutS: Int = 120) -> String? {
        var e = LineEditor()
        e.secret = secret
        let q = Array(question.utf8)
        q.withUnsafeBufferPointer { e.setPrompt($0) }
        e.begin(&out)
        flush()
        var waited = 0
        while !closed && !stop() {
            guard let b = nextByte(timeoutMs: 250) else {
                waited += 250
                if waited >= timeoutS * 1000 { say(""); say("(no answer within \(timeoutS) s)"); return nil }
                continue
            }
            waited = 0
            switch e.feed(b, &out) {
            case .line?:
                if secret { flush() }
                let l = e.line
                var bytes = [UInt8]()
                for i in 0..<l.count { bytes.append(l.bytes[i]) }
                flush()
                return String(decoding: bytes, as: UTF8.self)
            case .interrupt?, .endOfInput?: flush(); return nil
            case .lineTooLong?: say("error: line too long: ignored"); e.begin(&out)
            case .garbage?, .serialBreak?: say(""); say("(non-text input ignored)"); e.reprint(&out)
            default: break
            }
            flush()
        }
        return nil
    }

    func cancelled() { if result?.outcome == .ok { result!.outcome = .cancelled } }

    func confirm(_ question: String) -> Bool {
        guard let a = ask(question + " [y/N] ") else { say("cancelled"); cancelled(); return false }
        if a == "y" || a == "yes" || a == "Y" { return true }
        say("cancelled: nothing changed")
        cancelled()
        return false
    }

    /// Waits up to `ms` for a key: true if one was pressed (it is consumed).
    func keyPressed(within ms: Int32) -> Bool {
        let deadline = MonotonicClock.nowUs() + Int64(ms) * 1000
        while !closed && !stop() {
            let left = (deadline - MonotonicClock.nowUs()) / 1000
            if left <= 0 { return false }
            if nextByte(timeoutMs: Int32(min(left, 250))) != nil {
                // Swallow the rest of an escape sequence (an arrow key is one press).
                while nextByte(timeoutMs: 20) != nil {}
                return true
            }
        }
        return true
    }

    /// Sleeps `ms`, but a Ctrl-C ends it early (true: interrupted).
    func pause(_ ms: Int, interruptible: Bool = true) -> Bool {
        flush()
        let deadline = MonotonicClock.nowUs() + Int64(ms) * 1000
        while !closed && !stop() {
            let left = (deadline - MonotonicClock.nowUs()) / 1000
            if left <= 0 { return false }
            if let b = nextByte(timeoutMs: Int32(min(left, 100))), interruptible, b == 0x03 { return true }
        }
        return true
    }

    // MARK: Dispatch

    /// Runs one command line as typed; returns what it did (also written to the terminal).
    @discardableResult
    public func execute(_ text: String) -> ConsoleResult {
        result = ConsoleResult()
        partialLine = ""
        dispatch(text)
        if !partialLine.isEmpty { result!.lines.append(partialLine); partialLine = "" }
        defer { result = nil }
        return result!
    }

    func dispatch(_ text: String) {
        hub.count { $0.commands += 1 }
        let w = words(text)
        guard !w.isEmpty else { return }
        if w.count > ConsoleWords.capacity {
            fail("too many words (at most \(ConsoleWords.capacity))")
            return
        }
        let table = ConsoleCommands.table
        var command: ConsoleCommand? = nil
        var args: [String] = []
        if w.count >= 2, let c = table.first(where: { $0.name == w[0] + " " + w[1] }) {
            command = c
            args = Array(w[2...])
        } else if let c = table.first(where: { $0.name == w[0] }) {
            command = c
            args = Array(w[1...])
        }
        guard let c = command else {
            let subs = table.filter { $0.name.hasPrefix(w[0] + " ") }.map { String($0.name.dropFirst(w[0].count + 1)) }
            if !subs.isEmpty {
                fail("\(w[0]): expected \(orList(subs))\(w.count > 1 ? ", found '\(w[1])'" : "") (try 'help \(w[0])')")
            } else {
                let near = table.map(\.name).filter { editDistance($0, w[0]) <= 2 || $0.hasPrefix(w[0]) }
                fail("unknown command '\(w[0])'\(near.isEmpty ? "" : " (did you mean \(orList(near))?)"); 'help' lists the commands")
            }
            return
        }
        if args.contains("-h") || args.contains("--help") {
            printHelp(c)
            return
        }
        if args.count < c.minArgs || args.count > c.maxArgs {
            let expected = c.minArgs == c.maxArgs
                ? (c.minArgs == 0 ? "no arguments" : "\(c.minArgs) argument\(c.minArgs == 1 ? "" : "s")")
                : "\(c.minArgs) to \(c.maxArgs) arguments"
            var extra = ""
            if c.maxArgs == 0 {
                let subs = table.filter { $0.name.hasPrefix(c.name + " ") }.map { String($0.name.dropFirst(c.name.count + 1)) }
                if !subs.isEmpty { extra = "; sub-commands: \(subs.joined(separator: ", "))" }
            }
            fail("\(c.name): expected \(expected)\(c.usage.isEmpty ? "" : " (\(c.usage))"), got \(args.count)\(extra); see '\(c.name) -h'")
            return
        }
        if c.privileged && user == nil {
            hub.count { $0.refusedNotLoggedIn += 1 }
            fail("\(c.name): needs a technician login ('login'); anyone may look, only technicians may change or test")
            return
        }
        c.run(self, args)
    }

    func fail(_ message: String) {
        hub.count { $0.commandErrors += 1 }
        if result?.outcome == .ok { result!.outcome = .failed(message) }
        say("error: " + message)
    }

    func orList(_ xs: [String]) -> String {
        let q = xs.map { "'\($0)'" }
        if q.count <= 1 { return q.first ?? "" }
        return q.dropLast().joined(separator: ", ") + " or " + q.last!
    }

    func printHelp(_ c: ConsoleCommand) {
        say("usage: \(c.name)\(c.usage.isEmpty ? "" : " " + c.usage)\(c.privileged ? "    (technician login)" : "")")
        say("  " + c.summary)
        if !c.help.isEmpty { for l in c.help.split(separator: "\n", omittingEmptySubsequences: false) { say("  " + l) } }
        let subs = ConsoleCommands.table.filter { $0.name.hasPrefix(c.name + " ") }
        if !subs.isEmpty {
            say("  sub-commands:")
            for s in subs { say("    \(s.name)\(s.usage.isEmpty ? "" : " " + s.usage) - \(s.summary)") }
        }
    }

    // MARK: Completion

    func complete() {
        let l = editor.line
        var bytes = [UInt8]()
        for i in 0..<editor.cursor { bytes.append(l.bytes[i]) }
        let text = String(decoding: bytes, as: UTF8.self)
        var w = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        let partial = text.hasSuffix(" ") || text.isEmpty ? "" : (w.popLast() ?? "")
        let table = ConsoleCommands.table
        var candidates: [String] = []
        if w.isEmpty {
            candidates = Array(Set(table.map { String($0.name.split(separator: " ")[0]) })).sorted()
        } else {
            let two = w.count >= 2 ? table.first { $0.name == w[0] + " " + w[1] } : nil
            let one = table.first { $0.name == w[0] }
            if w.count == 1 {
                candidates = table.filter { $0.name.hasPrefix(w[0] + " ") }.map { String($0.name.dropFirst(w[0].count + 1)) }
            }
            if let c = two ?? one {
                let position = w.count - (two != nil ? 2 : 1)
                if position < c.completions.count { candidates += c.completions[position](hub) }
            }
            if w[0] == "help" && w.count == 1 {
                candidates = Array(Set(table.map { String($0.name.split(separator: " ")[0]) })).sorted()
            }
        }
        let matches = candidates.filter { $0.hasPrefix(partial) }.sorted()
        guard !matches.isEmpty else { out.put(0x07); return }
        if matches.count == 1 {
            let add = Array(matches[0].dropFirst(partial.count).utf8) + [0x20]
            add.withUnsafeBufferPointer { _ = editor.insert($0, &out) }
            return
        }
        var common = matches[0]
        for m in matches.dropFirst() { while !m.hasPrefix(common) { common.removeLast() } }
        if common.count > partial.count {
            let add = Array(common.dropFirst(partial.count).utf8)
            add.withUnsafeBufferPointer { _ = editor.insert($0, &out) }
            return
        }
        say("")
        say(matches.joined(separator: "  "))
        editor.reprint(&out)
    }
}
