// The console's line editor: bytes from a terminal in, echo and edits out, a finished line or a
// control event back. It works on real terminal emulators (VT100/xterm escape sequences for the
// arrows, Home, End, Delete) and on dumb ones: every redraw uses only carriage return, spaces
// and backspaces, never an escape sequence. Fixed buffers: a line of at most `lineMax` bytes
// and a history ring of `historyMax` lines; nothing allocates.

/// Where the editor writes its echo (a terminal's output buffer).
public protocol ConsoleByteSink {
    mutating func put(_ byte: UInt8)
}

extension ConsoleByteSink {
    public mutating func put(_ s: StaticString) {
        let p = s.utf8Start
        for i in 0..<s.utf8CodeUnitCount { put(p[i]) }
    }
}

/// A line of console text in a fixed buffer.
public struct ConsoleLine: Sendable {
    public static let capacity = 200
    public var bytes: InlineArray<200, UInt8> = InlineArray(repeating: 0)
    public var count = 0
    public init() {}
}

public enum LineEditorEvent: Sendable, Equatable {
    /// Enter: the line is in `line` (history already updated).
    case line
    /// Enter on a line that overflowed: it was thrown away (`lineMax` bytes at most).
    case lineTooLong
    /// Ctrl-C: the line was abandoned.
    case interrupt
    /// Ctrl-D on an empty line.
    case endOfInput
    /// Tab: the caller completes the word before the cursor (see `insert`).
    case complete
    /// The first byte of non-text input on this line (dropped); later ones are only counted.
    case garbage
    /// A NUL byte: how a serial line shows a break condition (dropped).
    case serialBreak
}

public struct LineEditor: Sendable {
    public static let lineMax = ConsoleLine.capacity
    public static let historyMax = 16
    public static let promptMax = 64

    /// The line being edited (after `.line`: the finished line).
    public private(set) var line = ConsoleLine()
    public private(set) var cursor = 0
    /// Echo nothing and keep no history (passwords).
    public var secret = false
    /// Counters for `stats`.
    public private(set) var garbageBytes = 0
    public private(set) var breaks = 0
    public private(set) var linesTooLong = 0

    var prompt: InlineArray<64, UInt8> = InlineArray(repeating: 0)
    var promptCount = 0
    var history: InlineArray<16, ConsoleLine> = InlineArray(repeating: ConsoleLine())
    var historyCount = 0
    var historyNext = 0
    /// While browsing history: how far back (0 = the line being typed).
    var historyBack = 0
    var saved = ConsoleLine()
    var overflowed = false
    var garbageSeen = false
    /// Escape sequence state: 0 none, 1 after ESC, 2 in CSI (ESC [), 3 after ESC O.
    var escape = 0
    var csiParam = 0
    var lastWasCR = false
    /// How many columns the last redraw showed after the prompt (to blank what is left over).
    var shown = 0

    public init() {}

    public mutating func setPrompt(_ p: UnsafeBufferPointer<UInt8>) {
        promptCount = p.count < Self.promptMax ? p.count : Self.promptMax
        for i in 0..<promptCount { prompt[i] = p[i] }
    }

    public mutating func setPrompt(_ s: StaticString) {
        let p = s.utf8Start
        promptCount = s.utf8CodeUnitCount < Self.promptMax ? s.utf8CodeUnitCount : Self.promptMax
        for i in 0..<promptCount { prompt[i] = p[i] }
    }

    /// Starts a new, empty line and prints the prompt.
    public mutating func begin<S: ConsoleByteSink>(_ out: inout S) {
        line.count = 0
        cursor = 0
        historyBack = 0
        overflowed = false
        garbageSeen = false
        shown = 0
        for i in 0..<promptCount { out.put(prompt[i]) }
    }

