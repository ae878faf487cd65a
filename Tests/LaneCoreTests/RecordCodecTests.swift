// Proves the record format: every kind round-trips exactly, with its epoch; golden bytes pin
// the layout (and format-1 frames of earlier journals still decode); every malformed frame is
// refused with its reason, and a corrupt byte anywhere costs only the frame it is in (a damaged
// length byte once swallowed the 24 intact frames after it).

import LaneCore
import Testing

func encode(_ r: Record, _ h: FrameHeader) -> [UInt8] {
    var enc = RecordEncoder()
    var out = [UInt8](repeating: 0, count: RecordFormat.frameMax)
    let n = out.withUnsafeMutableBufferPointer { enc.encode(r, header: h, into: $0.baseAddress!, capacity: $0.count) }!
    return Array(out.prefix(n))
}

func scan(_ bytes: [UInt8]) -> [FrameFound] {
    var out: [FrameFound] = []
    bytes.withUnsafeBufferPointer { b in
        var r = FrameReader(b.baseAddress!, count: b.count)
        while let f = r.next() { out.append(f) }
    }
    return out
}

func sequencesRead(_ bytes: [UInt8]) -> [UInt64] {
    scan(bytes).compactMap { if case let .record(h, _, _) = $0 { return h.sequence } else { return nil } }
}

