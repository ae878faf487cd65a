// The journal: records appended to segment files on the board's storage, read back by the
// uplink, and released only when the broker has acknowledged them. A power cut at any moment
// loses no committed record: recovery truncates a torn tail, checks every CRC and resumes the
// sequence after the last good record, without gaps or duplicates.
//
// Layout of the directory:
//     <first sequence, 20 digits>.seg   frames as in docs/RECORDS.md, appended
//     acked                             the last acknowledged sequence (8 bytes LE + CRC-32C)
// Policy when full (`bytesMax`): the oldest segment goes first; if it still holds
// unacknowledged alarms, occupancies, audit, fault or heartbeat records, it is rewritten with
// those alone (its raw samples are evicted and counted); those records are never dropped
// silently: when nothing but them is left, new raw samples are refused (counted) instead.

import Foundation
import LaneCore
import LaneHAL

public struct JournalError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
    init(_ m: String) { message = m }
    /// A failed system call (its errno was read at once, in `Sys`).
    static func sys(_ what: String, _ e: SysError) -> JournalError {
        JournalError("\(e.subject.isEmpty ? e.call : e.subject): \(what): \(e.reason)")
    }
}

public struct JournalStats: Sendable, Equatable {
    public var segments = 0
    public var bytes = 0
    /// Recovery: bytes cut from a torn tail, frames refused inside segments.
    public var tornBytesTruncated = 0
    public var corruptFramesSkipped = 0
    /// Recovery: the acknowledgement file held a sequence beyond `Journal.sequenceMax` and was
    /// refused (taken as nothing acknowledged; every record kept is sent again).
    public var ackRefused: UInt64? = nil
    /// Raw samples evicted to make room, and raw samples refused because only records that
    /// must not be dropped were left.
    public var samplesEvicted = 0
    public var samplesRefused = 0
    public var syncs = 0
}

public final class Journal {
    public let directory: String
    public let segmentBytesMax: Int
    public let bytesMax: Int
    var statsStorage = JournalStats()
    public var stats: JournalStats { lock.lock(); defer { lock.unlock() }; return statsStorage }
    /// The sequence the next record gets.
    public var nextSequence: UInt64 { lock.lock(); defer { lock.unlock() }; return nextSequenceStorage }
    public var ackedThrough: UInt64 { lock.lock(); defer { lock.unlock() }; return ackedStorage }
    var nextSequenceStorage: UInt64 = 1
    var ackedStorage: UInt64 = 0

    struct Segment {
        var firstSequence: UInt64
        var path: String
        var bytes: Int
    }
    var segments: [Segment] = []
    var fd: Int32 = -1
    var encoder = RecordEncoder()
    /// The writer thread appends while the uplink thread reads and acknowledges.
    let lock = NSRecursiveLock()
    var frame = [UInt8](repeating: 0, count: RecordFormat.frameMax)

    /// The largest sequence a journal accepts on load (2^48: 890,000 years at 10 records a
    /// second). A larger one in the acknowledgement file is damage, not history: an `acked` file
    /// holding 2^64-2 made the next sequence overflow and the agent crash in a loop.
    public static let sequenceMax: UInt64 = 1 << 48

