// Records from the tick to the journal: the tick pushes into a bounded queue allocated at
// start-up (a full queue drops and counts); a writer thread appends them to the journal,
// committing alarms and occupancies at once and everything else at least once a second.

import Foundation
import LaneCore
import LaneHAL
import LaneTrace
import LaneUplink
import Synchronization

public struct PendingRecord: Sendable {
    public var record: Record
    public var monotonicUs: Int64
    public var wallUs: Int64
    public var commit: Bool
}

public typealias RecordQueue = BoundedQueue<PendingRecord>

extension BoundedQueue where Element == PendingRecord {
    public func push(_ r: Record, monotonicUs: Int64, wallUs: Int64, commit: Bool) {
        push(PendingRecord(record: r, monotonicUs: monotonicUs, wallUs: wallUs, commit: commit))
    }
}

/// Owns the journal on its own thread. Storage that fails does not stop it (nor the lane):
/// `storageFaulted` is raised for the tick (the lane's storage fault), the log says why (a few
/// lines per cause, then counts), and the journal keeps the lost sequences for a gap record.
public final class JournalWriter: @unchecked Sendable {
    public let queue = RecordQueue(capacity: 256)
    public let journal: Journal
    let log: LogLimiter
    let lock = NSLock()
    var stopping = false
    let done = DispatchSemaphore(value: 0)
    /// Read by the tick each tick (no lock: an atomic).
    let faulted = Atomic<Bool>(false)
    public var storageFaulted: Bool { faulted.load(ordering: .relaxed) }
    /// Records the journal did not keep (storage failed, or samples refused when full).
    public var appendErrors: Int { let s = journal.stats; return s.recordsLost }
    var droppedReported = 0

    public init(directory: String, segmentBytesMax: Int, bytesMax: Int, reserveBytes: Int = 256 << 10, log: @escaping (String) -> Void) {
        journal = try! Journal(directory: directory, segmentBytesMax: segmentBytesMax, bytesMax: bytesMax, reserveBytes: reserveBytes)
        self.log = LogLimiter(sink: log)
        let s = journal.stats
        log("journal \(directory): epoch \(epochHex(journal.epoch)), \(s.segments) segments, \(s.bytes) bytes, next sequence \(journal.nextSequence), "
            + "stored by the alarm station through \(journal.ackedThrough)"
            + (s.tornBytesTruncated > 0 ? ", torn tail of \(s.tornBytesTruncated) bytes cut" : "")
            + (s.corruptFramesSkipped > 0 ? ", \(s.corruptFramesSkipped) corrupt frames skipped" : ""))
        if let why = s.ackRefusedReason {
            log("journal: ERROR: \(why): refused; every kept record will be offered to the alarm station again")
        }
        if s.segmentsSetAside > 0 {
            log("journal: ERROR: \(s.segmentsSetAside) segments hold sequences beyond \(Journal.sequenceMax): set aside in \(directory)/damaged; a fresh epoch \(epochHex(journal.epoch)) starts at sequence 1")
        }
        checkStorage()
    }

    public func start() {
        startThread(name: "journal") { [self] in self.loop() }
    }

    /// Raises or clears the storage fault from the journal's state, logging changes.
    func checkStorage() {
        let problem = journal.storageProblem
        let was = faulted.load(ordering: .relaxed)
        if let problem {
            log.log("storage", "journal: STORAGE FAULT: \(problem); the lane screens on, records not kept are reported as a gap")
            if !was { faulted.store(true, ordering: .relaxed) }
        } else if was {
            faulted.store(false, ordering: .relaxed)
            let s = journal.stats
            log.log("storage-ok", "journal: storage works again (\(s.recordsLost) records lost in all, reported to the alarm station as gaps)")
        }
    }

    func loop() {
        var lastSyncUs = MonotonicClock.nowUs()
        var unsynced = false
        while true {
            let dropped = queue.dropped
            if dropped > droppedReported {
                journal.reportDropped(dropped - droppedReported)
                log.log("queue", "journal: the record queue was full: \(dropped) records dropped before the journal in all (reported as a gap)")
                droppedReported = dropped
            }
            if let p = queue.pop(timeoutS: 0.2) {
                let seq = try? journal.append(p.record, monotonicUs: p.monotonicUs, wallUs: p.wallUs, commit: p.commit)
                unsynced = unsynced || (seq != nil && !p.commit)
                checkStorage()
            }
            let now = MonotonicClock.nowUs()
            if unsynced && now - lastSyncUs >= 1_000_000 {
                journal.sync()
                checkStorage()
                unsynced = false
                lastSyncUs = now
            }
            log.flush()
            lock.lock(); let stop = stopping; lock.unlock()
            if stop && queue.isEmpty { break }
        }
        journal.sync()
        log.flush(all: true)
        done.signal()
    }

    /// Drains the queue, syncs and stops the thread.
    public func stop() {
        lock.lock(); stopping = true; lock.unlock()
        done.wait()
    }

    public var stats: JournalStats { journal.stats }
}
