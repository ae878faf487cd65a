// ISO 6346 container numbers as read by the gate OCR, held in fixed storage.

public struct ContainerNumber: Sendable, Equatable {
    public static let capacity = 16
    public private(set) var bytes: InlineArray<16, UInt8>
    public private(set) var count: Int

    /// Stores up to 16 printable ASCII bytes; returns nil for anything else (empty, too long,
    /// control or non-ASCII bytes). The OCR may misread, so the check digit is not required
    /// here: `hasValidCheckDigit` tells.
    public init?<S: Sequence>(ascii: S) where S.Element == UInt8 {
        bytes = InlineArray(repeating: 0)
        count = 0
        for b in ascii {
            guard count < Self.capacity, b >= 0x21, b <= 0x7E else { return nil }
            bytes[count] = b
            count += 1
        }
        if count == 0 { return nil }
    }

    /// An empty placeholder for fixed storage (never a read).
    init() {
        bytes = InlineArray(repeating: 0)
        count = 0
    }

    public static func == (a: ContainerNumber, b: ContainerNumber) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a.bytes[i] != b.bytes[i] { return false }
        return true
    }

    /// The same from `count` bytes at `p`.
    public init?(ascii p: UnsafePointer<UInt8>, count n: Int) {
        bytes = InlineArray(repeating: 0)
        count = 0
        guard n >= 1 && n <= Self.capacity else { return nil }
        for i in 0..<n {
            let b = p[i]
            guard b >= 0x21, b <= 0x7E else { return nil }
            bytes[i] = b
        }
        count = n
    }

    /// True for four letters, six digits and the matching ISO 6346 check digit.
    public var hasValidCheckDigit: Bool {
        guard count == 11 else { return false }
        var sum = 0
        var weight = 1
        for i in 0..<10 {
            let b = bytes[i]
            var value: Int
            if i < 4 {
                guard b >= 0x41, b <= 0x5A else { return false }
                // A=10, skipping multiples of 11: B=12 ... K=21, L=23 ... U=32, V=34 ...
                value = int(b - 0x41) + 10
                value += (value - 1) / 10  // 11, 22, 33 are skipped
            } else {
                guard b >= 0x30, b <= 0x39 else { return false }
                value = int(b - 0x30)
            }
            sum += value * weight
            weight *= 2
        }
        let check = (sum % 11) % 10
        let last = bytes[10]
        return last >= 0x30 && last <= 0x39 && int(last - 0x30) == check
    }
}
