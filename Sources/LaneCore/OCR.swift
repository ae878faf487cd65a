// Container numbers from the gate OCR (docs/OCR.md): what a read carries, what an occupancy
// keeps of its reads, and the one rule that attaches a read to an occupancy. Fixed storage
// throughout: the tick attaches reads without allocating.

/// One container number as the OCR read it, with how sure the OCR was and why the lane doubts it.
public struct ContainerRead: Sendable, Equatable {
    public var number: ContainerNumber
    /// The OCR's confidence in percent (0-100); `unknownConfidence` when it gave none.
    public var confidence: UInt8
    /// Why the lane doubts the read (bits: `checkDigitFailed`, `seenOnOtherOccupancy`,
    /// `lowConfidence`), and whether it came after the decision (`late`).
    public var flags: UInt8

    public static let unknownConfidence: UInt8 = 255
    /// Not four letters, six digits and the matching ISO 6346 check digit: kept as read.
    public static let checkDigitFailed: UInt8 = 1
    /// The same number was attached to another recent occupancy (a read for the wrong truck in a
    /// queue, or the OCR read the truck before): the lane cannot tell which is right.
    public static let seenOnOtherOccupancy: UInt8 = 2
    /// The OCR's confidence is below the profile's `ocr.minConfidence`.
    public static let lowConfidence: UInt8 = 4
    /// Arrived after the occupancy's decision was sent (carried by an amendment record).
    public static let late: UInt8 = 8
    public static let suspectMask: UInt8 = 7

    public init(number: ContainerNumber, confidence: UInt8 = ContainerRead.unknownConfidence, flags: UInt8 = 0) {
        self.number = number; self.confidence = confidence; self.flags = flags
    }
    /// `ocrSuspect`: some reason to doubt what was read.
    public var suspect: Bool { flags & Self.suspectMask != 0 }
}

/// What an occupancy holds from the OCR: up to two container numbers (two 20-ft boxes on one
/// chassis; none for a bobtail), the chassis or licence plate if read, and how many further
/// numbers were read but not kept.
public struct OCRAttachment: Sendable, Equatable {
    public static let readsMax = 2
    var storage: InlineArray<2, ContainerRead>
    public private(set) var count = 0
    public var plate: ContainerNumber? = nil
    /// Numbers beyond `readsMax` (a misread, or reads of two trucks): counted, not kept.
    public var extra: UInt8 = 0

    public init() {
        storage = InlineArray(repeating: ContainerRead(number: ContainerNumber()))
    }

    public subscript(i: Int) -> ContainerRead { storage[i] }
    public var isEmpty: Bool { count == 0 && plate == nil }
    /// Any read the lane doubts.
    public var suspect: Bool {
        for i in 0..<count where storage[i].suspect { return true }
        return false
    }
    public func index(of n: ContainerNumber) -> Int? {
        for i in 0..<count where storage[i].number == n { return i }
        return nil
    }
    /// Appends a read; false when full (then `extra` counts it).
    public mutating func append(_ r: ContainerRead) -> Bool {
        guard count < Self.readsMax else {
            if extra < 255 { extra += 1 }
            return false
        }
        storage[count] = r
        count += 1
        return true
    }
    public mutating func update(_ i: Int, _ body: (inout ContainerRead) -> Void) { body(&storage[i]) }

    public static func == (a: OCRAttachment, b: OCRAttachment) -> Bool {
        guard a.count == b.count, a.plate == b.plate, a.extra == b.extra else { return false }
        for i in 0..<a.count where a.storage[i] != b.storage[i] { return false }
        return true
    }
}

