// The uplink to the central alarm station's MQTT broker (libmosquitto): QoS 1, persistent
// session, a retained status with a last will, batches of journal frames per message, one topic
// per site, lane and record kind. A record leaves the journal only when the alarm station's
// collector has stored it (its acknowledgement on the ack topic); the broker's PUBACK only
// paces the sending. After any outage (of the lane, the broker or the collector) sending
// resumes from the collector's point; ranges the collector asks for are sent again, and what
// the journal no longer holds is answered with a gap record.
//
// Topics (docs/UPLINK.md):  <prefix>/<site>/<lane>/records/<kind>   batches of frames
//                           <prefix>/<site>/<lane>/status           "online" / "offline" (retained, will)
//                           <prefix>/<site>/<lane>/ack              the collector's StationAck (retained)

import CMosquitto
import Foundation
import LaneCore
import LaneHAL
import LaneSeal
import LaneTrace

public struct UplinkConfig: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var topicPrefix: String = "rpm"
    public var site: String
    public var lane: String
    public var username: String? = nil
    public var password: String? = nil
    /// TLS: CA file (required for TLS), client certificate and key (optional).
    public var caFile: String? = nil
    public var certFile: String? = nil
    public var keyFile: String? = nil
    /// The lane's record-sealing keys (docs/SECURITY.md); nil: records go unsealed.
    public var sealKeyFile: String? = nil
    /// The profile says `insecure: true`: no TLS allowed on a real board (every heartbeat says so).
    public var insecure = false
    /// Records and credentials travel without TLS.
    public var isInsecure: Bool { caFile == nil }
    public var keepaliveS: Int = 30
    public var batchRecordsMax: Int = 64
    public var inflightMax: Int = 16
    public var reconnectDelayMinS: Int = 1
    public var reconnectDelayMaxS: Int = 60
    /// Sent records the collector has not acknowledged for this long are sent again from its
    /// point (it, or the broker, may have lost them).
    public var resendAfterS: Double = 30

    public init(host: String, port: Int, site: String, lane: String) {
        self.host = host; self.port = port; self.site = site; self.lane = lane
    }

    public var clientID: String { "lane-agent-\(site)-\(lane)" }
    /// The lane as the collector names it (and as seals cover it).
    public var laneName: String { "\(site)/\(lane)" }
    public var statusTopic: String { "\(topicPrefix)/\(site)/\(lane)/status" }
    public var ackTopic: String { "\(topicPrefix)/\(site)/\(lane)/ack" }
    public func recordsTopic(_ kind: RecordKind) -> String {
        "\(topicPrefix)/\(site)/\(lane)/records/\(kind.name)"
    }
}

public struct UplinkStats: Sendable, Equatable {
    public var connected = false
    public var connects = 0
    public var disconnects = 0
    public var messagesPublished = 0
    /// PUBACKs from the broker (they pace the sending; they release nothing).
    public var messagesAcknowledged = 0
    /// The last sequence whose message the broker has acknowledged, in order.
    public var brokerAckedThrough: UInt64 = 0
    /// The collector's acknowledgements: taken, and refused (malformed, beyond what was
    /// written), and those for another epoch (a previous journal's, retained at the broker).
    public var stationAcks = 0
    public var stationAcksRefused = 0
    public var stationAcksOtherEpoch = 0
    /// Records the collector has acknowledged since start, and through which sequence.
    public var recordsAcknowledged = 0
    public var ackedThrough: UInt64 = 0
    /// Ranges sent again at the collector's request; times the whole unacknowledged tail was
    /// sent again (after a reconnect or `resendAfterS` without progress); sequences the
    /// collector asked for that the journal no longer holds (answered with a gap record).
    public var rangesResent = 0
    public var tailResends = 0
    public var notInJournal = 0
    public var lastError = ""
}

