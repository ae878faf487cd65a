// The sliding windows: a ring of the last samples' group sums, so that any window length up to
// the ring's capacity can be summed without allocation.

/// Panel groups tested by the gross-count test: all panels, then each pillar.
public let groupCountMax = 3

public struct WindowEntry: Sendable {
    public var gamma: InlineArray<3, Int64> = InlineArray(repeating: 0)
    public var gammaLow: InlineArray<3, Int64> = InlineArray(repeating: 0)
    public var neutron: Int64 = 0
    public var intervalUs: Int64 = 0
    /// 1 when a beam was interrupted at this sample (the vehicle shields the panels fully).
    public var shielded: Int64 = 0
    /// Multi-window panels: the lane's counts per energy window (all panels; zeros otherwise),
    /// and 1 when the sample did not carry them (a window that holds it is not tested on them).
    public var spectrum: InlineArray<16, Int64> = InlineArray(repeating: 0)
    public var spectrumGaps: Int64 = 0
    public init() {}
}

/// Sums over the newest `count` entries.
public struct WindowSum: Sendable {
    public var gamma: InlineArray<3, Int64> = InlineArray(repeating: 0)
    public var gammaLow: InlineArray<3, Int64> = InlineArray(repeating: 0)
    public var neutron: Int64 = 0
    public var intervalUs: Int64 = 0
    public var shielded: Int64 = 0
    public var spectrum: InlineArray<16, Int64> = InlineArray(repeating: 0)
    public var spectrumGaps: Int64 = 0
    public var samples: Int = 0
    public init() {}
}

/// The ring keeps running totals: each slot holds the sums of every sample pushed so far, so a
/// window of any length is one subtraction (newest minus the slot just before the window), not a
/// walk over its samples. Totals are Int64 counts: at 10^6 counts per second they last 290,000
/// years.
public struct SampleRing: Sendable {
    public static let capacity = 128
    var totals: InlineArray<128, WindowEntry> = InlineArray(repeating: WindowEntry())
    /// Running totals before the oldest sample still held (what the overwritten slot had).
    var base = WindowEntry()
    var next = 0
    public private(set) var count = 0

    public init() {}

    public mutating func push(_ e: WindowEntry) {
        withUnsafeMutablePointer(to: &totals) { storage in
            storage.withMemoryRebound(to: WindowEntry.self, capacity: Self.capacity) { ring in
                var t = count == 0 ? base : ring[next == 0 ? Self.capacity - 1 : next - 1]
                if count == Self.capacity { base = ring[next] }  // the oldest slot is about to go
                for g in 0..<groupCountMax {
                    t.gamma[g] += e.gamma[g]
                    t.gammaLow[g] += e.gammaLow[g]
                }
                for k in 0..<windowCountMax { t.spectrum[k] += e.spectrum[k] }
                t.neutron += e.neutron
                t.intervalUs += e.intervalUs
                t.shielded += e.shielded
                t.spectrumGaps += e.spectrumGaps
                ring[next] = t
            }
        }
        next = next + 1 == Self.capacity ? 0 : next + 1
        if count < Self.capacity { count += 1 }
    }

    public mutating func removeAll() {
        next = 0
        count = 0
        base = WindowEntry()
    }

    /// Sums over the newest min(`window`, count) samples: the newest running totals minus those
    /// just before the window. Mutating only to reach the storage in place (passing the 8 KiB
    /// InlineArray by value copied all of it per call in the Embedded build).
    public mutating func sum(window: Int) -> WindowSum {
        var s = WindowSum()
        let n = window < count ? window : count
        guard n > 0 else { return s }
        withUnsafeMutablePointer(to: &totals) { storage in
            storage.withMemoryRebound(to: WindowEntry.self, capacity: Self.capacity) { ring in
                let newest = ring[next == 0 ? Self.capacity - 1 : next - 1]
                var k = next - n - 1
                if k < 0 { k += Self.capacity }
                let before = n == count ? base : ring[k]
                for g in 0..<groupCountMax {
                    s.gamma[g] = newest.gamma[g] - before.gamma[g]
                    s.gammaLow[g] = newest.gammaLow[g] - before.gammaLow[g]
                }
                for k in 0..<windowCountMax { s.spectrum[k] = newest.spectrum[k] - before.spectrum[k] }
                s.neutron = newest.neutron - before.neutron
                s.intervalUs = newest.intervalUs - before.intervalUs
                s.shielded = newest.shielded - before.shielded
                s.spectrumGaps = newest.spectrumGaps - before.spectrumGaps
            }
        }
        s.samples = n
        return s
    }
}