/// One message from the OCR, parsed: its numbers, confidence, plate, and when it belongs.
public struct OCRRead: Sendable {
    public var numbers: InlineArray<4, ContainerNumber?> = InlineArray(repeating: nil)
    public var confidences: InlineArray<4, UInt8> = InlineArray(repeating: ContainerRead.unknownConfidence)
    public var count = 0
    public var plate: ContainerNumber? = nil
    /// The lane's monotonic time the read belongs to: the OCR's read time mapped onto the lane's
    /// clock when the message gave a plausible one, else when it arrived.
    public var atUs: Int64 = 0
    /// When it arrived (lane monotonic) and the read time the OCR gave (Unix µs, 0 none).
    public var arrivalUs: Int64 = 0
    public var readWallUs: Int64 = 0
    public init() {}
    /// Adds a number (at most 4 per message: more are a malformed message).
    public mutating func add(_ n: ContainerNumber, confidence: UInt8) -> Bool {
        guard count < 4 else { return false }
        numbers[count] = n
        confidences[count] = confidence
        count += 1
        return true
    }
}

public struct OCRSettings: Sendable, Equatable {
    /// A read up to this long after an occupancy's end still belongs to it (OCR is often slower
    /// than the truck); one later, with no occupancy in progress, is unmatched.
    public var lateUs: Int64 = 15_000_000
    /// A read time this far before an occupancy's first beam break still belongs to it (the
    /// OCR's clock against the lane's; the camera sees the front before the beam does).
    public var earlyUs: Int64 = 2_000_000
    /// Reads below this confidence (percent) are flagged `lowConfidence` (0: never).
    public var minConfidence: UInt8 = 0
    /// The trace contract's rule (lane-trace.md): a read while the lane is empty belongs to the
    /// next occupancy. The live lane instead matches by time and records what fits nothing.
    public var emptyLaneGoesToNext = false
    public init() {}
    /// The trace contract's rule, for replay.
    public static var traceContract: OCRSettings {
        var s = OCRSettings()
        s.emptyLaneGoesToNext = true
        return s
    }
}

/// The result of one read.
public enum OCROutcome: Sendable, Equatable {
    /// Attached to the occupancy in progress (its decision will carry it; all its reads now).
    case attached(occupancy: UInt32, OCRAttachment)
    /// Attached to an occupancy already decided: the amendment to send (all its reads now).
    case amended(occupancy: UInt32, startUs: Int64, OCRAttachment)
    /// Fits no occupancy: recorded as unmatched (the read's numbers, judged).
    case unmatched(OCRAttachment)
    /// Held for the next occupancy (trace contract only).
    case pending
    /// Nothing new: every number was already attached to that occupancy.
    case duplicate(occupancy: UInt32)
}

/// Attaches reads to occupancies by time: the one in progress or recently ended whose span
/// (widened by `earlyUs` before and `lateUs` after) holds the read's time, the most recent
/// first. Remembers the last `recentMax` occupancies, so a late read can amend a decision and a
/// number already seen on another truck is flagged.
public struct OCRMatcher: Sendable {
    public static let recentMax = 8
    public var settings: OCRSettings
    struct Slot: Sendable {
        var occupancy: UInt32 = 0
        var startUs: Int64 = 0
        /// Int64.max while in progress.
        var endUs: Int64 = Int64.max
        var decided = false
        var reads = OCRAttachment()
    }
    var slots: InlineArray<8, Slot> = InlineArray(repeating: Slot())
    var used = 0
    var next = 0
    var pending = OCRAttachment()
    public private(set) var unmatched: UInt64 = 0
    public private(set) var duplicates: UInt64 = 0
    public private(set) var amendments: UInt64 = 0

    public init(settings: OCRSettings = OCRSettings()) { self.settings = settings }

    /// An occupancy began (its first beam break).
    public mutating func started(occupancy: UInt32, startUs: Int64) {
        var s = Slot()
        s.occupancy = occupancy
        s.startUs = startUs
        if settings.emptyLaneGoesToNext {
            s.reads = pending
            pending = OCRAttachment()
        }
        slots[next] = s
        next = (next + 1) % Self.recentMax
        if used < Self.recentMax { used += 1 }
    }

    /// The occupancy is decided: returns what its decision carries. Reads after this amend it.
    public mutating func decided(occupancy: UInt32, endUs: Int64) -> OCRAttachment {
        guard let i = slotIndex(occupancy) else { return OCRAttachment() }
        slots[i].endUs = endUs
        slots[i].decided = true
        return slots[i].reads
    }

