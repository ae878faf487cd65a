// What one operation costs: time, instructions (where perf events are allowed), allocations.
// The engine's tick must allocate nothing: its malloc count is checked by the thresholds.

import Benchmark
import Foundation
import LaneCore
import LaneHAL
import LaneTrace
import LaneUplink

/// A deterministic stream of 4-panel samples over an empty lane with a vehicle now and then.
func samples(_ n: Int) -> [LaneSample] {
    var rng = UInt64(12345)
    func next() -> UInt32 {
        rng = rng &* 6364136223846793005 &+ 1442695040888963407
        return UInt32(truncatingIfNeeded: rng >> 59)
    }
    return (0..<n).map { k in
        var s = LaneSample(tUs: Int64(k + 1) * 100_000, intervalUs: 100_000)
        for p in 0..<4 {
            let g = 38 + next()
            s.gamma[p] = g
            s.gammaLow[p] = g / 2 + next() % 4
            s.neutron[p] = next() % 2
        }
        return s
    }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .cpuTotal, .instructions, .mallocCountTotal, .peakMemoryResident],
                                           maxDuration: .seconds(3), maxIterations: 100_000)

    // The engine's tick: one sample (with edges every 200 samples), a 4-panel lane.
    Benchmark("engine tick (4 panels)",
              configuration: .init(metrics: [.wallClock, .instructions, .mallocCountTotal], scalingFactor: .kilo,
                                   thresholds: [.mallocCountTotal: .init(absolute: [.p100: 0])])) { benchmark in
        let stream = samples(4_000)
        var engine = LaneEngine(settings: EngineSettings())
        for s in stream.prefix(600) { _ = engine.sample(s) }  // learn the background first
        var i = 600
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let s = stream[i % stream.count]
            if i % 200 == 0 { _ = engine.beamEdge(BeamEdge(tUs: s.tUs - 1, beam: 0, blocked: (i / 200) % 2 == 1)) }
            blackHole(engine.sample(s))
            i += 1
        }
    }

    // Record encoding and decoding: one batch of 16 samples.
    Benchmark("record encode (16-sample batch)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var batch = SampleBatch(panels: 4, nominalIntervalUs: 100_000)
        for s in samples(16) { _ = batch.append(s) }
        var enc = RecordEncoder()
        let out = UnsafeMutablePointer<UInt8>.allocate(capacity: RecordFormat.frameMax)
        defer { out.deallocate() }
        benchmark.startMeasurement()
        for k in benchmark.scaledIterations {
            blackHole(enc.encode(.samples(batch), header: FrameHeader(sequence: UInt64(k), monotonicUs: 1, wallUs: 2), into: out, capacity: RecordFormat.frameMax))
        }
    }

    Benchmark("record decode (16-sample batch)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var batch = SampleBatch(panels: 4, nominalIntervalUs: 100_000)
        for s in samples(16) { _ = batch.append(s) }
        var enc = RecordEncoder()
        var frame = [UInt8](repeating: 0, count: RecordFormat.frameMax)
        let n = frame.withUnsafeMutableBufferPointer { enc.encode(.samples(batch), header: FrameHeader(sequence: 1, monotonicUs: 1, wallUs: 2), into: $0.baseAddress!, capacity: $0.count) }!
        frame = Array(frame.prefix(n))
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            var scanner = FrameScanner()
            for b in frame { if let r = scanner.push(b) { blackHole(r) } }
        }
    }

    // Journal appends: raw samples (no sync) and decisions (fdatasync each).
    Benchmark("journal append, no sync (16-sample batch)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        let dir = NSTemporaryDirectory() + "bench-journal-\(UUID().uuidString)"
        let j = try Journal(directory: dir, segmentBytesMax: 4 << 20, bytesMax: 1 << 30)
        var batch = SampleBatch(panels: 4, nominalIntervalUs: 100_000)
        for s in samples(16) { _ = batch.append(s) }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try j.append(.samples(batch), monotonicUs: 1, wallUs: 2, commit: false)) }
        benchmark.stopMeasurement()
        try? FileManager.default.removeItem(atPath: dir)
    }

    Benchmark("journal append + fdatasync (occupancy)", configuration: .init(maxIterations: 2_000)) { benchmark in
        let dir = NSTemporaryDirectory() + "bench-journal-\(UUID().uuidString)"
        let j = try Journal(directory: dir, segmentBytesMax: 4 << 20, bytesMax: 1 << 30)
        var d = Decision()
        d.occupancy = 1
        d.gammaAlarm = true
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { blackHole(try j.append(.occupancy(d), monotonicUs: 1, wallUs: 2, commit: true)) }
        benchmark.stopMeasurement()
        try? FileManager.default.removeItem(atPath: dir)
    }

    // Trace parsing: one counts line.
    Benchmark("trace line parse (counts)", configuration: .init(scalingFactor: .kilo)) { benchmark in
        var reader = TraceReader()
        _ = try reader.read(line: #"{"format":"lane-trace","version":1,"sampleIntervalMs":100,"panels":4,"beamSpacingM":1.5}"#)
        var line = Array(#"{"tUs":1300000,"gamma":[210,198,205,220],"gammaLow":[130,121,126,139],"neutron":[0,1,0,0]}"#.utf8)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            // The same line again: tUs does not go back, so every iteration parses fully.
            line.withUnsafeBufferPointer { p in blackHole(try? reader.read(line: p)) }
        }
    }

    // The console's line handling: a typed command with an edit and a history recall, byte by
    // byte through the line editor, then split into words and its numbers read strictly.
    Benchmark("console line (edit, history, words, numbers)",
              configuration: .init(metrics: [.wallClock, .instructions, .mallocCountTotal], scalingFactor: .kilo,
                                   thresholds: [.mallocCountTotal: .init(absolute: [.p100: 0])])) { benchmark in
        struct Sink: ConsoleByteSink {
            var n = 0
            mutating func put(_ byte: UInt8) { n &+= Int(byte) }
        }
        let typed: [UInt8] = Array("modbus read 1 0x10 13".utf8) + [0x7F] + Array("2\r".utf8) + [0x1B, 0x5B, 0x41, 0x0D]
        var editor = LineEditor()
        editor.setPrompt("LANE-01 [idle] tech# ")
        var sink = Sink()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            editor.begin(&sink)
            for b in typed {
                if editor.feed(b, &sink) == .line {
                    editor.line.bytes.span.withUnsafeBufferPointer { all in
                        let p = UnsafeBufferPointer(rebasing: all[0..<editor.line.count])
                        let w = ConsoleWords(p)
                        if w.count == 5 {
                            blackHole(ConsoleNumber.integer(UnsafeBufferPointer(rebasing: p[w.starts[3]..<w.ends[3]]), min: 0, max: 65535, hex: true))
                            blackHole(ConsoleNumber.integer(UnsafeBufferPointer(rebasing: p[w.starts[4]..<w.ends[4]]), min: 1, max: 125))
                        }
                    }
                    editor.begin(&sink)
                }
            }
        }
        blackHole(sink.n)
    }

    // A Modbus TCP poll of four panels on loopback, against lane-sim (LANE_SIM, default
    // ../.build/debug/lane-sim; skipped with a message when it is not built).
    Benchmark("modbus poll, 4 panels, TCP loopback", configuration: .init(maxIterations: 5_000)) { benchmark in
        let sim = ProcessInfo.processInfo.environment["LANE_SIM"] ?? "../.build/debug/lane-sim"
        guard FileManager.default.isExecutableFile(atPath: sim) else {
            print("modbus poll: \(sim) is not built (swift build in the main package first); skipped")
            return
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: sim)
        p.arguments = ["serve", "--scenario", "../HardwareSim/scenarios/e2e.yaml", "--tcp-port", "15999", "--gpio-socket", "/tmp/lane-bench/gpio.sock"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { p.terminate(); p.waitUntilExit() }
        usleep(500_000)
        let client = try ModbusClient(.tcp(host: "127.0.0.1", port: 15999), timeouts: ModbusTimeouts(responseUs: 30_000, byteUs: 10_000))
        try client.connect()
        let regs = UnsafeMutablePointer<UInt16>.allocate(capacity: 12)
        defer { regs.deallocate() }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for unit in 1...4 { try client.readInputRegisters(unit: unit, address: 0, count: 12, into: regs) }
        }
    }
}
