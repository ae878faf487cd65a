// Proves the N42.42 export: an occupancy with its samples validates against the ANSI
// N42.42-2011 schema kept in Tests/Reference (xmllint), and the field's own reader, Sandia's
// SpecUtils (PyPI sandiaspecutils, in .venv from scripts/setup.sh), reads from it what the
// collector holds: every panel's gamma windows and neutron counts per sample, start, live and
// real times, the detectors, the occupancy, and the alarms.

import Foundation
import LaneCollector
import LaneCore
import Testing

let schemaPath: String = {
    var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent("Package.swift").path) {
        dir = dir.deletingLastPathComponent()
    }
    return dir.appendingPathComponent("Tests/Reference/n42.xsd").path
}()

func batch(from t0: Int64) -> Record {
    var b = SampleBatch(panels: 4, nominalIntervalUs: 100_000)
    for k in 0..<16 {
        var s = LaneSample(tUs: t0 + Int64(k) * 100_000, intervalUs: 100_000)
        for p in 0..<4 { s.gamma[p] = UInt32(40 + k + p); s.gammaLow[p] = 22; s.neutron[p] = UInt32(k % 2) }
        _ = b.append(s)
    }
    return .samples(b)
}

/// Why xmllint finds `path` invalid against n42.xsd (nil: it validates).
func schemaProblems(_ path: String) throws -> String? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/xmllint")
    p.arguments = ["--noout", "--schema", schemaPath, path]
    let err = Pipe()
    p.standardError = err
    try p.run()
    let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    return p.terminationStatus == 0 ? nil : message
}

/// What SpecUtils reads from an N42 file (Tests/Readers/specutils_read.py).
func specUtilsRead(_ path: String) throws -> [String: Any] {
    let root = (schemaPath as NSString).deletingLastPathComponent + "/../.."
    let p = Process()
    p.executableURL = URL(fileURLWithPath: root + "/.venv/bin/python")
    p.arguments = [root + "/Tests/Readers/specutils_read.py", path]
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0, let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw CollectorError("SpecUtils could not read \(path): \(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
    }
    return json
}

