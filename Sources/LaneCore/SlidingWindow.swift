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
    public init() {}
}

/// Sums over the newest `count` entries.
public struct WindowSum: Sendable {
    public var gamma: InlineArray<3, Int64> = InlineArray(repeating: 0)
    public var gammaLow: InlineArray<3, Int64> = InlineArray(repeating: 0)
    public var neutron: Int64 = 0
    public var intervalUs: Int64 = 0
    public var shielded: Int64 = 0
    public var samples: Int = 0
    public init() {}
}

public struct SampleRing: Sendable {
    public static let capacity = 128
    var entries: InlineArray<128, WindowEntry> = InlineArray(repeating: WindowEntry())
    var next = 0
    public private(set) var count = 0

    public init() {}

    public mutating func push(_ e: WindowEntry) {
        entries[next] = e
        next = next + 1 == Self.capacity ? 0 : next + 1
        if count < Self.capacity { count += 1 }
    }

    public mutating func removeAll() {
        next = 0
        count = 0
    }

    /// Sums over the newest min(`window`, count) samples. Mutating only to reach the storage in
    /// place: passing or subscripting the 8 KiB InlineArray by value copied all of it per call in
    /// the Embedded build (memcpy was 98 % of the tick).
    public mutating func sum(window: Int) -> WindowSum {
        var s = WindowSum()
        let n = window < count ? window : count
        var i = next
        withUnsafeMutablePointer(to: &entries) { storage in
            storage.withMemoryRebound(to: WindowEntry.self, capacity: Self.capacity) { ring in
                for _ in 0..<n {
                    i = i == 0 ? Self.capacity - 1 : i - 1
                    let e = ring[i]
                    for g in 0..<groupCountMax {
                        s.gamma[g] += e.gamma[g]
                        s.gammaLow[g] += e.gammaLow[g]
                    }
                    s.neutron += e.neutron
                    s.intervalUs += e.intervalUs
                    s.shielded += e.shielded
                }
            }
        }
        s.samples = n
        return s
    }
}