public final class MQTTUplink: @unchecked Sendable {
    public let config: UplinkConfig
    public let journal: Journal
    let log: (String) -> Void
    let lock = NSLock()
    var mosq: OpaquePointer?
    var statsStorage = UplinkStats()
    /// Messages in flight, in publish order: (mid, last sequence in the batch, acknowledged).
    var inflight: [(mid: Int32, last: UInt64, done: Bool)] = []
    /// The last sequence handed to the broker (re-read from the journal after a reconnect).
    var sentThrough: UInt64 = 0
    /// Ranges the collector asked for, to send before the tail; when each was last sent.
    var requested: [ClosedRange<UInt64>] = []
    var statusMids: Set<Int32> = []
    /// Messages of re-sent ranges the broker has not acknowledged yet (their own window), and
    /// the ranges cut short by it (continued later, not counted again).
    var resendMids: Set<Int32> = []
    var continuedRanges: Set<UInt64> = []
    var lastRequestSentUs: [UInt64: Int64] = [:]
    /// When the collector's acknowledgement last advanced (or sending began).
    var progressUs: Int64 = 0
    var stopping = false
    let done = DispatchSemaphore(value: 0)

    public init(config: UplinkConfig, journal: Journal, log: @escaping (String) -> Void) {
        self.config = config
        self.journal = journal
        self.log = log
    }

    public var stats: UplinkStats { lock.lock(); defer { lock.unlock() }; return statsStorage }
    /// The key every frame is sealed with (nil: unsealed).
    var sealKey: LaneKey? = nil

    /// Appends a frame, and its seal when the lane has a key.
    func appendSealed(_ frames: inout [UInt8], _ bytes: ArraySlice<UInt8>) {
        frames.append(contentsOf: bytes)
        if let k = sealKey { frames.append(contentsOf: Seal.seal(lane: config.laneName, frame: bytes, key: k)) }
    }

    public func start() throws {
        if config.isInsecure {
            log("uplink: WARNING: no TLS (uplink.caFile): records\(config.username != nil ? " and the password" : "") travel in clear; every heartbeat says so")
        }
        if let path = config.sealKeyFile {
            do { sealKey = try KeyFile.loadLane(path) } catch { throw UplinkError("uplink.sealKeyFile: \(error)") }
            log("uplink: records sealed with key \(sealKey!.id) of \(path)")
        }
        mosquitto_lib_init()
        guard let m = mosquitto_new(config.clientID, false, Unmanaged.passUnretained(self).toOpaque()) else {
            throw UplinkError("cannot create the MQTT client: \(String(cString: strerror(errno)))")
        }
        mosq = m
        let offline = Array("offline".utf8)
        mosquitto_will_set(m, config.statusTopic, Int32(offline.count), offline, 1, true)
        try Self.credentials(m, config)
        mosquitto_max_inflight_messages_set(m, UInt32(config.inflightMax))
        mosquitto_reconnect_delay_set(m, UInt32(config.reconnectDelayMinS), UInt32(config.reconnectDelayMaxS), true)
        mosquitto_connect_callback_set(m) { _, ctx, rc in
            Unmanaged<MQTTUplink>.fromOpaque(ctx!).takeUnretainedValue().connected(rc)
        }
        mosquitto_disconnect_callback_set(m) { _, ctx, rc in
            Unmanaged<MQTTUplink>.fromOpaque(ctx!).takeUnretainedValue().disconnected(rc)
        }
        mosquitto_publish_callback_set(m) { _, ctx, mid in
            Unmanaged<MQTTUplink>.fromOpaque(ctx!).takeUnretainedValue().acknowledged(mid)
        }
        // libmosquitto's own errors and warnings (a certificate refused, and why) go to the log.
        mosquitto_log_callback_set(m) { _, ctx, level, text in
            guard level == lane_MOSQ_LOG_ERR || level == lane_MOSQ_LOG_WARNING, let text else { return }
            Unmanaged<MQTTUplink>.fromOpaque(ctx!).takeUnretainedValue().libraryLog(String(cString: text))
        }
        mosquitto_message_callback_set(m) { _, ctx, msg in
            guard let msg else { return }
            let payload = [UInt8](UnsafeBufferPointer(start: msg.pointee.payload?.assumingMemoryBound(to: UInt8.self), count: Int(max(0, msg.pointee.payloadlen))))
            Unmanaged<MQTTUplink>.fromOpaque(ctx!).takeUnretainedValue().stationAck(payload)
        }
        sentThrough = journal.ackedThrough
        progressUs = MonotonicClock.nowUs()
        statsStorage.ackedThrough = journal.ackedThrough
        let t = Thread { [self] in self.loop() }
        t.name = "uplink"
        t.stackSize = 1 << 20
        t.start()
    }

