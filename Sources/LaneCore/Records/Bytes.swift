// Byte-level primitives of the record format (docs/RECORDS.md): a bounded writer and reader
// over caller-owned memory, LEB128 varints, zigzag for signed values, CRC-32C. No allocation.

/// Writes into a fixed region; a write past the end sets `overflow` and writes nothing more.
public struct ByteWriter {
    let base: UnsafeMutablePointer<UInt8>
    public let capacity: Int
    public private(set) var count = 0
    public private(set) var overflow = false

    public init(_ base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    public mutating func byte(_ b: UInt8) {
        guard count < capacity else { overflow = true; return }
        base[count] = b
        count += 1
    }

    /// Unsigned LEB128: 7 bits per byte, low first, high bit set on all but the last byte.
    public mutating func varint(_ v: UInt64) {
        var x = v
        while x >= 0x80 {
            byte(UInt8(truncatingIfNeeded: x) | 0x80)
            x = x &>> 7
        }
        byte(UInt8(truncatingIfNeeded: x))
    }

    /// Zigzag then LEB128: 0, -1, 1, -2 ... become 0, 1, 2, 3 ...
    public mutating func signed(_ v: Int64) {
        varint(UInt64(bitPattern: (v &<< 1) ^ (v &>> 63)))
    }

    public mutating func u32le(_ v: UInt32) {
        byte(UInt8(truncatingIfNeeded: v))
        byte(UInt8(truncatingIfNeeded: v &>> 8))
        byte(UInt8(truncatingIfNeeded: v &>> 16))
        byte(UInt8(truncatingIfNeeded: v &>> 24))
    }

    public mutating func u64le(_ v: UInt64) {
        // Byte by byte with literal shifts: a generic conversion would allocate on 32-bit ARM.
        byte(UInt8(truncatingIfNeeded: v))
        byte(UInt8(truncatingIfNeeded: v &>> 8))
        byte(UInt8(truncatingIfNeeded: v &>> 16))
        byte(UInt8(truncatingIfNeeded: v &>> 24))
        byte(UInt8(truncatingIfNeeded: v &>> 32))
        byte(UInt8(truncatingIfNeeded: v &>> 40))
        byte(UInt8(truncatingIfNeeded: v &>> 48))
        byte(UInt8(truncatingIfNeeded: v &>> 56))
    }

    /// A length-prefixed byte string (at most 255 bytes).
    public mutating func string(_ p: UnsafePointer<UInt8>, _ n: Int) {
        let k = n < 255 ? n : 255
        byte(UInt8(truncatingIfNeeded: k))
        for i in 0..<k { byte(p[i]) }
    }
}

public enum RecordError: Error, Equatable, Sendable {
    case truncated
    case varintTooLong
    case valueOutOfRange
    case unknownKind(UInt8)
    case unsupportedVersion(UInt8)
    case badCRC
    case bodyTooLong
    case trailingBytes
    case badMagic

    /// A reason a person can read.
    public var reason: StaticString {
        switch self {
        case .truncated: return "the frame ends inside a field"
        case .varintTooLong: return "a variable-length integer runs past 10 bytes"
        case .valueOutOfRange: return "a field's value is out of its range"
        case .unknownKind: return "unknown record kind"
        case .unsupportedVersion: return "unsupported format version"
        case .badCRC: return "CRC-32C mismatch: the frame is corrupt"
        case .bodyTooLong: return "declared body length exceeds the 4096-byte limit"
        case .trailingBytes: return "bytes left over after the record's last field"
        case .badMagic: return "not at a frame start (0xA7)"
        }
    }
}

/// Reads from a fixed region; every read checks the bounds.
public struct ByteReader {
    let base: UnsafePointer<UInt8>
    public let count: Int
    public private(set) var offset = 0

    public init(_ base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.count = count
    }

    public var remaining: Int { count - offset }

    /// Skips `n` bytes the caller has checked are there.
    mutating func skip(_ n: Int) { offset += n }

    public mutating func byte() throws(RecordError) -> UInt8 {
        guard offset < count else { throw .truncated }
        let b = base[offset]
        offset += 1
        return b
    }

    public mutating func varint() throws(RecordError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            if shift == 63 && b > 1 { throw .varintTooLong }
            result |= u64(b & 0x7F) &<< shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw .varintTooLong }
        }
    }

    public mutating func signed() throws(RecordError) -> Int64 {
        let z = try varint()
        return Int64(bitPattern: (z &>> 1) ^ (0 &- (z & 1)))
    }

    public mutating func u32le() throws(RecordError) -> UInt32 {
        let a = u32(try byte()), b = u32(try byte()), c = u32(try byte()), d = u32(try byte())
        return a | (b &<< 8) | (c &<< 16) | (d &<< 24)
    }

    public mutating func u64le() throws(RecordError) -> UInt64 {
        let lo = u64(try u32le()), hi = u64(try u32le())
        return lo | (hi &<< (32 as UInt64))
    }

    /// A varint that must fit `max`.
    public mutating func bounded(_ max: UInt64) throws(RecordError) -> UInt64 {
        let v = try varint()
        guard v <= max else { throw .valueOutOfRange }
        return v
    }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bitwise: frames are small and the
/// table would be 1 KiB of state per owner.
public enum CRC32C {
    public static func update(_ crc: UInt32, _ p: UnsafePointer<UInt8>, _ n: Int) -> UInt32 {
        var c = ~crc
        for i in 0..<n {
            c ^= u32(p[i])
            for _ in 0..<8 { c = (c & 1) != 0 ? (c &>> 1) ^ 0x82F6_3B78 : c &>> 1 }
        }
        return ~c
    }
}
