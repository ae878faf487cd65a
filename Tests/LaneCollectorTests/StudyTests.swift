// Proves the threshold study (docs/SHARING.md): a month of a lane's stored records, made by the
// real LaneController on virtual time (trucks, NORM loads, sources, a panel silent four times, an
// agent restart that restores its background), replayed through the engine with the shipped
// settings decides every occupancy as the lane did (the same alarm rate, the same verdict one by
// one); candidates move the rate the way they should; adjudications give the NORM share; panels'
// backgrounds, faults and uptime are reported; candidates files are refused with file, line, key.

import Foundation
import LaneAgent
import LaneCollector
import LaneCore
import Testing

/// A month of one lane at 12 trucks a day, each day's traffic in 360 s of lane time (the wall
/// clock runs 08:00-08:06 each day of November 2026).
func studyMonth(_ db: Database, lane: String, seed: UInt64) throws -> MonthGenerator.Summary {
    var o = MonthGenerator.Options()
    o.lane = lane
    o.seed = seed
    o.epoch = 0xABCD_0000 + seed
    o.trucksPerDay = 12
    o.laneSecondsPerDay = 360
    // Compressed days: more sources than a port sees, so that a month has some of each.
    o.silentMinutes = 2
    o.cesiumEvery = 23
    o.californiumEvery = 37
    var g = MonthGenerator(db: db, options: o)
    return try g.run()
}

let studyLanes: [(String, UInt64)] = [("PORT/LANE-01", 3), ("PORT/LANE-02", 4)]

/// The two lanes' month in one SQLite file, made once (8 s in a debug build); each test opens a copy.
let studyMonthFile: Result<(String, [String: MonthGenerator.Summary]), any Error> = Result {
    let path = NSTemporaryDirectory() + "study-month-\(UUID().uuidString).sqlite"
    let db = try Database(path: path)
    var summaries: [String: MonthGenerator.Summary] = [:]
    for (lane, seed) in studyLanes { summaries[lane] = try studyMonth(db, lane: lane, seed: seed) }
    return (path, summaries)
}

/// A store holding the month: a copy of the SQLite file, or (PostgreSQL) made afresh.
func studyStore(_ engine: String) throws -> (Database, [String: MonthGenerator.Summary]) {
    if engine == "postgres" {
        // One lane on PostgreSQL (its raw samples in the month partitions); both on SQLite.
        let db = try openStore(engine)
        var summaries: [String: MonthGenerator.Summary] = [:]
        for (lane, seed) in studyLanes.prefix(1) { summaries[lane] = try studyMonth(db, lane: lane, seed: seed) }
        return (db, summaries)
    }
    let (path, summaries) = try studyMonthFile.get()
    let copy = NSTemporaryDirectory() + "study-\(UUID().uuidString).sqlite"
    try FileManager.default.copyItem(atPath: path, toPath: copy)
    return (try Database(path: copy), summaries)
}

let november: (Int64, Int64) = (1_793_491_200_000_000, 1_796_083_200_000_000)  // 2026-11-01, 2026-12-01

let candidatesYAML = """
    # candidates for the November study
    candidates:
      - name: sigma-4
        detection: {gammaSigma: 4}
      - name: sigma-10
        detection:
          gammaSigma: 10
          gammaCeilingSigma: 40
      - name: norm-on
        detection: {normDiscrimination: true}
    """

