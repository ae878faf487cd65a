// Plays a scenario on simulated time (no waits): beam edges, one sample of counts per sample
// interval, container numbers as the gate OCR would read them. The trace writer and the
// evaluation both consume these events.

import Foundation
import LaneCore
import LaneTrace

public enum LaneEvent: Sendable {
    case beam(BeamEdge)
    case sample(LaneSample)
    case container(tUs: Int64, ContainerNumber)
}

public enum TraceGenerator {
    /// Plays the world from its current time to its end, in time order.
    /// - Parameter originUs: the events' time of the scenario's start.
    public static func play(_ world: LaneWorld, sampleIntervalMs: Int64 = 100, originUs: Int64 = 0,
                            emit: (LaneEvent) -> Void) {
        // The OCR reads the container number half a second after the front passes beam 0.
        var ocr: [(t: Double, c: ContainerNumber)] = world.truths.flatMap { tr in
            tr.containers.compactMap { text in ContainerNumber(ascii: Array(text.utf8)).map { (tr.entryS + 0.5, $0) } }
        }
        ocr.sort { $0.t < $1.t }
        var edgeIndex = 0
        var ocrIndex = 0
        let n = world.panelCount
        var lastG = world.gammaTotal, lastL = world.gammaLow, lastN = world.neutron
        var lastW = world.windowCounts
        // Multi-window panels: every sample carries each panel's K windows (one K for the lane).
        let windowCount = world.windowCounts.first?.count ?? 0
        precondition(world.windowCounts.allSatisfy { $0.count == windowCount } && windowCount <= windowCountMax,
                     "the panels of a lane have the same energy windows (at most \(windowCountMax))")
        let stepS = Double(sampleIntervalMs) / 1000
        let intervalUs = sampleIntervalMs * 1000
        var k: Int64 = 1
        func us(_ t: Double) -> Int64 { originUs + Int64((t * 1e6).rounded()) }
        while true {
            let t = Double(k) * stepS
            if t > world.durationS + 1e-9 { break }
            while edgeIndex < world.edges.count, world.edges[edgeIndex].t <= t {
                let e = world.edges[edgeIndex]
                if e.t >= 0 { emit(.beam(BeamEdge(tUs: us(e.t), beam: e.beam, blocked: e.blocked))) }
                edgeIndex += 1
            }
            while ocrIndex < ocr.count, ocr[ocrIndex].t <= t {
                if ocr[ocrIndex].t >= 0 { emit(.container(tUs: us(ocr[ocrIndex].t), ocr[ocrIndex].c)) }
                ocrIndex += 1
            }
            world.advance(to: t)
            var s = LaneSample(tUs: originUs + k * intervalUs, intervalUs: intervalUs)
            for p in 0..<n {
                s.gamma[p] = world.gammaTotal[p] &- lastG[p]
                s.gammaLow[p] = world.gammaLow[p] &- lastL[p]
                s.neutron[p] = world.neutron[p] &- lastN[p]
            }
            lastG = world.gammaTotal; lastL = world.gammaLow; lastN = world.neutron
            if windowCount > 0 {
                s.windowCount = windowCount
                for p in 0..<n { for j in 0..<windowCount { s.windows[p * windowCountMax + j] = world.windowCounts[p][j] &- lastW[p][j] } }
                lastW = world.windowCounts
            }
            emit(.sample(s))
            k += 1
        }
    }

    /// Writes the world's lane trace line by line; returns the ground truth.
    @discardableResult
    public static func generate(_ world: LaneWorld, sampleIntervalMs: Int64 = 100, originUs: Int64 = 0,
                                emit: (String) -> Void) -> [VehicleTruth] {
        let h = world.traceHeader(sampleIntervalMs: sampleIntervalMs)
        var header = TraceHeader(sampleIntervalMs: h.sampleIntervalMs, panels: h.panels, beamSpacingMm: h.beamSpacingMm, panelLabels: h.panelLabels)
        let n = world.panelCount
        // A multi-window trace: one set of boundaries for the lane (the contract's header has one).
        if let b = world.energyWindowsKev.first, !b.isEmpty {
            precondition(world.energyWindowsKev.allSatisfy { $0 == b } && (0..<n).allSatisfy { world.lowWindowCount(panel: $0) == world.lowWindowCount(panel: 0) },
                         "a trace has one set of energy windows: every panel must have the same")
            header.energyWindowsKev = b
            header.gammaLowWindows = world.lowWindowCount(panel: 0)
        }
        emit(TraceWriter.header(header))
        play(world, sampleIntervalMs: sampleIntervalMs, originUs: originUs) { e in
            switch e {
            case let .beam(b): emit(TraceWriter.beam(b))
            case let .container(t, c): emit(TraceWriter.container(tUs: t, c))
            case let .sample(s):
                var windows: [UInt32] = []
                for p in 0..<n { for j in 0..<s.windowCount { windows.append(s.windows[p * windowCountMax + j]) } }
                emit(TraceWriter.counts(tUs: s.tUs, panels: n, gamma: s.gamma, gammaLow: s.gammaLow, neutron: s.neutron, windows: windows))
            }
        }
        return world.truths
    }
}
