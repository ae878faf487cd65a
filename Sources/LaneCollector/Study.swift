// The threshold study (docs/SHARING.md): a lane's stored records replayed through the same engine
// as the lane's, once per candidate setting, so that the station and its partners set a threshold
// from a month of data instead of opinion. Format 4 records carry everything the engine was given
// (every sample with its absent and forgotten panels, the beam edges in their place among the
// samples, each start with its geometry and restored background): replayed with the settings
// the lane ran, the study decides every occupancy as the lane did.

import Foundation
import LaneAgent
import LaneCore
import LaneTrace
import Yams

public struct StudyError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ s: String) { description = s }
}

/// One candidate setting: a name and the detection settings it changes (the rest shipped).
public struct StudyCandidate: Sendable {
    public var name: String
    /// The keys it sets, as written ("gammaSigma 3.5, normShareMax 0.6"; "shipped settings").
    public var changes: String
    /// Detection settings; the lane's geometry (panels, pillars, beam spacing, interval) is put
    /// over them at each start.
    public var settings: EngineSettings
    /// Multi-window lanes: the windows its check-source shapes (`checkSourceShapes`) are given
    /// for (0: none); a lane whose panels count into another number refuses the candidate.
    public var shapeWindows = 0

    /// The candidates file:
    ///
    ///     candidates:
    ///       - name: sigma-3.5
    ///         detection: {gammaSigma: 3.5}
    ///
    /// Keys as in a board profile's `detection` section (the same reader, ranges and
    /// conversions; safety floors do not apply to a study). Each candidate changes the keys it
    /// names from the base: the lane's board profile's `detection` section when given (`base`),
    /// else the engine's shipped settings. The base itself comes first, named `lane` (from a
    /// profile) or `shipped`. `intervalMs`: the lane's sample interval.
    package static func parse(_ text: String, file: String, intervalMs: Int, base: (name: String, detection: YAMLSection?) = ("shipped", nil)) throws -> [StudyCandidate] {
        let root = try YAMLSection.root(file: file, text: text)
        try root.onlyKeys(["candidates"])
        guard let items = try root.list("candidates"), !items.isEmpty else { throw root.error("candidates", "must list at least one candidate") }
        guard items.count <= 16 else { throw root.error("candidates", "at most 16 candidates (\(items.count) given)") }
        // The base's keys, then the candidate's over them.
        func settings(_ own: YAMLSection?, path: String) throws -> EngineSettings {
            var pairs: [(Node, Node)] = []
            for (k, v) in base.detection?.pairs ?? [] where !(own?.pairs.contains { $0.key == k } ?? false) { pairs.append((Node(k), v)) }
            for (k, v) in own?.pairs ?? [] { pairs.append((Node(k), v)) }
            let merged = try YAMLSection(file: own?.file ?? file, path: path, node: .mapping(Node.Mapping(pairs)))
            var e = EngineSettings()
            try BoardProfile.applyDetection(merged, to: &e, enforceFloors: false, intervalMs: intervalMs)
            // Check-source shapes: the lane's K comes with its start records, so the shapes are
            // read for the K their first entry gives and checked against the lane's at replay.
            if case let .sequence(entries)? = merged.value("checkSourceShapes"), case let .mapping(first)? = entries.first,
               case let .sequence(shares)? = first["shares"] {
                e.spectralWindowCount = min(max(shares.count, 3), windowCountMax)
                _ = try BoardProfile.applyCheckSourceShapes(merged, to: &e)
                e.spectralWindowCount = 0
                lastShapeWindows = shares.count
            }
            return e
        }
        var lastShapeWindows = 0
        func shapeWindows(_ e: EngineSettings) -> Int {
            defer { lastShapeWindows = 0 }
            return e.spectralThreatShapeCount > 0 ? lastShapeWindows : 0
        }
        var out = [StudyCandidate(name: base.name, changes: base.detection == nil ? "shipped settings" : "the lane's board profile", settings: try settings(nil, path: "detection"))]
        out[0].shapeWindows = shapeWindows(out[0].settings)
        for (i, item) in items.enumerated() {
            let c = try YAMLSection(file: file, path: "candidates[\(i)]", node: item)
            try c.onlyKeys(["name", "detection"])
            let name = try c.string("name")
            guard !name.isEmpty, name.count <= 40, name.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }) else {
                throw c.error("name", "'\(name)' must be 1-40 letters, digits, '.', '_' or '-'", at: c.value("name"))
            }
            guard !out.contains(where: { $0.name == name }) else { throw c.error("name", "'\(name)' names two candidates (or the base, '\(base.name)')", at: c.value("name")) }
            let det = try c.section("detection", required: false)
            if let det, det.value("sampleIntervalMs") != nil {
                throw det.error("sampleIntervalMs", "the sample interval is the lane's, not a candidate's", at: det.value("sampleIntervalMs"))
            }
            if let det { try det.onlyKeys(BoardProfile.detectionKeys) }
            var changes = (det?.pairs ?? []).map { p -> String in
                if case let .scalar(s) = p.value { return "\(p.key) \(s.string)" }
                return p.key
            }.joined(separator: ", ")
            if changes.isEmpty { changes = "no change" }
            out.append(StudyCandidate(name: name, changes: changes, settings: try settings(det, path: "candidates[\(i)].detection")))
            out[out.count - 1].shapeWindows = shapeWindows(out[out.count - 1].settings)
        }
        return out
    }
}

