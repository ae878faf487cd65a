// Proves the collector's store: sequences are checked per lane (gaps found, closed by late
// records, duplicates dropped and counted), decisions are queryable by lane and alarm, frames
// are kept bit for bit, and refused frames are counted, not stored. The store's behaviour is
// proved on both engines: SQLite, and PostgreSQL on loopback (Tests/Support/PostgresServer.swift).

import Foundation
import LaneCollector
import LaneCore
import LaneSeal
import LaneTestSupport
import LaneTrace
import Testing

/// A new, empty store of either engine ("sqlite" or "postgres").
func openStore(_ engine: String) throws -> Database {
    if engine == "postgres" { return try Database(postgres: try PostgresServer.shared.get().createDatabase()) }
    return try Database(path: NSTemporaryDirectory() + "collector-\(UUID().uuidString).sqlite")
}

let engines = ["sqlite", "postgres"]

func frame(_ r: Record, _ seq: UInt64) -> [UInt8] {
    var enc = RecordEncoder()
    var out = [UInt8](repeating: 0, count: RecordFormat.frameMax)
    let n = out.withUnsafeMutableBufferPointer { enc.encode(r, header: FrameHeader(sequence: seq, monotonicUs: Int64(seq) * 1_000, wallUs: 1_795_000_000_000_000 + Int64(seq)), into: $0.baseAddress!, capacity: $0.count) }!
    return Array(out.prefix(n))
}

func decision(_ occ: UInt32, gamma: Bool) -> Record {
    var d = Decision()
    d.occupancy = occ
    d.startUs = Int64(occ) * 10_000_000
    d.endUs = d.startUs + 9_000_000
    d.gammaAlarm = gamma
    d.speedMmPerS = 2_200
    return .occupancy(d)
}

@Suite struct CollectorTests {
    @Test("gaps are found and closed by late records; duplicates are dropped and counted; decisions are queryable", arguments: engines)
    func sequences(engine: String) throws {
        let db = try openStore(engine)
        let c = Collector(database: db) { _ in }
        let topic = "rpm/PORT/LANE-1/records/occupancy"
        c.handle(topic: topic, payload: frame(decision(1, gamma: false), 1) + frame(decision(2, gamma: true), 2))
        c.handle(topic: topic, payload: frame(decision(5, gamma: false), 5))          // 3 and 4 missing
        var lanes = try db.lanes()
        #expect(lanes.first?.gaps == [3...4])
        #expect(lanes.first?.contiguousThrough == 2)
        c.handle(topic: topic, payload: frame(decision(4, gamma: false), 4))          // late
        c.handle(topic: topic, payload: frame(decision(2, gamma: true), 2))           // resent: duplicate
        lanes = try db.lanes()
        #expect(lanes.first?.gaps == [3...3])
        #expect(lanes.first?.duplicates == 1)
        c.handle(topic: topic, payload: frame(decision(3, gamma: false), 3))
        lanes = try db.lanes()
        #expect(lanes.first?.gaps == [] && lanes.first?.contiguousThrough == 5 && lanes.first?.records == 5)
        #expect(c.duplicates == 1 && c.stored == 5)
        let alarms = try db.occupancies(lane: "PORT/LANE-1", sinceWallUs: nil, untilWallUs: nil, alarm: "gamma")
        #expect(alarms.count == 1 && alarms[0].contains("\"occupancy\":2"))
        #expect(try db.occupancies(lane: "PORT/OTHER", sinceWallUs: nil, untilWallUs: nil, alarm: nil).isEmpty)
        // Frames are kept exactly.
        var kept: [[UInt8]] = []
        try db.frames(lane: "PORT/LANE-1", kinds: [.occupancy]) { kept.append($0) }
        #expect(kept.first == frame(decision(1, gamma: false), 1))
    }

    @Test("a corrupt frame in a message is refused and counted; the good frames beside it are stored")
    func corrupt() throws {
        let db = try Database(path: NSTemporaryDirectory() + "collector-\(UUID().uuidString).sqlite")
        let c = Collector(database: db) { _ in }
        var bad = frame(decision(2, gamma: false), 2)
        bad[8] ^= 0xFF
        c.handle(topic: "rpm/P/L/records/occupancy", payload: frame(decision(1, gamma: false), 1) + bad + frame(decision(3, gamma: false), 3))
        #expect(c.rejected >= 1)
        #expect(c.stored == 2)
        #expect(try db.lanes().first?.gaps == [2...2])
    }

    @Test("topics outside <prefix>/<site>/<lane>/records/<kind> are ignored")
    func topics() throws {
        let db = try Database(path: NSTemporaryDirectory() + "collector-\(UUID().uuidString).sqlite")
        let c = Collector(database: db) { _ in }
        c.handle(topic: "rpm/P/L/status", payload: Array("online".utf8))
        c.handle(topic: "something", payload: frame(decision(1, gamma: false), 1))
        #expect(c.stored == 0)
        #expect(try db.lanes().isEmpty)
    }
}