@Suite struct StudyTests {
    @Test("a month of two lanes: replayed with the shipped settings the study decides every occupancy as the lane did (same alarm rate), through a restart with a restored background and a silent panel", arguments: engines)
    func shippedEqualsLane(engine: String) throws {
        let (db, summaries) = try studyStore(engine)
        for (lane, _) in studyLanes where summaries[lane] != nil {
            let month = summaries[lane]!
            #expect(month.occupancies == 360 && month.alarms > 5, "\(month)")
            let r = try Study.run(db: db, lane: lane, fromUs: november.0, toUs: november.1, candidatesText: candidatesYAML, file: "candidates.yaml")
            #expect(r.exact, "the month starts with the lane's start record")
            #expect(r.candidates.map(\.name) == ["shipped", "sigma-4", "sigma-10", "norm-on"])
            let shipped = r.candidates[0]
            // The lane's own figures, from its stored decisions, and the generator's count.
            #expect(r.lane_occupancies == 360 && r.lane_alarms == month.alarms)
            #expect(shipped.occupancies == r.lane_occupancies, "\(lane): \(shipped.occupancies) replayed, \(r.lane_occupancies) decided")
            #expect(shipped.alarms == r.lane_alarms, "\(lane): the study's alarm rate at the shipped settings is the lane's: \(shipped.alarms) against \(r.lane_alarms)")
            #expect(shipped.alarmRate == Double(month.alarms) / 360)
            #expect(shipped.matched == 360 && shipped.agreeing == 360, "every occupancy decided alike: \(shipped.agreeing) of \(shipped.matched)")
            // A lower threshold alarms more, a higher one less; NORM discrimination marks loads.
            #expect(r.candidates[1].alarms > shipped.alarms && r.candidates[2].alarms < shipped.alarms, "\(r.candidates.map(\.alarms))")
            #expect(r.candidates[3].normSuspect > 0 && shipped.normSuspect == 0)
            #expect(r.laneSettingsHashes.count == 1)
            // Panels: backgrounds near the simulated 1,800 cps and 2.5 cps; panel 4's silences.
            #expect(r.panels.count == 4)
            for p in r.panels {
                #expect(abs(p.gammaCps.mean - 1_800) < 40 && abs(p.neutronCps.mean - 2.5) < 0.3, "panel \(p.panel + 1): \(p.gammaCps) \(p.neutronCps)")
                #expect(p.gammaCpsByDay.allSatisfy { $0 != nil })
            }
            #expect(r.panels[3].faults["panelSilent"]?.raises == 4, "\(r.panels[3].faults)")
            #expect(r.panels[0].faults.isEmpty)
            // 360 s of lane time a day: the lane ran 0.42 % of the month; panel 4 missed 4 x 2 minutes of it.
            #expect(abs(r.laneUptime - 30 * 360.0 / (30 * 86_400)) < 0.0005, "\(r.laneUptime)")
            let missed = (r.panels[0].uptime - r.panels[3].uptime) * 30 * 86_400
            #expect(abs(missed - 4 * 120) < 10, "panel 4 missed \(missed) s")
        }
    }

