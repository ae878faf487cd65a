// The lane's records (docs/RECORDS.md): one versioned binary encoding for everything the lane
// reports. Fixed storage throughout, so the tick can build and encode them without allocating.

/// Record kinds (stable numbers: they are on the wire and in journals).
public enum RecordKind: UInt8, Sendable {
    case samples = 1
    case occupancy = 2
    case alarm = 3
    case background = 4
    case fault = 5
    case audit = 6
    case heartbeat = 7
    case gap = 8
    /// A read from the gate OCR that came after its occupancy's decision (an amendment), or that
    /// fits no occupancy (unmatched). Format 3.
    case ocr = 9

    /// The kind's name (topics, JSON, the collector's tables).
    public var name: StaticString {
        switch self {
        case .samples: return "samples"
        case .occupancy: return "occupancy"
        case .alarm: return "alarm"
        case .background: return "background"
        case .fault: return "fault"
        case .audit: return "audit"
        case .heartbeat: return "heartbeat"
        case .gap: return "gap"
        case .ocr: return "ocr"
        }
    }
}

/// Raw counts of consecutive samples, for the analysts' baselines. Encoded as the first
/// sample's values and then per-channel differences from the previous sample, zigzag varints:
/// over an empty lane most differences fit one byte.
public struct SampleBatch: Sendable {
    public static let samplesMax = 16
    public var panels: Int = 4
    public var count: Int = 0
    /// Nominal interval; each sample carries its deviation from it.
    public var nominalIntervalUs: Int64 = 100_000
    public var firstTUs: Int64 = 0
    var intervals: InlineArray<16, Int64> = InlineArray(repeating: 0)
    /// [sample][panel][channel: gamma, gammaLow, neutron], flattened.
    var values: InlineArray<384, UInt32> = InlineArray(repeating: 0)

    public init(panels: Int, nominalIntervalUs: Int64) {
        self.panels = panels
        self.nominalIntervalUs = nominalIntervalUs
    }

    public var isFull: Bool { count == Self.samplesMax }

    /// Appends a sample; false when the batch is full.
    public mutating func append(_ s: LaneSample) -> Bool {
        guard count < Self.samplesMax else { return false }
        if count == 0 { firstTUs = s.tUs }
        intervals[count] = s.intervalUs
        for p in 0..<panels {
            let i = (count * panelCountMax + p) * 3
            values[i] = s.gamma[p]
            values[i + 1] = s.gammaLow[p]
            values[i + 2] = s.neutron[p]
        }
        count += 1
        return true
    }

    public func value(sample: Int, panel: Int, channel: Int) -> UInt32 { values[(sample * panelCountMax + panel) * 3 + channel] }
    public func intervalUs(sample: Int) -> Int64 { intervals[sample] }

    public mutating func removeAll() { count = 0 }
}

public struct AlarmRecord: Sendable, Equatable {
    public var occupancy: UInt32
    /// 0 gamma, 1 neutron.
    public var kind: UInt8
    public var tUs: Int64
    public var sigmaQ8: Int64
    public init(occupancy: UInt32, kind: UInt8, tUs: Int64, sigmaQ8: Int64) {
        self.occupancy = occupancy; self.kind = kind; self.tUs = tUs; self.sigmaQ8 = sigmaQ8
    }
}

public struct FaultRecord: Sendable, Equatable {
    /// The fault bits now (see `Faults`), and which changed.
    public var bits: UInt32
    public var changed: UInt32
    /// The panel concerned (255: the lane).
    public var panel: UInt8
    public init(bits: UInt32, changed: UInt32, panel: UInt8) { self.bits = bits; self.changed = changed; self.panel = panel }
}

/// Short text in fixed storage (user names, setting keys and values, versions).
public struct ShortText: Sendable, Equatable {
    public static let capacity = 64
    var bytes: InlineArray<64, UInt8> = InlineArray(repeating: 0)
    public private(set) var count = 0
    public init() {}
    public init(_ s: StaticString) {
        let p = s.utf8Start
        for i in 0..<(s.utf8CodeUnitCount < Self.capacity ? s.utf8CodeUnitCount : Self.capacity) { bytes[i] = p[i] }
        count = s.utf8CodeUnitCount < Self.capacity ? s.utf8CodeUnitCount : Self.capacity
    }
    /// Takes at most 64 bytes.
    public init(_ p: UnsafePointer<UInt8>, count n: Int) {
        for i in 0..<(n < Self.capacity ? n : Self.capacity) { bytes[i] = p[i] }
        count = n < Self.capacity ? n : Self.capacity
    }
    public subscript(i: Int) -> UInt8 { bytes[i] }
    public static func == (a: ShortText, b: ShortText) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a.bytes[i] != b.bytes[i] { return false }
        return true
    }
}

