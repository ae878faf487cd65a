// A seeded generator (xoshiro256**, seeded through SplitMix64) and the draws the physics needs.

import Foundation

public struct SeededRandom: RandomNumberGenerator, Sendable {
    var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in (0, 1).
    public mutating func unit() -> Double { (Double(next() >> 11) + 0.5) / 9_007_199_254_740_992.0 }

    public mutating func normal() -> Double {
        let u1 = unit(), u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// A Poisson draw: exact (Knuth) for small means, a rounded normal approximation above 40.
    public mutating func poisson(_ mean: Double) -> UInt32 {
        if !(mean > 0) { return 0 }
        if mean < 40 {
            let limit = exp(-mean)
            var k: UInt32 = 0
            var p = unit()
            while p > limit { k += 1; p *= unit() }
            return k
        }
        let x = (mean + mean.squareRoot() * normal()).rounded()
        return x <= 0 ? 0 : UInt32(min(x, 4e9))
    }
}
