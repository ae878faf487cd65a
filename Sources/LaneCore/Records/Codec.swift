// Frames (docs/RECORDS.md):
//     0xA7 | version (1) | kind | bodyLength (varint) | body | CRC-32C (4 bytes, little-endian)
//     body = sequence (varint) | monotonicUs (zigzag) | wallUs (zigzag, 0 unknown) | payload
// The CRC covers everything after the magic byte up to the end of the body.

public enum RecordFormat {
    public static let magic: UInt8 = 0xA7
    /// The version written. Earlier ones are still read (journals of earlier releases):
    /// version 1 had no epoch; version 2 carried one container number per occupancy and no
    /// `ocr` records; version 3 carries the OCR's reads; version 4 the samples' flags and the
    /// `beams` and `start` records, so that stored records replay exactly (docs/RECORDS.md);
    /// version 5 what the lane learned of its NORM loads in the heartbeat; version 6 the energy
    /// windows of multi-window panels in the sample batches; version 7 which tests raised an
    /// occupancy's gamma alarm.
    public static let version: UInt8 = 7
    public static let versionOldest: UInt8 = 1
    public static let bodyMax = 4096
    /// The largest frame: magic, version, kind, 2-byte length, body, CRC.
    public static let frameMax = 1 + 1 + 1 + 2 + bodyMax + 4
}

public struct RecordEncoder {
    var body: InlineArray<4096, UInt8> = InlineArray(repeating: 0)

    public init() {}

    /// Encodes one frame into `out`; returns its length, or nil when `out` is too small or the
    /// body exceeds `RecordFormat.bodyMax`.
    public mutating func encode(_ record: Record, header: FrameHeader, into out: UnsafeMutablePointer<UInt8>, capacity: Int) -> Int? {
        let bodyCount: Int? = withUnsafeMutableBytes(of: &body) { raw -> Int? in
            let p = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var w = ByteWriter(p, capacity: RecordFormat.bodyMax)
            w.u64le(header.epoch)
            w.varint(header.sequence)
            w.signed(header.monotonicUs)
            w.signed(header.wallUs)
            Self.payload(record, &w)
            return w.overflow ? nil : w.count
        }
        guard let n = bodyCount else { return nil }
        var f = ByteWriter(out, capacity: capacity)
        f.byte(RecordFormat.magic)
        f.byte(RecordFormat.version)
        f.byte(record.kind.rawValue)
        f.varint(u64(n))
        for i in 0..<n { f.byte(body[i]) }
        if f.overflow { return nil }
        let crc = CRC32C.update(0, out + 1, f.count - 1)
        f.u32le(crc)
        return f.overflow ? nil : f.count
    }

