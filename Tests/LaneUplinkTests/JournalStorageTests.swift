// Proves the journal's identity and its behaviour when storage fails, on real file systems:
// every journal has an epoch carried in its frames (a wiped journal gets a new one, so the
// collector never takes its records for repeats); a full file system gives its reserve to
// alarms and decisions and refuses raw samples, a read-only one is survived, and every record
// not kept leaves a gap record naming it; read commands change nothing on disk.
// The small and read-only file systems are tmpfs mounts (the tests run as root, as CI does).

import Foundation
import LaneCore
import LaneTestSupport
import LaneUplink
import Testing

func gaps(_ j: Journal) -> [GapRecord] {
    var out: [GapRecord] = []
    j.read(after: 0, limit: Int.max) { _, r, _ in if case let .gap(g) = r { out.append(g) } }
    return out
}

func lostSequences(_ g: [GapRecord]) -> [UInt64] {
    g.flatMap { r in (0..<r.rangeCount).flatMap { let x = r.range($0); return Array(x.first...x.last) } }
}

@Suite struct JournalStorageTests {
    @Test("a new journal has a random epoch in every frame; it survives a restart and the loss of its epoch file; a wiped journal gets a new one")
    func epochs() throws {
        let dir = tempDir("epoch")
        let e1: UInt64
        do {
            let j = try Journal(directory: dir)
            e1 = j.epoch
            #expect(e1 != 0)
            for i in 1...3 { try j.append(alarm(i), monotonicUs: Int64(i), wallUs: 0, commit: true) }
            var seen: Set<UInt64> = []
            j.read(after: 0, limit: 10) { h, _, _ in seen.insert(h.epoch) }
            #expect(seen == [e1])
        }
        #expect(try Journal(directory: dir).epoch == e1)
        try FileManager.default.removeItem(atPath: dir + "/epoch")
        let j = try Journal(directory: dir)
        #expect(j.epoch == e1, "recovered from the frames")
        #expect(j.nextSequence == 4)
        // A wiped card: the same directory, empty.
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) { try FileManager.default.removeItem(atPath: dir + "/" + f) }
        let k = try Journal(directory: dir)
        #expect(k.epoch != e1 && k.epoch != 0)
        #expect(k.nextSequence == 1)
    }

    @Test("an acknowledgement beyond what was written is refused; one of another epoch on disk is refused with the reason and everything is offered again")
    func acknowledgementChecks() throws {
        let dir = tempDir("ack-epoch")
        do {
            let j = try Journal(directory: dir, segmentBytesMax: 4_096, bytesMax: 1 << 20)
            for i in 1...5 { try j.append(alarm(i), monotonicUs: Int64(i), wallUs: 0, commit: true) }
            #expect(j.acknowledge(through: 6) == false, "record 6 was never written")
            #expect(j.acknowledge(through: 1_000_000) == false)
            #expect(j.ackedThrough == 0)
            #expect(j.acknowledge(through: 3))
        }
        #expect(try Journal(directory: dir).ackedThrough == 3)
        // The acked file of another journal (another epoch) copied in.
        var b: [UInt8] = []
        for v in [UInt64(0x1234), 5] { for i in 0..<8 { b.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
        let crc = b.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, 16) }
        for i in 0..<4 { b.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i)))) }
        _ = FileManager.default.createFile(atPath: dir + "/acked", contents: Data(b))
        let j = try Journal(directory: dir)
        #expect(j.ackedThrough == 0)
        #expect(j.stats.ackRefusedReason?.contains("is for epoch 0000000000001234") == true, "\(j.stats.ackRefusedReason ?? "nil")")
        #expect(sequences(j, after: j.ackedThrough) == [1, 2, 3, 4, 5])
    }

    @Test("a segment holding a sequence beyond 2^48 is set aside and the journal starts a fresh epoch at 1")
    func impossibleSequence() throws {
        let dir = tempDir("impossible")
        var enc = RecordEncoder()
        var out = [UInt8](repeating: 0, count: RecordFormat.frameMax)
        let n = out.withUnsafeMutableBufferPointer {
            enc.encode(alarm(1), header: FrameHeader(epoch: 9, sequence: (1 << 48) + 5, monotonicUs: 0, wallUs: 0), into: $0.baseAddress!, capacity: $0.count)
        }!
        _ = FileManager.default.createFile(atPath: dir + "/00000000000000000001.seg", contents: Data(out.prefix(n)))
        let j = try Journal(directory: dir)
        #expect(j.stats.segmentsSetAside == 1)
        #expect(j.nextSequence == 1 && j.epoch != 9)
        #expect(FileManager.default.fileExists(atPath: dir + "/damaged/00000000000000000001.seg"))
        #expect(try j.append(alarm(1), monotonicUs: 0, wallUs: 0, commit: true) == 1)
    }

    @Test("reading a journal read-only changes nothing: a torn tail stays on disk, on a read-only file system too")
    func readOnly() throws {
        let fs = try SmallFilesystem(kib: 1_024)
        defer { fs.close() }
        let dir = fs.path + "/journal"
        do {
            let j = try Journal(directory: dir, reserveBytes: 0)
            for i in 1...5 { try j.append(alarm(i), monotonicUs: Int64(i), wallUs: 0, commit: true) }
        }
        let seg = dir + "/" + (try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasSuffix(".seg") }!)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: seg))
        bytes.append(contentsOf: [0xA7, 0x02, 0x03, 0x20, 0x01])  // a torn frame
        try bytes.write(to: URL(fileURLWithPath: seg))
        #expect(fs.remountReadOnly(true) == 0)
        let j = try Journal(directory: dir, readOnly: true)
        #expect(sequences(j) == [1, 2, 3, 4, 5])
        #expect(j.stats.tornBytesTruncated == 5)
        #expect(try Data(contentsOf: URL(fileURLWithPath: seg)) == bytes, "the torn tail is still there")
    }

    @Test("a read-only file system at start: the journal opens, says why it cannot keep records, loses them with their sequences, and reports them in a gap record once it can write")
    func readOnlyAtStart() throws {
        let fs = try SmallFilesystem(kib: 1_024)
        defer { fs.close() }
        let dir = fs.path + "/journal"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        #expect(fs.remountReadOnly(true) == 0)
        let j = try Journal(directory: dir, reserveBytes: 4_096)
        j.problemClearsAfterS = 0  // the agent waits 10 s of good writes before it clears the fault
        for i in 1...3 { #expect(try j.append(alarm(i), monotonicUs: Int64(i), wallUs: 0, commit: true) == nil) }
        #expect(j.storageProblem?.contains("Read-only file system") == true, "\(j.storageProblem ?? "nil")")
        #expect(j.stats.recordsLost == 3)
        #expect(fs.remountReadOnly(false) == 0)
        let seq = try j.append(alarm(4), monotonicUs: 4, wallUs: 0, commit: true)
        #expect(j.storageProblem == nil)
        #expect(seq == 5, "the gap record took sequence 4")
        let g = gaps(j)
        #expect(g.count == 1 && g.first?.cause == .storageFailed && lostSequences(g) == [1, 2, 3])
    }

    @Test("a full file system: the reserve goes to alarms, raw samples are refused first; every record not kept is named in a gap record once space returns")
    func fullFilesystem() throws {
        let fs = try SmallFilesystem(kib: 256)
        defer { fs.close() }
        let dir = fs.path + "/journal"
        let j = try Journal(directory: dir, segmentBytesMax: 16_384, bytesMax: 64 << 20, reserveBytes: 32_768)
        j.reserveRetryS = 0  // the test frees space at once; the agent tries every 10 s
        j.problemClearsAfterS = 0
        #expect(FileManager.default.fileExists(atPath: dir + "/reserve"))
        // Fill the file system with something else, as a runaway log would.
        #expect(FileManager.default.createFile(atPath: fs.path + "/filler", contents: Data(count: 200 * 1_024)))
        var kept: [UInt64] = [], lostSamples = 0, alarmsKept = 0
        for i in 1...400 {
            let isAlarm = i % 10 == 0
            if let s = try j.append(isAlarm ? alarm(i) : samples(i), monotonicUs: Int64(i), wallUs: 0, commit: isAlarm) {
                kept.append(s)
                if isAlarm { alarmsKept += 1 }
            } else if !isAlarm { lostSamples += 1 }
        }
        #expect(j.stats.reserveReleased == 1, "the reserve was given up once")
        #expect(alarmsKept == 40, "the reserve kept every alarm after the disk filled: \(alarmsKept)")
        #expect(lostSamples > 0)
        #expect(j.storageProblem?.contains("No space left") == true, "\(j.storageProblem ?? "nil")")
        // Space returns (the runaway file is removed): the next append writes the gap record first.
        try FileManager.default.removeItem(atPath: fs.path + "/filler")
        let next = try j.append(alarm(999), monotonicUs: 999, wallUs: 0, commit: true)
        #expect(next != nil && j.storageProblem == nil)
        var all: [UInt64] = []
        j.read(after: 0, limit: Int.max) { h, _, _ in all.append(h.sequence) }
        let lost = lostSequences(gaps(j))
        // Every sequence up to the last is either a record or named lost, never both, never neither.
        #expect(Set(all).isDisjoint(with: lost))
        #expect((Set(all).union(lost)) == Set(1...(next!)), "no silent hole")
        #expect(lost.count == j.stats.recordsLost + j.stats.samplesRefused)
    }

    @Test("when an alarm is the first record the full file system refuses, the fault names the system's reason (No space left on device) as well as the reserve")
    func fullFilesystemFirstRefusalIsAnAlarm() throws {
        let fs = try SmallFilesystem(kib: 256)
        defer { fs.close() }
        let j = try Journal(directory: fs.path + "/journal", segmentBytesMax: 16_384, bytesMax: 64 << 20, reserveBytes: 32_768)
        #expect(FileManager.default.createFile(atPath: fs.path + "/filler", contents: Data(count: 200 * 1_024)))
        var i = 0
        while j.stats.reserveReleased == 0 && i < 2_000 {
            i += 1
            _ = try j.append(alarm(i), monotonicUs: Int64(i), wallUs: 0, commit: true)
        }
        #expect(j.stats.reserveReleased == 1, "only alarms were written, and one of them took the reserve")
        #expect(j.storageProblem?.contains("No space left on device") == true, "\(j.storageProblem ?? "nil")")
    }

    @Test("records dropped before the journal and sequences asked for but not held are reported in gap records")
    func otherGaps() throws {
        let j = try Journal(directory: tempDir("other-gaps"))
        try j.append(alarm(1), monotonicUs: 1, wallUs: 0, commit: true)
        j.reportDropped(7)
        try j.append(alarm(2), monotonicUs: 2, wallUs: 0, commit: true)
        let s = j.reportNotInJournal([10...12], monotonicUs: 3, wallUs: 0)
        let g = gaps(j)
        #expect(g.count == 2)
        #expect(g.first?.cause == .queueFull && g.first?.records == 7 && g.first?.rangeCount == 0)
        #expect(g.last?.cause == .notInJournal && lostSequences([g.last!]) == [10, 11, 12])
        #expect(s == 4)
    }
}

