// The collector's store: SQLite, an embedded file, no server. Every record is kept as its
// frame (what the lane sent, bit for bit), with indexes for the queries people make; occupancy
// decisions are also unpacked into columns. Sequences are checked per lane: gaps are recorded
// (and closed when a late record fills them), duplicates dropped and counted.

import CSQLite
import Foundation
import LaneCore
import LaneTrace

public struct CollectorError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

public final class Database {
    let db: OpaquePointer
    public let path: String

    /// The schema's version (`PRAGMA user_version`): 2 keys records by lane, epoch and
    /// sequence; 3 keeps each record's seal (docs/SECURITY.md); 4 keeps the OCR's late and
    /// unmatched reads and which amendment a decision carries (docs/OCR.md). Older stores are
    /// migrated on open (a version-1 store's records under epoch 0, unsealed).
    public static let schemaVersion = 4

    public init(path: String) throws {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil) == SQLITE_OK, let handle else {
            throw CollectorError("\(path): cannot open the database")
        }
        db = handle
        self.path = path
        sqlite3_busy_timeout(db, 5_000)
        try exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
        let version = try scalar("PRAGMA user_version")
        let hasRecords = try scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'records'") > 0
        if version == 0 && hasRecords {
            try exec("""
                BEGIN IMMEDIATE;
                ALTER TABLE records RENAME TO records_v1; ALTER TABLE occupancies RENAME TO occupancies_v1;
                ALTER TABLE lanes RENAME TO lanes_v1; ALTER TABLE gaps RENAME TO gaps_v1;
                DROP INDEX IF EXISTS records_kind_time; DROP INDEX IF EXISTS occupancies_time; DROP INDEX IF EXISTS occupancies_alarm;
                """)
            do {
                try createSchema()
                try exec("""
                    INSERT INTO records SELECT lane, 0, sequence, kind, monotonic_us, wall_us, frame, NULL FROM records_v1;
                    INSERT INTO occupancies SELECT lane, 0, sequence, occupancy, start_us, end_us, wall_us, speed_mps,
                        gamma_alarm, neutron_alarm, norm_suspect, container, decision, NULL FROM occupancies_v1;
                    INSERT INTO epochs SELECT lane, 0, 0, contiguous_through, highest, duplicates, records, 0 FROM lanes_v1;
                    INSERT INTO gaps SELECT lane, 0, first, last, NULL FROM gaps_v1;
                    DROP TABLE records_v1; DROP TABLE occupancies_v1; DROP TABLE lanes_v1; DROP TABLE gaps_v1;
                    PRAGMA user_version = 4;
                    COMMIT;
                    """)
            } catch {
                try? exec("ROLLBACK")
                throw CollectorError("\(path): cannot migrate the store to schema 4: \(error)")
            }
        } else if version == 2 || version == 3 {
            try exec("BEGIN IMMEDIATE;" + (version == 2 ? " ALTER TABLE records ADD COLUMN seal BLOB;" : "")
                     + " ALTER TABLE occupancies ADD COLUMN ocr_amended_by INTEGER;")
            do {
                try createSchema()
                try exec("PRAGMA user_version = 4; COMMIT;")
            } catch {
                try? exec("ROLLBACK")
                throw CollectorError("\(path): cannot migrate the store to schema 4: \(error)")
            }
        } else if version > Self.schemaVersion {
            throw CollectorError("\(path): schema \(version) is newer than this collector's (\(Self.schemaVersion))")
        } else {
            try createSchema()
            try exec("PRAGMA user_version = 4")
        }
    }

    func createSchema() throws {
        try exec("""
            CREATE TABLE IF NOT EXISTS records (
                lane TEXT NOT NULL, epoch INTEGER NOT NULL, sequence INTEGER NOT NULL, kind TEXT NOT NULL,
                monotonic_us INTEGER NOT NULL, wall_us INTEGER NOT NULL, frame BLOB NOT NULL, seal BLOB,
                PRIMARY KEY (lane, epoch, sequence));
            CREATE INDEX IF NOT EXISTS records_kind_time_e ON records (lane, kind, monotonic_us);
            CREATE TABLE IF NOT EXISTS occupancies (
                lane TEXT NOT NULL, epoch INTEGER NOT NULL, sequence INTEGER NOT NULL, occupancy INTEGER NOT NULL,
                start_us INTEGER NOT NULL, end_us INTEGER NOT NULL, wall_us INTEGER NOT NULL,
                speed_mps REAL, gamma_alarm INTEGER NOT NULL, neutron_alarm INTEGER NOT NULL,
                norm_suspect INTEGER NOT NULL, container TEXT, decision TEXT NOT NULL, ocr_amended_by INTEGER,
                PRIMARY KEY (lane, epoch, sequence));
            CREATE INDEX IF NOT EXISTS occupancies_time_e ON occupancies (lane, wall_us);
            CREATE INDEX IF NOT EXISTS occupancies_alarm_e ON occupancies (gamma_alarm, neutron_alarm, wall_us);
            CREATE TABLE IF NOT EXISTS epochs (
                lane TEXT NOT NULL, epoch INTEGER NOT NULL, first_seen_us INTEGER NOT NULL,
                contiguous_through INTEGER NOT NULL, highest INTEGER NOT NULL,
                duplicates INTEGER NOT NULL, records INTEGER NOT NULL, dropped_before_journal INTEGER NOT NULL,
                PRIMARY KEY (lane, epoch));
            CREATE TABLE IF NOT EXISTS ocr_reads (
                lane TEXT NOT NULL, epoch INTEGER NOT NULL, sequence INTEGER NOT NULL, wall_us INTEGER NOT NULL,
                occupancy INTEGER NOT NULL, occupancy_start_us INTEGER NOT NULL, amendment INTEGER NOT NULL,
                containers TEXT NOT NULL, suspect INTEGER NOT NULL, read_wall_us INTEGER NOT NULL,
                PRIMARY KEY (lane, epoch, sequence));
            CREATE INDEX IF NOT EXISTS ocr_reads_occupancy ON ocr_reads (lane, epoch, occupancy, occupancy_start_us);
            CREATE TABLE IF NOT EXISTS gaps (
                lane TEXT NOT NULL, epoch INTEGER NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,
                cause TEXT, PRIMARY KEY (lane, epoch, first));
            """)
    }

    func scalar(_ sql: String) throws -> Int64 {
        let s = try statement(sql)
        s.bind([])
        return try s.step() ? s.int(0) : 0
    }

    deinit { sqlite3_close_v2(db) }

    func exec(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(db, sql, nil, nil, &err) == SQLITE_OK else {
            let m = err.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(err)
            throw CollectorError("\(path): \(m)")
        }
    }

    /// A prepared statement with positional bindings.
    final class Statement {
        let stmt: OpaquePointer
        init(_ db: OpaquePointer, _ sql: String) throws {
            var s: OpaquePointer?
            guard sqlite3_prepare_v2(db, sql, -1, &s, nil) == SQLITE_OK, let s else {
                throw CollectorError("SQL: \(String(cString: sqlite3_errmsg(db)))")
            }
            stmt = s
        }
        deinit { sqlite3_finalize(stmt) }
        func bind(_ values: [Any?]) {
            sqlite3_reset(stmt)
            sqlite3_clear_bindings(stmt)
            for (i, v) in values.enumerated() {
                let k = Int32(i + 1)
                switch v {
                case let x as Int64: sqlite3_bind_int64(stmt, k, x)
                case let x as Int: sqlite3_bind_int64(stmt, k, Int64(x))
                case let x as UInt64: sqlite3_bind_int64(stmt, k, Int64(bitPattern: x))
                case let x as Double: sqlite3_bind_double(stmt, k, x)
                case let x as Bool: sqlite3_bind_int64(stmt, k, x ? 1 : 0)
                case let x as String: sqlite3_bind_text(stmt, k, x, -1, lane_sqlite_transient())
                case let x as [UInt8]: x.withUnsafeBytes { _ = sqlite3_bind_blob(stmt, k, $0.baseAddress, Int32($0.count), lane_sqlite_transient()) }
                default: sqlite3_bind_null(stmt, k)
                }
            }
        }
        /// Steps once; true when a row is available.
        func step() throws -> Bool {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_ROW { return true }
            if rc == SQLITE_DONE { return false }
            throw CollectorError("SQL step: \(String(cString: sqlite3_errstr(rc)))")
        }
        func int(_ c: Int32) -> Int64 { sqlite3_column_int64(stmt, c) }
        func double(_ c: Int32) -> Double? { sqlite3_column_type(stmt, c) == SQLITE_NULL ? nil : sqlite3_column_double(stmt, c) }
        func text(_ c: Int32) -> String? { sqlite3_column_text(stmt, c).map { String(cString: $0) } }
        func blob(_ c: Int32) -> [UInt8] {
            let n = Int(sqlite3_column_bytes(stmt, c))
            guard n > 0, let p = sqlite3_column_blob(stmt, c) else { return [] }
            return [UInt8](UnsafeRawBufferPointer(start: p, count: n))
        }
    }

    func statement(_ sql: String) throws -> Statement { try Statement(db, sql) }

    public struct StoreResult: Sendable, Equatable {
        public var stored: Bool
        /// Sequences found missing by this record (it came after them).
        public var gap: ClosedRange<UInt64>?
        /// The first record seen of this epoch of the lane (a new journal: a replaced board or
        /// a wiped card).
        public var newEpoch: Bool
        /// Refused, not stored: its sequence is more than the window past the highest stored.
        public var outOfWindow = false
    }

    /// What a gap record's cause is called in the store and the listings.
    public static func causeName(_ c: GapRecord.Cause) -> String {
        switch c {
        case .storageFailed: return "lost at the lane: its storage failed"
        case .evicted: return "evicted at the lane: its journal was full"
        case .notInJournal: return "not in the lane's journal any more"
        case .queueFull: return "dropped at the lane before its journal"
        }
    }

    /// Stores one record of `lane`; returns whether it was new, any gap it revealed, and
    /// whether its epoch is new. A gap record's ranges mark those sequences as reported lost
    /// (with the cause): they no longer hold back the acknowledgement.
    public func store(lane: String, header h: FrameHeader, record: Record, frame: [UInt8], seal: [UInt8]? = nil, window: UInt64? = nil,
                      nowUs: Int64 = wallClockMicros()) throws -> StoreResult {
        try exec("BEGIN IMMEDIATE")
        do {
            let epoch = Int64(bitPattern: h.epoch)
            let row = try statement("SELECT highest FROM epochs WHERE lane = ? AND epoch = ?")
            row.bind([lane, epoch])
            var highest: UInt64 = 0
            let known = try row.step()
            if known { highest = UInt64(row.int(0)) }
            if let w = window, h.sequence > highest + w {
                try exec("ROLLBACK")
                return StoreResult(stored: false, gap: nil, newEpoch: false, outOfWindow: true)
            }
            let insert = try statement("INSERT OR IGNORE INTO records (lane, epoch, sequence, kind, monotonic_us, wall_us, frame, seal) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
            insert.bind([lane, epoch, h.sequence, record.kind.name.description, h.monotonicUs, h.wallUs, frame, seal])
            _ = try insert.step()
            let isNew = sqlite3_changes(db) == 1
            var gap: ClosedRange<UInt64>? = nil
            if !known {
                let add = try statement("INSERT INTO epochs (lane, epoch, first_seen_us, contiguous_through, highest, duplicates, records, dropped_before_journal) VALUES (?, ?, ?, 0, 0, 0, 0, 0)")
                add.bind([lane, epoch, nowUs])
                _ = try add.step()
            }
            if isNew {
                if h.sequence > highest + 1 {
                    gap = (highest + 1)...(h.sequence - 1)
                    try setGap(lane, epoch, gap!, cause: nil)
                } else if h.sequence <= highest {
                    try removeFromGaps(lane, epoch, h.sequence...h.sequence)  // a late record
                }
                highest = max(highest, h.sequence)
                if case let .gap(g) = record {
                    for i in 0..<g.rangeCount {
                        let r = g.range(i)
                        try reportLost(lane, epoch, r.first...r.last, cause: Self.causeName(g.cause))
                    }
                    if g.cause == .queueFull {
                        let d = try statement("UPDATE epochs SET dropped_before_journal = dropped_before_journal + ? WHERE lane = ? AND epoch = ?")
                        d.bind([Int64(g.records), lane, epoch]); _ = try d.step()
                    }
                }
                if case let .occupancy(d) = record {
                    let occ = try statement("""
                        INSERT OR IGNORE INTO occupancies (lane, epoch, sequence, occupancy, start_us, end_us, wall_us, speed_mps,
                            gamma_alarm, neutron_alarm, norm_suspect, container, decision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                    occ.bind([lane, epoch, h.sequence, Int64(d.occupancy), d.startUs, d.endUs, h.wallUs,
                              d.speedMmPerS.map { Double($0) / 1000 }, d.gammaAlarm, d.neutronAlarm, d.normSuspect,
                              d.container?.text, DecisionWriter.json(d, settings: EngineSettings())])
                    _ = try occ.step()
                    // An amendment that arrived before its decision (a resend) applies now.
                    let late = try statement("""
                        SELECT sequence FROM ocr_reads WHERE lane = ? AND epoch = ? AND amendment = 1 AND occupancy = ? AND occupancy_start_us = ?
                        ORDER BY sequence DESC LIMIT 1
                        """)
                    late.bind([lane, epoch, Int64(d.occupancy), d.startUs])
                    if try late.step() { try applyAmendment(lane, epoch, amendmentSequence: UInt64(late.int(0))) }
                }
                if case let .ocr(o) = record {
                    let add = try statement("""
                        INSERT OR IGNORE INTO ocr_reads (lane, epoch, sequence, wall_us, occupancy, occupancy_start_us, amendment, containers, suspect, read_wall_us)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                    add.bind([lane, epoch, h.sequence, h.wallUs, Int64(o.occupancy), o.occupancyStartUs, o.isAmendment, OCRJSON.line(o),
                              o.reads.suspect, o.readWallUs])
                    _ = try add.step()
                    if o.isAmendment { try applyAmendment(lane, epoch, amendmentSequence: h.sequence) }
                }
            }
            let open = try statement("SELECT MIN(first) FROM gaps WHERE lane = ? AND epoch = ? AND cause IS NULL")
            open.bind([lane, epoch])
            let contiguous = (try open.step()) && sqlite3_column_type(open.stmt, 0) != SQLITE_NULL ? UInt64(open.int(0)) - 1 : highest
            let up = try statement("""
                UPDATE epochs SET contiguous_through = ?, highest = ?, duplicates = duplicates + ?, records = records + ?
                WHERE lane = ? AND epoch = ?
                """)
            up.bind([contiguous, highest, isNew ? 0 : 1, isNew ? 1 : 0, lane, epoch])
            _ = try up.step()
            try exec("COMMIT")
            return StoreResult(stored: isNew, gap: gap, newEpoch: !known)
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
    }

    /// Applies the OCR amendment stored at `amendmentSequence` to its decision, if that is
    /// stored and carries no later amendment: the decision's containers become the amendment's
    /// (each amendment carries every read of its occupancy). The lane's own frame is kept as sent.
    func applyAmendment(_ lane: String, _ epoch: Int64, amendmentSequence: UInt64) throws {
        let a = try statement("SELECT r.frame FROM records r WHERE r.lane = ? AND r.epoch = ? AND r.sequence = ?")
        a.bind([lane, epoch, amendmentSequence])
        guard try a.step(), case let .ocr(o)? = Self.decode(a.blob(0))?.1 else { return }
        let find = try statement("""
            SELECT o.sequence, r.frame, o.ocr_amended_by FROM occupancies o JOIN records r ON r.lane = o.lane AND r.epoch = o.epoch AND r.sequence = o.sequence
            WHERE o.lane = ? AND o.epoch = ? AND o.occupancy = ? AND o.start_us = ? ORDER BY o.sequence DESC LIMIT 1
            """)
        find.bind([lane, epoch, Int64(o.occupancy), o.occupancyStartUs])
        guard try find.step() else { return }  // the decision has not arrived: applied when it does
        let sequence = find.int(0)
        if sqlite3_column_type(find.stmt, 2) != SQLITE_NULL && UInt64(find.int(2)) >= amendmentSequence { return }
        guard case var .occupancy(d)? = Self.decode(find.blob(1))?.1 else { return }
        d.ocr = o.reads
        var json = DecisionWriter.json(d, settings: EngineSettings())
        json.removeLast()
        json += ",\"ocrAmendedBy\":\(amendmentSequence)}"
        let up = try statement("UPDATE occupancies SET container = ?, decision = ?, ocr_amended_by = ? WHERE lane = ? AND epoch = ? AND sequence = ?")
        up.bind([d.container?.text, json, amendmentSequence, lane, epoch, sequence])
        _ = try up.step()
    }

    /// A stored frame's header and record (nil: not one frame).
    static func decode(_ frame: [UInt8]) -> (FrameHeader, Record)? {
        frame.withUnsafeBufferPointer { b -> (FrameHeader, Record)? in
            guard let base = b.baseAddress else { return nil }
            var reader = FrameReader(base, count: b.count)
            if case let .record(h, r, _)? = reader.next() { return (h, r) }
            return nil
        }
    }

    /// The OCR's unmatched reads (and, with `amendments`, its late ones), as JSON lines.
    public func ocrReads(lane: String?, amendments: Bool) throws -> [String] {
        var sql = "SELECT lane, epoch, sequence, wall_us, containers FROM ocr_reads WHERE 1 = 1"
        var args: [Any?] = []
        if let lane { sql += " AND lane = ?"; args.append(lane) }
        if !amendments { sql += " AND amendment = 0" }
        sql += " ORDER BY lane, wall_us, epoch, sequence"
        let s = try statement(sql)
        s.bind(args)
        var out: [String] = []
        while try s.step() {
            out.append("{\"lane\":\"\(s.text(0) ?? "")\",\"epoch\":\"\(epochHex(UInt64(bitPattern: s.int(1))))\",\"sequence\":\(s.int(2)),\"wallUs\":\(s.int(3)),\"read\":\(s.text(4) ?? "{}")}")
        }
        return out
    }

    func setGap(_ lane: String, _ epoch: Int64, _ r: ClosedRange<UInt64>, cause: String?) throws {
        let g = try statement("INSERT OR REPLACE INTO gaps (lane, epoch, first, last, cause) VALUES (?, ?, ?, ?, ?)")
        g.bind([lane, epoch, r.lowerBound, r.upperBound, cause])
        _ = try g.step()
    }

    /// The gaps (open or reported) overlapping `r`.
    func gaps(_ lane: String, _ epoch: Int64, overlapping r: ClosedRange<UInt64>) throws -> [(ClosedRange<UInt64>, String?)] {
        let find = try statement("SELECT first, last, cause FROM gaps WHERE lane = ? AND epoch = ? AND first <= ? AND last >= ? ORDER BY first")
        find.bind([lane, epoch, r.upperBound, r.lowerBound])
        var out: [(ClosedRange<UInt64>, String?)] = []
        while try find.step() { out.append((UInt64(find.int(0))...UInt64(find.int(1)), find.text(2))) }
        return out
    }

    func deleteGap(_ lane: String, _ epoch: Int64, first: UInt64) throws {
        let del = try statement("DELETE FROM gaps WHERE lane = ? AND epoch = ? AND first = ?")
        del.bind([lane, epoch, first]); _ = try del.step()
    }

    /// Records arrived for `r`: no gap covers them any more.
    func removeFromGaps(_ lane: String, _ epoch: Int64, _ r: ClosedRange<UInt64>) throws {
        for (g, cause) in try gaps(lane, epoch, overlapping: r) {
            try deleteGap(lane, epoch, first: g.lowerBound)
            if g.lowerBound < r.lowerBound { try setGap(lane, epoch, g.lowerBound...(r.lowerBound - 1), cause: cause) }
            if r.upperBound < g.upperBound { try setGap(lane, epoch, (r.upperBound + 1)...g.upperBound, cause: cause) }
        }
    }

    /// The lane says `r` will never come: the open gaps inside it become reported, with why.
    func reportLost(_ lane: String, _ epoch: Int64, _ r: ClosedRange<UInt64>, cause: String) throws {
        for (g, c) in try gaps(lane, epoch, overlapping: r) where c == nil {
            try deleteGap(lane, epoch, first: g.lowerBound)
            if g.lowerBound < r.lowerBound { try setGap(lane, epoch, g.lowerBound...(r.lowerBound - 1), cause: nil) }
            try setGap(lane, epoch, max(g.lowerBound, r.lowerBound)...min(g.upperBound, r.upperBound), cause: cause)
            if r.upperBound < g.upperBound { try setGap(lane, epoch, (r.upperBound + 1)...g.upperBound, cause: nil) }
        }
    }

    public struct LaneStatus: Sendable, Equatable {
        public var lane: String
        public var epoch: UInt64
        public var firstSeenUs: Int64
        public var contiguousThrough: UInt64
        public var highest: UInt64
        public var duplicates: Int
        public var records: Int
        /// Sequences missing and not explained: asked of the lane.
        public var gaps: [ClosedRange<UInt64>]
        /// Sequences the lane reported it cannot send, with the cause.
        public var lost: [Lost]
        public var droppedBeforeJournal: Int
        public struct Lost: Sendable, Equatable {
            public var range: ClosedRange<UInt64>
            public var cause: String
            public init(range: ClosedRange<UInt64>, cause: String) { self.range = range; self.cause = cause }
        }
    }

    /// Every lane's epochs, oldest first within a lane.
    public func lanes() throws -> [LaneStatus] {
        let s = try statement("SELECT lane, epoch, first_seen_us, contiguous_through, highest, duplicates, records, dropped_before_journal FROM epochs ORDER BY lane, first_seen_us, epoch")
        s.bind([])
        var out: [LaneStatus] = []
        while try s.step() {
            out.append(LaneStatus(lane: s.text(0) ?? "", epoch: UInt64(bitPattern: s.int(1)), firstSeenUs: s.int(2), contiguousThrough: UInt64(s.int(3)),
                                  highest: UInt64(s.int(4)), duplicates: Int(s.int(5)), records: Int(s.int(6)), gaps: [], lost: [],
                                  droppedBeforeJournal: Int(s.int(7))))
        }
        let g = try statement("SELECT first, last, cause FROM gaps WHERE lane = ? AND epoch = ? ORDER BY first")
        for i in out.indices {
            g.bind([out[i].lane, Int64(bitPattern: out[i].epoch)])
            while try g.step() {
                let r = UInt64(g.int(0))...UInt64(g.int(1))
                if let c = g.text(2) { out[i].lost.append(.init(range: r, cause: c)) } else { out[i].gaps.append(r) }
            }
        }
        return out
    }

    /// What to acknowledge to a lane for one epoch: stored (or reported lost) through, and the
    /// open gaps after that to ask for (at most `max`).
    public func acknowledgement(lane: String, epoch: UInt64, max: Int = 64) throws -> (through: UInt64, missing: [ClosedRange<UInt64>])? {
        let e = Int64(bitPattern: epoch)
        let s = try statement("SELECT contiguous_through FROM epochs WHERE lane = ? AND epoch = ?")
        s.bind([lane, e])
        guard try s.step() else { return nil }
        let through = UInt64(s.int(0))
        let g = try statement("SELECT first, last FROM gaps WHERE lane = ? AND epoch = ? AND cause IS NULL ORDER BY first LIMIT ?")
        g.bind([lane, e, max])
        var missing: [ClosedRange<UInt64>] = []
        while try g.step() { missing.append(UInt64(g.int(0))...UInt64(g.int(1))) }
        return (through, missing)
    }

    /// Occupancy decisions as JSON lines, filtered.
    public func occupancies(lane: String?, sinceWallUs: Int64?, untilWallUs: Int64?, alarm: String?) throws -> [String] {
        var sql = "SELECT lane, sequence, wall_us, decision, epoch FROM occupancies WHERE 1 = 1"
        var args: [Any?] = []
        if let lane { sql += " AND lane = ?"; args.append(lane) }
        if let sinceWallUs { sql += " AND wall_us >= ?"; args.append(sinceWallUs) }
        if let untilWallUs { sql += " AND wall_us < ?"; args.append(untilWallUs) }
        switch alarm {
        case "gamma": sql += " AND gamma_alarm = 1"
        case "neutron": sql += " AND neutron_alarm = 1"
        case "any": sql += " AND (gamma_alarm = 1 OR neutron_alarm = 1)"
        case "norm": sql += " AND norm_suspect = 1"
        default: break
        }
        sql += " ORDER BY lane, wall_us, epoch, sequence"
        let s = try statement(sql)
        s.bind(args)
        var out: [String] = []
        while try s.step() {
            let decision = s.text(3) ?? "{}"
            out.append("{\"lane\":\"\(s.text(0) ?? "")\",\"epoch\":\"\(epochHex(UInt64(bitPattern: s.int(4))))\",\"sequence\":\(s.int(1)),\"wallUs\":\(s.int(2)),\"decision\":\(decision)}")
        }
        return out
    }

    /// Every stored frame of `lane` of the given kinds, in sequence order, between two monotonic times.
    public func frames(lane: String, kinds: [RecordKind], fromUs: Int64 = Int64.min, toUs: Int64 = Int64.max, _ body: ([UInt8]) throws -> Void) throws {
        let names = kinds.map { "'\($0.name)'" }.joined(separator: ",")
        let s = try statement("""
            SELECT r.frame FROM records r JOIN epochs e ON e.lane = r.lane AND e.epoch = r.epoch
            WHERE r.lane = ? AND r.kind IN (\(names)) AND r.monotonic_us >= ? AND r.monotonic_us < ?
            ORDER BY e.first_seen_us, r.epoch, r.sequence
            """)
        s.bind([lane, fromUs, toUs])
        while try s.step() { try body(s.blob(0)) }
    }
}

public func wallClockMicros() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e6) }
