// An occupancy's count profile as SVG, for the operator adjudicating an alarm: counts per panel
// per sample with each panel's background, and the sliding sum of all panels over the decision's
// window against its expected background and threshold.

import Foundation
import LaneCore
import LaneTrace

public enum ProfilePlot {
    public static func svg(lane: String, decision d: Decision, samples: [LaneSample], panels: Int, sampleIntervalUs: Int64 = 100_000) -> String {
        let w = 820.0, h = 260.0, left = 60.0, top = 40.0
        let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w + left + 90))\" height=\"\(Int(2 * h + top + 120))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        var title = "\(lane) occupancy \(d.occupancy)"
        if let v = d.speedMmPerS { title += String(format: ", %.2f m/s", Double(v) / 1000) }
        if d.gammaAlarm { title += ", GAMMA ALARM" + (d.gammaTests.isEmpty ? "" : " (" + gammaTestNames(d.gammaTests).joined(separator: ", ") + ")") }
        if d.neutronAlarm { title += ", NEUTRON ALARM" }
        if d.normSuspect { title += ", NORM suspected" }
        if let c = d.container { title += ", container \(c.text)" }
        s += "<text x=\"10\" y=\"20\" font-size=\"14\">\(title)</text>\n"
        guard !samples.isEmpty else { return s + "<text x=\"10\" y=\"60\">no samples stored for this occupancy</text></svg>\n" }
        let t0 = samples.first!.tUs - samples.first!.intervalUs, t1 = samples.last!.tUs
        func x(_ t: Int64) -> Double { left + Double(t - t0) / Double(max(1, t1 - t0)) * w }

        // Top: counts per panel per sample, and the per-panel background (the lane's, shared out).
        let bgPerPanel = Double(d.gammaBackgroundQ16) / 65_536 / Double(max(1, panels))
        var maxCount = bgPerPanel * 1.5
        for smp in samples { for p in 0..<panels { maxCount = max(maxCount, Double(smp.gamma[p])) } }
        func y1(_ v: Double) -> Double { top + h - v / maxCount * h }
        s += axes(left, top, w, h, maxCount, "counts per sample, per panel")
        for p in 0..<panels {
            let pts = samples.map { "\(x($0.tUs)),\(y1(Double($0.gamma[p])))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(colors[p % colors.count])\" stroke-width=\"1.5\" points=\"\(pts)\"/>\n"
            s += "<text x=\"\(left + w + 5)\" y=\"\(top + 12 + Double(p) * 14)\" fill=\"\(colors[p % colors.count])\">panel \(p + 1)</text>\n"
        }
        s += "<line x1=\"\(left)\" x2=\"\(left + w)\" y1=\"\(y1(bgPerPanel))\" y2=\"\(y1(bgPerPanel))\" stroke=\"#555\" stroke-dasharray=\"5,4\"/>\n"
        s += "<text x=\"\(left + 4)\" y=\"\(y1(bgPerPanel) - 4)\" fill=\"#555\">background</text>\n"

        // Bottom: the sliding sum over the decision's window, all panels, against B and B + n sqrt(B).
        let win = max(1, d.gammaWindowSamples)
        let bWin = Double(d.gammaBackgroundQ16) / 65_536 * Double(win)
        let maxB = Double(d.gammaMaxBackgroundQ16) / 65_536, maxT = Double(d.gammaMaxThresholdQ16) / 65_536
        let n = maxB > 0 ? (maxT - maxB) / maxB.squareRoot() : 7
        let threshold = bWin + n * bWin.squareRoot()
        var sums: [(Int64, Double)] = []
        for i in samples.indices where i + 1 >= win {
            var c = 0.0
            for j in (i + 1 - win)...i { for p in 0..<panels { c += Double(samples[j].gamma[p]) } }
            sums.append((samples[i].tUs, c))
        }
        let maxSum = max(threshold * 1.2, sums.map(\.1).max() ?? 0)
        let top2 = top + h + 60
        func y2(_ v: Double) -> Double { top2 + h - v / maxSum * h }
        s += axes(left, top2, w, h, maxSum, "sum of all panels over \(Double(win) * Double(sampleIntervalUs) / 1e6) s")
        if !sums.isEmpty {
            s += "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"\(sums.map { "\(x($0.0)),\(y2($0.1))" }.joined(separator: " "))\"/>\n"
        }
        for (v, label, dash) in [(bWin, "expected background", "5,4"), (threshold, String(format: "threshold (%.1f sigma)", n), "2,2")] {
            s += "<line x1=\"\(left)\" x2=\"\(left + w)\" y1=\"\(y2(v))\" y2=\"\(y2(v))\" stroke=\"#555\" stroke-dasharray=\"\(dash)\"/>\n"
            s += "<text x=\"\(left + 4)\" y=\"\(y2(v) - 4)\" fill=\"#555\">\(label)</text>\n"
        }
        s += "<text x=\"\(left)\" y=\"\(top2 + h + 28)\">time from the first beam break: 0 to \(String(format: "%.1f", Double(t1 - t0) / 1e6)) s</text>\n"
        return s + "</svg>\n"
    }

    static func axes(_ x: Double, _ y: Double, _ w: Double, _ h: Double, _ max: Double, _ label: String) -> String {
        var s = "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(w)\" height=\"\(h)\" fill=\"none\" stroke=\"#999\"/>\n"
        s += "<text x=\"\(x)\" y=\"\(y - 6)\">\(label)</text>\n"
        for f in [0.0, 0.5, 1.0] {
            s += "<text x=\"\(x - 4)\" y=\"\(y + h - f * h + 4)\" text-anchor=\"end\">\(Int(max * f))</text>\n"
        }
        return s
    }
}