/// What the engine was given, in order.
enum StudyEvent {
    indirect case start(StartRecord, epoch: UInt64, wall: Int64)
    case sample(LaneSample, flags: UInt32, epoch: UInt64, wall: Int64)
    case edge(BeamEdge, epoch: UInt64, wall: Int64)
}

/// A decision of a replay, with where it stood in the stream.
struct StudyDecision {
    var epoch: UInt64
    var startUs: Int64
    var wall: Int64
    var gamma: Bool
    var neutron: Bool
    var norm: Bool
    var notScreened: Bool
}

/// One candidate's replay: its own engine, restarted where the lane's was.
struct StudyRun {
    let detection: EngineSettings
    /// The windows the candidate's check-source shapes are given for (0: none).
    var shapeWindows = 0
    /// The geometry when the stream does not start with a start record (the lane's latest).
    var fallback: StartRecord?
    var engine: LaneEngine? = nil
    var epoch: UInt64 = 0
    var lastUs: Int64 = 0
    var wall: Int64 = 0
    var decisions: [StudyDecision] = []
    var problem: String? = nil

    init(detection: EngineSettings, fallback: StartRecord?) {
        self.detection = detection
        self.fallback = fallback
    }

    mutating func decided(_ d: Decision?) {
        guard let d else { return }
        decisions.append(StudyDecision(epoch: epoch, startUs: d.startUs, wall: wall, gamma: d.gammaAlarm, neutron: d.neutronAlarm,
                                       norm: d.normSuspect, notScreened: d.notScreened))
    }

    mutating func finish() {
        if engine != nil { decided(engine!.finish(atUs: lastUs)) }
        engine = nil
    }

    mutating func begin(_ st: StartRecord) {
        let s = st.geometry(over: detection)
        if shapeWindows > 0 && shapeWindows != st.windows {
            problem = "its checkSourceShapes have \(shapeWindows) shares a source, the lane's panels count into \(st.windows < 3 ? "two windows" : "\(st.windows) windows")"
            return
        }
        if let p = s.firstProblem() { problem = "\(p)"; return }
        engine = LaneEngine(settings: s)
        if let bg = st.background { _ = engine!.restore(background: bg) }
    }

    mutating func feed(_ events: ArraySlice<StudyEvent>) {
        for ev in events {
            switch ev {
            case let .start(st, e, w):
                wall = w
                finish()
                epoch = e
                begin(st)
            case let .sample(s, flags, e, w):
                wall = w
                if e != epoch { finish(); epoch = e }
                if engine == nil {
                    guard let f = fallback else { continue }
                    begin(f)
                    if engine == nil { continue }
                }
                let forget = (flags >> SampleBatch.forgetShift) & 0xFF
                for p in 0..<engine!.settings.panelCount where forget & (1 &<< UInt32(p)) != 0 { engine!.forgetBackground(panel: p) }
                engine!.hardwareFaults = flags & SampleBatch.maintenanceFlag != 0 ? .maintenance : Faults()
                lastUs = s.tUs
                decided(engine!.sample(s))
            case let .edge(edge, e, w):
                wall = w
                if e != epoch { finish(); epoch = e }
                guard engine != nil else { continue }
                lastUs = edge.tUs
                decided(engine!.beamEdge(edge))
            }
        }
    }
}

public struct StudyReport: Sendable {
    public struct CandidateRow: Sendable {
        public var name: String
        public var changes: String
        public var occupancies = 0
        public var alarms = 0
        public var gamma = 0
        public var neutron = 0
        public var normSuspect = 0
        public var notScreened = 0
        /// Alarms on occupancies an adjudication exists for, and of those, code 4 (NORM found).
        public var adjudicated = 0
        public var adjudicatedNORM = 0
        /// Alarms by the latest adjudication code of their occupancy (0: none).
        public var byCode: [Int: Int] = [:]
        /// Occupancies the lane decided too, and how many of those got the same alarm verdict.
        public var matched = 0
        public var agreeing = 0
        public var problem: String?
        public var alarmRate: Double { occupancies == 0 ? 0 : Double(alarms) / Double(occupancies) }
        public var normSuspectRate: Double { occupancies == 0 ? 0 : Double(normSuspect) / Double(occupancies) }
        public var normShare: Double? { adjudicated == 0 ? nil : Double(adjudicatedNORM) / Double(adjudicated) }
    }
    public struct PanelRow: Sendable {
        public var panel: Int
        /// Mean, lowest and highest of the lane's background records (counts per second).
        public var gammaCps: (mean: Double, min: Double, max: Double) = (0, 0, 0)
        public var neutronCps: (mean: Double, min: Double, max: Double) = (0, 0, 0)
        /// Mean gamma background per day (nil: no record that day).
        public var gammaCpsByDay: [Double?] = []
        /// Share of the period the panel gave its counts.
        public var uptime: Double = 0
        /// Fault raises, and hours active within the period, by fault name.
        public var faults: [String: (raises: Int, hours: Double)] = [:]
    }

