// The collector's one seam to SQL: a connection runs a statement with positional `?` parameters
// and gives back its rows and how many rows it changed. Two engines stand behind it: SQLite (an
// embedded file, the default for one station) and PostgreSQL through libpq (a server that several
// collectors and the analysts' tools share). The store's logic is written once, against this.

import CPostgres
import CSQLite
import Foundation

public enum SQLValue: Sendable, Equatable {
    case int(Int64), double(Double), text(String), blob([UInt8]), null

    /// From the values the store binds (Int64, Int, UInt64, Double, Bool, String, bytes, nil).
    public init(_ v: Any?) {
        switch v {
        case let x as Int64: self = .int(x)
        case let x as Int: self = .int(Int64(x))
        case let x as UInt64: self = .int(Int64(bitPattern: x))
        case let x as UInt32: self = .int(Int64(x))
        case let x as Double: self = .double(x)
        case let x as Bool: self = .int(x ? 1 : 0)
        case let x as String: self = .text(x)
        case let x as [UInt8]: self = .blob(x)
        default: self = .null
        }
    }

    public var int: Int64 {
        switch self {
        case let .int(x): return x
        case let .double(x): return Int64(x)
        case let .text(s): return Int64(s) ?? 0
        default: return 0
        }
    }
    public var double: Double? {
        switch self {
        case let .double(x): return x
        case let .int(x): return Double(x)
        case let .text(s): return Double(s)
        default: return nil
        }
    }
    public var text: String? {
        switch self {
        case let .text(s): return s
        case let .int(x): return String(x)
        case let .double(x): return String(x)
        default: return nil
        }
    }
    public var blob: [UInt8] {
        if case let .blob(b) = self { return b }
        return []
    }
    public var isNull: Bool { self == .null }
}

public struct SQLResult {
    public var rows: [[SQLValue]] = []
    public var changes = 0
}

public enum SQLFlavor: Sendable { case sqlite, postgres }

public protocol SQLConnection: AnyObject {
    var flavor: SQLFlavor { get }
    /// Where it is, for messages (a file, or the server without its password).
    var place: String { get }
    /// Statements without parameters, separated by semicolons.
    func script(_ sql: String) throws
    /// One statement with `?` parameters.
    func run(_ sql: String, _ args: [SQLValue]) throws -> SQLResult
}

extension SQLConnection {
    @discardableResult
    public func run(_ sql: String, _ args: [Any?] = []) throws -> SQLResult { try run(sql, args.map(SQLValue.init)) }
    /// The first column of the first row (0 when there is none).
    public func scalar(_ sql: String, _ args: [Any?] = []) throws -> Int64 { try run(sql, args).rows.first?.first?.int ?? 0 }
}

// MARK: SQLite

public final class SQLiteConnection: SQLConnection {
    let db: OpaquePointer
    public let place: String
    public var flavor: SQLFlavor { .sqlite }

    public init(path: String) throws {
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil) == SQLITE_OK, let handle else {
            throw CollectorError("\(path): cannot open the database")
        }
        db = handle
        place = path
        sqlite3_busy_timeout(db, 5_000)
    }

    deinit { sqlite3_close_v2(db) }

    public func script(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        guard sqlite3_exec(db, sql, nil, nil, &err) == SQLITE_OK else {
            let m = err.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(err)
            throw CollectorError("\(place): \(m)")
        }
    }

    public func run(_ sql: String, _ args: [SQLValue]) throws -> SQLResult {
        var s: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &s, nil) == SQLITE_OK, let stmt = s else {
            throw CollectorError("\(place): SQL: \(String(cString: sqlite3_errmsg(db)))")
        }
        defer { sqlite3_finalize(stmt) }
        for (i, v) in args.enumerated() {
            let k = Int32(i + 1)
            switch v {
            case let .int(x): sqlite3_bind_int64(stmt, k, x)
            case let .double(x): sqlite3_bind_double(stmt, k, x)
            case let .text(x): sqlite3_bind_text(stmt, k, x, -1, lane_sqlite_transient())
            case let .blob(x): x.withUnsafeBytes { _ = sqlite3_bind_blob(stmt, k, $0.baseAddress, Int32($0.count), lane_sqlite_transient()) }
            case .null: sqlite3_bind_null(stmt, k)
            }
        }
        var result = SQLResult()
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw CollectorError("\(place): SQL step: \(String(cString: sqlite3_errmsg(db)))") }
            var row: [SQLValue] = []
            for c in 0..<sqlite3_column_count(stmt) {
                switch sqlite3_column_type(stmt, c) {
                case SQLITE_INTEGER: row.append(.int(sqlite3_column_int64(stmt, c)))
                case SQLITE_FLOAT: row.append(.double(sqlite3_column_double(stmt, c)))
                case SQLITE_TEXT: row.append(.text(String(cString: sqlite3_column_text(stmt, c))))
                case SQLITE_BLOB:
                    let n = Int(sqlite3_column_bytes(stmt, c))
                    let p = sqlite3_column_blob(stmt, c)
                    row.append(.blob(n > 0 && p != nil ? [UInt8](UnsafeRawBufferPointer(start: p, count: n)) : []))
                default: row.append(.null)
                }
            }
            result.rows.append(row)
        }
        result.changes = Int(sqlite3_changes(db))
        return result
    }
}

// MARK: PostgreSQL (libpq)

public final class PostgresConnection: SQLConnection {
    let conn: OpaquePointer
    public let place: String
    public var flavor: SQLFlavor { .postgres }

