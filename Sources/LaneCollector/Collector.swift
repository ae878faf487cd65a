// The subscriber: takes every lane's records from the broker (persistent session, QoS 1),
// checks their sequence per lane and journal epoch, stores them, and acknowledges to each lane
// what its store holds (docs/UPLINK.md, "End-to-end acknowledgement"): the lane releases its
// journal only through that point, and re-sends the ranges asked for.
// Topics: <prefix>/<site>/<lane>/records/<kind> in, <prefix>/<site>/<lane>/ack out.

import CMosquitto
import Foundation
import LaneCore
import LaneSeal
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
    /// Frames refused before they could touch the store: seal missing, under an unknown or
    /// retired key, or not matching (forged, altered, another lane's); a kind other than the
    /// topic's; a sequence too far ahead; a lane name outside the allowed characters.
    public private(set) var unsealed = 0
    public private(set) var forged = 0
    public private(set) var wrongKind = 0
    public private(set) var outOfWindow = 0
    public private(set) var badLane = 0
    public private(set) var acksPublished = 0
    /// Each lane's keys (nil: records are accepted without a seal, and the log says so).
    let keys: [String: [LaneKey]]?
    /// How far past the highest sequence stored a new record may be (a forged 2^48 would
    /// otherwise open a gap no lane could ever fill).
    public static let sequenceWindow: UInt64 = 1_000_000
    /// Where acknowledgements go (nil: not connected, as in tests that call `handle` directly:
    /// then `publishedAcks` keeps them).
    public private(set) var publishedAcks: [(topic: String, ack: StationAck)] = []

    public init(database: Database, clientID: String = "lane-collector", keys: [String: [LaneKey]]? = nil, log: @escaping (String) -> Void) {
        self.database = database
        self.clientID = clientID
        self.keys = keys
        self.log = LogLimiter(sink: log)
        if keys == nil { log("collector: WARNING: no key file (--keys): records are accepted without checking who sent them") }
    }

    /// The broker connection's credentials and TLS (docs/SECURITY.md: a collector reads the
    /// lanes' records and writes their acknowledgements, nothing else, by the broker's ACL).
    public struct Credentials: Sendable {
        public var username: String? = nil
        public var password: String? = nil
        public var caFile: String? = nil
        public var certFile: String? = nil
        public var keyFile: String? = nil
        public init() {}
    }

    /// Connects and subscribes; messages are handled on libmosquitto's thread.
    /// - Parameters:
    ///   - persistentSession: the broker keeps this client's subscription and queues its records
    ///     while it is away (a fixed `--client-id`); otherwise a clean session, as a member of a
    ///     shared group must have (an absent member must not hold the group's records).
    ///   - keepaliveS: how soon the broker notices this collector is gone (1.5 x), and stops handing
    ///     it the group's share.
    public func start(host: String, port: Int, topic: String, credentials: Credentials = Credentials(),
                      persistentSession: Bool = true, keepaliveS: Int = 30) throws {
        mosquitto_lib_init()
        guard let m = mosquitto_new(clientID, !persistentSession, Unmanaged.passUnretained(self).toOpaque()) else {
            throw CollectorError("cannot create the MQTT client")
        }
        mosq = m
        if let u = credentials.username { mosquitto_username_pw_set(m, u, credentials.password) }
        if let ca = credentials.caFile {
            let rc = mosquitto_tls_set(m, ca, nil, credentials.certFile, credentials.keyFile, nil)
            guard rc == lane_MOSQ_ERR_SUCCESS else { throw CollectorError("TLS set-up failed: \(String(cString: mosquitto_strerror(rc)))") }
        }
        mosquitto_log_callback_set(m) { _, ctx, level, text in
            guard level == lane_MOSQ_LOG_ERR || level == lane_MOSQ_LOG_WARNING, let text else { return }
            Unmanaged<Collector>.fromOpaque(ctx!).takeUnretainedValue().log.log("libmosquitto", "collector: libmosquitto: \(String(cString: text))")
        }
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
            me.enqueue(topic: topic, payload: payload)
        }
        startWorker()
        self.topic = topicCopy
        mosquitto_reconnect_delay_set(m, 1, 30, true)
        _ = mosquitto_connect(m, host, Int32(port), Int32(keepaliveS))
        mosquitto_loop_start(m)
    }

    var topic: UnsafeMutablePointer<CChar>? = nil

    // MARK: the store thread: what arrived while the last batch was stored is the next batch

    let inbox = NSCondition()
    var pending: [(topic: String, payload: [UInt8])] = []
    var stopping = false
    var workerDone = false
    /// Messages waiting at most; beyond, the broker's thread waits (the broker holds the rest).
    public static let pendingMax = 20_000
    public static let batchMax = 500

    func enqueue(topic: String, payload: [UInt8]) {
        inbox.lock()
        while pending.count >= Self.pendingMax && !stopping { inbox.wait() }
        pending.append((topic, payload))
        inbox.broadcast()
        inbox.unlock()
    }

    func startWorker() {
        let t = Thread { [self] in
            while true {
                inbox.lock()
                while pending.isEmpty && !stopping { _ = inbox.wait(until: Date(timeIntervalSinceNow: 0.2)) }
                if pending.isEmpty && stopping { workerDone = true; inbox.broadcast(); inbox.unlock(); return }
                let n = min(Self.batchMax, pending.count)
                let batch = Array(pending[0..<n])
                pending.removeFirst(n)
                inbox.broadcast()
                inbox.unlock()
                handleBatch(batch)
            }
        }
        t.name = "store"
        t.start()
    }

    public func stop() {
        guard let mosq else { return }
        mosquitto_disconnect(mosq)
        mosquitto_loop_stop(mosq, true)
        // What arrived is stored (and acknowledged) before the connection goes.
        inbox.lock()
        stopping = true
        inbox.broadcast()
        while !workerDone { inbox.wait() }
        inbox.unlock()
        mosquitto_destroy(mosq)
        self.mosq = nil
        log.flush(all: true)
    }

    /// `<prefix>/<site>/<lane>/records/<kind>` -> ("site/lane", "<prefix>/<site>/<lane>/ack", kind).
    static func lane(of topic: String) -> (lane: String, ackTopic: String, kind: Substring)? {
        let parts = topic.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 5, parts[parts.count - 2] == "records" else { return nil }
        return (parts[parts.count - 4] + "/" + parts[parts.count - 3], parts[..<(parts.count - 2)].joined(separator: "/") + "/ack", parts[parts.count - 1])
    }

    public func handle(topic: String, payload: [UInt8]) {
        lock.lock(); defer { lock.unlock() }
        var acks: [String: (String, Set<UInt64>)] = [:]
        try? process(topic: topic, payload: payload, acks: &acks)  // outside a batch, store errors are logged, not thrown
        for (lane, (topic, epochs)) in acks { for e in epochs { acknowledge(lane: lane, epoch: e, topic: topic) } }
    }

    /// Stores what arrived in the last moments in one transaction (one commit), then
    /// acknowledges each lane's epochs once. If the batch fails, each message is stored on its own.
    public func handleBatch(_ batch: [(topic: String, payload: [UInt8])]) {
        lock.lock(); defer { lock.unlock() }
        var walls: Set<Int64> = []
        for m in batch where m.topic.hasSuffix("/samples") {
            // The month partitions the batch's samples need (the first frame's wall clock
            // stands for the message: a lane sends a few records a second).
            if m.payload.count > 12 {
                m.payload.withUnsafeBufferPointer { b in
                    var r = FrameReader(b.baseAddress!, count: b.count)
                    if case let .record(h, _, _)? = r.next() { walls.insert(h.wallUs / 86_400_000_000) }
                }
            }
        }
        var acks: [String: (String, Set<UInt64>)] = [:]
        do {
            try database.begin(partitionsFor: walls.map { $0 * 86_400_000_000 })
            // By lane (stable: each lane's messages keep their order), so that two collectors
            // lock the lanes' rows in the same order and never deadlock.
            func laneOf(_ t: String) -> Substring { t.range(of: "/records/").map { t[..<$0.lowerBound] } ?? Substring(t) }
            let ordered = batch.enumerated().sorted { (laneOf($0.element.topic), $0.offset) < (laneOf($1.element.topic), $1.offset) }.map(\.element)
            for m in ordered { try process(topic: m.topic, payload: m.payload, acks: &acks, inBatch: true) }
            try database.commit()
        } catch {
            database.rollback()
            log.log("batch", "collector: a batch of \(batch.count) messages failed (\(error)); storing them one by one")
            acks = [:]
            for m in batch { try? process(topic: m.topic, payload: m.payload, acks: &acks) }
        }
        for (lane, (topic, epochs)) in acks { for e in epochs { acknowledge(lane: lane, epoch: e, topic: topic) } }
    }

    /// Checks and stores one message's records; notes which lanes' epochs to acknowledge.
    /// In a batch, a store error is thrown (the batch is then stored message by message).
    func process(topic: String, payload: [UInt8], acks: inout [String: (String, Set<UInt64>)], inBatch: Bool = false) throws {
        messages += 1
        guard let (lane, ackTopic, kindName) = Self.lane(of: topic) else {
            log.log("topic", "collector: a message on \(topic) was ignored: not <prefix>/<site>/<lane>/records/<kind>")
            return
        }
        guard LaneName.isValid(lane) else {
            badLane += 1
            log.log("lane", "collector: a message on \(topic.debugDescription) was refused: the lane must be <site>/<lane>, 1 to 32 letters, digits, '.', '_' or '-' each")
            return
        }
        let laneKeys: [LaneKey]? = keys.map { $0[lane] ?? [] }
        if let k = laneKeys, k.isEmpty {
            forged += 1
            log.log("nokey \(lane)", "collector: \(lane): a message was refused: no key for this lane in the key file")
            return
        }
        var epochs: Set<UInt64> = []
        var failure: Error? = nil
        payload.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else { return }
            var reader = FrameReader(base, count: b.count)
            while let f = reader.next() {
                switch f {
                case let .record(h, rec, range):
                    let frame = payload[range]
                    // The seal, if one follows: checked before anything is stored.
                    var seal: ArraySlice<UInt8>? = nil
                    if reader.peek(0) == Seal.marker, reader.skip(Seal.bytes) { seal = payload[range.upperBound..<(range.upperBound + Seal.bytes)] }
                    if let k = laneKeys {
                        switch Seal.verify(lane: lane, frame: frame, seal: seal ?? [], keys: k) {
                        case .success: break
                        case let .failure(e):
                            if e == .unsealed { unsealed += 1 } else { forged += 1 }
                            log.log("seal \(lane)", "collector: \(lane): record \(h.sequence) of epoch \(epochHex(h.epoch)) refused: \(e)")
                            continue
                        }
                    }
                    guard rec.kind.name.description == kindName else {
                        wrongKind += 1
                        log.log("kind \(lane)", "collector: \(lane): record \(h.sequence) refused: a \(rec.kind.name) record on the topic for \(kindName)")
                        continue
                    }
                    if let e = store(lane: lane, h, rec, Array(frame), seal.map(Array.init), &epochs, inBatch: inBatch) {
                        failure = e
                        return
                    }
                case let .rejected(e, _):
                    rejected += 1
                    log.log("refused \(lane)", "collector: \(lane): bytes refused in a message on \(topic): \(e.reason)")
                case .truncated:
                    rejected += 1
                    log.log("refused \(lane)", "collector: \(lane): a message on \(topic) ends inside a frame")
                }
            }
        }
        if let failure { throw failure }
        if !epochs.isEmpty { acks[lane, default: (ackTopic, [])].1.formUnion(epochs) }
    }

    /// Stores one record; returns the error in a batch (outside one, it is logged).
    @discardableResult
    func store(lane: String, _ h: FrameHeader, _ rec: Record, _ frame: [UInt8], _ seal: [UInt8]?, _ epochs: inout Set<UInt64>, inBatch: Bool = false) -> Error? {
        do {
            let s = try database.store(lane: lane, header: h, record: rec, frame: frame, seal: seal, window: Self.sequenceWindow)
            if !s.outOfWindow { lastState["\(lane) \(h.epoch)"] = (s.contiguousThrough, s.highest) }
            if s.outOfWindow {
                outOfWindow += 1
                log.log("window \(lane)", "collector: \(lane): record \(h.sequence) of epoch \(epochHex(h.epoch)) refused: more than \(Self.sequenceWindow) past the highest stored")
                return nil
            }
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
            if inBatch { return error }
            log.log("store", "collector: \(lane): \(error)")
        }
        return nil
    }

    /// The epoch's state after the last record this collector stored of it (contiguous through,
    /// highest): when they are equal, nothing is missing and the acknowledgement needs no query.
    var lastState: [String: (UInt64, UInt64)] = [:]

    /// Tells the lane what the store holds of an epoch, and what it lacks.
    func acknowledge(lane: String, epoch: UInt64, topic: String) {
        let a: (through: UInt64, missing: [ClosedRange<UInt64>])
        if let (through, highest) = lastState.removeValue(forKey: "\(lane) \(epoch)"), through == highest {
            a = (through, [])
        } else {
            guard let q = try? database.acknowledgement(lane: lane, epoch: epoch, max: StationAck.missingMax) else { return }
            a = q
        }
        let ack = StationAck(epoch: epoch, through: a.through, missing: a.missing, collector: clientID)
        acksPublished += 1
        guard let mosq else {
            publishedAcks.append((topic, ack))
            if publishedAcks.count > 1_000 { publishedAcks.removeFirst(500) }
            return
        }
        if stopping { return }  // disconnected: the next collector's acknowledgement says it
        let bytes = ack.json()
        // Retained: a lane that (re)connects learns the point at once.
        let rc = mosquitto_publish(mosq, nil, topic, Int32(bytes.count), bytes, 1, true)
        if rc != lane_MOSQ_ERR_SUCCESS { log.log("ack", "collector: cannot publish the acknowledgement on \(topic): \(String(cString: mosquitto_strerror(rc)))") }
    }
}