    public var lane: String
    public var fromUs: Int64
    public var toUs: Int64
    /// Whether the replay started where the lane's engine started (a start record): then its
    /// state matches the lane's from the first sample; else it warmed up on the day before.
    public var exact: Bool
    public var replayFromUs: Int64
    public var lane_occupancies = 0
    public var lane_alarms = 0
    public var lane_normSuspect = 0
    public var candidates: [CandidateRow] = []
    public var panels: [PanelRow] = []
    /// Lane-wide faults (panel 255 in the records).
    public var laneFaults: [String: (raises: Int, hours: Double)] = [:]
    /// Share of the period the lane's engine ran (samples stored).
    public var laneUptime: Double = 0
    /// Distinct running-settings hashes the lane reported in the period (more than one: its
    /// settings changed; its own rate then mixes them).
    public var laneSettingsHashes: Set<UInt64> = []
    /// The running-settings hash of the board profile given (nil: none given).
    public var boardSettingsHash: UInt64?
    public var samples = 0
    public var seconds: Double = 0
    public var adjudicationStats: AdjudicationStats
}

public struct AdjudicationStats: Sendable {
    /// Alarmed occupancies in the period, and by their latest adjudication code (0: none yet).
    public var alarms = 0
    public var byCode: [Int: Int] = [:]
    public var table: String {
        var s = "code  group         alarms  share   meaning\n"
        for code in byCode.keys.sorted() where code != 0 {
            let n = byCode[code]!
            s += pad(String(code), 6) + pad(Adjudication.group(code), 14) + pad(String(n), 8) + pad(percent(Double(n) / Double(max(1, alarms))), 8) + (Adjudication.codes[code] ?? "") + "\n"
        }
        let none = byCode[0] ?? 0
        s += pad("-", 6) + pad("none yet", 14) + pad(String(none), 8) + pad(percent(Double(none) / Double(max(1, alarms))), 8) + "not adjudicated\n"
        s += "alarms in all: \(alarms)\n"
        return s
    }
    public var csv: String {
        var s = "code,group,alarms,meaning\n"
        for code in byCode.keys.sorted() {
            s += code == 0 ? "," : "\(code),\(Adjudication.group(code)),"
            s += "\(byCode[code]!)," + (code == 0 ? "not adjudicated" : SharePackage.csv(Adjudication.codes[code] ?? "")) + "\n"
        }
        return s
    }
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s + String(repeating: " ", count: n - s.count) }
func percent(_ x: Double) -> String { String(format: "%.2f %%", x * 100) }

extension Database {
    /// The latest start record of `lane` at or before `wallUs` (and not before `notBeforeUs`).
    func latestStart(lane: String, atOrBeforeWallUs wallUs: Int64, notBeforeUs: Int64 = Int64.min) throws -> (epoch: UInt64, sequence: UInt64, wall: Int64, StartRecord)? {
        let s = try statement("""
            SELECT epoch, sequence, wall_us, frame FROM records WHERE lane = ? AND kind = 'start' AND wall_us <= ? AND wall_us >= ?
            ORDER BY wall_us DESC, sequence DESC LIMIT 1
            """)
        s.bind([lane, wallUs, notBeforeUs])
        guard try s.step(), case let .start(st)? = Database.decode(s.blob(3))?.1 else { return nil }
        return (UInt64(bitPattern: s.int(0)), UInt64(s.int(1)), s.int(2), st)
    }

    /// The engine's inputs of `lane` (samples, beam edges, starts) from (`epoch`, `sequence`)
    /// or the wall clock `fromWallUs` to `toWallUs`, in journal order, `chunk` frames at a time.
    func engineFrames(lane: String, fromWallUs: Int64, toWallUs: Int64, origin: (epoch: UInt64, sequence: UInt64)?, chunk: Int = 4_096,
                      _ body: ([(UInt64, Int64, [UInt8])]) throws -> Void) throws {
        let es = try statement("SELECT epoch FROM epochs WHERE lane = ? ORDER BY first_seen_us, epoch")
        es.bind([lane])
        var epochs: [UInt64] = []
        while try es.step() { epochs.append(UInt64(bitPattern: es.int(0))) }
        if let o = origin, let i = epochs.firstIndex(of: o.epoch) { epochs.removeFirst(i) }
        for epoch in epochs {
            var after: UInt64 = origin?.epoch == epoch ? origin!.sequence - 1 : 0
            while true {
                let rows = try recordFrames(lane: lane, kinds: [.samples, .beams, .start], fromWallUs: fromWallUs, toWallUs: toWallUs,
                                            epoch: epoch, afterSequence: after, limit: chunk)
                guard let last = rows.last else { break }
                after = last.1
                try body(rows.map { ($0.0, $0.2, $0.3) })
                if rows.count < chunk { break }
            }
        }
    }

