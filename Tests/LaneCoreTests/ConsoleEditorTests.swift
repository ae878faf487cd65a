// Proves the console's line editor and number parsing on bytes as terminals send them: every
// editing key, history with its fixed ring, CR LF, over-long lines, binary garbage and breaks,
// secret input; and, against a model of a dumb terminal fed the editor's own echo, that what the
// screen shows is always the prompt and the line with the cursor in the right place, without a
// single escape sequence (so it works on any terminal).

import LaneCore
import Testing

struct Echo: ConsoleByteSink {
    var bytes: [UInt8] = []
    mutating func put(_ byte: UInt8) { bytes.append(byte) }
}

/// A dumb terminal: one line, carriage return, backspace, printable characters overwrite.
struct DumbScreen {
    var cells: [UInt8] = []
    var column = 0
    mutating func apply(_ bytes: [UInt8]) {
        for b in bytes {
            switch b {
            case 0x0D: column = 0
            case 0x0A: cells = []; column = 0
            case 0x08: column = max(0, column - 1)
            case 0x07: break
            case 0x20...0x7E:
                if column < cells.count { cells[column] = b } else { cells.append(b) }
                column += 1
            default: Issue.record("the editor wrote byte \(b) that a dumb terminal cannot show")
            }
        }
    }
    var text: String {
        var c = cells
        while c.last == 0x20 { c.removeLast() }
        return String(decoding: c, as: UTF8.self)
    }
}

struct Typist {
    var editor = LineEditor()
    var echo = Echo()
    var events: [LineEditorEvent] = []

    init(prompt: StaticString = "> ") {
        editor.setPrompt(prompt)
        editor.begin(&echo)
    }

    mutating func type(_ s: String) { type(Array(s.utf8)) }
    mutating func type(_ bytes: [UInt8]) {
        for b in bytes { if let e = editor.feed(b, &echo) { events.append(e) } }
    }
    var line: String {
        let l = editor.line
        return String(decoding: (0..<l.count).map { l.bytes[$0] }, as: UTF8.self)
    }
}

let left: [UInt8] = [0x1B, 0x5B, 0x44], right: [UInt8] = [0x1B, 0x5B, 0x43]
let up: [UInt8] = [0x1B, 0x5B, 0x41], down: [UInt8] = [0x1B, 0x5B, 0x42]
let deleteKey: [UInt8] = [0x1B, 0x5B, 0x33, 0x7E], home: [UInt8] = [0x1B, 0x5B, 0x48], end: [UInt8] = [0x1B, 0x4F, 0x46]

@Suite("console line editor")
struct ConsoleEditorTests {
    @Test("Enter ends a line, the echo is the text and CR LF; CR LF from a terminal is one Enter")
    func plainLine() {
        var t = Typist()
        t.type("status\r\n")
        #expect(t.events == [.line])
        #expect(t.line == "status")
        #expect(t.echo.bytes == Array("> status\r\n".utf8))
        t.editor.begin(&t.echo)
        t.type("beams\n")
        #expect(t.events == [.line, .line])
        #expect(t.line == "beams")
    }

    @Test("arrows, Home/End, Delete, Ctrl-A/E/B/F/K/U/W edit where the cursor is")
    func editing() {
        var t = Typist()
        t.type("modbus read 1 0 12")
        t.type(left + [0x7F])  // "modbus read 1 0 2" with the cursor before "2"
        t.type("3")
        #expect(t.line == "modbus read 1 0 32")
        t.type(home + Array("x".utf8))
        #expect(t.line == "xmodbus read 1 0 32")
        t.type([0x01] + deleteKey)  // Ctrl-A, Delete
        #expect(t.line == "modbus read 1 0 32")
        t.type(end + [0x17])  // End, Ctrl-W: the last word goes
        #expect(t.line == "modbus read 1 0 ")
        t.type([0x02, 0x02, 0x0B])  // Ctrl-B twice, Ctrl-K
        #expect(t.line == "modbus read 1 ")
        t.type([0x06, 0x05])  // Ctrl-F, Ctrl-E stay inside the line
        t.type([0x01] + right + right + [0x15])  // Ctrl-U deletes to the start
        #expect(t.line == "dbus read 1 ")
        t.type("\r")
        #expect(t.events == [.line])
    }

