// Proves the journal keeps every committed record through a power cut at any byte, resumes
// its sequence without gaps or duplicates, remembers acknowledgements, and makes room by
// evicting raw samples first while never dropping alarms or occupancies.

import Foundation
import LaneCore
import LaneUplink
import Testing

func tempDir(_ name: String) -> String {
    let d = NSTemporaryDirectory() + "journal-\(name)-\(UUID().uuidString)"
    try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
}

func alarm(_ i: Int) -> Record { .alarm(AlarmRecord(occupancy: UInt32(i), kind: 0, tUs: Int64(i) * 1_000, sigmaQ8: 2_000)) }

func samples(_ i: Int) -> Record {
    var b = SampleBatch(panels: 4, nominalIntervalUs: 100_000)
    for k in 0..<16 {
        var s = LaneSample(tUs: Int64(i * 16 + k) * 100_000, intervalUs: 100_000)
        for p in 0..<4 { s.gamma[p] = UInt32(40 + (k + p) % 7); s.gammaLow[p] = 22; s.neutron[p] = UInt32(k % 2) }
        _ = b.append(s)
    }
    return .samples(b)
}

func sequences(_ j: Journal, after: UInt64 = 0) -> [UInt64] {
    var out: [UInt64] = []
    j.read(after: after, limit: Int.max) { h, _, _ in out.append(h.sequence) }
    return out
}

@Suite struct JournalTests {
    @Test("records come back in order after a restart, and the sequence resumes after the last")
    func reopen() throws {
        let dir = tempDir("reopen")
        do {
            let j = try Journal(directory: dir, segmentBytesMax: 8_192, bytesMax: 1 << 20)
            for i in 1...200 { try j.append(i % 5 == 0 ? alarm(i) : samples(i), monotonicUs: Int64(i), wallUs: 0, commit: i % 5 == 0) }
            #expect(j.stats.segments > 1)
        }
        let j = try Journal(directory: dir, segmentBytesMax: 8_192, bytesMax: 1 << 20)
        #expect(j.nextSequence == 201)
        #expect(sequences(j) == Array(1...200))
        try j.append(alarm(201), monotonicUs: 201, wallUs: 0, commit: true)
        #expect(sequences(j, after: 195) == [196, 197, 198, 199, 200, 201])
    }

