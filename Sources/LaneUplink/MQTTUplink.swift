// The uplink to the central alarm station's MQTT broker (libmosquitto): QoS 1, persistent
// session, a retained status with a last will, batches of journal frames per message, one topic
// per site, lane and record kind. A record leaves the journal only when the broker has
// acknowledged the message that carried it, and acknowledgements advance in sequence order.
//
// Topics (docs/UPLINK.md):  <prefix>/<site>/<lane>/records/<kind>   batches of frames
//                           <prefix>/<site>/<lane>/status           "online" / "offline" (retained, will)

import CMosquitto
import Foundation
import LaneCore

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
    public var keepaliveS: Int = 30
    public var batchRecordsMax: Int = 64
    public var inflightMax: Int = 16
    public var reconnectDelayMinS: Int = 1
    public var reconnectDelayMaxS: Int = 60

    public init(host: String, port: Int, site: String, lane: String) {
        self.host = host; self.port = port; self.site = site; self.lane = lane
    }

    public var clientID: String { "lane-agent-\(site)-\(lane)" }
    public var statusTopic: String { "\(topicPrefix)/\(site)/\(lane)/status" }
    public func recordsTopic(_ kind: RecordKind) -> String {
        let names = ["", "samples", "occupancy", "alarm", "background", "fault", "audit", "heartbeat"]
        return "\(topicPrefix)/\(site)/\(lane)/records/\(names[Int(kind.rawValue)])"
    }
}

public struct UplinkStats: Sendable, Equatable {
    public var connected = false
    public var connects = 0
    public var disconnects = 0
    public var messagesPublished = 0
    public var messagesAcknowledged = 0
    public var recordsAcknowledged = 0
    public var ackedThrough: UInt64 = 0
    public var lastError = ""
}

public final class MQTTUplink: @unchecked Sendable {
    public let config: UplinkConfig
    let journal: Journal
    let log: (String) -> Void
    let lock = NSLock()
    var mosq: OpaquePointer?
    var statsStorage = UplinkStats()
    /// Messages in flight, in publish order: (mid, last sequence in the batch, acknowledged).
    var inflight: [(mid: Int32, last: UInt64, done: Bool)] = []
    /// The last sequence handed to the broker (re-read from the journal after a reconnect).
    var sentThrough: UInt64 = 0
    var stopping = false
    let done = DispatchSemaphore(value: 0)

    public init(config: UplinkConfig, journal: Journal, log: @escaping (String) -> Void) {
        self.config = config
        self.journal = journal
        self.log = log
    }

    public var stats: UplinkStats { lock.lock(); defer { lock.unlock() }; return statsStorage }

    public func start() throws {
        mosquitto_lib_init()
        guard let m = mosquitto_new(config.clientID, false, Unmanaged.passUnretained(self).toOpaque()) else {
            throw UplinkError("cannot create the MQTT client: \(String(cString: strerror(errno)))")
        }
        mosq = m
        let offline = Array("offline".utf8)
        mosquitto_will_set(m, config.statusTopic, Int32(offline.count), offline, 1, true)
        if let u = config.username { mosquitto_username_pw_set(m, u, config.password) }
        if let ca = config.caFile {
            let rc = mosquitto_tls_set(m, ca, nil, config.certFile, config.keyFile, nil)
            guard rc == lane_MOSQ_ERR_SUCCESS else { throw UplinkError("TLS set-up failed: \(String(cString: mosquitto_strerror(rc)))") }
        }
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
        sentThrough = journal.ackedThrough
        statsStorage.ackedThrough = journal.ackedThrough
        let t = Thread { [self] in self.loop() }
        t.name = "uplink"
        t.stackSize = 1 << 20
        t.start()
    }

    public func stop() {
        lock.lock(); stopping = true; lock.unlock()
        done.wait()
    }

    /// Waits until the broker has acknowledged every record in the journal, at most `timeoutS`
    /// (a clean stop hands over what it can). Returns true when nothing is left.
    @discardableResult
    public func drain(timeoutS: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeoutS)
        while Date() < deadline {
            let last = journal.nextSequence - 1
            lock.lock(); let acked = statsStorage.ackedThrough; lock.unlock()
            if acked >= last { return true }
            usleep(20_000)
        }
        return false
    }

    // MARK: callbacks (on the uplink thread, inside mosquitto_loop)

    func connected(_ rc: Int32) {
        lock.lock()
        statsStorage.connected = rc == 0
        if rc == 0 { statsStorage.connects += 1 }
        // Whatever was in flight is re-read from the journal: the broker may not have it.
        inflight.removeAll()
        sentThrough = statsStorage.ackedThrough
        lock.unlock()
        if rc == 0 {
            let online = Array("online".utf8)
            mosquitto_publish(mosq, nil, config.statusTopic, Int32(online.count), online, 1, true)
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
        if let i = inflight.firstIndex(where: { $0.mid == mid }) { inflight[i].done = true }
        statsStorage.messagesAcknowledged += 1
        var through = statsStorage.ackedThrough
        while let first = inflight.first, first.done {
            through = first.last
            inflight.removeFirst()
        }
        let advanced = through > statsStorage.ackedThrough
        if advanced {
            statsStorage.recordsAcknowledged += Int(through - statsStorage.ackedThrough)
            statsStorage.ackedThrough = through
        }
        lock.unlock()
        if advanced {
            do { try journal.acknowledge(through: through) } catch { log("uplink: \(error)") }
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
            publishPending(&frames)
        }
        let offline = Array("offline".utf8)
        mosquitto_publish(mosq, nil, config.statusTopic, Int32(offline.count), offline, 1, true)
        for _ in 0..<10 { mosquitto_loop(mosq, 50, 1) }
        mosquitto_disconnect(mosq)
        mosquitto_destroy(mosq)
        done.signal()
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
                frames.append(contentsOf: bytes)
                last = h.sequence
                count += 1
            }
            guard let k = kind, count > 0 else { return }
            var mid: Int32 = 0
            let rc = frames.withUnsafeBytes {
                mosquitto_publish(mosq, &mid, config.recordsTopic(k), Int32($0.count), $0.baseAddress, 1, false)
            }
            guard rc == lane_MOSQ_ERR_SUCCESS else {
                lock.lock(); statsStorage.lastError = String(cString: mosquitto_strerror(rc)); lock.unlock()
                return
            }
            lock.lock()
            inflight.append((mid, last, false))
            sentThrough = last
            statsStorage.messagesPublished += 1
            lock.unlock()
        }
    }
}

public struct UplinkError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ d: String) { description = d }
}
