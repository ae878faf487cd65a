// Measures the goal of the record format: raw samples of a 4-panel lane at 10 Hz over an
// empty-lane background cost at most 1.5 bytes per channel per sample on average (the VM-250
// text line spends 8), frames and CRCs included. Deterministic: a seeded simulator.

import LaneCore
import LaneSimCore
import Testing

@Suite struct RecordSizeTests {
    /// Plays `world` and keeps its samples in batches shaped like `empty`, as the agent does:
    /// the bytes of the frames, the samples, and how many of them carried their windows.
    static func encodeAll(_ world: LaneWorld, _ empty: SampleBatch) -> (bytes: Int, samples: Int, withWindows: Int) {
        var batch = empty
        var enc = RecordEncoder()
        var out = [UInt8](repeating: 0, count: RecordFormat.frameMax)
        var bytes = 0, samples = 0, sequence: UInt64 = 0, withWindows = 0
        func flush() {
            sequence += 1
            let n = out.withUnsafeMutableBufferPointer {
                enc.encode(.samples(batch), header: FrameHeader(sequence: sequence, monotonicUs: batch.firstTUs, wallUs: 1_795_000_000_000_000),
                           into: $0.baseAddress!, capacity: $0.count)
            }!
            bytes += n
            batch.removeAll()
        }
        TraceGenerator.play(world) { e in
            guard case let .sample(s) = e else { return }
            samples += 1
            if s.windowCount == empty.windowCount && s.windowCount > 0 { withWindows += 1 }
            _ = batch.append(s)
            if batch.isFull { flush() }
        }
        if batch.count > 0 { flush() }
        return (bytes, samples, withWindows)
    }

    @Test("empty-lane samples: at most 1.5 bytes per channel per sample, everything included")
    func bytesPerChannel() {
        let world = LaneWorld(scenario: Scenario(seed: 77, durationS: 600, vehicles: []))
        let (bytes, samples, _) = Self.encodeAll(world, SampleBatch(panels: 4, nominalIntervalUs: 100_000))
        let perChannel = Double(bytes) / Double(samples * 12)
        print("record size: \(bytes) bytes for \(samples) samples x 12 channels = \(perChannel) bytes per channel per sample")
        #expect(samples == 6_000)
        #expect(perChannel <= 1.5)
    }

    @Test("8-window panels (issue 13): empty-lane samples at most 1.5 bytes per channel per sample, a channel being each panel's 8 windows, gamma, gammaLow and neutron")
    func bytesPerChannelEightWindows() {
        var scenario = Scenario(seed: 77, durationS: 600, vehicles: [])
        scenario.lane.physics = Physics.family(seed: 1, count: 1)[1]
        let world = LaneWorld(scenario: scenario)
        let boundaries: [Double] = [30, 80, 150, 250, 400, 650, 1000, 1500, 3000]
        for p in 0..<4 { #expect(world.setWindows(panel: p, boundaries: boundaries, split: 250)) }
        let (bytes, samples, withWindows) = Self.encodeAll(world, SampleBatch(panels: 4, nominalIntervalUs: 100_000, windows: 8))
        // 11 values per panel are kept (8 windows, gamma, gammaLow, neutron).
        let perChannel = Double(bytes) / Double(samples * 4 * 11)
        let perWindowChannel = Double(bytes) / Double(samples * 4 * 9)
        print("record size, 8 windows: \(bytes) bytes for \(samples) samples x 4 panels x 11 values = \(perChannel) bytes per value per sample (\(perWindowChannel) per window or neutron channel)")
        #expect(samples == 6_000 && withWindows == 6_000)
        #expect(perWindowChannel <= 1.5)
    }
}
