// Records from the tick to the journal: the tick pushes into a bounded queue allocated at
// start-up (a full queue drops and counts); a writer thread appends them to the journal,
// committing alarms and occupancies at once and everything else at least once a second.

import Foundation
import LaneCore
import LaneHAL
import LaneUplink

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

/// Owns the journal on its own thread.
public final class JournalWriter: @unchecked Sendable {
    public let queue = RecordQueue(capacity: 256)
    public let journal: Journal
    let log: (String) -> Void
    let lock = NSLock()
    var stopping = false
    let done = DispatchSemaphore(value: 0)
    public private(set) var appendErrors = 0

    public init(directory: String, segmentBytesMax: Int, bytesMax: Int, log: @escaping (String) -> Void) throws {
        journal = try Journal(directory: directory, segmentBytesMax: segmentBytesMax, bytesMax: bytesMax)
        self.log = log
        let s = journal.stats
        log("journal \(directory): \(s.segments) segments, \(s.bytes) bytes, next sequence \(journal.nextSequence)"
            + (s.tornBytesTruncated > 0 ? ", torn tail of \(s.tornBytesTruncated) bytes cut" : "")
            + (s.corruptFramesSkipped > 0 ? ", \(s.corruptFramesSkipped) corrupt frames skipped" : "")
            + (s.ackRefused.map { "; ERROR: \(directory)/acked holds sequence \($0), beyond \(Journal.sequenceMax): refused, every kept record will be sent again" } ?? ""))
    }

    public func start() {
        startThread(name: "journal") { [self] in self.loop() }
    }

    func loop() {
        var lastSyncUs = MonotonicClock.nowUs()
        var unsynced = false
        while true {
            if let p = queue.pop(timeoutS: 0.2) {
                do {
                    _ = try journal.append(p.record, monotonicUs: p.monotonicUs, wallUs: p.wallUs, commit: p.commit)
                    unsynced = !p.commit
                } catch {
                    appendErrors += 1
                    if appendErrors == 1 || appendErrors % 100 == 0 { log("journal: \(error) (\(appendErrors) errors)") }
                }
            }
            let now = MonotonicClock.nowUs()
            if unsynced && now - lastSyncUs >= 1_000_000 {
                try? journal.sync()
                unsynced = false
                lastSyncUs = now
            }
            lock.lock(); let stop = stopping; lock.unlock()
            if stop && queue.isEmpty { break }
        }
        try? journal.sync()
        done.signal()
    }

    /// Drains the queue, syncs and stops the thread.
    public func stop() {
        lock.lock(); stopping = true; lock.unlock()
        done.wait()
    }

    public var stats: JournalStats { journal.stats }
}
