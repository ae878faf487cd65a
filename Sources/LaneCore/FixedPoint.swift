// Fixed-point arithmetic for the alarm path. Every rate, threshold and sigma is a scaled
// integer so that the same trace gives the same decisions, bit for bit, on every CPU.
//
// Conventions (the suffix names the scale):
//   Q16: value * 65536, Q8: value * 256.
//   Division truncates toward zero unless a function says otherwise.

/// The largest integer r with r * r <= n (floor of the square root), exact for every UInt64.
@inlinable
public func integerSquareRoot(_ n: UInt64) -> UInt64 {
    if n < 2 { return n }
    // Newton's iteration from an over-estimate converges monotonically down to floor(sqrt(n)).
    // The start is one Newton step from a = 2^h, h = bits / 2 (within a factor sqrt 2 of the
    // root), taken with shifts: floor((a + floor(n / a)) / 2) = floor((a^2 + n) / 2a) >=
    // floor(sqrt(n)) (AM-GM). It is within 6 % of the root, where 2^ceil(bits / 2) was within a
    // factor 2: two to three fewer divisions (the NORM fit takes 128 roots a call).
    let h = u64((64 - n.leadingZeroBitCount) / 2)
    var x: UInt64 = ((1 &<< h) &+ (n &>> h)) &>> 1
    while true {
        let y = (x + n / x) &>> 1
        if y >= x { return x }
        x = y
    }
}

/// a x b for non-negative a and b, saturating at 2^61 instead of trapping (a variance that large
/// means "no test can pass", which is the safe reading of an overflow).
@inlinable
public func multiplySaturating(_ a: Int64, _ b: Int64) -> Int64 {
    let (p, overflow) = a.multipliedReportingOverflow(by: b)
    return overflow || p > (1 &<< 61) ? (1 &<< 61) : p
}

/// Integer square root of a non-negative Int64 (negative input is a programmer error).
@inlinable
public func integerSquareRoot(_ n: Int64) -> Int64 {
    precondition(n >= 0, "square root of a negative number")
    return i64(integerSquareRoot(u64(n)))
}

/// A Q8 value (sigma, n) written as a decimal with two places, e.g. 1792 -> "7.00".
/// Rounds half away from zero. Returns ASCII bytes in `out`, for the embedded side.
public enum Q8 {
    public static let one: Int64 = 256

    /// Converts tenths (e.g. 70 for 7.0) to Q8, rounding half up.
    @inlinable
    public static func fromTenths(_ tenths: Int64) -> Int64 { (tenths * 256 + 5) / 10 }

    /// Hundredths of a Q8 value, rounded half away from zero (for display).
    @inlinable
    public static func hundredths(_ q8: Int64) -> Int64 {
        let q = q8 > limit ? limit : q8 < -limit ? -limit : q8  // saturates instead of trapping (display only)
        return q >= 0 ? (q * 100 + 128) &>> 8 : -((-q * 100 + 128) &>> 8)
    }
    @usableFromInline static let limit: Int64 = Int64.max / 128
}

public enum Q16 {
    public static let one: Int64 = 65536

    /// Hundredths of a Q16 value, rounded half away from zero (for display).
    @inlinable
    public static func hundredths(_ q16: Int64) -> Int64 {
        let q = q16 > Q8.limit ? Q8.limit : q16 < -Q8.limit ? -Q8.limit : q16  // saturates instead of trapping (display only)
        return q >= 0 ? (q * 100 + 32768) &>> 16 : -((-q * 100 + 32768) &>> 16)
    }
}
