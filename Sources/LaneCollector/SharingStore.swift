// The store's side of sharing (docs/SHARING.md): the terminal's cargo manifest, the sharing
// ledger, the alarms' adjudications, and record frames by lane, kind and time.

import Foundation
import LaneCore
import LaneTrace

extension Database {
    /// The sharing tables, on both engines (made on every open: IF NOT EXISTS).
    func createSharingTables() throws {
        try exec("""
            CREATE TABLE IF NOT EXISTS cargo_manifest (
                container TEXT PRIMARY KEY, destination_port TEXT NOT NULL, destination_country TEXT NOT NULL,
                vessel TEXT NOT NULL, voyage TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS sharing_ledger (
                id TEXT PRIMARY KEY, made_us BIGINT NOT NULL, direction TEXT NOT NULL, party TEXT NOT NULL, purpose TEXT NOT NULL,
                policy_sha256 TEXT NOT NULL, from_us BIGINT NOT NULL, to_us BIGINT NOT NULL, files BIGINT NOT NULL, path TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS adjudications (
                lane TEXT NOT NULL, epoch BIGINT NOT NULL, sequence BIGINT NOT NULL, occupancy BIGINT NOT NULL, entered_us BIGINT NOT NULL,
                code INTEGER NOT NULL, state TEXT NOT NULL, isotopes TEXT NOT NULL, vehicle TEXT NOT NULL, notes TEXT NOT NULL, by_user TEXT NOT NULL,
                PRIMARY KEY (lane, epoch, sequence, entered_us));
            """)
    }

    // MARK: the cargo manifest