@Suite struct N42Tests {
    @Test("8-window panels: an exported occupancy validates, each panel's sample is a spectrum of its 8 windows under the boundaries it counted with (a calibration per set), and SpecUtils reads those counts and energies; a sample whose windows do not add up keeps its two windows", arguments: ["sqlite", "postgres"])
    func multiWindow(engine: String) throws {
        let dir = NSTemporaryDirectory() + "n42mw-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let db = try openStore(engine)
        let c = Collector(database: db) { _ in }
        let boundaries: [[UInt16]] = [[30, 80, 150, 250, 400, 650, 1000, 1500, 3000], [30, 80, 150, 250, 400, 650, 1000, 1500, 3000],
                                      [30, 90, 160, 260, 420, 650, 1000, 1500, 3000], [30, 80, 150, 250, 400, 650, 1000, 1500, 3000]]
        var w = WindowsRecord(panels: 4, windows: 8)
        for p in 0..<4 { for j in 0...8 { w.set(panel: p, j, kev: boundaries[p][j]) } }
        var b = SampleBatch(panels: 4, nominalIntervalUs: 100_000, windows: 8)
        for k in 0..<16 {
            var s = LaneSample(tUs: 10_100_000 + Int64(k) * 100_000, intervalUs: 100_000)
            for p in 0..<4 {
                var sum: UInt32 = 0
                for x in 0..<8 { let v = UInt32(20 - 2 * x + k % 3 + p); s.windows[p * windowCountMax + x] = v; sum += v }
                s.gamma[p] = sum + (k == 5 && p == 1 ? 7 : 0)  // sample 5, panel 2: windows short of its gamma by 7
                s.gammaLow[p] = s.windows[p * windowCountMax] + s.windows[p * windowCountMax + 1] + s.windows[p * windowCountMax + 2]
                s.neutron[p] = UInt32(k % 2)
            }
            s.windowCount = k == 5 ? 0 : 8
            _ = b.append(s)
        }
        var d = Decision()
        d.occupancy = 4; d.startUs = 10_050_000; d.endUs = 11_550_000; d.gammaAlarm = true; d.gammaMaxSigmaQ8 = 12 * 256
        d.gammaTests.insert(.directed)
        // The agent stamps records with its monotonic clock: the boundaries before the samples.
        func stamped(_ r: Record, _ seq: UInt64, _ us: Int64) -> [UInt8] {
            var enc = RecordEncoder()
            var out = [UInt8](repeating: 0, count: RecordFormat.frameMax)
            let n = out.withUnsafeMutableBufferPointer { enc.encode(r, header: FrameHeader(sequence: seq, monotonicUs: us, wallUs: 1_795_000_000_000_000), into: $0.baseAddress!, capacity: $0.count) }!
            return Array(out.prefix(n))
        }
        c.handle(topic: "rpm/PORT/L8/records/windows", payload: stamped(.windows(w), 1, 700_000))
        c.handle(topic: "rpm/PORT/L8/records/samples", payload: stamped(.samples(b), 2, 10_100_000))
        c.handle(topic: "rpm/PORT/L8/records/occupancy", payload: frame(.occupancy(d), 3))
        let (decision, wall, samples, panels, windows) = try #require(try db.occupancyWithWindows(lane: "PORT/L8", number: 4))
        #expect(windows == w && samples.count == 16 && panels == 4)
        let xml = N42Export.document(lane: "PORT/L8", decision: decision, wallUs: wall, samples: samples, panels: panels, windows: windows)
        try xml.write(toFile: dir + "/o.n42", atomically: true, encoding: .utf8)
        let problems = try schemaProblems(dir + "/o.n42")
        #expect(problems == nil, "xmllint: \(problems ?? "")")
        #expect(xml.contains("; gamma alarm by directed</AnalysisResultDescription>"), "the test that raised the alarm, kept by the collector")
        #expect(xml.contains("<EnergyBoundaryValues>30 80 150 250 400 650 1000 1500 3000</EnergyBoundaryValues>"))
        #expect(xml.contains("<EnergyBoundaryValues>30 90 160 260 420 650 1000 1500 3000</EnergyBoundaryValues>"))

        let read = try specUtilsRead(dir + "/o.n42")
        #expect((read["warnings"] as? [String]) == [], "\(read["warnings"] ?? "")")
        let measurements = (read["measurements"] as? [[String: Any]]) ?? []
        #expect(measurements.count == 16 * 4)
        for (k, s) in samples.enumerated() {
            for p in 0..<4 {
                guard let m = measurements.first(where: { ($0["sample"] as? Int) == k + 1 && ($0["detector"] as? String) == "Gamma\(p + 1)" }) else {
                    Issue.record("sample \(k + 1) panel \(p + 1) not read"); continue
                }
                let gamma = (m["gamma"] as? [Double]) ?? [], energies = (m["energies"] as? [Double]) ?? []
                if k == 5 && p == 1 {
                    #expect(gamma == [Double(s.gammaLow[p]), Double(s.gamma[p] - s.gammaLow[p])], "the sample whose windows do not add up: \(gamma)")
                    #expect(energies.prefix(2) == [30, 250], "\(energies)")
                } else {
                    #expect(gamma == (0..<8).map { Double(s.windows[p * windowCountMax + $0]) }, "sample \(k + 1) panel \(p + 1): \(gamma)")
                    #expect(energies.prefix(9).map { Int($0) } == boundaries[p].prefix(energies.count).map { Int($0) } && energies.count >= 8,
                            "sample \(k + 1) panel \(p + 1): the channels' energies \(energies)")
                }
            }
        }
        let sumGamma = samples.reduce(0.0) { t, s in t + (0..<4).reduce(0.0) { $0 + Double(s.gamma[$1]) } }
        #expect(read["gammaCountSum"] as? Double == sumGamma)
    }

    @Test("an exported occupancy validates against n42.xsd, and SpecUtils reads from it the collector's counts, times, detectors, occupancy and alarms (from either store)",
          arguments: [(true, "sqlite"), (false, "sqlite"), (true, "postgres")])
    func validates(alarmed: Bool, engine: String) throws {
        #expect(FileManager.default.fileExists(atPath: schemaPath), "the N42 schema is missing at \(schemaPath)")
        let dir = NSTemporaryDirectory() + "n42-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let db = try openStore(engine)
        let c = Collector(database: db) { _ in }
        var d = Decision()
        d.occupancy = 3
        d.startUs = 10_050_000
        d.endUs = 11_550_000
        d.gammaAlarm = alarmed
        d.neutronAlarm = alarmed
        d.gammaMaxSigmaQ8 = 28 * 256 + 110
        d.neutronMaxSigmaQ8 = 9 * 256
        d.speedMmPerS = 2_205
        d.setContainer(ContainerNumber(ascii: Array("CSQU3054383".utf8)))
        // The agent stamps a sample batch with its first sample's time.
        var enc = RecordEncoder()
        var out = [UInt8](repeating: 0, count: RecordFormat.frameMax)
        let n = out.withUnsafeMutableBufferPointer {
            enc.encode(batch(from: 10_100_000), header: FrameHeader(sequence: 1, monotonicUs: 10_100_000, wallUs: 1_795_000_000_000_000),
                       into: $0.baseAddress!, capacity: $0.count)
        }!
        c.handle(topic: "rpm/PORT/L1/records/samples", payload: Array(out.prefix(n)))
        c.handle(topic: "rpm/PORT/L1/records/occupancy", payload: frame(.occupancy(d), 2))
        let (decision, wall, samples, panels) = try #require(try db.occupancy(lane: "PORT/L1", number: 3))
        #expect(samples.count == 16 && panels == 4)  // every sample whose interval overlaps the occupancy
        let xml = N42Export.document(lane: "PORT/L1", decision: decision, wallUs: wall, samples: samples, panels: panels)
        try xml.write(toFile: dir + "/o.n42", atomically: true, encoding: .utf8)
        let problems = try schemaProblems(dir + "/o.n42")
        #expect(problems == nil, "xmllint: \(problems ?? "")")
        #expect(xml.contains("<RadAlarmCategoryCode>Gamma</RadAlarmCategoryCode>") == alarmed && xml.contains("<RadAlarmCategoryCode>Neutron</RadAlarmCategoryCode>") == alarmed)
        #expect(xml.contains("<RadInstrumentClassCode>Portal Monitor</RadInstrumentClassCode>"))
        #expect(xml.contains("<ChannelData>22 18</ChannelData>"))  // sample 0, panel 0: 40 counts, 22 low
        #expect(xml.contains("container CSQU3054383"))

        // The field's reader.
        let read = try specUtilsRead(dir + "/o.n42")
        #expect(read["instrumentType"] as? String == "Portal Monitor" && read["instrumentId"] as? String == "PORT/L1")
        #expect((read["warnings"] as? [String]) == [], "\(read["warnings"] ?? "")")
        #expect((read["gammaDetectors"] as? [String]) == ["Gamma1", "Gamma2", "Gamma3", "Gamma4"], "\(read["gammaDetectors"] ?? "")")
        let measurements = (read["measurements"] as? [[String: Any]]) ?? []
        #expect(measurements.count == samples.count * panels, "one measurement per sample and panel: \(measurements.count)")
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for (k, s) in samples.enumerated() {
            for p in 0..<panels {
                guard let m = measurements.first(where: { ($0["sample"] as? Int) == k + 1 && ($0["detector"] as? String) == "Gamma\(p + 1)" }) else {
                    Issue.record("sample \(k + 1) panel \(p + 1) not read"); continue
                }
                let gamma = (m["gamma"] as? [Double]) ?? []
                #expect(gamma == [Double(s.gammaLow[p]), Double(s.gamma[p] - s.gammaLow[p])], "sample \(k + 1) panel \(p + 1): \(gamma)")
                #expect(m["neutron"] as? Double == Double(s.neutron[p]) && m["containedNeutron"] as? Bool == true)
                #expect(abs((m["liveTime"] as? Double ?? 0) - 0.1) < 1e-6 && abs((m["realTime"] as? Double ?? 0) - 0.1) < 1e-6)
                #expect(m["occupied"] as? String == "OccupancyStatus.Occupied" && m["source"] as? String == "SourceType.Foreground")
                // SpecUtils gives the start as a naive UTC time.
                let start = (m["start"] as? String).flatMap { iso.date(from: ($0.contains(".") ? $0 : $0 + ".000000") + "Z") }
                let expected = Double(wall - (decision.endUs - (s.tUs - s.intervalUs))) / 1e6
                #expect(start.map { abs($0.timeIntervalSince1970 - expected) < 0.002 } == true, "sample \(k + 1): \(m["start"] ?? "nil")")
            }
        }
        let sumGamma = samples.reduce(0.0) { t, s in t + (0..<panels).reduce(0.0) { $0 + Double(s.gamma[$1]) } }
        let sumNeutron = samples.reduce(0.0) { t, s in t + (0..<panels).reduce(0.0) { $0 + Double(s.neutron[$1]) } }
        #expect(read["gammaCountSum"] as? Double == sumGamma && read["neutronCountsSum"] as? Double == sumNeutron)
        let results = (read["results"] as? [[String: Any]]) ?? []
        if alarmed {
            #expect(results.map { $0["nuclide"] as? String } == ["Gamma alarm", "Neutron alarm"], "\(results)")
            #expect(results.first?["confidence"] as? String == "28.43 sigma above background" && results.first?["type"] as? String == "Gamma", "\(results)")
        } else {
            #expect(results.isEmpty, "no alarm is read from a clear occupancy: \(results)")
        }
    }
}

@Suite struct PlotTests {
    @Test("the profile plot draws every panel, the window sum, background and threshold, and says the verdict")
    func plot() {
        var d = Decision()
        d.occupancy = 7
        d.gammaAlarm = true
        d.speedMmPerS = 2_200
        d.gammaWindowSamples = 10
        d.gammaBackgroundQ16 = 160 << 16
        d.gammaMaxBackgroundQ16 = 1_600 << 16
        d.gammaMaxThresholdQ16 = 1_880 << 16
        var samples: [LaneSample] = []
        for k in 0..<40 {
            var s = LaneSample(tUs: Int64(k + 1) * 100_000, intervalUs: 100_000)
            for p in 0..<4 { s.gamma[p] = UInt32(40 + (k > 15 && k < 25 ? 30 : 0)) }
            samples.append(s)
        }
        let svg = ProfilePlot.svg(lane: "PORT/L1", decision: d, samples: samples, panels: 4)
        #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 5)  // 4 panels + the window sum
        #expect(svg.contains("GAMMA ALARM") && svg.contains("threshold (7.0 sigma)"))
        let empty = ProfilePlot.svg(lane: "PORT/L1", decision: d, samples: [], panels: 4)
        #expect(empty.contains("no samples stored"))
    }
}