    /// The user name, password and TLS settings of `config` on a client (the uplink's and the probe's).
    static func credentials(_ m: OpaquePointer, _ config: UplinkConfig) throws(UplinkError) {
        if let u = config.username { mosquitto_username_pw_set(m, u, config.password) }
        if let ca = config.caFile {
            let rc = mosquitto_tls_set(m, ca, nil, config.certFile, config.keyFile, nil)
            guard rc == lane_MOSQ_ERR_SUCCESS else { throw UplinkError("TLS set-up failed: \(String(cString: mosquitto_strerror(rc)))") }
        }
    }

    /// Connects once with the uplink's settings and disconnects (`lane-agent check-board
    /// --on-target`): what the broker said, or why it could not be reached (a certificate
    /// refused, and why, included).
    public static func probe(_ config: UplinkConfig, timeoutS: Double) -> (ok: Bool, message: String) {
        final class State { var connack: Int32? = nil; var errors: [String] = [] }
        let state = State()
        mosquitto_lib_init()
        guard let m = mosquitto_new(config.clientID + "-check", true, Unmanaged.passUnretained(state).toOpaque()) else {
            return (false, "cannot create an MQTT client: \(String(cString: strerror(errno)))")
        }
        defer { mosquitto_destroy(m) }
        do { try credentials(m, config) } catch { return (false, "\(error)") }
        mosquitto_connect_callback_set(m) { _, ctx, rc in Unmanaged<State>.fromOpaque(ctx!).takeUnretainedValue().connack = rc }
        mosquitto_log_callback_set(m) { _, ctx, level, text in
            guard level == lane_MOSQ_LOG_ERR || level == lane_MOSQ_LOG_WARNING, let text else { return }
            Unmanaged<State>.fromOpaque(ctx!).takeUnretainedValue().errors.append(String(cString: text))
        }
        let place = "\(config.host):\(config.port)\(config.caFile == nil ? " (no TLS)" : " (TLS)")"
        var rc = mosquitto_connect(m, config.host, Int32(config.port), 10)
        guard rc == lane_MOSQ_ERR_SUCCESS else {
            return (false, "cannot connect to \(place): \(String(cString: mosquitto_strerror(rc)))\(state.errors.isEmpty ? "" : " (\(state.errors.joined(separator: "; ")))")")
        }
        let deadline = Date(timeIntervalSinceNow: timeoutS)
        while state.connack == nil && Date() < deadline {
            rc = mosquitto_loop(m, 100, 1)
            if rc != lane_MOSQ_ERR_SUCCESS { break }
        }
        mosquitto_disconnect(m)
        if let c = state.connack {
            return c == 0 ? (true, "connected to \(place)\(config.caFile == nil ? "" : ", its certificate verified"), accepted as \(config.username ?? "anonymous")")
                : (false, "\(place) refused the connection: \(String(cString: mosquitto_connack_string(c)))")
        }
        let why = state.errors.isEmpty ? (rc == lane_MOSQ_ERR_SUCCESS ? "no answer in \(timeoutS) s" : String(cString: mosquitto_strerror(rc))) : state.errors.joined(separator: "; ")
        return (false, "cannot connect to \(place): \(why)")
    }

    public func stop() {
        lock.lock(); stopping = true; lock.unlock()
        done.wait()
    }

