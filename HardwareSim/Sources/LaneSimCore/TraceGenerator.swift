// Plays a scenario on simulated time (no waits) and writes its lane trace: beam edges, one
// counts line per sample interval, container numbers as the gate OCR would read them.

import Foundation
import LaneCore
import LaneTrace

public enum TraceGenerator {
    /// Writes the trace to `emit` line by line; returns the ground truth.
    /// - Parameter originUs: the trace's time of the scenario's start.
    @discardableResult
    public static func generate(_ world: LaneWorld, sampleIntervalMs: Int64 = 100, originUs: Int64 = 0,
                                emit: (String) -> Void) -> [VehicleTruth] {
        let h = world.traceHeader(sampleIntervalMs: sampleIntervalMs)
        emit(TraceWriter.header(TraceHeader(sampleIntervalMs: h.sampleIntervalMs, panels: h.panels,
                                            beamSpacingMm: h.beamSpacingMm, panelLabels: h.panelLabels)))
        // The OCR reads the container number half a second after the front passes beam 0.
        var ocr: [(t: Double, c: ContainerNumber)] = world.truths.compactMap { tr in
            guard let text = tr.container, let c = ContainerNumber(ascii: Array(text.utf8)) else { return nil }
            return (tr.entryS + 0.5, c)
        }
        ocr.sort { $0.t < $1.t }
        var edgeIndex = 0
        var ocrIndex = 0
        let n = world.panelCount
        var lastG = world.gammaTotal, lastL = world.gammaLow, lastN = world.neutron
        let stepS = Double(sampleIntervalMs) / 1000
        var k: Int64 = 1
        func us(_ t: Double) -> Int64 { originUs + Int64((t * 1e6).rounded()) }
        while true {
            let t = Double(k) * stepS
            if t > world.durationS + 1e-9 { break }
            while edgeIndex < world.edges.count, world.edges[edgeIndex].t <= t {
                let e = world.edges[edgeIndex]
                if e.t >= 0 { emit(TraceWriter.beam(BeamEdge(tUs: us(e.t), beam: e.beam, blocked: e.blocked))) }
                edgeIndex += 1
            }
            while ocrIndex < ocr.count, ocr[ocrIndex].t <= t {
                if ocr[ocrIndex].t >= 0 { emit(TraceWriter.container(tUs: us(ocr[ocrIndex].t), ocr[ocrIndex].c)) }
                ocrIndex += 1
            }
            world.advance(to: t)
            var g = PanelValues(repeating: 0), l = PanelValues(repeating: 0), nn = PanelValues(repeating: 0)
            for p in 0..<n {
                g[p] = world.gammaTotal[p] &- lastG[p]
                l[p] = world.gammaLow[p] &- lastL[p]
                nn[p] = world.neutron[p] &- lastN[p]
            }
            lastG = world.gammaTotal; lastL = world.gammaLow; lastN = world.neutron
            emit(TraceWriter.counts(tUs: originUs + k * sampleIntervalMs * 1000, panels: n, gamma: g, gammaLow: l, neutron: nn))
            k += 1
        }
        return world.truths
    }
}