/// Proves what the lane answers when the collector asks for a range: the sequences it no longer
/// holds (evicted, or released by an acknowledgement) are named exactly, and nothing it holds is.
@Suite struct JournalMissingTests {
    @Test("missing(in:) names exactly the sequences of a range the journal does not hold, and none it has not yet written")
    func missingRanges() throws {
        let j = try Journal(directory: tempDir("missing"), segmentBytesMax: 4_096, bytesMax: 16_384)
        for i in 1...300 { _ = try j.append(i % 10 == 0 ? alarm(i) : samples(i), monotonicUs: Int64(i), wallUs: 0, commit: i % 10 == 0) }
        j.sync()
        #expect(j.stats.samplesEvicted > 0)
        var held: Set<UInt64> = []
        j.read(after: 0, limit: Int.max) { h, _, _ in held.insert(h.sequence) }
        let last = j.nextSequence - 1
        let gone = j.missing(in: 1...last)
        let goneSet = Set(gone.flatMap { Array($0) })
        #expect(goneSet.isDisjoint(with: held))
        #expect(goneSet.union(held) == Set(1...last))
        #expect(j.missing(in: (last + 1)...(last + 50)).isEmpty, "not written yet is not missing")
        #expect(j.missing(in: 10...10).isEmpty, "alarm 10 is held")
    }
}
