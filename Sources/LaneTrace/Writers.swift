// Writers for trace lines and decision lines. Numbers derived from fixed-point values are
// printed from integers (hundredths), so the text is the same on every CPU.

import LaneCore

/// Decimal text of `hundredths / 100` with two places, e.g. 221 -> "2.21", -5 -> "-0.05".
public func decimal2(_ hundredths: Int64) -> String {
    let neg = hundredths < 0
    let a = neg ? -hundredths : hundredths
    let frac = a % 100
    return (neg ? "-" : "") + String(a / 100) + "." + (frac < 10 ? "0" : "") + String(frac)
}

public func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 {
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out + "\""
}

extension ContainerNumber {
    public var text: String {
        var s = ""
        for i in 0..<count { s.unicodeScalars.append(Unicode.Scalar(bytes[i])) }
        return s
    }
}

public enum TraceWriter {
    public static func header(_ h: TraceHeader) -> String {
        var s = "{\"format\":\"lane-trace\",\"version\":1,\"sampleIntervalMs\":\(h.sampleIntervalMs),\"panels\":\(h.panels)"
        let mm = h.beamSpacingMm
        s += ",\"beamSpacingM\":" + String(mm / 1000) + "." + String(1000 + mm % 1000).dropFirst()
        if !h.panelLabels.isEmpty { s += ",\"panelLabels\":[" + h.panelLabels.map(jsonString).joined(separator: ",") + "]" }
        if h.windowCount > 0 {
            s += ",\"energyWindowsKev\":[" + h.energyWindowsKev.map(kev).joined(separator: ",") + "],\"gammaLowWindows\":\(h.gammaLowWindows)"
        }
        return s + "}"
    }

    /// An energy in keV: whole numbers without a decimal point, others with up to 3 decimals.
    static func kev(_ x: Double) -> String {
        if x == x.rounded() && abs(x) < 1e15 { return String(Int64(x)) }
        let milli = Int64((x * 1000).rounded())
        var frac = String(1000 + abs(milli) % 1000).dropFirst()
        while frac.hasSuffix("0") { frac = frac.dropLast() }
        return (milli < 0 ? "-" : "") + String(abs(milli) / 1000) + "." + frac
    }

    public static func beam(_ e: BeamEdge) -> String {
        "{\"tUs\":\(e.tUs),\"beam\":\(e.beam),\"blocked\":\(e.blocked)}"
    }

    /// A counts line; `windows` (panel after panel, `windows.count / panels` each) for a
    /// multi-window trace.
    public static func counts(tUs: Int64, panels: Int, gamma: PanelValues, gammaLow: PanelValues, neutron: PanelValues,
                              windows: [UInt32] = []) -> String {
        func list(_ v: PanelValues) -> String {
            var s = "["
            for p in 0..<panels { s += (p == 0 ? "" : ",") + String(v[p]) }
            return s + "]"
        }
        var s = "{\"tUs\":\(tUs),\"gamma\":\(list(gamma)),\"gammaLow\":\(list(gammaLow))"
        if !windows.isEmpty {
            let k = windows.count / panels
            s += ",\"gammaWindows\":["
            for p in 0..<panels {
                s += (p == 0 ? "[" : ",[") + windows[(p * k)..<((p + 1) * k)].map { String($0) }.joined(separator: ",") + "]"
            }
            s += "]"
        }
        return s + ",\"neutron\":\(list(neutron))}"
    }

    public static func container(tUs: Int64, _ c: ContainerNumber) -> String {
        "{\"tUs\":\(tUs),\"container\":\(jsonString(c.text))}"
    }
}

/// The OCR's reads as JSON (decisions, `ocr` records, the collector's amendments).
public enum OCRJSON {
    /// The names of a read's doubt flags.
    public static func reasons(_ flags: UInt8) -> [String] {
        var out: [String] = []
        if flags & ContainerRead.checkDigitFailed != 0 { out.append("checkDigit") }
        if flags & ContainerRead.seenOnOtherOccupancy != 0 { out.append("seenOnOtherOccupancy") }
        if flags & ContainerRead.lowConfidence != 0 { out.append("lowConfidence") }
        return out
    }

    /// `"containers":[{"number":…,"confidence":…,"ocrSuspect":…,"reasons":[…],"late":…}],"plate":…,"ocrSuspect":…`
    /// (`extraReads` only when numbers were read beyond two).
    public static func fields(_ a: OCRAttachment) -> String {
        var s = "\"containers\":["
        for i in 0..<a.count {
            let r = a[i]
            s += (i == 0 ? "" : ",") + "{\"number\":" + jsonString(r.number.text)
            s += ",\"confidence\":" + (r.confidence == ContainerRead.unknownConfidence ? "null" : String(r.confidence))
            s += ",\"ocrSuspect\":\(r.suspect),\"reasons\":[" + reasons(r.flags).map { "\"\($0)\"" }.joined(separator: ",") + "]"
            s += ",\"late\":\(r.flags & ContainerRead.late != 0)}"
        }
        s += "],\"plate\":" + (a.plate.map { jsonString($0.text) } ?? "null") + ",\"ocrSuspect\":\(a.suspect)"
        if a.extra > 0 { s += ",\"extraReads\":\(a.extra)" }
        return s
    }