    /// `conninfo`: a libpq connection string or URI (`host=127.0.0.1 port=5432 dbname=lanes user=collector`).
    public init(conninfo: String) throws {
        // Every option the store relies on is given, not left to the environment: a 10 s
        // connection time-out, and the application name seen in pg_stat_activity.
        let info = conninfo + " connect_timeout=10 application_name=lane-collector"
        guard let c = PQconnectdb(info) else { throw CollectorError("PostgreSQL: cannot allocate a connection") }
        conn = c
        place = Self.describe(conninfo)
        guard PQstatus(c) == CONNECTION_OK else {
            let why = String(cString: PQerrorMessage(c)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(c)
            throw CollectorError("PostgreSQL \(place): cannot connect: \(why)")
        }
        _ = try? script("SET client_min_messages = warning")
    }

    deinit { PQfinish(conn) }

    /// The connection string without a password.
    static func describe(_ conninfo: String) -> String {
        conninfo.split(separator: " ").filter { !$0.hasPrefix("password=") }.joined(separator: " ")
    }

    func check(_ r: OpaquePointer?, _ sql: String) throws -> OpaquePointer {
        guard let r else { throw CollectorError("PostgreSQL \(place): \(String(cString: PQerrorMessage(conn)))") }
        let st = PQresultStatus(r)
        guard st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK else {
            let why = String(cString: PQresultErrorMessage(r)).trimmingCharacters(in: .whitespacesAndNewlines)
            let state = PQresultErrorField(r, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
            PQclear(r)
            throw PostgresError(place: place, message: why, sqlState: state, statement: String(sql.prefix(120)))
        }
        return r
    }

    public func script(_ sql: String) throws {
        let r = try check(PQexec(conn, sql), sql)
        PQclear(r)
    }

    /// `?` becomes `$1`, `$2` ... (the store's SQL has no `?` inside literals).
    static func numbered(_ sql: String) -> String {
        var out = ""
        var n = 0
        for ch in sql {
            if ch == "?" { n += 1; out += "$\(n)" } else { out.append(ch) }
        }
        return out
    }

    public func run(_ sql: String, _ args: [SQLValue]) throws -> SQLResult {
        let text = Self.numbered(sql)
        // Parameters as text, bytes as binary.
        var storage: [[UInt8]] = []
        var formats: [Int32] = []
        var lengths: [Int32] = []
        var isNull: [Bool] = []
        for v in args {
            switch v {
            case let .int(x): storage.append(Array(String(x).utf8) + [0]); formats.append(0); isNull.append(false)
            case let .double(x): storage.append(Array(String(x).utf8) + [0]); formats.append(0); isNull.append(false)
            case let .text(x): storage.append(Array(x.utf8) + [0]); formats.append(0); isNull.append(false)
            case let .blob(x): storage.append(x); formats.append(1); isNull.append(false)
            case .null: storage.append([0]); formats.append(0); isNull.append(true)
            }
            lengths.append(Int32(storage.last!.count - (formats.last! == 0 ? 1 : 0)))
        }
        let r: OpaquePointer? = storage.withUnsafeBufferPointers { ptrs in
            var values: [UnsafePointer<CChar>?] = ptrs.enumerated().map { i, p in isNull[i] ? nil : UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self) }
            return PQexecParams(conn, text, Int32(args.count), nil, &values, lengths, formats, 0)
        }
        let res = try check(r, sql)
        defer { PQclear(res) }
        var result = SQLResult()
        let rows = PQntuples(res), cols = PQnfields(res)
        for i in 0..<rows {
            var row: [SQLValue] = []
            for c in 0..<cols {
                if PQgetisnull(res, i, c) == 1 { row.append(.null); continue }
                let raw = String(cString: PQgetvalue(res, i, c))
                switch PQftype(res, c) {
                case 20, 21, 23: row.append(.int(Int64(raw) ?? 0))                     // int8, int2, int4
                case 700, 701, 1700: row.append(.double(Double(raw) ?? 0))            // float4, float8, numeric
                case 16: row.append(.int(raw == "t" ? 1 : 0))                         // bool
                case 17: row.append(.blob(Self.bytea(raw)))                           // bytea, hex output
                default: row.append(.text(raw))
                }
            }
            result.rows.append(row)
        }
        result.changes = Int(String(cString: PQcmdTuples(res))) ?? 0
        return result
    }

    /// bytea's hex output (`\x0a1b...`).
    static func bytea(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        let u = Array(s.utf8)
        guard u.count >= 2, u[0] == UInt8(ascii: "\\"), u[1] == UInt8(ascii: "x") else { return out }
        out.reserveCapacity((u.count - 2) / 2)
        func nib(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
        var i = 2
        while i + 1 < u.count { out.append(nib(u[i]) << 4 | nib(u[i + 1])); i += 2 }
        return out
    }
}

public struct PostgresError: Error, CustomStringConvertible {
    public var place: String, message: String, sqlState: String, statement: String
    public var description: String { "PostgreSQL \(place): \(message) (SQLSTATE \(sqlState)) in \(statement)" }
    /// Another transaction's work collided with this one (serialization or deadlock): try again.
    public var isRetryable: Bool { sqlState == "40001" || sqlState == "40P01" || sqlState == "23505" }
}

extension Array where Element == [UInt8] {
    /// Calls `body` with a pointer to each element's bytes, all valid at once.
    func withUnsafeBufferPointers<R>(_ body: ([UnsafeBufferPointer<UInt8>]) -> R) -> R {
        func go(_ i: Int, _ acc: [UnsafeBufferPointer<UInt8>]) -> R {
            if i == count { return body(acc) }
            return self[i].withUnsafeBufferPointer { go(i + 1, acc + [$0]) }
        }
        return go(0, [])
    }
}
