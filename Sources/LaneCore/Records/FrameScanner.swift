// The frame reader: finds the frames in a buffer (a journal segment, an MQTT message, a file)
// and yields each one's record, or the bytes it had to skip and why. A corrupt frame costs only
// itself: after a candidate frame is refused, reading resumes at the next 0xA7 after that
// candidate's first byte (not after the length it declared, which may be the corrupt part), so
// a damaged length byte no longer swallows the intact frames behind it. No allocation.

public enum FrameFound: Sendable {
    /// A frame: its record and the byte range it occupies.
    case record(FrameHeader, Record, bytes: Range<Int>)
    /// Bytes that are not part of any valid frame, with the reason the first candidate among
    /// them was refused (`badMagic` when they did not start at a frame start at all).
    case rejected(RecordError, bytes: Range<Int>)
    /// A frame cut off by the end of the buffer (a torn tail): no valid frame follows it.
    case truncated(bytes: Range<Int>)
}

public struct FrameReader {
    let base: UnsafePointer<UInt8>
    public let count: Int
    /// Where the next call starts.
    public private(set) var offset = 0
    public private(set) var framesAccepted = 0
    /// Runs of skipped bytes (each a refused frame, or bytes outside frames).
    public private(set) var runsRejected = 0
    public private(set) var bytesRejected = 0

    /// Reads `count` bytes at `base`; they must stay valid while the reader is used.
    public init(_ base: UnsafePointer<UInt8>, count: Int) {
        self.base = base
        self.count = count
    }

    enum Candidate {
        case frame(FrameHeader, Record, end: Int)
        case refused(RecordError)
        case incomplete
    }

    /// Tries to read one frame starting at `s` (where a magic byte is).
    func candidate(at s: Int) -> Candidate {
        var i = s + 1
        guard i < count else { return .incomplete }
        let version = base[i]
        guard version >= RecordFormat.versionOldest && version <= RecordFormat.version else { return .refused(.unsupportedVersion(version)) }
        i += 1
        guard i < count else { return .incomplete }
        let kind = base[i]
        guard RecordKind(rawValue: kind) != nil else { return .refused(.unknownKind(kind)) }
        i += 1
        var length: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard i < count else { return .incomplete }
            let b = base[i]
            i += 1
            length |= u64(b & 0x7F) &<< shift
            shift += 7
            if b & 0x80 == 0 { break }
            if shift >= 14 { return .refused(.bodyTooLong) }
        }
        guard length <= u64(RecordFormat.bodyMax) else { return .refused(.bodyTooLong) }
        let body = int(length)
        guard count - i >= body + 4 else { return .incomplete }
        let crc = CRC32C.update(0, base + s + 1, i - s - 1 + body)
        let at = i + body
        let stored = u32(base[at]) | (u32(base[at + 1]) &<< 8) | (u32(base[at + 2]) &<< 16) | (u32(base[at + 3]) &<< 24)
        guard crc == stored else { return .refused(.badCRC) }
        do throws(RecordError) {
            let (h, r) = try RecordParser.parse(version: version, kind: kind, body: base + i, count: body)
            return .frame(h, r, end: at + 4)
        } catch {
            return .refused(error)
        }
    }

    func nextMagic(from i: Int) -> Int {
        var k = i
        while k < count && base[k] != RecordFormat.magic { k += 1 }
        return k
    }

    /// Skips `n` bytes after a frame (a seal that follows it, docs/SECURITY.md); false when
    /// fewer are left (nothing is skipped then).
    public mutating func skip(_ n: Int) -> Bool {
        guard n >= 0, count - offset >= n else { return false }
        offset += n
        return true
    }

    /// The byte at `offset + k` (nil past the end): to look at what follows a frame.
    public func peek(_ k: Int) -> UInt8? { offset + k < count ? base[offset + k] : nil }

    /// The next frame, run of refused bytes or torn tail; nil at the end of the buffer.
    public mutating func next() -> FrameFound? {
        guard offset < count else { return nil }
        let start = offset
        var s = nextMagic(from: start)
        var why: RecordError? = s > start ? .badMagic : nil
        var tornAt: Int? = nil
        while s < count {
            switch candidate(at: s) {
            case let .frame(h, r, end):
                if s > start {
                    // The skipped bytes come first; this frame is read on the next call.
                    offset = s
                    return rejectedRun(start..<s, why ?? .badMagic, tornAt: tornAt)
                }
                offset = end
                framesAccepted += 1
                return .record(h, r, bytes: s..<end)
            case let .refused(e):
                if why == nil { why = e }
            case .incomplete:
                // Cut off by the end of the buffer, or a corrupt length: a valid frame after it
                // decides which.
                if tornAt == nil { tornAt = s }
                if why == nil { why = .truncated }
            }
            s = nextMagic(from: s + 1)
        }
        offset = count
        return rejectedRun(start..<count, why ?? .badMagic, tornAt: tornAt)
    }

    mutating func rejectedRun(_ r: Range<Int>, _ why: RecordError, tornAt: Int?) -> FrameFound {
        if let t = tornAt, r.upperBound == count, t == r.lowerBound {
            return .truncated(bytes: r)  // nothing valid after the cut frame: a torn tail
        }
        if let t = tornAt, r.upperBound == count, t > r.lowerBound {
            // Skipped bytes, then a torn tail: report the skipped part now, the tail next.
            offset = t
            runsRejected += 1
            bytesRejected += t - r.lowerBound
            return .rejected(why == .truncated ? .badMagic : why, bytes: r.lowerBound..<t)
        }
        runsRejected += 1
        bytesRejected += r.count
        return .rejected(why, bytes: r)
    }
}
