// Records as readable JSON lines (for `lane-agent journal` and analysts).

import LaneCore

public enum RecordJSON {
    /// The text itself (not JSON-quoted).
    public static func plain(_ t: ShortText) -> String {
        var bytes: [UInt8] = []
        for i in 0..<t.count { bytes.append(t[i]) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func text(_ t: ShortText) -> String {
        var bytes: [UInt8] = []
        for i in 0..<t.count { bytes.append(t[i]) }
        return jsonString(String(decoding: bytes, as: UTF8.self))
    }

    public static func line(_ h: FrameHeader, _ r: Record, settings: EngineSettings = EngineSettings()) -> String {
        var s = "{\"epoch\":\"\(epochHex(h.epoch))\",\"sequence\":\(h.sequence),\"monotonicUs\":\(h.monotonicUs),\"wallUs\":\(h.wallUs),\"kind\":\"\(r.kind.name)\""
        switch r {
        case let .samples(b):
            s += ",\"panels\":\(b.panels),\"firstTUs\":\(b.firstTUs),\"samples\":["
            for k in 0..<b.count {
                if k > 0 { s += "," }
                var g: [String] = [], l: [String] = [], n: [String] = []
                for p in 0..<b.panels {
                    g.append(String(b.value(sample: k, panel: p, channel: 0)))
                    l.append(String(b.value(sample: k, panel: p, channel: 1)))
                    n.append(String(b.value(sample: k, panel: p, channel: 2)))
                }
                s += "{\"intervalUs\":\(b.intervalUs(sample: k)),\"gamma\":[\(g.joined(separator: ","))],\"gammaLow\":[\(l.joined(separator: ","))],\"neutron\":[\(n.joined(separator: ","))]"
                if b.windowCount > 0 {
                    // Per panel its K windows, lowest energy first (the trace's gammaWindows).
                    let w = (0..<b.panels).map { p in "[" + (0..<b.windowCount).map { String(b.window(sample: k, panel: p, window: $0)) }.joined(separator: ",") + "]" }
                    s += ",\"gammaWindows\":[\(w.joined(separator: ","))]"
                }
                let f = b.flags(sample: k)
                if f != 0 {
                    s += ",\"absent\":\(f & 0xFF),\"forgotten\":\((f >> SampleBatch.forgetShift) & 0xFF),\"maintenance\":\(f & SampleBatch.maintenanceFlag != 0)"
                    if b.windowCount > 0 { s += ",\"windowsUsable\":\(f & SampleBatch.noWindowsFlag == 0)" }
                }
                s += "}"
            }
            s += "]"
        case let .occupancy(d):
            s += ",\"decision\":" + DecisionWriter.json(d, settings: settings)
        case let .alarm(a):
            s += ",\"occupancy\":\(a.occupancy),\"alarm\":\"\(a.kind == 0 ? "gamma" : "neutron")\",\"tUs\":\(a.tUs),\"sigma\":" + decimal2(Q8.hundredths(a.sigmaQ8))
        case let .background(b):
            var g: [String] = [], l: [String] = [], n: [String] = []
            for p in 0..<b.panels {
                g.append(decimal2(Q16.hundredths(b.gammaQ16[p])))
                l.append(decimal2(Q16.hundredths(b.gammaLowQ16[p])))
                n.append(decimal2(Q16.hundredths(b.neutronQ16[p])))
            }
            s += ",\"perSample\":{\"gamma\":[\(g.joined(separator: ","))],\"gammaLow\":[\(l.joined(separator: ","))],\"neutron\":[\(n.joined(separator: ","))]}"
        case let .fault(f):
            var names: [String] = []
            for bit in 0..<Faults.bitCount where f.bits & (1 << UInt32(bit)) != 0 { names.append("\"" + Faults.name(bit: bit).description + "\"") }
            s += ",\"faults\":[\(names.joined(separator: ","))],\"changed\":\(f.changed),\"panel\":\(f.panel)"
        case let .audit(a):
            s += ",\"user\":\(text(a.user)),\"action\":\(text(a.action)),\"old\":\(text(a.oldValue)),\"new\":\(text(a.newValue))"
        case let .heartbeat(hb):
            s += ",\"softwareVersion\":\(text(hb.softwareVersion)),\"profileHash\":\"\(String(hb.profileHash, radix: 16))\",\"uptimeS\":\(hb.uptimeS),\"ticks\":\(hb.ticks),\"missedTicks\":\(hb.missedTicks),\"maxLatenessUs\":\(hb.maxLatenessUs),\"latenessP50Us\":\(hb.latenessP50Us),\"latenessP999Us\":\(hb.latenessP999Us),\"workP999Us\":\(hb.workP999Us),\"detectionUnlocked\":\(hb.flags & HeartbeatRecord.flagUnlocked != 0),\"insecureUplink\":\(hb.flags & HeartbeatRecord.flagInsecureUplink != 0),\"settingsHash\":\"\(String(hb.settingsHash, radix: 16))\""
            s += ",\"norm\":{\"loadsLearned\":\(hb.normLearned),\"shareP90\":\(hb.normShareQ16 == 0 ? "null" : decimal2(Q16.hundredths(Int64(hb.normShareQ16)))),\"discrimination\":\(hb.normRule & 1 != 0),\"source\":\"\(["profile", "learned", "coldStart", "profile"][Int(hb.normRule >> 1 & 3)])\",\"lowShareMin\":\(decimal2(Q16.hundredths(Int64(hb.normLowShareMinQ16))))}"
        case let .ocr(o):
            s += ",\"amendment\":\(o.isAmendment),\"occupancy\":\(o.occupancy),\"occupancyStartUs\":\(o.occupancyStartUs)"
            s += ",\"readAtUs\":\(o.readAtUs),\"readWallUs\":\(o.readWallUs)," + OCRJSON.fields(o.reads)
        case let .beams(b):
            s += ",\"edges\":[" + (0..<b.count).map { let e = b[$0]; return "{\"tUs\":\(e.tUs),\"beam\":\(e.beam),\"blocked\":\(e.blocked)}" }.joined(separator: ",") + "]"
        case let .windows(wr):
            // Per panel its K + 1 boundaries in keV (null: not read yet), as the trace's energyWindowsKev.
            let panels = (0..<wr.panels).map { p in wr.known(panel: p) ? "[" + (0...wr.windows).map { String(wr.boundaryKev(panel: p, $0)) }.joined(separator: ",") + "]" : "null" }
            s += ",\"panels\":\(wr.panels),\"windows\":\(wr.windows),\"energyWindowsKev\":[\(panels.joined(separator: ","))]"
        case let .start(st):
            s += ",\"panels\":\(st.panels),\"sampleIntervalUs\":\(st.sampleIntervalUs),\"beamSpacingMm\":\(st.beamSpacingMm),\"pillarB\":\(st.pillarBMask)"
            s += ",\"settingsHash\":\"\(String(st.settingsHash, radix: 16))\",\"backgroundRestored\":\(st.background != nil)"
            if let bg = st.background { s += ",\"samplesLearned\":\(bg.samplesLearned)" }
            if st.windows > 0 { s += ",\"windows\":\(st.windows)" }
        case let .gap(g):
            let causes = ["", "storageFailed", "evicted", "notInJournal", "queueFull"]
            let ranges = (0..<g.rangeCount).map { let r = g.range($0); return "[\(r.first),\(r.last)]" }.joined(separator: ",")
            s += ",\"cause\":\"\(causes[Int(g.cause.rawValue)])\",\"records\":\(g.records),\"sequences\":[\(ranges)]"
        }
        return s + "}"
    }
}