    public init(directory: String, segmentBytesMax: Int = 1 << 20, bytesMax: Int = 64 << 20) throws(JournalError) {
        precondition(segmentBytesMax >= 512 && bytesMax >= 2 * segmentBytesMax, "journal limits: segments of at least 512 bytes, room for two")
        self.directory = directory
        self.segmentBytesMax = segmentBytesMax
        self.bytesMax = bytesMax
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw JournalError("\(directory): cannot create the journal directory: \(error.localizedDescription)")
        }
        try recover()
    }

    deinit { Sys.close(fd) }

    // MARK: recovery

    func recover() throws(JournalError) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".seg") }.sorted()
        var last: UInt64 = 0
        for name in names {
            guard let first = UInt64(name.dropLast(4)) else { continue }
            let path = directory + "/" + name
            let (goodBytes, lastSeq, corrupt) = try scanSegment(path)
            let size = fileSize(path)
            if goodBytes < size {
                // A torn tail (power cut mid-write): cut it off; what was before it is intact.
                do throws(SysError) { try Sys.truncate(path, to: goodBytes) } catch { throw .sys("cannot truncate the torn tail", error) }
                statsStorage.tornBytesTruncated += size - goodBytes
            }
            statsStorage.corruptFramesSkipped += corrupt
            if goodBytes == 0 && lastSeq == 0 {
                do throws(SysError) { try Sys.unlink(path) } catch { throw .sys("cannot remove an empty segment", error) }
                continue
            }
            segments.append(Segment(firstSequence: first, path: path, bytes: goodBytes))
            if lastSeq > last { last = lastSeq }
        }
        ackedStorage = readAck()
        if ackedStorage > Self.sequenceMax {
            statsStorage.ackRefused = ackedStorage
            ackedStorage = 0
        }
        if last > Self.sequenceMax { last = Self.sequenceMax }
        nextSequenceStorage = max(last, ackedStorage) + 1
        refreshStats()
    }

    /// Returns the length of the prefix made of whole frames (a torn tail is what follows), the
    /// last good sequence, and the number of refused frames before the tail.
    func scanSegment(_ path: String) throws(JournalError) -> (Int, UInt64, Int) {
        guard let data = FileManager.default.contents(atPath: path) else { throw JournalError("\(path): cannot read the segment") }
        var scanner = FrameScanner()
        var good = 0
        var lastSeq: UInt64 = 0
        var corrupt = 0
        var offset = 0
        for b in data {
            offset += 1
            guard let r = scanner.push(b) else { continue }
            switch r {
            case let .record(h, _):
                lastSeq = h.sequence
                good = offset
            case .rejected:
                corrupt += 1
            }
        }
        // A frame refused at the very end is the torn tail, not a corrupt frame inside.
        if good < offset && corrupt > 0 && scanner.isIdle { corrupt -= 1 }
        return (good, lastSeq, corrupt)
    }

    func fileSize(_ path: String) -> Int { Sys.fileSize(path) ?? 0 }

    func refreshStats() {
        statsStorage.segments = segments.count
        statsStorage.bytes = segments.reduce(0) { $0 + $1.bytes }
    }

    // MARK: appending

    /// Appends a record and returns its sequence. `commit` forces it to storage (fdatasync)
    /// before returning: alarms and occupancies are committed before their annunciation is
    /// reported upstream. Raw samples may be refused when the journal is full of records that
    /// must not be dropped (counted in `statsStorage.samplesRefused`); then nil is returned.
    @discardableResult
    public func append(_ record: Record, monotonicUs: Int64, wallUs: Int64, commit: Bool) throws(JournalError) -> UInt64? {
        lock.lock(); defer { lock.unlock() }
        let seq = nextSequenceStorage
        let header = FrameHeader(sequence: seq, monotonicUs: monotonicUs, wallUs: wallUs)
        let n = frame.withUnsafeMutableBufferPointer { encoder.encode(record, header: header, into: $0.baseAddress!, capacity: $0.count) }
        guard let n else { throw JournalError("record \(seq) does not fit a frame") }
        if statsStorage.bytes + n > bytesMax {
            try makeRoom(n)
            if statsStorage.bytes + n > bytesMax {
                if case .samples = record { statsStorage.samplesRefused += 1; return nil }
                // Records that must not be dropped are written even past the limit: storage is
                // sized for them, and dropping them silently is the one thing not allowed.
            }
        }
        if fd < 0 || (segments.last?.bytes ?? 0) + n > segmentBytesMax { try openSegment(first: seq) }
        let path = segments.last!.path
        let written = frame.withUnsafeBytes { b in
            Result { () throws(SysError) in try Sys.writeAll(fd, UnsafeRawBufferPointer(rebasing: b[..<n]), path) }
        }
        if case let .failure(e) = written { throw .sys("cannot append to the journal", e) }
        segments[segments.count - 1].bytes += n
        statsStorage.bytes += n
        nextSequenceStorage = seq + 1
        if commit { try sync() }
        return seq
    }

    /// Forces everything appended so far to storage.
    public func sync() throws(JournalError) {
        lock.lock(); defer { lock.unlock() }
        guard fd >= 0 else { return }
        do throws(SysError) { try Sys.fdatasync(fd, segments.last!.path) } catch { throw .sys("fdatasync failed", error) }
        statsStorage.syncs += 1
    }

    func openSegment(first: UInt64) throws(JournalError) {
        if fd >= 0 { try sync(); Sys.close(fd); fd = -1 }
        let path = directory + "/" + String(format: "%020llu.seg", first)
        do throws(SysError) {
            fd = try Sys.open(path, O_WRONLY | O_CREAT | O_APPEND)
            try Sys.fsyncDirectory(directory)
        } catch { throw .sys("cannot create a segment", error) }
        segments.append(Segment(firstSequence: first, path: path, bytes: fileSize(path)))
        refreshStats()
    }

    // MARK: reading and acknowledging

    /// Calls `body` with every record after `sequence`, in order, at most `limit` of them, with
    /// its encoded frame (what the uplink sends). Returns how many it gave.
    @discardableResult
    public func read(after sequence: UInt64, limit: Int, _ body: (FrameHeader, Record, ArraySlice<UInt8>) -> Void) -> Int {
        lock.lock(); defer { lock.unlock() }
        var given = 0
        for (i, seg) in segments.enumerated() {
            if i + 1 < segments.count && segments[i + 1].firstSequence <= sequence + 1 { continue }
            guard let data = FileManager.default.contents(atPath: seg.path) else { continue }
            let bytes = [UInt8](data.prefix(seg.bytes))
            var scanner = FrameScanner()
            var start = 0
            for (k, b) in bytes.enumerated() {
                if b == RecordFormat.magic && scanner.isIdle { start = k }
                guard let r = scanner.push(b) else { continue }
                if case let .record(h, rec) = r, h.sequence > sequence {
                    body(h, rec, bytes[start...k])
                    given += 1
                    if given >= limit { return given }
                }
            }
        }
        return given
    }

    /// The broker has acknowledged everything through `sequence`: remember it (atomically) and
    /// delete the segments it empties.
    public func acknowledge(through sequence: UInt64) throws(JournalError) {
        lock.lock(); defer { lock.unlock() }
        guard sequence > ackedStorage else { return }
        let s = min(sequence, nextSequenceStorage - 1)
        var bytes = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: s >> (8 * UInt64(i))) }
        let crc = bytes.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, 8) }
        for i in 0..<4 { bytes[8 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        do throws(SysError) { try Sys.writeFileAtomically(directory + "/acked", bytes) } catch {
            throw .sys("cannot record the acknowledgement", error)
        }
        ackedStorage = s
        // A segment is released when the next one starts at or before the first unacknowledged record.
        while segments.count > 1 && segments[1].firstSequence <= s + 1 {
            do throws(SysError) { try Sys.unlink(segments[0].path) } catch { throw .sys("cannot release a segment", error) }
            segments.removeFirst()
        }
        refreshStats()
    }

    func readAck() -> UInt64 {
        guard let d = FileManager.default.contents(atPath: directory + "/acked"), d.count == 12 else { return 0 }
        let b = [UInt8](d)
        let crc = b.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, 8) }
        let stored = UInt32(b[8]) | UInt32(b[9]) << 8 | UInt32(b[10]) << 16 | UInt32(b[11]) << 24
        guard crc == stored else { return 0 }
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[$1]) << (8 * UInt64($1)) }
    }

    // MARK: making room

    /// Frees space from the oldest segments (never the one being written).
    func makeRoom(_ needed: Int) throws(JournalError) {
        var i = 0
        while statsStorage.bytes + needed > bytesMax && i < segments.count - 1 {
            let seg = segments[i]
            guard let data = FileManager.default.contents(atPath: seg.path) else { i += 1; continue }
            var keep: [UInt8] = []
            var evicted = 0
            var scanner = FrameScanner()
            var start = 0
            let bytes = [UInt8](data.prefix(seg.bytes))
            for (k, b) in bytes.enumerated() {
                if b == RecordFormat.magic && scanner.isIdle { start = k }
                guard let r = scanner.push(b), case let .record(h, rec) = r else { continue }
                let acked = h.sequence <= ackedStorage
                if case .samples = rec { evicted += 1; continue }
                if !acked { keep += bytes[start...k] }
            }
            if keep.count == seg.bytes { i += 1; continue }  // nothing to free here
            do throws(SysError) {
                if keep.isEmpty {
                    try Sys.unlink(seg.path)
                    segments.remove(at: i)
                } else {
                    try Sys.writeFileAtomically(seg.path, keep)
                    segments[i].bytes = keep.count
                    i += 1
                }
            } catch { throw .sys("cannot compact a segment", error) }
            statsStorage.samplesEvicted += evicted
            refreshStats()
        }
    }
}
