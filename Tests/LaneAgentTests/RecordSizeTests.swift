// Measures the goal of the record format: raw samples of a 4-panel lane at 10 Hz over an
// empty-lane background cost at most 1.5 bytes per channel per sample on average (the VM-250
// text line spends 8), frames and CRCs included. Deterministic: a seeded simulator.

import LaneCore
import LaneSimCore
import Testing

@Suite struct RecordSizeTests {
    @Test("empty-lane samples: at most 1.5 bytes per channel per sample, everything included")
    func bytesPerChannel() {
        let world = LaneWorld(scenario: Scenario(seed: 77, durationS: 600, vehicles: []))
        var batch = SampleBatch(panels: 4, nominalIntervalUs: 100_000)
        var enc = RecordEncoder()
        var out = [UInt8](repeating: 0, count: RecordFormat.frameMax)
        var bytes = 0, samples = 0, sequence: UInt64 = 0
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
            _ = batch.append(s)
            if batch.isFull { flush() }
        }
        if batch.count > 0 { flush() }
        let perChannel = Double(bytes) / Double(samples * 12)
        print("record size: \(bytes) bytes for \(samples) samples x 12 channels = \(perChannel) bytes per channel per sample")
        #expect(samples == 6_000)
        #expect(perChannel <= 1.5)
    }
}