    @Test("history: up and down walk back and forth, the typed line comes back, the ring keeps the newest 16")
    func history() {
        var t = Typist()
        for i in 1...20 {
            t.type("cmd \(i)\r")
            t.editor.begin(&t.echo)
        }
        t.type("cmd 20\r")  // a repeat is not stored twice
        t.editor.begin(&t.echo)
        #expect(t.editor.historyLength == LineEditor.historyMax)
        t.type("draft")
        t.type(up)
        #expect(t.line == "cmd 20")
        t.type(up + up)
        #expect(t.line == "cmd 18")
        for _ in 0..<30 { t.type(up) }
        #expect(t.line == "cmd 5", "the oldest kept line is the 16th newest")
        for _ in 0..<15 { t.type(down) }
        #expect(t.line == "cmd 20")
        t.type(down)
        #expect(t.line == "draft")
        t.type([0x10])  // Ctrl-P
        #expect(t.line == "cmd 20")
    }

    @Test("a line longer than the limit rings once, is thrown away at Enter and counted; the next line works")
    func tooLong() {
        var t = Typist()
        t.type(String(repeating: "a", count: LineEditor.lineMax + 50))
        #expect(t.echo.bytes.filter { $0 == 0x07 }.count == 1)
        t.type("\r")
        #expect(t.events == [.lineTooLong])
        #expect(t.line.isEmpty)
        #expect(t.editor.linesTooLong == 1)
        t.editor.begin(&t.echo)
        t.type("help\r")
        #expect(t.events.last == .line)
        #expect(t.line == "help")
        #expect(t.editor.historyLength == 1)
    }

    @Test("binary garbage is dropped and reported once per line; a NUL (serial break) is reported; text around it survives")
    func garbage() {
        var t = Typist()
        t.type("sta")
        t.type([0xFF, 0xFE, 0x80, 0x00, 0x91])
        t.type("tus\r")
        #expect(t.events == [.garbage, .serialBreak, .line])
        #expect(t.line == "status")
        #expect(t.editor.garbageBytes == 4)
        #expect(t.editor.breaks == 1)
        // An unknown or broken escape sequence is swallowed, not typed.
        t.editor.begin(&t.echo)
        t.type([0x1B, 0x5B, 0x32, 0x30, 0x30, 0x7E] + Array("ok".utf8) + [0x1B, 0x5B, 0x31, 0x3B, 0x35, 0x43] + Array("\r".utf8))
        #expect(t.line == "ok")
    }

    @Test("Ctrl-C abandons the line; Ctrl-D on an empty line is end of input, elsewhere it deletes")
    func controlKeys() {
        var t = Typist()
        t.type("set gammaSigma 5")
        t.type([0x03])
        #expect(t.events == [.interrupt])
        #expect(t.line.isEmpty)
        t.editor.begin(&t.echo)
        t.type("ab")
        t.type([0x01, 0x04])
        #expect(t.line == "b")
        t.type([0x05, 0x15, 0x04])
        #expect(t.events == [.interrupt, .endOfInput])
    }

    @Test("secret input echoes nothing and stays out of the history")
    func secret() {
        var t = Typist(prompt: "password: ")
        t.editor.secret = true
        let before = t.echo.bytes.count
        t.type("hunter22")
        t.type([0x7F])
        t.type("2\r")
        #expect(t.line == "hunter22")
        #expect(Array(t.echo.bytes[before...]) == [0x0D, 0x0A])
        #expect(t.editor.historyLength == 0)
    }

    @Test("Tab asks for completion; inserted text lands at the cursor")
    func completion() {
        var t = Typist()
        t.type("conf\t")
        #expect(t.events == [.complete])
        let add = Array("ig ".utf8)
        add.withUnsafeBufferPointer { _ = t.editor.insert($0, &t.echo) }
        t.type("show\r")
        #expect(t.line == "config show")
    }