func frame(_ r: Record, _ seq: UInt64, epoch: UInt64) -> [UInt8] {
    var enc = RecordEncoder()
    var out = [UInt8](repeating: 0, count: RecordFormat.frameMax)
    let n = out.withUnsafeMutableBufferPointer { enc.encode(r, header: FrameHeader(epoch: epoch, sequence: seq, monotonicUs: Int64(seq) * 1_000, wallUs: 1_795_000_000_000_000 + Int64(seq)), into: $0.baseAddress!, capacity: $0.count) }!
    return Array(out.prefix(n))
}

/// Proves the end-to-end side of the store: records are keyed by lane, journal epoch and
/// sequence (a wiped journal's records are new, not duplicates); a lane's gap record closes the
/// holes it names, with the cause; the acknowledgement names what is stored and what is asked for.
@Suite struct CollectorEpochTests {
    func fresh(_ engine: String = "sqlite") throws -> (Database, Collector) {
        let db = try openStore(engine)
        return (db, Collector(database: db, clientID: "test-collector") { _ in })
    }

    @Test("a journal that was reset starts again at 1 under a new epoch: its records, a gamma alarm among them, are stored, not dropped as duplicates", arguments: engines)
    func resetJournal(engine: String) throws {
        let (db, c) = try fresh(engine)
        let topic = "rpm/PORT/LANE-1/records/occupancy"
        for s in 1...5 { c.handle(topic: topic, payload: frame(decision(UInt32(s), gamma: false), UInt64(s), epoch: 0xAAAA)) }
        for s in 1...3 { c.handle(topic: topic, payload: frame(decision(UInt32(s), gamma: s == 2), UInt64(s), epoch: 0xBBBB)) }
        #expect(c.duplicates == 0 && c.stored == 8)
        let lanes = try db.lanes()
        #expect(lanes.map(\.epoch) == [0xAAAA, 0xBBBB])
        #expect(lanes.map(\.contiguousThrough) == [5, 3])
        #expect(try db.occupancies(lane: "PORT/LANE-1", sinceWallUs: nil, untilWallUs: nil, alarm: "gamma").count == 1)
        #expect(c.publishedAcks.last?.ack == StationAck(epoch: 0xBBBB, through: 3, collector: "test-collector"))
        #expect(c.publishedAcks.last?.topic == "rpm/PORT/LANE-1/ack")
    }

    @Test("a gap asks for the missing records; the lane's gap record marks them lost with the cause and the acknowledgement moves past them", arguments: engines)
    func gapsAndAcks(engine: String) throws {
        let (db, c) = try fresh(engine)
        let topic = "rpm/P/L/records/alarm"
        let a = { (i: Int) in Record.alarm(AlarmRecord(occupancy: UInt32(i), kind: 0, tUs: 0, sigmaQ8: 0)) }
        c.handle(topic: topic, payload: frame(a(1), 1, epoch: 7) + frame(a(2), 2, epoch: 7))
        c.handle(topic: topic, payload: frame(a(6), 6, epoch: 7))
        #expect(c.publishedAcks.last?.ack == StationAck(epoch: 7, through: 2, missing: [3...5], collector: "test-collector"))
        var g = GapRecord(cause: .storageFailed, records: 2)
        _ = g.append(first: 3, last: 4)
        c.handle(topic: "rpm/P/L/records/gap", payload: frame(.gap(g), 7, epoch: 7))
        #expect(c.publishedAcks.last?.ack == StationAck(epoch: 7, through: 4, missing: [5...5], collector: "test-collector"))
        c.handle(topic: topic, payload: frame(a(5), 5, epoch: 7))
        #expect(c.publishedAcks.last?.ack.through == 7)
        let lane = try #require(try db.lanes().first)
        #expect(lane.gaps.isEmpty)
        #expect(lane.lost == [.init(range: 3...4, cause: Database.causeName(.storageFailed))])
    }

    @Test("5 MB of garbage on a records topic writes a handful of log lines and a count, and the next good frame is stored")
    func garbageFlood() throws {
        let db = try Database(path: NSTemporaryDirectory() + "collector-\(UUID().uuidString).sqlite")
        var lines: [String] = []
        let lock = NSLock()
        let c = Collector(database: db) { l in lock.lock(); lines.append(l); lock.unlock() }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<80 {
            var junk = [UInt8](repeating: 0, count: 65_536)
            for i in junk.indices { junk[i] = UInt8.random(in: 0...255, using: &rng) }
            c.handle(topic: "rpm/P/L/records/samples", payload: junk)
        }
        c.handle(topic: "rpm/P/L/records/occupancy", payload: frame(decision(1, gamma: false), 1, epoch: 3))
        c.stop()
        #expect(lines.count <= 20, "\(lines.count) log lines")
        #expect(c.rejected >= 80)
        #expect(c.stored == 1)
    }