func hex(_ b: [UInt8]) -> String { b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ") }

func sampleBatch() -> SampleBatch {
    var b = SampleBatch(panels: 2, nominalIntervalUs: 100_000)
    for k in 0..<3 {
        var s = LaneSample(tUs: 1_000_000 + Int64(k) * 100_000 + (k == 2 ? 500 : 0), intervalUs: k == 2 ? 100_500 : 100_000)
        s.gamma[0] = 40 + UInt32(k); s.gammaLow[0] = 22; s.neutron[0] = UInt32(k % 2)
        s.gamma[1] = 4_294_967_295 - UInt32(k); s.gammaLow[1] = 0; s.neutron[1] = 3
        _ = b.append(s)
    }
    return b
}

/// A batch whose samples carry flags (format 4): an absent panel, a forgotten one, maintenance.
func flaggedBatch() -> SampleBatch {
    var b = SampleBatch(panels: 4, nominalIntervalUs: 100_000)
    for k in 0..<5 {
        var s = LaneSample(tUs: 7_000_000 + Int64(k) * 100_000, intervalUs: 100_000)
        for p in 0..<4 { s.gamma[p] = 170 + UInt32(k * p); s.gammaLow[p] = 90; s.neutron[p] = UInt32(k % 2) }
        s.absentMask = k == 1 ? 0b0100 : k == 4 ? 0b1111 : 0
        _ = b.append(s, flags: (k == 2 ? 0b0100 << SampleBatch.forgetShift : 0) | (k == 3 ? SampleBatch.maintenanceFlag : 0))
    }
    return b
}

func beamRecord() -> BeamRecord {
    var b = BeamRecord()
    for (t, beam, blocked) in [(10_000_000, 0, true), (10_680_000, 1, true), (14_100_000, 0, false), (14_750_000, 1, false)] {
        _ = b.append(BeamEdge(tUs: Int64(t), beam: beam, blocked: blocked))
    }
    return b
}

/// A background learned from 300 samples of 4 panels, as a restored one.
func learnedBackground() -> Background {
    var bg = Background()
    var e = EngineSettings()
    e.panelCount = 4
    var guards = BackgroundGuards()
    for k in 0..<300 {
        var s = LaneSample(tUs: Int64(k) * 100_000, intervalUs: 100_000)
        for p in 0..<4 { s.gamma[p] = 160 + UInt32((k * 7 + p * 3) % 23); s.gammaLow[p] = 80 + UInt32(k % 5); s.neutron[p] = UInt32(k % 3 == 0 ? 1 : 0) }
        bg.learn(s, settings: e, guards: &guards)
    }
    return bg
}

func alarmRecord(_ i: Int) -> Record { .alarm(AlarmRecord(occupancy: UInt32(i), kind: 0, tUs: Int64(i), sigmaQ8: 1_000)) }

func sampleDecision() -> Decision {
    var d = Decision()
    d.occupancy = 42; d.startUs = 123_456_789; d.endUs = 133_456_789; d.speedMmPerS = 2_205
    d.gammaAlarm = true; d.reverse = true; d.gammaWindowFromSpeed = true
    d.gammaTests.insert(.share); d.gammaTests.insert(.spectral)
    d.gammaMaxSigmaQ8 = -300; d.gammaMaxGroup = 2; d.gammaMaxCounts = 5_022; d.gammaMaxBackgroundQ16 = 1 << 30
    d.gammaMaxThresholdQ16 = 3 << 28; d.gammaMaxLowShareQ16 = 52_000; d.neutronMaxSigmaQ8 = 77; d.neutronMaxCounts = 19
    d.neutronMaxBackgroundQ16 = 1_000_000; d.gammaWindowSamples = 20; d.gammaMaxWindowSamples = 600; d.neutronWindowSamples = 20
    d.gammaBackgroundQ16 = 10_000_000; d.suppressionQ16 = 58_000; d.samples = 115; d.faults = Faults(bits: 9)
    _ = d.ocr.append(ContainerRead(number: ContainerNumber(ascii: Array("CSQU3054383".utf8))!, confidence: 97))
    _ = d.ocr.append(ContainerRead(number: ContainerNumber(ascii: Array("CSQU3054384".utf8))!, confidence: 41,
                                   flags: ContainerRead.checkDigitFailed | ContainerRead.lowConfidence))
    d.ocr.plate = ContainerNumber(ascii: Array("DP-4471".utf8))
    d.ocr.extra = 1
    return d
}

func ocrRecords() -> [Record] {
    var reads = OCRAttachment()
    _ = reads.append(ContainerRead(number: ContainerNumber(ascii: Array("TCLU6029118".utf8))!, confidence: 88, flags: ContainerRead.late))
    var unmatched = OCRAttachment()
    _ = unmatched.append(ContainerRead(number: ContainerNumber(ascii: Array("MSKU0153725".utf8))!, flags: ContainerRead.seenOnOtherOccupancy))
    unmatched.plate = ContainerNumber(ascii: Array("DP-1187".utf8))
    return [.ocr(OCRRecord(occupancy: 9, occupancyStartUs: 140_000_000, reads: reads, readAtUs: 150_000_000, readWallUs: 1_795_000_000_123_000)),
            .ocr(OCRRecord(occupancy: 0, occupancyStartUs: 0, reads: unmatched, readAtUs: 170_000_000, readWallUs: 0))]
}

func allRecords() -> [Record] {
    let text: (String) -> ShortText = { s in Array(s.utf8).withUnsafeBufferPointer { ShortText($0.baseAddress!, count: $0.count) } }
    var bg = BackgroundRecord(panels: 4)
    for p in 0..<4 { bg.gammaQ16[p] = Int64(40 + p) << 16; bg.gammaLowQ16[p] = 22 << 16; bg.neutronQ16[p] = 9_830 }
    return [
        .samples(sampleBatch()),
        .occupancy(sampleDecision()),
        .alarm(AlarmRecord(occupancy: 7, kind: 1, tUs: -5, sigmaQ8: 1_792)),
        .background(bg),
        .fault(FaultRecord(bits: 8, changed: 8, panel: 2)),
        .audit(AuditRecord(user: text("tech1"), action: text("set detection.gammaSigma"), oldValue: text("7.0"), newValue: text("7.5"))),
        .heartbeat(HeartbeatRecord(softwareVersion: text("0.1.0"), profileHash: 0xDEAD_BEEF_0123_4567, uptimeS: 86_400,
                                   ticks: 864_000, missedTicks: 0, maxLatenessUs: 1_234, latenessP50Us: 31, latenessP999Us: 153, workP999Us: 85)),
        .heartbeat(HeartbeatRecord(softwareVersion: text("0.2.0"), profileHash: 1, uptimeS: 60, ticks: 600, missedTicks: 0, maxLatenessUs: 9,
                                   flags: 2, settingsHash: 3, normLearned: 1_234, normShareQ16: 23_552, normRule: 3, normLowShareMinQ16: 38_000)),
        .gap(gapRecord()),
        .samples(flaggedBatch()),
        .beams(beamRecord()),
        .start(StartRecord(panels: 4, sampleIntervalUs: 100_000, beamSpacingMm: 1_500, pillarBMask: 0b1100, settingsHash: 0x1234_5678_9ABC_DEF0, background: nil)),
        .start(StartRecord(panels: 4, sampleIntervalUs: 100_000, beamSpacingMm: 2_000, pillarBMask: 0b1010, settingsHash: 7, background: learnedBackground())),
        .start(StartRecord(panels: 4, sampleIntervalUs: 100_000, beamSpacingMm: 2_000, pillarBMask: 0b1010, settingsHash: 7, background: nil, windows: 8)),
        .windows(windowsRecord()),
    ] + ocrRecords()
}

/// Four 8-window panels' boundaries: three alike, one not read yet.
func windowsRecord() -> WindowsRecord {
    var w = WindowsRecord(panels: 4, windows: 8)
    for p in 0..<3 { for (j, kev) in [30, 80, 150, 250, 400, 650, 1000, 1500, 3000].enumerated() { w.set(panel: p, j, kev: UInt16(kev + p)) } }
    return w
}

func gapRecord() -> GapRecord {
    var g = GapRecord(cause: .evicted, records: 7)
    _ = g.append(first: 3, last: 4)
    _ = g.append(first: 9, last: 9)
    _ = g.append(first: 12, last: 15)
    return g
}

func same(_ a: Record, _ b: Record) -> Bool {
    switch (a, b) {
    case let (.samples(x), .samples(y)):
        guard x.panels == y.panels, x.count == y.count, x.nominalIntervalUs == y.nominalIntervalUs, x.firstTUs == y.firstTUs else { return false }
        for s in 0..<x.count {
            if x.intervalUs(sample: s) != y.intervalUs(sample: s) || x.flags(sample: s) != y.flags(sample: s) { return false }
            if x.sample(s).tUs != y.sample(s).tUs || x.sample(s).absentMask != y.sample(s).absentMask { return false }
            for p in 0..<x.panels { for c in 0..<3 where x.value(sample: s, panel: p, channel: c) != y.value(sample: s, panel: p, channel: c) { return false } }
            guard x.windowCount == y.windowCount else { return false }
            for p in 0..<x.panels { for w in 0..<x.windowCount where x.window(sample: s, panel: p, window: w) != y.window(sample: s, panel: p, window: w) { return false } }
        }
        return true
    case let (.occupancy(x), .occupancy(y)): return x == y
    case let (.alarm(x), .alarm(y)): return x == y
    case let (.background(x), .background(y)): return x == y
    case let (.fault(x), .fault(y)): return x == y
    case let (.audit(x), .audit(y)): return x == y
    case let (.heartbeat(x), .heartbeat(y)): return x == y
    case let (.gap(x), .gap(y)): return x == y
    case let (.ocr(x), .ocr(y)): return x == y
    case let (.beams(x), .beams(y)): return x == y
    case let (.windows(x), .windows(y)): return x == y
    case let (.start(x), .start(y)):
        guard x.panels == y.panels, x.sampleIntervalUs == y.sampleIntervalUs, x.beamSpacingMm == y.beamSpacingMm, x.windows == y.windows,
              x.pillarBMask == y.pillarBMask, x.settingsHash == y.settingsHash, (x.background == nil) == (y.background == nil) else { return false }
        if let a = x.background, let b = y.background {
            for i in 0..<Background.fieldCount(panels: x.panels) where a.field(i, panels: x.panels) != b.field(i, panels: x.panels) { return false }
        }
        return true
    default: return false
    }
}

@Suite struct RecordCodecTests {
    @Test("every record kind round-trips exactly, with its epoch, sequence and times")
    func roundTrip() {
        for (i, r) in allRecords().enumerated() {
            let h = FrameHeader(epoch: 0xFEDC_BA98_7654_3210, sequence: UInt64(1_000 + i), monotonicUs: 987_654_321, wallUs: i == 0 ? 0 : 1_795_000_000_000_000)
            let results = scan(encode(r, h))
            #expect(results.count == 1)
            guard case let .record(h2, r2, _) = results.first else { Issue.record("kind \(r.kind) not decoded: \(results)"); continue }
            #expect(h2 == h)
            #expect(same(r, r2), "kind \(r.kind)")
        }
    }

    @Test("a corrupt byte anywhere in a frame of a stream loses that frame only: every other frame is read")
    func resynchronisation() {
        var stream: [UInt8] = []
        var starts: [Int] = []
        let records = allRecords()
        for k in 0..<24 {
            starts.append(stream.count)
            stream += encode(records[k % records.count], FrameHeader(epoch: 77, sequence: UInt64(k + 1), monotonicUs: Int64(k) * 100_000, wallUs: 0))
        }
        starts.append(stream.count)
        let all = Array(UInt64(1)...24)
        #expect(sequencesRead(stream) == all)
        // Every byte of frame 2 (a decision) and of frame 9 (a sample batch: its length byte
        // made larger swallowed the frames after it before), each changed three ways.
        for k in [1, 8] {
            for at in starts[k]..<starts[k + 1] {
                for flip: UInt8 in [0x01, 0x80, 0xFF] {
                    var bad = stream
                    bad[at] ^= flip
                    let got = sequencesRead(bad)
                    #expect(got == all.filter { $0 != UInt64(k + 1) }, "frame \(k + 1), byte \(at - starts[k]) ^ \(flip): \(got)")
                }
            }
        }
        // A length byte set to the largest a frame may declare, in the first frame.
        var bad = stream
        bad[starts[0] + 3] = 0xFF
        bad.insert(0x1F, at: starts[0] + 4)
        #expect(sequencesRead(bad) == Array(2...24))
    }

    @Test("a frame cut off by the end of the buffer is a torn tail; skipped bytes before it are reported apart")
    func tornTail() {
        let a = encode(alarmRecord(1), FrameHeader(epoch: 1, sequence: 1, monotonicUs: 0, wallUs: 0))
        let b = encode(alarmRecord(2), FrameHeader(epoch: 1, sequence: 2, monotonicUs: 0, wallUs: 0))
        for cut in 1..<b.count {
            let results = scan(a + b.prefix(b.count - cut))
            guard results.count == 2, case .record = results[0], case let .truncated(r) = results[1] else { Issue.record("cut \(cut): \(results)"); continue }
            #expect(r == a.count..<(a.count + b.count - cut))
        }
        let results = scan(a + [0x00, 0x01] + b.prefix(5))
        guard results.count == 3, case .record = results[0], case let .rejected(e, r1) = results[1], case let .truncated(r2) = results[2] else {
            Issue.record("\(results)"); return
        }
        #expect(e == .badMagic && r1 == a.count..<(a.count + 2) && r2 == (a.count + 2)..<(a.count + 7))
    }

    @Test("golden bytes: an alarm record and a sample batch (docs/RECORDS.md); format-1 to -6 frames of earlier journals still decode (format 1 with epoch 0)")
    func golden() {
        let alarm = encode(.alarm(AlarmRecord(occupancy: 7, kind: 0, tUs: 1_234_567, sigmaQ8: 1_792)),
                           FrameHeader(epoch: 0x0123_4567_89AB_CDEF, sequence: 300, monotonicUs: 1_234_567, wallUs: 0))
        #expect(hex(alarm) == "a7 07 03 17 ef cd ab 89 67 45 23 01 ac 02 8e da 96 01 00 07 00 8e da 96 01 80 1c a5 5c 6b 55")
        let samples = encode(.samples(sampleBatch()), FrameHeader(epoch: 0x0123_4567_89AB_CDEF, sequence: 1, monotonicUs: 1_000_000, wallUs: 0))
        #expect(hex(samples) == "a7 07 01 31 ef cd ab 89 67 45 23 01 01 80 89 7a 00 02 03 a0 8d 06 80 89 7a 00 00 00 28 16 00 ff ff ff ff 0f 00 03 00 02 00 02 01 00 00 e8 07 02 00 01 01 00 00 f7 4a c8 2d")
        // Formats 6 (before the decision's gamma tests), 5 (before the windows) and 4 (before
        // the heartbeat's NORM fields): the same two frames still read.
        for v4 in ["a7 06 03 17 ef cd ab 89 67 45 23 01 ac 02 8e da 96 01 00 07 00 8e da 96 01 80 1c aa d8 c5 78",
                   "a7 06 01 31 ef cd ab 89 67 45 23 01 01 80 89 7a 00 02 03 a0 8d 06 80 89 7a 00 00 00 28 16 00 ff ff ff ff 0f 00 03 00 02 00 02 01 00 00 e8 07 02 00 01 01 00 00 5d be a6 89",
                   "a7 05 03 17 ef cd ab 89 67 45 23 01 ac 02 8e da 96 01 00 07 00 8e da 96 01 80 1c bb 54 36 0e",
                   "a7 05 01 30 ef cd ab 89 67 45 23 01 01 80 89 7a 00 02 03 a0 8d 06 80 89 7a 00 00 28 16 00 ff ff ff ff 0f 00 03 00 02 00 02 01 00 00 e8 07 02 00 01 01 00 00 eb f8 ac 6f",
                   "a7 04 03 17 ef cd ab 89 67 45 23 01 ac 02 8e da 96 01 00 07 00 8e da 96 01 80 1c b4 d0 98 23",
                   "a7 04 01 30 ef cd ab 89 67 45 23 01 01 80 89 7a 00 02 03 a0 8d 06 80 89 7a 00 00 28 16 00 ff ff ff ff 0f 00 03 00 02 00 02 01 00 00 e8 07 02 00 01 01 00 00 6d c2 84 56"] {
            let bytes = v4.split(separator: " ").map { UInt8($0, radix: 16)! }
            guard case let .record(h4, r4, _)? = scan(bytes).first else { Issue.record("the format-4 frame was not read"); continue }
            #expect(h4.epoch == 0x0123_4567_89AB_CDEF)
            if case let .alarm(a4) = r4 { #expect(a4 == AlarmRecord(occupancy: 7, kind: 0, tUs: 1_234_567, sigmaQ8: 1_792)) }
            if case let .samples(b4) = r4 { #expect(b4.count == 3 && b4.value(sample: 1, panel: 1, channel: 0) == 4_294_967_294) }
        }
        // Format 3 (the release before the samples' flags): the same batch and alarm still read.
        for v3 in ["a7 03 01 2f ef cd ab 89 67 45 23 01 01 80 89 7a 00 02 03 a0 8d 06 80 89 7a 00 28 16 00 ff ff ff ff 0f 00 03 00 02 00 02 01 00 00 e8 07 02 00 01 01 00 00 6f cd d9 f6",
                   "a7 03 03 17 ef cd ab 89 67 45 23 01 ac 02 8e da 96 01 00 07 00 8e da 96 01 80 1c 99 4c d1 e3"] {
            let bytes = v3.split(separator: " ").map { UInt8($0, radix: 16)! }
            guard case let .record(h3, r3, _)? = scan(bytes).first else { Issue.record("the format-3 frame was not read"); continue }
            #expect(h3.epoch == 0x0123_4567_89AB_CDEF)
            if case let .samples(b) = r3 { #expect(b.count == 3 && b.value(sample: 1, panel: 1, channel: 0) == 4_294_967_294 && !b.hasFlags) }
        }
        // The same alarm as format 2 wrote it (the release before the OCR's reads).
        let v2 = "a7 02 03 17 ef cd ab 89 67 45 23 01 ac 02 8e da 96 01 00 07 00 8e da 96 01 80 1c 96 c8 7f ce".split(separator: " ").map { UInt8($0, radix: 16)! }
        guard case let .record(h2, .alarm(a2), _)? = scan(v2).first else { Issue.record("the format-2 frame was not read"); return }
        #expect(h2.epoch == 0x0123_4567_89AB_CDEF && a2 == AlarmRecord(occupancy: 7, kind: 0, tUs: 1_234_567, sigmaQ8: 1_792))
        let v1: [UInt8] = [0xa7, 0x01, 0x03, 0x0f, 0xac, 0x02, 0x8e, 0xda, 0x96, 0x01, 0x00, 0x07, 0x00, 0x8e, 0xda, 0x96, 0x01, 0x80, 0x1c, 0x1f, 0xea, 0xab, 0x05]
        guard case let .record(h, .alarm(a), _)? = scan(v1).first else { Issue.record("the format-1 frame was not read"); return }
        #expect(h == FrameHeader(epoch: 0, sequence: 300, monotonicUs: 1_234_567, wallUs: 0))
        #expect(a == AlarmRecord(occupancy: 7, kind: 0, tUs: 1_234_567, sigmaQ8: 1_792))
    }

    @Test("an occupancy record of format 6 (before the gamma tests) still decodes, every field as written and no test named; format 7 keeps the tests")
    func occupancyFormat6() {
        let d = sampleDecision()
        let v7 = encode(.occupancy(d), FrameHeader(sequence: 5, monotonicUs: 7, wallUs: 0))
        guard case let .record(_, .occupancy(back), _)? = scan(v7).first else { Issue.record("format 7 not read"); return }
        #expect(back == d && back.gammaTests.contains(.share) && back.gammaTests.contains(.spectral))
        // Format 6 wrote the same body without its last byte: rebuild the frame so.
        // magic, version, kind, length (varint) | body | CRC; the body's last byte is the tests.
        let lengthBytes = v7[3] < 0x80 ? 1 : 2
        let length = lengthBytes == 1 ? Int(v7[3]) : Int(v7[3] & 0x7F) | Int(v7[4]) << 7
        let start = 3 + lengthBytes
        #expect(start + length + 4 == v7.count && v7[start + length - 1] == d.gammaTests.bits)
        let body = Array(v7[start..<(start + length - 1)])
        var f: [UInt8] = [6, 2]
        f += body.count < 0x80 ? [UInt8(body.count)] : [UInt8(body.count & 0x7F | 0x80), UInt8(body.count >> 7)]
        f += body
        let crc = f.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, $0.count) }
        let v6 = [0xA7] + f + [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)]
        guard case let .record(_, .occupancy(old), _)? = scan(v6).first else { Issue.record("format 6 not read: \(scan(v6))"); return }
        var expected = d
        expected.gammaTests = GammaTests()
        #expect(old == expected)
    }

    @Test("every malformed frame is refused with its reason, and the next good frame still decodes", arguments: [
        "garbage", "version", "kind", "length", "crc", "truncated", "trailing", "range", "sequence", "varint",
        "beams-empty", "beam-reserved-bits", "beams-in-format-3", "start-restored-2", "start-pillar-beyond", "sample-absent-beyond", "sample-flags-byte", "heartbeat-norm-rule", "heartbeat-norm-share",
        "sample-windows-2", "sample-windows-17", "sample-no-windows-flag-without-windows", "sample-more-than-the-shape-holds", "start-windows-2",
        "windows-in-format-5", "windows-not-rising", "windows-k-2", "windows-beyond-20000-kev", "occupancy-gamma-test-beyond",
    ])
    func malformed(defect: String) {
        let good = encode(.alarm(AlarmRecord(occupancy: 1, kind: 1, tUs: 10, sigmaQ8: 20)), FrameHeader(sequence: 9, monotonicUs: 10, wallUs: 0))
        func frame(kind: UInt8, body: [UInt8], version: UInt8 = 1) -> [UInt8] {
            var f: [UInt8] = [version, kind, UInt8(body.count)] + body
            let crc = f.withUnsafeBufferPointer { CRC32C.update(0, $0.baseAddress!, $0.count) }
            f += [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)]
            return [0xA7] + f
        }
        let epoch0: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0]
        var bad: [UInt8]
        let expected: RecordError
        switch defect {
        case "garbage": bad = [0x00, 0x55, 0xFF]; expected = .badMagic
        case "version": bad = frame(kind: 3, body: [1, 0, 0, 1, 0, 0, 0], version: 9); expected = .unsupportedVersion(9)
        case "kind": bad = frame(kind: 99, body: [0, 0, 0]); expected = .unknownKind(99)
        case "length": bad = [0xA7, 1, 3, 0xFF, 0xFF, 0x7F]; expected = .bodyTooLong
        case "crc": bad = good; bad[6] ^= 0x40; expected = .badCRC
        case "truncated": bad = frame(kind: 3, body: [1, 0, 0, 1]); expected = .truncated
        case "trailing": bad = frame(kind: 3, body: [1, 0, 0, 1, 0, 0, 0, 99]); expected = .trailingBytes
        case "range": bad = frame(kind: 3, body: [1, 0, 0, 1, 5, 0, 0]); expected = .valueOutOfRange
        case "sequence": bad = frame(kind: 3, body: [0, 0, 0, 1, 0, 0, 0]); expected = .valueOutOfRange
        case "varint": bad = frame(kind: 3, body: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]); expected = .varintTooLong
        // Format 4's records (epoch, sequence 1, times 0, then the payload).
        case "beams-empty": bad = frame(kind: 10, body: epoch0 + [1, 0, 0, 0], version: 4); expected = .valueOutOfRange
        case "beam-reserved-bits": bad = frame(kind: 10, body: epoch0 + [1, 0, 0, 1, 2, 0x09], version: 4); expected = .valueOutOfRange
        case "beams-in-format-3": bad = frame(kind: 10, body: epoch0 + [1, 0, 0, 1, 2, 0x01], version: 3); expected = .unknownKind(10)
        case "start-restored-2": bad = frame(kind: 11, body: epoch0 + [1, 0, 0, 2, 0xA0, 0x8D, 0x06, 0xDC, 0x0B, 0, 0, 2], version: 4); expected = .valueOutOfRange
        case "start-pillar-beyond": bad = frame(kind: 11, body: epoch0 + [1, 0, 0, 2, 0xA0, 0x8D, 0x06, 0xDC, 0x0B, 0b100, 0, 0], version: 4); expected = .valueOutOfRange
        // Format 5's heartbeat: an empty version text, ten varints, then the NORM fields.
        case "heartbeat-norm-rule": bad = frame(kind: 7, body: epoch0 + [1, 0, 0, 0] + [UInt8](repeating: 0, count: 10) + [0, 0, 8, 0], version: 5); expected = .valueOutOfRange
        case "heartbeat-norm-share": bad = frame(kind: 7, body: epoch0 + [1, 0, 0, 0] + [UInt8](repeating: 0, count: 10) + [0, 0x81, 0x80, 0x04, 0, 0], version: 5); expected = .valueOutOfRange
        // Two panels, one sample, flags on: panel 2 absent (the batch has panels 0 and 1).
        case "sample-absent-beyond": bad = frame(kind: 1, body: epoch0 + [1, 0, 0, 2, 1, 0xA0, 0x8D, 0x06, 0, 1, 0, 0b100, 1, 1, 0, 1, 1, 0], version: 4); expected = .valueOutOfRange
        // Format 6's multi-window batches: K is 0 or 3 to 16; the no-windows flag only with
        // windows; no more samples than a batch of that shape holds (8 panels x 16 windows: 5).
        case "sample-windows-2": bad = frame(kind: 1, body: epoch0 + [1, 0, 0, 2, 1, 0xA0, 0x8D, 0x06, 0, 0, 2, 0, 1, 1, 0, 1, 1, 0, 0], version: 6); expected = .valueOutOfRange
        case "sample-windows-17": bad = frame(kind: 1, body: epoch0 + [1, 0, 0, 2, 1, 0xA0, 0x8D, 0x06, 0, 0, 17, 0, 1, 1, 0, 1, 1, 0], version: 6); expected = .valueOutOfRange
        case "sample-no-windows-flag-without-windows": bad = frame(kind: 1, body: epoch0 + [1, 0, 0, 2, 1, 0xA0, 0x8D, 0x06, 0, 1, 0, 0, 0x80, 0x80, 0x08, 1, 1, 0, 1, 1, 0], version: 6); expected = .valueOutOfRange
        case "sample-more-than-the-shape-holds": bad = frame(kind: 1, body: epoch0 + [1, 0, 0, 8, 16, 0xA0, 0x8D, 0x06, 0, 0, 16] + [UInt8](repeating: 0, count: 40), version: 6); expected = .valueOutOfRange
        // Format 6's windows record: one panel, K = 3, boundaries rising (or all 0), at most 20,000 keV.
        case "windows-in-format-5": bad = frame(kind: 12, body: epoch0 + [1, 0, 0, 1, 3, 30, 80, 0x96, 0x01, 0x84, 0x02], version: 5); expected = .unknownKind(12)
        case "windows-not-rising": bad = frame(kind: 12, body: epoch0 + [1, 0, 0, 1, 3, 30, 80, 80, 0x84, 0x02], version: 6); expected = .valueOutOfRange
        case "windows-k-2": bad = frame(kind: 12, body: epoch0 + [1, 0, 0, 1, 2, 30, 80, 0x96, 0x01], version: 6); expected = .valueOutOfRange
        case "windows-beyond-20000-kev": bad = frame(kind: 12, body: epoch0 + [1, 0, 0, 1, 3, 30, 80, 0x96, 0x01, 0xA1, 0x9C, 0x01], version: 6); expected = .valueOutOfRange
        // Format 7's occupancy: a gamma-test bit beyond the seven defined.
        case "occupancy-gamma-test-beyond":
            var d = sampleDecision()
            d.gammaTests = GammaTests(bits: 1 << 7)
            bad = encode(.occupancy(d), FrameHeader(sequence: 1, monotonicUs: 1, wallUs: 0)); expected = .valueOutOfRange
        case "start-windows-2": bad = frame(kind: 11, body: epoch0 + [1, 0, 0, 2, 0xA0, 0x8D, 0x06, 0xDC, 0x0B, 0, 0, 0, 2], version: 6); expected = .valueOutOfRange
        default: bad = frame(kind: 1, body: epoch0 + [1, 0, 0, 2, 1, 0xA0, 0x8D, 0x06, 0, 2, 0, 1, 1, 0, 1, 1, 0], version: 4); expected = .valueOutOfRange
        }
        // The refused frame's bytes are one rejected run, then the good frame.
        let results = scan(bad + good)
        #expect(results.count == 2, "\(results)")
        guard case let .rejected(e, skipped) = results.first else { Issue.record("\(defect) accepted"); return }
        #expect(e == expected, "\(defect): \(e) \(e.reason)")
        #expect(skipped == 0..<bad.count)
        guard case let .record(h, _, _) = results.last else { Issue.record("no resync after \(defect)"); return }
        #expect(h.sequence == 9)
    }

    @Test("multi-window batches: every shape (1-8 panels, K = 3-16) holds at least one sample, a full batch of the largest counts and wildest swings encodes within the body limit and reads back exactly; two-window batches still hold 16")
    func multiWindowBatches() {
        for panels in 1...8 { #expect(SampleBatch.capacity(panels: panels, windows: 0) == 16) }
        #expect(SampleBatch.capacity(panels: 4, windows: 8) == 16, "the reference lane's 8-window batches are as long as its two-window ones")
        for panels in 1...8 {
            for k in 3...16 {
                var b = SampleBatch(panels: panels, nominalIntervalUs: 100_000, windows: k)
                #expect(b.capacity >= 1 && b.capacity * panels * k <= SampleBatch.windowsStore)
                var t: Int64 = 1 << 40
                var n = 0
                while !b.isFull {
                    var s = LaneSample(tUs: t, intervalUs: n % 2 == 0 ? 60_000_000 : 1)
                    t += 1_000_000
                    let v: UInt32 = n % 2 == 0 ? .max : 0
                    for p in 0..<panels {
                        s.gamma[p] = v; s.gammaLow[p] = v; s.neutron[p] = v
                        for w in 0..<k { s.windows[p * windowCountMax + w] = v }
                    }
                    s.windowCount = n == 1 ? 0 : k
                    s.absentMask = UInt32(n % (1 << panels))
                    let took = b.append(s, flags: SampleBatch.maintenanceFlag)
                    #expect(took)
                    n += 1
                }
                let more = b.append(LaneSample(tUs: t, intervalUs: 1))
                #expect(!more, "a full batch takes no more")
                let bytes = encode(.samples(b), FrameHeader(epoch: .max, sequence: RecordParser.sequenceMax, monotonicUs: .min / 2, wallUs: .max / 2))
                #expect(bytes.count > 0 && bytes.count <= RecordFormat.frameMax, "\(panels) panels, K = \(k): \(bytes.count) bytes")
                guard case let .record(_, .samples(back), _)? = scan(bytes).first else { Issue.record("\(panels) panels, K = \(k): not read back"); continue }
                #expect(back.count == b.count && back.windowCount == k)
                for i in 0..<b.count {
                    let x = b.sample(i), y = back.sample(i)
                    #expect(x.windowCount == y.windowCount && x.absentMask == y.absentMask && back.flags(sample: i) == b.flags(sample: i))
                    for p in 0..<panels { for w in 0..<k { #expect(x.windows[p * windowCountMax + w] == y.windows[p * windowCountMax + w]) } }
                }
                #expect(back.sample(1).windowCount == 0, "the sample without usable windows says so")
            }
        }
    }

    @Test("a frame too large for the caller's buffer is not written")
    func overflow() {
        var enc = RecordEncoder()
        var out = [UInt8](repeating: 0, count: 10)
        let n = out.withUnsafeMutableBufferPointer {
            enc.encode(.occupancy(sampleDecision()), header: FrameHeader(sequence: 1, monotonicUs: 1, wallUs: 1), into: $0.baseAddress!, capacity: $0.count)
        }
        #expect(n == nil)
    }
}
