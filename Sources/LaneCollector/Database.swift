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

    public init(path: String) throws {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil) == SQLITE_OK, let handle else {
            throw CollectorError("\(path): cannot open the database")
        }
        db = handle
        self.path = path
        sqlite3_busy_timeout(db, 5_000)
        try exec("""
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            CREATE TABLE IF NOT EXISTS records (
                lane TEXT NOT NULL, sequence INTEGER NOT NULL, kind TEXT NOT NULL,
                monotonic_us INTEGER NOT NULL, wall_us INTEGER NOT NULL, frame BLOB NOT NULL,
                PRIMARY KEY (lane, sequence));
            CREATE INDEX IF NOT EXISTS records_kind_time ON records (lane, kind, monotonic_us);
            CREATE TABLE IF NOT EXISTS occupancies (
                lane TEXT NOT NULL, sequence INTEGER NOT NULL, occupancy INTEGER NOT NULL,
                start_us INTEGER NOT NULL, end_us INTEGER NOT NULL, wall_us INTEGER NOT NULL,
                speed_mps REAL, gamma_alarm INTEGER NOT NULL, neutron_alarm INTEGER NOT NULL,
                norm_suspect INTEGER NOT NULL, container TEXT, decision TEXT NOT NULL,
                PRIMARY KEY (lane, sequence));
            CREATE INDEX IF NOT EXISTS occupancies_time ON occupancies (lane, wall_us);
            CREATE INDEX IF NOT EXISTS occupancies_alarm ON occupancies (gamma_alarm, neutron_alarm, wall_us);
            CREATE TABLE IF NOT EXISTS lanes (
                lane TEXT PRIMARY KEY, contiguous_through INTEGER NOT NULL, highest INTEGER NOT NULL,
                duplicates INTEGER NOT NULL, records INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS gaps (lane TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (lane, first));
            """)
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

    public struct StoreResult: Sendable, Equatable { public var stored: Bool; public var gap: ClosedRange<UInt64>? }

    /// Stores one record of `lane`; returns whether it was new and any gap it revealed.
    public func store(lane: String, header h: FrameHeader, record: Record, frame: [UInt8]) throws -> StoreResult {
        try exec("BEGIN IMMEDIATE")
        do {
            let insert = try statement("INSERT OR IGNORE INTO records (lane, sequence, kind, monotonic_us, wall_us, frame) VALUES (?, ?, ?, ?, ?, ?)")
            insert.bind([lane, h.sequence, kindName(record.kind), h.monotonicUs, h.wallUs, frame])
            _ = try insert.step()
            let isNew = sqlite3_changes(db) == 1
            var gap: ClosedRange<UInt64>? = nil
            let laneRow = try statement("SELECT contiguous_through, highest FROM lanes WHERE lane = ?")
            laneRow.bind([lane])
            var contiguous: UInt64 = 0, highest: UInt64 = 0
            if try laneRow.step() { contiguous = UInt64(laneRow.int(0)); highest = UInt64(laneRow.int(1)) }
            if isNew {
                if h.sequence > highest + 1 {
                    gap = (highest + 1)...(h.sequence - 1)
                    let g = try statement("INSERT OR REPLACE INTO gaps (lane, first, last) VALUES (?, ?, ?)")
                    g.bind([lane, gap!.lowerBound, gap!.upperBound])
                    _ = try g.step()
                } else if h.sequence <= highest {
                    // A late record: close or split the gap it falls in.
                    let find = try statement("SELECT first, last FROM gaps WHERE lane = ? AND first <= ? AND last >= ?")
                    find.bind([lane, h.sequence, h.sequence])
                    if try find.step() {
                        let first = UInt64(find.int(0)), last = UInt64(find.int(1))
                        let del = try statement("DELETE FROM gaps WHERE lane = ? AND first = ?")
                        del.bind([lane, first]); _ = try del.step()
                        let add = try statement("INSERT INTO gaps (lane, first, last) VALUES (?, ?, ?)")
                        if first < h.sequence { add.bind([lane, first, h.sequence - 1]); _ = try add.step() }
                        if h.sequence < last { add.bind([lane, h.sequence + 1, last]); _ = try add.step() }
                    }
                }
                highest = max(highest, h.sequence)
                let firstGap = try statement("SELECT MIN(first) FROM gaps WHERE lane = ?")
                firstGap.bind([lane])
                contiguous = (try firstGap.step()) && sqlite3_column_type(firstGap.stmt, 0) != SQLITE_NULL ? UInt64(firstGap.int(0)) - 1 : highest
                if case let .occupancy(d) = record {
                    let occ = try statement("""
                        INSERT OR IGNORE INTO occupancies (lane, sequence, occupancy, start_us, end_us, wall_us, speed_mps,
                            gamma_alarm, neutron_alarm, norm_suspect, container, decision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                    occ.bind([lane, h.sequence, Int64(d.occupancy), d.startUs, d.endUs, h.wallUs,
                              d.speedMmPerS.map { Double($0) / 1000 }, d.gammaAlarm, d.neutronAlarm, d.normSuspect,
                              d.container?.text, DecisionWriter.json(d, settings: EngineSettings())])
                    _ = try occ.step()
                }
            }
            let up = try statement("""
                INSERT INTO lanes (lane, contiguous_through, highest, duplicates, records) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(lane) DO UPDATE SET contiguous_through = excluded.contiguous_through, highest = excluded.highest,
                    duplicates = duplicates + excluded.duplicates, records = records + excluded.records
                """)
            up.bind([lane, contiguous, highest, isNew ? 0 : 1, isNew ? 1 : 0])
            _ = try up.step()
            try exec("COMMIT")
            return StoreResult(stored: isNew, gap: gap)
        } catch {
            try? exec("ROLLBACK")
            throw error
        }
    }

    func kindName(_ k: RecordKind) -> String {
        ["", "samples", "occupancy", "alarm", "background", "fault", "audit", "heartbeat"][Int(k.rawValue)]
    }

    public struct LaneStatus: Sendable, Equatable {
        public var lane: String
        public var contiguousThrough: UInt64
        public var highest: UInt64
        public var duplicates: Int
        public var records: Int
        public var gaps: [ClosedRange<UInt64>]
    }

    public func lanes() throws -> [LaneStatus] {
        let s = try statement("SELECT lane, contiguous_through, highest, duplicates, records FROM lanes ORDER BY lane")
        s.bind([])
        var out: [LaneStatus] = []
        while try s.step() {
            out.append(LaneStatus(lane: s.text(0) ?? "", contiguousThrough: UInt64(s.int(1)), highest: UInt64(s.int(2)),
                                  duplicates: Int(s.int(3)), records: Int(s.int(4)), gaps: []))
        }
        let g = try statement("SELECT first, last FROM gaps WHERE lane = ? ORDER BY first")
        for i in out.indices {
            g.bind([out[i].lane])
            while try g.step() { out[i].gaps.append(UInt64(g.int(0))...UInt64(g.int(1))) }
        }
        return out
    }

    /// Occupancy decisions as JSON lines, filtered.
    public func occupancies(lane: String?, sinceWallUs: Int64?, untilWallUs: Int64?, alarm: String?) throws -> [String] {
        var sql = "SELECT lane, sequence, wall_us, decision FROM occupancies WHERE 1 = 1"
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
        sql += " ORDER BY lane, sequence"
        let s = try statement(sql)
        s.bind(args)
        var out: [String] = []
        while try s.step() {
            let decision = s.text(3) ?? "{}"
            out.append("{\"lane\":\"\(s.text(0) ?? "")\",\"sequence\":\(s.int(1)),\"wallUs\":\(s.int(2)),\"decision\":\(decision)}")
        }
        return out
    }

    /// Every stored frame of `lane` of the given kinds, in sequence order, between two monotonic times.
    public func frames(lane: String, kinds: [RecordKind], fromUs: Int64 = Int64.min, toUs: Int64 = Int64.max, _ body: ([UInt8]) throws -> Void) throws {
        let names = kinds.map { "'\(kindName($0))'" }.joined(separator: ",")
        let s = try statement("SELECT frame FROM records WHERE lane = ? AND kind IN (\(names)) AND monotonic_us >= ? AND monotonic_us < ? ORDER BY sequence")
        s.bind([lane, fromUs, toUs])
        while try s.step() { try body(s.blob(0)) }
    }
}
