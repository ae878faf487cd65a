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
    /// Beam edges, in the order the engine took them among the samples (format 4).
    case beams = 10
    /// The agent's engine started: geometry, and the background it restored (format 4).
    case start = 11
    /// Multi-window panels: each panel's energy window boundaries as it reported them (format 6).
    case windows = 12

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
        case .beams: return "beams"
        case .start: return "start"
        case .windows: return "windows"
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
    /// Per sample (format 4): the panels absent from it (bits 0-7: silent, excluded or suspect;
    /// they stood in their learned background), the panels whose background the lane forgot
    /// before it (bits 8-15), and `maintenanceFlag` (nothing learned from it). With the beam
    /// edges and the start records this is everything the engine was given: a study replays a
    /// stored month exactly (docs/SHARING.md).
    var flags: InlineArray<16, UInt32> = InlineArray(repeating: 0)
    public static let forgetShift: UInt32 = 8
    public static let maintenanceFlag: UInt32 = 1 << 16
    /// Multi-window batches (format 6): the sample carried no usable windows (a panel's did not
    /// add up, or none answered): the spectral test took it as a gap.
    public static let noWindowsFlag: UInt32 = 1 << 17
    /// The flag bits a frame may carry.
    public static let flagsMask: UInt32 = 0x3_FFFF
    /// [sample][panel][channel: gamma, gammaLow, neutron], flattened.
    var values: InlineArray<384, UInt32> = InlineArray(repeating: 0)
    /// Multi-window panels (format 6): the K windows of every panel (0: none), and their counts,
    /// [sample][panel][window] densely (`windowsStore` values at most).
    public private(set) var windowCount: Int = 0
    var windowValues: InlineArray<640, UInt32> = InlineArray(repeating: 0)
    public static let windowsStore = 640
    /// How many samples this batch holds: 16, fewer with many panels and windows, so that a
    /// frame of the largest counts stays within `RecordFormat.bodyMax` (`capacity(panels:windows:)`).
    public private(set) var capacity: Int = samplesMax

    /// `windows`: K for multi-window panels (3 to 16; 0: two windows, nothing more kept).
    public init(panels: Int, nominalIntervalUs: Int64, windows: Int = 0) {
        self.panels = panels
        self.nominalIntervalUs = nominalIntervalUs
        self.windowCount = windows >= 3 && windows <= windowCountMax ? windows : 0
        self.capacity = Self.capacity(panels: panels, windows: windowCount)
    }

    /// The samples a batch of `panels` panels with `windows` windows holds: each sample's
    /// worst case (10 bytes of interval, 3 of flags, 5 per value) within the body's room after
    /// its header (64 bytes), and the windows within `windowsStore`; at most 16.
    public static func capacity(panels: Int, windows: Int) -> Int {
        let perSample = 13 + panels * (3 + windows) * 5
        var n = (RecordFormat.bodyMax - 64) / perSample
        if windows > 0 { n = min(n, windowsStore / (panels * windows)) }
        return max(1, min(samplesMax, n))
    }

    public var isFull: Bool { count >= capacity }

    /// Sample k's window w of panel p (multi-window batches).
    public func window(sample k: Int, panel p: Int, window w: Int) -> UInt32 { windowValues[(k * panels + p) * windowCount + w] }

    /// Appends a sample (its absent panels into its flags, with `more`: forgotten panels,
    /// maintenance); false when the batch is full.
    public mutating func append(_ s: LaneSample, flags more: UInt32 = 0) -> Bool {
        guard count < capacity else { return false }
        if count == 0 { firstTUs = s.tUs }
        intervals[count] = s.intervalUs
        var f = ((s.absentMask & 0xFF) | more) & Self.flagsMask
        if windowCount > 0 && s.windowCount != windowCount { f |= Self.noWindowsFlag }
        if windowCount == 0 { f &= ~Self.noWindowsFlag }
        flags[count] = f
        for p in 0..<panels {
            let i = (count * panelCountMax + p) * 3
            values[i] = s.gamma[p]
            values[i + 1] = s.gammaLow[p]
            values[i + 2] = s.neutron[p]
            for w in 0..<windowCount { windowValues[(count * panels + p) * windowCount + w] = s.windows[p * windowCountMax + w] }
        }
        count += 1
        return true
    }

    public func value(sample: Int, panel: Int, channel: Int) -> UInt32 { values[(sample * panelCountMax + panel) * 3 + channel] }
    public func intervalUs(sample: Int) -> Int64 { intervals[sample] }
    public func flags(sample: Int) -> UInt32 { flags[sample] }
    /// Whether any sample carries flags (format 4 writes them only then).
    public var hasFlags: Bool {
        for k in 0..<count where flags[k] != 0 { return true }
        return false
    }

    /// Sample k as the engine took it: its time, interval, counts and absent panels.
    public func sample(_ k: Int) -> LaneSample {
        var t = firstTUs
        if k > 0 { for j in 1...k { t += intervals[j] } }
        var s = LaneSample(tUs: t, intervalUs: intervals[k])
        for p in 0..<panels {
            s.gamma[p] = value(sample: k, panel: p, channel: 0)
            s.gammaLow[p] = value(sample: k, panel: p, channel: 1)
            s.neutron[p] = value(sample: k, panel: p, channel: 2)
        }
        s.absentMask = flags[k] & 0xFF
        if windowCount > 0 {
            for p in 0..<panels { for w in 0..<windowCount { s.windows[p * windowCountMax + w] = window(sample: k, panel: p, window: w) } }
            if flags[k] & Self.noWindowsFlag == 0 { s.windowCount = windowCount }
        }
        return s
    }

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
    /// What the lane learned of its NORM loads (format 5; docs/DETECTION.md): loads learned in
    /// all, their low-window shares' 90th percentile (Q16, 0 = none yet), the rule the next
    /// occupancy is judged by (`normRuleOn`, bit 0; its source in bits 1-2: 0 the profile,
    /// 1 learned, 2 cold start) and its threat-like share (Q16).
    public var normLearned: UInt64
    public var normShareQ16: UInt64
    public var normRule: UInt64
    public var normLowShareMinQ16: UInt64
    public init(softwareVersion: ShortText, profileHash: UInt64, uptimeS: UInt64, ticks: UInt64, missedTicks: UInt64, maxLatenessUs: UInt64,
                latenessP50Us: UInt64 = 0, latenessP999Us: UInt64 = 0, workP999Us: UInt64 = 0, flags: UInt64 = 0, settingsHash: UInt64 = 0,
                normLearned: UInt64 = 0, normShareQ16: UInt64 = 0, normRule: UInt64 = 0, normLowShareMinQ16: UInt64 = 0) {
        self.softwareVersion = softwareVersion; self.profileHash = profileHash; self.uptimeS = uptimeS
        self.ticks = ticks; self.missedTicks = missedTicks; self.maxLatenessUs = maxLatenessUs
        self.latenessP50Us = latenessP50Us; self.latenessP999Us = latenessP999Us; self.workP999Us = workP999Us
        self.flags = flags; self.settingsHash = settingsHash
        self.normLearned = normLearned; self.normShareQ16 = normShareQ16; self.normRule = normRule; self.normLowShareMinQ16 = normLowShareMinQ16
    }

    /// `normRule`'s value for a rule.
    public static func normRuleBits(_ r: NormRule) -> UInt64 {
        (r.on ? 1 : 0) | (r.source == .learned ? 2 : r.source == .coldStart ? 4 : 0)
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

/// Beam edges as the engine took them (format 4): the lane sends its pending samples before a
/// tick's edges, so journal order is the engine's order of edges and samples.
public struct BeamRecord: Sendable, Equatable {
    public static let edgesMax = 16
    var times: InlineArray<16, Int64> = InlineArray(repeating: 0)
    var beams: InlineArray<16, UInt8> = InlineArray(repeating: 0)
    var blocked: InlineArray<16, Bool> = InlineArray(repeating: false)
    public private(set) var count = 0
    public init() {}
    public var isFull: Bool { count == Self.edgesMax }
    /// Appends an edge (beams 0-7); false when full or the beam is out of range.
    public mutating func append(_ e: BeamEdge) -> Bool {
        guard count < Self.edgesMax && e.beam >= 0 && e.beam < 8 else { return false }
        times[count] = e.tUs
        beams[count] = UInt8(truncatingIfNeeded: e.beam)
        blocked[count] = e.blocked
        count += 1
        return true
    }
    public subscript(i: Int) -> BeamEdge { BeamEdge(tUs: times[i], beam: Int(beams[i]), blocked: blocked[i]) }
    public static func == (a: BeamRecord, b: BeamRecord) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a[i] != b[i] { return false }
        return true
    }
}

