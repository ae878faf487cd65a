// The collector's store: SQLite, an embedded file, no server. Every record is kept as its
// frame (what the lane sent, bit for bit), with indexes for the queries people make; occupancy
// decisions are also unpacked into columns. Sequences are checked per lane: gaps are recorded
// (and closed when a late record fills them), duplicates dropped and counted.

import Foundation
import LaneCore
import LaneTrace

public struct CollectorError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

public final class Database {
    let conn: SQLConnection
    /// Where the store is (a file, or a PostgreSQL server).
    public let path: String
    public var flavor: SQLFlavor { conn.flavor }

    /// The schema's version (`PRAGMA user_version` in SQLite, `schema_version` in PostgreSQL):
    /// 2 keys records by lane, epoch and sequence; 3 keeps each record's seal
    /// (docs/SECURITY.md); 4 keeps the OCR's late and unmatched reads and which amendment a
    /// decision carries (docs/OCR.md). Older SQLite stores are migrated on open (a version-1
    /// store's records under epoch 0, unsealed).
    public static let schemaVersion = 4

    /// An SQLite store: one file, for one station.
    public convenience init(path: String) throws {
        try self.init(connection: try SQLiteConnection(path: path))
    }

    /// A PostgreSQL store (libpq connection string), shared by several collectors and the
    /// analysts' tools.
    public convenience init(postgres conninfo: String) throws {
        try self.init(connection: try PostgresConnection(conninfo: conninfo))
    }

    public init(connection: SQLConnection) throws {
        conn = connection
        path = connection.place
        switch connection.flavor {
        case .sqlite: try openSQLite()
        case .postgres: try openPostgres()
        }
    }