    /// Alarmed occupancies of `lanes` (nil: every lane) decided in [fromUs, toUs), by the latest
    /// adjudication code of each (0: not adjudicated yet).
    public func adjudicationStats(lanes: Set<String>?, fromUs: Int64, toUs: Int64) throws -> AdjudicationStats {
        let s = try statement("""
            SELECT o.lane, o.epoch, o.sequence, a.code, a.entered_us FROM occupancies o
            LEFT JOIN adjudications a ON a.lane = o.lane AND a.epoch = o.epoch AND a.sequence = o.sequence
            WHERE o.wall_us >= ? AND o.wall_us < ? AND (o.gamma_alarm = 1 OR o.neutron_alarm = 1)
            ORDER BY o.lane, o.epoch, o.sequence, a.entered_us
            """)
        s.bind([fromUs, toUs])
        var latest: [String: Int] = [:]
        while try s.step() {
            let lane = s.text(0) ?? ""
            if let lanes, !lanes.contains(lane) { continue }
            latest["\(lane) \(s.int(1)) \(s.int(2))"] = s.isNull(3) ? 0 : Int(s.int(3))
        }
        var st = AdjudicationStats()
        st.alarms = latest.count
        for code in latest.values { st.byCode[code, default: 0] += 1 }
        return st
    }
}

