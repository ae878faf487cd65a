// `lane-agent replay`: a lane trace through the same engine as `run`, on simulated time.

import Foundation
import LaneCore
import LaneHAL
import LaneTrace

public enum Replay {
    /// Engine settings for a trace: the board's (or the shipped defaults') detection settings,
    /// the trace's own geometry, panel count and sample interval.
    public static func settings(for h: TraceHeader, board: BoardProfile?) -> EngineSettings {
        var e = board?.engine ?? EngineSettings()
        e.sampleIntervalUs = h.sampleIntervalMs * 1000
        e.beamSpacingMm = h.beamSpacingMm
        if e.panelCount != h.panels || board == nil {
            e.panelCount = h.panels
            if board == nil || board!.engine.panelCount != h.panels { e.splitPillars(panels: h.panels) }
        }
        // The trace's panels count into K energy windows: the spectral test has them (a fact of
        // the panels, as the panel count is; the trace's K wins over a profile's).
        e.spectralWindowCount = h.windowCount >= 3 ? h.windowCount : 0
        return e
    }

    /// Reads the trace from `fd` (in large chunks), writes decision lines through `output`.
    /// Throws the first malformed line's error; decisions before it have been written.
    public static func run(fd: Int32, board: BoardProfile?, output: (String) -> Void) throws {
        var reader = TraceReader()
        var engine: LaneEngine? = nil
        var settings = EngineSettings()
        var lastCountsUs: Int64 = -1
        var lastUs: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var filled = 0
        var eof = false
        var pending: [Decision] = []
        // Container lines attach by the trace contract's rule (the occupancy in progress, else
        // the next), through the same matcher as the live lane's OCR input.
        var ocr = OCRMatcher(settings: .traceContract)
        var started: UInt32 = 0
        func noteStart() {
            guard let e = engine, e.isOccupied, e.occupancyCount != started, let t = e.currentOccupancyStartUs else { return }
            started = e.occupancyCount
            ocr.started(occupancy: started, startUs: t)
        }
        func decided(_ d: Decision) -> Decision {
            var d = d
            d.ocr = ocr.decided(occupancy: d.occupancy, endUs: d.endUs)
            return d
        }

        func handle(_ line: UnsafeBufferPointer<UInt8>) throws {
            guard let ev = try reader.read(line: line) else {
                if engine == nil, let h = reader.header {
                    settings = Self.settings(for: h, board: board)
                    if let p = settings.firstProblem() { throw TraceError(line: reader.lineNumber, message: "engine settings: \(p)") }
                    engine = LaneEngine(settings: settings)
                }
                return
            }
            switch ev {
            case let .beam(e):
                lastUs = e.tUs
                if let d = engine!.beamEdge(e) { pending.append(decided(d)) }
                noteStart()
            case let .counts(tUs, gamma, gammaLow, neutron):
                var s = LaneSample(tUs: tUs, intervalUs: lastCountsUs < 0 ? settings.sampleIntervalUs : tUs - lastCountsUs)
                if s.intervalUs <= 0 { s.intervalUs = settings.sampleIntervalUs }
                s.gamma = gamma
                s.gammaLow = gammaLow
                s.neutron = neutron
                if let k = reader.header?.windowCount, k >= 3 {
                    s.windowCount = k
                    for p in 0..<reader.header!.panels { for w in 0..<k { s.windows[p * windowCountMax + w] = reader.windows[p * k + w] } }
                }
                lastCountsUs = tUs
                lastUs = tUs
                if let d = engine!.sample(s) { pending.append(decided(d)) }
            case let .container(tUs, c):
                lastUs = tUs
                var r = OCRRead()
                _ = r.add(c, confidence: ContainerRead.unknownConfidence)
                r.atUs = tUs
                r.arrivalUs = tUs
                _ = ocr.read(r)
            case let .ignored(tUs):
                lastUs = tUs
            }
            for d in pending { output(DecisionWriter.json(d, settings: settings)) }
            pending.removeAll(keepingCapacity: true)
        }

        while !eof || filled > 0 {
            if !eof && filled < buffer.count {
                let r = buffer.withUnsafeMutableBytes { p in
                    Result { () throws(SysError) in try Sys.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: p[filled...]), "the trace") }
                }
                switch r {
                case let .failure(e): throw TraceError(line: reader.lineNumber, message: "cannot read the trace: \(e.reason)")
                case .success(0): eof = true
                case let .success(n): filled += n
                }
            }
            var start = 0
            try buffer.withUnsafeBufferPointer { p in
                var i = 0
                while i < filled {
                    if p[i] == 0x0A {
                        try handle(UnsafeBufferPointer(rebasing: p[start..<i]))
                        start = i + 1
                    }
                    i += 1
                }
                if eof && start < filled {
                    try handle(UnsafeBufferPointer(rebasing: p[start..<filled]))
                    start = filled
                }
            }
            if start == 0 && filled == buffer.count {
                throw TraceError(line: reader.lineNumber + 1, message: "line longer than \(buffer.count) bytes")
            }
            if start > 0 {
                let rest = filled - start
                buffer.withUnsafeMutableBytes { p in
                    if rest > 0 { memmove(p.baseAddress!, p.baseAddress! + start, rest) }
                }
                filled = rest
            }
        }
        guard reader.header != nil else { throw TraceError(line: reader.lineNumber, message: "the trace is empty (no header line)") }
        if let d = engine?.finish(atUs: lastUs) { output(DecisionWriter.json(decided(d), settings: settings)) }
    }
}

extension EngineSettings {
    /// `n` panels, the first half (rounded up) on pillar A, the rest on pillar B: what a replay
    /// or a study assumes when nothing says where the panels stand.
    public mutating func splitPillars(panels n: Int) {
        panelCount = n
        for i in 0..<n { pillarOfPanel[i] = i < (n + 1) / 2 ? 0 : 1 }
    }
}
