// The subscriber: takes every lane's records from the broker (persistent session, QoS 1),
// checks their sequence, and stores them. Topics: <prefix>/<site>/<lane>/records/<kind>.

import CMosquitto
import Foundation
import LaneCore
import LaneTrace

/// Splits a payload (or a journal segment) into frames, with each frame's own bytes.
public func splitFrames(_ bytes: [UInt8]) -> [Result<(FrameHeader, Record, [UInt8]), RecordError>] {
    var scanner = FrameScanner()
    var start = 0
    var out: [Result<(FrameHeader, Record, [UInt8]), RecordError>] = []
    for (k, b) in bytes.enumerated() {
        if b == RecordFormat.magic && scanner.isIdle { start = k }
        guard let r = scanner.push(b) else { continue }
        switch r {
        case let .record(h, rec): out.append(.success((h, rec, Array(bytes[start...k]))))
        case let .rejected(e, _): out.append(.failure(e))
        }
    }
    if !scanner.isIdle { out.append(.failure(.truncated)) }
    return out
}

public final class Collector: @unchecked Sendable {
    let database: Database
    let log: (String) -> Void
    let lock = NSLock()
    var mosq: OpaquePointer?
    public private(set) var messages = 0
    public private(set) var stored = 0
    public private(set) var duplicates = 0
    public private(set) var rejected = 0

    public init(database: Database, log: @escaping (String) -> Void) {
        self.database = database
        self.log = log
    }

    /// Connects and subscribes; messages are handled on libmosquitto's thread.
    public func start(host: String, port: Int, topic: String, clientID: String) throws {
        mosquitto_lib_init()
        guard let m = mosquitto_new(clientID, false, Unmanaged.passUnretained(self).toOpaque()) else {
            throw CollectorError("cannot create the MQTT client")
        }
        mosq = m
        let topicCopy = strdup(topic)
        mosquitto_connect_callback_set(m) { m, ctx, rc in
            let me = Unmanaged<Collector>.fromOpaque(ctx!).takeUnretainedValue()
            if rc == 0 {
                me.log("collector: connected; subscribing")
                mosquitto_subscribe(m, nil, me.topic, 1)
            } else {
                me.log("collector: the broker refused the connection: \(String(cString: mosquitto_connack_string(rc)))")
            }
        }
        mosquitto_message_callback_set(m) { _, ctx, msg in
            let me = Unmanaged<Collector>.fromOpaque(ctx!).takeUnretainedValue()
            let topic = String(cString: msg!.pointee.topic)
            let payload = [UInt8](UnsafeBufferPointer(start: msg!.pointee.payload?.assumingMemoryBound(to: UInt8.self), count: Int(msg!.pointee.payloadlen)))
            me.handle(topic: topic, payload: payload)
        }
        self.topic = topicCopy
        mosquitto_reconnect_delay_set(m, 1, 30, true)
        _ = mosquitto_connect(m, host, Int32(port), 30)
        mosquitto_loop_start(m)
    }

    var topic: UnsafeMutablePointer<CChar>? = nil

    public func stop() {
        guard let mosq else { return }
        mosquitto_disconnect(mosq)
        mosquitto_loop_stop(mosq, true)
        mosquitto_destroy(mosq)
        self.mosq = nil
    }

    /// `<prefix>/<site>/<lane>/records/<kind>` -> "site/lane".
    static func lane(of topic: String) -> String? {
        let parts = topic.split(separator: "/")
        guard parts.count >= 5, parts[parts.count - 2] == "records" else { return nil }
        return parts[parts.count - 4] + "/" + parts[parts.count - 3]
    }

    public func handle(topic: String, payload: [UInt8]) {
        lock.lock(); defer { lock.unlock() }
        messages += 1
        guard let lane = Self.lane(of: topic) else { return }
        for r in splitFrames(payload) {
            switch r {
            case let .success((h, rec, frame)):
                do {
                    let s = try database.store(lane: lane, header: h, record: rec, frame: frame)
                    if s.stored { stored += 1 } else { duplicates += 1 }
                    if let g = s.gap { log("collector: \(lane): records \(g.lowerBound)-\(g.upperBound) missing so far (gap)") }
                } catch {
                    log("collector: \(error)")
                }
            case let .failure(e):
                rejected += 1
                log("collector: \(lane): a frame was refused: \(e.reason)")
            }
        }
    }
}