/// The agent's engine started (format 4): what a replay needs to start as the lane did.
public struct StartRecord: Sendable {
    public var panels: Int
    public var sampleIntervalUs: Int64
    public var beamSpacingMm: Int64
    /// Bit p: panel p is on pillar B.
    public var pillarBMask: UInt32
    /// FNV-1a 64 of the running detection and output settings (as the heartbeat's).
    public var settingsHash: UInt64
    /// The background the lane restored from disk at start (nil: it learned afresh).
    public var background: Background?
    /// Multi-window panels (format 6): the K energy windows the engine's spectral test takes
    /// (0: two windows).
    public var windows: Int = 0
    public init(panels: Int, sampleIntervalUs: Int64, beamSpacingMm: Int64, pillarBMask: UInt32, settingsHash: UInt64, background: Background?,
                windows: Int = 0) {
        self.panels = panels; self.sampleIntervalUs = sampleIntervalUs; self.beamSpacingMm = beamSpacingMm
        self.pillarBMask = pillarBMask; self.settingsHash = settingsHash; self.background = background
        self.windows = windows
    }
    public init(_ s: EngineSettings, settingsHash: UInt64, background: Background?) {
        var mask: UInt32 = 0
        for p in 0..<s.panelCount where s.pillarOfPanel[p] == 1 { mask |= 1 &<< UInt32(p) }
        self.init(panels: s.panelCount, sampleIntervalUs: s.sampleIntervalUs, beamSpacingMm: s.beamSpacingMm, pillarBMask: mask,
                  settingsHash: settingsHash, background: background, windows: s.spectralWindowCount)
    }
    /// `base` with this start's geometry (panels, pillars, sample interval, beam spacing).
    public func geometry(over base: EngineSettings) -> EngineSettings {
        var e = base
        e.panelCount = panels
        e.sampleIntervalUs = sampleIntervalUs
        e.beamSpacingMm = beamSpacingMm
        e.spectralWindowCount = windows
        for p in 0..<panels { e.pillarOfPanel[p] = pillarBMask & (1 &<< UInt32(p)) != 0 ? 1 : 0 }
        return e
    }
}