    @Test("a store of the earlier schema (no epochs) is migrated on open: its records are kept under epoch 0, and new ones go beside them")
    func migration() throws {
        let path = NSTemporaryDirectory() + "collector-v1-\(UUID().uuidString).sqlite"
        let sql = """
            CREATE TABLE records (lane TEXT NOT NULL, sequence INTEGER NOT NULL, kind TEXT NOT NULL, monotonic_us INTEGER NOT NULL, wall_us INTEGER NOT NULL, frame BLOB NOT NULL, PRIMARY KEY (lane, sequence));
            CREATE INDEX records_kind_time ON records (lane, kind, monotonic_us);
            CREATE TABLE occupancies (lane TEXT NOT NULL, sequence INTEGER NOT NULL, occupancy INTEGER NOT NULL, start_us INTEGER NOT NULL, end_us INTEGER NOT NULL, wall_us INTEGER NOT NULL, speed_mps REAL, gamma_alarm INTEGER NOT NULL, neutron_alarm INTEGER NOT NULL, norm_suspect INTEGER NOT NULL, container TEXT, decision TEXT NOT NULL, PRIMARY KEY (lane, sequence));
            CREATE INDEX occupancies_time ON occupancies (lane, wall_us);
            CREATE INDEX occupancies_alarm ON occupancies (gamma_alarm, neutron_alarm, wall_us);
            CREATE TABLE lanes (lane TEXT PRIMARY KEY, contiguous_through INTEGER NOT NULL, highest INTEGER NOT NULL, duplicates INTEGER NOT NULL, records INTEGER NOT NULL);
            CREATE TABLE gaps (lane TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL, PRIMARY KEY (lane, first));
            INSERT INTO records VALUES ('P/L', 1, 'occupancy', 1000, 5, x'00');
            INSERT INTO occupancies VALUES ('P/L', 1, 1, 0, 1, 5, 2.2, 1, 0, 0, NULL, '{}');
            INSERT INTO lanes VALUES ('P/L', 1, 3, 0, 1);
            INSERT INTO gaps VALUES ('P/L', 2, 2);
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.executescript(sys.argv[2]); c.commit()", path, sql]
        try p.run(); p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let db = try Database(path: path)
        let lanes = try db.lanes()
        #expect(lanes.count == 1 && lanes.first?.epoch == 0 && lanes.first?.gaps == [2...2] && lanes.first?.records == 1)
        #expect(try db.occupancies(lane: "P/L", sinceWallUs: nil, untilWallUs: nil, alarm: "gamma").count == 1)
        let c = Collector(database: db) { _ in }
        c.handle(topic: "rpm/P/L/records/occupancy", payload: frame(decision(1, gamma: false), 1, epoch: 5))
        #expect(c.stored == 1 && c.duplicates == 0)
        #expect(try Database(path: path).lanes().count == 2, "reopening a migrated store changes nothing")
    }
}

/// Proves authentic records at the collector (docs/SECURITY.md): with a key file, a record is
/// stored only if its seal holds under one of its lane's live keys; forged, altered, replayed,
/// retired-key, wrong-key, other-lane, wrong-topic and out-of-window frames are refused and
/// counted, and none of them displaces the genuine record that comes after.
@Suite struct CollectorSealTests {
    let keyA1 = LaneKey.generate(id: 1)
    let keyA2 = LaneKey.generate(id: 2)
    let keyB = LaneKey.generate(id: 1)

    func sealed(_ r: Record, _ seq: UInt64, lane: String = "PORT/A", key: LaneKey, epoch: UInt64 = 9) -> [UInt8] {
        let f = frame(r, seq, epoch: epoch)
        return f + Seal.seal(lane: lane, frame: f[...], key: key)
    }

    func collector(retiredA1: Bool = false) throws -> (Database, Collector) {
        let db = try Database(path: NSTemporaryDirectory() + "collector-\(UUID().uuidString).sqlite")
        var a1 = keyA1
        a1.retired = retiredA1
        return (db, Collector(database: db, clientID: "t", keys: ["PORT/A": [a1, keyA2], "PORT/B": [keyB]]) { _ in })
    }

    @Test("every forgery is refused and counted, and the genuine record with the same sequence is stored after it")
    func forgeries() throws {
        let (db, c) = try collector()
        let topic = "rpm/PORT/A/records/occupancy"
        let clear = decision(1, gamma: false), alarmed = decision(1, gamma: true)
        // An attacker without the key: a "clear" decision under a made-up key, and unsealed.
        c.handle(topic: topic, payload: sealed(clear, 1, key: LaneKey.generate(id: 1)))
        c.handle(topic: topic, payload: frame(clear, 1, epoch: 9))
        // Lane B's key on lane A's topic, and a frame sealed for lane B replayed on lane A's topic.
        c.handle(topic: topic, payload: sealed(clear, 1, key: keyB))
        c.handle(topic: topic, payload: sealed(clear, 1, lane: "PORT/B", key: keyB))
        // A genuine frame altered (a body byte flipped, the CRC recomputed by the attacker).
        var altered = frame(alarmed, 1, epoch: 9)
        let seal = Seal.seal(lane: "PORT/A", frame: altered[...], key: keyA2)
        altered[20] ^= 0x01
        let crc = altered.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress! + 1, altered.count - 5) }
        for i in 0..<4 { altered[altered.count - 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        c.handle(topic: topic, payload: altered + seal)
        // A key id the lane does not have.
        var unknown = sealed(clear, 1, key: keyA2)
        unknown[unknown.count - 17] = 7
        c.handle(topic: topic, payload: unknown)
        #expect(c.stored == 0)
        #expect(c.forged == 5 && c.unsealed == 1, "forged \(c.forged), unsealed \(c.unsealed)")
        // The genuine record: stored, nothing displaced it.
        c.handle(topic: topic, payload: sealed(alarmed, 1, key: keyA2))
        #expect(c.stored == 1)
        #expect(try db.occupancies(lane: "PORT/A", sinceWallUs: nil, untilWallUs: nil, alarm: "gamma").count == 1)
        // Replayed: a duplicate, dropped, the stored one unchanged.
        c.handle(topic: topic, payload: sealed(alarmed, 1, key: keyA2))
        #expect(c.duplicates == 1 && c.stored == 1)
    }

    @Test("a rotation: two live keys both accepted; a retired key refused; a wrong topic kind, an out-of-window sequence and a bad lane name refused")
    func rotationAndChecks() throws {
        let (_, c) = try collector()
        c.handle(topic: "rpm/PORT/A/records/alarm", payload: sealed(alarm(1), 1, key: keyA1) + sealed(alarm(2), 2, key: keyA2))
        #expect(c.stored == 2)
        let (_, r) = try collector(retiredA1: true)
        r.handle(topic: "rpm/PORT/A/records/alarm", payload: sealed(alarm(1), 1, key: keyA1))
        #expect(r.stored == 0 && r.forged == 1, "the retired key is refused")
        r.handle(topic: "rpm/PORT/A/records/occupancy", payload: sealed(alarm(1), 1, key: keyA2))
        #expect(r.stored == 0 && r.wrongKind == 1, "an alarm on the occupancy topic")
        r.handle(topic: "rpm/PORT/A/records/alarm", payload: sealed(alarm(2), 2_000_000, key: keyA2))
        #expect(r.stored == 0 && r.outOfWindow == 1, "sequence 2,000,000 with nothing stored")
        r.handle(topic: "rpm/PORT/EVIL';DROP/records/alarm", payload: sealed(alarm(1), 1, key: keyA2))
        #expect(r.badLane == 1)
        r.handle(topic: "rpm/PORT/A/records/alarm", payload: sealed(alarm(1), 1, key: keyA2))
        #expect(r.stored == 1, "the genuine record still goes in")
    }

    func alarm(_ i: Int) -> Record { .alarm(AlarmRecord(occupancy: UInt32(i), kind: 0, tUs: 0, sigmaQ8: 0)) }

    @Test("key files: the lane's newest key seals; a key file others may read is refused; the station's lines are checked with file and line")
    func keyFiles() throws {
        let dir = NSTemporaryDirectory() + "keys-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let lane = dir + "/lane.keys"
        FileManager.default.createFile(atPath: lane, contents: Data("# test\n1 \(keyA1.hex)\n2 \(keyA2.hex)\n".utf8), attributes: [.posixPermissions: 0o600])
        #expect(try KeyFile.loadLane(lane).id == 2)
        chmod(lane, 0o644)
        #expect(throws: KeyFileError.self) { try KeyFile.loadLane(lane) }
        let station = dir + "/station.keys"
        FileManager.default.createFile(atPath: station, contents: Data("PORT/A 1 \(keyA1.hex)\nPORT/A 2 zz\n".utf8), attributes: [.posixPermissions: 0o600])
        do { _ = try KeyFile.loadStation(station); Issue.record("a bad key was accepted") } catch {
            #expect("\(error)".contains("station.keys:2") && "\(error)".contains("64 hex digits"), "\(error)")
        }
    }
}