    func slotIndex(_ occupancy: UInt32) -> Int? {
        var k = 0
        while k < used {
            let i = (next - 1 - k + 2 * Self.recentMax) % Self.recentMax
            if slots[i].occupancy == occupancy { return i }
            k += 1
        }
        return nil
    }

    /// Attaches one read (see the type's rule).
    public mutating func read(_ r: OCRRead) -> OCROutcome {
        // Newest first: the occupancy whose span holds the read time, else the newest whose
        // late window does. The trace contract's rule: the occupancy in progress, else the next.
        var target = -1
        var k = 0
        if settings.emptyLaneGoesToNext {
            let i = (next - 1 + Self.recentMax) % Self.recentMax
            if used > 0 && !slots[i].decided { target = i }
            k = used
        }
        while k < used {
            let i = (next - 1 - k + 2 * Self.recentMax) % Self.recentMax
            let s = slots[i]
            if r.atUs >= s.startUs - settings.earlyUs && (s.endUs == Int64.max || r.atUs <= s.endUs) { target = i; break }
            k += 1
        }
        if target < 0 && !settings.emptyLaneGoesToNext {
            k = 0
            while k < used {
                let i = (next - 1 - k + 2 * Self.recentMax) % Self.recentMax
                let s = slots[i]
                if s.endUs != Int64.max && r.atUs > s.endUs && r.atUs - s.endUs <= settings.lateUs { target = i; break }
                k += 1
            }
        }
        if target < 0 {
            if settings.emptyLaneGoesToNext {
                _ = add(r, to: &pending, ownSlot: -1, late: false)
                return .pending
            }
            unmatched += 1
            var a = OCRAttachment()
            _ = add(r, to: &a, ownSlot: -1, late: false)
            return .unmatched(a)
        }
        var reads = slots[target].reads
        let changed = add(r, to: &reads, ownSlot: target, late: slots[target].decided)
        slots[target].reads = reads
        let s = slots[target]
        if !changed {
            duplicates += 1
            return .duplicate(occupancy: s.occupancy)
        }
        if s.decided {
            amendments += 1
            return .amended(occupancy: s.occupancy, startUs: s.startUs, reads)
        }
        return .attached(occupancy: s.occupancy, reads)
    }

    /// Judges each number and adds the new ones; true when anything changed.
    func add(_ r: OCRRead, to a: inout OCRAttachment, ownSlot: Int, late: Bool) -> Bool {
        var changed = false
        for j in 0..<r.count {
            guard let n = r.numbers[j] else { continue }
            let confidence = r.confidences[j]
            if let i = a.index(of: n) {
                // Read again (a duplicate message, or the second camera): keep the surer confidence.
                if confidence != ContainerRead.unknownConfidence && (a[i].confidence == ContainerRead.unknownConfidence || confidence > a[i].confidence) {
                    a.update(i) { $0.confidence = confidence }
                    a.update(i) { c in
                        if settings.minConfidence == 0 || confidence >= settings.minConfidence { c.flags &= ~ContainerRead.lowConfidence }
                    }
                    changed = true
                }
                continue
            }
            var flags: UInt8 = late ? ContainerRead.late : 0
            if !n.hasValidCheckDigit { flags |= ContainerRead.checkDigitFailed }
            if settings.minConfidence > 0 && confidence != ContainerRead.unknownConfidence && confidence < settings.minConfidence {
                flags |= ContainerRead.lowConfidence
            }
            if seenElsewhere(n, except: ownSlot) { flags |= ContainerRead.seenOnOtherOccupancy }
            _ = a.append(ContainerRead(number: n, confidence: confidence, flags: flags))
            changed = true
        }
        if let p = r.plate, a.plate != p {
            a.plate = p
            changed = true
        }
        return changed
    }

    func seenElsewhere(_ n: ContainerNumber, except own: Int) -> Bool {
        for k in 0..<used where k != own && slots[k].reads.index(of: n) != nil { return true }
        return false
    }
}