    @Test("adjudications give the share of a candidate's alarms found to be NORM (code 4), and the statistics count alarms by code")
    func adjudicatedNORMShare() throws {
        let (db, _) = try studyStore("sqlite")
        let lane = "PORT/LANE-01"
        let alarmed = try db.occupancies(lane: lane, sinceWallUs: nil, untilWallUs: nil, alarm: "any")
        // `adjudicate` takes the latest occupancy of a number (numbers restart with the agent):
        // the last alarms of the month, after the restart.
        let numbers = alarmed.reversed().compactMap { line -> UInt32? in
            guard let d = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let dec = d["decision"] as? [String: Any] else { return nil }
            return (dec["occupancy"] as? NSNumber)?.uint32Value
        }
        #expect(numbers.count == alarmed.count && numbers.count >= 4 && Set(numbers.prefix(4)).count == 4)
        // Three NORM, one medical isotope; the first is adjudicated twice (the later one counts).
        try db.adjudicate(lane: lane, number: numbers[0], code: 6, state: "requested", isotopes: "", vehicle: "", notes: "", by: "op", nowUs: 1)
        try db.adjudicate(lane: lane, number: numbers[0], code: 4, state: "completed", isotopes: "K-40", vehicle: "", notes: "", by: "op", nowUs: 2)
        try db.adjudicate(lane: lane, number: numbers[1], code: 4, state: "completed", isotopes: "Th-232", vehicle: "", notes: "", by: "op", nowUs: 3)
        try db.adjudicate(lane: lane, number: numbers[2], code: 4, state: "completed", isotopes: "K-40", vehicle: "", notes: "tiles", by: "op", nowUs: 4)
        try db.adjudicate(lane: lane, number: numbers[3], code: 3, state: "completed", isotopes: "Tc-99m", vehicle: "", notes: "", by: "op", nowUs: 5)
        // The second half of the month (from the day after the restart: replayed from that start).
        let r = try Study.run(db: db, lane: lane, fromUs: november.0 + 15 * 86_400_000_000, toUs: november.1, candidatesText: candidatesYAML, file: "c.yaml")
        #expect(r.exact)
        let shipped = r.candidates[0]
        #expect(shipped.adjudicated == 4 && shipped.adjudicatedNORM == 3 && shipped.normShare == 0.75, "\(shipped)")
        #expect(shipped.byCode[4] == 3 && shipped.byCode[3] == 1 && shipped.byCode[0] == shipped.alarms - 4)
        // The higher threshold keeps fewer alarms; those it keeps are still matched to their adjudications.
        #expect(r.candidates[2].adjudicated <= 4)
        let st = try db.adjudicationStats(lanes: [lane], fromUs: november.0, toUs: november.1)
        let both = try db.adjudicationStats(lanes: nil, fromUs: november.0, toUs: november.1)
        #expect(both.alarms == st.alarms + (try db.occupancies(lane: "PORT/LANE-02", sinceWallUs: nil, untilWallUs: nil, alarm: "any").count))
        #expect(st.alarms == numbers.count && st.byCode[4] == 3 && st.byCode[3] == 1 && st.byCode[6] == nil && st.byCode[0] == numbers.count - 4)
        #expect(st.table.contains("innocent alarm: NORM found") && st.csv.hasPrefix("code,group,alarms,meaning\n"))
        #expect(r.text.contains("75.00 %"))
    }