public enum Study {
    /// Replays `lane`'s stored records of [fromUs, toUs) once per candidate (the shipped
    /// settings included), and reports rates, adjudications, backgrounds, faults and uptime.
    /// `boardPath`: the lane's board profile; its detection settings are then the base the
    /// candidates change, and the first row (`lane`).
    public static func run(db: Database, lane: String, fromUs: Int64, toUs: Int64, candidatesText: String, file: String,
                           boardPath: String? = nil) throws -> StudyReport {
        guard toUs > fromUs else { throw StudyError("the period is empty (--to must be after --from)") }
        let clock = Date()
        let dayUs: Int64 = 86_400_000_000
        let geometry = try db.latestStart(lane: lane, atOrBeforeWallUs: toUs)?.3
        var intervalMs = Int((geometry?.sampleIntervalUs ?? 100_000) / 1000)
        var base: (name: String, detection: YAMLSection?) = ("shipped", nil)
        var boardHash: UInt64? = nil
        if let boardPath {
            let board = try BoardProfile.load(path: boardPath)
            boardHash = Tunable.hash(TunableValues(engine: board.engine, sirenUs: board.sirenUs, alarmLightHoldUs: board.alarmLightHoldUs))
            intervalMs = Int(board.engine.sampleIntervalUs / 1000)
            let text = try String(contentsOfFile: boardPath, encoding: .utf8)
            base = ("lane", try YAMLSection.root(file: boardPath, text: text).section("detection", required: false)
                        ?? YAMLSection(file: boardPath, path: "detection", node: .mapping([:])))
        }
        let candidates = try StudyCandidate.parse(candidatesText, file: file, intervalMs: intervalMs, base: base)

        // Where the lane's engine last started before the period (within a day): from there the
        // replay's state is the lane's. Else a day of warm-up before the period.
        let origin = try db.latestStart(lane: lane, atOrBeforeWallUs: fromUs, notBeforeUs: fromUs - dayUs)
        let replayFrom = origin?.wall ?? fromUs - dayUs
        var runs = candidates.map { c in
            var r = StudyRun(detection: c.settings, fallback: geometry)
            r.shapeWindows = c.shapeWindows
            return r
        }
        var first = true
        var exact = origin != nil
        var samples = 0
        var panelCount = geometry?.panels ?? 0
        var present = [Int](repeating: 0, count: panelCountMax)
        var nominalUs: Int64 = geometry?.sampleIntervalUs ?? 100_000
        var sampledUs: Int64 = 0
        var hashes = Set<UInt64>()
        var replayStart = replayFrom

        try db.engineFrames(lane: lane, fromWallUs: replayFrom, toWallUs: toUs, origin: origin.map { ($0.epoch, $0.sequence) }) { rows in
            var events: [StudyEvent] = []
            events.reserveCapacity(rows.count * SampleBatch.samplesMax)
            for (epoch, wall, frame) in rows {
                guard let (_, r) = Database.decode(frame) else { continue }
                let inPeriod = wall >= fromUs
                switch r {
                case let .start(st):
                    if first { exact = true; replayStart = wall }
                    events.append(.start(st, epoch: epoch, wall: wall))
                    if inPeriod { hashes.insert(st.settingsHash) }
                    panelCount = st.panels
                    nominalUs = st.sampleIntervalUs
                case let .samples(b):
                    // Records without a start (format 3, or a lane that never sent one): the
                    // shipped geometry for the batch's panels.
                    if geometry == nil && runs[0].fallback == nil {
                        var e = EngineSettings()
                        e.splitPillars(panels: b.panels)
                        for i in runs.indices { runs[i].fallback = StartRecord(e, settingsHash: 0, background: nil) }
                    }
                    for k in 0..<b.count {
                        let s = b.sample(k)
                        events.append(.sample(s, flags: b.flags(sample: k), epoch: epoch, wall: wall))
                        if inPeriod {
                            samples += 1
                            sampledUs += min(s.intervalUs, 2 * nominalUs)
                            for p in 0..<b.panels where s.absentMask & (1 << UInt32(p)) == 0 { present[p] += 1 }
                        }
                    }
                    panelCount = max(panelCount, b.panels)
                case let .beams(bm):
                    for i in 0..<bm.count { events.append(.edge(bm[i], epoch: epoch, wall: wall)) }
                default: break
                }
                first = false
            }
            // The candidates replay side by side, one engine each.
            let slice = events[...]
            runs.withUnsafeMutableBufferPointer { buf in
                nonisolated(unsafe) let b = buf
                DispatchQueue.concurrentPerform(iterations: b.count) { i in b[i].feed(slice) }
            }
        }
        for i in runs.indices { runs[i].finish() }

        // The lane's own decisions (and their adjudications), keyed by epoch and start.
        struct LaneDecision { var wall: Int64; var alarm: Bool; var code: Int }
        var laneDecisions: [String: LaneDecision] = [:]
        let ls = try db.statement("""
            SELECT epoch, sequence, start_us, wall_us, gamma_alarm, neutron_alarm, norm_suspect FROM occupancies
            WHERE lane = ? AND wall_us >= ? AND wall_us < ?
            """)
        ls.bind([lane, replayFrom, toUs])
        var keyOfSequence: [String: String] = [:]
        var report = StudyReport(lane: lane, fromUs: fromUs, toUs: toUs, exact: exact, replayFromUs: replayStart,
                                 adjudicationStats: try db.adjudicationStats(lanes: [lane], fromUs: fromUs, toUs: toUs))
        while try ls.step() {
            let key = "\(UInt64(bitPattern: ls.int(0))) \(ls.int(2))"
            let alarm = ls.int(4) == 1 || ls.int(5) == 1
            laneDecisions[key] = LaneDecision(wall: ls.int(3), alarm: alarm, code: 0)
            keyOfSequence["\(ls.int(0)) \(ls.int(1))"] = key
            if ls.int(3) >= fromUs {
                report.lane_occupancies += 1
                if alarm { report.lane_alarms += 1 }
                if ls.int(6) == 1 { report.lane_normSuspect += 1 }
            }
        }
        let adj = try db.statement("SELECT epoch, sequence, code FROM adjudications WHERE lane = ? ORDER BY entered_us")
        adj.bind([lane])
        while try adj.step() {
            if let key = keyOfSequence["\(adj.int(0)) \(adj.int(1))"] { laneDecisions[key]!.code = Int(adj.int(2)) }
        }

        for (c, run) in zip(candidates, runs) {
            var row = StudyReport.CandidateRow(name: c.name, changes: c.changes)
            row.problem = run.problem
            for d in run.decisions {
                let mine = laneDecisions["\(d.epoch) \(d.startUs)"]
                let wall = mine?.wall ?? d.wall
                guard wall >= fromUs && wall < toUs else { continue }
                row.occupancies += 1
                let alarm = d.gamma || d.neutron
                if let mine {
                    row.matched += 1
                    if mine.alarm == alarm { row.agreeing += 1 }
                }
                if d.norm { row.normSuspect += 1 }
                if d.notScreened { row.notScreened += 1 }
                guard alarm else { continue }
                row.alarms += 1
                if d.gamma { row.gamma += 1 }
                if d.neutron { row.neutron += 1 }
                let code = mine?.code ?? 0
                row.byCode[code, default: 0] += 1
                if code != 0 { row.adjudicated += 1 }
                if code == 4 { row.adjudicatedNORM += 1 }
            }
            report.candidates.append(row)
        }

        // Per panel: the lane's background records, its faults, its uptime.
        let days = Int((toUs - fromUs + dayUs - 1) / dayUs)
        var panels = (0..<panelCount).map { StudyReport.PanelRow(panel: $0, gammaCpsByDay: Array(repeating: nil, count: days)) }
        var gSum = [Double](repeating: 0, count: panelCount), nSum = gSum, count = 0
        var daySum = Array(repeating: [Double](repeating: 0, count: days), count: panelCount), dayCount = [Int](repeating: 0, count: days)
        for (_, _, wall, frame) in try db.recordFrames(lane: lane, kinds: [.background], fromWallUs: fromUs, toWallUs: toUs) {
            // The record of a background not learned yet (the first minute after a start) is zeros.
            guard case let .background(b)? = Database.decode(frame)?.1, (0..<b.panels).contains(where: { b.gammaQ16[$0] != 0 }) else { continue }
            let perS = 1e6 / Double(nominalUs) / 65_536
            let day = Int((wall - fromUs) / dayUs)
            count += 1
            dayCount[day] += 1
            for p in 0..<min(b.panels, panelCount) {
                let g = Double(b.gammaQ16[p]) * perS, n = Double(b.neutronQ16[p]) * perS
                gSum[p] += g; nSum[p] += n; daySum[p][day] += g
                if count == 1 { panels[p].gammaCps = (0, g, g); panels[p].neutronCps = (0, n, n) }
                panels[p].gammaCps.min = min(panels[p].gammaCps.min, g); panels[p].gammaCps.max = max(panels[p].gammaCps.max, g)
                panels[p].neutronCps.min = min(panels[p].neutronCps.min, n); panels[p].neutronCps.max = max(panels[p].neutronCps.max, n)
            }
        }
        let periodUs = Double(toUs - fromUs)
        for p in 0..<panelCount {
            if count > 0 { panels[p].gammaCps.mean = gSum[p] / Double(count); panels[p].neutronCps.mean = nSum[p] / Double(count) }
            for d in 0..<days where dayCount[d] > 0 { panels[p].gammaCpsByDay[d] = daySum[p][d] / Double(dayCount[d]) }
            panels[p].uptime = Double(present[p]) * Double(nominalUs) / periodUs
        }
        // Faults: raises in the period, and time active in it (from a day before, to see those
        // already active at its start).
        var active: [String: Int64] = [:]
        var laneFaults: [String: (raises: Int, hours: Double)] = [:]
        func add(_ panel: UInt8, _ name: String, raises: Int, us: Int64) {
            let h = Double(max(0, us)) / 3.6e9
            if panel == 255 {
                laneFaults[name, default: (0, 0)].raises += raises; laneFaults[name, default: (0, 0)].hours += h
            } else if Int(panel) < panelCount {
                panels[Int(panel)].faults[name, default: (0, 0)].raises += raises; panels[Int(panel)].faults[name, default: (0, 0)].hours += h
            }
        }
        for (_, _, wall, frame) in try db.recordFrames(lane: lane, kinds: [.fault], fromWallUs: fromUs - dayUs, toWallUs: toUs) {
            guard case let .fault(f)? = Database.decode(frame)?.1 else { continue }
            for bit in 0..<Faults.bitCount where f.changed & (1 << UInt32(bit)) != 0 {
                let name = Faults.name(bit: bit).description
                let key = "\(f.panel) \(name)"
                if f.bits & (1 << UInt32(bit)) != 0 {
                    if active[key] == nil { active[key] = wall }
                    if wall >= fromUs { add(f.panel, name, raises: 1, us: 0) }
                } else if let since = active.removeValue(forKey: key) {
                    add(f.panel, name, raises: 0, us: min(wall, toUs) - max(since, fromUs))
                }
            }
        }
        for (key, since) in active {
            let parts = key.split(separator: " ", maxSplits: 1)
            add(UInt8(parts[0])!, String(parts[1]), raises: 0, us: toUs - max(since, fromUs))
        }
        for (_, _, _, frame) in try db.recordFrames(lane: lane, kinds: [.heartbeat], fromWallUs: fromUs, toWallUs: toUs) {
            if case let .heartbeat(h)? = Database.decode(frame)?.1, h.settingsHash != 0 { hashes.insert(h.settingsHash) }
        }
        report.panels = panels
        report.laneFaults = laneFaults
        report.laneUptime = Double(sampledUs) / periodUs
        report.laneSettingsHashes = hashes
        report.boardSettingsHash = boardHash
        report.samples = samples
        report.seconds = Date().timeIntervalSince(clock)
        return report
    }
}

