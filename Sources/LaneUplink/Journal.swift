// The journal: records appended to segment files on the board's storage, read back by the
// uplink, and released only when the alarm station's collector has stored them (its
// acknowledgement, docs/UPLINK.md). A power cut at any moment loses no committed record:
// recovery truncates a torn tail, skips a corrupt frame (and only it), and resumes the
// sequence after the last good record, without gaps or duplicates.
//
// Layout of the directory:
//     epoch                             the journal's identity: 8 random bytes LE + CRC-32C
//     <first sequence, 20 digits>.seg   frames as in docs/RECORDS.md, appended
//     acked                             epoch and last sequence the collector has stored
//                                       (8 + 8 bytes LE + CRC-32C)
//     reserve                           space set aside for decisions, alarms and faults
//     damaged/                          segments set aside because their sequences were impossible
//
// Storage faults (a full, read-only or failing file system) never stop the lane: a record that
// cannot be written still takes its sequence number, and as soon as anything can be written a
// gap record (kind 8) names the lost sequences and the cause, so the collector sees the hole.
// When the file system is full, the reserve is given up for decisions, alarms, faults and
// audit records; raw samples, backgrounds and heartbeats are refused first (docs/UPLINK.md).
// Policy when the journal reaches its own limit (`bytesMax`): the oldest segment goes first; if
// it still holds records the collector has not stored, it is rewritten with all but its raw
// samples (evicted, counted, and named in a gap record); those other records are never dropped:
// when nothing but them is left, new raw samples are refused (counted, named in a gap record).

import Foundation
import LaneCore
import LaneHAL
import LaneTrace

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
    /// Recovery: bytes cut from a torn tail (or that would be cut, read-only), runs of bytes
    /// refused inside segments (each a corrupt frame or damage between frames).
    public var tornBytesTruncated = 0
    public var corruptFramesSkipped = 0
    /// Recovery: the acknowledgement file was refused (its value, or nil when it was unreadable
    /// or of another epoch); every kept record is offered to the collector again.
    public var ackRefused: UInt64? = nil
    public var ackRefusedReason: String? = nil
    /// Recovery: segments set aside in `damaged/` (sequences beyond `Journal.sequenceMax`).
    public var segmentsSetAside = 0
    /// Raw samples evicted to make room, and raw samples refused because only records that
    /// must not be dropped were left.
    public var samplesEvicted = 0
    public var samplesRefused = 0
    /// Records that took a sequence but could not be written (storage failed).
    public var recordsLost = 0
    /// Records lost before the journal (the tick's queue was full), reported in gap records.
    public var recordsDroppedBeforeJournal = 0
    /// Gap records written.
    public var gapRecords = 0
    /// Failed writes, syncs or segment creations, and the reserve given up for a record.
    public var storageFailures = 0
    public var reserveReleased = 0
    public var syncs = 0
}

public final class Journal {
    public let directory: String
    public let segmentBytesMax: Int
    public let bytesMax: Int
    public let reserveBytes: Int
    public let readOnly: Bool
    var statsStorage = JournalStats()
    public var stats: JournalStats { lock.lock(); defer { lock.unlock() }; return statsStorage }
    /// The sequence the next record gets.
    public var nextSequence: UInt64 { lock.lock(); defer { lock.unlock() }; return nextSequenceStorage }
    /// The last sequence the collector has stored (everything through it may be released).
    public var ackedThrough: UInt64 { lock.lock(); defer { lock.unlock() }; return ackedStorage }
    /// The journal's identity: carried in every frame; the collector keys records by lane,
    /// epoch and sequence, so a journal started afresh is never taken for a repeat of the old.
    public var epoch: UInt64 { lock.lock(); defer { lock.unlock() }; return epochStorage }
    /// What is wrong with the storage now (nil: records are being kept).
    public var storageProblem: String? { lock.lock(); defer { lock.unlock() }; return problem }
    var nextSequenceStorage: UInt64 = 1
    /// Records through this sequence are on storage (synced): only they are read for sending,
    /// so a power cut can never make the lane reuse a sequence the collector already has.
    var durableStorage: UInt64 = 0
    var ackedStorage: UInt64 = 0
    var epochStorage: UInt64 = 0
    var problem: String? = nil
    /// Sequences taken by records that could not be written, or evicted, not yet reported in a
    /// gap record.
    var pendingGaps: [GapRecord] = []
    var pendingDropped: UInt64 = 0

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
    /// second). A larger one is damage, not history: an `acked` file holding 2^64-2 made the
    /// next sequence overflow and the agent crash in a loop.
    public static let sequenceMax: UInt64 = RecordParser.sequenceMax