    func openSQLite() throws {
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

    /// The PostgreSQL schema: the same tables and keys as SQLite's, except that the raw samples'
    /// frames live in `sample_frames`, partitioned by month of their wall clock (a month of a
    /// national program's samples is dropped or archived as one table); `records` keeps every
    /// record's key, so that inserts stay idempotent by lane, epoch and sequence. Several
    /// collectors may open it at once: everything is IF NOT EXISTS, under an advisory lock.
    func openPostgres() throws {
        try exec("SELECT pg_advisory_lock(461002)")
        defer { try? exec("SELECT pg_advisory_unlock(461002)") }
        try exec("""
            CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS records (
                lane TEXT NOT NULL, epoch BIGINT NOT NULL, sequence BIGINT NOT NULL, kind TEXT NOT NULL,
                monotonic_us BIGINT NOT NULL, wall_us BIGINT NOT NULL, frame BYTEA, seal BYTEA,
                PRIMARY KEY (lane, epoch, sequence));
            CREATE INDEX IF NOT EXISTS records_kind_time_e ON records (lane, kind, monotonic_us);
            CREATE TABLE IF NOT EXISTS sample_frames (
                lane TEXT NOT NULL, epoch BIGINT NOT NULL, sequence BIGINT NOT NULL,
                monotonic_us BIGINT NOT NULL, wall_us BIGINT NOT NULL, frame BYTEA NOT NULL, seal BYTEA,
                PRIMARY KEY (lane, epoch, sequence, wall_us)) PARTITION BY RANGE (wall_us);
            CREATE TABLE IF NOT EXISTS sample_frames_undated PARTITION OF sample_frames FOR VALUES FROM (MINVALUE) TO (1);
            CREATE INDEX IF NOT EXISTS sample_frames_time ON sample_frames (lane, monotonic_us);
            CREATE TABLE IF NOT EXISTS occupancies (
                lane TEXT NOT NULL, epoch BIGINT NOT NULL, sequence BIGINT NOT NULL, occupancy BIGINT NOT NULL,
                start_us BIGINT NOT NULL, end_us BIGINT NOT NULL, wall_us BIGINT NOT NULL,
                speed_mps DOUBLE PRECISION, gamma_alarm INTEGER NOT NULL, neutron_alarm INTEGER NOT NULL,
                norm_suspect INTEGER NOT NULL, container TEXT, decision TEXT NOT NULL, ocr_amended_by BIGINT,
                PRIMARY KEY (lane, epoch, sequence));
            CREATE INDEX IF NOT EXISTS occupancies_time_e ON occupancies (lane, wall_us);
            CREATE INDEX IF NOT EXISTS occupancies_alarm_e ON occupancies (gamma_alarm, neutron_alarm, wall_us);
            CREATE TABLE IF NOT EXISTS epochs (
                lane TEXT NOT NULL, epoch BIGINT NOT NULL, first_seen_us BIGINT NOT NULL,
                contiguous_through BIGINT NOT NULL, highest BIGINT NOT NULL,
                duplicates BIGINT NOT NULL, records BIGINT NOT NULL, dropped_before_journal BIGINT NOT NULL,
                PRIMARY KEY (lane, epoch));
            CREATE TABLE IF NOT EXISTS gaps (
                lane TEXT NOT NULL, epoch BIGINT NOT NULL, first BIGINT NOT NULL, last BIGINT NOT NULL,
                cause TEXT, PRIMARY KEY (lane, epoch, first));
            CREATE TABLE IF NOT EXISTS ocr_reads (
                lane TEXT NOT NULL, epoch BIGINT NOT NULL, sequence BIGINT NOT NULL, wall_us BIGINT NOT NULL,
                occupancy BIGINT NOT NULL, occupancy_start_us BIGINT NOT NULL, amendment INTEGER NOT NULL,
                containers TEXT NOT NULL, suspect INTEGER NOT NULL, read_wall_us BIGINT NOT NULL,
                PRIMARY KEY (lane, epoch, sequence));
            CREATE INDEX IF NOT EXISTS ocr_reads_occupancy ON ocr_reads (lane, epoch, occupancy, occupancy_start_us);
            """)
        try createSharingTables()
        let version = try scalar("SELECT COALESCE(MAX(version), 0) FROM schema_version")
        if version > Int64(Self.schemaVersion) {
            throw CollectorError("\(path): schema \(version) is newer than this collector's (\(Self.schemaVersion))")
        }
        if version < Int64(Self.schemaVersion) {
            try exec("DELETE FROM schema_version; INSERT INTO schema_version VALUES (\(Self.schemaVersion))")
        }
    }

    /// The months whose sample partition exists (PostgreSQL), so that each is made once.
    var partitions: Set<Int64> = []

    /// The month partition of `sample_frames` that holds `wallUs` (made if missing, outside any
    /// transaction: two collectors may race to make it, and the loser finds it made).
    func ensureSamplePartition(wallUs: Int64) throws {
        guard flavor == .postgres, wallUs >= 1 else { return }
        let date = Date(timeIntervalSince1970: Double(wallUs) / 1e6)
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let c = cal.dateComponents([.year, .month], from: date)
        let month = Int64(c.year! * 100 + c.month!)
        if partitions.contains(month) { return }
        let start = cal.date(from: DateComponents(year: c.year, month: c.month, day: 1))!
        let end = cal.date(byAdding: .month, value: 1, to: start)!
        let name = "sample_frames_\(month)"
        do {
            try exec("CREATE TABLE IF NOT EXISTS \(name) PARTITION OF sample_frames FOR VALUES FROM (\(Int64(start.timeIntervalSince1970) * 1_000_000)) TO (\(Int64(end.timeIntervalSince1970) * 1_000_000))")
        } catch let e as PostgresError where e.sqlState == "42P07" || e.sqlState == "23505" {
            // Made by another collector at the same moment.
        }
        partitions.insert(month)
    }

    func createSchema() throws {
        try createSharingTables()
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

    func scalar(_ sql: String) throws -> Int64 { try conn.scalar(sql) }

    func exec(_ sql: String) throws { try conn.script(sql) }

    /// A statement with positional bindings, run on the connection: `bind` then `step` through
    /// its rows (it runs at the first `step`), `changes` after.
    final class Statement {
        let conn: SQLConnection
        let sql: String
        var args: [Any?] = []
        var rows: [[SQLValue]]? = nil
        var next = 0
        var row: [SQLValue] = []
        var changes = 0
        init(_ conn: SQLConnection, _ sql: String) { self.conn = conn; self.sql = sql }
        func bind(_ values: [Any?]) { args = values; rows = nil; next = 0 }
        /// Steps once; true when a row is available.
        func step() throws -> Bool {
            if rows == nil {
                let r = try conn.run(sql, args)
                rows = r.rows
                changes = r.changes
            }
            guard next < rows!.count else { return false }
            row = rows![next]
            next += 1
            return true
        }
        func int(_ c: Int32) -> Int64 { row[Int(c)].int }
        func double(_ c: Int32) -> Double? { row[Int(c)].double }
        func text(_ c: Int32) -> String? { row[Int(c)].text }
        func blob(_ c: Int32) -> [UInt8] { row[Int(c)].blob }
        func isNull(_ c: Int32) -> Bool { row[Int(c)].isNull }
    }

    func statement(_ sql: String) throws -> Statement { Statement(conn, sql) }

    public struct StoreResult: Sendable, Equatable {
        public var stored: Bool
        /// Sequences found missing by this record (it came after them).
        public var gap: ClosedRange<UInt64>?
        /// The first record seen of this epoch of the lane (a new journal: a replaced board or
        /// a wiped card).
        public var newEpoch: Bool
        /// Refused, not stored: its sequence is more than the window past the highest stored.
        public var outOfWindow = false
        /// The epoch after this record: stored (or reported lost) through, and the highest stored.
        public var contiguousThrough: UInt64 = 0
        public var highest: UInt64 = 0
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
        if record.kind == .samples && !inBatch { try ensureSamplePartition(wallUs: h.wallUs) }
        // One lane's epoch at a time: SQLite takes the whole store (IMMEDIATE), PostgreSQL the
        // epoch's row (FOR UPDATE), so that two collectors sharing a lane's records agree on its
        // highest sequence and gaps. Inside a batch (`begin`), the batch's transaction.
        if !inBatch { try exec(flavor == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN") }
        do {
            let epoch = Int64(bitPattern: h.epoch)
            let lockRow = "SELECT highest, contiguous_through FROM epochs WHERE lane = ? AND epoch = ?" + (flavor == .postgres ? " FOR UPDATE" : "")
            let row = try statement(lockRow)
            row.bind([lane, epoch])
            var highest: UInt64 = 0
            var contiguousBefore: UInt64 = 0
            var known = try row.step()
            if known { highest = UInt64(row.int(0)); contiguousBefore = UInt64(row.int(1)) }
            // The window is checked before anything is written (a batch cannot undo one record).
            if let w = window, h.sequence > highest + w {
                if !inBatch { try exec("ROLLBACK") }
                return StoreResult(stored: false, gap: nil, newEpoch: false, outOfWindow: true)
            }
            if !known {
                let add = try statement("""
                    INSERT INTO epochs (lane, epoch, first_seen_us, contiguous_through, highest, duplicates, records, dropped_before_journal)
                    VALUES (?, ?, ?, 0, 0, 0, 0, 0) ON CONFLICT DO NOTHING
                    """)
                add.bind([lane, epoch, nowUs])
                _ = try add.step()
                if add.changes == 0 {
                    // Another collector made it a moment ago: lock it as it is now.
                    let again = try statement(lockRow)
                    again.bind([lane, epoch])
                    if try again.step() { highest = UInt64(again.int(0)); contiguousBefore = UInt64(again.int(1)) }
                    known = true
                }
            }
            // Raw samples' frames go to the month's partition in PostgreSQL; their key stays here.
            let samplesApart = flavor == .postgres && record.kind == .samples
            let insert = try statement("""
                INSERT INTO records (lane, epoch, sequence, kind, monotonic_us, wall_us, frame, seal) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT DO NOTHING
                """)
            insert.bind([lane, epoch, h.sequence, record.kind.name.description, h.monotonicUs, h.wallUs, samplesApart ? nil : frame, samplesApart ? nil : seal])
            _ = try insert.step()
            let isNew = insert.changes == 1
            if isNew && samplesApart {
                let f = try statement("INSERT INTO sample_frames (lane, epoch, sequence, monotonic_us, wall_us, frame, seal) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
                f.bind([lane, epoch, h.sequence, h.monotonicUs, max(0, h.wallUs), frame, seal])
                _ = try f.step()
            }
            var gap: ClosedRange<UInt64>? = nil
            let highestBefore = highest
            // Whether this record changed the gaps (else, with none open before, the epoch is
            // contiguous through its highest without asking the gaps table).
            var gapsTouched = false
            if isNew {
                if h.sequence > highest + 1 {
                    gap = (highest + 1)...(h.sequence - 1)
                    gapsTouched = true
                    try setGap(lane, epoch, gap!, cause: nil)
                } else if h.sequence <= highest {
                    try removeFromGaps(lane, epoch, h.sequence...h.sequence)  // a late record
                    gapsTouched = true
                }
                highest = max(highest, h.sequence)
                if case let .gap(g) = record {
                    for i in 0..<g.rangeCount {
                        let r = g.range(i)
                        try reportLost(lane, epoch, r.first...r.last, cause: Self.causeName(g.cause))
                        gapsTouched = true
                    }
                    if g.cause == .queueFull {
                        let d = try statement("UPDATE epochs SET dropped_before_journal = dropped_before_journal + ? WHERE lane = ? AND epoch = ?")
                        d.bind([Int64(g.records), lane, epoch]); _ = try d.step()
                    }
                }
                if case let .occupancy(d) = record {
                    let occ = try statement("""
                        INSERT INTO occupancies (lane, epoch, sequence, occupancy, start_us, end_us, wall_us, speed_mps,
                            gamma_alarm, neutron_alarm, norm_suspect, container, decision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT DO NOTHING
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
                        INSERT INTO ocr_reads (lane, epoch, sequence, wall_us, occupancy, occupancy_start_us, amendment, containers, suspect, read_wall_us)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                        """)
                    add.bind([lane, epoch, h.sequence, h.wallUs, Int64(o.occupancy), o.occupancyStartUs, o.isAmendment, OCRJSON.line(o),
                              o.reads.suspect, o.readWallUs])
                    _ = try add.step()
                    if o.isAmendment { try applyAmendment(lane, epoch, amendmentSequence: h.sequence) }
                }
            }
            let contiguous: UInt64
            if !gapsTouched && contiguousBefore == highestBefore {
                contiguous = highest  // in order, nothing missing: the common case, one query fewer
            } else {
                let open = try statement("SELECT MIN(first) FROM gaps WHERE lane = ? AND epoch = ? AND cause IS NULL")
                open.bind([lane, epoch])
                contiguous = (try open.step()) && !open.isNull(0) ? UInt64(open.int(0)) - 1 : highest
            }
            let up = try statement("""
                UPDATE epochs SET contiguous_through = ?, highest = ?, duplicates = duplicates + ?, records = records + ?
                WHERE lane = ? AND epoch = ?
                """)
            up.bind([contiguous, highest, isNew ? 0 : 1, isNew ? 1 : 0, lane, epoch])
            _ = try up.step()
            if !inBatch { try exec("COMMIT") }
            var result = StoreResult(stored: isNew, gap: gap, newEpoch: !known)
            result.contiguousThrough = contiguous
            result.highest = highest
            return result
        } catch {
            if !inBatch { try? exec("ROLLBACK") }
            throw error
        }
    }

    /// A batch: the records stored until `commit` share one transaction (one commit, one
    /// flush to disk), as the collector stores what arrived in the last moments.
    public private(set) var inBatch = false

    /// Begins a batch; `partitionsFor` are the wall clocks of its raw samples (their month
    /// partitions are made first, outside it).
    public func begin(partitionsFor walls: [Int64] = []) throws {
        for w in walls { try ensureSamplePartition(wallUs: w) }
        try exec(flavor == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN")
        inBatch = true
    }

    public func commit() throws {
        inBatch = false
        try exec("COMMIT")
    }

    public func rollback() {
        inBatch = false
        try? exec("ROLLBACK")
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
        if !find.isNull(2) && UInt64(find.int(2)) >= amendmentSequence { return }
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
        let g = try statement("""
            INSERT INTO gaps (lane, epoch, first, last, cause) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (lane, epoch, first) DO UPDATE SET last = excluded.last, cause = excluded.cause
            """)
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
        let inRecords = flavor == .postgres ? kinds.filter { $0 != .samples } : kinds
        var parts: [String] = []
        var args: [Any?] = []
        if !inRecords.isEmpty {
            let names = inRecords.map { "'\($0.name)'" }.joined(separator: ",")
            parts.append("""
                SELECT r.frame AS frame, e.first_seen_us AS seen, r.epoch AS epoch, r.sequence AS sequence
                FROM records r JOIN epochs e ON e.lane = r.lane AND e.epoch = r.epoch
                WHERE r.lane = ? AND r.kind IN (\(names)) AND r.monotonic_us >= ? AND r.monotonic_us < ?
                """)
            args += [lane, fromUs, toUs]
        }
        if flavor == .postgres && kinds.contains(.samples) {
            parts.append("""
                SELECT s.frame AS frame, e.first_seen_us AS seen, s.epoch AS epoch, s.sequence AS sequence
                FROM sample_frames s JOIN epochs e ON e.lane = s.lane AND e.epoch = s.epoch
                WHERE s.lane = ? AND s.monotonic_us >= ? AND s.monotonic_us < ?
                """)
            args += [lane, fromUs, toUs]
        }
        guard !parts.isEmpty else { return }
        let s = try statement(parts.joined(separator: " UNION ALL ") + " ORDER BY seen, epoch, sequence")
        s.bind(args)
        while try s.step() { try body(s.blob(0)) }
    }
}

public func wallClockMicros() -> Int64 { Int64(Date().timeIntervalSince1970 * 1e6) }
