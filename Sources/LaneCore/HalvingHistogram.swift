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
    /// lowest; the shortest half, or shorth), widened by its own span on either side within
    /// `first ... last`; returned as the median of the entries in that widened run, a bin and the
    /// fraction of it below the median (0 ... 1,024, interpolated as a grouped median), with the
    /// entries in `first ... last`; nil while those bins are empty. A location that a spread-out
    /// minority, even a near-half, barely moves (it falls outside), where the median of all moves
    /// by half the minority's share; widened, it keeps near a median's precision and bias where
    /// the majority leans to one side (the densest half alone is a mode).
    public func densestHalfMedian(first: Int, last: Int) -> (bin: Int, fraction: Int64, total: UInt64)? {
        let a = first < 0 ? 0 : first, z = last >= Self.binCount ? Self.binCount - 1 : last
        guard a <= z else { return nil }
        // A local copy, read element by element (reads of the field copied it whole per read).
        var b = bins
        b[0] = b[0]  // (a var kept in memory)
        var total: UInt64 = 0
        for i in a...z { total &+= u64(b[i]) }
        guard total > 0 else { return nil }
        var lo = a, sum: UInt64 = 0
        var bestLo = a, bestHi = z, bestSum = total
        for hi in a...z {
            sum &+= u64(b[hi])
            // Drop bins from the left while the rest still holds half.
            while lo < hi && (sum - u64(b[lo])) * 2 >= total { sum -= u64(b[lo]); lo += 1 }
            if sum * 2 >= total && (hi - lo < bestHi - bestLo || (hi - lo == bestHi - bestLo && sum > bestSum)) {
                bestLo = lo; bestHi = hi; bestSum = sum
            }
        }
        let span = bestHi - bestLo + 1
        let from = bestLo - span < a ? a : bestLo - span, to = bestHi + span > z ? z : bestHi + span
        var inside: UInt64 = 0
        for i in from...to { inside &+= u64(b[i]) }
        let half = inside * 512  // half of those in it, in 1/1024 of an entry
        var below: UInt64 = 0
        for i in from...to {
            let f = u64(b[i])
            if f > 0 && (below + f) * 1_024 >= half {
                let x = half > below * 1_024 ? i64((half - below * 1_024) / f) : 0
                return (i, x > 1_024 ? 1_024 : x, total)
            }
            below &+= f
        }
        return (to, 1_024, total)
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