    /// Opens (creating if need be) the journal in `directory`. Writing: storage problems do not
    /// throw (the lane must screen on): they are in `storageProblem` and the stats, and appends
    /// retry. `readOnly`: nothing on disk is changed (a torn tail is left, only skipped); throws
    /// when the directory cannot be read.
    public init(directory: String, segmentBytesMax: Int = 1 << 20, bytesMax: Int = 64 << 20, reserveBytes: Int = 256 << 10,
                readOnly: Bool = false) throws(JournalError) {
        precondition(segmentBytesMax >= 512 && bytesMax >= 2 * segmentBytesMax, "journal limits: segments of at least 512 bytes, room for two")
        self.directory = directory
        self.segmentBytesMax = segmentBytesMax
        self.bytesMax = bytesMax
        self.reserveBytes = reserveBytes
        self.readOnly = readOnly
        if readOnly {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
                throw JournalError("\(directory): no such journal directory")
            }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                fail("\(directory): cannot create the journal directory: \((error as NSError).localizedDescription)")
            }
        }
        recover()
        if !readOnly { keepReserve() }
    }

    deinit { Sys.close(fd) }

    /// Notes a storage failure (the lane raises its storage fault while `problem` is set).
    func fail(_ why: String) {
        problem = why
        lastFailureAt = ProcessInfo.processInfo.systemUptime
        statsStorage.storageFailures += 1
    }
    var lastFailureAt: Double = 0
    /// How long writes must succeed after a failure before the storage fault clears.
    public var problemClearsAfterS: Double = 10

    // MARK: recovery

    func recover() {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".seg") }.sorted()
        var last: UInt64 = 0
        var frameEpoch: UInt64? = nil
        var damaged: [String] = []
        for name in names {
            guard let first = UInt64(name.dropLast(4)) else { continue }
            let path = directory + "/" + name
            guard let scan = scanSegment(path) else { fail("\(path): cannot read the segment"); continue }
            if scan.lastSequence > Self.sequenceMax || first > Self.sequenceMax { damaged.append(path); continue }
            if scan.goodBytes < scan.size {
                // A torn tail (power cut mid-write): cut it off; what was before it is intact.
                statsStorage.tornBytesTruncated += scan.size - scan.goodBytes
                if !readOnly {
                    do throws(SysError) { try Sys.truncate(path, to: scan.goodBytes) } catch { fail(JournalError.sys("cannot truncate the torn tail", error).message) }
                }
            }
            statsStorage.corruptFramesSkipped += scan.corruptRuns
            if scan.goodBytes == 0 {
                // No good frame: an empty file or a torn first frame is removed; anything else
                // is damage, set aside below.
                if scan.onlyTorn { if !readOnly { try? Sys.unlink(path) } } else { damaged.append(path) }
                continue
            }
            segments.append(Segment(firstSequence: first, path: path, bytes: scan.goodBytes))
            if scan.lastSequence > last { last = scan.lastSequence; frameEpoch = scan.epoch }
        }
        if !damaged.isEmpty {
            // Impossible sequences: history cannot continue from them. They are set aside (not
            // deleted: someone may want to read them) and the journal starts a fresh epoch.
            statsStorage.segmentsSetAside = damaged.count
            if !readOnly {
                let aside = directory + "/damaged"
                try? FileManager.default.createDirectory(atPath: aside, withIntermediateDirectories: true)
                for p in damaged { try? Sys.rename(p, aside + "/" + (p as NSString).lastPathComponent) }
                for s in segments { try? Sys.rename(s.path, aside + "/" + (s.path as NSString).lastPathComponent) }
                segments.removeAll()
                last = 0
                frameEpoch = nil
                try? Sys.unlink(directory + "/epoch")
            }
        }
        // The epoch: from its file; else from the frames (the file was lost); else a new one.
        let fromFile = readEpochFile()
        if let e = fromFile, frameEpoch == nil || frameEpoch == e {
            epochStorage = e
        } else if let e = frameEpoch {
            epochStorage = e  // the frames are the record of what was sent; the file follows them
            if !readOnly { writeEpochFile(e) }
        } else {
            var rng = SystemRandomNumberGenerator()
            var e: UInt64 = 0
            while e == 0 { e = rng.next() }
            epochStorage = e
            if !readOnly { writeEpochFile(e) }
        }
        let (ack, why) = readAck()
        if let why {
            statsStorage.ackRefused = ack
            statsStorage.ackRefusedReason = why
            ackedStorage = 0
        } else {
            ackedStorage = ack ?? 0
        }
        nextSequenceStorage = max(last, ackedStorage) + 1
        durableStorage = nextSequenceStorage - 1
        refreshStats()
    }

    struct SegmentScan {
        var size: Int
        /// The prefix up to the end of the last good frame (what follows is a torn tail or damage).
        var goodBytes: Int
        var lastSequence: UInt64
        var epoch: UInt64
        var corruptRuns: Int
        /// Nothing but (at most) one frame cut off by the end: an empty or torn-only segment.
        var onlyTorn: Bool
    }

    func scanSegment(_ path: String) -> SegmentScan? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        var scan = SegmentScan(size: data.count, goodBytes: 0, lastSequence: 0, epoch: 0, corruptRuns: 0, onlyTorn: true)
        var pendingRuns = 0
        data.withUnsafeBytes { raw in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress else { return }
            var reader = FrameReader(base, count: raw.count)
            while let f = reader.next() {
                switch f {
                case let .record(h, _, bytes):
                    scan.onlyTorn = false
                    scan.lastSequence = max(scan.lastSequence, h.sequence)
                    scan.epoch = h.epoch
                    scan.goodBytes = bytes.upperBound
                    scan.corruptRuns += pendingRuns
                    pendingRuns = 0
                case .rejected:
                    pendingRuns += 1  // damage inside the segment if a good frame follows
                    scan.onlyTorn = false
                case .truncated:
                    break
                }
            }
        }
        // Damage after the last good frame is a torn tail (cut), not a corrupt frame inside.
        return scan
    }

    func refreshStats() {
        statsStorage.segments = segments.count
        statsStorage.bytes = segments.reduce(0) { $0 + $1.bytes }
    }

    func readEpochFile() -> UInt64? {
        guard let d = FileManager.default.contents(atPath: directory + "/epoch"), d.count == 12 else { return nil }
        let b = [UInt8](d)
        guard crcOK(b, 8) else { return nil }
        let e = le64(b, 0)
        return e == 0 ? nil : e
    }

    func writeEpochFile(_ e: UInt64) {
        var b: [UInt8] = []
        put64(&b, e)
        putCRC(&b)
        do throws(SysError) { try Sys.writeFileAtomically(directory + "/epoch", b) } catch {
            fail(JournalError.sys("cannot record the journal's epoch", error).message)
        }
    }

    // MARK: appending

    /// Whether a record may give way to others when storage runs short.
    static func isExpendable(_ r: Record) -> Bool {
        switch r {
        case .samples, .background, .heartbeat: return true
        default: return false
        }
    }

    /// Appends a record and returns its sequence. `commit` forces it to storage (fdatasync)
    /// before returning: alarms and occupancies are committed before their annunciation is
    /// reported upstream. Returns nil when the record was not kept: raw samples refused because
    /// the journal is full of records that must not be dropped, or storage that failed (then
    /// the record's sequence is reported lost in a gap record as soon as one can be written).
    /// Throws only for a record too large for a frame (a programming error).
    @discardableResult
    public func append(_ record: Record, monotonicUs: Int64, wallUs: Int64, commit: Bool) throws(JournalError) -> UInt64? {
        lock.lock(); defer { lock.unlock() }
        precondition(!readOnly, "append to a journal opened read-only")
        writePendingGaps(monotonicUs: monotonicUs, wallUs: wallUs)
        if statsStorage.bytes + RecordFormat.frameMax > bytesMax { makeRoom(RecordFormat.frameMax) }
        if statsStorage.bytes + RecordFormat.frameMax > bytesMax, case .samples = record {
            statsStorage.samplesRefused += 1
            lose(nextSequenceStorage, .evicted)
            nextSequenceStorage += 1
            return nil
        }
        // Records that must not be dropped are written even past the limit: storage is sized
        // for them, and dropping them silently is the one thing not allowed.
        let seq = nextSequenceStorage
        guard let n = encode(record, seq, monotonicUs, wallUs) else { throw JournalError("record \(seq) does not fit a frame") }
        let written = write(n, first: seq, expendable: Self.isExpendable(record))
        nextSequenceStorage = seq + 1  // taken either way: a record not kept leaves a visible hole
        if written {
            if commit { syncLocked() }
            return seq
        }
        lose(seq, .storageFailed)
        statsStorage.recordsLost += 1
        return nil
    }

    /// Records lost before they reached the journal (the tick's queue was full): reported in
    /// a gap record with the next write.
    public func reportDropped(_ n: Int) {
        guard n > 0 else { return }
        lock.lock(); defer { lock.unlock() }
        pendingDropped += UInt64(n)
        statsStorage.recordsDroppedBeforeJournal += n
    }

    /// Appends a gap record saying the collector's request for `first...last` cannot be met
    /// (those sequences are not in the journal). Returns its sequence.
    @discardableResult
    public func reportNotInJournal(_ ranges: [ClosedRange<UInt64>], monotonicUs: Int64, wallUs: Int64) -> UInt64? {
        lock.lock(); defer { lock.unlock() }
        var g = GapRecord(cause: .notInJournal, records: 0)
        var last: UInt64? = nil
        for r in ranges.prefix(GapRecord.rangesMax) where g.append(first: r.lowerBound, last: r.upperBound) {
            g.records += r.upperBound - r.lowerBound + 1
            last = r.upperBound
        }
        guard last != nil else { return nil }
        return appendGap(g, monotonicUs: monotonicUs, wallUs: wallUs)
    }

    /// Notes a sequence that will never be in the journal, for the next gap record of `cause`.
    func lose(_ seq: UInt64, _ cause: GapRecord.Cause) {
        if let i = pendingGaps.lastIndex(where: { $0.cause == cause }), pendingGaps[i].append(first: seq, last: seq) {
            pendingGaps[i].records += 1
            return
        }
        var g = GapRecord(cause: cause, records: 1)
        _ = g.append(first: seq, last: seq)
        pendingGaps.append(g)
    }

    /// Writes gap records for what was lost, evicted or dropped, if storage allows.
    func writePendingGaps(monotonicUs: Int64, wallUs: Int64) {
        while let g = pendingGaps.first {
            guard appendGap(g, monotonicUs: monotonicUs, wallUs: wallUs) != nil else { return }
            pendingGaps.removeFirst()
        }
        if pendingDropped > 0 {
            let g = GapRecord(cause: .queueFull, records: pendingDropped)
            if appendGap(g, monotonicUs: monotonicUs, wallUs: wallUs) != nil { pendingDropped = 0 }
        }
    }

    /// A gap record is written and committed at once (it stands for records that are gone).
    func appendGap(_ g: GapRecord, monotonicUs: Int64, wallUs: Int64) -> UInt64? {
        let seq = nextSequenceStorage
        guard let n = encode(.gap(g), seq, monotonicUs, wallUs) else { return nil }
        guard write(n, first: seq, expendable: false) else { return nil }
        nextSequenceStorage = seq + 1
        statsStorage.gapRecords += 1
        syncLocked()
        return seq
    }

    func encode(_ record: Record, _ seq: UInt64, _ monotonicUs: Int64, _ wallUs: Int64) -> Int? {
        let header = FrameHeader(epoch: epochStorage, sequence: seq, monotonicUs: monotonicUs, wallUs: wallUs)
        return frame.withUnsafeMutableBufferPointer { encoder.encode(record, header: header, into: $0.baseAddress!, capacity: $0.count) }
    }

    /// Writes the first `n` bytes of `frame` to the current segment; false when storage failed.
    /// A full file system gives up the reserve for a record that is not expendable.
    func write(_ n: Int, first seq: UInt64, expendable: Bool) -> Bool {
        if reserveInUse {
            // The reserve went to decisions and alarms: raw samples, backgrounds and heartbeats
            // wait until it can be set aside again (tried every `reserveRetryS`), so they
            // cannot eat it.
            let now = ProcessInfo.processInfo.systemUptime
            if now - reserveTriedAt >= reserveRetryS { reserveTriedAt = now; keepReserve() }
            if reserveInUse && expendable {
                problem = problem ?? "\(directory): the file system is full: its reserve is kept for decisions and alarms"
                return false
            }
        }
        for attempt in 0..<2 {
            do throws(JournalError) {
                if fd < 0 || (segments.last?.bytes ?? 0) + n > segmentBytesMax { try openSegment(first: seq) }
                let path = segments.last!.path
                let written = frame.withUnsafeBytes { b in
                    Result { () throws(SysError) in try Sys.writeAll(fd, UnsafeRawBufferPointer(rebasing: b[..<n]), path) }
                }
                if case let .failure(e) = written {
                    // Cut what part of the frame was written, so the segment ends at a frame.
                    try? Sys.truncate(path, to: segments[segments.count - 1].bytes)
                    if attempt == 0 && !expendable && (e.code == ENOSPC || e.code == EDQUOT) && releaseReserve() {
                        // The log names the system's own reason (ENOSPC or EDQUOT) once, then the reserve.
                        fail("\(e): the reserve is given up for decisions and alarms")
                        continue
                    }
                    throw JournalError.sys("cannot append to the journal", e)
                }
                segments[segments.count - 1].bytes += n
                statsStorage.bytes += n
                // Storage works again once writes have succeeded for 10 s since the last failure
                // (a full file system lets a small record into the slack of a page now and then).
                if problem != nil && !reserveInUse && ProcessInfo.processInfo.systemUptime - lastFailureAt >= problemClearsAfterS { problem = nil }
                return true
            } catch {
                fail(error.message)
                return false
            }
        }
        return false
    }

    /// Forces everything appended so far to storage.
    public func sync() {
        lock.lock(); defer { lock.unlock() }
        syncLocked()
    }

    func syncLocked() {
        guard fd >= 0 else { return }
        do throws(SysError) { try Sys.fdatasync(fd, segments.last!.path) } catch {
            fail(JournalError.sys("fdatasync failed", error).message)
            return
        }
        durableStorage = nextSequenceStorage - 1
        statsStorage.syncs += 1
    }

    func openSegment(first: UInt64) throws(JournalError) {
        if fd >= 0 { syncLocked(); Sys.close(fd); fd = -1 }
        let path = directory + "/" + String(format: "%020llu.seg", first)
        do throws(SysError) {
            fd = try Sys.open(path, O_WRONLY | O_CREAT | O_APPEND)
            try Sys.fsyncDirectory(directory)
        } catch {
            if fd >= 0 { Sys.close(fd); fd = -1 }
            throw .sys("cannot create a segment", error)
        }
        let size = Sys.fileSize(path) ?? 0
        if segments.last?.path == path { segments[segments.count - 1].bytes = size } else {
            segments.append(Segment(firstSequence: first, path: path, bytes: size))
        }
        refreshStats()
    }

    // MARK: the reserve

    var reservePath: String { directory + "/reserve" }

    /// The reserve was given to records that must be kept and is not set aside again yet.
    var reserveInUse = false
    var reserveTriedAt: Double = 0
    /// How often a missing reserve is tried again while the file system is full.
    public var reserveRetryS: Double = 10

    /// Sets the reserve aside if it is missing (best effort: a full disk leaves it missing).
    func keepReserve() {
        guard reserveBytes > 0 else { return }
        if Sys.fileSize(reservePath) == reserveBytes { reserveInUse = false; return }
        do throws(SysError) {
            try Sys.writeFileAtomically(reservePath, [UInt8](repeating: 0, count: reserveBytes))
            reserveInUse = false
        } catch {
            try? Sys.unlink(reservePath + ".tmp")
        }
    }

    func releaseReserve() -> Bool {
        guard Sys.fileSize(reservePath) != nil else { return false }
        try? Sys.unlink(reservePath)
        reserveInUse = true
        statsStorage.reserveReleased += 1
        return true
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
            var stop = false
            bytes.withUnsafeBufferPointer { b in
                guard let base = b.baseAddress else { return }
                var reader = FrameReader(base, count: b.count)
                while let f = reader.next() {
                    guard case let .record(h, rec, range) = f, h.sequence > sequence else { continue }
                    if h.sequence > durableStorage { stop = true; return }  // not on storage yet
                    body(h, rec, bytes[range])
                    given += 1
                    if given >= limit { stop = true; return }
                }
            }
            if stop { return given }
        }
        return given
    }

    /// The sequences of `r` the journal does not hold (evicted, lost, or released after an
    /// acknowledgement), as ranges: what a collector's request for `r` cannot be given.
    /// Sequences not yet written or not yet on storage are not counted as missing.
    public func missing(in r: ClosedRange<UInt64>) -> [ClosedRange<UInt64>] {
        lock.lock(); defer { lock.unlock() }
        let upper = min(r.upperBound, durableStorage)
        guard r.lowerBound <= upper else { return [] }
        var out: [ClosedRange<UInt64>] = []
        var at = r.lowerBound
        read(after: r.lowerBound - 1, limit: Int.max) { h, _, _ in
            guard h.sequence <= upper, h.sequence >= at else { return }
            if h.sequence > at { out.append(at...(h.sequence - 1)) }
            at = h.sequence + 1
        }
        if at <= upper { out.append(at...upper) }
        return out
    }

    /// The collector has stored everything of this epoch through `sequence`: remember it
    /// (atomically) and delete the segments it empties. An acknowledgement beyond what the
    /// journal has written is refused (returns false): it is forged or from elsewhere.
    @discardableResult
    public func acknowledge(through sequence: UInt64) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard sequence < nextSequenceStorage else { return false }
        guard sequence > ackedStorage else { return true }
        var bytes: [UInt8] = []
        put64(&bytes, epochStorage)
        put64(&bytes, sequence)
        putCRC(&bytes)
        if !readOnly {
            do throws(SysError) { try Sys.writeFileAtomically(directory + "/acked", bytes) } catch {
                fail(JournalError.sys("cannot record the acknowledgement", error).message)
            }
        }
        ackedStorage = sequence
        // A segment is released when the next one starts at or before the first unacknowledged record.
        while segments.count > 1 && segments[1].firstSequence <= sequence + 1 {
            if !readOnly { try? Sys.unlink(segments[0].path) }
            segments.removeFirst()
        }
        refreshStats()
        if !readOnly { keepReserve() }
        return true
    }

    /// The acknowledgement on disk, or the reason it is refused.
    func readAck() -> (UInt64?, String?) {
        let path = directory + "/acked"
        guard let d = FileManager.default.contents(atPath: path) else { return (nil, nil) }
        let b = [UInt8](d)
        if b.count == 12 && crcOK(b, 8) {
            // Format 1 (no epoch): valid only for a journal whose frames had none.
            let s = le64(b, 0)
            if s > Self.sequenceMax { return (s, "\(path) holds sequence \(s), beyond \(Self.sequenceMax)") }
            return epochStorage == 0 ? (s, nil) : (nil, "\(path) has no epoch (an earlier release's) while the journal's is \(epochHex(epochStorage))")
        }
        guard b.count == 20, crcOK(b, 16) else { return (nil, "\(path) is damaged (\(b.count) bytes, CRC)") }
        let e = le64(b, 0), s = le64(b, 8)
        if e != epochStorage { return (nil, "\(path) is for epoch \(epochHex(e)), the journal's is \(epochHex(epochStorage))") }
        if s > Self.sequenceMax { return (s, "\(path) holds sequence \(s), beyond \(Self.sequenceMax)") }
        return (s, nil)
    }

    // MARK: making room

    /// Frees space from the oldest segments (never the one being written).
    func makeRoom(_ needed: Int) {
        var i = 0
        while statsStorage.bytes + needed > bytesMax && i < segments.count - 1 {
            let seg = segments[i]
            guard let data = FileManager.default.contents(atPath: seg.path) else { i += 1; continue }
            var keep: [UInt8] = []
            var evicted: [UInt64] = []
            let bytes = [UInt8](data.prefix(seg.bytes))
            bytes.withUnsafeBufferPointer { b in
                guard let base = b.baseAddress else { return }
                var reader = FrameReader(base, count: b.count)
                while let f = reader.next() {
                    guard case let .record(h, rec, range) = f else { continue }
                    let acked = h.sequence <= ackedStorage
                    if case .samples = rec { if !acked { evicted.append(h.sequence) }; continue }
                    if !acked { keep += bytes[range] }
                }
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
            } catch {
                fail(JournalError.sys("cannot compact a segment", error).message)
                return
            }
            for s in evicted { lose(s, .evicted) }
            statsStorage.samplesEvicted += evicted.count
            refreshStats()
        }
    }
}

func le64(_ b: [UInt8], _ at: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) } }
func put64(_ b: inout [UInt8], _ v: UInt64) { for i in 0..<8 { b.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) } }
func putCRC(_ b: inout [UInt8]) {
    let crc = b.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, $0.count) }
    for i in 0..<4 { b.append(UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i)))) }
}
func crcOK(_ b: [UInt8], _ n: Int) -> Bool {
    let crc = b.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, n) }
    return crc == UInt32(b[n]) | UInt32(b[n + 1]) << 8 | UInt32(b[n + 2]) << 16 | UInt32(b[n + 3]) << 24
}
