// The sliding windows: a ring of the last samples' sums, so that any window length up to the
// ring's capacity can be summed without allocation. One ring, two kinds of entry: the groups'
// counts (every lane) and the lane's energy windows (multi-window panels only, so that a
// two-window lane does not carry them through every push and sum).

/// Panel groups tested by the gross-count test: all panels, then each pillar.
public let groupCountMax = 3

/// What a ring entry must do: start at zero, add a sample, give the difference of two totals.
public protocol RunningTotals {
    init()
    mutating func add(_ e: Self)
    func minus(_ before: Self) -> Self
}

public struct WindowEntry: Sendable, RunningTotals {
    public var gamma: InlineArray<3, Int64> = InlineArray(repeating: 0)
    public var gammaLow: InlineArray<3, Int64> = InlineArray(repeating: 0)
    public var neutron: Int64 = 0
    public var intervalUs: Int64 = 0
    /// 1 when a beam was interrupted at this sample (the vehicle shields the panels fully).
    public var shielded: Int64 = 0
    public init() {}

    @inline(__always)
    public mutating func add(_ e: WindowEntry) {
        for g in 0..<groupCountMax {
            gamma[g] += e.gamma[g]
            gammaLow[g] += e.gammaLow[g]
        }
        neutron += e.neutron
        intervalUs += e.intervalUs
        shielded += e.shielded
    }

    @inline(__always)
    public func minus(_ b: WindowEntry) -> WindowEntry {
        var s = WindowEntry()
        for g in 0..<groupCountMax {
            s.gamma[g] = gamma[g] - b.gamma[g]
            s.gammaLow[g] = gammaLow[g] - b.gammaLow[g]
        }
        s.neutron = neutron - b.neutron
        s.intervalUs = intervalUs - b.intervalUs
        s.shielded = shielded - b.shielded
        return s
    }
}

/// Multi-window panels: the lane's counts per energy window (all panels), and 1 when the sample
/// did not carry them (a window that holds it is not tested on them).
public struct SpectrumEntry: Sendable, RunningTotals {
    public var spectrum: InlineArray<16, Int64> = InlineArray(repeating: 0)
    public var gaps: Int64 = 0
    public init() {}

    @inline(__always)
    public mutating func add(_ e: SpectrumEntry) {
        for k in 0..<windowCountMax { spectrum[k] += e.spectrum[k] }
        gaps += e.gaps
    }

    @inline(__always)
    public func minus(_ b: SpectrumEntry) -> SpectrumEntry {
        var s = SpectrumEntry()
        for k in 0..<windowCountMax { s.spectrum[k] = spectrum[k] - b.spectrum[k] }
        s.gaps = gaps - b.gaps
        return s
    }
}

/// Sums over the newest `samples` entries.
public struct RingSum<Entry: RunningTotals> {
    public var totals: Entry
    public var samples: Int
}

extension RingSum where Entry == WindowEntry {
    public var gamma: InlineArray<3, Int64> { totals.gamma }
    public var gammaLow: InlineArray<3, Int64> { totals.gammaLow }
    public var neutron: Int64 { totals.neutron }
    public var intervalUs: Int64 { totals.intervalUs }
    public var shielded: Int64 { totals.shielded }
}

public typealias SampleRing = Ring<WindowEntry>
public typealias SpectrumRing = Ring<SpectrumEntry>

/// The ring keeps running totals: each slot holds the sums of every sample pushed so far, so a
/// window of any length is one subtraction (newest minus the slot just before the window), not a
/// walk over its samples. Totals are Int64 counts: at 10^6 counts per second they last 290,000
/// years.
public struct Ring<Entry: RunningTotals> {
    public static var capacity: Int { 128 }
    var totals: InlineArray<128, Entry> = InlineArray(repeating: Entry())
    /// Running totals before the oldest sample still held (what the overwritten slot had).
    var base = Entry()
    var next = 0
    public private(set) var count = 0

    public init() {}

    public mutating func push(_ e: Entry) {
        withUnsafeMutablePointer(to: &totals) { storage in
            storage.withMemoryRebound(to: Entry.self, capacity: Self.capacity) { ring in
                var t = count == 0 ? base : ring[next == 0 ? Self.capacity - 1 : next - 1]
                if count == Self.capacity { base = ring[next] }  // the oldest slot is about to go
                t.add(e)
                ring[next] = t
            }
        }
        next = next + 1 == Self.capacity ? 0 : next + 1
        if count < Self.capacity { count += 1 }
    }

    public mutating func removeAll() {
        next = 0
        count = 0
        base = Entry()
    }

    /// Sums over the newest min(`window`, count) samples: the newest running totals minus those
    /// just before the window. Mutating only to reach the storage in place (passing the 8 KiB
    /// InlineArray by value copied all of it per call in the Embedded build).
    public mutating func sum(window: Int) -> RingSum<Entry> {
        let n = window < count ? window : count
        guard n > 0 else { return RingSum(totals: Entry(), samples: 0) }
        var s = Entry()
        withUnsafeMutablePointer(to: &totals) { storage in
            storage.withMemoryRebound(to: Entry.self, capacity: Self.capacity) { ring in
                let newest = ring[next == 0 ? Self.capacity - 1 : next - 1]
                var k = next - n - 1
                if k < 0 { k += Self.capacity }
                s = newest.minus(n == count ? base : ring[k])
            }
        }
        return RingSum(totals: s, samples: n)
    }
}

extension Ring: Sendable where Entry: Sendable {}
extension RingSum: Sendable where Entry: Sendable {}
