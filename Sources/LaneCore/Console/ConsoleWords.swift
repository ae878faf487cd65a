// Splitting a console line into words and reading numbers strictly: no sign where none is
// allowed, no trailing junk, no silent overflow, no more decimals than the setting can hold.

/// The words of a console line: (start, end) byte offsets, at most `capacity` of them.
public struct ConsoleWords: Sendable {
    public static let capacity = 12
    public var starts: InlineArray<12, Int> = InlineArray(repeating: 0)
    public var ends: InlineArray<12, Int> = InlineArray(repeating: 0)
    public private(set) var count = 0
    /// More words than `capacity` were on the line.
    public private(set) var tooMany = false

    public init() {}

    public init(_ p: UnsafeBufferPointer<UInt8>) {
        var i = 0
        while i < p.count {
            while i < p.count && (p[i] == 0x20 || p[i] == 0x09) { i += 1 }
            guard i < p.count else { break }
            let s = i
            while i < p.count && p[i] != 0x20 && p[i] != 0x09 { i += 1 }
            if count == Self.capacity { tooMany = true; break }
            starts[count] = s
            ends[count] = i
            count += 1
        }
    }
}

public enum ConsoleNumber {
    /// A leading '-' (allowed only when `min` < 0): whether there is one, and where digits start.
    static func sign(_ p: UnsafeBufferPointer<UInt8>, min: Int64) -> (negative: Bool, start: Int)? {
        guard p[0] == UInt8(ascii: "-") else { return (false, 0) }
        return min < 0 ? (true, 1) : nil
    }

    /// v * base + digit, or nil on overflow.
    static func appending(_ digit: Int64, to v: Int64, base: Int64) -> Int64? {
        let (m, o1) = v.multipliedReportingOverflow(by: base)
        let (a, o2) = m.addingReportingOverflow(digit)
        return o1 || o2 ? nil : a
    }

    /// A decimal integer: optional '-' (only if `min` < 0), digits, nothing else; or 0x-hex when
    /// `hex` is allowed. Nil if malformed or outside min...max.
    public static func integer(_ p: UnsafeBufferPointer<UInt8>, min: Int64, max: Int64, hex: Bool = false) -> Int64? {
        guard p.count > 0, p.count <= 20 else { return nil }
        guard let (negative, start) = sign(p, min: min) else { return nil }
        var i = start
        var base: Int64 = 10
        if hex && p.count - i > 2 && p[i] == UInt8(ascii: "0") && (p[i + 1] == UInt8(ascii: "x") || p[i + 1] == UInt8(ascii: "X")) {
            base = 16
            i += 2
        }
        guard i < p.count else { return nil }
        var v: Int64 = 0
        while i < p.count {
            let d: Int64
            let c = p[i]
            if c >= 0x30 && c <= 0x39 { d = i64(c &- 0x30) }
            else if base == 16 && c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f") { d = i64(c &- UInt8(ascii: "a")) &+ 10 }
            else if base == 16 && c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F") { d = i64(c &- UInt8(ascii: "A")) &+ 10 }
            else { return nil }
            guard let a = appending(d, to: v, base: base) else { return nil }
            v = a
            i += 1
        }
        if negative { v = 0 &- v }
        return v >= min && v <= max ? v : nil
    }

    /// A decimal number with at most `decimals` digits after the point, as an integer scaled by
    /// 10^decimals ("7.25" with 2 decimals is 725). Nil if malformed, too precise or out of range
    /// (min and max are scaled too).
    public static func decimal(_ p: UnsafeBufferPointer<UInt8>, decimals: Int, min: Int64, max: Int64) -> Int64? {
        guard p.count > 0, p.count <= 24, decimals >= 0, decimals <= 9 else { return nil }
        guard let (negative, start) = sign(p, min: min) else { return nil }
        var i = start
        var v: Int64 = 0
        var digits = 0
        var fraction = -1  // digits after the point; -1: no point yet
        while i < p.count {
            let c = p[i]
            if c == UInt8(ascii: ".") {
                guard fraction < 0 else { return nil }
                fraction = 0
            } else if c >= 0x30 && c <= 0x39 {
                if fraction >= 0 {
                    fraction += 1
                    guard fraction <= decimals else { return nil }
                }
                guard let a = appending(i64(c &- 0x30), to: v, base: 10) else { return nil }
                v = a
                digits += 1
            } else {
                return nil
            }
            i += 1
        }
        guard digits > 0, fraction != 0 else { return nil }  // "." and "5." are refused
        var f = fraction < 0 ? 0 : fraction
        while f < decimals {
            let (m, o) = v.multipliedReportingOverflow(by: 10)
            if o { return nil }
            v = m
            f += 1
        }
        if negative { v = 0 &- v }
        return v >= min && v <= max ? v : nil
    }
}