    @Test("the report's files: tables, JSON, CSV and SVG plots that parse")
    func reportFiles() throws {
        let (db, _) = try studyStore("sqlite")
        // The first 8 days (panel 4's first silence on day 7).
        let r = try Study.run(db: db, lane: "PORT/LANE-01", fromUs: november.0, toUs: november.0 + 8 * 86_400_000_000, candidatesText: candidatesYAML, file: "c.yaml")
        let dir = NSTemporaryDirectory() + "study-\(UUID().uuidString)"
        try r.write(to: dir)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(files == ["adjudications.csv", "alarms.svg", "background.svg", "candidates.csv", "panels.csv", "report.txt", "study.json"])
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/study.json"))) as? [String: Any]
        #expect((json?["candidates"] as? [[String: Any]])?.count == 4)
        // One key per fact: the lane's name and what it decided are apart (a duplicate "lane" key once hid one).
        #expect(json?["lane"] as? String == "PORT/LANE-01" && (json?["decidedByLane"] as? [String: Any])?["occupancies"] as? Int == 96, "\(json ?? [:])")
        let csv = try String(contentsOfFile: dir + "/candidates.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 5 && csv[1].hasPrefix("shipped,shipped settings,96,"), "\(csv)")
        for svg in ["alarms.svg", "background.svg"] {
            let text = try String(contentsOfFile: dir + "/" + svg, encoding: .utf8)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/xmllint")
            p.arguments = ["--noout", dir + "/" + svg]
            let err = Pipe()
            p.standardError = err
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\(svg) is well-formed XML: \(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
            #expect(text.contains("<polyline") || text.contains("<rect x="))
        }
        #expect(try String(contentsOfFile: dir + "/panels.csv", encoding: .utf8).split(separator: "\n").count == 5)
    }

    @Test("a package of the study month carries every sample with its absent panels, the beam edges and the lane's starts, so the recipient can replay it")
    func packageForReplay() throws {
        let (db, summaries) = try studyStore("sqlite")
        let dir = NSTemporaryDirectory() + "study-share-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = try StationSigningKey.create(path: dir + "/station.key")
        try """
            recipient: NL Customs RPM program
            purpose: Setting the lanes' alarm thresholds together, per the 2026 MoU, article 4
            lanes: [PORT/LANE-01]
            kinds: [decisions, samples]
            traffic: all
            containers: remove
            from: 2026-11-01
            to: 2026-12-01
            """.write(toFile: dir + "/p.yaml", atomically: true, encoding: .utf8)
        _ = try SharePackage.write(db: db, policy: try SharingPolicy.load(path: dir + "/p.yaml"), fromUs: november.0, toUs: november.1, out: dir + "/pkg",
                                   station: "PORT", signingKey: try StationSigningKey.load(path: dir + "/station.key"))
        func lines(_ f: String) throws -> [Substring] { try String(contentsOfFile: dir + "/pkg/samples/" + f, encoding: .utf8).split(separator: "\n") }
        let samples = try lines("PORT_LANE-01.csv")
        #expect(samples[0].hasSuffix(",gamma4,gamma_low4,neutron4,absent_mask,forgotten_mask,maintenance"))
        #expect(samples.count - 1 == summaries["PORT/LANE-01"]!.samples, "every sample the engine took")
        // Panel 4 was silent 4 x 2 minutes: 1,200 samples each with bit 3 (8) in absent_mask,
        // and a few more while the lane takes it back (its first counts after a silence are dropped).
        let absent = samples.dropFirst().filter { $0.split(separator: ",")[14] == "8" }.count
        #expect(absent >= 4 * 1_200 && absent <= 4 * 1_200 + 4 * 30, "\(absent) samples without panel 4")
        let beams = try lines("PORT_LANE-01.beams.csv")
        #expect(beams.count - 1 == 4 * 360 && beams[0] == "time_us,beam,blocked")
        let starts = try lines("PORT_LANE-01.starts.csv")
        #expect(starts.count == 3 && starts[1].hasSuffix(",0") && starts[2].hasSuffix(",1"), "the first start learned afresh, the restart restored: \(starts)")
    }

    @Test("a period that does not start with the lane's start warms up on the day before, and says so; its decisions still match the lane's")
    func warmUp() throws {
        let (db, _) = try studyStore("sqlite")
        let day: Int64 = 86_400_000_000
        let r = try Study.run(db: db, lane: "PORT/LANE-01", fromUs: november.0 + 9 * day, toUs: november.0 + 12 * day, candidatesText: candidatesYAML, file: "c.yaml")
        #expect(!r.exact && r.text.contains("warmed up from 2026-11-09"), "\(r.text)")
        #expect(r.candidates[0].occupancies == 3 * 12 && r.lane_occupancies == 3 * 12)
        // The lane's background is exponential: a day of warm-up (here 6 minutes of lane time) converges.
        #expect(r.candidates[0].agreeing == r.candidates[0].matched)
    }

    @Test("with the lane's board profile, the first row is the profile's settings and each candidate changes only the keys it names from them")
    func boardBase() throws {
        let board = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Boards/sim.yaml").standardized.path
        let det = try YAMLSection.root(file: board, text: try String(contentsOfFile: board, encoding: .utf8)).section("detection")
        let c = try StudyCandidate.parse("candidates:\n  - name: sigma-5\n    detection: {gammaSigma: 5}\n", file: "c.yaml", intervalMs: 100, base: ("lane", det))
        let profile = try BoardProfile.load(path: board).engine
        #expect(c.map(\.name) == ["lane", "sigma-5"])
        // sim.yaml turns NORM discrimination on (shipped: off) with its own shares.
        #expect(profile.normDiscrimination != EngineSettings().normDiscrimination)
        #expect(c[0].settings.gammaSigmaQ8 == profile.gammaSigmaQ8 && c[0].settings.normDiscrimination && c[0].settings.normShareMaxQ16 == profile.normShareMaxQ16)
        #expect(c[1].settings.gammaSigmaQ8 == 5 * 256 && profile.gammaSigmaQ8 != 5 * 256)
        #expect(c[1].settings.normDiscrimination && c[1].settings.normShareMaxQ16 == profile.normShareMaxQ16 && c[1].settings.backgroundShift == profile.backgroundShift,
                "the profile's other keys are kept")
        // The study month ran the shipped settings, not sim.yaml's: the report says so.
        let (db, _) = try studyStore("sqlite")
        let r = try Study.run(db: db, lane: "PORT/LANE-01", fromUs: november.0, toUs: november.0 + 86_400_000_000, candidatesText: candidatesYAML, file: "c.yaml", boardPath: board)
        #expect(r.candidates.first?.name == "lane" && r.text.contains("did not run exactly the board profile's settings"), "\(r.text)")
    }

    @Test("an 8-window lane's profile as the base: its check-source shapes come with it (and with every candidate); a two-window month does not replay them, saying why")
    func checkSourceShapesInStudy() throws {
        let board = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Boards/sim-8w.yaml").standardized.path
        let det = try YAMLSection.root(file: board, text: try String(contentsOfFile: board, encoding: .utf8)).section("detection")
        let text = "candidates:\n  - name: directed-4\n    detection: {directedSigma: 4}\n"
        let c = try StudyCandidate.parse(text, file: "c.yaml", intervalMs: 100, base: ("lane", det))
        let profile = try BoardProfile.load(path: board).engine
        #expect(c.map(\.shapeWindows) == [8, 8])
        for x in c {
            #expect(x.settings.spectralThreatShapeCount == 2)
            for i in 0..<(2 * windowCountMax) { #expect(x.settings.spectralThreatShapesQ16[i] == profile.spectralThreatShapesQ16[i]) }
        }
        #expect(c[0].settings.spectralDirectedSigmaQ8 == 640 && c[1].settings.spectralDirectedSigmaQ8 == 4 * 256)
        // A shape with a share out of range is refused at parse, with the place.
        do {
            _ = try StudyCandidate.parse("candidates:\n  - name: a\n    detection:\n      checkSourceShapes:\n        - {source: X, shares: [0.5, 0.5, 3]}\n", file: "c.yaml", intervalMs: 100)
            Issue.record("a share of 3 accepted")
        } catch {
            #expect("\(error)".hasPrefix("c.yaml:5:") && "\(error)".contains("share 3: 3 is out of range"), "\(error)")
        }
        // The study month is a two-window lane's.
        let (db, _) = try studyStore("sqlite")
        let r = try Study.run(db: db, lane: "PORT/LANE-01", fromUs: november.0, toUs: november.0 + 86_400_000_000, candidatesText: text, file: "c.yaml", boardPath: board)
        #expect(r.text.contains("not replayed: its checkSourceShapes have 8 shares a source, the lane's panels count into two windows"), "\(r.text)")
    }

    @Test("candidates files are refused with the file, the line and the key", arguments: [
        ("candidates:\n  - name: a\n    detection: {gammaSigma: 0.2}\n", "c.yaml:3:", "gammaSigma"),
        ("candidates:\n  - name: a\n    detection: {gamaSigma: 4}\n", "c.yaml:3:", "gamaSigma"),
        ("candidates:\n  - name: a\n    detection: {sampleIntervalMs: 200}\n", "c.yaml:3:", "the lane's, not a candidate's"),
        ("candidates:\n  - name: a\n  - name: a\n", "c.yaml:3:", "names two candidates"),
        ("candidates:\n  - name: 'a b'\n", "c.yaml:2:", "letters, digits"),
        ("candidates: []\n", "c.yaml", "at least one candidate"),
        ("candidate:\n  - name: a\n", "c.yaml:2:", "did you mean 'candidates'"),
        ("candidates:\n  - detection: {}\n", "c.yaml", "name"),
    ])
    func badCandidates(text: String, place: String, why: String) {
        do {
            _ = try StudyCandidate.parse(text, file: "c.yaml", intervalMs: 100)
            Issue.record("accepted: \(text)")
        } catch {
            #expect("\(error)".hasPrefix(place) && "\(error)".contains(why), "\(error)")
        }
    }
}