    /// Feeds one byte from the terminal. Returns an event when the caller must act.
    public mutating func feed<S: ConsoleByteSink>(_ b: UInt8, _ out: inout S) -> LineEditorEvent? {
        let afterCR = lastWasCR
        lastWasCR = b == 0x0D
        if escape != 0 { return escaped(b, &out) }
        switch b {
        case 0x0D, 0x0A:
            if b == 0x0A && afterCR { return nil }  // CR LF from a terminal that sends both
            out.put(0x0D); out.put(0x0A)
            escape = 0
            if overflowed {
                linesTooLong += 1
                line.count = 0
                return .lineTooLong
            }
            if !secret { remember() }
            return .line
        case 0x1B: escape = 1; return nil
        case 0x03:
            line.count = 0
            cursor = 0
            out.put("^C\r\n")
            return .interrupt
        case 0x04:
            if line.count == 0 { return .endOfInput }
            deleteAtCursor(&out)
        case 0x01: moveCursor(to: 0, &out)
        case 0x05: moveCursor(to: line.count, &out)
        case 0x02: if cursor > 0 { moveCursor(to: cursor - 1, &out) }
        case 0x06: if cursor < line.count { moveCursor(to: cursor + 1, &out) }
        case 0x08, 0x7F: backspace(&out)
        case 0x0B:  // Ctrl-K: delete to the end of the line
            line.count = cursor
            redraw(&out)
        case 0x15:  // Ctrl-U: delete to the start of the line
            removeRange(0, cursor)
            cursor = 0
            redraw(&out)
        case 0x17:  // Ctrl-W: delete the word before the cursor
            var start = cursor
            while start > 0 && line.bytes[start - 1] == 0x20 { start -= 1 }
            while start > 0 && line.bytes[start - 1] != 0x20 { start -= 1 }
            removeRange(start, cursor)
            cursor = start
            redraw(&out)
        case 0x0C: redraw(&out)  // Ctrl-L
        case 0x10: historyUp(&out)  // Ctrl-P
        case 0x0E: historyDown(&out)  // Ctrl-N
        case 0x09: return .complete
        case 0x00:
            breaks += 1
            return .serialBreak
        case 0x20...0x7E: insertByte(b, &out)
        default:
            garbageBytes += 1
            if !garbageSeen {
                garbageSeen = true
                return .garbage
            }
        }
        return nil
    }

    mutating func escaped<S: ConsoleByteSink>(_ b: UInt8, _ out: inout S) -> LineEditorEvent? {
        switch escape {
        case 1:
            if b == UInt8(ascii: "[") { escape = 2; csiParam = 0; return nil }
            if b == UInt8(ascii: "O") { escape = 3; return nil }
            escape = 0
            return nil
        case 2:
            if b >= 0x30 && b <= 0x3F {  // parameter bytes
                if b >= 0x30 && b <= 0x39 && csiParam < 1000 { csiParam = csiParam * 10 + int(b - 0x30) }
                return nil
            }
            if b >= 0x20 && b <= 0x2F { return nil }  // intermediate bytes
            escape = 0
            if b < 0x40 || b > 0x7E { return nil }  // not a final byte: the sequence was broken
            switch b {
            case UInt8(ascii: "A"): historyUp(&out)
            case UInt8(ascii: "B"): historyDown(&out)
            case UInt8(ascii: "C"): if cursor < line.count { moveCursor(to: cursor + 1, &out) }
            case UInt8(ascii: "D"): if cursor > 0 { moveCursor(to: cursor - 1, &out) }
            case UInt8(ascii: "H"): moveCursor(to: 0, &out)
            case UInt8(ascii: "F"): moveCursor(to: line.count, &out)
            case UInt8(ascii: "~"):
                switch csiParam {
                case 1, 7: moveCursor(to: 0, &out)
                case 4, 8: moveCursor(to: line.count, &out)
                case 3: deleteAtCursor(&out)
                default: break
                }
            default: break
            }
            return nil
        default:
            escape = 0
            if b == UInt8(ascii: "H") { moveCursor(to: 0, &out) }
            if b == UInt8(ascii: "F") { moveCursor(to: line.count, &out) }
            return nil
        }
    }

    /// Inserts text at the cursor (tab completion); false if it does not fit.
    @discardableResult
    public mutating func insert<S: ConsoleByteSink>(_ p: UnsafeBufferPointer<UInt8>, _ out: inout S) -> Bool {
        guard line.count + p.count <= Self.lineMax else { return false }
        for b in p { insertByte(b, &out) }
        return true
    }

