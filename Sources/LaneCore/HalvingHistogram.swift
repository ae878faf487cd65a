// A histogram of 64 bins that halves itself whenever it holds `capacity` entries: bounded
// memory, fixed point, no allocation; it forgets slowly (half its weight every `capacity / 2`
// entries), so a learner built on it follows a lane's slow drift while one rare entry among
// hundreds moves a quantile by one bin at most. The NORM learner (low-window shares) and the
// shielding learner (the shadow's kappa) keep their traffic in one each; its fields are what they
// store on disk (the background file), in `field(_:)` order.

public struct HalvingHistogram: Sendable, Equatable {
    public static let binCount = 64
    /// Entries held before the histogram is halved.
    public static let capacity: UInt32 = 1_024

    var bins: InlineArray<64, UInt32> = InlineArray(repeating: 0)
    /// Entries held now (after halvings).
    public private(set) var held: UInt32 = 0
    /// Entries ever added.
    public private(set) var learned: UInt64 = 0

    public init() {}

    /// One entry in bin `bin` (0 ... 63; the caller maps its value to a bin).
    public mutating func add(bin: Int) {
        bins[bin] = bins[bin] &+ 1
        held &+= 1
        learned &+= 1
        if held >= Self.capacity { halve() }
    }

    /// Halves every bin (half the weight forgotten).
    public mutating func halve() {
        held = 0
        for i in 0..<Self.binCount {
            bins[i] = bins[i] &>> 1
            held &+= bins[i]
        }
    }

    /// The entries held in one bin.
    public func count(inBin i: Int) -> UInt32 { i >= 0 && i < Self.binCount ? bins[i] : 0 }

    /// The bin in which `perMille` of the held entries are reached, and the entries below it;
    /// nil while empty.
    public func quantileBin(perMille: Int) -> (bin: Int, below: UInt64)? {
        guard held > 0 else { return nil }
        let target = (u64(held) * u64(perMille) + 999) / 1_000
        var seen: UInt64 = 0
        for i in 0..<Self.binCount {
            let f = u64(bins[i])
            if seen + f >= target && seen + f > 0 { return (i, seen) }
            seen &+= f
        }
        return (Self.binCount - 1, seen)
    }

    /// The densest half of the entries in bins `first ... last`: the fewest adjacent bins that
    /// hold at least half of the entries there (of equal spans the one holding most, then the
    /// lowest; the shortest half, or shorth), as its first and last bin, the entries in it and
    /// those in `first ... last`; nil while those bins are empty. Its median is a location that a
    /// spread-out minority, even a near-half, barely moves (it falls outside the densest half),
    /// where the median of all moves by half the minority's share.
    public func densestHalf(first: Int, last: Int) -> (lo: Int, hi: Int, count: UInt64, total: UInt64)? {
        let a = first < 0 ? 0 : first, z = last >= Self.binCount ? Self.binCount - 1 : last
        guard a <= z else { return nil }
        var total: UInt64 = 0
        for i in a...z { total &+= u64(bins[i]) }
        guard total > 0 else { return nil }
        var lo = a, sum: UInt64 = 0
        var best = (lo: a, hi: z, count: total)
        for hi in a...z {
            sum &+= u64(bins[hi])
            // Drop bins from the left while the rest still holds half.
            while lo < hi && (sum - u64(bins[lo])) * 2 >= total { sum -= u64(bins[lo]); lo += 1 }
            if sum * 2 >= total {
                let span = hi - lo, bestSpan = best.hi - best.lo
                if span < bestSpan || (span == bestSpan && sum > best.count) { best = (lo, hi, sum) }
            }
        }
        return (best.lo, best.hi, best.count, total)
    }

    /// Rebuilds a histogram from stored fields (`field(_:)` order), or nil when they do not
    /// describe one (a bin beyond the capacity, bins that do not add up to `held`, fewer
    /// learned than held).
    public init?(fields: (Int) -> UInt64) {
        var sum: UInt64 = 0
        for i in 0..<Self.binCount {
            let v = fields(i)
            guard v <= u64(Self.capacity) else { return nil }
            bins[i] = u32(v)
            sum &+= v
        }
        let h = fields(Self.binCount)
        guard h == sum, h < u64(Self.capacity) else { return nil }
        held = u32(h)
        learned = fields(Self.binCount + 1)
        guard learned >= u64(held) else { return nil }
    }

    public static func == (a: HalvingHistogram, b: HalvingHistogram) -> Bool {
        for i in 0..<fieldCount where a.field(i) != b.field(i) { return false }
        return true
    }

    /// The state as numbered fields: the 64 bins, then `held`, then `learned`.
    public static let fieldCount = binCount + 2
    public func field(_ i: Int) -> UInt64 {
        if i < Self.binCount { return u64(bins[i]) }
        return i == Self.binCount ? u64(held) : learned
    }
}
