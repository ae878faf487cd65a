// The subscriber: takes every lane's records from the broker (persistent session, QoS 1),
// checks their sequence per lane and journal epoch, stores them, and acknowledges to each lane
// what its store holds (docs/UPLINK.md, "End-to-end acknowledgement"): the lane releases its
// journal only through that point, and re-sends the ranges asked for.
// Topics: <prefix>/<site>/<lane>/records/<kind> in, <prefix>/<site>/<lane>/ack out.

import CMosquitto
import Foundation
import LaneCore
import LaneTrace

/// Splits a payload (or a journal segment) into frames, with each frame's own bytes. A
/// corrupt frame costs only itself: reading resumes at the next frame start after it.
public func splitFrames(_ bytes: [UInt8]) -> [Result<(FrameHeader, Record, [UInt8]), RecordError>] {
    var out: [Result<(FrameHeader, Record, [UInt8]), RecordError>] = []
    bytes.withUnsafeBufferPointer { b in
        guard let base = b.baseAddress else { return }
        var reader = FrameReader(base, count: b.count)
        while let f = reader.next() {
            switch f {
            case let .record(h, rec, range): out.append(.success((h, rec, Array(bytes[range]))))
            case let .rejected(e, _): out.append(.failure(e))
            case .truncated: out.append(.failure(.truncated))
            }
        }
    }
    return out
}

public final class Collector: @unchecked Sendable {
    let database: Database
    let log: LogLimiter
    let lock = NSLock()
    var mosq: OpaquePointer?
    public let clientID: String
    public private(set) var messages = 0
    public private(set) var stored = 0
    public private(set) var duplicates = 0
    public private(set) var rejected = 0
    public private(set) var acksPublished = 0
    /// Where acknowledgements go (nil: not connected, as in tests that call `handle` directly:
    /// then `publishedAcks` keeps them).
    public private(set) var publishedAcks: [(topic: String, ack: StationAck)] = []

    public init(database: Database, clientID: String = "lane-collector", log: @escaping (String) -> Void) {
        self.database = database
        self.clientID = clientID
        self.log = LogLimiter(sink: log)
    }

    /// Connects and subscribes; messages are handled on libmosquitto's thread.
    public func start(host: String, port: Int, topic: String) throws {
        mosquitto_lib_init()
        guard let m = mosquitto_new(clientID, false, Unmanaged.passUnretained(self).toOpaque()) else {
            throw CollectorError("cannot create the MQTT client")
        }
        mosq = m
        let topicCopy = strdup(topic)
        mosquitto_connect_callback_set(m) { m, ctx, rc in
            let me = Unmanaged<Collector>.fromOpaque(ctx!).takeUnretainedValue()
            if rc == 0 {
                me.log.log("connect", "collector: connected; subscribing")
                mosquitto_subscribe(m, nil, me.topic, 1)
            } else {
                me.log.log("connect", "collector: the broker refused the connection: \(String(cString: mosquitto_connack_string(rc)))")
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
        log.flush(all: true)
    }

    /// `<prefix>/<site>/<lane>/records/<kind>` -> ("site/lane", "<prefix>/<site>/<lane>/ack").
    static func lane(of topic: String) -> (lane: String, ackTopic: String)? {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 5, parts[parts.count - 2] == "records", !parts[parts.count - 4].isEmpty, !parts[parts.count - 3].isEmpty else { return nil }
        return (parts[parts.count - 4] + "/" + parts[parts.count - 3], parts[..<(parts.count - 2)].joined(separator: "/") + "/ack")
    }

    public func handle(topic: String, payload: [UInt8]) {
        lock.lock(); defer { lock.unlock() }
        messages += 1
        guard let (lane, ackTopic) = Self.lane(of: topic) else {
            log.log("topic", "collector: a message on \(topic) was ignored: not <prefix>/<site>/<lane>/records/<kind>")
            return
        }
        var epochs: Set<UInt64> = []
        for r in splitFrames(payload) {
            switch r {
            case let .success((h, rec, frame)):
                do {
                    let s = try database.store(lane: lane, header: h, record: rec, frame: frame)
                    epochs.insert(h.epoch)
                    if s.stored { stored += 1 } else { duplicates += 1 }
                    if s.newEpoch {
                        log.log("epoch \(lane)", "collector: \(lane): journal epoch \(epochHex(h.epoch)) begins (first record seen: \(h.sequence)); a new journal (a replaced board or a wiped card) or the first contact")
                    }
                    if let g = s.gap { log.log("gap \(lane)", "collector: \(lane): records \(g.lowerBound)-\(g.upperBound) of epoch \(epochHex(h.epoch)) missing so far (gap; asked of the lane)") }
                    if case let .gap(g) = rec {
                        log.log("lost \(lane)", "collector: \(lane): the lane reports \(g.records) records it cannot send: \(Database.causeName(g.cause))")
                    }
                } catch {
                    log.log("store", "collector: \(lane): \(error)")
                }
            case let .failure(e):
                rejected += 1
                log.log("refused \(lane)", "collector: \(lane): bytes refused in a message on \(topic): \(e.reason)")
            }
        }
        for e in epochs { acknowledge(lane: lane, epoch: e, topic: ackTopic) }
    }

    /// Tells the lane what the store holds of an epoch, and what it lacks.
    func acknowledge(lane: String, epoch: UInt64, topic: String) {
        guard let a = try? database.acknowledgement(lane: lane, epoch: epoch, max: StationAck.missingMax) else { return }
        let ack = StationAck(epoch: epoch, through: a.through, missing: a.missing, collector: clientID)
        acksPublished += 1
        guard let mosq else {
            publishedAcks.append((topic, ack))
            if publishedAcks.count > 1_000 { publishedAcks.removeFirst(500) }
            return
        }
        let bytes = ack.json()
        // Retained: a lane that (re)connects learns the point at once.
        let rc = mosquitto_publish(mosq, nil, topic, Int32(bytes.count), bytes, 1, true)
        if rc != lane_MOSQ_ERR_SUCCESS { log.log("ack", "collector: cannot publish the acknowledgement on \(topic): \(String(cString: mosquitto_strerror(rc)))") }
    }
}