    /// Waits until the broker has taken every record in the journal, at most `timeoutS` (a
    /// clean stop hands over what it can; the journal keeps everything until the collector has
    /// it). Returns true when the broker has everything.
    @discardableResult
    public func drain(timeoutS: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeoutS)
        while Date() < deadline {
            let last = journal.nextSequence - 1
            lock.lock(); let acked = max(statsStorage.brokerAckedThrough, statsStorage.ackedThrough); lock.unlock()
            if acked >= last { return true }
            usleep(20_000)
        }
        return false
    }

    /// Waits until the collector has acknowledged every record in the journal, at most `timeoutS`.
    @discardableResult
    public func waitForStation(timeoutS: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeoutS)
        while Date() < deadline {
            if journal.ackedThrough >= journal.nextSequence - 1 { return true }
            usleep(20_000)
        }
        return false
    }

    // MARK: callbacks (on the uplink thread, inside mosquitto_loop)

    func connected(_ rc: Int32) {
        lock.lock()
        statsStorage.connected = rc == 0
        if rc == 0 { statsStorage.connects += 1 }
        // Whatever the collector has not acknowledged is sent again: the broker or the
        // collector may not have it (a broker that crashed loses what it held).
        inflight.removeAll()
        resendMids.removeAll()
        sentThrough = journal.ackedThrough
        progressUs = MonotonicClock.nowUs()
        lock.unlock()
        if rc == 0 {
            mosquitto_subscribe(mosq, nil, config.ackTopic, 1)
            let online = Array("online".utf8)
            var mid: Int32 = 0
            mosquitto_publish(mosq, &mid, config.statusTopic, Int32(online.count), online, 1, true)
            lock.lock(); statusMids.insert(mid); lock.unlock()
            log("uplink: connected to \(config.host):\(config.port) as \(config.clientID)")
        } else {
            log("uplink: the broker refused the connection: \(String(cString: mosquitto_connack_string(rc)))")
        }
    }

    func disconnected(_ rc: Int32) {
        lock.lock()
        let was = statsStorage.connected
        statsStorage.connected = false
        statsStorage.disconnects += 1
        lock.unlock()
        if was { log("uplink: disconnected (\(rc == 0 ? "asked" : String(cString: mosquitto_strerror(rc))))") }
    }

    func acknowledged(_ mid: Int32) {
        lock.lock()
        // The status messages' PUBACKs are not records' (they were once counted as such:
        // "35 messages published, 38 acknowledged").
        if statusMids.remove(mid) != nil { lock.unlock(); return }
        if resendMids.remove(mid) != nil { statsStorage.messagesAcknowledged += 1; lock.unlock(); return }
        // A PUBACK for a message no longer tracked (sent before a reconnect, its records sent
        // again since under a new id) is not a second acknowledgement of anything published now.
        guard let i = inflight.firstIndex(where: { $0.mid == mid }) else { lock.unlock(); return }
        inflight[i].done = true
        statsStorage.messagesAcknowledged += 1
        var through = statsStorage.brokerAckedThrough
        while let first = inflight.first, first.done {
            through = first.last
            inflight.removeFirst()
        }
        if through > statsStorage.brokerAckedThrough { statsStorage.brokerAckedThrough = through }
        lock.unlock()
    }

    var libraryLines = 0
    func libraryLog(_ text: String) {
        lock.lock()
        statsStorage.lastError = text
        libraryLines += 1
        let n = libraryLines
        lock.unlock()
        if n <= 3 || n % 100 == 0 { log("uplink: libmosquitto: \(text)") }
    }

    /// The collector's acknowledgement (on the uplink thread).
    func stationAck(_ payload: [UInt8]) {
        switch StationAck.parse(payload) {
        case let .failure(e):
            lock.lock(); statsStorage.stationAcksRefused += 1; let n = statsStorage.stationAcksRefused; lock.unlock()
            if n <= 3 || n % 100 == 0 { log("uplink: an acknowledgement on \(config.ackTopic) was refused: \(e.reason) (\(n) refused)") }
        case let .success(a):
            guard a.epoch == journal.epoch else {
                lock.lock(); statsStorage.stationAcksOtherEpoch += 1; lock.unlock()
                return
            }
            let before = journal.ackedThrough
            guard journal.acknowledge(through: a.through) else {
                lock.lock(); statsStorage.stationAcksRefused += 1; let n = statsStorage.stationAcksRefused; lock.unlock()
                if n <= 3 || n % 100 == 0 {
                    log("uplink: an acknowledgement through \(a.through) from \(a.collector) was refused: the journal has written only through \(journal.nextSequence - 1) (\(n) refused)")
                }
                return
            }
            lock.lock()
            statsStorage.stationAcks += 1
            if a.through > before {
                statsStorage.recordsAcknowledged += Int(a.through - before)
                progressUs = MonotonicClock.nowUs()
            }
            statsStorage.ackedThrough = max(statsStorage.ackedThrough, a.through)
            // Ranges asked for: sent again unless sent in the last few seconds (the answer may
            // still be on its way).
            let now = MonotonicClock.nowUs()
            for r in a.missing where r.lowerBound <= sentThrough {
                if let t = lastRequestSentUs[r.lowerBound], now - t < 5_000_000 { continue }
                let clipped = r.lowerBound...min(r.upperBound, sentThrough)
                if !requested.contains(clipped) && requested.count < StationAck.missingMax { requested.append(clipped) }
            }
            lock.unlock()
        }
    }

    // MARK: the loop

    func loop() {
        var rc = mosquitto_connect(mosq, config.host, Int32(config.port), Int32(config.keepaliveS))
        if rc != lane_MOSQ_ERR_SUCCESS {
            log("uplink: cannot connect to \(config.host):\(config.port): \(String(cString: mosquitto_strerror(rc))) (retrying)")
        }
        var backoffS = Double(config.reconnectDelayMinS)
        var nextAttempt = Date()
        var frames: [UInt8] = []
        while true {
            lock.lock(); let stop = stopping; lock.unlock()
            if stop { break }
            rc = mosquitto_loop(mosq, 50, 1)
            if rc == lane_MOSQ_ERR_NO_CONN || rc == lane_MOSQ_ERR_CONN_LOST || rc != lane_MOSQ_ERR_SUCCESS {
                if Date() >= nextAttempt {
                    if mosquitto_reconnect(mosq) == lane_MOSQ_ERR_SUCCESS {
                        backoffS = Double(config.reconnectDelayMinS)
                    } else {
                        backoffS = min(backoffS * 2, Double(config.reconnectDelayMaxS))
                    }
                    nextAttempt = Date(timeIntervalSinceNow: backoffS)
                } else {
                    usleep(50_000)
                }
                continue
            }
            resendIfStalled()
            publishRequested(&frames)
            publishPending(&frames)
        }
        let offline = Array("offline".utf8)
        var offlineMid: Int32 = 0
        mosquitto_publish(mosq, &offlineMid, config.statusTopic, Int32(offline.count), offline, 1, true)
        lock.lock(); statusMids.insert(offlineMid); lock.unlock()
        for _ in 0..<10 { mosquitto_loop(mosq, 50, 1) }
        mosquitto_disconnect(mosq)
        mosquitto_destroy(mosq)
        done.signal()
    }

    /// Nothing acknowledged by the collector for `resendAfterS` while records wait: the broker
    /// or the collector lost them (a crash, a full queue); send the tail again from its point.
    func resendIfStalled() {
        lock.lock(); defer { lock.unlock() }
        let now = MonotonicClock.nowUs()
        let acked = journal.ackedThrough
        guard statsStorage.connected, sentThrough > acked, Double(now - progressUs) >= config.resendAfterS * 1e6 else { return }
        statsStorage.tailResends += 1
        let n = statsStorage.tailResends
        sentThrough = acked
        progressUs = now
        if n <= 3 || n % 100 == 0 {
            log("uplink: the alarm station has acknowledged nothing for \(Int(config.resendAfterS)) s: sending again from record \(acked + 1) (\(n) times)")
        }
    }

    /// Sends the ranges the collector asked for; sequences no longer in the journal are
    /// answered with a gap record (cause: not in the journal).
    func publishRequested(_ frames: inout [UInt8]) {
        while true {
            lock.lock()
            let room = statsStorage.connected && resendMids.count < config.inflightMax
            guard room, let r = requested.first else { lock.unlock(); return }
            requested.removeFirst()
            let continuing = continuedRanges.remove(r.lowerBound) != nil
            if !continuing {
                lastRequestSentUs[r.lowerBound] = MonotonicClock.nowUs()
                if lastRequestSentUs.count > 4 * StationAck.missingMax { lastRequestSentUs.removeAll() }
                statsStorage.rangesResent += 1
            }
            lock.unlock()
            var next = r.lowerBound
            while next <= r.upperBound {
                lock.lock()
                let full = resendMids.count >= config.inflightMax
                if full {
                    // The window is full: the rest of the range waits for the broker's PUBACKs.
                    requested.insert(next...r.upperBound, at: 0)
                    continuedRanges.insert(next)
                }
                lock.unlock()
                if full {
                    if next > r.lowerBound { reportGone(r.lowerBound...(next - 1)) }
                    return
                }
                frames.removeAll(keepingCapacity: true)
                var kind: RecordKind? = nil
                var last: UInt64 = 0
                var following: UInt64? = nil
                journal.read(after: next - 1, limit: config.batchRecordsMax + 1) { h, rec, bytes in
                    guard h.sequence <= r.upperBound else { return }
                    if kind == nil { kind = rec.kind }
                    guard following == nil, rec.kind == kind, last == 0 || h.sequence == last + 1 else {
                        if following == nil { following = h.sequence }
                        return
                    }
                    appendSealed(&frames, bytes)
                    last = h.sequence
                }
                guard let k = kind, last > 0 else { break }
                _ = publish(frames, k, last: 0)
                guard let f = following else {
                    // The batch ended at its size limit or at the range's end.
                    next = last + 1
                    continue
                }
                next = f
            }
            reportGone(r)
        }
    }

    /// What was asked for and is not in the journal: said with a gap record.
    func reportGone(_ r: ClosedRange<UInt64>) {
        let gone = journal.missing(in: r)
        guard !gone.isEmpty else { return }
        lock.lock(); statsStorage.notInJournal += gone.reduce(0) { $0 + Int($1.upperBound - $1.lowerBound + 1) }; lock.unlock()
        journal.reportNotInJournal(gone, monotonicUs: MonotonicClock.nowUs(), wallUs: wallClockUs())
    }

    /// Publishes one message of frames; `last` > 0 makes it part of the in-order tail.
    func publish(_ frames: [UInt8], _ k: RecordKind, last: UInt64) -> Bool {
        var mid: Int32 = 0
        let rc = frames.withUnsafeBytes {
            mosquitto_publish(mosq, &mid, config.recordsTopic(k), Int32($0.count), $0.baseAddress, 1, false)
        }
        lock.lock(); defer { lock.unlock() }
        guard rc == lane_MOSQ_ERR_SUCCESS else {
            statsStorage.lastError = String(cString: mosquitto_strerror(rc))
            return false
        }
        if last > 0 {
            inflight.append((mid, last, false))
            sentThrough = last
        } else {
            resendMids.insert(mid)
        }
        statsStorage.messagesPublished += 1
        return true
    }

    /// Publishes batches while the window allows: consecutive records of one kind per message.
    func publishPending(_ frames: inout [UInt8]) {
        while true {
            lock.lock()
            let room = statsStorage.connected && inflight.count < config.inflightMax
            let after = sentThrough
            lock.unlock()
            guard room else { return }
            frames.removeAll(keepingCapacity: true)
            var kind: RecordKind? = nil
            var last: UInt64 = 0
            var count = 0
            journal.read(after: after, limit: config.batchRecordsMax) { h, r, bytes in
                if kind == nil { kind = r.kind }
                guard r.kind == kind, last == 0 || h.sequence == last + 1 else { return }
                appendSealed(&frames, bytes)
                last = h.sequence
                count += 1
            }
            guard let k = kind, count > 0 else { return }
            guard publish(frames, k, last: last) else { return }
        }
    }
}

public struct UplinkError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ d: String) { description = d }
}