extension StudyReport {
    static func day(_ us: Int64) -> String { String(SharePackage.iso(us).prefix(10)) }

    /// The tables, as printed.
    public var text: String {
        var s = "Threshold study of \(lane), \(SharePackage.iso(fromUs)) to \(SharePackage.iso(toUs)) (\(String(format: "%.1f", Double(toUs - fromUs) / 3.6e9)) h)\n"
        s += exact ? "Replayed from the lane's engine start at \(SharePackage.iso(replayFromUs)): the replay's state is the lane's throughout.\n"
                   : "No engine start within a day before the period: the replay warmed up from \(SharePackage.iso(replayFromUs)); the first decisions may differ from the lane's.\n"
        s += "\(samples) samples replayed in \(String(format: "%.1f", seconds)) s.\n"
        if laneSettingsHashes.count > 1 { s += "The lane's running settings changed during the period (\(laneSettingsHashes.count) different settings): its own rate mixes them.\n" }
        if let h = boardSettingsHash {
            s += laneSettingsHashes == [h] ? "The lane ran its board profile's settings throughout (settings hash \(String(h, radix: 16))).\n"
                : "The lane did not run exactly the board profile's settings (its settings hash \(laneSettingsHashes.map { String($0, radix: 16) }.sorted().joined(separator: ", ")), the profile's \(String(h, radix: 16))): row 'lane' is the profile's.\n"
        }
        s += "\nThe lane decided \(lane_occupancies) occupancies: \(lane_alarms) alarms (\(percent(Double(lane_alarms) / Double(max(1, lane_occupancies))))), "
        s += "\(lane_normSuspect) NORM suspected.\n\n"
        s += pad("candidate", 16) + pad("occupancies", 12) + pad("alarms", 7) + pad("rate", 9) + pad("gamma", 6) + pad("neutron", 8)
        s += pad("NORM-suspect", 13) + pad("unscreened", 11) + pad("adjudicated", 12) + pad("NORM (4)", 9) + pad("NORM share", 11) + "same verdict as the lane\n"
        for c in candidates {
            if let p = c.problem { s += pad(c.name, 16) + "not replayed: \(p)\n"; continue }
            s += pad(c.name, 16) + pad(String(c.occupancies), 12) + pad(String(c.alarms), 7) + pad(percent(c.alarmRate), 9) + pad(String(c.gamma), 6)
            s += pad(String(c.neutron), 8) + pad(percent(c.normSuspectRate), 13) + pad(String(c.notScreened), 11) + pad(String(c.adjudicated), 12)
            s += pad(String(c.adjudicatedNORM), 9) + pad(c.normShare.map(percent) ?? "-", 11) + "\(c.agreeing) of \(c.matched)\n"
        }
        s += "\n" + candidates.map { "  \($0.name): \($0.changes)" }.joined(separator: "\n") + "\n\n"
        s += pad("panel", 7) + pad("gamma cps mean (min-max)", 27) + pad("neutron cps mean (min-max)", 28) + pad("uptime", 10) + "faults (raises, hours active)\n"
        for p in panels {
            s += pad(String(p.panel + 1), 7) + pad(String(format: "%.1f (%.1f-%.1f)", p.gammaCps.mean, p.gammaCps.min, p.gammaCps.max), 27)
            s += pad(String(format: "%.2f (%.2f-%.2f)", p.neutronCps.mean, p.neutronCps.min, p.neutronCps.max), 28) + pad(percent(p.uptime), 10)
            s += (p.faults.isEmpty ? "none" : p.faults.keys.sorted().map { "\($0) \(p.faults[$0]!.raises), \(String(format: "%.1f", p.faults[$0]!.hours)) h" }.joined(separator: "; ")) + "\n"
        }
        s += "lane   engine running \(percent(laneUptime)) of the period; lane faults: "
        s += (laneFaults.isEmpty ? "none" : laneFaults.keys.sorted().map { "\($0) \(laneFaults[$0]!.raises), \(String(format: "%.1f", laneFaults[$0]!.hours)) h" }.joined(separator: "; ")) + "\n"
        s += "\nThe lane's alarms by adjudication (latest per occupancy):\n" + adjudicationStats.table
        return s
    }

