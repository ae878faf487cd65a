// The streaming frame decoder: feed it bytes as they come (one at a time, in chunks, a whole
// file); it yields each complete frame's record, or the reason a frame was refused. After a bad
// frame it discards that frame's bytes and looks for the next magic byte; bytes outside frames
// are counted.

public enum ScanResult: Sendable {
    case record(FrameHeader, Record)
    /// A frame that was refused; `skipped` bytes were discarded before or with it.
    case rejected(RecordError, skipped: Int)
}

public struct FrameScanner {
    enum Phase { case magic, version, kind, length, body }
    var phase = Phase.magic
    var buffer: InlineArray<4104, UInt8> = InlineArray(repeating: 0)
    var filled = 0
    var kind: UInt8 = 0
    var bodyLength = 0
    var lengthShift: UInt64 = 0
    var lengthValue: UInt64 = 0
    var lengthBytes = 0
    /// Bytes seen outside any frame since the last report.
    public private(set) var strayBytes = 0
    public private(set) var framesAccepted = 0
    public private(set) var framesRejected = 0

    public init() {}

    /// True when no partial frame is buffered (a clean end of input).
    public var isIdle: Bool { phase == .magic }

    /// Feeds one byte; returns a result when a frame completes or is refused.
    public mutating func push(_ b: UInt8) -> ScanResult? {
        switch phase {
        case .magic:
            if b == RecordFormat.magic {
                filled = 0
                phase = .version
                if strayBytes > 0 {
                    let n = strayBytes
                    strayBytes = 0
                    framesRejected += 1
                    return .rejected(.badMagic, skipped: n)
                }
            } else {
                strayBytes += 1
            }
            return nil
        case .version:
            store(b)
            if b != RecordFormat.version { return reject(.unsupportedVersion(b)) }
            phase = .kind
            return nil
        case .kind:
            store(b)
            kind = b
            if RecordKind(rawValue: b) == nil { return reject(.unknownKind(b)) }
            phase = .length
            lengthShift = 0
            lengthValue = 0
            lengthBytes = 0
            return nil
        case .length:
            store(b)
            lengthValue |= u64(b & 0x7F) &<< lengthShift
            lengthShift += 7
            lengthBytes += 1
            if b & 0x80 != 0 {
                if lengthBytes >= 3 { return reject(.bodyTooLong) }
                return nil
            }
            guard lengthValue <= u64(RecordFormat.bodyMax) else { return reject(.bodyTooLong) }
            bodyLength = int(lengthValue)
            phase = .body
            return nil
        case .body:
            store(b)
            let headerBytes = 2 + lengthBytes
            guard filled == headerBytes + bodyLength + 4 else { return nil }
            phase = .magic
            return withUnsafeMutableBytes(of: &buffer) { raw -> ScanResult in
                let p = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
                let crc = CRC32C.update(0, p, headerBytes + bodyLength)
                let at = headerBytes + bodyLength
                let stored = u32(p[at]) | (u32(p[at + 1]) &<< 8) | (u32(p[at + 2]) &<< 16) | (u32(p[at + 3]) &<< 24)
                guard crc == stored else {
                    framesRejected += 1
                    return .rejected(.badCRC, skipped: 1 + filled)
                }
                do throws(RecordError) {
                    let (h, r) = try RecordParser.parse(kind: kind, body: p + headerBytes, count: bodyLength)
                    framesAccepted += 1
                    return .record(h, r)
                } catch {
                    framesRejected += 1
                    return .rejected(error, skipped: 1 + filled)
                }
            }
        }
    }

    mutating func store(_ b: UInt8) {
        buffer[filled] = b
        filled += 1
    }

    mutating func reject(_ e: RecordError) -> ScanResult {
        phase = .magic
        framesRejected += 1
        return .rejected(e, skipped: 1 + filled)
    }
}
