// Proves the collector's store: sequences are checked per lane (gaps found, closed by late
// records, duplicates dropped and counted), decisions are queryable by lane and alarm, frames
// are kept bit for bit, and refused frames are counted, not stored.

import Foundation
import LaneCollector
import LaneCore
import Testing

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
    @Test("gaps are found and closed by late records; duplicates are dropped and counted; decisions are queryable")
    func sequences() throws {
        let path = NSTemporaryDirectory() + "collector-\(UUID().uuidString).sqlite"
        let db = try Database(path: path)
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