/// Multi-window panels (format 6): the energy window boundaries each panel reported (keV, K + 1
/// a panel, lowest first; all 0: not read yet), sent when the lane starts knowing them and
/// whenever they change, so that the samples' windows can be read as spectra (N42 export).
public struct WindowsRecord: Sendable, Equatable {
    public var panels: Int
    public var windows: Int
    var boundaries: InlineArray<136, UInt16> = InlineArray(repeating: 0)
    public init(panels: Int, windows: Int) { self.panels = panels; self.windows = windows }
    public func boundaryKev(panel p: Int, _ j: Int) -> Int { Int(boundaries[p * (windowCountMax + 1) + j]) }
    public mutating func set(panel p: Int, _ j: Int, kev: UInt16) { boundaries[p * (windowCountMax + 1) + j] = kev }
    /// Whether panel p's boundaries are known (not all 0).
    public func known(panel p: Int) -> Bool {
        for j in 0...windows where boundaryKev(panel: p, j) != 0 { return true }
        return false
    }
    public static func == (a: WindowsRecord, b: WindowsRecord) -> Bool {
        guard a.panels == b.panels && a.windows == b.windows else { return false }
        for p in 0..<a.panels { for j in 0...a.windows where a.boundaryKev(panel: p, j) != b.boundaryKev(panel: p, j) { return false } }
        return true
    }
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
    case beams(BeamRecord)
    case start(StartRecord)
    case windows(WindowsRecord)

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
        case .beams: return .beams
        case .start: return .start
        case .windows: return .windows
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
