// Lane traces (shared/contracts/lane-trace.md): the header, the events, and a reader that
// checks every line and says what is wrong and where.

import LaneCore

public struct TraceHeader: Sendable, Equatable {
    public var sampleIntervalMs: Int64
    public var panels: Int
    /// Beam spacing in millimetres (the trace gives metres; rounded to the nearest mm).
    public var beamSpacingMm: Int64
    public var panelLabels: [String]
    /// Multi-window panels (lane-trace.md, "Multi-window panels"): the K + 1 window boundaries in
    /// keV, strictly increasing (empty: a two-window trace), and how many of the first windows
    /// make up `gammaLow`.
    public var energyWindowsKev: [Double] = []
    public var gammaLowWindows: Int = 0
    /// K, the energy windows per panel (0: the trace has no `gammaWindows`).
    public var windowCount: Int { energyWindowsKev.isEmpty ? 0 : energyWindowsKev.count - 1 }
    public static let windowCountMax = 16

    public init(sampleIntervalMs: Int64 = 100, panels: Int = 4, beamSpacingMm: Int64 = 1500, panelLabels: [String] = []) {
        self.sampleIntervalMs = sampleIntervalMs
        self.panels = panels
        self.beamSpacingMm = beamSpacingMm
        self.panelLabels = panelLabels
    }
}

public enum TraceEvent: Sendable {
    case beam(BeamEdge)
    /// Counts since the previous counts line, per panel.
    case counts(tUs: Int64, gamma: PanelValues, gammaLow: PanelValues, neutron: PanelValues)
    case container(tUs: Int64, ContainerNumber)
    /// A line with `tUs` and only keys this version does not know (a later, compatible event kind).
    case ignored(tUs: Int64)
}

public struct TraceError: Error, Sendable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "line \(line): \(message)" }
    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }
}

/// Reads a trace line by line. The first line must be the header.
public struct TraceReader {
    public private(set) var header: TraceHeader? = nil
    public private(set) var lineNumber = 0
    var lastTUs: Int64 = -1
    /// A multi-window trace: the last counts line's `gammaWindows`, panel after panel (K values
    /// each; `header.windowCount`). Empty for a two-window trace.
    public private(set) var windows: [UInt32] = []

    public init() {}

    /// Parses the next line. Returns nil for the header and for blank lines.
    public mutating func read(line: UnsafeBufferPointer<UInt8>) throws(TraceError) -> TraceEvent? {
        lineNumber += 1
        var blank = true
        for b in line where !(b == 0x20 || b == 0x09 || b == 0x0D) { blank = false; break }
        if blank { return nil }
        do {
            var s = JSONScanner(line)
            if header == nil {
                header = try parseHeader(&s)
                return nil
            }
            return try parseEvent(&s, header!)
        } catch let JSONScanner.Failure.syntax(m) {
            throw TraceError(line: lineNumber, message: m)
        } catch let e as TraceError {
            throw e
        } catch {
            throw TraceError(line: lineNumber, message: "\(error)")
        }
    }