    public var candidatesCSV: String {
        var s = "candidate,changes,occupancies,alarms,alarm_rate,gamma,neutron,norm_suspect,norm_suspect_rate,not_screened,adjudicated,adjudicated_norm,norm_share,matched,same_verdict\n"
        for c in candidates {
            s += "\(SharePackage.csv(c.name)),\(SharePackage.csv(c.changes)),\(c.occupancies),\(c.alarms),\(String(format: "%.6f", c.alarmRate)),\(c.gamma),\(c.neutron),"
            s += "\(c.normSuspect),\(String(format: "%.6f", c.normSuspectRate)),\(c.notScreened),\(c.adjudicated),\(c.adjudicatedNORM),"
            s += "\(c.normShare.map { String(format: "%.6f", $0) } ?? ""),\(c.matched),\(c.agreeing)\n"
        }
        return s
    }

    public var panelsCSV: String {
        var s = "panel,gamma_cps_mean,gamma_cps_min,gamma_cps_max,neutron_cps_mean,neutron_cps_min,neutron_cps_max,uptime,faults\n"
        for p in panels {
            s += "\(p.panel + 1),\(String(format: "%.3f,%.3f,%.3f,%.4f,%.4f,%.4f,%.6f", p.gammaCps.mean, p.gammaCps.min, p.gammaCps.max, p.neutronCps.mean, p.neutronCps.min, p.neutronCps.max, p.uptime)),"
            s += SharePackage.csv(p.faults.keys.sorted().map { "\($0) \(p.faults[$0]!.raises)x \(String(format: "%.2f", p.faults[$0]!.hours))h" }.joined(separator: "; ")) + "\n"
        }
        return s
    }

