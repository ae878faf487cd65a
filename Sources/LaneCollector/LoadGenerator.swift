// The alarm station's load test (docs/PERFORMANCE.md, "Alarm station at national scale"): the
// records of N simulated lanes, as lanes send them (10 samples a second in batches of 16, a
// decision per truck, an alarm record for 1 truck in 50, a heartbeat a minute; real frames on
// each lane's topics through the broker), published for a while; the collectors' end-to-end
// acknowledgements tell when each alarm is stored. A benchmark, not a test.

import CMosquitto
import Foundation
import LaneCore
import LaneTrace

public final class LoadGenerator: @unchecked Sendable {
    public struct Options: Sendable {
        public var host = "127.0.0.1"
        public var port = 1883
        public var lanes = 100
        public var seconds = 60.0
        /// One truck per lane this often (seconds).
        public var truckEveryS = 30.0
        /// One truck in this many alarms.
        public var alarmEvery = 50
        public var publishers = 8
        public init() {}
    }

    public struct Result: Sendable {
        public var records = 0
        public var messages = 0
        public var alarms = 0
        public var alarmsStored = 0
        /// Publication to the store's acknowledgement of each alarm, milliseconds, sorted.
        public var alarmLatenciesMs: [Double] = []
        public var elapsedS = 0.0
        public var lastAckAfterS = 0.0
        public var recordsAcknowledged = 0
        public func percentile(_ p: Double) -> Double {
            guard !alarmLatenciesMs.isEmpty else { return .nan }
            return alarmLatenciesMs[min(alarmLatenciesMs.count - 1, Int(Double(alarmLatenciesMs.count) * p / 100))]
        }
    }

    struct Lane {
        var name: String
        var epoch: UInt64
        var sequence: UInt64 = 0
        var batch = SampleBatch(panels: 4, nominalIntervalUs: 100_000)
        var nextTruckS: Double
    }

    let options: Options
    var lanes: [Lane] = []
    var publishers: [OpaquePointer] = []
    var ackClient: OpaquePointer?
    let lock = NSLock()
    /// Per lane, alarm sequences waiting for the store: sequence -> publish time.
    var waiting: [String: [(UInt64, Double)]] = [:]
    var acked: [String: UInt64] = [:]
    var result = Result()
    var start = 0.0

    public init(options: Options) { self.options = options }

    static func now() -> Double { ProcessInfo.processInfo.systemUptime }