    @Test("on a dumb terminal model the screen always shows prompt + line with the cursor in place, for 20,000 random keys (seed 42)")
    func dumbTerminal() {
        var rng: UInt64 = 42
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 33 }
        let keys: [[UInt8]] = [left, right, up, down, deleteKey, home, end, [0x7F], [0x08], [0x01], [0x05], [0x02], [0x06],
                               [0x0B], [0x15], [0x17], [0x0C], [0x10], [0x0E]]
        var t = Typist(prompt: "LANE-01> ")
        var screen = DumbScreen()
        screen.apply(t.echo.bytes)
        t.echo.bytes = []
        for _ in 0..<20_000 {
            let r = next() % 10
            let bytes: [UInt8]
            if r < 5 { bytes = [UInt8(0x61 + next() % 26)] } else if r < 9 { bytes = keys[Int(next() % UInt64(keys.count))] } else { bytes = [0x0D] }
            t.type(bytes)
            screen.apply(t.echo.bytes)
            t.echo.bytes = []
            if t.events.last == .line {
                t.events = []
                t.editor.begin(&t.echo)
                screen.apply(t.echo.bytes)
                t.echo.bytes = []
            }
            var expected = "LANE-01> " + t.line
            while expected.hasSuffix(" ") { expected.removeLast() }
            if screen.text != expected || screen.column != 9 + t.editor.cursor {
                Issue.record("screen '\(screen.text)' col \(screen.column), expected '\(expected)' col \(9 + t.editor.cursor)")
                return
            }
        }
    }
}

@Suite("console numbers")
struct ConsoleNumberTests {
    func int(_ s: String, _ min: Int64, _ max: Int64, hex: Bool = false) -> Int64? {
        Array(s.utf8).withUnsafeBufferPointer { ConsoleNumber.integer($0, min: min, max: max, hex: hex) }
    }
    func dec(_ s: String, _ d: Int, _ min: Int64 = 0, _ max: Int64 = 1_000_000) -> Int64? {
        Array(s.utf8).withUnsafeBufferPointer { ConsoleNumber.decimal($0, decimals: d, min: min, max: max) }
    }

    @Test("integers: digits only, a sign only where negatives are allowed, ranges, hex only when asked, no overflow")
    func integers() {
        #expect(int("247", 1, 247) == 247)
        #expect(int("248", 1, 247) == nil)
        #expect(int("0", 1, 247) == nil)
        #expect(int("-3", -10, 10) == -3)
        #expect(int("-3", 0, 10) == nil)
        #expect(int("+3", 0, 10) == nil)
        #expect(int("3a", 0, 10) == nil)
        #expect(int(" 3", 0, 10) == nil)
        #expect(int("", 0, 10) == nil)
        #expect(int("-", -10, 10) == nil)
        #expect(int("0x103", 0, 65535, hex: true) == 259)
        #expect(int("0X1f", 0, 65535, hex: true) == 31)
        #expect(int("0x103", 0, 65535) == nil)
        #expect(int("0x", 0, 65535, hex: true) == nil)
        #expect(int("0xG", 0, 65535, hex: true) == nil)
        #expect(int("99999999999999999999", 0, Int64.max) == nil)
        #expect(int("9223372036854775807", 0, Int64.max) == Int64.max)
    }

    @Test("decimals: scaled exactly, too many decimals refused, no exponent, no lone point")
    func decimals() {
        #expect(dec("7.25", 2) == 725)
        #expect(dec("7", 2) == 700)
        #expect(dec("0.6", 2) == 60)
        #expect(dec(".5", 2) == 50)
        #expect(dec("7.255", 2) == nil)
        #expect(dec("7.", 2) == nil)
        #expect(dec(".", 2) == nil)
        #expect(dec("1e3", 2) == nil)
        #expect(dec("1.2.3", 2) == nil)
        #expect(dec("-1", 2) == nil)
        #expect(dec("-1", 2, -1000, 1000) == -100)
        #expect(dec("10000.01", 2) == nil, "out of range")
        #expect(dec("12", 0) == 12)
        #expect(dec("1.5", 0) == nil)
    }

    @Test("words: split on spaces and tabs, at most 12, the rest flagged")
    func words() {
        let s = Array("  modbus\tread  1 0   12 ".utf8)
        let w = s.withUnsafeBufferPointer { ConsoleWords($0) }
        #expect(w.count == 5)
        #expect(String(decoding: s[w.starts[1]..<w.ends[1]], as: UTF8.self) == "read")
        let many = Array(String(repeating: "x ", count: 20).utf8)
        let m = many.withUnsafeBufferPointer { ConsoleWords($0) }
        #expect(m.count == ConsoleWords.capacity && m.tooMany)
    }
}