    /// Each panel's gamma background per day, as SVG.
    public var backgroundSVG: String {
        let w = 760.0, h = 260.0, left = 60.0, top = 40.0
        let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"]
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w + left + 100))\" height=\"\(Int(h + top + 60))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"10\" y=\"20\" font-size=\"14\">\(lane): gamma background per panel, daily mean (counts/s), \(Self.day(fromUs)) to \(Self.day(toUs))</text>\n"
        let maxV = max(1, panels.flatMap { $0.gammaCpsByDay.compactMap { $0 } }.max() ?? 1) * 1.15
        let days = max(1, panels.first?.gammaCpsByDay.count ?? 1)
        s += ProfilePlot.axes(left, top, w, h, maxV, "counts per second")
        for p in panels {
            let pts = p.gammaCpsByDay.enumerated().compactMap { d, v in v.map { "\(left + (Double(d) + 0.5) / Double(days) * w),\(top + h - $0 / maxV * h)" } }
            s += "<polyline fill=\"none\" stroke=\"\(colors[p.panel % colors.count])\" stroke-width=\"1.5\" points=\"\(pts.joined(separator: " "))\"/>\n"
            s += "<text x=\"\(left + w + 5)\" y=\"\(top + 12 + Double(p.panel) * 14)\" fill=\"\(colors[p.panel % colors.count])\">panel \(p.panel + 1)</text>\n"
        }
        s += "<text x=\"\(left)\" y=\"\(top + h + 24)\">day 1 to \(days)</text>\n"
        return s + "</svg>\n"
    }

    /// The candidates' alarm rates (and the lane's own), as SVG bars.
    public var alarmsSVG: String {
        let rows = [("lane (as decided)", Double(lane_alarms) / Double(max(1, lane_occupancies)))] + candidates.map { ($0.name, $0.alarmRate) }
        let barH = 22.0, left = 150.0, w = 560.0, top = 40.0
        let maxV = max(0.0001, rows.map(\.1).max() ?? 0) * 1.1
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + w + 120))\" height=\"\(Int(top + Double(rows.count) * (barH + 8) + 30))\" font-family=\"sans-serif\" font-size=\"11\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"10\" y=\"20\" font-size=\"14\">\(lane): alarms per occupancy, \(Self.day(fromUs)) to \(Self.day(toUs))</text>\n"
        for (i, (name, v)) in rows.enumerated() {
            let y = top + Double(i) * (barH + 8)
            s += "<text x=\"\(left - 6)\" y=\"\(y + 15)\" text-anchor=\"end\">\(N42Export.xml(name))</text>\n"
            s += "<rect x=\"\(left)\" y=\"\(y)\" width=\"\(v / maxV * w)\" height=\"\(barH)\" fill=\"\(i == 0 ? "#7f7f7f" : "#d62728")\"/>\n"
            s += "<text x=\"\(left + v / maxV * w + 6)\" y=\"\(y + 15)\">\(percent(v))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// Everything, as JSON.
    public var json: String {
        func obj(_ f: [String: (raises: Int, hours: Double)]) -> String {
            "{" + f.keys.sorted().map { "\"\($0)\":{\"raises\":\(f[$0]!.raises),\"hours\":\(String(format: "%.3f", f[$0]!.hours))}" }.joined(separator: ",") + "}"
        }
        var s = "{\"lane\":\(jsonString(lane)),\"from\":\"\(SharePackage.iso(fromUs))\",\"to\":\"\(SharePackage.iso(toUs))\",\"exact\":\(exact),"
        s += "\"replayFrom\":\"\(SharePackage.iso(replayFromUs))\",\"samples\":\(samples),\"seconds\":\(String(format: "%.2f", seconds)),"
        s += "\"decidedByLane\":{\"occupancies\":\(lane_occupancies),\"alarms\":\(lane_alarms),\"normSuspect\":\(lane_normSuspect),\"uptime\":\(String(format: "%.6f", laneUptime)),\"faults\":\(obj(laneFaults)),\"settings\":\(laneSettingsHashes.count)\(boardSettingsHash.map { ",\"ranBoardProfile\":\(laneSettingsHashes == [$0])" } ?? "")},"
        s += "\"candidates\":[" + candidates.map { c in
            "{\"name\":\(jsonString(c.name)),\"changes\":\(jsonString(c.changes)),\"occupancies\":\(c.occupancies),\"alarms\":\(c.alarms),\"alarmRate\":\(String(format: "%.6f", c.alarmRate)),"
                + "\"gamma\":\(c.gamma),\"neutron\":\(c.neutron),\"normSuspect\":\(c.normSuspect),\"notScreened\":\(c.notScreened),\"adjudicated\":\(c.adjudicated),"
                + "\"adjudicatedNORM\":\(c.adjudicatedNORM),\"matched\":\(c.matched),\"sameVerdict\":\(c.agreeing)"
                + (c.problem.map { ",\"problem\":\(jsonString($0))" } ?? "") + ",\"byCode\":{" + c.byCode.keys.sorted().map { "\"\($0)\":\(c.byCode[$0]!)" }.joined(separator: ",") + "}}"
        }.joined(separator: ",") + "],"
        s += "\"panels\":[" + panels.map { p in
            "{\"panel\":\(p.panel + 1),\"gammaCpsMean\":\(String(format: "%.3f", p.gammaCps.mean)),\"neutronCpsMean\":\(String(format: "%.4f", p.neutronCps.mean)),"
                + "\"uptime\":\(String(format: "%.6f", p.uptime)),\"faults\":\(obj(p.faults))}"
        }.joined(separator: ",") + "],"
        s += "\"adjudications\":{\"alarms\":\(adjudicationStats.alarms),\"byCode\":{" + adjudicationStats.byCode.keys.sorted().map { "\"\($0)\":\(adjudicationStats.byCode[$0]!)" }.joined(separator: ",") + "}}}"
        return s
    }

    /// Writes report.txt, study.json, candidates.csv, panels.csv, adjudications.csv and the two plots into `dir`.
    public func write(to dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, body) in [("report.txt", text), ("study.json", json + "\n"), ("candidates.csv", candidatesCSV), ("panels.csv", panelsCSV),
                             ("adjudications.csv", adjudicationStats.csv), ("background.svg", backgroundSVG), ("alarms.svg", alarmsSVG)] {
            try Data(body.utf8).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
    }
}