    static func payload(_ record: Record, _ w: inout ByteWriter) {
        switch record {
        case let .samples(b):
            w.byte(UInt8(truncatingIfNeeded: b.panels))
            w.byte(UInt8(truncatingIfNeeded: b.count))
            w.varint(UInt64(bitPattern: b.nominalIntervalUs))
            w.signed(b.firstTUs)
            let flagged = b.hasFlags
            w.byte(flagged ? 1 : 0)
            let k = b.windowCount
            w.byte(UInt8(truncatingIfNeeded: k))
            for s in 0..<b.count {
                w.signed(b.intervalUs(sample: s) - b.nominalIntervalUs)
                if flagged { w.varint(u64(b.flags(sample: s))) }
                for p in 0..<b.panels {
                    for c in 0..<3 {
                        let v = i64(b.value(sample: s, panel: p, channel: c))
                        if s == 0 { w.varint(UInt64(bitPattern: v)) } else { w.signed(v - i64(b.value(sample: s - 1, panel: p, channel: c))) }
                    }
                    for x in 0..<k {
                        let v = i64(b.window(sample: s, panel: p, window: x))
                        if s == 0 { w.varint(UInt64(bitPattern: v)) } else { w.signed(v - i64(b.window(sample: s - 1, panel: p, window: x))) }
                    }
                }
            }
        case let .occupancy(d):
            w.varint(u64(d.occupancy))
            w.signed(d.startUs)
            w.signed(d.endUs - d.startUs)
            w.signed(d.speedMmPerS ?? -1)
            var flags: UInt8 = 0
            if d.gammaAlarm { flags |= 1 }
            if d.neutronAlarm { flags |= 2 }
            if d.normSuspect { flags |= 4 }
            if d.reverse { flags |= 8 }
            if d.truncated { flags |= 16 }
            if d.gammaWindowFromSpeed { flags |= 32 }
            if d.notScreened { flags |= 64 }
            w.byte(flags)
            w.signed(d.gammaMaxSigmaQ8)
            w.byte(UInt8(truncatingIfNeeded: d.gammaMaxGroup))
            w.signed(d.gammaMaxCounts)
            w.signed(d.gammaMaxBackgroundQ16)
            w.signed(d.gammaMaxThresholdQ16)
            w.signed(d.gammaMaxLowShareQ16)
            w.signed(d.neutronMaxSigmaQ8)
            w.signed(d.neutronMaxCounts)
            w.signed(d.neutronMaxBackgroundQ16)
            w.varint(u64(d.gammaWindowSamples))
            w.varint(u64(d.gammaMaxWindowSamples))
            w.varint(u64(d.neutronWindowSamples))
            w.signed(d.gammaBackgroundQ16)
            w.signed(d.suppressionQ16)
            w.varint(u64(d.samples))
            w.varint(u64(d.faults.bits))
            ocr(d.ocr, &w)
            w.varint(u64(d.panelsUsedMask))
            w.byte(d.gammaTests.bits)
        case let .alarm(a):
            w.varint(u64(a.occupancy))
            w.byte(a.kind)
            w.signed(a.tUs)
            w.signed(a.sigmaQ8)
        case let .background(b):
            w.byte(UInt8(truncatingIfNeeded: b.panels))
            for p in 0..<b.panels {
                w.signed(b.gammaQ16[p])
                w.signed(b.gammaLowQ16[p])
                w.signed(b.neutronQ16[p])
            }
        case let .fault(f):
            w.varint(u64(f.bits))
            w.varint(u64(f.changed))
            w.byte(f.panel)
        case let .audit(a):
            text(a.user, &w)
            text(a.action, &w)
            text(a.oldValue, &w)
            text(a.newValue, &w)
        case let .heartbeat(h):
            text(h.softwareVersion, &w)
            w.varint(h.profileHash)
            w.varint(h.uptimeS)
            w.varint(h.ticks)
            w.varint(h.missedTicks)
            w.varint(h.maxLatenessUs)
            w.varint(h.latenessP50Us)
            w.varint(h.latenessP999Us)
            w.varint(h.workP999Us)
            w.varint(h.flags)
            w.varint(h.settingsHash)
            w.varint(h.normLearned)
            w.varint(h.normShareQ16)
            w.varint(h.normRule)
            w.varint(h.normLowShareMinQ16)
        case let .ocr(o):
            w.varint(u64(o.occupancy))
            w.signed(o.occupancyStartUs)
            ocr(o.reads, &w)
            w.signed(o.readAtUs)
            w.signed(o.readWallUs)
        case let .beams(b):
            w.byte(UInt8(truncatingIfNeeded: b.count))
            for i in 0..<b.count {
                let e = b[i]
                w.signed(i == 0 ? e.tUs : e.tUs - b[i - 1].tUs)
                w.byte(UInt8(truncatingIfNeeded: e.beam) | (e.blocked ? 0x80 : 0))
            }
        case let .start(st):
            w.byte(UInt8(truncatingIfNeeded: st.panels))
            w.varint(UInt64(bitPattern: st.sampleIntervalUs))
            w.varint(UInt64(bitPattern: st.beamSpacingMm))
            w.byte(UInt8(truncatingIfNeeded: st.pillarBMask))
            w.varint(st.settingsHash)
            if let bg = st.background {
                w.byte(1)
                for i in 0..<Background.fieldCount(panels: st.panels) { w.signed(bg.field(i, panels: st.panels)) }
            } else {
                w.byte(0)
            }
            w.byte(UInt8(truncatingIfNeeded: st.windows))
        case let .windows(wr):
            w.byte(UInt8(truncatingIfNeeded: wr.panels))
            w.byte(UInt8(truncatingIfNeeded: wr.windows))
            for p in 0..<wr.panels { for j in 0...wr.windows { w.varint(u64(wr.boundaryKev(panel: p, j))) } }
        case let .gap(g):
            w.byte(g.cause.rawValue)
            w.varint(g.records)
            w.varint(u64(g.rangeCount))
            var after: UInt64 = 0
            for i in 0..<g.rangeCount {
                let (first, last) = g.range(i)
                w.varint(first - after)
                w.varint(last - first)
                after = last
            }
        }
    }