    /// Adds (or replaces) the manifest's entries; returns how many.
    public func importManifest(_ entries: [CargoManifest.Entry]) throws -> Int {
        try exec(flavor == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN")
        do {
            for e in entries {
                let s = try statement("""
                    INSERT INTO cargo_manifest (container, destination_port, destination_country, vessel, voyage) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (container) DO UPDATE SET destination_port = excluded.destination_port, destination_country = excluded.destination_country,
                        vessel = excluded.vessel, voyage = excluded.voyage
                    """)
                s.bind([e.container, e.port, e.country, e.vessel, e.voyage])
                _ = try s.step()
            }
            try exec("COMMIT")
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
        return entries.count
    }

    public func cargoManifest() throws -> [String: CargoManifest.Entry] {
        let s = try statement("SELECT container, destination_port, destination_country, vessel, voyage FROM cargo_manifest")
        s.bind([])
        var out: [String: CargoManifest.Entry] = [:]
        while try s.step() {
            let c = s.text(0) ?? ""
            out[c] = CargoManifest.Entry(container: c, port: s.text(1) ?? "", country: s.text(2) ?? "", vessel: s.text(3) ?? "", voyage: s.text(4) ?? "")
        }
        return out
    }

    // MARK: frames

    /// Every stored frame of `lane` of the given kinds whose record's wall clock lies in
    /// [fromWallUs, toWallUs) (and, when given, of one epoch, after a sequence, and a monotonic
    /// span), in sequence order, at most `limit`: (epoch, sequence, wall clock, frame).
    public func recordFrames(lane: String, kinds: [RecordKind], fromWallUs: Int64 = Int64.min, toWallUs: Int64 = Int64.max,
                             epoch: UInt64? = nil, afterSequence: UInt64 = 0, limit: Int? = nil,
                             fromMonoUs: Int64 = Int64.min, toMonoUs: Int64 = Int64.max) throws -> [(UInt64, UInt64, Int64, [UInt8])] {
        let inRecords = flavor == .postgres ? kinds.filter { $0 != .samples } : kinds
        var parts: [String] = []
        var args: [Any?] = []
        let epochClause = epoch == nil ? "" : " AND epoch = ?"
        func add(_ table: String, _ kindClause: String) {
            parts.append("SELECT epoch, sequence, wall_us, frame FROM \(table) WHERE lane = ?\(kindClause) AND wall_us >= ? AND wall_us < ? AND monotonic_us >= ? AND monotonic_us < ? AND sequence > ?\(epochClause)")
            args += [lane, fromWallUs, toWallUs, fromMonoUs, toMonoUs, Int64(afterSequence)]
            if let epoch { args.append(Int64(bitPattern: epoch)) }
        }
        if !inRecords.isEmpty { add("records", " AND kind IN (" + inRecords.map { "'\($0.name)'" }.joined(separator: ",") + ")") }
        if flavor == .postgres && kinds.contains(.samples) { add("sample_frames", "") }
        guard !parts.isEmpty else { return [] }
        let s = try statement(parts.joined(separator: " UNION ALL ") + " ORDER BY epoch, sequence" + (limit.map { " LIMIT \($0)" } ?? ""))
        s.bind(args)
        var out: [(UInt64, UInt64, Int64, [UInt8])] = []
        while try s.step() { out.append((UInt64(bitPattern: s.int(0)), UInt64(s.int(1)), s.int(2), s.blob(3))) }
        return out
    }

    /// One occupancy by its record's key: the decision, its wall clock, its samples (of the
    /// same journal epoch), the panel count.
    public func occupancy(lane: String, epoch: UInt64, sequence: UInt64) throws -> (Decision, Int64, [LaneSample], Int)? {
        try occupancyWithWindows(lane: lane, epoch: epoch, sequence: sequence).map { ($0.0, $0.1, $0.2, $0.3) }
    }

    /// The same, and on a lane with multi-window panels the boundaries each panel counted its
    /// windows with (the journal's latest `windows` record before the occupancy's end; nil: none).
    public func occupancyWithWindows(lane: String, epoch: UInt64, sequence: UInt64) throws -> (Decision, Int64, [LaneSample], Int, WindowsRecord?)? {
        let s = try statement("SELECT frame, wall_us FROM records WHERE lane = ? AND epoch = ? AND sequence = ?")
        s.bind([lane, Int64(bitPattern: epoch), sequence])
        guard try s.step(), case let .occupancy(d)? = Database.decode(s.blob(0))?.1 else { return nil }
        let wall = s.int(1)
        var samples: [LaneSample] = []
        var panels = 0
        for (_, _, _, frame) in try recordFrames(lane: lane, kinds: [.samples], epoch: epoch, fromMonoUs: d.startUs - 3_000_000, toMonoUs: d.endUs + 1) {
            guard case let .samples(b)? = Database.decode(frame)?.1 else { continue }
            panels = b.panels
            for k in 0..<b.count {
                let sample = b.sample(k)
                guard sample.tUs > d.startUs && sample.tUs <= d.endUs + sample.intervalUs else { continue }
                samples.append(sample)
            }
        }
        var windows: WindowsRecord? = nil
        for (_, _, _, frame) in try recordFrames(lane: lane, kinds: [.windows], epoch: epoch, toMonoUs: d.endUs + 1) {
            if case let .windows(w)? = Database.decode(frame)?.1 { windows = w }
        }
        return (d, wall, samples, panels, windows)
    }

    // MARK: the sharing ledger

    public func ledgerAdd(id: String, madeUs: Int64, direction: String, party: String, purpose: String, policySha256: String,
                          fromUs: Int64, toUs: Int64, files: Int, path: String) throws {
        let s = try statement("""
            INSERT INTO sharing_ledger (id, made_us, direction, party, purpose, policy_sha256, from_us, to_us, files, path)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
            """)
        s.bind([id, madeUs, direction, party, purpose, policySha256, fromUs, toUs, files, path])
        _ = try s.step()
    }

    /// The ledger as JSON lines, oldest first.
    public func ledger() throws -> [String] {
        let s = try statement("SELECT id, made_us, direction, party, purpose, policy_sha256, from_us, to_us, files, path FROM sharing_ledger ORDER BY made_us, id")
        s.bind([])
        var out: [String] = []
        while try s.step() {
            out.append("{\"package\":\"\(s.text(0) ?? "")\",\"made\":\"\(SharePackage.iso(s.int(1)))\",\"direction\":\"\(s.text(2) ?? "")\",\"party\":\(jsonString(s.text(3) ?? "")),"
                + "\"purpose\":\(jsonString(s.text(4) ?? "")),\"policySha256\":\"\(s.text(5) ?? "")\",\"from\":\"\(SharePackage.iso(s.int(6)))\",\"to\":\"\(SharePackage.iso(s.int(7)))\","
                + "\"files\":\(s.int(8)),\"path\":\(jsonString(s.text(9) ?? ""))}")
        }
        return out
    }

    // MARK: adjudications

    public func adjudicationsCSV(lanes: Set<String>, fromUs: Int64, toUs: Int64, shared: Set<String>) throws -> String {
        let s = try statement("""
            SELECT a.lane, a.epoch, a.sequence, a.occupancy, a.entered_us, a.code, a.state, a.isotopes, a.vehicle, a.notes, o.start_us
            FROM adjudications a JOIN occupancies o ON o.lane = a.lane AND o.epoch = a.epoch AND o.sequence = a.sequence
            WHERE o.wall_us >= ? AND o.wall_us < ? ORDER BY a.lane, a.epoch, a.sequence, a.entered_us
            """)
        s.bind([fromUs, toUs])
        var text = "lane,epoch,sequence,occupancy,entered,code,code_group,state,isotopes,vehicle,notes\n"
        while try s.step() {
            let lane = s.text(0) ?? ""
            let epoch = UInt64(bitPattern: s.int(1))
            guard lanes.contains(lane), shared.contains("\(lane) \(epoch) \(s.int(3)) \(s.int(10))") else { continue }
            let code = Int(s.int(5))
            text += "\(SharePackage.csv(lane)),\(epochHex(epoch)),\(s.int(2)),\(s.int(3)),\(SharePackage.iso(s.int(4))),\(code),\(Adjudication.group(code)),"
                + "\(s.text(6) ?? ""),\(SharePackage.csv(s.text(7) ?? "")),\(SharePackage.csv(s.text(8) ?? "")),\(SharePackage.csv(s.text(9) ?? ""))\n"
        }
        return text
    }
}

/// The outcome of the secondary inspection that follows an alarm, in the codes alarm stations
/// use (OpenSensorHub OSCAR's, grouped).
public enum Adjudication {
    public static let codes: [Int: String] = [
        1: "real alarm: contraband found", 2: "real alarm: other",
        3: "innocent alarm: medical isotope found", 4: "innocent alarm: NORM found", 5: "innocent alarm: declared shipment of radioactive material",
        6: "false alarm: physical inspection negative", 7: "false alarm: RIID/ASP indicates background only", 8: "false alarm: other",
        9: "authorized test, maintenance or training", 10: "unauthorized activity", 11: "other",
    ]
    public static func group(_ code: Int) -> String {
        switch code {
        case 1...2: return "real"
        case 3...5: return "innocent"
        case 6...8: return "false"
        case 9: return "test"
        case 10: return "unauthorized"
        default: return "other"
        }
    }
    public static let states = ["none", "requested", "completed"]
}

extension Database {
    /// Records one adjudication of the latest occupancy `number` of `lane` (a later one adds a
    /// record; none is ever rewritten). Returns the occupancy's epoch and sequence.
    @discardableResult
    public func adjudicate(lane: String, number: UInt32, code: Int, state: String, isotopes: String, vehicle: String, notes: String, by: String,
                           nowUs: Int64 = wallClockMicros()) throws -> (UInt64, UInt64) {
        guard Adjudication.codes[code] != nil else { throw ShareError("code \(code) is not one of 1-11 (\(Adjudication.codes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: "; ")))") }
        guard Adjudication.states.contains(state) else { throw ShareError("state '\(state)' is not one of: \(Adjudication.states.joined(separator: ", "))") }
        guard !by.isEmpty else { throw ShareError("who adjudicated (--by) is required") }
        let s = try statement("SELECT epoch, sequence FROM occupancies WHERE lane = ? AND occupancy = ? ORDER BY wall_us DESC, sequence DESC LIMIT 1")
        s.bind([lane, Int64(number)])
        guard try s.step() else { throw ShareError("\(lane): no occupancy \(number) in \(path)") }
        let epoch = s.int(0), seq = s.int(1)
        let add = try statement("""
            INSERT INTO adjudications (lane, epoch, sequence, occupancy, entered_us, code, state, isotopes, vehicle, notes, by_user)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        add.bind([lane, epoch, seq, Int64(number), nowUs, code, state, isotopes, vehicle, notes, by])
        _ = try add.step()
        return (UInt64(bitPattern: epoch), UInt64(seq))
    }
}