    /// Prints the prompt and the line again (after the caller printed something, e.g. completions).
    public mutating func reprint<S: ConsoleByteSink>(_ out: inout S) {
        for i in 0..<promptCount { out.put(prompt[i]) }
        shown = 0
        redraw(&out)
    }

    mutating func insertByte<S: ConsoleByteSink>(_ b: UInt8, _ out: inout S) {
        guard line.count < Self.lineMax else {
            if !overflowed { out.put(0x07) }  // bell, once
            overflowed = true
            return
        }
        if cursor == line.count {
            line.bytes[cursor] = b
            line.count += 1
            cursor += 1
            if !secret { out.put(b); shown = line.count }
            return
        }
        var i = line.count
        while i > cursor { line.bytes[i] = line.bytes[i - 1]; i -= 1 }
        line.bytes[cursor] = b
        line.count += 1
        cursor += 1
        redraw(&out)
    }

    mutating func backspace<S: ConsoleByteSink>(_ out: inout S) {
        guard cursor > 0 else { return }
        if cursor == line.count {
            line.count -= 1
            cursor -= 1
            if !secret { out.put(0x08); out.put(0x20); out.put(0x08); shown = line.count }
            return
        }
        removeRange(cursor - 1, cursor)
        cursor -= 1
        redraw(&out)
    }

    mutating func deleteAtCursor<S: ConsoleByteSink>(_ out: inout S) {
        guard cursor < line.count else { return }
        removeRange(cursor, cursor + 1)
        redraw(&out)
    }

    mutating func removeRange(_ from: Int, _ to: Int) {
        guard to > from else { return }
        let n = to - from
        var i = from
        while i + n < line.count { line.bytes[i] = line.bytes[i + n]; i += 1 }
        line.count -= n
    }

    mutating func moveCursor<S: ConsoleByteSink>(to c: Int, _ out: inout S) {
        if secret { cursor = c; return }
        if c < cursor {
            for _ in c..<cursor { out.put(0x08) }
        } else {
            for i in cursor..<c { out.put(line.bytes[i]) }  // writing the text moves right on any terminal
        }
        cursor = c
    }

    /// Carriage return, prompt, line, blanks over what was longer, backspaces to the cursor.
    mutating func redraw<S: ConsoleByteSink>(_ out: inout S) {
        if secret { return }
        out.put(0x0D)
        for i in 0..<promptCount { out.put(prompt[i]) }
        for i in 0..<line.count { out.put(line.bytes[i]) }
        var tail = 0
        if shown > line.count {
            tail = shown - line.count
            for _ in 0..<tail { out.put(0x20) }
        }
        for _ in 0..<(tail + line.count - cursor) { out.put(0x08) }
        shown = line.count
    }

    mutating func remember() {
        guard line.count > 0 else { return }
        if historyCount > 0 {
            let last = history[(historyNext + Self.historyMax - 1) % Self.historyMax]
            if same(last, line) { return }
        }
        history[historyNext] = line
        historyNext = (historyNext + 1) % Self.historyMax
        if historyCount < Self.historyMax { historyCount += 1 }
    }

    func same(_ a: ConsoleLine, _ b: ConsoleLine) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a.bytes[i] != b.bytes[i] { return false }
        return true
    }

    mutating func historyUp<S: ConsoleByteSink>(_ out: inout S) {
        guard !secret, historyBack < historyCount else { return }
        if historyBack == 0 { saved = line }
        historyBack += 1
        line = history[(historyNext + Self.historyMax - historyBack) % Self.historyMax]
        cursor = line.count
        overflowed = false
        redraw(&out)
    }

    mutating func historyDown<S: ConsoleByteSink>(_ out: inout S) {
        guard !secret, historyBack > 0 else { return }
        historyBack -= 1
        line = historyBack == 0 ? saved : history[(historyNext + Self.historyMax - historyBack) % Self.historyMax]
        cursor = line.count
        redraw(&out)
    }

    /// Entries in the history ring, oldest first (for a `history` listing and tests).
    public var historyLength: Int { historyCount }
    public func historyEntry(_ i: Int) -> ConsoleLine {
        history[(historyNext + Self.historyMax - historyCount + i) % Self.historyMax]
    }
}