    public mutating func read(line: String) throws(TraceError) -> TraceEvent? {
        var copy = line
        var result: Result<TraceEvent?, TraceError> = .success(nil)
        copy.withUTF8 { buf in
            do throws(TraceError) { result = .success(try self.read(line: buf)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    func fail(_ m: String) -> TraceError { TraceError(line: lineNumber, message: m) }

    mutating func parseHeader(_ s: inout JSONScanner) throws -> TraceHeader {
        var format: String? = nil
        var version: Int64? = nil
        var h = TraceHeader(sampleIntervalMs: -1, panels: -1, beamSpacingMm: -1)
        var spacingM: Double? = nil
        var lowWindows: Int64? = nil
        var boundaries: [Double]? = nil
        try s.object { (s, key) throws(JSONScanner.Failure) in
            if s.equals(key, "format") {
                format = try s.string()
            } else if s.equals(key, "version") {
                version = try s.integer()
            } else if s.equals(key, "sampleIntervalMs") {
                h.sampleIntervalMs = try s.integer()
            } else if s.equals(key, "panels") {
                let p = try s.integer()
                h.panels = p >= 0 && p <= 1_000 ? Int(p) : 1_000
            } else if s.equals(key, "beamSpacingM") {
                spacingM = try s.number()
            } else if s.equals(key, "energyWindowsKev") {
                var b: [Double] = []
                try s.expect(0x5B, "'[' for energyWindowsKev")
                if s.peek() == 0x5D { s.i += 1 } else {
                    while true {
                        b.append(try s.number())
                        guard b.count <= TraceHeader.windowCountMax + 1 else {
                            throw .syntax("energyWindowsKev has more than \(TraceHeader.windowCountMax + 1) boundaries (at most \(TraceHeader.windowCountMax) windows)")
                        }
                        guard let c = s.peek() else { throw .syntax("unterminated energyWindowsKev") }
                        s.i += 1
                        if c == 0x5D { break }
                        if c != 0x2C { s.i -= 1; throw .syntax("expected ',' or ']' in energyWindowsKev, found \(s.describeHere())") }
                    }
                }
                boundaries = b
            } else if s.equals(key, "gammaLowWindows") {
                lowWindows = try s.integer()
            } else if s.equals(key, "panelLabels") {
                try s.expect(0x5B, "'[' for panelLabels")
                if s.peek() == 0x5D { s.i += 1 } else {
                    while true {
                        h.panelLabels.append(try s.string())
                        guard let c = s.peek() else { throw .syntax("unterminated panelLabels") }
                        s.i += 1
                        if c == 0x5D { break }
                        if c != 0x2C { s.i -= 1; throw .syntax("expected ',' or ']' in panelLabels, found \(s.describeHere())") }
                    }
                }
            } else {
                try s.skipValue()
            }
        }
        guard let format else { throw fail("the first line must be the trace header with \"format\":\"lane-trace\"") }
        guard format == "lane-trace" else { throw fail("header: format is \"\(format)\", expected \"lane-trace\"") }
        guard let version else { throw fail("header: \"version\" is missing") }
        guard version == 1 else { throw fail("header: version \(version) is not supported (this agent reads version 1)") }
        guard h.sampleIntervalMs > 0 else { throw fail("header: \"sampleIntervalMs\" is missing or not a positive whole number") }
        guard h.sampleIntervalMs >= 10 && h.sampleIntervalMs <= 1_000 else {
            throw fail("header: sampleIntervalMs \(h.sampleIntervalMs) is outside 10...1000")
        }
        guard h.panels >= 1 && h.panels <= panelCountMax else {
            throw fail("header: \"panels\" must be a whole number from 1 to \(panelCountMax)")
        }
        guard let spacingM else { throw fail("header: \"beamSpacingM\" is missing") }
        guard spacingM >= 0.1 && spacingM <= 20 else { throw fail("header: beamSpacingM \(spacingM) is outside 0.1...20 m") }
        h.beamSpacingMm = Int64((spacingM * 1000).rounded())
        if !h.panelLabels.isEmpty && h.panelLabels.count != h.panels {
            throw fail("header: panelLabels has \(h.panelLabels.count) labels for \(h.panels) panels")
        }
        switch (boundaries, lowWindows) {
        case (nil, nil): break
        case (nil, _?): throw fail("header: gammaLowWindows without energyWindowsKev")
        case (_?, nil): throw fail("header: energyWindowsKev without gammaLowWindows")
        case let (b?, low?):
            let k = b.count - 1
            guard k >= 2 && k <= TraceHeader.windowCountMax else {
                throw fail("header: energyWindowsKev has \(b.count) boundaries; K + 1 for K = 2 to \(TraceHeader.windowCountMax) windows")
            }
            for i in 0..<b.count where b[i] < 0 || !b[i].isFinite { throw fail("header: energyWindowsKev[\(i)] = \(b[i]) is not an energy in keV") }
            for i in 1..<b.count where b[i] <= b[i - 1] {
                throw fail("header: energyWindowsKev must be strictly increasing: [\(i - 1)] = \(b[i - 1]), [\(i)] = \(b[i])")
            }
            guard low >= 1 && low < Int64(k) else { throw fail("header: gammaLowWindows \(low) must be 1 to \(k - 1) (K = \(k) windows)") }
            h.energyWindowsKev = b
            h.gammaLowWindows = Int(low)
            windows = Array(repeating: 0, count: h.panels * k)
        }
        return h
    }

    mutating func parseEvent(_ s: inout JSONScanner, _ h: TraceHeader) throws -> TraceEvent {
        var tUs: Int64? = nil
        var beam: Int64? = nil
        var blocked: Bool? = nil
        var gamma: PanelValues? = nil
        var gammaLow: PanelValues? = nil
        var neutron: PanelValues? = nil
        var container: ContainerNumber? = nil
        var containerText: String? = nil
        var sawWindows = false
        let panels = h.panels
        let k = h.windowCount
        // gammaWindows: [[K counts] per panel], into `windows` (no allocation per line).
        func windowCounts(_ s: inout JSONScanner) throws(JSONScanner.Failure) {
            guard k > 0 else { throw .syntax("gammaWindows on a counts line, but the header has no energyWindowsKev") }
            try s.expect(0x5B, "'[' for gammaWindows")
            var p = 0
            while true {
                guard p < panels else { throw .syntax("gammaWindows has more than \(panels) panels, the header says \(panels)") }
                try s.expect(0x5B, "'[' for gammaWindows[\(p)]")
                var n = 0
                while true {
                    let x = try s.integer()
                    guard x >= 0 && x <= Int64(UInt32.max) else { throw .syntax("gammaWindows[\(p)][\(n)] = \(x) is not a count (0...4294967295)") }
                    guard n < k else { throw .syntax("gammaWindows[\(p)] has more than \(k) values, the header gives \(k) windows") }
                    windows[p * k + n] = UInt32(x)
                    n += 1
                    guard let c = s.peek() else { throw .syntax("unterminated gammaWindows[\(p)]") }
                    s.i += 1
                    if c == 0x5D { break }
                    if c != 0x2C { s.i -= 1; throw .syntax("expected ',' or ']' in gammaWindows[\(p)], found \(s.describeHere())") }
                }
                guard n == k else { throw .syntax("gammaWindows[\(p)] has \(n) values, the header gives \(k) windows") }
                p += 1
                guard let c = s.peek() else { throw .syntax("unterminated gammaWindows") }
                s.i += 1
                if c == 0x5D { break }
                if c != 0x2C { s.i -= 1; throw .syntax("expected ',' or ']' in gammaWindows, found \(s.describeHere())") }
            }
            guard p == panels else { throw .syntax("gammaWindows has \(p) panels, the header says \(panels)") }
            sawWindows = true
        }
        func counts(_ s: inout JSONScanner, _ name: String) throws(JSONScanner.Failure) -> PanelValues {
            var v = PanelValues(repeating: 0)
            try s.expect(0x5B, "'[' for \(name)")
            var n = 0
            if s.peek() == 0x5D { s.i += 1 } else {
                while true {
                    let x = try s.integer()
                    guard x >= 0 && x <= Int64(UInt32.max) else { throw .syntax("\(name)[\(n)] = \(x) is not a count (0...4294967295)") }
                    if n < panels { v[n] = UInt32(x) }
                    n += 1
                    guard let c = s.peek() else { throw .syntax("unterminated \(name) array") }
                    s.i += 1
                    if c == 0x5D { break }
                    if c != 0x2C { s.i -= 1; throw .syntax("expected ',' or ']' in \(name), found \(s.describeHere())") }
                }
            }
            guard n == panels else { throw .syntax("\(name) has \(n) values, the header says \(panels) panels") }
            return v
        }
        try s.object { (s, key) throws(JSONScanner.Failure) in
            if s.equals(key, "tUs") {
                tUs = try s.integer()
            } else if s.equals(key, "beam") {
                beam = try s.integer()
            } else if s.equals(key, "blocked") {
                blocked = try s.bool()
            } else if s.equals(key, "gamma") {
                gamma = try counts(&s, "gamma")
            } else if s.equals(key, "gammaLow") {
                gammaLow = try counts(&s, "gammaLow")
            } else if s.equals(key, "neutron") {
                neutron = try counts(&s, "neutron")
            } else if s.equals(key, "gammaWindows") {
                try windowCounts(&s)
            } else if s.equals(key, "container") {
                if s.peek() == 0x6E, s.matchWord("null") { return }
                let text = try s.string()
                containerText = text
                container = ContainerNumber(ascii: Array(text.utf8))
            } else {
                try s.skipValue()
            }
        }
        guard let tUs else { throw fail("\"tUs\" is missing (every line after the header starts with it)") }
        guard tUs >= 0 else { throw fail("tUs \(tUs) is negative") }
        guard tUs <= EngineSettings.timeUsMax else { throw fail("tUs \(tUs) is beyond \(EngineSettings.timeUsMax) (2^62 us, the engine's input envelope)") }
        guard tUs >= lastTUs else { throw fail("tUs \(tUs) goes back in time (previous line had \(lastTUs))") }
        lastTUs = tUs
        let kinds = (beam != nil || blocked != nil ? 1 : 0) + (gamma != nil || gammaLow != nil || neutron != nil || sawWindows ? 1 : 0)
            + (containerText != nil ? 1 : 0)
        guard kinds <= 1 else { throw fail("a line must be one of beam, counts or container, not several") }
        if beam != nil || blocked != nil {
            guard let beam else { throw fail("beam line without \"beam\"") }
            guard beam == 0 || beam == 1 else { throw fail("beam \(beam) does not exist (0 = entry, 1 = exit)") }
            guard let blocked else { throw fail("beam line without \"blocked\" (true or false)") }
            return .beam(BeamEdge(tUs: tUs, beam: Int(beam), blocked: blocked))
        }
        if gamma != nil || gammaLow != nil || neutron != nil || sawWindows {
            guard let gamma else { throw fail("counts line without \"gamma\"") }
            guard let gammaLow else { throw fail("counts line without \"gammaLow\"") }
            guard let neutron else { throw fail("counts line without \"neutron\"") }
            for p in 0..<panels where gammaLow[p] > gamma[p] {
                throw fail("gammaLow[\(p)] = \(gammaLow[p]) exceeds gamma[\(p)] = \(gamma[p]) (the low window is a subset)")
            }
            if k > 0 {
                guard sawWindows else { throw fail("counts line without \"gammaWindows\" (the header gives \(k) energy windows)") }
                for p in 0..<panels {
                    var all: UInt64 = 0, low: UInt64 = 0
                    for w in 0..<k {
                        all += UInt64(windows[p * k + w])
                        if w < h.gammaLowWindows { low += UInt64(windows[p * k + w]) }
                    }
                    guard all == UInt64(gamma[p]) else {
                        throw fail("gammaWindows[\(p)] sums to \(all), gamma[\(p)] is \(gamma[p]) (the windows partition the gamma counts)")
                    }
                    guard low == UInt64(gammaLow[p]) else {
                        throw fail("the first \(h.gammaLowWindows) of gammaWindows[\(p)] sum to \(low), gammaLow[\(p)] is \(gammaLow[p])")
                    }
                }
            }
            return .counts(tUs: tUs, gamma: gamma, gammaLow: gammaLow, neutron: neutron)
        }
        if let containerText {
            guard let container else {
                throw fail("container \"\(containerText)\" is not 1 to 16 printable ASCII characters")
            }
            return .container(tUs: tUs, container)
        }
        return .ignored(tUs: tUs)
    }
}