    static func text(_ t: ShortText, _ w: inout ByteWriter) {
        w.byte(UInt8(truncatingIfNeeded: t.count))
        for i in 0..<t.count { w.byte(t[i]) }
    }

    static func number(_ c: ContainerNumber?, _ w: inout ByteWriter) {
        guard let c else { w.byte(0); return }
        w.byte(UInt8(truncatingIfNeeded: c.count))
        for i in 0..<c.count { w.byte(c.bytes[i]) }
    }

    /// count | per read: number, confidence, flags | plate (length 0: none) | extra.
    static func ocr(_ a: OCRAttachment, _ w: inout ByteWriter) {
        w.byte(UInt8(truncatingIfNeeded: a.count))
        for i in 0..<a.count {
            number(a[i].number, &w)
            w.byte(a[i].confidence)
            w.byte(a[i].flags)
        }
        number(a.plate, &w)
        w.byte(a.extra)
    }
}

/// Parses a frame's body (after the length, before the CRC) into its header and record.
public enum RecordParser {
    /// The largest sequence a gap record may name (the journal's own limit, 2^48).
    public static let sequenceMax: UInt64 = 0x1_0000_0000_0000  // 2^48 (a literal: `1 << 48` allocates on 32-bit ARM)

    public static func parse(version: UInt8 = RecordFormat.version, kind: UInt8, body p: UnsafePointer<UInt8>, count n: Int) throws(RecordError) -> (FrameHeader, Record) {
        var r = ByteReader(p, count: n)
        let epoch: UInt64 = version >= 2 ? try r.u64le() : 0
        let header = FrameHeader(epoch: epoch, sequence: try r.varint(), monotonicUs: try r.signed(), wallUs: try r.signed())
        // Sequences run from 1 to 2^48 (a forged 2^64-1 once crashed the collector's listing).
        guard header.sequence >= 1 && header.sequence <= sequenceMax else { throw .valueOutOfRange }
        guard let k = RecordKind(rawValue: kind) else { throw .unknownKind(kind) }
        let record: Record
        switch k {
        case .samples:
            let panels = int(try r.byte())
            let count = int(try r.byte())
            guard panels >= 1 && panels <= panelCountMax && count >= 1 && count <= SampleBatch.samplesMax else { throw .valueOutOfRange }
            let nominal = Int64(bitPattern: try r.bounded(60_000_000))
            let first = try r.signed()
            let flagged = version >= 4 ? try r.byte() : 0
            guard flagged <= 1 else { throw .valueOutOfRange }
            let k = version >= 6 ? int(try r.byte()) : 0
            guard k == 0 || (k >= 3 && k <= windowCountMax) else { throw .valueOutOfRange }
            var b = SampleBatch(panels: panels, nominalIntervalUs: nominal, windows: k)
            // More samples than a batch of this shape holds: no encoder of ours wrote it.
            guard count <= b.capacity else { throw .valueOutOfRange }
            var t = first
            for s in 0..<count {
                var sample = LaneSample(tUs: 0, intervalUs: b.nominalIntervalUs + (try r.signed()))
                if s > 0 { t += sample.intervalUs }
                sample.tUs = t
                var flags: UInt32 = 0
                if flagged == 1 {
                    flags = UInt32(truncatingIfNeeded: try r.bounded(u64(SampleBatch.flagsMask)))
                    // Absent or forgotten panels the batch does not have; no windows where it has none.
                    let beyond: UInt32 = 0xFF & ~((1 &<< UInt32(panels)) &- 1)
                    guard flags & beyond == 0 && (flags >> SampleBatch.forgetShift) & beyond == 0 else { throw .valueOutOfRange }
                    guard k > 0 || flags & SampleBatch.noWindowsFlag == 0 else { throw .valueOutOfRange }
                }
                sample.absentMask = flags & 0xFF
                for p in 0..<panels {
                    for c in 0..<3 {
                        var v: Int64
                        if s == 0 { v = Int64(bitPattern: try r.bounded(u64(UInt32.max))) } else {
                            v = i64(b.value(sample: s - 1, panel: p, channel: c)) + (try r.signed())
                        }
                        guard v >= 0 && v <= i64(UInt32.max) else { throw .valueOutOfRange }
                        let u = UInt32(truncatingIfNeeded: v)
                        if c == 0 { sample.gamma[p] = u } else if c == 1 { sample.gammaLow[p] = u } else { sample.neutron[p] = u }
                    }
                    for x in 0..<k {
                        var v: Int64
                        if s == 0 { v = Int64(bitPattern: try r.bounded(u64(UInt32.max))) } else {
                            v = i64(b.window(sample: s - 1, panel: p, window: x)) + (try r.signed())
                        }
                        guard v >= 0 && v <= i64(UInt32.max) else { throw .valueOutOfRange }
                        sample.windows[p * windowCountMax + x] = UInt32(truncatingIfNeeded: v)
                    }
                }
                if k > 0 && flags & SampleBatch.noWindowsFlag == 0 { sample.windowCount = k }
                _ = b.append(sample, flags: flags & ~0xFF)
            }
            b.firstTUs = first
            record = .samples(b)
        case .occupancy:
            var d = Decision()
            d.occupancy = UInt32(truncatingIfNeeded: try r.bounded(u64(UInt32.max)))
            d.startUs = try r.signed()
            d.endUs = d.startUs + (try r.signed())
            let speed = try r.signed()
            d.speedMmPerS = speed < 0 ? nil : speed
            let flags = try r.byte()
            d.gammaAlarm = flags & 1 != 0
            d.neutronAlarm = flags & 2 != 0
            d.normSuspect = flags & 4 != 0
            d.reverse = flags & 8 != 0
            d.truncated = flags & 16 != 0
            d.gammaWindowFromSpeed = flags & 32 != 0
            d.notScreened = flags & 64 != 0
            d.gammaMaxSigmaQ8 = try r.signed()
            d.gammaMaxGroup = int(try r.byte())
            guard d.gammaMaxGroup < groupCountMax else { throw .valueOutOfRange }
            d.gammaMaxCounts = try r.signed()
            d.gammaMaxBackgroundQ16 = try r.signed()
            d.gammaMaxThresholdQ16 = try r.signed()
            d.gammaMaxLowShareQ16 = try r.signed()
            d.neutronMaxSigmaQ8 = try r.signed()
            d.neutronMaxCounts = try r.signed()
            d.neutronMaxBackgroundQ16 = try r.signed()
            d.gammaWindowSamples = int(try r.bounded(u64(EngineSettings.windowSamplesMax)))
            d.gammaMaxWindowSamples = int(try r.bounded(u64(Int32.max)))
            d.neutronWindowSamples = int(try r.bounded(u64(EngineSettings.windowSamplesMax)))
            d.gammaBackgroundQ16 = try r.signed()
            d.suppressionQ16 = try r.signed()
            d.samples = int(try r.bounded(u64(Int32.max)))
            d.faults = Faults(bits: UInt32(truncatingIfNeeded: try r.bounded(u64(UInt32.max))))
            if version >= 3 {
                d.ocr = try ocr(&r)
            } else if let c = try number(&r) {
                _ = d.ocr.append(ContainerRead(number: c))
            }
            d.panelsUsedMask = UInt32(truncatingIfNeeded: try r.bounded(u64((1 &<< panelCountMax) - 1)))
            if version >= 7 {
                let tests = try r.byte()
                guard tests < 1 &<< GammaTests.bitCount else { throw .valueOutOfRange }
                d.gammaTests = GammaTests(bits: tests)
            }
            record = .occupancy(d)
        case .alarm:
            let a = AlarmRecord(occupancy: UInt32(truncatingIfNeeded: try r.bounded(u64(UInt32.max))), kind: try r.byte(),
                                tUs: try r.signed(), sigmaQ8: try r.signed())
            guard a.kind <= 1 else { throw .valueOutOfRange }
            record = .alarm(a)
        case .background:
            let panels = int(try r.byte())
            guard panels >= 1 && panels <= panelCountMax else { throw .valueOutOfRange }
            var b = BackgroundRecord(panels: panels)
            for p in 0..<panels {
                b.gammaQ16[p] = try r.signed()
                b.gammaLowQ16[p] = try r.signed()
                b.neutronQ16[p] = try r.signed()
            }
            record = .background(b)
        case .fault:
            let f = FaultRecord(bits: UInt32(truncatingIfNeeded: try r.bounded(u64(UInt32.max))),
                                changed: UInt32(truncatingIfNeeded: try r.bounded(u64(UInt32.max))), panel: try r.byte())
            record = .fault(f)
        case .audit:
            record = .audit(AuditRecord(user: try text(&r), action: try text(&r), oldValue: try text(&r), newValue: try text(&r)))
        case .heartbeat:
            var h = HeartbeatRecord(softwareVersion: try text(&r), profileHash: try r.varint(), uptimeS: try r.varint(),
                                    ticks: try r.varint(), missedTicks: try r.varint(), maxLatenessUs: try r.varint(),
                                    latenessP50Us: try r.varint(), latenessP999Us: try r.varint(), workP999Us: try r.varint(),
                                    flags: version >= 2 ? try r.varint() : 0, settingsHash: version >= 2 ? try r.varint() : 0)
            if version >= 5 {
                h.normLearned = try r.varint()
                h.normShareQ16 = try r.bounded(65_536)
                h.normRule = try r.bounded(7)
                h.normLowShareMinQ16 = try r.bounded(65_536)
            }
            record = .heartbeat(h)
        case .ocr:
            guard version >= 3 else { throw .unknownKind(kind) }
            let occupancy = UInt32(truncatingIfNeeded: try r.bounded(u64(UInt32.max)))
            let startUs = try r.signed()
            let reads = try ocr(&r)
            record = .ocr(OCRRecord(occupancy: occupancy, occupancyStartUs: startUs, reads: reads, readAtUs: try r.signed(), readWallUs: try r.signed()))
        case .beams:
            guard version >= 4 else { throw .unknownKind(kind) }
            let count = int(try r.byte())
            guard count >= 1 && count <= BeamRecord.edgesMax else { throw .valueOutOfRange }
            var b = BeamRecord()
            var t: Int64 = 0
            for i in 0..<count {
                let d = try r.signed()
                t = i == 0 ? d : t &+ d
                let v = try r.byte()
                guard v & 0x78 == 0 else { throw .valueOutOfRange }
                _ = b.append(BeamEdge(tUs: t, beam: int(v & 0x07), blocked: v & 0x80 != 0))
            }
            record = .beams(b)
        case .start:
            guard version >= 4 else { throw .unknownKind(kind) }
            let panels = int(try r.byte())
            guard panels >= 1 && panels <= panelCountMax else { throw .valueOutOfRange }
            let interval = Int64(bitPattern: try r.bounded(60_000_000))
            let spacing = Int64(bitPattern: try r.bounded(1_000_000))
            let pillars = u32(try r.byte())
            guard interval >= 1 && pillars >> UInt32(panels) == 0 else { throw .valueOutOfRange }
            let hash = try r.varint()
            let restored = try r.byte()
            guard restored <= 1 else { throw .valueOutOfRange }
            var bg: Background? = nil
            if restored == 1 {
                var fields = InlineArray<80, Int64>(repeating: 0)
                for i in 0..<Background.fieldCount(panels: panels) { fields[i] = try r.signed() }
                bg = Background(panels: panels) { fields[$0] }
            }
            let windows = version >= 6 ? int(try r.byte()) : 0
            guard windows == 0 || (windows >= 3 && windows <= windowCountMax) else { throw .valueOutOfRange }
            record = .start(StartRecord(panels: panels, sampleIntervalUs: interval, beamSpacingMm: spacing, pillarBMask: pillars,
                                        settingsHash: hash, background: bg, windows: windows))
        case .windows:
            guard version >= 6 else { throw .unknownKind(kind) }
            let panels = int(try r.byte()), k = int(try r.byte())
            guard panels >= 1 && panels <= panelCountMax && k >= 3 && k <= windowCountMax else { throw .valueOutOfRange }
            var wr = WindowsRecord(panels: panels, windows: k)
            for p in 0..<panels {
                for j in 0...k {
                    let v = try r.bounded(20_000)
                    wr.set(panel: p, j, kev: UInt16(truncatingIfNeeded: v))
                }
                // A panel's boundaries rise strictly, or are all 0 (not read yet).
                if wr.known(panel: p) { for j in 1...k where wr.boundaryKev(panel: p, j) <= wr.boundaryKev(panel: p, j - 1) { throw .valueOutOfRange } }
            }
            record = .windows(wr)
        case .gap:
            guard let cause = GapRecord.Cause(rawValue: try r.byte()) else { throw .valueOutOfRange }
            var g = GapRecord(cause: cause, records: try r.varint())
            let ranges = try r.bounded(u64(GapRecord.rangesMax))
            var after: UInt64 = 0
            for i in 0..<int(ranges) {
                let delta = try r.varint()
                let length = try r.varint()
                // Each range starts after the previous one's end (the first after 0: sequences start at 1).
                guard delta >= 1, delta <= Self.sequenceMax, length <= Self.sequenceMax, i < GapRecord.rangesMax else { throw .valueOutOfRange }
                let first = after + delta
                let last = first + length
                guard last <= Self.sequenceMax, g.append(first: first, last: last) else { throw .valueOutOfRange }
                after = last
            }
            record = .gap(g)
        }
        guard r.remaining == 0 else { throw .trailingBytes }
        return (header, record)
    }