    /// An `ocr` record as one JSON line: an amendment (`"amendment":true`, the occupancy and its
    /// start, every read it holds now) or an unmatched read (`"unmatched":true`, its numbers).
    public static func line(_ o: OCRRecord) -> String {
        var s = o.isAmendment ? "{\"amendment\":true,\"occupancy\":\(o.occupancy),\"startUs\":\(o.occupancyStartUs)" : "{\"unmatched\":true"
        s += ",\"readAtUs\":\(o.readAtUs),\"readWallUs\":\(o.readWallUs)"
        s += ",\"container\":" + (o.reads.count > 0 ? jsonString(o.reads[0].number.text) : "null")
        return s + "," + fields(o.reads) + "}"
    }

    /// One line for people: `MSCU1234565 (97 %), TGHU7654323 (62 %, check digit fails)` or `no read`.
    public static func summary(_ a: OCRAttachment) -> String {
        guard a.count > 0 else { return a.plate.map { "no container read, plate \($0.text)" } ?? "no container read" }
        var parts: [String] = []
        for i in 0..<a.count {
            let r = a[i]
            var notes: [String] = []
            if r.confidence != ContainerRead.unknownConfidence { notes.append("\(r.confidence) %") }
            if r.flags & ContainerRead.checkDigitFailed != 0 { notes.append("check digit fails") }
            if r.flags & ContainerRead.seenOnOtherOccupancy != 0 { notes.append("also read on another truck") }
            if r.flags & ContainerRead.lowConfidence != 0 { notes.append("low confidence") }
            parts.append(r.number.text + (notes.isEmpty ? "" : " (" + notes.joined(separator: ", ") + ")"))
        }
        var s = parts.joined(separator: ", ")
        if a.suspect { s += " OCR SUSPECT" }
        if let p = a.plate { s += ", plate \(p.text)" }
        return s
    }
}

/// The names of the tests that raised a gamma alarm (`GammaTests`), in bit order.
public func gammaTestNames(_ t: GammaTests) -> [String] {
    (0..<GammaTests.bitCount).filter { t.bits & (1 << UInt8($0)) != 0 }.map { GammaTests.name(bit: $0).description }
}

public enum DecisionWriter {
    static let groupNames = ["all", "pillarA", "pillarB"]

    /// One decision as a JSON line: the contract's fields first, then fields for people.
    public static func json(_ d: Decision, settings: EngineSettings) -> String {
        var s = "{\"occupancy\":\(d.occupancy),\"startUs\":\(d.startUs),\"endUs\":\(d.endUs)"
        if let v = d.speedMmPerS { s += ",\"speedMps\":" + decimal2(v > Int64.max - 5 ? v / 10 : (v + 5) / 10) } else { s += ",\"speedMps\":null" }
        s += ",\"gammaAlarm\":\(d.gammaAlarm),\"neutronAlarm\":\(d.neutronAlarm),\"normSuspect\":\(d.normSuspect)"
        s += ",\"container\":" + (d.container.map { jsonString($0.text) } ?? "null")
        s += "," + OCRJSON.fields(d.ocr)
        s += ",\"gammaTests\":[" + gammaTestNames(d.gammaTests).map { "\"" + $0 + "\"" }.joined(separator: ",") + "]"
        s += ",\"gammaMaxSigma\":" + decimal2(Q8.hundredths(d.gammaMaxSigmaQ8))
        s += ",\"gammaMaxGroup\":\"\(groupNames[d.gammaMaxGroup])\""
        s += ",\"gammaMaxCounts\":\(d.gammaMaxCounts)"
        s += ",\"gammaBackgroundInWindow\":" + decimal2(Q16.hundredths(d.gammaMaxBackgroundQ16))
        s += ",\"gammaThreshold\":" + decimal2(Q16.hundredths(d.gammaMaxThresholdQ16))
        s += ",\"gammaLowShare\":" + decimal2(Q16.hundredths(d.gammaMaxLowShareQ16))
        s += ",\"neutronMaxSigma\":" + decimal2(Q8.hundredths(d.neutronMaxSigmaQ8))
        s += ",\"neutronMaxCounts\":\(d.neutronMaxCounts)"
        s += ",\"gammaWindowS\":" + decimal2(Int64(d.gammaWindowSamples) * settings.sampleIntervalUs / 10_000)
        s += ",\"gammaMaxWindowS\":" + decimal2(Int64(d.gammaMaxWindowSamples) * settings.sampleIntervalUs / 10_000)
        s += ",\"suppression\":" + decimal2(Q16.hundredths(d.suppressionQ16))
        s += ",\"gammaWindowReason\":\"" + (d.gammaWindowFromSpeed ? "speed" : "default") + "\""
        s += ",\"neutronWindowS\":" + decimal2(Int64(d.neutronWindowSamples) * settings.sampleIntervalUs / 10_000)
        s += ",\"gammaBackgroundCps\":" + decimal2(Q16.hundredths(multiplySaturating(d.gammaBackgroundQ16, 1_000_000) / settings.sampleIntervalUs))
        s += ",\"samples\":\(d.samples),\"reverse\":\(d.reverse),\"truncated\":\(d.truncated)"
        s += ",\"screened\":\(!d.notScreened),\"panelsUsed\":["
        var firstPanel = true
        for p in 0..<panelCountMax where d.panelsUsedMask & (1 << UInt32(p)) != 0 {
            s += (firstPanel ? "" : ",") + String(p)
            firstPanel = false
        }
        s += "]"
        s += ",\"faults\":["
        var first = true
        for bit in 0..<Faults.bitCount where d.faults.bits & (1 << UInt32(bit)) != 0 {
            s += (first ? "" : ",") + "\"" + Faults.name(bit: bit).description + "\""
            first = false
        }
        return s + "]}"
    }
}