public struct AuditRecord: Sendable, Equatable {
    public var user: ShortText
    public var action: ShortText
    public var oldValue: ShortText
    public var newValue: ShortText
    public init(user: ShortText, action: ShortText, oldValue: ShortText, newValue: ShortText) {
        self.user = user; self.action = action; self.oldValue = oldValue; self.newValue = newValue
    }
}

public struct HeartbeatRecord: Sendable, Equatable {
    public var softwareVersion: ShortText
    /// FNV-1a 64 of the board profile file's bytes.
    public var profileHash: UInt64
    public var uptimeS: UInt64
    public var ticks: UInt64
    public var missedTicks: UInt64
    public var maxLatenessUs: UInt64
    /// Tick lateness percentiles since start (HdrHistogram, microseconds) and the 99.9th
    /// percentile of the tick's own work.
    public var latenessP50Us: UInt64
    public var latenessP999Us: UInt64
    public var workP999Us: UInt64
    /// Bit 0: detection unlocked (maintenance mode); bit 1: the uplink runs without TLS
    /// (`insecure: true`). Format 2 only.
    public var flags: UInt64
    /// FNV-1a 64 of the running detection and output settings (changes only with an audit
    /// record of the change). Format 2 only.
    public var settingsHash: UInt64
    public init(softwareVersion: ShortText, profileHash: UInt64, uptimeS: UInt64, ticks: UInt64, missedTicks: UInt64, maxLatenessUs: UInt64,
                latenessP50Us: UInt64 = 0, latenessP999Us: UInt64 = 0, workP999Us: UInt64 = 0, flags: UInt64 = 0, settingsHash: UInt64 = 0) {
        self.softwareVersion = softwareVersion; self.profileHash = profileHash; self.uptimeS = uptimeS
        self.ticks = ticks; self.missedTicks = missedTicks; self.maxLatenessUs = maxLatenessUs
        self.latenessP50Us = latenessP50Us; self.latenessP999Us = latenessP999Us; self.workP999Us = workP999Us
        self.flags = flags; self.settingsHash = settingsHash
    }
    public static let flagUnlocked: UInt64 = 1
    public static let flagInsecureUplink: UInt64 = 2
}

/// The learned background per panel (Q16 counts per nominal interval).
public struct BackgroundRecord: Sendable, Equatable {
    public var panels: Int
    public var gammaQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    public var gammaLowQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    public var neutronQ16: InlineArray<8, Int64> = InlineArray(repeating: 0)
    public init(panels: Int) { self.panels = panels }
    public init(_ b: Background, panels: Int) {
        self.panels = panels
        for p in 0..<panels {
            gammaQ16[p] = b.gammaQ16[p]
            gammaLowQ16[p] = b.gammaLowQ16[p]
            neutronQ16[p] = b.neutronQ16[p]
        }
    }
    public static func == (a: BackgroundRecord, b: BackgroundRecord) -> Bool {
        guard a.panels == b.panels else { return false }
        for p in 0..<a.panels where a.gammaQ16[p] != b.gammaQ16[p] || a.gammaLowQ16[p] != b.gammaLowQ16[p] || a.neutronQ16[p] != b.neutronQ16[p] {
            return false
        }
        return true
    }
}