    public func run() throws -> Result {
        mosquitto_lib_init()
        var rng = SystemRandomNumberGenerator()
        for i in 0..<options.lanes {
            lanes.append(Lane(name: "LOAD/L\(i)", epoch: rng.next() | 1, nextTruckS: Double.random(in: 0..<options.truckEveryS)))
        }
        for k in 0..<options.publishers {
            guard let m = mosquitto_new("loadgen-\(getpid())-\(k)", true, nil) else { throw CollectorError("cannot create an MQTT client") }
            guard mosquitto_connect(m, options.host, Int32(options.port), 30) == lane_MOSQ_ERR_SUCCESS else { throw CollectorError("cannot connect to \(options.host):\(options.port)") }
            mosquitto_max_inflight_messages_set(m, 0)  // 0: no limit; the broker's queue is what is measured
            mosquitto_loop_start(m)
            publishers.append(m)
        }
        // The acknowledgements: when the store has an alarm.
        guard let a = mosquitto_new("loadgen-acks-\(getpid())", true, Unmanaged.passUnretained(self).toOpaque()) else { throw CollectorError("cannot create an MQTT client") }
        ackClient = a
        mosquitto_connect_callback_set(a) { m, _, rc in if rc == 0 { mosquitto_subscribe(m, nil, "rpm/LOAD/+/ack", 1) } }
        mosquitto_message_callback_set(a) { _, ctx, msg in
            let me = Unmanaged<LoadGenerator>.fromOpaque(ctx!).takeUnretainedValue()
            let topic = String(cString: msg!.pointee.topic)
            let bytes = [UInt8](UnsafeBufferPointer(start: msg!.pointee.payload?.assumingMemoryBound(to: UInt8.self), count: Int(msg!.pointee.payloadlen)))
            guard case let .success(ack) = StationAck.parse(bytes) else { return }
            let lane = String(topic.dropFirst(4).dropLast(4))  // rpm/<site>/<lane>/ack
            me.acknowledged(lane: lane, through: ack.through)
        }
        guard mosquitto_connect(a, options.host, Int32(options.port), 30) == lane_MOSQ_ERR_SUCCESS else { throw CollectorError("cannot connect to \(options.host):\(options.port)") }
        mosquitto_loop_start(a)
        usleep(500_000)

        start = Self.now()
        var enc = RecordEncoder()
        var out = [UInt8](repeating: 0, count: RecordFormat.frameMax)
        var tick = 0
        while Self.now() - start < options.seconds {
            tick += 1
            let t = start + Double(tick) * 0.1
            let wait = t - Self.now()
            if wait > 0 { usleep(UInt32(wait * 1e6)) }
            let nowS = Self.now() - start
            let wall = Int64(Date().timeIntervalSince1970 * 1e6)
            let mono = Int64(Self.now() * 1e6)
            for i in lanes.indices {
                var s = LaneSample(tUs: mono, intervalUs: 100_000)
                for p in 0..<4 { s.gamma[p] = UInt32.random(in: 150...190); s.gammaLow[p] = UInt32.random(in: 80...100); s.neutron[p] = UInt32.random(in: 0...1) }
                _ = lanes[i].batch.append(s)
                if lanes[i].batch.isFull {
                    send(i, .samples(lanes[i].batch), mono, wall, &enc, &out)
                    lanes[i].batch.removeAll()
                }
                if nowS >= lanes[i].nextTruckS {
                    lanes[i].nextTruckS += options.truckEveryS
                    var d = Decision()
                    d.occupancy = UInt32(lanes[i].sequence & 0xFFFF) + 1
                    d.startUs = mono - 10_000_000
                    d.endUs = mono
                    d.speedMmPerS = 2_200
                    d.gammaAlarm = Int.random(in: 0..<options.alarmEvery) == 0
                    if d.gammaAlarm {
                        send(i, .alarm(AlarmRecord(occupancy: d.occupancy, kind: 0, tUs: mono, sigmaQ8: 9 * 256)), mono, wall, &enc, &out)
                    }
                    let seq = send(i, .occupancy(d), mono, wall, &enc, &out)
                    if d.gammaAlarm {
                        lock.lock()
                        waiting[lanes[i].name, default: []].append((seq, Self.now()))
                        result.alarms += 1
                        lock.unlock()
                    }
                }
                if tick % 600 == i % 600 {
                    send(i, .heartbeat(HeartbeatRecord(softwareVersion: ShortText("load"), profileHash: 1, uptimeS: UInt64(nowS), ticks: UInt64(tick),
                                                       missedTicks: 0, maxLatenessUs: 0)), mono, wall, &enc, &out)
                }
            }
        }
        result.elapsedS = Self.now() - start
        // Wait for the store to acknowledge what was sent (at most 60 s more).
        let deadline = Self.now() + 60
        while Self.now() < deadline {
            lock.lock()
            let done = lanes.allSatisfy { (acked[$0.name] ?? 0) >= $0.sequence }
            lock.unlock()
            if done { break }
            usleep(100_000)
        }
        lock.lock()
        result.recordsAcknowledged = lanes.reduce(0) { $0 + Int(min(acked[$1.name] ?? 0, $1.sequence)) }
        result.alarmLatenciesMs.sort()
        let r = result
        lock.unlock()
        for m in publishers { mosquitto_disconnect(m); mosquitto_loop_stop(m, true); mosquitto_destroy(m) }
        if let a = ackClient { mosquitto_disconnect(a); mosquitto_loop_stop(a, true); mosquitto_destroy(a) }
        return r
    }

    @discardableResult
    func send(_ i: Int, _ r: Record, _ mono: Int64, _ wall: Int64, _ enc: inout RecordEncoder, _ out: inout [UInt8]) -> UInt64 {
        lanes[i].sequence += 1
        let seq = lanes[i].sequence
        let h = FrameHeader(epoch: lanes[i].epoch, sequence: seq, monotonicUs: mono, wallUs: wall)
        let n = out.withUnsafeMutableBufferPointer { enc.encode(r, header: h, into: $0.baseAddress!, capacity: $0.count) } ?? 0
        let topic = "rpm/\(lanes[i].name)/records/\(r.kind.name)"
        let m = publishers[i % publishers.count]
        _ = out.withUnsafeBytes { mosquitto_publish(m, nil, topic, Int32(n), $0.baseAddress, 1, false) }
        lock.lock()
        result.records += 1
        result.messages += 1
        lock.unlock()
        return seq
    }

    func acknowledged(lane: String, through: UInt64) {
        lock.lock(); defer { lock.unlock() }
        if through > (acked[lane] ?? 0) { acked[lane] = through }
        result.lastAckAfterS = Self.now() - start
        guard var w = waiting[lane] else { return }
        let t = Self.now()
        while let first = w.first, first.0 <= through {
            result.alarmLatenciesMs.append((t - first.1) * 1000)
            result.alarmsStored += 1
            w.removeFirst()
        }
        waiting[lane] = w
    }
}
