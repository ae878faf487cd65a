// What every console session shares: the lane (through the monitor and the poll thread), the
// journal and uplink for their figures, the log ring, logins, the running tunables, counters,
// and the audit trail. Nothing here is on the tick's path.

import Foundation
import LaneAgent
import LaneCore
import LaneHAL
import LaneUplink

/// The agent's recent log lines, for `log` (bounded; the oldest go first).
public final class LogRing: @unchecked Sendable {
    public static let capacity = 200
    let lock = NSLock()
    var lines = Ring<String>(capacity: LogRing.capacity)

    public init() {}

    public var total: Int { lock.lock(); defer { lock.unlock() }; return lines.total }

    public func append(_ s: String) {
        lock.lock(); defer { lock.unlock() }
        lines.overwrite(s)
    }

    /// The last `n` lines, oldest first.
    public func recent(_ n: Int) -> [String] {
        lock.lock(); defer { lock.unlock() }
        let k = min(n, lines.count)
        return (lines.count - k..<lines.count).map { lines[$0] }
    }
}

public struct ConsoleCounters: Sendable {
    public var sessions = 0
    public var commands = 0
    public var commandErrors = 0
    public var refusedNotLoggedIn = 0
    public var auditRecords = 0
    public var auditDropped = 0
    public var outputBytesDropped = 0
    public var garbageBytes = 0
    public var breaks = 0
    public var linesTooLong = 0
    public var requestsDropped = 0
    public var socketSessionsRefused = 0
}

public final class ConsoleHub: @unchecked Sendable {
    public let profile: BoardProfile
    public let lane: any ConsoleLane
    public var journal: JournalWriter?
    public var uplink: MQTTUplink?
    /// The gate OCR's connection (nil: none).
    public var ocr: OCRInput?
    public var vm250: VM250Server?
    public let logRing: LogRing
    public let auth: ConsoleAuth
    public let log: (String) -> Void
    public let startUs = MonotonicClock.nowUs()
    let lock = NSLock()
    /// The tunables as the console last set them (the tick applies them when the lane is empty).
    var runningValues: TunableValues
    var counters = ConsoleCounters()
    /// One maintenance procedure (self-test, check source, output test) at a time.
    var procedureOwner: String? = nil

    public init(profile: BoardProfile, lane: any ConsoleLane, logRing: LogRing, log: @escaping (String) -> Void) {
        self.profile = profile
        self.lane = lane
        self.logRing = logRing
        self.log = log
        auth = ConsoleAuth(config: profile.console)
        runningValues = TunableValues(profile)
    }

    public var countersSnapshot: ConsoleCounters { lock.lock(); defer { lock.unlock() }; return counters }
    func count(_ body: (inout ConsoleCounters) -> Void) { lock.lock(); body(&counters); lock.unlock() }

    var values: TunableValues {
        get {
            lock.lock(); defer { lock.unlock() }
            // Maintenance mode ended since we last looked: the tick put the settings beyond their
            // floors back to the profile's; so does this copy (the same function).
            let relocks = lane.monitor.relocks
            if relocks != relocksSeen {
                relocksSeen = relocks
                runningValues = Tunable.relocked(runningValues, fallback: TunableValues(profile))
            }
            return runningValues
        }
        set { lock.lock(); runningValues = newValue; lock.unlock() }
    }
    var relocksSeen = 0

    /// Hands a request to the tick; false if its queue is full (counted).
    @discardableResult
    func request(_ r: ConsoleRequest) -> Int? {
        let sequence = lane.monitor.requests.push(r)
        if sequence == nil { count { $0.requestsDropped += 1 } }
        return sequence
    }

    /// Hands a request to the tick and waits (at most `timeoutUs`) until a tick has taken it, so
    /// that what the console answers next already shows its effect. False if not taken.
    @discardableResult
    func requestAndWait(_ r: ConsoleRequest, timeoutUs: Int64 = 1_000_000) -> Bool {
        guard let target = request(r) else { return false }
        return lane.awaitApplied(target, timeoutUs: timeoutUs)
    }

    /// A privileged action: an audit record (committed to the journal, sent upstream) and a log line.
    func audit(user: String, action: String, old: String = "", new: String = "") {
        log("console: \(user): \(action)\(old.isEmpty && new.isEmpty ? "" : ": \(old) -> \(new)")")
        guard let q = journal?.queue else { count { $0.auditRecords += 1 }; return }
        let r = AuditRecord(user: short(user), action: short(action), oldValue: short(old), newValue: short(new))
        let before = q.dropped
        q.push(.audit(r), monotonicUs: MonotonicClock.nowUs(), wallUs: wallClockUs(), commit: true)
        count { if q.dropped != before { $0.auditDropped += 1 } else { $0.auditRecords += 1 } }
    }

    func short(_ s: String) -> ShortText {
        var bytes = Array(s.utf8.prefix(ShortText.capacity))
        // Never cut a UTF-8 sequence in half.
        while let last = bytes.last, last & 0xC0 == 0x80 || (last & 0xC0 == 0xC0 && bytes.count == ShortText.capacity) { bytes.removeLast() }
        return bytes.withUnsafeBufferPointer { ShortText($0.baseAddress!, count: $0.count) }
    }

    /// Claims the lane for a maintenance procedure; nil if another session holds it.
    func beginProcedure(_ who: String) -> String? {
        lock.lock(); defer { lock.unlock() }
        if let o = procedureOwner { return o }
        procedureOwner = who
        return nil
    }
    func endProcedure() { lock.lock(); procedureOwner = nil; lock.unlock() }
}
