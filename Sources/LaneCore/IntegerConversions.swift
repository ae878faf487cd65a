// Integer conversions for LaneCore that compile to plain instructions on every target. The
// standard library's generic initialisers (Int64(someUInt32), Int(someInt64), x &<< someInt)
// go through BinaryInteger.words on 32-bit Embedded Swift (armv7), which allocates an array;
// these overloads use only the same-width and truncating primitives that do not. Out-of-range
// values trap, as the standard initialisers do.

@inlinable @inline(__always)
public func i64(_ x: Int64) -> Int64 { x }
@inlinable @inline(__always)
public func i64(_ x: Int) -> Int64 {
    // UInt is as wide as Int; on 32-bit targets the high word is the sign.
    let low = UInt64(_truncatingBits: UInt(bitPattern: x))
    return Int64(bitPattern: x < 0 ? low | ~UInt64(_truncatingBits: UInt.max) : low)
}
@inlinable @inline(__always)
public func i64(_ x: UInt32) -> Int64 { Int64(bitPattern: UInt64(_truncatingBits: UInt(x))) }
@inlinable @inline(__always)
public func i64(_ x: UInt16) -> Int64 { Int64(bitPattern: UInt64(_truncatingBits: UInt(x))) }
@inlinable @inline(__always)
public func i64(_ x: UInt8) -> Int64 { Int64(bitPattern: UInt64(_truncatingBits: UInt(x))) }
@inlinable @inline(__always)
public func i64(_ x: UInt64) -> Int64 {
    precondition(x <= 0x7FFF_FFFF_FFFF_FFFF, "integer overflow converting to Int64")
    return Int64(bitPattern: x)
}

@inlinable @inline(__always)
public func u64(_ x: UInt64) -> UInt64 { x }
@inlinable @inline(__always)
public func u64(_ x: UInt32) -> UInt64 { UInt64(_truncatingBits: UInt(x)) }
@inlinable @inline(__always)
public func u64(_ x: UInt8) -> UInt64 { UInt64(_truncatingBits: UInt(x)) }
@inlinable @inline(__always)
public func u64(_ x: Int) -> UInt64 {
    precondition(x >= 0, "negative value converted to UInt64")
    return UInt64(_truncatingBits: UInt(bitPattern: x))
}
@inlinable @inline(__always)
public func u64(_ x: Int64) -> UInt64 {
    precondition(x >= 0, "negative value converted to UInt64")
    return UInt64(bitPattern: x)
}
@inlinable @inline(__always)
public func u64(_ x: Int32) -> UInt64 {
    precondition(x >= 0, "negative value converted to UInt64")
    return UInt64(_truncatingBits: UInt(bitPattern: Int(x)))
}

@inlinable @inline(__always)
public func int(_ x: Int) -> Int { x }
@inlinable @inline(__always)
public func int(_ x: UInt8) -> Int { Int(x) }
@inlinable @inline(__always)
public func int(_ x: Int64) -> Int {
    precondition(x >= i64(Int.min) && x <= i64(Int.max), "integer overflow converting to Int")
    return Int(truncatingIfNeeded: x)
}
@inlinable @inline(__always)
public func int(_ x: UInt64) -> Int {
    precondition(x <= u64(Int.max), "integer overflow converting to Int")
    return Int(truncatingIfNeeded: x)
}

@inlinable @inline(__always)
public func u32(_ x: UInt8) -> UInt32 { UInt32(x) }
@inlinable @inline(__always)
public func u32(_ x: Int) -> UInt32 { UInt32(x) }
@inlinable @inline(__always)
public func u32(_ x: UInt32) -> UInt32 { x }
@inlinable @inline(__always)
public func u32(_ x: Int64) -> UInt32 {
    precondition(x >= 0 && x <= 0xFFFF_FFFF, "integer overflow converting to UInt32")
    return UInt32(truncatingIfNeeded: x)
}
@inlinable @inline(__always)
public func u32(_ x: UInt64) -> UInt32 {
    precondition(x <= 0xFFFF_FFFF, "integer overflow converting to UInt32")
    return UInt32(truncatingIfNeeded: x)
}