/// Records the lane could not keep or send, and why: the collector sees the hole with its cause
/// instead of waiting for records that will never come.
public struct GapRecord: Sendable, Equatable {
    public static let rangesMax = 64
    public enum Cause: UInt8, Sendable {
        /// The journal's storage failed (full past its reserve, read-only, an I/O error).
        case storageFailed = 1
        /// Raw samples evicted from a full journal before the collector had them.
        case evicted = 2
        /// Asked for by the collector, but no longer (or never) in the journal.
        case notInJournal = 3
        /// Dropped before they had a sequence number (the tick's record queue was full).
        case queueFull = 4
    }
    public var cause: Cause
    /// How many records were lost (for `queueFull`, the only figure: they had no sequence).
    public var records: UInt64
    /// Sequences lost, as inclusive ranges in increasing order (none for `queueFull`).
    var firsts: InlineArray<64, UInt64> = InlineArray(repeating: 0)
    var lasts: InlineArray<64, UInt64> = InlineArray(repeating: 0)
    public private(set) var rangeCount = 0

    public init(cause: Cause, records: UInt64) { self.cause = cause; self.records = records }

    /// Appends a range after the last one (merging when adjacent); false when full or out of order.
    public mutating func append(first: UInt64, last: UInt64) -> Bool {
        guard first <= last else { return false }
        if rangeCount > 0 {
            guard first > lasts[rangeCount - 1] else { return false }
            if first == lasts[rangeCount - 1] &+ 1 { lasts[rangeCount - 1] = last; return true }
        }
        guard rangeCount < Self.rangesMax else { return false }
        firsts[rangeCount] = first
        lasts[rangeCount] = last
        rangeCount += 1
        return true
    }

    public func range(_ i: Int) -> (first: UInt64, last: UInt64) { (firsts[i], lasts[i]) }

    public static func == (a: GapRecord, b: GapRecord) -> Bool {
        guard a.cause == b.cause, a.records == b.records, a.rangeCount == b.rangeCount else { return false }
        for i in 0..<a.rangeCount where a.firsts[i] != b.firsts[i] || a.lasts[i] != b.lasts[i] { return false }
        return true
    }
}

/// A late or unmatched OCR read (docs/OCR.md).
public struct OCRRecord: Sendable, Equatable {
    /// The occupancy amended; 0: the read fits no occupancy (unmatched).
    public var occupancy: UInt32
    /// That occupancy's first beam break (lane monotonic µs): with the number, it names the
    /// decision at the collector (numbers start again at 1 when the agent restarts).
    public var occupancyStartUs: Int64
    /// An amendment: every read the occupancy has now (the collector replaces what it stored).
    /// Unmatched: the read's own numbers.
    public var reads: OCRAttachment
    /// When the read belongs (lane monotonic µs) and the OCR's own read time (Unix µs, 0 none).
    public var readAtUs: Int64
    public var readWallUs: Int64
    public init(occupancy: UInt32, occupancyStartUs: Int64, reads: OCRAttachment, readAtUs: Int64, readWallUs: Int64) {
        self.occupancy = occupancy; self.occupancyStartUs = occupancyStartUs; self.reads = reads
        self.readAtUs = readAtUs; self.readWallUs = readWallUs
    }
    public var isAmendment: Bool { occupancy != 0 }
}

public enum Record: Sendable {
    case samples(SampleBatch)
    case occupancy(Decision)
    case alarm(AlarmRecord)
    case background(BackgroundRecord)
    case fault(FaultRecord)
    case audit(AuditRecord)
    case heartbeat(HeartbeatRecord)
    case gap(GapRecord)
    case ocr(OCRRecord)

    public var kind: RecordKind {
        switch self {
        case .samples: return .samples
        case .occupancy: return .occupancy
        case .alarm: return .alarm
        case .background: return .background
        case .fault: return .fault
        case .audit: return .audit
        case .heartbeat: return .heartbeat
        case .gap: return .gap
        case .ocr: return .ocr
        }
    }
}

/// What every frame carries besides its record.
public struct FrameHeader: Sendable, Equatable {
    /// The journal's identity (random, fixed when the journal was created; 0 in format-1 frames,
    /// which had none). Records are keyed by lane, epoch and sequence.
    public var epoch: UInt64
    public var sequence: UInt64
    public var monotonicUs: Int64
    /// Wall clock (Unix epoch microseconds) where known, else 0.
    public var wallUs: Int64
    public init(epoch: UInt64 = 0, sequence: UInt64, monotonicUs: Int64, wallUs: Int64) {
        self.epoch = epoch; self.sequence = sequence; self.monotonicUs = monotonicUs; self.wallUs = wallUs
    }
}