    static func number(_ r: inout ByteReader) throws(RecordError) -> ContainerNumber? {
        let n = int(try r.byte())
        guard n <= ContainerNumber.capacity else { throw .valueOutOfRange }
        guard r.remaining >= n else { throw .truncated }
        guard n > 0 else { return nil }
        guard let c = ContainerNumber(ascii: r.base + r.offset, count: n) else { throw .valueOutOfRange }
        r.skip(n)
        return c
    }

    static func ocr(_ r: inout ByteReader) throws(RecordError) -> OCRAttachment {
        var a = OCRAttachment()
        let count = int(try r.byte())
        guard count <= OCRAttachment.readsMax else { throw .valueOutOfRange }
        for _ in 0..<count {
            guard let c = try number(&r) else { throw .valueOutOfRange }
            let confidence = try r.byte()
            let flags = try r.byte()
            guard confidence <= 100 || confidence == ContainerRead.unknownConfidence, flags & ~(ContainerRead.suspectMask | ContainerRead.late) == 0 else {
                throw .valueOutOfRange
            }
            guard a.index(of: c) == nil else { throw .valueOutOfRange }
            _ = a.append(ContainerRead(number: c, confidence: confidence, flags: flags))
        }
        a.plate = try number(&r)
        a.extra = try r.byte()
        return a
    }

    static func text(_ r: inout ByteReader) throws(RecordError) -> ShortText {
        let n = int(try r.byte())
        guard n <= ShortText.capacity else { throw .valueOutOfRange }
        guard r.remaining >= n else { throw .truncated }
        let t = ShortText(r.base + r.offset, count: n)
        r.skip(n)
        return t
    }
}