    @Test("a power cut at any byte of the last frame loses only that frame; the sequence continues without a gap")
    func tornTail() throws {
        let dir = tempDir("torn")
        do {
            let j = try Journal(directory: dir, segmentBytesMax: 1 << 20, bytesMax: 4 << 20)
            for i in 1...10 { try j.append(alarm(i), monotonicUs: Int64(i), wallUs: 0, commit: true) }
        }
        let seg = try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasSuffix(".seg") }!
        let whole = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + seg))
        // The last frame's bytes: find where frame 10 starts by re-encoding frame sizes.
        let j0 = try Journal(directory: dir)
        var lastFrame = 0
        j0.read(after: 9, limit: 1) { _, _, bytes in lastFrame = bytes.count }
        for cut in 1..<lastFrame {
            let copy = tempDir("torn-copy")
            try whole.prefix(whole.count - cut).write(to: URL(fileURLWithPath: copy + "/" + seg))
            let j = try Journal(directory: copy)
            #expect(j.nextSequence == 10, "cut \(cut)")
            #expect(j.stats.tornBytesTruncated == lastFrame - cut)
            #expect(sequences(j) == Array(1...9))
            try j.append(alarm(10), monotonicUs: 10, wallUs: 0, commit: true)
            #expect(sequences(j) == Array(1...10))
            try? FileManager.default.removeItem(atPath: copy)
        }
    }

    @Test("a corrupt frame inside a segment is skipped and counted; the records around it survive")
    func corruptMiddle() throws {
        let dir = tempDir("corrupt")
        do {
            let j = try Journal(directory: dir)
            for i in 1...5 { try j.append(alarm(i), monotonicUs: Int64(i), wallUs: 0, commit: true) }
        }
        let path = dir + "/" + (try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasSuffix(".seg") }!)
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[30] ^= 0x10  // inside frame 2 or 3
        try data.write(to: URL(fileURLWithPath: path))
        let j = try Journal(directory: dir)
        #expect(j.stats.corruptFramesSkipped >= 1)
        #expect(sequences(j).count == 4)
        #expect(j.nextSequence == 6)
    }

    @Test("acknowledgements persist and release whole segments only")
    func acknowledgements() throws {
        let dir = tempDir("ack")
        do {
            let j = try Journal(directory: dir, segmentBytesMax: 4_096, bytesMax: 1 << 20)
            for i in 1...100 { try j.append(samples(i), monotonicUs: Int64(i), wallUs: 0, commit: false) }
            j.sync()
            let before = j.stats.segments
            #expect(j.acknowledge(through: 60))
            #expect(j.stats.segments < before)
            #expect(sequences(j, after: 60) == Array(61...100))
        }
        let j = try Journal(directory: dir, segmentBytesMax: 4_096, bytesMax: 1 << 20)
        #expect(j.ackedThrough == 60)
        #expect(sequences(j, after: j.ackedThrough) == Array(61...100))
        #expect(j.acknowledge(through: 100))
        #expect(j.stats.segments == 1)
        let k = try Journal(directory: dir, segmentBytesMax: 4_096, bytesMax: 1 << 20)
        #expect(k.nextSequence == 101)  // no reuse of acknowledged sequence numbers
    }

    @Test("an acknowledgement file holding a sequence beyond 2^48 (2^64-2 crashed the agent in a loop) is refused and reported; the journal opens, keeps its records and appends")
    func ackOutOfRange() throws {
        let dir = tempDir("ack-range")
        do {
            let j = try Journal(directory: dir, segmentBytesMax: 4_096, bytesMax: 1 << 20)
            for i in 1...5 { try j.append(alarm(i), monotonicUs: Int64(i), wallUs: 0, commit: true) }
        }
        var b = [UInt8](repeating: 0, count: 12)
        let bad = UInt64.max - 1
        for i in 0..<8 { b[i] = UInt8(truncatingIfNeeded: bad >> (8 * UInt64(i))) }
        let crc = b.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, 8) }
        for i in 0..<4 { b[8 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        _ = FileManager.default.createFile(atPath: dir + "/acked", contents: Data(b))
        let j = try Journal(directory: dir, segmentBytesMax: 4_096, bytesMax: 1 << 20)
        #expect(j.stats.ackRefused == bad)
        #expect(j.ackedThrough == 0)
        #expect(j.nextSequence == 6)
        #expect(sequences(j) == Array(1...5))
        #expect(try j.append(alarm(6), monotonicUs: 6, wallUs: 0, commit: true) == 6)
    }

    @Test("when full, raw samples go first (counted), alarms are never dropped; then new samples are refused (counted)")
    func eviction() throws {
        let dir = tempDir("full")
        let j = try Journal(directory: dir, segmentBytesMax: 4_096, bytesMax: 16_384)
        var alarms: [UInt64] = []
        for i in 1...400 {
            if i % 10 == 0 {
                alarms.append(try j.append(alarm(i), monotonicUs: Int64(i), wallUs: 0, commit: true)!)
            } else {
                _ = try j.append(samples(i), monotonicUs: Int64(i), wallUs: 0, commit: false)
            }
        }
        #expect(j.stats.samplesEvicted > 0)
        var kept: [UInt64] = []
        j.read(after: 0, limit: Int.max) { h, r, _ in if case .alarm = r { kept.append(h.sequence) } }
        #expect(kept == alarms, "every alarm is still there")
        // Fill with alarms only: the journal grows past its limit rather than drop them, and
        // refuses raw samples.
        for i in 0..<1_000 { _ = try j.append(alarm(1_000 + i), monotonicUs: 0, wallUs: 0, commit: false) }
        j.sync()
        let refusedBefore = j.stats.samplesRefused
        #expect(try j.append(samples(0), monotonicUs: 0, wallUs: 0, commit: false) == nil)
        #expect(j.stats.samplesRefused == refusedBefore + 1)
        var count = 0
        j.read(after: 0, limit: Int.max) { _, r, _ in if case .alarm = r { count += 1 } }
        #expect(count == alarms.count + 1_000)
        #expect(j.stats.bytes > 16_384)  // past the limit rather than drop an alarm
    }
}
